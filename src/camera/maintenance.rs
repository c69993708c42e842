//! The ONVIF device-management calls an installer orders on one camera: reading and changing its IPv4
//! settings (GetNetworkInterfaces, SetNetworkInterfaces, GetNetworkDefaultGateway,
//! SetNetworkDefaultGateway), setting its clock in UTC or pointing it at an NTP server
//! (SetSystemDateAndTime, SetNTP), rebooting it (SystemReboot) and restoring its factory defaults
//! (SetSystemFactoryDefault). What comes back is in the model's words.

use std::net::Ipv4Addr;
use std::time::SystemTime;

use oxvif::{IpStackConfig, NetworkInterfaceConfig, SetDateTimeRequest, UtcDateTime};

use super::CameraError;
use super::client::CameraSession;
use crate::model::{CameraNetwork, FactoryDefault, NetworkChange};

/// The POSIX time zone a camera is given with its UTC time: the recorder keeps cameras on UTC and
/// shows local time itself.
const UTC_ZONE: &str = "UTC0";

impl CameraSession {
    /// The IPv4 settings of the camera's first enabled interface with an IPv4 address, and its default
    /// gateway (a camera that will not tell its gateway is read as having none).
    pub async fn network(&self) -> Result<CameraNetwork, CameraError> {
        let interfaces = self
            .onvif()
            .get_network_interfaces()
            .await
            .map_err(|e| self.classify(e))?;
        let interface = interfaces
            .iter()
            .filter(|i| i.enabled && i.ipv4_enabled)
            .find(|i| i.ipv4_address.trim().parse::<Ipv4Addr>().is_ok())
            .ok_or_else(|| CameraError::BadReply("no interface with an IPv4 address".to_owned()))?;
        let address: Ipv4Addr = interface
            .ipv4_address
            .trim()
            .parse()
            .map_err(|_| CameraError::BadReply("an unreadable IPv4 address".to_owned()))?;
        let prefix_len = u8::try_from(interface.ipv4_prefix_length)
            .ok()
            .filter(|p| (1..=32).contains(p))
            .ok_or_else(|| {
                CameraError::BadReply("an IPv4 prefix length out of range".to_owned())
            })?;
        let gateway = match self.onvif().get_network_default_gateway().await {
            Ok(gateway) => gateway
                .ipv4_addresses
                .iter()
                .find_map(|g| g.trim().parse::<Ipv4Addr>().ok())
                .filter(|g| !g.is_unspecified()),
            Err(error) => match self.classify(error) {
                error @ (CameraError::Offline(_) | CameraError::Locked { .. }) => {
                    return Err(error);
                }
                _ => None,
            },
        };
        Ok(CameraNetwork {
            interface_token: super::clean_camera_text(&interface.token),
            address,
            prefix_len,
            gateway,
            dhcp: interface.ipv4_from_dhcp,
        })
    }

    /// Sends new IPv4 settings to the interface `token`, then the gateway. Returns whether the camera
    /// says it needs a reboot to apply them.
    pub async fn set_network(
        &self,
        token: &str,
        change: &NetworkChange,
    ) -> Result<bool, CameraError> {
        let config = NetworkInterfaceConfig {
            enabled: true,
            mtu: None,
            ipv4: Some(IpStackConfig {
                enabled: true,
                from_dhcp: change.dhcp,
                manual: if change.dhcp {
                    Vec::new()
                } else {
                    vec![oxvif::ManualAddress {
                        address: change.address.to_string(),
                        prefix_length: u32::from(change.prefix_len),
                    }]
                },
            }),
            ipv6: None,
        };
        let reboot_needed = self
            .onvif()
            .set_network_interfaces(token, &config)
            .await
            .map_err(|e| self.classify(e))?;
        let gateway: Vec<String> = change.gateway.iter().map(Ipv4Addr::to_string).collect();
        let gateway: Vec<&str> = gateway.iter().map(String::as_str).collect();
        self.onvif()
            .set_network_default_gateway(&gateway)
            .await
            .map_err(|e| self.classify(e))?;
        Ok(reboot_needed)
    }

    /// Sets the camera's clock to `now`, in UTC, by hand (not NTP).
    pub async fn set_clock(&self, now: SystemTime) -> Result<(), CameraError> {
        let utc = utc_fields(now);
        self.onvif()
            .set_system_date_and_time(&SetDateTimeRequest {
                datetime_type: "Manual".to_owned(),
                daylight_savings: false,
                timezone: UTC_ZONE.to_owned(),
                utc_datetime: Some(utc),
            })
            .await
            .map_err(|e| self.classify(e))
    }

    /// Points the camera at the NTP server `server` (a host name or IP address) and makes NTP its
    /// time source.
    pub async fn use_ntp(&self, server: &str) -> Result<(), CameraError> {
        self.onvif()
            .set_ntp(false, &[server])
            .await
            .map_err(|e| self.classify(e))?;
        self.onvif()
            .set_system_date_and_time(&SetDateTimeRequest {
                datetime_type: "NTP".to_owned(),
                daylight_savings: false,
                timezone: UTC_ZONE.to_owned(),
                utc_datetime: None,
            })
            .await
            .map_err(|e| self.classify(e))
    }

    /// Asks the camera to reboot. Returns its message ("Rebooting in 30 seconds"), trimmed.
    pub async fn reboot(&self) -> Result<String, CameraError> {
        self.onvif()
            .system_reboot()
            .await
            .map(|message| super::clean_camera_text(&message))
            .map_err(|e| self.classify(e))
    }

    /// Asks the camera to restore its factory defaults.
    pub async fn restore_factory_defaults(&self, kind: FactoryDefault) -> Result<(), CameraError> {
        self.onvif()
            .set_system_factory_default(kind.as_str())
            .await
            .map_err(|e| self.classify(e))
    }
}

/// The UTC calendar fields of `time` (times before 1970 read as 1970).
fn utc_fields(time: SystemTime) -> UtcDateTime {
    let secs = time
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let days = (secs / 86_400) as i64;
    let rest = secs % 86_400;
    // Howard Hinnant's days-to-civil algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    UtcDateTime {
        year: u16::try_from(year).unwrap_or(u16::MAX),
        month: month as u8,
        day: day as u8,
        hour: (rest / 3600) as u8,
        minute: (rest % 3600 / 60) as u8,
        second: (rest % 60) as u8,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn utc_fields_are_the_calendar_date() {
        let at = |secs: u64| utc_fields(SystemTime::UNIX_EPOCH + Duration::from_secs(secs));
        let t = at(0);
        assert_eq!((t.year, t.month, t.day, t.hour), (1970, 1, 1, 0));
        // 2024-02-29 23:59:58 UTC, a leap day.
        let t = at(1_709_251_198);
        assert_eq!(
            (t.year, t.month, t.day, t.hour, t.minute, t.second),
            (2024, 2, 29, 23, 59, 58)
        );
        // 2026-12-06 21:32:37 UTC.
        let t = at(1_796_592_757);
        assert_eq!(
            (t.year, t.month, t.day, t.hour, t.minute, t.second),
            (2026, 12, 6, 21, 32, 37)
        );
    }
}
