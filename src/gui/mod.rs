//! The on-screen menu: picks a display (a desktop window, or bare HDMI through DRM and libinput),
//! runs Slint on its own thread and wires the UI contract (ui/api.slint) to the service API. With no
//! display it says so and vigild runs headless.

mod account;
pub mod bridge;
mod camera_settings;
mod device_access;
mod dialogs;
mod mail_settings;
pub mod rows;
mod shell;
pub mod ui;
mod wiring;
mod wizard;

pub use bridge::{UiJob, UiSink, run_queued_until};
pub use wiring::{Wiring, wire};

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread::JoinHandle;

use slint::ComponentHandle;

use crate::service::Nvr;

/// The font the menu is drawn with, embedded so a bare recorder needs no fonts installed.
const FONT_REGULAR: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
const FONT_BOLD: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans-Bold.ttf");

/// Why the menu could not be shown.
#[derive(Debug, thiserror::Error)]
pub enum GuiError {
    /// No display could be opened; vigild runs headless.
    #[error("no display: {0}")]
    NoDisplay(String),
    /// The fonts could not be prepared.
    #[error("cannot prepare the menu's fonts in {path}: {source}")]
    Fonts {
        /// Where.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The UI thread could not start.
    #[error("the on-screen menu could not start: {0}")]
    Thread(String),
}

/// The fonts the menu finds through fontconfig, kept on disk while vigild runs.
///
/// Slint's text layout asks fontconfig for fonts and cannot start with none, and a bare recorder has
/// none installed. So vigild writes its embedded font to a private directory and points fontconfig at
/// it alone: the menu looks the same on every recorder, and no system font scan slows the start.
#[derive(Debug)]
pub struct MenuFonts {
    dir: tempfile::TempDir,
}

impl MenuFonts {
    /// Writes the fonts and a fontconfig file naming them, under `parent` (a private temp directory is
    /// made there). Must run before any thread is started: it sets `FONTCONFIG_FILE` for the process.
    pub fn install(parent: &Path) -> Result<Self, GuiError> {
        let fail = |source| GuiError::Fonts {
            path: parent.to_path_buf(),
            source,
        };
        let dir = tempfile::Builder::new()
            .prefix("vigil-fonts-")
            .tempdir_in(parent)
            .map_err(fail)?;
        std::fs::write(dir.path().join("DejaVuSans.ttf"), FONT_REGULAR).map_err(fail)?;
        std::fs::write(dir.path().join("DejaVuSans-Bold.ttf"), FONT_BOLD).map_err(fail)?;
        let config = dir.path().join("fonts.conf");
        let escaped = xml_escape(&dir.path().display().to_string());
        std::fs::write(
            &config,
            format!(
                "<?xml version=\"1.0\"?>\n<!DOCTYPE fontconfig SYSTEM \"fonts.dtd\">\n\
                 <fontconfig><dir>{escaped}</dir><cachedir>{escaped}/cache</cachedir></fontconfig>\n"
            ),
        )
        .map_err(fail)?;
        // SAFETY: called before vigild starts any thread (see above), so nothing reads the
        // environment concurrently.
        unsafe {
            std::env::set_var("FONTCONFIG_FILE", &config);
        }
        Ok(Self { dir })
    }

    /// The directory holding the fonts.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Which display the menu is drawn on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Display {
    /// A window on a desktop (X11), for development.
    Window,
    /// The recorder's HDMI output through DRM/KMS, with mouse and keyboard through libinput.
    Hdmi,
}

/// Picks the display on the calling thread (Slint's platform is per thread). A desktop when `DISPLAY`
/// is set, else bare HDMI when a DRM card or framebuffer exists; otherwise why neither works.
fn select_display() -> Result<Display, GuiError> {
    let mut problems = Vec::new();
    if std::env::var_os("DISPLAY").is_some() {
        match slint::BackendSelector::new()
            .backend_name("winit".into())
            .renderer_name("software".into())
            .select()
        {
            Ok(()) => return Ok(Display::Window),
            Err(error) => problems.push(format!("desktop window: {error}")),
        }
    }
    let has_drm = std::fs::read_dir("/dev/dri").is_ok_and(|entries| {
        entries
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with("card"))
    });
    if has_drm || Path::new("/dev/fb0").exists() {
        match slint::BackendSelector::new()
            .backend_name("linuxkms".into())
            .renderer_name("software".into())
            .select()
        {
            Ok(()) => return Ok(Display::Hdmi),
            Err(error) => problems.push(format!("HDMI: {error}")),
        }
    } else {
        problems.push("no DRM card (/dev/dri/card*) or framebuffer (/dev/fb0)".into());
    }
    if std::env::var_os("DISPLAY").is_none() {
        problems.push("DISPLAY is not set".into());
    }
    Err(GuiError::NoDisplay(problems.join("; ")))
}

/// The running menu.
pub struct Gui {
    thread: Option<JoinHandle<()>>,
    display: Display,
}

impl Gui {
    /// Starts the menu on its own thread over `nvr`; service calls run on `runtime`. Returns once the
    /// window is shown, or why it could not be.
    pub fn start(nvr: Nvr, runtime: tokio::runtime::Handle) -> Result<Self, GuiError> {
        let (ready, started) = mpsc::channel::<Result<Display, GuiError>>();
        let thread = std::thread::Builder::new()
            .name("vigil-gui".into())
            .spawn(move || {
                let display = match select_display() {
                    Ok(display) => display,
                    Err(error) => {
                        let _ = ready.send(Err(error));
                        return;
                    }
                };
                let window = match ui::AppWindow::new() {
                    Ok(window) => window,
                    Err(error) => {
                        let _ = ready.send(Err(GuiError::NoDisplay(error.to_string())));
                        return;
                    }
                };
                let sink = UiSink::EventLoop(window.as_weak());
                let _adapter = wire(&window, nvr, runtime, sink, display == Display::Hdmi);
                if let Err(error) = window.show() {
                    let _ = ready.send(Err(GuiError::NoDisplay(error.to_string())));
                    return;
                }
                let _ = ready.send(Ok(display));
                if let Err(error) = slint::run_event_loop_until_quit() {
                    tracing::error!(%error, "the on-screen menu stopped");
                }
                let _ = window.hide();
            })
            .map_err(|e| GuiError::Thread(e.to_string()))?;
        match started.recv() {
            Ok(Ok(display)) => Ok(Self {
                thread: Some(thread),
                display,
            }),
            Ok(Err(error)) => {
                let _ = thread.join();
                Err(error)
            }
            Err(_) => {
                let _ = thread.join();
                Err(GuiError::Thread("the menu thread ended at start".into()))
            }
        }
    }

    /// Where the menu is drawn.
    pub fn display(&self) -> Display {
        self.display
    }

    /// The watchdog's question to the menu's event loop: answered when the loop next turns.
    pub fn liveness_probe(&self) -> crate::daemon::systemd::Probe {
        Box::new(|answer| {
            // An event loop that is gone drops the closure, and with it the answer: no ping.
            let _ = slint::invoke_from_event_loop(move || answer.answer());
        })
    }

    /// Closes the menu and waits for its thread.
    pub fn stop(mut self) {
        // Asked from inside the loop: a quit sent before the loop has started running is ignored
        // by the desktop backend (it belongs to an older run), and then this would wait forever.
        let _ = slint::invoke_from_event_loop(|| {
            let _ = slint::quit_event_loop();
        });
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
