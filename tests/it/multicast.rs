//! Multicast WS-Discovery for real, between two network namespaces this test creates: one thread is the
//! NVR, one thread is the camera LAN, joined by a veth pair (10.77.0.1 on the NVR side, cameras from
//! 10.77.0.10). Nothing it sends can reach the machine's real network, and both namespaces disappear
//! with their threads. Needs root; without it the test says why and skips.

use std::net::{IpAddr, Ipv4Addr};
use std::process::Command;
use std::sync::mpsc as std_mpsc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use vigil::sim::{SimConfig, Simulator};

use crate::support::{Harness, eventually};

fn ip(args: &str) -> Result<(), String> {
    let status = Command::new("ip")
        .args(args.split_whitespace())
        .status()
        .map_err(|e| format!("cannot run ip: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("ip {args} failed: {status}"))
    }
}

/// Moves the calling thread into a new, empty network namespace.
fn enter_new_network_namespace() -> Result<(), String> {
    // SAFETY: unshare affects only the calling thread's namespaces.
    if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
        return Err(format!(
            "unshare(CLONE_NEWNET): {}",
            std::io::Error::last_os_error()
        ));
    }
    ip("link set lo up")
}

fn gettid() -> i64 {
    // SAFETY: gettid has no preconditions.
    unsafe { libc::syscall(libc::SYS_gettid) }
}

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
    Finish,
}

/// The camera side: its own namespace, six cameras at first, two more on request.
fn camera_lan(
    tid_tx: std_mpsc::Sender<Result<i64, String>>,
    link_ready: std_mpsc::Receiver<()>,
    ready_tx: std_mpsc::Sender<Result<(), String>>,
    mut commands: mpsc::UnboundedReceiver<LanCommand>,
) {
    if let Err(e) = enter_new_network_namespace() {
        let _ = tid_tx.send(Err(e));
        return;
    }
    let _ = tid_tx.send(Ok(gettid()));
    if link_ready.recv().is_err() {
        return;
    }
    let configure = || -> Result<(), String> {
        for i in 0..8 {
            ip(&format!("addr add 10.77.0.{}/24 dev v1", 10 + i))?;
        }
        ip("link set v1 multicast on up")
    };
    if let Err(e) = configure() {
        let _ = ready_tx.send(Err(e));
        return;
    }
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
                LanCommand::Finish => break,
            }
        }
        first.shutdown().await;
    });
}

#[test]
fn multicast_probe_and_announcements_between_two_private_network_namespaces() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("SKIPPED multicast discovery test: creating network namespaces needs root");
        return;
    }
    let (tid_tx, tid_rx) = std_mpsc::channel();
    let (link_tx, link_rx) = std_mpsc::channel();
    let (ready_tx, ready_rx) = std_mpsc::channel();
    let (command_tx, command_rx) = mpsc::unbounded_channel();
    let lan = std::thread::spawn(move || camera_lan(tid_tx, link_rx, ready_tx, command_rx));

    let outcome = std::thread::spawn(move || -> Result<(), String> {
        enter_new_network_namespace()?;
        let lan_tid = tid_rx.recv().map_err(|e| e.to_string())??;
        ip("link add v0 type veth peer name v1")?;
        ip(&format!("link set v1 netns /proc/{lan_tid}/ns/net"))?;
        ip("addr add 10.77.0.1/24 dev v0")?;
        ip("link set v0 multicast on up")?;
        link_tx.send(()).map_err(|e| e.to_string())?;
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
            let mut settings = crate::support::test_settings(&placeholder, Duration::from_secs(5));
            settings.discovery.multicast = true;
            settings.discovery.interfaces = vec!["v0".to_owned()];
            settings.discovery.unicast_targets.clear();
            settings.discovery.announcement_address = Some("0.0.0.0:3702".parse().unwrap());
            let h = Harness::start_with(placeholder, settings, tempfile::tempdir().unwrap()).await;

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
        let _ = command_tx.send(LanCommand::Finish);
        result
    })
    .join()
    .expect("NVR namespace thread");
    lan.join().expect("camera namespace thread");
    if let Err(problem) = outcome {
        panic!("multicast discovery test could not run: {problem}");
    }
}
