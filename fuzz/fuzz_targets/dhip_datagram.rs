//! DHIP datagrams (Dahua): the 32-byte frame and its JSON announcement.
#![no_main]

use std::net::SocketAddr;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let sender = SocketAddr::from(([192, 168, 1, 108], 37810));
    let _ = vigil::camera::dahua::dhip::read_device_info(data, sender);
});
