//! The Dahua persona's DHIP responder on UDP 37810: a framed `DHDiscover.search` (to the camera's
//! address, or to the group 239.255.255.251 inside a namespace made for it) is answered by unicast to
//! whoever asked, with one `client.notifyDevInfo` per online Dahua camera at that address.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use serde_json::json;
use tokio::net::UdpSocket;
use tokio_util::sync::CancellationToken;

use crate::camera::dahua::dhip::{DHIP_GROUP, frame, unframe};
use crate::sim::camera::SimCamera;
use crate::sim::persona::Persona;

/// Answers DHIP for the Dahua cameras that share one address.
pub struct DhipResponder {
    cameras: Vec<Arc<SimCamera>>,
    unicast: Arc<UdpSocket>,
    multicast: Option<Arc<UdpSocket>>,
}

fn bind_udp(addr: SocketAddr) -> std::io::Result<UdpSocket> {
    let socket = socket2::Socket::new(
        socket2::Domain::IPV4,
        socket2::Type::DGRAM,
        Some(socket2::Protocol::UDP),
    )?;
    socket.set_reuse_address(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    UdpSocket::from_std(socket.into())
}

impl DhipResponder {
    /// Binds `addr` (and the group on its interface when `multicast`), for the Dahua cameras among
    /// `cameras`; `None` when there are none.
    pub fn bind(
        cameras: &[Arc<SimCamera>],
        addr: SocketAddr,
        multicast: bool,
    ) -> std::io::Result<Option<Self>> {
        let cameras: Vec<Arc<SimCamera>> = cameras
            .iter()
            .filter(|c| c.identity().persona == Persona::Dahua)
            .cloned()
            .collect();
        if cameras.is_empty() {
            return Ok(None);
        }
        let unicast = bind_udp(addr)?;
        let multicast = match addr {
            SocketAddr::V4(v4) if multicast => {
                let socket = bind_udp(SocketAddr::from((DHIP_GROUP, v4.port())))?;
                socket.join_multicast_v4(DHIP_GROUP, *v4.ip())?;
                Some(Arc::new(socket))
            }
            _ => None,
        };
        Ok(Some(Self {
            cameras,
            unicast: Arc::new(unicast),
            multicast,
        }))
    }

    /// Answers until `shutdown`.
    pub async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        let multicast = self.multicast.clone();
        let on_multicast = async {
            if let Some(socket) = multicast {
                self.clone().receive(socket, shutdown.clone()).await;
            }
        };
        tokio::join!(
            self.clone().receive(self.unicast.clone(), shutdown.clone()),
            on_multicast
        );
    }

    async fn receive(self: Arc<Self>, socket: Arc<UdpSocket>, shutdown: CancellationToken) {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let (len, from) = tokio::select! {
                _ = shutdown.cancelled() => return,
                received = socket.recv_from(&mut buf) => match received {
                    Ok(r) => r,
                    Err(_) => continue,
                },
            };
            let Ok(request) = unframe(&buf[..len]) else {
                continue;
            };
            if request.get("method").and_then(|m| m.as_str()) != Some("DHDiscover.search") {
                continue;
            }
            // A search for one MAC (at the top level) is answered only by that camera.
            let wanted = request
                .get("mac")
                .and_then(|m| m.as_str())
                .filter(|m| !m.is_empty())
                .and_then(crate::model::normalize_mac);
            for camera in &self.cameras {
                if !camera.is_online()
                    || wanted
                        .as_deref()
                        .is_some_and(|mac| mac != camera.identity().mac)
                {
                    continue;
                }
                let reply = frame(0, 0, device_info(camera).to_string().as_bytes());
                let own = camera.http_addr().ip();
                let sent = match self.unicast.local_addr() {
                    Ok(local) if local.ip() != own && !local.ip().is_unspecified() => {
                        match bind_udp(SocketAddr::new(own, 0)) {
                            Ok(socket) => socket.send_to(&reply, from).await,
                            Err(error) => Err(error),
                        }
                    }
                    _ => self.unicast.send_to(&reply, from).await,
                };
                if let Err(error) = sent {
                    tracing::debug!(%from, %error, "DHIP reply not sent");
                }
            }
        }
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
