//! The Dahua persona's JSON RPC with a login: `global.login` at `/RPC2_Login` in two steps (any first
//! call gets the challenge, whatever password it carries, as real cameras do; the second must carry the
//! `Default` hash), the challenge's session staying valid after the login, and `magicBox.*`,
//! `Security.getEncryptInfo`, `system.multiSec` and `global.logout` at `/RPC2` for a logged-in session. Wrong passwords count towards the camera's lock,
//! which the reply reports (`remainLockSecond`, `remainLoginTimes`).

use serde_json::{Value, json};

use crate::camera::clean_camera_text;
use crate::camera::dahua::envelope::{open_envelope, seal_answer};
use crate::camera::dahua::rpc::{
    BAD_CREDENTIALS, LOGIN_CHALLENGE, METHOD_NOT_FOUND, USER_LOCKED, login_hash,
};
use crate::sim::camera::SimCamera;
use crate::sim::dahua::outside::{INVALID_PARAM, camera_key, encrypt_info, refused};
use crate::sim::fault::Refusal;

fn session_of(request: &Value) -> Option<u64> {
    match request.get("session") {
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => s.parse().ok(),
        _ => None,
    }
}

/// Answers `/RPC2_Login`.
pub fn login(camera: &SimCamera, request: &Value) -> Value {
    camera.note_request();
    let id = request.get("id").cloned().unwrap_or(json!(0));
    let params = request.get("params").cloned().unwrap_or(Value::Null);
    let user = params
        .get("userName")
        .and_then(Value::as_str)
        .map(clean_camera_text)
        .unwrap_or_default();
    let pending = session_of(request).and_then(|s| {
        camera
            .dahua()
            .session(s)
            .map(|session| (s, session.random.clone()))
    });
    let second_step = params.get("authorityType").is_some();
    match pending {
        Some((session, random)) if second_step => {
            let sent = params.get("password").and_then(Value::as_str).unwrap_or("");
            let realm = format!("Login to {}", camera.identity().serial);
            // The support desk's password of the day logs the administrator in (Lorex's support
            // path); it never changes the account's own.
            let support = user == "admin"
                && !camera.is_inactive()
                && login_hash(&user, &camera.support_password_today(), &realm, &random)
                    .eq_ignore_ascii_case(sent);
            let proof = if support {
                Ok(crate::sim::camera::Caller::FactoryState)
            } else {
                camera.authenticate_vendor_login(&user, |password| {
                    login_hash(&user, password, &realm, &random).eq_ignore_ascii_case(sent)
                })
            };
            match proof {
                Ok(_) => {
                    camera.dahua().logged_in(session, &user);
                    json!({"id": id, "result": true, "params": {"keepAliveInterval": 60}, "session": session})
                }
                Err(fault) => {
                    let (code, message, lock) = match fault.refusal {
                        Some(Refusal::Locked(left)) => (
                            USER_LOCKED,
                            "Component error: User has been locked!",
                            left.as_secs(),
                        ),
                        _ => (
                            BAD_CREDENTIALS,
                            "Component error: User or password not valid!",
                            0,
                        ),
                    };
                    let remaining = match fault.refusal {
                        Some(Refusal::CredentialsWrong { attempts_left }) => {
                            attempts_left.unwrap_or(0)
                        }
                        _ => 0,
                    };
                    json!({
                        "id": id, "result": false, "session": session,
                        "error": {"code": code, "message": message},
                        "params": {"remainLockSecond": lock, "remainLoginTimes": remaining},
                    })
                }
            }
        }
        _ => {
            let (session, random) = camera.dahua().challenge();
            json!({
                "id": id, "result": false, "session": session,
                "error": {"code": LOGIN_CHALLENGE, "message": "Component error: login challenge!"},
                "params": {
                    "authorization": "0000000000000000000000000000000000000000",
                    "encryption": "Default",
                    "mac": camera.identity().mac.replace(':', "").to_uppercase(),
                    "random": random,
                    "realm": format!("Login to {}", camera.identity().serial),
                },
            })
        }
    }
}

/// Answers `/RPC2` for a logged-in session: `magicBox.*`, `Security.getEncryptInfo`, `global.*`, and
/// `system.multiSec`, an envelope holding an array of these calls, answered in the same key.
pub async fn call(camera: &SimCamera, request: &Value) -> Value {
    camera.note_request();
    let id = request.get("id").cloned().unwrap_or(json!(0));
    let session = session_of(request);
    let logged_in = session
        .and_then(|s| camera.dahua().session(s).and_then(|x| x.user.clone()))
        .is_some();
    if !logged_in {
        return json!({"id": id, "result": false, "error": {"code": 287_637_504u64, "message": "Invalid session!"}});
    }
    if request.get("method").and_then(Value::as_str) != Some("system.multiSec") {
        return answer_one(camera, request, session);
    }
    let params = request.get("params").unwrap_or(&Value::Null);
    let Some((inner, key)) = camera_key().and_then(|k| open_envelope(k, params)) else {
        return refused(
            &id,
            INVALID_PARAM,
            "Invalid params: the envelope does not open",
        );
    };
    let calls = match inner {
        Value::Array(calls) => calls,
        single @ Value::Object(_) => vec![single],
        _ => return refused(&id, INVALID_PARAM, "Invalid params: no calls"),
    };
    let answers: Vec<Value> = calls
        .iter()
        .take(16)
        .map(|c| {
            if c.get("method").and_then(Value::as_str) == Some("system.multiSec") {
                refused(
                    c.get("id").unwrap_or(&Value::Null),
                    INVALID_PARAM,
                    "Nested envelope",
                )
            } else {
                answer_one(camera, c, session)
            }
        })
        .collect();
    json!({
        "id": id, "result": true, "session": session,
        "params": { "content": seal_answer(&key, &Value::Array(answers)) },
    })
}

fn answer_one(camera: &SimCamera, request: &Value, session: Option<u64>) -> Value {
    let id = request.get("id").cloned().unwrap_or(json!(0));
    let identity = camera.identity();
    let (result, params) = match request.get("method").and_then(Value::as_str) {
        Some("magicBox.getSerialNo") => (json!(true), json!({"sn": identity.serial})),
        Some("magicBox.getDeviceType") => (json!(true), json!({"type": identity.model})),
        Some("magicBox.getSoftwareVersion") => (
            json!(true),
            json!({"version": {"Version": identity.firmware, "BuildDate": "2026-01-01"}}),
        ),
        Some("Security.getEncryptInfo") => (json!(true), encrypt_info(camera)),
        // Factory defaults: the camera comes back in factory state (Init 1).
        Some("magicBox.resetSystem") => {
            camera.factory_reset();
            (json!(true), Value::Null)
        }
        Some("global.logout") | Some("global.keepAlive") => (json!(true), json!({"timeout": 300})),
        _ => {
            return json!({"id": id, "result": false, "session": session,
                "error": {"code": METHOD_NOT_FOUND, "message": "Method not found!"}});
        }
    };
    json!({"id": id, "result": result, "params": params, "session": session})
}
