//! D-Bus error names (`org.vigil.Nvr1.Error.*`) for every refusal of the service API. The message is the
//! service's own human text, which never holds a secret.

use crate::service::NvrError;

/// Errors as D-Bus clients see them.
#[derive(Debug, zbus::DBusError)]
#[zbus(prefix = "org.vigil.Nvr1.Error")]
pub enum DbusError {
    /// The caller may not do this.
    NotAuthorized(String),
    /// An argument is wrong: empty, too long, wrong form, unknown id.
    InvalidArgument(String),
    /// No such camera, device or flow.
    NotFound(String),
    /// Already added.
    Duplicate(String),
    /// The camera does not answer.
    Unreachable(String),
    /// The camera rejected the user name or password.
    CredentialsRejected(String),
    /// The camera locked the user.
    Locked(String),
    /// The camera is in factory state.
    Inactive(String),
    /// The camera is already activated.
    AlreadyActive(String),
    /// The camera refused, or answered something unreadable.
    CameraError(String),
    /// The NVR could not save the change.
    StorageError(String),
    /// Discovery could not start.
    DiscoveryFailed(String),
    /// vigild is stopping.
    ShuttingDown(String),
    /// A reset is already in progress for this camera.
    RecoveryInProgress(String),
    /// The camera does not support recovery from the NVR.
    NotSupported(String),
    /// A flow step out of order.
    WrongStep(String),
    /// The flow (or the permission to reset) expired.
    Expired(String),
    /// Send Code without internet: use the QR code.
    NoInternet(String),
    /// The camera has no reset email.
    NoResetEmail(String),
    /// Too many codes sent or requested; try later.
    RateLimited(String),
    /// The camera could not email the code.
    MailFailed(String),
    /// A wrong code; the message says how many attempts are left.
    CodeInvalid(String),
    /// Too many wrong codes for this challenge.
    CodeAttemptsExhausted(String),
    /// The code expired.
    CodeExpired(String),
    /// The code was used or replaced.
    CodeUsed(String),
    /// The password breaks the policy; the message names every unmet rule.
    PolicyViolation(String),
    /// Password and confirmation differ.
    PasswordMismatch(String),
    /// The camera is not certified.
    NotCertified(String),
    /// The audit log was changed.
    AuditTampered(String),
    /// The recorder itself is not activated yet.
    NotActivated(String),
    /// A wrong user name or password for the recorder's account.
    LoginFailed(String),
    /// No channel is free, or the channel asked for holds another camera.
    NoFreeChannel(String),
    /// Something inside vigild failed.
    Failed(String),
}

impl From<NvrError> for DbusError {
    fn from(error: NvrError) -> Self {
        let text = error.to_string();
        match error {
            NvrError::InvalidArgument { .. } => DbusError::InvalidArgument(text),
            NvrError::CameraNotFound(_)
            | NvrError::DeviceNotFound(_)
            | NvrError::RecoveryNotFound(_) => DbusError::NotFound(text),
            NvrError::NoFreeChannel { .. } | NvrError::ChannelTaken { .. } => {
                DbusError::NoFreeChannel(text)
            }
            NvrError::Duplicate { .. } | NvrError::SerialConflict { .. } => {
                DbusError::Duplicate(text)
            }
            NvrError::Unreachable { .. } => DbusError::Unreachable(text),
            NvrError::CredentialsRejected => DbusError::CredentialsRejected(text),
            NvrError::CameraLocked { .. } => DbusError::Locked(text),
            NvrError::CameraInactive => DbusError::Inactive(text),
            NvrError::AlreadyActive => DbusError::AlreadyActive(text),
            NvrError::CameraRefused(_)
            | NvrError::CameraProtocol(_)
            | NvrError::CameraClock(_)
            | NvrError::CameraBusy(_)
            | NvrError::AuthenticationOff => DbusError::CameraError(text),
            NvrError::Storage(_) => DbusError::StorageError(text),
            NvrError::Discovery(_) => DbusError::DiscoveryFailed(text),
            NvrError::ShuttingDown => DbusError::ShuttingDown(text),
            NvrError::RecoveryInProgress { .. } => DbusError::RecoveryInProgress(text),
            NvrError::RecoveryNotSupported | NvrError::NoDeviceSecret => {
                DbusError::NotSupported(text)
            }
            NvrError::RecoveryWrongStep(_) => DbusError::WrongStep(text),
            NvrError::RecoveryExpired => DbusError::Expired(text),
            NvrError::NoInternet => DbusError::NoInternet(text),
            NvrError::NoResetEmail => DbusError::NoResetEmail(text),
            NvrError::SendLimit { .. }
            | NvrError::ChallengeLimit { .. }
            | NvrError::SupportLocked => DbusError::RateLimited(text),
            NvrError::MailFailed(_) => DbusError::MailFailed(text),
            NvrError::CodeInvalid { .. } => DbusError::CodeInvalid(text),
            NvrError::CodeAttemptsExhausted => DbusError::CodeAttemptsExhausted(text),
            NvrError::CodeExpired => DbusError::CodeExpired(text),
            NvrError::ChallengeReplaced | NvrError::CodeUsed => DbusError::CodeUsed(text),
            NvrError::PolicyViolation { .. } => DbusError::PolicyViolation(text),
            NvrError::PasswordMismatch => DbusError::PasswordMismatch(text),
            NvrError::NotCertified { .. } | NvrError::SettingsNeedCertified { .. } => {
                DbusError::NotCertified(text)
            }
            NvrError::AuditTampered { .. } => DbusError::AuditTampered(text),
            NvrError::NvrNotActivated => DbusError::NotActivated(text),
            NvrError::NvrAlreadyActivated => DbusError::AlreadyActive(text),
            NvrError::AccountLocked { .. } => DbusError::Locked(text),
            NvrError::LoginFailed { .. } => DbusError::LoginFailed(text),
            NvrError::SessionExpired => DbusError::NotAuthorized(text),
            NvrError::MailServer(_) | NvrError::NoMailServer => DbusError::MailFailed(text),
        }
    }
}

impl From<zbus::Error> for DbusError {
    fn from(error: zbus::Error) -> Self {
        DbusError::Failed(error.to_string())
    }
}

impl From<zbus::fdo::Error> for DbusError {
    fn from(error: zbus::fdo::Error) -> Self {
        DbusError::Failed(error.to_string())
    }
}

/// A D-Bus method result.
pub type DbusResult<T> = Result<T, DbusError>;
