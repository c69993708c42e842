//! The ONVIF device-service calls the NVR makes, on oxvif over the one shared HTTP pool: measuring a
//! camera's clock, certifying credentials (with the clock offset applied to the UsernameToken),
//! identifying a discovered device without credentials, and reading its users.

use std::time::Duration;

use oxvif::OnvifClient;

use crate::camera::transport::HttpPool;
use crate::camera::{CameraError, clean_camera_text};
use crate::model::{Credentials, DeviceAddress, DeviceIdentity, normalize_mac};
use secrecy::{ExposeSecret, SecretString};

/// The Profile Q scope of a device in factory default state.
pub const FACTORY_DEFAULT_SCOPE: &str = "onvif://www.onvif.org/Profile/Q/FactoryDefault";
/// The Profile Q scope of a device that has been set up.
pub const OPERATIONAL_SCOPE: &str = "onvif://www.onvif.org/Profile/Q/Operational";

/// Makes camera sessions that all share one HTTP pool. Cheap to clone.
#[derive(Clone, Debug)]
pub struct CameraConnector {
    pool: HttpPool,
}

/// Credentials that authenticated, and what the camera then said about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certification {
    /// The camera's identity.
    pub identity: DeviceIdentity,
    /// Camera clock minus ours, seconds.
    pub clock_offset_secs: i64,
    /// The protocol that certified them.
    pub protocol: crate::model::Protocol,
}

/// What a discovered device says about itself without credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identification {
    /// Identity; fields the camera would not give anonymously are filled from its scopes or empty.
    pub identity: DeviceIdentity,
    /// Whether GetDeviceInformation answered (otherwise the identity came from scopes).
    pub information_complete: bool,
    /// Whether the camera is in factory state, waiting for activation.
    pub inactive: bool,
    /// Camera clock minus ours, seconds.
    pub clock_offset_secs: i64,
}

/// A user account on a camera.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CameraUser {
    /// The user name.
    pub username: String,
    /// `Administrator`, `Operator`, `User`...
    pub level: String,
}

impl CameraConnector {
    /// A connector whose requests time out after `request_timeout`.
    pub fn new(request_timeout: Duration) -> Self {
        Self {
            pool: HttpPool::new(request_timeout, request_timeout.min(Duration::from_secs(3))),
        }
    }

    /// The shared HTTP pool.
    pub(crate) fn pool(&self) -> &HttpPool {
        &self.pool
    }

    /// A session with one camera. `clock_offset_secs` is applied to UsernameToken timestamps.
    pub fn session(
        &self,
        address: &DeviceAddress,
        credentials: Option<&Credentials>,
        clock_offset_secs: i64,
    ) -> CameraSession {
        let mut onvif =
            OnvifClient::new(address.url()).with_transport(self.pool.transport(credentials));
        if let Some(credentials) = credentials {
            onvif = onvif
                .with_credentials(
                    credentials.username.clone(),
                    credentials.password.expose_secret().to_owned(),
                )
                .with_utc_offset(clock_offset_secs);
        }
        CameraSession {
            onvif,
            authenticated: credentials.is_some(),
        }
    }

    /// Whether the camera answers, and how far its clock is from ours. Needs no credentials.
    pub async fn clock_offset(&self, address: &DeviceAddress) -> Result<i64, CameraError> {
        self.session(address, None, 0).clock_offset().await
    }

    /// Checks `credentials` against the camera. First, without any credentials, it asks whether the
    /// camera checks logins at all: one that lists its users to anyone is in factory state (no
    /// administrator: [`CameraError::Inactive`]) or has authentication turned off
    /// ([`CameraError::AuthenticationOff`]), and would "accept" any user name and password. Then it
    /// measures the camera's clock so an hour-off camera still certifies, and makes one authenticated
    /// call. At most one failed login reaches the camera.
    pub async fn certify(
        &self,
        address: &DeviceAddress,
        credentials: &Credentials,
    ) -> Result<Certification, CameraError> {
        match self.session(address, None, 0).users().await {
            Ok(users) if !has_administrator(&users) => return Err(CameraError::Inactive),
            Ok(_) => return Err(CameraError::AuthenticationOff),
            // Refused, as it should be (or failed, which says nothing): the camera checks logins.
            Err(
                CameraError::CredentialsRequired
                | CameraError::Refused { .. }
                | CameraError::DeviceFault(_),
            ) => {}
            // No answer, a lock, a busy or unreadable camera: no login is sent into that.
            Err(error) => return Err(error),
        }
        let mut certification = self.recheck(address, credentials, 0).await?;
        let session = self.session(address, Some(credentials), certification.clock_offset_secs);
        // The MAC is a nicety: a camera that will not say it is still certified.
        certification.identity.mac = session.mac_address().await.ok().flatten();
        Ok(certification)
    }

    /// The monitor's periodic check: as [`CameraConnector::certify`] but without asking for the MAC
    /// again, so a check costs two requests (one of them a login). `last_offset_secs` is the clock
    /// offset last measured, used only when the camera wants a login even to tell its time.
    pub async fn recheck(
        &self,
        address: &DeviceAddress,
        credentials: &Credentials,
        last_offset_secs: i64,
    ) -> Result<Certification, CameraError> {
        let clock_offset_secs = match self.clock_offset(address).await {
            Ok(offset) => offset,
            // ONVIF says the clock needs no credentials, but some cameras want them even there (and
            // say so in whatever words): ask again with them. That is then the login attempt, and
            // its answer, not the anonymous refusal, says whether the credentials work.
            Err(
                CameraError::CredentialsRequired
                | CameraError::Refused { .. }
                | CameraError::DeviceFault(_),
            ) => {
                self.session(address, Some(credentials), last_offset_secs)
                    .clock_offset()
                    .await?
            }
            // No answer, a lock, a busy or unreadable camera: no login is sent into that.
            Err(error) => return Err(error),
        };
        let session = self.session(address, Some(credentials), clock_offset_secs);
        let identity = session.device_information().await?;
        Ok(Certification {
            identity,
            clock_offset_secs,
            protocol: crate::model::Protocol::Onvif,
        })
    }

    /// Identifies a discovered device without credentials. `scopes` are the ones it advertised. A
    /// device that answers at all is identified: one that wants a login even to say what it is gets
    /// an identity from its scopes, marked incomplete, and only a device that does not answer fails.
    pub async fn identify(
        &self,
        address: &DeviceAddress,
        scopes: &[String],
    ) -> Result<Identification, CameraError> {
        let clock_offset_secs = match self.clock_offset(address).await {
            Ok(offset) => offset,
            Err(error @ CameraError::Offline(_)) => return Err(error),
            // It answered, in whatever words: it is there.
            Err(_) => 0,
        };
        let session = self.session(address, None, 0);
        let says_factory = scopes.iter().any(|s| s == FACTORY_DEFAULT_SCOPE);
        let says_operational = scopes.iter().any(|s| s == OPERATIONAL_SCOPE);
        let users_check = async {
            if says_factory || says_operational {
                None
            } else {
                // No Profile Q scope: a factory-state camera still answers GetUsers anonymously.
                Some(session.users().await)
            }
        };
        let (information, mac, users) = tokio::join!(
            session.device_information(),
            session.mac_address(),
            users_check
        );
        let (mut identity, information_complete) = match information {
            Ok(identity) => (identity, true),
            Err(error @ CameraError::Offline(_)) => return Err(error),
            // Refused (a login is needed, in any dialect) or unreadable: list it from its scopes.
            Err(_) => (identity_from_scopes(scopes), false),
        };
        let scope_mac = identity.mac.take();
        identity.mac = mac.ok().flatten().or(scope_mac);
        let inactive = says_factory || matches!(users, Some(Ok(ref u)) if !has_administrator(u));
        Ok(Identification {
            identity,
            information_complete,
            inactive,
            clock_offset_secs,
        })
    }
}

/// Whether a user list holds an administrator: a camera without one is in factory state (ONVIF
/// Profile Q lets anyone create the first).
fn has_administrator(users: &[CameraUser]) -> bool {
    users
        .iter()
        .any(|u| u.level.eq_ignore_ascii_case("Administrator"))
}

/// One camera, with or without credentials.
pub struct CameraSession {
    onvif: OnvifClient,
    authenticated: bool,
}

impl CameraSession {
    pub(super) fn classify(&self, error: oxvif::OnvifError) -> CameraError {
        CameraError::from_onvif(error, self.authenticated)
    }

    /// The oxvif client, for the calls in sibling modules.
    pub(super) fn onvif(&self) -> &OnvifClient {
        &self.onvif
    }

    /// Camera clock minus ours, seconds (GetSystemDateAndTime, which needs no credentials).
    pub async fn clock_offset(&self) -> Result<i64, CameraError> {
        let reading = self
            .onvif
            .get_system_date_and_time()
            .await
            .map_err(|e| self.classify(e))?;
        if reading.utc_unix.is_none() {
            return Err(CameraError::BadReply(
                "GetSystemDateAndTime carried no UTC time".to_owned(),
            ));
        }
        Ok(reading.utc_offset_secs())
    }

    /// GetDeviceInformation.
    pub async fn device_information(&self) -> Result<DeviceIdentity, CameraError> {
        let info = self
            .onvif
            .get_device_info()
            .await
            .map_err(|e| self.classify(e))?;
        Ok(DeviceIdentity {
            manufacturer: clean_camera_text(&info.manufacturer),
            model: clean_camera_text(&info.model),
            firmware: clean_camera_text(&info.firmware_version),
            serial: clean_camera_text(&info.serial_number),
            mac: None,
        })
    }

    /// The MAC of the first interface that reports one (GetNetworkInterfaces).
    pub async fn mac_address(&self) -> Result<Option<String>, CameraError> {
        let interfaces = self
            .onvif
            .get_network_interfaces()
            .await
            .map_err(|e| self.classify(e))?;
        Ok(interfaces.iter().find_map(|i| normalize_mac(&i.hw_address)))
    }

    /// SetUser: changes `username`'s password, keeping its level.
    pub async fn set_password(
        &self,
        username: &str,
        level: &str,
        password: &SecretString,
    ) -> Result<(), CameraError> {
        self.onvif
            .set_user(username, Some(password.expose_secret()), level)
            .await
            .map_err(|e| self.classify(e))
    }

    /// CreateUsers with one user (ONVIF Profile Q activation of a camera without the recovery extension).
    pub async fn create_user(
        &self,
        username: &str,
        level: &str,
        password: &SecretString,
    ) -> Result<(), CameraError> {
        self.onvif
            .create_users(&[(username, password.expose_secret(), level)])
            .await
            .map_err(|e| self.classify(e))
    }

    /// GetUsers: names and levels.
    pub async fn users(&self) -> Result<Vec<CameraUser>, CameraError> {
        let users = self.onvif.get_users().await.map_err(|e| self.classify(e))?;
        Ok(users
            .into_iter()
            .map(|u| CameraUser {
                username: clean_camera_text(&u.username),
                level: clean_camera_text(&u.user_level),
            })
            .collect())
    }
}

/// What can be read from a device's scopes when it will not answer GetDeviceInformation anonymously.
fn identity_from_scopes(scopes: &[String]) -> DeviceIdentity {
    let value = |prefix: &str| {
        scopes
            .iter()
            .find_map(|s| s.strip_prefix(prefix))
            .map(|v| clean_camera_text(&percent_decode(v)))
    };
    DeviceIdentity {
        model: value("onvif://www.onvif.org/hardware/").unwrap_or_default(),
        manufacturer: value("onvif://www.onvif.org/manufacturer/").unwrap_or_default(),
        firmware: String::new(),
        serial: value("onvif://www.onvif.org/serial/").unwrap_or_default(),
        mac: value("onvif://www.onvif.org/MAC/").and_then(|m| normalize_mac(&m)),
    }
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Some(b) = std::str::from_utf8(&bytes[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_is_read_from_scopes_when_the_camera_wants_credentials() {
        let scopes = vec![
            "onvif://www.onvif.org/hardware/DS%2D2CD2043".to_owned(),
            "onvif://www.onvif.org/name/Front%20door".to_owned(),
            "onvif://www.onvif.org/MAC/44-19-B6-00-00-01".to_owned(),
        ];
        let identity = identity_from_scopes(&scopes);
        assert_eq!(identity.model, "DS-2CD2043");
        assert_eq!(identity.mac.as_deref(), Some("44:19:b6:00:00:01"));
        assert_eq!(identity.serial, "");
    }

    #[test]
    fn percent_decoding_leaves_broken_escapes_alone() {
        assert_eq!(percent_decode("a%20b%2"), "a b%2");
        assert_eq!(percent_decode("%zz"), "%zz");
    }
}
