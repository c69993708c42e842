//! `vigild`: reads the flags and hands them to [`vigil::daemon::launch`], which runs the daemon and
//! decides the exit code (0 after a clean stop, 1 when running failed, 2 for bad flags or a bad
//! configuration).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

use vigil::daemon::{Launch, launch};

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
    launch(Launch {
        config: cli.config,
        state_dir: cli.state_dir,
        headless: cli.headless,
        demo: cli.demo,
        demo_cameras: cli.demo_cameras,
        log_level: cli.log_level,
        session_bus: cli.session_bus,
        bus_address: cli.bus_address,
        no_dbus: cli.no_dbus,
    })
}
