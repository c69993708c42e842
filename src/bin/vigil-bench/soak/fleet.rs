//! The soak's cameras, good and hostile, and the recorders' settings, all on loopback in 127.81.0.0/16:
//!
//! - 127.81.0.x: vigild's good cameras (ONVIF, Vigil, Hikvision and Dahua in turn), added;
//! - 127.81.4.x: the same for the menu's service in the bench process, added there;
//! - 127.81.1.x: the cameras behind the turncoats; 127.81.2.x:8080 the turncoats, added to both;
//! - 127.81.3.x: hostile hosts, each answering WS-Discovery, SADP and DHIP with barrages, serving
//!   poisoned cameras on ports 8001-8004, and flooding the recorders' announcement listeners;
//! - 127.81.200.1 and .2, port 3702: vigild's and the menu service's announcement listeners.
//!
//! Only unicast, only to these addresses; every hostile peer stops by itself at the soak's end.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, UdpSocket};
use tokio_util::sync::CancellationToken;
use vigil::config::{Config, Settings};
use vigil::service::AddCamera;
use vigil::sim::hostile::discovery::{Lure, Tongue, answer_with_barrages, flood_announcements};
use vigil::sim::hostile::http::{Poison, Turncoat, serve_poison};
use vigil::sim::hostile::{Bounds, HostileStats};
use vigil::sim::persona::PersonaMix;
use vigil::sim::{SimConfig, Simulator};

/// The soak's own SADP and DHIP ports (the cameras and the recorders agree on them).
pub const SADP_PORT: u16 = 38_020;
pub const DHIP_PORT: u16 = 38_810;
/// Where the hostile hosts' poisoned cameras listen, one port per kind of poison.
const POISON_PORTS: [u16; 4] = [8001, 8002, 8003, 8004];
/// Hostile hosts.
pub const HOSTILE_HOSTS: u8 = 4;
/// Datagrams a second each barrage responder sends at most.
const BARRAGE_RATE: u32 = 5_000;
/// Fake cameras in each barrage.
const BARRAGE_FLOOD: usize = 1500;
/// Announcement datagrams a second each hostile host sends at most (to both listeners in turn).
const ANNOUNCEMENT_RATE: u32 = 100;

/// vigild's good cameras start here.
pub const VIGILD_FLEET: Ipv4Addr = Ipv4Addr::new(127, 81, 0, 1);
/// The menu service's good cameras start here.
pub const MENU_FLEET: Ipv4Addr = Ipv4Addr::new(127, 81, 4, 1);
/// vigild's announcement listener.
pub const VIGILD_LISTENER: SocketAddr =
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 81, 200, 1)), 3702);
/// The menu service's announcement listener.
pub const MENU_LISTENER: SocketAddr =
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 81, 200, 2)), 3702);

fn hostile_host(index: u8) -> Ipv4Addr {
    Ipv4Addr::new(127, 81, 3, index + 1)
}

/// The recorder's configuration for the soak: the good cameras and the hostile hosts probed by
/// unicast (WS-Discovery, SADP, DHIP) every 15 s, announcements heard at `listener`, each camera
/// checked every 2 s (five times the default rate). Otherwise the defaults a recorder ships with.
pub fn config_text(fleet: Ipv4Addr, cameras: usize, listener: SocketAddr) -> String {
    let last = Ipv4Addr::from(u32::from(fleet) + cameras as u32 - 1);
    format!(
        "[discovery]\nmulticast = false\nlisten_announcements = true\nannouncement_address = \"{listener}\"\n\
         unicast_targets = [\"{fleet}-{last}\", \"{}-{}\"]\nrefresh_interval_secs = 15\non_start = true\n\
         sadp_port = {SADP_PORT}\ndhip_port = {DHIP_PORT}\n\n[cameras]\nmonitor_period_ms = 2000\nchannels = 256\n",
        hostile_host(0),
        hostile_host(HOSTILE_HOSTS - 1),
    )
}

/// The settings `text` resolves to.
pub fn settings(text: &str) -> Result<Settings, String> {
    Config::parse(text, "soak")
        .and_then(|c| c.resolve("soak"))
        .map_err(|e| e.to_string())
}

/// Good cameras from `first`: ONVIF, Vigil, Hikvision and Dahua in turn, replying at once.
pub async fn good_fleet(first: Ipv4Addr, count: usize, seed: u16) -> Result<Simulator, String> {
    Simulator::start(SimConfig {
        count,
        bind: IpAddr::V4(first),
        base_port: 8080,
        address_per_camera: true,
        max_reply_delay: Duration::from_millis(50),
        seed,
        persona: PersonaMix::parse("mixed")?,
        sadp_port: SADP_PORT,
        dhip_port: DHIP_PORT,
        ..SimConfig::default()
    })
    .await
    .map_err(|e| e.to_string())
}

/// Adds every camera of `fleet` (found by discovery first, so each is managed in its own protocol)
/// and every turncoat (by address, over ONVIF) to the registry in `state`, with `settings` quietened.
pub async fn register(
    settings: &Settings,
    state: &Path,
    fleet: &Simulator,
    turncoats: &[SocketAddr],
) -> Result<(), String> {
    let mut settings = settings.clone();
    settings.discovery.announcement_address = None;
    settings.discovery.on_start = false;
    settings.discovery.refresh_interval = None;
    settings.discovery.unicast_targets = fleet
        .cameras()
        .iter()
        .map(|c| c.identity().wsd_addr)
        .collect();
    let shutdown = CancellationToken::new();
    let nvr = super::super::start_service(settings, state, &shutdown).await?;
    let caller = vigil::model::Caller::from(vigil::model::Actor::System);
    let password = SimConfig::default().admin_password;
    nvr.refresh_discovery(&[])
        .await
        .map_err(|e| e.to_string())?
        .finished()
        .await;
    let discovered = nvr.discovered_devices();
    for camera in fleet.cameras() {
        let addr = camera.identity().http_addr;
        let device = discovered
            .iter()
            .find(|d| d.address.to_string() == addr.to_string())
            .ok_or_else(|| format!("camera {addr} was not discovered"))?;
        nvr.add_discovered(&device.key, "admin", &password, &caller)
            .await
            .map_err(|e| format!("adding {addr}: {e}"))?;
    }
    for addr in turncoats {
        nvr.add_camera(
            AddCamera {
                host: addr.ip().to_string(),
                port: addr.port(),
                username: "admin".into(),
                password: password.clone(),
            },
            &caller,
        )
        .await
        .map_err(|e| format!("adding the turncoat at {addr}: {e}"))?;
    }
    shutdown.cancel();
    nvr.stopped().await;
    Ok(())
}

/// The turncoats: one per kind of poison, and a wavering one (slow while turned) that the soak turns
/// and mends in turn. The last is the wavering one.
pub struct Turncoats {
    /// The real cameras behind them.
    pub cameras: Simulator,
    /// The turncoats.
    pub all: Vec<Turncoat>,
    /// What they did.
    pub stats: Arc<HostileStats>,
}

impl Turncoats {
    pub async fn start(bounds: &Bounds) -> Result<Self, String> {
        let kinds: Vec<Poison> = Poison::ALL.into_iter().chain([Poison::Slow]).collect();
        let cameras = Simulator::start(SimConfig {
            count: kinds.len(),
            bind: IpAddr::V4(Ipv4Addr::new(127, 81, 1, 1)),
            base_port: 8080,
            address_per_camera: true,
            max_reply_delay: Duration::from_millis(50),
            seed: 83,
            sadp_port: SADP_PORT,
            dhip_port: DHIP_PORT,
            ..SimConfig::default()
        })
        .await
        .map_err(|e| e.to_string())?;
        let stats = Arc::new(HostileStats::default());
        let mut all = Vec::new();
        for (index, (kind, camera)) in kinds.iter().zip(cameras.cameras()).enumerate() {
            let front = SocketAddr::from((Ipv4Addr::new(127, 81, 2, index as u8 + 1), 8080));
            let turncoat = Turncoat::start(
                front,
                camera.identity().http_addr,
                *kind,
                bounds.clone(),
                stats.clone(),
            )
            .await
            .map_err(|e| format!("turncoat at {front}: {e}"))?;
            all.push(turncoat);
        }
        Ok(Self {
            cameras,
            all,
            stats,
        })
    }

    /// Where they listen.
    pub fn addresses(&self) -> Vec<SocketAddr> {
        self.all.iter().map(Turncoat::addr).collect()
    }

    /// The ones that stay turned once turned.
    pub fn steady(&self) -> &[Turncoat] {
        &self.all[..self.all.len() - 1]
    }

    /// The one that is turned and mended in turn.
    pub fn wavering(&self) -> &Turncoat {
        &self.all[self.all.len() - 1]
    }
}

/// What the hostile hosts did, by what they did it with.
#[derive(Default)]
pub struct HostileCounts {
    pub wsd: Arc<HostileStats>,
    pub sadp: Arc<HostileStats>,
    pub dhip: Arc<HostileStats>,
    pub announcements: Arc<HostileStats>,
    pub poison: Arc<HostileStats>,
}

/// A UDP socket at `addr`, shared with others there (`SO_REUSEADDR`), as the simulator binds its own.
fn udp(addr: SocketAddr) -> Result<UdpSocket, String> {
    vigil::sim::udp::bind_udp(addr).map_err(|e| format!("cannot bind {addr}: {e}"))
}

/// Starts the hostile hosts, until `bounds` end. `victims` are the good cameras' endpoint references
/// (spoofed in Hellos and Byes), `victim_ip` a good camera's address (named in lying replies).
pub async fn start_hostile_hosts(
    victims: Vec<String>,
    victim_ip: Ipv4Addr,
    listeners: Vec<SocketAddr>,
    bounds: &Bounds,
    counts: &HostileCounts,
) -> Result<(), String> {
    for index in 0..HOSTILE_HOSTS {
        let own_ip = hostile_host(index);
        // Mostly closed ports, and each poisoned camera in turn: a twelfth of the fakes is slow.
        let mut ports = vec![9u16; 8];
        ports.extend(POISON_PORTS);
        let lure = Lure {
            own_ip,
            victim_ip,
            ports,
            flood: BARRAGE_FLOOD,
        };
        for (tongue, port, stats) in [
            (Tongue::WsDiscovery, 3702, &counts.wsd),
            (Tongue::Sadp, SADP_PORT, &counts.sadp),
            (Tongue::Dhip, DHIP_PORT, &counts.dhip),
        ] {
            let socket = udp(SocketAddr::from((own_ip, port)))?;
            tokio::spawn(answer_with_barrages(
                socket,
                tongue,
                lure.clone(),
                BARRAGE_RATE,
                bounds.clone(),
                stats.clone(),
            ));
        }
        for (poison, port) in Poison::ALL.into_iter().zip(POISON_PORTS) {
            let addr = SocketAddr::from((own_ip, port));
            let listener = TcpListener::bind(addr)
                .await
                .map_err(|e| format!("cannot listen at {addr}: {e}"))?;
            tokio::spawn(serve_poison(
                listener,
                poison.replies(),
                bounds.clone(),
                counts.poison.clone(),
            ));
        }
        let socket = udp(SocketAddr::from((own_ip, 0)))?;
        tokio::spawn(flood_announcements(
            socket,
            listeners.clone(),
            victims.clone(),
            lure,
            ANNOUNCEMENT_RATE,
            bounds.clone(),
            counts.announcements.clone(),
        ));
    }
    Ok(())
}
