//! The installer's maintenance of one camera: reading and changing its IPv4 settings (Edit IP, checked
//! before anything is sent; an added camera's stored address follows), rebooting it, and restoring its
//! factory defaults. Each uses the added camera's stored credentials, only while they certify, or the
//! user name and password given for a discovered camera: one login, never retried. Each is audited.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use super::{
    ArgumentProblem, CredentialsAre, Nvr, NvrError, camera_error, check_credentials, lock,
};
use crate::camera::CameraError;
use crate::camera::driver::MaintenanceSession;
use crate::model::{
    AddedCamera, AuditAction, Caller, CameraId, CameraNetwork, CameraState, CameraStatus,
    DeviceAddress, FactoryDefault, NetworkChange, NetworkChanged, Protocol, ReasonKind,
    StatusReason, camera_label,
};
use crate::rules::network::{NetworkProblem, check_network_change};
use crate::store::{DuplicateOf, StoreError};

/// How long a camera that asked for a reboot to apply new settings gets before it is looked for.
const REBOOT_GRACE: Duration = Duration::from_secs(2);
/// How long the recorder waits for a camera to answer at its new address before it answers the
/// installer (a D-Bus call gives up after 25 s); the monitor keeps looking after that.
const NEW_ADDRESS_WAIT: Duration = Duration::from_secs(15);

/// Which camera a maintenance command is for.
#[derive(Clone)]
pub enum MaintainedCamera {
    /// An added camera, with its stored credentials.
    Added(CameraId),
    /// A discovered camera that is not added, with a user name and password given for this command.
    Discovered {
        /// Its key in the discovered list.
        key: String,
        /// The user name.
        username: String,
        /// The password.
        password: String,
    },
}

impl std::fmt::Debug for MaintainedCamera {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MaintainedCamera::Added(id) => f.debug_tuple("Added").field(id).finish(),
            MaintainedCamera::Discovered { key, username, .. } => f
                .debug_struct("Discovered")
                .field("key", key)
                .field("username", username)
                .finish_non_exhaustive(),
        }
    }
}

/// A camera reached for maintenance: where, how, and what the audit calls it.
pub(super) struct Reached {
    pub(super) session: MaintenanceSession,
    /// The protocol it is reached in.
    pub(super) protocol: Protocol,
    pub(super) address: DeviceAddress,
    pub(super) label: String,
    added: Option<AddedCamera>,
}

impl Nvr {
    /// Reaches `camera` with credentials that may be used: an added camera's only while they certify;
    /// a discovered one that is added is the added camera.
    pub(super) async fn reach(&self, camera: &MaintainedCamera) -> Result<Reached, NvrError> {
        match camera {
            MaintainedCamera::Added(id) => {
                let (camera, credentials) = self.answering_with_credentials(*id)?;
                let Some(credentials) = credentials.filter(|_| camera.status.certified()) else {
                    return Err(NvrError::SettingsNeedCertified { camera: *id });
                };
                Ok(Reached {
                    session: self.inner.connector.driver(camera.protocol).maintenance(
                        &camera.address,
                        &credentials,
                        camera.clock_offset_secs,
                    ),
                    protocol: camera.protocol,
                    address: camera.address.clone(),
                    label: camera_label(&camera.identity, &camera.address),
                    added: Some(camera),
                })
            }
            MaintainedCamera::Discovered {
                key,
                username,
                password,
            } => {
                let device = self.discovered_device(key)?;
                let credentials = check_credentials(username, password)?;
                if let Some(id) = device.added_as {
                    return Box::pin(self.reach(&MaintainedCamera::Added(id))).await;
                }
                if device.inactive {
                    return Err(NvrError::CameraInactive);
                }
                if device.other_subnet.is_some() {
                    return Err(NvrError::Unreachable {
                        address: device.address.to_string(),
                        detail: "it is in another subnet; give it an address in the recorder's subnet with Edit IP first".to_owned(),
                    });
                }
                // Its clock, so the one login carries a timestamp it accepts.
                let driver = self.inner.connector.driver(device.protocols.managing());
                let offset = driver.reach(&device.address).await.unwrap_or(0);
                Ok(Reached {
                    session: driver.maintenance(&device.address, &credentials, offset),
                    protocol: driver.protocol(),
                    label: camera_label(&device.identity, &device.address),
                    address: device.address,
                    added: None,
                })
            }
        }
    }

    /// A refusal of an added camera's stored credentials holds them at once, as the monitor would: they
    /// are not sent again until the installer gives new ones. Any error comes back in the service's words.
    pub(super) async fn maintenance_failed(
        &self,
        reached: &Reached,
        error: CameraError,
    ) -> NvrError {
        if let (Some(camera), CameraError::CredentialsRejected | CameraError::CredentialsRequired) =
            (&reached.added, &error)
        {
            self.hold_rejected_credentials(camera.id).await;
        }
        camera_error(error, &reached.address)
    }

    async fn hold_rejected_credentials(&self, id: CameraId) {
        let _commit = self.inner.commit.lock().await;
        let Some((mut camera, credentials)) = lock(&self.inner.added)
            .get(&id)
            .map(|e| (e.camera.clone(), e.credentials.clone()))
        else {
            return;
        };
        let now = self.inner.clock.now();
        camera.status = CameraStatus {
            state: CameraState::NotCertified,
            credentials_rejected: true,
            last_error: Some(StatusReason::bare(ReasonKind::CredentialsRejected)),
            last_error_at: Some(now),
            since: now,
        };
        let status = camera.status.clone();
        match self
            .with_store(move |store| store.write(|tx| tx.update_status(id, &status, None)))
            .await
        {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::error!(camera = %id, %error, "held credentials not saved"),
            Err(error) => tracing::error!(camera = %id, %error, "held credentials not saved"),
        }
        tracing::warn!(camera = %id, "camera rejected the stored credentials during maintenance; credentials held");
        self.install(
            camera.clone(),
            credentials,
            self.settings().monitor.period,
            CredentialsAre::New,
        );
        self.emit(crate::model::NvrEvent::CameraStatusChanged {
            id,
            status: camera.status,
        });
    }

    /// The camera's IPv4 settings as it reports them.
    pub async fn camera_network(
        &self,
        camera: &MaintainedCamera,
        caller: &Caller,
    ) -> Result<CameraNetwork, NvrError> {
        self.acting_as(caller)?;
        if let Some((_, network)) = self.in_other_subnet(camera) {
            if let MaintainedCamera::Discovered {
                username, password, ..
            } = camera
            {
                check_credentials(username, password)?;
            }
            return Ok(network);
        }
        let reached = self.reach(camera).await?;
        match reached.session.network().await {
            Ok(network) => Ok(network),
            Err(error) => Err(self.maintenance_failed(&reached, error).await),
        }
    }

    /// Gives the camera new IPv4 settings (Edit IP). They are checked first: a real host address
    /// inside the subnet the recorder reaches the camera on, a contiguous mask, a gateway inside the
    /// camera's subnet; nothing is sent otherwise. A camera that asks for a reboot to apply them is
    /// rebooted. An added camera's stored address follows a new static address; with DHCP on, the
    /// camera is found again by discovery wherever it lands.
    pub async fn set_camera_network(
        &self,
        camera: &MaintainedCamera,
        change: &NetworkChange,
        caller: &Caller,
    ) -> Result<NetworkChanged, NvrError> {
        if let Some((device, current)) = self.in_other_subnet(camera) {
            return self
                .readdress_other_subnet(device, current, camera, change, caller)
                .await;
        }
        let actor = self.acting_as(caller)?;
        let _command = self.begin_command()?;
        let reached = self.reach(camera).await?;
        let reached_on = match reached.address.ip() {
            Some(IpAddr::V4(ip)) => crate::camera::discovery::recorder_subnet_reaching(ip),
            _ => None,
        };
        check_network_change(change, reached_on).map_err(network_problem)?;
        let current = match reached.session.network().await {
            Ok(network) => network,
            Err(error) => return Err(self.maintenance_failed(&reached, error).await),
        };
        let new_address = (!change.dhcp)
            .then(|| DeviceAddress {
                host: change.address.to_string(),
                ..reached.address.clone()
            })
            .filter(|address| *address != reached.address);
        if let (Some(address), Some(added)) = (&new_address, &reached.added)
            && let Some(holder) = self
                .added_cameras()
                .into_iter()
                .find(|c| c.id != added.id && c.address == *address)
        {
            return Err(NvrError::InvalidArgument {
                field: "address",
                problem: ArgumentProblem::AddressTaken {
                    camera: holder.display_name(),
                },
            });
        }
        // The monitor rests while the camera changes address, so it does not call the move an outage.
        let paused = reached.added.as_ref().map(|added| added.id);
        if let Some(id) = paused {
            self.pause_monitor(id);
        }
        let applied = self
            .apply_network(camera, &reached, &current, change, new_address, &actor)
            .await;
        if let Some(id) = paused {
            self.resume_monitor(id);
        }
        let reboot_needed = applied?;
        Ok(NetworkChanged {
            network: CameraNetwork {
                interface_token: current.interface_token,
                address: if change.dhcp {
                    current.address
                } else {
                    change.address
                },
                prefix_len: change.prefix_len,
                gateway: change.gateway,
                dhcp: change.dhcp,
            },
            rebooted: reboot_needed,
        })
    }

    /// Sends the new settings, reboots the camera when it asks, waits for it at its new address and
    /// keeps that address. Returns whether it rebooted.
    async fn apply_network(
        &self,
        camera: &MaintainedCamera,
        reached: &Reached,
        current: &CameraNetwork,
        change: &NetworkChange,
        new_address: Option<DeviceAddress>,
        actor: &crate::model::Actor,
    ) -> Result<bool, NvrError> {
        let reboot_needed = match reached
            .session
            .set_network(&current.interface_token, change)
            .await
        {
            Ok(reboot_needed) => reboot_needed,
            Err(error) => {
                self.audit(
                    actor,
                    AuditAction::NetworkChanged,
                    &reached.label,
                    &format!("failed: {error}"),
                )
                .await;
                return Err(self.maintenance_failed(reached, error).await);
            }
        };
        let describe = describe_change(current, change);
        self.audit(
            actor,
            AuditAction::NetworkChanged,
            &reached.label,
            &describe,
        )
        .await;
        if reboot_needed {
            // The camera took the settings and said it needs a reboot: it gets one now, at its old
            // address (which still answers until it restarts).
            if let Err(error) = reached.session.reboot().await {
                tracing::warn!(camera = %reached.label, %error, "camera asked for a reboot to apply new network settings and did not take it");
            } else {
                self.audit(
                    actor,
                    AuditAction::CameraRebooted,
                    &reached.label,
                    "rebooted to apply new network settings",
                )
                .await;
                tokio::time::sleep(REBOOT_GRACE).await;
            }
        }
        if let Some(address) = &new_address {
            self.wait_for_answer_at(reached.protocol, address).await;
        }
        match (new_address, &reached.added) {
            (Some(address), Some(added)) => {
                self.move_added_camera(added.id, address).await?;
            }
            (Some(address), None) => self.move_discovered_device(camera, address),
            (None, _) => {}
        }
        Ok(reboot_needed)
    }

    /// Stops an added camera's monitor for a moment; results of checks under way are dropped.
    fn pause_monitor(&self, id: CameraId) {
        let next = self
            .inner
            .next_generation
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if let Some(entry) = lock(&self.inner.added).get_mut(&id) {
            entry.monitor.cancel();
            entry.generation = next;
        }
    }

    /// Starts a paused monitor again (at the camera's address now), unless one was started since.
    fn resume_monitor(&self, id: CameraId) {
        let paused = lock(&self.inner.added)
            .get(&id)
            .filter(|entry| entry.monitor.is_cancelled())
            .map(|entry| (entry.camera.clone(), entry.credentials.clone()));
        if let Some((camera, credentials)) = paused {
            self.install(
                camera,
                credentials,
                Duration::from_millis(200),
                CredentialsAre::Same,
            );
        }
    }

    /// Waits (at most [`NEW_ADDRESS_WAIT`]) until the camera answers at `address`.
    async fn wait_for_answer_at(&self, protocol: Protocol, address: &DeviceAddress) {
        let deadline = tokio::time::Instant::now() + NEW_ADDRESS_WAIT;
        while tokio::time::Instant::now() < deadline {
            if self
                .inner
                .connector
                .driver(protocol)
                .reach(address)
                .await
                .is_ok()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        tracing::warn!(%address, "camera does not answer at its new address yet; the monitor keeps looking");
    }

    /// Keeps an added camera's new address: stored, then its monitor follows it there.
    pub(super) async fn move_added_camera(
        &self,
        id: CameraId,
        address: DeviceAddress,
    ) -> Result<AddedCamera, NvrError> {
        let _commit = self.inner.commit.lock().await;
        let old_address = self.added_camera(id)?.address;
        let stored = address.clone();
        self.with_store(move |store| store.write(|tx| tx.set_camera_address(id, &stored)))
            .await?
            .map_err(|error| match error {
                StoreError::Duplicate(DuplicateOf::Address) => NvrError::InvalidArgument {
                    field: "address",
                    problem: ArgumentProblem::AddressTaken {
                        camera: address.to_string(),
                    },
                },
                other => other.into(),
            })?;
        let (camera, credentials) = {
            let mut added = lock(&self.inner.added);
            let entry = added.get_mut(&id).ok_or(NvrError::CameraNotFound(id))?;
            entry.camera.address = address;
            (entry.camera.clone(), entry.credentials.clone())
        };
        // The monitor checks the camera at its new address soon, with the same credentials.
        self.install(
            camera.clone(),
            credentials,
            Duration::from_millis(200),
            CredentialsAre::Same,
        );
        self.emit(crate::model::NvrEvent::CameraUpdated {
            camera: camera.clone(),
        });
        // Its entries in the discovered list are at the new address too.
        let listed = {
            let mut discovered = lock(&self.inner.discovered);
            let mut listed = false;
            for device in discovered.values_mut() {
                if device.address == old_address
                    || camera.endpoint_ref.as_deref() == Some(device.key.as_str())
                {
                    device.address = camera.address.clone();
                    listed = true;
                }
            }
            listed
        };
        if listed {
            self.announce_discovered_matching(&camera);
        }
        Ok(camera)
    }

    fn move_discovered_device(&self, camera: &MaintainedCamera, address: DeviceAddress) {
        let MaintainedCamera::Discovered { key, .. } = camera else {
            return;
        };
        let device = {
            let mut discovered = lock(&self.inner.discovered);
            let Some(device) = discovered.get_mut(key) else {
                return;
            };
            device.address = address;
            device.clone()
        };
        self.emit(crate::model::NvrEvent::DeviceDiscovered { device });
    }

    /// Reboots the camera (SystemReboot). Returns the camera's own message, if it gave one.
    pub async fn reboot_camera(
        &self,
        camera: &MaintainedCamera,
        caller: &Caller,
    ) -> Result<String, NvrError> {
        let actor = self.acting_as(caller)?;
        let _command = self.begin_command()?;
        let reached = self.reach(camera).await?;
        match reached.session.reboot().await {
            Ok(message) => {
                self.audit(
                    &actor,
                    AuditAction::CameraRebooted,
                    &reached.label,
                    "rebooted",
                )
                .await;
                Ok(message)
            }
            Err(error) => {
                self.audit(
                    &actor,
                    AuditAction::CameraRebooted,
                    &reached.label,
                    &format!("failed: {error}"),
                )
                .await;
                Err(self.maintenance_failed(&reached, error).await)
            }
        }
    }

    /// Restores the camera's factory defaults (SetSystemFactoryDefault). A soft reset keeps its network
    /// settings; a hard one loses everything, users and passwords included, so the camera must be
    /// activated again and may come back at its factory address. An added camera stays added; its
    /// status shows what became of it.
    pub async fn restore_factory_defaults(
        &self,
        camera: &MaintainedCamera,
        kind: FactoryDefault,
        caller: &Caller,
    ) -> Result<(), NvrError> {
        let actor = self.acting_as(caller)?;
        let _command = self.begin_command()?;
        let reached = self.reach(camera).await?;
        let what = match kind {
            FactoryDefault::Soft => "soft factory defaults restored",
            FactoryDefault::Hard => "hard factory defaults restored",
        };
        match reached.session.restore_factory_defaults(kind).await {
            Ok(()) => {
                self.audit(&actor, AuditAction::FactoryDefaults, &reached.label, what)
                    .await;
                Ok(())
            }
            Err(error) => {
                self.audit(
                    &actor,
                    AuditAction::FactoryDefaults,
                    &reached.label,
                    &format!("failed: {error}"),
                )
                .await;
                Err(self.maintenance_failed(&reached, error).await)
            }
        }
    }
}

/// New network settings as a face takes them in: an IPv4 address, a mask (255.255.255.0 or 24), a
/// gateway (empty for none) and DHCP on or off. Each entry that cannot be read is refused by name.
pub fn network_change_from_text(
    address: &str,
    mask: &str,
    gateway: &str,
    dhcp: bool,
) -> Result<NetworkChange, NvrError> {
    let ipv4 = |field: &'static str, text: &str| {
        text.trim()
            .parse::<Ipv4Addr>()
            .map_err(|_| NvrError::InvalidArgument {
                field,
                problem: if text.trim().is_empty() {
                    ArgumentProblem::Empty
                } else {
                    ArgumentProblem::NotIpv4Address
                },
            })
    };
    let address = ipv4("address", address)?;
    let prefix_len = if mask.trim().is_empty() {
        return Err(NvrError::InvalidArgument {
            field: "mask",
            problem: ArgumentProblem::Empty,
        });
    } else {
        crate::rules::network::prefix_of_mask(mask).map_err(network_problem)?
    };
    let gateway = if gateway.trim().is_empty() {
        None
    } else {
        Some(ipv4("gateway", gateway)?)
    };
    Ok(NetworkChange {
        address,
        prefix_len,
        gateway,
        dhcp,
    })
}

/// A network problem in the service's words: the entry it is in and what is wrong.
pub(super) fn network_problem(problem: NetworkProblem) -> NvrError {
    let field = problem.field();
    let problem = match problem {
        NetworkProblem::MaskNotContiguous => ArgumentProblem::MaskNotContiguous,
        NetworkProblem::NotHostAddress => ArgumentProblem::NotHostAddress,
        NetworkProblem::AddressOutsideSubnet { subnet }
        | NetworkProblem::GatewayOutsideSubnet { subnet } => {
            ArgumentProblem::OutsideSubnet { subnet }
        }
    };
    NvrError::InvalidArgument { field, problem }
}

/// What changed, for the audit log.
pub(super) fn describe_change(from: &CameraNetwork, to: &NetworkChange) -> String {
    let gateway = |g: Option<Ipv4Addr>| g.map_or_else(|| "none".to_owned(), |g| g.to_string());
    if to.dhcp {
        format!(
            "network changed from {}/{} (gateway {}) to DHCP",
            from.address,
            from.prefix_len,
            gateway(from.gateway)
        )
    } else {
        format!(
            "network changed from {}/{} (gateway {}{}) to {}/{} (gateway {})",
            from.address,
            from.prefix_len,
            gateway(from.gateway),
            if from.dhcp { ", DHCP" } else { "" },
            to.address,
            to.prefix_len,
            gateway(to.gateway)
        )
    }
}
