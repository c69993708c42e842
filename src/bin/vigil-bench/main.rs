//! `vigil-bench`: benchmarks that print figures, never pass/fail. Each subcommand ends with one line of
//! `key=value` figures. Build with `--release` for numbers worth reporting.

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;
use vigil::config::{Config, Settings};
use vigil::service::{AddCamera, Nvr};
use vigil::sim::persona::PersonaMix;
use vigil::sim::{SimConfig, Simulator};

#[derive(Parser, Debug)]
#[command(
    name = "vigil-bench",
    version,
    about = "Vigil benchmarks; each prints key=value figures"
)]
struct Cli {
    #[command(subcommand)]
    bench: Bench,
}

#[derive(Subcommand, Debug)]
enum Bench {
    /// Discovery of simulated cameras: probe to the last camera listed with its device information,
    /// against a fixed-wait, client-per-camera baseline run in the same command. `--fleet camsim`
    /// probes vigil-camsim on loopback by unicast; `--fleet oxvif` multicasts to oxvif's mock fleet
    /// (cameras written by others, WS-Security required) on a private LAN of two network namespaces,
    /// which needs root.
    Discovery {
        /// Simulated cameras (at most 256 with the oxvif fleet).
        #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u16).range(1..=1000))]
        cameras: u16,
        /// Whose cameras: vigil-camsim's, or oxvif's mock fleet.
        #[arg(long, value_enum, default_value_t = Fleet::Camsim)]
        fleet: Fleet,
        /// The oxvif fleet runner [default: examples/oxvif-fleet next to this binary; `cargo build
        /// --examples` builds it].
        #[arg(long)]
        fleet_bin: Option<PathBuf>,
        /// The cameras' largest random reply delay (APP_MAX_DELAY), milliseconds.
        #[arg(long, default_value_t = 500)]
        max_delay_ms: u64,
        /// Skip the baseline.
        #[arg(long)]
        no_baseline: bool,
        /// Which vendor's cameras vigil-camsim plays: vigil, onvif, hikvision (ONVIF off: found by
        /// SADP only), dahua (DHIP and ONVIF), or mixed (each in turn).
        #[arg(long, default_value = "vigil", value_parser = vigil::sim::persona::PersonaMix::parse)]
        persona: vigil::sim::persona::PersonaMix,
    },
    /// The forget-password flow on loopback: from VerifyCode to the camera re-added and certified.
    Recovery {
        /// Flows to time, each on its own simulated camera.
        #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u16).range(1..=200))]
        runs: u16,
    },
    /// D-Bus call latency: ListCameras and GetManagedObjects with added cameras, against the same-size
    /// floor (the same replies from a trivial peer on the same bus) and a trivial bus call
    /// (org.freedesktop.DBus.GetId), on a private dbus-daemon. The last line has the figures.
    Dbus {
        /// Simulated cameras, all added.
        #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u16).range(1..=1000))]
        cameras: u16,
        /// Calls to time of each kind.
        #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(10..=1_000_000))]
        calls: u32,
        /// The vigild binary [default: next to this one].
        #[arg(long)]
        vigild: Option<PathBuf>,
        /// Measure on this bus (for example the system bus,
        /// unix:path=/run/dbus/system_bus_socket, whose policy must let this process own
        /// org.vigil.Nvr1 and org.vigil.BenchFloor) instead of a private dbus-daemon.
        #[arg(long)]
        bus_address: Option<String>,
    },
    /// CPU and memory of a headless vigild process monitoring added simulated cameras.
    Monitor {
        /// Simulated cameras, all added.
        #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u16).range(1..=1000))]
        cameras: u16,
        /// How long to measure, seconds.
        #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=3600))]
        seconds: u64,
        /// The vigild binary [default: next to this one].
        #[arg(long)]
        vigild: Option<PathBuf>,
    },
    /// The on-screen menu in memory at 1920x1080 with the software renderer: cold start to the first
    /// frame, a full repaint of Device Access with discovered cameras, and memory with added cameras.
    Gui {
        /// Discovered cameras listed for the repaint figure.
        #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u16).range(1..=1000))]
        discovered: u16,
        /// Added cameras for the memory figure.
        #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u16).range(1..=1000))]
        added: u16,
        /// Repaints to time.
        #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u16).range(1..=10000))]
        repaints: u16,
        /// How long the memory process runs before it is measured, seconds.
        #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=600))]
        seconds: u64,
    },
    /// vigild under hostile cameras: good simulated cameras added and monitored while slow,
    /// oversized, XML-bomb and malformed cameras and WS-Discovery, SADP and DHIP floods work on it, all
    /// on loopback (127.81.0.0/16). Peak memory and CPU, the memory slope, ListCameras latency on a
    /// private dbus-daemon, the menu's repaint (drawn in memory in this process over the same service
    /// and the same hostile cameras), and whether the good cameras' statuses stayed right. The last
    /// line has the figures.
    Soak {
        /// How long the hostile cameras work, seconds (after a 15 s quiet phase for the baselines).
        #[arg(long, default_value_t = 1800, value_parser = clap::value_parser!(u64).range(10..=86_400))]
        seconds: u64,
        /// Good simulated cameras, all added.
        #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u16).range(1..=240))]
        cameras: u16,
        /// The vigild binary [default: next to this one].
        #[arg(long)]
        vigild: Option<PathBuf>,
    },
    /// (Internal) the fresh process of the first-frame figure.
    #[command(hide = true)]
    GuiFirstFrame,
    /// (Internal) the process of the memory figure.
    #[command(hide = true)]
    GuiMemory {
        #[arg(long)]
        state_dir: PathBuf,
        #[arg(long)]
        cameras: usize,
        #[arg(long)]
        seconds: u64,
    },
    /// kill -9 of vigild at random moments of camera adds, edits and removes, adds of several at once,
    /// forget-password resets, activations and the account's changes, each followed by checks of the
    /// state directory (integrity, nothing acknowledged lost or half-written, every credential
    /// decrypts, the audit chain) and of vigild started again on it. Prints its counts and a last line
    /// of figures; fails when a check failed.
    Torture {
        /// How many times to kill.
        #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=100_000))]
        kills: u32,
        /// The seed of every random choice (phase order, kill moments, operations).
        #[arg(long, default_value_t = 17)]
        seed: u64,
        /// The vigild binary [default: next to this one].
        #[arg(long)]
        vigild: Option<PathBuf>,
        /// The simulated cameras' addresses: 127.79.BLOCK.1 onwards.
        #[arg(long, default_value_t = 0)]
        block: u8,
        /// Keep the working directory (state, vigild's log) and say where.
        #[arg(long)]
        keep: bool,
    },
    /// (Internal) the torture's menu worker: the account's menu-only changes on a state directory.
    #[command(hide = true)]
    TortureMenu {
        #[arg(long)]
        state_dir: PathBuf,
        #[arg(long)]
        paper: PathBuf,
    },
}

/// Whose cameras a discovery benchmark finds.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Fleet {
    /// vigil-camsim, on loopback.
    Camsim,
    /// oxvif's mock ONVIF fleet, on a private LAN of two network namespaces.
    Oxvif,
}

mod dbus;
mod discovery;
mod foreign;
mod gui;
mod monitor;
mod recovery;
mod soak;
mod torture;

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Bench::Discovery {
        cameras,
        fleet: Fleet::Oxvif,
        fleet_bin,
        no_baseline,
        ..
    } = &cli.bench
    {
        return match foreign::discovery(usize::from(*cameras), fleet_bin.clone(), !no_baseline) {
            Ok(()) => ExitCode::SUCCESS,
            Err(problem) => {
                eprintln!("vigil-bench: {problem}");
                ExitCode::from(1)
            }
        };
    }
    // The GUI benchmarks drive Slint on this thread and run the service on runtimes of their own.
    let gui_result = match &cli.bench {
        Bench::Gui {
            discovered,
            added,
            repaints,
            seconds,
        } => Some(gui::run(
            usize::from(*discovered),
            usize::from(*added),
            usize::from(*repaints),
            *seconds,
        )),
        Bench::GuiFirstFrame => Some(gui::first_frame_child()),
        Bench::GuiMemory {
            state_dir,
            cameras,
            seconds,
        } => Some(gui::memory_child(state_dir, *cameras, *seconds)),
        Bench::Soak {
            seconds,
            cameras,
            vigild,
        } => Some(soak::run(*seconds, usize::from(*cameras), vigild.clone())),
        _ => None,
    };
    if let Some(result) = gui_result {
        return match result {
            Ok(()) => ExitCode::SUCCESS,
            Err(problem) => {
                eprintln!("vigil-bench: {problem}");
                ExitCode::from(1)
            }
        };
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("vigil-bench: {e}");
            return ExitCode::from(1);
        }
    };
    let result = runtime.block_on(async {
        match cli.bench {
            Bench::Discovery {
                cameras,
                max_delay_ms,
                no_baseline,
                persona,
                ..
            } => {
                discovery::discovery(usize::from(cameras), max_delay_ms, !no_baseline, persona)
                    .await
            }
            Bench::Monitor {
                cameras,
                seconds,
                vigild,
            } => monitor::monitor(usize::from(cameras), seconds, vigild).await,
            Bench::Recovery { runs } => recovery::recovery(usize::from(runs)).await,
            Bench::Torture {
                kills,
                seed,
                vigild,
                block,
                keep,
            } => {
                torture::torture(torture::Options {
                    kills,
                    seed,
                    vigild,
                    block,
                    keep,
                })
                .await
            }
            Bench::TortureMenu { state_dir, paper } => {
                torture::menu::worker(&state_dir, &paper).await
            }
            Bench::Dbus {
                cameras,
                calls,
                vigild,
                bus_address,
            } => dbus::dbus(usize::from(cameras), calls as usize, vigild, bus_address).await,
            Bench::Gui { .. }
            | Bench::GuiFirstFrame
            | Bench::GuiMemory { .. }
            | Bench::Soak { .. } => {
                unreachable!("handled before the runtime")
            }
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(problem) => {
            eprintln!("vigil-bench: {problem}");
            ExitCode::from(1)
        }
    }
}

/// Settings that send nothing by themselves: no multicast, no announcements, no periodic discovery.
fn quiet_settings() -> Settings {
    let mut settings = Config::default()
        .resolve("bench")
        .expect("defaults are valid");
    settings.discovery.multicast = false;
    settings.discovery.announcement_address = None;
    settings.discovery.on_start = false;
    settings.discovery.refresh_interval = None;
    // The fleets are bigger than a recorder's default channel count.
    settings.channels = 256;
    settings
}

/// Starts the service with `settings` on a registry in `state`, on the system clock.
async fn start_service(
    settings: Settings,
    state: &Path,
    shutdown: &CancellationToken,
) -> Result<Nvr, String> {
    let store = Arc::new(vigil::store::Store::open(state).map_err(|e| e.to_string())?);
    Nvr::start(
        settings,
        store,
        Arc::new(vigil::clock::SystemClock),
        shutdown.clone(),
    )
    .await
    .map_err(|e| e.to_string())
}

/// Quiet settings whose discovery probes the simulated cameras by unicast.
fn bench_settings(sim: &Simulator) -> Settings {
    let mut settings = quiet_settings();
    settings.discovery.unicast_targets = sim
        .cameras()
        .iter()
        .map(|c| c.identity().wsd_addr)
        .collect();
    settings
}

async fn simulator(
    first: Ipv4Addr,
    count: usize,
    max_delay_ms: u64,
    seed: u16,
) -> Result<Simulator, String> {
    simulator_playing(first, count, max_delay_ms, seed, PersonaMix::default()).await
}

/// As [`simulator`], the cameras playing `persona`.
async fn simulator_playing(
    first: Ipv4Addr,
    count: usize,
    max_delay_ms: u64,
    seed: u16,
    persona: PersonaMix,
) -> Result<Simulator, String> {
    Simulator::start(SimConfig {
        count,
        bind: IpAddr::V4(first),
        base_port: 8080,
        address_per_camera: true,
        max_reply_delay: Duration::from_millis(max_delay_ms),
        seed,
        persona,
        ..SimConfig::default()
    })
    .await
    .map_err(|e| e.to_string())
}

/// A vigild configuration in `dir` that leaves discovery alone, so only the added cameras are busy.
fn quiet_config(dir: &std::path::Path) -> Result<PathBuf, String> {
    let config = dir.join("bench.toml");
    std::fs::write(
        &config,
        "[discovery]\nmulticast = false\nlisten_announcements = false\non_start = false\nrefresh_interval_secs = 0\n",
    )
    .map_err(|e| e.to_string())?;
    Ok(config)
}

fn vigild_path(given: Option<PathBuf>) -> Result<PathBuf, String> {
    let path = match given {
        Some(path) => path,
        None => std::env::current_exe()
            .map_err(|e| e.to_string())?
            .with_file_name("vigild"),
    };
    if path.exists() {
        Ok(path)
    } else {
        Err(format!(
            "{} not found; build it or pass --vigild",
            path.display()
        ))
    }
}

/// Adds every simulated camera through the service, then stops it, leaving a populated registry.
pub(crate) async fn add_all(sim: &Simulator, state: &Path) -> Result<(), String> {
    let shutdown = CancellationToken::new();
    let nvr = start_service(bench_settings(sim), state, &shutdown).await?;
    for camera in sim.cameras() {
        let addr = camera.identity().http_addr;
        nvr.add_camera(
            AddCamera {
                host: addr.ip().to_string(),
                port: addr.port(),
                username: "admin".into(),
                password: SimConfig::default().admin_password,
            },
            &vigil::model::Caller::from(vigil::model::Actor::System),
        )
        .await
        .map_err(|e| format!("adding {addr}: {e}"))?;
    }
    shutdown.cancel();
    nvr.stopped().await;
    Ok(())
}

/// Resident set size, kB.
pub(crate) fn rss_kb(pid: u32) -> Result<u64, String> {
    let status =
        std::fs::read_to_string(format!("/proc/{pid}/status")).map_err(|e| e.to_string())?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| "no VmRSS".to_owned())
}
