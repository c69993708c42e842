//! The one seam between the service and every camera protocol: the service names a [`Protocol`] (the
//! one an added camera is managed with, or one a discovered camera was seen speaking) and asks its
//! driver to certify, re-check or reach the camera, without knowing what goes on the wire. Each
//! protocol's calls live in its own module: `client` (ONVIF), `recovery_client` (Vigil's extension),
//! `hikvision` (SADP and ISAPI), `dahua` (DHIP and the JSON RPC).

use crate::camera::CameraError;
use crate::camera::client::{CameraConnector, Certification};
use crate::camera::recovery_client::{RecoveryError, RecoveryInfo, ResetToken};
use crate::camera::{dahua, hikvision};
use crate::model::{Credentials, DeviceAddress, Protocol};

/// One protocol's driver over the shared connector. Cheap: made per call.
#[derive(Debug, Clone, Copy)]
pub struct Driver<'a> {
    connector: &'a CameraConnector,
    protocol: Protocol,
}

impl CameraConnector {
    /// The driver for `protocol`. Vigil's extension rides on ONVIF, so it certifies as ONVIF.
    pub fn driver(&self, protocol: Protocol) -> Driver<'_> {
        Driver {
            connector: self,
            protocol: protocol.managed_as(),
        }
    }
}

impl Driver<'_> {
    /// The protocol it speaks.
    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// Checks `credentials` against the camera with at most one failed login, after asking without
    /// a login whether the camera is in factory state (which would let anyone in).
    pub async fn certify(
        self,
        address: &DeviceAddress,
        credentials: &Credentials,
    ) -> Result<Certification, CameraError> {
        match self.protocol {
            Protocol::Hikvision => {
                hikvision::certify(self.connector.pool(), address, credentials).await
            }
            Protocol::Dahua => dahua::certify(self.connector.pool(), address, credentials).await,
            Protocol::Onvif | Protocol::Vigil => self.connector.certify(address, credentials).await,
        }
    }

    /// The monitor's periodic check of credentials that certified before. `last_offset_secs` is the
    /// clock offset last measured.
    pub async fn recheck(
        self,
        address: &DeviceAddress,
        credentials: &Credentials,
        last_offset_secs: i64,
    ) -> Result<Certification, CameraError> {
        match self.protocol {
            Protocol::Hikvision => {
                hikvision::recheck(self.connector.pool(), address, credentials).await
            }
            Protocol::Dahua => dahua::certify(self.connector.pool(), address, credentials).await,
            Protocol::Onvif | Protocol::Vigil => {
                self.connector
                    .recheck(address, credentials, last_offset_secs)
                    .await
            }
        }
    }

    /// Activates a camera in factory state: its administrator `credentials` and its reset email, by
    /// whatever its protocol offers. Says whether the reset email was set (a plain ONVIF camera
    /// cannot take one).
    pub async fn activate(
        self,
        address: &DeviceAddress,
        credentials: &Credentials,
        reset_email: &str,
    ) -> Result<bool, RecoveryError> {
        match self.protocol {
            Protocol::Hikvision => {
                hikvision::activate(self.connector.pool(), address, credentials, reset_email)
                    .await
                    .map_err(|error| match error {
                        CameraError::Refused {
                            subcode: Some(code),
                            ..
                        } if code == "hasActivated" => RecoveryError::AlreadyActive,
                        other => RecoveryError::Camera(other),
                    })
            }
            Protocol::Dahua => {
                dahua::init::activate(self.connector.pool(), address, credentials, reset_email)
                    .await
            }
            Protocol::Onvif | Protocol::Vigil => {
                match self
                    .connector
                    .activate(address, credentials, reset_email)
                    .await
                {
                    Ok(()) => Ok(true),
                    // A plain ONVIF Profile Q camera: create the administrator; it cannot take a
                    // reset email.
                    Err(RecoveryError::NotSupported) => self
                        .connector
                        .session(address, None, 0)
                        .create_user(
                            &credentials.username,
                            "Administrator",
                            &credentials.password,
                        )
                        .await
                        .map(|()| false)
                        .map_err(RecoveryError::Camera),
                    Err(error) => Err(error),
                }
            }
        }
    }

    /// Changes the password of the account `current` logs in with, keeping its level.
    pub async fn change_password(
        self,
        address: &DeviceAddress,
        current: &Credentials,
        clock_offset_secs: i64,
        new_password: &secrecy::SecretString,
    ) -> Result<(), CameraError> {
        match self.protocol {
            Protocol::Hikvision => {
                hikvision::isapi::IsapiSession::new(self.connector.pool(), address, Some(current))
                    .set_password(&current.username, new_password, &current.password)
                    .await
            }
            // Dahua cameras ship with ONVIF on and one user store: until the RPC's own encrypted
            // password change is in, the password changes over ONVIF.
            Protocol::Onvif | Protocol::Vigil | Protocol::Dahua => {
                let session = self
                    .connector
                    .session(address, Some(current), clock_offset_secs);
                // SetUser needs the account's level; it is sent back as the camera lists it. An
                // account that may not list users (not an Administrator) has a level the NVR cannot
                // know, and a guess could change it, so such an account is not changed from here.
                let level = match session.users().await {
                    Ok(users) => users
                        .into_iter()
                        .find(|u| u.username == current.username)
                        .map(|u| u.level),
                    Err(CameraError::CredentialsRejected | CameraError::CredentialsRequired) => {
                        None
                    }
                    Err(error) => return Err(error),
                };
                let Some(level) = level else {
                    return Err(CameraError::Refused {
                        subcode: None,
                        reason: format!(
                            "the account {} may not list the camera's users, so the NVR cannot change its password without risking its level; change it on the camera, or add the camera with an administrator account",
                            current.username
                        ),
                    });
                };
                session
                    .set_password(&current.username, &level, new_password)
                    .await
            }
        }
    }

    /// Whether the protocol can reset a password from the recorder at all. ONVIF cameras are asked
    /// (Vigil's extension answers GetRecoveryInfo), Dahua's answer PasswdFind; Hikvision's reset
    /// request is not public, so a Hikvision camera is not offered one (docs/vendors.md).
    pub fn offers_recovery(self) -> bool {
        match self.protocol {
            Protocol::Onvif | Protocol::Vigil | Protocol::Dahua => true,
            Protocol::Hikvision => false,
        }
    }

    /// What the camera offers for a password reset now, with a challenge for a code (a fresh one
    /// unless `keep_challenge` and the protocol can keep one). `now` is the recorder's clock, for a
    /// protocol that gives no expiry.
    pub async fn recovery_info(
        self,
        address: &DeviceAddress,
        keep_challenge: bool,
        now: std::time::SystemTime,
    ) -> Result<RecoveryInfo, RecoveryError> {
        match self.protocol {
            Protocol::Dahua => {
                dahua::passwd_find::recovery_info(self.connector.pool(), address, now).await
            }
            Protocol::Hikvision => Err(RecoveryError::NotSupported),
            Protocol::Onvif | Protocol::Vigil => {
                self.connector.recovery_info(address, keep_challenge).await
            }
        }
    }

    /// The camera emails the code for challenge `nonce` to its reset email: the masked address (empty
    /// when the camera does not say) and the code's expiry when it says.
    pub async fn send_code(
        self,
        address: &DeviceAddress,
        nonce: &str,
    ) -> Result<(String, Option<std::time::SystemTime>), RecoveryError> {
        match self.protocol {
            Protocol::Dahua => dahua::passwd_find::send_code(self.connector.pool(), address)
                .await
                .map(|masked| (masked, None)),
            Protocol::Hikvision => Err(RecoveryError::NotSupported),
            Protocol::Onvif | Protocol::Vigil => self.connector.send_code(address, nonce).await,
        }
    }

    /// Checks the code typed for challenge `nonce`; `attempts_left` is the recorder's count before
    /// it, for a protocol whose camera does not count aloud.
    pub async fn verify_code(
        self,
        address: &DeviceAddress,
        nonce: &str,
        code: &str,
        attempts_left: u32,
    ) -> Result<ResetToken, RecoveryError> {
        match self.protocol {
            Protocol::Dahua => {
                dahua::passwd_find::verify_code(self.connector.pool(), address, code, attempts_left)
                    .await
            }
            Protocol::Hikvision => Err(RecoveryError::NotSupported),
            Protocol::Onvif | Protocol::Vigil => {
                self.connector.verify_code(address, nonce, code).await
            }
        }
    }

    /// Checks a code from the vendor's support desk (for Dahua, its password of the day, which then
    /// restores the camera's factory defaults).
    pub async fn verify_support_code(
        self,
        address: &DeviceAddress,
        code: &str,
    ) -> Result<ResetToken, RecoveryError> {
        match self.protocol {
            Protocol::Dahua => {
                dahua::passwd_find::verify_support_password(self.connector.pool(), address, code)
                    .await
            }
            Protocol::Hikvision => Err(RecoveryError::NotSupported),
            Protocol::Onvif | Protocol::Vigil => {
                self.connector.verify_support_code(address, code).await
            }
        }
    }

    /// Sets `username`'s new password with the permission a code gave. `reset_email` is what a camera
    /// that is set up afresh (after its factory defaults, on Dahua's support path) takes as its reset
    /// email; empty for none.
    pub async fn reset_password(
        self,
        address: &DeviceAddress,
        token: &ResetToken,
        username: &str,
        password: &secrecy::SecretString,
        reset_email: &str,
    ) -> Result<(), RecoveryError> {
        match self.protocol {
            Protocol::Dahua => {
                dahua::passwd_find::reset_password(
                    self.connector.pool(),
                    address,
                    token,
                    username,
                    password,
                    reset_email,
                )
                .await
            }
            Protocol::Hikvision => Err(RecoveryError::NotSupported),
            Protocol::Onvif | Protocol::Vigil => {
                self.connector
                    .reset_password(address, token, username, password)
                    .await
            }
        }
    }

    /// Whether the camera answers at all, asked without a login, and its clock offset when the
    /// protocol tells it without one (else 0).
    pub async fn reach(self, address: &DeviceAddress) -> Result<i64, CameraError> {
        match self.protocol {
            Protocol::Hikvision => hikvision::reach(self.connector.pool(), address).await,
            Protocol::Dahua => dahua::reach(self.connector.pool(), address).await,
            Protocol::Onvif | Protocol::Vigil => self.connector.clock_offset(address).await,
        }
    }
}

impl Driver<'_> {
    /// Whether the protocol re-addresses a camera through its own discovery, which reaches a camera
    /// in another subnet: Hikvision's SADP does. (Dahua's `DHDiscover.setConfig` carries a password
    /// hash no public source gives; docs/vendors.md.)
    pub fn readdresses_by_discovery(self) -> bool {
        matches!(self.protocol, Protocol::Hikvision)
    }

    /// Gives the camera with `mac` new IPv4 settings through the protocol's discovery, with its
    /// administrator's `credentials`: one try, never repeated.
    pub async fn readdress_by_discovery(
        self,
        plan: &crate::camera::vendor_discovery::ReaddressPlan,
        mac: &str,
        credentials: &Credentials,
        change: &crate::model::NetworkChange,
        http_port: u16,
    ) -> Result<(), CameraError> {
        match self.protocol {
            Protocol::Hikvision => {
                let update = hikvision::sadp::SadpUpdate {
                    mac,
                    password: secrecy::ExposeSecret::expose_secret(&credentials.password),
                    network: crate::camera::vendor_discovery::VendorNetwork {
                        address: change.address,
                        mask: crate::rules::network::mask_of_prefix(change.prefix_len),
                        gateway: change.gateway,
                        dhcp: change.dhcp,
                    },
                    http_port,
                };
                hikvision::readdress::readdress(plan, &update).await
            }
            Protocol::Onvif | Protocol::Vigil | Protocol::Dahua => Err(CameraError::NotOffered(
                "re-addressing through its discovery".to_owned(),
            )),
        }
    }
}

/// The codec of `protocol`'s own discovery, when it has one (SADP, DHIP); ONVIF's is WS-Discovery.
pub fn discovery_codec(
    protocol: Protocol,
) -> Option<std::sync::Arc<dyn crate::camera::vendor_discovery::VendorCodec>> {
    match protocol {
        Protocol::Hikvision => Some(std::sync::Arc::new(hikvision::sadp::SadpCodec::new())),
        Protocol::Dahua => Some(std::sync::Arc::new(dahua::dhip::DhipCodec)),
        Protocol::Onvif | Protocol::Vigil => None,
    }
}

/// One camera's maintenance calls (network settings, clock, reboot, factory defaults) in the protocol
/// it is managed with.
pub enum MaintenanceSession {
    /// ONVIF's device management, and an anonymous session for the clock (a login's timestamp
    /// would carry the offset from before the clock was set).
    Onvif {
        /// With the credentials.
        session: Box<crate::camera::client::CameraSession>,
        /// Without any.
        anonymous: Box<crate::camera::client::CameraSession>,
    },
    /// Hikvision's ISAPI.
    Hikvision(hikvision::isapi::IsapiSession),
}

impl Driver<'_> {
    /// A maintenance session with the camera at `address`.
    pub fn maintenance(
        self,
        address: &DeviceAddress,
        credentials: &Credentials,
        clock_offset_secs: i64,
    ) -> MaintenanceSession {
        match self.protocol {
            Protocol::Hikvision => {
                MaintenanceSession::Hikvision(hikvision::isapi::IsapiSession::new(
                    self.connector.pool(),
                    address,
                    Some(credentials),
                ))
            }
            // Dahua cameras ship with ONVIF on: their maintenance goes over ONVIF until the RPC's is in.
            Protocol::Onvif | Protocol::Vigil | Protocol::Dahua => MaintenanceSession::Onvif {
                session: Box::new(self.connector.session(
                    address,
                    Some(credentials),
                    clock_offset_secs,
                )),
                anonymous: Box::new(self.connector.session(address, None, 0)),
            },
        }
    }
}

impl MaintenanceSession {
    /// The camera's IPv4 settings.
    pub async fn network(&self) -> Result<crate::model::CameraNetwork, CameraError> {
        match self {
            MaintenanceSession::Onvif { session: s, .. } => s.network().await,
            MaintenanceSession::Hikvision(s) => s.network().await,
        }
    }

    /// New IPv4 settings on the interface `token`; whether the camera needs a reboot for them.
    pub async fn set_network(
        &self,
        token: &str,
        change: &crate::model::NetworkChange,
    ) -> Result<bool, CameraError> {
        match self {
            MaintenanceSession::Onvif { session: s, .. } => s.set_network(token, change).await,
            MaintenanceSession::Hikvision(s) => s.set_network(change).await,
        }
    }

    /// Sets the camera's clock to `now`, in UTC, by hand.
    pub async fn set_clock(&self, now: std::time::SystemTime) -> Result<(), CameraError> {
        match self {
            MaintenanceSession::Onvif { session: s, .. } => s.set_clock(now).await,
            MaintenanceSession::Hikvision(s) => s.set_clock(now).await,
        }
    }

    /// Makes NTP from `server` the camera's time source.
    pub async fn use_ntp(&self, server: &str) -> Result<(), CameraError> {
        match self {
            MaintenanceSession::Onvif { session: s, .. } => s.use_ntp(server).await,
            MaintenanceSession::Hikvision(s) => s.use_ntp(server).await,
        }
    }

    /// Camera clock minus ours, seconds.
    pub async fn clock_offset(&self) -> Result<i64, CameraError> {
        match self {
            MaintenanceSession::Onvif { anonymous, .. } => anonymous.clock_offset().await,
            MaintenanceSession::Hikvision(s) => s.clock_offset().await,
        }
    }

    /// Reboots the camera; its words.
    pub async fn reboot(&self) -> Result<String, CameraError> {
        match self {
            MaintenanceSession::Onvif { session: s, .. } => s.reboot().await,
            MaintenanceSession::Hikvision(s) => s.reboot().await,
        }
    }

    /// Restores the camera's factory defaults.
    pub async fn restore_factory_defaults(
        &self,
        kind: crate::model::FactoryDefault,
    ) -> Result<(), CameraError> {
        match self {
            MaintenanceSession::Onvif { session: s, .. } => s.restore_factory_defaults(kind).await,
            MaintenanceSession::Hikvision(s) => s.restore_factory_defaults(kind).await,
        }
    }
}
