//! vigild's configuration: a TOML file where every setting has a default, read strictly (an unknown key
//! is an error, not a silent typo) and checked into typed [`Settings`]. Errors name the key and the
//! problem. The file format is documented in `docs/configuration.md`.

mod bus;
mod reload;
mod resolve;
mod sections;
mod settings;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use bus::{BusChoice, parse_bus};
pub use reload::RESTART_ONLY_KEYS;
pub use sections::{
    AccountConfig, CameraConfig, DbusConfig, DiscoveryConfig, LogConfig, RecoveryConfig,
};
pub use settings::{
    AccountSettings, CameraTimeSettings, DbusSettings, DiscoverySettings, RECOVERY_ABANDONED_AFTER,
    RECOVERY_ENDED_RETENTION, RECOVERY_SWEEP_INTERVAL, RecoverySettings, Settings, TimeSync,
};

/// Where vigild looks when `--config` is not given. A missing file here means "all defaults".
pub const DEFAULT_CONFIG_PATH: &str = "/etc/vigil/vigild.toml";

/// The state directory when `--state-dir` is not given.
pub const DEFAULT_STATE_DIR: &str = "/var/lib/vigil";

/// A configuration problem, naming the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{source_name}: {key}: {problem}")]
pub struct ConfigError {
    /// The file, or "command line".
    pub source_name: String,
    /// The key, dotted (`discovery.probe_window_ms`), or "file" for whole-file problems.
    pub key: String,
    /// What is wrong.
    pub problem: String,
}

/// The file as written.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// How cameras are found.
    pub discovery: DiscoveryConfig,
    /// How added cameras are watched.
    pub cameras: CameraConfig,
    /// The forget-password flow.
    pub recovery: RecoveryConfig,
    /// The D-Bus face.
    pub dbus: DbusConfig,
    /// The NVR's own admin account.
    pub account: AccountConfig,
    /// Logging.
    pub log: LogConfig,
}

impl Config {
    /// Reads the file at `path`. When `explicit` is false (the default path) a missing file means
    /// defaults; an explicitly given file must exist.
    pub fn load(path: &Path, explicit: bool) -> Result<Self, ConfigError> {
        let source_name = path.display().to_string();
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit => {
                return Ok(Self::default());
            }
            Err(e) => {
                return Err(ConfigError {
                    source_name,
                    key: "file".to_owned(),
                    problem: format!("cannot read it: {e}"),
                });
            }
        };
        Self::parse(&text, &source_name)
    }

    /// Parses TOML text; `source_name` names it in errors.
    pub fn parse(text: &str, source_name: &str) -> Result<Self, ConfigError> {
        toml::from_str(text).map_err(|e: toml::de::Error| {
            let key = key_of(text, e.span());
            ConfigError {
                source_name: source_name.to_owned(),
                key,
                problem: e.message().trim().to_owned(),
            }
        })
    }
}

/// Finds the dotted key at a TOML error's position: the nearest `[table]` above it plus the key on its
/// line.
fn key_of(text: &str, span: Option<std::ops::Range<usize>>) -> String {
    let Some(span) = span else {
        return "file".to_owned();
    };
    let before = &text[..span.start.min(text.len())];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[line_start..]
        .find('\n')
        .map_or(text.len(), |i| line_start + i);
    let line = text[line_start..line_end].trim();
    let table = before[..line_start]
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('[') && l.ends_with(']'))
        .map(|l| l.trim_matches(|c| c == '[' || c == ']').trim().to_owned());
    if line.starts_with('[') {
        return line
            .trim_matches(|c| c == '[' || c == ']')
            .trim()
            .to_owned();
    }
    let key = line.split('=').next().unwrap_or("").trim().to_owned();
    match (table, key.is_empty()) {
        (Some(table), false) => format!("{table}.{key}"),
        (Some(table), true) => table,
        (None, false) => key,
        (None, true) => "file".to_owned(),
    }
}

/// The default config path as a `PathBuf`.
pub fn default_config_path() -> PathBuf {
    PathBuf::from(DEFAULT_CONFIG_PATH)
}

#[cfg(test)]
mod tests;
