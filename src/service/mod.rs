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

use tokio::sync::{Semaphore, broadcast};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tokio_util::task::task_tracker::TaskTrackerToken;

use crate::camera::client::CameraConnector;
use crate::clock::Clock;
use crate::config::Settings;
use crate::model::RecoveryId;
use crate::model::{AddedCamera, CameraId, Credentials, DiscoveredDevice, NvrEvent};
use crate::store::{NvrSetting, Store, StoreError};

mod account;
mod activation;
mod audit;
mod camera_time;
mod cameras;
mod channels;
mod credentials;
mod discovery;
mod discovery_run;
mod error;
mod mail_server;
mod maintenance;
mod monitor;
mod moved;
mod passwords;
mod plug_and_play;
mod readdress;
mod recovery;
#[cfg(test)]
mod tests;
mod vendor_discovery;

pub use account::{
    AccountRecoveryMethods, AccountRecoveryQr, AccountStatus, LoginStep, NVR_ADMIN,
    RecoveryCodeSent, Session, SupportIdentity, TotpEnrolment,
};
pub use activation::Activation;
pub use cameras::{AddCamera, check_credentials};
pub use channels::MAX_CAMERA_NAME_CHARS;
pub use discovery_run::DiscoveryRun;
pub use error::{ArgumentProblem, NvrError, PasswordField, camera_error};
pub use mail_server::{MailServer, MailServerChange};
pub use maintenance::{MaintainedCamera, network_change_from_text};
pub use passwords::{PasswordPushOutcome, check_new_password};
pub use plug_and_play::PlugAndPlayOutcome;
pub use recovery::RecoveryStart;

/// Longest user name accepted for a camera.
pub const MAX_USERNAME_CHARS: usize = 32;

/// Longest password accepted for a camera.
pub const MAX_PASSWORD_CHARS: usize = 64;

/// The languages the on-screen menu is translated into.
pub const MENU_LANGUAGES: &[&str] = &["en", "ru"];

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
    discovery_run: Mutex<Option<discovery_run::LatestDiscoveryRun>>,
    identify_slots: Arc<Semaphore>,
    sender_slots: Mutex<HashMap<IpAddr, Arc<Semaphore>>>,
    /// Endpoints announced by Hello whose identification is running.
    announced_in_flight: Mutex<HashSet<String>>,
    /// Cameras plug and play has looked at in this run (serial numbers, else endpoints); the registry
    /// keeps those it tried for good.
    plugged_in: Mutex<HashSet<String>>,
    /// What plug and play made of the discovered cameras it could not take in, by key.
    plug_outcomes: Mutex<HashMap<String, plug_and_play::PlugAndPlayOutcome>>,
    /// Serializes the check-then-store step of mutating commands, so two callers cannot add the same
    /// camera or edit one being removed. Never held across network calls.
    commit: tokio::sync::Mutex<()>,
    /// Serializes the account's read-count-write steps (login, login code, turning two-factor
    /// off), so two wrong passwords at once cannot both see the old count. Separate from
    /// `commit`: a login's password hash takes a while and must never stall camera status writes.
    account: tokio::sync::Mutex<()>,
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
            tokio::task::spawn_blocking(move || store.write(|tx| tx.load_added_cameras()))
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
            plugged_in: Mutex::new(HashSet::new()),
            plug_outcomes: Mutex::new(HashMap::new()),
            commit: tokio::sync::Mutex::new(()),
            account: tokio::sync::Mutex::new(()),
            next_generation: std::sync::atomic::AtomicU64::new(1),
            tasks: TaskTracker::new(),
            shutdown,
        });
        let nvr = Nvr { inner };
        let period = nvr.settings().monitor.period;
        let mut pending_passwords = Vec::new();
        for entry in stored {
            let id = entry.camera.id;
            // A camera whose password change was interrupted is asked about its new password first.
            let first_check = match (&entry.credentials, entry.pending_password) {
                (Some(credentials), Some(password)) => {
                    pending_passwords.push((
                        id,
                        Credentials {
                            username: credentials.username.clone(),
                            password,
                        },
                    ));
                    period
                }
                _ => spread_within(period),
            };
            nvr.install(
                entry.camera,
                entry.credentials,
                first_check,
                CredentialsAre::New,
            );
            tracing::debug!(camera = %id, "added camera loaded");
        }
        nvr.resume_recoveries().await?;
        nvr.finish_password_changes(pending_passwords);
        nvr.start_background();
        Ok(nvr)
    }

    fn start_background(&self) {
        self.start_recovery_sweep();
        self.start_clock_schedule();
        let all_settings = self.settings();
        let settings = &all_settings.discovery;
        if let Some(address) = settings.announcement_address {
            let interfaces = if settings.multicast {
                self.multicast_interfaces()
            } else {
                Vec::new()
            };
            match crate::camera::discovery::listen_announcements(
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
        drop(self.inner.account.lock().await);
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

    /// The time on the service's clock (mock time in tests), for showing how long something has left.
    pub fn now(&self) -> SystemTime {
        self.inner.clock.now()
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
                problem: ArgumentProblem::Other(format!(
                    "'{language}' is not one of {}",
                    MENU_LANGUAGES.join(", ")
                )),
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
}

/// A handle that does not keep the service alive.
pub(crate) struct WeakNvr(Weak<Inner>);

impl WeakNvr {
    fn upgrade(&self) -> Option<Nvr> {
        self.0.upgrade().map(|inner| Nvr { inner })
    }
}
