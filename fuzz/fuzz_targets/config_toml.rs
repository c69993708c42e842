//! The configuration file (`/etc/vigil/vigild.toml`): parsed and resolved into settings.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(config) = vigil::config::Config::parse(text, "fuzz.toml") {
        let _ = config.resolve("fuzz.toml");
    }
});
