//! Dahua's envelope for sensitive RPC parameters (`DevInit.account`, `PasswdFind.*`, `system.multiSec`):
//! the camera's RSA key from `Security.getEncryptInfo`, a fresh key of ASCII digits sealed to it with
//! PKCS#1 v1.5 (`salt`, lowercase hex), and the JSON parameters under AES (`content`, base64), named by
//! `cipher`. The camera answers in the same key.
//!
//! Three variants are in public use, and a camera names what it takes in `cipher` and `AESPadding`:
//! - `RPAC-256`: a 32-digit key, AES-256-CBC, the IV sixteen ASCII zeros, zero padding;
//! - `AES-128`: a 16-digit key, AES-128-ECB, zero padding (no pad when already aligned);
//! - `AES-128-ECB`: a 16-byte key, AES-128-ECB, PKCS#7 padding.
//!
//! The recorder sends `RPAC-256` when offered, else `AES-128` when zero padding is offered, else
//! `AES-128-ECB`. Opening takes either padding off. docs/vendors.md names the sources.

use aes::cipher::block_padding::{NoPadding, Pkcs7, ZeroPadding};
use aes::cipher::{BlockModeDecrypt, BlockModeEncrypt, KeyInit, KeyIvInit};
use aes::{Aes128, Aes256};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use rsa::traits::PublicKeyParts;
use rsa::{BoxedUint, Pkcs1v15Encrypt, PrivateKey, PublicKey};
use serde_json::{Value, json};
use zeroize::Zeroizing;

use crate::camera::{CameraError, clean_camera_text, hex};

/// The IV of `RPAC-256`: sixteen ASCII zeros.
const RPAC_IV: [u8; 16] = *b"0000000000000000";

/// The longest RSA modulus taken from a camera, in bits.
const MAX_MODULUS_BITS: usize = 4096;

/// One envelope variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnvelopeCipher {
    /// AES-256-CBC, IV of ASCII zeros, zero padding, a 32-digit key.
    Rpac256,
    /// AES-128-ECB, zero padding, a 16-digit key.
    Aes128,
    /// AES-128-ECB, PKCS#7 padding, a 16-byte key.
    Aes128Ecb,
}

impl EnvelopeCipher {
    /// Its name in `cipher`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Rpac256 => "RPAC-256",
            Self::Aes128 => "AES-128",
            Self::Aes128Ecb => "AES-128-ECB",
        }
    }

    /// The variant a `cipher` field names.
    pub fn from_name(name: &str) -> Option<Self> {
        match name.trim() {
            "RPAC-256" => Some(Self::Rpac256),
            "AES-128" => Some(Self::Aes128),
            "AES-128-ECB" => Some(Self::Aes128Ecb),
            _ => None,
        }
    }

    fn key_len(self) -> usize {
        match self {
            Self::Rpac256 => 32,
            Self::Aes128 | Self::Aes128Ecb => 16,
        }
    }
}

/// One envelope's AES key, kept to open the camera's answer.
pub struct EnvelopeKey {
    cipher: EnvelopeCipher,
    key: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for EnvelopeKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnvelopeKey")
            .field("cipher", &self.cipher)
            .finish_non_exhaustive()
    }
}

impl EnvelopeKey {
    /// A fresh key of random ASCII digits for `cipher`.
    pub fn fresh(cipher: EnvelopeCipher) -> Self {
        let key = (0..cipher.key_len())
            .map(|_| b'0' + rand::random_range(0..10u8))
            .collect();
        Self {
            cipher,
            key: Zeroizing::new(key),
        }
    }

    /// The variant.
    pub fn cipher(&self) -> EnvelopeCipher {
        self.cipher
    }

    /// `plain` under this key.
    pub fn encrypt(&self, plain: &[u8]) -> Vec<u8> {
        match self.cipher {
            EnvelopeCipher::Rpac256 => {
                cbc::Encryptor::<Aes256>::new_from_slices(&self.key, &RPAC_IV)
                    .map(|c| c.encrypt_padded_vec::<ZeroPadding>(plain))
                    .unwrap_or_default()
            }
            EnvelopeCipher::Aes128 => ecb::Encryptor::<Aes128>::new_from_slice(&self.key)
                .map(|c| c.encrypt_padded_vec::<ZeroPadding>(plain))
                .unwrap_or_default(),
            EnvelopeCipher::Aes128Ecb => ecb::Encryptor::<Aes128>::new_from_slice(&self.key)
                .map(|c| c.encrypt_padded_vec::<Pkcs7>(plain))
                .unwrap_or_default(),
        }
    }

    /// The plaintext of `sealed`, with PKCS#7 or zero padding taken off; `None` when it is not whole
    /// blocks.
    pub fn decrypt(&self, sealed: &[u8]) -> Option<Vec<u8>> {
        let mut plain = match self.cipher {
            EnvelopeCipher::Rpac256 => {
                cbc::Decryptor::<Aes256>::new_from_slices(&self.key, &RPAC_IV)
                    .ok()?
                    .decrypt_padded_vec::<NoPadding>(sealed)
                    .ok()?
            }
            EnvelopeCipher::Aes128 | EnvelopeCipher::Aes128Ecb => {
                ecb::Decryptor::<Aes128>::new_from_slice(&self.key)
                    .ok()?
                    .decrypt_padded_vec::<NoPadding>(sealed)
                    .ok()?
            }
        };
        crate::camera::padding::take_off_pkcs7_or_zeros(&mut plain);
        Some(plain)
    }

    /// The camera's sealed answer (`content`, base64) opened as JSON.
    pub fn open_json(&self, content: &str) -> Result<Value, CameraError> {
        let bad = |what: &str| CameraError::BadReply(format!("the encrypted answer {what}"));
        let sealed = BASE64
            .decode(content.trim())
            .map_err(|_| bad("is not base64"))?;
        let plain = self
            .decrypt(&sealed)
            .ok_or_else(|| bad("is not whole AES blocks"))?;
        serde_json::from_slice(&plain).map_err(|_| bad("does not open to JSON"))
    }
}

/// What `Security.getEncryptInfo` said: the camera's key and the variants it takes.
#[derive(Debug, Clone)]
pub struct EncryptInfo {
    public: PublicKey,
    ciphers: Vec<String>,
    paddings: Vec<String>,
}

fn strings(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .take(16)
            .map(|s| clean_camera_text(s).to_ascii_uppercase())
            .collect(),
        Some(Value::String(s)) => vec![clean_camera_text(s).to_ascii_uppercase()],
        _ => Vec::new(),
    }
}

impl EncryptInfo {
    /// Reads the reply's `params`: `pub` as `N:<hex>,E:<hex>`, `cipher`, `AESPadding`.
    pub fn read(params: &Value) -> Result<Self, CameraError> {
        let bad = |what: &str| CameraError::BadReply(format!("the camera's encryption key {what}"));
        if let Some(asymmetric) = params.get("asymmetric").and_then(Value::as_str)
            && !asymmetric.eq_ignore_ascii_case("RSA")
        {
            return Err(CameraError::NotOffered(format!(
                "an encryption the recorder can use (it offers '{}')",
                clean_camera_text(asymmetric)
            )));
        }
        let field = params
            .get("pub")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("is missing"))?;
        let mut n = None;
        let mut e = None;
        for part in field.split(',') {
            match part.trim().split_once(':') {
                Some(("N", hex)) => n = decode_hex(hex.trim()),
                Some(("E", hex)) => e = decode_hex(hex.trim()),
                _ => {}
            }
        }
        let (n, e) = n.zip(e).ok_or_else(|| bad("is not N:…,E:… in hex"))?;
        let bits = n.len() * 8;
        if !(512..=MAX_MODULUS_BITS).contains(&bits) || e.len() > 8 {
            return Err(bad("has a size the recorder does not take"));
        }
        let bits = u32::try_from(bits).map_err(|_| bad("is too long"))?;
        let n = BoxedUint::from_be_slice(&n, bits).map_err(|_| bad("is not a number"))?;
        let e = BoxedUint::from_be_slice(&e, 64).map_err(|_| bad("is not a number"))?;
        let public = PublicKey::new(n, e).map_err(|_| bad("is not an RSA key"))?;
        Ok(Self {
            public,
            ciphers: strings(params.get("cipher")),
            paddings: strings(params.get("AESPadding")),
        })
    }

    /// The variant the recorder sends, from what the camera offers.
    pub fn cipher(&self) -> Result<EnvelopeCipher, CameraError> {
        let offers = |name: &str| self.ciphers.iter().any(|c| c == name);
        let zero = self.paddings.is_empty() || self.paddings.iter().any(|p| p == "ZERO");
        if offers("RPAC") || offers("RPAC-256") {
            Ok(EnvelopeCipher::Rpac256)
        } else if offers("AES") && zero {
            Ok(EnvelopeCipher::Aes128)
        } else if offers("AES") {
            Ok(EnvelopeCipher::Aes128Ecb)
        } else {
            Err(CameraError::NotOffered(format!(
                "an envelope the recorder can use (it offers {})",
                if self.ciphers.is_empty() {
                    "none".to_owned()
                } else {
                    self.ciphers.join(", ")
                }
            )))
        }
    }

    /// `plain` sealed for the camera: the `{salt, cipher, content}` parameters, and the key to open
    /// its answer.
    pub fn seal(&self, plain: &Value) -> Result<(Value, EnvelopeKey), CameraError> {
        let key = EnvelopeKey::fresh(self.cipher()?);
        let salt = self
            .public
            .encrypt(&mut rand::rng(), Pkcs1v15Encrypt, &key.key)
            .map_err(|_| CameraError::BadReply("the camera's key is too short".into()))?;
        let content = BASE64.encode(key.encrypt(plain.to_string().as_bytes()));
        Ok((
            json!({ "salt": hex::lower(&salt), "cipher": key.cipher.name(), "content": content }),
            key,
        ))
    }
}

/// The camera's side, for the simulator: its key as `getEncryptInfo` gives it.
pub fn public_field(public: &PublicKey) -> String {
    format!(
        "N:{},E:{}",
        hex::upper(&public.n_bytes()),
        hex::upper(&public.e_bytes())
    )
}

/// The camera's side, for the simulator: opens an envelope sent to `private` into its JSON and the
/// key to answer in. `None` for anything that does not open.
pub fn open_envelope(private: &PrivateKey, params: &Value) -> Option<(Value, EnvelopeKey)> {
    let cipher = EnvelopeCipher::from_name(params.get("cipher")?.as_str()?)?;
    let salt = decode_hex(params.get("salt")?.as_str()?)?;
    let key = Zeroizing::new(private.decrypt(Pkcs1v15Encrypt, &salt).ok()?);
    if key.len() != cipher.key_len() {
        return None;
    }
    let key = EnvelopeKey { cipher, key };
    let content = params.get("content")?.as_str()?;
    let value = key.open_json(content).ok()?;
    Some((value, key))
}

/// `value` sealed in `key`, base64: the camera's encrypted answer.
pub fn seal_answer(key: &EnvelopeKey, value: &Value) -> String {
    BASE64.encode(key.encrypt(value.to_string().as_bytes()))
}

/// Hex within the longest key taken.
fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if text.len() > MAX_MODULUS_BITS / 2 {
        return None;
    }
    hex::decode(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(cipher: EnvelopeCipher, digits: &[u8]) -> EnvelopeKey {
        EnvelopeKey {
            cipher,
            key: Zeroizing::new(digits.to_vec()),
        }
    }

    #[test]
    fn a_72_byte_payload_pads_to_80_bytes_and_108_base64_characters() {
        // The published figure for DevInit.account's content: 72 bytes of JSON, 80 sealed, 108 in
        // base64. It holds for every variant (zero padding and PKCS#7 both fill the last block).
        let payload =
            br#"{"name":"admin","pwd":"Brisk-Otter-47","CellPhone":"","Mail":"a@b.example"}"#;
        let payload = &payload[..72];
        for cipher in [
            EnvelopeCipher::Rpac256,
            EnvelopeCipher::Aes128,
            EnvelopeCipher::Aes128Ecb,
        ] {
            let sealed = EnvelopeKey::fresh(cipher).encrypt(payload);
            assert_eq!(sealed.len(), 80, "{cipher:?}");
            assert_eq!(BASE64.encode(&sealed).len(), 108, "{cipher:?}");
        }
    }

    #[test]
    fn zero_padding_adds_nothing_to_whole_blocks_and_pkcs7_adds_a_block() {
        let aligned = [b'x'; 64];
        let digits = b"0123456789012345";
        assert_eq!(
            key(EnvelopeCipher::Aes128, digits).encrypt(&aligned).len(),
            64
        );
        assert_eq!(
            key(EnvelopeCipher::Aes128Ecb, digits)
                .encrypt(&aligned)
                .len(),
            80
        );
    }

    #[test]
    fn each_variant_opens_what_it_seals() {
        let plain = br#"{"authCode":"12345678"}"#;
        for cipher in [
            EnvelopeCipher::Rpac256,
            EnvelopeCipher::Aes128,
            EnvelopeCipher::Aes128Ecb,
        ] {
            let k = EnvelopeKey::fresh(cipher);
            assert_eq!(k.decrypt(&k.encrypt(plain)).as_deref(), Some(&plain[..]));
            assert!(k.key.iter().all(u8::is_ascii_digit));
        }
    }

    #[test]
    fn rpac_256_is_aes_256_cbc_with_an_iv_of_ascii_zeros() {
        // Checked by decrypting block by block with the plain AES-256 block cipher.
        use aes::cipher::BlockCipherDecrypt;
        let digits = b"01234567890123456789012345678901";
        let sealed = key(EnvelopeCipher::Rpac256, digits).encrypt(b"{\"a\":1}");
        assert_eq!(sealed.len(), 16);
        let cipher = Aes256::new_from_slice(digits).expect("32-byte key");
        let mut block = aes::Block::try_from(&sealed[..16]).expect("one block");
        cipher.decrypt_block(&mut block);
        let plain: Vec<u8> = block.iter().zip(RPAC_IV).map(|(b, iv)| b ^ iv).collect();
        assert_eq!(&plain[..7], b"{\"a\":1}");
        assert!(plain[7..].iter().all(|b| *b == 0));
    }

    #[test]
    fn the_variant_follows_what_the_camera_offers() {
        let private = PrivateKey::new(&mut rand::rng(), 1024).expect("key");
        let pubf = public_field(&private.to_public_key());
        let info = |cipher: Value, padding: Value| {
            EncryptInfo::read(
                &json!({"asymmetric":"RSA","pub":pubf,"cipher":cipher,"AESPadding":padding}),
            )
            .expect("read")
            .cipher()
        };
        assert_eq!(
            info(json!(["AES", "RPAC"]), json!(["ZERO", "PKCS7"])),
            Ok(EnvelopeCipher::Rpac256)
        );
        assert_eq!(
            info(json!(["AES", "ROAE"]), json!(["ZERO", "PKCS7"])),
            Ok(EnvelopeCipher::Aes128)
        );
        assert_eq!(
            info(json!(["AES"]), json!(["PKCS7"])),
            Ok(EnvelopeCipher::Aes128Ecb)
        );
        assert!(matches!(
            info(json!(["SM4"]), json!([])),
            Err(CameraError::NotOffered(_))
        ));
        // And the camera opens what the recorder sealed, in every variant.
        for cipher in [json!(["RPAC"]), json!(["AES"])] {
            let info = EncryptInfo::read(&json!({"pub":pubf,"cipher":cipher})).expect("read");
            let (params, key) = info.seal(&json!({"name":"admin"})).expect("seal");
            let (opened, camera_key) = open_envelope(&private, &params).expect("opens");
            assert_eq!(opened, json!({"name":"admin"}));
            let answer = seal_answer(&camera_key, &json!({"ok":true}));
            assert_eq!(key.open_json(&answer).expect("answer"), json!({"ok":true}));
        }
    }

    #[test]
    fn bad_keys_are_refused_by_name() {
        for params in [
            json!({}),
            json!({"pub":"N:zz,E:010001"}),
            json!({"pub":"N:00,E:010001"}),
            json!({"pub":"E:010001"}),
            json!({"pub": format!("N:{},E:010001", "ab".repeat(1024))}),
        ] {
            assert!(
                matches!(EncryptInfo::read(&params), Err(CameraError::BadReply(_))),
                "{params}"
            );
        }
        assert!(matches!(
            EncryptInfo::read(&json!({"asymmetric":"SM2","pub":"N:00,E:01"})),
            Err(CameraError::NotOffered(_))
        ));
    }
}
