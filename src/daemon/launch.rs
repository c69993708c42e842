//! From the command line to a running daemon: reads the configuration (bad input exits 2 with the key
//! and the problem), chooses the bus, starts logging, picks the state directory, installs the menu's
//! fonts, builds the runtime and runs until a stop signal. The exit codes are decided here: 0 after a
//! clean stop, 1 when running failed, 2 for bad flags or a bad configuration.

use std::path::PathBuf;
use std::process::ExitCode;

use tokio_util::sync::CancellationToken;

use super::demo::DemoOptions;
use super::logging::{init_logging, rust_log};
use super::reload::{LogFilterSetter, Reload};
use super::run::{self, AppOptions};
use super::signals::spawn_signal_handler;
use crate::config::{self, BusChoice, Config, DEFAULT_STATE_DIR};

/// What the command line asked for.
#[derive(Debug, Clone, Default)]
pub struct Launch {
    /// The configuration file, when named (then it must exist).
    pub config: Option<PathBuf>,
    /// The state directory, when named.
    pub state_dir: Option<PathBuf>,
    /// Run without any display.
    pub headless: bool,
    /// Demo mode.
    pub demo: bool,
    /// How many simulated cameras demo mode starts.
    pub demo_cameras: u16,
    /// A log filter that overrides the file's.
    pub log_level: Option<String>,
    /// Serve on the session bus.
    pub session_bus: bool,
    /// Serve on the bus at this address.
    pub bus_address: Option<String>,
    /// Serve no D-Bus at all.
    pub no_dbus: bool,
}

/// Runs vigild as `launch` asks, until it is stopped; the process's exit code.
pub fn launch(launch: Launch) -> ExitCode {
    let (config_path, explicit) = match &launch.config {
        Some(path) => (path.clone(), true),
        None => (config::default_config_path(), false),
    };
    let source_name = config_path.display().to_string();
    let (config, mut settings) = match Config::load(&config_path, explicit)
        .and_then(|c| c.resolve(&source_name).map(|settings| (c, settings)))
    {
        Ok(loaded) => loaded,
        Err(error) => {
            eprintln!("vigild: bad configuration: {error}");
            return ExitCode::from(2);
        }
    };
    if launch.no_dbus {
        settings.dbus.bus = None;
    } else if launch.session_bus {
        settings.dbus.bus = Some(BusChoice::Session);
    } else if let Some(address) = &launch.bus_address {
        match config::parse_bus(address) {
            Ok(Some(bus)) => settings.dbus.bus = Some(bus),
            _ => {
                eprintln!(
                    "vigild: --bus-address: '{address}' is not a D-Bus address such as unix:path=/run/x"
                );
                return ExitCode::from(2);
            }
        }
    } else if launch.demo {
        // The demo serves on the session bus when there is one, and goes without otherwise.
        settings.dbus.bus =
            std::env::var_os("DBUS_SESSION_BUS_ADDRESS").map(|_| BusChoice::Session);
    }
    let log_filter = launch
        .log_level
        .clone()
        .unwrap_or_else(|| settings.log_level.clone());
    let filter_handle = match init_logging(&log_filter) {
        Ok(handle) => handle,
        Err(problem) => {
            eprintln!("vigild: --log-level: {problem}");
            return ExitCode::from(2);
        }
    };
    // The file's log level follows a reload unless the command line or RUST_LOG fixed the filter.
    let set_log_filter: Option<LogFilterSetter> =
        (launch.log_level.is_none() && rust_log().is_none()).then(|| {
            Box::new(move |filter: &str| {
                let parsed = tracing_subscriber::EnvFilter::try_new(filter)
                    .map_err(|e| format!("'{filter}' is not a log filter: {e}"))?;
                filter_handle
                    .reload(parsed)
                    .map_err(|e| format!("cannot change the log filter: {e}"))
            }) as LogFilterSetter
        });
    let state_dir = launch.state_dir.clone().unwrap_or_else(|| {
        if launch.demo {
            // SAFETY: getuid has no preconditions.
            std::env::temp_dir().join(format!("vigil-demo-{}", unsafe { libc::getuid() }))
        } else {
            PathBuf::from(DEFAULT_STATE_DIR)
        }
    });
    let demo = launch.demo.then(|| DemoOptions {
        cameras: usize::from(launch.demo_cameras),
        mail_dir: state_dir.join("demo-mail"),
        control_socket: state_dir.join("demo-cameras.sock"),
    });
    // The menu's fonts go on disk before any thread starts (they set the process's fontconfig).
    #[cfg(feature = "gui")]
    let _menu_fonts = if launch.headless {
        None
    } else {
        match crate::gui::MenuFonts::install(&std::env::temp_dir()) {
            Ok(fonts) => Some(fonts),
            Err(error) => {
                tracing::warn!(%error, "the on-screen menu may lack fonts");
                None
            }
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("vigild: cannot start the async runtime: {error}");
            return ExitCode::from(1);
        }
    };
    let options = AppOptions {
        state_dir,
        headless: launch.headless,
        demo,
    };
    let result = runtime.block_on(async {
        let shutdown = CancellationToken::new();
        let (reload_requests, requests) = tokio::sync::mpsc::unbounded_channel();
        spawn_signal_handler(shutdown.clone(), reload_requests);
        let reload = Reload {
            config_path,
            explicit,
            running: config,
            requests,
            set_log_filter,
        };
        run::run(options, settings, reload, shutdown).await
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, "vigild failed");
            eprintln!("vigild: {error}");
            ExitCode::from(1)
        }
    }
}
