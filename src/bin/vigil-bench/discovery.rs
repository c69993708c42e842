//! `vigil-bench discovery` with vigil-camsim's cameras on loopback: probe to the last camera listed with
//! its device information, against the common tools' fixed-wait, client-per-camera pattern.

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;
use vigil::model::NvrEvent;
use vigil::sim::Simulator;

use vigil::sim::persona::{Persona, PersonaMix};

use super::{bench_settings, simulator_playing, start_service};

pub(super) async fn discovery(
    cameras: usize,
    max_delay_ms: u64,
    baseline: bool,
    persona: PersonaMix,
) -> Result<(), String> {
    let sim = simulator_playing(
        Ipv4Addr::new(127, 200, 0, 1),
        cameras,
        max_delay_ms,
        11,
        persona.clone(),
    )
    .await?;
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
    // One camera seen in two protocols (DHIP and WS-Discovery) is announced once per sighting:
    // cameras are counted by serial number, the first time each is listed.
    let mut listed = std::collections::HashSet::new();
    while listed.len() < cameras {
        match tokio::time::timeout(Duration::from_secs(30), events.recv()).await {
            Ok(Ok(NvrEvent::DeviceDiscovered { device })) if device.information_complete => {
                if listed.insert(device.identity.serial.clone()) {
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
    let identified = nvr
        .discovered_devices()
        .iter()
        .filter(|d| d.information_complete)
        .count();
    shutdown.cancel();
    nvr.stopped().await;
    let personas = |p: Persona| (0..cameras).filter(|i| persona.for_camera(*i) == p).count();
    let mut figures = format!(
        "cameras={cameras} identified={identified} first_ms={:.1} last_ms={last_ms:.1} max_delay_ms={max_delay_ms} onvif={} vigil={} hikvision={} dahua={}",
        first_ms.unwrap_or(0.0),
        personas(Persona::Onvif),
        personas(Persona::Vigil),
        personas(Persona::Hikvision),
        personas(Persona::Dahua)
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
pub(super) async fn fixed_wait_baseline(sim: &Simulator) -> (usize, f64) {
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
