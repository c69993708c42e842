//! `vigil-bench discovery --fleet oxvif`: discovery of a camera fleet written by others. oxvif's mock
//! ONVIF fleet (the `oxvif-fleet` example: WS-Security required, one shared MAC, the crate's own
//! WS-Discovery responder) runs in one fresh network namespace and the NVR in another, joined by a veth
//! pair, so the probe is a real multicast that never reaches the machine's own network. The baseline,
//! run in the same command, is the common tool pattern: oxvif's fixed-wait multicast probe, then each
//! camera identified with its own client.

use std::io::{BufRead, BufReader};
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;
use vigil::model::NvrEvent;
use vigil::sim::netns::{self, LanPlan};

const NVR: Ipv4Addr = Ipv4Addr::new(10, 79, 0, 1);
const CAMERAS: Ipv4Addr = Ipv4Addr::new(10, 79, 0, 2);
/// The most devices oxvif's shared discovery responder serves.
const MAX_FLEET: usize = 256;
/// The administrator of oxvif's factory state, for the baseline's identification.
const FLEET_LOGIN: (&str, &str) = ("admin", "admin");
/// The baseline's fixed probe wait.
const BASELINE_WAIT: Duration = Duration::from_secs(1);

/// Runs the benchmark and prints its figures.
pub fn discovery(cameras: usize, fleet_bin: Option<PathBuf>, baseline: bool) -> Result<(), String> {
    if !netns::can_isolate() {
        return Err("--fleet oxvif needs root: it makes two network namespaces".to_owned());
    }
    if cameras > MAX_FLEET {
        return Err(format!(
            "oxvif's fleet serves at most {MAX_FLEET} cameras from one discovery responder"
        ));
    }
    let runner = match fleet_bin {
        Some(path) => path,
        None => std::env::current_exe()
            .map_err(|e| e.to_string())?
            .with_file_name("examples")
            .join("oxvif-fleet"),
    };
    if !runner.exists() {
        return Err(format!(
            "{} not found; build it with `cargo build --examples` or pass --fleet-bin",
            runner.display()
        ));
    }
    let (ready_tx, ready_rx) = mpsc::channel::<Result<usize, String>>();
    let plan = LanPlan {
        nvr: NVR,
        cameras: vec![CAMERAS],
        prefix: 24,
    };
    let figures = netns::isolated_lan(
        plan,
        move |done| run_fleet(&runner, cameras, &ready_tx, &done),
        move || -> Result<String, String> {
            let count = ready_rx.recv().map_err(|e| e.to_string())??;
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?
                .block_on(measure(count, baseline))
        },
    )??;
    println!("{figures}");
    Ok(())
}

/// The camera side: the fleet runner as a child process (in this namespace), until the NVR is done.
fn run_fleet(
    runner: &std::path::Path,
    cameras: usize,
    ready: &mpsc::Sender<Result<usize, String>>,
    done: &netns::NvrDone,
) {
    let child = Command::new(runner)
        .arg(cameras.to_string())
        .arg(CAMERAS.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(e) => {
            let _ = ready.send(Err(format!("cannot run {}: {e}", runner.display())));
            return;
        }
    };
    let line = child
        .stdout
        .take()
        .and_then(|out| BufReader::new(out).lines().next())
        .and_then(Result::ok)
        .unwrap_or_default();
    let count = line
        .strip_prefix("ready ")
        .and_then(|n| n.trim().parse::<usize>().ok());
    let _ = ready.send(count.ok_or_else(|| format!("the oxvif fleet did not start: {line:?}")));
    let _ = done.recv();
    // Closing its standard input stops the runner.
    drop(child.stdin.take());
    let _ = child.wait();
}

async fn measure(count: usize, baseline: bool) -> Result<String, String> {
    let mut settings = super::quiet_settings();
    settings.discovery.multicast = true;
    settings.discovery.interfaces = vec![netns::NVR_LINK.to_owned()];
    let state = tempfile::tempdir().map_err(|e| e.to_string())?;
    let shutdown = CancellationToken::new();
    let nvr = super::start_service(settings, state.path(), &shutdown).await?;
    let mut events = nvr.subscribe();
    let start = Instant::now();
    let run = nvr
        .refresh_discovery(&[])
        .await
        .map_err(|e| e.to_string())?;
    let mut seen = std::collections::HashSet::new();
    let (mut first_ms, mut last_ms) = (None, 0.0);
    while seen.len() < count {
        match tokio::time::timeout(Duration::from_secs(30), events.recv()).await {
            Ok(Ok(NvrEvent::DeviceDiscovered { device })) => {
                if seen.insert(device.key) {
                    let ms = start.elapsed().as_secs_f64() * 1000.0;
                    first_ms.get_or_insert(ms);
                    last_ms = ms;
                }
            }
            Ok(Ok(NvrEvent::DiscoveryFinished { .. })) | Err(_) => break,
            Ok(Ok(_)) => {}
            Ok(Err(e)) => return Err(format!("events: {e}")),
        }
    }
    run.finished().await;
    let listed = nvr.discovered_devices().len();
    shutdown.cancel();
    nvr.stopped().await;
    let mut figures = format!(
        "fleet=oxvif cameras={count} listed={listed} first_ms={:.1} last_ms={last_ms:.1}",
        first_ms.unwrap_or(0.0)
    );
    if baseline {
        eprintln!(
            "baseline: oxvif's own multicast probe with a {} s fixed wait, then each camera identified with its own HTTP client and the fleet's login",
            BASELINE_WAIT.as_secs()
        );
        let (found, baseline_ms) = fixed_wait_baseline().await;
        figures.push_str(&format!(
            " baseline_listed={found} baseline_last_ms={baseline_ms:.1} speedup={:.1}",
            baseline_ms / last_ms.max(0.001)
        ));
    }
    Ok(figures)
}

async fn fixed_wait_baseline() -> (usize, f64) {
    let start = Instant::now();
    let urls: Vec<String> = oxvif::discovery::probe(BASELINE_WAIT)
        .await
        .into_iter()
        .filter_map(|d| d.xaddrs.into_iter().next())
        .collect();
    let mut identify = tokio::task::JoinSet::new();
    for url in urls {
        identify.spawn(async move {
            let client =
                oxvif::OnvifClient::new(url).with_credentials(FLEET_LOGIN.0, FLEET_LOGIN.1);
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
