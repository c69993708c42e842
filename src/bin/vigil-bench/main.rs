//! `vigil-bench`: benchmarks that print figures, never pass/fail. Each subcommand ends with one line of
//! `key=value` figures. Build with `--release` for numbers worth reporting.

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;
use vigil::config::{Config, Settings};
use vigil::model::NvrEvent;
use vigil::service::{AddCamera, Nvr};
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
    },
    /// The forget-password flow on loopback: from VerifyCode to the camera re-added and certified.
    Recovery {
        /// Flows to time, each on its own simulated camera.
        #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u16).range(1..=200))]
        runs: u16,
    },
    /// D-Bus call latency: ListCameras and GetManagedObjects with added cameras, against a trivial bus
    /// call (org.freedesktop.DBus.GetId) as the floor, on a private dbus-daemon.
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
}

/// Whose cameras a discovery benchmark finds.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Fleet {
    /// vigil-camsim, on loopback.
    Camsim,
    /// oxvif's mock ONVIF fleet, on a private LAN of two network namespaces.
    Oxvif,
}

mod foreign;
mod gui;

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
                ..
            } => discovery(usize::from(cameras), max_delay_ms, !no_baseline).await,
            Bench::Monitor {
                cameras,
                seconds,
                vigild,
            } => monitor(usize::from(cameras), seconds, vigild).await,
            Bench::Recovery { runs } => recovery(usize::from(runs)).await,
            Bench::Dbus {
                cameras,
                calls,
                vigild,
            } => dbus(usize::from(cameras), calls as usize, vigild).await,
            Bench::Gui { .. } | Bench::GuiFirstFrame | Bench::GuiMemory { .. } => {
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
    Simulator::start(SimConfig {
        count,
        bind: IpAddr::V4(first),
        base_port: 8080,
        address_per_camera: true,
        max_reply_delay: Duration::from_millis(max_delay_ms),
        seed,
        ..SimConfig::default()
    })
    .await
    .map_err(|e| e.to_string())
}

async fn discovery(cameras: usize, max_delay_ms: u64, baseline: bool) -> Result<(), String> {
    let sim = simulator(Ipv4Addr::new(127, 200, 0, 1), cameras, max_delay_ms, 11).await?;
    let state = tempfile::tempdir().map_err(|e| e.to_string())?;
    let shutdown = CancellationToken::new();
    let nvr = start_service(bench_settings(&sim), state.path(), &shutdown).await?;
    let mut events = nvr.subscribe();
    let start = Instant::now();
    let run = nvr
        .refresh_discovery(&[])
        .await
        .map_err(|e| e.to_string())?;
    let mut first_ms = None;
    let mut last_ms = 0.0;
    let mut listed = 0usize;
    while listed < cameras {
        match tokio::time::timeout(Duration::from_secs(30), events.recv()).await {
            Ok(Ok(NvrEvent::DeviceDiscovered { device })) if device.information_complete => {
                let ms = start.elapsed().as_secs_f64() * 1000.0;
                first_ms.get_or_insert(ms);
                last_ms = ms;
                listed += 1;
            }
            Ok(Ok(NvrEvent::DiscoveryFinished { .. })) | Err(_) => break,
            Ok(Ok(_)) => {}
            Ok(Err(e)) => return Err(format!("events: {e}")),
        }
    }
    run.finished().await;
    let identified = nvr
        .discovered_devices()
        .iter()
        .filter(|d| d.information_complete)
        .count();
    shutdown.cancel();
    nvr.stopped().await;
    let mut figures = format!(
        "cameras={cameras} identified={identified} first_ms={:.1} last_ms={last_ms:.1} max_delay_ms={max_delay_ms}",
        first_ms.unwrap_or(0.0)
    );
    if baseline {
        eprintln!(
            "baseline: the common tool pattern, a 1 s fixed probe wait (oxvif probe_unicast), then each camera identified with its own HTTP client"
        );
        let (found, baseline_ms) = fixed_wait_baseline(&sim).await;
        figures.push_str(&format!(
            " baseline_identified={found} baseline_last_ms={baseline_ms:.1} speedup={:.1}",
            baseline_ms / last_ms.max(0.001)
        ));
    }
    sim.shutdown().await;
    println!("{figures}");
    Ok(())
}

/// What existing tools do: wait out a fixed probe window, then identify each camera with a fresh client.
async fn fixed_wait_baseline(sim: &Simulator) -> (usize, f64) {
    let start = Instant::now();
    let mut probes = tokio::task::JoinSet::new();
    for camera in sim.cameras() {
        let ip = camera.identity().wsd_addr.ip();
        probes.spawn(
            async move { oxvif::discovery::probe_unicast(ip, Duration::from_secs(1)).await },
        );
    }
    let mut urls = Vec::new();
    while let Some(Ok(found)) = probes.join_next().await {
        urls.extend(
            found
                .into_iter()
                .filter_map(|d| d.xaddrs.into_iter().next()),
        );
    }
    let mut identify = tokio::task::JoinSet::new();
    for url in urls {
        identify.spawn(async move {
            let client = oxvif::OnvifClient::new(url);
            client.get_system_date_and_time().await.is_ok()
                && client.get_device_info().await.is_ok()
                && client.get_network_interfaces().await.is_ok()
        });
    }
    let mut found = 0;
    while let Some(ok) = identify.join_next().await {
        found += usize::from(ok.unwrap_or(false));
    }
    (found, start.elapsed().as_secs_f64() * 1000.0)
}

/// A private session-type dbus-daemon, stopped on drop.
struct PrivateBus {
    address: String,
    child: std::process::Child,
    _dir: tempfile::TempDir,
}

impl Drop for PrivateBus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn private_bus() -> Result<PrivateBus, String> {
    use std::io::BufRead;
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let mut child = Command::new("dbus-daemon")
        .args(["--session", "--nofork", "--print-address"])
        .arg(format!(
            "--address=unix:path={}",
            dir.path().join("bus").display()
        ))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start dbus-daemon: {e}"))?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let mut address = String::new();
    std::io::BufReader::new(stdout)
        .read_line(&mut address)
        .map_err(|e| e.to_string())?;
    Ok(PrivateBus {
        address: address.trim().to_owned(),
        child,
        _dir: dir,
    })
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

async fn dbus(cameras: usize, calls: usize, vigild: Option<PathBuf>) -> Result<(), String> {
    let vigild = vigild_path(vigild)?;
    let bus = private_bus()?;
    let sim = simulator(Ipv4Addr::new(127, 203, 0, 1), cameras, 0, 14).await?;
    let state = tempfile::tempdir().map_err(|e| e.to_string())?;
    add_all(&sim, state.path()).await?;
    // vigild runs as its own process, as it does on a recorder; this process is the client.
    let config = quiet_config(state.path())?;
    let mut daemon = Command::new(&vigild)
        .args(["--headless", "--bus-address", &bus.address, "--config"])
        .arg(&config)
        .arg("--state-dir")
        .arg(state.path())
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", vigild.display()))?;
    let result = dbus_client(&bus.address, cameras, calls).await;
    let _ = daemon.kill();
    let _ = daemon.wait();
    sim.shutdown().await;
    result
}

async fn dbus_client(address: &str, cameras: usize, calls: usize) -> Result<(), String> {
    let client = zbus::connection::Builder::address(address)
        .build()
        .await
        .map_err(|e| e.to_string())?;
    let bus_proxy = zbus::fdo::DBusProxy::new(&client)
        .await
        .map_err(|e| e.to_string())?;
    for _ in 0..100 {
        let owned = bus_proxy
            .name_has_owner(
                zbus::names::BusName::try_from(vigil::dbus::BUS_NAME).map_err(|e| e.to_string())?,
            )
            .await
            .map_err(|e| e.to_string())?;
        if owned {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let manager = vigil::dbus::proxy::ManagerProxy::new(&client)
        .await
        .map_err(|e| e.to_string())?;
    let objects = zbus::fdo::ObjectManagerProxy::builder(&client)
        .destination(vigil::dbus::BUS_NAME)
        .path(vigil::dbus::MANAGER_PATH)
        .build()
        .await
        .map_err(|e| e.to_string())?;
    // Warm up connections and caches.
    for _ in 0..20 {
        manager.list_cameras().await.map_err(|e| e.to_string())?;
        objects
            .get_managed_objects()
            .await
            .map_err(|e| e.to_string())?;
    }
    let listed = manager
        .list_cameras()
        .await
        .map_err(|e| e.to_string())?
        .len();
    if listed != cameras {
        return Err(format!(
            "ListCameras returned {listed} cameras, expected {cameras}"
        ));
    }
    let mut list_us = Vec::with_capacity(calls);
    let mut managed_us = Vec::with_capacity(calls);
    let mut floor_us = Vec::with_capacity(calls);
    let mut managed_wire_us = Vec::with_capacity(calls);
    let mut managed_bytes = 0;
    for _ in 0..calls {
        let t = Instant::now();
        manager.list_cameras().await.map_err(|e| e.to_string())?;
        list_us.push(t.elapsed().as_secs_f64() * 1e6);
        let t = Instant::now();
        objects
            .get_managed_objects()
            .await
            .map_err(|e| e.to_string())?;
        managed_us.push(t.elapsed().as_secs_f64() * 1e6);
        // The same call without decoding the reply: the bus round trip alone.
        let t = Instant::now();
        let reply = client
            .call_method(
                Some(vigil::dbus::BUS_NAME),
                vigil::dbus::MANAGER_PATH,
                Some("org.freedesktop.DBus.ObjectManager"),
                "GetManagedObjects",
                &(),
            )
            .await
            .map_err(|e| e.to_string())?;
        managed_wire_us.push(t.elapsed().as_secs_f64() * 1e6);
        managed_bytes = reply.data().len();
        let t = Instant::now();
        bus_proxy.get_id().await.map_err(|e| e.to_string())?;
        floor_us.push(t.elapsed().as_secs_f64() * 1e6);
    }
    let mut all: Vec<f64> = list_us.iter().chain(&managed_us).copied().collect();
    for v in [
        &mut all,
        &mut list_us,
        &mut managed_us,
        &mut managed_wire_us,
        &mut floor_us,
    ] {
        v.sort_by(f64::total_cmp);
    }
    let p99 = percentile(&all, 0.99);
    let floor_p99 = percentile(&floor_us, 0.99);
    println!(
        "cameras={cameras} calls={} p50_us={:.0} p99_us={p99:.0} list_p50_us={:.0} list_p99_us={:.0} managed_p50_us={:.0} managed_p99_us={:.0} managed_wire_p50_us={:.0} managed_wire_p99_us={:.0} managed_reply_bytes={managed_bytes} floor_p50_us={:.0} floor_p99_us={floor_p99:.0} p99_over_floor={:.1}",
        all.len(),
        percentile(&all, 0.5),
        percentile(&list_us, 0.5),
        percentile(&list_us, 0.99),
        percentile(&managed_us, 0.5),
        percentile(&managed_us, 0.99),
        percentile(&managed_wire_us, 0.5),
        percentile(&managed_wire_us, 0.99),
        percentile(&floor_us, 0.5),
        p99 / floor_p99.max(1.0)
    );
    Ok(())
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

async fn recovery(runs: usize) -> Result<(), String> {
    let mailbox = Arc::new(vigil::mail::RecordingMailSender::default());
    let sim = Simulator::start(SimConfig {
        count: runs,
        bind: IpAddr::V4(Ipv4Addr::new(127, 202, 0, 1)),
        base_port: 8080,
        address_per_camera: true,
        max_reply_delay: Duration::ZERO,
        seed: 13,
        mail_sender: Some(mailbox.clone()),
        ..SimConfig::default()
    })
    .await
    .map_err(|e| e.to_string())?;
    let state = tempfile::tempdir().map_err(|e| e.to_string())?;
    let shutdown = CancellationToken::new();
    let nvr = start_service(bench_settings(&sim), state.path(), &shutdown).await?;
    nvr.refresh_discovery(&[])
        .await
        .map_err(|e| e.to_string())?
        .finished()
        .await;
    let actor = vigil::model::Actor::System;
    let new_password = "Quiet-Falcon-83";
    let mut timings = Vec::with_capacity(runs);
    for camera in sim.cameras() {
        let key = &camera.identity().endpoint_ref;
        let flow = nvr
            .start_recovery(key, &actor)
            .await
            .map_err(|e| e.to_string())?;
        nvr.send_code(flow.id, &actor)
            .await
            .map_err(|e| e.to_string())?;
        let code = mailbox
            .sent()
            .last()
            .and_then(|m| {
                m.body
                    .split(|c: char| !c.is_ascii_digit())
                    .find(|r| r.len() == 8)
                    .map(str::to_owned)
            })
            .ok_or("no code was emailed")?;
        let start = Instant::now();
        nvr.verify_code(flow.id, &code, &actor)
            .await
            .map_err(|e| e.to_string())?;
        let done = nvr
            .complete_reset(flow.id, new_password, new_password, &actor)
            .await
            .map_err(|e| e.to_string())?;
        let elapsed = start.elapsed().as_secs_f64() * 1000.0;
        let added = nvr
            .added_camera(done.result_camera.ok_or("not added")?)
            .map_err(|e| e.to_string())?;
        if !added.status.certified() {
            return Err("the re-added camera is not certified".into());
        }
        timings.push(elapsed);
    }
    shutdown.cancel();
    nvr.stopped().await;
    sim.shutdown().await;
    timings.sort_by(f64::total_cmp);
    let median = timings[timings.len() / 2];
    let max = timings.last().copied().unwrap_or(0.0);
    println!("runs={runs} verify_to_certified_ms={median:.1} max_ms={max:.1}");
    Ok(())
}

async fn monitor(cameras: usize, seconds: u64, vigild: Option<PathBuf>) -> Result<(), String> {
    let vigild = vigild_path(vigild)?;
    let sim = simulator(Ipv4Addr::new(127, 201, 0, 1), cameras, 0, 12).await?;
    let state = tempfile::tempdir().map_err(|e| e.to_string())?;
    add_all(&sim, state.path()).await?;
    let config = quiet_config(state.path())?;
    let mut child = Command::new(&vigild)
        .args(["--headless", "--no-dbus", "--config"])
        .arg(&config)
        .arg("--state-dir")
        .arg(state.path())
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", vigild.display()))?;
    let pid = child.id();
    // Let it load and settle through its first round of checks before measuring.
    tokio::time::sleep(Duration::from_secs(12)).await;
    let logins_before: u64 = sim
        .cameras()
        .iter()
        .map(|c| c.stats().successful_logins)
        .sum();
    let cpu_before = cpu_ticks(pid)?;
    let start = Instant::now();
    let mut peak_rss_kb = 0;
    while start.elapsed() < Duration::from_secs(seconds) {
        tokio::time::sleep(Duration::from_millis(500)).await;
        peak_rss_kb = peak_rss_kb.max(rss_kb(pid)?);
    }
    let cpu_after = cpu_ticks(pid)?;
    let elapsed = start.elapsed().as_secs_f64();
    let rss_end_kb = rss_kb(pid)?;
    let logins_after: u64 = sim
        .cameras()
        .iter()
        .map(|c| c.stats().successful_logins)
        .sum();
    let _ = child.kill();
    let _ = child.wait();
    sim.shutdown().await;
    // SAFETY: sysconf has no preconditions.
    let ticks_per_sec = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    let cpu_pct = (cpu_after - cpu_before) as f64 / ticks_per_sec / elapsed * 100.0;
    println!(
        "cameras={cameras} seconds={seconds} checks={} cpu_pct={cpu_pct:.2} rss_mb={:.1} peak_rss_mb={:.1}",
        logins_after - logins_before,
        rss_end_kb as f64 / 1024.0,
        peak_rss_kb as f64 / 1024.0
    );
    Ok(())
}

/// Adds every simulated camera through the service, then stops it, leaving a populated registry.
async fn add_all(sim: &Simulator, state: &Path) -> Result<(), String> {
    let shutdown = CancellationToken::new();
    let nvr = start_service(bench_settings(sim), state, &shutdown).await?;
    for camera in sim.cameras() {
        let addr = camera.identity().http_addr;
        nvr.add_camera(AddCamera {
            host: addr.ip().to_string(),
            port: addr.port(),
            username: "admin".into(),
            password: SimConfig::default().admin_password,
        })
        .await
        .map_err(|e| format!("adding {addr}: {e}"))?;
    }
    shutdown.cancel();
    nvr.stopped().await;
    Ok(())
}

/// utime + stime of a process, in clock ticks.
fn cpu_ticks(pid: u32) -> Result<u64, String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).map_err(|e| e.to_string())?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let after = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .ok_or("bad /proc stat")?;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let utime: u64 = fields
        .get(11)
        .and_then(|f| f.parse().ok())
        .ok_or("no utime")?;
    let stime: u64 = fields
        .get(12)
        .and_then(|f| f.parse().ok())
        .ok_or("no stime")?;
    Ok(utime + stime)
}

/// Resident set size, kB.
fn rss_kb(pid: u32) -> Result<u64, String> {
    let status =
        std::fs::read_to_string(format!("/proc/{pid}/status")).map_err(|e| e.to_string())?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| "no VmRSS".to_owned())
}
