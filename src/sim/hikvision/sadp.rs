//! The Hikvision persona's SADP responder: answers an XML inquiry with one ProbeMatch per online
//! Hikvision camera at its address, sent by unicast to whoever asked (the way the public SADP clients
//! listen), and carries out an `update` addressed to a camera's MAC when the administrator's password
//! (base64 of its MD5) is right; six wrong ones lock updates for 30 minutes, as captures report.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use md5::Digest as _;
use oxvif::soap::XmlNode;
use tokio_util::sync::CancellationToken;

use crate::camera::hikvision::isapi::xml_escape;
use crate::camera::hikvision::sadp::{MAX_SADP_DATAGRAM, SADP_GROUP};
use crate::camera::xml_guard::{MAX_XML_DEPTH, nesting_within};
use crate::model::normalize_mac;
use crate::sim::camera::{Lifecycle, SimCamera};
use crate::sim::persona::Persona;
use crate::sim::udp::{Replies, UdpFace};

/// Wrong update passwords before updates lock.
const UPDATE_TRIES: u32 = 6;
/// How long they stay locked.
const UPDATE_LOCK: Duration = Duration::from_secs(30 * 60);

/// Answers SADP for the Hikvision cameras that share one address.
pub struct SadpResponder {
    cameras: Vec<Arc<SimCamera>>,
    face: UdpFace,
}

impl SadpResponder {
    /// Binds `addr` (and the group on its interface when `multicast`), for the Hikvision cameras
    /// among `cameras`; `None` when there are none.
    pub fn bind(
        cameras: &[Arc<SimCamera>],
        addr: SocketAddr,
        multicast: bool,
    ) -> std::io::Result<Option<Self>> {
        Ok(
            UdpFace::bind_for(cameras, Persona::Hikvision, addr, SADP_GROUP, multicast)?
                .map(|(cameras, face)| Self { cameras, face }),
        )
    }

    /// Answers until `shutdown`.
    pub async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        self.face
            .serve(shutdown, |datagram, _from| self.answer(datagram))
            .await;
    }

    fn answer(&self, datagram: &[u8]) -> Replies {
        let Some(message) = read_message(datagram) else {
            return Vec::new();
        };
        self.cameras
            .iter()
            .filter(|camera| camera.is_online())
            .filter_map(|camera| {
                let reply = match message.kind.as_str() {
                    "inquiry" => probe_match(camera, &message.uuid),
                    "update" if message.is_for(camera) => update(camera, &message),
                    _ => return None,
                };
                Some((camera.clone(), reply.into_bytes()))
            })
            .collect()
    }
}

/// A SADP message as the camera reads it: every direct child by name.
struct Message {
    kind: String,
    uuid: String,
    fields: Vec<(String, String)>,
}

impl Message {
    fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn is_for(&self, camera: &SimCamera) -> bool {
        self.field("MAC").and_then(normalize_mac).as_deref() == Some(camera.identity().mac.as_str())
    }
}

fn read_message(datagram: &[u8]) -> Option<Message> {
    if datagram.len() > MAX_SADP_DATAGRAM || !nesting_within(datagram, MAX_XML_DEPTH) {
        return None;
    }
    let root = XmlNode::parse(std::str::from_utf8(datagram).ok()?).ok()?;
    if root.local_name != "Probe" {
        return None;
    }
    let fields: Vec<(String, String)> = root
        .children
        .iter()
        .take(64)
        .map(|c| (c.local_name.clone(), c.text().trim().to_owned()))
        .collect();
    let get = |name: &str| {
        fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    };
    Some(Message {
        kind: get("Types")?.to_ascii_lowercase(),
        uuid: get("Uuid").unwrap_or_default(),
        fields,
    })
}

fn probe_match(camera: &SimCamera, uuid: &str) -> String {
    let id = camera.identity();
    let network = camera.network();
    let ip = camera.http_addr().ip();
    let prefix = u32::from(network.prefix_len.min(32));
    let mask = Ipv4Addr::from(u32::MAX.checked_shl(32 - prefix).unwrap_or(0));
    let gateway = network.gateway.unwrap_or(Ipv4Addr::UNSPECIFIED);
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\" ?>\n<ProbeMatch>\n<Uuid>{}</Uuid>\n<Types>inquiry</Types>\n\
         <DeviceType>57397</DeviceType>\n<DeviceDescription>{}</DeviceDescription>\n<DeviceSN>{}</DeviceSN>\n\
         <CommandPort>8000</CommandPort>\n<HttpPort>{}</HttpPort>\n<MAC>{}</MAC>\n\
         <IPv4Address>{ip}</IPv4Address>\n<IPv4SubnetMask>{mask}</IPv4SubnetMask>\n\
         <IPv4Gateway>{gateway}</IPv4Gateway>\n<IPv6Address>::</IPv6Address>\n<IPv6Gateway>::</IPv6Gateway>\n\
         <IPv6MaskLen>64</IPv6MaskLen>\n<DHCP>{}</DHCP>\n<AnalogChannelNum>0</AnalogChannelNum>\n\
         <DigitalChannelNum>1</DigitalChannelNum>\n<SoftwareVersion>{}</SoftwareVersion>\n\
         <DSPVersion>V7.3, build 260101</DSPVersion>\n<BootTime>2026-01-01 00:00:00</BootTime>\n\
         <OEMInfo>N/A</OEMInfo>\n<Activated>{}</Activated>\n\
         <PasswordResetAbility>true</PasswordResetAbility>\n</ProbeMatch>",
        xml_escape(uuid),
        xml_escape(&id.model),
        xml_escape(&id.serial),
        camera.http_addr().port(),
        id.mac.replace(':', "-").to_ascii_uppercase(),
        network.dhcp,
        xml_escape(&id.firmware),
        !camera.is_inactive()
    )
}

fn update(camera: &SimCamera, message: &Message) -> String {
    let now = SystemTime::now();
    let result = {
        let locked = camera
            .hikvision()
            .sadp_locked_until
            .is_some_and(|until| until > now);
        let sent = message.field("Password").unwrap_or("");
        let right = camera
            .admin_password()
            .map(|p| BASE64.encode(md5::Md5::digest(p.as_bytes())))
            .is_some_and(|expected| {
                crate::sim::camera::constant_time_eq(expected.as_bytes(), sent.as_bytes())
            });
        if locked {
            ("denied", 0)
        } else if right {
            camera.hikvision().sadp_failures = 0;
            match apply(camera, message) {
                true => ("success", UPDATE_TRIES),
                false => ("failure", UPDATE_TRIES),
            }
        } else {
            let mut state = camera.hikvision();
            state.sadp_failures += 1;
            let left = UPDATE_TRIES.saturating_sub(state.sadp_failures);
            if left == 0 {
                state.sadp_locked_until = Some(now + UPDATE_LOCK);
                state.sadp_failures = 0;
            }
            ("denied", left)
        }
    };
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\" ?>\n<ProbeMatch>\n<Uuid>{}</Uuid>\n<Types>update</Types>\n\
         <MAC>{}</MAC>\n<Result>{}</Result>\n<RetryTimes>{}</RetryTimes>\n</ProbeMatch>",
        xml_escape(&message.uuid),
        camera.identity().mac.replace(':', "-"),
        result.0,
        result.1
    )
}

/// Takes the new settings of an update; false when they make no sense.
fn apply(camera: &SimCamera, message: &Message) -> bool {
    let ip = |name: &str| message.field(name).and_then(|v| v.parse::<Ipv4Addr>().ok());
    let dhcp = message.field("DHCP") == Some("true");
    let (Some(address), Some(mask)) = (ip("IPv4Address"), ip("IPv4SubnetMask")) else {
        return false;
    };
    let prefix = u32::from(mask).leading_ones();
    if u32::from(mask).count_ones() != prefix || address.is_unspecified() {
        return false;
    }
    let Ok(prefix) = u8::try_from(prefix) else {
        return false;
    };
    camera.set_gateway(ip("IPv4Gateway").filter(|g| !g.is_unspecified()));
    if camera
        .set_network_interface("eth0", Some(dhcp), Some((IpAddr::V4(address), prefix)))
        .is_err()
    {
        return false;
    }
    // A camera that needs a reboot for its address reboots at once after a SADP update.
    if camera.policy().network_change_needs_reboot {
        camera.order(Lifecycle::Reboot {
            factory_hard: false,
        });
    }
    true
}
