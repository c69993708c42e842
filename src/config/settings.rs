//! The settings vigild's core runs with: every value checked and typed, produced by
//! [`super::Config::resolve`].

use std::net::SocketAddr;
use std::time::Duration;

use super::BusChoice;
use crate::camera::monitor::MonitorSettings;

/// Everything vigild's core needs, checked and typed.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Discovery.
    pub discovery: DiscoverySettings,
    /// The monitor.
    pub monitor: MonitorSettings,
    /// Per-request camera timeout.
    pub request_timeout: Duration,
    /// The recorder's channel count (1-256): each added camera has one of channels 1 to this.
    pub channels: u16,
    /// How the cameras' clocks are kept.
    pub camera_time: CameraTimeSettings,
    /// The forget-password flow.
    pub recovery: RecoverySettings,
    /// The D-Bus face.
    pub dbus: DbusSettings,
    /// The NVR's own admin account.
    pub account: AccountSettings,
    /// The log filter.
    pub log_level: String,
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
    /// Interface names where plug and play runs; empty for off.
    pub plug_and_play_interfaces: Vec<String>,
    /// The vendors' own discovery protocols asked too, each on its UDP port.
    pub vendor_ports: Vec<(crate::model::Protocol, u16)>,
}

/// How the recorder keeps its cameras' clocks, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CameraTimeSettings {
    /// Where the clocks are set from.
    pub sync: TimeSync,
    /// Time between settings of every certified camera's clock.
    pub interval: Duration,
    /// A clock off by more than this is flagged.
    pub drift_limit: Duration,
}

/// Where the recorder sets its cameras' clocks from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TimeSync {
    /// It does not set them (an installer may still set one by hand).
    Off,
    /// It sets them by hand, in UTC, from its own clock.
    Utc,
    /// It points them at this NTP server (host name or IP address).
    Ntp(String),
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

/// D-Bus settings, checked.
#[derive(Debug, Clone)]
pub struct DbusSettings {
    /// Which bus, or `None` for no D-Bus face.
    pub bus: Option<BusChoice>,
    /// The read group.
    pub read_group: String,
    /// The admin group.
    pub admin_group: String,
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
