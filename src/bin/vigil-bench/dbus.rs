//! `vigil-bench dbus`: ListCameras and GetManagedObjects latency through a private dbus-daemon (or a
//! given bus, such as dbus-broker as the system bus of a booted container) to a real vigild, against the same-size floor: the same replies (a copy of vigild's, so the same bytes
//! and signature, decoded the same way) from a trivial peer the benchmark starts on the same bus. What
//! is left over the floor is vigild's own cost.

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::{add_all, quiet_config, simulator, vigild_path};

/// A private session-type dbus-daemon, stopped on drop.
pub(super) struct PrivateBus {
    pub(super) address: String,
    child: std::process::Child,
    _dir: tempfile::TempDir,
}

impl Drop for PrivateBus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(super) fn private_bus() -> Result<PrivateBus, String> {
    use std::io::BufRead;
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let mut child = Command::new("dbus-daemon")
        .args(["--session", "--nofork", "--print-address"])
        .arg(format!(
            "--address=unix:path={}",
            dir.path().join("bus").display()
        ))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start dbus-daemon: {e}"))?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let mut address = String::new();
    std::io::BufReader::new(stdout)
        .read_line(&mut address)
        .map_err(|e| e.to_string())?;
    Ok(PrivateBus {
        address: address.trim().to_owned(),
        child,
        _dir: dir,
    })
}

/// The peer that answers with copies of vigild's replies.
struct FloorPeer {
    cameras: Vec<vigil::dbus::CameraRow>,
    managed: zbus::fdo::ManagedObjects,
}

const FLOOR_NAME: &str = "org.vigil.BenchFloor";
const FLOOR_PATH: &str = "/org/vigil/BenchFloor";

#[zbus::interface(name = "org.vigil.BenchFloor")]
impl FloorPeer {
    fn list_cameras(&self) -> Vec<vigil::dbus::CameraRow> {
        self.cameras.clone()
    }

    fn get_managed_objects(&self) -> zbus::fdo::ManagedObjects {
        self.managed.clone()
    }
}

/// Starts the floor peer on its own thread and runtime (as vigild has its own process), serving
/// until the returned sender is dropped.
fn start_floor_peer(address: &str, peer: FloorPeer) -> Result<std::sync::mpsc::Sender<()>, String> {
    let (stop_tx, stop_rx) = std::sync::mpsc::channel::<()>();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<(), String>>();
    let address = address.to_owned();
    std::thread::spawn(move || {
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
            let built = zbus::connection::Builder::address(address.as_str())
                .name(FLOOR_NAME)
                .serve_at(FLOOR_PATH, peer)
                .build()
                .await;
            let connection = match built {
                Ok(c) => c,
                Err(e) => {
                    let _ = ready_tx.send(Err(e.to_string()));
                    return;
                }
            };
            let _ = ready_tx.send(Ok(()));
            let _ = tokio::task::spawn_blocking(move || stop_rx.recv()).await;
            drop(connection);
        });
    });
    ready_rx.recv().map_err(|e| e.to_string())??;
    Ok(stop_tx)
}

pub(super) fn percentile(sorted: &[f64], p: f64) -> f64 {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

pub(super) async fn dbus(
    cameras: usize,
    calls: usize,
    vigild: Option<PathBuf>,
    bus_address: Option<String>,
) -> Result<(), String> {
    let vigild = vigild_path(vigild)?;
    // A private dbus-daemon unless a bus is given; kept alive until the end.
    let (private, address) = match bus_address {
        Some(address) => (None, address),
        None => {
            let bus = private_bus()?;
            let address = bus.address.clone();
            (Some(bus), address)
        }
    };
    let sim = simulator(Ipv4Addr::new(127, 203, 0, 1), cameras, 0, 14).await?;
    let state = tempfile::tempdir().map_err(|e| e.to_string())?;
    add_all(&sim, state.path()).await?;
    // vigild runs as its own process, as it does on a recorder; this process is the client.
    let config = quiet_config(state.path())?;
    let mut daemon = Command::new(&vigild)
        .args(["--headless", "--bus-address", &address, "--config"])
        .arg(&config)
        .arg("--state-dir")
        .arg(state.path())
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", vigild.display()))?;
    let result = dbus_client(&address, cameras, calls).await;
    let _ = daemon.kill();
    let _ = daemon.wait();
    sim.shutdown().await;
    drop(private);
    result
}

pub(super) async fn dbus_client(address: &str, cameras: usize, calls: usize) -> Result<(), String> {
    let client = zbus::connection::Builder::address(address)
        .build()
        .await
        .map_err(|e| e.to_string())?;
    let bus_proxy = zbus::fdo::DBusProxy::new(&client)
        .await
        .map_err(|e| e.to_string())?;
    for _ in 0..100 {
        let owned = bus_proxy
            .name_has_owner(
                zbus::names::BusName::try_from(vigil::dbus::BUS_NAME).map_err(|e| e.to_string())?,
            )
            .await
            .map_err(|e| e.to_string())?;
        if owned {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let manager = vigil::dbus::proxy::ManagerProxy::new(&client)
        .await
        .map_err(|e| e.to_string())?;
    let objects = zbus::fdo::ObjectManagerProxy::builder(&client)
        .destination(vigil::dbus::BUS_NAME)
        .path(vigil::dbus::MANAGER_PATH)
        .build()
        .await
        .map_err(|e| e.to_string())?;
    // Warm up connections and caches.
    for _ in 0..20 {
        manager.list_cameras().await.map_err(|e| e.to_string())?;
        objects
            .get_managed_objects()
            .await
            .map_err(|e| e.to_string())?;
    }
    let listed = manager
        .list_cameras()
        .await
        .map_err(|e| e.to_string())?
        .len();
    if listed != cameras {
        return Err(format!(
            "ListCameras returned {listed} cameras, expected {cameras}"
        ));
    }
    // The floor peer answers with copies of what vigild answered.
    let cameras_reply = manager.list_cameras().await.map_err(|e| e.to_string())?;
    let managed_reply = objects
        .get_managed_objects()
        .await
        .map_err(|e| e.to_string())?;
    let list_bytes = client
        .call_method(
            Some(vigil::dbus::BUS_NAME),
            vigil::dbus::MANAGER_PATH,
            Some("org.vigil.Nvr1.Manager"),
            "ListCameras",
            &(),
        )
        .await
        .map_err(|e| e.to_string())?
        .data()
        .len();
    let _floor = start_floor_peer(
        address,
        FloorPeer {
            cameras: cameras_reply,
            managed: managed_reply,
        },
    )?;
    let floor_call = |method: &'static str| {
        client.call_method(
            Some(FLOOR_NAME),
            FLOOR_PATH,
            Some("org.vigil.BenchFloor"),
            method,
            &(),
        )
    };
    for _ in 0..20 {
        floor_call("ListCameras").await.map_err(|e| e.to_string())?;
        floor_call("GetManagedObjects")
            .await
            .map_err(|e| e.to_string())?;
    }
    let mut list_floor_us = Vec::with_capacity(calls);
    let mut managed_floor_us = Vec::with_capacity(calls);
    let mut list_us = Vec::with_capacity(calls);
    let mut managed_us = Vec::with_capacity(calls);
    let mut floor_us = Vec::with_capacity(calls);
    let mut managed_wire_us = Vec::with_capacity(calls);
    let mut managed_bytes = 0;
    for _ in 0..calls {
        let t = Instant::now();
        manager.list_cameras().await.map_err(|e| e.to_string())?;
        list_us.push(t.elapsed().as_secs_f64() * 1e6);
        let t = Instant::now();
        objects
            .get_managed_objects()
            .await
            .map_err(|e| e.to_string())?;
        managed_us.push(t.elapsed().as_secs_f64() * 1e6);
        // The same call without decoding the reply: the bus round trip alone.
        let t = Instant::now();
        let reply = client
            .call_method(
                Some(vigil::dbus::BUS_NAME),
                vigil::dbus::MANAGER_PATH,
                Some("org.freedesktop.DBus.ObjectManager"),
                "GetManagedObjects",
                &(),
            )
            .await
            .map_err(|e| e.to_string())?;
        managed_wire_us.push(t.elapsed().as_secs_f64() * 1e6);
        managed_bytes = reply.data().len();
        let t = Instant::now();
        bus_proxy.get_id().await.map_err(|e| e.to_string())?;
        floor_us.push(t.elapsed().as_secs_f64() * 1e6);
        // The same-size floors, decoded as the real calls are.
        let t = Instant::now();
        let reply = floor_call("ListCameras").await.map_err(|e| e.to_string())?;
        let rows: Vec<vigil::dbus::CameraRow> =
            reply.body().deserialize().map_err(|e| e.to_string())?;
        list_floor_us.push(t.elapsed().as_secs_f64() * 1e6);
        debug_assert_eq!(rows.len(), cameras);
        let t = Instant::now();
        let reply = floor_call("GetManagedObjects")
            .await
            .map_err(|e| e.to_string())?;
        let _: zbus::fdo::ManagedObjects = reply.body().deserialize().map_err(|e| e.to_string())?;
        managed_floor_us.push(t.elapsed().as_secs_f64() * 1e6);
    }
    let mut all: Vec<f64> = list_us.iter().chain(&managed_us).copied().collect();
    for v in [
        &mut all,
        &mut list_us,
        &mut managed_us,
        &mut managed_wire_us,
        &mut floor_us,
        &mut list_floor_us,
        &mut managed_floor_us,
    ] {
        v.sort_by(f64::total_cmp);
    }
    let p99 = percentile(&all, 0.99);
    let floor_p99 = percentile(&floor_us, 0.99);
    println!(
        "cameras={cameras} calls={} p50_us={:.0} p99_us={p99:.0} list_p50_us={:.0} list_p99_us={:.0} managed_p50_us={:.0} managed_p99_us={:.0} managed_wire_p50_us={:.0} managed_wire_p99_us={:.0} managed_reply_bytes={managed_bytes} floor_p50_us={:.0} floor_p99_us={floor_p99:.0} p99_over_floor={:.1}",
        all.len(),
        percentile(&all, 0.5),
        percentile(&list_us, 0.5),
        percentile(&list_us, 0.99),
        percentile(&managed_us, 0.5),
        percentile(&managed_us, 0.99),
        percentile(&managed_wire_us, 0.5),
        percentile(&managed_wire_us, 0.99),
        percentile(&floor_us, 0.5),
        p99 / floor_p99.max(1.0)
    );
    let list_p99 = percentile(&list_us, 0.99);
    let managed_p99 = percentile(&managed_us, 0.99);
    let list_floor_p99 = percentile(&list_floor_us, 0.99);
    let managed_floor_p99 = percentile(&managed_floor_us, 0.99);
    println!(
        "cameras={cameras} list_reply_bytes={list_bytes} managed_reply_bytes={managed_bytes} list_p50_us={:.0} list_p99_us={list_p99:.0} list_same_size_floor_p50_us={:.0} list_same_size_floor_p99_us={list_floor_p99:.0} list_over_floor={:.2} managed_p50_us={:.0} managed_p99_us={managed_p99:.0} managed_same_size_floor_p50_us={:.0} managed_same_size_floor_p99_us={managed_floor_p99:.0} managed_over_floor={:.2}",
        percentile(&list_us, 0.5),
        percentile(&list_floor_us, 0.5),
        list_p99 / list_floor_p99.max(1.0),
        percentile(&managed_us, 0.5),
        percentile(&managed_floor_us, 0.5),
        managed_p99 / managed_floor_p99.max(1.0),
    );
    Ok(())
}
