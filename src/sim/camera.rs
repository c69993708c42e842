//! One simulated camera's state and rules: its users and levels, factory (inactive) state, login checks
//! with lockout, nonce replay and timestamp freshness, its clock offset, and the counters a test reads.
//!
//! No I/O here: the HTTP and WS-Discovery faces in `sim/http.rs` and `sim/wsd.rs` call into it, so the
//! rules are the same whichever way a request arrives.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use tokio::sync::watch;

use crate::clock::{Clock, rfc3339, unix_secs};
use crate::mail::MailSender;
use crate::sim::dialect::Dialect;
use crate::sim::fault::Fault;
use crate::sim::recovery::{RecoveryState, SharedMailSender};

/// How far a UsernameToken `Created` may be from the camera's own clock, either way.
pub const CREATED_FRESHNESS: Duration = Duration::from_secs(300);
/// How many UsernameToken nonces a camera remembers to refuse replays.
const NONCE_MEMORY: usize = 8192;
/// How long an HTTP Digest nonce the camera issued stays valid.
const DIGEST_NONCE_LIFETIME: Duration = Duration::from_secs(300);
/// How many HTTP Digest nonces a camera keeps outstanding.
const DIGEST_NONCE_MEMORY: usize = 1024;
/// Longest user name a camera accepts.
pub const MAX_USERNAME_LEN: usize = 32;
/// Longest password a camera accepts.
pub const MAX_PASSWORD_LEN: usize = 64;
/// Shortest password a camera accepts; shorter ones get `ter:PasswordTooWeak`.
pub const MIN_PASSWORD_LEN: usize = 8;
/// Most user accounts a camera holds.
pub const MAX_USERS: usize = 16;
/// Most user names [`CameraStats::failed_logins_by_user`] keeps apart.
pub const MAX_TRACKED_USERNAMES: usize = 64;
/// Where [`CameraStats::failed_logins_by_user`] counts names that are not the camera's users (and any
/// beyond [`MAX_TRACKED_USERNAMES`]), so a flood of made-up names cannot grow it.
pub const UNKNOWN_USERNAME: &str = "(unknown user)";

/// The HTTP Digest realm cameras announce.
pub const DIGEST_REALM: &str = "VigilSimCamera";

/// ONVIF user levels.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum UserLevel {
    /// Lowest: can read media and system information.
    User,
    /// Can also operate the device (PTZ, relays) but not manage it.
    Operator,
    /// Everything, including users and security settings.
    Administrator,
}

impl UserLevel {
    /// The ONVIF spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            UserLevel::User => "User",
            UserLevel::Operator => "Operator",
            UserLevel::Administrator => "Administrator",
        }
    }

    /// Parses the ONVIF spelling.
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim() {
            "User" => Some(UserLevel::User),
            "Operator" => Some(UserLevel::Operator),
            "Administrator" => Some(UserLevel::Administrator),
            _ => None,
        }
    }
}

/// The ONVIF access classes of the operations the simulator serves (ONVIF Core, "Access classes").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessClass {
    /// No authentication at all (GetSystemDateAndTime, GetServices, ...).
    PreAuth,
    /// Reading non-secret configuration.
    ReadSystem,
    /// Any authenticated user, never anonymous: where some cameras put GetSystemDateAndTime (see
    /// [`CameraPolicy::anonymous_clock`]).
    Authenticated,
    /// Reading secrets such as the user list.
    ReadSystemSecret,
    /// Changing configuration, users included.
    WriteSystem,
}

impl AccessClass {
    fn allowed_for(self, level: UserLevel) -> bool {
        match self {
            AccessClass::PreAuth | AccessClass::ReadSystem | AccessClass::Authenticated => true,
            AccessClass::ReadSystemSecret | AccessClass::WriteSystem => {
                level == UserLevel::Administrator
            }
        }
    }
}

/// What the camera is, fixed for its life.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CameraIdentity {
    /// Position in the simulator, from 0.
    pub index: usize,
    /// WS-Discovery endpoint reference, `urn:uuid:...`.
    pub endpoint_ref: String,
    /// Manufacturer reported by GetDeviceInformation.
    pub manufacturer: String,
    /// Model reported by GetDeviceInformation.
    pub model: String,
    /// Firmware version reported by GetDeviceInformation.
    pub firmware: String,
    /// Serial number reported by GetDeviceInformation.
    pub serial: String,
    /// Hardware id reported by GetDeviceInformation.
    pub hardware_id: String,
    /// MAC address of its one network interface, `aa:bb:cc:dd:ee:ff`.
    pub mac: String,
    /// Where its HTTP device service listens.
    pub http_addr: SocketAddr,
    /// Where it answers unicast WS-Discovery probes.
    pub wsd_addr: SocketAddr,
}

impl CameraIdentity {
    /// The device service URL, as advertised in XAddrs.
    pub fn device_service_url(&self) -> String {
        format!("http://{}/onvif/device_service", self.http_addr)
    }
}

/// A user account on the camera.
#[derive(Clone)]
struct SimUser {
    name: String,
    password: String,
    level: UserLevel,
}

/// Per-user lockout bookkeeping.
#[derive(Debug, Default, Clone)]
struct LockoutState {
    consecutive_failures: u32,
    locked_until: Option<SystemTime>,
}

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

/// A login attempt as it arrived on the wire.
#[derive(Debug, Clone)]
pub enum Credential {
    /// WS-Security UsernameToken.
    UsernameToken {
        /// The claimed user.
        username: String,
        /// The password, as digest or plain text.
        password: PasswordProof,
        /// The token nonce, base64 as sent.
        nonce_b64: Option<String>,
        /// The token `Created` timestamp as sent.
        created: Option<String>,
    },
    /// An HTTP `Authorization: Digest ...` header.
    HttpDigest {
        /// The header value.
        header: String,
        /// The HTTP method of the request.
        method: String,
    },
}

/// How a UsernameToken carries the password.
#[derive(Debug, Clone)]
pub enum PasswordProof {
    /// `PasswordDigest`: base64(SHA-1(nonce + created + password)).
    Digest(String),
    /// `PasswordText`: the password itself.
    Text(String),
}

/// Who a request runs as, once authentication is done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// No credentials on an operational camera.
    Anonymous,
    /// Any caller of a camera in factory state: Profile Q lets it do anything until an admin exists.
    FactoryState,
    /// An authenticated user.
    User {
        /// The user name.
        name: String,
        /// Their level.
        level: UserLevel,
    },
}

/// A user as given to CreateUsers or SetUser.
#[derive(Debug, Clone)]
pub struct UserChange {
    /// The user name.
    pub username: String,
    /// The new password, when one is given.
    pub password: Option<String>,
    /// The level.
    pub level: Option<UserLevel>,
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
}

impl Default for CameraPolicy {
    fn default() -> Self {
        Self {
            lockout_threshold: 5,
            lockout_duration: Duration::from_secs(30 * 60),
            anonymous_device_info: true,
            anonymous_clock: true,
            dialect: Dialect::Onvif,
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
        }
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
            device_service: self.identity.device_service_url(),
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

    /// The scopes the camera advertises, including the Profile Q state scope.
    pub fn scopes(&self) -> Vec<String> {
        let state_scope = if self.is_inactive() {
            "onvif://www.onvif.org/Profile/Q/FactoryDefault"
        } else {
            "onvif://www.onvif.org/Profile/Q/Operational"
        };
        vec![
            "onvif://www.onvif.org/type/video_encoder".to_owned(),
            "onvif://www.onvif.org/Profile/Streaming".to_owned(),
            state_scope.to_owned(),
            format!(
                "onvif://www.onvif.org/hardware/{}",
                scope_escape(&self.identity.model)
            ),
            format!(
                "onvif://www.onvif.org/name/{}",
                scope_escape(&format!(
                    "{} {}",
                    self.identity.manufacturer, self.identity.model
                ))
            ),
            "onvif://www.onvif.org/location/simulator".to_owned(),
        ]
    }

    /// Counts a request reaching the device service.
    pub fn note_request(&self) {
        self.state().stats.requests += 1;
    }

    /// Checks the credentials a request carried and says who it runs as.
    ///
    /// `request_uri` is the HTTP request target, needed for HTTP Digest.
    pub fn authenticate(
        &self,
        credential: Option<&Credential>,
        request_uri: &str,
    ) -> Result<Caller, Fault> {
        let now = self.clock.now();
        let mut state = self.state();
        if !has_admin(&state.users) {
            return Ok(Caller::FactoryState);
        }
        let Some(credential) = credential else {
            return Ok(Caller::Anonymous);
        };
        state.stats.login_attempts += 1;
        let camera_now = shift(now, state.clock_offset_secs);
        match credential {
            Credential::UsernameToken {
                username,
                password,
                nonce_b64,
                created,
            } => {
                if let Some(fault) = locked_fault(&mut state, username, now) {
                    return Err(fault);
                }
                // Freshness and replay only apply to digests, which are what they protect.
                if let PasswordProof::Digest(_) = password {
                    let created_at = created.as_deref().and_then(crate::clock::parse_rfc3339);
                    let fresh = created_at.is_some_and(|c| {
                        let skew = match c.duration_since(camera_now) {
                            Ok(ahead) => ahead,
                            Err(behind) => behind.duration(),
                        };
                        skew <= CREATED_FRESHNESS
                    });
                    if !fresh {
                        state.stats.stale_timestamps += 1;
                        record_failure(&mut state, username, now, &self.policy);
                        return Err(Fault::stale_token(
                            "The security token is not fresh: its Created time is too far from the camera clock",
                        ));
                    }
                    let Some(nonce) = nonce_b64.as_deref() else {
                        record_failure(&mut state, username, now, &self.policy);
                        return Err(Fault::credentials_wrong("The security token has no nonce"));
                    };
                    if remember_nonce(&mut state, nonce, now) {
                        state.stats.replayed_nonces += 1;
                        return Err(Fault::credentials_wrong(
                            "The security token nonce was already used",
                        ));
                    }
                }
                let user = state.users.iter().find(|u| &u.name == username).cloned();
                let accepted = user.as_ref().is_some_and(|user| match password {
                    PasswordProof::Digest(digest) => {
                        let nonce = nonce_b64
                            .as_deref()
                            .and_then(|n| BASE64.decode(n.trim()).ok())
                            .unwrap_or_default();
                        let expected = oxvif::soap::security::compute_digest(
                            &nonce,
                            created.as_deref().unwrap_or(""),
                            &user.password,
                        );
                        constant_time_eq(
                            BASE64.encode(expected).as_bytes(),
                            digest.trim().as_bytes(),
                        )
                    }
                    PasswordProof::Text(text) => {
                        constant_time_eq(user.password.as_bytes(), text.as_bytes())
                    }
                });
                self.conclude_login(&mut state, username, user.filter(|_| accepted), now, false)
            }
            Credential::HttpDigest { header, method } => {
                let Ok(mut auth) = digest_auth::AuthorizationHeader::parse(header) else {
                    return Err(Fault::http_unauthorized("Malformed Digest authorization"));
                };
                let username = auth.username.clone();
                if let Some(fault) = locked_fault(&mut state, &username, now) {
                    return Err(fault);
                }
                let nonce_ok = state.digest_nonces.get(&auth.nonce).is_some_and(|issued| {
                    now.duration_since(*issued).unwrap_or_default() <= DIGEST_NONCE_LIFETIME
                });
                if !nonce_ok || auth.realm != DIGEST_REALM || auth.uri != request_uri {
                    // An unknown or expired server nonce is not a wrong password: ask again.
                    state.stats.login_attempts -= 1;
                    return Err(Fault::http_unauthorized("Digest nonce unknown or expired"));
                }
                let user = state.users.iter().find(|u| u.name == username).cloned();
                let accepted = user.as_ref().is_some_and(|user| {
                    let claimed = auth.response.clone();
                    let context = digest_auth::AuthContext::new_with_method(
                        user.name.as_str(),
                        user.password.as_str(),
                        auth.uri.clone(),
                        Option::<&[u8]>::None,
                        digest_auth::HttpMethod::from(method.clone()),
                    );
                    auth.digest(&context);
                    constant_time_eq(auth.response.as_bytes(), claimed.as_bytes())
                });
                self.conclude_login(&mut state, &username, user.filter(|_| accepted), now, true)
            }
        }
    }

    /// Records the outcome of a checked login: `accepted` is the user when the proof was right.
    fn conclude_login(
        &self,
        state: &mut CameraState,
        username: &str,
        accepted: Option<SimUser>,
        now: SystemTime,
        http_digest: bool,
    ) -> Result<Caller, Fault> {
        match accepted {
            Some(user) => {
                record_success(state, &user.name);
                Ok(Caller::User {
                    name: user.name,
                    level: user.level,
                })
            }
            None => {
                record_failure(state, username, now, &self.policy);
                Err(self.failed_login_fault(state, username, now, http_digest))
            }
        }
    }

    /// The fault for rejected credentials: locked when this failure tipped the user over, else
    /// `ter:NotAuthorized`, sent as HTTP 401 with a new challenge when the attempt was HTTP Digest.
    fn failed_login_fault(
        &self,
        state: &CameraState,
        username: &str,
        now: SystemTime,
        http_digest: bool,
    ) -> Fault {
        const WRONG: &str = "The user name or password is not correct";
        let lockout = state.lockouts.get(username);
        let fault = match lockout.and_then(|l| l.locked_until) {
            Some(until) if until > now => {
                return Fault::locked(until.duration_since(now).unwrap_or_default());
            }
            _ if http_digest => Fault::http_digest_wrong(WRONG),
            _ => Fault::credentials_wrong(WRONG),
        };
        let failures = lockout.map_or(0, |l| l.consecutive_failures);
        let fault =
            fault.with_attempts_left(self.policy.lockout_threshold.saturating_sub(failures));
        // As on many cameras, a failed login shows the serial number and the date for the support path.
        let date: String = rfc3339(shift(now, state.clock_offset_secs))
            .chars()
            .take(10)
            .collect();
        fault.with_detail(
            "vrc:SupportInfo",
            format!("serial {}, date {date}", self.identity.serial),
        )
    }

    /// Decides whether `caller` may run an operation of `class`. Anonymous callers on an operational
    /// camera get an HTTP 401 challenge; authenticated ones without the level get `ter:NotAuthorized`.
    pub fn authorize(&self, caller: &Caller, class: AccessClass) -> Result<(), Fault> {
        match caller {
            Caller::FactoryState => Ok(()),
            Caller::User { level, .. } if class.allowed_for(*level) => Ok(()),
            Caller::User { .. } => Err(Fault::not_authorized(
                "The user's level does not allow this operation",
            )),
            Caller::Anonymous => {
                let open = class == AccessClass::PreAuth
                    || (class == AccessClass::ReadSystem && self.policy.anonymous_device_info);
                if open {
                    Ok(())
                } else {
                    Err(Fault::http_unauthorized("This operation needs credentials"))
                }
            }
        }
    }

    /// Issues a fresh HTTP Digest challenge nonce.
    pub fn issue_digest_nonce(&self) -> String {
        let now = self.clock.now();
        let nonce = hex(&rand::random::<[u8; 16]>());
        let mut state = self.state();
        state.digest_nonces.insert(nonce.clone(), now);
        state.digest_nonce_order.push_back(nonce.clone());
        while state.digest_nonce_order.len() > DIGEST_NONCE_MEMORY {
            if let Some(old) = state.digest_nonce_order.pop_front() {
                state.digest_nonces.remove(&old);
            }
        }
        nonce
    }

    /// The user list, names and levels only.
    pub fn users(&self) -> Vec<(String, UserLevel)> {
        self.state()
            .users
            .iter()
            .map(|u| (u.name.clone(), u.level))
            .collect()
    }

    /// CreateUsers: all or nothing.
    pub fn create_users(&self, users: &[UserChange]) -> Result<(), Fault> {
        let mut state = self.state();
        let mut incoming: Vec<SimUser> = Vec::with_capacity(users.len());
        for change in users {
            check_username(&change.username)?;
            let password = change.password.as_deref().unwrap_or("");
            check_password(password)?;
            let level = change
                .level
                .ok_or_else(|| Fault::invalid_arg("A user level is required"))?;
            if state.users.iter().any(|u| u.name == change.username)
                || incoming.iter().any(|u| u.name == change.username)
            {
                return Err(Fault::username_clash(&change.username));
            }
            incoming.push(SimUser {
                name: change.username.clone(),
                password: password.to_owned(),
                level,
            });
        }
        if state.users.len() + incoming.len() > MAX_USERS {
            return Err(Fault::too_many_users());
        }
        if !has_admin(&state.users) && !has_admin(&incoming) {
            return Err(Fault::invalid_arg(
                "A camera in factory state must first get an Administrator with a password",
            ));
        }
        state.users.extend(incoming);
        Ok(())
    }

    /// SetUser: all or nothing. A non-administrator may only change their own password.
    pub fn set_users(&self, caller: &Caller, users: &[UserChange]) -> Result<(), Fault> {
        let mut state = self.state();
        let is_admin = matches!(
            caller,
            Caller::FactoryState
                | Caller::User {
                    level: UserLevel::Administrator,
                    ..
                }
        );
        let mut updated = state.users.clone();
        for change in users {
            let Some(user) = updated.iter_mut().find(|u| u.name == change.username) else {
                return Err(Fault::username_missing(&change.username));
            };
            let own = matches!(caller, Caller::User { name, .. } if *name == change.username);
            let changes_only_own_password = own && change.level.is_none_or(|l| l == user.level);
            if !(is_admin || changes_only_own_password) {
                return Err(Fault::not_authorized(
                    "Only an Administrator may change another user or a level",
                ));
            }
            if let Some(password) = &change.password {
                check_password(password)?;
                user.password = password.clone();
            }
            if let Some(level) = change.level {
                user.level = level;
            }
        }
        if !has_admin(&updated) {
            return Err(Fault::fixed_user(
                "The last Administrator cannot be demoted",
            ));
        }
        for change in users {
            state.lockouts.remove(&change.username);
        }
        state.users = updated;
        Ok(())
    }

    /// DeleteUsers: all or nothing; the last administrator stays.
    pub fn delete_users(&self, usernames: &[String]) -> Result<(), Fault> {
        let mut state = self.state();
        for name in usernames {
            if !state.users.iter().any(|u| &u.name == name) {
                return Err(Fault::username_missing(name));
            }
        }
        let remaining: Vec<SimUser> = state
            .users
            .iter()
            .filter(|u| !usernames.contains(&u.name))
            .cloned()
            .collect();
        if !has_admin(&remaining) {
            return Err(Fault::fixed_user(
                "The last Administrator cannot be deleted",
            ));
        }
        state.users = remaining;
        for name in usernames {
            state.lockouts.remove(name);
        }
        Ok(())
    }
}

fn has_admin(users: &[SimUser]) -> bool {
    users
        .iter()
        .any(|u| u.level == UserLevel::Administrator && !u.password.is_empty())
}

fn shift(t: SystemTime, offset_secs: i64) -> SystemTime {
    let by = Duration::from_secs(offset_secs.unsigned_abs());
    if offset_secs >= 0 { t + by } else { t - by }
}

fn locked_fault(state: &mut CameraState, username: &str, now: SystemTime) -> Option<Fault> {
    let until = state.lockouts.get(username)?.locked_until?;
    if until > now {
        state.stats.locked_rejections += 1;
        return Some(Fault::locked(until.duration_since(now).unwrap_or_default()));
    }
    // The lock ran out: the user starts again with a clean slate.
    state.lockouts.remove(username);
    None
}

fn record_failure(state: &mut CameraState, username: &str, now: SystemTime, policy: &CameraPolicy) {
    state.stats.failed_logins += 1;
    let known = state.users.iter().any(|u| u.name == username);
    let by_user = &mut state.stats.failed_logins_by_user;
    let key = if known && (by_user.contains_key(username) || by_user.len() < MAX_TRACKED_USERNAMES)
    {
        username
    } else {
        UNKNOWN_USERNAME
    };
    *by_user.entry(key.to_owned()).or_insert(0) += 1;
    if !known {
        return;
    }
    let lock = state.lockouts.entry(username.to_owned()).or_default();
    lock.consecutive_failures += 1;
    if lock.consecutive_failures >= policy.lockout_threshold {
        lock.locked_until = Some(now + policy.lockout_duration);
        lock.consecutive_failures = 0;
    }
}

fn record_success(state: &mut CameraState, username: &str) {
    state.stats.successful_logins += 1;
    state.lockouts.remove(username);
}

/// Remembers a nonce; says whether it had been seen already.
fn remember_nonce(state: &mut CameraState, nonce: &str, now: SystemTime) -> bool {
    if let Some(seen) = state.seen_nonces.get(nonce)
        && now.duration_since(*seen).unwrap_or_default() <= CREATED_FRESHNESS * 2
    {
        return true;
    }
    state.seen_nonces.insert(nonce.to_owned(), now);
    state.seen_nonce_order.push_back(nonce.to_owned());
    while state.seen_nonce_order.len() > NONCE_MEMORY {
        if let Some(old) = state.seen_nonce_order.pop_front() {
            state.seen_nonces.remove(&old);
        }
    }
    false
}

fn check_username(name: &str) -> Result<(), Fault> {
    if name.is_empty() {
        return Err(Fault::invalid_arg("The user name is empty"));
    }
    if name.chars().count() > MAX_USERNAME_LEN {
        return Err(Fault::username_too_long());
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    {
        return Err(Fault::invalid_arg(
            "The user name may hold only letters, digits, '.', '_' and '-'",
        ));
    }
    Ok(())
}

fn check_password(password: &str) -> Result<(), Fault> {
    if password.chars().count() > MAX_PASSWORD_LEN {
        return Err(Fault::password_too_long());
    }
    if password.chars().count() < MIN_PASSWORD_LEN {
        return Err(Fault::password_too_weak());
    }
    if password.chars().any(char::is_control) {
        return Err(Fault::invalid_arg("The password holds a control character"));
    }
    Ok(())
}

/// Compares two secrets in time that depends only on their lengths. Rather than a hand-rolled loop
/// the optimizer may shortcut, both are MACed under a key random to this process and the tags are
/// compared by the `hmac` crate's constant-time `verify_slice`; equal tags mean equal inputs.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    static KEY: std::sync::OnceLock<[u8; 32]> = std::sync::OnceLock::new();
    let key = KEY.get_or_init(rand::random);
    let tag = |bytes: &[u8]| {
        // HMAC takes a key of any length; the fallback key is never used.
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key)
            .unwrap_or_else(|_| <Hmac<Sha256> as KeyInit>::new(&Default::default()));
        mac.update(bytes);
        mac
    };
    let expected = tag(b).finalize().into_bytes();
    tag(a).verify_slice(&expected).is_ok()
}

fn scope_escape(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            ' ' => "%20".to_owned(),
            c if c.is_ascii_alphanumeric() || "-_.~".contains(c) => c.to_string(),
            c => {
                let mut buf = [0u8; 4];
                c.encode_utf8(&mut buf)
                    .bytes()
                    .map(|b| format!("%{b:02X}"))
                    .collect()
            }
        })
        .collect()
}

/// Lower-case hex of some bytes.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Seconds since the epoch of the camera's clock, for log lines and replies.
pub fn camera_unix_secs(camera: &SimCamera) -> i64 {
    unix_secs(camera.camera_now())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::SimulatedClock;

    fn identity() -> CameraIdentity {
        CameraIdentity {
            index: 0,
            endpoint_ref: "urn:uuid:00000000-0000-0000-0000-000000000001".into(),
            manufacturer: "Vigil".into(),
            model: "SIM-1".into(),
            firmware: "1.0".into(),
            serial: "S1".into(),
            hardware_id: "H1".into(),
            mac: "02:00:00:00:00:01".into(),
            http_addr: "127.0.0.1:1".parse().unwrap(),
            wsd_addr: "127.0.0.1:2".parse().unwrap(),
        }
    }

    fn token(camera: &SimCamera, user: &str, password: &str, created: SystemTime) -> Credential {
        let nonce: [u8; 16] = rand::random();
        let created = crate::clock::rfc3339(created);
        let digest = oxvif::soap::security::compute_digest(&nonce, &created, password);
        let _ = camera;
        Credential::UsernameToken {
            username: user.into(),
            password: PasswordProof::Digest(BASE64.encode(digest)),
            nonce_b64: Some(BASE64.encode(nonce)),
            created: Some(created),
        }
    }

    fn camera(clock: Arc<SimulatedClock>) -> SimCamera {
        SimCamera::new(
            identity(),
            CameraPolicy::default(),
            clock,
            Some(("admin", "Secret123")),
            0,
        )
    }

    #[test]
    fn five_failures_lock_the_user_for_the_configured_time_then_it_clears() {
        let clock = Arc::new(SimulatedClock::starting_now());
        let cam = camera(clock.clone());
        for _ in 0..4 {
            let bad = token(&cam, "admin", "wrong-pass", clock.now());
            let fault = cam.authenticate(Some(&bad), "/").unwrap_err();
            assert!(!fault.is_locked());
        }
        let bad = token(&cam, "admin", "wrong-pass", clock.now());
        assert!(cam.authenticate(Some(&bad), "/").unwrap_err().is_locked());
        // Even the right password is refused while locked, and it does not count as a failure.
        let good = token(&cam, "admin", "Secret123", clock.now());
        assert!(cam.authenticate(Some(&good), "/").unwrap_err().is_locked());
        assert_eq!(cam.stats().failed_logins, 5);
        assert_eq!(cam.stats().locked_rejections, 1);
        clock.advance(Duration::from_secs(30 * 60 + 1));
        let good = token(&cam, "admin", "Secret123", clock.now());
        assert_eq!(
            cam.authenticate(Some(&good), "/"),
            Ok(Caller::User {
                name: "admin".into(),
                level: UserLevel::Administrator
            })
        );
    }

    #[test]
    fn failed_logins_are_counted_per_real_user_and_made_up_names_share_one_count() {
        let clock = Arc::new(SimulatedClock::starting_now());
        let cam = camera(clock.clone());
        for n in 0..200 {
            let name = format!("{n}-{}", "x".repeat(1000));
            let made_up = token(&cam, &name, "wrong-pass", clock.now());
            assert!(cam.authenticate(Some(&made_up), "/").is_err());
        }
        let bad = token(&cam, "admin", "wrong-pass", clock.now());
        assert!(cam.authenticate(Some(&bad), "/").is_err());
        let by_user = cam.stats().failed_logins_by_user;
        assert_eq!(
            by_user,
            BTreeMap::from([(UNKNOWN_USERNAME.to_owned(), 200), ("admin".to_owned(), 1)])
        );
        assert_eq!(cam.stats().failed_logins, 201);
    }

    #[test]
    fn secrets_compare_equal_only_when_equal() {
        assert!(constant_time_eq(b"Harbor-Lamp-62", b"Harbor-Lamp-62"));
        assert!(!constant_time_eq(b"Harbor-Lamp-62", b"Harbor-Lamp-63"));
        assert!(!constant_time_eq(b"Harbor-Lamp-62", b"Harbor-Lamp-6"));
        assert!(!constant_time_eq(b"", b"x"));
        assert!(constant_time_eq(b"", b""));
    }

    #[test]
    fn replayed_nonce_and_stale_created_are_refused() {
        let clock = Arc::new(SimulatedClock::starting_now());
        let cam = camera(clock.clone());
        let good = token(&cam, "admin", "Secret123", clock.now());
        assert!(cam.authenticate(Some(&good), "/").is_ok());
        assert!(cam.authenticate(Some(&good), "/").is_err());
        assert_eq!(cam.stats().replayed_nonces, 1);
        let stale = token(
            &cam,
            "admin",
            "Secret123",
            clock.now() - Duration::from_secs(3600),
        );
        assert!(cam.authenticate(Some(&stale), "/").is_err());
        assert_eq!(cam.stats().stale_timestamps, 1);
    }

    #[test]
    fn clock_offset_moves_the_freshness_window() {
        let clock = Arc::new(SimulatedClock::starting_now());
        let cam = camera(clock.clone());
        cam.set_clock_offset(3600);
        let naive = token(&cam, "admin", "Secret123", clock.now());
        assert!(cam.authenticate(Some(&naive), "/").is_err());
        let adjusted = token(
            &cam,
            "admin",
            "Secret123",
            clock.now() + Duration::from_secs(3600),
        );
        assert!(cam.authenticate(Some(&adjusted), "/").is_ok());
    }

    #[test]
    fn factory_state_is_open_until_an_administrator_exists() {
        let clock = Arc::new(SimulatedClock::starting_now());
        let cam = SimCamera::new(identity(), CameraPolicy::default(), clock, None, 0);
        assert!(cam.is_inactive());
        assert_eq!(cam.authenticate(None, "/"), Ok(Caller::FactoryState));
        let operator_only = [UserChange {
            username: "op".into(),
            password: Some("Operator1".into()),
            level: Some(UserLevel::Operator),
        }];
        assert!(cam.create_users(&operator_only).is_err());
        let admin = [UserChange {
            username: "admin".into(),
            password: Some("Secret123".into()),
            level: Some(UserLevel::Administrator),
        }];
        cam.create_users(&admin).unwrap();
        assert!(!cam.is_inactive());
        assert_eq!(cam.authenticate(None, "/"), Ok(Caller::Anonymous));
        assert!(
            cam.create_users(&admin)
                .unwrap_err()
                .to_string()
                .contains("UsernameClash")
        );
    }

    #[test]
    fn levels_are_enforced_and_the_last_administrator_stays() {
        let clock = Arc::new(SimulatedClock::starting_now());
        let cam = camera(clock);
        let user = Caller::User {
            name: "viewer".into(),
            level: UserLevel::User,
        };
        assert!(cam.authorize(&user, AccessClass::ReadSystem).is_ok());
        assert!(cam.authorize(&user, AccessClass::ReadSystemSecret).is_err());
        assert!(
            cam.authorize(&Caller::Anonymous, AccessClass::WriteSystem)
                .unwrap_err()
                .http_status
                == 401
        );
        assert!(cam.delete_users(&["admin".into()]).is_err());
        assert!(cam.delete_users(&["nobody".into()]).is_err());
    }
}
