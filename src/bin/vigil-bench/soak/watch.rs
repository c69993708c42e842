//! What the soak watches while it runs: vigild's process (memory, CPU, descriptors, threads, each
//! second), vigild over D-Bus (ListCameras timed ten times a second; every good camera's status
//! checked in each reply, the turncoats' too once they had time to be found out; the discovered list's
//! size), and the good cameras themselves (each must keep being checked: a camera whose checks stop is
//! a stuck monitor, whatever its status says).

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::time::Duration;

use tokio::time::Instant;
use vigil::sim::Simulator;

use super::super::monitor::cpu_ticks;
use super::super::rss_kb;

/// One sample of vigild's process.
#[derive(Debug, Clone, Copy)]
pub struct ProcessSample {
    /// Seconds since the soak began.
    pub at: f64,
    pub rss_kib: u64,
    pub cpu_ticks: u64,
    pub fds: u64,
    pub threads: u64,
}

fn threads(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Threads:"))
                .and_then(|v| v.trim().parse().ok())
        })
        .unwrap_or(0)
}

fn fds(pid: u32) -> u64 {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count() as u64)
}

/// Samples vigild's process each second from `start` until `end`.
pub async fn sample_process(pid: u32, start: Instant, end: Instant) -> Vec<ProcessSample> {
    let mut samples = Vec::new();
    let mut tick = tokio::time::interval_at(start, Duration::from_secs(1));
    while Instant::now() < end {
        tick.tick().await;
        let (Ok(rss_kib), Ok(cpu)) = (rss_kb(pid), cpu_ticks(pid)) else {
            // vigild is gone: the soak reports it.
            break;
        };
        samples.push(ProcessSample {
            at: start.elapsed().as_secs_f64(),
            rss_kib,
            cpu_ticks: cpu,
            fds: fds(pid),
            threads: threads(pid),
        });
    }
    samples
}

/// What a camera's status should be, and since when it is judged.
#[derive(Debug, Clone)]
pub enum Expect {
    /// Online and certified, always.
    Good,
    /// Anything but online once the soak has run `grace` (it answers with poison).
    FoundOut { kind: &'static str },
    /// Turned and mended in turn by the soak's schedule.
    Wavering,
}

/// The wavering turncoat's schedule: turned for `turned`, then mended for `mended`, from the soak's
/// start.
#[derive(Debug, Clone, Copy)]
pub struct Wavering {
    pub turned: Duration,
    pub mended: Duration,
}

impl Wavering {
    /// For a soak of `seconds`: turned a twelfth of it (10 s to 60 s), mended twice that and 15 s
    /// more (the monitor's back-off may reach 60 s before it sees the camera again).
    pub fn for_soak(seconds: u64) -> Self {
        let turned = Duration::from_secs((seconds / 12).clamp(10, 60));
        Self {
            turned,
            mended: turned * 2 + Duration::from_secs(15),
        }
    }

    /// The cycle `since` falls in, and whether the camera is turned then.
    pub fn phase(&self, since: Duration) -> (u64, bool) {
        let cycle = self.turned + self.mended;
        let n = since.as_nanos() / cycle.as_nanos().max(1);
        let within = since.as_nanos() % cycle.as_nanos().max(1);
        (n as u64, within < self.turned.as_nanos())
    }
}

/// What the D-Bus watcher found.
#[derive(Debug, Default)]
pub struct BusFigures {
    /// ListCameras round trips before the hostile cameras started, microseconds.
    pub quiet_us: Vec<f64>,
    /// ListCameras round trips during the soak, microseconds.
    pub soak_us: Vec<f64>,
    /// The bus's own GetId round trips during the soak, each right after a ListCameras, microseconds:
    /// what the shared machine's load costs any call, whoever answers it.
    pub floor_us: Vec<f64>,
    /// Good cameras' statuses checked, and how many were wrong.
    pub status_samples: u64,
    pub wrong_statuses: u64,
    /// The good cameras ever seen wrong, with the first wrong status seen.
    pub wrong_cameras: BTreeMap<String, String>,
    /// Turncoats' statuses checked after their grace, and how many still said online.
    pub turncoat_samples: u64,
    pub turncoat_wrong: u64,
    /// Each steady turncoat's kind and its last status.
    pub turncoat_statuses: BTreeMap<&'static str, String>,
    /// The wavering turncoat: its cycles that ended within the soak, those in which it was seen not
    /// online (it was found out), and those in which it was then seen online again while mended.
    pub wavering_mended: u64,
    pub wavering_recovered: u64,
    pub wavering_noticed: u64,
    /// Calls that failed.
    pub failed_calls: u64,
    /// The discovered list's size, largest seen.
    pub discovered_max: usize,
    /// Good cameras looked for in the discovered list (every 10 s, from 20 s into the soak, when
    /// discovery has run under the floods), and how many times one was not there.
    pub discovered_good_samples: u64,
    pub discovered_good_missing: u64,
    /// Good cameras missing from a reply.
    pub missing: u64,
}

/// What the bus watch expects, and when.
pub struct BusWatch {
    /// Each camera vigild has, by address.
    pub expected: BTreeMap<String, Expect>,
    pub wavering: Wavering,
    /// When the watch begins, the hostility begins, and both end.
    pub start: Instant,
    pub soak_start: Instant,
    pub end: Instant,
    /// How long after `soak_start` the turncoats are judged.
    pub grace: Duration,
}

/// Calls ListCameras every 100 ms from `start` to `end`, timing each (and, during the soak, the bus's
/// GetId right after it), and checks statuses against `expected` (by address); hostility begins at
/// `soak_start`, and turncoats are judged `grace` after it.
pub async fn watch_bus(
    manager: vigil::dbus::proxy::ManagerProxy<'static>,
    bus: zbus::fdo::DBusProxy<'static>,
    watch: BusWatch,
) -> BusFigures {
    let BusWatch {
        expected,
        wavering,
        start,
        soak_start,
        end,
        grace,
    } = watch;
    let mut figures = BusFigures::default();
    let good = expected
        .values()
        .filter(|e| matches!(e, Expect::Good))
        .count();
    // Per wavering cycle: whether it was seen online while mended, and not online while turned.
    let mut cycles: BTreeMap<u64, (bool, bool)> = BTreeMap::new();
    let mut tick = tokio::time::interval_at(start, Duration::from_millis(100));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut calls: u64 = 0;
    while Instant::now() < end {
        tick.tick().await;
        let began = std::time::Instant::now();
        let rows = match manager.list_cameras().await {
            Ok(rows) => rows,
            Err(_) => {
                figures.failed_calls += 1;
                continue;
            }
        };
        let took = began.elapsed().as_secs_f64() * 1e6;
        let now = Instant::now();
        let hostile = now >= soak_start;
        if hostile {
            figures.soak_us.push(took);
            let began = std::time::Instant::now();
            if bus.get_id().await.is_ok() {
                figures.floor_us.push(began.elapsed().as_secs_f64() * 1e6);
            }
        } else {
            figures.quiet_us.push(took);
        }
        calls += 1;
        let mut seen_good = 0;
        for row in &rows {
            let online = row.status == "online" && row.certified;
            match expected.get(&row.address) {
                Some(Expect::Good) => {
                    seen_good += 1;
                    figures.status_samples += 1;
                    if !online {
                        figures.wrong_statuses += 1;
                        figures
                            .wrong_cameras
                            .entry(row.address.clone())
                            .or_insert_with(|| format!("{}: {}", row.status, row.last_error));
                    }
                }
                Some(Expect::FoundOut { kind }) => {
                    if hostile {
                        figures.turncoat_statuses.insert(kind, row.status.clone());
                    }
                    if hostile && now >= soak_start + grace {
                        figures.turncoat_samples += 1;
                        if online {
                            figures.turncoat_wrong += 1;
                        }
                    }
                }
                Some(Expect::Wavering) if hostile => {
                    let (cycle, turned) = wavering.phase(now - soak_start);
                    let (recovered, noticed) = cycles.entry(cycle).or_default();
                    if !online {
                        *noticed = true;
                    } else if !turned && *noticed {
                        *recovered = true;
                    }
                }
                _ => {}
            }
        }
        figures.missing += (good - seen_good.min(good)) as u64;
        if calls.is_multiple_of(100)
            && let Ok(devices) = manager.list_discovered().await
        {
            figures.discovered_max = figures.discovered_max.max(devices.len());
            if now >= soak_start + Duration::from_secs(20) {
                let listed: std::collections::HashSet<&str> =
                    devices.iter().map(|d| d.address.as_str()).collect();
                for (address, _) in expected.iter().filter(|(_, e)| matches!(e, Expect::Good)) {
                    figures.discovered_good_samples += 1;
                    if !listed.contains(address.as_str()) {
                        figures.discovered_good_missing += 1;
                    }
                }
            }
        }
    }
    // Only cycles whose mended phase ended within the soak count: cycle k ends at (k + 1) cycles.
    let (complete, _) = wavering.phase(end.saturating_duration_since(soak_start));
    for (cycle, (recovered, noticed)) in cycles {
        if cycle < complete {
            figures.wavering_mended += 1;
            figures.wavering_recovered += u64::from(recovered);
            figures.wavering_noticed += u64::from(noticed);
        }
    }
    figures
}

/// Runs [`watch_bus`] over a connection to the bus at `address` on a thread and runtime of its own, so
/// its timings never wait on the bench's other tasks (the cameras, the hostile hosts, the menu's
/// service); only on the CPU they all share.
pub fn watch_bus_apart(
    address: String,
    watch: BusWatch,
) -> std::thread::JoinHandle<Result<BusFigures, String>> {
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        runtime.block_on(async move {
            let client = zbus::connection::Builder::address(address.as_str())
                .build()
                .await
                .map_err(|e| e.to_string())?;
            let manager = vigil::dbus::proxy::ManagerProxy::new(&client)
                .await
                .map_err(|e| e.to_string())?;
            let bus = zbus::fdo::DBusProxy::new(&client)
                .await
                .map_err(|e| e.to_string())?;
            Ok(watch_bus(manager, bus, watch).await)
        })
    })
}

/// Reads each good camera's request count every 5 s until `end`; counts every time a camera went 30 s
/// without a request (its monitor stopped checking it), once per stall.
pub async fn watch_checks(
    fleet: std::sync::Arc<Simulator>,
    start: Instant,
    end: Instant,
) -> (u64, BTreeSet<SocketAddr>) {
    const STALL: Duration = Duration::from_secs(30);
    let cameras = fleet.cameras();
    let mut last: Vec<(u64, Instant, bool)> = cameras
        .iter()
        .map(|c| (c.stats().requests, start, false))
        .collect();
    let mut stalls = 0;
    let mut stalled = BTreeSet::new();
    let mut tick = tokio::time::interval_at(start, Duration::from_secs(5));
    while Instant::now() < end {
        tick.tick().await;
        let now = Instant::now();
        for (camera, (requests, since, counted)) in cameras.iter().zip(last.iter_mut()) {
            let seen = camera.stats().requests;
            if seen != *requests {
                *requests = seen;
                *since = now;
                *counted = false;
            } else if now.duration_since(*since) >= STALL && !*counted {
                *counted = true;
                stalls += 1;
                stalled.insert(camera.identity().http_addr);
            }
        }
    }
    (stalls, stalled)
}

/// The slope of `points` (x, y) by least squares; 0 for fewer than two.
pub fn slope(points: &[(f64, f64)]) -> f64 {
    let n = points.len() as f64;
    if points.len() < 2 {
        return 0.0;
    }
    let mean_x = points.iter().map(|p| p.0).sum::<f64>() / n;
    let mean_y = points.iter().map(|p| p.1).sum::<f64>() / n;
    let (mut num, mut den) = (0.0, 0.0);
    for (x, y) in points {
        num += (x - mean_x) * (y - mean_y);
        den += (x - mean_x) * (x - mean_x);
    }
    if den == 0.0 { 0.0 } else { num / den }
}
