//! Dahua's password reset without a login (`PasswdFind` at `/OutsideCmd`), read into the recorder's
//! recovery words: `getDescript` (the masked reset email and the description the vendor's app scans,
//! shown as the QR code), `sendVerificationCode` (the camera emails a code), `checkAuthCode` (the code,
//! sealed) and `resetPassword` (user, code and new password, sealed).
//!
//! The support path (Lorex's): the installer gives the support desk the serial number and the camera's
//! date (`DevInit.getCurrentTime`); the desk's password of the day logs the administrator in once,
//! the camera is restored to factory defaults (`magicBox.resetSystem`), and the new password
//! initializes it (`DevInit`, as Activate does).
//!
//! What Dahua does not say, the recorder decides and docs/vendors.md records: the camera gives no code
//! lifetime (the recorder allows [`CODE_LIFETIME`]) and no count of wrong codes left (the recorder
//! allows [`CODE_ATTEMPTS`] per description and counts them itself); its refusals have no public codes,
//! so a refused code is a wrong code and other refusals keep the camera's words.

use std::time::{Duration, SystemTime};

use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

use super::rpc::{RpcSession, read_error};
use crate::camera::recovery_client::{Challenge, RecoveryError, RecoveryInfo, ResetToken};
use crate::camera::transport::HttpPool;
use crate::camera::{CameraError, clean_camera_text};
use crate::model::{DeviceAddress, RecoveryMethod};

/// How long the recorder lets a code be typed after the description was read.
pub const CODE_LIFETIME: Duration = Duration::from_secs(30 * 60);

/// Wrong codes the recorder takes per description before it asks for a new one.
pub const CODE_ATTEMPTS: u32 = 5;

/// The user Dahua resets.
const RESET_USER: &str = "admin";

/// What the camera offers for a reset now. A camera in factory state is reported inactive.
pub async fn recovery_info(
    pool: &HttpPool,
    address: &DeviceAddress,
    now: SystemTime,
) -> Result<RecoveryInfo, RecoveryError> {
    let session = RpcSession::new(pool, address);
    let inactive = session.in_factory_state().await?;
    // The camera's own date, as its support desk wants it; the recorder's when it does not say.
    let date = match session.camera_date().await {
        Ok(date) => date,
        Err(_) => crate::clock::rfc3339(now).chars().take(10).collect(),
    };
    let mut info = RecoveryInfo {
        serial: String::new(),
        mac: String::new(),
        date,
        masked_email: None,
        internet: false,
        inactive,
        methods: Vec::new(),
        reset_user: RESET_USER.to_owned(),
        challenge: None,
    };
    if inactive {
        return Ok(info);
    }
    let reply = session
        .outside("PasswdFind.getDescript", json!({ "name": RESET_USER }))
        .await
        .map_err(not_offered_as_unsupported)?;
    let text = |name: &str| {
        reply
            .pointer(&format!("/params/{name}"))
            .and_then(Value::as_str)
            .map(clean_camera_text)
            .unwrap_or_default()
    };
    let email = text("contactEmail");
    // The description is the QR payload: shown as it came, within what a QR code holds.
    let desc = reply
        .pointer("/params/desc")
        .and_then(Value::as_str)
        .filter(|d| !d.is_empty() && d.len() <= 1024 && d.chars().all(|c| !c.is_control()))
        .map(str::to_owned);
    if !email.is_empty() {
        info.masked_email = Some(email);
        // Whether the camera reaches the internet is not said: Send Code is offered, and a refusal
        // says why.
        info.internet = true;
        info.methods.push(RecoveryMethod::SendCode);
    }
    if let Some(desc) = desc {
        info.methods.push(RecoveryMethod::AppQr);
        info.challenge = Some(Challenge {
            nonce: String::new(),
            expires: now + CODE_LIFETIME,
            qr_payload: desc,
            attempts_left: CODE_ATTEMPTS,
        });
    }
    // The support desk's password of the day works whatever else the camera offers.
    info.methods.push(RecoveryMethod::SupportCode);
    Ok(info)
}

/// `PasswdFind.sendVerificationCode`: the camera emails the code. The masked address, when the camera
/// says it.
pub async fn send_code(pool: &HttpPool, address: &DeviceAddress) -> Result<String, RecoveryError> {
    let reply = RpcSession::new(pool, address)
        .outside(
            "PasswdFind.sendVerificationCode",
            json!({ "username": RESET_USER }),
        )
        .await
        .map_err(|error| match error {
            crate::camera::CameraError::Refused { reason, .. } => RecoveryError::MailFailed(reason),
            other => RecoveryError::Camera(other),
        })?;
    Ok(reply
        .pointer("/params/contactEmail")
        .and_then(Value::as_str)
        .map(clean_camera_text)
        .unwrap_or_default())
}

/// `PasswdFind.checkAuthCode`. A right code is kept as the reset's permission; a refused one is a
/// wrong code, `attempts_left` (the recorder's count before this one) less one.
pub async fn verify_code(
    pool: &HttpPool,
    address: &DeviceAddress,
    code: &str,
    attempts_left: u32,
) -> Result<ResetToken, RecoveryError> {
    let session = RpcSession::new(pool, address);
    let info = session.encrypt_info().await?;
    let reply = session
        .sealed(
            "PasswdFind.checkAuthCode",
            &info,
            &json!({ "authCode": code }),
        )
        .await?;
    if reply.get("result") == Some(&Value::Bool(true)) {
        return Ok(ResetToken {
            secret: SecretString::from(code.to_owned()),
            expires: None,
        });
    }
    let detail = read_error(&reply, false);
    tracing::info!(camera = %address, refusal = %detail, "the camera refused the code");
    match attempts_left.saturating_sub(1) {
        0 => Err(RecoveryError::ChallengeDead),
        left => Err(RecoveryError::CodeInvalid {
            attempts_left: left,
        }),
    }
}

/// The support path: the desk's password of the day logs the administrator in (one login; a wrong one
/// counts on the camera's lock), and the camera is restored to factory defaults. The permission it
/// gives is to initialize the camera with the new password.
pub async fn verify_support_password(
    pool: &HttpPool,
    address: &DeviceAddress,
    support_password: &str,
) -> Result<ResetToken, RecoveryError> {
    let session = RpcSession::new(pool, address);
    let credentials = crate::model::Credentials {
        username: RESET_USER.to_owned(),
        password: SecretString::from(support_password.to_owned()),
    };
    match session.login(&credentials).await {
        Ok(()) => {}
        Err(CameraError::CredentialsRejected | CameraError::CredentialsRequired) => {
            return Err(match session.remaining_logins() {
                Some(0) => RecoveryError::SupportLocked,
                Some(left) => RecoveryError::CodeInvalid {
                    attempts_left: left,
                },
                // A camera that does not count aloud: the refusal as it is.
                None => RecoveryError::Camera(CameraError::CredentialsRejected),
            });
        }
        Err(CameraError::Locked { .. }) => return Err(RecoveryError::SupportLocked),
        Err(error) => return Err(RecoveryError::Camera(error)),
    }
    session.reset_system().await?;
    tracing::info!(camera = %address, "restored to factory defaults with the support desk's password");
    Ok(ResetToken {
        secret: SecretString::from(support_password.to_owned()),
        expires: None,
    })
}

/// How long the new password waits for a camera that is restarting after its factory defaults.
const BACK_FROM_FACTORY_DEFAULTS: Duration = Duration::from_secs(20);

/// Sets the new password: a camera in factory state (after the support path) is initialized with
/// it and `reset_email` (its own went with the defaults); otherwise `PasswdFind.resetPassword` applies
/// it with the accepted code.
pub async fn reset_password(
    pool: &HttpPool,
    address: &DeviceAddress,
    token: &ResetToken,
    username: &str,
    password: &SecretString,
    reset_email: &str,
) -> Result<(), RecoveryError> {
    let session = RpcSession::new(pool, address);
    let deadline = tokio::time::Instant::now() + BACK_FROM_FACTORY_DEFAULTS;
    let factory_state = loop {
        match session.in_factory_state().await {
            Ok(state) => break state,
            Err(CameraError::Offline(_)) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Err(CameraError::Offline(detail)) => {
                return Err(RecoveryError::Camera(CameraError::Offline(format!(
                    "{detail}; it may still be restarting after its factory defaults: set the password again in a minute"
                ))));
            }
            Err(error) => return Err(RecoveryError::Camera(error)),
        }
    };
    if factory_state {
        let credentials = crate::model::Credentials {
            username: username.to_owned(),
            password: password.clone(),
        };
        // Factory defaults took the reset email with them: the recorder's reserved email takes its place.
        return super::init::activate(pool, address, &credentials, reset_email)
            .await
            .map(drop);
    }
    let info = session.encrypt_info().await?;
    let plain = json!({
        "user": username,
        "auth": token.secret.expose_secret(),
        "pwd": password.expose_secret(),
    });
    let reply = session
        .sealed("PasswdFind.resetPassword", &info, &plain)
        .await?;
    if reply.get("result") == Some(&Value::Bool(true)) {
        Ok(())
    } else {
        Err(RecoveryError::Camera(read_error(&reply, false)))
    }
}

/// A camera without PasswdFind answers "method not found": it offers no reset from the recorder.
fn not_offered_as_unsupported(error: crate::camera::CameraError) -> RecoveryError {
    match error {
        crate::camera::CameraError::Refused {
            subcode: Some(code),
            ..
        } if code == super::rpc::METHOD_NOT_FOUND.to_string() => RecoveryError::NotSupported,
        crate::camera::CameraError::NotOffered(_) => RecoveryError::NotSupported,
        other => RecoveryError::Camera(other),
    }
}
