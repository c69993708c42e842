//! Dahua's `Security.getEncryptInfo` answer (the camera's RSA key and the envelopes it offers), and a
//! sealed answer opened with a known key.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vigil::camera::dahua::envelope::{EncryptInfo, EnvelopeCipher, EnvelopeKey};

fuzz_target!(|data: &[u8]| {
    if let Ok(params) = serde_json::from_slice::<serde_json::Value>(data)
        && let Ok(info) = EncryptInfo::read(&params)
    {
        let _ = info.cipher();
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let key = EnvelopeKey::fresh(EnvelopeCipher::Aes128);
        let _ = key.open_json(text);
    }
});
