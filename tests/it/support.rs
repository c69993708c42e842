//! Helpers shared by the integration tests: a simulator on free loopback ports, and waiting for a
//! condition with a bounded deadline instead of sleeping.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Duration;

use vigil::sim::{SimConfig, Simulator};

/// The password simulated cameras start with in these tests.
pub const CAMERA_PASSWORD: &str = "Harbor-Lamp-62";

/// An installer logged in at the menu.
pub fn installer() -> vigil::model::Caller {
    vigil::model::Caller::from(vigil::model::Actor::Gui {
        user: "installer".into(),
    })
}

/// The caller the tests act as when who asks is not what they test: vigild itself.
pub fn system() -> vigil::model::Caller {
    vigil::model::Caller::from(vigil::model::Actor::System)
}

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

/// As [`simulator`], with a chosen clock for the cameras.
pub async fn simulator_with_clock(
    count: usize,
    adjust: impl FnOnce(&mut SimConfig),
    clock: std::sync::Arc<dyn vigil::clock::Clock>,
) -> Simulator {
    let mut config = SimConfig {
        count,
        bind: IpAddr::V4(loopback_block()),
        base_port: 8080,
        address_per_camera: true,
        max_reply_delay: Duration::from_millis(50),
        ..SimConfig::default()
    };
    adjust(&mut config);
    Simulator::start_with_clock(config, clock)
        .await
        .expect("simulator starts")
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

/// A running service over a temp state directory, with the simulator it watches.
pub struct Harness {
    /// The service.
    pub nvr: vigil::service::Nvr,
    /// The cameras.
    pub sim: Simulator,
    /// The state directory (kept alive with the harness).
    pub state: tempfile::TempDir,
    /// The settings the service runs with.
    pub settings: vigil::config::Settings,
    shutdown: tokio_util::sync::CancellationToken,
    clock: std::sync::Arc<dyn vigil::clock::Clock>,
}

/// Test settings: no multicast, no announcements, unicast probes to the simulator, fast monitor.
pub fn test_settings(sim: &Simulator, monitor_period: Duration) -> vigil::config::Settings {
    let mut settings = vigil::config::Config::default()
        .resolve("test")
        .expect("defaults resolve");
    settings.discovery.multicast = false;
    settings.discovery.announcement_address = None;
    settings.discovery.unicast_targets = probe_targets(sim);
    settings.discovery.probe_window = Duration::from_millis(300);
    settings.discovery.on_start = false;
    settings.discovery.refresh_interval = None;
    settings.monitor.period = monitor_period;
    settings.monitor.offline_backoff_max = monitor_period * 2;
    settings.monitor.locked_retry = Duration::from_secs(60);
    settings.request_timeout = Duration::from_secs(2);
    // Tests add up to hundreds of cameras; the channel limit has tests of its own.
    settings.channels = 256;
    // Never the machine's own: tests that need a device secret provision one.
    settings.account.device_secret_file = None;
    settings
}

impl Harness {
    /// Starts the service on a fresh state directory.
    pub async fn start(sim: Simulator, monitor_period: Duration) -> Self {
        let settings = test_settings(&sim, monitor_period);
        let state = tempfile::tempdir().expect("temp dir");
        Self::start_with(sim, settings, state).await
    }

    /// Starts the service with given settings on a given state directory.
    pub async fn start_with(
        sim: Simulator,
        settings: vigil::config::Settings,
        state: tempfile::TempDir,
    ) -> Self {
        let clock = std::sync::Arc::new(vigil::clock::SystemClock);
        Self::start_with_clock(sim, settings, state, clock).await
    }

    /// As [`Harness::start_with`], with a chosen clock for the service.
    pub async fn start_with_clock(
        sim: Simulator,
        settings: vigil::config::Settings,
        state: tempfile::TempDir,
        clock: std::sync::Arc<dyn vigil::clock::Clock>,
    ) -> Self {
        let shutdown = tokio_util::sync::CancellationToken::new();
        let store =
            std::sync::Arc::new(vigil::store::Store::open(state.path()).expect("store opens"));
        let nvr =
            vigil::service::Nvr::start(settings.clone(), store, clock.clone(), shutdown.clone())
                .await
                .expect("service starts");
        Self {
            nvr,
            sim,
            state,
            settings,
            shutdown,
            clock,
        }
    }

    /// Stops the service and hands back the simulator and the state directory.
    pub async fn into_parts(self) -> (Simulator, tempfile::TempDir) {
        self.shutdown.cancel();
        self.nvr.stopped().await;
        let Harness {
            nvr, sim, state, ..
        } = self;
        drop(nvr);
        (sim, state)
    }

    /// Stops the service (the simulator keeps running) and starts a new one on the same state.
    pub async fn restart(self) -> Self {
        self.shutdown.cancel();
        self.nvr.stopped().await;
        let Harness {
            nvr,
            sim,
            state,
            settings,
            clock,
            ..
        } = self;
        drop(nvr);
        Self::start_with_clock(sim, settings, state, clock).await
    }

    /// The device service address of camera `index`.
    pub fn address(&self, index: usize) -> (String, u16) {
        let addr = self.sim.cameras()[index].identity().http_addr;
        (addr.ip().to_string(), addr.port())
    }

    /// Runs one discovery to the end; how many devices it found.
    pub async fn discover(&self) -> usize {
        self.nvr
            .refresh_discovery(&[])
            .await
            .expect("discovery starts")
            .finished()
            .await
    }

    /// Adds camera `index` by address with the simulator's password.
    pub async fn add(&self, index: usize) -> vigil::model::AddedCamera {
        let (host, port) = self.address(index);
        self.nvr
            .add_camera(
                vigil::service::AddCamera {
                    host,
                    port,
                    username: "admin".into(),
                    password: CAMERA_PASSWORD.into(),
                },
                &system(),
            )
            .await
            .expect("camera adds")
    }

    /// Waits until camera `id` reaches `state`.
    pub async fn wait_for_state(
        &self,
        id: vigil::model::CameraId,
        state: vigil::model::CameraState,
        limit: Duration,
    ) {
        let nvr = self.nvr.clone();
        eventually(limit, &format!("camera {id} to be {state:?}"), move || {
            let nvr = nvr.clone();
            async move {
                nvr.added_camera(id)
                    .map(|c| c.status.state == state)
                    .unwrap_or(false)
            }
        })
        .await;
    }

    /// Stops everything.
    pub async fn stop(self) {
        self.shutdown.cancel();
        self.nvr.stopped().await;
        self.sim.shutdown().await;
    }
}
