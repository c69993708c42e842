//! Cameras that moved: when DHCP gives an added camera a new address, discovery sees it there. An
//! added camera that is offline at its stored address and is seen elsewhere as itself (the same
//! serial number with the same MAC address, or its own endpoint reference with nothing that says
//! otherwise) follows: its stored address changes, the change is audited, and its monitor certifies
//! it there with the stored password, one login. A camera still answering at its stored address is
//! never moved: two devices claiming one identity stay two, and the conflict is shown instead.

use super::{Nvr, lock};
use crate::model::{
    Actor, AddedCamera, AuditAction, CameraState, DiscoveredDevice, IdentityMatch, camera_label,
    compare_identities,
};

/// Whether a device seen at another address is this added camera, by its own claims.
fn claims_to_be(device: &DiscoveredDevice, camera: &AddedCamera) -> bool {
    let identity = compare_identities(&device.identity, &camera.identity);
    let same_mac = device.identity.mac.is_some() && device.identity.mac == camera.identity.mac;
    let same_endpoint = camera.endpoint_ref.as_deref() == Some(device.key.as_str());
    match identity {
        IdentityMatch::Same => same_mac || same_endpoint,
        IdentityMatch::Unknown => same_endpoint,
        IdentityMatch::Different | IdentityMatch::Conflict => false,
    }
}

impl Nvr {
    /// Follows an added camera to `device`'s address when `device` is that camera, moved.
    pub(super) async fn follow_if_moved(&self, device: &DiscoveredDevice) {
        let moved = {
            let added = lock(&self.inner.added);
            let at_new_address = added.values().any(|e| {
                e.camera.address.host == device.address.host
                    && e.camera.address.port == device.address.port
            });
            if at_new_address {
                return;
            }
            let mut claimed = added
                .values()
                .map(|e| &e.camera)
                .filter(|camera| claims_to_be(device, camera));
            match (claimed.next(), claimed.next()) {
                (Some(camera), None) => camera.clone(),
                // Two added cameras claim it: not for the recorder to pick one.
                _ => return,
            }
        };
        // The status may be older than the move (a camera back from a reboot says Hello before the
        // monitor's next check): ask the stored address now, without a login.
        if moved.status.state != CameraState::Offline
            && self
                .inner
                .connector
                .clock_offset(&moved.address)
                .await
                .is_ok()
        {
            tracing::info!(camera = %moved.id, stored = %moved.address, seen = %device.address, "a device claims to be an added camera that still answers where it is; not moved");
            return;
        }
        let from = moved.address.clone();
        match self
            .move_added_camera(moved.id, device.address.clone())
            .await
        {
            Ok(camera) => {
                tracing::info!(camera = %camera.id, from = %from, to = %camera.address, "added camera found at a new address");
                self.audit(
                    &Actor::System,
                    AuditAction::NetworkChanged,
                    &camera_label(&camera.identity, &camera.address),
                    &format!("found at its new address {} (was {from})", camera.address),
                )
                .await;
            }
            Err(error) => {
                tracing::warn!(camera = %moved.id, %error, "added camera seen at a new address not moved");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{CameraId, CameraStatus, DeviceAddress, DeviceIdentity};
    use std::time::SystemTime;

    fn identity(serial: &str, mac: Option<&str>) -> DeviceIdentity {
        DeviceIdentity {
            manufacturer: "Vigil".into(),
            model: "VC-210B".into(),
            firmware: String::new(),
            serial: serial.into(),
            mac: mac.map(str::to_owned),
        }
    }

    fn camera(identity: DeviceIdentity, endpoint: Option<&str>) -> AddedCamera {
        AddedCamera {
            id: CameraId(1),
            address: DeviceAddress::new("10.0.0.5", 80).unwrap(),
            endpoint_ref: endpoint.map(str::to_owned),
            identity,
            username: "admin".into(),
            status: CameraStatus::certified_since(SystemTime::UNIX_EPOCH),
            clock_offset_secs: 0,
            added_at: SystemTime::UNIX_EPOCH,
            channel: Some(1),
            name: String::new(),
            protocol: crate::model::Protocol::Onvif,
        }
    }

    fn device(key: &str, identity: DeviceIdentity) -> DiscoveredDevice {
        DiscoveredDevice {
            key: key.into(),
            address: DeviceAddress::new("10.0.0.9", 80).unwrap(),
            identity,
            information_complete: true,
            inactive: false,
            added_as: None,
            last_seen: SystemTime::UNIX_EPOCH,
            conflict_with: None,
            protocols: crate::model::Protocols::only(crate::model::Protocol::Onvif),
            other_subnet: None,
        }
    }

    #[test]
    fn only_its_own_serial_and_mac_or_its_own_endpoint_make_a_device_the_camera() {
        let mac = Some("00:11:22:33:44:55");
        let added = camera(identity("S1", mac), Some("urn:a"));
        assert!(claims_to_be(&device("urn:b", identity("S1", mac)), &added));
        assert!(claims_to_be(&device("urn:a", identity("S1", None)), &added));
        assert!(claims_to_be(&device("urn:a", identity("", None)), &added));
        // The serial alone, from another endpoint, is a claim anyone can make.
        assert!(!claims_to_be(
            &device("urn:b", identity("S1", None)),
            &added
        ));
        // Its serial with another MAC is a second device: a conflict, never a move.
        assert!(!claims_to_be(
            &device("urn:a", identity("S1", Some("66:77:88:99:aa:bb"))),
            &added
        ));
        assert!(!claims_to_be(&device("urn:a", identity("S2", mac)), &added));
    }
}
