//! SADP datagrams (Hikvision): a ProbeMatch to our inquiry, or an answer to an update.
#![no_main]

use std::collections::HashSet;
use std::net::SocketAddr;

use libfuzzer_sys::fuzz_target;
use vigil::camera::hikvision::sadp::{read_probe_match, read_update_reply};

const UUID: &str = "74BB12B4-DAD2-4F0C-88BA-48ABC9A7D8A1";

fuzz_target!(|data: &[u8]| {
    let sender = SocketAddr::from(([192, 168, 1, 64], 37020));
    let _ = read_probe_match(data, sender, &HashSet::from([UUID.to_owned()]));
    let _ = read_update_reply(data, UUID, "aa:bb:cc:00:00:01");
});
