//! Hello and Bye: cameras that announce themselves appear in the discovered list without a probe, and
//! leave it when they say Bye. Unicast announcements on loopback; multicast is in `multicast.rs`.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use vigil::model::NvrEvent;
use vigil::sim::{SimConfig, Simulator};

use crate::support::{Harness, eventually, loopback_block, simulator};

#[tokio::test]
async fn hello_lists_a_camera_and_bye_removes_it() {
    let block = loopback_block();
    let listen = SocketAddr::from((Ipv4Addr::from(u32::from(block) + 200), 3702));
    // An idle simulator gives the harness its shape; the announcing one starts after the service.
    let idle = simulator(1, |_| {}).await;
    let mut settings = crate::support::test_settings(&idle, Duration::from_secs(5));
    settings.discovery.announcement_address = Some(listen);
    let h = Harness::start_with(idle, settings, tempfile::tempdir().unwrap()).await;
    let mut events = h.nvr.subscribe();

    let announcing = Simulator::start(SimConfig {
        count: 3,
        bind: Ipv4Addr::from(u32::from(block) + 100).into(),
        base_port: 8080,
        address_per_camera: true,
        announce_to: vec![listen],
        seed: 7,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let nvr = h.nvr.clone();
    eventually(
        Duration::from_secs(5),
        "three announced cameras listed",
        || {
            let nvr = nvr.clone();
            async move { nvr.discovered_devices().len() == 3 }
        },
    )
    .await;
    assert!(!h.nvr.discovery_running(), "no probe was needed");
    let serial = announcing.cameras()[0].identity().serial.clone();
    assert!(
        h.nvr
            .discovered_devices()
            .iter()
            .any(|d| d.identity.serial == serial)
    );

    announcing.shutdown().await;
    eventually(Duration::from_secs(5), "Bye empties the list", || {
        let nvr = nvr.clone();
        async move { nvr.discovered_devices().is_empty() }
    })
    .await;
    let mut gone = 0;
    while let Ok(event) = events.try_recv() {
        gone += usize::from(matches!(event, NvrEvent::DeviceGone { .. }));
    }
    assert_eq!(gone, 3);
    h.stop().await;
}
