//! Reloading the configuration while vigild runs (SIGHUP, `systemctl reload vigild`): the file is read
//! and checked whole, or refused whole with the key and the problem named; keys read only at start keep
//! their running values; the log filter follows unless the command line fixed it.

use std::path::PathBuf;

use tokio::sync::mpsc;

use crate::config::{Config, ConfigError, RESTART_ONLY_KEYS};
use crate::service::Nvr;

/// Sets the log filter while vigild runs; an error says why the filter is not one.
pub type LogFilterSetter = Box<dyn Fn(&str) -> Result<(), String> + Send + Sync>;

/// How a running vigild re-reads its configuration file (SIGHUP, `systemctl reload vigild`).
pub struct Reload {
    /// The file.
    pub config_path: PathBuf,
    /// Named on the command line: then it must exist. The default file may be missing (defaults).
    pub explicit: bool,
    /// The configuration in force, as read at start.
    pub running: Config,
    /// One message per reload request.
    pub requests: mpsc::UnboundedReceiver<()>,
    /// Sets the log filter; `None` when `--log-level` or `RUST_LOG` fixes it.
    pub set_log_filter: Option<LogFilterSetter>,
}

/// Re-reads the configuration file and puts it in force, or refuses it whole. Keys read only at
/// start keep their running values (each named in a warning); the rest apply at once.
pub(super) async fn reload_configuration(
    nvr: &Nvr,
    reload: &mut Reload,
) -> Result<(), ConfigError> {
    let (path, explicit) = (reload.config_path.clone(), reload.explicit);
    let source_name = path.display().to_string();
    let new = tokio::task::spawn_blocking(move || Config::load(&path, explicit))
        .await
        .map_err(|e| ConfigError {
            source_name: source_name.clone(),
            key: "file".into(),
            problem: e.to_string(),
        })??;
    new.resolve(&source_name)?;
    let changed = reload.running.changed_keys(&new);
    let (restart_only, live): (Vec<String>, Vec<String>) = changed
        .into_iter()
        .partition(|key| RESTART_ONLY_KEYS.contains(&key.as_str()));
    let in_force = new.with_values_of(&reload.running, &restart_only);
    let mut next = in_force.resolve(&source_name)?;
    // The bus is chosen at start (command-line flags included) and stays.
    next.dbus = nvr.settings().dbus.clone();
    if live.iter().any(|key| key == "log.level") {
        match &reload.set_log_filter {
            Some(set) => set(&next.log_level).map_err(|problem| ConfigError {
                source_name: source_name.clone(),
                key: "log.level".into(),
                problem,
            })?,
            None => tracing::warn!(
                "log.level changed in the file, but --log-level or RUST_LOG sets the log filter"
            ),
        }
    }
    nvr.apply_settings(next, &live);
    reload.running = in_force;
    for key in &restart_only {
        tracing::warn!(
            %key,
            "changed in the configuration file; takes effect after a restart (systemctl restart vigild)"
        );
    }
    tracing::info!(
        file = %source_name,
        applied = %if live.is_empty() { "nothing changed".to_owned() } else { live.join(", ") },
        "configuration reloaded"
    );
    Ok(())
}
