//! A camera fleet written by others: oxvif's mock ONVIF server (the `oxvif` crate's `mock-server`
//! feature), N devices on one address, each with its own port and serial number, all with the one MAC
//! address the crate's factory state gives them, WS-Security required, answering multicast probes on
//! that address through the crate's own WS-Discovery responder. Used by the foreign-fleet test and,
//! through `examples/oxvif-fleet.rs`, by `vigil-bench discovery --fleet oxvif`.

use std::net::Ipv4Addr;

use oxvif::mock::{DeviceState, Fleet, MockServer};

/// The administrator of oxvif's factory state.
pub const FLEET_ADMIN: &str = "admin";
/// Its password in oxvif's factory state.
pub const FLEET_PASSWORD: &str = "admin";
/// The most devices the crate's shared discovery responder serves.
pub const MAX_FLEET: usize = 256;

/// The serial number of member `index` (from 0).
pub fn serial_of(index: usize) -> String {
    format!("OXVIF-{:04}", index + 1)
}

/// Starts `count` devices bound to `address`, discoverable by multicast on it.
pub async fn start(count: usize, address: Ipv4Addr) -> std::io::Result<Fleet> {
    let mut builder = Fleet::builder().enforce_auth(true).discoverable(address);
    for index in 0..count.min(MAX_FLEET) {
        let mut state = DeviceState::default();
        state.info.serial_number = serial_of(index);
        let scopes = state.scopes.clone();
        builder = builder.member(
            MockServer::builder().bind_ip(address).initial_state(state),
            format!("urn:uuid:6f78766f-0000-4000-8000-{:012}", index + 1),
            scopes,
        );
    }
    builder.start().await
}
