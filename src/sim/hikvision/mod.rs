//! The Hikvision persona's ISAPI: what a Hikvision camera answers over HTTP, as far as public sources
//! say (docs/vendors.md). Activation without a login (`/SDK/activateStatus`, the legacy challenge and
//! V3), then everything else behind HTTP Digest: `userCheck` with its lock report, `deviceInfo`, `time`,
//! users and their passwords, the illegal-login lock, ONVIF on and off (`Network/Integrate`), and the
//! reserved email. Its SADP responder is `sadp.rs`.

mod maintenance;
pub mod sadp;

use std::time::Duration;

use oxvif::soap::XmlNode;

use crate::camera::hikvision::activation::{open_password_field, seal_challenge};
use crate::camera::hikvision::isapi::{XML_NS, xml_escape};
use crate::camera::xml_guard::{MAX_XML_DEPTH, nesting_within};
use crate::clock::unix_secs;
use crate::sim::camera::{Caller, Credential, DIGEST_REALM, SimCamera, UserLevel, hex};
use crate::sim::fault::Refusal;

/// How long an activation challenge stays good.
const CHALLENGE_LIFETIME: Duration = Duration::from_secs(120);
/// The largest ISAPI request body read.
const MAX_BODY: usize = 64 * 1024;

/// An ISAPI request as it arrived.
#[derive(Debug)]
pub struct IsapiRequest<'a> {
    /// GET, PUT, POST.
    pub method: &'a str,
    /// The path and query.
    pub uri: &'a str,
    /// The `Authorization` header.
    pub authorization: Option<&'a str>,
    /// The body.
    pub body: &'a [u8],
}

/// What goes back.
#[derive(Debug)]
pub struct IsapiResponse {
    /// HTTP status.
    pub status: u16,
    /// The body.
    pub body: String,
    /// Its type.
    pub content_type: &'static str,
    /// A Digest challenge, with a 401.
    pub www_authenticate: Option<String>,
}

fn xml(status: u16, body: String) -> IsapiResponse {
    IsapiResponse {
        status,
        body: format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{body}"),
        content_type: "application/xml; charset=\"UTF-8\"",
        www_authenticate: None,
    }
}

fn json(status: u16, value: serde_json::Value) -> IsapiResponse {
    IsapiResponse {
        status,
        body: value.to_string(),
        content_type: "application/json",
        www_authenticate: None,
    }
}

/// ISAPI's ResponseStatus, in XML or (for `format=json` paths) JSON.
fn status(http: u16, code: u32, words: &str, sub: &str, path: &str) -> IsapiResponse {
    if path.contains("format=json") {
        return json(
            http,
            serde_json::json!({
                "requestURL": path, "statusCode": code, "statusString": words, "subStatusCode": sub
            }),
        );
    }
    xml(
        http,
        format!(
            "<ResponseStatus version=\"2.0\" xmlns=\"{XML_NS}\"><requestURL>{}</requestURL>\
             <statusCode>{code}</statusCode><statusString>{words}</statusString>\
             <subStatusCode>{sub}</subStatusCode></ResponseStatus>",
            xml_escape(path)
        ),
    )
}

fn ok(path: &str) -> IsapiResponse {
    status(200, 1, "OK", "ok", path)
}

fn bad(sub: &str, path: &str) -> IsapiResponse {
    status(400, 6, "Invalid XML Content", sub, path)
}

/// Whether the camera takes `password` as an administrator's: 8 to 16 characters of at least two
/// kinds (lower case, upper case, digits, symbols), as Hikvision's firmware asks.
pub fn strong_enough(password: &str) -> bool {
    let length = password.chars().count();
    let kinds = [
        password.chars().any(|c| c.is_ascii_lowercase()),
        password.chars().any(|c| c.is_ascii_uppercase()),
        password.chars().any(|c| c.is_ascii_digit()),
        password
            .chars()
            .any(|c| !c.is_ascii_alphanumeric() && !c.is_control()),
    ]
    .iter()
    .filter(|k| **k)
    .count();
    (8..=16).contains(&length) && kinds >= 2 && !password.chars().any(char::is_control)
}

/// Answers one ISAPI request.
pub fn handle(camera: &SimCamera, request: &IsapiRequest<'_>) -> IsapiResponse {
    camera.note_request();
    if camera.take_server_error() {
        return status(503, 2, "Device Busy", "deviceBusy", request.uri);
    }
    if request.body.len() > MAX_BODY || !nesting_within(request.body, MAX_XML_DEPTH) {
        return status(400, 5, "Invalid XML Format", "badXmlFormat", request.uri);
    }
    let path = request.uri.split('?').next().unwrap_or("");
    let body = std::str::from_utf8(request.body).unwrap_or("");
    match (request.method, path) {
        ("GET", "/SDK/activateStatus") => activate_status(camera),
        ("POST", "/ISAPI/Security/challenge") => challenge(camera, body, request.uri),
        ("PUT", "/ISAPI/System/activate") => activate(camera, body, request.uri),
        ("POST", "/ISAPI/System/activate/GetChallengeV3") => {
            challenge_v3(camera, body, request.uri)
        }
        ("POST", "/ISAPI/System/activate/StartActivateV3") => {
            activate_v3(camera, body, request.uri)
        }
        _ => match login(camera, request) {
            Ok(caller) => authenticated(camera, &caller, request, path, body),
            Err(refusal) => refusal,
        },
    }
}

fn activate_status(camera: &SimCamera) -> IsapiResponse {
    let version = if camera.hikvision().v3 {
        "<supportVersion>3</supportVersion>"
    } else {
        ""
    };
    xml(
        200,
        format!(
            "<ActivateStatus><Activated>{}</Activated>{version}</ActivateStatus>",
            !camera.is_inactive()
        ),
    )
}

fn has_activated(path: &str) -> IsapiResponse {
    status(403, 4, "Invalid Operation", "hasActivated", path)
}

/// A fresh random string R, kept for the activation that follows.
fn new_random(camera: &SimCamera) -> String {
    let random = hex(&rand::random::<[u8; 16]>());
    camera.hikvision().pending_activation = Some((random.clone(), camera.camera_now()));
    random
}

/// The pending R, once: a challenge answers one activation.
fn take_random(camera: &SimCamera) -> Option<String> {
    let now = camera.camera_now();
    let (random, issued) = camera.hikvision().pending_activation.take()?;
    (now.duration_since(issued).unwrap_or_default() <= CHALLENGE_LIFETIME).then_some(random)
}

fn challenge(camera: &SimCamera, body: &str, uri: &str) -> IsapiResponse {
    if !camera.is_inactive() {
        return has_activated(uri);
    }
    if camera.hikvision().v3 {
        return status(403, 4, "Invalid Operation", "notSupport", uri);
    }
    // The request's root is PublicKey (or, from some clients, Challenge); only `key` matters.
    let Some(key) = XmlNode::parse(body)
        .ok()
        .and_then(|root| root.child("key").map(|k| k.text().trim().to_owned()))
    else {
        return bad("badXmlContent", uri);
    };
    let random = new_random(camera);
    match seal_challenge(&key, &random) {
        Some(sealed) => xml(
            200,
            format!(
                "<Challenge version=\"2.0\" xmlns=\"{XML_NS}\"><key>{sealed}</key></Challenge>"
            ),
        ),
        None => bad("badParameters", uri),
    }
}

fn activate(camera: &SimCamera, body: &str, uri: &str) -> IsapiResponse {
    if !camera.is_inactive() {
        return has_activated(uri);
    }
    let field = XmlNode::parse(body)
        .ok()
        .and_then(|root| root.child("password").map(|p| p.text().trim().to_owned()));
    let (Some(field), Some(random)) = (field, take_random(camera)) else {
        return bad("badParameters", uri);
    };
    finish_activation(camera, open_password_field(&random, &field, None), uri)
}

fn finish_activation(camera: &SimCamera, password: Option<String>, uri: &str) -> IsapiResponse {
    match password {
        Some(password) if strong_enough(&password) => {
            if camera.activate_admin("admin", &password) {
                tracing::info!(
                    camera = camera.identity().index,
                    "simulated Hikvision camera activated"
                );
                ok(uri)
            } else {
                has_activated(uri)
            }
        }
        Some(_) => status(400, 6, "Invalid Content", "riskPassword", uri),
        None => bad("badParameters", uri),
    }
}

fn challenge_v3(camera: &SimCamera, body: &str, uri: &str) -> IsapiResponse {
    if !camera.is_inactive() {
        return has_activated(uri);
    }
    let key = serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("publicKey")?.as_str().map(str::to_owned));
    let Some(key) = key else {
        return bad("badParameters", uri);
    };
    // V3 takes a 3072-bit key only: 768 hex characters.
    let hex_chars = base64_len(&key);
    if hex_chars != Some(768) {
        return bad("badParameters", uri);
    }
    let random = new_random(camera);
    match seal_challenge(&key, &random) {
        Some(sealed) => json(200, serde_json::json!({ "challenge": sealed })),
        None => bad("badParameters", uri),
    }
}

fn base64_len(field: &str) -> Option<usize> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(field.trim())
        .ok()
        .map(|b| b.len())
}

fn activate_v3(camera: &SimCamera, body: &str, uri: &str) -> IsapiResponse {
    if !camera.is_inactive() {
        return has_activated(uri);
    }
    let value = serde_json::from_str::<serde_json::Value>(body).ok();
    let text = |name: &str| {
        value
            .as_ref()
            .and_then(|v| v.get(name)?.as_str().map(str::to_owned))
    };
    let (Some(field), Some(iv), Some(random)) = (text("password"), text("iv"), take_random(camera))
    else {
        return bad("badParameters", uri);
    };
    finish_activation(camera, open_password_field(&random, &field, Some(&iv)), uri)
}

/// A 401 with a fresh Digest challenge and `body`.
fn unauthorized(camera: &SimCamera, body: String) -> IsapiResponse {
    IsapiResponse {
        www_authenticate: Some(format!(
            r#"Digest realm="{DIGEST_REALM}", qop="auth", algorithm=MD5, nonce="{}""#,
            camera.issue_digest_nonce()
        )),
        ..xml(401, body)
    }
}

fn user_check_body(status: u16, lock: Option<Duration>, retries: u32) -> String {
    let words = if status == 200 { "OK" } else { "Unauthorized" };
    format!(
        "<userCheck version=\"2.0\" xmlns=\"{XML_NS}\"><statusValue>{status}</statusValue>\
         <statusString>{words}</statusString><lockStatus>{}</lockStatus>\
         <unlockTime>{}</unlockTime><retryLoginTime>{retries}</retryLoginTime></userCheck>",
        if lock.is_some() { "lock" } else { "unlock" },
        lock.map_or(0, |d| d.as_secs().max(1))
    )
}

/// Checks the Digest login: the caller, or the 401 to send.
fn login(camera: &SimCamera, request: &IsapiRequest<'_>) -> Result<Caller, IsapiResponse> {
    let Some(header) = request
        .authorization
        .filter(|h| h.trim_start().starts_with("Digest"))
    else {
        return Err(unauthorized(camera, user_check_body(401, None, 0)));
    };
    if camera.is_inactive() {
        return Err(IsapiResponse {
            status: 401,
            ..status(401, 4, "Invalid Operation", "notActivated", request.uri)
        });
    }
    let credential = Credential::HttpDigest {
        header: header.to_owned(),
        method: request.method.to_owned(),
    };
    match camera.authenticate(Some(&credential), request.uri) {
        Ok(caller @ Caller::User { .. }) => Ok(caller),
        Ok(_) => Err(unauthorized(camera, user_check_body(401, None, 0))),
        Err(fault) => Err(match fault.refusal {
            Some(Refusal::Locked(left)) => xml(401, user_check_body(401, Some(left), 0)),
            Some(Refusal::CredentialsWrong { attempts_left }) => unauthorized(
                camera,
                user_check_body(401, None, attempts_left.unwrap_or(0)),
            ),
            _ => unauthorized(camera, user_check_body(401, None, 0)),
        }),
    }
}

fn authenticated(
    camera: &SimCamera,
    caller: &Caller,
    request: &IsapiRequest<'_>,
    path: &str,
    body: &str,
) -> IsapiResponse {
    let admin = matches!(
        caller,
        Caller::User {
            level: UserLevel::Administrator,
            ..
        }
    );
    let uri = request.uri;
    let id = camera.identity();
    match (request.method, path) {
        ("GET", "/ISAPI/Security/userCheck") => xml(200, user_check_body(200, None, 0)),
        ("GET", "/ISAPI/System/deviceInfo") => xml(
            200,
            format!(
                "<DeviceInfo version=\"2.0\" xmlns=\"{XML_NS}\"><deviceName>IP CAMERA</deviceName>\
                 <deviceID>{}</deviceID><model>{}</model><serialNumber>{}</serialNumber>\
                 <macAddress>{}</macAddress><firmwareVersion>{}</firmwareVersion>\
                 <firmwareReleasedDate>build 260101</firmwareReleasedDate>\
                 <deviceType>IPCamera</deviceType></DeviceInfo>",
                id.endpoint_ref.trim_start_matches("urn:uuid:"),
                xml_escape(&id.model),
                xml_escape(&id.serial),
                id.mac,
                xml_escape(&id.firmware)
            ),
        ),
        ("GET", "/ISAPI/System/time") => {
            // Local time eight hours east, with the zone in POSIX form (sign reversed), as the
            // camera's web page sets it.
            let local = unix_secs(camera.camera_now()) + 8 * 3600;
            let text = time::OffsetDateTime::from_unix_timestamp(local)
                .ok()
                .and_then(|t| {
                    t.format(&time::macros::format_description!(
                        "[year]-[month]-[day]T[hour]:[minute]:[second]"
                    ))
                    .ok()
                })
                .unwrap_or_default();
            xml(
                200,
                format!(
                    "<Time version=\"2.0\" xmlns=\"{XML_NS}\"><timeMode>manual</timeMode>\
                     <localTime>{text}</localTime><timeZone>CST-8:00:00</timeZone></Time>"
                ),
            )
        }
        ("GET", "/ISAPI/Security/users") if admin => {
            let users: String = camera
                .users()
                .iter()
                .enumerate()
                .map(|(i, (name, level))| {
                    format!(
                        "<User><id>{}</id><userName>{}</userName><userLevel>{}</userLevel></User>",
                        i + 1,
                        xml_escape(name),
                        level.as_str()
                    )
                })
                .collect();
            xml(
                200,
                format!("<UserList version=\"2.0\" xmlns=\"{XML_NS}\">{users}</UserList>"),
            )
        }
        ("PUT", p) if admin && p.starts_with("/ISAPI/Security/users/") => {
            change_password(camera, caller, p, body, uri)
        }
        ("GET", "/ISAPI/Security/illegalLoginLock") => xml(
            200,
            format!(
                "<IllegalLoginLock version=\"2.0\" xmlns=\"{XML_NS}\"><enabled>true</enabled>\
                 <maxIllegalLoginTimes>{}</maxIllegalLoginTimes><resumeTime>{}</resumeTime></IllegalLoginLock>",
                camera.policy().lockout_threshold,
                camera.policy().lockout_duration.as_secs() / 60
            ),
        ),
        ("GET", "/ISAPI/System/Network/Integrate") => {
            xml(200, integrate_body(camera.onvif_enabled()))
        }
        ("PUT", "/ISAPI/System/Network/Integrate") if admin => {
            let enable = XmlNode::parse(body).ok().and_then(|root| {
                root.path(&["ONVIF", "enable"])
                    .map(|n| n.text().trim() == "true")
            });
            match enable {
                Some(enable) => {
                    camera.set_onvif_enabled(enable);
                    ok(uri)
                }
                None => bad("badXmlContent", uri),
            }
        }
        ("PUT", "/ISAPI/Security/email/parameter") if admin => {
            let address = serde_json::from_str::<serde_json::Value>(body)
                .ok()
                .and_then(|v| {
                    v.pointer("/SecurityEmail/SecurityInformation/0/emailAddress")?
                        .as_str()
                        .map(str::to_owned)
                });
            match address.map(|a| camera.set_reset_email(&a)) {
                Some(Ok(())) => ok(uri),
                _ => bad("badParameters", uri),
            }
        }
        (method, p)
            if admin && let Some(reply) = maintenance::answer(camera, method, p, uri, body) =>
        {
            reply
        }
        (_, p) if p.starts_with("/ISAPI/") && !admin => {
            status(403, 4, "Invalid Operation", "lowPrivilege", uri)
        }
        _ => IsapiResponse {
            status: 404,
            body: "Not Found".to_owned(),
            content_type: "text/plain",
            www_authenticate: None,
        },
    }
}

fn integrate_body(onvif: bool) -> String {
    format!(
        "<Integrate version=\"2.0\" xmlns=\"{XML_NS}\"><CGI><enable>true</enable>\
         <certificateType>digest</certificateType></CGI><ONVIF><enable>{onvif}</enable>\
         <certificateType>digest/wsse</certificateType></ONVIF></Integrate>"
    )
}

fn change_password(
    camera: &SimCamera,
    caller: &Caller,
    path: &str,
    body: &str,
    uri: &str,
) -> IsapiResponse {
    let Some(root) = XmlNode::parse(body).ok() else {
        return bad("badXmlFormat", uri);
    };
    let text = |name: &str| root.child(name).map(|n| n.text().trim().to_owned());
    let id: Option<usize> = path.rsplit('/').next().and_then(|i| i.parse().ok());
    let users = camera.users();
    let Some((name, _)) = id.and_then(|i| users.get(i.checked_sub(1)?)) else {
        return status(404, 4, "Invalid Operation", "notSupport", uri);
    };
    let (Some(password), Some(login)) = (text("password"), text("loginPassword")) else {
        return bad("badParameters", uri);
    };
    let Caller::User {
        name: caller_name, ..
    } = caller
    else {
        return bad("badParameters", uri);
    };
    // The camera asks for the password the caller logged in with before it changes any.
    if !camera.password_is(caller_name, &login) {
        return status(
            403,
            4,
            "Invalid Operation",
            "incorrectUserNameOrPassword",
            uri,
        );
    }
    if !strong_enough(&password) {
        return status(400, 6, "Invalid Content", "riskPassword", uri);
    }
    camera.set_password_directly(name, &password);
    ok(uri)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_rule_is_hikvisions() {
        assert!(strong_enough("Brisk-Otter-47"));
        assert!(strong_enough("abcd1234"));
        assert!(!strong_enough("abcdefgh"));
        assert!(!strong_enough("Ab1"));
        assert!(!strong_enough("Abcdefgh12345678x"));
    }
}
