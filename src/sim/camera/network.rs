//! A simulated camera's own network settings, clock source and maintenance, as ONVIF sets them: its
//! address (a new one is taken after the reply, or at the next boot when the camera says it needs a
//! reboot), mask, gateway and DHCP; its clock set by hand in UTC or from an NTP server; rebooting and
//! factory defaults, which take it off the network for a moment and bring it back with a Hello.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use tokio::sync::{mpsc, watch};

use super::SimCamera;
use crate::sim::fault::Fault;

/// The camera's network settings and clock source.
#[derive(Debug, Clone)]
pub struct SimNetwork {
    /// The mask, as a prefix length.
    pub prefix_len: u8,
    /// The default gateway.
    pub gateway: Option<Ipv4Addr>,
    /// Whether its address comes from DHCP.
    pub dhcp: bool,
    /// An address set while the camera said it needed a reboot: taken at the next boot.
    pub pending_address: Option<IpAddr>,
    /// The NTP server it was given.
    pub ntp_server: Option<String>,
    /// Whether its clock follows NTP (else it was set by hand).
    pub time_from_ntp: bool,
}

impl Default for SimNetwork {
    fn default() -> Self {
        Self {
            prefix_len: 24,
            gateway: None,
            dhcp: false,
            pending_address: None,
            ntp_server: None,
            time_from_ntp: false,
        }
    }
}

/// Something that happens to the camera as a whole, carried out by the simulator (which can announce
/// it) after the reply that ordered it has gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lifecycle {
    /// Off the network for the policy's reboot time, then back with a Hello; a hard factory reset
    /// also loses its users and returns to its factory address.
    Reboot {
        /// Whether it comes back in factory state.
        factory_hard: bool,
    },
    /// It takes a new address (DHCP gave it one, or it was set) and says Hello there.
    Move(IpAddr),
}

/// The camera's side of the lifecycle channel.
pub(crate) struct LifecycleSender {
    sender: mpsc::UnboundedSender<Lifecycle>,
    receiver: std::sync::Mutex<Option<mpsc::UnboundedReceiver<Lifecycle>>>,
}

impl LifecycleSender {
    pub(crate) fn new() -> Self {
        let (sender, receiver) = mpsc::unbounded_channel();
        Self {
            sender,
            receiver: std::sync::Mutex::new(Some(receiver)),
        }
    }
}

/// The address watch of a camera starting at `address`.
pub(crate) fn address_watch(address: SocketAddr) -> watch::Sender<SocketAddr> {
    watch::channel(address).0
}

impl SimCamera {
    /// Where its device service listens now.
    pub fn http_addr(&self) -> SocketAddr {
        *self.address.borrow()
    }

    /// Follows its address.
    pub fn watch_address(&self) -> watch::Receiver<SocketAddr> {
        self.address.subscribe()
    }

    /// The device service URL, as advertised in XAddrs and capabilities.
    pub fn device_service_url(&self) -> String {
        format!("http://{}/onvif/device_service", self.http_addr())
    }

    /// Its network settings and clock source now.
    pub fn network(&self) -> SimNetwork {
        self.network_state().clone()
    }

    fn network_state(&self) -> std::sync::MutexGuard<'_, SimNetwork> {
        self.network.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The lifecycle orders, for the simulator to carry out; `None` once taken.
    pub(crate) fn take_lifecycle(&self) -> Option<mpsc::UnboundedReceiver<Lifecycle>> {
        self.lifecycle
            .receiver
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
    }

    /// Orders something of the camera as a whole (carried out after the current reply).
    pub fn order(&self, lifecycle: Lifecycle) {
        let _ = self.lifecycle.sender.send(lifecycle);
    }

    /// Takes a new address now: its port closes at the old one and opens at the new one.
    pub(crate) fn take_address(&self, ip: IpAddr) {
        let port = self.http_addr().port();
        self.address.send_replace(SocketAddr::new(ip, port));
    }

    /// The address it takes at boot: a pending one, its factory one after a hard reset, else its own.
    pub(crate) fn address_at_boot(&self, factory_hard: bool) -> Option<IpAddr> {
        let mut network = self.network_state();
        if factory_hard {
            *network = SimNetwork::default();
            return Some(self.identity.http_addr.ip());
        }
        network.pending_address.take()
    }

    /// SetNetworkInterfaces: new IPv4 settings for `eth0`. Returns whether a reboot is needed; without
    /// one, a new address is taken once the reply has gone.
    pub fn set_network_interface(
        &self,
        token: &str,
        dhcp: Option<bool>,
        address: Option<(IpAddr, u8)>,
    ) -> Result<bool, Fault> {
        if token != "eth0" {
            return Err(Fault::invalid_arg("No such network interface token"));
        }
        if let Some((ip, prefix_len)) = address
            && (ip.is_unspecified() || ip.is_multicast() || !(1..=32).contains(&prefix_len))
        {
            return Err(Fault::invalid_arg("Invalid IPv4 address or prefix length"));
        }
        let reboot_needed = self.policy.network_change_needs_reboot;
        let mut network = self.network_state();
        if let Some(dhcp) = dhcp {
            network.dhcp = dhcp;
        }
        if let Some((ip, prefix_len)) = address {
            network.prefix_len = prefix_len;
            if ip != self.http_addr().ip() {
                if reboot_needed {
                    network.pending_address = Some(ip);
                } else {
                    drop(network);
                    self.order(Lifecycle::Move(ip));
                }
            }
        }
        Ok(reboot_needed)
    }

    /// SetNetworkDefaultGateway.
    pub fn set_gateway(&self, gateway: Option<Ipv4Addr>) {
        self.network_state().gateway = gateway;
    }

    /// SetSystemDateAndTime by hand: the camera's clock reads `utc_unix_secs` now.
    pub fn set_clock_to(&self, utc_unix_secs: i64) {
        let true_now = crate::clock::unix_secs(self.clock.now());
        self.state().clock_offset_secs = utc_unix_secs - true_now;
        self.network_state().time_from_ntp = false;
    }

    /// SetSystemDateAndTime with NTP: with a server given, its clock is right from now on.
    pub fn use_ntp_time(&self) {
        let has_server = {
            let mut network = self.network_state();
            network.time_from_ntp = true;
            network.ntp_server.is_some()
        };
        if has_server {
            self.state().clock_offset_secs = 0;
        }
    }

    /// SetNTP with servers given by hand.
    pub fn set_ntp_server(&self, server: Option<String>) {
        self.network_state().ntp_server = server;
    }

    /// SetSystemFactoryDefault Soft: its clock source and gateway go back to factory values; its
    /// address, mask and users stay.
    pub fn soft_factory_default(&self) {
        let mut network = self.network_state();
        network.gateway = None;
        network.ntp_server = None;
        network.time_from_ntp = false;
    }
}

/// How long a reboot keeps a camera off the network by default.
pub const DEFAULT_REBOOT_TIME: Duration = Duration::from_millis(500);

/// Seconds since the epoch of a UTC calendar time, or `None` when a field is out of range.
pub fn unix_secs_of(
    year: i64,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
) -> Option<i64> {
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    // Howard Hinnant's days-from-civil algorithm.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + i64::from(hour) * 3600 + i64::from(minute) * 60 + i64::from(second))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar_times_are_read_as_unix_seconds() {
        assert_eq!(unix_secs_of(1970, 1, 1, 0, 0, 0), Some(0));
        assert_eq!(unix_secs_of(2024, 2, 29, 23, 59, 58), Some(1_709_251_198));
        assert_eq!(unix_secs_of(2026, 12, 6, 21, 32, 37), Some(1_796_592_757));
        assert_eq!(unix_secs_of(2026, 13, 1, 0, 0, 0), None);
    }
}
