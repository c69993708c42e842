//! WS-Discovery on the NVR side: sends Probes (multicast on chosen interfaces, unicast to addresses and
//! ranges) and streams every valid ProbeMatch the moment it arrives; listens for Hello and Bye.
//!
//! One socket with a large receive buffer, drained in a tight loop, so a burst of replies is not lost.
//! Every datagram is checked before it is believed: size, XML, that it answers our probe, and that the
//! device service it names is at the address it came from. What fails is dropped with a debug line.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use oxvif::soap::XmlNode;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::camera::clean_camera_text;
use crate::camera::xml_guard::{MAX_XML_DEPTH, nesting_within};
use crate::model::{DeviceAddress, Protocol, Protocols};

/// The WS-Discovery multicast group.
pub const MULTICAST_GROUP: Ipv4Addr = Ipv4Addr::new(239, 255, 255, 250);
/// The WS-Discovery port.
pub const WSD_PORT: u16 = 3702;
/// Datagrams larger than this are dropped unread.
pub const MAX_DATAGRAM: usize = 32 * 1024;
/// The receive buffer asked for, so a burst of replies waits in the kernel rather than being lost.
const RECEIVE_BUFFER: usize = 8 * 1024 * 1024;
/// Distinct devices believed from one sender address in one probe run.
const MAX_DEVICES_PER_SENDER: usize = 1024;
/// Distinct devices believed in one probe run.
const MAX_DEVICES_PER_RUN: usize = 8192;
/// The most unicast probe targets one run takes.
pub const MAX_UNICAST_TARGETS: usize = 4096;
/// Scopes and types kept per device.
const MAX_LIST_ITEMS: usize = 32;

const ACTION_BASE: &str = "http://schemas.xmlsoap.org/ws/2005/04/discovery";

/// What to probe and for how long.
#[derive(Debug, Clone)]
pub struct ProbePlan {
    /// Local IPv4 addresses of the interfaces to multicast from; empty for no multicast.
    pub multicast_interfaces: Vec<Ipv4Addr>,
    /// The multicast port (3702 except in tests).
    pub multicast_port: u16,
    /// Addresses to probe by unicast.
    pub unicast_targets: Vec<SocketAddr>,
    /// How long to keep listening after the last probe is sent.
    pub listen_for: Duration,
    /// When to send each probe a second time, as SOAP-over-UDP asks (UDP may drop the first).
    pub repeat_after: Duration,
}

/// A device that answered a probe or announced itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sighting {
    /// The WS-Discovery endpoint reference, `urn:uuid:...`.
    pub endpoint_ref: String,
    /// The device service addresses, each at the sender's own IP.
    pub addresses: Vec<DeviceAddress>,
    /// Advertised scopes.
    pub scopes: Vec<String>,
    /// Advertised types, local names.
    pub types: Vec<String>,
    /// Where the datagram came from.
    pub sender: SocketAddr,
}

impl Sighting {
    /// The protocols it shows: ONVIF, and Vigil's recovery extension when the camera advertises its
    /// namespace as a scope (docs/recovery-protocol.md, "Discovery").
    pub fn protocols(&self) -> Protocols {
        let onvif = Protocols::only(Protocol::Onvif);
        if self
            .scopes
            .iter()
            .any(|s| s == crate::camera::recovery_client::RECOVERY_NS)
        {
            onvif.with(Protocol::Vigil)
        } else {
            onvif
        }
    }
}

/// A Hello or Bye.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Announcement {
    /// A device joined the network.
    Hello(Sighting),
    /// A device is leaving.
    Bye {
        /// Its endpoint reference.
        endpoint_ref: String,
        /// Where the Bye came from.
        sender: SocketAddr,
    },
}

/// Why a datagram was not believed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// Larger than [`MAX_DATAGRAM`].
    #[error("datagram of {0} bytes is over the limit")]
    Oversized(usize),
    /// Not UTF-8 or not XML.
    #[error("not well-formed XML")]
    Malformed,
    /// Well-formed, but not a message we expect here.
    #[error("unexpected message: {0}")]
    Unexpected(String),
    /// A ProbeMatch that answers no probe of ours.
    #[error("ProbeMatches does not answer our probe")]
    NotOurProbe,
    /// No endpoint reference.
    #[error("no endpoint reference")]
    NoEndpoint,
    /// No device service address at the sender's own IP.
    #[error("no device service address at the sender's address {0}")]
    LyingAddress(IpAddr),
}

/// The local IPv4 addresses to send multicast probes from: those of every non-loopback IPv4
/// interface, or only of the interfaces named in `wanted` when it is not empty.
pub fn multicast_interfaces(wanted: &[String]) -> std::io::Result<Vec<Ipv4Addr>> {
    let available = oxvif::discovery_interfaces()?
        .into_iter()
        .map(|i| (i.name, i.address))
        .collect::<Vec<_>>();
    Ok(select_interfaces(available, wanted))
}

/// The subnet (the recorder's own address on it and its prefix length) of the recorder's interface
/// that reaches `camera` directly, when one does: the camera's address is inside it.
pub fn recorder_subnet_reaching(camera: Ipv4Addr) -> Option<(Ipv4Addr, u8)> {
    let interfaces = if_addrs::get_if_addrs().ok()?;
    interfaces
        .into_iter()
        .filter_map(|interface| match interface.addr {
            if_addrs::IfAddr::V4(v4) => Some((v4.ip, v4.prefixlen)),
            if_addrs::IfAddr::V6(_) => None,
        })
        .filter(|(ip, prefix_len)| crate::rules::network::in_subnet(camera, *ip, *prefix_len))
        // The narrowest subnet that holds the camera is the one its traffic leaves by.
        .max_by_key(|(_, prefix_len)| *prefix_len)
}

/// The addresses of the interfaces in `available` that `wanted` names (all of them when it is empty).
fn select_interfaces(available: Vec<(String, Ipv4Addr)>, wanted: &[String]) -> Vec<Ipv4Addr> {
    available
        .into_iter()
        .filter(|(name, _)| wanted.is_empty() || wanted.contains(name))
        .map(|(_, address)| address)
        .collect()
}

/// Probes as `plan` says and streams the sightings. Returns once the socket is bound and the first
/// probes are sent; the receiver ends when the listening window closes or `cancel` fires.
pub async fn probe(
    plan: ProbePlan,
    cancel: CancellationToken,
) -> std::io::Result<mpsc::Receiver<Sighting>> {
    let socket = bind_socket(SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)), RECEIVE_BUFFER)?;
    let socket = UdpSocket::from_std(socket.into())?;
    let probes = [
        ProbeMessage::new("dn:NetworkVideoTransmitter"),
        ProbeMessage::new("tds:Device"),
    ];
    let our_ids: HashSet<String> = probes.iter().map(|p| p.message_id.clone()).collect();
    send_probes(&socket, &plan, &probes).await;

    let (tx, rx) = mpsc::channel(1024);
    tokio::spawn(async move {
        let repeat = tokio::time::sleep(plan.repeat_after);
        tokio::pin!(repeat);
        let mut repeated = false;
        let mut deadline = tokio::time::Instant::now() + plan.listen_for;
        let mut buf = vec![0u8; 64 * 1024];
        let mut run = RunLimits::default();
        loop {
            let (len, sender) = tokio::select! {
                biased;
                _ = cancel.cancelled() => return,
                _ = tokio::time::sleep_until(deadline) => return,
                _ = &mut repeat, if !repeated => {
                    repeated = true;
                    send_probes(&socket, &plan, &probes).await;
                    deadline = tokio::time::Instant::now() + plan.listen_for;
                    continue;
                }
                received = socket.recv_from(&mut buf) => match received {
                    Ok(r) => r,
                    Err(_) => continue,
                },
            };
            match parse_datagram(&buf[..len], sender, Some(&our_ids)) {
                Ok(Message::ProbeMatches(sightings)) => {
                    for sighting in sightings {
                        if !run.admit(&sighting) {
                            continue;
                        }
                        if tx.send(sighting).await.is_err() {
                            return;
                        }
                    }
                }
                Ok(_) => {}
                Err(rejection) => {
                    tracing::debug!(%sender, %rejection, "discovery reply dropped");
                }
            }
        }
    });
    Ok(rx)
}

/// Listens for Hello and Bye on `bind` (joining the multicast group on `multicast_interfaces`) until
/// `cancel`.
pub fn listen_announcements(
    bind: SocketAddr,
    multicast_interfaces: &[Ipv4Addr],
    cancel: CancellationToken,
) -> std::io::Result<mpsc::Receiver<Announcement>> {
    let socket = bind_socket(bind, RECEIVE_BUFFER)?;
    for interface in multicast_interfaces {
        socket.join_multicast_v4(&MULTICAST_GROUP, interface)?;
    }
    let socket = UdpSocket::from_std(socket.into())?;
    let (tx, rx) = mpsc::channel(256);
    tokio::spawn(async move {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let (len, sender) = tokio::select! {
                _ = cancel.cancelled() => return,
                received = socket.recv_from(&mut buf) => match received {
                    Ok(r) => r,
                    Err(_) => continue,
                },
            };
            let announcement = match parse_datagram(&buf[..len], sender, None) {
                Ok(Message::Hello(sighting)) => Announcement::Hello(sighting),
                Ok(Message::Bye(endpoint_ref)) => Announcement::Bye {
                    endpoint_ref,
                    sender,
                },
                // Probes from other NVRs and stray matches are not for us.
                Ok(_) => continue,
                Err(rejection) => {
                    tracing::debug!(%sender, %rejection, "discovery announcement dropped");
                    continue;
                }
            };
            if tx.send(announcement).await.is_err() {
                return;
            }
        }
    });
    Ok(rx)
}

pub(crate) fn bind_socket(
    addr: SocketAddr,
    receive_buffer: usize,
) -> std::io::Result<socket2::Socket> {
    let domain = if addr.is_ipv4() {
        socket2::Domain::IPV4
    } else {
        socket2::Domain::IPV6
    };
    let socket = socket2::Socket::new(domain, socket2::Type::DGRAM, Some(socket2::Protocol::UDP))?;
    socket.set_reuse_address(true)?;
    // The kernel caps this at net.core.rmem_max; ask for a lot and take what is given.
    let _ = socket.set_recv_buffer_size(receive_buffer);
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    Ok(socket)
}

struct ProbeMessage {
    message_id: String,
    xml: String,
}

impl ProbeMessage {
    fn new(types: &str) -> Self {
        let message_id = format!("urn:uuid:{}", uuid::Uuid::new_v4());
        let xml = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
             <s:Envelope xmlns:s=\"http://www.w3.org/2003/05/soap-envelope\" \
             xmlns:a=\"http://schemas.xmlsoap.org/ws/2004/08/addressing\" \
             xmlns:d=\"http://schemas.xmlsoap.org/ws/2005/04/discovery\" \
             xmlns:dn=\"http://www.onvif.org/ver10/network/wsdl\" \
             xmlns:tds=\"http://www.onvif.org/ver10/device/wsdl\">\
             <s:Header><a:Action s:mustUnderstand=\"1\">{ACTION_BASE}/Probe</a:Action>\
             <a:MessageID>{message_id}</a:MessageID>\
             <a:ReplyTo><a:Address>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:Address></a:ReplyTo>\
             <a:To s:mustUnderstand=\"1\">urn:schemas-xmlsoap-org:ws:2005:04:discovery</a:To></s:Header>\
             <s:Body><d:Probe><d:Types>{types}</d:Types></d:Probe></s:Body></s:Envelope>"
        );
        Self { message_id, xml }
    }
}

async fn send_probes(socket: &UdpSocket, plan: &ProbePlan, probes: &[ProbeMessage]) {
    let datagrams: Vec<&[u8]> = probes.iter().map(|p| p.xml.as_bytes()).collect();
    send_everywhere(
        socket,
        SocketAddr::from((MULTICAST_GROUP, plan.multicast_port)),
        &plan.multicast_interfaces,
        &plan.unicast_targets,
        &datagrams,
    )
    .await;
}

/// Sends each of `datagrams` to `group` from every interface in `interfaces`, then to every one of
/// `targets` by unicast. A send that fails is logged and the rest go on.
pub(crate) async fn send_everywhere(
    socket: &UdpSocket,
    group: SocketAddr,
    interfaces: &[Ipv4Addr],
    targets: &[SocketAddr],
    datagrams: &[&[u8]],
) {
    for interface in interfaces {
        if let Err(error) = socket2::SockRef::from(socket).set_multicast_if_v4(interface) {
            tracing::debug!(%interface, %error, "cannot choose multicast interface");
            continue;
        }
        for datagram in datagrams {
            if let Err(error) = socket.send_to(datagram, group).await {
                tracing::debug!(%interface, %error, "multicast probe not sent");
            }
        }
    }
    for target in targets {
        for datagram in datagrams {
            if let Err(error) = socket.send_to(datagram, target).await {
                tracing::debug!(%target, %error, "unicast probe not sent");
            }
        }
    }
}

/// Per-run caps that keep a flood from growing memory without bound.
#[derive(Default)]
struct RunLimits {
    /// Endpoint references seen, with the sender: a cloned camera may answer with another's.
    seen: HashSet<(String, IpAddr)>,
    per_sender: HashMap<IpAddr, usize>,
}

impl RunLimits {
    fn admit(&mut self, sighting: &Sighting) -> bool {
        let id = (sighting.endpoint_ref.clone(), sighting.sender.ip());
        if self.seen.contains(&id) {
            return false;
        }
        if self.seen.len() >= MAX_DEVICES_PER_RUN {
            tracing::debug!(sender = %sighting.sender, "discovery run is full; reply dropped");
            return false;
        }
        let count = self.per_sender.entry(sighting.sender.ip()).or_insert(0);
        if *count >= MAX_DEVICES_PER_SENDER {
            tracing::debug!(sender = %sighting.sender, "too many devices from one sender; reply dropped");
            return false;
        }
        *count += 1;
        self.seen.insert(id);
        true
    }
}

/// A WS-Discovery message the NVR cares about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// Answers to a probe.
    ProbeMatches(Vec<Sighting>),
    /// A device announced itself.
    Hello(Sighting),
    /// A device is leaving; its endpoint reference.
    Bye(String),
    /// Someone else's Probe.
    Probe,
}

/// Reads and checks one datagram. `our_probes` are the MessageIDs a ProbeMatch must relate to; `None`
/// when listening for announcements.
pub fn parse_datagram(
    datagram: &[u8],
    sender: SocketAddr,
    our_probes: Option<&HashSet<String>>,
) -> Result<Message, Rejection> {
    if datagram.len() > MAX_DATAGRAM {
        return Err(Rejection::Oversized(datagram.len()));
    }
    if !nesting_within(datagram, MAX_XML_DEPTH) {
        return Err(Rejection::Malformed);
    }
    let text = std::str::from_utf8(datagram).map_err(|_| Rejection::Malformed)?;
    let root = XmlNode::parse(text).map_err(|_| Rejection::Malformed)?;
    if root.local_name != "Envelope" {
        return Err(Rejection::Malformed);
    }
    let action = root
        .path(&["Header", "Action"])
        .map(|n| n.text().trim().to_owned())
        .unwrap_or_default();
    let body = root.child("Body").ok_or(Rejection::Malformed)?;
    match action.strip_prefix(ACTION_BASE) {
        Some("/ProbeMatches") => {
            let Some(our_probes) = our_probes else {
                return Err(Rejection::NotOurProbe);
            };
            let relates_to = root
                .path(&["Header", "RelatesTo"])
                .map(|n| n.text().trim())
                .unwrap_or_default();
            if !our_probes.contains(relates_to) {
                return Err(Rejection::NotOurProbe);
            }
            let matches = body.child("ProbeMatches").ok_or(Rejection::Malformed)?;
            let mut sightings = Vec::new();
            let mut last_rejection = Rejection::NoEndpoint;
            for node in matches.children_named("ProbeMatch").take(MAX_LIST_ITEMS) {
                match sighting(node, sender) {
                    Ok(s) => sightings.push(s),
                    Err(r) => last_rejection = r,
                }
            }
            if sightings.is_empty() {
                return Err(last_rejection);
            }
            Ok(Message::ProbeMatches(sightings))
        }
        Some("/Hello") => {
            let hello = body.child("Hello").ok_or(Rejection::Malformed)?;
            Ok(Message::Hello(sighting(hello, sender)?))
        }
        Some("/Bye") => {
            let endpoint = body
                .path(&["Bye", "EndpointReference", "Address"])
                .map(|n| clean_camera_text(n.text()))
                .filter(|e| !e.is_empty())
                .ok_or(Rejection::NoEndpoint)?;
            Ok(Message::Bye(endpoint))
        }
        Some("/Probe") => Ok(Message::Probe),
        _ => Err(Rejection::Unexpected(clean_camera_text(&action))),
    }
}

fn sighting(node: &XmlNode, sender: SocketAddr) -> Result<Sighting, Rejection> {
    let endpoint_ref = node
        .path(&["EndpointReference", "Address"])
        .map(|n| clean_camera_text(n.text()))
        .filter(|e| !e.is_empty())
        .ok_or(Rejection::NoEndpoint)?;
    let words = |name: &str| -> Vec<String> {
        node.child(name)
            .map(|n| {
                n.text()
                    .split_whitespace()
                    .take(MAX_LIST_ITEMS)
                    .map(clean_camera_text)
                    .collect()
            })
            .unwrap_or_default()
    };
    // Believe only device service addresses at the IP the datagram came from: a reply must not be able
    // to point the NVR at some other host.
    let addresses: Vec<DeviceAddress> = words("XAddrs")
        .iter()
        .filter_map(|x| DeviceAddress::from_url(x).ok())
        .filter(|a| a.ip() == Some(sender.ip()))
        .collect();
    if addresses.is_empty() {
        return Err(Rejection::LyingAddress(sender.ip()));
    }
    Ok(Sighting {
        endpoint_ref,
        addresses,
        scopes: words("Scopes"),
        types: words("Types")
            .iter()
            .map(|t| t.rsplit(':').next().unwrap_or(t).to_owned())
            .collect(),
        sender,
    })
}

/// Reads unicast probe targets: `192.168.1.20`, `192.168.1.20:3702`, `10.0.0.1-10.0.0.50`, or
/// `10.1.0.0/24` (network and broadcast addresses left out). The port defaults to 3702.
pub fn parse_unicast_targets(text: &str) -> Result<Vec<SocketAddr>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("empty target".to_owned());
    }
    let (spec, port) = match text.rsplit_once(':') {
        Some((spec, port)) if !spec.contains(':') => {
            let port: u16 = port
                .parse()
                .map_err(|_| format!("'{port}' is not a port number"))?;
            if port == 0 {
                return Err("port 0 is not a port".to_owned());
            }
            (spec, port)
        }
        _ => (text, WSD_PORT),
    };
    let parse_ip = |s: &str| -> Result<Ipv4Addr, String> {
        s.trim()
            .parse::<Ipv4Addr>()
            .map_err(|_| format!("'{}' is not an IPv4 address", s.trim()))
    };
    let (first, last) = if let Some((from, to)) = spec.split_once('-') {
        let (from, to) = (parse_ip(from)?, parse_ip(to)?);
        if u32::from(to) < u32::from(from) {
            return Err(format!("range {from}-{to} runs backwards"));
        }
        (u32::from(from), u32::from(to))
    } else if let Some((net, bits)) = spec.split_once('/') {
        let net = u32::from(parse_ip(net)?);
        let bits: u32 = bits
            .parse()
            .ok()
            .filter(|b| *b <= 32)
            .ok_or_else(|| format!("'/{bits}' is not a prefix length 0-32"))?;
        let mask = if bits == 0 {
            0
        } else {
            u32::MAX << (32 - bits)
        };
        let base = net & mask;
        let top = base | !mask;
        if bits >= 31 {
            (base, top)
        } else {
            (base + 1, top - 1)
        }
    } else {
        let ip = u32::from(parse_ip(spec)?);
        (ip, ip)
    };
    let count = u64::from(last) - u64::from(first) + 1;
    if count > MAX_UNICAST_TARGETS as u64 {
        return Err(format!(
            "{count} addresses is more than the {MAX_UNICAST_TARGETS} one target may cover"
        ));
    }
    Ok((first..=last)
        .map(|ip| SocketAddr::from((Ipv4Addr::from(ip), port)))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probe_match(relates_to: &str, xaddr: &str, endpoint: &str) -> String {
        format!(
            "<e:Envelope xmlns:e=\"http://www.w3.org/2003/05/soap-envelope\" \
             xmlns:w=\"http://schemas.xmlsoap.org/ws/2004/08/addressing\" \
             xmlns:d=\"http://schemas.xmlsoap.org/ws/2005/04/discovery\"><e:Header>\
             <w:Action>{ACTION_BASE}/ProbeMatches</w:Action><w:RelatesTo>{relates_to}</w:RelatesTo>\
             </e:Header><e:Body><d:ProbeMatches><d:ProbeMatch><w:EndpointReference>\
             <w:Address>{endpoint}</w:Address></w:EndpointReference><d:Types>dn:NetworkVideoTransmitter</d:Types>\
             <d:Scopes>onvif://www.onvif.org/hardware/X1</d:Scopes><d:XAddrs>{xaddr}</d:XAddrs>\
             </d:ProbeMatch></d:ProbeMatches></e:Body></e:Envelope>"
        )
    }

    #[test]
    fn multicast_goes_out_on_the_named_interfaces_or_on_all() {
        let available = || {
            vec![
                ("eth0".to_owned(), Ipv4Addr::new(192, 168, 1, 10)),
                ("eth1".to_owned(), Ipv4Addr::new(10, 0, 0, 10)),
            ]
        };
        assert_eq!(
            select_interfaces(available(), &[]),
            vec![Ipv4Addr::new(192, 168, 1, 10), Ipv4Addr::new(10, 0, 0, 10)]
        );
        assert_eq!(
            select_interfaces(available(), &["eth1".to_owned()]),
            vec![Ipv4Addr::new(10, 0, 0, 10)]
        );
        assert!(select_interfaces(available(), &["wlan0".to_owned()]).is_empty());
        // The machine's own list never holds loopback.
        let own = multicast_interfaces(&[]).unwrap();
        assert!(own.iter().all(|a| !a.is_loopback()), "{own:?}");
    }

    fn ours() -> HashSet<String> {
        HashSet::from(["urn:uuid:probe-1".to_owned()])
    }

    #[test]
    fn a_good_probe_match_is_read() {
        let sender: SocketAddr = "10.0.0.7:3702".parse().unwrap();
        let xml = probe_match(
            "urn:uuid:probe-1",
            "http://10.0.0.7/onvif/device_service",
            "urn:uuid:cam",
        );
        let Ok(Message::ProbeMatches(found)) =
            parse_datagram(xml.as_bytes(), sender, Some(&ours()))
        else {
            panic!("not read");
        };
        assert_eq!(found[0].endpoint_ref, "urn:uuid:cam");
        assert_eq!(
            found[0].addresses[0].url(),
            "http://10.0.0.7:80/onvif/device_service"
        );
        assert_eq!(found[0].types, vec!["NetworkVideoTransmitter"]);
    }

    #[test]
    fn hostile_replies_are_rejected_with_a_reason() {
        let sender: SocketAddr = "10.0.0.7:3702".parse().unwrap();
        let lying = probe_match(
            "urn:uuid:probe-1",
            "http://10.9.9.9/onvif/device_service",
            "urn:uuid:x",
        );
        assert_eq!(
            parse_datagram(lying.as_bytes(), sender, Some(&ours())),
            Err(Rejection::LyingAddress(sender.ip()))
        );
        let unsolicited = probe_match(
            "urn:uuid:other",
            "http://10.0.0.7/onvif/device_service",
            "urn:uuid:x",
        );
        assert_eq!(
            parse_datagram(unsolicited.as_bytes(), sender, Some(&ours())),
            Err(Rejection::NotOurProbe)
        );
        let no_endpoint = probe_match(
            "urn:uuid:probe-1",
            "http://10.0.0.7/onvif/device_service",
            "",
        );
        assert_eq!(
            parse_datagram(no_endpoint.as_bytes(), sender, Some(&ours())),
            Err(Rejection::NoEndpoint)
        );
        assert_eq!(
            parse_datagram(b"<unclosed", sender, Some(&ours())),
            Err(Rejection::Malformed)
        );
        assert_eq!(
            parse_datagram(&[0xff, 0xfe, 0x00], sender, Some(&ours())),
            Err(Rejection::Malformed)
        );
        let huge = vec![b' '; MAX_DATAGRAM + 1];
        assert_eq!(
            parse_datagram(&huge, sender, Some(&ours())),
            Err(Rejection::Oversized(MAX_DATAGRAM + 1))
        );
        let entity = "<!DOCTYPE e [<!ENTITY a \"aaaaaaaaaa\">]><e>&a;&a;&a;</e>";
        assert!(parse_datagram(entity.as_bytes(), sender, Some(&ours())).is_err());
        let deep = format!("{}{}", "<a>".repeat(4000), "</a>".repeat(4000));
        assert_eq!(
            parse_datagram(deep.as_bytes(), sender, Some(&ours())),
            Err(Rejection::Malformed)
        );
    }

    #[test]
    fn unicast_targets_cover_addresses_ranges_and_prefixes() {
        assert_eq!(
            parse_unicast_targets("192.168.1.20").unwrap(),
            vec!["192.168.1.20:3702".parse().unwrap()]
        );
        assert_eq!(
            parse_unicast_targets("127.0.0.1:13702").unwrap(),
            vec!["127.0.0.1:13702".parse().unwrap()]
        );
        assert_eq!(
            parse_unicast_targets("10.0.0.1-10.0.0.50").unwrap().len(),
            50
        );
        let subnet = parse_unicast_targets("10.1.0.0/24").unwrap();
        assert_eq!(subnet.len(), 254);
        assert_eq!(subnet[0], "10.1.0.1:3702".parse().unwrap());
        assert!(parse_unicast_targets("10.0.0.50-10.0.0.1").is_err());
        assert!(parse_unicast_targets("10.0.0.0/8").is_err());
        assert!(parse_unicast_targets("camera.lan").is_err());
        assert!(parse_unicast_targets("10.0.0.1:0").is_err());
        assert!(parse_unicast_targets("").is_err());
    }
}
