//! The audit log's nouns: who did something (the menu's user, a D-Bus caller, vigild itself), which
//! security action, and one entry as stored. Never a secret, a code or a password.

use std::fmt;
use std::time::SystemTime;

use secrecy::SecretString;
use serde::{Deserialize, Serialize};

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

/// Who asks the service for a change, with what vouches for them. The service turns it into the
/// [`Actor`] it audits, and refuses a menu caller whose login session has ended.
#[derive(Debug, Clone)]
pub enum Caller {
    /// The installer at the monitor, with the menu's login session token. Refused with
    /// `SessionExpired` once the session has ended (idle too long, logged out, password reset).
    Menu {
        /// The session's token, as the login gave it.
        session: SecretString,
    },
    /// A caller its face has already authorized, acting as `Actor`: a D-Bus caller by uid after the
    /// bus's credentials check, vigild itself, or a program embedding the service.
    Authorized(Actor),
}

impl From<Actor> for Caller {
    fn from(actor: Actor) -> Self {
        Caller::Authorized(actor)
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
    /// A camera was added to the registry.
    CameraAdded,
    /// A camera was removed from the registry.
    CameraRemoved,
    /// An added camera's stored user name and password were replaced.
    CredentialsEdited,
    /// A forget-password flow began.
    RecoveryStarted,
    /// An added camera was moved to another channel.
    ChannelMoved,
    /// An added camera was given a name.
    CameraRenamed,
    /// A camera's network settings were changed (Edit IP), or an added camera was found at a new
    /// address.
    NetworkChanged,
    /// A camera was rebooted.
    CameraRebooted,
    /// A camera's factory defaults were restored.
    FactoryDefaults,
    /// A camera's clock was set, or pointed at an NTP server.
    ClockSet,
    /// Plug and play took in (or could not take in) a camera that appeared on the camera network.
    PlugAndPlay,
    /// The recorder's mail server was set (never its password, only whether it changed).
    MailServerChanged,
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
            AuditAction::CameraAdded => "camera_added",
            AuditAction::CameraRemoved => "camera_removed",
            AuditAction::CredentialsEdited => "credentials_edited",
            AuditAction::RecoveryStarted => "recovery_started",
            AuditAction::ChannelMoved => "channel_moved",
            AuditAction::CameraRenamed => "camera_renamed",
            AuditAction::NetworkChanged => "network_changed",
            AuditAction::CameraRebooted => "camera_rebooted",
            AuditAction::FactoryDefaults => "factory_defaults",
            AuditAction::ClockSet => "clock_set",
            AuditAction::PlugAndPlay => "plug_and_play",
            AuditAction::MailServerChanged => "mail_server_changed",
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
            "camera_added" => AuditAction::CameraAdded,
            "camera_removed" => AuditAction::CameraRemoved,
            "credentials_edited" => AuditAction::CredentialsEdited,
            "recovery_started" => AuditAction::RecoveryStarted,
            "channel_moved" => AuditAction::ChannelMoved,
            "camera_renamed" => AuditAction::CameraRenamed,
            "network_changed" => AuditAction::NetworkChanged,
            "camera_rebooted" => AuditAction::CameraRebooted,
            "factory_defaults" => AuditAction::FactoryDefaults,
            "clock_set" => AuditAction::ClockSet,
            "plug_and_play" => AuditAction::PlugAndPlay,
            "mail_server_changed" => AuditAction::MailServerChanged,
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
