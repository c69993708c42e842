//! The Hikvision persona's maintenance over ISAPI, for an administrator: IPv4 settings (read, and
//! written back whole; a camera that needs a reboot for them says ResponseStatus 7), the clock (by hand
//! with its zone, or NTP), reboot and factory defaults (`basic` keeps the network settings, `full`
//! reboots into factory state).

use std::net::{IpAddr, Ipv4Addr};

use oxvif::soap::XmlNode;

use super::{IsapiResponse, bad, ok, status, xml};
use crate::camera::hikvision::isapi::{XML_NS, camera_unix_time};
use crate::sim::camera::{Lifecycle, SimCamera};

const IP_ADDRESS: &str = "/ISAPI/System/Network/interfaces/1/ipAddress";

/// Answers a maintenance request, or `None` when it is not one.
pub(super) fn answer(
    camera: &SimCamera,
    method: &str,
    path: &str,
    uri: &str,
    body: &str,
) -> Option<IsapiResponse> {
    Some(match (method, path) {
        ("GET", IP_ADDRESS) => ip_address(camera),
        ("PUT", IP_ADDRESS) => set_ip_address(camera, body, uri),
        ("PUT", "/ISAPI/System/time") => set_time(camera, body, uri),
        ("PUT", "/ISAPI/System/time/ntpServers/1") => {
            let Ok(root) = XmlNode::parse(body) else {
                return Some(bad("badXmlFormat", uri));
            };
            let server = ["hostName", "ipAddress"]
                .iter()
                .find_map(|name| root.child(name).map(|n| n.text().trim().to_owned()))
                .filter(|s| !s.is_empty());
            camera.set_ntp_server(server);
            ok(uri)
        }
        ("PUT", "/ISAPI/System/reboot") => {
            camera.order(Lifecycle::Reboot {
                factory_hard: false,
            });
            ok(uri)
        }
        ("PUT", "/ISAPI/System/factoryReset") => {
            match uri
                .split("mode=")
                .nth(1)
                .map(|m| m.split('&').next().unwrap_or(""))
            {
                Some("basic") => camera.soft_factory_default(),
                Some("full") => camera.order(Lifecycle::Reboot { factory_hard: true }),
                _ => return Some(bad("badParameters", uri)),
            }
            ok(uri)
        }
        _ => return None,
    })
}

fn ip_address(camera: &SimCamera) -> IsapiResponse {
    let network = camera.network();
    let prefix = u32::from(network.prefix_len.min(32));
    let mask = Ipv4Addr::from(u32::MAX.checked_shl(32 - prefix).unwrap_or(0));
    let gateway = network.gateway.unwrap_or(Ipv4Addr::UNSPECIFIED);
    xml(
        200,
        format!(
            "<IPAddress version=\"2.0\" xmlns=\"{XML_NS}\"><ipVersion>dual</ipVersion>\
             <addressingType>{}</addressingType><ipAddress>{}</ipAddress><subnetMask>{mask}</subnetMask>\
             <ipv6Address>::</ipv6Address><bitMask>0</bitMask><DefaultGateway><ipAddress>{gateway}</ipAddress>\
             <ipv6Address>::</ipv6Address></DefaultGateway><PrimaryDNS><ipAddress>0.0.0.0</ipAddress></PrimaryDNS>\
             </IPAddress>",
            if network.dhcp { "dynamic" } else { "static" },
            camera.http_addr().ip()
        ),
    )
}

fn set_ip_address(camera: &SimCamera, body: &str, uri: &str) -> IsapiResponse {
    let Ok(root) = XmlNode::parse(body) else {
        return status(400, 5, "Invalid XML Format", "badXmlFormat", uri);
    };
    let ip = |path: &[&str]| {
        root.path(path)
            .and_then(|n| n.text().trim().parse::<Ipv4Addr>().ok())
    };
    let (Some(address), Some(mask)) = (ip(&["ipAddress"]), ip(&["subnetMask"])) else {
        return bad("badIPv4Address", uri);
    };
    let bits = u32::from(mask);
    let Ok(prefix) = u8::try_from(bits.leading_ones()) else {
        return bad("badNetMask", uri);
    };
    if bits.count_ones() != u32::from(prefix) || prefix == 0 {
        return bad("badNetMask", uri);
    }
    let dhcp = root
        .child("addressingType")
        .is_some_and(|n| n.text().trim() == "dynamic");
    camera.set_gateway(ip(&["DefaultGateway", "ipAddress"]).filter(|g| !g.is_unspecified()));
    match camera.set_network_interface("eth0", Some(dhcp), Some((IpAddr::V4(address), prefix))) {
        Ok(true) => status(200, 7, "Reboot Required", "rebootRequired", uri),
        Ok(false) => ok(uri),
        Err(_) => bad("badIPv4Address", uri),
    }
}

fn set_time(camera: &SimCamera, body: &str, uri: &str) -> IsapiResponse {
    let Ok(root) = XmlNode::parse(body) else {
        return status(400, 5, "Invalid XML Format", "badXmlFormat", uri);
    };
    let text = |name: &str| {
        root.child(name)
            .map(|n| n.text().trim().to_owned())
            .unwrap_or_default()
    };
    match text("timeMode").as_str() {
        "NTP" => {
            camera.use_ntp_time();
            ok(uri)
        }
        "manual" => match camera_unix_time(&text("localTime"), &text("timeZone")) {
            Some(utc) => {
                camera.set_clock_to(utc);
                ok(uri)
            }
            None => bad("badParameters", uri),
        },
        _ => bad("badParameters", uri),
    }
}
