//! The recorder's own device secret for the QR and support-code paths of password recovery: 256 bits
//! written at manufacturing and shared only with the vendor, read from a file of 64 hex digits. The
//! recorder never makes one up: a secret the vendor does not hold would only produce codes nobody can
//! compute, so without the file those two paths are simply not offered.

use std::fs;
use std::io::Read;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use zeroize::Zeroizing;

/// The secret, wiped from memory when dropped.
pub struct DeviceSecret(Zeroizing<[u8; 32]>);

impl std::fmt::Debug for DeviceSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DeviceSecret(<secret>)")
    }
}

/// Why the secret could not be read. The text names the file, never its content.
#[derive(Debug, thiserror::Error)]
pub enum DeviceSecretError {
    /// There is no such file: the paths that need it are not offered.
    #[error("no device secret at {0}")]
    Missing(String),
    /// The file exists but cannot be read.
    #[error("cannot read the device secret {path}: {source}")]
    Unreadable {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The file does not hold 64 hex digits.
    #[error("the device secret {0} is not 64 hex digits")]
    Malformed(String),
    /// Anyone may read the file, so the secret cannot be trusted to be secret.
    #[error("the device secret {0} is readable by other users; it must be mode 0600 or 0640")]
    Exposed(String),
}

impl DeviceSecret {
    /// Reads the secret from `path` (64 hex digits, surrounding whitespace allowed), refusing a file
    /// other users may read and never following a symbolic link.
    pub fn read(path: &Path) -> Result<Self, DeviceSecretError> {
        let name = path.display().to_string();
        let mut file = match fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(path)
        {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(DeviceSecretError::Missing(name));
            }
            Err(source) => return Err(DeviceSecretError::Unreadable { path: name, source }),
        };
        let unreadable = |source| DeviceSecretError::Unreadable {
            path: path.display().to_string(),
            source,
        };
        let mode = file.metadata().map_err(unreadable)?.permissions().mode();
        if mode & 0o007 != 0 {
            return Err(DeviceSecretError::Exposed(name));
        }
        let mut text = Zeroizing::new(String::new());
        file.by_ref()
            .take(256)
            .read_to_string(&mut text)
            .map_err(unreadable)?;
        Self::from_hex(text.trim()).ok_or(DeviceSecretError::Malformed(name))
    }

    /// The secret from 64 hex digits.
    pub fn from_hex(hex: &str) -> Option<Self> {
        if hex.len() != 64 || !hex.is_ascii() {
            return None;
        }
        let mut bytes = Zeroizing::new([0u8; 32]);
        for (index, byte) in bytes.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&hex[2 * index..2 * index + 2], 16).ok()?;
        }
        Some(Self(bytes))
    }

    /// A fresh random secret, as 64 hex digits: what a factory (or the demo) writes.
    pub fn generate_hex() -> Zeroizing<String> {
        let bytes = Zeroizing::new(rand::random::<[u8; 32]>());
        Zeroizing::new(bytes.iter().map(|b| format!("{b:02x}")).collect())
    }

    /// Writes a fresh secret to `path` (mode 0600, never over an existing file).
    pub fn provision(path: &Path) -> std::io::Result<()> {
        use std::io::Write;
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)?;
        file.write_all(Self::generate_hex().as_bytes())?;
        file.write_all(b"\n")?;
        file.sync_all()
    }

    /// The raw secret, for the code derivation.
    pub fn bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_provisioned_secret_and_refuses_bad_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("device.secret");
        assert!(matches!(
            DeviceSecret::read(&path),
            Err(DeviceSecretError::Missing(_))
        ));
        DeviceSecret::provision(&path).unwrap();
        let secret = DeviceSecret::read(&path).unwrap();
        let text = fs::read_to_string(&path).unwrap();
        assert_eq!(
            DeviceSecret::from_hex(text.trim()).unwrap().bytes(),
            secret.bytes()
        );
        assert!(DeviceSecret::provision(&path).is_err(), "never overwritten");
        assert!(!format!("{secret:?}").contains(&text[..8]));

        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(
            DeviceSecret::read(&path),
            Err(DeviceSecretError::Exposed(_))
        ));
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        fs::write(&path, "not hex at all").unwrap();
        assert!(matches!(
            DeviceSecret::read(&path),
            Err(DeviceSecretError::Malformed(_))
        ));
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&path, &link).unwrap();
        assert!(matches!(
            DeviceSecret::read(&link),
            Err(DeviceSecretError::Unreadable { .. })
        ));
    }
}
