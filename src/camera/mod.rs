//! Everything the daemon says to cameras, and the only place that speaks ONVIF: the shared HTTP
//! transport, the device-service client built on oxvif, WS-Discovery, and the status monitor.
//!
//! What leaves this module is in the domain's words: a [`DeviceAddress`], a [`DeviceIdentity`], a
//! [`CameraError`] that says offline, credentials rejected or locked. No oxvif type crosses the border.

pub mod client;
pub mod discovery;
pub mod monitor;
pub mod recovery_client;
pub mod refusal;
pub mod transport;
pub mod xml_guard;

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use secrecy::SecretString;
use serde::{Deserialize, Serialize};

/// The default path of the ONVIF device service.
pub const DEVICE_SERVICE_PATH: &str = "/onvif/device_service";
/// The longest host name accepted.
const MAX_HOST_LEN: usize = 253;
/// The longest text kept from a camera's fault reason.
const MAX_CAMERA_TEXT: usize = 200;

/// A user name and password for a camera. The password is zeroed on drop and never printed.
#[derive(Clone)]
pub struct Credentials {
    /// The user name.
    pub username: String,
    /// The password.
    pub password: SecretString,
}

impl Credentials {
    /// Credentials from a user name and password.
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Self {
        Self {
            username: username.into(),
            password: SecretString::from(password.into()),
        }
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// Where a camera's device service is.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DeviceAddress {
    /// Host name or IP literal (no brackets).
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// The device service path, starting with `/`.
    pub path: String,
}

/// Why an address was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    /// No host.
    #[error("the host is empty")]
    EmptyHost,
    /// A host that is neither an IP address nor a valid host name.
    #[error("'{0}' is not an IP address or host name")]
    BadHost(String),
    /// Port 0.
    #[error("port 0 is not a camera port; use 1-65535 (usually 80)")]
    BadPort,
    /// A device service URL that could not be read.
    #[error("'{0}' is not an http:// device service address")]
    BadUrl(String),
}

impl DeviceAddress {
    /// A camera at `host:port` with the standard device service path.
    pub fn new(host: &str, port: u16) -> Result<Self, AddressError> {
        let host = normalize_host(host)?;
        if port == 0 {
            return Err(AddressError::BadPort);
        }
        Ok(Self {
            host,
            port,
            path: DEVICE_SERVICE_PATH.to_owned(),
        })
    }

    /// Reads a device service URL such as a WS-Discovery XAddr.
    pub fn from_url(text: &str) -> Result<Self, AddressError> {
        let bad = || AddressError::BadUrl(text.chars().take(100).collect());
        let url = url::Url::parse(text.trim()).map_err(|_| bad())?;
        if url.scheme() != "http" || !url.username().is_empty() || url.password().is_some() {
            return Err(bad());
        }
        let host = match url.host().ok_or_else(bad)? {
            url::Host::Domain(d) => d.to_owned(),
            url::Host::Ipv4(ip) => ip.to_string(),
            url::Host::Ipv6(ip) => ip.to_string(),
        };
        let mut address = Self::new(&host, url.port_or_known_default().unwrap_or(80))?;
        address.path = url.path().to_owned();
        Ok(address)
    }

    /// The device service URL.
    pub fn url(&self) -> String {
        match self.host.parse::<IpAddr>() {
            Ok(IpAddr::V6(v6)) => format!("http://[{v6}]:{}{}", self.port, self.path),
            _ => format!("http://{}:{}{}", self.host, self.port, self.path),
        }
    }

    /// The host as an IP address, when it is one.
    pub fn ip(&self) -> Option<IpAddr> {
        self.host.parse().ok()
    }
}

impl fmt::Display for DeviceAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.host.parse::<IpAddr>() {
            Ok(IpAddr::V6(v6)) => write!(f, "[{v6}]:{}", self.port),
            _ => write!(f, "{}:{}", self.host, self.port),
        }
    }
}

fn normalize_host(host: &str) -> Result<String, AddressError> {
    let host = host.trim().trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return Err(AddressError::EmptyHost);
    }
    if let Ok(ip) = host.parse::<IpAddr>() {
        if ip.is_unspecified() || ip.is_multicast() {
            return Err(AddressError::BadHost(host.to_owned()));
        }
        return Ok(ip.to_string());
    }
    let valid_label = |label: &str| {
        !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    };
    let all_numeric = host
        .split('.')
        .all(|l| l.chars().all(|c| c.is_ascii_digit()));
    if host.len() > MAX_HOST_LEN || all_numeric || !host.split('.').all(valid_label) {
        return Err(AddressError::BadHost(host.chars().take(64).collect()));
    }
    Ok(host.to_ascii_lowercase())
}

/// What a camera says it is.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceIdentity {
    /// Manufacturer.
    pub manufacturer: String,
    /// Model.
    pub model: String,
    /// Firmware version.
    pub firmware: String,
    /// Serial number.
    pub serial: String,
    /// MAC address, lower case `aa:bb:cc:dd:ee:ff`, when known.
    pub mac: Option<String>,
}

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

/// Normalizes a MAC address to lower-case colon form, or `None` when it is not one.
pub fn normalize_mac(text: &str) -> Option<String> {
    let hex: String = text.chars().filter(char::is_ascii_hexdigit).collect();
    let separators_ok = text
        .chars()
        .all(|c| c.is_ascii_hexdigit() || matches!(c, ':' | '-' | '.'));
    if hex.len() != 12 || !separators_ok {
        return None;
    }
    let lower = hex.to_ascii_lowercase();
    Some(
        lower
            .as_bytes()
            .chunks(2)
            .map(|pair| std::str::from_utf8(pair).unwrap_or("00"))
            .collect::<Vec<_>>()
            .join(":"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_validated_and_normalized() {
        assert_eq!(DeviceAddress::new("  ", 80), Err(AddressError::EmptyHost));
        assert_eq!(
            DeviceAddress::new("10.0.0.5", 0),
            Err(AddressError::BadPort)
        );
        assert!(matches!(
            DeviceAddress::new("300.1.1.1", 80),
            Err(AddressError::BadHost(_))
        ));
        assert!(matches!(
            DeviceAddress::new("bad host", 80),
            Err(AddressError::BadHost(_))
        ));
        assert!(matches!(
            DeviceAddress::new("0.0.0.0", 80),
            Err(AddressError::BadHost(_))
        ));
        let cam = DeviceAddress::new("Cam-1.Site.Lan", 8080).unwrap();
        assert_eq!(cam.url(), "http://cam-1.site.lan:8080/onvif/device_service");
        let v6 = DeviceAddress::new("[fe80::1]", 80).unwrap();
        assert_eq!(v6.url(), "http://[fe80::1]:80/onvif/device_service");
    }

    #[test]
    fn xaddrs_are_read_and_credentials_in_urls_refused() {
        let a = DeviceAddress::from_url("http://192.168.1.64/onvif/device_service").unwrap();
        assert_eq!((a.host.as_str(), a.port), ("192.168.1.64", 80));
        let b = DeviceAddress::from_url("http://10.1.2.3:8000/onvif/dev").unwrap();
        assert_eq!((b.port, b.path.as_str()), (8000, "/onvif/dev"));
        assert!(DeviceAddress::from_url("http://user:pw@10.1.2.3/onvif").is_err());
        assert!(DeviceAddress::from_url("ftp://10.1.2.3/").is_err());
        assert!(DeviceAddress::from_url("not a url").is_err());
    }

    #[test]
    fn macs_are_normalized() {
        assert_eq!(
            normalize_mac("02-56-AB-00-01-FF").as_deref(),
            Some("02:56:ab:00:01:ff")
        );
        assert_eq!(
            normalize_mac("0256ab0001ff").as_deref(),
            Some("02:56:ab:00:01:ff")
        );
        assert_eq!(normalize_mac("02:56:ab"), None);
        assert_eq!(normalize_mac("zz:56:ab:00:01:ff"), None);
    }

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

    #[test]
    fn credentials_never_print_the_password() {
        let creds = Credentials::new("admin", "Sup3r-Secret!");
        assert!(!format!("{creds:?}").contains("Sup3r"));
    }
}
