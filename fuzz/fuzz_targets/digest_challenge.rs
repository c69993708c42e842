//! A camera's HTTP Digest challenge (`WWW-Authenticate`), as the transport reads it before answering.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(header) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(mut challenge) = vigil::camera::transport::read_digest_challenge(header) {
        let context =
            digest_auth::AuthContext::new("admin", "Harbor-Lamp-62", "/onvif/device_service");
        let _ = challenge.respond(&context);
    }
});
