//! The protocols the recorder speaks with cameras, named as installers know them, and the set a camera
//! was seen speaking. One camera may speak several (a Hikvision camera with ONVIF on speaks both); it is
//! still one camera. Only `camera/` knows what any of them puts on the wire.

use std::fmt;

use serde::{Deserialize, Serialize};

/// One protocol family, each with its own driver in `camera/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// The ONVIF device service (any vendor), found by WS-Discovery.
    Onvif,
    /// Vigil's open recovery extension to the ONVIF device service.
    Vigil,
    /// Hikvision's SADP (discovery, addressing) and ISAPI (HTTP with Digest).
    Hikvision,
    /// Dahua's DHIP (discovery, addressing) and its JSON RPC over HTTP.
    Dahua,
}

impl Protocol {
    /// Every protocol, in the order they are shown.
    pub const ALL: [Protocol; 4] = [
        Protocol::Hikvision,
        Protocol::Dahua,
        Protocol::Onvif,
        Protocol::Vigil,
    ];

    /// The stable name in the registry, on D-Bus and in the configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Onvif => "onvif",
            Protocol::Vigil => "vigil",
            Protocol::Hikvision => "hikvision",
            Protocol::Dahua => "dahua",
        }
    }

    /// The name the menu shows, as recorders' Add dialogs call it.
    pub fn label(self) -> &'static str {
        match self {
            Protocol::Onvif => "ONVIF",
            Protocol::Vigil => "Vigil",
            Protocol::Hikvision => "Hikvision",
            Protocol::Dahua => "Dahua",
        }
    }

    /// The vendor's phone app that scans a camera's recovery QR code, when it is the vendor's own
    /// (Vigil's extension works with any vendor's app that adopts it).
    pub fn phone_app(self) -> Option<&'static str> {
        match self {
            Protocol::Hikvision => Some("Hik-Connect"),
            Protocol::Dahua => Some("DMSS"),
            Protocol::Onvif | Protocol::Vigil => None,
        }
    }

    /// Whether the support desk's way in restores the camera's factory defaults (its password of the
    /// day logs in, and the camera is set up again), rather than resetting one password.
    pub fn support_restores_defaults(self) -> bool {
        matches!(self, Protocol::Dahua)
    }

    /// Reads a stable name.
    pub fn parse(text: &str) -> Option<Protocol> {
        Protocol::ALL
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(text.trim()))
    }

    /// The protocol a camera reset in this one is managed with once added again: Vigil's extension
    /// rides on ONVIF.
    pub fn managed_as(self) -> Protocol {
        match self {
            Protocol::Vigil => Protocol::Onvif,
            other => other,
        }
    }

    fn bit(self) -> u8 {
        match self {
            Protocol::Onvif => 1,
            Protocol::Vigil => 2,
            Protocol::Hikvision => 4,
            Protocol::Dahua => 8,
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// The protocols one camera was seen speaking.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "Vec<Protocol>", into = "Vec<Protocol>")]
pub struct Protocols(u8);

impl Protocols {
    /// None yet.
    pub const NONE: Protocols = Protocols(0);

    /// Only `protocol`.
    pub fn only(protocol: Protocol) -> Self {
        Protocols(protocol.bit())
    }

    /// Whether `protocol` is among them.
    pub fn contains(self, protocol: Protocol) -> bool {
        self.0 & protocol.bit() != 0
    }

    /// These and `protocol`.
    #[must_use]
    pub fn with(self, protocol: Protocol) -> Self {
        Protocols(self.0 | protocol.bit())
    }

    /// These and `other`'s.
    #[must_use]
    pub fn union(self, other: Protocols) -> Self {
        Protocols(self.0 | other.0)
    }

    /// Whether there are none.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Each, in [`Protocol::ALL`] order.
    pub fn iter(self) -> impl Iterator<Item = Protocol> {
        Protocol::ALL.into_iter().filter(move |p| self.contains(*p))
    }

    /// The vendor's own protocol, when the camera speaks one: the richer way to activate, recover
    /// and manage it, as the vendor's own recorders do.
    pub fn vendor(self) -> Option<Protocol> {
        [Protocol::Hikvision, Protocol::Dahua]
            .into_iter()
            .find(|p| self.contains(*p))
    }

    /// The protocol the recorder certifies and monitors the camera with: the vendor's own when it
    /// speaks one, else ONVIF (Vigil's extension rides on ONVIF's device service).
    pub fn managing(self) -> Protocol {
        self.vendor().unwrap_or(Protocol::Onvif)
    }

    /// The stable names, space-separated ("hikvision onvif").
    pub fn names(self) -> String {
        self.iter()
            .map(Protocol::as_str)
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The labels, as the menu shows them, the vendor's own first ("Hikvision", "ONVIF"; "ONVIF",
    /// "Vigil").
    pub fn labels(self) -> Vec<&'static str> {
        self.iter().map(Protocol::label).collect()
    }
}

impl From<Vec<Protocol>> for Protocols {
    fn from(list: Vec<Protocol>) -> Self {
        list.into_iter().fold(Protocols::NONE, Protocols::with)
    }
}

impl From<Protocols> for Vec<Protocol> {
    fn from(set: Protocols) -> Self {
        set.iter().collect()
    }
}

impl FromIterator<Protocol> for Protocols {
    fn from_iter<I: IntoIterator<Item = Protocol>>(iter: I) -> Self {
        iter.into_iter().fold(Protocols::NONE, Protocols::with)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_camera_is_managed_by_its_vendor_protocol_when_it_speaks_one() {
        let hik_with_onvif = Protocols::only(Protocol::Onvif).with(Protocol::Hikvision);
        assert_eq!(hik_with_onvif.managing(), Protocol::Hikvision);
        assert_eq!(hik_with_onvif.labels(), ["Hikvision", "ONVIF"]);
        assert_eq!(hik_with_onvif.names(), "hikvision onvif");
        let vigil = Protocols::only(Protocol::Onvif).with(Protocol::Vigil);
        assert_eq!(vigil.managing(), Protocol::Onvif);
        assert_eq!(vigil.labels(), ["ONVIF", "Vigil"]);
        assert_eq!(vigil.names(), "onvif vigil");
        assert_eq!(Protocols::only(Protocol::Onvif).managing(), Protocol::Onvif);
        assert_eq!(Protocols::NONE.managing(), Protocol::Onvif);
    }

    #[test]
    fn names_read_back() {
        for protocol in Protocol::ALL {
            assert_eq!(Protocol::parse(protocol.as_str()), Some(protocol));
        }
        assert_eq!(Protocol::parse(" Dahua "), Some(Protocol::Dahua));
        assert_eq!(Protocol::parse("sadp"), None);
        let set: Protocols = vec![Protocol::Dahua, Protocol::Onvif].into();
        let json = serde_json::to_string(&set).unwrap();
        assert_eq!(json, r#"["dahua","onvif"]"#);
        assert_eq!(serde_json::from_str::<Protocols>(&json).unwrap(), set);
    }
}
