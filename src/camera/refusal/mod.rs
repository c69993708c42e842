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
/// How much of a non-SOAP body's text is read for lockout wording: an error page's title and first
/// line, not its scripts.
const MAX_TEXT_SEARCHED: usize = 300;

/// SOAP codes that say only who is at fault, never why: the words decide.
const WHO_CODES: &[&str] = &["sender", "client"];
/// SOAP codes that say the device itself failed (ONVIF's `ter:Action`, `ter:OutofMemory`,
/// `ter:CriticalError` come under them): not a refusal of the caller.
const DEVICE_CODES: &[&str] = &["receiver", "server"];

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

/// Reasons with no specific code that mean the identity was not accepted.
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
    "invalid credentials",
    "wrong password",
    "authority failure",
    "incorrect password",
    "password is not correct",
    "password digest mismatch",
    "missing username",
    "user name or password",
    "username or password",
];

/// Wordings of a lockout, the vendors' own among them. Read as phrases, never inside another word
/// ("unlocked"), and never when the text only warns of a lock to come.
const LOCK_WORDS: &[&str] = &[
    "locked",
    "lockout",
    "locked out",
    "ip blocked",
    "ip is blocked",
    "user blocked",
    "user is blocked",
    "account blocked",
    "account is blocked",
    "too many failed",
    "too many login",
    "too many attempts",
    "too many authentication",
    "illegal login",
    "maximum number of login",
];

/// Words that turn a lock word into a warning or a denial: "will be locked", "not locked".
const NOT_A_LOCK: &[&str] = &[
    "will be locked",
    "not locked",
    "before the account locks",
    "attempt(s) left",
    "attempts left",
    "you still have",
];

/// Wordings of a refused timestamp.
const CLOCK_WORDS: &[&str] = &[
    "message expired",
    "message has expired",
    "messageexpired",
    "timestamp",
    "not fresh",
    "created time",
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

/// Whether `text` holds one of `phrases` as whole words.
fn mentions(text: &str, phrases: &[&str]) -> bool {
    phrases.iter().any(|phrase| {
        text.match_indices(phrase).any(|(at, _)| {
            let before = text[..at].chars().next_back();
            let after = text[at + phrase.len()..].chars().next();
            let boundary = |c: Option<char>| c.is_none_or(|c| !c.is_ascii_alphanumeric());
            boundary(before) && boundary(after)
        })
    })
}

/// Whether `text` says the user is locked now (not that a lock is coming, nor that it is not).
fn says_locked(text: &str) -> bool {
    mentions(text, LOCK_WORDS) && !mentions(text, NOT_A_LOCK)
}

/// What a fault means to the NVR, when it is a refusal of the caller's identity, a lockout, a refused
/// timestamp or a failure of the device itself; `None` for any other fault (the caller reads those).
pub fn classify_fault(fault: &FaultReply, with_credentials: bool) -> Option<CameraError> {
    let codes: Vec<String> = std::iter::once(&fault.code)
        .chain(&fault.subcodes)
        .map(|c| local(c))
        .filter(|c| !c.is_empty())
        .collect();
    let has = |list: &[&str]| codes.iter().any(|c| list.contains(&c.as_str()));
    let specific: Vec<&String> = codes
        .iter()
        .filter(|c| !WHO_CODES.contains(&c.as_str()) && !DEVICE_CODES.contains(&c.as_str()))
        .collect();
    let (auth_code, lock_code, clock_code) = (has(AUTH_CODES), has(LOCK_CODES), has(CLOCK_CODES));
    // A code we do not know (a recovery extension's, an argument error, MustUnderstand) decides
    // alone; the words are read only when the code is about identity or there is no specific code.
    let read_words = specific.is_empty() || auth_code || lock_code || clock_code;
    let text = format!("{} {}", fault.reason, fault.detail).to_ascii_lowercase();
    if lock_code || (read_words && says_locked(&text)) {
        return Some(CameraError::Locked {
            retry_after: parse_wait(&text),
        });
    }
    if clock_code || (read_words && mentions(&text, CLOCK_WORDS)) {
        return Some(CameraError::ClockRejected(fault.words()));
    }
    if auth_code || (specific.is_empty() && mentions(&text, AUTH_WORDS)) {
        return Some(auth_failure(with_credentials));
    }
    if has(DEVICE_CODES) {
        // The device failed (out of memory, an action that failed, an action it lacks): not a
        // refusal of the caller.
        return Some(CameraError::DeviceFault(fault.words()));
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
    let locked = |text: &str| CameraError::Locked {
        retry_after: parse_wait(text).or(header_wait),
    };
    // RFC 7616: a challenge marked stale says the digest was right and only the server nonce had
    // expired. That is read first, whatever body comes with it: it is not a refusal.
    if reply.status == 401 && with_credentials && reply.challenge.is_some_and(challenge_is_stale) {
        return Verdict::Refused(CameraError::Unavailable(
            "the camera's HTTP Digest nonce expired during the request".to_owned(),
        ));
    }
    let fault = read_fault(reply.body);
    let text = match &fault {
        Some(fault) => format!("{} {}", fault.reason, fault.detail).to_ascii_lowercase(),
        None => visible_text(reply.body),
    };
    // HTTP's own words for a lock and a rate limit, whatever the body.
    if matches!(reply.status, 423 | 429) {
        return Verdict::Refused(locked(&text));
    }
    if let Some(fault) = fault {
        return match classify_fault(&fault, with_credentials) {
            Some(CameraError::Locked { retry_after }) => Verdict::Refused(CameraError::Locked {
                retry_after: retry_after.or(header_wait),
            }),
            Some(error @ CameraError::DeviceFault(_))
                if !matches!(reply.status, 200 | 400 | 500) =>
            {
                Verdict::Refused(error)
            }
            Some(CameraError::DeviceFault(_)) | None => match reply.status {
                // The statuses ONVIF and SOAP carry faults with: the caller reads the fault.
                200 | 400 | 500 => Verdict::Pass,
                401 => Verdict::Refused(auth_failure(with_credentials)),
                status => Verdict::Refused(CameraError::Refused {
                    subcode: Some(fault.specific_code().to_owned()).filter(|c| !c.is_empty()),
                    reason: format!("HTTP {status}: {}", fault.words()),
                }),
            },
            Some(error) => Verdict::Refused(error),
        };
    }
    match reply.status {
        200 => Verdict::Pass,
        status if status >= 400 && says_locked(&text) => Verdict::Refused(locked(&text)),
        // With or without a challenge, with or without a body: the camera wants other credentials.
        401 => Verdict::Refused(auth_failure(with_credentials)),
        403 => Verdict::Refused(CameraError::Refused {
            subcode: None,
            reason: "HTTP 403 Forbidden".to_owned(),
        }),
        status @ 500..=599 => Verdict::Refused(CameraError::Unavailable(format!(
            "HTTP {status}{}",
            status_words(status)
        ))),
        // A redirect, a missing page, another success: not a device service answering.
        status => Verdict::Refused(CameraError::BadReply(format!(
            "HTTP {status}{}",
            status_words(status)
        ))),
    }
}

/// Whether a `WWW-Authenticate` challenge says `stale=true` (quoted or not).
fn challenge_is_stale(challenge: &str) -> bool {
    let lower = challenge.to_ascii_lowercase().replace([' ', '"'], "");
    lower.contains("stale=true")
}

/// The first words a person would read on a non-SOAP body: an HTML page's title and first text, with
/// tags and scripts left out, lower case.
fn visible_text(body: &str) -> String {
    let mut text = String::new();
    let mut in_tag = false;
    let mut skipping = false;
    let lower = body.to_ascii_lowercase();
    let mut rest = lower.as_str();
    while let Some(c) = rest.chars().next() {
        if text.len() >= MAX_TEXT_SEARCHED {
            break;
        }
        if c == '<' {
            in_tag = true;
            if rest.starts_with("<script") || rest.starts_with("<style") {
                skipping = true;
            } else if rest.starts_with("</script") || rest.starts_with("</style") {
                skipping = false;
            }
        } else if c == '>' {
            in_tag = false;
            text.push(' ');
        } else if !in_tag && !skipping {
            text.push(if c.is_control() { ' ' } else { c });
        }
        rest = &rest[c.len_utf8()..];
    }
    text
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
mod tests;
