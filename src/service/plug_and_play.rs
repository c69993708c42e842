//! Plug and play on the camera network: a camera that appears on one of the camera-side interfaces
//! (`[discovery] plug_and_play_interfaces`, the PoE switch side; off by default) is taken in without a
//! click. One in factory state is activated with the recorder's default camera password and its
//! reserved email, both set when the recorder was activated, and added on the next free channel with
//! that password. An active one that is not added is tried once with the default password; one whose
//! password is something else stays listed for the installer. One login attempt per camera, ever (the
//! registry keeps which cameras were tried, across restarts), never a retry of a refused password;
//! every step is audited as the system's.

use std::net::{IpAddr, Ipv4Addr};

use secrecy::ExposeSecret;

use super::{Nvr, lock};
use crate::model::{Actor, AuditAction, Caller, Credentials, DiscoveredDevice, camera_label};
use crate::rules::network::in_subnet;

/// What plug and play made of a camera it could not take in, for the menu to show with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlugAndPlayOutcome {
    /// The camera's password is not the recorder's default camera password (tried once).
    PasswordRefused,
    /// It could not be taken in for another reason (the audit log says which).
    NotTakenIn,
}

/// The user plug and play activates and logs in as.
const ADMIN: &str = "admin";

/// The subnets (an address and its prefix length) of the interfaces named.
fn subnets_of(names: &[String]) -> Vec<(Ipv4Addr, u8)> {
    if names.is_empty() {
        return Vec::new();
    }
    match if_addrs::get_if_addrs() {
        Ok(interfaces) => interfaces
            .into_iter()
            .filter(|i| names.contains(&i.name))
            .filter_map(|i| match i.addr {
                if_addrs::IfAddr::V4(v4) => Some((v4.ip, v4.prefixlen)),
                if_addrs::IfAddr::V6(_) => None,
            })
            .collect(),
        Err(error) => {
            tracing::warn!(%error, "cannot list the plug-and-play interfaces");
            Vec::new()
        }
    }
}

impl Nvr {
    /// What plug and play made of a discovered camera it could not take in, if it tried.
    pub fn plug_and_play_outcome(&self, key: &str) -> Option<PlugAndPlayOutcome> {
        lock(&self.inner.plug_outcomes).get(key).copied()
    }

    /// Keeps what plug and play made of a camera and lets the faces show it.
    fn note_plug_outcome(&self, key: &str, outcome: PlugAndPlayOutcome) {
        lock(&self.inner.plug_outcomes).insert(key.to_owned(), outcome);
        if let Ok(device) = self.discovered_device(key) {
            self.emit(crate::model::NvrEvent::DeviceDiscovered { device });
        }
    }

    /// Whether `device` appeared on a plug-and-play interface.
    fn on_camera_network(&self, device: &DiscoveredDevice) -> bool {
        let Some(IpAddr::V4(ip)) = device.address.ip() else {
            return false;
        };
        subnets_of(&self.settings().discovery.plug_and_play_interfaces)
            .into_iter()
            .any(|(own, prefix_len)| in_subnet(ip, own, prefix_len))
    }

    /// Takes in a device just identified, when plug and play is on and it appeared on the camera
    /// network: in the background, once per camera.
    pub(super) fn plug_and_play(&self, device: &DiscoveredDevice) {
        if device.added_as.is_some()
            || self
                .settings()
                .discovery
                .plug_and_play_interfaces
                .is_empty()
            || !self.on_camera_network(device)
        {
            return;
        }
        // One attempt per camera: by its serial number when it has one, else by its endpoint.
        let camera = if device.identity.serial.is_empty() {
            device.key.clone()
        } else {
            device.identity.serial.clone()
        };
        if !lock(&self.inner.plugged_in).insert(camera.clone()) {
            return;
        }
        let nvr = self.downgrade();
        let key = device.key.clone();
        self.inner.tasks.spawn(async move {
            let Some(nvr) = nvr.upgrade() else { return };
            // Tried before, in this run or an earlier one: never again.
            let at = nvr.inner.clock.now();
            let first = nvr
                .with_store(move |store| store.write(|tx| tx.first_plug_in_attempt(&camera, at)))
                .await;
            match first {
                Ok(Ok(true)) => nvr.plug_in(&key).await,
                Ok(Ok(false)) => {
                    tracing::debug!(key, "plug and play tried this camera before; not again");
                }
                Ok(Err(error)) => {
                    tracing::warn!(%error, "plug-and-play attempt not recorded; camera not tried")
                }
                Err(error) => {
                    tracing::warn!(%error, "plug-and-play attempt not recorded; camera not tried")
                }
            }
        });
    }

    async fn plug_in(&self, key: &str) {
        let Ok(device) = self.discovered_device(key) else {
            return;
        };
        let label = camera_label(&device.identity, &device.address);
        let (outcome, not_taken_in) = self.take_in(&device).await;
        if let Some(not_taken_in) = not_taken_in {
            self.note_plug_outcome(key, not_taken_in);
        }
        self.audit(&Actor::System, AuditAction::PlugAndPlay, &label, &outcome)
            .await;
    }

    /// Takes in one device: what happened, for the audit log, and what the menu shows of a camera
    /// it could not take in (`None` when it was taken in, or when it was never tried).
    async fn take_in(&self, device: &DiscoveredDevice) -> (String, Option<PlugAndPlayOutcome>) {
        let system = Caller::from(Actor::System);
        let default_password = self
            .with_store(|store| store.read(|tx| tx.default_camera_password()))
            .await
            .ok()
            .and_then(Result::ok)
            .flatten();
        let Some(password) = default_password else {
            return (
                "appeared on the camera network; not taken in: the recorder has no default camera password".to_owned(),
                None,
            );
        };
        if device.inactive {
            let reserved_email = match self.reserved_email(&system).await {
                Ok(email) => email,
                Err(error) => {
                    return (
                        format!("appeared in factory state; not activated: {error}"),
                        None,
                    );
                }
            };
            let password = password.expose_secret();
            return match self
                .activate_camera(
                    &device.key,
                    password,
                    password,
                    &reserved_email,
                    true,
                    &system,
                )
                .await
            {
                Ok(activation) => (
                    match (&activation.camera, &activation.add_error) {
                        (Some(camera), _) => format!(
                            "appeared in factory state; activated with the default camera password and added on {}",
                            camera.channel_label()
                        ),
                        (None, Some(error)) => {
                            format!("appeared in factory state; activated but not added: {error}")
                        }
                        (None, None) => "appeared in factory state; activated".to_owned(),
                    },
                    None,
                ),
                Err(error) => (
                    format!("appeared in factory state; not activated: {error}"),
                    Some(PlugAndPlayOutcome::NotTakenIn),
                ),
            };
        }
        let credentials = Credentials {
            username: ADMIN.to_owned(),
            password,
        };
        match self
            .add_verified(
                device.address.clone(),
                Some(device.key.clone()),
                device.protocols.managing(),
                credentials,
                &Actor::System.to_string(),
                "added by plug and play with the default camera password",
            )
            .await
        {
            Ok(camera) => (
                format!(
                    "appeared on the camera network; the default camera password works; added on {}",
                    camera.channel_label()
                ),
                None,
            ),
            Err(error) => (
                format!(
                    "appeared on the camera network; not added (tried once, not again): {error}; listed for the installer"
                ),
                Some(if matches!(error, super::NvrError::CredentialsRejected) {
                    PlugAndPlayOutcome::PasswordRefused
                } else {
                    PlugAndPlayOutcome::NotTakenIn
                }),
            ),
        }
    }
}
