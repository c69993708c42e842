//! What the simulator's vendor discovery faces (SADP, DHIP) share: a unicast socket at the cameras'
//! address, and the group's socket on the same port when multicast is on; reading requests until
//! shutdown; and sending each reply from its camera's own address, which may have moved since the
//! socket was bound (or to the group, when it has no route back to the asker).

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use tokio::net::UdpSocket;
use tokio_util::sync::CancellationToken;

use crate::sim::camera::SimCamera;

/// Binds a UDP socket that other faces may share (`SO_REUSEADDR`), non-blocking.
pub fn bind_udp(addr: SocketAddr) -> std::io::Result<UdpSocket> {
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

/// A protocol's UDP face for the cameras at one address.
pub struct UdpFace {
    unicast: Arc<UdpSocket>,
    multicast: Option<Arc<UdpSocket>>,
    group: SocketAddr,
}

/// The replies to one request: each from its camera.
pub type Replies = Vec<(Arc<SimCamera>, Vec<u8>)>;

impl UdpFace {
    /// Binds `addr`, and `group` on the same port and interface when `multicast`.
    pub fn bind(addr: SocketAddr, group: Ipv4Addr, multicast: bool) -> std::io::Result<Self> {
        let unicast = bind_udp(addr)?;
        let multicast = match addr {
            SocketAddr::V4(v4) if multicast => {
                let socket = bind_udp(SocketAddr::from((group, v4.port())))?;
                socket.join_multicast_v4(group, *v4.ip())?;
                Some(Arc::new(socket))
            }
            _ => None,
        };
        Ok(Self {
            unicast: Arc::new(unicast),
            multicast,
            group: SocketAddr::from((group, addr.port())),
        })
    }

    /// The cameras among `cameras` that play `persona`, with a face bound for them at `addr` (and
    /// `group` when `multicast`); `None` when none of them does.
    pub fn bind_for(
        cameras: &[Arc<SimCamera>],
        persona: crate::sim::persona::Persona,
        addr: SocketAddr,
        group: Ipv4Addr,
        multicast: bool,
    ) -> std::io::Result<Option<(Vec<Arc<SimCamera>>, Self)>> {
        let cameras: Vec<Arc<SimCamera>> = cameras
            .iter()
            .filter(|c| c.identity().persona == persona)
            .cloned()
            .collect();
        if cameras.is_empty() {
            return Ok(None);
        }
        Ok(Some((cameras, Self::bind(addr, group, multicast)?)))
    }

    /// Answers every datagram with what `answer` makes of it, until `shutdown`.
    pub async fn serve(
        &self,
        shutdown: CancellationToken,
        answer: impl Fn(&[u8], SocketAddr) -> Replies + Sync,
    ) {
        let answer = &answer;
        let on = |socket: Arc<UdpSocket>| {
            let shutdown = shutdown.clone();
            async move {
                let mut buf = vec![0u8; 16 * 1024];
                loop {
                    let (len, from) = tokio::select! {
                        _ = shutdown.cancelled() => return,
                        received = socket.recv_from(&mut buf) => match received {
                            Ok(r) => r,
                            Err(_) => continue,
                        },
                    };
                    for (camera, reply) in answer(&buf[..len], from) {
                        self.send_from(&camera, &reply, from).await;
                    }
                }
            }
        };
        let on_multicast = async {
            if let Some(socket) = self.multicast.clone() {
                on(socket).await;
            }
        };
        tokio::join!(on(self.unicast.clone()), on_multicast);
    }

    /// Sends `reply` to `to` from the camera's own address.
    async fn send_from(&self, camera: &SimCamera, reply: &[u8], to: SocketAddr) {
        let own = camera.http_addr().ip();
        let sent = match self.unicast.local_addr() {
            Ok(local) if local.ip() != own && !local.ip().is_unspecified() => {
                match bind_udp(SocketAddr::new(own, 0)) {
                    Ok(socket) => socket.send_to(reply, to).await,
                    Err(error) => Err(error),
                }
            }
            _ => self.unicast.send_to(reply, to).await,
        };
        match sent {
            Ok(_) => {}
            // No route back (the camera is in another subnet than the asker): a real camera answers
            // to the group on its link instead, where the asker listens.
            Err(error) if self.multicast.is_some() => {
                if let Err(error) = self.send_to_group(own, reply).await {
                    tracing::debug!(%to, %error, "simulated camera's UDP reply not sent");
                } else {
                    tracing::debug!(%to, %error, "simulated camera answered to the group");
                }
            }
            Err(error) => tracing::debug!(%to, %error, "simulated camera's UDP reply not sent"),
        }
    }

    /// Sends to the group from the camera's own address, or from the face's when the camera's has
    /// just changed and is not up yet (an update's answer goes out as the new settings apply).
    async fn send_to_group(&self, own: std::net::IpAddr, reply: &[u8]) -> std::io::Result<()> {
        let fresh = bind_udp(SocketAddr::new(own, 0)).ok().map(Arc::new);
        let socket = fresh.unwrap_or_else(|| self.unicast.clone());
        if let std::net::IpAddr::V4(from) = socket.local_addr()?.ip() {
            socket2::SockRef::from(socket.as_ref()).set_multicast_if_v4(&from)?;
        }
        socket.send_to(reply, self.group).await.map(drop)
    }
}
