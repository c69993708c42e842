//! Hostile peers: discovery floods and lies, cameras that answer with poison, requests that try to
//! crash the simulator. None of them may crash anything or stall discovery of the good cameras.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};
use vigil::service::{AddCamera, NvrError};

use crate::support::{CAMERA_PASSWORD, Harness, simulator, system};

/// Pulls the MessageID out of a probe without a parser, as an attacker would.
fn message_id(probe: &str) -> String {
    probe
        .split("MessageID>")
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .unwrap_or("")
        .to_owned()
}

fn probe_match(relates_to: &str, endpoint: &str, xaddr: &str) -> String {
    format!(
        "<e:Envelope xmlns:e=\"http://www.w3.org/2003/05/soap-envelope\" \
         xmlns:w=\"http://schemas.xmlsoap.org/ws/2004/08/addressing\" \
         xmlns:d=\"http://schemas.xmlsoap.org/ws/2005/04/discovery\"><e:Header>\
         <w:Action>http://schemas.xmlsoap.org/ws/2005/04/discovery/ProbeMatches</w:Action>\
         <w:RelatesTo>{relates_to}</w:RelatesTo></e:Header><e:Body><d:ProbeMatches><d:ProbeMatch>\
         <w:EndpointReference><w:Address>{endpoint}</w:Address></w:EndpointReference>\
         <d:Types>dn:NetworkVideoTransmitter</d:Types><d:XAddrs>{xaddr}</d:XAddrs>\
         </d:ProbeMatch></d:ProbeMatches></e:Body></e:Envelope>"
    )
}

/// Answers every probe with a barrage of bad replies.
async fn hostile_responder(socket: UdpSocket, victim_ip: Ipv4Addr) {
    let own_ip = socket.local_addr().unwrap().ip();
    let mut buf = vec![0u8; 65_536];
    loop {
        let Ok((len, from)) = socket.recv_from(&mut buf).await else {
            return;
        };
        let id = message_id(&String::from_utf8_lossy(&buf[..len]));
        let mut barrage: Vec<Vec<u8>> = vec![
            (0..1200u32).map(|i| (i * 7919 % 251) as u8).collect(),
            vec![b' '; 60_000],
            b"<!DOCTYPE e [<!ENTITY a \"aaaaaaaaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;\">]><e>&b;&b;</e>".to_vec(),
            format!("{}{}", "<a>".repeat(4600), "</a>".repeat(4600)).into_bytes(),
            probe_match("urn:uuid:not-our-probe", "urn:uuid:stale", &format!("http://{own_ip}:9/onvif/device_service")).into_bytes(),
            probe_match(&id, "urn:uuid:liar", &format!("http://{victim_ip}:8080/onvif/device_service")).into_bytes(),
            probe_match(&id, "", &format!("http://{own_ip}:9/onvif/device_service")).into_bytes(),
        ];
        for n in 0..1500 {
            barrage.push(
                probe_match(
                    &id,
                    &format!("urn:uuid:flood-{n}"),
                    &format!("http://{own_ip}:9/onvif/device_service"),
                )
                .into_bytes(),
            );
        }
        for datagram in barrage {
            let _ = socket.send_to(&datagram, from).await;
        }
    }
}

#[tokio::test]
async fn hostile_discovery_replies_do_not_stop_discovery_of_the_good_cameras() {
    let sim = simulator(16, |_| {}).await;
    let first = match sim.cameras()[0].identity().http_addr.ip() {
        std::net::IpAddr::V4(v4) => v4,
        other => panic!("unexpected {other}"),
    };
    let hostile_ip = Ipv4Addr::from(u32::from(first) + 100);
    let hostile = UdpSocket::bind(SocketAddr::from((hostile_ip, 3702)))
        .await
        .unwrap();
    let responder = tokio::spawn(hostile_responder(hostile, first));
    let mut settings = crate::support::test_settings(&sim, Duration::from_secs(5));
    settings
        .discovery
        .unicast_targets
        .insert(0, SocketAddr::from((hostile_ip, 3702)));
    let h = Harness::start_with(sim, settings, tempfile::tempdir().unwrap()).await;

    let found = h.discover().await;
    let devices = h.nvr.discovered_devices();
    assert_eq!(found, 16, "{devices:#?}");
    let mut serials: Vec<_> = devices.iter().map(|d| d.identity.serial.clone()).collect();
    serials.sort();
    let mut expected: Vec<_> = h
        .sim
        .cameras()
        .iter()
        .map(|c| c.identity().serial.clone())
        .collect();
    expected.sort();
    assert_eq!(serials, expected, "exactly the good cameras");
    assert!(
        devices
            .iter()
            .all(|d| d.address.ip() != Some(hostile_ip.into()))
    );
    responder.abort();
    h.stop().await;
}

/// A fake camera that answers every request with `reply`, or never answers when it is `None`.
async fn poisoned_camera(reply: Option<Vec<u8>>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            let reply = reply.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 65_536];
                let _ = stream.read(&mut buf).await;
                match reply {
                    Some(body) => {
                        let head = format!(
                            "HTTP/1.1 200 OK\r\nContent-Type: application/soap+xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                            body.len()
                        );
                        let _ = stream.write_all(head.as_bytes()).await;
                        let _ = stream.write_all(&body).await;
                    }
                    None => tokio::time::sleep(Duration::from_secs(30)).await,
                }
            });
        }
    });
    addr
}

#[tokio::test]
async fn a_camera_answering_with_poison_is_refused_and_nothing_is_stored() {
    let h = Harness::start(simulator(1, |_| {}).await, Duration::from_secs(5)).await;
    let deep = format!("{}{}", "<a>".repeat(60_000), "</a>".repeat(60_000)).into_bytes();
    let huge = vec![b'x'; 3 * 1024 * 1024];
    let garbage = b"this is not xml at all".to_vec();
    for (reply, what) in [
        (Some(deep), "deep"),
        (Some(huge), "huge"),
        (Some(garbage), "garbage"),
    ] {
        let addr = poisoned_camera(reply).await;
        let result = h
            .nvr
            .add_camera(
                AddCamera {
                    host: addr.ip().to_string(),
                    port: addr.port(),
                    username: "admin".into(),
                    password: CAMERA_PASSWORD.into(),
                },
                &system(),
            )
            .await;
        assert!(
            matches!(result, Err(NvrError::CameraProtocol(_))),
            "{what}: {result:?}"
        );
    }
    let silent = poisoned_camera(None).await;
    let result = h
        .nvr
        .add_camera(
            AddCamera {
                host: silent.ip().to_string(),
                port: silent.port(),
                username: "admin".into(),
                password: CAMERA_PASSWORD.into(),
            },
            &system(),
        )
        .await;
    assert!(
        matches!(&result, Err(NvrError::Unreachable { detail, .. }) if detail == "timed out"),
        "{result:?}"
    );
    assert!(h.nvr.added_cameras().is_empty());
    h.stop().await;
}

#[tokio::test]
async fn the_simulator_survives_poisoned_requests() {
    let sim = simulator(1, |_| {}).await;
    let url = sim.cameras()[0].device_service_url();
    let client = reqwest::Client::new();
    let deep = format!("{}{}", "<a>".repeat(36_000), "</a>".repeat(36_000));
    for body in [deep, "<unclosed".to_owned(), "x".repeat(300_000)] {
        let response = client.post(&url).body(body).send().await.unwrap();
        assert!(response.status().is_client_error(), "{}", response.status());
    }
    let info = oxvif::OnvifClient::new(&url).get_device_info().await;
    assert!(info.is_ok(), "still serving: {info:?}");
    sim.shutdown().await;
}

/// A SADP ProbeMatch as a camera words it.
fn sadp_match(uuid: &str, serial: &str, ip: &str, http_port: u16) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><ProbeMatch><Uuid>{uuid}</Uuid><Types>inquiry</Types>\
         <DeviceDescription>DS-FAKE</DeviceDescription><DeviceSN>{serial}</DeviceSN><MAC>02-00-00-00-00-01</MAC>\
         <IPv4Address>{ip}</IPv4Address><HttpPort>{http_port}</HttpPort><Activated>true</Activated></ProbeMatch>"
    )
}

/// Answers every SADP inquiry with a barrage: noise, oversized, an entity bomb, deep nesting, a reply to
/// an inquiry never sent, one naming another host, one with no serial, a lying length in a second
/// datagram, and 1500 well-formed matches for cameras whose HTTP port is closed.
async fn hostile_sadp_responder(socket: UdpSocket, victim_ip: Ipv4Addr) {
    let own_ip = socket.local_addr().unwrap().ip().to_string();
    let mut buf = vec![0u8; 65_536];
    loop {
        let Ok((len, from)) = socket.recv_from(&mut buf).await else {
            return;
        };
        let text = String::from_utf8_lossy(&buf[..len]).into_owned();
        let uuid = text
            .split("<Uuid>")
            .nth(1)
            .and_then(|rest| rest.split("</Uuid>").next())
            .unwrap_or_default()
            .to_owned();
        let mut barrage: Vec<Vec<u8>> = vec![
            (0..1200u32).map(|i| (i * 7919 % 251) as u8).collect(),
            vec![b' '; 60_000],
            b"<!DOCTYPE e [<!ENTITY a \"aaaaaaaaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;\">]><ProbeMatch>&b;&b;</ProbeMatch>".to_vec(),
            format!("{}{}", "<a>".repeat(4600), "</a>".repeat(4600)).into_bytes(),
            sadp_match("NOT-OUR-INQUIRY", "SN-STALE", &own_ip, 9).into_bytes(),
            sadp_match(&uuid, "SN-LIAR", &victim_ip.to_string(), 8080).into_bytes(),
            sadp_match(&uuid, "", &own_ip, 9).into_bytes(),
            sadp_match(&uuid, "SN-CUT", &own_ip, 9).as_bytes()[..60].to_vec(),
        ];
        for n in 0..1500 {
            barrage.push(sadp_match(&uuid, &format!("SN-FLOOD-{n}"), &own_ip, 9).into_bytes());
        }
        for datagram in barrage {
            let _ = socket.send_to(&datagram, from).await;
        }
    }
}

/// Eight cameras of one vendor answering its discovery protocol on `port`, a hostile host's socket
/// on that port at another loopback address (asked too, as a unicast target), and a recorder asking in
/// `protocol` there.
struct HostileRig {
    h: Harness,
    hostile: UdpSocket,
    victim: Ipv4Addr,
}

async fn hostile_rig(
    persona: vigil::sim::persona::Persona,
    protocol: vigil::model::Protocol,
    port: u16,
) -> HostileRig {
    let sim = crate::support::simulator(8, |c| {
        c.persona = vigil::sim::persona::PersonaMix::All(persona);
        c.sadp_port = port;
        c.dhip_port = port;
    })
    .await;
    let victim = match sim.cameras()[0].identity().http_addr.ip() {
        std::net::IpAddr::V4(v4) => v4,
        other => panic!("unexpected {other}"),
    };
    let hostile_ip = Ipv4Addr::from(u32::from(victim) + 100);
    let hostile = UdpSocket::bind(SocketAddr::from((hostile_ip, port)))
        .await
        .unwrap();
    let mut settings = crate::support::test_settings(&sim, Duration::from_secs(5));
    settings
        .discovery
        .unicast_targets
        .insert(0, SocketAddr::from((hostile_ip, 3702)));
    settings.discovery.vendor_ports = vec![(protocol, port)];
    let h = Harness::start_with(sim, settings, tempfile::tempdir().unwrap()).await;
    HostileRig { h, hostile, victim }
}

/// Every good camera is listed, seen in `protocol`, and nothing the hostile host made up is.
fn assert_only_the_good_cameras(h: &Harness, found: usize, protocol: vigil::model::Protocol) {
    let devices = h.nvr.discovered_devices();
    assert_eq!(found, 8, "{devices:#?}");
    for camera in h.sim.cameras() {
        assert!(
            devices
                .iter()
                .any(|d| d.identity.serial == camera.identity().serial
                    && d.address.to_string() == camera.identity().http_addr.to_string()
                    && d.protocols.contains(protocol)),
            "{} listed at its own address, seen in {protocol}",
            camera.identity().serial
        );
    }
    assert!(
        devices
            .iter()
            .all(|d| !d.identity.serial.starts_with("SN-"))
    );
}

#[tokio::test]
async fn hostile_sadp_replies_do_not_stop_discovery_of_the_good_hikvision_cameras() {
    use vigil::model::Protocol;
    let rig = hostile_rig(
        vigil::sim::persona::Persona::Hikvision,
        Protocol::Hikvision,
        37320,
    )
    .await;
    let responder = tokio::spawn(hostile_sadp_responder(rig.hostile, rig.victim));
    let found = rig.h.discover().await;
    assert_only_the_good_cameras(&rig.h, found, Protocol::Hikvision);
    responder.abort();
    rig.h.stop().await;
}

/// A DHIP announcement as a camera words it.
fn dhip_notify(serial: &str, ip: &str, http_port: u16) -> Vec<u8> {
    use vigil::camera::dahua::dhip::frame;
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

/// Answers every DHIP search with a barrage: noise, a frame that is not DHIP, a length that lies past
/// the datagram, a body that is not JSON, JSON that is not an object, JSON nested a thousand deep, an
/// oversized frame, an announcement without a serial, one naming another host, the search echoed
/// back, and 1500 well-formed announcements of cameras whose HTTP port is closed.
async fn hostile_dhip_responder(
    socket: UdpSocket,
    victim_ip: Ipv4Addr,
    asked: std::sync::Arc<std::sync::atomic::AtomicUsize>,
) {
    use vigil::camera::dahua::dhip::{frame, search};
    let own_ip = socket.local_addr().unwrap().ip().to_string();
    let mut buf = vec![0u8; 65_536];
    loop {
        let Ok((_, from)) = socket.recv_from(&mut buf).await else {
            return;
        };
        asked.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let mut lying = dhip_notify("SN-LYING", &own_ip, 9);
        lying[16..20].copy_from_slice(&60_000u32.to_le_bytes());
        let mut not_dhip = dhip_notify("SN-MAGIC", &own_ip, 9);
        not_dhip[4..8].copy_from_slice(b"PIHD");
        let mut barrage: Vec<Vec<u8>> = vec![
            (0..1200u32).map(|i| (i * 7919 % 251) as u8).collect(),
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
            dhip_notify("", &own_ip, 9),
            dhip_notify("SN-LIAR", &victim_ip.to_string(), 8080),
            search(),
        ];
        for n in 0..1500 {
            barrage.push(dhip_notify(&format!("SN-FLOOD-{n}"), &own_ip, 9));
        }
        for datagram in barrage {
            let _ = socket.send_to(&datagram, from).await;
        }
    }
}

#[tokio::test]
async fn hostile_dhip_replies_do_not_stop_discovery_of_the_good_dahua_cameras() {
    use vigil::model::Protocol;
    let rig = hostile_rig(vigil::sim::persona::Persona::Dahua, Protocol::Dahua, 37910).await;
    let asked = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let responder = tokio::spawn(hostile_dhip_responder(
        rig.hostile,
        rig.victim,
        asked.clone(),
    ));
    let found = rig.h.discover().await;
    assert_only_the_good_cameras(&rig.h, found, Protocol::Dahua);
    assert!(
        asked.load(std::sync::atomic::Ordering::SeqCst) > 0,
        "the hostile host was asked, and answered with its barrage"
    );
    responder.abort();
    rig.h.stop().await;
}
