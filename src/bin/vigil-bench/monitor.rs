//! `vigil-bench monitor`: CPU and memory of a headless vigild process watching added cameras.

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::{add_all, quiet_config, rss_kb, simulator, vigild_path};

pub(super) async fn monitor(
    cameras: usize,
    seconds: u64,
    vigild: Option<PathBuf>,
) -> Result<(), String> {
    let vigild = vigild_path(vigild)?;
    let sim = simulator(Ipv4Addr::new(127, 201, 0, 1), cameras, 0, 12).await?;
    let state = tempfile::tempdir().map_err(|e| e.to_string())?;
    add_all(&sim, state.path()).await?;
    let config = quiet_config(state.path())?;
    let mut child = Command::new(&vigild)
        .args(["--headless", "--no-dbus", "--config"])
        .arg(&config)
        .arg("--state-dir")
        .arg(state.path())
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", vigild.display()))?;
    let pid = child.id();
    // Let it load and settle through its first round of checks before measuring.
    tokio::time::sleep(Duration::from_secs(12)).await;
    let logins_before: u64 = sim
        .cameras()
        .iter()
        .map(|c| c.stats().successful_logins)
        .sum();
    let cpu_before = cpu_ticks(pid)?;
    let start = Instant::now();
    let mut peak_rss_kb = 0;
    while start.elapsed() < Duration::from_secs(seconds) {
        tokio::time::sleep(Duration::from_millis(500)).await;
        peak_rss_kb = peak_rss_kb.max(rss_kb(pid)?);
    }
    let cpu_after = cpu_ticks(pid)?;
    let elapsed = start.elapsed().as_secs_f64();
    let rss_end_kb = rss_kb(pid)?;
    let logins_after: u64 = sim
        .cameras()
        .iter()
        .map(|c| c.stats().successful_logins)
        .sum();
    let _ = child.kill();
    let _ = child.wait();
    sim.shutdown().await;
    // SAFETY: sysconf has no preconditions.
    let ticks_per_sec = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    let cpu_pct = (cpu_after - cpu_before) as f64 / ticks_per_sec / elapsed * 100.0;
    println!(
        "cameras={cameras} seconds={seconds} checks={} cpu_pct={cpu_pct:.2} rss_mb={:.1} peak_rss_mb={:.1}",
        logins_after - logins_before,
        rss_end_kb as f64 / 1024.0,
        peak_rss_kb as f64 / 1024.0
    );
    Ok(())
}

/// utime + stime of a process, in clock ticks.
pub(super) fn cpu_ticks(pid: u32) -> Result<u64, String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).map_err(|e| e.to_string())?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let after = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .ok_or("bad /proc stat")?;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let utime: u64 = fields
        .get(11)
        .and_then(|f| f.parse().ok())
        .ok_or("no utime")?;
    let stime: u64 = fields
        .get(12)
        .and_then(|f| f.parse().ok())
        .ok_or("no stime")?;
    Ok(utime + stime)
}
