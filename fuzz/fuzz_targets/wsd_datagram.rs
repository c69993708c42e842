//! WS-Discovery datagrams as they arrive from the LAN: any bytes, from any sender, answering our probe
//! or not.
#![no_main]

use std::collections::HashSet;
use std::net::SocketAddr;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let sender = SocketAddr::from(([192, 168, 1, 64], 3702));
    let ours = HashSet::from(["urn:uuid:11111111-2222-3333-4444-555555555555".to_owned()]);
    let _ = vigil::camera::discovery::parse_datagram(data, sender, Some(&ours));
    let _ = vigil::camera::discovery::parse_datagram(data, sender, None);
});
