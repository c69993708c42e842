//! Hostile discovery peers: a host that answers every WS-Discovery probe, SADP inquiry or DHIP search
//! with a barrage (noise, oversized datagrams, entity bombs, deep nesting, replies to inquiries never
//! sent, replies naming another host, replies without an identity, lying lengths, and a flood of
//! well-formed replies for fake cameras), and a host that floods a recorder's announcement listener
//! with Hellos, spoofed Byes and junk. The fake cameras point at the hostile host's own address, on
//! the ports of its [`Lure`] (closed ports, or poisoned cameras from [`super::http`]).

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use tokio::net::UdpSocket;

use super::{Bounds, HostileStats, Pacer};
use crate::camera::dahua::dhip::{frame, search};

/// The largest datagram a hostile peer reads.
const MAX_INQUIRY: usize = 65_536;

/// Where a barrage's fake cameras point, and how many there are.
#[derive(Debug, Clone)]
pub struct Lure {
    /// The hostile host's own address: the fake cameras are there, so a recorder believes them.
    pub own_ip: Ipv4Addr,
    /// A good camera's address, which one lying reply names as its own.
    pub victim_ip: Ipv4Addr,
    /// The HTTP ports the fake cameras name, in turn (port 9 is closed; poisoned cameras listen on
    /// others).
    pub ports: Vec<u16>,
    /// Well-formed replies for fake cameras in each barrage.
    pub flood: usize,
}

impl Lure {
    fn port(&self, n: usize) -> u16 {
        if self.ports.is_empty() {
            9
        } else {
            self.ports[n % self.ports.len()]
        }
    }
}

/// Which discovery protocol a hostile responder speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tongue {
    /// ONVIF's WS-Discovery.
    WsDiscovery,
    /// Hikvision's SADP.
    Sadp,
    /// Dahua's DHIP.
    Dhip,
}

/// A WS-Discovery envelope: the `action`, then `header` (a RelatesTo or nothing), and `body`.
fn wsd_envelope(action: &str, header: &str, body: &str) -> String {
    format!(
        "<e:Envelope xmlns:e=\"http://www.w3.org/2003/05/soap-envelope\" \
         xmlns:w=\"http://schemas.xmlsoap.org/ws/2004/08/addressing\" \
         xmlns:d=\"http://schemas.xmlsoap.org/ws/2005/04/discovery\"><e:Header>\
         <w:Action>http://schemas.xmlsoap.org/ws/2005/04/discovery/{action}</w:Action>\
         {header}</e:Header><e:Body>{body}</e:Body></e:Envelope>"
    )
}

/// A WS-Discovery ProbeMatch.
pub fn wsd_probe_match(relates_to: &str, endpoint: &str, xaddr: &str) -> String {
    wsd_envelope(
        "ProbeMatches",
        &format!("<w:RelatesTo>{relates_to}</w:RelatesTo>"),
        &format!(
            "<d:ProbeMatches><d:ProbeMatch>\
             <w:EndpointReference><w:Address>{endpoint}</w:Address></w:EndpointReference>\
             <d:Types>dn:NetworkVideoTransmitter</d:Types><d:XAddrs>{xaddr}</d:XAddrs>\
             </d:ProbeMatch></d:ProbeMatches>"
        ),
    )
}

/// A WS-Discovery Hello.
pub fn wsd_hello(endpoint: &str, xaddr: &str) -> String {
    wsd_envelope(
        "Hello",
        "",
        &format!(
            "<d:Hello><w:EndpointReference><w:Address>{endpoint}</w:Address>\
             </w:EndpointReference><d:Types>dn:NetworkVideoTransmitter</d:Types>\
             <d:XAddrs>{xaddr}</d:XAddrs></d:Hello>"
        ),
    )
}

/// A WS-Discovery Bye.
pub fn wsd_bye(endpoint: &str) -> String {
    wsd_envelope(
        "Bye",
        "",
        &format!(
            "<d:Bye><w:EndpointReference><w:Address>{endpoint}</w:Address>\
             </w:EndpointReference></d:Bye>"
        ),
    )
}

/// A SADP ProbeMatch as a camera words it.
pub fn sadp_match(uuid: &str, serial: &str, ip: &str, http_port: u16) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><ProbeMatch><Uuid>{uuid}</Uuid><Types>inquiry</Types>\
         <DeviceDescription>DS-FAKE</DeviceDescription><DeviceSN>{serial}</DeviceSN><MAC>02-00-00-00-00-01</MAC>\
         <IPv4Address>{ip}</IPv4Address><HttpPort>{http_port}</HttpPort><Activated>true</Activated></ProbeMatch>"
    )
}

/// A DHIP announcement as a camera words it.
pub fn dhip_notify(serial: &str, ip: &str, http_port: u16) -> Vec<u8> {
    let body = serde_json::json!({
        "mac": "02:00:00:00:00:02",
        "method": "client.notifyDevInfo",
        "params": {"deviceInfo": {
            "DeviceType": "IPC-FAKE", "SerialNo": serial, "HttpPort": http_port, "Init": 3734,
            "IPv4Address": {"IPAddress": ip, "SubnetMask": "255.255.255.0", "DhcpEnable": false},
        }},
    });
    frame(0, 0, body.to_string().as_bytes())
}

/// Pseudo-random bytes that are neither text nor any protocol.
fn noise() -> Vec<u8> {
    (0..1200u32).map(|i| (i * 7919 % 251) as u8).collect()
}

/// Markup nested `depth` deep.
fn deep(depth: usize) -> Vec<u8> {
    format!("{}{}", "<a>".repeat(depth), "</a>".repeat(depth)).into_bytes()
}

/// Pulls `<open>…<` out of an inquiry without a parser, as an attacker would.
fn between(inquiry: &[u8], open: &str, close: &str) -> String {
    String::from_utf8_lossy(inquiry)
        .split(open)
        .nth(1)
        .and_then(|rest| rest.split(close).next())
        .unwrap_or("")
        .to_owned()
}

/// The answer to one WS-Discovery probe: noise, a 60 000-byte datagram, an entity bomb, deep nesting,
/// a match for a probe never sent, a match naming the victim's address, one without an endpoint, then
/// `lure.flood` matches for fake cameras.
pub fn wsd_barrage(probe: &[u8], lure: &Lure) -> Vec<Vec<u8>> {
    let id = between(probe, "MessageID>", "<");
    let own = lure.own_ip;
    let mut barrage: Vec<Vec<u8>> = vec![
        noise(),
        vec![b' '; 60_000],
        b"<!DOCTYPE e [<!ENTITY a \"aaaaaaaaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;\">]><e>&b;&b;</e>"
            .to_vec(),
        deep(4600),
        wsd_probe_match(
            "urn:uuid:not-our-probe",
            "urn:uuid:stale",
            &format!("http://{own}:9/onvif/device_service"),
        )
        .into_bytes(),
        wsd_probe_match(
            &id,
            "urn:uuid:liar",
            &format!("http://{}:8080/onvif/device_service", lure.victim_ip),
        )
        .into_bytes(),
        wsd_probe_match(&id, "", &format!("http://{own}:9/onvif/device_service")).into_bytes(),
    ];
    for n in 0..lure.flood {
        barrage.push(
            wsd_probe_match(
                &id,
                &format!("urn:uuid:flood-{n}"),
                &format!("http://{own}:{}/onvif/device_service", lure.port(n)),
            )
            .into_bytes(),
        );
    }
    barrage
}

/// The answer to one SADP inquiry: noise, oversized, an entity bomb, deep nesting, a reply to an
/// inquiry never sent, one naming the victim, one with no serial, one cut short, then `lure.flood`
/// matches for fake cameras.
pub fn sadp_barrage(inquiry: &[u8], lure: &Lure) -> Vec<Vec<u8>> {
    let uuid = between(inquiry, "<Uuid>", "</Uuid>");
    let own = lure.own_ip.to_string();
    let mut barrage: Vec<Vec<u8>> = vec![
        noise(),
        vec![b' '; 60_000],
        b"<!DOCTYPE e [<!ENTITY a \"aaaaaaaaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;\">]><ProbeMatch>&b;&b;</ProbeMatch>".to_vec(),
        deep(4600),
        sadp_match("NOT-OUR-INQUIRY", "SN-STALE", &own, 9).into_bytes(),
        sadp_match(&uuid, "SN-LIAR", &lure.victim_ip.to_string(), 8080).into_bytes(),
        sadp_match(&uuid, "", &own, 9).into_bytes(),
        sadp_match(&uuid, "SN-CUT", &own, 9).as_bytes()[..60].to_vec(),
    ];
    for n in 0..lure.flood {
        barrage.push(sadp_match(&uuid, &format!("SN-FLOOD-{n}"), &own, lure.port(n)).into_bytes());
    }
    barrage
}

/// The answer to one DHIP search: noise, a frame that is not DHIP, a length that lies past the
/// datagram, a body that is not JSON, JSON that is not an object, JSON nested a thousand deep, an
/// oversized frame, an announcement without a serial, one naming the victim, the search echoed back,
/// then `lure.flood` announcements of fake cameras.
pub fn dhip_barrage(lure: &Lure) -> Vec<Vec<u8>> {
    let own = lure.own_ip.to_string();
    let mut lying = dhip_notify("SN-LYING", &own, 9);
    lying[16..20].copy_from_slice(&60_000u32.to_le_bytes());
    let mut not_dhip = dhip_notify("SN-MAGIC", &own, 9);
    not_dhip[4..8].copy_from_slice(b"PIHD");
    let mut barrage: Vec<Vec<u8>> = vec![
        noise(),
        not_dhip,
        lying,
        frame(0, 0, b"{not json"),
        frame(0, 0, b"[1,2,3]"),
        frame(
            0,
            0,
            format!("{}{}", "[".repeat(1000), "]".repeat(1000)).as_bytes(),
        ),
        frame(0, 0, &vec![b' '; 60_000]),
        dhip_notify("", &own, 9),
        dhip_notify("SN-LIAR", &lure.victim_ip.to_string(), 8080),
        search(),
    ];
    for n in 0..lure.flood {
        barrage.push(dhip_notify(&format!("SN-FLOOD-{n}"), &own, lure.port(n)));
    }
    barrage
}

/// Answers every inquiry arriving on `socket` with `tongue`'s barrage, sent back to the asker at
/// most `per_sec` datagrams a second, until `bounds` end.
pub async fn answer_with_barrages(
    socket: UdpSocket,
    tongue: Tongue,
    lure: Lure,
    per_sec: u32,
    bounds: Bounds,
    stats: Arc<HostileStats>,
) {
    let mut pacer = Pacer::new(per_sec);
    let mut buf = vec![0u8; MAX_INQUIRY];
    while !bounds.over() {
        let received = tokio::select! {
            _ = bounds.ended() => return,
            received = socket.recv_from(&mut buf) => received,
        };
        let Ok((len, from)) = received else {
            continue;
        };
        HostileStats::count(&stats.inquiries);
        let inquiry = &buf[..len];
        let barrage = match tongue {
            Tongue::WsDiscovery => wsd_barrage(inquiry, &lure),
            Tongue::Sadp => sadp_barrage(inquiry, &lure),
            Tongue::Dhip => dhip_barrage(&lure),
        };
        for datagram in barrage {
            if bounds.over() {
                return;
            }
            if socket.send_to(&datagram, from).await.is_ok() {
                HostileStats::count(&stats.datagrams);
            }
            pacer.sent_one().await;
        }
    }
}

/// Sends a recorder's announcement listeners (`targets`) unsolicited WS-Discovery traffic, `per_sec`
/// datagrams a second until `bounds` end, in turn: Hellos of fake cameras at the lure's ports (each
/// endpoint new, up to 4096 and round again), Hellos under the victims' endpoint references, Byes for
/// the victims' endpoint references (which only the victims may say), and junk (noise, an entity
/// bomb, deep nesting, an oversized datagram, a Hello without an address).
pub async fn flood_announcements(
    socket: UdpSocket,
    targets: Vec<SocketAddr>,
    victims: Vec<String>,
    lure: Lure,
    per_sec: u32,
    bounds: Bounds,
    stats: Arc<HostileStats>,
) {
    let own = lure.own_ip;
    let junk: [Vec<u8>; 5] = [
        noise(),
        b"<!DOCTYPE e [<!ENTITY a \"aaaaaaaaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;\">]><e>&b;&b;</e>"
            .to_vec(),
        deep(4600),
        vec![b'<'; 60_000],
        wsd_hello("urn:uuid:no-address", "").into_bytes(),
    ];
    let mut pacer = Pacer::new(per_sec);
    let mut n: usize = 0;
    while !bounds.over() {
        let victim = (!victims.is_empty()).then(|| victims[n % victims.len()].as_str());
        let xaddr = format!("http://{own}:{}/onvif/device_service", lure.port(n / 8));
        let datagram = match (n % 8, victim) {
            (5, Some(victim)) => wsd_hello(victim, &xaddr).into_bytes(),
            (6, Some(victim)) => wsd_bye(victim).into_bytes(),
            (7, _) => junk[(n / 8) % junk.len()].clone(),
            _ => wsd_hello(&format!("urn:uuid:hello-flood-{}", n % 4096), &xaddr).into_bytes(),
        };
        let target = targets[n % targets.len().max(1)];
        if socket.send_to(&datagram, target).await.is_ok() {
            HostileStats::count(&stats.datagrams);
        }
        n = n.wrapping_add(1);
        tokio::select! {
            _ = bounds.ended() => return,
            _ = pacer.sent_one() => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::camera::discovery::{Message, parse_datagram};
    use std::time::Duration;
    use tokio_util::sync::CancellationToken;

    fn lure(flood: usize) -> Lure {
        Lure {
            own_ip: Ipv4Addr::new(127, 0, 0, 1),
            victim_ip: Ipv4Addr::new(127, 0, 0, 2),
            ports: vec![9, 8001],
            flood,
        }
    }

    #[test]
    fn a_barrage_answers_the_probe_it_was_sent_and_its_fakes_point_home() {
        let probe = b"<w:MessageID>urn:uuid:ours</w:MessageID>";
        let barrage = wsd_barrage(probe, &lure(3));
        assert_eq!(barrage.len(), 7 + 3);
        let ours = std::collections::HashSet::from(["urn:uuid:ours".to_owned()]);
        let sender = SocketAddr::from(([127, 0, 0, 1], 3702));
        let believed: Vec<_> = barrage
            .iter()
            .filter_map(|d| parse_datagram(d, sender, Some(&ours)).ok())
            .collect();
        // Only the fakes at the sender's own address are believable; the rest is refused.
        assert_eq!(believed.len(), 3, "{believed:?}");
        assert!(
            believed
                .iter()
                .all(|m| matches!(m, Message::ProbeMatches(_)))
        );
        assert!(sadp_barrage(b"<Uuid>u</Uuid>", &lure(2)).len() == 8 + 2);
        assert!(dhip_barrage(&lure(2)).len() == 10 + 2);
    }

    #[tokio::test]
    async fn the_announcement_flood_keeps_to_its_rate_and_stops_by_itself() {
        let listener = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let target = listener.local_addr().unwrap();
        let sender = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let stats = Arc::new(HostileStats::default());
        let bounds = Bounds::lasting(Duration::from_millis(500), CancellationToken::new());
        flood_announcements(
            sender,
            vec![target],
            vec!["urn:uuid:victim".into()],
            lure(0),
            200,
            bounds,
            stats.clone(),
        )
        .await;
        let sent = HostileStats::read(&stats.datagrams);
        assert!(
            (20..=130).contains(&sent),
            "{sent} datagrams in half a second at 200/s"
        );
        let mut buf = vec![0u8; 65_536];
        let (len, _) = listener.recv_from(&mut buf).await.unwrap();
        assert!(String::from_utf8_lossy(&buf[..len]).contains("Hello"));
    }
}
