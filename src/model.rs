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
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
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
    /// Where another camera (added or discovered) claims the same serial number with a different
    /// MAC address. Two devices are never merged on such a claim; the conflict is shown instead.
    #[serde(default)]
    pub conflict_with: Option<DeviceAddress>,
}

/// How two cameras' claims about themselves compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdentityMatch {
    /// The same serial number from the same maker, and no MAC address that says otherwise.
    Same,
    /// Both serial numbers are known and differ: two cameras, whatever their MAC addresses say
    /// (cheap cameras and cloned firmware share MACs).
    Different,
    /// One serial number from the same maker but two different MAC addresses: two devices claim to
    /// be one camera. Never merged; shown.
    Conflict,
    /// Not enough is known (a serial number is missing).
    Unknown,
}

/// Compares two identities by serial number and maker first, MAC address second. Equal MACs alone
/// never make two devices one.
pub fn compare_identities(a: &DeviceIdentity, b: &DeviceIdentity) -> IdentityMatch {
    if a.serial.is_empty() || b.serial.is_empty() {
        return IdentityMatch::Unknown;
    }
    let same_maker = a.manufacturer.is_empty()
        || b.manufacturer.is_empty()
        || a.manufacturer.eq_ignore_ascii_case(&b.manufacturer);
    if a.serial != b.serial || !same_maker {
        return IdentityMatch::Different;
    }
    match (&a.mac, &b.mac) {
        (Some(x), Some(y)) if x != y => IdentityMatch::Conflict,
        _ => IdentityMatch::Same,
    }
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
    /// A forget-password flow started or moved on.
    RecoveryChanged {
        /// The flow as it is now.
        flow: Box<crate::recovery::flow::RecoveryFlow>,
    },
    /// A flow that ended a while ago is no longer listed (its record stays in the registry).
    RecoveryRemoved {
        /// Which flow.
        id: crate::recovery::flow::RecoveryId,
    },
}

/// Who did something, for the audit log: the GUI user, a D-Bus caller by uid, or vigild itself.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Actor {
    /// The installer at the monitor, logged in as `user`.
    Gui {
        /// The NVR user name.
        user: String,
    },
    /// A local program on D-Bus.
    Dbus {
        /// Its uid, as the bus reports it.
        uid: u32,
    },
    /// vigild on its own behalf (demo mode, resuming after a restart).
    System,
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Actor::Gui { user } => write!(f, "gui:{user}"),
            Actor::Dbus { uid } => write!(f, "dbus:uid={uid}"),
            Actor::System => f.write_str("system"),
        }
    }
}

/// The security actions the audit log records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditAction {
    /// A camera in factory state was activated.
    Activation,
    /// A verification code was sent (by the camera, or by the vendor for a QR scan).
    CodeSent,
    /// A wrong verification or support code was entered.
    WrongCode,
    /// A camera's password was reset with a code.
    Reset,
    /// An added, not certified camera was removed so its password could be reset.
    RemovalBeforeReset,
    /// A new password was pushed to a certified camera with its current one.
    PasswordPush,
    /// A new code (a fresh challenge) was asked of the camera in a forget-password flow.
    NewCode,
    /// A forget-password flow was cancelled.
    RecoveryCancelled,
    /// The recorder itself was activated (its admin account created).
    NvrActivation,
    /// The recorder's admin account locked after wrong passwords.
    NvrLocked,
    /// The recorder's account lockout was cleared by an administrator.
    NvrLockoutCleared,
    /// Two-factor login was turned on for the recorder's account.
    NvrTotpOn,
    /// Two-factor login was turned off for the recorder's account.
    NvrTotpOff,
}

impl AuditAction {
    /// The stable name stored in the log.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::Activation => "activation",
            AuditAction::CodeSent => "code_sent",
            AuditAction::WrongCode => "wrong_code",
            AuditAction::Reset => "reset",
            AuditAction::RemovalBeforeReset => "removal_before_reset",
            AuditAction::PasswordPush => "password_push",
            AuditAction::NewCode => "new_code",
            AuditAction::RecoveryCancelled => "recovery_cancelled",
            AuditAction::NvrActivation => "nvr_activation",
            AuditAction::NvrLocked => "nvr_locked",
            AuditAction::NvrLockoutCleared => "nvr_lockout_cleared",
            AuditAction::NvrTotpOn => "nvr_totp_on",
            AuditAction::NvrTotpOff => "nvr_totp_off",
        }
    }

    /// The inverse of [`AuditAction::as_str`].
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "activation" => AuditAction::Activation,
            "code_sent" => AuditAction::CodeSent,
            "wrong_code" => AuditAction::WrongCode,
            "reset" => AuditAction::Reset,
            "removal_before_reset" => AuditAction::RemovalBeforeReset,
            "password_push" => AuditAction::PasswordPush,
            "new_code" => AuditAction::NewCode,
            "recovery_cancelled" => AuditAction::RecoveryCancelled,
            "nvr_activation" => AuditAction::NvrActivation,
            "nvr_locked" => AuditAction::NvrLocked,
            "nvr_lockout_cleared" => AuditAction::NvrLockoutCleared,
            "nvr_totp_on" => AuditAction::NvrTotpOn,
            "nvr_totp_off" => AuditAction::NvrTotpOff,
            _ => return None,
        })
    }
}

/// One audit log entry. It never holds a secret, a code or a password.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Position in the log, from 1.
    pub id: i64,
    /// When.
    pub at: SystemTime,
    /// Who (see [`Actor`]).
    pub actor: String,
    /// What.
    pub action: AuditAction,
    /// Which camera: serial and address.
    pub camera: String,
    /// How it ended.
    pub outcome: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity(serial: &str, mac: Option<&str>) -> DeviceIdentity {
        DeviceIdentity {
            manufacturer: "Acme".into(),
            model: "C1".into(),
            firmware: String::new(),
            serial: serial.into(),
            mac: mac.map(str::to_owned),
        }
    }

    #[test]
    fn serial_numbers_decide_and_equal_macs_never_merge_two_cameras() {
        let mac = Some("00:11:22:33:44:55");
        assert_eq!(
            compare_identities(&identity("A1", mac), &identity("A2", mac)),
            IdentityMatch::Different
        );
        assert_eq!(
            compare_identities(&identity("A1", mac), &identity("A1", mac)),
            IdentityMatch::Same
        );
        assert_eq!(
            compare_identities(&identity("A1", None), &identity("A1", mac)),
            IdentityMatch::Same
        );
        assert_eq!(
            compare_identities(
                &identity("A1", mac),
                &identity("A1", Some("00:11:22:33:44:66"))
            ),
            IdentityMatch::Conflict
        );
        assert_eq!(
            compare_identities(&identity("", mac), &identity("A1", mac)),
            IdentityMatch::Unknown
        );
    }
}
