//! `vigil-bench soak`: vigild, as its own headless process on a private dbus-daemon, monitoring good
//! simulated cameras while hostile cameras work on it for `--seconds` (30 minutes by default): slow,
//! oversized, XML-bomb and malformed cameras (added ones that turn so, and poisoned ones that
//! discovery is lured to), and hosts flooding WS-Discovery, SADP and DHIP. A quiet phase first
//! gives the baselines. The last line has the figures.
//!
//! The menu's repaint is timed in this process: vigild here runs headless (a recorder's menu needs its
//! HDMI output), so the same service with the same settings runs here with the menu drawn by Slint's
//! software renderer into memory at 1920×1080, over its own good cameras and the same turncoats,
//! flooded and lured by the same hostile hosts. Each second Device Access (the added cameras, with
//! their statuses) is drawn again in full and timed.
//!
//! Layout: `soak/fleet.rs` has the cameras and the hostile hosts, `soak/watch.rs` what is measured.

mod fleet;
mod watch;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use slint::platform::software_renderer::RepaintBufferType;
use slint::{ComponentHandle, Model};
use tokio_util::sync::CancellationToken;
use vigil::gui::ui::DeviceAccess;
use vigil::sim::hostile::{Bounds, HostileStats};

use super::dbus::percentile;
use super::gui::Screenful;
use fleet::{HostileCounts, Turncoats};
use watch::{Expect, Wavering};

/// The quiet phase before the hostile cameras start: the baselines.
const QUIET: Duration = Duration::from_secs(15);
/// How long after the hostility began a turncoat must be found out (at most three checks with
/// back-off, each up to the 5 s request timeout).
const GRACE: Duration = Duration::from_secs(30);

/// vigild, killed when dropped.
struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The menu's repaint and update times, milliseconds.
#[derive(Default)]
struct MenuFigures {
    quiet_ms: Vec<f64>,
    soak_ms: Vec<f64>,
    update_ms: Vec<f64>,
    jobs: u64,
}

/// Drives the menu until `end`: applies what the service posted every 50 ms, and draws Device Access
/// again in full five times a second while quiet, once a second during the soak, timing each.
fn drive_menu(screen: &mut Screenful, soak_start: Instant, end: Instant) -> MenuFigures {
    let mut figures = MenuFigures::default();
    let mut next_paint = Instant::now();
    while Instant::now() < end {
        let began = Instant::now();
        let jobs = screen.apply_posted(10_000);
        if jobs > 0 {
            figures.jobs += jobs;
            figures
                .update_ms
                .push(began.elapsed().as_secs_f64() * 1000.0);
        }
        let now = Instant::now();
        if now >= next_paint {
            if let Some(took) = screen.repaint() {
                let ms = took.as_secs_f64() * 1000.0;
                if now < soak_start {
                    figures.quiet_ms.push(ms);
                } else {
                    figures.soak_ms.push(ms);
                }
            }
            next_paint = now
                + if now < soak_start {
                    Duration::from_millis(200)
                } else {
                    Duration::from_secs(1)
                };
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    figures
}

/// Waits until vigild owns its bus name, for at most 30 s.
async fn wait_for_vigild(client: &zbus::Connection) -> Result<(), String> {
    let bus = zbus::fdo::DBusProxy::new(client)
        .await
        .map_err(|e| e.to_string())?;
    let name = zbus::names::BusName::try_from(vigil::dbus::BUS_NAME).map_err(|e| e.to_string())?;
    for _ in 0..300 {
        if bus
            .name_has_owner(name.clone())
            .await
            .map_err(|e| e.to_string())?
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err("vigild did not take its bus name in 30 s".into())
}

fn sorted(mut v: Vec<f64>) -> Vec<f64> {
    v.sort_by(f64::total_cmp);
    v
}

fn p(v: &[f64], q: f64) -> f64 {
    if v.is_empty() { 0.0 } else { percentile(v, q) }
}

/// The soak; prints its figures.
pub fn run(seconds: u64, cameras: usize, vigild: Option<PathBuf>) -> Result<(), String> {
    let vigild = super::vigild_path(vigild)?;
    let fonts = vigil::gui::MenuFonts::install(&std::env::temp_dir()).map_err(|e| e.to_string())?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let bus = super::dbus::private_bus()?;
    let stop = CancellationToken::new();
    // The hostile peers stop by themselves a minute after the soak should have ended at the latest.
    let bounds = Bounds::lasting(QUIET + Duration::from_secs(seconds + 180), stop.clone());
    let vigild_dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let menu_dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let vigild_config = fleet::config_text(fleet::VIGILD_FLEET, cameras, fleet::VIGILD_LISTENER);
    let menu_config = fleet::config_text(fleet::MENU_FLEET, cameras, fleet::MENU_LISTENER);
    let (vigild_fleet, menu_fleet, turncoats) = runtime.block_on(async {
        let vigild_fleet = fleet::good_fleet(fleet::VIGILD_FLEET, cameras, 81).await?;
        let menu_fleet = fleet::good_fleet(fleet::MENU_FLEET, cameras, 82).await?;
        let turncoats = Turncoats::start(&bounds).await?;
        let settings = fleet::settings(&vigild_config)?;
        fleet::register(
            &settings,
            vigild_dir.path(),
            &vigild_fleet,
            &turncoats.addresses(),
        )
        .await?;
        let settings = fleet::settings(&menu_config)?;
        fleet::register(
            &settings,
            menu_dir.path(),
            &menu_fleet,
            &turncoats.addresses(),
        )
        .await?;
        Ok::<_, String>((Arc::new(vigild_fleet), menu_fleet, turncoats))
    })?;
    let config_path = vigild_dir.path().join("soak.toml");
    std::fs::write(&config_path, &vigild_config).map_err(|e| e.to_string())?;
    let log_path = vigild_dir.path().join("vigild.log");
    let log = std::fs::File::create(&log_path).map_err(|e| e.to_string())?;
    let daemon = Daemon(
        Command::new(&vigild)
            .args(["--headless", "--bus-address", &bus.address, "--config"])
            .arg(&config_path)
            .arg("--state-dir")
            .arg(vigild_dir.path())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", vigild.display()))?,
    );
    let pid = daemon.0.id();
    runtime.block_on(async {
        let client = zbus::connection::Builder::address(bus.address.as_str())
            .build()
            .await
            .map_err(|e| e.to_string())?;
        wait_for_vigild(&client).await
    })?;

    // The menu, over the same service in this process.
    let menu_shutdown = CancellationToken::new();
    let menu_service = runtime.block_on(super::start_service(
        fleet::settings(&menu_config)?,
        menu_dir.path(),
        &menu_shutdown,
    ))?;
    let mut screen = Screenful::open(
        menu_service,
        runtime.handle().clone(),
        RepaintBufferType::NewBuffer,
    )?;
    let listed = cameras + turncoats.all.len();
    screen.settle(Duration::from_secs(60), |app| {
        app.global::<DeviceAccess>().get_added().row_count() == listed
    })?;
    screen.show_device_access(0);

    // What is expected of each camera vigild has.
    let mut expected: BTreeMap<String, Expect> = vigild_fleet
        .cameras()
        .iter()
        .map(|c| (c.identity().http_addr.to_string(), Expect::Good))
        .collect();
    for turncoat in turncoats.steady() {
        expected.insert(
            turncoat.addr().to_string(),
            Expect::FoundOut {
                kind: turncoat.poison().as_str(),
            },
        );
    }
    expected.insert(turncoats.wavering().addr().to_string(), Expect::Wavering);
    let wavering = Wavering::for_soak(seconds);
    let victims: Vec<String> = vigild_fleet
        .cameras()
        .iter()
        .chain(menu_fleet.cameras())
        .map(|c| c.identity().endpoint_ref.clone())
        .collect();

    let start = Instant::now();
    let soak_start = start + QUIET;
    let end = soak_start + Duration::from_secs(seconds);
    let (t_start, t_soak, t_end) = (
        tokio::time::Instant::from_std(start),
        tokio::time::Instant::from_std(soak_start),
        tokio::time::Instant::from_std(end),
    );
    let counts = HostileCounts::default();
    let process = runtime.spawn(watch::sample_process(pid, t_soak, t_end));
    let watched = watch::watch_bus_apart(
        bus.address.clone(),
        watch::BusWatch {
            expected,
            wavering,
            start: t_start,
            soak_start: t_soak,
            end: t_end,
            grace: GRACE,
        },
    );
    let checks = runtime.spawn(watch::watch_checks(vigild_fleet.clone(), t_start, t_end));
    let hostility = {
        let bounds = bounds.clone();
        let wsd = counts.wsd.clone();
        let sadp = counts.sadp.clone();
        let dhip = counts.dhip.clone();
        let announcements = counts.announcements.clone();
        let poison = counts.poison.clone();
        let turncoats = Arc::new(turncoats);
        let keep = turncoats.clone();
        let task = runtime.spawn(async move {
            tokio::time::sleep_until(t_soak).await;
            let counts = HostileCounts {
                wsd,
                sadp,
                dhip,
                announcements,
                poison,
            };
            fleet::start_hostile_hosts(
                victims,
                fleet::VIGILD_FLEET,
                vec![fleet::VIGILD_LISTENER, fleet::MENU_LISTENER],
                &bounds,
                &counts,
            )
            .await?;
            for turncoat in turncoats.steady() {
                turncoat.turn();
            }
            while tokio::time::Instant::now() < t_end && !bounds.over() {
                let (_, turned) = wavering.phase(t_soak.elapsed());
                if turned {
                    turncoats.wavering().turn();
                } else {
                    turncoats.wavering().mend();
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            Ok::<_, String>(())
        });
        (task, keep)
    };

    let menu = drive_menu(&mut screen, soak_start, end);

    let bus_figures = watched
        .join()
        .map_err(|_| "the D-Bus watcher panicked".to_owned())??;
    let (samples, (stalls, stalled), hostile) = runtime.block_on(async {
        let samples = process.await.map_err(|e| e.to_string())?;
        let stalls = checks.await.map_err(|e| e.to_string())?;
        let hostile = hostility.0.await.map_err(|e| e.to_string())?;
        Ok::<_, String>((samples, stalls, hostile))
    })?;
    hostile?;
    let alive = samples.len() as u64 >= seconds.saturating_sub(2);
    stop.cancel();
    menu_shutdown.cancel();
    drop(screen);
    drop(daemon);
    runtime.block_on(async {
        vigild_fleet.shutdown().await;
        menu_fleet.shutdown().await;
        hostility.1.cameras.shutdown().await;
    });
    drop(fonts);

    report(
        seconds,
        cameras,
        alive,
        &samples,
        bus_figures,
        menu,
        (stalls, stalled),
        &counts,
        &hostility.1.stats,
        &log_path,
    );
    Ok(())
}

/// vigild's log lines grouped by level, target and message (up to the first field), most frequent
/// first; at most eight.
fn log_summary(log: &str) -> Vec<(String, usize)> {
    let mut groups: BTreeMap<String, usize> = BTreeMap::new();
    for line in log.lines() {
        let words: Vec<&str> = line
            .split_whitespace()
            .skip(1)
            .take_while(|w| !w.contains('='))
            .collect();
        *groups.entry(words.join(" ")).or_default() += 1;
    }
    let mut groups: Vec<(String, usize)> = groups.into_iter().collect();
    groups.sort_by_key(|g| std::cmp::Reverse(g.1));
    groups.truncate(8);
    groups
}

/// Prints what was found, then the figures line.
#[allow(clippy::too_many_arguments)]
fn report(
    seconds: u64,
    cameras: usize,
    alive: bool,
    samples: &[watch::ProcessSample],
    bus: watch::BusFigures,
    menu: MenuFigures,
    (stalls, stalled): (u64, std::collections::BTreeSet<std::net::SocketAddr>),
    counts: &HostileCounts,
    turncoat_stats: &HostileStats,
    log_path: &std::path::Path,
) {
    // SAFETY: sysconf has no preconditions.
    let ticks_per_sec = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    let cpu = |a: &watch::ProcessSample, b: &watch::ProcessSample| {
        let wall = (b.at - a.at).max(1e-9);
        (b.cpu_ticks.saturating_sub(a.cpu_ticks)) as f64 / ticks_per_sec / wall * 100.0
    };
    let (first, last) = (samples.first(), samples.last());
    let cpu_percent = match (first, last) {
        (Some(a), Some(b)) if b.at > a.at => cpu(a, b),
        _ => 0.0,
    };
    let cpu_peak = samples
        .windows(11)
        .map(|w| cpu(&w[0], &w[10]))
        .fold(0.0, f64::max);
    let half = samples.len() / 2;
    let (early, late) = samples.split_at(half);
    let max_of = |s: &[watch::ProcessSample], f: fn(&watch::ProcessSample) -> u64| {
        s.iter().map(f).max().unwrap_or(0)
    };
    // The largest RSS of each quarter of the soak: a leak climbs through them, a plateau does not.
    let quarters = (0..4)
        .map(|q| {
            let part = &samples[samples.len() * q / 4..samples.len() * (q + 1) / 4];
            max_of(part, |s| s.rss_kib).to_string()
        })
        .collect::<Vec<_>>()
        .join(",");
    let rss_slope = watch::slope(
        &late
            .iter()
            .map(|s| (s.at / 60.0, s.rss_kib as f64))
            .collect::<Vec<_>>(),
    );
    let quiet = sorted(bus.quiet_us);
    let floor = sorted(bus.floor_us);
    let soak = sorted(bus.soak_us);
    let repaint_quiet = sorted(menu.quiet_ms);
    let repaint = sorted(menu.soak_ms);
    let updates = sorted(menu.update_ms);
    let log = std::fs::read_to_string(log_path).unwrap_or_default();
    let log_lines = log.lines().count();
    for (message, count) in log_summary(&log) {
        println!("vigild log: {count} x {message}");
    }
    for (camera, status) in &bus.wrong_cameras {
        println!("wrong status: good camera {camera} was {status}");
    }
    for camera in &stalled {
        println!("stuck monitor: good camera {camera} went 30 s without a check");
    }
    if !alive {
        println!("vigild stopped during the soak");
    }
    let turncoat_statuses = bus
        .turncoat_statuses
        .iter()
        .map(|(k, v)| format!("{k}:{v}"))
        .collect::<Vec<_>>()
        .join(",");
    let read = HostileStats::read;
    println!(
        "seconds={seconds} cameras={cameras} vigild_alive={alive} peak_rss_kib={} rss_first_kib={} rss_last_kib={} \
         rss_first_half_max_kib={} rss_second_half_max_kib={} rss_quarter_max_kib={quarters} rss_slope_kib_per_min={rss_slope:.1} \
         cpu_percent={cpu_percent:.1} cpu_peak_percent={cpu_peak:.1} fds_first_half_max={} fds_second_half_max={} \
         threads_max={} list_calls={} list_failed={} list_p50_us={:.0} list_p99_us={:.0} list_max_us={:.0} \
         list_quiet_p99_us={:.0} list_p99_over_quiet={:.2} bus_floor_p50_us={:.0} bus_floor_p99_us={:.0} repaints={} repaint_p50_ms={:.1} repaint_p99_ms={:.1} \
         repaint_max_ms={:.1} repaint_quiet_p99_ms={:.1} repaint_p99_over_quiet={:.2} menu_jobs={} \
         menu_update_p99_ms={:.1} status_samples={} wrong_statuses={} wrong_cameras={} missing_rows={} \
         monitor_stalls={stalls} turncoat_samples={} turncoat_wrong={} turncoat_statuses={turncoat_statuses} \
         wavering_recovered={}/{} wavering_noticed={}/{} discovered_max={} discovered_good_samples={} discovered_good_missing={} wsd_barrages={} sadp_barrages={} \
         dhip_barrages={} flood_datagrams={} announcement_datagrams={} poisoned_connections={} \
         turncoat_poisoned={} log_lines={log_lines}",
        max_of(samples, |s| s.rss_kib),
        first.map_or(0, |s| s.rss_kib),
        last.map_or(0, |s| s.rss_kib),
        max_of(early, |s| s.rss_kib),
        max_of(late, |s| s.rss_kib),
        max_of(early, |s| s.fds),
        max_of(late, |s| s.fds),
        max_of(samples, |s| s.threads),
        soak.len(),
        bus.failed_calls,
        p(&soak, 0.5),
        p(&soak, 0.99),
        p(&soak, 1.0),
        p(&quiet, 0.99),
        p(&soak, 0.99) / p(&quiet, 0.99).max(1.0),
        p(&floor, 0.5),
        p(&floor, 0.99),
        repaint.len(),
        p(&repaint, 0.5),
        p(&repaint, 0.99),
        p(&repaint, 1.0),
        p(&repaint_quiet, 0.99),
        p(&repaint, 0.99) / p(&repaint_quiet, 0.99).max(0.001),
        menu.jobs,
        p(&updates, 0.99),
        bus.status_samples,
        bus.wrong_statuses,
        bus.wrong_cameras.len(),
        bus.missing,
        bus.turncoat_samples,
        bus.turncoat_wrong,
        bus.wavering_recovered,
        bus.wavering_mended,
        bus.wavering_noticed,
        bus.wavering_mended,
        bus.discovered_max,
        bus.discovered_good_samples,
        bus.discovered_good_missing,
        read(&counts.wsd.inquiries),
        read(&counts.sadp.inquiries),
        read(&counts.dhip.inquiries),
        read(&counts.wsd.datagrams) + read(&counts.sadp.datagrams) + read(&counts.dhip.datagrams),
        read(&counts.announcements.datagrams),
        read(&counts.poison.poisoned),
        read(&turncoat_stats.poisoned),
    );
}
