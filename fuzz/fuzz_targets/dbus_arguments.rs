//! The D-Bus faces' argument checks: credentials and network settings as a caller types them.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut parts = text.splitn(4, '\n');
    let (a, b, c, d) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
    );
    let _ = vigil::service::check_credentials(a, b);
    let _ = vigil::service::network_change_from_text(a, b, c, d.starts_with('1'));
    let _ = vigil::camera::discovery::parse_unicast_targets(text);
});
