//! Wiring for `vigild`: opens the store, starts the service (and the demo cameras in demo mode), says
//! it is ready, waits for shutdown, then stops everything in order. Faces (GUI, D-Bus) plug in here.

use std::path::PathBuf;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::clock::SystemClock;
use crate::config::Settings;
use crate::dbus::auth::AccessGroups;
use crate::demo::{self, DemoOptions};
use crate::gui::Gui;
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

/// Runs the daemon until `shutdown` fires.
pub async fn run(
    options: AppOptions,
    mut settings: Settings,
    shutdown: CancellationToken,
) -> Result<(), AppError> {
    let simulator = match &options.demo {
        Some(demo_options) => Some(Arc::new(
            demo::start_cameras(demo_options, &mut settings).await?,
        )),
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
    let gui = if options.headless {
        tracing::info!("running headless: no on-screen menu");
        None
    } else {
        let (gui_nvr, runtime) = (nvr.clone(), tokio::runtime::Handle::current());
        match tokio::task::spawn_blocking(move || Gui::start(gui_nvr, runtime))
            .await
            .map_err(|e| AppError::Internal(e.to_string()))?
        {
            Ok(gui) => {
                tracing::info!(display = ?gui.display(), "on-screen menu shown");
                Some(gui)
            }
            Err(error) => {
                tracing::warn!(%error, "no on-screen menu; running headless");
                None
            }
        }
    };
    let cameras = nvr.added_cameras().len();
    tracing::info!(added_cameras = cameras, "vigild ready");

    if let Some(simulator) = &simulator {
        let nvr = nvr.clone();
        let simulator = simulator.clone();
        tokio::spawn(async move { demo::populate(&nvr, &simulator).await });
    }

    shutdown.cancelled().await;
    tracing::info!("vigild stopping");
    if let Some(gui) = gui {
        let _ = tokio::task::spawn_blocking(move || gui.stop()).await;
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
