//! Multicast discovery for real, between two network namespaces these tests create
//! ([`vigil::sim::netns`]): one thread is the NVR, one thread is the camera LAN, joined by a veth pair
//! (10.77.0.1 on the NVR side, cameras from 10.77.0.10, or a Hikvision camera at 192.168.1.64 in
//! another subnet, re-addressed over SADP). Nothing it sends can reach the machine's real
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

/// A Hikvision camera's factory-style address, in another subnet than the recorder's 10.77.0.1/24.
pub(crate) const FACTORY_ADDRESS: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 64);

/// The recorder at 10.77.0.1/24, one Hikvision camera at [`FACTORY_ADDRESS`]/24 on its camera LAN.
pub(crate) fn another_subnet_plan() -> LanPlan {
    LanPlan {
        nvr: Ipv4Addr::new(10, 77, 0, 1),
        cameras: vec![FACTORY_ADDRESS],
        prefix: 24,
    }
}

/// The camera side of [`another_subnet_plan`]: a Hikvision camera with ONVIF off, whose system brings
/// up a new address from SADP on its link. Says it is ready on `ready`; ends when the NVR side does.
pub(crate) fn hikvision_in_another_subnet(
    done: netns::NvrDone,
    ready: std::sync::mpsc::Sender<Result<(), String>>,
) {
    use vigil::sim::persona::{Persona, PersonaMix};
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        let _ = ready.send(Err("no runtime".to_owned()));
        return;
    };
    runtime.block_on(async move {
        let sim = match Simulator::start(SimConfig {
            persona: PersonaMix::All(Persona::Hikvision),
            bind: IpAddr::V4(FACTORY_ADDRESS),
            ..cameras(1, 64, 3)
        })
        .await
        {
            Ok(sim) => sim,
            Err(e) => {
                let _ = ready.send(Err(e.to_string()));
                return;
            }
        };
        let mut address = sim.cameras()[0].watch_address();
        let _ = ready.send(Ok(()));
        let (done_tx, mut done_rx) = oneshot::channel::<()>();
        std::thread::spawn(move || {
            let _ = done.recv();
            let _ = done_tx.send(());
        });
        loop {
            tokio::select! {
                _ = &mut done_rx => break,
                changed = address.changed() => {
                    if changed.is_err() { break; }
                    let now = address.borrow().ip();
                    let _ = netns::ip(&format!("addr add {now}/24 dev {}", netns::CAMERA_LINK));
                }
            }
        }
        sim.shutdown().await;
    });
}

/// The recorder's side of [`another_subnet_plan`]: multicast and SADP on its camera link, no unicast
/// targets, a silent simulator for the harness's shape.
pub(crate) async fn recorder_on_the_camera_lan() -> Result<Harness, String> {
    let placeholder = Simulator::start(SimConfig {
        count: 1,
        bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
        base_port: 18080,
        wsd_port: 13702,
        sadp_port: 13720,
        dhip_port: 13781,
        ..SimConfig::default()
    })
    .await
    .map_err(|e| e.to_string())?;
    let mut settings = crate::support::test_settings(&placeholder, Duration::from_secs(5));
    settings.discovery.multicast = true;
    settings.discovery.interfaces = vec![netns::NVR_LINK.to_owned()];
    settings.discovery.unicast_targets.clear();
    settings.discovery.vendor_ports = vec![(vigil::model::Protocol::Hikvision, 37020)];
    Ok(Harness::start_with(placeholder, settings, tempfile::tempdir().unwrap()).await)
}

/// A Hikvision camera at its factory-style address in another subnet (192.168.1.64/24, with ONVIF off)
/// on the camera LAN of a recorder at 10.77.0.1/24: SADP finds it (its answer comes to the group, as
/// it has no route back), it is listed as in another subnet, and Edit IP moves it into the recorder's
/// subnet over SADP, after which it is reached and added over ISAPI. A wrong password is one try, and
/// an address the recorder could not reach is refused before anything is sent.
#[test]
fn edit_ip_over_sadp_brings_a_camera_in_from_another_subnet() {
    use vigil::model::{NetworkChange, Protocol};
    use vigil::service::{MaintainedCamera, NvrError};
    if !netns::can_isolate() {
        eprintln!("SKIPPED SADP re-addressing test: creating network namespaces needs root");
        return;
    }
    let factory = FACTORY_ADDRESS;
    let moved_to = Ipv4Addr::new(10, 77, 0, 20);
    let (camera_tx, camera_rx) = std::sync::mpsc::channel::<Result<(), String>>();
    let outcome = netns::isolated_lan(
        another_subnet_plan(),
        move |done| hikvision_in_another_subnet(done, camera_tx),
        move || -> Result<(), String> {
            camera_rx.recv().map_err(|e| e.to_string())??;
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            runtime.block_on(async {
                let h = recorder_on_the_camera_lan().await?;
                h.nvr
                    .refresh_discovery(&[])
                    .await
                    .map_err(|e| e.to_string())?
                    .finished()
                    .await;
                let listed = h.nvr.discovered_devices();
                assert_eq!(listed.len(), 1, "{listed:#?}");
                let device = listed[0].clone();
                let reported = device
                    .other_subnet
                    .clone()
                    .expect("listed as in another subnet");
                assert_eq!(reported.address, factory);
                assert_eq!(reported.prefix_len, 24);
                assert!(device.protocols.contains(Protocol::Hikvision));
                let with = |password: &str| MaintainedCamera::Discovered {
                    key: device.key.clone(),
                    username: "admin".to_owned(),
                    password: password.to_owned(),
                };
                let caller = crate::support::system();
                assert_eq!(
                    h.nvr
                        .camera_network(&with(crate::support::CAMERA_PASSWORD), &caller)
                        .await
                        .map(|n| n.address),
                    Ok(factory)
                );
                let change = |address: Ipv4Addr| NetworkChange {
                    address,
                    prefix_len: 24,
                    gateway: Some(Ipv4Addr::new(10, 77, 0, 1)),
                    dhcp: false,
                };
                // Not a subnet the recorder reaches cameras on: refused, nothing sent.
                let outside = h
                    .nvr
                    .set_camera_network(
                        &with(crate::support::CAMERA_PASSWORD),
                        &NetworkChange {
                            gateway: None,
                            ..change(Ipv4Addr::new(192, 168, 2, 5))
                        },
                        &caller,
                    )
                    .await;
                assert!(
                    matches!(
                        outside,
                        Err(NvrError::InvalidArgument {
                            field: "address",
                            ..
                        })
                    ),
                    "{outside:?}"
                );
                let wrong = h
                    .nvr
                    .set_camera_network(&with("Wrong-Guess-31"), &change(moved_to), &caller)
                    .await;
                assert_eq!(wrong, Err(NvrError::CredentialsRejected));
                let moved = h
                    .nvr
                    .set_camera_network(
                        &with(crate::support::CAMERA_PASSWORD),
                        &change(moved_to),
                        &caller,
                    )
                    .await
                    .map_err(|e| e.to_string())?;
                assert_eq!(moved.network.address, moved_to);
                // Found again at its new address, reachable now, and added over ISAPI.
                eventually(
                    Duration::from_secs(20),
                    "the camera answering at its new address",
                    || {
                        let listed = h.nvr.discovered_devices();
                        async move {
                            listed.iter().any(|d| {
                                d.address.host == moved_to.to_string() && d.other_subnet.is_none()
                            })
                        }
                    },
                )
                .await;
                let key = h.nvr.discovered_devices()[0].key.clone();
                let added = h
                    .nvr
                    .add_discovered(&key, "admin", crate::support::CAMERA_PASSWORD, &caller)
                    .await
                    .map_err(|e| e.to_string())?;
                assert_eq!(added.protocol, Protocol::Hikvision);
                assert_eq!(added.address.host, moved_to.to_string());
                h.stop().await;
                Ok::<(), String>(())
            })
        },
    );
    match outcome {
        Ok(Ok(())) => {}
        Ok(Err(e)) | Err(e) => panic!("{e}"),
    }
}
