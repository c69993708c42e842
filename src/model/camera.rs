//! The camera as the NVR knows it, whatever protocol it speaks: where it is (address), what it says it
//! is (identity, compared by serial number before MAC), the credentials the NVR logs in with, and the
//! NVR's own bookkeeping of an added camera (id, status) and of a discovered device. Plain data plus the
//! rules that read it; no protocol, no secret printed.

use std::fmt;
use std::net::IpAddr;
use std::time::SystemTime;

use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use super::protocol::{Protocol, Protocols};

/// The default path of the ONVIF device service.
pub const DEVICE_SERVICE_PATH: &str = "/onvif/device_service";
/// The longest host name accepted.
const MAX_HOST_LEN: usize = 253;
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

/// The NVR's id for an added camera. Stable for the camera's life in the registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct CameraId(pub i64);

impl fmt::Display for CameraId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Where an added camera stands right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CameraState {
    /// Answering, and the stored credentials authenticate: certified.
    Online,
    /// The camera rejected the stored credentials. They are no longer used until new ones are given.
    NotCertified,
    /// The camera says it locked the user after failed logins.
    Locked,
    /// The camera does not answer.
    Offline,
}

impl CameraState {
    /// The stable name used in storage and on D-Bus.
    pub fn as_str(self) -> &'static str {
        match self {
            CameraState::Online => "online",
            CameraState::NotCertified => "not_certified",
            CameraState::Locked => "locked",
            CameraState::Offline => "offline",
        }
    }

    /// The inverse of [`CameraState::as_str`].
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "online" => CameraState::Online,
            "not_certified" => CameraState::NotCertified,
            "locked" => CameraState::Locked,
            "offline" => CameraState::Offline,
            _ => return None,
        })
    }

    /// The word an installer sees.
    pub fn label(self) -> &'static str {
        match self {
            CameraState::Online => "Online",
            CameraState::NotCertified => "Not certified",
            CameraState::Locked => "Locked",
            CameraState::Offline => "Offline",
        }
    }
}

/// An added camera's status, with the last error and when it happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CameraStatus {
    /// Where it stands.
    pub state: CameraState,
    /// Whether the stored credentials are known to be rejected (and so are not being used).
    pub credentials_rejected: bool,
    /// What went wrong last: a kind the faces translate and the camera's words.
    pub last_error: Option<super::StatusReason>,
    /// When the last error happened.
    pub last_error_at: Option<SystemTime>,
    /// When the camera entered `state`.
    pub since: SystemTime,
}

impl CameraStatus {
    /// Online and certified since `since`, with no error on record.
    pub fn certified_since(since: SystemTime) -> Self {
        Self {
            state: CameraState::Online,
            credentials_rejected: false,
            last_error: None,
            last_error_at: None,
            since,
        }
    }

    /// Whether the stored credentials authenticate right now.
    pub fn certified(&self) -> bool {
        self.state == CameraState::Online
    }
}

/// A camera the NVR keeps. The password is never part of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddedCamera {
    /// The NVR's id.
    pub id: CameraId,
    /// Where its device service is.
    pub address: DeviceAddress,
    /// The WS-Discovery endpoint reference, when known.
    pub endpoint_ref: Option<String>,
    /// What it says it is.
    pub identity: DeviceIdentity,
    /// The user name the NVR logs in with.
    pub username: String,
    /// Its status.
    pub status: CameraStatus,
    /// Its clock minus ours, seconds, as last measured.
    pub clock_offset_secs: i64,
    /// When it was added.
    pub added_at: SystemTime,
    /// Its channel, 1 to 256 (shown D1, D2, ...); `None` only for a camera a registry held past its
    /// channels when channels came.
    pub channel: Option<u16>,
    /// The name the installer gave it; empty for the default, [`AddedCamera::display_name`].
    pub name: String,
    /// The protocol the recorder certifies and monitors it with.
    #[serde(default = "onvif")]
    pub protocol: Protocol,
}

fn onvif() -> Protocol {
    Protocol::Onvif
}

impl AddedCamera {
    /// What the menu and D-Bus call it: the installer's name, else its model and the last four
    /// characters of its serial number (so two cameras of one model differ), else its address.
    pub fn display_name(&self) -> String {
        if !self.name.is_empty() {
            return self.name.clone();
        }
        let serial = &self.identity.serial;
        let tail: String = serial
            .chars()
            .skip(serial.chars().count().saturating_sub(4))
            .collect();
        match (self.identity.model.is_empty(), tail.is_empty()) {
            (false, false) => format!("{} {tail}", self.identity.model),
            (false, true) => self.identity.model.clone(),
            _ => self.address.to_string(),
        }
    }

    /// Whether its clock, as last measured, is off the recorder's by more than `limit`.
    pub fn clock_drifted(&self, limit: std::time::Duration) -> bool {
        self.clock_offset_secs.unsigned_abs() > limit.as_secs()
    }

    /// The channel as the installer reads it: "D3", or "-" without one.
    pub fn channel_label(&self) -> String {
        self.channel
            .map_or_else(|| "-".to_owned(), |c| format!("D{c}"))
    }
}

/// A camera seen on the LAN and not (necessarily) added.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiscoveredDevice {
    /// Stable key for the list: the endpoint reference.
    pub key: String,
    /// Where its device service is.
    pub address: DeviceAddress,
    /// What it says it is. Fields it would not give without credentials are empty.
    pub identity: DeviceIdentity,
    /// Whether it answered GetDeviceInformation (else the identity came from its scopes).
    pub information_complete: bool,
    /// Factory state: no administrator yet; it needs activation.
    pub inactive: bool,
    /// The added camera it is, when it is one.
    pub added_as: Option<CameraId>,
    /// When it last answered or announced itself.
    pub last_seen: SystemTime,
    /// Where another camera (added or discovered) claims the same serial number with a different
    /// MAC address. Two devices are never merged on such a claim; the conflict is shown instead.
    #[serde(default)]
    pub conflict_with: Option<DeviceAddress>,
    /// The protocols it was seen speaking (WS-Discovery, SADP and DHIP sightings of one camera are
    /// one device).
    #[serde(default)]
    pub protocols: Protocols,
    /// The network settings it gave in its vendor's discovery answer, when its address is outside every
    /// subnet the recorder is on: nothing but re-addressing in that protocol reaches it (Edit IP).
    #[serde(default)]
    pub other_subnet: Option<crate::model::CameraNetwork>,
}

/// How two cameras' claims about themselves compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdentityMatch {
    /// The same serial number from the same maker, and no MAC address that says otherwise.
    Same,
    /// Both serial numbers are known and differ: two cameras, whatever their MAC addresses say
    /// (cheap cameras and cloned firmware share MACs).
    Different,
    /// One serial number from the same maker but two different MAC addresses: two devices claim to
    /// be one camera. Never merged; shown.
    Conflict,
    /// Not enough is known (a serial number is missing).
    Unknown,
}

/// Compares two identities by serial number and maker first, MAC address second. Equal MACs alone
/// never make two devices one.
pub fn compare_identities(a: &DeviceIdentity, b: &DeviceIdentity) -> IdentityMatch {
    if a.serial.is_empty() || b.serial.is_empty() {
        return IdentityMatch::Unknown;
    }
    let same_maker = a.manufacturer.is_empty()
        || b.manufacturer.is_empty()
        || a.manufacturer.eq_ignore_ascii_case(&b.manufacturer);
    if a.serial != b.serial || !same_maker {
        return IdentityMatch::Different;
    }
    match (&a.mac, &b.mac) {
        (Some(x), Some(y)) if x != y => IdentityMatch::Conflict,
        _ => IdentityMatch::Same,
    }
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
    fn credentials_never_print_the_password() {
        let creds = Credentials::new("admin", "Sup3r-Secret!");
        assert!(!format!("{creds:?}").contains("Sup3r"));
    }

    fn identity(serial: &str, mac: Option<&str>) -> DeviceIdentity {
        DeviceIdentity {
            manufacturer: "Acme".into(),
            model: "C1".into(),
            firmware: String::new(),
            serial: serial.into(),
            mac: mac.map(str::to_owned),
        }
    }

    #[test]
    fn serial_numbers_decide_and_equal_macs_never_merge_two_cameras() {
        let mac = Some("00:11:22:33:44:55");
        assert_eq!(
            compare_identities(&identity("A1", mac), &identity("A2", mac)),
            IdentityMatch::Different
        );
        assert_eq!(
            compare_identities(&identity("A1", mac), &identity("A1", mac)),
            IdentityMatch::Same
        );
        assert_eq!(
            compare_identities(&identity("A1", None), &identity("A1", mac)),
            IdentityMatch::Same
        );
        assert_eq!(
            compare_identities(
                &identity("A1", mac),
                &identity("A1", Some("00:11:22:33:44:66"))
            ),
            IdentityMatch::Conflict
        );
        assert_eq!(
            compare_identities(&identity("", mac), &identity("A1", mac)),
            IdentityMatch::Unknown
        );
    }
}
