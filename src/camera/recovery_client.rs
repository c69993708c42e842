//! The NVR's client for the vigil recovery extension to the ONVIF device service
//! (docs/recovery-protocol.md): recovery info, send code, verify code or support code, reset password,
//! set reset email, activate. Built on oxvif's SOAP envelope and parser over the shared transport, and
//! reading the extension's faults (subcode chain and detail numbers) itself.

use std::time::{Duration, SystemTime};

use oxvif::soap::{SoapEnvelope, WsSecurityToken, XmlNode, parse_soap_body};
use oxvif::transport::Transport;
use secrecy::{ExposeSecret, SecretString};

use crate::camera::client::CameraConnector;
use crate::camera::xml_guard::{MAX_XML_DEPTH, nesting_within};
use crate::camera::{CameraError, clean_camera_text};
use crate::clock::parse_rfc3339;
use crate::model::{Credentials, DeviceAddress, RecoveryMethod};

/// The extension's namespace.
pub const RECOVERY_NS: &str = "urn:org:vigil:onvif:recovery:1";

/// A challenge to get a code for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// Its nonce, base64url, as the camera sent it.
    pub nonce: String,
    /// When it (and its code) expires, by the camera's clock.
    pub expires: SystemTime,
    /// The QR payload for the phone app.
    pub qr_payload: String,
    /// Wrong codes it still takes.
    pub attempts_left: u32,
}

/// What GetRecoveryInfo said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveryInfo {
    /// Serial number.
    pub serial: String,
    /// MAC address.
    pub mac: String,
    /// The camera's date, for the support code.
    pub date: String,
    /// The masked reset email, when one is set.
    pub masked_email: Option<String>,
    /// Whether the camera reaches the internet.
    pub internet: bool,
    /// Factory state.
    pub inactive: bool,
    /// What the camera supports now.
    pub methods: Vec<RecoveryMethod>,
    /// The user a reset applies to.
    pub reset_user: String,
    /// The challenge, unless the camera is in factory state.
    pub challenge: Option<Challenge>,
}

/// A reset token from VerifyCode: a secret, short-lived.
#[derive(Clone)]
pub struct ResetToken {
    /// The token.
    pub secret: SecretString,
    /// When it expires, by the camera's clock; `None` when the camera did not say.
    pub expires: Option<SystemTime>,
}

impl std::fmt::Debug for ResetToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResetToken")
            .field("expires", &self.expires)
            .finish_non_exhaustive()
    }
}

/// Why a recovery call did not succeed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecoveryError {
    /// The camera does not implement the extension.
    #[error("the camera does not support password recovery from the NVR")]
    NotSupported,
    /// A transport or ONVIF problem.
    #[error(transparent)]
    Camera(#[from] CameraError),
    /// No internet: SendCode is impossible.
    #[error("the camera cannot reach the internet to email a code")]
    NoInternet,
    /// No reset email on the camera.
    #[error("the camera has no reset email")]
    NoResetEmail,
    /// Too many sends.
    #[error("the camera already sent three codes in ten minutes")]
    SendLimit {
        /// Seconds until another send is allowed.
        retry_after: Option<Duration>,
    },
    /// Too many challenges.
    #[error("the camera issued too many recovery challenges this hour")]
    ChallengeLimit {
        /// Seconds until another is allowed.
        retry_after: Option<Duration>,
    },
    /// The challenge is gone (replaced, rebooted, never issued).
    #[error("the camera's recovery challenge was replaced or the camera restarted")]
    NoChallenge,
    /// Wrong code.
    #[error("the code is not right")]
    CodeInvalid {
        /// Wrong entries left for this challenge.
        attempts_left: u32,
    },
    /// Five wrong codes: the challenge is dead.
    #[error("too many wrong codes for this challenge")]
    ChallengeDead,
    /// The code expired.
    #[error("the code has expired")]
    CodeExpired,
    /// The code was used.
    #[error("the code was already used")]
    CodeUsed,
    /// Too many wrong support codes today.
    #[error("too many wrong support codes today")]
    SupportLocked,
    /// The reset token is not (or no longer) valid.
    #[error("the reset permission expired")]
    TokenInvalid,
    /// The camera could not send the email.
    #[error("the camera could not send the email: {0}")]
    MailFailed(String),
    /// Activation of an active camera.
    #[error("the camera is already activated")]
    AlreadyActive,
}

fn element(name: &str, value: &str) -> String {
    format!("<vrc:{name}>{}</vrc:{name}>", escape(value))
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

impl CameraConnector {
    /// Sends one extension operation and returns its response element.
    async fn recovery_call(
        &self,
        address: &DeviceAddress,
        operation: &str,
        content: &str,
        credentials: Option<(&Credentials, i64)>,
    ) -> Result<XmlNode, RecoveryError> {
        let url = address.url();
        let body =
            format!("<vrc:{operation} xmlns:vrc=\"{RECOVERY_NS}\">{content}</vrc:{operation}>");
        let mut envelope = SoapEnvelope::new(body).with_wsa_to(url.clone());
        if let Some((credentials, offset)) = credentials {
            envelope = envelope.with_security(WsSecurityToken::generate(
                &credentials.username,
                credentials.password.expose_secret(),
                offset,
            ));
        }
        let action = format!("{RECOVERY_NS}/{operation}");
        let transport = self.pool().transport(credentials.map(|(c, _)| c));
        let reply = transport
            .soap_post(&url, &action, envelope.build())
            .await
            .map_err(|e| {
                CameraError::from_onvif(oxvif::OnvifError::Transport(e), credentials.is_some())
            })?;
        read_reply(&reply, operation, credentials.is_some())
    }

    /// GetRecoveryInfo. `keep_challenge` asks for the live challenge instead of a new one.
    pub async fn recovery_info(
        &self,
        address: &DeviceAddress,
        keep_challenge: bool,
    ) -> Result<RecoveryInfo, RecoveryError> {
        let reply = self
            .recovery_call(
                address,
                "GetRecoveryInfo",
                &element(
                    "KeepChallenge",
                    if keep_challenge { "true" } else { "false" },
                ),
                None,
            )
            .await?;
        read_recovery_info(&reply)
    }

    /// SendCode for the challenge `nonce`. Returns the masked address and the code's expiry.
    pub async fn send_code(
        &self,
        address: &DeviceAddress,
        nonce: &str,
    ) -> Result<(String, Option<SystemTime>), RecoveryError> {
        let reply = self
            .recovery_call(address, "SendCode", &element("Nonce", nonce), None)
            .await?;
        Ok(read_code_sent(&reply))
    }

    /// VerifyCode.
    pub async fn verify_code(
        &self,
        address: &DeviceAddress,
        nonce: &str,
        code: &str,
    ) -> Result<ResetToken, RecoveryError> {
        let content = format!("{}{}", element("Nonce", nonce), element("Code", code));
        let reply = self
            .recovery_call(address, "VerifyCode", &content, None)
            .await?;
        read_token(&reply)
    }

    /// VerifySupportCode.
    pub async fn verify_support_code(
        &self,
        address: &DeviceAddress,
        code: &str,
    ) -> Result<ResetToken, RecoveryError> {
        let reply = self
            .recovery_call(address, "VerifySupportCode", &element("Code", code), None)
            .await?;
        read_token(&reply)
    }

    /// ResetPassword.
    pub async fn reset_password(
        &self,
        address: &DeviceAddress,
        token: &ResetToken,
        username: &str,
        password: &SecretString,
    ) -> Result<(), RecoveryError> {
        let content = format!(
            "{}{}{}",
            element("ResetToken", token.secret.expose_secret()),
            element("Username", username),
            element("NewPassword", password.expose_secret())
        );
        self.recovery_call(address, "ResetPassword", &content, None)
            .await
            .map(|_| ())
    }

    /// ActivateDevice: the administrator and the reset email in one step.
    pub async fn activate(
        &self,
        address: &DeviceAddress,
        credentials: &Credentials,
        reset_email: &str,
    ) -> Result<(), RecoveryError> {
        let content = format!(
            "{}{}{}",
            element("Username", &credentials.username),
            element("Password", credentials.password.expose_secret()),
            element("ResetEmail", reset_email)
        );
        self.recovery_call(address, "ActivateDevice", &content, None)
            .await
            .map(|_| ())
    }

    /// SetResetEmail, as the camera's administrator.
    pub async fn set_reset_email(
        &self,
        address: &DeviceAddress,
        credentials: &Credentials,
        clock_offset_secs: i64,
        email: &str,
    ) -> Result<(), RecoveryError> {
        self.recovery_call(
            address,
            "SetResetEmail",
            &element("Email", email),
            Some((credentials, clock_offset_secs)),
        )
        .await
        .map(|_| ())
    }
}

/// The longest challenge nonce taken from a camera (base64url characters only).
const MAX_NONCE_CHARS: usize = 128;
/// The longest QR payload taken from a camera (printable ASCII only): it is drawn as a QR code,
/// sent on D-Bus and printed by vigilctl.
const MAX_QR_PAYLOAD_CHARS: usize = 1024;
/// The longest reset token taken from a camera.
const MAX_TOKEN_CHARS: usize = 512;

fn malformed(what: &str) -> RecoveryError {
    RecoveryError::Camera(CameraError::BadReply(format!(
        "the camera sent a malformed {what}"
    )))
}

/// Reads the camera's reply to the extension's `operation` (the body as the transport passed it on):
/// the operation's response element, or why the camera refused. `with_credentials` says whether the
/// request carried credentials, which decides how an identity refusal reads. Nothing here trusts the
/// reply: it is the whole of what the recorder reads from it before the per-operation readers
/// ([`read_recovery_info`], [`read_code_sent`], [`read_token`]).
pub fn read_reply(
    reply: &str,
    operation: &str,
    with_credentials: bool,
) -> Result<XmlNode, RecoveryError> {
    // The transport refuses deeper replies before they get here; checked again so this stands alone.
    if !nesting_within(reply.as_bytes(), MAX_XML_DEPTH) {
        return Err(malformed("reply (nested too deeply)"));
    }
    let body = parse_soap_body(reply)
        .map_err(|e| CameraError::BadReply(clean_camera_text(&e.to_string())))?;
    if let Some(fault) = body.child("Fault") {
        return Err(read_fault(fault, with_credentials));
    }
    let wanted = format!("{operation}Response");
    body.children
        .into_iter()
        .find(|c| c.local_name == wanted)
        .ok_or_else(|| RecoveryError::Camera(CameraError::BadReply(format!("no {wanted}"))))
}

/// GetRecoveryInfo's response element, read: text cleaned, the challenge checked.
pub fn read_recovery_info(reply: &XmlNode) -> Result<RecoveryInfo, RecoveryError> {
    let text = |name: &str| reply.child(name).map(|n| clean_camera_text(n.text()));
    let flag = |name: &str| text(name).is_some_and(|t| t == "true" || t == "1");
    let challenge = match reply.child("Challenge") {
        Some(c) => read_challenge(c)?,
        None => None,
    };
    let methods = text("Methods")
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|m| match m {
            "SendCode" => Some(RecoveryMethod::SendCode),
            "AppQr" => Some(RecoveryMethod::AppQr),
            "SupportCode" => Some(RecoveryMethod::SupportCode),
            _ => None,
        })
        .collect();
    Ok(RecoveryInfo {
        serial: text("SerialNumber").unwrap_or_default(),
        mac: text("MacAddress").unwrap_or_default(),
        date: text("Date").unwrap_or_default(),
        masked_email: text("ResetEmail").filter(|e| !e.is_empty()),
        internet: flag("Internet"),
        inactive: flag("Inactive"),
        methods,
        reset_user: text("ResetUser")
            .filter(|u| !u.is_empty())
            .unwrap_or_else(|| "admin".to_owned()),
        challenge,
    })
}

/// SendCode's response element, read: the masked address the code went to and the code's expiry.
pub fn read_code_sent(reply: &XmlNode) -> (String, Option<SystemTime>) {
    (
        reply
            .child("ResetEmail")
            .map(|n| clean_camera_text(n.text()))
            .unwrap_or_default(),
        reply.child("Expires").and_then(|n| parse_rfc3339(n.text())),
    )
}

/// A challenge, checked: a camera cannot put escape sequences or megabytes into what the NVR stores,
/// shows and hands on.
fn read_challenge(node: &XmlNode) -> Result<Option<Challenge>, RecoveryError> {
    let Some(nonce) = node.child("Nonce").map(|n| n.text().trim().to_owned()) else {
        return Ok(None);
    };
    let Some(expires) = node.child("Expires").and_then(|n| parse_rfc3339(n.text())) else {
        return Ok(None);
    };
    let nonce_ok = !nonce.is_empty()
        && nonce.len() <= MAX_NONCE_CHARS
        && nonce
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'='));
    if !nonce_ok {
        return Err(malformed("challenge nonce"));
    }
    let qr_payload = node
        .child("QrPayload")
        .map(|n| n.text().trim().to_owned())
        .unwrap_or_default();
    let qr_ok = qr_payload.len() <= MAX_QR_PAYLOAD_CHARS
        && qr_payload.bytes().all(|b| (0x20..0x7f).contains(&b));
    if !qr_ok {
        return Err(malformed("QR payload"));
    }
    Ok(Some(Challenge {
        nonce,
        expires,
        qr_payload,
        attempts_left: node
            .child("AttemptsLeft")
            .and_then(|n| n.text().trim().parse().ok())
            .unwrap_or(0),
    }))
}

/// VerifyCode's or VerifySupportCode's response element, read: the reset token, checked.
pub fn read_token(reply: &XmlNode) -> Result<ResetToken, RecoveryError> {
    let secret = reply
        .child("ResetToken")
        .map(|n| n.text().trim().to_owned())
        .filter(|t| !t.is_empty())
        .ok_or_else(|| RecoveryError::Camera(CameraError::BadReply("no reset token".into())))?;
    if secret.len() > MAX_TOKEN_CHARS || secret.chars().any(char::is_control) {
        return Err(malformed("reset token"));
    }
    Ok(ResetToken {
        secret: SecretString::from(secret),
        expires: reply.child("Expires").and_then(|n| parse_rfc3339(n.text())),
    })
}

/// Reads an extension fault: the subcode chain and the detail numbers.
fn read_fault(fault: &XmlNode, with_credentials: bool) -> RecoveryError {
    let mut subcodes = Vec::new();
    let mut node = fault.child("Code");
    while let Some(code) = node {
        if let Some(value) = code.child("Value") {
            subcodes.push(
                value
                    .text()
                    .trim()
                    .rsplit(':')
                    .next()
                    .unwrap_or("")
                    .to_owned(),
            );
        }
        node = code.child("Subcode");
    }
    let reason = fault
        .path(&["Reason", "Text"])
        .map(|n| clean_camera_text(n.text()))
        .unwrap_or_default();
    let number = |name: &str| {
        fault
            .child("Detail")
            .and_then(|d| d.child(name))
            .and_then(|n| n.text().trim().parse::<u64>().ok())
    };
    let retry_after = number("RetryAfter")
        .map(|secs| Duration::from_secs(secs.min(super::MAX_RETRY_AFTER.as_secs())));
    let has = |name: &str| subcodes.iter().any(|s| s == name);
    if has("ActionNotSupported") {
        RecoveryError::NotSupported
    } else if has("NoInternet") {
        RecoveryError::NoInternet
    } else if has("NoResetEmail") {
        RecoveryError::NoResetEmail
    } else if has("SendLimit") {
        RecoveryError::SendLimit { retry_after }
    } else if has("ChallengeLimit") {
        RecoveryError::ChallengeLimit { retry_after }
    } else if has("NoChallenge") {
        RecoveryError::NoChallenge
    } else if has("CodeInvalid") {
        RecoveryError::CodeInvalid {
            attempts_left: number("AttemptsLeft")
                .and_then(|n| u32::try_from(n).ok())
                .unwrap_or(0),
        }
    } else if has("ChallengeDead") {
        RecoveryError::ChallengeDead
    } else if has("CodeExpired") {
        RecoveryError::CodeExpired
    } else if has("CodeUsed") {
        RecoveryError::CodeUsed
    } else if has("SupportLocked") {
        RecoveryError::SupportLocked
    } else if has("TokenInvalid") {
        RecoveryError::TokenInvalid
    } else if has("MailFailed") {
        RecoveryError::MailFailed(reason)
    } else if has("AlreadyActive") {
        RecoveryError::AlreadyActive
    } else if let Some(refusal) =
        super::refusal::classify_fault(&super::refusal::fault_of(fault), with_credentials)
    {
        // Identity, lockout and clock refusals read the same as from any other call.
        RecoveryError::Camera(refusal)
    } else {
        RecoveryError::Camera(CameraError::Refused {
            subcode: subcodes.last().cloned(),
            reason,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An extension reply as the simulator's Vigil persona sends it.
    fn reply(body: &str) -> String {
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?><env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope" xmlns:ter="http://www.onvif.org/ver10/error" xmlns:vrc="urn:org:vigil:onvif:recovery:1"><env:Body>{body}</env:Body></env:Envelope>"#
        )
    }

    fn fault(subcode: &str, detail: &str) -> String {
        reply(&format!(
            r#"<env:Fault><env:Code><env:Value>env:Sender</env:Value><env:Subcode><env:Value>{subcode}</env:Value></env:Subcode></env:Code><env:Reason><env:Text xml:lang="en">refused</env:Text></env:Reason><env:Detail>{detail}</env:Detail></env:Fault>"#
        ))
    }

    #[test]
    fn recovery_info_is_read_with_its_challenge() {
        let text = reply(
            "<vrc:GetRecoveryInfoResponse><vrc:ProtocolVersion>1</vrc:ProtocolVersion>\
             <vrc:SerialNumber>VS0001000001</vrc:SerialNumber><vrc:MacAddress>02:56:01:00:00:00</vrc:MacAddress>\
             <vrc:Date>2026-12-07</vrc:Date><vrc:ResetEmail>o***@e***.com</vrc:ResetEmail>\
             <vrc:Internet>true</vrc:Internet><vrc:Inactive>false</vrc:Inactive>\
             <vrc:Methods>SendCode AppQr SupportCode</vrc:Methods><vrc:ResetUser>admin</vrc:ResetUser>\
             <vrc:Challenge><vrc:Nonce>IKOPSZP_x5m4owMPBDPiPw</vrc:Nonce><vrc:Expires>2026-12-07T07:19:26Z</vrc:Expires>\
             <vrc:QrPayload>vigil-recovery:v1?d=VS0001000001&amp;c=IKOPSZP_x5m4owMPBDPiPw&amp;e=1796627966</vrc:QrPayload>\
             <vrc:AttemptsLeft>5</vrc:AttemptsLeft></vrc:Challenge></vrc:GetRecoveryInfoResponse>",
        );
        let response = read_reply(&text, "GetRecoveryInfo", false).expect("a response");
        let info = read_recovery_info(&response).expect("read");
        assert_eq!(info.serial, "VS0001000001");
        assert_eq!(info.masked_email.as_deref(), Some("o***@e***.com"));
        assert!(info.internet && !info.inactive);
        assert_eq!(info.methods.len(), 3);
        let challenge = info.challenge.expect("a challenge");
        assert_eq!(challenge.nonce, "IKOPSZP_x5m4owMPBDPiPw");
        assert_eq!(challenge.attempts_left, 5);
        assert!(challenge.qr_payload.contains("&c=IKOPSZP_x5m4owMPBDPiPw&"));
    }

    #[test]
    fn a_token_and_a_sent_code_are_read() {
        let text = reply(
            "<vrc:VerifySupportCodeResponse><vrc:ResetToken>-dxbMLyNFpSXWALBwgZwJNdzT1l05kiwzhp9zxK0ipE</vrc:ResetToken>\
             <vrc:Expires>2026-12-07T06:59:39Z</vrc:Expires></vrc:VerifySupportCodeResponse>",
        );
        let token = read_token(&read_reply(&text, "VerifySupportCode", false).expect("a response"))
            .expect("a token");
        assert_eq!(
            token.secret.expose_secret(),
            "-dxbMLyNFpSXWALBwgZwJNdzT1l05kiwzhp9zxK0ipE"
        );
        assert!(token.expires.is_some());
        let text = reply(
            "<vrc:SendCodeResponse><vrc:ResetEmail>o***@e***.com</vrc:ResetEmail>\
             <vrc:Expires>2026-12-07T07:19:26Z</vrc:Expires></vrc:SendCodeResponse>",
        );
        let (masked, expires) = read_code_sent(&read_reply(&text, "SendCode", false).expect("ok"));
        assert_eq!(masked, "o***@e***.com");
        assert!(expires.is_some());
    }

    #[test]
    fn faults_read_as_the_extension_s_refusals() {
        let read = |subcode: &str, detail: &str| {
            read_reply(&fault(subcode, detail), "VerifyCode", false).expect_err("a fault")
        };
        assert_eq!(
            read("vrc:CodeInvalid", "<vrc:AttemptsLeft>4</vrc:AttemptsLeft>"),
            RecoveryError::CodeInvalid { attempts_left: 4 }
        );
        assert_eq!(
            read("vrc:SendLimit", "<vrc:RetryAfter>599</vrc:RetryAfter>"),
            RecoveryError::SendLimit {
                retry_after: Some(Duration::from_secs(599))
            }
        );
        assert_eq!(
            read("ter:ActionNotSupported", ""),
            RecoveryError::NotSupported
        );
        assert_eq!(read("vrc:TokenInvalid", ""), RecoveryError::TokenInvalid);
    }

    #[test]
    fn a_reply_without_the_response_or_nested_too_deeply_is_a_bad_reply() {
        let other = reply("<vrc:SendCodeResponse/>");
        assert!(matches!(
            read_reply(&other, "VerifyCode", false),
            Err(RecoveryError::Camera(CameraError::BadReply(_)))
        ));
        let deep = reply(&"<a>".repeat(100_000));
        assert!(matches!(
            read_reply(&deep, "GetRecoveryInfo", false),
            Err(RecoveryError::Camera(CameraError::BadReply(_)))
        ));
        assert!(matches!(
            read_reply("not xml", "GetRecoveryInfo", false),
            Err(RecoveryError::Camera(CameraError::BadReply(_)))
        ));
    }
}
