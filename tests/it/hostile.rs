//! Hostile peers: discovery floods and lies, cameras that answer with poison, requests that try to
//! crash the simulator. None of them may crash anything or stall discovery of the good cameras.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, UdpSocket};
use tokio_util::sync::CancellationToken;
use vigil::service::{AddCamera, NvrError};
use vigil::sim::hostile::discovery::{Lure, Tongue, answer_with_barrages};
use vigil::sim::hostile::http::{PoisonReply, serve_poison};
use vigil::sim::hostile::{Bounds, HostileStats};

use crate::support::{CAMERA_PASSWORD, Harness, simulator, system};

/// A hostile host's barrage lure: 1500 fake cameras at its own address, on a closed port.
fn lure(own_ip: Ipv4Addr, victim_ip: Ipv4Addr) -> Lure {
    Lure {
        own_ip,
        victim_ip,
        ports: vec![9],
        flood: 1500,
    }
}

/// Answers every inquiry on `socket` in `tongue` with a barrage, until the test cancels it (or a
/// minute passes); what it did is counted in the returned stats.
fn hostile_responder(
    socket: UdpSocket,
    tongue: Tongue,
    victim_ip: Ipv4Addr,
    cancel: &CancellationToken,
) -> Arc<HostileStats> {
    let own_ip = match socket.local_addr().unwrap().ip() {
        std::net::IpAddr::V4(v4) => v4,
        other => panic!("unexpected {other}"),
    };
    let stats = Arc::new(HostileStats::default());
    tokio::spawn(answer_with_barrages(
        socket,
        tongue,
        lure(own_ip, victim_ip),
        50_000,
        Bounds::lasting(Duration::from_secs(60), cancel.clone()),
        stats.clone(),
    ));
    stats
}

#[tokio::test]
async fn hostile_discovery_replies_do_not_stop_discovery_of_the_good_cameras() {
    let sim = simulator(16, |_| {}).await;
    let first = match sim.cameras()[0].identity().http_addr.ip() {
        std::net::IpAddr::V4(v4) => v4,
        other => panic!("unexpected {other}"),
    };
    let hostile_ip = Ipv4Addr::from(u32::from(first) + 100);
    let hostile = UdpSocket::bind(SocketAddr::from((hostile_ip, 3702)))
        .await
        .unwrap();
    let cancel = CancellationToken::new();
    let asked = hostile_responder(hostile, Tongue::WsDiscovery, first, &cancel);
    let mut settings = crate::support::test_settings(&sim, Duration::from_secs(5));
    settings
        .discovery
        .unicast_targets
        .insert(0, SocketAddr::from((hostile_ip, 3702)));
    let h = Harness::start_with(sim, settings, tempfile::tempdir().unwrap()).await;

    let found = h.discover().await;
    let devices = h.nvr.discovered_devices();
    assert_eq!(found, 16, "{devices:#?}");
    let mut serials: Vec<_> = devices.iter().map(|d| d.identity.serial.clone()).collect();
    serials.sort();
    let mut expected: Vec<_> = h
        .sim
        .cameras()
        .iter()
        .map(|c| c.identity().serial.clone())
        .collect();
    expected.sort();
    assert_eq!(serials, expected, "exactly the good cameras");
    assert!(
        devices
            .iter()
            .all(|d| d.address.ip() != Some(hostile_ip.into()))
    );
    assert!(
        HostileStats::read(&asked.inquiries) > 0,
        "the hostile host was asked"
    );
    cancel.cancel();
    h.stop().await;
}

/// A fake camera that answers every request with `reply`, for a minute at most.
async fn poisoned_camera(reply: &'static [PoisonReply]) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(serve_poison(
        listener,
        reply,
        Bounds::lasting(Duration::from_secs(60), CancellationToken::new()),
        Arc::new(HostileStats::default()),
    ));
    addr
}

#[tokio::test]
async fn a_camera_answering_with_poison_is_refused_and_nothing_is_stored() {
    let h = Harness::start(simulator(1, |_| {}).await, Duration::from_secs(5)).await;
    for (reply, what) in [
        (&[PoisonReply::DeepNesting], "deep"),
        (&[PoisonReply::Huge], "huge"),
        (&[PoisonReply::Garbage], "garbage"),
    ] {
        let addr = poisoned_camera(reply).await;
        let result = h
            .nvr
            .add_camera(
                AddCamera {
                    host: addr.ip().to_string(),
                    port: addr.port(),
                    username: "admin".into(),
                    password: CAMERA_PASSWORD.into(),
                },
                &system(),
            )
            .await;
        assert!(
            matches!(result, Err(NvrError::CameraProtocol(_))),
            "{what}: {result:?}"
        );
    }
    let silent = poisoned_camera(&[PoisonReply::Silent]).await;
    let result = h
        .nvr
        .add_camera(
            AddCamera {
                host: silent.ip().to_string(),
                port: silent.port(),
                username: "admin".into(),
                password: CAMERA_PASSWORD.into(),
            },
            &system(),
        )
        .await;
    assert!(
        matches!(&result, Err(NvrError::Unreachable { detail, .. }) if detail == "timed out"),
        "{result:?}"
    );
    assert!(h.nvr.added_cameras().is_empty());
    h.stop().await;
}

#[tokio::test]
async fn the_simulator_survives_poisoned_requests() {
    let sim = simulator(1, |_| {}).await;
    let url = sim.cameras()[0].device_service_url();
    let client = reqwest::Client::new();
    let deep = format!("{}{}", "<a>".repeat(36_000), "</a>".repeat(36_000));
    for body in [deep, "<unclosed".to_owned(), "x".repeat(300_000)] {
        let response = client.post(&url).body(body).send().await.unwrap();
        assert!(response.status().is_client_error(), "{}", response.status());
    }
    let info = oxvif::OnvifClient::new(&url).get_device_info().await;
    assert!(info.is_ok(), "still serving: {info:?}");
    sim.shutdown().await;
}

/// Eight cameras of one vendor answering its discovery protocol on `port`, a hostile host's socket
/// on that port at another loopback address (asked too, as a unicast target), and a recorder asking in
/// `protocol` there.
struct HostileRig {
    h: Harness,
    hostile: UdpSocket,
    victim: Ipv4Addr,
}

async fn hostile_rig(
    persona: vigil::sim::persona::Persona,
    protocol: vigil::model::Protocol,
    port: u16,
) -> HostileRig {
    let sim = crate::support::simulator(8, |c| {
        c.persona = vigil::sim::persona::PersonaMix::All(persona);
        c.sadp_port = port;
        c.dhip_port = port;
    })
    .await;
    let victim = match sim.cameras()[0].identity().http_addr.ip() {
        std::net::IpAddr::V4(v4) => v4,
        other => panic!("unexpected {other}"),
    };
    let hostile_ip = Ipv4Addr::from(u32::from(victim) + 100);
    let hostile = UdpSocket::bind(SocketAddr::from((hostile_ip, port)))
        .await
        .unwrap();
    let mut settings = crate::support::test_settings(&sim, Duration::from_secs(5));
    settings
        .discovery
        .unicast_targets
        .insert(0, SocketAddr::from((hostile_ip, 3702)));
    settings.discovery.vendor_ports = vec![(protocol, port)];
    let h = Harness::start_with(sim, settings, tempfile::tempdir().unwrap()).await;
    HostileRig { h, hostile, victim }
}

/// Every good camera is listed, seen in `protocol`, and nothing the hostile host made up is.
fn assert_only_the_good_cameras(h: &Harness, found: usize, protocol: vigil::model::Protocol) {
    let devices = h.nvr.discovered_devices();
    assert_eq!(found, 8, "{devices:#?}");
    for camera in h.sim.cameras() {
        assert!(
            devices
                .iter()
                .any(|d| d.identity.serial == camera.identity().serial
                    && d.address.to_string() == camera.identity().http_addr.to_string()
                    && d.protocols.contains(protocol)),
            "{} listed at its own address, seen in {protocol}",
            camera.identity().serial
        );
    }
    assert!(
        devices
            .iter()
            .all(|d| !d.identity.serial.starts_with("SN-"))
    );
}

#[tokio::test]
async fn hostile_sadp_replies_do_not_stop_discovery_of_the_good_hikvision_cameras() {
    use vigil::model::Protocol;
    let rig = hostile_rig(
        vigil::sim::persona::Persona::Hikvision,
        Protocol::Hikvision,
        37320,
    )
    .await;
    let cancel = CancellationToken::new();
    let asked = hostile_responder(rig.hostile, Tongue::Sadp, rig.victim, &cancel);
    let found = rig.h.discover().await;
    assert_only_the_good_cameras(&rig.h, found, Protocol::Hikvision);
    assert!(
        HostileStats::read(&asked.inquiries) > 0,
        "the hostile host was asked"
    );
    cancel.cancel();
    rig.h.stop().await;
}

#[tokio::test]
async fn hostile_dhip_replies_do_not_stop_discovery_of_the_good_dahua_cameras() {
    use vigil::model::Protocol;
    let rig = hostile_rig(vigil::sim::persona::Persona::Dahua, Protocol::Dahua, 37910).await;
    let cancel = CancellationToken::new();
    let asked = hostile_responder(rig.hostile, Tongue::Dhip, rig.victim, &cancel);
    let found = rig.h.discover().await;
    assert_only_the_good_cameras(&rig.h, found, Protocol::Dahua);
    assert!(
        HostileStats::read(&asked.inquiries) > 0,
        "the hostile host was asked, and answered with its barrage"
    );
    cancel.cancel();
    rig.h.stop().await;
}
