//! Helpers shared by the integration tests: a simulator on free loopback ports, and waiting for a
//! condition with a bounded deadline instead of sleeping.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Duration;

use vigil::sim::{SimConfig, Simulator};

/// The password simulated cameras start with in these tests.
pub const CAMERA_PASSWORD: &str = "Camera#2026";

/// Hands out distinct loopback addresses so parallel tests never share a port: each test gets its own
/// 127.x.y.1 block for HTTP and WS-Discovery.
pub fn loopback_block() -> Ipv4Addr {
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let n = NEXT.fetch_add(1, Ordering::SeqCst);
    let pid = u16::try_from(std::process::id() % 200).unwrap_or(0);
    Ipv4Addr::new(127, 100 + (pid % 100) as u8, (n % 250) as u8 + 1, 1)
}

/// A simulator with `count` cameras, each on its own loopback address (`block + i`), answering probes
/// on port 3702 with no reply delay unless the config says otherwise.
pub async fn simulator(count: usize, adjust: impl FnOnce(&mut SimConfig)) -> Simulator {
    let mut config = SimConfig {
        count,
        bind: IpAddr::V4(loopback_block()),
        base_port: 8080,
        address_per_camera: true,
        max_reply_delay: Duration::from_millis(50),
        ..SimConfig::default()
    };
    adjust(&mut config);
    Simulator::start(config).await.expect("simulator starts")
}

/// The unicast probe targets of a simulator's cameras.
pub fn probe_targets(sim: &Simulator) -> Vec<SocketAddr> {
    sim.cameras()
        .iter()
        .map(|c| c.identity().wsd_addr)
        .collect()
}

/// Waits until `check` holds, polling, for at most `limit`. Panics with `what` if it never does.
pub async fn eventually<F, Fut>(limit: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if check().await {
            return;
        }
        if tokio::time::Instant::now() >= deadline {
            panic!("timed out waiting for: {what}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
