//! Activating a Hikvision camera over ISAPI without a login, and the envelopes its password travels in.
//!
//! - **Legacy** (`supportVersion` below 3 or absent): the recorder makes an RSA-1024 key and posts its
//!   modulus (`POST /ISAPI/Security/challenge`, base64 of the lowercase hex); the camera answers with a
//!   random string R (32 hex characters) encrypted to that key with PKCS#1 v1.5 (base64 of hex); the
//!   password goes in `PUT /ISAPI/System/activate` as base64 of the hex of AES-128 under the key
//!   hex-decoded from R, over R's first 16 characters followed by the password.
//!   **The choice, made explicit:** ECB with zero padding. Hikvision's guide says "AES128 CBC" but gives
//!   no IV; every public implementation (the device's own web client included) uses ECB, and pads with
//!   zeros. The guide's worked example (R starting "aaaabbbbccccdddd", password "Abc12345", plaintext
//!   "aaaabbbbccccddddAbc12345") and a published vector are the tests below; docs/vendors.md has the
//!   sources.
//! - **V3** (`supportVersion` 3 and up): the same exchange as JSON with an RSA-3072 key
//!   (`/ISAPI/System/activate/GetChallengeV3`, `StartActivateV3`), AES-128-CBC with a random IV and
//!   PKCS#7 padding, the IV sent in hex beside the password.

use aes::Aes128;
use aes::cipher::{BlockModeDecrypt, BlockModeEncrypt, KeyInit, KeyIvInit};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use rsa::traits::PublicKeyParts;
use rsa::{BoxedUint, Pkcs1v15Encrypt, PrivateKey, PublicKey};
use secrecy::{ExposeSecret, SecretString};

use crate::camera::CameraError;
use crate::camera::hex::{decode as decode_hex, lower as hex_lower};
use crate::camera::hikvision::isapi::{IsapiSession, xml_escape};

/// The RSA key size of the legacy exchange.
pub const LEGACY_KEY_BITS: usize = 1024;
/// The RSA key size of the V3 exchange.
pub const V3_KEY_BITS: usize = 3072;
/// Characters of R that go before the password.
const PREFIX_CHARS: usize = 16;

type EcbEncryptor = ecb::Encryptor<Aes128>;
type EcbDecryptor = ecb::Decryptor<Aes128>;
type CbcEncryptor = cbc::Encryptor<Aes128>;
type CbcDecryptor = cbc::Decryptor<Aes128>;
use aes::cipher::block_padding::{Pkcs7, ZeroPadding};

/// Which activation exchange a camera speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exchange {
    /// `/ISAPI/Security/challenge` and `/ISAPI/System/activate`.
    Legacy,
    /// `GetChallengeV3` and `StartActivateV3`.
    V3,
}

impl Exchange {
    /// The exchange for a camera's `supportVersion` (absent: legacy).
    pub fn for_support_version(version: Option<u32>) -> Self {
        match version {
            Some(v) if v >= 3 => Exchange::V3,
            _ => Exchange::Legacy,
        }
    }

    /// The RSA key size it uses.
    pub fn key_bits(self) -> usize {
        match self {
            Exchange::Legacy => LEGACY_KEY_BITS,
            Exchange::V3 => V3_KEY_BITS,
        }
    }
}

/// The recorder's side of one exchange: a fresh RSA key.
pub struct ActivationKey {
    private: PrivateKey,
}

impl ActivationKey {
    /// A fresh key for `exchange`.
    pub fn new(exchange: Exchange) -> Result<Self, CameraError> {
        let private = PrivateKey::new(&mut rand::rng(), exchange.key_bits())
            .map_err(|e| CameraError::BadReply(format!("no RSA key could be made: {e}")))?;
        Ok(Self { private })
    }

    /// The public key as the camera takes it: base64 of the modulus in lowercase hex.
    pub fn public_field(&self) -> String {
        BASE64.encode(hex_lower(&self.private.to_public_key().n_bytes()))
    }

    /// Reads the camera's challenge field (base64 of the hex of the encrypted R) into R.
    pub fn open_challenge(&self, field: &str) -> Result<String, CameraError> {
        let bad = |what: &str| CameraError::BadReply(format!("the activation challenge {what}"));
        let hex = BASE64
            .decode(field.trim())
            .map_err(|_| bad("is not base64"))?;
        let sealed = decode_hex(std::str::from_utf8(&hex).map_err(|_| bad("is not hex"))?)
            .ok_or_else(|| bad("is not hex"))?;
        let opened = self
            .private
            .decrypt(Pkcs1v15Encrypt, &sealed)
            .map_err(|_| bad("does not open with the key sent"))?;
        let text = String::from_utf8(opened).map_err(|_| bad("is not text"))?;
        // R is 32 hex characters; some firmware sends more, of which the last 32 count.
        let random: String = text
            .chars()
            .skip(text.chars().count().saturating_sub(32))
            .collect();
        if random.len() != 32 || decode_hex(&random).is_none() {
            return Err(bad("does not hold a 32-character random string"));
        }
        Ok(random)
    }
}

/// `R[..16]` followed by the password: what is encrypted.
pub fn activation_plaintext(random: &str, password: &str) -> String {
    let prefix: String = random.chars().take(PREFIX_CHARS).collect();
    format!("{prefix}{password}")
}

fn aes_key(random: &str) -> Result<[u8; 16], CameraError> {
    decode_hex(random)
        .and_then(|bytes| <[u8; 16]>::try_from(bytes.as_slice()).ok())
        .ok_or_else(|| CameraError::BadReply("the activation random string is not 32 hex".into()))
}

/// The legacy password field: base64 of the hex of AES-128-ECB, zero-padded.
pub fn legacy_password_field(random: &str, password: &str) -> Result<String, CameraError> {
    let key = aes_key(random)?;
    let sealed = EcbEncryptor::new(&key.into())
        .encrypt_padded_vec::<ZeroPadding>(activation_plaintext(random, password).as_bytes());
    Ok(BASE64.encode(hex_lower(&sealed)))
}

/// The V3 password field and its IV field: base64 of the hex of AES-128-CBC, PKCS#7-padded; the IV
/// in hex.
pub fn v3_password_field(
    random: &str,
    password: &str,
    iv: [u8; 16],
) -> Result<(String, String), CameraError> {
    let key = aes_key(random)?;
    let sealed = CbcEncryptor::new(&key.into(), &iv.into())
        .encrypt_padded_vec::<Pkcs7>(activation_plaintext(random, password).as_bytes());
    Ok((BASE64.encode(hex_lower(&sealed)), hex_lower(&iv)))
}

/// The camera's side, for the simulator: encrypts R to the key the recorder sent.
pub fn seal_challenge(public_field: &str, random: &str) -> Option<String> {
    let hex = BASE64.decode(public_field.trim()).ok()?;
    let modulus = decode_hex(std::str::from_utf8(&hex).ok()?)?;
    let bits = u32::try_from(modulus.len() * 8).ok()?;
    let n = BoxedUint::from_be_slice(&modulus, bits).ok()?;
    let key = PublicKey::new(n, BoxedUint::from(65_537u32)).ok()?;
    let sealed = key
        .encrypt(&mut rand::rng(), Pkcs1v15Encrypt, random.as_bytes())
        .ok()?;
    Some(BASE64.encode(hex_lower(&sealed)))
}

/// The camera's side, for the simulator: the password from a password field, if it is sealed under
/// R and starts with R's prefix. Zero padding and PKCS#7 are both taken for the legacy exchange.
pub fn open_password_field(random: &str, field: &str, iv_hex: Option<&str>) -> Option<String> {
    let key = aes_key(random).ok()?;
    let hex = BASE64.decode(field.trim()).ok()?;
    let sealed = decode_hex(std::str::from_utf8(&hex).ok()?)?;
    let plain = match iv_hex {
        Some(iv) => {
            let iv = <[u8; 16]>::try_from(decode_hex(iv)?.as_slice()).ok()?;
            CbcDecryptor::new(&key.into(), &iv.into())
                .decrypt_padded_vec::<Pkcs7>(&sealed)
                .ok()?
        }
        None => {
            let mut plain = EcbDecryptor::new(&key.into())
                .decrypt_padded_vec::<ZeroPadding>(&sealed)
                .ok()?;
            // A client that padded with PKCS#7 left its pad bytes: take them off too.
            crate::camera::padding::take_off_pkcs7(&mut plain);
            plain
        }
    };
    let text = String::from_utf8(plain).ok()?;
    let prefix: String = random.chars().take(PREFIX_CHARS).collect();
    text.strip_prefix(&prefix).map(str::to_owned)
}

/// Activates the camera with `password` through the exchange its `supportVersion` names. Nothing is
/// sent in clear; the camera's refusal (a weak password, already activated) comes back in its words.
pub async fn activate(session: &IsapiSession, password: &SecretString) -> Result<(), CameraError> {
    let status = session
        .call("GET", "/SDK/activateStatus", None)
        .await?
        .ok_or_else(|| CameraError::BadReply("activateStatus answered with nothing".into()))?;
    if status.child("Activated").map(|n| n.text().trim()) == Some("true") {
        return Err(CameraError::Refused {
            subcode: Some("hasActivated".to_owned()),
            reason: "the camera is already activated".to_owned(),
        });
    }
    let version = status
        .child("supportVersion")
        .and_then(|n| n.text().trim().parse::<u32>().ok());
    let exchange = Exchange::for_support_version(version);
    // RSA key generation is seconds of CPU for a 3072-bit key: off the runtime's threads.
    let key = tokio::task::spawn_blocking(move || ActivationKey::new(exchange))
        .await
        .map_err(|_| CameraError::BadReply("no RSA key could be made".into()))??;
    match exchange {
        Exchange::Legacy => {
            let body = format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?><PublicKey><key>{}</key></PublicKey>",
                key.public_field()
            );
            let reply = session
                .call("POST", "/ISAPI/Security/challenge", Some(&body))
                .await?
                .ok_or_else(|| {
                    CameraError::BadReply("the challenge answered with nothing".into())
                })?;
            let random = key.open_challenge(reply.child("key").map(|n| n.text()).unwrap_or(""))?;
            let field = legacy_password_field(&random, password.expose_secret())?;
            let body = format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?><ActivateInfo><password>{}</password></ActivateInfo>",
                xml_escape(&field)
            );
            session
                .call("PUT", "/ISAPI/System/activate", Some(&body))
                .await
                .map(|_| ())
        }
        Exchange::V3 => {
            let body = serde_json::json!({ "publicKey": key.public_field() }).to_string();
            let reply = session
                .call_json(
                    "POST",
                    "/ISAPI/System/activate/GetChallengeV3?format=json",
                    &body,
                )
                .await?;
            let challenge = reply
                .get("challenge")
                .and_then(|c| c.as_str())
                .ok_or_else(|| {
                    CameraError::BadReply("GetChallengeV3 carried no challenge".into())
                })?;
            let random = key.open_challenge(challenge)?;
            let (field, iv) = v3_password_field(&random, password.expose_secret(), rand::random())?;
            let body = serde_json::json!({ "password": field, "iv": iv }).to_string();
            session
                .call_json(
                    "POST",
                    "/ISAPI/System/activate/StartActivateV3?format=json",
                    &body,
                )
                .await
                .map(|_| ())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_guides_worked_example_puts_r_prefix_before_the_password() {
        // Hikvision's guide: random string "aaaabbbbccccdddd…" and password "Abc12345" give the
        // plaintext "aaaabbbbccccddddAbc12345".
        assert_eq!(
            activation_plaintext("aaaabbbbccccddddeeeeffff00001111", "Abc12345"),
            "aaaabbbbccccddddAbc12345"
        );
    }

    #[test]
    fn the_published_legacy_vector_is_reproduced_with_ecb_and_zero_padding() {
        // A published test vector for the legacy exchange (docs/vendors.md names it).
        assert_eq!(
            legacy_password_field("c8059b41126bd480f684b6a46d48804c", "qwer1234").unwrap(),
            "NDk5M2NhMWZiNTdmNDViNzY1NDlkOTVkMTI4YjBkODhmY2U5M2QwZTcxMzdhYmJlZWM1YzU2ZmE3YTczNDQ1Nw=="
        );
        assert_eq!(
            open_password_field(
                "c8059b41126bd480f684b6a46d48804c",
                "NDk5M2NhMWZiNTdmNDViNzY1NDlkOTVkMTI4YjBkODhmY2U5M2QwZTcxMzdhYmJlZWM1YzU2ZmE3YTczNDQ1Nw==",
                None
            )
            .as_deref(),
            Some("qwer1234")
        );
        // Under another R the field does not open to the password.
        assert_ne!(
            open_password_field(
                "00000000000000000000000000000000",
                "NDk5M2NhMWZiNTdmNDViNzY1NDlkOTVkMTI4YjBkODhmY2U5M2QwZTcxMzdhYmJlZWM1YzU2ZmE3YTczNDQ1Nw==",
                None
            )
            .as_deref(),
            Some("qwer1234")
        );
    }

    #[test]
    fn a_legacy_challenge_round_trips_through_rsa_1024() {
        let key = ActivationKey::new(Exchange::Legacy).unwrap();
        let field = key.public_field();
        // 1024 bits: 256 hex characters, base64.
        assert_eq!(BASE64.decode(&field).unwrap().len(), 256);
        let random = "1ad021adbbecb495fa4794e12f0ac63c";
        let sealed = seal_challenge(&field, random).unwrap();
        assert_eq!(key.open_challenge(&sealed).unwrap(), random);
        assert!(key.open_challenge("bm90IGhleA==").is_err());
        assert!(key.open_challenge("%%%").is_err());
    }

    #[test]
    fn v3_uses_cbc_with_its_iv() {
        let random = "c8059b41126bd480f684b6a46d48804c";
        let (field, iv) = v3_password_field(random, "Brisk-Otter-47", [7u8; 16]).unwrap();
        assert_eq!(iv, "07".repeat(16));
        assert_eq!(
            open_password_field(random, &field, Some(&iv)).as_deref(),
            Some("Brisk-Otter-47")
        );
        // The same password under ECB is another field.
        assert_ne!(
            field,
            legacy_password_field(random, "Brisk-Otter-47").unwrap()
        );
    }
}
