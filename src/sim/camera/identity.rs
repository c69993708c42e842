//! Who a simulated camera says it is: serial, MAC, model, endpoint reference and addresses, and the
//! WS-Discovery scopes that advertise it.

use std::net::SocketAddr;

use super::SimCamera;

/// What the camera is, fixed for its life.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CameraIdentity {
    /// Position in the simulator, from 0.
    pub index: usize,
    /// WS-Discovery endpoint reference, `urn:uuid:...`.
    pub endpoint_ref: String,
    /// Manufacturer reported by GetDeviceInformation.
    pub manufacturer: String,
    /// Model reported by GetDeviceInformation.
    pub model: String,
    /// Firmware version reported by GetDeviceInformation.
    pub firmware: String,
    /// Serial number reported by GetDeviceInformation.
    pub serial: String,
    /// Hardware id reported by GetDeviceInformation.
    pub hardware_id: String,
    /// MAC address of its one network interface, `aa:bb:cc:dd:ee:ff`.
    pub mac: String,
    /// Where its HTTP device service listens at first, and again after a hard factory reset (its
    /// factory address); [`SimCamera::http_addr`] says where it listens now.
    pub http_addr: SocketAddr,
    /// Where it answers unicast WS-Discovery probes.
    pub wsd_addr: SocketAddr,
    /// Which vendor's camera it plays.
    pub persona: crate::sim::persona::Persona,
}

impl SimCamera {
    /// The scopes the camera advertises, including the Profile Q state scope.
    pub fn scopes(&self) -> Vec<String> {
        let state_scope = if self.is_inactive() {
            "onvif://www.onvif.org/Profile/Q/FactoryDefault"
        } else {
            "onvif://www.onvif.org/Profile/Q/Operational"
        };
        let mut scopes = vec![
            "onvif://www.onvif.org/type/video_encoder".to_owned(),
            "onvif://www.onvif.org/Profile/Streaming".to_owned(),
            state_scope.to_owned(),
            format!(
                "onvif://www.onvif.org/hardware/{}",
                scope_escape(&self.identity.model)
            ),
            format!(
                "onvif://www.onvif.org/name/{}",
                scope_escape(&format!(
                    "{} {}",
                    self.identity.manufacturer, self.identity.model
                ))
            ),
            "onvif://www.onvif.org/location/simulator".to_owned(),
        ];
        // The recovery extension says so in discovery (docs/recovery-protocol.md, "Discovery").
        if self.identity.persona == crate::sim::persona::Persona::Vigil {
            scopes.push(crate::camera::recovery_client::RECOVERY_NS.to_owned());
        }
        scopes
    }
}

pub(super) fn scope_escape(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            ' ' => "%20".to_owned(),
            c if c.is_ascii_alphanumeric() || "-_.~".contains(c) => c.to_string(),
            c => {
                let mut buf = [0u8; 4];
                c.encode_utf8(&mut buf)
                    .bytes()
                    .map(|b| format!("%{b:02X}"))
                    .collect()
            }
        })
        .collect()
}
