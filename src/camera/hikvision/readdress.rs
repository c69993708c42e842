//! Re-addressing a Hikvision camera over SADP (`update`), as Hikvision's SADP tool does: the message goes
//! to the group on the camera interfaces (by unicast to the camera's address only when there are
//! none), names the camera by MAC and carries its administrator's password as the protocol has it; only
//! that camera acts. It reaches a camera whose address is in another subnet, which HTTP cannot.
//!
//! The answer comes back by unicast, or to the group when the camera has no route to the recorder;
//! both are heard. The message carries a password, so it goes once: one copy per path is one try on
//! the camera, and a lost answer is reported, not retried.

use std::net::{Ipv4Addr, SocketAddr};

use tokio::net::UdpSocket;

use super::sadp::{SADP_GROUP, SadpUpdate, UpdateOutcome, read_update_reply, update};
use crate::camera::CameraError;
use crate::camera::discovery::{bind_socket, send_everywhere};
use crate::camera::vendor_discovery::{ReaddressPlan, group_listener, recv_group};

/// Sends `change` and reads the camera's answer.
pub async fn readdress(plan: &ReaddressPlan, change: &SadpUpdate<'_>) -> Result<(), CameraError> {
    let unavailable = |error: std::io::Error| CameraError::Unavailable(error.to_string());
    let socket = bind_socket(SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)), 256 * 1024)
        .map_err(unavailable)?;
    let socket = UdpSocket::from_std(socket.into()).map_err(unavailable)?;
    let group = group_listener(SADP_GROUP, plan.port, &plan.multicast_interfaces);
    let uuid = uuid::Uuid::new_v4().to_string().to_uppercase();
    let message = update(&uuid, change);
    let targets: Vec<SocketAddr> = plan
        .unicast_host
        .filter(|_| plan.multicast_interfaces.is_empty())
        .map(|host| SocketAddr::new(host, plan.port))
        .into_iter()
        .collect();
    send_everywhere(
        &socket,
        SocketAddr::from((SADP_GROUP, plan.port)),
        &plan.multicast_interfaces,
        &targets,
        &[message.as_bytes()],
    )
    .await;
    let deadline = tokio::time::Instant::now() + plan.wait;
    let mut buf = vec![0u8; 16 * 1024];
    let mut group_buf = vec![0u8; 16 * 1024];
    loop {
        let (from_group, len) = tokio::select! {
            _ = tokio::time::sleep_until(deadline) => {
                return Err(CameraError::Offline(
                    "the camera did not answer the SADP update; check that it is on a camera port or the camera network"
                        .to_owned(),
                ));
            }
            received = socket.recv_from(&mut buf) => match received {
                Ok((len, _)) => (false, len),
                Err(_) => continue,
            },
            received = recv_group(group.as_ref(), &mut group_buf) => match received {
                Ok((len, _)) => (true, len),
                Err(_) => continue,
            },
        };
        let datagram = if from_group {
            &group_buf[..len]
        } else {
            &buf[..len]
        };
        match read_update_reply(datagram, &uuid, change.mac) {
            None => continue,
            Some(UpdateOutcome::Done) => return Ok(()),
            Some(UpdateOutcome::PasswordRefused {
                attempts_left: Some(0),
            }) => return Err(CameraError::Locked { retry_after: None }),
            Some(UpdateOutcome::PasswordRefused { .. }) => {
                return Err(CameraError::CredentialsRejected);
            }
            Some(UpdateOutcome::Refused(words)) => {
                return Err(CameraError::Refused {
                    subcode: None,
                    reason: if words.is_empty() {
                        "the camera refused the new network settings".to_owned()
                    } else {
                        words
                    },
                });
            }
        }
    }
}
