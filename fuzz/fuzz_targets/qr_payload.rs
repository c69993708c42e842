//! A recovery QR payload, as the phone app's side (and the recorder's own login) reads it.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = vigil::rules::codes::parse_qr_payload(text);
    }
});
