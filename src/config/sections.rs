//! The configuration file as written: one table per section, every key with its default, unknown keys
//! refused. [`super::resolve`] checks these into typed settings.

use serde::{Deserialize, Serialize};

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
    /// The camera-side interfaces (the PoE switch side) where plug and play runs: a camera that
    /// appears there is activated with the recorder's default camera password and reserved email, or
    /// tried once with that password, and added on the next free channel. Empty: off.
    pub plug_and_play_interfaces: Vec<String>,
    /// Also ask in Hikvision's SADP (cameras with ONVIF off answer only that).
    pub sadp: bool,
    /// SADP's UDP port (37020).
    pub sadp_port: u16,
    /// Also ask in Dahua's DHIP (Dahua-made cameras, Lorex's among them).
    pub dhip: bool,
    /// DHIP's UDP port (37810).
    pub dhip_port: u16,
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
            plug_and_play_interfaces: Vec::new(),
            sadp: true,
            sadp_port: crate::camera::hikvision::sadp::SADP_PORT,
            dhip: true,
            dhip_port: crate::camera::dahua::dhip::DHIP_PORT,
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
    /// How many channels (D1, D2, ...) the recorder has: the most cameras it adds.
    pub channels: u64,
    /// How the recorder keeps its cameras' clocks: `utc` (sets each clock in UTC when the camera is
    /// added and every `time_sync_interval_secs`), `ntp` (points each camera at `ntp_server`) or `off`.
    pub time_sync: String,
    /// Seconds between clock settings of every certified camera (60-604800).
    pub time_sync_interval_secs: u64,
    /// The NTP server cameras are pointed at with `time_sync = "ntp"`: usually the recorder's own
    /// address on the camera network.
    pub ntp_server: String,
    /// A camera whose clock is off by more than this many seconds is flagged (1-86400).
    pub clock_drift_limit_secs: u64,
}

impl Default for CameraConfig {
    fn default() -> Self {
        Self {
            monitor_period_ms: 10_000,
            offline_backoff_max_ms: 60_000,
            locked_retry_secs: 300,
            request_timeout_ms: 5_000,
            channels: 16,
            time_sync: "utc".to_owned(),
            time_sync_interval_secs: 6 * 3600,
            ntp_server: String::new(),
            clock_drift_limit_secs: 10,
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
