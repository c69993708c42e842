//! A camera's forget-password flow as the NVR keeps it: which camera, what it said (masked reset email,
//! internet, methods, the challenge and its QR payload), which step it is at, and what happens after the
//! reset. Plain data plus the rules about time: a flow's times are on the NVR's clock (the camera's
//! expiry is translated with its measured clock offset), so the time left shown is the camera's.
//!
//! No secret is part of this type: the reset token and a new password in flight are sealed in the store
//! and held by the service apart from it.

use std::fmt;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::model::{CameraId, DeviceAddress, DeviceIdentity, Protocol};

/// A way to get a code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecoveryMethod {
    /// The camera emails the code itself (needs internet).
    SendCode,
    /// The phone app scans a QR code; the vendor's cloud emails the code.
    AppQr,
    /// Support derives a code from the serial number and the date.
    SupportCode,
}

/// What Forget Password starts on: a discovered device by its key, or an added camera, reached at its
/// stored address whether discovery sees it or not (a camera added by IP, or one that stopped
/// answering probes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecoveryTarget {
    /// A device in the discovered list, by its key.
    Discovered(String),
    /// An added camera.
    Added(CameraId),
}

impl From<&str> for RecoveryTarget {
    fn from(key: &str) -> Self {
        RecoveryTarget::Discovered(key.to_owned())
    }
}

impl From<&String> for RecoveryTarget {
    fn from(key: &String) -> Self {
        RecoveryTarget::Discovered(key.clone())
    }
}

impl From<String> for RecoveryTarget {
    fn from(key: String) -> Self {
        RecoveryTarget::Discovered(key)
    }
}

impl From<CameraId> for RecoveryTarget {
    fn from(camera: CameraId) -> Self {
        RecoveryTarget::Added(camera)
    }
}

/// The NVR's id for a flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct RecoveryId(pub i64);

impl fmt::Display for RecoveryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Where a flow stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecoveryStep {
    /// Recovery info shown; waiting for a code (sent, scanned, or from support).
    AwaitingCode,
    /// The code was accepted; waiting for the new password.
    CodeVerified,
    /// The new password is being set, checked and the camera added.
    Resetting,
    /// Done: the password was reset and the camera certifies with it.
    Completed,
    /// It stopped with an error that says what to do.
    Failed,
    /// The code or the permission ran out of time.
    Expired,
    /// The installer cancelled it.
    Cancelled,
}

impl RecoveryStep {
    /// The stable name stored and sent on D-Bus.
    pub fn as_str(self) -> &'static str {
        match self {
            RecoveryStep::AwaitingCode => "awaiting_code",
            RecoveryStep::CodeVerified => "code_verified",
            RecoveryStep::Resetting => "resetting",
            RecoveryStep::Completed => "completed",
            RecoveryStep::Failed => "failed",
            RecoveryStep::Expired => "expired",
            RecoveryStep::Cancelled => "cancelled",
        }
    }

    /// The inverse of [`RecoveryStep::as_str`].
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "awaiting_code" => RecoveryStep::AwaitingCode,
            "code_verified" => RecoveryStep::CodeVerified,
            "resetting" => RecoveryStep::Resetting,
            "completed" => RecoveryStep::Completed,
            "failed" => RecoveryStep::Failed,
            "expired" => RecoveryStep::Expired,
            "cancelled" => RecoveryStep::Cancelled,
            _ => return None,
        })
    }

    /// Whether the flow is still going (and holds its camera).
    pub fn is_active(self) -> bool {
        matches!(
            self,
            RecoveryStep::AwaitingCode | RecoveryStep::CodeVerified | RecoveryStep::Resetting
        )
    }
}

/// The challenge a code is for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlowChallenge {
    /// The camera's nonce, base64url.
    pub nonce: String,
    /// When the code expires, on the NVR's clock.
    pub expires: SystemTime,
    /// What the QR code for the phone app encodes.
    pub qr_payload: String,
    /// Wrong codes the challenge still takes.
    pub attempts_left: u32,
}

/// An added camera that was removed so its password could be reset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemovedCamera {
    /// Its id before removal.
    pub id: CameraId,
    /// The user name the NVR used.
    pub username: String,
}

/// A forget-password flow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecoveryFlow {
    /// Its id.
    pub id: RecoveryId,
    /// The discovered device's key (endpoint reference).
    pub device_key: String,
    /// Where the camera is.
    pub address: DeviceAddress,
    /// What the camera is.
    pub identity: DeviceIdentity,
    /// The camera user whose password is reset.
    pub reset_user: String,
    /// The masked reset email, when the camera has one.
    pub masked_email: Option<String>,
    /// Whether the camera can email a code itself.
    pub internet: bool,
    /// The ways to get a code this camera offers.
    pub methods: Vec<RecoveryMethod>,
    /// The camera's date, which support needs with the serial number.
    pub camera_date: String,
    /// Camera clock minus NVR clock, seconds.
    pub clock_offset_secs: i64,
    /// The current challenge.
    pub challenge: Option<FlowChallenge>,
    /// Where it stands.
    pub step: RecoveryStep,
    /// Where the last code was sent (masked).
    pub code_sent_to: Option<String>,
    /// The added camera removed before the reset, when there was one.
    pub removed_camera: Option<RemovedCamera>,
    /// Whether the camera is added (again) once the new password certifies.
    pub add_after_reset: bool,
    /// Who started it.
    pub actor: String,
    /// When it started.
    pub started_at: SystemTime,
    /// When it last changed.
    pub updated_at: SystemTime,
    /// The added camera at the end.
    pub result_camera: Option<CameraId>,
    /// Why it failed or expired, with what to do.
    pub failure: Option<String>,
    /// The protocol the reset runs in: Vigil's extension, or the camera vendor's own.
    #[serde(default = "vigil")]
    pub protocol: Protocol,
}

fn vigil() -> Protocol {
    Protocol::Vigil
}

impl RecoveryFlow {
    /// One flow per camera: its serial number when known, else its endpoint reference.
    pub fn camera_key(&self) -> String {
        camera_key(&self.identity, &self.device_key)
    }

    /// Time left to enter the code; zero when it has run out or there is no challenge.
    pub fn time_left(&self, now: SystemTime) -> Duration {
        self.challenge
            .as_ref()
            .and_then(|c| c.expires.duration_since(now).ok())
            .unwrap_or_default()
    }

    /// Wrong codes the current challenge still takes.
    pub fn attempts_left(&self) -> u32 {
        self.challenge.as_ref().map_or(0, |c| c.attempts_left)
    }

    /// The serial number and address, for the audit log.
    pub fn camera_label(&self) -> String {
        camera_label(&self.identity, &self.address)
    }
}

/// The key that allows one active flow per camera.
pub fn camera_key(identity: &DeviceIdentity, device_key: &str) -> String {
    if identity.serial.is_empty() {
        device_key.to_owned()
    } else {
        format!("{}/{}", identity.manufacturer, identity.serial)
    }
}

/// "serial (address)", for the audit log.
pub fn camera_label(identity: &DeviceIdentity, address: &DeviceAddress) -> String {
    if identity.serial.is_empty() {
        address.to_string()
    } else {
        format!("{} ({address})", identity.serial)
    }
}

/// Translates a time on the camera's clock to the NVR's.
pub fn camera_to_local(camera_time: SystemTime, clock_offset_secs: i64) -> SystemTime {
    let by = Duration::from_secs(clock_offset_secs.unsigned_abs());
    if clock_offset_secs >= 0 {
        camera_time - by
    } else {
        camera_time + by
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::from_unix_secs;

    #[test]
    fn steps_round_trip_and_know_when_they_hold_the_camera() {
        for step in [
            RecoveryStep::AwaitingCode,
            RecoveryStep::CodeVerified,
            RecoveryStep::Resetting,
            RecoveryStep::Completed,
            RecoveryStep::Failed,
            RecoveryStep::Expired,
            RecoveryStep::Cancelled,
        ] {
            assert_eq!(RecoveryStep::parse(step.as_str()), Some(step));
        }
        assert!(RecoveryStep::Resetting.is_active());
        assert!(!RecoveryStep::Expired.is_active());
    }

    #[test]
    fn camera_times_are_translated_with_the_clock_offset() {
        let camera_expiry = from_unix_secs(1_800_003_600);
        assert_eq!(
            camera_to_local(camera_expiry, 3600),
            from_unix_secs(1_800_000_000)
        );
        assert_eq!(
            camera_to_local(camera_expiry, -3600),
            from_unix_secs(1_800_007_200)
        );
    }
}
