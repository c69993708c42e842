//! The installer's maintenance of a Hikvision camera over ISAPI, for a camera whose ONVIF is off: its
//! IPv4 settings (`/ISAPI/System/Network/interfaces/1/ipAddress`, read, changed and written back whole,
//! so IPv6 and DNS stay), its clock (`/ISAPI/System/time`, set by hand in UTC or from an NTP server),
//! reboot (`/ISAPI/System/reboot`) and factory defaults (`/ISAPI/System/factoryReset`, `basic` keeps the
//! network settings, `full` does not). docs/vendors.md names the sources.

use std::net::Ipv4Addr;
use std::time::SystemTime;

use oxvif::soap::XmlNode;

use crate::camera::hikvision::isapi::{IsapiSession, XML_NS, xml_escape};
use crate::camera::{CameraError, clean_camera_text};
use crate::model::{CameraNetwork, FactoryDefault, NetworkChange};

const IP_ADDRESS: &str = "/ISAPI/System/Network/interfaces/1/ipAddress";
/// The zone a camera is given with its UTC time, in Hikvision's POSIX-like form.
const UTC_ZONE: &str = "CST+0:00:00";

fn text<'a>(node: &'a XmlNode, path: &[&str]) -> &'a str {
    node.path(path).map(|n| n.text().trim()).unwrap_or("")
}

/// Reads an `IPAddress` element.
pub fn read_ip_address(root: &XmlNode) -> Result<CameraNetwork, CameraError> {
    let address: Ipv4Addr = text(root, &["ipAddress"])
        .parse()
        .map_err(|_| CameraError::BadReply("an unreadable IPv4 address".to_owned()))?;
    let mask: Ipv4Addr = text(root, &["subnetMask"])
        .parse()
        .map_err(|_| CameraError::BadReply("an unreadable subnet mask".to_owned()))?;
    let bits = u32::from(mask);
    let prefix_len = u8::try_from(bits.leading_ones())
        .ok()
        .filter(|p| u32::from(*p) == bits.count_ones() && (1..=32).contains(p))
        .ok_or_else(|| CameraError::BadReply(format!("subnet mask {mask} is not a mask")))?;
    Ok(CameraNetwork {
        interface_token: "1".to_owned(),
        address,
        prefix_len,
        gateway: text(root, &["DefaultGateway", "ipAddress"])
            .parse::<Ipv4Addr>()
            .ok()
            .filter(|g| !g.is_unspecified()),
        dhcp: text(root, &["addressingType"]).eq_ignore_ascii_case("dynamic"),
    })
}

fn mask_of(prefix_len: u8) -> Ipv4Addr {
    Ipv4Addr::from(
        u32::MAX
            .checked_shl(32 - u32::from(prefix_len.min(32)))
            .unwrap_or(0),
    )
}

impl IsapiSession {
    /// The camera's IPv4 settings.
    pub async fn network(&self) -> Result<CameraNetwork, CameraError> {
        let root = self
            .call("GET", IP_ADDRESS, None)
            .await?
            .ok_or_else(|| CameraError::BadReply("ipAddress answered with nothing".to_owned()))?;
        read_ip_address(&root)
    }

    /// New IPv4 settings. Returns whether the camera says it needs a reboot to apply them
    /// (ResponseStatus 7).
    pub async fn set_network(&self, change: &NetworkChange) -> Result<bool, CameraError> {
        let gateway = change.gateway.unwrap_or(Ipv4Addr::UNSPECIFIED);
        let body = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><IPAddress version=\"2.0\" xmlns=\"{XML_NS}\">\
             <ipVersion>v4</ipVersion><addressingType>{}</addressingType>\
             <ipAddress>{}</ipAddress><subnetMask>{}</subnetMask>\
             <DefaultGateway><ipAddress>{gateway}</ipAddress></DefaultGateway></IPAddress>",
            if change.dhcp { "dynamic" } else { "static" },
            change.address,
            mask_of(change.prefix_len)
        );
        let reply = self.call("PUT", IP_ADDRESS, Some(&body)).await?;
        Ok(reply.is_some_and(|root| text(&root, &["statusCode"]) == "7"))
    }

    /// Sets the camera's clock to `now`, in UTC, by hand.
    pub async fn set_clock(&self, now: SystemTime) -> Result<(), CameraError> {
        let at = time::OffsetDateTime::from_unix_timestamp(crate::clock::unix_secs(now))
            .ok()
            .and_then(|t| {
                t.format(time::macros::format_description!(
                    "[year]-[month]-[day]T[hour]:[minute]:[second]"
                ))
                .ok()
            })
            .ok_or_else(|| CameraError::BadReply("the recorder's clock is out of range".into()))?;
        let body = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Time version=\"2.0\" xmlns=\"{XML_NS}\">\
             <timeMode>manual</timeMode><localTime>{at}</localTime><timeZone>{UTC_ZONE}</timeZone></Time>"
        );
        self.call("PUT", "/ISAPI/System/time", Some(&body))
            .await
            .map(|_| ())
    }

    /// Points the camera at the NTP server `server` and makes NTP its time source.
    pub async fn use_ntp(&self, server: &str) -> Result<(), CameraError> {
        let address = match server.parse::<std::net::IpAddr>() {
            Ok(ip) => format!(
                "<addressingFormatType>ipaddress</addressingFormatType><ipAddress>{ip}</ipAddress>"
            ),
            Err(_) => format!(
                "<addressingFormatType>hostname</addressingFormatType><hostName>{}</hostName>",
                xml_escape(server)
            ),
        };
        let body = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><NTPServer version=\"2.0\" xmlns=\"{XML_NS}\">\
             <id>1</id>{address}<portNo>123</portNo><synchronizeInterval>60</synchronizeInterval></NTPServer>"
        );
        self.call("PUT", "/ISAPI/System/time/ntpServers/1", Some(&body))
            .await?;
        let body = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Time version=\"2.0\" xmlns=\"{XML_NS}\">\
             <timeMode>NTP</timeMode><timeZone>{UTC_ZONE}</timeZone></Time>"
        );
        self.call("PUT", "/ISAPI/System/time", Some(&body))
            .await
            .map(|_| ())
    }

    /// Asks the camera to reboot; its words, when it says any.
    pub async fn reboot(&self) -> Result<String, CameraError> {
        let reply = self.call("PUT", "/ISAPI/System/reboot", None).await?;
        Ok(reply
            .map(|root| clean_camera_text(text(&root, &["statusString"])))
            .unwrap_or_default())
    }

    /// Restores factory defaults: `basic` keeps the network settings (soft), `full` does not (hard).
    pub async fn restore_factory_defaults(&self, kind: FactoryDefault) -> Result<(), CameraError> {
        let mode = match kind {
            FactoryDefault::Soft => "basic",
            FactoryDefault::Hard => "full",
        };
        self.call(
            "PUT",
            &format!("/ISAPI/System/factoryReset?mode={mode}"),
            None,
        )
        .await
        .map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cameras_ip_address_element_is_read() {
        // The shape of a public capture from a live camera.
        let root = XmlNode::parse(&format!(
            "<IPAddress version=\"2.0\" xmlns=\"{XML_NS}\"><ipVersion>dual</ipVersion>\
             <addressingType>static</addressingType><ipAddress>192.168.1.2</ipAddress>\
             <subnetMask>255.255.255.0</subnetMask><ipv6Address>::</ipv6Address><bitMask>0</bitMask>\
             <DefaultGateway><ipAddress>192.168.1.1</ipAddress><ipv6Address>::</ipv6Address></DefaultGateway>\
             <PrimaryDNS><ipAddress>8.8.8.8</ipAddress></PrimaryDNS></IPAddress>"
        ))
        .unwrap();
        let network = read_ip_address(&root).unwrap();
        assert_eq!(network.address, Ipv4Addr::new(192, 168, 1, 2));
        assert_eq!(network.prefix_len, 24);
        assert_eq!(network.gateway, Some(Ipv4Addr::new(192, 168, 1, 1)));
        assert!(!network.dhcp);
        let bad = XmlNode::parse(
            "<IPAddress><ipAddress>192.168.1.2</ipAddress><subnetMask>255.0.255.0</subnetMask></IPAddress>",
        )
        .unwrap();
        assert!(read_ip_address(&bad).is_err());
        assert_eq!(mask_of(24), Ipv4Addr::new(255, 255, 255, 0));
    }
}
