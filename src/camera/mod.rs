//! Everything the daemon says to cameras, and the only place that speaks ONVIF: the shared HTTP
//! transport, the device-service client built on oxvif, the installer's maintenance calls (network
//! settings, clock, reboot, factory defaults), WS-Discovery, and the status monitor.
//!
//! What leaves this module is in the domain's words: the model's addresses, identities and credentials
//! (`crate::model`), and a [`CameraError`] that says offline, credentials rejected or locked. No oxvif
//! type crosses the border.

pub mod client;
pub mod dahua;
pub mod discovery;
pub mod driver;
pub mod hex;
pub mod hikvision;
pub mod maintenance;
pub mod monitor;
pub mod padding;
pub mod recovery_client;
pub mod refusal;
pub mod transport;
pub mod vendor_discovery;
pub mod xml_guard;

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The longest text kept from a camera's fault reason.
const MAX_CAMERA_TEXT: usize = 200;

/// Why a camera call did not succeed, in the words the NVR acts on. [`refusal`] decides which.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum CameraError {
    /// No answer: refused, timed out, unreachable.
    #[error("the camera does not answer: {0}")]
    Offline(String),
    /// The camera rejected the credentials given.
    #[error("the camera rejected the user name or password")]
    CredentialsRejected,
    /// The camera wants credentials for this call and none were given.
    #[error("the camera needs credentials for this")]
    CredentialsRequired,
    /// The camera has locked the user out after failed logins.
    #[error("the camera has locked this user after failed logins{}", retry_hint(*.retry_after))]
    Locked {
        /// How long the camera says the lock lasts, when it says.
        retry_after: Option<Duration>,
    },
    /// The camera refused the login's timestamp: its clock and the recorder's disagree. The password
    /// was not what it refused.
    #[error("the camera refused the login's timestamp, so its clock is off ({0})")]
    ClockRejected(String),
    /// The camera is in factory state: it has no administrator yet and lets anyone in until one is
    /// created, so no credentials can be checked. It needs activation.
    #[error("the camera is in factory state (no administrator yet)")]
    Inactive,
    /// The camera answers everything without a login (its authentication is off), so it would accept
    /// any credentials: they cannot be checked.
    #[error("the camera answers without any login, so it cannot check a user name and password")]
    AuthenticationOff,
    /// The camera answered with a server error and no fault: busy, starting or failing. Not a refusal.
    #[error("the camera answered with a server error ({0})")]
    Unavailable(String),
    /// The camera says it failed to carry out the request itself (an `env:Receiver` fault with no more
    /// specific meaning): not a refusal of the caller.
    #[error("the camera failed to carry out the request ({0})")]
    DeviceFault(String),
    /// The camera refused the request for another reason, or in words the NVR cannot classify.
    #[error("the camera refused the request: {reason}")]
    Refused {
        /// The most specific fault code, such as `ter:UsernameClash`.
        subcode: Option<String>,
        /// The camera's reason, trimmed.
        reason: String,
    },
    /// The reply made no sense.
    #[error("the camera sent a reply that could not be read: {0}")]
    BadReply(String),
    /// The camera does not offer this through the protocol asked (an ISAPI path it answers 404, a
    /// method it does not list, a step whose details are not public).
    #[error("this camera does not offer {0}")]
    NotOffered(String),
}

fn retry_hint(retry_after: Option<Duration>) -> String {
    match retry_after {
        Some(d) if d.as_secs() >= 60 => {
            format!("; it unlocks in about {} min", d.as_secs().div_ceil(60))
        }
        Some(d) => format!("; it unlocks in about {} s", d.as_secs().max(1)),
        None => String::new(),
    }
}

impl CameraError {
    /// Reads an oxvif error. `with_credentials` says whether the call carried credentials, which
    /// decides between "rejected" and "required". Refusals the transport already classified come back
    /// as they were classified; a fault oxvif read goes through the same [`refusal`] rules.
    pub(crate) fn from_onvif(error: oxvif::OnvifError, with_credentials: bool) -> Self {
        use oxvif::soap::SoapError;
        use oxvif::transport::TransportError;
        match error {
            oxvif::OnvifError::Transport(TransportError::Http(e)) => {
                CameraError::Offline(describe_http_error(&e))
            }
            oxvif::OnvifError::Transport(TransportError::HttpStatus {
                status: refusal::CLASSIFIED,
                body,
            }) => refusal::decode(&body),
            oxvif::OnvifError::Transport(TransportError::HttpStatus {
                status: transport::UNREADABLE_REPLY,
                body,
            }) => CameraError::BadReply(body),
            oxvif::OnvifError::Transport(TransportError::HttpStatus { status, body }) => {
                match refusal::classify_reply(
                    refusal::Reply {
                        status,
                        challenge: None,
                        retry_after: None,
                        body: &body,
                    },
                    with_credentials,
                ) {
                    refusal::Verdict::Refused(error) => error,
                    refusal::Verdict::Pass => {
                        CameraError::BadReply(format!("HTTP status {status}"))
                    }
                }
            }
            oxvif::OnvifError::Soap(SoapError::Fault {
                code,
                reason,
                subcode,
                detail,
            }) => {
                let fault = refusal::FaultReply {
                    code: clean_camera_text(&code),
                    subcodes: subcode.iter().map(|s| clean_camera_text(s)).collect(),
                    reason: clean_camera_text(&reason),
                    detail: detail.map(|d| clean_camera_text(&d)).unwrap_or_default(),
                };
                refusal::classify_fault(&fault, with_credentials).unwrap_or_else(|| {
                    CameraError::Refused {
                        subcode: Some(fault.specific_code().to_owned()).filter(|c| !c.is_empty()),
                        reason: fault.words(),
                    }
                })
            }
            oxvif::OnvifError::Soap(other) => {
                CameraError::BadReply(clean_camera_text(&other.to_string()))
            }
            oxvif::OnvifError::InvalidArgument(text) => CameraError::BadReply(text),
        }
    }

    /// Whether the camera answered at all.
    pub fn is_offline(&self) -> bool {
        matches!(self, CameraError::Offline(_))
    }
}

fn describe_http_error(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        "timed out".to_owned()
    } else if error.is_connect() {
        "connection refused or unreachable".to_owned()
    } else {
        "connection failed".to_owned()
    }
}

/// The longest wait a camera may ask for (a larger value is taken as this), so a hostile or broken
/// camera cannot push a retry into the far future.
pub(crate) const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 60 * 60);

/// Keeps camera-supplied text short and printable, so a hostile device cannot flood logs or screens.
pub(crate) fn clean_camera_text(text: &str) -> String {
    let cleaned: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(MAX_CAMERA_TEXT)
        .collect();
    cleaned.trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_faults_are_told_apart_from_wrong_passwords() {
        let fault = |reason: &str, detail: Option<&str>| {
            oxvif::OnvifError::Soap(oxvif::soap::SoapError::Fault {
                code: "env:Sender".into(),
                reason: reason.into(),
                subcode: Some("ter:NotAuthorized".into()),
                detail: detail.map(str::to_owned),
            })
        };
        assert_eq!(
            CameraError::from_onvif(
                fault("The user name or password is not correct", None),
                true
            ),
            CameraError::CredentialsRejected
        );
        assert_eq!(
            CameraError::from_onvif(fault("Account locked; retry after 1794 s", None), true),
            CameraError::Locked {
                retry_after: Some(Duration::from_secs(1794))
            }
        );
        assert_eq!(
            CameraError::from_onvif(fault("Sender not Authorized", None), false),
            CameraError::CredentialsRequired
        );
        let locked = CameraError::Locked {
            retry_after: Some(Duration::from_secs(1794)),
        };
        assert!(locked.to_string().contains("30 min"));
        // A camera cannot push the retry past a day, however large the number it sends.
        assert_eq!(
            CameraError::from_onvif(
                fault("locked; retry after 18446744073709551615", None),
                true
            ),
            CameraError::Locked {
                retry_after: Some(MAX_RETRY_AFTER)
            }
        );
        assert_eq!(
            CameraError::from_onvif(
                fault("locked; retry after 99999999999999999999999", None),
                true
            ),
            CameraError::Locked {
                retry_after: Some(MAX_RETRY_AFTER)
            }
        );
    }
}
