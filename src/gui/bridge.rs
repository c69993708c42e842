//! The bridge between the UI thread and the service: how work reaches the UI thread (Slint's event
//! loop, or a queue headless runs drain), and what every adapter shares — the service, the runtime
//! that runs its calls, the menu's session and the wizard's hold on its flow. No flow logic and no SQL
//! live in gui/.

use std::sync::{Arc, Mutex, MutexGuard};

use secrecy::SecretString;

use super::ui::{AppWindow, Problem, Screen};
use crate::model::{Actor, Caller, CameraId, RecoveryId, RecoveryTarget};
use crate::service::{Nvr, NvrError};

/// Work for the UI thread.
pub type UiJob = Box<dyn FnOnce(&AppWindow) + Send>;

/// How results reach the UI thread: through Slint's event loop, or (in headless tests, which have no
/// event loop) through a queue the test drains.
#[derive(Clone)]
pub enum UiSink {
    /// The running event loop of the window.
    EventLoop(slint::Weak<AppWindow>),
    /// A queue drained by whoever owns the window.
    Queue(std::sync::mpsc::Sender<UiJob>),
}

impl UiSink {
    /// Runs `job` on the UI thread with the window, unless the window is gone.
    pub fn post(&self, job: impl FnOnce(&AppWindow) + Send + 'static) {
        match self {
            UiSink::EventLoop(window) => {
                let _ = window.upgrade_in_event_loop(move |window| job(&window));
            }
            UiSink::Queue(queue) => {
                let _ = queue.send(Box::new(job));
            }
        }
    }
}

/// Runs the jobs posted to a [`UiSink::Queue`] on `window` until `done` holds (true) or `limit` has
/// passed (false). Headless runs (tests, benchmarks) have no event loop; this stands in for it,
/// waiting on the queue rather than polling.
pub fn run_queued_until(
    window: &AppWindow,
    jobs: &std::sync::mpsc::Receiver<UiJob>,
    limit: std::time::Duration,
    done: impl Fn(&AppWindow) -> bool,
) -> bool {
    let deadline = std::time::Instant::now() + limit;
    loop {
        while let Ok(job) = jobs.try_recv() {
            job(window);
        }
        if done(window) {
            return true;
        }
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return false;
        }
        if let Ok(job) = jobs.recv_timeout(left) {
            job(window);
        }
    }
}

/// What the adapters share: the service, the runtime that runs its calls, the way back to the UI,
/// and the forget-password flow the wizard shows.
#[derive(Clone)]
pub(super) struct Adapter {
    pub(super) nvr: Nvr,
    pub(super) runtime: tokio::runtime::Handle,
    pub(super) sink: UiSink,
    /// Who the account's own commands come from (activating the recorder has no session yet);
    /// camera commands carry the session instead ([`Adapter::caller`]).
    pub(super) actor: Actor,
    pub(super) wizard: Arc<Mutex<Wizard>>,
    pub(super) session: SharedSession,
}

/// The wizard's hold on the service: which device it started on and which flow it drives.
#[derive(Default)]
pub(super) struct Wizard {
    /// What it started on: a discovered device or an added camera.
    pub(super) target: Option<RecoveryTarget>,
    /// The camera as the wizard names it, fixed at the start (it may be removed on the way).
    pub(super) label: Option<String>,
    /// The flow it drives.
    pub(super) flow: Option<RecoveryId>,
    /// A certified camera sent to Change password instead.
    pub(super) modify_camera: Option<CameraId>,
}

/// The menu's hold on the account: its session, a login waiting for its code, a verified recovery
/// code's ticket, and where to go once logged in. Tokens stay here and in the service, never on screen.
#[derive(Default)]
pub(super) struct MenuSession {
    /// The logged-in session's token.
    pub(super) token: Option<SecretString>,
    /// A login waiting for its authenticator code.
    pub(super) pending: Option<SecretString>,
    /// A verified recovery code's ticket.
    pub(super) ticket: Option<SecretString>,
    /// Where to go once logged in.
    pub(super) after_login: Option<Screen>,
}

pub(super) type SharedSession = Arc<Mutex<MenuSession>>;

/// The menu's session, locked.
pub(super) fn session(adapter: &Adapter) -> MutexGuard<'_, MenuSession> {
    adapter
        .session
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Adapter {
    /// What the menu does when the service refused a command because its login has ended: it logs
    /// out and asks for the login again, as the idle check would have. True when that was the error.
    pub(super) fn login_ended(&self, error: &NvrError) -> bool {
        if !matches!(error, NvrError::SessionExpired) {
            return false;
        }
        self.logged_out(Some(Problem::SessionExpired));
        true
    }

    /// Who the menu's commands come from: its login session, which the service checks on every
    /// command (no session at all is refused like an ended one).
    pub(super) fn caller(&self) -> Caller {
        let session = session(self).token.clone();
        Caller::Menu {
            session: session.unwrap_or_else(|| SecretString::from(String::new())),
        }
    }

    /// Whether the menu is logged in, counting the question as use (an action in Settings).
    pub(super) fn touch_session(&self) -> bool {
        let token = session(self).token.clone();
        token.is_some_and(|token| self.nvr.session_user(&token).is_ok())
    }
}
