//! The NVR admin account's SQL: activation, the password hash, and the login lockout.

use std::time::SystemTime;

use rusqlite::{OptionalExtension, params};
use secrecy::SecretString;

use super::{StoreError, Tx};
use crate::clock::{from_unix_secs, unix_secs};

/// The TOTP columns as read: sealed secret, last step, recovery hashes.
type TotpRow = (Option<Vec<u8>>, Option<i64>, Option<String>);

/// The sealing context of the TOTP secret.
pub(super) const TOTP_SECRET: &str = "nvr/totp-secret/v1";

/// The second factor as stored: the secret (base32, opened), the last step a code was used at, and the
/// SHA-256 hashes (base64url) of the recovery codes not used yet.
pub struct StoredTotp {
    /// The secret, base32.
    pub secret_base32: SecretString,
    /// The last step whose code was used.
    pub last_step: Option<u64>,
    /// Hashes of the unused recovery codes.
    pub recovery_hashes: Vec<String>,
}

/// The sealing context of the default camera activation password.
pub(super) const DEFAULT_CAMERA_PASSWORD: &str = "nvr/default-camera-password/v1";

/// The account as stored (the hash is a PHC string: algorithm, parameters, salt and hash; no secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAccount {
    /// The user name.
    pub username: String,
    /// The argon2id hash of the password, PHC string format.
    pub password_hash: String,
    /// Where password-recovery codes go.
    pub reserved_email: String,
    /// Wrong passwords in a row since the last good login or lock.
    pub failed_logins: u32,
    /// Until when the account is locked, if it was locked.
    pub locked_until: Option<SystemTime>,
    /// Whether a TOTP second factor is on.
    pub totp_enabled: bool,
    /// When the recorder was activated.
    pub activated_at: SystemTime,
}

/// A new account at activation.
pub struct NewAccount<'a> {
    /// The user name.
    pub username: &'a str,
    /// The argon2id hash of the password.
    pub password_hash: &'a str,
    /// The reserved email.
    pub reserved_email: &'a str,
    /// A password new cameras are activated with, when the installer sets one.
    pub default_camera_password: Option<&'a SecretString>,
    /// Now.
    pub activated_at: SystemTime,
}

impl Tx<'_> {
    /// The account, when the recorder has been activated.
    pub fn nvr_account(&self) -> Result<Option<StoredAccount>, StoreError> {
        Ok(self
            .tx
            .query_row(
                "SELECT username, password_hash, reserved_email, failed_logins, locked_until,
                        totp_secret IS NOT NULL, activated_at
                 FROM nvr_account WHERE id = 1",
                [],
                |row| {
                    Ok(StoredAccount {
                        username: row.get(0)?,
                        password_hash: row.get(1)?,
                        reserved_email: row.get(2)?,
                        failed_logins: row.get(3)?,
                        locked_until: row.get::<_, Option<i64>>(4)?.map(from_unix_secs),
                        totp_enabled: row.get(5)?,
                        activated_at: from_unix_secs(row.get(6)?),
                    })
                },
            )
            .optional()?)
    }

    /// Creates the account; false (and nothing written) when the recorder is already activated.
    pub fn create_nvr_account(&self, new: &NewAccount<'_>) -> Result<bool, StoreError> {
        let sealed = new
            .default_camera_password
            .map(|password| self.sealer.seal(DEFAULT_CAMERA_PASSWORD, password));
        let inserted = self.tx.execute(
            "INSERT INTO nvr_account (id, username, password_hash, reserved_email,
                                      default_camera_password, activated_at)
             VALUES (1, ?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (id) DO NOTHING",
            params![
                new.username,
                new.password_hash,
                new.reserved_email,
                sealed,
                unix_secs(new.activated_at)
            ],
        )?;
        Ok(inserted == 1)
    }

    /// Records the login counters: wrong passwords in a row, and the lock when one was set.
    pub fn record_login_attempts(
        &self,
        failed_logins: u32,
        locked_until: Option<SystemTime>,
    ) -> Result<(), StoreError> {
        self.tx.execute(
            "UPDATE nvr_account SET failed_logins = ?1, locked_until = ?2 WHERE id = 1",
            params![failed_logins, locked_until.map(unix_secs)],
        )?;
        Ok(())
    }

    /// Replaces the password hash and lifts any lockout (a password reset by recovery).
    pub fn set_nvr_password_hash(&self, password_hash: &str) -> Result<(), StoreError> {
        self.tx.execute(
            "UPDATE nvr_account SET password_hash = ?1, failed_logins = 0, locked_until = NULL
             WHERE id = 1",
            params![password_hash],
        )?;
        Ok(())
    }

    /// The default camera activation password, when one is set and still opens.
    pub fn default_camera_password(&self) -> Result<Option<SecretString>, StoreError> {
        let sealed: Option<Vec<u8>> = self
            .tx
            .query_row(
                "SELECT default_camera_password FROM nvr_account WHERE id = 1",
                [],
                |row| row.get(0),
            )
            .optional()?
            .flatten();
        Ok(sealed.and_then(|sealed| self.sealer.unseal(DEFAULT_CAMERA_PASSWORD, &sealed).ok()))
    }
}

impl Tx<'_> {
    /// The second factor, when it is on (and its secret still opens).
    pub fn nvr_totp(&self) -> Result<Option<StoredTotp>, StoreError> {
        let row: Option<TotpRow> = self
            .tx
            .query_row(
                "SELECT totp_secret, totp_last_step, totp_recovery_hashes FROM nvr_account WHERE id = 1",
                [],
                |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
            )
            .optional()?;
        let Some((Some(sealed), last_step, hashes)) = row else {
            return Ok(None);
        };
        let secret_base32 = self.sealer.unseal(TOTP_SECRET, &sealed)?;
        Ok(Some(StoredTotp {
            secret_base32,
            last_step: last_step.and_then(|s| u64::try_from(s).ok()),
            recovery_hashes: hashes
                .unwrap_or_default()
                .split(',')
                .filter(|h| !h.is_empty())
                .map(str::to_owned)
                .collect(),
        }))
    }

    /// Turns the second factor on with its secret, the step of the code that confirmed it, and the
    /// recovery codes' hashes.
    pub fn set_nvr_totp(
        &self,
        secret_base32: &SecretString,
        last_step: u64,
        recovery_hashes: &[String],
    ) -> Result<(), StoreError> {
        let sealed = self.sealer.seal(TOTP_SECRET, secret_base32);
        self.tx.execute(
            "UPDATE nvr_account SET totp_secret = ?1, totp_last_step = ?2, totp_recovery_hashes = ?3
             WHERE id = 1",
            params![
                sealed,
                i64::try_from(last_step).unwrap_or(i64::MAX),
                recovery_hashes.join(",")
            ],
        )?;
        Ok(())
    }

    /// Records a used code: its step, or a recovery code gone from the list.
    pub fn record_totp_use(
        &self,
        last_step: Option<u64>,
        recovery_hashes: &[String],
    ) -> Result<(), StoreError> {
        self.tx.execute(
            "UPDATE nvr_account SET totp_last_step = ?1, totp_recovery_hashes = ?2 WHERE id = 1",
            params![
                last_step.map(|s| i64::try_from(s).unwrap_or(i64::MAX)),
                recovery_hashes.join(",")
            ],
        )?;
        Ok(())
    }

    /// Turns the second factor off.
    pub fn clear_nvr_totp(&self) -> Result<(), StoreError> {
        self.tx.execute(
            "UPDATE nvr_account SET totp_secret = NULL, totp_last_step = NULL,
                                    totp_recovery_hashes = NULL WHERE id = 1",
            [],
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    #[test]
    fn one_account_its_lock_survives_a_reopen_and_its_default_password_is_sealed() {
        let dir = tempfile::tempdir().unwrap();
        let now = from_unix_secs(1_800_000_000);
        let default = SecretString::from("Camera-Default-71".to_owned());
        {
            let store = Store::open(dir.path()).unwrap();
            assert_eq!(store.read(|tx| tx.nvr_account()).unwrap(), None);
            let new = NewAccount {
                username: "admin",
                password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA",
                reserved_email: "owner@example.com",
                default_camera_password: Some(&default),
                activated_at: now,
            };
            assert!(store.write(|tx| tx.create_nvr_account(&new)).unwrap());
            assert!(
                !store.write(|tx| tx.create_nvr_account(&new)).unwrap(),
                "a second activation writes nothing"
            );
            store
                .write(|tx| {
                    tx.record_login_attempts(0, Some(now + std::time::Duration::from_secs(60)))
                })
                .unwrap();
        }
        let store = Store::open(dir.path()).unwrap();
        let account = store.read(|tx| tx.nvr_account()).unwrap().unwrap();
        assert_eq!(account.username, "admin");
        assert_eq!(
            account.locked_until,
            Some(now + std::time::Duration::from_secs(60))
        );
        assert!(!account.totp_enabled);
        let opened = store
            .read(|tx| tx.default_camera_password())
            .unwrap()
            .unwrap();
        assert_eq!(
            secrecy::ExposeSecret::expose_secret(&opened),
            "Camera-Default-71"
        );
        let raw = std::fs::read(store.path()).unwrap();
        assert!(
            !raw.windows(17).any(|w| w == b"Camera-Default-71"),
            "the default camera password is not in the file in clear"
        );
    }
}
