//! Wiring for `vigild`: opens the store, starts the service (and the demo cameras in demo mode), says
//! it is ready (to systemd too, with the watchdog on), reloads the configuration when asked, waits for
//! shutdown, then stops everything in order. Faces (GUI, D-Bus) plug in here.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::demo::{self, DemoOptions};
use super::menu::Menu;
use super::reload::{Reload, reload_configuration};
use super::systemd::{self, Watchdog, WatchedLoop};
use crate::clock::SystemClock;
use crate::config::Settings;
use crate::dbus::auth::AccessGroups;
use crate::service::{Nvr, NvrError};
use crate::store::{Store, StoreError};

/// How vigild was asked to run.
#[derive(Debug, Clone)]
pub struct AppOptions {
    /// The state directory.
    pub state_dir: PathBuf,
    /// Run without any display.
    pub headless: bool,
    /// Demo mode.
    pub demo: Option<DemoOptions>,
}

/// Why vigild could not run.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The registry could not be opened.
    #[error("cannot open the camera registry: {0}")]
    Store(#[from] StoreError),
    /// The service could not start.
    #[error("cannot start the camera service: {0}")]
    Service(#[from] NvrError),
    /// Demo cameras could not start.
    #[error("cannot start the demo cameras: {0}")]
    Demo(#[from] crate::sim::SimError),
    /// The D-Bus name could not be owned.
    #[error("cannot serve org.vigil.Nvr1 on D-Bus: {0}")]
    Dbus(#[from] zbus::Error),
    /// A blocking task died.
    #[error("internal error: {0}")]
    Internal(String),
}

/// Runs the daemon until `shutdown` fires, reloading the configuration on each `reload` request.
pub async fn run(
    options: AppOptions,
    mut settings: Settings,
    mut reload: Reload,
    shutdown: CancellationToken,
) -> Result<(), AppError> {
    let simulator = match &options.demo {
        Some(demo_options) => {
            let simulator = Arc::new(demo::start_cameras(demo_options, &mut settings).await?);
            demo::serve_control(simulator.clone(), demo_options.control_socket.clone());
            Some(simulator)
        }
        None => None,
    };
    let state_dir = options.state_dir.clone();
    let store = tokio::task::spawn_blocking(move || Store::open(&state_dir))
        .await
        .map_err(|e| AppError::Internal(e.to_string()))??;
    let store = Arc::new(store);
    tracing::info!(path = %store.path().display(), "camera registry open");
    let dbus_settings = settings.dbus.clone();
    let nvr = Nvr::start(
        settings,
        store.clone(),
        Arc::new(SystemClock),
        shutdown.child_token(),
    )
    .await?;
    let dbus = match &dbus_settings.bus {
        None => {
            tracing::info!("D-Bus face turned off");
            None
        }
        Some(bus) => {
            let (read, admin) = (
                dbus_settings.read_group.clone(),
                dbus_settings.admin_group.clone(),
            );
            let groups = tokio::task::spawn_blocking(move || AccessGroups::resolve(&read, &admin))
                .await
                .map_err(|e| AppError::Internal(e.to_string()))?;
            match crate::dbus::serve(nvr.clone(), bus, groups, shutdown.child_token()).await {
                Ok(service) => Some(service),
                Err(error) if options.demo.is_some() => {
                    tracing::warn!(%error, "demo runs without D-Bus");
                    None
                }
                Err(error) => {
                    shutdown.cancel();
                    nvr.stopped().await;
                    return Err(error.into());
                }
            }
        }
    };
    let gui = Menu::start(&nvr, options.headless)
        .await
        .map_err(AppError::Internal)?;
    let cameras = nvr.added_cameras().len();
    tracing::info!(added_cameras = cameras, "vigild ready");
    // Only now: the store, the core, the D-Bus name and the menu (when there is one) are all up.
    systemd::notify_ready(&status_of(&nvr));
    let watchdog = systemd::watchdog_interval().map(|interval| {
        let mut loops = vec![core_probe(&nvr)];
        if let Some(watched) = gui.as_ref().and_then(Menu::watched) {
            loops.push(watched);
        }
        Watchdog::start(interval, loops)
    });
    if std::env::var_os("NOTIFY_SOCKET").is_some() {
        tokio::spawn(report_status(nvr.clone(), shutdown.clone()));
    }
    #[cfg(debug_assertions)]
    super::fault_hooks::install();

    if let Some(simulator) = &simulator {
        let nvr = nvr.clone();
        let simulator = simulator.clone();
        tokio::spawn(async move { demo::populate(&nvr, &simulator).await });
    }

    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            Some(()) = reload.requests.recv() => {
                systemd::notify_reloading();
                if options.demo.is_some() {
                    tracing::warn!("configuration reload refused: demo mode runs on its own settings; restart it to change them");
                } else {
                    match reload_configuration(&nvr, &mut reload).await {
                        Ok(()) => {}
                        Err(error) => tracing::error!(
                            file = %error.source_name,
                            key = %error.key,
                            problem = %error.problem,
                            "configuration reload refused; the running configuration stays in force"
                        ),
                    }
                }
                systemd::notify_ready(&status_of(&nvr));
            }
        }
    }
    systemd::notify_stopping();
    tracing::info!("vigild stopping");
    if let Some(watchdog) = watchdog {
        watchdog.stop();
    }
    if let Some(gui) = gui {
        gui.stop().await;
    }
    if let Some(dbus) = dbus {
        dbus.stop().await;
    }
    nvr.stopped().await;
    if let Some(simulator) = simulator {
        simulator.shutdown().await;
    }
    drop(nvr);
    drop(store);
    tracing::info!("vigild stopped");
    Ok(())
}

/// The watchdog's question to the service core: a task on the runtime that answers once every lock
/// the commands take is free. A hung runtime or a deadlocked core never answers.
fn core_probe(nvr: &Nvr) -> WatchedLoop {
    let (nvr, runtime) = (nvr.clone(), tokio::runtime::Handle::current());
    WatchedLoop {
        name: "the service core",
        probe: Box::new(move |answer| {
            let nvr = nvr.clone();
            runtime.spawn(async move {
                nvr.answers().await;
                answer.answer();
            });
        }),
    }
}

/// systemd's status line: the added cameras by state.
fn status_of(nvr: &Nvr) -> String {
    systemd::status_line(&nvr.status_counts())
}

/// Keeps systemd's status line current: the camera counts, at most once a second.
async fn report_status(nvr: Nvr, shutdown: CancellationToken) {
    let mut events = nvr.subscribe();
    let mut shown = status_of(&nvr);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            event = events.recv() => {
                if let Err(tokio::sync::broadcast::error::RecvError::Closed) = event {
                    return;
                }
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        while !events.is_empty() {
            let _ = events.try_recv();
        }
        let line = status_of(&nvr);
        if line != shown {
            systemd::notify_status(&line);
            shown = line;
        }
    }
}
