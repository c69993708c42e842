//! Turns the service's nouns into the rows and failures of the UI contract (ui/api.slint): added
//! cameras, discovered devices, password checks and errors. Pure conversions, no Slint window needed.

use std::time::Duration;

use slint::SharedString;

use super::ui::{
    AddedRow, CameraStatus, DiscoveredRow, Failure, PasswordCheck, PlugAndPlay, Problem,
    PushResult, StatusReason,
};
use crate::model::{AddedCamera, CameraId, CameraState, DiscoveredDevice, ReasonKind};
use crate::rules::policy::{Assessment, PolicyRule, Strength};
use crate::service::{ArgumentProblem, NvrError, PasswordField, PlugAndPlayOutcome};

/// The name an installer knows a camera by: its model, or its address when the model is unknown.
pub fn camera_name(camera: &AddedCamera) -> String {
    if camera.identity.model.is_empty() {
        camera.address.to_string()
    } else {
        camera.identity.model.clone()
    }
}

/// A camera as a notice names it: model and serial number, so two of one model differ (a serial
/// number that starts with the model, as Hikvision's do, says both).
pub fn notice_name(camera: &AddedCamera) -> String {
    let identity = &camera.identity;
    match (identity.model.is_empty(), identity.serial.is_empty()) {
        (false, false) if identity.serial.starts_with(&identity.model) => identity.serial.clone(),
        (false, false) => format!("{} {}", identity.model, identity.serial),
        (false, true) => format!("{} {}", camera.identity.model, camera.address),
        _ => camera_name(camera),
    }
}

/// An added camera as the wizard names it: channel, name and address.
pub fn wizard_name(camera: &AddedCamera) -> String {
    format!(
        "{} {} ({})",
        camera.channel_label(),
        camera.display_name(),
        camera.address
    )
}

/// One row of Added Devices; `selected` is kept from the row it replaces. `clock_drift` says whether
/// its clock is past the recorder's limit.
pub fn added_row(
    camera: &AddedCamera,
    lock_left: Option<Duration>,
    selected: bool,
    clock_drift: bool,
) -> AddedRow {
    let status = &camera.status;
    let locked_minutes = lock_left.map_or(0, |left| left.as_secs().div_ceil(60) as i32);
    AddedRow {
        id: camera.id.0.to_string().into(),
        channel: camera.channel_label().into(),
        name: camera.display_name().into(),
        model: if camera.identity.model.is_empty() {
            "ONVIF camera".into()
        } else {
            camera.identity.model.clone().into()
        },
        address: camera.address.to_string().into(),
        serial: camera.identity.serial.clone().into(),
        serial_hint: serial_hint(&camera.identity.serial).into(),
        status: camera_status(status.state),
        rejected: status.credentials_rejected,
        reason: status_reason(status.last_error.as_ref().map(|r| r.kind)),
        locked_minutes,
        detail: status
            .last_error
            .as_ref()
            .map(|r| r.words.as_str())
            .unwrap_or_default()
            .into(),
        selected,
        protocol: camera.protocol.label().into(),
        clock_offset: seconds_for_ui(camera.clock_offset_secs),
        clock_drift,
    }
}

/// Characters of a long serial number shown under the model: its end, which tells two cameras apart
/// (Hikvision's run to 37 characters, model first).
const SERIAL_HINT_CHARS: usize = 10;

/// The serial number as it is shown under the model: whole, or its last characters after "…".
pub fn serial_hint(serial: &str) -> String {
    let count = serial.chars().count();
    if count <= SERIAL_HINT_CHARS + 2 {
        return serial.to_owned();
    }
    let tail: String = serial.chars().skip(count - SERIAL_HINT_CHARS).collect();
    format!("…{tail}")
}

/// Seconds as the UI's 32-bit ints hold them, clamped.
pub fn seconds_for_ui(secs: i64) -> i32 {
    i32::try_from(secs).unwrap_or(if secs < 0 { i32::MIN } else { i32::MAX })
}

/// A reason kind as the UI knows it.
pub fn status_reason(kind: Option<ReasonKind>) -> StatusReason {
    match kind {
        None => StatusReason::None,
        Some(ReasonKind::CredentialsRejected) => StatusReason::CredentialsRejected,
        Some(ReasonKind::PasswordUnreadable) => StatusReason::PasswordUnreadable,
        Some(ReasonKind::Locked) => StatusReason::Locked,
        Some(ReasonKind::LockedAgain) => StatusReason::LockedAgain,
        Some(ReasonKind::Offline) => StatusReason::Offline,
        Some(ReasonKind::ServerError) => StatusReason::ServerError,
        Some(ReasonKind::ClockRejected) => StatusReason::ClockRejected,
        Some(ReasonKind::UnreadableReplies) => StatusReason::UnreadableReplies,
        Some(ReasonKind::Refused) => StatusReason::Refused,
        Some(ReasonKind::PasswordUnconfirmed) => StatusReason::PasswordUnconfirmed,
        Some(ReasonKind::FactoryState) => StatusReason::FactoryState,
        Some(ReasonKind::AnotherCamera) => StatusReason::AnotherCamera,
    }
}

/// A camera state as the UI knows it.
pub fn camera_status(state: CameraState) -> CameraStatus {
    match state {
        CameraState::Online => CameraStatus::Online,
        CameraState::NotCertified => CameraStatus::NotCertified,
        CameraState::Locked => CameraStatus::Locked,
        CameraState::Offline => CameraStatus::Offline,
    }
}

/// What a discovered device is called in the menu: its model as Added Devices names it, or what is
/// known.
pub fn device_model(device: &DiscoveredDevice) -> String {
    if device.identity.model.is_empty() {
        if device.information_complete {
            "ONVIF camera".to_owned()
        } else {
            "ONVIF camera (model after login)".to_owned()
        }
    } else {
        device.identity.model.clone()
    }
}

/// One row of Discovered Devices. `added_state` is the state of the added camera it is, if any;
/// `plugged` what plug and play made of it, if it could not take it in.
pub fn discovered_row(
    device: &DiscoveredDevice,
    added_state: Option<CameraState>,
    plugged: Option<PlugAndPlayOutcome>,
) -> DiscoveredRow {
    let model = device_model(device);
    DiscoveredRow {
        key: device.key.clone().into(),
        model: model.into(),
        address: device.address.to_string().into(),
        serial: device.identity.serial.clone().into(),
        firmware: device.identity.firmware.clone().into(),
        inactive: device.inactive,
        added: device.added_as.is_some() && added_state.is_some(),
        added_not_certified: added_state.is_some_and(|state| state != CameraState::Online),
        added_status: camera_status(added_state.unwrap_or(CameraState::Online)),
        needs_login: !device.information_complete,
        conflict_with: device
            .conflict_with
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default()
            .into(),
        selected: false,
        // One per line, the one the recorder manages it with first.
        protocol: device.protocols.labels().join("\n").into(),
        other_subnet: device
            .other_subnet
            .as_ref()
            .map(|n| format!("{}/{}", n.address, n.prefix_len))
            .unwrap_or_default()
            .into(),
        plug_and_play: match plugged {
            None => PlugAndPlay::None,
            Some(PlugAndPlayOutcome::PasswordRefused) => PlugAndPlay::PasswordRefused,
            Some(PlugAndPlayOutcome::NotTakenIn) => PlugAndPlay::NotTakenIn,
        },
    }
}

/// The meter before anything is typed: no rule judged yet.
pub fn password_not_entered() -> PasswordCheck {
    PasswordCheck {
        entered: false,
        length: false,
        classes: false,
        no_user_name: true,
        not_common: true,
        no_repeats: true,
        no_sequences: true,
        no_control: true,
        strength: 0,
    }
}

/// The live verdict on a typed password, rule by rule, from the service's assessment.
pub fn password_check(assessment: &Assessment) -> PasswordCheck {
    let met = |rule: PolicyRule| !assessment.unmet.contains(&rule);
    PasswordCheck {
        entered: true,
        length: met(PolicyRule::Length),
        classes: met(PolicyRule::CharacterClasses),
        no_user_name: met(PolicyRule::ContainsUserName),
        not_common: met(PolicyRule::CommonPassword),
        no_repeats: met(PolicyRule::RepeatedCharacters),
        no_sequences: met(PolicyRule::SequentialCharacters),
        no_control: met(PolicyRule::ControlCharacters),
        strength: match assessment.strength {
            Strength::Weak => 0,
            Strength::Fair => 1,
            Strength::Good => 2,
            Strength::Strong => 3,
        },
    }
}

/// The camera a row's id names, when it names one.
pub fn camera_id_of(id: &str) -> Option<CameraId> {
    id.trim()
        .parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .map(CameraId)
}

/// No failure.
pub fn no_failure() -> Failure {
    failure(Problem::None, 0, "")
}

/// A failure from its parts.
pub fn failure(problem: Problem, n: i32, detail: impl Into<SharedString>) -> Failure {
    Failure {
        problem,
        n,
        detail: detail.into(),
        field: SharedString::new(),
    }
}

/// A failure about one entry, named by its key (Texts.field-name says it in the menu's words).
pub fn field_failure(
    problem: Problem,
    n: i32,
    field: &str,
    detail: impl Into<SharedString>,
) -> Failure {
    Failure {
        field: field.into(),
        ..failure(problem, n, detail)
    }
}

/// What is wrong with an entry, as the number Texts.explain reads for Problem::InvalidInput, and the
/// words that go with it.
fn argument_problem(problem: &ArgumentProblem) -> (i32, String) {
    match problem {
        ArgumentProblem::Other(words) => (0, words.clone()),
        ArgumentProblem::Empty => (1, String::new()),
        ArgumentProblem::TooLong { max } => (2, max.to_string()),
        ArgumentProblem::BadCharacters => (3, String::new()),
        ArgumentProblem::NotEmailAddress => (4, String::new()),
        ArgumentProblem::NotDigits { digits } => (5, digits.to_string()),
        ArgumentProblem::NotIpv4Address => (6, String::new()),
        ArgumentProblem::MaskNotContiguous => (7, String::new()),
        ArgumentProblem::NotHostAddress => (8, String::new()),
        ArgumentProblem::OutsideSubnet { subnet } => (9, subnet.clone()),
        ArgumentProblem::AddressTaken { camera } => (10, camera.clone()),
    }
}

/// A port as typed: a number from 1 to 65535, or `None`.
pub fn port_of(text: &str) -> Option<u16> {
    text.trim().parse::<u16>().ok().filter(|port| *port != 0)
}

fn minutes(retry_after: Option<Duration>) -> i32 {
    retry_after.map_or(0, |d| d.as_secs().div_ceil(60).min(24 * 60) as i32)
}

/// As [`failure_of`], for the recorder's own account, where code limits are the recorder's and not a
/// camera's.
pub fn account_failure_of(error: &NvrError) -> Failure {
    match error {
        NvrError::SendLimit { retry_after } | NvrError::ChallengeLimit { retry_after } => {
            failure(Problem::TooManyCodes, minutes(*retry_after), "")
        }
        other => failure_of(other),
    }
}

/// One camera's line in a list of outcomes (a password change, several adds).
pub fn push_result<T>(name: impl Into<SharedString>, result: &Result<T, NvrError>) -> PushResult {
    PushResult {
        name: name.into(),
        ok: result.is_ok(),
        failure: result.as_ref().err().map_or_else(no_failure, failure_of),
    }
}

/// A service error as a failure the UI translates. The detail carries only what the service's own
/// message shows (addresses, the camera's words), never a secret.
pub fn failure_of(error: &NvrError) -> Failure {
    use NvrError as E;
    match error {
        E::InvalidArgument { field, problem } => {
            let (kind, words) = argument_problem(problem);
            field_failure(Problem::InvalidInput, kind, field, words)
        }
        E::CameraNotFound(_) => failure(Problem::CameraNotFound, 0, ""),
        E::DeviceNotFound(_) => failure(Problem::DeviceNotFound, 0, ""),
        E::Duplicate { .. } => failure(Problem::Duplicate, 0, ""),
        E::NoFreeChannel { channels } => failure(Problem::NoFreeChannel, i32::from(*channels), ""),
        E::ChannelTaken { channel, .. } => failure(Problem::ChannelTaken, i32::from(*channel), ""),
        E::Unreachable { address, .. } => failure(Problem::Unreachable, 0, address.as_str()),
        E::CredentialsRejected => failure(Problem::CredentialsRejected, 0, ""),
        E::CameraLocked { retry_after } => {
            failure(Problem::CameraLocked, minutes(*retry_after), "")
        }
        E::CameraInactive => failure(Problem::CameraInactive, 0, ""),
        E::CameraRefused(detail) => failure(Problem::CameraRefused, 0, detail.as_str()),
        E::CameraClock(detail) => failure(Problem::CameraClock, 0, detail.as_str()),
        E::CameraBusy(detail) => failure(Problem::CameraBusy, 0, detail.as_str()),
        E::AuthenticationOff => failure(Problem::AuthenticationOff, 0, ""),
        E::SerialConflict { address, .. } => failure(Problem::SerialConflict, 0, address.as_str()),
        E::CameraProtocol(detail) => failure(Problem::CameraProtocol, 0, detail.as_str()),
        E::Storage(_) => failure(Problem::Storage, 0, ""),
        E::Discovery(detail) => failure(Problem::Discovery, 0, detail.as_str()),
        E::ShuttingDown => failure(Problem::ShuttingDown, 0, ""),
        E::RecoveryInProgress { .. } => failure(Problem::RecoveryInProgress, 0, ""),
        E::RecoveryNotFound(_) => failure(Problem::RecoveryNotFound, 0, ""),
        E::RecoveryNotSupported => failure(Problem::RecoveryNotSupported, 0, ""),
        E::RecoveryWrongStep(detail) => failure(Problem::WrongStep, 0, *detail),
        E::RecoveryExpired => failure(Problem::RecoveryExpired, 0, ""),
        E::NoInternet => failure(Problem::NoInternet, 0, ""),
        E::NoResetEmail => failure(Problem::NoResetEmail, 0, ""),
        E::SendLimit { retry_after } => failure(Problem::SendLimit, minutes(*retry_after), ""),
        E::ChallengeLimit { retry_after } => {
            failure(Problem::ChallengeLimit, minutes(*retry_after), "")
        }
        E::MailFailed(detail) => failure(Problem::MailFailed, 0, detail.as_str()),
        E::CodeInvalid { attempts_left } => {
            failure(Problem::CodeInvalid, *attempts_left as i32, "")
        }
        E::CodeAttemptsExhausted => failure(Problem::CodeAttemptsExhausted, 0, ""),
        E::CodeExpired => failure(Problem::CodeExpired, 0, ""),
        E::ChallengeReplaced => failure(Problem::ChallengeReplaced, 0, ""),
        E::CodeUsed => failure(Problem::CodeUsed, 0, ""),
        E::SupportLocked => failure(Problem::SupportLocked, 0, ""),
        E::PolicyViolation {
            field: PasswordField::Password,
            ..
        } => failure(Problem::PolicyViolation, 0, ""),
        E::PolicyViolation {
            field: PasswordField::DefaultCameraPassword,
            ..
        } => failure(Problem::DefaultCameraPolicy, 0, ""),
        E::PasswordMismatch => failure(Problem::PasswordMismatch, 0, ""),
        E::NotCertified { .. } => failure(Problem::NotCertified, 0, ""),
        E::SettingsNeedCertified { .. } => failure(Problem::SettingsNeedCertified, 0, ""),
        E::AlreadyActive => failure(Problem::AlreadyActive, 0, ""),
        E::NvrNotActivated => failure(Problem::NotActivated, 0, ""),
        E::NvrAlreadyActivated => failure(Problem::AlreadyActivated, 0, ""),
        E::AuditTampered { entry } => failure(Problem::AuditTampered, 0, entry.to_string()),
        E::LoginFailed { attempts_left } => {
            failure(Problem::LoginFailed, *attempts_left as i32, "")
        }
        E::AccountLocked { retry_after } => {
            failure(Problem::AccountLocked, minutes(*retry_after), "")
        }
        E::SessionExpired => failure(Problem::SessionExpired, 0, ""),
        E::NoDeviceSecret => failure(Problem::NoDeviceSecret, 0, ""),
        E::NoMailServer => failure(Problem::MailNotSet, 0, ""),
        E::MailServer(mail) => {
            use crate::mail::MailError as M;
            match mail {
                M::Unreachable(server) => failure(Problem::MailUnreachable, 0, server.as_str()),
                M::Timeout(server) => failure(Problem::MailTimeout, 0, server.as_str()),
                M::LoginRefused => failure(Problem::MailLogin, 0, ""),
                M::Tls => failure(Problem::MailTls, 0, ""),
                M::Rejected(code) => failure(Problem::MailRejected, 0, code.as_str()),
                M::BadAddress(address) => failure(Problem::MailBadAddress, 0, address.as_str()),
                M::Other(detail) => failure(Problem::MailSendFailed, 0, detail.as_str()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_serial_is_shown_by_its_end() {
        assert_eq!(
            serial_hint("DS-2CD2143G2-I20260101AAWRK000100001"),
            "…K000100001"
        );
        assert_eq!(serial_hint("VS0001000001"), "VS0001000001");
        assert_eq!(serial_hint("ABCDEFGHIJKL"), "ABCDEFGHIJKL");
    }

    #[test]
    fn the_meter_names_each_unmet_rule() {
        let check =
            |password: &str| password_check(&crate::rules::policy::assess(password, "admin"));
        let weak = check("admin1234");
        assert!(weak.entered);
        assert!(weak.length);
        assert!(!weak.no_user_name, "contains the user name");
        assert!(!weak.no_sequences, "1234 is sequential");
        assert_eq!(weak.strength, 0);
        let good = check("Harbour-Lamp-42");
        assert!(good.length && good.classes && good.no_user_name && good.not_common);
        assert!(good.strength >= 2);
        assert!(!password_not_entered().entered);
    }

    /// One of every kind the service refuses with. The match has no wildcard, so a kind added to
    /// [`NvrError`] does not compile here until it is listed (and so tested below).
    fn every_error_kind() -> Vec<NvrError> {
        use crate::mail::MailError;
        use crate::model::RecoveryId;
        let kinds = vec![
            NvrError::InvalidArgument {
                field: "port",
                problem: ArgumentProblem::Empty,
            },
            NvrError::CameraNotFound(CameraId(7)),
            NvrError::DeviceNotFound("urn:uuid:1".into()),
            NvrError::SerialConflict {
                existing: CameraId(1),
                address: "10.0.0.2".into(),
            },
            NvrError::Duplicate {
                existing: CameraId(1),
                what: "serial number",
            },
            NvrError::Unreachable {
                address: "10.0.0.9:80".into(),
                detail: "timed out".into(),
            },
            NvrError::NoFreeChannel { channels: 16 },
            NvrError::ChannelTaken {
                channel: 3,
                holder: CameraId(1),
            },
            NvrError::CredentialsRejected,
            NvrError::CameraLocked { retry_after: None },
            NvrError::CameraInactive,
            NvrError::CameraRefused("no".into()),
            NvrError::CameraClock("skew".into()),
            NvrError::AuthenticationOff,
            NvrError::CameraBusy("500".into()),
            NvrError::CameraProtocol("xml".into()),
            NvrError::Storage("disk".into()),
            NvrError::Discovery("socket".into()),
            NvrError::ShuttingDown,
            NvrError::RecoveryInProgress {
                flow: RecoveryId(3),
            },
            NvrError::RecoveryNotFound(RecoveryId(3)),
            NvrError::RecoveryNotSupported,
            NvrError::RecoveryWrongStep("verify the code first"),
            NvrError::RecoveryExpired,
            NvrError::NoInternet,
            NvrError::NoResetEmail,
            NvrError::SendLimit { retry_after: None },
            NvrError::ChallengeLimit { retry_after: None },
            NvrError::MailFailed("smtp".into()),
            NvrError::CodeInvalid { attempts_left: 2 },
            NvrError::CodeAttemptsExhausted,
            NvrError::CodeExpired,
            NvrError::ChallengeReplaced,
            NvrError::CodeUsed,
            NvrError::SupportLocked,
            NvrError::PolicyViolation {
                field: PasswordField::Password,
                unmet: vec![],
            },
            NvrError::PolicyViolation {
                field: PasswordField::DefaultCameraPassword,
                unmet: vec![],
            },
            NvrError::PasswordMismatch,
            NvrError::NotCertified {
                camera: CameraId(2),
            },
            NvrError::SettingsNeedCertified {
                camera: CameraId(2),
            },
            NvrError::AlreadyActive,
            NvrError::NoDeviceSecret,
            NvrError::NoMailServer,
            NvrError::NvrNotActivated,
            NvrError::NvrAlreadyActivated,
            NvrError::AccountLocked { retry_after: None },
            NvrError::LoginFailed { attempts_left: 1 },
            NvrError::MailServer(MailError::BadAddress("x".into())),
            NvrError::MailServer(MailError::Unreachable("mail".into())),
            NvrError::MailServer(MailError::Timeout("mail".into())),
            NvrError::MailServer(MailError::LoginRefused),
            NvrError::MailServer(MailError::Tls),
            NvrError::MailServer(MailError::Rejected("550".into())),
            NvrError::MailServer(MailError::Other("closed".into())),
            NvrError::SessionExpired,
            NvrError::AuditTampered { entry: 12 },
        ];
        for kind in &kinds {
            match kind {
                NvrError::InvalidArgument { .. }
                | NvrError::CameraNotFound(_)
                | NvrError::DeviceNotFound(_)
                | NvrError::SerialConflict { .. }
                | NvrError::Duplicate { .. }
                | NvrError::NoFreeChannel { .. }
                | NvrError::ChannelTaken { .. }
                | NvrError::Unreachable { .. }
                | NvrError::CredentialsRejected
                | NvrError::CameraLocked { .. }
                | NvrError::CameraInactive
                | NvrError::CameraRefused(_)
                | NvrError::CameraClock(_)
                | NvrError::AuthenticationOff
                | NvrError::CameraBusy(_)
                | NvrError::CameraProtocol(_)
                | NvrError::Storage(_)
                | NvrError::Discovery(_)
                | NvrError::ShuttingDown
                | NvrError::RecoveryInProgress { .. }
                | NvrError::RecoveryNotFound(_)
                | NvrError::RecoveryNotSupported
                | NvrError::RecoveryWrongStep(_)
                | NvrError::RecoveryExpired
                | NvrError::NoInternet
                | NvrError::NoResetEmail
                | NvrError::SendLimit { .. }
                | NvrError::ChallengeLimit { .. }
                | NvrError::MailFailed(_)
                | NvrError::CodeInvalid { .. }
                | NvrError::CodeAttemptsExhausted
                | NvrError::CodeExpired
                | NvrError::ChallengeReplaced
                | NvrError::CodeUsed
                | NvrError::SupportLocked
                | NvrError::PolicyViolation { .. }
                | NvrError::PasswordMismatch
                | NvrError::NotCertified { .. }
                | NvrError::SettingsNeedCertified { .. }
                | NvrError::AlreadyActive
                | NvrError::NoDeviceSecret
                | NvrError::NoMailServer
                | NvrError::NvrNotActivated
                | NvrError::NvrAlreadyActivated
                | NvrError::AccountLocked { .. }
                | NvrError::LoginFailed { .. }
                | NvrError::MailServer(_)
                | NvrError::SessionExpired
                | NvrError::AuditTampered { .. } => {}
            }
        }
        kinds
    }

    #[test]
    fn every_error_kind_has_a_text_of_its_own() {
        let mut seen = std::collections::HashMap::new();
        for kind in every_error_kind() {
            let failure = failure_of(&kind);
            assert_ne!(
                failure.problem,
                Problem::Other,
                "{kind:?} falls to the catch-all text"
            );
            if let Some(earlier) = seen.insert(format!("{:?}", failure.problem), kind.clone()) {
                let shared_on_purpose = matches!(
                    (&earlier, &kind),
                    (NvrError::MailServer(_), NvrError::MailServer(_))
                );
                assert!(
                    shared_on_purpose,
                    "{earlier:?} and {kind:?} share one text: {:?}",
                    failure.problem
                );
            }
        }
    }

    #[test]
    fn errors_keep_their_numbers_and_lose_nothing_secret() {
        let f = failure_of(&NvrError::CodeInvalid { attempts_left: 3 });
        assert_eq!((f.problem, f.n), (Problem::CodeInvalid, 3));
        let f = failure_of(&NvrError::CameraLocked {
            retry_after: Some(Duration::from_secs(61)),
        });
        assert_eq!((f.problem, f.n), (Problem::CameraLocked, 2));
        let f = failure_of(&NvrError::Unreachable {
            address: "10.0.0.9:80".into(),
            detail: "timed out".into(),
        });
        assert_eq!(f.detail.as_str(), "10.0.0.9:80");
    }
}
