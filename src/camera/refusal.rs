//! The one reading of a camera's refusal. Whatever dialect a camera speaks — ONVIF's `ter:NotAuthorized`,
//! WS-Security's `wsse:*` faults, SOAP 1.1 `faultcode`/`faultstring`, a bare HTTP 401 with or without a
//! Digest challenge, a fault carried by HTTP 400, 500 or 200, a reason with no code at all, or a vendor's
//! lockout wording — it is read here into the few things the NVR acts on: credentials required or
//! rejected, the user locked, the camera's clock refusing the login's timestamp, a passing server error,
//! or a refusal in words the NVR cannot classify (which a caller must treat as a refusal, never as a
//! success). The catalogue of dialects and their sources is docs/camera-dialects.md.
//!
//! The transport calls [`classify_reply`] on every reply; a refusal it recognizes goes back to the caller
//! as a [`CameraError`] through oxvif's error type ([`encode`] and [`decode`]), and every other fault is
//! handed on for the caller to read (the recovery extension's own faults, for one).

use std::time::Duration;

use oxvif::soap::XmlNode;

use crate::camera::xml_guard::{MAX_XML_DEPTH, nesting_within};
use crate::camera::{CameraError, MAX_RETRY_AFTER, clean_camera_text};

/// The status the transport reports for a reply it has classified itself; the body is then an
/// [`encode`]d [`CameraError`]. No HTTP status is 1, so it cannot be confused with a real one.
pub(crate) const CLASSIFIED: u16 = 1;
/// How much of a non-SOAP body is searched for lockout wording.
const MAX_TEXT_SEARCHED: usize = 4096;

/// Generic SOAP codes that say only who is at fault, never why.
const GENERIC_CODES: &[&str] = &[
    "sender",
    "receiver",
    "client",
    "server",
    "mustunderstand",
    "versionmismatch",
    "dataencodingunknown",
];

/// Codes (local names, lower case) that mean the caller's identity was not accepted: ONVIF's, the OASIS
/// WS-Security 1.1 list, and what cameras send in their place.
const AUTH_CODES: &[&str] = &[
    "notauthorized",
    "failedauthentication",
    "invalidsecurity",
    "invalidsecuritytoken",
    "failedcheck",
    "securitytokenunavailable",
    "unsupportedsecuritytoken",
    "unauthorized",
    "authenticationfailed",
    "authorizationfailed",
    "sendernotauthorized",
    "accessdenied",
];

/// Codes that say the user is locked.
const LOCK_CODES: &[&str] = &[
    "accountlocked",
    "userlocked",
    "locked",
    "lockedout",
    "accountlockedout",
    "userlockedout",
    "toomanyattempts",
];

/// Codes that say the login's timestamp was refused: a clock problem, not a wrong password.
const CLOCK_CODES: &[&str] = &["messageexpired", "invalidtimestamp", "timestampexpired"];

/// Reasons with no code (or with a generic one) that mean the identity was not accepted.
const AUTH_WORDS: &[&str] = &[
    "not authorized",
    "not authorised",
    "unauthorized",
    "unauthorised",
    "requires authorization",
    "authentication failed",
    "authentication failure",
    "authentication error",
    "failed authentication",
    "access denied",
    "login failed",
    "log in failed",
    "invalid username",
    "invalid user name",
    "invalid password",
    "invalid credentials",
    "wrong password",
    "authority failure",
    "incorrect password",
    "password is not correct",
    "password digest mismatch",
    "missing username",
    "no username",
    "user name or password",
    "username or password",
    "security token",
    "wsse",
];

/// Wordings of a lockout, the vendors' own among them.
const LOCK_WORDS: &[&str] = &[
    "locked",
    "lockout",
    "lock out",
    "blocked",
    "too many failed",
    "too many login",
    "too many attempts",
    "too many authentication",
    "illegal login",
    "exceeded the maximum",
    "maximum number of login",
];

/// Wordings of a refused timestamp.
const CLOCK_WORDS: &[&str] = &[
    "message expired",
    "messageexpired",
    "has expired",
    "timestamp",
    "not fresh",
    "created time",
    "stale",
    "clock",
    "time skew",
    "time difference",
    "time out of sync",
    "time check",
    "authentication expired",
    "request in future",
    "in the future",
];

/// A SOAP fault as read from a reply, SOAP 1.1 or 1.2.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FaultReply {
    /// `Code/Value` (SOAP 1.2) or `faultcode` (SOAP 1.1), as sent.
    pub code: String,
    /// Every nested `Subcode/Value`, outermost first.
    pub subcodes: Vec<String>,
    /// `Reason/Text` or `faultstring`, trimmed.
    pub reason: String,
    /// The text inside `Detail` (or `detail`), joined and trimmed.
    pub detail: String,
}

impl FaultReply {
    /// The most specific code: the innermost subcode, else the code.
    pub fn specific_code(&self) -> &str {
        self.subcodes.last().unwrap_or(&self.code)
    }

    /// The camera's own words: the reason, with the detail when it adds something.
    pub fn words(&self) -> String {
        if self.detail.is_empty() || self.reason.contains(&self.detail) {
            self.reason.clone()
        } else if self.reason.is_empty() {
            self.detail.clone()
        } else {
            format!("{} ({})", self.reason, self.detail)
        }
    }
}

/// Reads the fault in a SOAP envelope, or `None` when `body` holds none.
pub fn read_fault(body: &str) -> Option<FaultReply> {
    if !body.contains("Fault") || !nesting_within(body.as_bytes(), MAX_XML_DEPTH) {
        return None;
    }
    let root = XmlNode::parse(body).ok()?;
    let fault = root.child("Body")?.child("Fault")?;
    Some(fault_of(fault))
}

/// Reads a `Fault` element already parsed.
pub fn fault_of(fault: &XmlNode) -> FaultReply {
    let text = |node: Option<&XmlNode>| {
        node.map(|n| clean_camera_text(n.text()))
            .unwrap_or_default()
    };
    let code_node = fault.child("Code");
    let code = match code_node {
        Some(code) => text(code.child("Value")),
        None => text(fault.child("faultcode")),
    };
    let mut subcodes = Vec::new();
    let mut level = code_node.and_then(|c| c.child("Subcode"));
    while let Some(subcode) = level {
        if subcodes.len() >= 8 {
            break;
        }
        subcodes.push(text(subcode.child("Value")));
        level = subcode.child("Subcode");
    }
    let reason = match fault.child("Reason") {
        Some(reason) => {
            // Several translations may come; English is the one the NVR reads.
            let english = reason
                .children_named("Text")
                .find(|t| t.attr("lang").is_some_and(|l| l.starts_with("en")));
            text(english.or_else(|| reason.child("Text")))
        }
        None => text(fault.child("faultstring")),
    };
    let detail = fault
        .child("Detail")
        .or_else(|| fault.child("detail"))
        .map(|d| {
            let mut words = Vec::new();
            collect_text(d, &mut words);
            clean_camera_text(&words.join(" "))
        })
        .unwrap_or_default();
    FaultReply {
        code,
        subcodes,
        reason,
        detail,
    }
}

fn collect_text(node: &XmlNode, into: &mut Vec<String>) {
    if into.len() >= 16 {
        return;
    }
    let own = node.text().trim();
    if !own.is_empty() {
        into.push(own.to_owned());
    }
    for child in &node.children {
        collect_text(child, into);
    }
}

/// The local part of a QName such as `wsse:FailedAuthentication`, lower case.
fn local(qname: &str) -> String {
    qname
        .trim()
        .rsplit([':', '}', '/', '#'])
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase()
}

fn mentions(text: &str, words: &[&str]) -> bool {
    words.iter().any(|w| text.contains(w))
}

/// What a fault means to the NVR, when it is a refusal of the caller's identity, a lockout or a refused
/// timestamp; `None` for any other fault (the caller reads those itself).
pub fn classify_fault(fault: &FaultReply, with_credentials: bool) -> Option<CameraError> {
    let codes: Vec<String> = std::iter::once(&fault.code)
        .chain(&fault.subcodes)
        .map(|c| local(c))
        .filter(|c| !c.is_empty() && !GENERIC_CODES.contains(&c.as_str()))
        .collect();
    let has = |list: &[&str]| codes.iter().any(|c| list.contains(&c.as_str()));
    let (auth_code, lock_code, clock_code) = (has(AUTH_CODES), has(LOCK_CODES), has(CLOCK_CODES));
    // A code we do not know (a recovery extension's, an argument error) decides alone; the words are
    // read only when the code is about identity or there is no specific code at all.
    let read_words = codes.is_empty() || auth_code || lock_code || clock_code;
    let text = format!("{} {}", fault.reason, fault.detail).to_ascii_lowercase();
    if lock_code || (read_words && mentions(&text, LOCK_WORDS)) {
        return Some(CameraError::Locked {
            retry_after: parse_wait(&text),
        });
    }
    if clock_code || (read_words && mentions(&text, CLOCK_WORDS)) {
        return Some(CameraError::ClockRejected(fault.words()));
    }
    if auth_code || (codes.is_empty() && mentions(&text, AUTH_WORDS)) {
        return Some(auth_failure(with_credentials));
    }
    None
}

/// What the transport does with one reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Hand the body to the caller: a success, or a fault that is not about identity.
    Pass,
    /// The camera refused; this is what it means.
    Refused(CameraError),
}

/// One HTTP reply as the transport received it.
#[derive(Debug, Clone, Copy)]
pub struct Reply<'a> {
    /// The HTTP status.
    pub status: u16,
    /// The `WWW-Authenticate` header, when sent.
    pub challenge: Option<&'a str>,
    /// The `Retry-After` header, when sent.
    pub retry_after: Option<&'a str>,
    /// The body as text.
    pub body: &'a str,
}

/// Reads one reply to a request that carried credentials (`with_credentials`) or not.
pub fn classify_reply(reply: Reply<'_>, with_credentials: bool) -> Verdict {
    let header_wait = reply
        .retry_after
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(|s| Duration::from_secs(s.min(MAX_RETRY_AFTER.as_secs())));
    let with_header_wait = |error: CameraError| match error {
        CameraError::Locked { retry_after } => CameraError::Locked {
            retry_after: retry_after.or(header_wait),
        },
        other => other,
    };
    if let Some(fault) = read_fault(reply.body) {
        if let Some(error) = classify_fault(&fault, with_credentials) {
            return Verdict::Refused(with_header_wait(error));
        }
        return match reply.status {
            // The statuses ONVIF and SOAP carry faults with: the caller reads the fault.
            200 | 400 | 500 => Verdict::Pass,
            401 => Verdict::Refused(auth_failure(with_credentials)),
            status => Verdict::Refused(CameraError::Refused {
                subcode: Some(fault.specific_code().to_owned()).filter(|c| !c.is_empty()),
                reason: format!("HTTP {status}: {}", fault.words()),
            }),
        };
    }
    let text: String = reply
        .body
        .chars()
        .take(MAX_TEXT_SEARCHED)
        .collect::<String>()
        .to_ascii_lowercase();
    let stale_nonce = reply.challenge.is_some_and(|c| {
        c.to_ascii_lowercase()
            .replace(' ', "")
            .contains("stale=true")
    });
    match reply.status {
        200 => Verdict::Pass,
        // RFC 7616: the digest was right, only the server nonce had expired. Not a refusal.
        401 if with_credentials && stale_nonce => Verdict::Refused(CameraError::Unavailable(
            "the camera's HTTP Digest nonce expired during the request".to_owned(),
        )),
        401 if mentions(&text, LOCK_WORDS) => Verdict::Refused(CameraError::Locked {
            retry_after: parse_wait(&text).or(header_wait),
        }),
        // With or without a challenge, with or without a body: the camera wants other credentials.
        401 => Verdict::Refused(auth_failure(with_credentials)),
        423 => Verdict::Refused(CameraError::Locked {
            retry_after: header_wait.or_else(|| parse_wait(&text)),
        }),
        403 | 429 if mentions(&text, LOCK_WORDS) || reply.status == 429 => {
            Verdict::Refused(CameraError::Locked {
                retry_after: header_wait.or_else(|| parse_wait(&text)),
            })
        }
        status @ 500..=599 => Verdict::Refused(CameraError::Unavailable(format!(
            "HTTP {status}{}",
            status_words(status)
        ))),
        status => Verdict::Refused(CameraError::Refused {
            subcode: None,
            reason: format!("HTTP {status}{}", status_words(status)),
        }),
    }
}

fn status_words(status: u16) -> &'static str {
    match status {
        400 => " Bad Request",
        403 => " Forbidden",
        404 => " Not Found",
        405 => " Method Not Allowed",
        500 => " Internal Server Error",
        502 => " Bad Gateway",
        503 => " Service Unavailable",
        504 => " Gateway Timeout",
        _ => "",
    }
}

pub(crate) fn auth_failure(with_credentials: bool) -> CameraError {
    if with_credentials {
        CameraError::CredentialsRejected
    } else {
        CameraError::CredentialsRequired
    }
}

/// Reads how long a lock lasts from a camera's words: "retry after 1794 s", "try again in 30 minutes",
/// "unlock after 5 min", "remaining 120 seconds". Capped at [`MAX_RETRY_AFTER`].
pub fn parse_wait(text: &str) -> Option<Duration> {
    let lower = text.to_ascii_lowercase();
    let bytes = lower.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if !bytes[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        let digits = &lower[start..i];
        let unit: String = lower[i..]
            .trim_start()
            .chars()
            .take_while(char::is_ascii_alphabetic)
            .collect();
        let after = lower[..start].trim_end().ends_with("after");
        let scale = match unit.as_str() {
            // "retry after 1794": seconds, as HTTP's Retry-After counts.
            "" if after => 1,
            "s" | "sec" | "secs" | "second" | "seconds" => 1,
            "m" | "min" | "mins" | "minute" | "minutes" => 60,
            "h" | "hr" | "hrs" | "hour" | "hours" => 3600,
            _ => continue,
        };
        // Too many digits for a u64 is a very long wait too.
        let value = digits.parse::<u64>().unwrap_or(u64::MAX);
        let secs = value.saturating_mul(scale).min(MAX_RETRY_AFTER.as_secs());
        return Some(Duration::from_secs(secs));
    }
    None
}

/// Puts a classified refusal into the body of oxvif's transport error.
pub(crate) fn encode(error: &CameraError) -> String {
    serde_json::to_string(error).unwrap_or_default()
}

/// Reads back what [`encode`] wrote.
pub(crate) fn decode(body: &str) -> CameraError {
    serde_json::from_str(body)
        .unwrap_or_else(|_| CameraError::BadReply("an unreadable refusal".to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn soap12(code: &str, subcodes: &[&str], reason: &str) -> String {
        let mut nested = String::new();
        for s in subcodes {
            nested.push_str(&format!("<s:Subcode><s:Value>{s}</s:Value>"));
        }
        for _ in subcodes {
            nested.push_str("</s:Subcode>");
        }
        format!(
            "<?xml version=\"1.0\"?><s:Envelope xmlns:s=\"http://www.w3.org/2003/05/soap-envelope\" \
             xmlns:ter=\"http://www.onvif.org/ver10/error\" \
             xmlns:wsse=\"http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd\">\
             <s:Body><s:Fault><s:Code><s:Value>{code}</s:Value>{nested}</s:Code>\
             <s:Reason><s:Text xml:lang=\"en\">{reason}</s:Text></s:Reason></s:Fault></s:Body></s:Envelope>"
        )
    }

    fn soap11(code: &str, reason: &str) -> String {
        format!(
            "<SOAP-ENV:Envelope xmlns:SOAP-ENV=\"http://schemas.xmlsoap.org/soap/envelope/\">\
             <SOAP-ENV:Body><SOAP-ENV:Fault><faultcode>{code}</faultcode>\
             <faultstring>{reason}</faultstring></SOAP-ENV:Fault></SOAP-ENV:Body></SOAP-ENV:Envelope>"
        )
    }

    fn verdict(status: u16, challenge: Option<&str>, body: &str, creds: bool) -> Verdict {
        classify_reply(
            Reply {
                status,
                challenge,
                retry_after: None,
                body,
            },
            creds,
        )
    }

    const REJECTED: Verdict = Verdict::Refused(CameraError::CredentialsRejected);
    const REQUIRED: Verdict = Verdict::Refused(CameraError::CredentialsRequired);

    #[test]
    fn onvif_not_authorized_in_every_status_it_comes_with() {
        let fault = soap12(
            "env:Sender",
            &["ter:NotAuthorized"],
            "Sender not Authorized",
        );
        for status in [200, 400, 401, 500] {
            assert_eq!(verdict(status, None, &fault, true), REJECTED, "{status}");
            assert_eq!(verdict(status, None, &fault, false), REQUIRED, "{status}");
        }
    }

    #[test]
    fn every_ws_security_fault_is_a_refusal_of_the_credentials() {
        for code in [
            "wsse:FailedAuthentication",
            "wsse:InvalidSecurity",
            "wsse:InvalidSecurityToken",
            "wsse:FailedCheck",
            "wsse:SecurityTokenUnavailable",
            "wsse:UnsupportedSecurityToken",
        ] {
            // SOAP 1.2 carries the WS-Security code as a subcode, SOAP 1.1 as the faultcode itself.
            let v12 = soap12("s:Sender", &[code], "Password digest mismatch");
            let v11 = soap11(
                code,
                "The security token could not be authenticated or authorized",
            );
            for body in [&v12, &v11] {
                for status in [200, 400, 500] {
                    assert_eq!(
                        verdict(status, None, body, true),
                        REJECTED,
                        "{code} {status}"
                    );
                    assert_eq!(
                        verdict(status, None, body, false),
                        REQUIRED,
                        "{code} {status}"
                    );
                }
            }
        }
        // oxvif's mock server, to an anonymous caller.
        let missing = soap12(
            "s:Sender",
            &["wsse:FailedAuthentication"],
            "Missing Username",
        );
        assert_eq!(verdict(200, None, &missing, false), REQUIRED);
    }

    #[test]
    fn an_expired_message_is_the_clock_not_the_password() {
        let expired = soap12(
            "s:Sender",
            &["wsse:MessageExpired"],
            "The message has expired",
        );
        assert!(matches!(
            verdict(400, None, &expired, true),
            Verdict::Refused(CameraError::ClockRejected(_))
        ));
        // Dahua's wording, and gSOAP's detail under FailedAuthentication.
        let dahua = soap12(
            "env:Sender",
            &["ter:NotAuthorized"],
            "Wsse authorized time check failed.",
        );
        assert!(matches!(
            verdict(400, None, &dahua, true),
            Verdict::Refused(CameraError::ClockRejected(_))
        ));
        let future = soap12(
            "SOAP-ENV:Sender",
            &["wsse:FailedAuthentication"],
            "Authorization request in future",
        );
        assert!(matches!(
            verdict(400, None, &future, true),
            Verdict::Refused(CameraError::ClockRejected(_))
        ));
        let v11 = soap11("wsse:MessageExpired", "The message has expired");
        assert!(matches!(
            verdict(500, None, &v11, true),
            Verdict::Refused(CameraError::ClockRejected(_))
        ));
        let stale = soap12(
            "env:Sender",
            &["ter:NotAuthorized"],
            "The security token is not fresh: its Created time is too far from the camera clock",
        );
        assert!(matches!(
            verdict(400, None, &stale, true),
            Verdict::Refused(CameraError::ClockRejected(_))
        ));
    }

    #[test]
    fn http_401_means_credentials_with_or_without_challenge_or_body() {
        let digest = Some(r#"Digest realm="cam", nonce="abc", qop="auth""#);
        for challenge in [digest, Some("Basic realm=\"cam\""), None] {
            for body in ["", "<html><body>401 Unauthorized</body></html>"] {
                assert_eq!(verdict(401, challenge, body, true), REJECTED);
                assert_eq!(verdict(401, challenge, body, false), REQUIRED);
            }
        }
    }

    #[test]
    fn soap_1_1_client_faults_and_reason_only_wordings() {
        for reason in [
            "Sender not authorized",
            "Authentication failed",
            "The action requested requires authorization and the sender is not authorized",
            "Invalid username or password",
            // Dahua, Amcrest and IMOU, counting down to the lock.
            "Invalid username or password! You still have 5 attempt(s).",
            // gSOAP's own wording behind a Basic challenge.
            "HTTP Error: 401 Unauthorized",
            "Authority failure",
        ] {
            assert_eq!(
                verdict(500, None, &soap11("SOAP-ENV:Client", reason), true),
                REJECTED,
                "{reason}"
            );
            assert_eq!(
                verdict(400, None, &soap12("env:Sender", &[], reason), true),
                REJECTED,
                "{reason}"
            );
        }
    }

    #[test]
    fn lockouts_in_standard_and_vendor_words() {
        for (body, wait) in [
            (
                soap12(
                    "env:Sender",
                    &["ter:NotAuthorized", "vgl:AccountLocked"],
                    "Account locked; retry after 1794 s",
                ),
                Some(1794),
            ),
            (
                soap12("env:Sender", &["ter:NotAuthorized"], "The user is locked"),
                None,
            ),
            (
                soap11("SOAP-ENV:Client", "User locked, try again in 30 minutes"),
                Some(1800),
            ),
            (
                soap12(
                    "env:Sender",
                    &[],
                    "Too many failed login attempts, IP blocked",
                ),
                None,
            ),
        ] {
            assert_eq!(
                verdict(400, None, &body, true),
                Verdict::Refused(CameraError::Locked {
                    retry_after: wait.map(Duration::from_secs)
                }),
                "{body}"
            );
        }
        let page = "<html>User is locked. Please retry after 5 min</html>";
        assert_eq!(
            verdict(401, None, page, true),
            Verdict::Refused(CameraError::Locked {
                retry_after: Some(Duration::from_secs(300))
            })
        );
        let with_header = classify_reply(
            Reply {
                status: 423,
                challenge: None,
                retry_after: Some("600"),
                body: "",
            },
            true,
        );
        assert_eq!(
            with_header,
            Verdict::Refused(CameraError::Locked {
                retry_after: Some(Duration::from_secs(600))
            })
        );
    }

    #[test]
    fn other_faults_pass_to_the_caller_and_server_errors_are_transient() {
        let argument = soap12(
            "env:Sender",
            &["ter:InvalidArgVal", "ter:UsernameMissing"],
            "No user",
        );
        assert_eq!(verdict(400, None, &argument, true), Verdict::Pass);
        // A recovery extension fault whose words mention authorization is still the extension's.
        let extension = soap12(
            "env:Sender",
            &["vrc:TokenInvalid"],
            "reset token not authorized",
        );
        assert_eq!(verdict(400, None, &extension, true), Verdict::Pass);
        assert!(matches!(
            verdict(503, None, "", true),
            Verdict::Refused(CameraError::Unavailable(_))
        ));
        assert!(matches!(
            verdict(500, None, "<html>oops</html>", true),
            Verdict::Refused(CameraError::Unavailable(_))
        ));
        assert!(matches!(
            verdict(404, None, "", false),
            Verdict::Refused(CameraError::Refused { .. })
        ));
        assert_eq!(verdict(200, None, "<ok/>", true), Verdict::Pass);
        // RFC 7616 stale=true: the password was right, the nonce had expired.
        let stale = Some(r#"Digest realm="cam", nonce="new", stale=true"#);
        assert!(matches!(
            verdict(401, stale, "", true),
            Verdict::Refused(CameraError::Unavailable(_))
        ));
    }

    #[test]
    fn waits_are_read_and_capped() {
        assert_eq!(
            parse_wait("retry after 1794 s"),
            Some(Duration::from_secs(1794))
        );
        assert_eq!(
            parse_wait("try again in 30 minutes"),
            Some(Duration::from_secs(1800))
        );
        assert_eq!(parse_wait("locked"), None);
        assert_eq!(parse_wait("locked 3 times"), None);
        assert_eq!(
            parse_wait("locked; retry after 90"),
            Some(Duration::from_secs(90))
        );
        assert_eq!(
            parse_wait("retry after 99999999999999999999999 s"),
            Some(MAX_RETRY_AFTER)
        );
    }

    #[test]
    fn a_classified_refusal_survives_the_trip_through_the_transport_error() {
        for error in [
            CameraError::CredentialsRejected,
            CameraError::Locked {
                retry_after: Some(Duration::from_secs(5)),
            },
            CameraError::ClockRejected("expired".into()),
        ] {
            assert_eq!(decode(&encode(&error)), error);
        }
        assert!(matches!(decode("garbage"), CameraError::BadReply(_)));
    }
}
