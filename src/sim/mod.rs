//! `vigil-camsim`: N simulated ONVIF cameras in one process, speaking real SOAP 1.2 over HTTP and real
//! WS-Discovery over UDP, with a control interface to take cameras offline, change passwords behind
//! the NVR's back, reset them to factory state and read what they saw.
//!
//! It is part of the product, for demos, tests and benchmarks, and never a mock inside the daemon.
//! Layout: `camera.rs` holds the rules, `soap.rs` the device service, `http.rs` and `wsd.rs` the
//! sockets, `control.rs` the local control API, `hostile/` the hostile peers of the tests and the soak.

pub mod camera;
pub mod control;
pub mod dahua;
pub mod dialect;
pub mod fault;
pub mod hikvision;
pub mod hostile;
pub mod http;
pub mod netns;
pub mod persona;
pub mod recovery;
pub mod soap;
pub mod udp;
pub mod wsd;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::clock::{Clock, SystemClock};
use camera::{CameraIdentity, CameraPolicy, CameraSummary, Lifecycle, SimCamera};
use hikvision::sadp::SadpResponder;
use persona::{Persona, PersonaMix};
use wsd::Responder;

/// Models the simulator hands out in turn.
const MODELS: [&str; 4] = ["VC-210B", "VC-320D", "VC-430T", "VC-540Z"];

/// How the simulator lays out and shapes its cameras.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// How many cameras.
    pub count: usize,
    /// The address the cameras bind; the first camera's address in per-camera mode.
    pub bind: IpAddr,
    /// HTTP port of the first camera; camera i gets `base_port + i` unless each has its own address.
    pub base_port: u16,
    /// Give camera i the address `bind + i` (all cameras then use `base_port` and `wsd_port`).
    pub address_per_camera: bool,
    /// The UDP port the cameras answer unicast probes on.
    pub wsd_port: u16,
    /// Also answer multicast probes and announce Hello/Bye to the group. Only inside a network
    /// namespace made for it: never on a real LAN from a test.
    pub multicast: bool,
    /// Where to send Hello and Bye by unicast, such as an NVR listening on loopback.
    pub announce_to: Vec<SocketAddr>,
    /// Upper bound of the random delay before a ProbeMatch (APP_MAX_DELAY).
    pub max_reply_delay: Duration,
    /// Administrator name of active cameras.
    pub admin_user: String,
    /// Administrator password of active cameras.
    pub admin_password: String,
    /// How many cameras, counted from the last, start in factory state.
    pub inactive: usize,
    /// Clock offset of every camera from true UTC, seconds.
    pub clock_offset_secs: i64,
    /// Lockout and anonymous-access rules.
    pub policy: CameraPolicy,
    /// Varies serials, MACs and endpoint references between simulators.
    pub seed: u16,
    /// Gives every camera this one MAC address, as cheap cameras (and oxvif's mock fleet) do, while
    /// their serial numbers still differ.
    pub shared_mac: Option<String>,
    /// The reset email active cameras were activated with.
    pub reset_email: Option<String>,
    /// Whether the cameras can reach the internet (to email codes themselves).
    pub internet: bool,
    /// The mail server the cameras (and the simulated vendor) send through.
    pub smtp: Option<crate::mail::SmtpSettings>,
    /// A mail sender to use instead of `smtp` (demo mode writes files; benchmarks record).
    pub mail_sender: Option<Arc<dyn crate::mail::MailSender>>,
    /// Which vendor's camera each camera plays.
    pub persona: PersonaMix,
    /// The UDP port Hikvision cameras answer SADP on.
    pub sadp_port: u16,
    /// The UDP port Dahua cameras answer DHIP on.
    pub dhip_port: u16,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            count: 4,
            bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
            base_port: 8000,
            address_per_camera: false,
            wsd_port: wsd::WSD_PORT,
            multicast: false,
            announce_to: Vec::new(),
            max_reply_delay: Duration::from_millis(500),
            admin_user: "admin".to_owned(),
            admin_password: "Harbor-Lamp-62".to_owned(),
            inactive: 0,
            clock_offset_secs: 0,
            policy: CameraPolicy::default(),
            seed: 1,
            shared_mac: None,
            reset_email: Some("owner@example.com".to_owned()),
            internet: true,
            smtp: None,
            mail_sender: None,
            persona: PersonaMix::default(),
            sadp_port: crate::camera::hikvision::sadp::SADP_PORT,
            dhip_port: crate::camera::dahua::dhip::DHIP_PORT,
        }
    }
}

/// Errors starting the simulator.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// A setting cannot work.
    #[error("invalid simulator setting: {0}")]
    Config(String),
    /// A socket could not be bound.
    #[error("cannot bind {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

/// A running simulator.
pub struct Simulator {
    cameras: Vec<Arc<SimCamera>>,
    responders: Vec<Arc<Responder>>,
    shutdown: CancellationToken,
    /// Why a mutex: `shutdown` takes `&self` so the control server can share the simulator.
    tasks: tokio::sync::Mutex<JoinSet<()>>,
}

impl std::fmt::Debug for Simulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Simulator")
            .field("cameras", &self.cameras.len())
            .finish_non_exhaustive()
    }
}

impl Simulator {
    /// Binds every socket, then starts serving and says Hello.
    pub async fn start(config: SimConfig) -> Result<Self, SimError> {
        Self::start_with_clock(config, Arc::new(SystemClock)).await
    }

    /// As [`Simulator::start`], with a chosen clock.
    pub async fn start_with_clock(
        config: SimConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, SimError> {
        validate(&config)?;
        let shutdown = CancellationToken::new();
        let mail: recovery::SharedMailSender = config.mail_sender.clone().or_else(|| {
            config.smtp.clone().map(|settings| {
                Arc::new(crate::mail::SmtpMailSender::new(settings))
                    as Arc<dyn crate::mail::MailSender>
            })
        });
        let mut cameras = Vec::with_capacity(config.count);
        let mut listeners = Vec::with_capacity(config.count);
        for index in 0..config.count {
            let (ip, port) = camera_address(&config, index)?;
            let http_addr = SocketAddr::new(ip, port);
            let wsd_addr = SocketAddr::new(ip, config.wsd_port);
            let persona = config.persona.for_camera(index);
            let mut identity = make_identity(config.seed, index, persona, http_addr, wsd_addr);
            if let Some(mac) = &config.shared_mac {
                identity.mac = mac.clone();
            }
            let active = index < config.count - config.inactive;
            let admin =
                active.then_some((config.admin_user.as_str(), config.admin_password.as_str()));
            let mut policy = config.policy.clone();
            if persona == Persona::Hikvision {
                // Seven wrong passwords lock a Hikvision camera's admin for 30 minutes.
                policy.lockout_threshold = 7;
                policy.lockout_duration = Duration::from_secs(30 * 60);
            }
            if persona == Persona::Dahua {
                // Five wrong passwords lock a Dahua camera's user for five minutes.
                policy.lockout_threshold = 5;
                policy.lockout_duration = Duration::from_secs(5 * 60);
            }
            let camera = Arc::new(
                SimCamera::new(
                    identity,
                    policy,
                    clock.clone(),
                    admin,
                    config.clock_offset_secs,
                )
                .with_recovery(
                    config.reset_email.clone(),
                    config.internet,
                    mail.clone(),
                ),
            );
            let listener = http::bind(http_addr).map_err(|source| SimError::Bind {
                addr: http_addr,
                source,
            })?;
            cameras.push(camera);
            listeners.push(listener);
        }

        let mut responders = Vec::new();
        if config.address_per_camera {
            for camera in &cameras {
                let addr = camera.identity().wsd_addr;
                responders.push(Arc::new(
                    Responder::bind(
                        vec![camera.clone()],
                        addr,
                        config.multicast,
                        config.max_reply_delay,
                        config.announce_to.clone(),
                    )
                    .map_err(|source| SimError::Bind { addr, source })?,
                ));
            }
        } else {
            let addr = SocketAddr::new(config.bind, config.wsd_port);
            responders.push(Arc::new(
                Responder::bind(
                    cameras.clone(),
                    addr,
                    config.multicast,
                    config.max_reply_delay,
                    config.announce_to.clone(),
                )
                .map_err(|source| SimError::Bind { addr, source })?,
            ));
        }

        let mut sadp_responders = Vec::new();
        let sadp_groups: Vec<(Vec<Arc<SimCamera>>, SocketAddr)> = if config.address_per_camera {
            cameras
                .iter()
                .map(|c| {
                    (
                        vec![c.clone()],
                        SocketAddr::new(c.identity().http_addr.ip(), config.sadp_port),
                    )
                })
                .collect()
        } else {
            vec![(
                cameras.clone(),
                SocketAddr::new(config.bind, config.sadp_port),
            )]
        };
        let mut dhip_responders = Vec::new();
        for (group, addr) in sadp_groups {
            if let Some(responder) = SadpResponder::bind(&group, addr, config.multicast)
                .map_err(|source| SimError::Bind { addr, source })?
            {
                sadp_responders.push(Arc::new(responder));
            }
            let addr = SocketAddr::new(addr.ip(), config.dhip_port);
            if let Some(responder) =
                dahua::dhip::DhipResponder::bind(&group, addr, config.multicast)
                    .map_err(|source| SimError::Bind { addr, source })?
            {
                dhip_responders.push(Arc::new(responder));
            }
        }

        let mut tasks = JoinSet::new();
        for responder in sadp_responders {
            tasks.spawn(responder.run(shutdown.clone()));
        }
        for responder in dhip_responders {
            tasks.spawn(responder.run(shutdown.clone()));
        }
        for (camera, listener) in cameras.iter().zip(listeners) {
            tasks.spawn(http::serve(camera.clone(), listener, shutdown.clone()));
        }
        for responder in &responders {
            tasks.spawn(responder.clone().run(shutdown.clone()));
        }
        for camera in &cameras {
            if let Some(orders) = camera.take_lifecycle() {
                let serving: Vec<Arc<Responder>> = responders
                    .iter()
                    .filter(|r| r.serves(camera))
                    .cloned()
                    .collect();
                tasks.spawn(carry_out_lifecycle(
                    camera.clone(),
                    serving,
                    orders,
                    shutdown.clone(),
                ));
            }
        }
        for responder in &responders {
            responder.announce_hello().await;
        }
        tracing::info!(
            cameras = cameras.len(),
            inactive = config.inactive,
            "camera simulator running"
        );
        Ok(Self {
            cameras,
            responders,
            shutdown,
            tasks: tokio::sync::Mutex::new(tasks),
        })
    }

    /// The cameras, in index order.
    pub fn cameras(&self) -> &[Arc<SimCamera>] {
        &self.cameras
    }

    /// One camera by index.
    pub fn camera(&self, index: usize) -> Option<&Arc<SimCamera>> {
        self.cameras.get(index)
    }

    /// Summaries of every camera.
    pub fn summaries(&self) -> Vec<CameraSummary> {
        self.cameras.iter().map(|c| c.summary()).collect()
    }

    /// Resets a camera to factory state; it reboots and says Hello.
    pub async fn factory_reset(&self, index: usize) -> bool {
        let Some(camera) = self.cameras.get(index) else {
            return false;
        };
        camera.factory_reset();
        for responder in self.responders.iter().filter(|r| r.serves(camera)) {
            responder.announce_hello_for(camera).await;
        }
        true
    }

    /// Reboots a camera: its recovery challenge is void, and it says Hello.
    pub async fn reboot(&self, index: usize) -> bool {
        let Some(camera) = self.cameras.get(index) else {
            return false;
        };
        camera.reboot();
        for responder in self.responders.iter().filter(|r| r.serves(camera)) {
            responder.announce_hello_for(camera).await;
        }
        true
    }

    /// Gives a camera a new address, as a DHCP server does: its port moves there and it says Hello.
    pub fn move_camera(&self, index: usize, ip: IpAddr) -> bool {
        let Some(camera) = self.cameras.get(index) else {
            return false;
        };
        camera.order(Lifecycle::Move(ip));
        true
    }

    /// The camera with this serial number.
    pub fn camera_by_serial(&self, serial: &str) -> Option<&Arc<SimCamera>> {
        self.cameras.iter().find(|c| c.identity().serial == serial)
    }

    /// Plays the vendor's phone app and cloud: the app scans `payload`, the cloud computes the code from
    /// the camera's own secret and emails it to the camera's reset email. Returns the masked address.
    pub async fn app_scan(&self, payload: &str) -> Result<String, String> {
        let parsed = match recovery::parse_qr_payload(payload) {
            Some(parsed) => parsed,
            // A serial number: the phone scans the QR code the recorder shows for that camera now,
            // which carries the camera's current challenge.
            None => self
                .camera_by_serial(payload.trim())
                .ok_or(
                    "that is not a vigil recovery QR code, nor a serial number the vendor knows",
                )?
                .shown_qr()
                .ok_or("this camera shows no QR code now; open Forget Password on it first")?,
        };
        let camera = self
            .camera_by_serial(&parsed.device)
            .ok_or("the vendor does not know this device")?;
        camera
            .vendor_send_app_code(&parsed, camera.camera_now())
            .await
    }

    /// Plays the vendor's support desk: the support code for a serial number and a date.
    pub fn support_code(&self, serial: &str, date: &str) -> Result<String, String> {
        if time::Date::parse(
            date,
            &time::macros::format_description!("[year]-[month]-[day]"),
        )
        .is_err()
        {
            return Err(format!("'{date}' is not a date (YYYY-MM-DD)"));
        }
        let camera = self
            .camera_by_serial(serial)
            .ok_or("the vendor does not know this serial number")?;
        Ok(camera.vendor_support_code(date))
    }

    /// Says Bye for every online camera and stops serving.
    pub async fn shutdown(&self) {
        if self.shutdown.is_cancelled() {
            return;
        }
        for responder in &self.responders {
            responder.announce_bye().await;
        }
        self.shutdown.cancel();
        let mut tasks = self.tasks.lock().await;
        while tasks.join_next().await.is_some() {}
    }

    /// A token cancelled when the simulator shuts down.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

fn validate(config: &SimConfig) -> Result<(), SimError> {
    if config.count == 0 {
        return Err(SimError::Config("count must be at least 1".into()));
    }
    if config.inactive > config.count {
        return Err(SimError::Config(format!(
            "inactive ({}) is more than count ({})",
            config.inactive, config.count
        )));
    }
    if config.multicast && !config.bind.is_ipv4() {
        return Err(SimError::Config(
            "multicast needs an IPv4 bind address".into(),
        ));
    }
    if let Some(mac) = &config.shared_mac
        && crate::model::normalize_mac(mac).as_deref() != Some(mac.as_str())
    {
        return Err(SimError::Config(format!(
            "shared MAC '{mac}' is not a lower-case aa:bb:cc:dd:ee:ff address"
        )));
    }
    Ok(())
}

fn camera_address(config: &SimConfig, index: usize) -> Result<(IpAddr, u16), SimError> {
    if config.address_per_camera {
        let IpAddr::V4(first) = config.bind else {
            return Err(SimError::Config(
                "an address per camera needs an IPv4 bind address".into(),
            ));
        };
        let offset =
            u32::try_from(index).map_err(|_| SimError::Config("too many cameras".into()))?;
        let ip = u32::from(first)
            .checked_add(offset)
            .ok_or_else(|| SimError::Config("camera addresses run past 255.255.255.255".into()))?;
        Ok((IpAddr::V4(Ipv4Addr::from(ip)), config.base_port))
    } else {
        let port = u16::try_from(usize::from(config.base_port) + index)
            .map_err(|_| SimError::Config("camera ports run past 65535".into()))?;
        Ok((config.bind, port))
    }
}

/// Dahua models the Dahua persona plays in turn.
const DAHUA_MODELS: [&str; 2] = ["IPC-HDW2441T-S", "IPC-HFW2449S-S-IL"];

/// Hikvision models the Hikvision persona plays in turn.
const HIKVISION_MODELS: [&str; 3] = ["DS-2CD2143G2-I", "DS-2CD2387G2-LU", "DS-2CD1023G0E-I"];

fn make_identity(
    seed: u16,
    index: usize,
    persona: Persona,
    http_addr: SocketAddr,
    wsd_addr: SocketAddr,
) -> CameraIdentity {
    let (manufacturer, model, serial, firmware) = match persona {
        Persona::Hikvision => {
            let model = HIKVISION_MODELS[index % HIKVISION_MODELS.len()];
            (
                "Hikvision",
                model.to_owned(),
                // Hikvision's form: the model, a date, a batch code and a number.
                format!("{model}20260101AAWRK{seed:04}{:05}", index + 1),
                "V5.7.3 build 260101",
            )
        }
        Persona::Dahua => {
            let model = DAHUA_MODELS[index % DAHUA_MODELS.len()];
            (
                "Dahua",
                model.to_owned(),
                // Dahua's form: fifteen letters and digits.
                format!("8L0{seed:04}PAG{:05}", index + 1),
                "2.840.0000000.18.R",
            )
        }
        Persona::Onvif | Persona::Vigil => (
            "Vigil Sim",
            MODELS[index % MODELS.len()].to_owned(),
            format!("VS{seed:04}{:06}", index + 1),
            "2.8.1 build 261101",
        ),
    };
    let endpoint = uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, serial.as_bytes());
    let [seed_hi, seed_lo] = seed.to_be_bytes();
    let index_bytes = u32::try_from(index).unwrap_or(u32::MAX).to_be_bytes();
    CameraIdentity {
        index,
        endpoint_ref: format!("urn:uuid:{endpoint}"),
        manufacturer: manufacturer.to_owned(),
        model,
        firmware: firmware.to_owned(),
        serial,
        hardware_id: format!("HW{}", 100 + index % MODELS.len()),
        mac: format!(
            "02:56:{:02x}:{:02x}:{:02x}:{:02x}",
            seed_hi ^ seed_lo,
            index_bytes[1],
            index_bytes[2],
            index_bytes[3]
        ),
        http_addr,
        wsd_addr,
        persona,
    }
}

/// Carries out a camera's reboots and moves, one at a time, after the reply that ordered them.
async fn carry_out_lifecycle(
    camera: Arc<SimCamera>,
    responders: Vec<Arc<Responder>>,
    mut orders: tokio::sync::mpsc::UnboundedReceiver<Lifecycle>,
    shutdown: CancellationToken,
) {
    loop {
        let order = tokio::select! {
            _ = shutdown.cancelled() => return,
            order = orders.recv() => match order {
                Some(order) => order,
                None => return,
            },
        };
        // The reply that ordered it goes out first.
        tokio::time::sleep(Duration::from_millis(50)).await;
        match order {
            Lifecycle::Reboot { factory_hard } => {
                camera.set_online(false).await;
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(camera.policy().reboot_time) => {}
                }
                if factory_hard {
                    camera.factory_reset();
                } else {
                    camera.reboot();
                }
                if let Some(ip) = camera.address_at_boot(factory_hard) {
                    camera.take_address(ip);
                }
                camera.set_online(true).await;
            }
            Lifecycle::Move(ip) => camera.take_address(ip),
        }
        tracing::info!(camera = camera.identity().index, address = %camera.http_addr(), "simulated camera back on the network");
        for responder in &responders {
            responder.announce_hello_for(&camera).await;
        }
    }
}
