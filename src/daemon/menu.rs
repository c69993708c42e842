//! The on-screen menu as vigild runs it: shown unless headless (or built without the `gui` feature),
//! watched by the watchdog while it runs, and stopped last but one. Without the feature there is never
//! a menu, and vigild says so.

use super::systemd::WatchedLoop;
use crate::service::Nvr;

/// The running menu, when there is one.
pub(super) struct Menu {
    #[cfg(feature = "gui")]
    gui: crate::gui::Gui,
}

impl Menu {
    /// Shows the menu unless `headless`; `None` (logged) when there is no display to show it on.
    #[cfg(feature = "gui")]
    pub(super) async fn start(nvr: &Nvr, headless: bool) -> Result<Option<Self>, String> {
        if headless {
            tracing::info!("running headless: no on-screen menu");
            return Ok(None);
        }
        let (gui_nvr, runtime) = (nvr.clone(), tokio::runtime::Handle::current());
        match tokio::task::spawn_blocking(move || crate::gui::Gui::start(gui_nvr, runtime))
            .await
            .map_err(|e| e.to_string())?
        {
            Ok(gui) => {
                tracing::info!(display = ?gui.display(), "on-screen menu shown");
                Ok(Some(Self { gui }))
            }
            Err(error) => {
                tracing::warn!(%error, "no on-screen menu; running headless");
                Ok(None)
            }
        }
    }

    /// Built without the on-screen menu: always headless.
    #[cfg(not(feature = "gui"))]
    pub(super) async fn start(_nvr: &Nvr, headless: bool) -> Result<Option<Self>, String> {
        if !headless {
            tracing::info!("built without the on-screen menu: running headless");
        }
        Ok(None)
    }

    /// The menu's loop, for the watchdog.
    pub(super) fn watched(&self) -> Option<WatchedLoop> {
        #[cfg(feature = "gui")]
        return Some(WatchedLoop {
            name: "the on-screen menu",
            probe: self.gui.liveness_probe(),
        });
        #[cfg(not(feature = "gui"))]
        None
    }

    /// Closes the menu.
    pub(super) async fn stop(self) {
        #[cfg(feature = "gui")]
        {
            let gui = self.gui;
            let _ = tokio::task::spawn_blocking(move || gui.stop()).await;
        }
    }
}
