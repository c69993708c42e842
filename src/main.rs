//! `vigild`: reads flags and configuration, sets up logging and the runtime, and runs the daemon. The
//! only place that knows exit codes: 0 after a clean stop, 1 when running failed, 2 for bad flags or
//! a bad configuration.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use tokio_util::sync::CancellationToken;
use tracing_subscriber::Layer;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use vigil::app::{self, AppOptions, LogFilterSetter, Reload};
use vigil::config::BusChoice;
use vigil::config::{self, Config, DEFAULT_STATE_DIR};
use vigil::demo::DemoOptions;
use vigil::gui::MenuFonts;

#[derive(Parser, Debug)]
#[command(
    name = "vigild",
    version,
    about = "Camera-access daemon for network video recorders"
)]
struct Cli {
    /// Configuration file [default: /etc/vigil/vigild.toml, used only if it exists].
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// State directory for the camera registry and its key [default: /var/lib/vigil; in demo mode a
    /// directory under the system temp dir].
    #[arg(long, value_name = "DIR")]
    state_dir: Option<PathBuf>,
    /// Run without any display.
    #[arg(long)]
    headless: bool,
    /// Demo mode: start simulated cameras on loopback and add most of them.
    #[arg(long)]
    demo: bool,
    /// How many simulated cameras demo mode starts.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=250))]
    demo_cameras: u16,
    /// Log filter, overriding the configuration (for example `debug` or `vigil=debug`).
    #[arg(long, value_name = "FILTER")]
    log_level: Option<String>,
    /// Serve D-Bus on the session bus instead of the system bus (development).
    #[arg(long, conflicts_with_all = ["bus_address", "no_dbus"])]
    session_bus: bool,
    /// Serve D-Bus on the bus at this address (tests).
    #[arg(long, value_name = "ADDRESS", conflicts_with = "no_dbus")]
    bus_address: Option<String>,
    /// Do not serve D-Bus at all.
    #[arg(long)]
    no_dbus: bool,
}

fn main() -> ExitCode {
    // Every file vigild creates is private to it.
    // SAFETY: umask only changes this process's file-creation mask.
    unsafe {
        libc::umask(0o077);
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            let _ = error.print();
            return if error.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let (config_path, explicit) = match &cli.config {
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
    if cli.no_dbus {
        settings.dbus.bus = None;
    } else if cli.session_bus {
        settings.dbus.bus = Some(BusChoice::Session);
    } else if let Some(address) = &cli.bus_address {
        match config::parse_bus(address) {
            Ok(Some(bus)) => settings.dbus.bus = Some(bus),
            _ => {
                eprintln!(
                    "vigild: --bus-address: '{address}' is not a D-Bus address such as unix:path=/run/x"
                );
                return ExitCode::from(2);
            }
        }
    } else if cli.demo {
        // The demo serves on the session bus when there is one, and goes without otherwise.
        settings.dbus.bus =
            std::env::var_os("DBUS_SESSION_BUS_ADDRESS").map(|_| BusChoice::Session);
    }
    let log_filter = cli
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
    let set_log_filter: Option<LogFilterSetter> = (cli.log_level.is_none() && rust_log().is_none())
        .then(|| {
            Box::new(move |filter: &str| {
                let parsed = tracing_subscriber::EnvFilter::try_new(filter)
                    .map_err(|e| format!("'{filter}' is not a log filter: {e}"))?;
                filter_handle
                    .reload(parsed)
                    .map_err(|e| format!("cannot change the log filter: {e}"))
            }) as LogFilterSetter
        });
    let state_dir = cli.state_dir.clone().unwrap_or_else(|| {
        if cli.demo {
            // SAFETY: getuid has no preconditions.
            std::env::temp_dir().join(format!("vigil-demo-{}", unsafe { libc::getuid() }))
        } else {
            PathBuf::from(DEFAULT_STATE_DIR)
        }
    });
    let demo = cli.demo.then(|| DemoOptions {
        cameras: usize::from(cli.demo_cameras),
        mail_dir: state_dir.join("demo-mail"),
    });
    // The menu's fonts go on disk before any thread starts (they set the process's fontconfig).
    let _menu_fonts = if cli.headless {
        None
    } else {
        match MenuFonts::install(&std::env::temp_dir()) {
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
        headless: cli.headless,
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
        app::run(options, settings, reload, shutdown).await
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

/// `RUST_LOG`, when set to something.
fn rust_log() -> Option<String> {
    std::env::var("RUST_LOG")
        .ok()
        .filter(|from_env| !from_env.trim().is_empty())
}

type FilterHandle =
    tracing_subscriber::reload::Handle<tracing_subscriber::EnvFilter, tracing_subscriber::Registry>;

/// Logs with structured fields: to the journal when stderr is the journal (vigild runs under systemd),
/// to stderr otherwise. oxvif logs whole SOAP bodies at trace level, and some of those carry
/// passwords (CreateUsers, SetUser), so its trace output is always dropped. Returns the handle that
/// changes the filter on a reload.
fn init_logging(filter: &str) -> Result<FilterHandle, String> {
    let env_filter =
        tracing_subscriber::EnvFilter::try_new(rust_log().as_deref().unwrap_or(filter))
            .map_err(|e| format!("'{filter}' is not a log filter: {e}"))?;
    let (env_filter, handle) = tracing_subscriber::reload::Layer::new(env_filter);
    let no_soap_bodies = tracing_subscriber::filter::filter_fn(|metadata| {
        !(metadata.target().starts_with("oxvif") && *metadata.level() == tracing::Level::TRACE)
    });
    let journal = if vigil::systemd::stderr_is_journal() {
        match tracing_journald::layer() {
            // Fields named as in the code, under one prefix: VIGIL_CAMERA, VIGIL_ERROR, ...
            Ok(journal) => Some(
                journal
                    .with_field_prefix(Some("VIGIL".into()))
                    .with_syslog_identifier("vigild".into())
                    // Syslog's meaning, so `journalctl -p info` shows info and above.
                    .with_priority_mappings(tracing_journald::PriorityMappings {
                        info: tracing_journald::Priority::Informational,
                        debug: tracing_journald::Priority::Debug,
                        ..tracing_journald::PriorityMappings::new()
                    }),
            ),
            Err(error) => {
                eprintln!("vigild: cannot log to the journal ({error}); logging to stderr");
                None
            }
        }
    } else {
        None
    };
    let output = match journal {
        Some(journal) => journal.with_filter(no_soap_bodies).boxed(),
        None => tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .with_filter(no_soap_bodies)
            .boxed(),
    };
    tracing_subscriber::registry()
        .with(env_filter)
        .with(output)
        .try_init()
        .map_err(|e| e.to_string())?;
    Ok(handle)
}

/// SIGTERM and SIGINT stop vigild; SIGHUP asks for a configuration reload.
fn spawn_signal_handler(
    shutdown: CancellationToken,
    reload_requests: tokio::sync::mpsc::UnboundedSender<()>,
) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int), Ok(mut hup)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
        signal(SignalKind::hangup()),
    ) else {
        tracing::error!("cannot install signal handlers");
        return;
    };
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = term.recv() => {
                    tracing::info!("SIGTERM received");
                    break;
                }
                _ = int.recv() => {
                    tracing::info!("SIGINT received");
                    break;
                }
                _ = hup.recv() => {
                    tracing::info!("SIGHUP received: reloading the configuration");
                    let _ = reload_requests.send(());
                }
            }
        }
        shutdown.cancel();
    });
}
