//! Sealing of stored secrets (camera passwords, recovery tokens): XChaCha20-Poly1305 under a 256-bit
//! key kept in its own file (mode 0600) in the state directory, created on first run. A sealed value is
//! bound to a context (what it is and whose), so swapping ciphertexts between rows or purposes does not
//! decrypt. The audit log's chain is keyed by a second key derived from the same file (HMAC-SHA256 with
//! a fixed label), so whoever can write the database but not read the key cannot rewrite the log.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;
use zeroize::Zeroizing;

/// The key file's name in the state directory.
pub const KEY_FILE: &str = "credentials.key";
const KEY_LEN: usize = 32;
const NONCE_LEN: usize = 24;
/// First byte of every sealed value: the format version.
const FORMAT_V1: u8 = 1;
/// What the audit chain's key is derived for; a new label gives an unrelated key.
const AUDIT_KEY_LABEL: &[u8] = b"vigil/audit-chain-key/v1";

/// The keyed hash of the audit chain.
pub type AuditMac = Hmac<Sha256>;

/// Why a key could not be loaded or a value unsealed.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// The key file could not be read or written.
    #[error("credentials key file {path}: {source}")]
    KeyFile {
        /// The path.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The key file exists but is not a key.
    #[error("credentials key file {0} is damaged (expected 32 bytes)")]
    BadKey(String),
    /// A sealed value does not open under this key: the key changed or the value was tampered with.
    #[error("a stored password cannot be decrypted with this NVR's key")]
    Unseal,
}

/// Seals and unseals stored secrets, and keys the audit chain.
pub struct Sealer {
    cipher: XChaCha20Poly1305,
    /// HMAC-SHA256(key file, [`AUDIT_KEY_LABEL`]): the audit chain's key, never the sealing key itself.
    audit_key: Zeroizing<[u8; 32]>,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(<key>)")
    }
}

impl Sealer {
    /// Loads the key from `dir`, creating it on first run.
    pub fn load_or_create(dir: &Path) -> Result<Self, SecretError> {
        Self::load(dir, false)
    }

    /// Loads the key from `dir` and touches nothing: a missing key file is an error, never replaced,
    /// and a key file readable by others is left as it is. For looking at a state directory without
    /// changing it.
    pub fn load_existing(dir: &Path) -> Result<Self, SecretError> {
        Self::load(dir, true)
    }

    fn load(dir: &Path, read_only: bool) -> Result<Self, SecretError> {
        let path = dir.join(KEY_FILE);
        let key_error = |source| SecretError::KeyFile {
            path: path.display().to_string(),
            source,
        };
        let key = match File::open(&path) {
            Ok(mut file) => {
                let mode = file.metadata().map_err(key_error)?.permissions().mode();
                if mode & 0o077 != 0 && !read_only {
                    tracing::warn!(path = %path.display(), "credentials key file was readable by others; fixing to 0600");
                    fs::set_permissions(&path, fs::Permissions::from_mode(0o600))
                        .map_err(key_error)?;
                }
                let mut key = Zeroizing::new(Vec::with_capacity(KEY_LEN));
                file.read_to_end(&mut key).map_err(key_error)?;
                if key.len() != KEY_LEN {
                    return Err(SecretError::BadKey(path.display().to_string()));
                }
                key
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !read_only => {
                create_key(dir, &path).map_err(key_error)?
            }
            Err(e) => return Err(key_error(e)),
        };
        let bad_key = || SecretError::BadKey(path.display().to_string());
        let cipher = XChaCha20Poly1305::new_from_slice(&key).map_err(|_| bad_key())?;
        let mut derive =
            <AuditMac as hmac::KeyInit>::new_from_slice(&key).map_err(|_| bad_key())?;
        derive.update(AUDIT_KEY_LABEL);
        let audit_key = Zeroizing::new(derive.finalize().into_bytes().into());
        Ok(Self { cipher, audit_key })
    }

    /// A fresh HMAC-SHA256 under the audit chain's key.
    pub fn audit_mac(&self) -> AuditMac {
        // HMAC takes a key of any length, so this cannot fail; the fallback is never taken.
        <AuditMac as hmac::KeyInit>::new_from_slice(&self.audit_key[..])
            .unwrap_or_else(|_| <AuditMac as hmac::KeyInit>::new(&Default::default()))
    }

    /// Seals `secret` for `context`, such as [`camera_password`]'s.
    pub fn seal(&self, context: &str, secret: &SecretString) -> Vec<u8> {
        let nonce_bytes: [u8; NONCE_LEN] = rand::random();
        let nonce = XNonce::from(nonce_bytes);
        let aad = associated_data(context);
        // Encryption with a valid key and in-memory buffers cannot fail.
        let sealed = self
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: secret.expose_secret().as_bytes(),
                    aad: &aad,
                },
            )
            .unwrap_or_default();
        let mut out = Vec::with_capacity(1 + NONCE_LEN + sealed.len());
        out.push(FORMAT_V1);
        out.extend_from_slice(&nonce_bytes);
        out.extend_from_slice(&sealed);
        out
    }

    /// Opens a value sealed for `context`.
    pub fn unseal(&self, context: &str, sealed: &[u8]) -> Result<SecretString, SecretError> {
        if sealed.len() < 1 + NONCE_LEN || sealed[0] != FORMAT_V1 {
            return Err(SecretError::Unseal);
        }
        let nonce_bytes: [u8; NONCE_LEN] = sealed[1..=NONCE_LEN]
            .try_into()
            .map_err(|_| SecretError::Unseal)?;
        let nonce = XNonce::from(nonce_bytes);
        let aad = associated_data(context);
        let plain = Zeroizing::new(
            self.cipher
                .decrypt(
                    &nonce,
                    Payload {
                        msg: &sealed[1 + NONCE_LEN..],
                        aad: &aad,
                    },
                )
                .map_err(|_| SecretError::Unseal)?,
        );
        let text = std::str::from_utf8(&plain).map_err(|_| SecretError::Unseal)?;
        Ok(SecretString::from(text.to_owned()))
    }
}

fn associated_data(context: &str) -> Vec<u8> {
    let mut aad = b"vigil/".to_vec();
    aad.extend_from_slice(context.as_bytes());
    aad
}

/// The sealing context of a camera password: bound to its user name.
pub fn camera_password(username: &str) -> String {
    format!("camera-password/v1/{username}")
}

/// Writes a fresh key: to a temporary file first, then renamed into place, so a crash never leaves a
/// half-written key.
fn create_key(dir: &Path, path: &Path) -> std::io::Result<Zeroizing<Vec<u8>>> {
    let key = Zeroizing::new(rand::random::<[u8; KEY_LEN]>().to_vec());
    let temporary = dir.join(format!("{KEY_FILE}.new"));
    let _ = fs::remove_file(&temporary);
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&temporary)?;
    file.write_all(&key)?;
    file.sync_all()?;
    drop(file);
    fs::rename(&temporary, path)?;
    File::open(dir)?.sync_all()?;
    tracing::info!(path = %path.display(), "created the credentials key");
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_passwords_open_only_for_their_user_and_key() {
        let dir = tempfile::tempdir().unwrap();
        let sealer = Sealer::load_or_create(dir.path()).unwrap();
        let password = SecretString::from("Harbor-Lamp-62".to_owned());
        let sealed = sealer.seal(&camera_password("admin"), &password);
        assert!(
            !sealed.windows(14).any(|w| w == b"Harbor-Lamp-62"),
            "never in clear"
        );
        assert_eq!(
            sealer
                .unseal(&camera_password("admin"), &sealed)
                .unwrap()
                .expose_secret(),
            "Harbor-Lamp-62"
        );
        assert!(
            sealer
                .unseal(&camera_password("operator"), &sealed)
                .is_err(),
            "bound to the user name"
        );
        assert!(
            sealer.unseal("recovery-token/v1/1", &sealed).is_err(),
            "bound to its purpose"
        );
        let mut tampered = sealed.clone();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        assert!(sealer.unseal(&camera_password("admin"), &tampered).is_err());

        let again = Sealer::load_or_create(dir.path()).unwrap();
        assert_eq!(
            again
                .unseal(&camera_password("admin"), &sealed)
                .unwrap()
                .expose_secret(),
            "Harbor-Lamp-62"
        );
        let mode = fs::metadata(dir.path().join(KEY_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);

        let other = tempfile::tempdir().unwrap();
        let stranger = Sealer::load_or_create(other.path()).unwrap();
        assert!(stranger.unseal(&camera_password("admin"), &sealed).is_err());
    }

    #[test]
    fn a_damaged_key_file_is_refused_not_replaced() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(KEY_FILE), b"short").unwrap();
        assert!(matches!(
            Sealer::load_or_create(dir.path()),
            Err(SecretError::BadKey(_))
        ));
        assert_eq!(fs::read(dir.path().join(KEY_FILE)).unwrap(), b"short");
    }
}
