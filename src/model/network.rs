//! A camera's own network settings (its IPv4 address, mask, gateway and DHCP) as the recorder reads and
//! changes them, and the camera maintenance the installer may order: reboot and factory defaults.

use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

/// A camera's IPv4 settings, as it reports them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CameraNetwork {
    /// The camera's name for the interface, given back when changing it.
    pub interface_token: String,
    /// Its address.
    pub address: Ipv4Addr,
    /// Its mask, as a prefix length (24 for 255.255.255.0).
    pub prefix_len: u8,
    /// Its default gateway, when it has one.
    pub gateway: Option<Ipv4Addr>,
    /// Whether it takes its address from DHCP.
    pub dhcp: bool,
}

/// New IPv4 settings for a camera. With `dhcp` on, the address and mask are what the camera keeps
/// until a DHCP server answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkChange {
    /// The new address.
    pub address: Ipv4Addr,
    /// The new mask, as a prefix length.
    pub prefix_len: u8,
    /// The new default gateway; `None` for none.
    pub gateway: Option<Ipv4Addr>,
    /// Whether the camera should take its address from DHCP.
    pub dhcp: bool,
}

/// What the camera did with new network settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkChanged {
    /// The settings now in force.
    pub network: CameraNetwork,
    /// Whether the camera had to reboot to apply them (the recorder asked it to).
    pub rebooted: bool,
}

/// How far a factory reset goes (ONVIF SetSystemFactoryDefault).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum FactoryDefault {
    /// Settings back to factory values; the network settings are kept.
    Soft,
    /// Everything back to factory values, network settings, users and passwords included.
    Hard,
}

impl FactoryDefault {
    /// The ONVIF word, also the D-Bus and vigilctl argument.
    pub fn as_str(self) -> &'static str {
        match self {
            FactoryDefault::Soft => "Soft",
            FactoryDefault::Hard => "Hard",
        }
    }

    /// Reads `soft` or `hard`, in any case.
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "soft" => Some(FactoryDefault::Soft),
            "hard" => Some(FactoryDefault::Hard),
            _ => None,
        }
    }
}
