//! What the service publishes when something changes, for the GUI and D-Bus to follow.

use serde::{Deserialize, Serialize};

use crate::model::{
    AddedCamera, CameraId, CameraStatus, DiscoveredDevice, RecoveryFlow, RecoveryId,
};

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
    /// An added camera's clock was set, and its offset measured again.
    CameraClockChanged {
        /// Which camera.
        id: CameraId,
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
    /// A forget-password flow started or moved on.
    RecoveryChanged {
        /// The flow as it is now.
        flow: Box<RecoveryFlow>,
    },
    /// A flow that ended a while ago is no longer listed (its record stays in the registry).
    RecoveryRemoved {
        /// Which flow.
        id: RecoveryId,
    },
}
