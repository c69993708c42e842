//! The service API of the NVR's own admin account: whether it is activated, activating it, its
//! lockout and the support identity a failed login shows. Login and sessions are in [`login`],
//! two-factor login in [`two_factor`], a forgotten password in [`recovery`].

mod login;
mod recovery;
mod two_factor;

use std::time::{Duration, SystemTime};

use secrecy::SecretString;

use super::audit::AuditNote;
use super::{ArgumentProblem, Nvr, NvrError, PasswordField, check_new_password, lock};
use crate::model::{Actor, AuditAction, Caller};
use crate::rules::hashing;
use crate::store::{NewAccount, NvrSetting, StoredAccount};

pub(super) use login::SessionEntry;
pub use login::{LoginStep, Session};
pub(super) use recovery::AccountRecovery;
pub use recovery::{AccountRecoveryMethods, AccountRecoveryQr, RecoveryCodeSent};
pub use two_factor::TotpEnrolment;

/// The admin account's user name.
pub const NVR_ADMIN: &str = "admin";

/// What the account looks like from outside: never a hash or a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountStatus {
    /// Whether the recorder has been activated.
    pub activated: bool,
    /// The admin's user name, once activated.
    pub username: Option<String>,
    /// How long the account stays locked, when it is.
    pub locked_for: Option<Duration>,
    /// Wrong passwords in a row so far.
    pub failed_logins: u32,
    /// Whether TOTP two-factor login is on.
    pub totp_enabled: bool,
}

/// What the login dialog shows after a failed login, for the support path: the recorder's serial
/// number and today's date on its clock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SupportIdentity {
    /// The serial number.
    pub serial: String,
    /// Today, `YYYY-MM-DD` (UTC).
    pub date: String,
}

/// Whether `email` looks like a mail address one can send to: one `@`, a dotted domain, no spaces or
/// control characters, at most 254 characters.
pub(super) fn check_email(email: &str) -> Result<(), NvrError> {
    let bad = |problem| NvrError::InvalidArgument {
        field: "reserved email",
        problem,
    };
    if email.is_empty() {
        return Err(bad(ArgumentProblem::Empty));
    }
    if email.len() > 254 {
        return Err(bad(ArgumentProblem::TooLong { max: 254 }));
    }
    if email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad(ArgumentProblem::BadCharacters));
    }
    if crate::mail::is_email_address(email) {
        Ok(())
    } else {
        Err(bad(ArgumentProblem::NotEmailAddress))
    }
}

/// Hashes off the async threads: argon2 is deliberately slow.
pub(super) async fn hash_in_background(password: SecretString) -> Result<String, NvrError> {
    tokio::task::spawn_blocking(move || hashing::hash_password(&password))
        .await
        .map_err(|e| NvrError::Storage(e.to_string()))?
        .map_err(|e| NvrError::Storage(e.to_string()))
}

/// Whether `password` is the account's, checked off the async threads.
pub(super) async fn password_is(account: &StoredAccount, password: &str) -> Result<bool, NvrError> {
    let (given, hash) = (password.to_owned(), account.password_hash.clone());
    tokio::task::spawn_blocking(move || hashing::password_matches(&given, &hash))
        .await
        .map_err(|e| NvrError::Storage(e.to_string()))
}

/// `time` rounded up to the next whole second, as codes and locks are shown.
pub(super) fn round_up_to_second(time: SystemTime) -> SystemTime {
    match time.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(since) if since.subsec_nanos() > 0 => {
            SystemTime::UNIX_EPOCH + Duration::from_secs(since.as_secs() + 1)
        }
        _ => time,
    }
}

impl Nvr {
    /// The recorder's reserved email, offered as a new camera's reset email. Only for a live login or
    /// an authorized caller.
    pub async fn reserved_email(&self, caller: &Caller) -> Result<String, NvrError> {
        self.acting_as(caller)?;
        self.stored_account()
            .await?
            .map(|account| account.reserved_email)
            .ok_or(NvrError::NvrNotActivated)
    }

    async fn stored_account(&self) -> Result<Option<StoredAccount>, NvrError> {
        Ok(self
            .with_store(|store| store.read(|tx| tx.nvr_account()))
            .await??)
    }

    fn lock_left(&self, account: &StoredAccount) -> Option<Duration> {
        account
            .locked_until
            .and_then(|until| until.duration_since(self.inner.clock.now()).ok())
            .filter(|left| !left.is_zero())
    }

    /// The recorder's serial number and today's date, as support asks for them. The serial is made
    /// once (`VGL` and nine digits) and kept in the registry.
    pub async fn support_identity(&self) -> Result<SupportIdentity, NvrError> {
        let fresh = format!("VGL{:09}", rand::random::<u32>() % 1_000_000_000);
        let serial = self
            .with_store(move |store| {
                store.write(|tx| tx.nvr_setting_or_insert(NvrSetting::Serial, &fresh))
            })
            .await??;
        let date = crate::clock::rfc3339(self.inner.clock.now())
            .chars()
            .take(10)
            .collect();
        Ok(SupportIdentity { serial, date })
    }

    /// Clears the count of wrong passwords and any lock.
    async fn forget_failed_logins(&self) -> Result<(), NvrError> {
        Ok(self
            .with_store(|store| store.write(|tx| tx.record_login_attempts(0, None)))
            .await??)
    }

    /// The account's status.
    pub async fn account_status(&self) -> Result<AccountStatus, NvrError> {
        Ok(match self.stored_account().await? {
            None => AccountStatus {
                activated: false,
                username: None,
                locked_for: None,
                failed_logins: 0,
                totp_enabled: false,
            },
            Some(account) => AccountStatus {
                activated: true,
                locked_for: self.lock_left(&account),
                username: Some(account.username),
                failed_logins: account.failed_logins,
                totp_enabled: account.totp_enabled,
            },
        })
    }

    /// Activates the recorder: the admin password (under the same policy as cameras), the reserved
    /// email for password recovery, and optionally a default camera activation password.
    pub async fn activate_nvr(
        &self,
        password: &str,
        confirmation: &str,
        reserved_email: &str,
        default_camera_password: Option<&str>,
        actor: &Actor,
    ) -> Result<(), NvrError> {
        let _command = self.begin_command()?;
        let password = check_new_password(password, confirmation, NVR_ADMIN)?;
        let reserved_email = reserved_email.trim().to_owned();
        check_email(&reserved_email)?;
        let default_camera_password = match default_camera_password {
            Some(camera_password) if !camera_password.is_empty() => Some(
                check_new_password(camera_password, camera_password, NVR_ADMIN).map_err(
                    |refused| match refused {
                        NvrError::PolicyViolation { unmet, .. } => NvrError::PolicyViolation {
                            field: PasswordField::DefaultCameraPassword,
                            unmet,
                        },
                        other => other,
                    },
                )?,
            ),
            _ => None,
        };
        if self.stored_account().await?.is_some() {
            return Err(NvrError::NvrAlreadyActivated);
        }
        let hash = hash_in_background(password).await?;
        let now = self.inner.clock.now();
        let note = AuditNote::new(actor, AuditAction::NvrActivation, "nvr", "activated");
        let created = self
            .with_store(move |store| {
                store.write(|tx| {
                    let created = tx.create_nvr_account(&NewAccount {
                        username: NVR_ADMIN,
                        password_hash: &hash,
                        reserved_email: &reserved_email,
                        default_camera_password: default_camera_password.as_ref(),
                        activated_at: now,
                    })?;
                    if created {
                        note.append(tx, now)?;
                    }
                    Ok(created)
                })
            })
            .await??;
        if !created {
            return Err(NvrError::NvrAlreadyActivated);
        }
        tracing::info!("the recorder was activated");
        Ok(())
    }

    /// Lifts a lockout (and forgets the wrong passwords so far).
    pub async fn clear_account_lockout(&self, actor: &Actor) -> Result<(), NvrError> {
        let _command = self.begin_command()?;
        if self.stored_account().await?.is_none() {
            return Err(NvrError::NvrNotActivated);
        }
        let note = AuditNote::new(actor, AuditAction::NvrLockoutCleared, "nvr", "cleared");
        Ok(self
            .write_audited(Some(note), |tx| tx.record_login_attempts(0, None))
            .await??)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_emails_are_checked() {
        assert!(check_email("owner@example.com").is_ok());
        for bad in [
            "",
            "owner",
            "owner@",
            "@example.com",
            "a b@example.com",
            "a@b@c.com",
            "owner@example.",
        ] {
            assert!(check_email(bad).is_err(), "{bad:?}");
        }
    }
}
