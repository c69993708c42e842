//! Discovery in the vendors' own protocols as the service runs it: each protocol the configuration
//! asks for (`[discovery] sadp`) gets its inquiry sent where WS-Discovery probes go, and every camera
//! that answers is listed once its HTTP service answers, from its own description. A camera also seen
//! by WS-Discovery is the same entry, speaking both (`upsert_discovered` merges them). A camera whose
//! address is outside every subnet the recorder is on is listed as in another subnet when its protocol
//! can re-address it (Edit IP), since nothing else reaches it.

use std::net::IpAddr;

use tokio::sync::mpsc;

use crate::camera::discovery::recorder_subnet_reaching;
use crate::camera::driver::discovery_codec;
use crate::camera::vendor_discovery::{self, VendorPlan, VendorSighting};
use crate::model::{CameraNetwork, DiscoveredDevice, Protocols};

use super::Nvr;

/// When an inquiry is sent a second time (UDP may drop the first), as WS-Discovery probes are.
const INQUIRY_REPEAT_AFTER: std::time::Duration = std::time::Duration::from_millis(100);

impl Nvr {
    /// Starts an inquiry in every vendor protocol the configuration asks for, to the multicast
    /// interfaces and the unicast targets' hosts. A protocol whose socket cannot be opened is logged
    /// and left out; WS-Discovery goes on.
    pub(super) async fn probe_vendor_protocols(
        &self,
        multicast_interfaces: &[std::net::Ipv4Addr],
        unicast_targets: &[std::net::SocketAddr],
    ) -> Vec<mpsc::Receiver<VendorSighting>> {
        let settings = self.settings();
        let mut hosts: Vec<IpAddr> = unicast_targets.iter().map(|t| t.ip()).collect();
        hosts.sort_unstable();
        hosts.dedup();
        let mut receivers = Vec::new();
        for (protocol, port) in &settings.discovery.vendor_ports {
            let Some(codec) = discovery_codec(*protocol) else {
                continue;
            };
            let plan = VendorPlan {
                multicast_interfaces: multicast_interfaces.to_vec(),
                port: *port,
                unicast_hosts: hosts.clone(),
                listen_for: settings.discovery.probe_window,
                repeat_after: INQUIRY_REPEAT_AFTER,
            };
            match vendor_discovery::probe(codec, plan, self.inner.shutdown.child_token()).await {
                Ok(receiver) => receivers.push(receiver),
                Err(error) => {
                    tracing::warn!(%protocol, %error, "vendor discovery could not start");
                }
            }
        }
        receivers
    }

    /// Lists a camera from its own discovery answer, once its HTTP service answers (asked without a
    /// login): a datagram alone never lists a device. Its key in the list, or `None` when nothing
    /// answers there. At most [`super::discovery::IDENTIFY_PER_SENDER`] checks run per sender.
    pub(super) async fn list_vendor_sighting(&self, sighting: VendorSighting) -> Option<String> {
        let sender = sighting.sender.ip();
        let slot = self.sender_slot(sender);
        let answered = match slot.clone().acquire_owned().await {
            Ok(_permit) => {
                let driver = self.inner.connector.driver(sighting.protocol);
                tokio::select! {
                    _ = self.inner.shutdown.cancelled() => false,
                    reached = driver.reach(&sighting.address) => reached.is_ok(),
                }
            }
            Err(_) => false,
        };
        self.release_sender_slot(sender, slot);
        // A camera in another subnet cannot answer over HTTP; its protocol may still re-address it.
        let other_subnet = if answered {
            None
        } else {
            match self.other_subnet_network(&sighting) {
                Some(network) => Some(network),
                None => {
                    tracing::debug!(address = %sighting.address, protocol = %sighting.protocol, "vendor sighting not listed: its HTTP service does not answer");
                    return None;
                }
            }
        };
        let device = DiscoveredDevice {
            key: format!(
                "{}:{}",
                sighting.protocol.as_str(),
                sighting.identity.serial
            ),
            address: sighting.address,
            identity: sighting.identity,
            information_complete: true,
            inactive: sighting.inactive,
            added_as: None,
            last_seen: self.inner.clock.now(),
            conflict_with: None,
            protocols: Protocols::only(sighting.protocol),
            other_subnet,
        };
        self.follow_if_moved(&device).await;
        let key = self.upsert_discovered(device);
        if let Ok(listed) = self.discovered_device(&key) {
            self.plug_and_play(&listed);
        }
        Some(key)
    }
}

impl Nvr {
    /// The network a sighting reports, when its address is outside every subnet the recorder is on
    /// and its protocol can re-address it from here.
    fn other_subnet_network(&self, sighting: &VendorSighting) -> Option<CameraNetwork> {
        let network = sighting.network?;
        if !self
            .inner
            .connector
            .driver(sighting.protocol)
            .readdresses_by_discovery()
            || recorder_subnet_reaching(network.address).is_some()
        {
            return None;
        }
        Some(CameraNetwork {
            interface_token: String::new(),
            address: network.address,
            prefix_len: u8::try_from(u32::from(network.mask).leading_ones()).unwrap_or(32),
            gateway: network.gateway,
            dhcp: network.dhcp,
        })
    }
}

/// Merges several receivers into one stream that ends when all have ended.
pub(super) fn merged(
    mut receivers: Vec<mpsc::Receiver<VendorSighting>>,
) -> mpsc::Receiver<VendorSighting> {
    let (tx, rx) = mpsc::channel(1024);
    tokio::spawn(async move {
        let mut tasks = tokio::task::JoinSet::new();
        for mut receiver in receivers.drain(..) {
            let tx = tx.clone();
            tasks.spawn(async move {
                while let Some(sighting) = receiver.recv().await {
                    if tx.send(sighting).await.is_err() {
                        return;
                    }
                }
            });
        }
        drop(tx);
        while tasks.join_next().await.is_some() {}
    });
    rx
}
