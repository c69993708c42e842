//! Multicast WS-Discovery for real, between two network namespaces this test creates
//! ([`vigil::sim::netns`]): one thread is the NVR, one thread is the camera LAN, joined by a veth pair
//! (10.77.0.1 on the NVR side, cameras from 10.77.0.10). Nothing it sends can reach the machine's real
//! network, and both namespaces disappear with their threads. Needs root; without it the test says
//! why and skips.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use vigil::sim::netns::{self, LanPlan};
use vigil::sim::{SimConfig, Simulator};

use crate::support::{Harness, eventually};

fn cameras(count: usize, first: u8, seed: u16) -> SimConfig {
    SimConfig {
        count,
        bind: IpAddr::V4(Ipv4Addr::new(10, 77, 0, first)),
        base_port: 8080,
        address_per_camera: true,
        multicast: true,
        max_reply_delay: Duration::from_millis(200),
        seed,
        ..SimConfig::default()
    }
}

enum LanCommand {
    PowerUpLateCameras(oneshot::Sender<Result<(), String>>),
    PowerDownLateCameras(oneshot::Sender<()>),
}

/// The camera side: six cameras at first, two more on request.
fn camera_lan(
    ready_tx: std::sync::mpsc::Sender<Result<(), String>>,
    mut commands: mpsc::UnboundedReceiver<LanCommand>,
) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            let _ = ready_tx.send(Err(e.to_string()));
            return;
        }
    };
    runtime.block_on(async move {
        let first = match Simulator::start(cameras(6, 10, 1)).await {
            Ok(sim) => sim,
            Err(e) => {
                let _ = ready_tx.send(Err(e.to_string()));
                return;
            }
        };
        let _ = ready_tx.send(Ok(()));
        let mut late: Option<Simulator> = None;
        while let Some(command) = commands.recv().await {
            match command {
                LanCommand::PowerUpLateCameras(reply) => {
                    let started = Simulator::start(cameras(2, 16, 9)).await;
                    let _ = reply.send(started.as_ref().map(|_| ()).map_err(|e| e.to_string()));
                    late = started.ok();
                }
                LanCommand::PowerDownLateCameras(reply) => {
                    if let Some(sim) = late.take() {
                        sim.shutdown().await;
                    }
                    let _ = reply.send(());
                }
            }
        }
        first.shutdown().await;
    });
}

#[test]
fn multicast_probe_and_announcements_between_two_private_network_namespaces() {
    if !netns::can_isolate() {
        eprintln!("SKIPPED multicast discovery test: creating network namespaces needs root");
        return;
    }
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let (command_tx, command_rx) = mpsc::unbounded_channel();
    let plan = LanPlan {
        nvr: Ipv4Addr::new(10, 77, 0, 1),
        cameras: (0..8).map(|i| Ipv4Addr::new(10, 77, 0, 10 + i)).collect(),
        prefix: 24,
    };
    // The camera side ends when its command channel closes, which the NVR side's end drops.
    let outcome = netns::isolated_lan(
        plan,
        move |_done| camera_lan(ready_tx, command_rx),
        move || -> Result<(), String> {
            ready_rx.recv().map_err(|e| e.to_string())??;
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            let result = runtime.block_on(async {
                // The harness wants a simulator for its shape; this one on the NVR's own side stays silent.
                let placeholder = Simulator::start(SimConfig {
                    count: 1,
                    bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
                    base_port: 18080,
                    wsd_port: 13702,
                    ..SimConfig::default()
                })
                .await
                .map_err(|e| e.to_string())?;
                let mut settings =
                    crate::support::test_settings(&placeholder, Duration::from_secs(5));
                settings.discovery.multicast = true;
                settings.discovery.interfaces = vec!["v0".to_owned()];
                settings.discovery.unicast_targets.clear();
                settings.discovery.announcement_address = Some("0.0.0.0:3702".parse().unwrap());
                let h =
                    Harness::start_with(placeholder, settings, tempfile::tempdir().unwrap()).await;

                let found = h
                    .nvr
                    .refresh_discovery(&[])
                    .await
                    .map_err(|e| e.to_string())?
                    .finished()
                    .await;
                assert_eq!(found, 6, "every camera answers the multicast probe");
                assert!(
                    h.nvr
                        .discovered_devices()
                        .iter()
                        .all(|d| d.information_complete)
                );

                let (reply_tx, reply_rx) = oneshot::channel();
                command_tx
                    .send(LanCommand::PowerUpLateCameras(reply_tx))
                    .map_err(|e| e.to_string())?;
                reply_rx.await.map_err(|e| e.to_string())??;
                let nvr = h.nvr.clone();
                eventually(Duration::from_secs(5), "Hello adds two cameras", || {
                    let nvr = nvr.clone();
                    async move { nvr.discovered_devices().len() == 8 }
                })
                .await;
                let (reply_tx, reply_rx) = oneshot::channel();
                command_tx
                    .send(LanCommand::PowerDownLateCameras(reply_tx))
                    .map_err(|e| e.to_string())?;
                reply_rx.await.map_err(|e| e.to_string())?;
                eventually(Duration::from_secs(5), "Bye removes them", || {
                    let nvr = nvr.clone();
                    async move { nvr.discovered_devices().len() == 6 }
                })
                .await;
                h.stop().await;
                Ok(())
            });
            drop(command_tx);
            result
        },
    );
    match outcome {
        Ok(Ok(())) => {}
        Ok(Err(problem)) | Err(problem) => {
            panic!("multicast discovery test could not run: {problem}")
        }
    }
}
