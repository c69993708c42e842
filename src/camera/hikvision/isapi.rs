//! Hikvision's ISAPI over HTTP Digest, as the recorder uses it: whether a camera is activated (asked
//! without a login), the one login check (`userCheck`, which also reports the illegal-login lock), the
//! device's identity and clock, its users and their passwords. Every reply is read here into the
//! camera layer's words; the camera's own words are kept for the detail. docs/vendors.md names the
//! public source of each request.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use oxvif::soap::XmlNode;
use secrecy::{ExposeSecret, SecretString};

use crate::camera::transport::{CameraTransport, HttpPool, HttpReply};
use crate::camera::{CameraError, MAX_RETRY_AFTER, clean_camera_text};
use crate::model::{Credentials, DeviceAddress, DeviceIdentity, normalize_mac};

/// ISAPI's XML namespace (version 2.0 bodies).
pub const XML_NS: &str = "http://www.hikvision.com/ver20/XMLSchema";
/// What the recorder calls the maker of cameras it identified over ISAPI or SADP.
pub const MANUFACTURER: &str = "Hikvision";
const XML: &str = "application/xml; charset=\"UTF-8\"";

/// A camera user as ISAPI lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IsapiUser {
    /// Its id in `/ISAPI/Security/users/<id>`.
    pub id: String,
    /// Its name.
    pub username: String,
    /// `Administrator`, `Operator`, `Viewer`.
    pub level: String,
}

/// The illegal-login lock as the camera is set up (`/ISAPI/Security/illegalLoginLock`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginLockPolicy {
    /// Whether the camera locks a user after failed logins.
    pub enabled: bool,
    /// Failed logins before the lock.
    pub max_failed_logins: u32,
    /// How long the lock lasts.
    pub lock_time: Option<Duration>,
}

/// One camera's ISAPI, with or without credentials. The Digest challenge is kept between requests,
/// so after the first login every request carries the password once and a refusal is final.
pub struct IsapiSession {
    transport: Arc<CameraTransport>,
    base: String,
    authenticated: bool,
}

impl IsapiSession {
    /// A session with the camera at `address` (its HTTP port; the path is ISAPI's own).
    pub fn new(
        pool: &HttpPool,
        address: &DeviceAddress,
        credentials: Option<&Credentials>,
    ) -> Self {
        Self {
            transport: pool.transport(credentials),
            base: format!("http://{address}"),
            authenticated: credentials.is_some(),
        }
    }

    /// One request; the reply's XML root on success, or the refusal read from the reply.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&str>,
    ) -> Result<Option<XmlNode>, CameraError> {
        let url = format!("{}{path}", self.base);
        let reply = self.transport.request(method, &url, XML, body).await?;
        if !(200..300).contains(&reply.status) {
            return Err(read_refusal(&reply, self.authenticated, path));
        }
        if reply.body.trim().is_empty() {
            return Ok(None);
        }
        let root = XmlNode::parse(&reply.body)
            .map_err(|_| CameraError::BadReply(format!("{path} answered with no XML")))?;
        // A 200 may still carry a ResponseStatus that says no.
        if root.local_name == "ResponseStatus" {
            let status = ResponseStatus::read(&root);
            if !status.succeeded() {
                return Err(status.refusal());
            }
        }
        Ok(Some(root))
    }

    /// One request with a JSON body (`?format=json` paths); the reply's JSON on success.
    pub async fn call_json(
        &self,
        method: &str,
        path: &str,
        body: &str,
    ) -> Result<serde_json::Value, CameraError> {
        let url = format!("{}{path}", self.base);
        let reply = self
            .transport
            .request(method, &url, "application/json", Some(body))
            .await?;
        if !(200..300).contains(&reply.status) {
            return Err(read_refusal(&reply, self.authenticated, path));
        }
        let value: serde_json::Value = serde_json::from_str(&reply.body)
            .map_err(|_| CameraError::BadReply(format!("{path} answered with no JSON")))?;
        if let Some(status) = ResponseStatus::from_json(&value)
            && !status.succeeded()
        {
            return Err(status.refusal());
        }
        Ok(value)
    }

    /// `GET /SDK/activateStatus`, asked without a login: whether the camera has an administrator.
    /// A camera that does not know the path is taken as activated (older firmware activated in the
    /// factory).
    pub async fn activated(&self) -> Result<bool, CameraError> {
        match self.call("GET", "/SDK/activateStatus", None).await {
            Ok(Some(root)) => match root.child("Activated").map(|n| n.text().trim()) {
                Some("true") => Ok(true),
                Some("false") => Ok(false),
                _ => Err(CameraError::BadReply(
                    "activateStatus carried no Activated".to_owned(),
                )),
            },
            Ok(None) => Err(CameraError::BadReply(
                "activateStatus answered with nothing".to_owned(),
            )),
            Err(CameraError::NotOffered(_)) => Ok(true),
            Err(error) => Err(error),
        }
    }

    /// `GET /ISAPI/Security/userCheck`: the login itself. Rejected, locked (with how long, as the
    /// camera says) or accepted.
    pub async fn user_check(&self) -> Result<(), CameraError> {
        let root = self.call("GET", "/ISAPI/Security/userCheck", None).await?;
        match root {
            Some(root) if root.local_name.eq_ignore_ascii_case("userCheck") => {
                match root.child("statusValue").map(|n| n.text().trim()) {
                    Some("200") | None => Ok(()),
                    Some(_) => Err(user_check_refusal(&root, self.authenticated)),
                }
            }
            _ => Ok(()),
        }
    }

    /// `GET /ISAPI/System/deviceInfo`.
    pub async fn device_info(&self) -> Result<DeviceIdentity, CameraError> {
        let root = self
            .call("GET", "/ISAPI/System/deviceInfo", None)
            .await?
            .ok_or_else(|| CameraError::BadReply("deviceInfo answered with nothing".to_owned()))?;
        let text = |name: &str| {
            root.child(name)
                .map(|n| clean_camera_text(n.text()))
                .unwrap_or_default()
        };
        Ok(DeviceIdentity {
            manufacturer: MANUFACTURER.to_owned(),
            model: text("model"),
            firmware: text("firmwareVersion"),
            serial: text("serialNumber"),
            mac: normalize_mac(&text("macAddress")),
        })
    }

    /// Camera clock minus ours, seconds, from `GET /ISAPI/System/time`.
    pub async fn clock_offset(&self) -> Result<i64, CameraError> {
        let root = self
            .call("GET", "/ISAPI/System/time", None)
            .await?
            .ok_or_else(|| CameraError::BadReply("time answered with nothing".to_owned()))?;
        let local = root.child("localTime").map(XmlNode::text).unwrap_or("");
        let zone = root.child("timeZone").map(XmlNode::text).unwrap_or("");
        let camera = camera_unix_time(local, zone).ok_or_else(|| {
            CameraError::BadReply(format!("time '{}' not readable", clean_camera_text(local)))
        })?;
        Ok(camera - crate::clock::unix_secs(SystemTime::now()))
    }

    /// `GET /ISAPI/Security/users`.
    pub async fn users(&self) -> Result<Vec<IsapiUser>, CameraError> {
        let root = self
            .call("GET", "/ISAPI/Security/users", None)
            .await?
            .ok_or_else(|| CameraError::BadReply("users answered with nothing".to_owned()))?;
        Ok(root
            .children_named("User")
            .map(|user| {
                let text = |name: &str| {
                    user.child(name)
                        .map(|n| clean_camera_text(n.text()))
                        .unwrap_or_default()
                };
                IsapiUser {
                    id: text("id"),
                    username: text("userName"),
                    level: text("userLevel"),
                }
            })
            .filter(|u| !u.id.is_empty() && u.id.chars().all(|c| c.is_ascii_digit()))
            .collect())
    }

    /// `PUT /ISAPI/Security/users/<id>`: a new password for `username`. Firmware since 2017 wants the
    /// password the session logged in with as `loginPassword`; it is sent, and ignored by older ones.
    pub async fn set_password(
        &self,
        username: &str,
        new_password: &SecretString,
        login_password: &SecretString,
    ) -> Result<(), CameraError> {
        let user = self
            .users()
            .await?
            .into_iter()
            .find(|u| u.username == username)
            .ok_or_else(|| CameraError::Refused {
                subcode: None,
                reason: format!("the camera has no user {username}"),
            })?;
        let body = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><User version=\"2.0\" xmlns=\"{XML_NS}\">\
             <id>{}</id><userName>{}</userName><password>{}</password>\
             <loginPassword>{}</loginPassword></User>",
            user.id,
            xml_escape(username),
            xml_escape(new_password.expose_secret()),
            xml_escape(login_password.expose_secret())
        );
        self.call(
            "PUT",
            &format!("/ISAPI/Security/users/{}", user.id),
            Some(&body),
        )
        .await
        .map(|_| ())
    }

    /// `GET /ISAPI/Security/illegalLoginLock`.
    pub async fn login_lock_policy(&self) -> Result<LoginLockPolicy, CameraError> {
        let root = self
            .call("GET", "/ISAPI/Security/illegalLoginLock", None)
            .await?
            .ok_or_else(|| {
                CameraError::BadReply("illegalLoginLock answered with nothing".to_owned())
            })?;
        let number = |name: &str| {
            root.child(name)
                .and_then(|n| n.text().trim().parse::<u32>().ok())
        };
        Ok(LoginLockPolicy {
            enabled: root
                .child("enabled")
                .is_some_and(|n| n.text().trim() == "true"),
            max_failed_logins: number("maxIllegalLoginTimes").unwrap_or(0),
            // Minutes on the models that say it.
            lock_time: number("resumeTime")
                .map(|m| Duration::from_secs(u64::from(m) * 60).min(MAX_RETRY_AFTER)),
        })
    }
}

/// ISAPI's `ResponseStatus`, the body of most answers to PUT and POST and of most refusals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseStatus {
    /// 1 OK, 2 busy, 3 device error, 4 invalid operation, 5 bad XML, 6 bad content, 7 reboot needed.
    pub code: u32,
    /// The words, such as "Invalid Operation".
    pub words: String,
    /// The specific reason, such as `invalidOperation` or `badPassword`.
    pub sub_code: String,
}

impl ResponseStatus {
    /// Reads one from its element.
    pub fn read(root: &XmlNode) -> Self {
        let text = |name: &str| {
            root.child(name)
                .map(|n| clean_camera_text(n.text()))
                .unwrap_or_default()
        };
        Self {
            code: text("statusCode").parse().unwrap_or(0),
            words: text("statusString"),
            sub_code: text("subStatusCode"),
        }
    }

    /// Reads the JSON form (`statusCode`, `statusString`, `subStatusCode` at the top), when the value
    /// has one.
    pub fn from_json(value: &serde_json::Value) -> Option<Self> {
        let code = value.get("statusCode")?.as_u64()?;
        let text = |name: &str| {
            value
                .get(name)
                .and_then(|v| v.as_str())
                .map(clean_camera_text)
                .unwrap_or_default()
        };
        Some(Self {
            code: u32::try_from(code).unwrap_or(0),
            words: text("statusString"),
            sub_code: text("subStatusCode"),
        })
    }

    /// OK, or OK and a reboot is needed.
    pub fn succeeded(&self) -> bool {
        matches!(self.code, 1 | 7) || self.sub_code.eq_ignore_ascii_case("ok")
    }

    /// What the camera's no means.
    pub fn refusal(&self) -> CameraError {
        let detail = if self.sub_code.is_empty() {
            self.words.clone()
        } else {
            format!("{} ({})", self.words, self.sub_code)
        };
        match self.code {
            2 => CameraError::Unavailable(detail),
            3 => CameraError::DeviceFault(detail),
            _ => CameraError::Refused {
                subcode: Some(self.sub_code.clone()).filter(|c| !c.is_empty()),
                reason: if self.words.is_empty() {
                    self.sub_code.clone()
                } else {
                    detail
                },
            },
        }
    }
}

/// Reads a reply that is not a success: a 401 (the password, or a lock), a 404 (the camera does not
/// offer the path), a ResponseStatus, or a server error.
pub fn read_refusal(reply: &HttpReply, with_credentials: bool, path: &str) -> CameraError {
    let root = XmlNode::parse(&reply.body).ok();
    match reply.status {
        401 => match root.as_ref() {
            Some(root) if root.local_name.eq_ignore_ascii_case("userCheck") => {
                user_check_refusal(root, with_credentials)
            }
            _ if with_credentials => CameraError::CredentialsRejected,
            _ => CameraError::CredentialsRequired,
        },
        404 => CameraError::NotOffered(format!("{path} (it answers 404)")),
        status => match root.filter(|r| r.local_name == "ResponseStatus") {
            Some(root) => ResponseStatus::read(&root).refusal(),
            None if let Some(json) = serde_json::from_str::<serde_json::Value>(&reply.body)
                .ok()
                .as_ref()
                .and_then(ResponseStatus::from_json) =>
            {
                json.refusal()
            }
            None if status >= 500 => CameraError::Unavailable(format!("HTTP status {status}")),
            None => CameraError::Refused {
                subcode: None,
                reason: format!("HTTP status {status}"),
            },
        },
    }
}

/// A `userCheck` that is not 200: locked (with the camera's unlock time), or the password refused.
fn user_check_refusal(root: &XmlNode, with_credentials: bool) -> CameraError {
    let locked = root
        .child("lockStatus")
        .is_some_and(|n| n.text().trim().eq_ignore_ascii_case("lock"));
    if locked {
        let retry_after = root
            .child("unlockTime")
            .and_then(|n| n.text().trim().parse::<u64>().ok())
            .filter(|s| *s > 0)
            .map(|s| Duration::from_secs(s).min(MAX_RETRY_AFTER));
        return CameraError::Locked { retry_after };
    }
    if with_credentials {
        CameraError::CredentialsRejected
    } else {
        CameraError::CredentialsRequired
    }
}

/// The camera's time as Unix seconds: `localTime` with its UTC offset, or without one together with
/// the POSIX `timeZone` (`CST-8:00:00` is eight hours east of UTC: POSIX writes the sign reversed).
pub fn camera_unix_time(local: &str, zone: &str) -> Option<i64> {
    let local = local.trim();
    if let Some(at) = crate::clock::parse_rfc3339(local) {
        return Some(crate::clock::unix_secs(at));
    }
    let format = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
    let naive = time::PrimitiveDateTime::parse(local.get(..19)?, &format).ok()?;
    let east_secs = -posix_offset_secs(zone)?;
    Some(naive.assume_utc().unix_timestamp() - east_secs)
}

/// The offset of a POSIX TZ string's standard time, seconds west of UTC (`CST-8:00:00` is -28800).
fn posix_offset_secs(zone: &str) -> Option<i64> {
    let zone = zone.trim();
    if zone.is_empty() {
        return Some(0);
    }
    let start = zone.find(|c: char| c == '+' || c == '-' || c.is_ascii_digit())?;
    let rest = &zone[start..];
    let (sign, rest) = match rest.as_bytes().first()? {
        b'-' => (-1, &rest[1..]),
        b'+' => (1, &rest[1..]),
        _ => (1, rest),
    };
    let end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == ':'))
        .unwrap_or(rest.len());
    let mut parts = rest[..end].split(':');
    let hours: i64 = parts.next()?.parse().ok()?;
    let minutes: i64 = parts.next().map_or(Some(0), |m| m.parse().ok())?;
    let seconds: i64 = parts.next().map_or(Some(0), |s| s.parse().ok())?;
    if hours > 24 || minutes > 59 || seconds > 59 {
        return None;
    }
    Some(sign * (hours * 3600 + minutes * 60 + seconds))
}

/// Escapes text for an XML element.
pub fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(status: u16, body: &str) -> HttpReply {
        HttpReply {
            status,
            challenge: None,
            date: None,
            body: body.to_owned(),
        }
    }

    #[test]
    fn a_locked_user_check_says_how_long() {
        let body = "<userCheck><statusValue>401</statusValue><statusString>Unauthorized</statusString>\
                    <lockStatus>lock</lockStatus><unlockTime>1786</unlockTime><retryLoginTime>0</retryLoginTime></userCheck>";
        assert_eq!(
            read_refusal(&reply(401, body), true, "/ISAPI/Security/userCheck"),
            CameraError::Locked {
                retry_after: Some(Duration::from_secs(1786))
            }
        );
        let wrong = body.replace(">lock<", ">unlock<");
        assert_eq!(
            read_refusal(&reply(401, &wrong), true, "/ISAPI/Security/userCheck"),
            CameraError::CredentialsRejected
        );
        assert_eq!(
            read_refusal(&reply(401, ""), false, "/ISAPI/System/deviceInfo"),
            CameraError::CredentialsRequired
        );
        // A lock cannot be pushed past a day.
        let long = body.replace("1786", "999999999999");
        assert_eq!(
            read_refusal(&reply(401, &long), true, "/x"),
            CameraError::Locked {
                retry_after: Some(MAX_RETRY_AFTER)
            }
        );
    }

    #[test]
    fn response_status_refusals_keep_the_cameras_words() {
        let body = format!(
            "<ResponseStatus version=\"2.0\" xmlns=\"{XML_NS}\"><requestURL>/ISAPI/System/activate</requestURL>\
             <statusCode>4</statusCode><statusString>Invalid Operation</statusString>\
             <subStatusCode>deviceActivated</subStatusCode></ResponseStatus>"
        );
        assert_eq!(
            read_refusal(&reply(403, &body), false, "/ISAPI/System/activate"),
            CameraError::Refused {
                subcode: Some("deviceActivated".into()),
                reason: "Invalid Operation (deviceActivated)".into()
            }
        );
        assert!(matches!(
            read_refusal(&reply(404, "<html/>"), true, "/ISAPI/Security/extern/capabilities"),
            CameraError::NotOffered(what) if what.contains("extern/capabilities")
        ));
        assert!(matches!(
            read_refusal(&reply(503, "busy"), true, "/x"),
            CameraError::Unavailable(_)
        ));
    }

    #[test]
    fn camera_time_is_read_with_its_zone() {
        assert_eq!(
            camera_unix_time("2026-12-07T08:00:00+08:00", ""),
            Some(1_796_601_600)
        );
        // No offset in localTime: the POSIX zone says eight hours east.
        assert_eq!(
            camera_unix_time("2026-12-07T08:00:00", "CST-8:00:00"),
            Some(1_796_601_600)
        );
        assert_eq!(
            camera_unix_time("2026-12-07T00:00:00", "UTC0"),
            Some(1_796_601_600)
        );
        assert_eq!(
            camera_unix_time("2026-12-06T19:00:00", "EST5EDT"),
            Some(1_796_601_600)
        );
        assert_eq!(camera_unix_time("yesterday", "UTC0"), None);
        assert_eq!(camera_unix_time("2026-12-07T00:00:00", "X+99"), None);
    }
}
