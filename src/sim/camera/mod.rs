//! One simulated camera's state and rules: its users and levels, factory (inactive) state, login checks
//! with lockout, nonce replay and timestamp freshness, its clock offset, its network settings
//! (`network`), and the counters a test reads.
//!
//! No I/O here: the HTTP and WS-Discovery faces in `sim/http.rs` and `sim/wsd.rs` call into it, so the
//! rules are the same whichever way a request arrives.

mod auth;
mod identity;
mod network;
#[cfg(test)]
mod tests;
mod users;
pub mod vendor;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use tokio::sync::watch;

use crate::clock::{Clock, unix_secs};
use crate::mail::MailSender;
use crate::sim::dialect::Dialect;
use crate::sim::recovery::state::{RecoveryState, SharedMailSender};

use auth::LockoutState;
pub use auth::{
    AccessClass, Credential, DIGEST_REALM, PasswordProof, UNKNOWN_USERNAME, constant_time_eq,
};
pub use identity::CameraIdentity;
pub use network::{DEFAULT_REBOOT_TIME, Lifecycle, SimNetwork, unix_secs_of};
pub use users::{Caller, UserChange, UserLevel};
use users::{SimUser, has_admin};

/// What the camera has seen, for tests and demos to read.
#[derive(Debug, Default, Clone, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct CameraStats {
    /// Every SOAP request that reached the device service.
    pub requests: u64,
    /// Requests that carried credentials (UsernameToken or HTTP Digest).
    pub login_attempts: u64,
    /// Credentials that were checked and accepted.
    pub successful_logins: u64,
    /// Credentials that were checked and rejected: wrong password, unknown user or stale timestamp.
    pub failed_logins: u64,
    /// Requests refused because the user was locked.
    pub locked_rejections: u64,
    /// UsernameTokens refused because their nonce was seen before.
    pub replayed_nonces: u64,
    /// UsernameTokens refused because `Created` was outside the freshness window.
    pub stale_timestamps: u64,
    /// Failed logins per user name of the camera; names it does not have count as
    /// [`UNKNOWN_USERNAME`].
    pub failed_logins_by_user: BTreeMap<String, u64>,
    /// WS-Discovery probes this camera answered.
    pub probes_answered: u64,
}

/// Knobs that shape every camera the same way.
#[derive(Debug, Clone)]
pub struct CameraPolicy {
    /// Failed logins in a row before a user is locked.
    pub lockout_threshold: u32,
    /// How long a locked user stays locked.
    pub lockout_duration: Duration,
    /// Whether GetDeviceInformation, GetScopes and GetNetworkInterfaces answer without credentials, as
    /// many cameras do.
    pub anonymous_device_info: bool,
    /// Whether GetSystemDateAndTime answers without credentials, as ONVIF says it must. Some cameras
    /// want credentials even for it.
    pub anonymous_clock: bool,
    /// How the camera words its refusals (changeable later with [`SimCamera::set_dialect`]).
    pub dialect: Dialect,
    /// Whether new network settings need a reboot to apply (SetNetworkInterfaces says RebootNeeded).
    pub network_change_needs_reboot: bool,
    /// How long a reboot keeps the camera off the network.
    pub reboot_time: Duration,
}

impl Default for CameraPolicy {
    fn default() -> Self {
        Self {
            lockout_threshold: 5,
            lockout_duration: Duration::from_secs(30 * 60),
            anonymous_device_info: true,
            anonymous_clock: true,
            dialect: Dialect::Onvif,
            network_change_needs_reboot: false,
            reboot_time: network::DEFAULT_REBOOT_TIME,
        }
    }
}

struct CameraState {
    users: Vec<SimUser>,
    clock_offset_secs: i64,
    lockouts: HashMap<String, LockoutState>,
    seen_nonces: HashMap<String, SystemTime>,
    seen_nonce_order: VecDeque<String>,
    digest_nonces: HashMap<String, SystemTime>,
    digest_nonce_order: VecDeque<String>,
    stats: CameraStats,
    /// Incremented at every (simulated) boot; WS-Discovery AppSequence InstanceId.
    boot_count: u64,
    /// WS-Discovery AppSequence MessageNumber.
    message_number: u64,
    /// How refusals are worded right now.
    dialect: Dialect,
    /// Requests still to be answered with a bare HTTP 503, as a camera that is starting up does.
    server_errors_left: u32,
    /// Requests with credentials still to be answered so.
    login_server_errors_left: u32,
}

/// One simulated camera.
pub struct SimCamera {
    identity: CameraIdentity,
    policy: CameraPolicy,
    clock: Arc<dyn Clock>,
    state: Mutex<CameraState>,
    /// Why a watch channel: the HTTP server and WS-Discovery responder both follow it to close or
    /// reopen their sockets when a test takes the camera offline or brings it back.
    online: watch::Sender<bool>,
    /// Whether the HTTP face has actually opened (or closed) its port to match `online`; lets a control
    /// call return only once the change is real.
    serving: watch::Sender<bool>,
    /// The recovery extension's state (sim/recovery.rs).
    recovery: Mutex<RecoveryState>,
    /// How the camera (and the simulated vendor) sends email.
    mail: SharedMailSender,
    /// Where its device service listens now; the HTTP face follows it.
    address: watch::Sender<std::net::SocketAddr>,
    /// Its network settings and clock source.
    network: Mutex<SimNetwork>,
    /// Reboots and moves, for the simulator to carry out.
    lifecycle: network::LifecycleSender,
    /// Whether the ONVIF device service and WS-Discovery answer (a Hikvision camera has them off
    /// until an installer turns them on).
    onvif_enabled: std::sync::atomic::AtomicBool,
    /// The Hikvision persona's own state: the activation exchange it speaks and a pending challenge.
    hikvision: Mutex<vendor::HikvisionState>,
    /// The Dahua persona's RPC sessions.
    dahua: Mutex<vendor::DahuaState>,
}

impl std::fmt::Debug for SimCamera {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimCamera")
            .field("index", &self.identity.index)
            .field("serial", &self.identity.serial)
            .finish_non_exhaustive()
    }
}

/// A summary of a camera's state for the control interface.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct CameraSummary {
    /// Position in the simulator.
    pub index: usize,
    /// Serial number.
    pub serial: String,
    /// MAC address.
    pub mac: String,
    /// Endpoint reference.
    pub endpoint_ref: String,
    /// Device service URL.
    pub device_service: String,
    /// WS-Discovery unicast address.
    pub discovery_addr: String,
    /// Whether it answers at all.
    pub online: bool,
    /// Whether it is in factory state (no administrator yet).
    pub inactive: bool,
    /// Its clock offset from true UTC, seconds.
    pub clock_offset_secs: i64,
    /// User names and levels, never passwords.
    pub users: Vec<(String, UserLevel)>,
    /// Users locked right now.
    pub locked_users: Vec<String>,
}

pub(super) fn shift(t: SystemTime, offset_secs: i64) -> SystemTime {
    let by = Duration::from_secs(offset_secs.unsigned_abs());
    if offset_secs >= 0 { t + by } else { t - by }
}

/// Lower-case hex of some bytes.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Seconds since the epoch of the camera's clock, for log lines and replies.
pub fn camera_unix_secs(camera: &SimCamera) -> i64 {
    unix_secs(camera.camera_now())
}

impl SimCamera {
    /// A camera with `admin` as its only user, or in factory state when `admin_password` is `None`.
    pub fn new(
        identity: CameraIdentity,
        policy: CameraPolicy,
        clock: Arc<dyn Clock>,
        admin: Option<(&str, &str)>,
        clock_offset_secs: i64,
    ) -> Self {
        let users = admin
            .map(|(name, password)| {
                vec![SimUser {
                    name: name.to_owned(),
                    password: password.to_owned(),
                    level: UserLevel::Administrator,
                }]
            })
            .unwrap_or_default();
        let (online, _) = watch::channel(true);
        let (serving, _) = watch::channel(true);
        let dialect = policy.dialect;
        let identity_http_addr = identity.http_addr;
        let onvif_enabled = identity.persona.onvif_at_start();
        Self {
            identity,
            policy,
            clock,
            state: Mutex::new(CameraState {
                users,
                clock_offset_secs,
                lockouts: HashMap::new(),
                seen_nonces: HashMap::new(),
                seen_nonce_order: VecDeque::new(),
                digest_nonces: HashMap::new(),
                digest_nonce_order: VecDeque::new(),
                stats: CameraStats::default(),
                boot_count: 1,
                message_number: 0,
                dialect,
                server_errors_left: 0,
                login_server_errors_left: 0,
            }),
            online,
            serving,
            recovery: Mutex::new(RecoveryState::new(None, true)),
            mail: None,
            address: network::address_watch(identity_http_addr),
            network: Mutex::new(SimNetwork::default()),
            lifecycle: network::LifecycleSender::new(),
            onvif_enabled: std::sync::atomic::AtomicBool::new(onvif_enabled),
            hikvision: Mutex::new(vendor::HikvisionState::default()),
            dahua: Mutex::new(vendor::DahuaState::default()),
        }
    }

    /// Whether the ONVIF device service and WS-Discovery answer now.
    pub fn onvif_enabled(&self) -> bool {
        self.onvif_enabled.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Turns ONVIF on or off (ISAPI's Integrate, or the control interface).
    pub fn set_onvif_enabled(&self, enabled: bool) {
        self.onvif_enabled
            .store(enabled, std::sync::atomic::Ordering::SeqCst);
    }

    /// The Dahua persona's state.
    pub(crate) fn dahua(&self) -> MutexGuard<'_, vendor::DahuaState> {
        self.dahua.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The Hikvision persona's state.
    pub(crate) fn hikvision(&self) -> MutexGuard<'_, vendor::HikvisionState> {
        self.hikvision.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Creates the administrator of a camera in factory state (an ISAPI activation); false when it
    /// has one already.
    pub fn activate_admin(&self, username: &str, password: &str) -> bool {
        let mut state = self.state();
        if has_admin(&state.users) {
            return false;
        }
        state.users.push(SimUser {
            name: username.to_owned(),
            password: password.to_owned(),
            level: UserLevel::Administrator,
        });
        true
    }

    /// Sets the recovery side up: the reset email (as if set at activation), internet access, and the
    /// mail sender the camera uses.
    pub fn with_recovery(
        mut self,
        reset_email: Option<String>,
        internet: bool,
        mail: SharedMailSender,
    ) -> Self {
        let email = reset_email.filter(|_| !self.is_inactive());
        self.recovery = Mutex::new(RecoveryState::new(email, internet));
        self.mail = mail;
        self
    }

    /// The recovery state.
    pub(crate) fn recovery(&self) -> MutexGuard<'_, RecoveryState> {
        self.recovery.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The mail sender, when one is configured.
    pub(crate) fn mail_sender(&self) -> Option<&Arc<dyn MailSender>> {
        self.mail.as_ref()
    }

    fn state(&self) -> MutexGuard<'_, CameraState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// How the camera words its refusals now.
    pub fn dialect(&self) -> Dialect {
        self.state().dialect
    }

    /// Makes the camera word its refusals in `dialect` from now on.
    pub fn set_dialect(&self, dialect: Dialect) {
        self.state().dialect = dialect;
    }

    /// Answers the next `count` requests with a bare HTTP 503, as a camera that is starting up does.
    pub fn fail_next_requests(&self, count: u32) {
        self.state().server_errors_left = count;
    }

    /// Whether this request gets a bare server error (and counts it off).
    pub fn take_server_error(&self) -> bool {
        let mut state = self.state();
        if state.server_errors_left == 0 {
            return false;
        }
        state.server_errors_left -= 1;
        true
    }

    /// Answers the next `count` requests that carry credentials with a bare HTTP 503, before looking
    /// at the credentials.
    pub fn fail_next_logins(&self, count: u32) {
        self.state().login_server_errors_left = count;
    }

    /// Whether this request with credentials gets a bare server error (and counts it off).
    pub fn take_login_server_error(&self) -> bool {
        let mut state = self.state();
        if state.login_server_errors_left == 0 {
            return false;
        }
        state.login_server_errors_left -= 1;
        true
    }

    /// The rules it was made with.
    pub fn policy(&self) -> &CameraPolicy {
        &self.policy
    }

    /// The camera's fixed identity.
    pub fn identity(&self) -> &CameraIdentity {
        &self.identity
    }

    /// The camera's own idea of the current time: true time plus its offset.
    pub fn camera_now(&self) -> SystemTime {
        let offset = self.state().clock_offset_secs;
        shift(self.clock.now(), offset)
    }

    /// Whether the camera is in factory state: no administrator with a password.
    pub fn is_inactive(&self) -> bool {
        !has_admin(&self.state().users)
    }

    /// Whether the camera answers on the network.
    pub fn is_online(&self) -> bool {
        *self.online.borrow()
    }

    /// Follows the online flag.
    pub fn watch_online(&self) -> watch::Receiver<bool> {
        self.online.subscribe()
    }

    /// Takes the camera off the network or puts it back, and waits (up to two seconds) until its port
    /// is really closed or open again. Says whether it got there.
    pub async fn set_online(&self, online: bool) -> bool {
        self.online.send_replace(online);
        let mut serving = self.serving.subscribe();
        tokio::time::timeout(
            Duration::from_secs(2),
            serving.wait_for(|now| *now == online),
        )
        .await
        .is_ok_and(|r| r.is_ok())
    }

    /// Called by the HTTP face when its port opens or closes.
    pub fn mark_serving(&self, serving: bool) {
        self.serving.send_replace(serving);
    }

    /// Changes a user's password directly, as someone at the camera's own web page would, behind the
    /// NVR's back. Creates the user as an administrator when it does not exist.
    pub fn set_password_directly(&self, username: &str, password: &str) {
        let mut state = self.state();
        match state.users.iter_mut().find(|u| u.name == username) {
            Some(user) => user.password = password.to_owned(),
            None => state.users.push(SimUser {
                name: username.to_owned(),
                password: password.to_owned(),
                level: UserLevel::Administrator,
            }),
        }
        state.lockouts.remove(username);
    }

    /// Resets the camera to factory state: no users, no lockouts, no reset email. It reboots, so it says
    /// Hello again.
    pub fn factory_reset(&self) {
        {
            let mut recovery = self.recovery();
            recovery.void();
            recovery.clear_reset_email();
        }
        let mut state = self.state();
        state.users.clear();
        state.lockouts.clear();
        state.seen_nonces.clear();
        state.seen_nonce_order.clear();
        state.digest_nonces.clear();
        state.digest_nonce_order.clear();
        state.boot_count += 1;
        state.message_number = 0;
        drop(state);
        self.hikvision().factory_reset();
        self.dahua().clear();
        if !self.identity.persona.onvif_at_start() {
            self.set_onvif_enabled(false);
        }
    }

    /// Reboots the camera: challenges and reset tokens are void, and it says Hello again.
    pub fn reboot(&self) {
        self.reboot_recovery();
        let mut state = self.state();
        state.boot_count += 1;
        state.message_number = 0;
    }

    /// Sets the camera clock's offset from true UTC.
    pub fn set_clock_offset(&self, secs: i64) {
        self.state().clock_offset_secs = secs;
    }

    /// What the camera has seen so far.
    pub fn stats(&self) -> CameraStats {
        self.state().stats.clone()
    }

    /// Counts a WS-Discovery probe answered.
    pub fn note_probe_answered(&self) {
        self.state().stats.probes_answered += 1;
    }

    /// The next WS-Discovery AppSequence (InstanceId, MessageNumber).
    pub fn next_app_sequence(&self) -> (u64, u64) {
        let mut state = self.state();
        state.message_number += 1;
        (state.boot_count, state.message_number)
    }

    /// A summary for the control interface; holds no secret.
    pub fn summary(&self) -> CameraSummary {
        let now = self.clock.now();
        let state = self.state();
        CameraSummary {
            index: self.identity.index,
            serial: self.identity.serial.clone(),
            mac: self.identity.mac.clone(),
            endpoint_ref: self.identity.endpoint_ref.clone(),
            device_service: self.device_service_url(),
            discovery_addr: self.identity.wsd_addr.to_string(),
            online: self.is_online(),
            inactive: !has_admin(&state.users),
            clock_offset_secs: state.clock_offset_secs,
            users: state
                .users
                .iter()
                .map(|u| (u.name.clone(), u.level))
                .collect(),
            locked_users: state
                .lockouts
                .iter()
                .filter(|(_, l)| l.locked_until.is_some_and(|until| until > now))
                .map(|(name, _)| name.clone())
                .collect(),
        }
    }

    /// Counts a request reaching the device service.
    pub fn note_request(&self) {
        self.state().stats.requests += 1;
    }
}
