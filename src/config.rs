//! vigild's configuration: a TOML file where every setting has a default, read strictly (an unknown key
//! is an error, not a silent typo) and checked into typed [`Settings`]. Errors name the key and the
//! problem. The file format is documented in `docs/configuration.md`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::camera::discovery::{MAX_UNICAST_TARGETS, parse_unicast_targets};
use crate::camera::monitor::MonitorSettings;

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

/// `[account]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct AccountConfig {
    /// Wrong passwords in a row before the account locks.
    pub max_failed_logins: u32,
    /// How long a locked account stays locked, seconds.
    pub lockout_secs: u64,
    /// A login session ends after this long without use, seconds.
    pub session_idle_secs: u64,
    /// The recorder's device secret from its vendor (64 hex digits, mode 0600 or 0640), for the
    /// phone-app QR code and the support code; empty or a missing file: those paths are not offered.
    pub device_secret_file: String,
}

impl Default for AccountConfig {
    fn default() -> Self {
        Self {
            max_failed_logins: 5,
            lockout_secs: 30 * 60,
            session_idle_secs: 10 * 60,
            device_secret_file: "/etc/vigil/device.secret".into(),
        }
    }
}

/// The NVR account's settings, checked.
#[derive(Debug, Clone)]
pub struct AccountSettings {
    /// See [`AccountConfig::max_failed_logins`].
    pub max_failed_logins: u32,
    /// See [`AccountConfig::lockout_secs`].
    pub lockout: Duration,
    /// See [`AccountConfig::session_idle_secs`].
    pub session_idle: Duration,
    /// See [`AccountConfig::device_secret_file`].
    pub device_secret_file: Option<std::path::PathBuf>,
}

/// `[dbus]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct DbusConfig {
    /// `system`, `session`, `none`, or a bus address such as `unix:path=/run/vigil/bus`.
    pub bus: String,
    /// Members may make read-only calls (name or numeric gid).
    pub read_group: String,
    /// Members may make every call (name or numeric gid).
    pub admin_group: String,
}

impl Default for DbusConfig {
    fn default() -> Self {
        Self {
            bus: "system".to_owned(),
            read_group: "vigil".to_owned(),
            admin_group: "vigil-admin".to_owned(),
        }
    }
}

/// D-Bus settings, checked.
#[derive(Debug, Clone)]
pub struct DbusSettings {
    /// Which bus, or `None` for no D-Bus face.
    pub bus: Option<crate::dbus::BusChoice>,
    /// The read group.
    pub read_group: String,
    /// The admin group.
    pub admin_group: String,
}

/// `[recovery]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RecoveryConfig {
    /// An added camera that is not certified must be removed before its password is reset (and is
    /// offered removal in one step). When false, the flow runs on the added camera and updates its
    /// credentials at the end.
    pub remove_first: bool,
    /// After a reset, add the camera with the new password (again, when it was removed first).
    pub add_after_reset: bool,
}

impl Default for RecoveryConfig {
    fn default() -> Self {
        Self {
            remove_first: true,
            add_after_reset: true,
        }
    }
}

/// Forget-password settings, checked.
#[derive(Debug, Clone)]
pub struct RecoverySettings {
    /// See [`RecoveryConfig::remove_first`].
    pub remove_first: bool,
    /// See [`RecoveryConfig::add_after_reset`].
    pub add_after_reset: bool,
    /// How often flows are swept: abandoned ones expired, long-ended ones forgotten.
    pub sweep_interval: Duration,
    /// A flow waiting for a code whose code ran out this long ago, with nothing done since, is
    /// abandoned and expires. Until then the installer can still ask for a new code.
    pub abandoned_after: Duration,
    /// How long an ended flow stays listed (and on D-Bus) so its outcome can be read.
    pub ended_retention: Duration,
}

/// Default [`RecoverySettings::sweep_interval`].
pub const RECOVERY_SWEEP_INTERVAL: Duration = Duration::from_secs(30);
/// Default [`RecoverySettings::abandoned_after`].
pub const RECOVERY_ABANDONED_AFTER: Duration = Duration::from_secs(10 * 60);
/// Default [`RecoverySettings::ended_retention`].
pub const RECOVERY_ENDED_RETENTION: Duration = Duration::from_secs(60 * 60);

/// `[discovery]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct DiscoveryConfig {
    /// Send WS-Discovery multicast probes.
    pub multicast: bool,
    /// Interface names to probe on; empty means every non-loopback IPv4 interface.
    pub interfaces: Vec<String>,
    /// The WS-Discovery port (3702).
    pub port: u16,
    /// Unicast probe targets for routed subnets: addresses, `a-b` ranges, or `net/len` prefixes, each
    /// with an optional `:port`.
    pub unicast_targets: Vec<String>,
    /// Listen for Hello and Bye announcements.
    pub listen_announcements: bool,
    /// Where to listen for announcements.
    pub announcement_address: String,
    /// How long to keep listening for replies after the last probe, milliseconds.
    pub probe_window_ms: u64,
    /// Probe again every this many seconds; 0 turns periodic discovery off.
    pub refresh_interval_secs: u64,
    /// Probe once at start.
    pub on_start: bool,
    /// Discovered devices identified at the same time.
    pub identify_concurrency: usize,
}

impl Default for DiscoveryConfig {
    fn default() -> Self {
        Self {
            multicast: true,
            interfaces: Vec::new(),
            port: 3702,
            unicast_targets: Vec::new(),
            listen_announcements: true,
            announcement_address: "0.0.0.0:3702".to_owned(),
            probe_window_ms: 1000,
            refresh_interval_secs: 300,
            on_start: true,
            identify_concurrency: 128,
        }
    }
}

/// `[cameras]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct CameraConfig {
    /// Time between status checks of each added camera, milliseconds.
    pub monitor_period_ms: u64,
    /// Longest wait between checks of an offline camera, milliseconds.
    pub offline_backoff_max_ms: u64,
    /// After a camera reports a lockout, seconds before its credentials are tried again.
    pub locked_retry_secs: u64,
    /// How long one camera request may take, milliseconds.
    pub request_timeout_ms: u64,
}

impl Default for CameraConfig {
    fn default() -> Self {
        Self {
            monitor_period_ms: 10_000,
            offline_backoff_max_ms: 60_000,
            locked_retry_secs: 300,
            request_timeout_ms: 5_000,
        }
    }
}

/// `[log]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// `error`, `warn`, `info`, `debug` or `trace`, or a full tracing filter such as `vigil=debug`.
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            level: "info".to_owned(),
        }
    }
}

/// Discovery settings, checked.
#[derive(Debug, Clone)]
pub struct DiscoverySettings {
    /// Multicast on.
    pub multicast: bool,
    /// Interface names; empty for all.
    pub interfaces: Vec<String>,
    /// WS-Discovery port.
    pub port: u16,
    /// Unicast targets, expanded.
    pub unicast_targets: Vec<SocketAddr>,
    /// Where to listen for Hello and Bye, if at all.
    pub announcement_address: Option<SocketAddr>,
    /// Listening window after the last probe.
    pub probe_window: Duration,
    /// Periodic discovery, if on.
    pub refresh_interval: Option<Duration>,
    /// Probe at start.
    pub on_start: bool,
    /// Identifications at once.
    pub identify_concurrency: usize,
}

/// Everything vigild's core needs, checked and typed.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Discovery.
    pub discovery: DiscoverySettings,
    /// The monitor.
    pub monitor: MonitorSettings,
    /// Per-request camera timeout.
    pub request_timeout: Duration,
    /// The forget-password flow.
    pub recovery: RecoverySettings,
    /// The D-Bus face.
    pub dbus: DbusSettings,
    /// The NVR's own admin account.
    pub account: AccountSettings,
    /// The log filter.
    pub log_level: String,
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

    /// Checks every value and produces typed settings.
    pub fn resolve(&self, source_name: &str) -> Result<Settings, ConfigError> {
        let err = |key: &str, problem: String| ConfigError {
            source_name: source_name.to_owned(),
            key: key.to_owned(),
            problem,
        };
        let d = &self.discovery;
        let c = &self.cameras;
        if d.port == 0 {
            return Err(err("discovery.port", "must be 1-65535".into()));
        }
        let mut unicast_targets = Vec::new();
        for (i, target) in d.unicast_targets.iter().enumerate() {
            let expanded = parse_unicast_targets(target)
                .map_err(|p| err(&format!("discovery.unicast_targets[{i}]"), p))?;
            unicast_targets.extend(expanded);
        }
        if unicast_targets.len() > MAX_UNICAST_TARGETS {
            return Err(err(
                "discovery.unicast_targets",
                format!(
                    "{} addresses in all; at most {MAX_UNICAST_TARGETS}",
                    unicast_targets.len()
                ),
            ));
        }
        for (i, name) in d.interfaces.iter().enumerate() {
            if name.is_empty()
                || name.len() > 15
                || name.contains('/')
                || name.chars().any(char::is_whitespace)
            {
                return Err(err(
                    &format!("discovery.interfaces[{i}]"),
                    format!("'{name}' is not an interface name"),
                ));
            }
        }
        let announcement_address = if d.listen_announcements {
            Some(d.announcement_address.parse::<SocketAddr>().map_err(|_| {
                err(
                    "discovery.announcement_address",
                    format!("'{}' is not an address:port", d.announcement_address),
                )
            })?)
        } else {
            None
        };
        in_range(
            &err,
            "discovery.probe_window_ms",
            d.probe_window_ms,
            100,
            60_000,
        )?;
        if d.refresh_interval_secs != 0 {
            in_range(
                &err,
                "discovery.refresh_interval_secs",
                d.refresh_interval_secs,
                10,
                86_400,
            )?;
        }
        in_range(
            &err,
            "discovery.identify_concurrency",
            d.identify_concurrency as u64,
            1,
            1024,
        )?;
        in_range(
            &err,
            "cameras.monitor_period_ms",
            c.monitor_period_ms,
            50,
            3_600_000,
        )?;
        in_range(
            &err,
            "cameras.request_timeout_ms",
            c.request_timeout_ms,
            100,
            120_000,
        )?;
        in_range(
            &err,
            "cameras.locked_retry_secs",
            c.locked_retry_secs,
            1,
            86_400,
        )?;
        if c.offline_backoff_max_ms < c.monitor_period_ms {
            return Err(err(
                "cameras.offline_backoff_max_ms",
                format!(
                    "{} is shorter than cameras.monitor_period_ms ({})",
                    c.offline_backoff_max_ms, c.monitor_period_ms
                ),
            ));
        }
        in_range(
            &err,
            "cameras.offline_backoff_max_ms",
            c.offline_backoff_max_ms,
            50,
            86_400_000,
        )?;
        let a = &self.account;
        in_range(
            &err,
            "account.max_failed_logins",
            u64::from(a.max_failed_logins),
            1,
            100,
        )?;
        in_range(&err, "account.lockout_secs", a.lockout_secs, 1, 86_400)?;
        in_range(
            &err,
            "account.session_idle_secs",
            a.session_idle_secs,
            30,
            86_400,
        )?;
        if tracing_subscriber::EnvFilter::try_new(&self.log.level).is_err()
            || self.log.level.trim().is_empty()
        {
            return Err(err(
                "log.level",
                format!("'{}' is not a log level or filter", self.log.level),
            ));
        }
        Ok(Settings {
            discovery: DiscoverySettings {
                multicast: d.multicast,
                interfaces: d.interfaces.clone(),
                port: d.port,
                unicast_targets,
                announcement_address,
                probe_window: Duration::from_millis(d.probe_window_ms),
                refresh_interval: (d.refresh_interval_secs > 0)
                    .then(|| Duration::from_secs(d.refresh_interval_secs)),
                on_start: d.on_start,
                identify_concurrency: d.identify_concurrency,
            },
            monitor: MonitorSettings {
                period: Duration::from_millis(c.monitor_period_ms),
                offline_backoff_max: Duration::from_millis(c.offline_backoff_max_ms),
                locked_retry: Duration::from_secs(c.locked_retry_secs),
            },
            request_timeout: Duration::from_millis(c.request_timeout_ms),
            recovery: RecoverySettings {
                remove_first: self.recovery.remove_first,
                add_after_reset: self.recovery.add_after_reset,
                sweep_interval: RECOVERY_SWEEP_INTERVAL,
                abandoned_after: RECOVERY_ABANDONED_AFTER,
                ended_retention: RECOVERY_ENDED_RETENTION,
            },
            account: AccountSettings {
                max_failed_logins: a.max_failed_logins,
                lockout: Duration::from_secs(a.lockout_secs),
                session_idle: Duration::from_secs(a.session_idle_secs),
                device_secret_file: (!a.device_secret_file.trim().is_empty())
                    .then(|| std::path::PathBuf::from(a.device_secret_file.trim())),
            },
            dbus: DbusSettings {
                bus: parse_bus(&self.dbus.bus).map_err(|p| err("dbus.bus", p))?,
                read_group: group_name(&self.dbus.read_group)
                    .map_err(|p| err("dbus.read_group", p))?,
                admin_group: group_name(&self.dbus.admin_group)
                    .map_err(|p| err("dbus.admin_group", p))?,
            },
            log_level: self.log.level.clone(),
        })
    }
}

/// Keys read only when vigild starts: a reload (SIGHUP) that changes them keeps the running value and
/// says a restart is needed. Every other key applies at once.
pub const RESTART_ONLY_KEYS: &[&str] = &[
    "discovery.multicast",
    "discovery.interfaces",
    "discovery.listen_announcements",
    "discovery.announcement_address",
    "discovery.on_start",
    "discovery.identify_concurrency",
    "cameras.request_timeout_ms",
    "dbus.bus",
    "dbus.read_group",
    "dbus.admin_group",
];

impl Config {
    /// The dotted keys (`cameras.monitor_period_ms`) whose values differ between `self` and `other`,
    /// in file order. A key left out of a file counts as its default.
    pub fn changed_keys(&self, other: &Config) -> Vec<String> {
        let (mine, theirs) = (self.keyed_values(), other.keyed_values());
        mine.iter()
            .filter(|(key, value)| {
                theirs.iter().find(|(k, _)| k == key).map(|(_, v)| v) != Some(value)
            })
            .map(|(key, _)| key.clone())
            .collect()
    }

    /// `self`, with the values of `keys` taken from `other`.
    pub fn with_values_of(&self, other: &Config, keys: &[String]) -> Config {
        let mut table = self.as_table();
        let theirs = other.as_table();
        for key in keys {
            let Some((section, name)) = key.split_once('.') else {
                continue;
            };
            let value = theirs
                .get(section)
                .and_then(toml::Value::as_table)
                .and_then(|t| t.get(name))
                .cloned();
            if let (Some(value), Some(toml::Value::Table(target))) = (value, table.get_mut(section))
            {
                target.insert(name.to_owned(), value);
            }
        }
        // The table came from a Config and only values of the same keys were swapped in.
        toml::Value::Table(table)
            .try_into()
            .unwrap_or_else(|_| self.clone())
    }

    fn as_table(&self) -> toml::Table {
        toml::Table::try_from(self).unwrap_or_default()
    }

    fn keyed_values(&self) -> Vec<(String, toml::Value)> {
        let mut keyed = Vec::new();
        for (section, values) in self.as_table() {
            if let toml::Value::Table(values) = values {
                for (name, value) in values {
                    keyed.push((format!("{section}.{name}"), value));
                }
            }
        }
        keyed
    }
}

/// Reads `system`, `session`, `none` or a D-Bus address.
pub fn parse_bus(text: &str) -> Result<Option<crate::dbus::BusChoice>, String> {
    use crate::dbus::BusChoice;
    Ok(match text.trim() {
        "system" => Some(BusChoice::System),
        "session" => Some(BusChoice::Session),
        "none" => None,
        address if address.contains(':') && zbus::Address::try_from(address).is_ok() => {
            Some(BusChoice::Address(address.to_owned()))
        }
        other => {
            return Err(format!(
                "'{other}' is not system, session, none or a D-Bus address such as unix:path=/run/x"
            ));
        }
    })
}

fn group_name(text: &str) -> Result<String, String> {
    let ok = !text.is_empty()
        && text.len() <= 32
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(text.to_owned())
    } else {
        Err(format!("'{text}' is not a group name or gid"))
    }
}

fn in_range(
    err: &impl Fn(&str, String) -> ConfigError,
    key: &str,
    value: u64,
    min: u64,
    max: u64,
) -> Result<(), ConfigError> {
    if value < min || value > max {
        return Err(err(
            key,
            format!("{value} is out of range; use {min} to {max}"),
        ));
    }
    Ok(())
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
mod tests {
    use super::*;

    #[test]
    fn an_empty_file_means_every_default() {
        let config = Config::parse("", "test").unwrap();
        assert_eq!(config, Config::default());
        let settings = config.resolve("test").unwrap();
        assert_eq!(settings.monitor.period, Duration::from_secs(10));
        assert!(settings.discovery.multicast);
    }

    #[test]
    fn unknown_keys_and_bad_types_name_the_key() {
        let e = Config::parse("[discovery]\nmulticats = true\n", "f.toml").unwrap_err();
        assert_eq!(e.key, "discovery.multicats");
        assert!(e.problem.contains("unknown field"), "{e}");
        let e = Config::parse("[cameras]\nmonitor_period_ms = \"fast\"\n", "f.toml").unwrap_err();
        assert_eq!(e.key, "cameras.monitor_period_ms");
        let e = Config::parse("[cameras\n", "f.toml").unwrap_err();
        assert!(e.to_string().starts_with("f.toml: "), "{e}");
    }

    #[test]
    fn values_are_checked_with_the_key_named() {
        let bad = |toml: &str| {
            Config::parse(toml, "f")
                .unwrap()
                .resolve("f")
                .unwrap_err()
                .key
        };
        assert_eq!(
            bad("[cameras]\nmonitor_period_ms = 0\n"),
            "cameras.monitor_period_ms"
        );
        assert_eq!(
            bad("[discovery]\nunicast_targets = [\"10.0.0.9-10.0.0.1\"]\n"),
            "discovery.unicast_targets[0]"
        );
        assert_eq!(
            bad("[discovery]\nannouncement_address = \"nowhere\"\n"),
            "discovery.announcement_address"
        );
        assert_eq!(
            bad("[cameras]\nmonitor_period_ms = 5000\noffline_backoff_max_ms = 1000\n"),
            "cameras.offline_backoff_max_ms"
        );
        assert_eq!(bad("[log]\nlevel = \"loud=[\"\n"), "log.level");
        assert_eq!(bad("[dbus]\nbus = \"the-bus\"\n"), "dbus.bus");
        assert_eq!(bad("[dbus]\nadmin_group = \"a b\"\n"), "dbus.admin_group");
        assert_eq!(
            bad("[discovery]\ninterfaces = [\"eth 0\"]\n"),
            "discovery.interfaces[0]"
        );
    }

    #[test]
    fn a_missing_default_file_is_fine_but_a_missing_explicit_one_is_not() {
        let missing = Path::new("/nonexistent/vigild.toml");
        assert_eq!(Config::load(missing, false).unwrap(), Config::default());
        assert_eq!(Config::load(missing, true).unwrap_err().key, "file");
    }

    #[test]
    fn a_reload_sees_which_keys_changed_and_can_keep_the_running_values_of_some() {
        let running = Config::parse(
            "[cameras]\nmonitor_period_ms = 5000\n[dbus]\nbus = \"session\"\n",
            "running",
        )
        .unwrap();
        // Left out of the new file: monitor_period_ms goes back to its default, which is a change.
        let new = Config::parse(
            "[dbus]\nbus = \"none\"\n[log]\nlevel = \"debug\"\n[discovery]\nport = 3702\n",
            "new",
        )
        .unwrap();
        assert_eq!(
            running.changed_keys(&new),
            ["cameras.monitor_period_ms", "dbus.bus", "log.level"]
        );
        assert!(running.changed_keys(&running.clone()).is_empty());
        let kept = new.with_values_of(&running, &["dbus.bus".to_owned()]);
        assert_eq!(kept.dbus.bus, "session");
        assert_eq!(kept.log.level, "debug");
        assert_eq!(kept.cameras.monitor_period_ms, 10_000);
        assert!(RESTART_ONLY_KEYS.contains(&"dbus.bus"));
        for key in RESTART_ONLY_KEYS {
            let (section, name) = key.split_once('.').unwrap();
            let table = toml::Table::try_from(Config::default()).unwrap();
            assert!(
                table[section].as_table().unwrap().contains_key(name),
                "{key} is a real key"
            );
        }
    }
}
