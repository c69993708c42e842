//! The NVR against a camera fleet it did not write: 256 of oxvif's mock ONVIF devices (WS-Security
//! required, one shared MAC, their own WS-Discovery responder) on a private LAN of two network
//! namespaces. Discovery must list every one, each must add and certify, and a password changed behind
//! the NVR's back with the fleet's own user operations must be noticed within two monitor periods,
//! after which not one more request with that password crosses the wire — counted on the cameras' side
//! of the link, and again after a restart. Needs root; without it the test says why and skips.

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::sync::mpsc as std_mpsc;
use std::time::Duration;

use futures_util::StreamExt;
use vigil::model::CameraState;
use vigil::sim::netns::{self, CredentialCounter, LanPlan};

use crate::oxvif_fleet::{self, FLEET_ADMIN, FLEET_PASSWORD, MAX_FLEET};
use crate::support::{eventually, system};

const NVR: Ipv4Addr = Ipv4Addr::new(10, 78, 0, 1);
const CAMERAS: Ipv4Addr = Ipv4Addr::new(10, 78, 0, 2);
const PERIOD: Duration = Duration::from_secs(3);
/// Two monitor periods, plus one check's requests on a busy machine.
const TWO_PERIODS: Duration = Duration::from_secs(2 * 3 + 2);

/// What the camera side hands the NVR side: the device URLs, and the counter on its end of the link.
struct Lan {
    urls: Vec<String>,
    counter: Arc<CredentialCounter>,
}

fn camera_side(lan_tx: std_mpsc::Sender<Result<Lan, String>>, done: netns::NvrDone) {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            let _ = lan_tx.send(Err(e.to_string()));
            return;
        }
    };
    runtime.block_on(async move {
        let counter = match CredentialCounter::start(netns::CAMERA_LINK) {
            Ok(c) => Arc::new(c),
            Err(e) => {
                let _ = lan_tx.send(Err(e));
                return;
            }
        };
        let fleet = match oxvif_fleet::start(MAX_FLEET, CAMERAS).await {
            Ok(f) => f,
            Err(e) => {
                let _ = lan_tx.send(Err(format!("oxvif fleet: {e}")));
                return;
            }
        };
        let urls = fleet
            .device_urls()
            .iter()
            .map(|u| (*u).to_owned())
            .collect();
        let _ = lan_tx.send(Ok(Lan { urls, counter }));
        let _ = tokio::task::spawn_blocking(move || done.recv()).await;
        let _ = fleet.shutdown().await;
    });
}

async fn start_nvr(
    state: &std::path::Path,
) -> (vigil::service::Nvr, tokio_util::sync::CancellationToken) {
    let mut settings = vigil::config::Config::default()
        .resolve("test")
        .expect("defaults resolve");
    settings.discovery.multicast = true;
    // The whole fleet is added: more cameras than the default channel count.
    settings.channels = 256;
    settings.discovery.interfaces = vec![netns::NVR_LINK.to_owned()];
    settings.discovery.unicast_targets.clear();
    settings.discovery.announcement_address = None;
    settings.discovery.on_start = false;
    settings.discovery.refresh_interval = None;
    settings.discovery.probe_window = Duration::from_secs(1);
    settings.monitor.period = PERIOD;
    settings.monitor.offline_backoff_max = PERIOD * 2;
    settings.request_timeout = Duration::from_secs(3);
    settings.account.device_secret_file = None;
    let shutdown = tokio_util::sync::CancellationToken::new();
    let store = Arc::new(vigil::store::Store::open(state).expect("store opens"));
    let clock = Arc::new(vigil::clock::SystemClock);
    let nvr = vigil::service::Nvr::start(settings, store, clock, shutdown.clone())
        .await
        .expect("service starts");
    (nvr, shutdown)
}

fn port_of(url: &str) -> u16 {
    url::Url::parse(url)
        .ok()
        .and_then(|u| u.port())
        .expect("fleet URL has a port")
}

async fn nvr_side(lan: Lan) {
    let state = tempfile::tempdir().expect("temp dir");
    let (nvr, shutdown) = start_nvr(state.path()).await;

    // 1. Every device is listed, though none says what it is without a login. UDP may drop a reply
    // in a burst of 256: a second run, as an installer's Refresh, may complete the list.
    let mut found = 0;
    for _run in 0..2 {
        found = nvr
            .refresh_discovery(&[])
            .await
            .expect("discovery starts")
            .finished()
            .await;
        if found == lan.urls.len() {
            break;
        }
    }
    assert_eq!(found, lan.urls.len(), "every foreign camera is listed");
    let devices = nvr.discovered_devices();
    assert!(
        devices
            .iter()
            .all(|d| !d.inactive && d.address.host == CAMERAS.to_string())
    );
    assert!(
        devices.iter().all(|d| !d.information_complete),
        "WS-Security is required even to identify"
    );

    // 2. Every one adds and certifies, although all share one MAC address.
    let added: Vec<_> = futures_util::stream::iter(devices.iter().map(|d| {
        let nvr = nvr.clone();
        let key = d.key.clone();
        async move {
            nvr.add_discovered(&key, FLEET_ADMIN, FLEET_PASSWORD, &system())
                .await
        }
    }))
    .buffer_unordered(8)
    .collect()
    .await;
    let added: Vec<_> = added
        .into_iter()
        .collect::<Result<_, _>>()
        .expect("every foreign camera adds");
    assert!(added.iter().all(|c| c.status.state == CameraState::Online));
    let mut serials: Vec<_> = added.iter().map(|c| c.identity.serial.clone()).collect();
    serials.sort();
    serials.dedup();
    assert_eq!(
        serials.len(),
        lan.urls.len(),
        "each has its own serial number"
    );
    assert!(
        nvr.discovered_devices()
            .iter()
            .all(|d| d.added_as.is_some() && d.conflict_with.is_none())
    );

    // 3. A password changed behind the NVR's back, with the fleet's own user operation (SetUser).
    let victim = &added[7];
    let victim_url = lan
        .urls
        .iter()
        .find(|u| port_of(u) == victim.address.port)
        .expect("victim URL")
        .clone();
    let port = victim.address.port;
    oxvif::OnvifClient::new(&victim_url)
        .with_credentials(FLEET_ADMIN, FLEET_PASSWORD)
        .set_user(FLEET_ADMIN, Some("Changed-Behind-7"), "Administrator")
        .await
        .expect("the fleet changes its password");
    let nvr_probe = nvr.clone();
    let victim_id = victim.id;
    eventually(TWO_PERIODS, "the changed password to be noticed", || {
        let nvr = nvr_probe.clone();
        async move {
            nvr.added_camera(victim_id).is_ok_and(|c| {
                c.status.state == CameraState::NotCertified && c.status.credentials_rejected
            })
        }
    })
    .await;

    // 4. Not one more request with credentials to that camera, while the others are still checked.
    // The refused login itself may still be in the counter's queue: let it drain first.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let victim_before = lan.counter.count(port);
    let all_before = lan.counter.total();
    assert!(
        victim_before > 0,
        "the counter saw the victim's earlier logins"
    );
    tokio::time::sleep(PERIOD * 3).await;
    assert_eq!(
        lan.counter.count(port),
        victim_before,
        "no retry of a refused password"
    );
    assert!(
        lan.counter.total() > all_before,
        "the other cameras are still checked"
    );

    // 5. The same after a restart.
    shutdown.cancel();
    nvr.stopped().await;
    drop(nvr);
    let (nvr, shutdown) = start_nvr(state.path()).await;
    let after_restart = lan.counter.total();
    tokio::time::sleep(PERIOD * 3).await;
    assert_eq!(
        lan.counter.count(port),
        victim_before,
        "no retry of a refused password after a restart"
    );
    assert!(
        lan.counter.total() > after_restart,
        "the others are checked again"
    );
    let victim_now = nvr.added_camera(victim_id).expect("still added");
    assert_eq!(victim_now.status.state, CameraState::NotCertified);
    let held = nvr
        .added_cameras()
        .iter()
        .filter(|c| c.status.credentials_rejected)
        .count();
    assert_eq!(held, 1, "only the refused password is held");
    shutdown.cancel();
    nvr.stopped().await;
}

#[test]
fn a_foreign_onvif_fleet_is_listed_added_and_a_refused_password_never_retried() {
    if !netns::can_isolate() {
        eprintln!("SKIPPED foreign fleet test: creating network namespaces needs root");
        return;
    }
    let (lan_tx, lan_rx) = std_mpsc::channel();
    let plan = LanPlan {
        nvr: NVR,
        cameras: vec![CAMERAS],
        prefix: 24,
    };
    let outcome = netns::isolated_lan(
        plan,
        move |done| camera_side(lan_tx, done),
        move || -> Result<(), String> {
            let lan = lan_rx.recv().map_err(|e| e.to_string())??;
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            runtime.block_on(nvr_side(lan));
            Ok(())
        },
    );
    match outcome {
        Ok(Ok(())) => {}
        Ok(Err(problem)) | Err(problem) => panic!("foreign fleet test could not run: {problem}"),
    }
}
