//! The domain's nouns as the service API hands them out: added cameras and their status, discovered
//! devices, and the events subscribers receive. Plain data, no behaviour, no secrets.

use std::fmt;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::camera::{DeviceAddress, DeviceIdentity};

/// The NVR's id for an added camera. Stable for the camera's life in the registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct CameraId(pub i64);

impl fmt::Display for CameraId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Where an added camera stands right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CameraState {
    /// Answering, and the stored credentials authenticate: certified.
    Online,
    /// The camera rejected the stored credentials. They are no longer used until new ones are given.
    NotCertified,
    /// The camera says it locked the user after failed logins.
    Locked,
    /// The camera does not answer.
    Offline,
}

impl CameraState {
    /// The stable name used in storage and on D-Bus.
    pub fn as_str(self) -> &'static str {
        match self {
            CameraState::Online => "online",
            CameraState::NotCertified => "not_certified",
            CameraState::Locked => "locked",
            CameraState::Offline => "offline",
        }
    }

    /// The inverse of [`CameraState::as_str`].
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "online" => CameraState::Online,
            "not_certified" => CameraState::NotCertified,
            "locked" => CameraState::Locked,
            "offline" => CameraState::Offline,
            _ => return None,
        })
    }

    /// The word an installer sees.
    pub fn label(self) -> &'static str {
        match self {
            CameraState::Online => "Online",
            CameraState::NotCertified => "Not certified",
            CameraState::Locked => "Locked",
            CameraState::Offline => "Offline",
        }
    }
}

/// An added camera's status, with the last error and when it happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CameraStatus {
    /// Where it stands.
    pub state: CameraState,
    /// Whether the stored credentials are known to be rejected (and so are not being used).
    pub credentials_rejected: bool,
    /// The last error, in words for the installer, with the next step.
    pub last_error: Option<String>,
    /// When the last error happened.
    pub last_error_at: Option<SystemTime>,
    /// When the camera entered `state`.
    pub since: SystemTime,
}

impl CameraStatus {
    /// Online and certified since `since`, with no error on record.
    pub fn certified_since(since: SystemTime) -> Self {
        Self {
            state: CameraState::Online,
            credentials_rejected: false,
            last_error: None,
            last_error_at: None,
            since,
        }
    }

    /// Whether the stored credentials authenticate right now.
    pub fn certified(&self) -> bool {
        self.state == CameraState::Online
    }
}

/// A camera the NVR keeps. The password is never part of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddedCamera {
    /// The NVR's id.
    pub id: CameraId,
    /// Where its device service is.
    pub address: DeviceAddress,
    /// The WS-Discovery endpoint reference, when known.
    pub endpoint_ref: Option<String>,
    /// What it says it is.
    pub identity: DeviceIdentity,
    /// The user name the NVR logs in with.
    pub username: String,
    /// Its status.
    pub status: CameraStatus,
    /// Its clock minus ours, seconds, as last measured.
    pub clock_offset_secs: i64,
    /// When it was added.
    pub added_at: SystemTime,
}

/// A camera seen on the LAN and not (necessarily) added.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiscoveredDevice {
    /// Stable key for the list: the endpoint reference.
    pub key: String,
    /// Where its device service is.
    pub address: DeviceAddress,
    /// What it says it is. Fields it would not give without credentials are empty.
    pub identity: DeviceIdentity,
    /// Whether it answered GetDeviceInformation (else the identity came from its scopes).
    pub information_complete: bool,
    /// Factory state: no administrator yet; it needs activation.
    pub inactive: bool,
    /// The added camera it is, when it is one.
    pub added_as: Option<CameraId>,
    /// When it last answered or announced itself.
    pub last_seen: SystemTime,
}

/// What changed, for the GUI and D-Bus to follow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum NvrEvent {
    /// A camera was added.
    CameraAdded {
        /// The camera.
        camera: AddedCamera,
    },
    /// An added camera's credentials, address or identity changed.
    CameraUpdated {
        /// The camera as it is now.
        camera: AddedCamera,
    },
    /// An added camera's status changed.
    CameraStatusChanged {
        /// Which camera.
        id: CameraId,
        /// Its new status.
        status: CameraStatus,
    },
    /// A camera was removed.
    CameraRemoved {
        /// Which camera.
        id: CameraId,
    },
    /// A discovery run began.
    DiscoveryStarted,
    /// A device was discovered, or what is known of it changed.
    DeviceDiscovered {
        /// The device.
        device: DiscoveredDevice,
    },
    /// A discovered device left (Bye) or was not seen in the last full run.
    DeviceGone {
        /// Its key.
        key: String,
    },
    /// A discovery run ended.
    DiscoveryFinished {
        /// Devices in the discovered list afterwards.
        devices: usize,
    },
}
