//! Edit IP for a discovered camera in another subnet (its address outside every subnet the recorder is
//! on, so nothing reaches it over HTTP): its settings are the ones it gave in its vendor's discovery
//! answer, and new ones go through that protocol (Hikvision's SADP `update`) with the administrator's
//! password, once. The new address must be in the subnet of a camera interface, so the camera is
//! reachable afterwards. Audited as any Edit IP.

use std::net::Ipv4Addr;
use std::time::Duration;

use super::maintenance::{MaintainedCamera, describe_change, network_problem};
use super::{Nvr, NvrError, camera_error, check_credentials, lock};
use crate::camera::discovery::recorder_subnet_reaching;
use crate::camera::vendor_discovery::ReaddressPlan;
use crate::model::{
    AuditAction, Caller, CameraNetwork, DeviceAddress, DiscoveredDevice, NetworkChange,
    NetworkChanged, NvrEvent, camera_label,
};
use crate::rules::network::{NetworkProblem, check_network_change, subnet_of};

/// How long the camera's answer to a re-addressing message is waited for.
const READDRESS_WAIT: Duration = Duration::from_secs(3);

impl Nvr {
    /// The discovered camera `camera` names, when it is not added and is in another subnet, with the
    /// network it reported.
    pub(super) fn in_other_subnet(
        &self,
        camera: &MaintainedCamera,
    ) -> Option<(DiscoveredDevice, CameraNetwork)> {
        let MaintainedCamera::Discovered { key, .. } = camera else {
            return None;
        };
        let device = self.discovered_device(key).ok()?;
        let network = device.other_subnet.clone()?;
        device.added_as.is_none().then_some((device, network))
    }

    /// Edit IP through the camera's discovery protocol. `current` is what it reported.
    pub(super) async fn readdress_other_subnet(
        &self,
        device: DiscoveredDevice,
        current: CameraNetwork,
        camera: &MaintainedCamera,
        change: &NetworkChange,
        caller: &Caller,
    ) -> Result<NetworkChanged, NvrError> {
        let actor = self.acting_as(caller)?;
        let _command = self.begin_command()?;
        let MaintainedCamera::Discovered {
            username, password, ..
        } = camera
        else {
            return Err(NvrError::DeviceNotFound(device.key));
        };
        let credentials = check_credentials(username, password)?;
        let settings = self.settings();
        let interfaces = if settings.discovery.multicast {
            self.multicast_interfaces()
        } else {
            Vec::new()
        };
        let reached_on = if change.dhcp {
            None
        } else {
            Some(
                camera_subnet_holding(change.address, &interfaces).ok_or_else(|| {
                    network_problem(NetworkProblem::AddressOutsideSubnet {
                        subnet: camera_subnets(&interfaces),
                    })
                })?,
            )
        };
        check_network_change(change, reached_on).map_err(network_problem)?;
        let Some(protocol) = device.protocols.vendor() else {
            return Err(NvrError::DeviceNotFound(device.key));
        };
        let Some(port) = settings
            .discovery
            .vendor_ports
            .iter()
            .find(|(p, _)| *p == protocol)
            .map(|(_, port)| *port)
        else {
            return Err(NvrError::CameraProtocol(format!(
                "{} discovery is off in the configuration, so the camera cannot be re-addressed from here",
                protocol.label()
            )));
        };
        let Some(mac) = device.identity.mac.clone() else {
            return Err(NvrError::CameraProtocol(
                "the camera gave no MAC address to be re-addressed by".to_owned(),
            ));
        };
        let plan = ReaddressPlan {
            multicast_interfaces: interfaces,
            port,
            unicast_host: device.address.ip(),
            wait: READDRESS_WAIT,
        };
        let label = camera_label(&device.identity, &device.address);
        let sent = self
            .inner
            .connector
            .driver(protocol)
            .readdress_by_discovery(&plan, &mac, &credentials, change, device.address.port)
            .await;
        if let Err(error) = sent {
            self.audit(
                &actor,
                AuditAction::NetworkChanged,
                &label,
                &format!("failed over {}: {error}", protocol.label()),
            )
            .await;
            return Err(camera_error(error, &device.address));
        }
        self.audit(
            &actor,
            AuditAction::NetworkChanged,
            &label,
            &format!(
                "{} (over {}, from another subnet)",
                describe_change(&current, change),
                protocol.label()
            ),
        )
        .await;
        let network = CameraNetwork {
            interface_token: current.interface_token.clone(),
            address: if change.dhcp {
                current.address
            } else {
                change.address
            },
            prefix_len: change.prefix_len,
            gateway: change.gateway,
            dhcp: change.dhcp,
        };
        self.follow_readdressed(&device, change).await;
        Ok(NetworkChanged {
            network,
            rebooted: false,
        })
    }

    /// The list follows the camera to its new address; discovery then asks it there.
    async fn follow_readdressed(&self, device: &DiscoveredDevice, change: &NetworkChange) {
        let moved = {
            let mut discovered = lock(&self.inner.discovered);
            discovered.get_mut(&device.key).map(|listed| {
                if !change.dhcp {
                    listed.address = DeviceAddress {
                        host: change.address.to_string(),
                        ..listed.address.clone()
                    };
                }
                listed.other_subnet = None;
                listed.clone()
            })
        };
        if let Some(device) = moved {
            let target = device.address.host.clone();
            self.emit(NvrEvent::DeviceDiscovered { device });
            let nvr = self.clone();
            tokio::spawn(async move {
                // The camera takes a moment to come up at its new address.
                tokio::time::sleep(Duration::from_secs(2)).await;
                if let Err(error) = nvr.refresh_discovery(&[target]).await {
                    tracing::debug!(%error, "discovery after re-addressing not started");
                }
            });
        }
    }
}

/// The subnet of the camera interface (or, without any, of any interface) that holds `address`.
fn camera_subnet_holding(address: Ipv4Addr, interfaces: &[Ipv4Addr]) -> Option<(Ipv4Addr, u8)> {
    let (recorder, prefix_len) = recorder_subnet_reaching(address)?;
    (interfaces.is_empty() || interfaces.contains(&recorder)).then_some((recorder, prefix_len))
}

/// The camera interfaces' subnets, for the installer: "10.77.0.0/24".
fn camera_subnets(interfaces: &[Ipv4Addr]) -> String {
    let subnets: Vec<String> = interfaces
        .iter()
        .filter_map(|ip| recorder_subnet_reaching(*ip))
        .map(|(ip, prefix)| format!("{}/{prefix}", subnet_of(ip, prefix)))
        .collect();
    if subnets.is_empty() {
        "the recorder's camera network".to_owned()
    } else {
        subnets.join(" or ")
    }
}
