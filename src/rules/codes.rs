//! The codes of the vigil recovery extension (docs/recovery-protocol.md), shared by every device that
//! answers it: the 8-digit challenge code and the 10-digit support code, both HMAC-SHA256 of the
//! device's own secret, and the QR payload the vendor's phone app scans. Cameras (the simulator) and
//! the recorder's own account use the same derivation; the vendor's side computes it from the secret.

use std::time::SystemTime;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::clock::unix_secs;

type HmacSha256 = Hmac<Sha256>;

/// Derives a challenge's 8-digit code.
pub fn challenge_code(secret: &[u8; 32], nonce: &[u8; 16], expires_unix: i64) -> String {
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(b"vigil-recovery/v1/code");
    mac.update(nonce);
    mac.update(&expires_unix.to_be_bytes());
    format!("{:08}", truncate(&mac.finalize().into_bytes(), 100_000_000))
}

/// Derives the support code for a serial number and a date (`YYYY-MM-DD`): 10 digits.
pub fn support_code(secret: &[u8; 32], serial: &str, date: &str) -> String {
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(b"vigil-recovery/v1/support");
    mac.update(&(serial.len() as u32).to_be_bytes());
    mac.update(serial.as_bytes());
    mac.update(date.as_bytes());
    format!(
        "{:010}",
        truncate(&mac.finalize().into_bytes(), 10_000_000_000)
    )
}

/// RFC 4226-style dynamic truncation to a number below `modulus`.
fn truncate(digest: &[u8], modulus: u64) -> u64 {
    let offset = usize::from(digest[digest.len() - 1] & 0x0f);
    let mut value = 0u64;
    for byte in &digest[offset..offset + 8] {
        value = (value << 8) | u64::from(*byte);
    }
    (value & 0x7fff_ffff_ffff_ffff) % modulus
}

/// The QR payload for the phone app: device id, challenge and expiry; no secret.
pub fn qr_payload(serial: &str, nonce_b64: &str, expires: SystemTime) -> String {
    let query: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("d", serial)
        .append_pair("c", nonce_b64)
        .append_pair("e", &unix_secs(expires).to_string())
        .finish();
    format!("vigil-recovery:v1?{query}")
}

/// A parsed QR payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QrPayload {
    /// Device id (serial number).
    pub device: String,
    /// Challenge nonce.
    pub nonce: [u8; 16],
    /// Expiry, seconds since the epoch.
    pub expires_unix: i64,
}

/// Reads a QR payload.
pub fn parse_qr_payload(text: &str) -> Option<QrPayload> {
    let query = text.trim().strip_prefix("vigil-recovery:v1?")?;
    let mut device = None;
    let mut nonce = None;
    let mut expires = None;
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
        match key.as_ref() {
            "d" => device = Some(value.into_owned()),
            "c" => {
                nonce = B64URL
                    .decode(value.as_bytes())
                    .ok()
                    .and_then(|n| n.try_into().ok())
            }
            "e" => expires = value.parse().ok(),
            _ => {}
        }
    }
    Some(QrPayload {
        device: device.filter(|d| !d.is_empty())?,
        nonce: nonce?,
        expires_unix: expires?,
    })
}
