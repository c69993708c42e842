//! Discovery in the vendors' own protocols (Hikvision's SADP, Dahua's DHIP): one runner that sends a
//! protocol's inquiry (multicast on the camera interfaces, unicast to the configured targets), repeats
//! it once, and streams every reply its codec believes. A reply already says who the camera is,
//! whether it is activated and where its HTTP port is, so no request to the camera follows.
//!
//! As with WS-Discovery, every datagram is checked before it is believed (size, nesting, that it
//! answers our inquiry, that it names the address it came from) and a flood is capped per run.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::camera::discovery::{Rejection, bind_socket, send_everywhere};
use crate::model::{DeviceAddress, DeviceIdentity, Protocol};

/// Distinct devices believed from one sender address in one run.
const MAX_DEVICES_PER_SENDER: usize = 64;
/// Distinct devices believed in one run.
const MAX_DEVICES_PER_RUN: usize = 8192;
/// The receive buffer asked for, so a burst of replies waits in the kernel.
const RECEIVE_BUFFER: usize = 4 * 1024 * 1024;

/// A camera that answered in its vendor's discovery protocol, as it described itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VendorSighting {
    /// The protocol it answered in.
    pub protocol: Protocol,
    /// Its HTTP service (ISAPI or the JSON RPC), at the address the reply came from.
    pub address: DeviceAddress,
    /// What it says it is.
    pub identity: DeviceIdentity,
    /// Factory state: it needs activation (Hikvision) or initialization (Dahua).
    pub inactive: bool,
    /// Whether it says it can reset its password (SADP's PasswordResetAbility, DHIP's Find).
    pub password_reset: bool,
    /// Its network settings as it reported them.
    pub network: Option<VendorNetwork>,
    /// Where the datagram came from.
    pub sender: SocketAddr,
}

/// A camera's network settings as its discovery reply gives them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VendorNetwork {
    /// Its IPv4 address.
    pub address: Ipv4Addr,
    /// Its subnet mask.
    pub mask: Ipv4Addr,
    /// Its gateway, when it has one.
    pub gateway: Option<Ipv4Addr>,
    /// Whether it takes its address from DHCP.
    pub dhcp: bool,
}

/// One protocol's messages.
pub trait VendorCodec: Send + Sync + 'static {
    /// The protocol.
    fn protocol(&self) -> Protocol;
    /// The multicast group inquiries go to.
    fn group(&self) -> Ipv4Addr;
    /// The inquiry datagram.
    fn inquiry(&self) -> Vec<u8>;
    /// Reads one datagram that arrived from `sender`.
    fn read(&self, datagram: &[u8], sender: SocketAddr) -> Result<VendorSighting, Rejection>;
}

/// Where and for how long a vendor inquiry goes.
#[derive(Debug, Clone)]
pub struct VendorPlan {
    /// Local IPv4 addresses of the camera interfaces to multicast from; empty for none.
    pub multicast_interfaces: Vec<Ipv4Addr>,
    /// The protocol's UDP port (37020 for SADP, 37810 for DHIP; others in tests).
    pub port: u16,
    /// Hosts to ask by unicast, on `port`.
    pub unicast_hosts: Vec<IpAddr>,
    /// How long to listen after the last inquiry.
    pub listen_for: Duration,
    /// When to send the inquiry a second time.
    pub repeat_after: Duration,
}

/// Where a re-addressing message in a vendor's discovery protocol goes, and how long its answer is
/// waited for.
#[derive(Debug, Clone)]
pub struct ReaddressPlan {
    /// Local IPv4 addresses of the camera interfaces to multicast from.
    pub multicast_interfaces: Vec<Ipv4Addr>,
    /// The protocol's UDP port.
    pub port: u16,
    /// The camera's current address, asked by unicast when there are no camera interfaces.
    pub unicast_host: Option<IpAddr>,
    /// How long to wait for the answer.
    pub wait: Duration,
}

/// Sends `codec`'s inquiry as `plan` says and streams what it believes. Returns once the socket is
/// bound and the first inquiries are sent; the receiver ends when the window closes or `cancel` fires.
pub async fn probe(
    codec: std::sync::Arc<dyn VendorCodec>,
    plan: VendorPlan,
    cancel: CancellationToken,
) -> std::io::Result<mpsc::Receiver<VendorSighting>> {
    let socket = bind_socket(SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)), RECEIVE_BUFFER)?;
    let socket = UdpSocket::from_std(socket.into())?;
    let group = group_listener(codec.group(), plan.port, &plan.multicast_interfaces);
    let inquiry = codec.inquiry();
    send_inquiries(&socket, codec.group(), &plan, &inquiry).await;
    let (tx, rx) = mpsc::channel(1024);
    tokio::spawn(async move {
        let repeat = tokio::time::sleep(plan.repeat_after);
        tokio::pin!(repeat);
        let mut repeated = false;
        let mut deadline = tokio::time::Instant::now() + plan.listen_for;
        let mut buf = vec![0u8; 64 * 1024];
        let mut group_buf = vec![0u8; 64 * 1024];
        let mut seen: HashSet<(String, IpAddr)> = HashSet::new();
        let mut per_sender: HashMap<IpAddr, usize> = HashMap::new();
        loop {
            let (from_group, len, sender) = tokio::select! {
                biased;
                _ = cancel.cancelled() => return,
                _ = tokio::time::sleep_until(deadline) => return,
                _ = &mut repeat, if !repeated => {
                    repeated = true;
                    send_inquiries(&socket, codec.group(), &plan, &inquiry).await;
                    deadline = tokio::time::Instant::now() + plan.listen_for;
                    continue;
                }
                received = socket.recv_from(&mut buf) => match received {
                    Ok((len, sender)) => (false, len, sender),
                    Err(_) => continue,
                },
                received = recv_group(group.as_ref(), &mut group_buf) => match received {
                    Ok((len, sender)) => (true, len, sender),
                    Err(_) => continue,
                },
            };
            let datagram = if from_group {
                &group_buf[..len]
            } else {
                &buf[..len]
            };
            let sighting = match codec.read(datagram, sender) {
                Ok(sighting) => sighting,
                Err(rejection) => {
                    tracing::debug!(%sender, protocol = %codec.protocol(), %rejection, "discovery reply dropped");
                    continue;
                }
            };
            let id = (sighting.identity.serial.clone(), sender.ip());
            if seen.contains(&id) {
                continue;
            }
            let count = per_sender.entry(sender.ip()).or_insert(0);
            if seen.len() >= MAX_DEVICES_PER_RUN || *count >= MAX_DEVICES_PER_SENDER {
                tracing::debug!(%sender, protocol = %codec.protocol(), "too many devices; reply dropped");
                continue;
            }
            *count += 1;
            seen.insert(id);
            if tx.send(sighting).await.is_err() {
                return;
            }
        }
    });
    Ok(rx)
}

/// The protocol's group on its port, joined on the camera interfaces: a camera in another subnet
/// cannot answer by unicast (it has no route back) and answers to the group instead. `None` without
/// camera interfaces, or when the port cannot be shared.
pub fn group_listener(group: Ipv4Addr, port: u16, interfaces: &[Ipv4Addr]) -> Option<UdpSocket> {
    if interfaces.is_empty() {
        return None;
    }
    let socket = bind_socket(SocketAddr::from((group, port)), RECEIVE_BUFFER)
        .inspect_err(|error| tracing::debug!(%group, port, %error, "cannot listen to the group"))
        .ok()?;
    let joined = interfaces
        .iter()
        .filter(|interface| socket.join_multicast_v4(&group, interface).is_ok())
        .count();
    if joined == 0 {
        return None;
    }
    UdpSocket::from_std(socket.into()).ok()
}

/// Receives on the group listener; never ready without one.
pub async fn recv_group(
    group: Option<&UdpSocket>,
    buf: &mut [u8],
) -> std::io::Result<(usize, SocketAddr)> {
    match group {
        Some(socket) => socket.recv_from(buf).await,
        None => std::future::pending().await,
    }
}

async fn send_inquiries(socket: &UdpSocket, group: Ipv4Addr, plan: &VendorPlan, inquiry: &[u8]) {
    let targets: Vec<SocketAddr> = plan
        .unicast_hosts
        .iter()
        .map(|host| SocketAddr::new(*host, plan.port))
        .collect();
    send_everywhere(
        socket,
        SocketAddr::from((group, plan.port)),
        &plan.multicast_interfaces,
        &targets,
        &[inquiry],
    )
    .await;
}
