//! The `Nvr` service API: the one door to behaviour. The GUI, D-Bus and tests call these commands and
//! queries and follow its events; it owns the in-memory view of added and discovered cameras, runs
//! discovery and the per-camera monitors, and writes every change through the store.
//!
//! Invariants: a change is stored before it is announced; a monitor result for a camera that was since
//! removed or given new credentials is dropped (generation check); no password leaves this module
//! except into the store's sealer and the camera client.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard, RwLock, Weak};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use tokio::sync::{Semaphore, broadcast, watch};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tokio_util::task::task_tracker::TaskTrackerToken;

use crate::camera::CameraError;
use crate::camera::client::{CameraConnector, Certification};
use crate::camera::discovery::{self, Announcement, ProbePlan, Sighting, parse_unicast_targets};
use crate::camera::monitor::{self, MonitoredCamera, Observation, StatusSink};
use crate::clock::Clock;
use crate::config::Settings;
use crate::model::{
    AddedCamera, CameraId, CameraState, CameraStatus, DiscoveredDevice, IdentityMatch, NvrEvent,
    compare_identities,
};
use crate::model::{AddressError, Credentials, DeviceAddress, DeviceIdentity};
use crate::model::{RecoveryId, camera_key};
use crate::rules::policy::PolicyRule;
use crate::store::{DuplicateOf, NewCamera, NvrSetting, Store, StoreError, Tx};

mod account;
mod mail_server;
mod recovery;

pub use account::{
    AccountRecoveryMethods, AccountRecoveryQr, AccountStatus, LoginStep, NVR_ADMIN,
    RecoveryCodeSent, Session, SupportIdentity, TotpEnrolment,
};
pub use mail_server::{MailServer, MailServerChange};
pub use recovery::{Activation, PasswordPushOutcome, check_new_password};

/// Longest user name accepted for a camera.
pub const MAX_USERNAME_CHARS: usize = 32;
/// Longest password accepted for a camera.
pub const MAX_PASSWORD_CHARS: usize = 64;
/// Identifications running at once against one sender address.
const IDENTIFY_PER_SENDER: usize = 16;
/// When a probe is sent a second time.
const PROBE_REPEAT_AFTER: Duration = Duration::from_millis(100);
/// How long [`Nvr::discover_address`] waits for the camera to answer a unicast probe.
const DIRECT_PROBE_WINDOW: Duration = Duration::from_millis(800);
/// Discovered devices kept at most.
const MAX_DISCOVERED: usize = 8192;
/// A camera's status text after it took a new password that could not be checked yet.
const UNCONFIRMED_PASSWORD: &str =
    "The camera took the new password but did not confirm it yet. The NVR checks again shortly.";
/// At most this many discovered devices share one host, so one host cannot crowd out the rest.
/// A multi-channel encoder or the simulator may list many; a real LAN has far fewer per host.
const MAX_DISCOVERED_PER_HOST: usize = 256;

/// Why a command was refused. Every message says why and what to do next, and never holds a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NvrError {
    /// An argument is wrong.
    #[error("{field}: {problem}")]
    InvalidArgument {
        /// Which argument.
        field: &'static str,
        /// What is wrong with it.
        problem: String,
    },
    /// No added camera with that id.
    #[error("there is no added camera with id {0}; refresh the list")]
    CameraNotFound(CameraId),
    /// No discovered device with that key.
    #[error("device {0} is no longer in the discovered list; refresh discovery")]
    DeviceNotFound(String),
    /// Another added camera claims the same serial number with a different MAC address.
    #[error(
        "added camera {existing} at {address} claims the same serial number with a different MAC address: two devices claim to be one camera; check both (a cloned or misconfigured camera) before adding"
    )]
    SerialConflict {
        /// The added camera whose serial number this one claims.
        existing: CameraId,
        /// Where that camera is.
        address: String,
    },
    /// The camera is already added.
    #[error("this camera is already added (id {existing}, same {what})")]
    Duplicate {
        /// The camera it duplicates.
        existing: CameraId,
        /// What matched: address, serial number or endpoint.
        what: &'static str,
    },
    /// Nothing answers at the address.
    #[error("no camera answers at {address} ({detail}); check the address, port and cabling")]
    Unreachable {
        /// The address tried.
        address: String,
        /// Timed out, refused...
        detail: String,
    },
    /// The camera rejected the user name or password.
    #[error("the camera rejected the user name or password; check them, or use Forget Password")]
    CredentialsRejected,
    /// The camera has locked the user.
    #[error("{}", locked_message(*.retry_after))]
    CameraLocked {
        /// How long it says the lock lasts.
        retry_after: Option<Duration>,
    },
    /// The camera is in factory state.
    #[error("the camera is inactive (factory state); activate it with a new admin password first")]
    CameraInactive,
    /// The camera refused for another reason, in its own words.
    #[error("the camera refused: {0}")]
    CameraRefused(String),
    /// The camera refused the login's timestamp: its clock is off.
    #[error(
        "the camera refused the login because its clock is off ({0}); set the camera's date and time (or turn on NTP on it), then try again"
    )]
    CameraClock(String),
    /// The camera lets anyone in, so a user name and password cannot be checked.
    #[error(
        "the camera answers without any login (its user authentication is off), so it cannot check a user name and password; turn authentication on in the camera's own settings, then add it"
    )]
    AuthenticationOff,
    /// The camera answered with a server error: busy, starting or failing.
    #[error(
        "the camera answered with a server error ({0}); it may be starting up: try again in a minute"
    )]
    CameraBusy(String),
    /// The camera's reply could not be understood.
    #[error("the camera's reply could not be understood ({0}); it may not be an ONVIF device")]
    CameraProtocol(String),
    /// The registry could not be written. Nothing was changed.
    #[error("the NVR could not save the change ({0}); nothing was changed")]
    Storage(String),
    /// Discovery could not start.
    #[error("discovery could not start: {0}")]
    Discovery(String),
    /// The service is stopping.
    #[error("the NVR service is shutting down")]
    ShuttingDown,
    /// Forget Password on an added camera that is not certified.
    #[error(
        "camera {camera} is added but not certified: remove it first (it is added again after the reset)"
    )]
    RemoveFirst {
        /// The added camera.
        camera: CameraId,
    },
    /// Forget Password on a camera whose stored password works.
    #[error("camera {camera}'s stored password works: change it with Change Password instead")]
    UseModify {
        /// The added camera.
        camera: CameraId,
    },
    /// Someone is already resetting this camera's password.
    #[error(
        "a password reset for this camera is already in progress (flow {flow}); finish or cancel it first"
    )]
    RecoveryInProgress {
        /// The flow in progress.
        flow: RecoveryId,
    },
    /// No such flow.
    #[error("there is no password reset with id {0}; start Forget Password again")]
    RecoveryNotFound(RecoveryId),
    /// The camera does not implement the recovery protocol.
    #[error(
        "this camera does not support password reset from the NVR; use its own reset button or web page"
    )]
    RecoveryNotSupported,
    /// A flow step out of order.
    #[error("{0}")]
    RecoveryWrongStep(&'static str),
    /// The flow ran out of time.
    #[error("this password reset has expired; start Forget Password again")]
    RecoveryExpired,
    /// Send Code without internet.
    #[error(
        "the camera cannot reach the internet to email the code; scan the QR code with the phone app instead"
    )]
    NoInternet,
    /// The camera has no reset email.
    #[error(
        "the camera has no reset email; ask the vendor's support for a code with the serial number and date shown"
    )]
    NoResetEmail,
    /// Too many sends.
    #[error("{}", wait_message("three codes were already sent in ten minutes", *.retry_after))]
    SendLimit {
        /// When a send is allowed again.
        retry_after: Option<Duration>,
    },
    /// Too many challenges.
    #[error("{}", wait_message("too many codes were asked for this hour", *.retry_after))]
    ChallengeLimit {
        /// When a new challenge is allowed.
        retry_after: Option<Duration>,
    },
    /// The camera could not email the code.
    #[error("the camera could not email the code ({0}); try the QR code with the phone app")]
    MailFailed(String),
    /// A wrong code.
    #[error("the code is not right; {attempts_left} attempts left")]
    CodeInvalid {
        /// Wrong entries left.
        attempts_left: u32,
    },
    /// Five wrong codes.
    #[error("too many wrong codes; get a new code")]
    CodeAttemptsExhausted,
    /// The code expired.
    #[error("the code has expired; get a new code")]
    CodeExpired,
    /// The camera replaced the challenge (reboot or another request).
    #[error("the camera restarted or issued a newer code; get a new code")]
    ChallengeReplaced,
    /// The code was used already.
    #[error("this code was already used; get a new code")]
    CodeUsed,
    /// Too many wrong support codes today.
    #[error("too many wrong support codes today; try again tomorrow")]
    SupportLocked,
    /// The new password breaks the policy; every failing rule is named.
    #[error("the password does not meet the policy: {}", explain_rules(.unmet))]
    PolicyViolation {
        /// The rules it fails.
        unmet: Vec<PolicyRule>,
    },
    /// Password and confirmation differ.
    #[error("the password and its confirmation are not the same")]
    PasswordMismatch,
    /// Change Password on a camera that is not certified.
    #[error(
        "camera {camera} is not certified, so its password cannot be changed with the current one; use Forget Password"
    )]
    NotCertified {
        /// The camera.
        camera: CameraId,
    },
    /// Activation of a camera that is already active.
    #[error("the camera is already activated; add it with its password, or use Forget Password")]
    AlreadyActive,
    /// The recorder has no device secret from its vendor, so codes for the QR and support paths
    /// cannot be made.
    #[error(
        "this recorder has no device secret from its vendor, so the QR code and the support code cannot be used; use the reserved email"
    )]
    NoDeviceSecret,
    /// The recorder has no mail server to send with.
    #[error("no mail server is set on the recorder; fill in Settings > Network > Email first")]
    NoMailServer,
    /// The recorder has no admin account yet.
    #[error("the recorder is not activated yet; activate it first")]
    NvrNotActivated,
    /// The recorder already has its admin account.
    #[error("the recorder is already activated")]
    NvrAlreadyActivated,
    /// The recorder's account is locked after wrong passwords.
    #[error("{}", account_locked_message(*.retry_after))]
    AccountLocked {
        /// How long until it unlocks.
        retry_after: Option<Duration>,
    },
    /// A wrong user name or password (never which of the two).
    #[error(
        "the user name or password is wrong; {attempts_left} attempts left before the account locks"
    )]
    LoginFailed {
        /// Wrong passwords left before the lock.
        attempts_left: u32,
    },
    /// The recorder's own mail server failed; the text says what to fix.
    #[error("{0}")]
    MailServer(crate::mail::MailError),
    /// The login session is unknown or ended after inactivity.
    #[error("the session has ended; log in again")]
    SessionExpired,
    #[error("the audit log was tampered with at entry {entry}")]
    AuditTampered {
        /// The first entry that does not verify.
        entry: i64,
    },
}

fn wait_message(what: &str, retry_after: Option<Duration>) -> String {
    match retry_after {
        Some(d) if d.as_secs() >= 60 => format!(
            "{what}; try again in about {} minutes",
            d.as_secs().div_ceil(60)
        ),
        Some(d) => format!("{what}; try again in {} seconds", d.as_secs().max(1)),
        None => format!("{what}; try again later"),
    }
}

fn explain_rules(unmet: &[PolicyRule]) -> String {
    unmet
        .iter()
        .map(|r| r.describe())
        .collect::<Vec<_>>()
        .join("; ")
}

fn account_locked_message(retry_after: Option<Duration>) -> String {
    match retry_after {
        Some(d) if d.as_secs() >= 60 => format!(
            "the account is locked after too many wrong passwords; try again in about {} minutes, or use Forgot Password",
            d.as_secs().div_ceil(60)
        ),
        Some(d) => format!(
            "the account is locked after too many wrong passwords; try again in {} seconds",
            d.as_secs().max(1)
        ),
        None => "the account is locked after too many wrong passwords; try again later".to_owned(),
    }
}

fn locked_message(retry_after: Option<Duration>) -> String {
    let wait = match retry_after {
        Some(d) if d.as_secs() >= 60 => format!("about {} minutes", d.as_secs().div_ceil(60)),
        Some(d) => format!("about {} seconds", d.as_secs().max(1)),
        None => "a while (often 30 minutes)".to_owned(),
    };
    format!(
        "the camera locked this user after failed logins; wait {wait} and try again, or use Forget Password"
    )
}

impl From<StoreError> for NvrError {
    fn from(error: StoreError) -> Self {
        NvrError::Storage(error.to_string())
    }
}

/// The languages the on-screen menu is translated into.
pub const MENU_LANGUAGES: &[&str] = &["en", "ru"];

/// A request to add a camera by address.
#[derive(Clone)]
pub struct AddCamera {
    /// Host name or IP address.
    pub host: String,
    /// HTTP port of the device service (usually 80).
    pub port: u16,
    /// User name.
    pub username: String,
    /// Password.
    pub password: String,
}

impl std::fmt::Debug for AddCamera {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AddCamera")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// A running (or finished) discovery run.
#[derive(Debug, Clone)]
pub struct DiscoveryRun {
    done: watch::Receiver<Option<usize>>,
}

impl DiscoveryRun {
    /// Waits for the run to end; the size of the discovered list afterwards.
    pub async fn finished(mut self) -> usize {
        match self.done.wait_for(Option::is_some).await {
            Ok(count) => count.unwrap_or(0),
            Err(_) => 0,
        }
    }
}

struct AddedEntry {
    camera: AddedCamera,
    /// The stored credentials (for changing the password with the current one), when readable.
    credentials: Option<Credentials>,
    /// Bumped whenever the monitor is restarted; results from older monitors are ignored.
    generation: u64,
    monitor: CancellationToken,
    /// Set by the monitor the moment it holds these credentials, before the result is stored; a
    /// monitor restarted for the same credentials (a reload) takes it over, so a hold is never lost.
    held: Arc<std::sync::atomic::AtomicBool>,
}

/// Whether a (re)started monitor takes over the running one's hold on the credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CredentialsAre {
    /// New (or newly read) credentials: nothing is held yet beyond what the stored status says.
    New,
    /// The same credentials as the running monitor's (a reload): its hold carries over.
    Same,
}

struct Inner {
    /// The settings in force; replaced whole by [`Nvr::apply_settings`] (SIGHUP reload).
    settings: RwLock<Arc<Settings>>,
    /// Stops the periodic discovery loop, so a reload can start it again with a new interval.
    periodic_discovery: Mutex<CancellationToken>,
    store: Arc<Store>,
    connector: CameraConnector,
    clock: Arc<dyn Clock>,
    events: broadcast::Sender<NvrEvent>,
    added: Mutex<BTreeMap<CameraId, AddedEntry>>,
    discovered: Mutex<BTreeMap<String, DiscoveredDevice>>,
    flows: Mutex<BTreeMap<RecoveryId, recovery::FlowEntry>>,
    /// Login sessions of the NVR account, by token.
    sessions: Mutex<HashMap<String, account::SessionEntry>>,
    /// The NVR account's password recovery by reserved email, while one is going.
    account_recovery: Mutex<account::AccountRecovery>,
    discovery_run: Mutex<Option<watch::Receiver<Option<usize>>>>,
    identify_slots: Arc<Semaphore>,
    sender_slots: Mutex<HashMap<IpAddr, Arc<Semaphore>>>,
    /// Endpoints announced by Hello whose identification is running.
    announced_in_flight: Mutex<HashSet<String>>,
    /// Serializes the check-then-store step of mutating commands, so two callers cannot add the same
    /// camera or edit one being removed. Never held across network calls.
    commit: tokio::sync::Mutex<()>,
    next_generation: std::sync::atomic::AtomicU64,
    tasks: TaskTracker,
    shutdown: CancellationToken,
}

/// The service. Cheap to clone; clones share everything.
#[derive(Clone)]
pub struct Nvr {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Nvr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Nvr").finish_non_exhaustive()
    }
}

/// A first-check delay somewhere within one monitor period, so that starting (or restarting) every
/// camera's monitor at once does not hit every camera at once.
fn spread_within(period: Duration) -> Duration {
    Duration::from_millis(rand::random_range(0..=period.as_millis().max(1) as u64))
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl Nvr {
    /// Loads the registry, starts a monitor per added camera, the announcement listener and periodic
    /// discovery. Stops everything when `shutdown` fires (then await [`Nvr::stopped`]).
    pub async fn start(
        settings: Settings,
        store: Arc<Store>,
        clock: Arc<dyn Clock>,
        shutdown: CancellationToken,
    ) -> Result<Self, NvrError> {
        let stored = {
            let store = store.clone();
            tokio::task::spawn_blocking(move || store.load_added_cameras())
                .await
                .map_err(|e| NvrError::Storage(e.to_string()))??
        };
        let (events, _) = broadcast::channel(4096);
        let inner = Arc::new(Inner {
            connector: CameraConnector::new(settings.request_timeout),
            identify_slots: Arc::new(Semaphore::new(settings.discovery.identify_concurrency)),
            settings: RwLock::new(Arc::new(settings)),
            periodic_discovery: Mutex::new(shutdown.child_token()),
            store,
            clock,
            events,
            added: Mutex::new(BTreeMap::new()),
            discovered: Mutex::new(BTreeMap::new()),
            flows: Mutex::new(BTreeMap::new()),
            sessions: Mutex::new(HashMap::new()),
            account_recovery: Mutex::default(),
            discovery_run: Mutex::new(None),
            sender_slots: Mutex::new(HashMap::new()),
            announced_in_flight: Mutex::new(HashSet::new()),
            commit: tokio::sync::Mutex::new(()),
            next_generation: std::sync::atomic::AtomicU64::new(1),
            tasks: TaskTracker::new(),
            shutdown,
        });
        let nvr = Nvr { inner };
        let period = nvr.settings().monitor.period;
        for entry in stored {
            let id = entry.camera.id;
            nvr.install(
                entry.camera,
                entry.credentials,
                spread_within(period),
                CredentialsAre::New,
            );
            tracing::debug!(camera = %id, "added camera loaded");
        }
        nvr.resume_recoveries().await?;
        nvr.start_background();
        Ok(nvr)
    }

    fn start_background(&self) {
        self.start_recovery_sweep();
        let all_settings = self.settings();
        let settings = &all_settings.discovery;
        if let Some(address) = settings.announcement_address {
            let interfaces = if settings.multicast {
                self.multicast_interfaces()
            } else {
                Vec::new()
            };
            match discovery::listen_announcements(
                address,
                &interfaces,
                self.inner.shutdown.child_token(),
            ) {
                Ok(mut announcements) => {
                    let nvr = self.downgrade();
                    self.inner.tasks.spawn(async move {
                        while let Some(announcement) = announcements.recv().await {
                            let Some(nvr) = nvr.upgrade() else { return };
                            nvr.on_announcement(announcement);
                        }
                    });
                }
                Err(error) => {
                    tracing::warn!(%address, %error, "cannot listen for camera announcements (Hello/Bye); discovery still works by probing");
                }
            }
        }
        self.start_periodic_discovery(settings.on_start);
    }

    /// Starts discovery every `discovery.refresh_interval` (first at once when `run_now`), replacing
    /// the loop that ran before.
    fn start_periodic_discovery(&self, run_now: bool) {
        let interval = self.settings().discovery.refresh_interval;
        let shutdown = self.inner.shutdown.child_token();
        let previous =
            std::mem::replace(&mut *lock(&self.inner.periodic_discovery), shutdown.clone());
        previous.cancel();
        if run_now || interval.is_some() {
            let nvr = self.downgrade();
            self.inner.tasks.spawn(async move {
                let mut first = run_now;
                loop {
                    if !first {
                        let Some(interval) = interval else { return };
                        tokio::select! {
                            _ = shutdown.cancelled() => return,
                            _ = tokio::time::sleep(interval) => {}
                        }
                    }
                    first = false;
                    let Some(nvr) = nvr.upgrade() else { return };
                    match nvr.refresh_discovery(&[]).await {
                        Ok(run) => {
                            drop(nvr);
                            tokio::select! {
                                _ = shutdown.cancelled() => return,
                                _ = run.finished() => {}
                            }
                        }
                        Err(error) => tracing::warn!(%error, "periodic discovery did not run"),
                    }
                }
            });
        }
    }

    fn downgrade(&self) -> WeakNvr {
        WeakNvr(Arc::downgrade(&self.inner))
    }

    /// The settings in force.
    pub fn settings(&self) -> Arc<Settings> {
        self.inner
            .settings
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Puts `next` in force (a configuration reload). `changed` names the keys that differ from the
    /// running configuration (see [`crate::config::Config::changed_keys`]); keys read only at start
    /// must already carry their running values. Monitors restart when a `[cameras]` key changed (each
    /// camera's next check within one new period) and periodic discovery when its interval did; a
    /// discovery runs at once when the places to probe changed.
    pub fn apply_settings(&self, next: Settings, changed: &[String]) {
        *self
            .inner
            .settings
            .write()
            .unwrap_or_else(|e| e.into_inner()) = Arc::new(next);
        if changed.iter().any(|key| key.starts_with("cameras.")) {
            let period = self.settings().monitor.period;
            let running: Vec<(AddedCamera, Option<Credentials>)> = lock(&self.inner.added)
                .values()
                .map(|e| (e.camera.clone(), e.credentials.clone()))
                .collect();
            for (camera, credentials) in running {
                self.install(
                    camera,
                    credentials,
                    spread_within(period),
                    CredentialsAre::Same,
                );
            }
        }
        // New places to look are looked at now; a new interval starts counting now.
        let targets_changed = changed
            .iter()
            .any(|key| key == "discovery.unicast_targets" || key == "discovery.port");
        if targets_changed
            || changed
                .iter()
                .any(|key| key == "discovery.refresh_interval_secs")
        {
            self.start_periodic_discovery(targets_changed);
        }
    }

    /// Answers once the service's state can be read and a command could begin: every lock the
    /// commands take is free in turn. The watchdog's probe of the core (a deadlock here never answers).
    pub async fn answers(&self) {
        drop(self.inner.commit.lock().await);
        drop(lock(&self.inner.added));
        drop(lock(&self.inner.discovered));
        drop(lock(&self.inner.flows));
        drop(lock(&self.inner.sessions));
    }

    /// Follows every change. A subscriber that falls behind gets `Lagged` and should re-read the lists.
    pub fn subscribe(&self) -> broadcast::Receiver<NvrEvent> {
        self.inner.events.subscribe()
    }

    fn emit(&self, event: NvrEvent) {
        let _ = self.inner.events.send(event);
    }

    /// Waits until every background task has stopped after shutdown was signalled.
    pub async fn stopped(&self) {
        self.inner.tasks.close();
        self.inner.tasks.wait().await;
    }

    // ── Queries ────────────────────────────────────────────────────────────────────────────────

    /// How long until a Locked camera is tried again; None when it is not locked or the time is up.
    pub fn lock_time_left(&self, camera: &AddedCamera) -> Option<Duration> {
        if camera.status.state != CameraState::Locked {
            return None;
        }
        let lock_ends = camera.status.since + self.settings().monitor.locked_retry;
        lock_ends
            .duration_since(self.inner.clock.now())
            .ok()
            .filter(|left| !left.is_zero())
    }

    /// The time on the service's clock (mock time in tests), for showing how long something has left.
    pub fn now(&self) -> SystemTime {
        self.inner.clock.now()
    }

    /// Every added camera, by id.
    pub fn added_cameras(&self) -> Vec<AddedCamera> {
        lock(&self.inner.added)
            .values()
            .map(|e| e.camera.clone())
            .collect()
    }

    /// Maps every added camera (by id) without copying the records.
    pub fn map_added_cameras<T>(&self, map: impl Fn(&AddedCamera) -> T) -> Vec<T> {
        lock(&self.inner.added)
            .values()
            .map(|e| map(&e.camera))
            .collect()
    }

    /// Reads one field of an added camera without copying the whole record; `None` when it is gone.
    pub fn with_added_camera<T>(
        &self,
        id: CameraId,
        read: impl FnOnce(&AddedCamera) -> T,
    ) -> Option<T> {
        lock(&self.inner.added).get(&id).map(|e| read(&e.camera))
    }

    /// How many added cameras stand in each state.
    pub fn status_counts(&self) -> BTreeMap<CameraState, usize> {
        let mut counts = BTreeMap::new();
        for entry in lock(&self.inner.added).values() {
            *counts.entry(entry.camera.status.state).or_insert(0) += 1;
        }
        counts
    }

    /// One added camera.
    pub fn added_camera(&self, id: CameraId) -> Result<AddedCamera, NvrError> {
        lock(&self.inner.added)
            .get(&id)
            .map(|e| e.camera.clone())
            .ok_or(NvrError::CameraNotFound(id))
    }

    /// The discovered list, each marked with the added camera it is, if any.
    pub fn discovered_devices(&self) -> Vec<DiscoveredDevice> {
        let added = lock(&self.inner.added);
        let discovered = lock(&self.inner.discovered);
        // Only devices that share a serial number can conflict: index them once.
        let mut by_serial: HashMap<&str, Vec<&DiscoveredDevice>> = HashMap::new();
        for device in discovered
            .values()
            .filter(|d| !d.identity.serial.is_empty())
        {
            by_serial
                .entry(device.identity.serial.as_str())
                .or_default()
                .push(device);
        }
        discovered
            .values()
            .map(|d| {
                let same_serial = by_serial
                    .get(d.identity.serial.as_str())
                    .into_iter()
                    .flatten()
                    .copied();
                handed_out_among(d.clone(), &added, same_serial)
            })
            .collect()
    }

    /// The discovered device an added camera is, for starting Forget Password from Added Devices;
    /// [`NvrError::DeviceNotFound`] when discovery has not seen it (refresh discovery first).
    pub fn discovered_device_of(&self, camera: CameraId) -> Result<DiscoveredDevice, NvrError> {
        self.discovered_devices()
            .into_iter()
            .find(|d| d.added_as == Some(camera))
            .ok_or_else(|| NvrError::DeviceNotFound(format!("camera {camera}")))
    }

    /// One discovered device.
    pub fn discovered_device(&self, key: &str) -> Result<DiscoveredDevice, NvrError> {
        let added = lock(&self.inner.added);
        let discovered = lock(&self.inner.discovered);
        discovered
            .get(key)
            .map(|d| handed_out(d.clone(), &added, &discovered))
            .ok_or_else(|| NvrError::DeviceNotFound(key.chars().take(80).collect()))
    }

    /// Whether a discovery run is going on.
    pub fn discovery_running(&self) -> bool {
        lock(&self.inner.discovery_run)
            .as_ref()
            .is_some_and(|run| run.borrow().is_none())
    }

    // ── Commands: added cameras ────────────────────────────────────────────────────────────────

    /// Adds a camera by address: checks the input, verifies the credentials against the camera at once,
    /// and stores it only if they work. Bad input stores nothing.
    pub async fn add_camera(&self, request: AddCamera) -> Result<AddedCamera, NvrError> {
        let address = DeviceAddress::new(&request.host, request.port).map_err(address_error)?;
        let credentials = check_credentials(&request.username, &request.password)?;
        self.add_verified(address, None, credentials).await
    }

    /// Adds a device from the discovered list.
    pub async fn add_discovered(
        &self,
        key: &str,
        username: &str,
        password: &str,
    ) -> Result<AddedCamera, NvrError> {
        let device = self.discovered_device(key)?;
        if let Some(existing) = device.added_as {
            return Err(NvrError::Duplicate {
                existing,
                what: "device",
            });
        }
        if device.inactive {
            return Err(NvrError::CameraInactive);
        }
        let credentials = check_credentials(username, password)?;
        self.add_verified(device.address, Some(device.key), credentials)
            .await
    }

    async fn add_verified(
        &self,
        address: DeviceAddress,
        endpoint_ref: Option<String>,
        credentials: Credentials,
    ) -> Result<AddedCamera, NvrError> {
        let _command = self.begin_command()?;
        if let Some(existing) = self.added_at_address(&address) {
            return Err(NvrError::Duplicate {
                existing,
                what: "address",
            });
        }
        let certification = self.certify(&address, &credentials).await?;
        let endpoint_ref =
            endpoint_ref.or_else(|| self.endpoint_for(&certification.identity, &address));
        let _commit = self.inner.commit.lock().await;
        let _command = self.begin_command()?;
        self.find_duplicate(&address, endpoint_ref.as_deref(), &certification.identity)?;
        let now = self.inner.clock.now();
        let status = CameraStatus::certified_since(now);
        let id = {
            let stored_address = address.clone();
            let stored_endpoint = endpoint_ref.clone();
            let identity = certification.identity.clone();
            let credentials = credentials.clone();
            let status = status.clone();
            let offset = certification.clock_offset_secs;
            self.with_store(move |store| {
                store.insert_added_camera(&NewCamera {
                    address: &stored_address,
                    endpoint_ref: stored_endpoint.as_deref(),
                    identity: &identity,
                    credentials: &credentials,
                    status: &status,
                    clock_offset_secs: offset,
                    added_at: now,
                })
            })
            .await?
            .map_err(|e| match e {
                StoreError::Duplicate(DuplicateOf::ActiveRecovery) => {
                    let key = camera_key(
                        &certification.identity,
                        endpoint_ref.as_deref().unwrap_or_default(),
                    );
                    match self.active_flow_for(&key) {
                        Some(flow) => NvrError::RecoveryInProgress { flow },
                        None => NvrError::Storage(
                            "a password reset for this camera is in progress".into(),
                        ),
                    }
                }
                StoreError::Duplicate(of) => {
                    match self.find_duplicate(
                        &address,
                        endpoint_ref.as_deref(),
                        &certification.identity,
                    ) {
                        Err(duplicate) => duplicate,
                        Ok(()) => NvrError::Storage(format!(
                            "the registry already holds a camera with this {}",
                            duplicate_word(of)
                        )),
                    }
                }
                other => other.into(),
            })?
        };
        let camera = AddedCamera {
            id,
            address,
            endpoint_ref,
            identity: certification.identity,
            username: credentials.username.clone(),
            status,
            clock_offset_secs: certification.clock_offset_secs,
            added_at: now,
        };
        tracing::info!(camera = %id, address = %camera.address, model = %camera.identity.model, "camera added");
        self.install(
            camera.clone(),
            Some(credentials),
            self.settings().monitor.period,
            CredentialsAre::New,
        );
        self.emit(NvrEvent::CameraAdded {
            camera: camera.clone(),
        });
        self.announce_discovered_matching(&camera);
        Ok(camera)
    }

    /// Replaces an added camera's credentials after verifying them against the camera. On success the
    /// camera is certified again and its monitor uses the new credentials; on failure nothing changes.
    pub async fn edit_credentials(
        &self,
        id: CameraId,
        username: &str,
        password: &str,
    ) -> Result<AddedCamera, NvrError> {
        let _command = self.begin_command()?;
        let credentials = check_credentials(username, password)?;
        let camera = self.added_camera(id)?;
        if camera.status.state == CameraState::Locked {
            // Every try while the camera holds the lock would only extend it.
            let retry_after = self.lock_time_left(&camera);
            return Err(NvrError::CameraLocked { retry_after });
        }
        let address = camera.address;
        let certification = self.certify(&address, &credentials).await?;
        self.commit_credentials(id, credentials, certification)
            .await
    }

    /// Stores credentials that just certified for an added camera, restarts its monitor with them and
    /// announces the change.
    pub(crate) async fn commit_credentials(
        &self,
        id: CameraId,
        credentials: Credentials,
        certification: Certification,
    ) -> Result<AddedCamera, NvrError> {
        self.store_credentials(id, credentials, Some(certification))
            .await
    }

    /// Stores credentials the camera was just given but that could not be checked yet (it did not
    /// answer the check): the camera shows Not certified until its monitor logs in with them.
    pub(crate) async fn store_unverified_credentials(
        &self,
        id: CameraId,
        credentials: Credentials,
    ) -> Result<AddedCamera, NvrError> {
        self.store_credentials(id, credentials, None).await
    }

    async fn store_credentials(
        &self,
        id: CameraId,
        credentials: Credentials,
        certification: Option<Certification>,
    ) -> Result<AddedCamera, NvrError> {
        let _commit = self.inner.commit.lock().await;
        let mut camera = self.added_camera(id)?;
        let now = self.inner.clock.now();
        let status = match &certification {
            Some(_) => CameraStatus::certified_since(if camera.status.certified() {
                camera.status.since
            } else {
                now
            }),
            None => CameraStatus {
                state: CameraState::NotCertified,
                credentials_rejected: false,
                last_error: Some(UNCONFIRMED_PASSWORD.to_owned()),
                last_error_at: Some(now),
                since: now,
            },
        };
        let (identity, offset) = match &certification {
            Some(c) => (
                DeviceIdentity {
                    mac: c.identity.mac.clone().or(camera.identity.mac.clone()),
                    ..c.identity.clone()
                },
                c.clock_offset_secs,
            ),
            None => (camera.identity.clone(), camera.clock_offset_secs),
        };
        {
            let credentials = credentials.clone();
            let identity = identity.clone();
            let status = status.clone();
            self.with_store(move |store| {
                store.update_credentials(id, &credentials, &identity, &status, offset)
            })
            .await??;
        }
        camera.username = credentials.username.clone();
        camera.identity = identity;
        camera.status = status.clone();
        camera.clock_offset_secs = offset;
        let first_check = if certification.is_some() {
            self.settings().monitor.period
        } else {
            Duration::ZERO
        };
        self.install(
            camera.clone(),
            Some(credentials),
            first_check,
            CredentialsAre::New,
        );
        if certification.is_some() {
            tracing::info!(camera = %id, address = %camera.address, "camera credentials changed and certified");
        } else {
            tracing::info!(camera = %id, address = %camera.address, "camera credentials changed; not yet certified");
        }
        self.emit(NvrEvent::CameraUpdated {
            camera: camera.clone(),
        });
        self.emit(NvrEvent::CameraStatusChanged { id, status });
        Ok(camera)
    }

    /// Removes an added camera. Its monitor stops at once.
    pub async fn remove_camera(&self, id: CameraId) -> Result<(), NvrError> {
        self.remove_camera_with(id, |_| Ok(())).await
    }

    /// Removes an added camera, doing `also` (such as an audit entry) in the same transaction: if
    /// `also` fails, nothing is removed.
    pub(crate) async fn remove_camera_with<T: Send + 'static>(
        &self,
        id: CameraId,
        also: impl FnOnce(&Tx<'_>) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, NvrError> {
        let _command = self.begin_command()?;
        let _commit = self.inner.commit.lock().await;
        let camera = self.added_camera(id)?;
        let removed = self
            .with_store(move |store| {
                store.write(|tx| {
                    if tx.remove_added_camera(id)? {
                        also(tx).map(Some)
                    } else {
                        Ok(None)
                    }
                })
            })
            .await??;
        if let Some(entry) = lock(&self.inner.added).remove(&id) {
            entry.monitor.cancel();
        }
        let Some(removed) = removed else {
            return Err(NvrError::CameraNotFound(id));
        };
        tracing::info!(camera = %id, address = %camera.address, "camera removed");
        self.emit(NvrEvent::CameraRemoved { id });
        self.announce_discovered_matching(&camera);
        Ok(removed)
    }

    /// A discovered camera was just activated: it is no longer inactive.
    fn mark_activated(&self, key: &str) {
        let device = {
            let added = lock(&self.inner.added);
            let mut discovered = lock(&self.inner.discovered);
            let device = discovered.get_mut(key).map(|d| {
                d.inactive = false;
                d.clone()
            });
            device.map(|d| handed_out(d, &added, &discovered))
        };
        if let Some(device) = device {
            self.emit(NvrEvent::DeviceDiscovered { device });
        }
    }

    /// The on-screen menu's language as last chosen, if it ever was.
    pub async fn menu_language(&self) -> Result<Option<String>, NvrError> {
        Ok(self
            .with_store(|store| store.read(|tx| tx.nvr_setting(NvrSetting::MenuLanguage)))
            .await??
            .filter(|language| MENU_LANGUAGES.contains(&language.as_str())))
    }

    /// Keeps the on-screen menu's language (one of [`MENU_LANGUAGES`]) for the next start.
    pub async fn set_menu_language(&self, language: &str) -> Result<(), NvrError> {
        if !MENU_LANGUAGES.contains(&language) {
            return Err(NvrError::InvalidArgument {
                field: "language",
                problem: format!("'{language}' is not one of {}", MENU_LANGUAGES.join(", ")),
            });
        }
        let language = language.to_owned();
        self.with_store(move |store| {
            store.write(|tx| tx.set_nvr_setting(NvrSetting::MenuLanguage, &language))
        })
        .await??;
        Ok(())
    }

    /// Runs a store call on the blocking pool.
    async fn with_store<T: Send + 'static>(
        &self,
        call: impl FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<Result<T, StoreError>, NvrError> {
        let store = self.inner.store.clone();
        tokio::task::spawn_blocking(move || call(&store))
            .await
            .map_err(|e| NvrError::Storage(e.to_string()))
    }

    /// Admits a command unless vigild is stopping. The token keeps shutdown waiting until the command
    /// is done, so a camera is never left with a password the NVR did not record.
    fn begin_command(&self) -> Result<TaskTrackerToken, NvrError> {
        if self.inner.shutdown.is_cancelled() {
            Err(NvrError::ShuttingDown)
        } else {
            Ok(self.inner.tasks.token())
        }
    }

    async fn certify(
        &self,
        address: &DeviceAddress,
        credentials: &Credentials,
    ) -> Result<Certification, NvrError> {
        let result = tokio::select! {
            _ = self.inner.shutdown.cancelled() => return Err(NvrError::ShuttingDown),
            r = self.inner.connector.certify(address, credentials) => r,
        };
        result.map_err(|error| {
            tracing::info!(address = %address, %error, "credentials not verified");
            camera_error(error, address)
        })
    }

    /// Puts a camera in the in-memory registry and (re)starts its monitor.
    fn install(
        &self,
        camera: AddedCamera,
        credentials: Option<Credentials>,
        first_check_after: Duration,
        are: CredentialsAre,
    ) {
        let generation = self
            .inner
            .next_generation
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let cancel = self.inner.shutdown.child_token();
        let held = match are {
            CredentialsAre::Same => lock(&self.inner.added)
                .get(&camera.id)
                .map(|e| e.held.clone()),
            CredentialsAre::New => None,
        }
        .unwrap_or_default();
        let monitored = MonitoredCamera {
            id: camera.id,
            address: camera.address.clone(),
            credentials: credentials.clone(),
            credentials_rejected: camera.status.credentials_rejected,
            last_error: camera.status.last_error.clone(),
            last_state: camera.status.state,
            locked_for: self.lock_time_left(&camera),
            clock_offset_secs: camera.clock_offset_secs,
            held: held.clone(),
        };
        let entry = AddedEntry {
            camera,
            credentials,
            generation,
            monitor: cancel.clone(),
            held,
        };
        if let Some(old) = lock(&self.inner.added).insert(monitored.id, entry) {
            old.monitor.cancel();
        }
        let sink: Arc<dyn StatusSink> = Arc::new(MonitorSink {
            nvr: self.downgrade(),
            generation,
        });
        self.inner.tasks.spawn(monitor::watch(
            monitored,
            self.inner.connector.clone(),
            self.settings().monitor.clone(),
            sink,
            first_check_after,
            cancel,
        ));
    }

    fn added_at_address(&self, address: &DeviceAddress) -> Option<CameraId> {
        lock(&self.inner.added)
            .values()
            .find(|e| {
                e.camera.address.host == address.host && e.camera.address.port == address.port
            })
            .map(|e| e.camera.id)
    }

    /// An added camera that this one would duplicate, and what matched; or the camera whose serial
    /// number it claims with another MAC address (a conflict, refused with both named).
    fn find_duplicate(
        &self,
        address: &DeviceAddress,
        endpoint_ref: Option<&str>,
        identity: &DeviceIdentity,
    ) -> Result<(), NvrError> {
        let added = lock(&self.inner.added);
        for e in added.values() {
            let c = &e.camera;
            if c.address.host == address.host && c.address.port == address.port {
                return Err(NvrError::Duplicate {
                    existing: c.id,
                    what: "address",
                });
            }
            if endpoint_ref.is_some() && c.endpoint_ref.as_deref() == endpoint_ref {
                return Err(NvrError::Duplicate {
                    existing: c.id,
                    what: "endpoint",
                });
            }
            match compare_identities(identity, &c.identity) {
                IdentityMatch::Same => {
                    return Err(NvrError::Duplicate {
                        existing: c.id,
                        what: "serial number",
                    });
                }
                IdentityMatch::Conflict => {
                    return Err(NvrError::SerialConflict {
                        existing: c.id,
                        address: c.address.to_string(),
                    });
                }
                IdentityMatch::Different | IdentityMatch::Unknown => {}
            }
        }
        Ok(())
    }

    /// The endpoint reference of a discovered device that is this camera, when one is known.
    fn endpoint_for(&self, identity: &DeviceIdentity, address: &DeviceAddress) -> Option<String> {
        lock(&self.inner.discovered)
            .values()
            .find(|d| {
                d.address == *address
                    || (d.address.host == address.host
                        && compare_identities(&d.identity, identity) == IdentityMatch::Same)
            })
            .map(|d| d.key.clone())
    }

    fn announce_discovered_matching(&self, camera: &AddedCamera) {
        let devices: Vec<DiscoveredDevice> = {
            let added = lock(&self.inner.added);
            let discovered = lock(&self.inner.discovered);
            discovered
                .values()
                .filter(|d| {
                    same_camera(d, camera)
                        || (!camera.identity.serial.is_empty()
                            && d.identity.serial == camera.identity.serial)
                })
                .map(|d| handed_out(d.clone(), &added, &discovered))
                .collect()
        };
        for device in devices {
            self.emit(NvrEvent::DeviceDiscovered { device });
        }
    }

    /// Applies a monitor result: stores and announces a status change, keeps the clock offset current.
    fn on_observation(
        &self,
        id: CameraId,
        generation: u64,
        observation: Observation,
    ) -> Option<CameraStatus> {
        let now = self.inner.clock.now();
        let mut added = lock(&self.inner.added);
        let entry = added.get_mut(&id).filter(|e| e.generation == generation)?;
        if let Some(offset) = observation.clock_offset_secs {
            entry.camera.clock_offset_secs = offset;
        }
        if let Some(identity) = observation.identity {
            entry.camera.identity = DeviceIdentity {
                mac: identity.mac.or(entry.camera.identity.mac.take()),
                ..identity
            };
        }
        let old = &entry.camera.status;
        let changed = old.state != observation.state
            || old.last_error != observation.error
            || old.credentials_rejected != observation.credentials_rejected;
        if !changed {
            return None;
        }
        let status = CameraStatus {
            state: observation.state,
            credentials_rejected: observation.credentials_rejected,
            last_error_at: match &observation.error {
                Some(_) => Some(now),
                None => old.last_error_at,
            },
            last_error: observation.error.or_else(|| {
                // Keep the last error on record after recovery; it says what happened.
                if observation.state == CameraState::Online {
                    old.last_error.clone()
                } else {
                    None
                }
            }),
            since: if old.state == observation.state {
                old.since
            } else {
                now
            },
        };
        if status == *old {
            return None;
        }
        Some(status)
    }

    /// Puts a status that was just stored into memory, if the same monitor still owns the camera.
    fn set_observed_status(&self, id: CameraId, generation: u64, status: &CameraStatus) -> bool {
        let mut added = lock(&self.inner.added);
        let Some(entry) = added.get_mut(&id).filter(|e| e.generation == generation) else {
            return false;
        };
        if entry.camera.status.state == status.state {
            tracing::debug!(
                camera = %id,
                address = %entry.camera.address,
                state = status.state.as_str(),
                error = status.last_error.as_deref().unwrap_or(""),
                "camera check reported"
            );
        } else {
            tracing::info!(
                camera = %id,
                address = %entry.camera.address,
                from = entry.camera.status.state.as_str(),
                to = status.state.as_str(),
                "camera status changed"
            );
        }
        entry.camera.status = status.clone();
        true
    }

    // ── Commands: discovery ────────────────────────────────────────────────────────────────────

    /// Starts a discovery run (or joins the one already going): multicast on the configured interfaces,
    /// unicast to the configured targets and to `extra_targets` (addresses, `a-b` ranges, `net/len`).
    /// Devices stream into the discovered list and out as events as they are identified.
    pub async fn refresh_discovery(
        &self,
        extra_targets: &[String],
    ) -> Result<DiscoveryRun, NvrError> {
        let _command = self.begin_command()?;
        let mut targets = self.settings().discovery.unicast_targets.clone();
        for target in extra_targets {
            let expanded =
                parse_unicast_targets(target).map_err(|problem| NvrError::InvalidArgument {
                    field: "targets",
                    problem,
                })?;
            targets.extend(expanded);
        }
        if targets.len() > discovery::MAX_UNICAST_TARGETS {
            return Err(NvrError::InvalidArgument {
                field: "targets",
                problem: format!(
                    "{} addresses in all; at most {}",
                    targets.len(),
                    discovery::MAX_UNICAST_TARGETS
                ),
            });
        }
        let (done_tx, done_rx) = watch::channel(None);
        {
            let mut run = lock(&self.inner.discovery_run);
            if let Some(current) = run.as_ref()
                && current.borrow().is_none()
            {
                return Ok(DiscoveryRun {
                    done: current.clone(),
                });
            }
            *run = Some(done_rx.clone());
        }
        let all_settings = self.settings();
        let settings = &all_settings.discovery;
        let plan = ProbePlan {
            multicast_interfaces: if settings.multicast {
                self.multicast_interfaces()
            } else {
                Vec::new()
            },
            multicast_port: settings.port,
            unicast_targets: targets,
            listen_for: settings.probe_window,
            repeat_after: PROBE_REPEAT_AFTER,
        };
        let started = self.inner.clock.now();
        let sightings = match discovery::probe(plan, self.inner.shutdown.child_token()).await {
            Ok(rx) => rx,
            Err(error) => {
                done_tx.send_replace(Some(lock(&self.inner.discovered).len()));
                return Err(NvrError::Discovery(error.to_string()));
            }
        };
        self.emit(NvrEvent::DiscoveryStarted);
        let nvr = self.clone();
        self.inner.tasks.spawn(async move {
            let count = nvr.run_discovery(sightings, started).await;
            done_tx.send_replace(Some(count));
        });
        Ok(DiscoveryRun { done: done_rx })
    }

    async fn run_discovery(
        &self,
        mut sightings: tokio::sync::mpsc::Receiver<Sighting>,
        started: SystemTime,
    ) -> usize {
        let mut seen = HashSet::new();
        let mut identifications = JoinSet::new();
        loop {
            tokio::select! {
                sighting = sightings.recv() => {
                    let Some(sighting) = sighting else { break };
                    seen.insert(sighting.endpoint_ref.clone());
                    let nvr = self.clone();
                    identifications.spawn(async move { nvr.identify(sighting).await });
                }
                Some(_) = identifications.join_next(), if !identifications.is_empty() => {}
            }
        }
        while identifications.join_next().await.is_some() {}
        // Devices not seen in this run (and not announced since it started) have left.
        let gone: Vec<String> = {
            let mut discovered = lock(&self.inner.discovered);
            let gone: Vec<String> = discovered
                .values()
                .filter(|d| !seen.contains(&d.key) && d.last_seen < started)
                .map(|d| d.key.clone())
                .collect();
            for key in &gone {
                discovered.remove(key);
            }
            gone
        };
        for key in gone {
            self.emit(NvrEvent::DeviceGone { key });
        }
        let devices = lock(&self.inner.discovered).len();
        tracing::info!(devices, "discovery finished");
        self.emit(NvrEvent::DiscoveryFinished { devices });
        devices
    }

    /// The identification slot for one sender: at most [`IDENTIFY_PER_SENDER`] at once per host.
    fn sender_slot(&self, sender: IpAddr) -> Arc<Semaphore> {
        lock(&self.inner.sender_slots)
            .entry(sender)
            .or_insert_with(|| Arc::new(Semaphore::new(IDENTIFY_PER_SENDER)))
            .clone()
    }

    /// Forgets a sender's slot once nothing holds it, so spoofed source addresses cannot grow the map.
    fn release_sender_slot(&self, sender: IpAddr, slot: Arc<Semaphore>) {
        let mut slots = lock(&self.inner.sender_slots);
        drop(slot);
        if slots
            .get(&sender)
            .is_some_and(|s| Arc::strong_count(s) == 1)
        {
            slots.remove(&sender);
        }
    }

    /// Identifies one sighting from a probe run: waits for a free slot.
    async fn identify(&self, sighting: Sighting) {
        let sender = sighting.sender.ip();
        let slot = self.sender_slot(sender);
        if let Ok(sender_permit) = slot.clone().acquire_owned().await {
            if let Ok(permit) = self.inner.identify_slots.clone().acquire_owned().await {
                let _listed_or_logged = self.identify_with(&sighting).await;
                drop(permit);
            }
            drop(sender_permit);
        }
        self.release_sender_slot(sender, slot);
    }

    /// Identifies one announced camera, unless its sender already uses every slot it may, every
    /// identification slot is busy, or the same endpoint is being identified: a flood of Hellos
    /// is dropped rather than queued (the next probe run still finds real cameras).
    fn identify_announced(&self, sighting: Sighting) {
        let sender = sighting.sender.ip();
        let slot = self.sender_slot(sender);
        let permits = slot
            .clone()
            .try_acquire_owned()
            .ok()
            .and_then(|sender_permit| {
                let permit = self.inner.identify_slots.clone().try_acquire_owned().ok()?;
                Some((sender_permit, permit))
            });
        let fresh = permits.is_some()
            && lock(&self.inner.announced_in_flight).insert(sighting.endpoint_ref.clone());
        let Some(permits) = permits.filter(|_| fresh) else {
            tracing::debug!(%sender, endpoint = %sighting.endpoint_ref, "announcement dropped: identification already busy");
            self.release_sender_slot(sender, slot);
            return;
        };
        let nvr = self.clone();
        self.inner.tasks.spawn(async move {
            let _listed_or_logged = nvr.identify_with(&sighting).await;
            drop(permits);
            lock(&nvr.inner.announced_in_flight).remove(&sighting.endpoint_ref);
            nvr.release_sender_slot(sender, slot);
        });
    }

    /// Asks each of a sighting's addresses in turn who it is and lists the first that answers; its
    /// key in the list, or why none was listed.
    async fn identify_with(&self, sighting: &Sighting) -> Result<String, NvrError> {
        let mut last_error = NvrError::DeviceNotFound(sighting.endpoint_ref.clone());
        for address in &sighting.addresses {
            let outcome = tokio::select! {
                _ = self.inner.shutdown.cancelled() => return Err(NvrError::ShuttingDown),
                r = self.inner.connector.identify(address, &sighting.scopes) => r,
            };
            match outcome {
                Ok(identification) => {
                    let device = DiscoveredDevice {
                        key: sighting.endpoint_ref.clone(),
                        address: address.clone(),
                        identity: identification.identity,
                        information_complete: identification.information_complete,
                        inactive: identification.inactive,
                        added_as: None,
                        last_seen: self.inner.clock.now(),
                        conflict_with: None,
                    };
                    return Ok(self.upsert_discovered(device));
                }
                Err(error) => {
                    tracing::debug!(address = %address, endpoint = %sighting.endpoint_ref, %error, "discovered device not identified");
                    last_error = camera_error(error, address);
                }
            }
        }
        Err(last_error)
    }

    /// Lists the camera at `host:port` by asking it directly: for a camera added by address, one that
    /// does not answer multicast discovery, or one not seen yet. A unicast probe to its WS-Discovery
    /// port comes first, for its own endpoint reference; a camera that does not answer that is listed
    /// from its device service alone. Returns the device as listed.
    pub async fn discover_address(
        &self,
        host: &str,
        port: u16,
    ) -> Result<DiscoveredDevice, NvrError> {
        let _command = self.begin_command()?;
        let address = DeviceAddress::new(host, port).map_err(address_error)?;
        let sighting = match self.probe_one(&address).await {
            Some(sighting) => sighting,
            None => Sighting {
                endpoint_ref: format!("urn:vigil:address:{address}"),
                addresses: vec![address.clone()],
                scopes: Vec::new(),
                types: Vec::new(),
                sender: std::net::SocketAddr::from((
                    address.ip().unwrap_or(IpAddr::from([0, 0, 0, 0])),
                    0,
                )),
            },
        };
        let key = self.identify_with(&sighting).await?;
        self.discovered_device(&key)
    }

    /// A unicast WS-Discovery probe to the camera at `address`: its sighting, with only `address`
    /// kept, when it answers within [`DIRECT_PROBE_WINDOW`].
    async fn probe_one(&self, address: &DeviceAddress) -> Option<Sighting> {
        let ip = address.ip()?;
        let plan = ProbePlan {
            multicast_interfaces: Vec::new(),
            multicast_port: discovery::WSD_PORT,
            unicast_targets: vec![std::net::SocketAddr::new(ip, discovery::WSD_PORT)],
            listen_for: DIRECT_PROBE_WINDOW,
            repeat_after: PROBE_REPEAT_AFTER,
        };
        let mut sightings = discovery::probe(plan, self.inner.shutdown.child_token())
            .await
            .ok()?;
        while let Some(mut sighting) = sightings.recv().await {
            if sighting.addresses.iter().any(|a| a.port == address.port) {
                sighting.addresses = vec![address.clone()];
                return Some(sighting);
            }
        }
        None
    }

    /// The list key of `device`, seen under its endpoint reference: that reference itself, unless
    /// another device at another address already holds it (a cloned camera answers with its
    /// original's), in which case the address tells the two apart.
    fn discovered_key(
        discovered: &BTreeMap<String, DiscoveredDevice>,
        device: &DiscoveredDevice,
    ) -> String {
        match discovered.get(&device.key) {
            Some(holder)
                if holder.address != device.address
                    && compare_identities(&holder.identity, &device.identity)
                        != IdentityMatch::Same =>
            {
                format!("{}@{}", device.key, device.address)
            }
            _ => device.key.clone(),
        }
    }

    /// Lists `device` (keyed by its endpoint reference), or updates its entry; returns its key in
    /// the list.
    fn upsert_discovered(&self, mut device: DiscoveredDevice) -> String {
        let mut replaced = Vec::new();
        let key;
        let announce = {
            let added = lock(&self.inner.added);
            let mut discovered = lock(&self.inner.discovered);
            device.key = Self::discovered_key(&discovered, &device);
            key = device.key.clone();
            // The same camera under another endpoint reference (it was reset, or answers on two
            // interfaces) is one entry: keep the newest. Same serial and maker, and no MAC that says
            // otherwise; a claim of another camera's serial from elsewhere is not a twin.
            if !device.identity.serial.is_empty() {
                let twins: Vec<String> = discovered
                    .values()
                    .filter(|d| {
                        d.key != device.key
                            && compare_identities(&d.identity, &device.identity)
                                == IdentityMatch::Same
                            && (d.address.host == device.address.host
                                || (d.identity.mac.is_some()
                                    && d.identity.mac == device.identity.mac))
                    })
                    .map(|d| d.key.clone())
                    .collect();
                for key in twins {
                    discovered.remove(&key);
                    replaced.push(key);
                }
            }
            if !discovered.contains_key(&device.key) {
                if discovered.len() >= MAX_DISCOVERED {
                    tracing::warn!("discovered list is full; device not listed");
                    return device.key;
                }
                let from_same_host = discovered
                    .values()
                    .filter(|d| d.address.host == device.address.host)
                    .count();
                if from_same_host >= MAX_DISCOVERED_PER_HOST {
                    tracing::warn!(address = %device.address, "too many devices at one address; device not listed");
                    return device.key;
                }
            }
            let changed = discovered.get(&device.key).is_none_or(|old| {
                DiscoveredDevice {
                    last_seen: old.last_seen,
                    ..device.clone()
                } != *old
            });
            discovered.insert(device.key.clone(), device.clone());
            changed.then(|| handed_out(device, &added, &discovered))
        };
        for key in replaced {
            self.emit(NvrEvent::DeviceGone { key });
        }
        if let Some(device) = announce {
            tracing::debug!(address = %device.address, serial = %device.identity.serial, inactive = device.inactive, "device discovered");
            self.emit(NvrEvent::DeviceDiscovered { device });
        }
        key
    }

    fn on_announcement(&self, announcement: Announcement) {
        match announcement {
            Announcement::Hello(sighting) => self.identify_announced(sighting),
            Announcement::Bye {
                endpoint_ref,
                sender,
            } => {
                let removed = {
                    let mut discovered = lock(&self.inner.discovered);
                    // Only the device itself may say it is leaving.
                    let from_itself = discovered
                        .get(&endpoint_ref)
                        .is_some_and(|d| d.address.ip() == Some(sender.ip()));
                    from_itself && discovered.remove(&endpoint_ref).is_some()
                };
                if removed {
                    self.emit(NvrEvent::DeviceGone { key: endpoint_ref });
                }
            }
        }
    }

    fn multicast_interfaces(&self) -> Vec<std::net::Ipv4Addr> {
        match discovery::multicast_interfaces(&self.settings().discovery.interfaces) {
            Ok(interfaces) => interfaces,
            Err(error) => {
                tracing::warn!(%error, "cannot list network interfaces for multicast discovery");
                Vec::new()
            }
        }
    }
}

/// A handle that does not keep the service alive.
struct WeakNvr(Weak<Inner>);

impl WeakNvr {
    fn upgrade(&self) -> Option<Nvr> {
        self.0.upgrade().map(|inner| Nvr { inner })
    }
}

/// Where one monitor task reports.
struct MonitorSink {
    nvr: WeakNvr,
    generation: u64,
}

#[async_trait]
impl StatusSink for MonitorSink {
    async fn observed(&self, id: CameraId, observation: Observation) {
        let Some(nvr) = self.nvr.upgrade() else {
            return;
        };
        let offset = observation.clock_offset_secs;
        // Under the commit lock, new credentials cannot be stored between the generation check and
        // this write, so an observation made with the old ones never lands over them.
        let _commit = nvr.inner.commit.lock().await;
        let Some(status) = nvr.on_observation(id, self.generation, observation) else {
            return;
        };
        let stored_status = status.clone();
        let saved = nvr
            .with_store(move |store| store.update_status(id, &stored_status, offset))
            .await;
        match saved {
            Ok(Ok(())) => {}
            Ok(Err(StoreError::NotFound(_))) => return,
            // Stored before announced: a status that was not stored is neither kept nor announced;
            // the next check tries again.
            Ok(Err(error)) => {
                tracing::error!(camera = %id, %error, "camera status not saved");
                return;
            }
            Err(error) => {
                tracing::error!(camera = %id, %error, "camera status not saved");
                return;
            }
        }
        if nvr.set_observed_status(id, self.generation, &status) {
            nvr.emit(NvrEvent::CameraStatusChanged { id, status });
        }
    }
}

/// A discovered device as it is handed out: marked with the added camera it is, if any, and with the
/// camera that claims its serial number under another MAC address, if one does.
fn handed_out(
    device: DiscoveredDevice,
    added: &BTreeMap<CameraId, AddedEntry>,
    discovered: &BTreeMap<String, DiscoveredDevice>,
) -> DiscoveredDevice {
    handed_out_among(device, added, discovered.values())
}

/// As [`handed_out`], with only the discovered devices that may share its serial number. A device
/// that said what it is only after a login shows what the added camera it is learned then.
fn handed_out_among<'a>(
    mut device: DiscoveredDevice,
    added: &BTreeMap<CameraId, AddedEntry>,
    others: impl Iterator<Item = &'a DiscoveredDevice>,
) -> DiscoveredDevice {
    let camera = added
        .values()
        .find(|e| same_camera(&device, &e.camera))
        .map(|e| &e.camera);
    device.added_as = camera.map(|c| c.id);
    if let Some(camera) = camera.filter(|_| !device.information_complete) {
        device.identity = camera.identity.clone();
        device.information_complete = true;
    }
    device.conflict_with = serial_conflict(&device, added, others);
    device
}

/// Where a camera claims `device`'s serial number with a different MAC address.
fn serial_conflict<'a>(
    device: &DiscoveredDevice,
    added: &BTreeMap<CameraId, AddedEntry>,
    discovered: impl Iterator<Item = &'a DiscoveredDevice>,
) -> Option<DeviceAddress> {
    if device.identity.serial.is_empty() || device.identity.mac.is_none() {
        return None;
    }
    let conflicts = |other: &DeviceIdentity| {
        compare_identities(&device.identity, other) == IdentityMatch::Conflict
    };
    added
        .values()
        // The camera this device is may report another MAC once logged in (another interface's):
        // that is not a second camera.
        .filter(|e| Some(e.camera.id) != device.added_as && e.camera.address != device.address)
        .find(|e| conflicts(&e.camera.identity))
        .map(|e| e.camera.address.clone())
        .or_else(|| {
            discovered
                .filter(|d| d.key != device.key)
                .find(|d| conflicts(&d.identity))
                .map(|d| d.address.clone())
        })
}

/// Whether a discovered device and an added camera are the same camera. The address is the only
/// part the NVR checked itself (it connected there), so it must match; serial, MAC and endpoint
/// reference are the device's own claims and only tell a moved port apart from another device.
fn same_camera(device: &DiscoveredDevice, camera: &AddedCamera) -> bool {
    device.address.host == camera.address.host
        && (device.address.port == camera.address.port
            || camera.endpoint_ref.as_deref() == Some(device.key.as_str())
            || compare_identities(&device.identity, &camera.identity) == IdentityMatch::Same)
}

/// What a camera's answer means to the caller of a command on `address`.
pub(crate) fn camera_error(error: CameraError, address: &DeviceAddress) -> NvrError {
    match error {
        CameraError::Offline(detail) => NvrError::Unreachable {
            address: address.to_string(),
            detail,
        },
        CameraError::CredentialsRejected | CameraError::CredentialsRequired => {
            NvrError::CredentialsRejected
        }
        CameraError::Locked { retry_after } => NvrError::CameraLocked { retry_after },
        CameraError::Refused { reason, .. } => NvrError::CameraRefused(reason),
        CameraError::ClockRejected(words) => NvrError::CameraClock(words),
        CameraError::Inactive => NvrError::CameraInactive,
        CameraError::AuthenticationOff => NvrError::AuthenticationOff,
        CameraError::Unavailable(detail) | CameraError::DeviceFault(detail) => {
            NvrError::CameraBusy(detail)
        }
        CameraError::BadReply(detail) => NvrError::CameraProtocol(detail),
    }
}

fn address_error(error: AddressError) -> NvrError {
    let field = match error {
        AddressError::BadPort => "port",
        _ => "host",
    };
    NvrError::InvalidArgument {
        field,
        problem: error.to_string(),
    }
}

fn duplicate_word(of: DuplicateOf) -> &'static str {
    match of {
        DuplicateOf::Address => "address",
        DuplicateOf::Serial => "serial number",
        DuplicateOf::EndpointRef => "endpoint",
        DuplicateOf::ActiveRecovery => "password recovery in progress",
    }
}

/// Checks a user name and password given for a camera.
pub fn check_credentials(username: &str, password: &str) -> Result<Credentials, NvrError> {
    let invalid = |field, problem: &str| NvrError::InvalidArgument {
        field,
        problem: problem.to_owned(),
    };
    if username.trim().is_empty() {
        return Err(invalid("username", "the user name is empty"));
    }
    if username.chars().count() > MAX_USERNAME_CHARS {
        return Err(invalid(
            "username",
            "the user name is longer than 32 characters",
        ));
    }
    if username.chars().any(char::is_control) || username.trim() != username {
        return Err(invalid(
            "username",
            "the user name has spaces at its ends or control characters",
        ));
    }
    if password.is_empty() {
        return Err(invalid("password", "the password is empty"));
    }
    if password.chars().count() > MAX_PASSWORD_CHARS {
        return Err(invalid(
            "password",
            "the password is longer than 64 characters",
        ));
    }
    if password.chars().any(char::is_control) {
        return Err(invalid("password", "the password has control characters"));
    }
    Ok(Credentials::new(username, password))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::SystemClock;
    use crate::config::Config;
    use crate::model::DeviceAddress;

    async fn idle_service(dir: &std::path::Path) -> Nvr {
        let mut settings = Config::default().resolve("test").unwrap();
        settings.discovery.multicast = false;
        settings.discovery.announcement_address = None;
        settings.discovery.on_start = false;
        settings.discovery.refresh_interval = None;
        let store = Arc::new(Store::open(dir).unwrap());
        Nvr::start(
            settings,
            store,
            Arc::new(SystemClock),
            CancellationToken::new(),
        )
        .await
        .unwrap()
    }

    fn sighted(key: &str, host: &str, serial: &str) -> DiscoveredDevice {
        DiscoveredDevice {
            key: key.to_owned(),
            address: DeviceAddress::new(host, 80).unwrap(),
            identity: DeviceIdentity {
                manufacturer: "Acme".into(),
                model: "X1".into(),
                firmware: "1.0".into(),
                serial: serial.into(),
                mac: None,
            },
            information_complete: true,
            inactive: false,
            added_as: None,
            last_seen: SystemTime::now(),
            conflict_with: None,
        }
    }

    #[tokio::test]
    async fn one_camera_under_a_new_endpoint_reference_stays_one_entry() {
        let dir = tempfile::tempdir().unwrap();
        let nvr = idle_service(dir.path()).await;
        let mut events = nvr.subscribe();
        nvr.upsert_discovered(sighted("urn:uuid:a", "10.0.0.5", "S1"));
        nvr.upsert_discovered(sighted("urn:uuid:other", "10.0.0.6", "S2"));
        // The first camera comes back under a new endpoint reference (a reset regenerated it).
        nvr.upsert_discovered(sighted("urn:uuid:b", "10.0.0.5", "S1"));
        // Seen again unchanged: no event.
        nvr.upsert_discovered(sighted("urn:uuid:b", "10.0.0.5", "S1"));
        let keys: Vec<String> = nvr
            .discovered_devices()
            .into_iter()
            .map(|d| d.key)
            .collect();
        assert_eq!(keys, vec!["urn:uuid:b", "urn:uuid:other"]);
        let mut seen = Vec::new();
        while let Ok(event) = events.try_recv() {
            seen.push(match event {
                NvrEvent::DeviceDiscovered { device } => format!("+{}", device.key),
                NvrEvent::DeviceGone { key } => format!("-{key}"),
                other => format!("{other:?}"),
            });
        }
        assert_eq!(
            seen,
            vec![
                "+urn:uuid:a",
                "+urn:uuid:other",
                "-urn:uuid:a",
                "+urn:uuid:b"
            ]
        );
    }

    #[tokio::test]
    async fn the_password_meter_and_the_commands_agree() {
        let dir = tempfile::tempdir().unwrap();
        let nvr = idle_service(dir.path()).await;
        for (password, user) in [
            ("Quiet-Falcon-83", "admin"),
            ("admin1234", "admin"),
            ("short1A", "admin"),
            ("Operator-Tide-41", "operator"),
            ("tab\there-Pass9", "admin"),
            ("aaaabbbbcccc", "admin"),
        ] {
            let assessment = nvr.assess_new_password(password, user);
            match check_new_password(password, password, user) {
                Ok(_) => assert!(assessment.acceptable(), "{password}"),
                Err(NvrError::PolicyViolation { unmet }) => {
                    assert_eq!(unmet, assessment.unmet, "{password}");
                    assert!(!unmet.is_empty());
                }
                Err(other) => panic!("{password}: {other}"),
            }
        }
        assert!(
            nvr.assess_new_password("Quiet-Falcon-83", "admin")
                .acceptable()
        );
        assert!(!nvr.assess_new_password("admin1234", "admin").acceptable());
    }

    #[test]
    fn credentials_are_checked_with_the_field_named() {
        let field = |u: &str, p: &str| match check_credentials(u, p) {
            Err(NvrError::InvalidArgument { field, .. }) => field,
            _ => "ok",
        };
        assert_eq!(field("", "pw"), "username");
        assert_eq!(field(" admin", "pw"), "username");
        assert_eq!(field(&"a".repeat(33), "pw"), "username");
        assert_eq!(field("admin", ""), "password");
        assert_eq!(field("admin", "bad\npw"), "password");
        assert_eq!(field("admin", &"p".repeat(65)), "password");
        assert_eq!(field("admin", "Harbor-Lamp-62"), "ok");
    }

    #[test]
    fn errors_never_carry_the_password_and_say_what_to_do() {
        let e = check_credentials("admin", "x\u{7}secret").unwrap_err();
        assert!(!e.to_string().contains("secret"));
        let locked = NvrError::CameraLocked {
            retry_after: Some(Duration::from_secs(1790)),
        };
        assert!(locked.to_string().contains("30 minutes"), "{locked}");
    }
}
