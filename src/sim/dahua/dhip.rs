//! The Dahua persona's DHIP responder on UDP 37810: a framed `DHDiscover.search` (to the camera's
//! address, or to the group 239.255.255.251 inside a namespace made for it) is answered by unicast to
//! whoever asked, with one `client.notifyDevInfo` per online Dahua camera at that address.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::camera::dahua::dhip::{DHIP_GROUP, frame, unframe};
use crate::sim::camera::SimCamera;
use crate::sim::persona::Persona;
use crate::sim::udp::{Replies, UdpFace};

/// Answers DHIP for the Dahua cameras that share one address.
pub struct DhipResponder {
    cameras: Vec<Arc<SimCamera>>,
    face: UdpFace,
}

impl DhipResponder {
    /// Binds `addr` (and the group on its interface when `multicast`), for the Dahua cameras among
    /// `cameras`; `None` when there are none.
    pub fn bind(
        cameras: &[Arc<SimCamera>],
        addr: SocketAddr,
        multicast: bool,
    ) -> std::io::Result<Option<Self>> {
        Ok(
            UdpFace::bind_for(cameras, Persona::Dahua, addr, DHIP_GROUP, multicast)?
                .map(|(cameras, face)| Self { cameras, face }),
        )
    }

    /// Answers until `shutdown`.
    pub async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        self.face
            .serve(shutdown, |datagram, _from| self.answer(datagram))
            .await;
    }

    fn answer(&self, datagram: &[u8]) -> Replies {
        let Ok(request) = unframe(datagram) else {
            return Vec::new();
        };
        if request.get("method").and_then(|m| m.as_str()) != Some("DHDiscover.search") {
            return Vec::new();
        }
        // A search for one MAC (at the top level) is answered only by that camera.
        let wanted = request
            .get("mac")
            .and_then(|m| m.as_str())
            .filter(|m| !m.is_empty())
            .and_then(crate::model::normalize_mac);
        self.cameras
            .iter()
            .filter(|camera| camera.is_online())
            .filter(|camera| {
                wanted
                    .as_deref()
                    .is_none_or(|mac| mac == camera.identity().mac)
            })
            .map(|camera| {
                let reply = frame(0, 0, device_info(camera).to_string().as_bytes());
                (camera.clone(), reply)
            })
            .collect()
    }
}

/// A camera's `client.notifyDevInfo`, keys in the device's (alphabetical) order.
fn device_info(camera: &SimCamera) -> serde_json::Value {
    let id = camera.identity();
    let network = camera.network();
    let prefix = u32::from(network.prefix_len.min(32));
    let mask = Ipv4Addr::from(u32::MAX.checked_shl(32 - prefix).unwrap_or(0));
    json!({
        "mac": id.mac,
        "method": "client.notifyDevInfo",
        "params": { "deviceInfo": {
            "AbroadInfo": "Oversea",
            "DeviceClass": "IPC",
            "DeviceType": id.model,
            "Find": "BC",
            "HttpPort": camera.http_addr().port(),
            "IPv4Address": {
                "DefaultGateway": network.gateway.unwrap_or(Ipv4Addr::UNSPECIFIED).to_string(),
                "DhcpEnable": network.dhcp,
                "IPAddress": camera.http_addr().ip().to_string(),
                "SubnetMask": mask.to_string(),
            },
            "Init": super::init_status(camera),
            "MachineName": id.serial,
            "Port": 37777,
            "SerialNo": id.serial,
            "Version": id.firmware,
            "VideoInputChannels": 1,
        }},
    })
}
