//! Checking the file into settings, one section at a time. Every refusal names the key and the
//! problem; a value in range is taken as written.

use std::net::SocketAddr;
use std::time::Duration;

use super::sections::{AccountConfig, CameraConfig, DbusConfig, DiscoveryConfig, LogConfig};
use super::{
    AccountSettings, CameraTimeSettings, Config, ConfigError, DbusSettings, DiscoverySettings,
    RECOVERY_ABANDONED_AFTER, RECOVERY_ENDED_RETENTION, RECOVERY_SWEEP_INTERVAL, RecoverySettings,
    Settings, TimeSync, parse_bus,
};
use crate::camera::discovery::{MAX_UNICAST_TARGETS, parse_unicast_targets};
use crate::camera::monitor::MonitorSettings;

/// Names the key a problem is about, for the file being read.
type Refuse<'a> = &'a dyn Fn(&str, String) -> ConfigError;

impl Config {
    /// Checks every value and produces typed settings.
    pub fn resolve(&self, source_name: &str) -> Result<Settings, ConfigError> {
        let refuse = |key: &str, problem: String| ConfigError {
            source_name: source_name.to_owned(),
            key: key.to_owned(),
            problem,
        };
        let (monitor, request_timeout) = resolve_cameras(&self.cameras, &refuse)?;
        in_range(&refuse, "cameras.channels", self.cameras.channels, 1, 256)?;
        let camera_time = resolve_camera_time(&self.cameras, &refuse)?;
        Ok(Settings {
            discovery: resolve_discovery(&self.discovery, &refuse)?,
            monitor,
            request_timeout,
            channels: u16::try_from(self.cameras.channels).unwrap_or(256),
            camera_time,
            recovery: RecoverySettings {
                remove_first: self.recovery.remove_first,
                add_after_reset: self.recovery.add_after_reset,
                sweep_interval: RECOVERY_SWEEP_INTERVAL,
                abandoned_after: RECOVERY_ABANDONED_AFTER,
                ended_retention: RECOVERY_ENDED_RETENTION,
            },
            account: resolve_account(&self.account, &refuse)?,
            dbus: resolve_dbus(&self.dbus, &refuse)?,
            log_level: resolve_log(&self.log, &refuse)?,
        })
    }
}

fn resolve_discovery(
    d: &DiscoveryConfig,
    err: Refuse<'_>,
) -> Result<DiscoverySettings, ConfigError> {
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
    check_interface_names(
        err,
        "discovery.plug_and_play_interfaces",
        &d.plug_and_play_interfaces,
    )?;
    check_interface_names(err, "discovery.interfaces", &d.interfaces)?;
    if d.dhip && d.dhip_port == 0 {
        return Err(err(
            "discovery.dhip_port",
            "port 0 is not a DHIP port; use 1-65535 (37810)".to_owned(),
        ));
    }
    if d.sadp && d.sadp_port == 0 {
        return Err(err(
            "discovery.sadp_port",
            "port 0 is not a SADP port; use 1-65535 (37020)".to_owned(),
        ));
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
        err,
        "discovery.probe_window_ms",
        d.probe_window_ms,
        100,
        60_000,
    )?;
    if d.refresh_interval_secs != 0 {
        in_range(
            err,
            "discovery.refresh_interval_secs",
            d.refresh_interval_secs,
            10,
            86_400,
        )?;
    }
    in_range(
        err,
        "discovery.identify_concurrency",
        d.identify_concurrency as u64,
        1,
        1024,
    )?;
    Ok(DiscoverySettings {
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
        plug_and_play_interfaces: d.plug_and_play_interfaces.clone(),
        vendor_ports: [
            d.sadp
                .then_some((crate::model::Protocol::Hikvision, d.sadp_port)),
            d.dhip
                .then_some((crate::model::Protocol::Dahua, d.dhip_port)),
        ]
        .into_iter()
        .flatten()
        .collect(),
    })
}

/// The monitor's settings and the per-request timeout.
fn resolve_cameras(
    c: &CameraConfig,
    err: Refuse<'_>,
) -> Result<(MonitorSettings, Duration), ConfigError> {
    in_range(
        err,
        "cameras.monitor_period_ms",
        c.monitor_period_ms,
        50,
        3_600_000,
    )?;
    in_range(
        err,
        "cameras.request_timeout_ms",
        c.request_timeout_ms,
        100,
        120_000,
    )?;
    in_range(
        err,
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
        err,
        "cameras.offline_backoff_max_ms",
        c.offline_backoff_max_ms,
        50,
        86_400_000,
    )?;
    Ok((
        MonitorSettings {
            period: Duration::from_millis(c.monitor_period_ms),
            offline_backoff_max: Duration::from_millis(c.offline_backoff_max_ms),
            locked_retry: Duration::from_secs(c.locked_retry_secs),
        },
        Duration::from_millis(c.request_timeout_ms),
    ))
}

/// Refuses a list entry that cannot be a Linux interface name, naming `key[i]`.
fn check_interface_names(err: Refuse<'_>, key: &str, names: &[String]) -> Result<(), ConfigError> {
    for (i, name) in names.iter().enumerate() {
        if name.is_empty()
            || name.len() > 15
            || name.contains('/')
            || name.chars().any(char::is_whitespace)
        {
            return Err(err(
                &format!("{key}[{i}]"),
                format!("'{name}' is not an interface name"),
            ));
        }
    }
    Ok(())
}

fn resolve_camera_time(
    c: &CameraConfig,
    err: Refuse<'_>,
) -> Result<CameraTimeSettings, ConfigError> {
    in_range(
        err,
        "cameras.time_sync_interval_secs",
        c.time_sync_interval_secs,
        60,
        604_800,
    )?;
    in_range(
        err,
        "cameras.clock_drift_limit_secs",
        c.clock_drift_limit_secs,
        1,
        86_400,
    )?;
    let server = c.ntp_server.trim();
    if !server.is_empty() && crate::model::DeviceAddress::new(server, 123).is_err() {
        return Err(err(
            "cameras.ntp_server",
            format!("'{server}' is not an IP address or host name"),
        ));
    }
    let sync = match c.time_sync.trim() {
        "off" => TimeSync::Off,
        "utc" => TimeSync::Utc,
        "ntp" if server.is_empty() => {
            return Err(err(
                "cameras.ntp_server",
                "is empty; time_sync = \"ntp\" needs the server cameras use, usually the recorder's address on the camera network".into(),
            ));
        }
        "ntp" => TimeSync::Ntp(server.to_owned()),
        other => {
            return Err(err(
                "cameras.time_sync",
                format!("'{other}' is not one of utc, ntp, off"),
            ));
        }
    };
    Ok(CameraTimeSettings {
        sync,
        interval: Duration::from_secs(c.time_sync_interval_secs),
        drift_limit: Duration::from_secs(c.clock_drift_limit_secs),
    })
}

fn resolve_account(a: &AccountConfig, err: Refuse<'_>) -> Result<AccountSettings, ConfigError> {
    in_range(
        err,
        "account.max_failed_logins",
        u64::from(a.max_failed_logins),
        1,
        100,
    )?;
    in_range(err, "account.lockout_secs", a.lockout_secs, 1, 86_400)?;
    in_range(
        err,
        "account.session_idle_secs",
        a.session_idle_secs,
        30,
        86_400,
    )?;
    Ok(AccountSettings {
        max_failed_logins: a.max_failed_logins,
        lockout: Duration::from_secs(a.lockout_secs),
        session_idle: Duration::from_secs(a.session_idle_secs),
        device_secret_file: (!a.device_secret_file.trim().is_empty())
            .then(|| std::path::PathBuf::from(a.device_secret_file.trim())),
    })
}

fn resolve_dbus(d: &DbusConfig, err: Refuse<'_>) -> Result<DbusSettings, ConfigError> {
    Ok(DbusSettings {
        bus: parse_bus(&d.bus).map_err(|p| err("dbus.bus", p))?,
        read_group: group_name(&d.read_group).map_err(|p| err("dbus.read_group", p))?,
        admin_group: group_name(&d.admin_group).map_err(|p| err("dbus.admin_group", p))?,
    })
}

fn resolve_log(l: &LogConfig, err: Refuse<'_>) -> Result<String, ConfigError> {
    if tracing_subscriber::EnvFilter::try_new(&l.level).is_err() || l.level.trim().is_empty() {
        return Err(err(
            "log.level",
            format!("'{}' is not a log level or filter", l.level),
        ));
    }
    Ok(l.level.clone())
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

fn in_range(err: Refuse<'_>, key: &str, value: u64, min: u64, max: u64) -> Result<(), ConfigError> {
    if value < min || value > max {
        return Err(err(
            key,
            format!("{value} is out of range; use {min} to {max}"),
        ));
    }
    Ok(())
}
