//! How a simulated camera words its refusals on the wire. Real cameras refuse the same things — no
//! credentials, wrong ones, a locked user, a stale timestamp — in many dialects: ONVIF's
//! `ter:NotAuthorized`, the OASIS WS-Security faults, SOAP 1.1, a bare HTTP 401, a fault at HTTP 500, a
//! reason with no code, or words of their own. Each [`Dialect`] is one family from
//! docs/camera-dialects.md, so the integration tests meet every one over real sockets.
//!
//! Only faults that refuse the caller's identity are reworded; every other fault stays ONVIF's.

use std::fmt;

use crate::sim::fault::{Envelope, Fault, Refusal};

/// One family of refusal wordings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum Dialect {
    /// ONVIF's own: `env:Sender`/`ter:NotAuthorized` at HTTP 400; an anonymous caller gets HTTP 401
    /// with a Digest challenge and the same fault; a lock adds `vgl:AccountLocked`.
    #[default]
    Onvif,
    /// WS-Security as oxvif's mock server speaks it: HTTP 200, `env:Sender`/`wsse:FailedAuthentication`,
    /// "Missing Username" or "Password digest mismatch"; a stale token is `wsse:MessageExpired`.
    WsseFailedAuthentication,
    /// `wsse:InvalidSecurity` at HTTP 400.
    WsseInvalidSecurity,
    /// `wsse:InvalidSecurityToken` at HTTP 500.
    WsseInvalidSecurityToken,
    /// `wsse:FailedCheck` at HTTP 400.
    WsseFailedCheck,
    /// SOAP 1.1 at HTTP 500: `faultcode` `SOAP-ENV:Client` and a `faultstring`.
    Soap11,
    /// HTTP 401 with a Digest challenge and no body, for every refusal.
    Http401Digest,
    /// HTTP 401 with neither challenge nor body.
    Http401Bare,
    /// `ter:NotAuthorized` carried by HTTP 500.
    Http500Fault,
    /// `env:Sender` with no subcode: only the reason says what happened.
    ReasonOnly,
    /// Hikvision's ONVIF service: an anonymous caller gets HTTP 401 with a Digest challenge and an HTML
    /// page; a wrong password, a stale timestamp and (as far as any public capture shows) a lock all
    /// get HTTP 400 `ter:NotAuthorized` with ONVIF's long description as the reason.
    Hikvision,
    /// Dahua (and Amcrest, IMOU): HTTP 401 with a Digest challenge to an anonymous caller; a wrong
    /// password is HTTP 400 `ter:NotAuthorized` counting down "You still have N attempt(s)"; a stale
    /// timestamp is "Wsse authorized time check failed."; a lock "The account has been locked".
    Dahua,
    /// gSOAP-based cameras: HTTP 401 with a Basic challenge and a SOAP fault "HTTP Error: 401
    /// Unauthorized" with no subcode; a stale token is `wsse:FailedAuthentication` "Authentication
    /// expired".
    Gsoap,
    /// HTTP 400 with `env:Sender`, no subcode and an empty reason, as some cameras answer every
    /// refusal: nothing to classify it by.
    EmptyReason,
    /// A code and words no catalogue holds (`acme:RequestDenied`, "Request denied by policy"): what
    /// an NVR must treat as a refusal all the same.
    Unclassified,
}

impl Dialect {
    /// Every dialect, for tests that go through them all.
    pub const ALL: [Dialect; 15] = [
        Dialect::Onvif,
        Dialect::WsseFailedAuthentication,
        Dialect::WsseInvalidSecurity,
        Dialect::WsseInvalidSecurityToken,
        Dialect::WsseFailedCheck,
        Dialect::Soap11,
        Dialect::Http401Digest,
        Dialect::Http401Bare,
        Dialect::Http500Fault,
        Dialect::ReasonOnly,
        Dialect::Hikvision,
        Dialect::Dahua,
        Dialect::Gsoap,
        Dialect::EmptyReason,
        Dialect::Unclassified,
    ];

    /// The name used on the command line and the control socket.
    pub fn name(self) -> &'static str {
        match self {
            Dialect::Onvif => "onvif",
            Dialect::WsseFailedAuthentication => "wsse-failed-authentication",
            Dialect::WsseInvalidSecurity => "wsse-invalid-security",
            Dialect::WsseInvalidSecurityToken => "wsse-invalid-security-token",
            Dialect::WsseFailedCheck => "wsse-failed-check",
            Dialect::Soap11 => "soap11",
            Dialect::Http401Digest => "http401-digest",
            Dialect::Http401Bare => "http401-bare",
            Dialect::Http500Fault => "http500-fault",
            Dialect::ReasonOnly => "reason-only",
            Dialect::Hikvision => "hikvision",
            Dialect::Dahua => "dahua",
            Dialect::Gsoap => "gsoap",
            Dialect::EmptyReason => "empty-reason",
            Dialect::Unclassified => "unclassified",
        }
    }

    /// The inverse of [`Dialect::name`].
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|d| d.name() == text.trim())
    }

    /// Rewords `fault` in this dialect when it refuses the caller's identity.
    pub fn word(self, fault: Fault) -> Fault {
        let Some(refusal) = fault.refusal else {
            return fault;
        };
        let minutes = |d: std::time::Duration| d.as_secs().div_ceil(60).max(1);
        let seconds = |d: std::time::Duration| d.as_secs().max(1);
        match self {
            Dialect::Onvif => fault,
            Dialect::WsseFailedAuthentication
            | Dialect::WsseInvalidSecurity
            | Dialect::WsseInvalidSecurityToken
            | Dialect::WsseFailedCheck => {
                let (code, status, wrong) = match self {
                    Dialect::WsseFailedAuthentication => {
                        ("wsse:FailedAuthentication", 200, "Password digest mismatch")
                    }
                    Dialect::WsseInvalidSecurity => (
                        "wsse:InvalidSecurity",
                        400,
                        "An error was discovered processing the <wsse:Security> header",
                    ),
                    Dialect::WsseInvalidSecurityToken => (
                        "wsse:InvalidSecurityToken",
                        500,
                        "An invalid security token was provided",
                    ),
                    _ => (
                        "wsse:FailedCheck",
                        400,
                        "The signature or decryption was invalid",
                    ),
                };
                let (code, reason) = match refusal {
                    Refusal::CredentialsRequired => (code, "Missing Username".to_owned()),
                    Refusal::CredentialsWrong { .. } => (code, wrong.to_owned()),
                    Refusal::Locked(d) => (
                        code,
                        format!("User account locked, retry after {} s", seconds(d)),
                    ),
                    Refusal::StaleToken => {
                        ("wsse:MessageExpired", "The message has expired".to_owned())
                    }
                };
                reworded(fault, status, vec![code], reason, Envelope::Soap12, false)
            }
            Dialect::Soap11 => {
                let reason = match refusal {
                    Refusal::CredentialsRequired => {
                        "The action requested requires authorization and the sender is not authorized"
                            .to_owned()
                    }
                    Refusal::CredentialsWrong { .. } => "Authentication failed".to_owned(),
                    Refusal::Locked(d) => {
                        format!("User locked, try again in {} minutes", minutes(d))
                    }
                    Refusal::StaleToken => "The message has expired".to_owned(),
                };
                reworded(fault, 500, Vec::new(), reason, Envelope::Soap11, false)
            }
            Dialect::Http401Digest | Dialect::Http401Bare => {
                let challenge = self == Dialect::Http401Digest;
                reworded(
                    fault,
                    401,
                    Vec::new(),
                    String::new(),
                    Envelope::Empty,
                    challenge,
                )
            }
            Dialect::Http500Fault => {
                let challenge = false;
                let (subcodes, reason) = match refusal {
                    Refusal::Locked(d) => (
                        vec!["ter:NotAuthorized"],
                        format!("The user is locked; retry after {} s", seconds(d)),
                    ),
                    Refusal::StaleToken => (
                        vec!["ter:NotAuthorized"],
                        "The security token timestamp is not fresh".to_owned(),
                    ),
                    _ => (
                        vec!["ter:NotAuthorized"],
                        "Sender not Authorized".to_owned(),
                    ),
                };
                reworded(fault, 500, subcodes, reason, Envelope::Soap12, challenge)
            }
            Dialect::ReasonOnly => {
                let reason = match refusal {
                    Refusal::CredentialsRequired => "Sender not authorized".to_owned(),
                    Refusal::CredentialsWrong { .. } => "Authentication failed".to_owned(),
                    Refusal::Locked(d) => format!(
                        "Too many failed login attempts; the user is blocked for {} minutes",
                        minutes(d)
                    ),
                    Refusal::StaleToken => "The message has expired".to_owned(),
                };
                reworded(fault, 400, Vec::new(), reason, Envelope::Soap12, false)
            }
            Dialect::Hikvision => match refusal {
                Refusal::CredentialsRequired => Fault {
                    html: Some(
                        "<html><head><title>Document Error: Unauthorized</title></head><body><h2>Access Error: 401 -- Unauthorized</h2></body></html>",
                    ),
                    ..reworded(fault, 401, Vec::new(), String::new(), Envelope::Empty, true)
                },
                _ => reworded(
                    fault,
                    400,
                    vec!["ter:NotAuthorized"],
                    "The action requested requires authorization and the sender is not authorized"
                        .to_owned(),
                    Envelope::Soap12,
                    false,
                ),
            },
            Dialect::Dahua => match refusal {
                Refusal::CredentialsRequired => {
                    reworded(fault, 401, Vec::new(), String::new(), Envelope::Empty, true)
                }
                Refusal::CredentialsWrong { attempts_left } => reworded(
                    fault,
                    400,
                    vec!["ter:NotAuthorized"],
                    format!(
                        "Invalid username or password! You still have {} attempt(s).",
                        attempts_left.unwrap_or(0)
                    ),
                    Envelope::Soap12,
                    false,
                ),
                Refusal::Locked(_) => reworded(
                    fault,
                    400,
                    vec!["ter:NotAuthorized"],
                    "The account has been locked".to_owned(),
                    Envelope::Soap12,
                    false,
                ),
                Refusal::StaleToken => reworded(
                    fault,
                    400,
                    vec!["ter:NotAuthorized"],
                    "Wsse authorized time check failed.".to_owned(),
                    Envelope::Soap12,
                    false,
                ),
            },
            Dialect::Gsoap => match refusal {
                Refusal::StaleToken => reworded(
                    fault,
                    400,
                    vec!["wsse:FailedAuthentication"],
                    "Authentication expired".to_owned(),
                    Envelope::Soap12,
                    false,
                ),
                Refusal::Locked(d) => Fault {
                    basic_challenge: true,
                    ..reworded(
                        fault,
                        401,
                        Vec::new(),
                        format!(
                            "HTTP Error: 401 Unauthorized; account locked for {} s",
                            seconds(d)
                        ),
                        Envelope::Soap12,
                        false,
                    )
                },
                _ => Fault {
                    basic_challenge: true,
                    ..reworded(
                        fault,
                        401,
                        Vec::new(),
                        "HTTP Error: 401 Unauthorized".to_owned(),
                        Envelope::Soap12,
                        false,
                    )
                },
            },
            Dialect::EmptyReason => reworded(
                fault,
                400,
                Vec::new(),
                String::new(),
                Envelope::Soap12,
                false,
            ),
            Dialect::Unclassified => reworded(
                fault,
                400,
                vec!["acme:RequestDenied"],
                "Request denied by policy".to_owned(),
                Envelope::Soap12,
                false,
            ),
        }
    }
}

fn reworded(
    fault: Fault,
    http_status: u16,
    subcodes: Vec<&'static str>,
    reason: String,
    envelope: Envelope,
    challenge: bool,
) -> Fault {
    Fault {
        subcodes,
        reason,
        // The support line (serial and date) stays: cameras show it whatever else they say.
        detail: fault
            .detail
            .into_iter()
            .filter(|(element, _)| *element == "vrc:SupportInfo")
            .collect(),
        http_status,
        envelope,
        challenge,
        ..fault
    }
}

impl fmt::Display for Dialect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn names_round_trip_and_only_identity_refusals_are_reworded() {
        for dialect in Dialect::ALL {
            assert_eq!(Dialect::parse(dialect.name()), Some(dialect));
        }
        assert_eq!(Dialect::parse("klingon"), None);
        let argument = Fault::invalid_arg("No user given");
        assert_eq!(Dialect::Soap11.word(argument.clone()), argument);
        let locked = Dialect::Soap11.word(Fault::locked(Duration::from_secs(1800)));
        assert_eq!(locked.envelope, Envelope::Soap11);
        assert!(locked.reason.contains("30 minutes"), "{}", locked.reason);
        assert!(locked.is_locked());
        let bare = Dialect::Http401Bare.word(Fault::credentials_wrong("wrong"));
        assert_eq!((bare.http_status, bare.challenge), (401, false));
        assert_eq!(bare.envelope, Envelope::Empty);
    }
}
