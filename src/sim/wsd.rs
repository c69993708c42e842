//! The simulated cameras' WS-Discovery face: answers Probe (Types and Scopes filters honoured) with a
//! ProbeMatch after a random delay up to APP_MAX_DELAY, and announces Hello on start and Bye on stop.
//!
//! Replies always leave from the camera's own unicast socket, so their source address is the camera's.

use std::collections::VecDeque;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use oxvif::soap::XmlNode;
use tokio::net::UdpSocket;
use tokio_util::sync::CancellationToken;

use crate::camera::xml_guard::{MAX_XML_DEPTH, nesting_within};
use crate::sim::camera::SimCamera;
use crate::sim::soap::esc;

/// The WS-Discovery multicast group.
pub const MULTICAST_GROUP: Ipv4Addr = Ipv4Addr::new(239, 255, 255, 250);
/// The WS-Discovery port.
pub const WSD_PORT: u16 = 3702;
/// The largest probe a camera reads.
const MAX_PROBE: usize = 8 * 1024;
/// How many probe MessageIDs a responder remembers, to answer a repeated probe only once.
const SEEN_PROBES: usize = 256;

const NS: &str = concat!(
    r#"xmlns:env="http://www.w3.org/2003/05/soap-envelope""#,
    r#" xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing""#,
    r#" xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery""#,
    r#" xmlns:dn="http://www.onvif.org/ver10/network/wsdl""#,
    r#" xmlns:tds="http://www.onvif.org/ver10/device/wsdl""#
);
/// The types every simulated camera advertises.
const CAMERA_TYPES: &str = "dn:NetworkVideoTransmitter tds:Device";
const ACTION_BASE: &str = "http://schemas.xmlsoap.org/ws/2005/04/discovery";

/// Answers probes for a group of cameras that share one unicast address.
pub struct Responder {
    cameras: Vec<Arc<SimCamera>>,
    unicast: Arc<UdpSocket>,
    multicast: Option<Arc<UdpSocket>>,
    max_delay: Duration,
    announce_to: Vec<SocketAddr>,
    multicast_announce: bool,
    seen: Mutex<VecDeque<String>>,
}

impl Responder {
    /// Binds the unicast socket at `addr`, and the multicast one too when `multicast` is set.
    pub fn bind(
        cameras: Vec<Arc<SimCamera>>,
        addr: SocketAddr,
        multicast: bool,
        max_delay: Duration,
        announce_to: Vec<SocketAddr>,
    ) -> std::io::Result<Self> {
        // Hello and Bye go to the group from the camera's own address.
        let unicast = udp_socket(addr, multicast)?;
        let multicast_socket = if multicast {
            let SocketAddr::V4(v4) = addr else {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    "multicast discovery needs an IPv4 address",
                ));
            };
            let socket = udp_socket(SocketAddr::from((MULTICAST_GROUP, v4.port())), false)?;
            socket.join_multicast_v4(MULTICAST_GROUP, *v4.ip())?;
            Some(Arc::new(socket))
        } else {
            None
        };
        Ok(Self {
            cameras,
            unicast: Arc::new(unicast),
            multicast: multicast_socket,
            max_delay,
            announce_to,
            multicast_announce: multicast,
            seen: Mutex::new(VecDeque::new()),
        })
    }

    /// Answers probes until `shutdown`.
    pub async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        let multicast = self.multicast.clone();
        let on_multicast = async {
            if let Some(socket) = multicast {
                self.clone().receive(socket, shutdown.clone()).await;
            }
        };
        tokio::join!(
            self.clone().receive(self.unicast.clone(), shutdown.clone()),
            on_multicast
        );
    }

    async fn receive(self: Arc<Self>, socket: Arc<UdpSocket>, shutdown: CancellationToken) {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let (len, from) = tokio::select! {
                _ = shutdown.cancelled() => return,
                received = socket.recv_from(&mut buf) => match received {
                    Ok(r) => r,
                    Err(_) => continue,
                },
            };
            if len > MAX_PROBE {
                continue;
            }
            let Some(probe) = parse_probe(&buf[..len]) else {
                continue;
            };
            if !self.first_sighting(&probe.message_id) {
                continue;
            }
            for camera in &self.cameras {
                if !camera.is_online() || !camera.onvif_enabled() || !probe.matches(camera) {
                    continue;
                }
                let delay = random_delay(self.max_delay);
                let camera = camera.clone();
                let socket = self.unicast.clone();
                let relates_to = probe.message_id.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(delay).await;
                    if !camera.is_online() {
                        return;
                    }
                    let reply = probe_matches(&camera, &relates_to);
                    // A camera that moved (DHCP, Edit IP) answers from its new address, as its one
                    // network interface would.
                    let moved_to = camera.http_addr().ip();
                    let sent = match socket.local_addr() {
                        Ok(local) if local.ip() != moved_to && !local.ip().is_unspecified() => {
                            match udp_socket(SocketAddr::new(moved_to, 0), false) {
                                Ok(own) => own.send_to(reply.as_bytes(), from).await,
                                Err(error) => Err(error),
                            }
                        }
                        _ => socket.send_to(reply.as_bytes(), from).await,
                    };
                    if sent.is_ok() {
                        camera.note_probe_answered();
                    }
                });
            }
        }
    }

    fn first_sighting(&self, message_id: &str) -> bool {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        if seen.iter().any(|id| id == message_id) {
            return false;
        }
        seen.push_back(message_id.to_owned());
        if seen.len() > SEEN_PROBES {
            seen.pop_front();
        }
        true
    }

    /// Sends Hello for every online camera of this responder.
    pub async fn announce_hello(&self) {
        for camera in &self.cameras {
            if camera.is_online() && camera.onvif_enabled() {
                self.announce(&hello(camera)).await;
            }
        }
    }

    /// Sends Hello for one camera, after it reboots.
    pub async fn announce_hello_for(&self, camera: &SimCamera) {
        if camera.onvif_enabled() {
            self.announce(&hello(camera)).await;
        }
    }

    /// Sends Bye for every online camera of this responder.
    pub async fn announce_bye(&self) {
        for camera in &self.cameras {
            if camera.is_online() && camera.onvif_enabled() {
                self.announce(&bye(camera)).await;
            }
        }
    }

    /// Whether this responder answers for `camera`.
    pub fn serves(&self, camera: &SimCamera) -> bool {
        self.cameras
            .iter()
            .any(|c| c.identity().index == camera.identity().index)
    }

    async fn announce(&self, message: &str) {
        if self.multicast_announce {
            let group = SocketAddr::from((MULTICAST_GROUP, WSD_PORT));
            let _ = self.unicast.send_to(message.as_bytes(), group).await;
        }
        for target in &self.announce_to {
            let _ = self.unicast.send_to(message.as_bytes(), target).await;
        }
    }
}

fn udp_socket(addr: SocketAddr, multicast_from_here: bool) -> std::io::Result<UdpSocket> {
    let domain = if addr.is_ipv4() {
        socket2::Domain::IPV4
    } else {
        socket2::Domain::IPV6
    };
    let socket = socket2::Socket::new(domain, socket2::Type::DGRAM, Some(socket2::Protocol::UDP))?;
    socket.set_reuse_address(true)?;
    socket.set_nonblocking(true)?;
    if multicast_from_here && let SocketAddr::V4(v4) = addr {
        socket.set_multicast_if_v4(v4.ip())?;
    }
    socket.bind(&addr.into())?;
    UdpSocket::from_std(socket.into())
}

fn random_delay(max: Duration) -> Duration {
    let max_ms = u64::try_from(max.as_millis()).unwrap_or(u64::MAX);
    if max_ms == 0 {
        Duration::ZERO
    } else {
        Duration::from_millis(rand::random_range(0..=max_ms))
    }
}

/// A parsed Probe.
struct Probe {
    message_id: String,
    /// Local names of the requested types; all must match.
    types: Vec<String>,
    /// Requested scopes; each must prefix-match one of the camera's.
    scopes: Vec<String>,
}

impl Probe {
    fn matches(&self, camera: &SimCamera) -> bool {
        let types_ok = self.types.iter().all(|wanted| {
            CAMERA_TYPES
                .split_whitespace()
                .any(|have| local_part(have) == wanted)
        });
        if !types_ok {
            return false;
        }
        if self.scopes.is_empty() {
            return true;
        }
        let have = camera.scopes();
        self.scopes.iter().all(|wanted| {
            have.iter().any(|scope| {
                scope == wanted || scope.starts_with(&format!("{}/", wanted.trim_end_matches('/')))
            })
        })
    }
}

fn local_part(qname: &str) -> &str {
    qname.rsplit(':').next().unwrap_or(qname)
}

fn parse_probe(datagram: &[u8]) -> Option<Probe> {
    if !nesting_within(datagram, MAX_XML_DEPTH) {
        return None;
    }
    let text = std::str::from_utf8(datagram).ok()?;
    let root = XmlNode::parse(text).ok()?;
    let action = root.path(&["Header", "Action"])?.text();
    if action != format!("{ACTION_BASE}/Probe") {
        return None;
    }
    let message_id = root.path(&["Header", "MessageID"])?.text().to_owned();
    if message_id.is_empty() {
        return None;
    }
    let probe = root.path(&["Body", "Probe"])?;
    let types = probe
        .child("Types")
        .map(|n| {
            n.text()
                .split_whitespace()
                .map(|t| local_part(t).to_owned())
                .collect()
        })
        .unwrap_or_default();
    let scopes = probe
        .child("Scopes")
        .map(|n| n.text().split_whitespace().map(str::to_owned).collect())
        .unwrap_or_default();
    Some(Probe {
        message_id,
        types,
        scopes,
    })
}

fn discovery_fields(camera: &SimCamera) -> String {
    let id = camera.identity();
    let scopes: Vec<String> = camera.scopes().iter().map(|s| esc(s)).collect();
    format!(
        "<wsa:EndpointReference><wsa:Address>{}</wsa:Address></wsa:EndpointReference>\
         <d:Types>{CAMERA_TYPES}</d:Types><d:Scopes>{}</d:Scopes>\
         <d:XAddrs>{}</d:XAddrs><d:MetadataVersion>1</d:MetadataVersion>",
        esc(&id.endpoint_ref),
        scopes.join(" "),
        esc(&camera.device_service_url())
    )
}

fn header(camera: &SimCamera, action: &str, to: &str, relates_to: Option<&str>) -> String {
    let (instance, number) = camera.next_app_sequence();
    let relates = relates_to
        .map(|r| format!("<wsa:RelatesTo>{}</wsa:RelatesTo>", esc(r)))
        .unwrap_or_default();
    format!(
        "<env:Header><wsa:MessageID>urn:uuid:{}</wsa:MessageID>{relates}<wsa:To>{to}</wsa:To>\
         <wsa:Action>{ACTION_BASE}/{action}</wsa:Action>\
         <d:AppSequence InstanceId=\"{instance}\" MessageNumber=\"{number}\"/></env:Header>",
        uuid::Uuid::new_v4()
    )
}

fn probe_matches(camera: &SimCamera, relates_to: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><env:Envelope {NS}>{}<env:Body><d:ProbeMatches>\
         <d:ProbeMatch>{}</d:ProbeMatch></d:ProbeMatches></env:Body></env:Envelope>",
        header(
            camera,
            "ProbeMatches",
            "http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous",
            Some(relates_to)
        ),
        discovery_fields(camera)
    )
}

fn hello(camera: &SimCamera) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><env:Envelope {NS}>{}<env:Body><d:Hello>{}</d:Hello>\
         </env:Body></env:Envelope>",
        header(
            camera,
            "Hello",
            "urn:schemas-xmlsoap-org:ws:2005:04:discovery",
            None
        ),
        discovery_fields(camera)
    )
}

fn bye(camera: &SimCamera) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><env:Envelope {NS}>{}<env:Body><d:Bye>\
         <wsa:EndpointReference><wsa:Address>{}</wsa:Address></wsa:EndpointReference></d:Bye>\
         </env:Body></env:Envelope>",
        header(
            camera,
            "Bye",
            "urn:schemas-xmlsoap-org:ws:2005:04:discovery",
            None
        ),
        esc(&camera.identity().endpoint_ref)
    )
}
