//! DHIP, Dahua's discovery on UDP 37810 (group 239.255.255.251): the 32-byte little-endian frame
//! (`0x20`, `DHIP`, session, request id, the body length at offset 16 and again at 24), the
//! `DHDiscover.search` the recorder sends, and the `client.notifyDevInfo` a camera answers with (serial
//! number, MAC, model, firmware, IPv4 settings, HTTP port, `Init` and `Find`).
//!
//! A reply is believed only when it is framed and sized as it says, is a JSON object within limits, and
//! names the address it came from; `Init`'s low two bits say factory state (1) or initialized (2).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use serde_json::Value;

use crate::camera::clean_camera_text;
use crate::camera::discovery::Rejection;
use crate::camera::vendor_discovery::{VendorCodec, VendorNetwork, VendorSighting};
use crate::model::{DeviceAddress, DeviceIdentity, Protocol, normalize_mac};

/// DHIP's UDP port.
pub const DHIP_PORT: u16 = 37810;
/// DHIP's multicast group.
pub const DHIP_GROUP: Ipv4Addr = Ipv4Addr::new(239, 255, 255, 251);
/// The frame header's size.
pub const HEADER_LEN: usize = 32;
/// Datagrams larger than this are dropped unread (real replies are under 2 KiB).
pub const MAX_DHIP_DATAGRAM: usize = 8 * 1024;
/// JSON nested deeper than this is refused before it is parsed.
const MAX_JSON_DEPTH: usize = 16;
/// What the makers call themselves when a reply does not say.
pub const MANUFACTURER: &str = "Dahua";

/// Frames a JSON body: the standard layout (the length at 16 and 24, zeros at 20 and 28).
pub fn frame(session: u32, request: u32, body: &[u8]) -> Vec<u8> {
    let length = u32::try_from(body.len()).unwrap_or(u32::MAX);
    let mut out = Vec::with_capacity(HEADER_LEN + body.len());
    out.extend_from_slice(&0x20u32.to_le_bytes());
    out.extend_from_slice(b"DHIP");
    out.extend_from_slice(&session.to_le_bytes());
    out.extend_from_slice(&request.to_le_bytes());
    out.extend_from_slice(&length.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&length.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(body);
    out
}

/// Reads a frame's JSON object. Only the length at offset 16 counts (one client writes it at 20 and
/// 28 too); a length past the datagram's end is a lie and the frame is dropped; trailing NULs and
/// newlines are ignored.
pub fn unframe(datagram: &[u8]) -> Result<serde_json::Map<String, Value>, Rejection> {
    if datagram.len() > MAX_DHIP_DATAGRAM {
        return Err(Rejection::Oversized(datagram.len()));
    }
    if datagram.len() < HEADER_LEN || &datagram[4..8] != b"DHIP" {
        return Err(Rejection::Malformed);
    }
    let declared = u32::from_le_bytes([datagram[16], datagram[17], datagram[18], datagram[19]]);
    let declared = usize::try_from(declared).map_err(|_| Rejection::Malformed)?;
    let body = &datagram[HEADER_LEN..];
    let body = if declared == 0 {
        body
    } else {
        body.get(..declared).ok_or(Rejection::Malformed)?
    };
    let end = body
        .iter()
        .rposition(|b| !matches!(b, 0 | b'\n' | b'\r' | b' '))
        .map_or(0, |i| i + 1);
    let body = &body[..end];
    if !json_depth_within(body, MAX_JSON_DEPTH) {
        return Err(Rejection::Malformed);
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(Rejection::Malformed),
    }
}

/// Whether no JSON array or object in `body` is nested deeper than `max`, strings told apart.
fn json_depth_within(body: &[u8], max: usize) -> bool {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for &b in body {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                if depth > max {
                    return false;
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    true
}

/// The search the recorder sends.
pub fn search() -> Vec<u8> {
    frame(
        0,
        0,
        br#"{"method":"DHDiscover.search","params":{"mac":"","uni":1}}"#,
    )
}

/// Reads a camera's `client.notifyDevInfo`, sent from `sender`.
pub fn read_device_info(datagram: &[u8], sender: SocketAddr) -> Result<VendorSighting, Rejection> {
    let message = unframe(datagram)?;
    let info = message
        .get("params")
        .and_then(|p| p.get("deviceInfo"))
        .and_then(Value::as_object)
        .ok_or_else(|| Rejection::Unexpected("DHIP without deviceInfo".to_owned()))?;
    let text = |value: Option<&Value>| {
        value
            .and_then(Value::as_str)
            .map(clean_camera_text)
            .unwrap_or_default()
    };
    let serial = text(info.get("SerialNo"));
    if serial.is_empty() {
        return Err(Rejection::NoEndpoint);
    }
    let ipv4 = info.get("IPv4Address");
    let ip = |name: &str| {
        ipv4.and_then(|a| a.get(name))
            .and_then(Value::as_str)
            .and_then(|s| s.trim().parse::<Ipv4Addr>().ok())
    };
    let address = ip("IPAddress")
        .filter(|a| IpAddr::V4(*a) == sender.ip())
        .ok_or(Rejection::LyingAddress(sender.ip()))?;
    let http_port = info
        .get("HttpPort")
        .and_then(Value::as_u64)
        .and_then(|p| u16::try_from(p).ok())
        .filter(|p| *p != 0)
        .unwrap_or(80);
    let init = info.get("Init").and_then(Value::as_u64).unwrap_or(0);
    let mac =
        normalize_mac(&text(message.get("mac"))).or_else(|| normalize_mac(&text(info.get("mac"))));
    let manufacturer = [info.get("Vendor"), info.get("Manufacturer")]
        .into_iter()
        .map(text)
        .find(|v| !v.is_empty())
        .unwrap_or_else(|| MANUFACTURER.to_owned());
    Ok(VendorSighting {
        protocol: Protocol::Dahua,
        address: DeviceAddress::new(&address.to_string(), http_port)
            .map_err(|_| Rejection::LyingAddress(sender.ip()))?,
        identity: DeviceIdentity {
            manufacturer,
            model: text(info.get("DeviceType")),
            firmware: text(info.get("Version")),
            serial,
            mac,
        },
        // The low two bits: 1 in factory state, 2 initialized, 0 for firmware before initialization.
        inactive: init & 0b11 == 1,
        // `Find` lists the recovery methods by letter; none means none.
        password_reset: !text(info.get("Find")).is_empty(),
        network: Some(VendorNetwork {
            address,
            mask: ip("SubnetMask").unwrap_or(Ipv4Addr::new(255, 255, 255, 0)),
            gateway: ip("DefaultGateway").filter(|g| !g.is_unspecified()),
            dhcp: ipv4
                .and_then(|a| a.get("DhcpEnable"))
                .and_then(Value::as_bool)
                .unwrap_or(false),
        }),
        sender,
    })
}

/// DHIP for one discovery run.
#[derive(Debug, Default)]
pub struct DhipCodec;

impl VendorCodec for DhipCodec {
    fn protocol(&self) -> Protocol {
        Protocol::Dahua
    }

    fn group(&self) -> Ipv4Addr {
        DHIP_GROUP
    }

    fn inquiry(&self) -> Vec<u8> {
        search()
    }

    fn read(&self, datagram: &[u8], sender: SocketAddr) -> Result<VendorSighting, Rejection> {
        read_device_info(datagram, sender)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A real factory-state camera's announcement, as aiodahua 0.5.0's tests keep it
    /// (`tests/test_discovery.py`, `REAL_ANNOUNCEMENT`: an IPC-B54IR-Z4E-S3 on 192.168.1.108),
    /// serialized compactly in the device's key order.
    const REAL_ANNOUNCEMENT: &str = r#"{"mac":"98:f9:cc:af:59:0d","method":"client.notifyDevInfo","params":{"deviceInfo":{"AbroadInfo":"Oversea","AlarmInputChannels":2,"AlarmOutputChannels":1,"DeviceClass":"IPC","DeviceType":"IPC-B54IR-Z4E-S3","Find":"BC","HttpPort":80,"IPv4Address":{"DefaultGateway":"192.168.1.1","DhcpEnable":false,"IPAddress":"192.168.1.108","SubnetMask":"255.255.255.0"},"IPv6Address":{"DefaultGateway":"::","IPAddress":"::","LinkLocalAddress":"fe80::9af9:ccff:feaf:590d/64"},"Init":3733,"MachineName":"CC10BD8PAGCF779","Port":37777,"SerialNo":"CC10BD8PAGCF779","Version":"3.142.0000000.8.R","VideoInputChannels":1}}}"#;

    fn from(ip: &str) -> SocketAddr {
        SocketAddr::new(ip.parse().unwrap(), DHIP_PORT)
    }

    #[test]
    fn a_real_cameras_announcement_parses() {
        let mut datagram = frame(0, 0, REAL_ANNOUNCEMENT.as_bytes());
        assert_eq!(datagram.len(), 32 + 600);
        datagram.push(0);
        let sighting = read_device_info(&datagram, from("192.168.1.108")).unwrap();
        assert_eq!(sighting.identity.serial, "CC10BD8PAGCF779");
        assert_eq!(sighting.identity.model, "IPC-B54IR-Z4E-S3");
        assert_eq!(sighting.identity.mac.as_deref(), Some("98:f9:cc:af:59:0d"));
        assert_eq!(sighting.identity.firmware, "3.142.0000000.8.R");
        assert_eq!(sighting.address.to_string(), "192.168.1.108:80");
        assert!(sighting.inactive, "Init 3733: low bits 01, factory state");
        assert!(sighting.password_reset);
        let network = sighting.network.unwrap();
        assert_eq!(network.gateway, Some(Ipv4Addr::new(192, 168, 1, 1)));
        assert!(!network.dhcp);
        // Initialized: low bits 10.
        let initialized = REAL_ANNOUNCEMENT.replace("3733", "3734");
        let sighting =
            read_device_info(&frame(0, 0, initialized.as_bytes()), from("192.168.1.108")).unwrap();
        assert!(!sighting.inactive);
    }

    #[test]
    fn the_search_is_framed_in_the_standard_layout() {
        let datagram = search();
        assert_eq!(&datagram[..8], b"\x20\x00\x00\x00DHIP");
        let length = u32::from_le_bytes(datagram[16..20].try_into().unwrap()) as usize;
        assert_eq!(length, datagram.len() - 32);
        assert_eq!(&datagram[20..24], &[0, 0, 0, 0]);
        assert_eq!(&datagram[24..28], &datagram[16..20]);
        let body = unframe(&datagram).unwrap();
        assert_eq!(body["method"], "DHDiscover.search");
    }

    #[test]
    fn lying_and_hostile_frames_are_dropped() {
        let good = frame(0, 0, REAL_ANNOUNCEMENT.as_bytes());
        assert_eq!(
            read_device_info(&good, from("10.0.0.9")),
            Err(Rejection::LyingAddress("10.0.0.9".parse().unwrap()))
        );
        // A length past the datagram's end.
        let mut long = good.clone();
        long[16..20].copy_from_slice(&10_000u32.to_le_bytes());
        assert_eq!(unframe(&long).map(|_| ()), Err(Rejection::Malformed));
        // Not DHIP, too short, not JSON, not an object, too deep, too big.
        assert!(unframe(b"\x20\x00\x00\x00PIHD").is_err());
        assert!(unframe(&frame(0, 0, b"{not json")).is_err());
        assert!(unframe(&frame(0, 0, b"[1,2]")).is_err());
        let deep = format!("{}1{}", "[".repeat(5000), "]".repeat(5000));
        assert!(unframe(&frame(0, 0, deep.as_bytes())).is_err());
        let nested_in_string = format!("{{\"a\":\"{}\"}}", "[".repeat(100));
        assert!(unframe(&frame(0, 0, nested_in_string.as_bytes())).is_ok());
        assert!(matches!(
            unframe(&vec![0u8; MAX_DHIP_DATAGRAM + 1]),
            Err(Rejection::Oversized(_))
        ));
        // The recorder's own search echoed back, and an answer with no serial number.
        assert!(read_device_info(&search(), from("192.168.1.108")).is_err());
        let no_serial = REAL_ANNOUNCEMENT.replace("\"SerialNo\":\"CC10BD8PAGCF779\",", "");
        assert_eq!(
            read_device_info(&frame(0, 0, no_serial.as_bytes()), from("192.168.1.108")),
            Err(Rejection::NoEndpoint)
        );
    }
}
