//! Dahua's JSON RPC over HTTP as the recorder uses it: the calls made before any login (`/OutsideCmd`:
//! `DevInit.getStatus`, factory state or not; `Security.getEncryptInfo` and calls sealed in its
//! envelope), the two-step login (`/RPC2_Login`,
//! `global.login`: a challenge, then `MD5(user:random:MD5(user:realm:password))` in upper-case hex for
//! the `Default` scheme), and the device's identity (`magicBox.*` at `/RPC2`). Error codes are read into
//! the camera layer's words, the camera's own message kept. docs/vendors.md names the sources.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use md5::Digest as _;
use secrecy::ExposeSecret;
use serde_json::{Value, json};

use super::envelope::EncryptInfo;
use crate::camera::transport::{CameraTransport, HttpPool};
use crate::camera::{CameraError, MAX_RETRY_AFTER, clean_camera_text, hex};
use crate::model::{Credentials, DeviceAddress, DeviceIdentity};

/// The first login step's answer: here is the challenge.
pub const LOGIN_CHALLENGE: u64 = 268_632_079;
/// The user name or password is not valid.
pub const BAD_CREDENTIALS: u64 = 268_632_085;
/// The user is locked.
pub const USER_LOCKED: u64 = 268_632_081;
/// The RPC has no such method.
pub const METHOD_NOT_FOUND: u64 = 268_894_210;

/// The `Default` scheme's answer to a challenge.
pub fn login_hash(username: &str, password: &str, realm: &str, random: &str) -> String {
    let inner = hex::upper(&md5::Md5::digest(format!("{username}:{realm}:{password}")));
    hex::upper(&md5::Md5::digest(format!("{username}:{random}:{inner}")))
}

/// One camera's RPC.
pub struct RpcSession {
    transport: Arc<CameraTransport>,
    base: String,
    session: std::sync::Mutex<Option<Value>>,
    next_id: AtomicU64,
    remaining_logins: std::sync::Mutex<Option<u32>>,
}

impl RpcSession {
    /// A session with the camera at `address` (its HTTP port).
    pub fn new(pool: &HttpPool, address: &DeviceAddress) -> Self {
        Self {
            transport: pool.transport(None),
            base: format!("http://{address}"),
            session: std::sync::Mutex::new(None),
            next_id: AtomicU64::new(1),
            remaining_logins: std::sync::Mutex::new(None),
        }
    }

    /// One call; the whole reply, or the error it carries in the camera layer's words.
    async fn call(&self, path: &str, method: &str, params: Value) -> Result<Value, CameraError> {
        accepted(self.call_raw(path, method, params).await?)
    }

    async fn call_raw(
        &self,
        path: &str,
        method: &str,
        params: Value,
    ) -> Result<Value, CameraError> {
        let session = self
            .session
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        self.request(path, method, params, session).await
    }

    /// A call before any login that carries `session: 0`, as `DevInit.setProtocolAgree` does.
    pub async fn call_with_session_zero(
        &self,
        method: &str,
        params: Value,
    ) -> Result<Value, CameraError> {
        accepted(
            self.request("/OutsideCmd", method, params, Some(json!(0)))
                .await?,
        )
    }

    /// A call before any login at `/OutsideCmd`; the whole reply or its error.
    pub async fn outside(&self, method: &str, params: Value) -> Result<Value, CameraError> {
        self.call("/OutsideCmd", method, params).await
    }

    /// `Security.getEncryptInfo` without a login: the camera's key and envelope variants.
    pub async fn encrypt_info(&self) -> Result<EncryptInfo, CameraError> {
        let reply = self.outside("Security.getEncryptInfo", Value::Null).await?;
        EncryptInfo::read(reply.get("params").unwrap_or(&Value::Null))
    }

    /// A call at `/OutsideCmd` with `plain` sealed in the envelope `info` allows; the reply, its error
    /// kept for the caller (a refusal here is the camera's verdict, not a transport problem).
    pub async fn sealed(
        &self,
        method: &str,
        info: &EncryptInfo,
        plain: &Value,
    ) -> Result<Value, CameraError> {
        let (params, _) = info.seal(plain)?;
        self.call_raw("/OutsideCmd", method, params).await
    }

    async fn request(
        &self,
        path: &str,
        method: &str,
        params: Value,
        session: Option<Value>,
    ) -> Result<Value, CameraError> {
        let mut request = json!({
            "method": method,
            "params": params,
            "id": self.next_id.fetch_add(1, Ordering::Relaxed),
        });
        if let Some(session) = session {
            request["session"] = session;
        }
        let url = format!("{}{path}", self.base);
        let reply = self
            .transport
            .request("POST", &url, "application/json", Some(&request.to_string()))
            .await?;
        if !(200..300).contains(&reply.status) {
            return Err(match reply.status {
                404 => CameraError::NotOffered(format!("{path} (it answers 404)")),
                status if status >= 500 => {
                    CameraError::Unavailable(format!("HTTP status {status}"))
                }
                status => CameraError::Refused {
                    subcode: None,
                    reason: format!("HTTP status {status}"),
                },
            });
        }
        let body = reply.body.trim_end_matches(['\0', '\n', ' ']);
        serde_json::from_str::<Value>(body)
            .ok()
            .filter(Value::is_object)
            .ok_or_else(|| CameraError::BadReply(format!("{method} answered with no JSON object")))
    }

    /// `DevInit.getStatus` without a login: whether the camera is in factory state (`Init` 1).
    pub async fn in_factory_state(&self) -> Result<bool, CameraError> {
        let reply = self
            .call("/OutsideCmd", "DevInit.getStatus", Value::Null)
            .await?;
        Ok(reply
            .pointer("/params/Init")
            .and_then(Value::as_u64)
            .is_some_and(|init| init & 0b11 == 1))
    }

    /// The two-step login. One wrong password is one failed login on the camera.
    pub async fn login(&self, credentials: &Credentials) -> Result<(), CameraError> {
        let first = self
            .call_raw(
                "/RPC2_Login",
                "global.login",
                json!({ "userName": credentials.username, "password": "", "clientType": "Web3.0" }),
            )
            .await?;
        if error_code(&first) != Some(LOGIN_CHALLENGE) {
            return Err(read_error(&first, false));
        }
        let text = |name: &str| {
            first
                .pointer(&format!("/params/{name}"))
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned()
        };
        let encryption = text("encryption");
        if encryption != "Default" {
            return Err(CameraError::NotOffered(format!(
                "a login the recorder can answer (it asks for '{}')",
                clean_camera_text(&encryption)
            )));
        }
        *self.session.lock().unwrap_or_else(|e| e.into_inner()) = first.get("session").cloned();
        let hash = login_hash(
            &credentials.username,
            credentials.password.expose_secret(),
            &text("realm"),
            &text("random"),
        );
        let second = self
            .call_raw(
                "/RPC2_Login",
                "global.login",
                json!({
                    "userName": credentials.username,
                    "password": hash,
                    "clientType": "Web3.0",
                    "authorityType": "Default",
                    "passwordType": "Default",
                }),
            )
            .await?;
        if second.get("result") != Some(&Value::Bool(true)) {
            *self
                .remaining_logins
                .lock()
                .unwrap_or_else(|e| e.into_inner()) = second
                .pointer("/params/remainLoginTimes")
                .and_then(Value::as_u64)
                .and_then(|n| u32::try_from(n).ok());
            return Err(read_error(&second, true));
        }
        if let Some(session) = second.get("session").cloned() {
            *self.session.lock().unwrap_or_else(|e| e.into_inner()) = Some(session);
        }
        Ok(())
    }

    /// The wrong logins the camera said it still takes, after a refused one.
    pub fn remaining_logins(&self) -> Option<u32> {
        *self
            .remaining_logins
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// Restores factory defaults (after the login): `magicBox.resetSystem`. The camera comes back in
    /// factory state.
    pub async fn reset_system(&self) -> Result<(), CameraError> {
        self.call("/RPC2", "magicBox.resetSystem", Value::Null)
            .await
            .map(drop)
    }

    /// The camera's own date (`YYYY-MM-DD`) without a login (`DevInit.getCurrentTime`), for the
    /// support desk.
    pub async fn camera_date(&self) -> Result<String, CameraError> {
        let reply = self.outside("DevInit.getCurrentTime", Value::Null).await?;
        let time = reply
            .pointer("/params/time")
            .and_then(Value::as_str)
            .map(clean_camera_text)
            .unwrap_or_default();
        let date: String = time.chars().take(10).collect();
        let shaped = date.len() == 10
            && date.chars().enumerate().all(|(i, c)| {
                if i == 4 || i == 7 {
                    c == '-'
                } else {
                    c.is_ascii_digit()
                }
            });
        if shaped {
            Ok(date)
        } else {
            Err(CameraError::BadReply(
                "the camera's time is not a date".into(),
            ))
        }
    }

    /// Who the camera is (after the login): `magicBox.getSerialNo`, `getDeviceType`,
    /// `getSoftwareVersion`.
    pub async fn identity(&self) -> Result<DeviceIdentity, CameraError> {
        let serial = self
            .call("/RPC2", "magicBox.getSerialNo", Value::Null)
            .await?;
        let model = self
            .call("/RPC2", "magicBox.getDeviceType", Value::Null)
            .await?;
        let version = self
            .call("/RPC2", "magicBox.getSoftwareVersion", Value::Null)
            .await?;
        let text = |reply: &Value, pointer: &str| {
            reply
                .pointer(pointer)
                .and_then(Value::as_str)
                .map(clean_camera_text)
                .unwrap_or_default()
        };
        Ok(DeviceIdentity {
            manufacturer: super::dhip::MANUFACTURER.to_owned(),
            model: text(&model, "/params/type"),
            firmware: text(&version, "/params/version/Version"),
            serial: text(&serial, "/params/sn"),
            mac: None,
        })
    }
}

/// The reply when it says `result` is not false, else its error.
fn accepted(reply: Value) -> Result<Value, CameraError> {
    match reply.get("result") {
        Some(Value::Bool(false)) | None => Err(read_error(&reply, false)),
        Some(_) => Ok(reply),
    }
}

fn error_code(reply: &Value) -> Option<u64> {
    reply.pointer("/error/code").and_then(Value::as_u64)
}

/// An RPC error in the camera layer's words. `with_credentials`: the call carried a password.
pub fn read_error(reply: &Value, with_credentials: bool) -> CameraError {
    let message = reply
        .pointer("/error/message")
        .and_then(Value::as_str)
        .map(clean_camera_text)
        .unwrap_or_default();
    let lock_left = reply
        .pointer("/params/remainLockSecond")
        .and_then(Value::as_u64)
        .filter(|s| *s > 0)
        .map(|s| Duration::from_secs(s).min(MAX_RETRY_AFTER));
    match error_code(reply) {
        Some(USER_LOCKED) => CameraError::Locked {
            retry_after: lock_left,
        },
        Some(BAD_CREDENTIALS) if lock_left.is_some() => CameraError::Locked {
            retry_after: lock_left,
        },
        Some(BAD_CREDENTIALS) if with_credentials => CameraError::CredentialsRejected,
        Some(BAD_CREDENTIALS) => CameraError::CredentialsRequired,
        Some(code) => CameraError::Refused {
            subcode: Some(code.to_string()),
            reason: if message.is_empty() {
                format!("error {code}")
            } else {
                message
            },
        },
        None => CameraError::BadReply("a refusal without an error".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_login_hash_matches_a_captured_login() {
        // A public capture: admin, realm "Login to 4H01D66PAJ2FA64", random 1753753988.
        assert_eq!(
            login_hash(
                "admin",
                "SecretPassword",
                "Login to 4H01D66PAJ2FA64",
                "1753753988"
            ),
            "71596D591679A707721AD797437DE105"
        );
    }

    #[test]
    fn errors_are_read_in_the_cameras_words() {
        let wrong = json!({"error":{"code":268632085,"message":"Component error: User or password not valid!"},
            "id":3,"params":{"remainLockSecond":0,"remainLoginTimes":2},"result":false,"session":2147483643});
        assert_eq!(read_error(&wrong, true), CameraError::CredentialsRejected);
        let locked = json!({"error":{"code":268632081,"message":"locked"},"params":{"remainLockSecond":290},"result":false});
        assert_eq!(
            read_error(&locked, true),
            CameraError::Locked {
                retry_after: Some(Duration::from_secs(290))
            }
        );
        let other =
            json!({"error":{"code":268894210,"message":"Method not found!"},"result":false});
        assert_eq!(
            read_error(&other, true),
            CameraError::Refused {
                subcode: Some("268894210".into()),
                reason: "Method not found!".into()
            }
        );
    }
}
