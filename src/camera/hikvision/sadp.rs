//! Hikvision's SADP over UDP, the XML dialect (port 37020, group 239.255.255.250): the inquiry the
//! recorder sends, the ProbeMatch a camera answers with (serial number, MAC, model, firmware, IPv4
//! settings, HTTP port, Activated, PasswordResetAbility), and the `update` that re-addresses a camera
//! by its MAC. Formats as public tools and captures show them; docs/vendors.md names each source.

use std::collections::HashSet;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Mutex;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use md5::Digest as _;
use oxvif::soap::XmlNode;

use crate::camera::clean_camera_text;
use crate::camera::discovery::Rejection;
use crate::camera::hikvision::isapi::{MANUFACTURER, xml_escape};
use crate::camera::vendor_discovery::{VendorCodec, VendorNetwork, VendorSighting};
use crate::camera::xml_guard::{MAX_XML_DEPTH, nesting_within};
use crate::model::{DeviceAddress, DeviceIdentity, Protocol, normalize_mac};

/// SADP's UDP port.
pub const SADP_PORT: u16 = 37020;
/// SADP's multicast group (the same as WS-Discovery's).
pub const SADP_GROUP: Ipv4Addr = Ipv4Addr::new(239, 255, 255, 250);
/// Replies larger than this are dropped unread (real ones are under 2 KiB).
pub const MAX_SADP_DATAGRAM: usize = 8 * 1024;
/// The inquiries' ids a codec remembers (one per run, and its repeat).
const MAX_OUR_INQUIRIES: usize = 16;

/// The inquiry for one run, with its id.
#[derive(Debug)]
pub struct SadpCodec {
    uuids: Mutex<HashSet<String>>,
    current: String,
}

impl Default for SadpCodec {
    fn default() -> Self {
        Self::new()
    }
}

impl SadpCodec {
    /// A codec with a fresh inquiry id.
    pub fn new() -> Self {
        let current = uuid::Uuid::new_v4().to_string().to_uppercase();
        Self {
            uuids: Mutex::new(HashSet::from([current.clone()])),
            current,
        }
    }

    /// Also believes replies to the inquiry `uuid` (another run's).
    pub fn also_answering(&self, uuid: &str) {
        let mut uuids = self.uuids.lock().unwrap_or_else(|e| e.into_inner());
        if uuids.len() < MAX_OUR_INQUIRIES {
            uuids.insert(uuid.to_ascii_uppercase());
        }
    }
}

/// The inquiry datagram for `uuid`.
pub fn inquiry(uuid: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><Probe><Uuid>{}</Uuid>\
         <Types>inquiry</Types></Probe>",
        xml_escape(uuid)
    )
}

impl VendorCodec for SadpCodec {
    fn protocol(&self) -> Protocol {
        Protocol::Hikvision
    }

    fn group(&self) -> Ipv4Addr {
        SADP_GROUP
    }

    fn inquiry(&self) -> Vec<u8> {
        inquiry(&self.current).into_bytes()
    }

    fn read(&self, datagram: &[u8], sender: SocketAddr) -> Result<VendorSighting, Rejection> {
        let uuids = self.uuids.lock().unwrap_or_else(|e| e.into_inner()).clone();
        read_probe_match(datagram, sender, &uuids)
    }
}

/// Parses a datagram's XML after the size and nesting checks.
fn parse(datagram: &[u8]) -> Result<XmlNode, Rejection> {
    if datagram.len() > MAX_SADP_DATAGRAM {
        return Err(Rejection::Oversized(datagram.len()));
    }
    if !nesting_within(datagram, MAX_XML_DEPTH) {
        return Err(Rejection::Malformed);
    }
    let text = std::str::from_utf8(datagram).map_err(|_| Rejection::Malformed)?;
    XmlNode::parse(text).map_err(|_| Rejection::Malformed)
}

/// Reads a ProbeMatch that answers one of `our_inquiries` and describes the camera at the address it
/// came from.
pub fn read_probe_match(
    datagram: &[u8],
    sender: SocketAddr,
    our_inquiries: &HashSet<String>,
) -> Result<VendorSighting, Rejection> {
    let root = parse(datagram)?;
    if root.local_name != "ProbeMatch" {
        return Err(Rejection::Unexpected(clean_camera_text(&root.local_name)));
    }
    let text = |name: &str| {
        root.child(name)
            .map(|n| clean_camera_text(n.text()))
            .unwrap_or_default()
    };
    if !text("Types").eq_ignore_ascii_case("inquiry") {
        return Err(Rejection::Unexpected(format!("SADP {}", text("Types"))));
    }
    if !our_inquiries.contains(&text("Uuid").to_ascii_uppercase()) {
        return Err(Rejection::NotOurProbe);
    }
    let serial = text("DeviceSN");
    if serial.is_empty() {
        return Err(Rejection::NoEndpoint);
    }
    let ip = |name: &str| text(name).parse::<Ipv4Addr>().ok();
    let address = ip("IPv4Address")
        .or_else(|| ip("Ipv4Address"))
        .filter(|a| std::net::IpAddr::V4(*a) == sender.ip())
        .ok_or(Rejection::LyingAddress(sender.ip()))?;
    let http_port = text("HttpPort")
        .parse::<u16>()
        .ok()
        .filter(|p| *p != 0)
        .unwrap_or(80);
    let flag = |name: &str| text(name).eq_ignore_ascii_case("true");
    let device_address = DeviceAddress::new(&address.to_string(), http_port)
        .map_err(|_| Rejection::LyingAddress(sender.ip()))?;
    Ok(VendorSighting {
        protocol: Protocol::Hikvision,
        address: device_address,
        identity: DeviceIdentity {
            manufacturer: MANUFACTURER.to_owned(),
            model: text("DeviceDescription"),
            firmware: text("SoftwareVersion"),
            serial,
            mac: normalize_mac(&text("MAC")),
        },
        // A camera that does not say is taken as activated (older firmware was activated in the
        // factory); one that says false needs activation.
        inactive: text("Activated").eq_ignore_ascii_case("false"),
        password_reset: flag("PasswordResetAbility"),
        network: Some(VendorNetwork {
            address,
            mask: ip("IPv4SubnetMask").unwrap_or(Ipv4Addr::new(255, 255, 255, 0)),
            gateway: ip("IPv4Gateway").filter(|g| !g.is_unspecified()),
            dhcp: flag("DHCP"),
        }),
        sender,
    })
}

/// The new settings an `update` carries.
#[derive(Debug, Clone)]
pub struct SadpUpdate<'a> {
    /// The camera's MAC; only the camera with it acts.
    pub mac: &'a str,
    /// Its administrator's password (sent as base64 of its MD5, as the protocol has it).
    pub password: &'a str,
    /// The new address, mask and gateway.
    pub network: VendorNetwork,
    /// Its HTTP port, kept.
    pub http_port: u16,
}

/// The `update` datagram for `uuid`.
pub fn update(uuid: &str, change: &SadpUpdate<'_>) -> String {
    let mac = change.mac.replace(':', "-");
    let password = BASE64.encode(md5::Md5::digest(change.password.as_bytes()));
    let gateway = change.network.gateway.unwrap_or(Ipv4Addr::UNSPECIFIED);
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><Probe><Uuid>{}</Uuid><Types>update</Types>\
         <PWErrorParse>true</PWErrorParse><MAC>{}</MAC><Password>{password}</Password>\
         <IPv4Address>{}</IPv4Address><CommandPort>8000</CommandPort>\
         <IPv4SubnetMask>{}</IPv4SubnetMask><IPv4Gateway>{gateway}</IPv4Gateway>\
         <IPv6Address>::</IPv6Address><IPv6Gateway>::</IPv6Gateway><IPv6MaskLen>64</IPv6MaskLen>\
         <DHCP>{}</DHCP><HttpPort>{}</HttpPort></Probe>",
        xml_escape(uuid),
        xml_escape(&mac),
        change.network.address,
        change.network.mask,
        change.network.dhcp,
        change.http_port
    )
}

/// What a camera answered to an `update`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpdateOutcome {
    /// It took the new settings.
    Done,
    /// It refused the password.
    PasswordRefused {
        /// Tries it still takes before it locks SADP updates, when it says.
        attempts_left: Option<u32>,
    },
    /// It refused for another reason, in its words.
    Refused(String),
}

/// Reads a camera's answer to the `update` `uuid`; `None` for a datagram that is not one.
pub fn read_update_reply(datagram: &[u8], uuid: &str, mac: &str) -> Option<UpdateOutcome> {
    let root = parse(datagram).ok()?;
    let text = |name: &str| {
        root.child(name)
            .map(|n| clean_camera_text(n.text()))
            .unwrap_or_default()
    };
    // Our own message comes back to the group listener: a `Probe`, with no result in it.
    if root.local_name == "Probe"
        || root.child("Result").is_none()
        || !text("Types").eq_ignore_ascii_case("update")
        || !text("Uuid").eq_ignore_ascii_case(uuid)
        || normalize_mac(&text("MAC")).as_deref() != normalize_mac(mac).as_deref()
    {
        return None;
    }
    Some(match text("Result").to_ascii_lowercase().as_str() {
        "success" => UpdateOutcome::Done,
        "denied" | "passworderror" => UpdateOutcome::PasswordRefused {
            attempts_left: text("RetryTimes").parse().ok(),
        },
        _ => UpdateOutcome::Refused(text("Result")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ours(uuid: &str) -> HashSet<String> {
        HashSet::from([uuid.to_owned()])
    }

    const UUID: &str = "74BB12B4-DAD2-4F0C-88BA-48ABC9A7D8A1";

    fn reply(ip: &str) -> String {
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\" ?>\n<ProbeMatch>\n<Uuid>{UUID}</Uuid>\n\
             <Types>inquiry</Types>\n<DeviceType>57397</DeviceType>\n\
             <DeviceDescription>DS-2CD2143G2-I</DeviceDescription>\n\
             <DeviceSN>DS-2CD2143G2-I20260101AAWRK00000001</DeviceSN>\n<CommandPort>8000</CommandPort>\n\
             <HttpPort>80</HttpPort>\n<MAC>AA-BB-CC-00-00-01</MAC>\n<IPv4Address>{ip}</IPv4Address>\n\
             <IPv4SubnetMask>255.255.255.0</IPv4SubnetMask>\n<IPv4Gateway>0.0.0.0</IPv4Gateway>\n\
             <DHCP>false</DHCP>\n<SoftwareVersion>V5.7.3build 220112</SoftwareVersion>\n\
             <Activated>false</Activated>\n<PasswordResetAbility>true</PasswordResetAbility>\n</ProbeMatch>"
        )
    }

    #[test]
    fn a_probe_match_describes_the_camera() {
        let sender: SocketAddr = "192.0.0.64:37020".parse().unwrap();
        let sighting =
            read_probe_match(reply("192.0.0.64").as_bytes(), sender, &ours(UUID)).unwrap();
        assert_eq!(
            sighting.identity.serial,
            "DS-2CD2143G2-I20260101AAWRK00000001"
        );
        assert_eq!(sighting.identity.model, "DS-2CD2143G2-I");
        assert_eq!(sighting.identity.mac.as_deref(), Some("aa:bb:cc:00:00:01"));
        assert_eq!(sighting.identity.firmware, "V5.7.3build 220112");
        assert!(sighting.inactive);
        assert!(sighting.password_reset);
        assert_eq!(sighting.address.to_string(), "192.0.0.64:80");
        assert_eq!(sighting.network.unwrap().gateway, None);
    }

    #[test]
    fn replies_that_are_not_for_us_or_lie_are_dropped() {
        let sender: SocketAddr = "192.0.0.64:37020".parse().unwrap();
        assert_eq!(
            read_probe_match(reply("192.0.0.64").as_bytes(), sender, &ours("OTHER")),
            Err(Rejection::NotOurProbe)
        );
        assert_eq!(
            read_probe_match(reply("10.0.0.9").as_bytes(), sender, &ours(UUID)),
            Err(Rejection::LyingAddress(sender.ip()))
        );
        assert!(read_probe_match(b"<ProbeMatch><Types>inquiry", sender, &ours(UUID)).is_err());
        assert!(read_probe_match(b"\xff\xfe not text", sender, &ours(UUID)).is_err());
        let deep = format!("{}{}", "<a>".repeat(100_000), "</a>".repeat(100_000));
        assert!(read_probe_match(deep.as_bytes(), sender, &ours(UUID)).is_err());
        let nested = format!(
            "<ProbeMatch>{}x{}</ProbeMatch>",
            "<a>".repeat(200),
            "</a>".repeat(200)
        );
        assert_eq!(
            read_probe_match(nested.as_bytes(), sender, &ours(UUID)),
            Err(Rejection::Malformed)
        );
        let no_serial = reply("192.0.0.64").replace("DS-2CD2143G2-I20260101AAWRK00000001", "");
        assert_eq!(
            read_probe_match(no_serial.as_bytes(), sender, &ours(UUID)),
            Err(Rejection::NoEndpoint)
        );
        let probe = inquiry(UUID);
        assert!(read_probe_match(probe.as_bytes(), sender, &ours(UUID)).is_err());
    }

    #[test]
    fn an_update_sends_the_password_as_base64_of_its_md5() {
        let text = update(
            UUID,
            &SadpUpdate {
                mac: "aa:bb:cc:00:00:01",
                password: "password",
                network: VendorNetwork {
                    address: Ipv4Addr::new(10, 1, 0, 20),
                    mask: Ipv4Addr::new(255, 255, 255, 0),
                    gateway: Some(Ipv4Addr::new(10, 1, 0, 1)),
                    dhcp: false,
                },
                http_port: 80,
            },
        );
        // The captured update's password field: MD5("password") in base64.
        assert!(
            text.contains("<Password>X03MO1qnZdYdgyfeuILPmQ==</Password>"),
            "{text}"
        );
        assert!(text.contains("<MAC>aa-bb-cc-00-00-01</MAC>"));
        let answer = format!(
            "<ProbeMatch><Uuid>{UUID}</Uuid><Types>update</Types><MAC>AA-BB-CC-00-00-01</MAC>\
             <Result>denied</Result><RetryTimes>5</RetryTimes></ProbeMatch>"
        );
        assert_eq!(
            read_update_reply(answer.as_bytes(), UUID, "aa:bb:cc:00:00:01"),
            Some(UpdateOutcome::PasswordRefused {
                attempts_left: Some(5)
            })
        );
        assert_eq!(
            read_update_reply(answer.as_bytes(), UUID, "aa:bb:cc:00:00:02"),
            None
        );
        // Our own update, heard back on the group, is not an answer.
        assert_eq!(
            read_update_reply(text.as_bytes(), UUID, "aa:bb:cc:00:00:01"),
            None
        );
    }
}
