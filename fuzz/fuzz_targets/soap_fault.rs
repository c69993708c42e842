//! A camera's SOAP reply read for its fault (ONVIF's and the vendors' subcodes and words), then
//! classified as the service sees it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vigil::camera::refusal::{classify_fault, parse_wait, read_fault};

fuzz_target!(|data: &[u8]| {
    let Ok(body) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(fault) = read_fault(body) {
        let _ = classify_fault(&fault, true);
        let _ = classify_fault(&fault, false);
        let _ = fault.words();
    }
    let _ = parse_wait(body);
});
