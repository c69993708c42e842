//! Why a command of the service API was refused: one error kind per reason, each message saying why and
//! what to do next, never holding a secret; and the reading of a camera's answer into that kind.

use std::time::Duration;

use crate::camera::CameraError;
use crate::model::{AddressError, CameraId, DeviceAddress, RecoveryId};
use crate::rules::policy::PolicyRule;
use crate::store::StoreError;

/// What is wrong with an argument, as a kind the menu says in its language; D-Bus and the log get the
/// English words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArgumentProblem {
    /// Nothing was given.
    #[error("is empty")]
    Empty,
    /// Longer than allowed.
    #[error("is longer than {max} characters")]
    TooLong {
        /// The most characters allowed.
        max: usize,
    },
    /// Spaces at its ends, or control characters.
    #[error("has spaces at its ends or control characters")]
    BadCharacters,
    /// Not an email address.
    #[error("is not an address such as name@example.com")]
    NotEmailAddress,
    /// Not a code of the right number of digits.
    #[error("must be {digits} digits")]
    NotDigits {
        /// How many digits the code has.
        digits: usize,
    },
    /// Not an IPv4 address.
    #[error("is not an IPv4 address such as 192.168.1.64")]
    NotIpv4Address,
    /// A subnet mask that is not ones then zeros, or out of range.
    #[error("is not a subnet mask such as 255.255.255.0")]
    MaskNotContiguous,
    /// The subnet's own address or its broadcast address.
    #[error("is the subnet's own or broadcast address, not one a camera can have")]
    NotHostAddress,
    /// Outside the subnet it must be in.
    #[error("is outside the subnet {subnet}")]
    OutsideSubnet {
        /// That subnet, `192.168.1.0/24`.
        subnet: String,
    },
    /// Another added camera is at that address.
    #[error("is the address of the added camera {camera}")]
    AddressTaken {
        /// That camera, as the menu names it.
        camera: String,
    },
    /// Anything else, in English words that name no secret.
    #[error("{0}")]
    Other(String),
}

/// Which password of a command broke the policy, for commands that take more than one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordField {
    /// The new password the command sets (a camera's, or the recorder admin's).
    Password,
    /// The recorder's default password for activating cameras in factory state.
    DefaultCameraPassword,
}

impl std::fmt::Display for PasswordField {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Password => "password",
            Self::DefaultCameraPassword => "default camera password",
        })
    }
}

/// Why a command was refused. Every message says why and what to do next, and never holds a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NvrError {
    /// An argument is wrong.
    #[error("{field}: {problem}")]
    InvalidArgument {
        /// Which argument: a stable key the menu names in its own words ("user name", "port").
        field: &'static str,
        /// What is wrong with it.
        problem: ArgumentProblem,
    },
    /// No added camera with that id.
    #[error("there is no added camera with id {0}; refresh the list")]
    CameraNotFound(CameraId),
    /// No discovered device with that key.
    #[error("device {0} is no longer in the discovered list; refresh discovery")]
    DeviceNotFound(String),
    /// Another added camera claims the same serial number with a different MAC address.
    #[error(
        "added camera {existing} at {address} claims the same serial number with a different MAC address: two devices claim to be one camera; check both (a cloned or misconfigured camera) before adding"
    )]
    SerialConflict {
        /// The added camera whose serial number this one claims.
        existing: CameraId,
        /// Where that camera is.
        address: String,
    },
    /// Every channel holds a camera.
    #[error(
        "all {channels} channels hold a camera; remove a camera, or raise [cameras] channels (up to 256)"
    )]
    NoFreeChannel {
        /// The recorder's channel count.
        channels: u16,
    },
    /// Another camera is on the channel asked for.
    #[error(
        "channel D{channel} holds camera {holder}; choose a free channel, or move that camera first"
    )]
    ChannelTaken {
        /// The channel.
        channel: u16,
        /// The camera on it.
        holder: CameraId,
    },
    /// The camera is already added.
    #[error("this camera is already added (id {existing}, same {what})")]
    Duplicate {
        /// The camera it duplicates.
        existing: CameraId,
        /// What matched: address, serial number or endpoint.
        what: &'static str,
    },
    /// Nothing answers at the address.
    #[error("no camera answers at {address} ({detail}); check the address, port and cabling")]
    Unreachable {
        /// The address tried.
        address: String,
        /// Timed out, refused...
        detail: String,
    },
    /// The camera rejected the user name or password.
    #[error("the camera rejected the user name or password; check them, or use Forget Password")]
    CredentialsRejected,
    /// The camera has locked the user.
    #[error("{}", locked_message(*.retry_after))]
    CameraLocked {
        /// How long it says the lock lasts.
        retry_after: Option<Duration>,
    },
    /// The camera is in factory state.
    #[error("the camera is inactive (factory state); activate it with a new admin password first")]
    CameraInactive,
    /// The camera refused for another reason, in its own words.
    #[error("the camera refused: {0}")]
    CameraRefused(String),
    /// The camera refused the login's timestamp: its clock is off.
    #[error(
        "the camera refused the login because its clock is off ({0}); set the camera's date and time (or turn on NTP on it), then try again"
    )]
    CameraClock(String),
    /// The camera lets anyone in, so a user name and password cannot be checked.
    #[error(
        "the camera answers without any login (its user authentication is off), so it cannot check a user name and password; turn authentication on in the camera's own settings, then add it"
    )]
    AuthenticationOff,
    /// The camera answered with a server error: busy, starting or failing.
    #[error(
        "the camera answered with a server error ({0}); it may be starting up: try again in a minute"
    )]
    CameraBusy(String),
    /// The camera's reply could not be understood.
    #[error("the camera's reply could not be understood ({0}); it may not be an ONVIF device")]
    CameraProtocol(String),
    /// The registry could not be written. Nothing was changed.
    #[error("the NVR could not save the change ({0}); nothing was changed")]
    Storage(String),
    /// Discovery could not start.
    #[error("discovery could not start: {0}")]
    Discovery(String),
    /// The service is stopping.
    #[error("the NVR service is shutting down")]
    ShuttingDown,
    /// Someone is already resetting this camera's password.
    #[error(
        "a password reset for this camera is already in progress (flow {flow}); finish or cancel it first"
    )]
    RecoveryInProgress {
        /// The flow in progress.
        flow: RecoveryId,
    },
    /// No such flow.
    #[error("there is no password reset with id {0}; start Forget Password again")]
    RecoveryNotFound(RecoveryId),
    /// The camera does not implement the recovery protocol.
    #[error(
        "this camera does not support password reset from the NVR; use its own reset button or web page"
    )]
    RecoveryNotSupported,
    /// A flow step out of order.
    #[error("{0}")]
    RecoveryWrongStep(&'static str),
    /// The flow ran out of time.
    #[error("this password reset has expired; start Forget Password again")]
    RecoveryExpired,
    /// Send Code without internet.
    #[error(
        "the camera cannot reach the internet to email the code; scan the QR code with the phone app instead"
    )]
    NoInternet,
    /// The camera has no reset email.
    #[error(
        "the camera has no reset email; ask the vendor's support for a code with the serial number and date shown"
    )]
    NoResetEmail,
    /// Too many sends.
    #[error("{}", wait_message("three codes were already sent in ten minutes", *.retry_after))]
    SendLimit {
        /// When a send is allowed again.
        retry_after: Option<Duration>,
    },
    /// Too many challenges.
    #[error("{}", wait_message("too many codes were asked for this hour", *.retry_after))]
    ChallengeLimit {
        /// When a new challenge is allowed.
        retry_after: Option<Duration>,
    },
    /// The camera could not email the code.
    #[error("the camera could not email the code ({0}); try the QR code with the phone app")]
    MailFailed(String),
    /// A wrong code.
    #[error("the code is not right; {attempts_left} attempts left")]
    CodeInvalid {
        /// Wrong entries left.
        attempts_left: u32,
    },
    /// Five wrong codes.
    #[error("too many wrong codes; get a new code")]
    CodeAttemptsExhausted,
    /// The code expired.
    #[error("the code has expired; get a new code")]
    CodeExpired,
    /// The camera replaced the challenge (reboot or another request).
    #[error("the camera restarted or issued a newer code; get a new code")]
    ChallengeReplaced,
    /// The code was used already.
    #[error("this code was already used; get a new code")]
    CodeUsed,
    /// Too many wrong support codes today.
    #[error("too many wrong support codes today; try again tomorrow")]
    SupportLocked,
    /// A new password breaks the policy; the field and every failing rule are named.
    #[error("the {field} does not meet the policy: {}", explain_rules(.unmet))]
    PolicyViolation {
        /// Which of the command's passwords it is.
        field: PasswordField,
        /// The rules it fails.
        unmet: Vec<PolicyRule>,
    },
    /// Password and confirmation differ.
    #[error("the password and its confirmation are not the same")]
    PasswordMismatch,
    /// Change Password on a camera that is not certified.
    #[error(
        "camera {camera} is not certified, so its password cannot be changed with the current one; use Forget Password"
    )]
    NotCertified {
        /// The camera.
        camera: CameraId,
    },
    /// A change to a camera's own settings (network, clock, reboot, factory defaults) needs its stored
    /// credentials to work, and they do not now.
    #[error(
        "camera {camera} is not certified, so the recorder cannot log in to change its settings; fix its password first (Edit, or Forget Password)"
    )]
    SettingsNeedCertified {
        /// The camera.
        camera: CameraId,
    },
    /// Activation of a camera that is already active.
    #[error("the camera is already activated; add it with its password, or use Forget Password")]
    AlreadyActive,
    /// The recorder has no device secret from its vendor, so codes for the QR and support paths
    /// cannot be made.
    #[error(
        "this recorder has no device secret from its vendor, so the QR code and the support code cannot be used; use the reserved email"
    )]
    NoDeviceSecret,
    /// The recorder has no mail server to send with.
    #[error("no mail server is set on the recorder; fill in Settings > Network > Email first")]
    NoMailServer,
    /// The recorder has no admin account yet.
    #[error("the recorder is not activated yet; activate it first")]
    NvrNotActivated,
    /// The recorder already has its admin account.
    #[error("the recorder is already activated")]
    NvrAlreadyActivated,
    /// The recorder's account is locked after wrong passwords.
    #[error("{}", account_locked_message(*.retry_after))]
    AccountLocked {
        /// How long until it unlocks.
        retry_after: Option<Duration>,
    },
    /// A wrong user name or password (never which of the two).
    #[error(
        "the user name or password is wrong; {attempts_left} attempts left before the account locks"
    )]
    LoginFailed {
        /// Wrong passwords left before the lock.
        attempts_left: u32,
    },
    /// The recorder's own mail server failed; the text says what to fix.
    #[error("{0}")]
    MailServer(crate::mail::MailError),
    /// The login session is unknown or ended after inactivity.
    #[error("the session has ended; log in again")]
    SessionExpired,
    #[error("the audit log was tampered with at entry {entry}")]
    AuditTampered {
        /// The first entry that does not verify.
        entry: i64,
    },
}

fn wait_message(what: &str, retry_after: Option<Duration>) -> String {
    match retry_after {
        Some(d) if d.as_secs() >= 60 => format!(
            "{what}; try again in about {} minutes",
            d.as_secs().div_ceil(60)
        ),
        Some(d) => format!("{what}; try again in {} seconds", d.as_secs().max(1)),
        None => format!("{what}; try again later"),
    }
}

fn explain_rules(unmet: &[PolicyRule]) -> String {
    unmet
        .iter()
        .map(|r| r.describe())
        .collect::<Vec<_>>()
        .join("; ")
}

fn account_locked_message(retry_after: Option<Duration>) -> String {
    match retry_after {
        Some(d) if d.as_secs() >= 60 => format!(
            "the account is locked after too many wrong passwords; try again in about {} minutes, or use Forgot Password",
            d.as_secs().div_ceil(60)
        ),
        Some(d) => format!(
            "the account is locked after too many wrong passwords; try again in {} seconds",
            d.as_secs().max(1)
        ),
        None => "the account is locked after too many wrong passwords; try again later".to_owned(),
    }
}

fn locked_message(retry_after: Option<Duration>) -> String {
    let wait = match retry_after {
        Some(d) if d.as_secs() >= 60 => format!("about {} minutes", d.as_secs().div_ceil(60)),
        Some(d) => format!("about {} seconds", d.as_secs().max(1)),
        None => "a while (often 30 minutes)".to_owned(),
    };
    format!(
        "the camera locked this user after failed logins; wait {wait} and try again, or use Forget Password"
    )
}

impl From<StoreError> for NvrError {
    fn from(error: StoreError) -> Self {
        NvrError::Storage(error.to_string())
    }
}

/// What a camera's answer means to the caller of a command on `address`.
pub fn camera_error(error: CameraError, address: &DeviceAddress) -> NvrError {
    match error {
        CameraError::Offline(detail) => NvrError::Unreachable {
            address: address.to_string(),
            detail,
        },
        CameraError::CredentialsRejected | CameraError::CredentialsRequired => {
            NvrError::CredentialsRejected
        }
        CameraError::Locked { retry_after } => NvrError::CameraLocked { retry_after },
        CameraError::Refused { reason, .. } => NvrError::CameraRefused(reason),
        CameraError::ClockRejected(words) => NvrError::CameraClock(words),
        CameraError::Inactive => NvrError::CameraInactive,
        CameraError::AuthenticationOff => NvrError::AuthenticationOff,
        CameraError::Unavailable(detail) | CameraError::DeviceFault(detail) => {
            NvrError::CameraBusy(detail)
        }
        CameraError::BadReply(detail) => NvrError::CameraProtocol(detail),
        CameraError::NotOffered(what) => {
            NvrError::CameraRefused(format!("this camera does not offer {what}"))
        }
    }
}

pub(crate) fn address_error(error: AddressError) -> NvrError {
    let field = match error {
        AddressError::BadPort => "port",
        _ => "host",
    };
    NvrError::InvalidArgument {
        field,
        problem: ArgumentProblem::Other(error.to_string()),
    }
}
