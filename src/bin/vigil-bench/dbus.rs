//! `vigil-bench dbus`: ListCameras and GetManagedObjects latency through a private dbus-daemon to a
//! real vigild, against the bus's own floor.

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::{add_all, quiet_config, simulator, vigild_path};

/// A private session-type dbus-daemon, stopped on drop.
pub(super) struct PrivateBus {
    address: String,
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

pub(super) fn percentile(sorted: &[f64], p: f64) -> f64 {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

pub(super) async fn dbus(
    cameras: usize,
    calls: usize,
    vigild: Option<PathBuf>,
) -> Result<(), String> {
    let vigild = vigild_path(vigild)?;
    let bus = private_bus()?;
    let sim = simulator(Ipv4Addr::new(127, 203, 0, 1), cameras, 0, 14).await?;
    let state = tempfile::tempdir().map_err(|e| e.to_string())?;
    add_all(&sim, state.path()).await?;
    // vigild runs as its own process, as it does on a recorder; this process is the client.
    let config = quiet_config(state.path())?;
    let mut daemon = Command::new(&vigild)
        .args(["--headless", "--bus-address", &bus.address, "--config"])
        .arg(&config)
        .arg("--state-dir")
        .arg(state.path())
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", vigild.display()))?;
    let result = dbus_client(&bus.address, cameras, calls).await;
    let _ = daemon.kill();
    let _ = daemon.wait();
    sim.shutdown().await;
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
    }
    let mut all: Vec<f64> = list_us.iter().chain(&managed_us).copied().collect();
    for v in [
        &mut all,
        &mut list_us,
        &mut managed_us,
        &mut managed_wire_us,
        &mut floor_us,
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
    Ok(())
}
