//! The one seam between the service and every camera protocol: the service names a [`Protocol`] (the
//! one an added camera is managed with, or one a discovered camera was seen speaking) and asks its
//! driver to certify, re-check or reach the camera, without knowing what goes on the wire. Each
//! protocol's calls live in its own module: `client` (ONVIF), `recovery_client` (Vigil's extension),
//! `hikvision` (SADP and ISAPI).

use crate::camera::CameraError;
use crate::camera::client::{CameraConnector, Certification};
use crate::camera::hikvision;
use crate::camera::recovery_client::RecoveryError;
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
            Protocol::Dahua => Err(not_in_this_build()),
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
            Protocol::Dahua => Err(not_in_this_build()),
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
            Protocol::Dahua => Err(RecoveryError::Camera(not_in_this_build())),
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

    /// Whether the camera answers at all, asked without a login, and its clock offset when the
    /// protocol tells it without one (else 0).
    pub async fn reach(self, address: &DeviceAddress) -> Result<i64, CameraError> {
        match self.protocol {
            Protocol::Hikvision => hikvision::reach(self.connector.pool(), address).await,
            Protocol::Dahua => Err(not_in_this_build()),
            Protocol::Onvif | Protocol::Vigil => self.connector.clock_offset(address).await,
        }
    }
}

/// The codec of `protocol`'s own discovery, when it has one (SADP, DHIP); ONVIF's is WS-Discovery.
pub fn discovery_codec(
    protocol: Protocol,
) -> Option<std::sync::Arc<dyn crate::camera::vendor_discovery::VendorCodec>> {
    match protocol {
        Protocol::Hikvision => Some(std::sync::Arc::new(hikvision::sadp::SadpCodec::new())),
        Protocol::Dahua | Protocol::Onvif | Protocol::Vigil => None,
    }
}

fn not_in_this_build() -> CameraError {
    CameraError::NotOffered("management over Dahua's RPC in this build".to_owned())
}
