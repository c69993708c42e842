//! The Dahua persona's calls without a login (`/OutsideCmd`): `DevInit.*` (factory state, the licence,
//! the administrator and reset email, network access), `Security.getEncryptInfo` (the camera's RSA key
//! and the envelope variants it takes) and `PasswdFind.*` (the reset: description and QR payload,
//! emailed code, code check, new password). Sensitive parameters arrive in the envelope and are opened
//! with the camera's key; the recovery side (`sim/recovery`) keeps the challenge, the code, its limits
//! and the reset token, as it does for Vigil's extension.

use std::sync::OnceLock;

use rsa::PrivateKey;
use serde_json::{Value, json};

use crate::camera::clean_camera_text;
use crate::camera::dahua::envelope::{EnvelopeKey, open_envelope, public_field, seal_answer};
use crate::camera::dahua::rpc::METHOD_NOT_FOUND;
use crate::sim::camera::SimCamera;
use crate::sim::fault::Fault;
use crate::sim::recovery::qr_payload;

/// The RPC's "invalid parameter", for a request that does not open or lacks a field.
pub const INVALID_PARAM: u64 = 268_894_211;
/// What the persona answers when a PasswdFind or DevInit step is refused; its message says why.
/// (Dahua's own codes for these refusals are not public.)
pub const STEP_REFUSED: u64 = 268_959_743;

/// Bits of the persona's RSA key; one key serves every simulated camera of a process.
const KEY_BITS: usize = 2048;

/// The camera's RSA key (made once per process; making one per camera would slow large fleets).
pub fn camera_key() -> Option<&'static PrivateKey> {
    static KEY: OnceLock<Option<PrivateKey>> = OnceLock::new();
    KEY.get_or_init(|| PrivateKey::new(&mut rand::rng(), KEY_BITS).ok())
        .as_ref()
}

/// The envelope variants a camera offers, varied across a fleet by position as firmware versions
/// vary (`RPAC-256`, then `AES-128`, then `AES-128-ECB` is what the recorder picks): `(cipher,
/// AESPadding)`.
pub fn envelope_offer(index: usize) -> (Vec<&'static str>, Vec<&'static str>) {
    match index % 3 {
        0 => (vec!["AES", "RPAC"], vec!["ZERO", "PKCS7"]),
        1 => (vec!["AES", "ROAE"], vec!["ZERO", "PKCS7"]),
        _ => (vec!["AES"], vec!["PKCS7"]),
    }
}

/// `Security.getEncryptInfo`'s params.
pub fn encrypt_info(camera: &SimCamera) -> Value {
    let (cipher, padding) = envelope_offer(camera.identity().index);
    json!({
        "asymmetric": "RSA",
        "suggestedAsymmetric": "RSA",
        "cipher": cipher,
        "AESPadding": padding,
        "pub": camera_key().map(|k| public_field(&k.to_public_key())).unwrap_or_default(),
    })
}

/// The persona's own words for a refusal its recovery side made (Dahua's are not public; these are
/// short, as a camera's are, and never hint at Vigil's extension).
fn persona_words(fault: &Fault) -> String {
    let words = match fault.subcodes.last().copied().unwrap_or_default() {
        "vrc:NoInternet" => "Send mail failed: the device is not connected to the internet",
        "vrc:SendLimit" => "Sent too frequently, try again later",
        "vrc:NoResetEmail" => "No reserved email",
        "vrc:MailFailed" => "Send mail failed",
        "vrc:CodeInvalid" => "Auth code error",
        "vrc:ChallengeDead" => "Auth code error too many times, get a new one",
        "vrc:CodeExpired" => "Auth code expired",
        "vrc:CodeUsed" => "Auth code has been used",
        "vrc:NoChallenge" => "No auth code was requested",
        "vrc:ChallengeLimit" => "Requested too frequently, try again later",
        _ => return clean_camera_text(&fault.reason),
    };
    words.to_owned()
}

pub(super) fn refused(id: &Value, code: u64, message: &str) -> Value {
    json!({ "id": id, "result": false, "error": { "code": code, "message": message } })
}

fn done(id: &Value, params: Value) -> Value {
    json!({ "id": id, "result": true, "params": params })
}

/// The opened envelope of a request, or the refusal.
fn opened(request: &Value, id: &Value) -> Result<(Value, EnvelopeKey), Value> {
    let params = request.get("params").unwrap_or(&Value::Null);
    camera_key()
        .and_then(|key| open_envelope(key, params))
        .ok_or_else(|| {
            refused(
                id,
                INVALID_PARAM,
                "Invalid params: the envelope does not open",
            )
        })
}

fn text(value: &Value, name: &str) -> String {
    value
        .get(name)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .unwrap_or_default()
}

/// Answers one call to `/OutsideCmd`.
pub async fn answer(camera: &SimCamera, request: &Value) -> Value {
    let id = request.get("id").cloned().unwrap_or(json!(0));
    let method = request.get("method").and_then(Value::as_str).unwrap_or("");
    let result = match method {
        "DevInit.getStatus" => Ok(done(
            &id,
            json!({ "Init": if camera.is_inactive() { 1 } else { 2 }, "Find": "BC" }),
        )),
        "Security.getEncryptInfo" => Ok(done(&id, encrypt_info(camera))),
        "DevInit.getCurrentTime" => Ok(done(&id, json!({ "time": camera.local_time_text() }))),
        "DevInit.setProtocolAgree" => set_protocol_agree(camera, request, &id),
        "DevInit.account" => account(camera, request, &id),
        "DevInit.access" => opened(request, &id).map(|_| done(&id, Value::Null)),
        "PasswdFind.getDescript" => get_descript(camera, &id),
        "PasswdFind.sendVerificationCode" => send_verification_code(camera, &id).await,
        "PasswdFind.checkAuthCode" => check_auth_code(camera, request, &id),
        "PasswdFind.resetPassword" => reset_password(camera, request, &id),
        _ => Err(refused(&id, METHOD_NOT_FOUND, "Method not found!")),
    };
    result.unwrap_or_else(|refusal| refusal)
}

fn set_protocol_agree(camera: &SimCamera, request: &Value, id: &Value) -> Result<Value, Value> {
    if !camera.is_inactive() {
        return Err(refused(id, STEP_REFUSED, "Device has been initialized"));
    }
    let agreed = request
        .pointer("/params/ProtocolEnable")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    camera.dahua().protocol_agreed = agreed;
    Ok(done(id, Value::Null))
}

/// `DevInit.account`: in factory state, after the licence, the administrator and reset email.
fn account(camera: &SimCamera, request: &Value, id: &Value) -> Result<Value, Value> {
    let (content, _) = opened(request, id)?;
    if !camera.is_inactive() {
        return Err(refused(id, STEP_REFUSED, "Device has been initialized"));
    }
    if !camera.dahua().protocol_agreed {
        return Err(refused(
            id,
            STEP_REFUSED,
            "The licence agreement was not accepted (DevInit.setProtocolAgree)",
        ));
    }
    let name = text(&content, "name");
    let password = text(&content, "pwd");
    let mail = text(&content, "Mail");
    if name.is_empty() || password.is_empty() {
        return Err(refused(id, INVALID_PARAM, "Invalid params: name and pwd"));
    }
    let activated = if mail.is_empty() {
        if camera.activate_admin(&name, &password) {
            Ok(())
        } else {
            Err("Device has been initialized".to_owned())
        }
    } else {
        camera
            .activate(&name, &password, &mail)
            .map_err(|fault| fault.reason)
    };
    activated
        .map(|()| done(id, Value::Null))
        .map_err(|reason| refused(id, STEP_REFUSED, &clean_camera_text(&reason)))
}

/// `PasswdFind.getDescript`: the reset email (masked) and the description the vendor's app scans.
/// The live challenge is kept; a new one is made when it is used, dead or expired.
fn get_descript(camera: &SimCamera, id: &Value) -> Result<Value, Value> {
    if camera.is_inactive() {
        return Err(refused(id, STEP_REFUSED, "Device is not initialized"));
    }
    let info = camera
        .recovery_info(true)
        .map_err(|fault| refused(id, STEP_REFUSED, &persona_words(&fault)))?;
    let desc = info
        .challenge
        .as_ref()
        .map(|(nonce, expires)| qr_payload(&info.serial, nonce, *expires))
        .unwrap_or_default();
    Ok(done(
        id,
        json!({
            "contactEmail": info.masked_email.unwrap_or_default(),
            "contactPhone": "",
            "desc": desc,
            "mode": 2,
        }),
    ))
}

async fn send_verification_code(camera: &SimCamera, id: &Value) -> Result<Value, Value> {
    camera
        .send_code(None)
        .await
        .map(|(masked, _)| done(id, json!({ "contactEmail": masked })))
        .map_err(|fault| refused(id, STEP_REFUSED, &persona_words(&fault)))
}

/// `PasswdFind.checkAuthCode`: a right code unlocks the reset; a wrong one costs an attempt.
fn check_auth_code(camera: &SimCamera, request: &Value, id: &Value) -> Result<Value, Value> {
    let (content, key) = opened(request, id)?;
    let code = text(&content, "authCode");
    let (token, _) = camera
        .verify_code(None, &code)
        .map_err(|fault| refused(id, STEP_REFUSED, &persona_words(&fault)))?;
    camera.dahua().verified_code = Some((code, token));
    Ok(done(
        id,
        json!({ "content": seal_answer(&key, &json!({ "result": true })) }),
    ))
}

/// `PasswdFind.resetPassword`: the new password, with the code `checkAuthCode` accepted.
fn reset_password(camera: &SimCamera, request: &Value, id: &Value) -> Result<Value, Value> {
    let (content, _) = opened(request, id)?;
    let auth = text(&content, "auth");
    let token = match camera.dahua().verified_code.clone() {
        Some((code, token)) if !auth.is_empty() && code == auth.trim() => token,
        _ => {
            return Err(refused(
                id,
                STEP_REFUSED,
                "The verification code was not checked or has been used",
            ));
        }
    };
    let user = Some(text(&content, "user"))
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "admin".to_owned());
    camera
        .reset_password(&token, &user, &text(&content, "pwd"))
        .map_err(|fault| refused(id, STEP_REFUSED, &persona_words(&fault)))?;
    camera.dahua().verified_code = None;
    Ok(done(id, Value::Null))
}
