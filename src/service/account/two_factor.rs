//! Two-factor login for the recorder's admin account: enrolling an authenticator app (TOTP), the
//! recovery codes that stand in for it, and turning it off.

use secrecy::{ExposeSecret, SecretString};

use super::super::audit::AuditNote;
use super::{Nvr, NvrError, lock, password_is};
use crate::clock::unix_secs;
use crate::model::{Actor, AuditAction};
use crate::rules::hashing;
use crate::rules::totp::{self, TotpError, TotpSecret};

/// What the installer scans to turn on two-factor login.
pub struct TotpEnrolment {
    /// The otpauth:// URI, for the QR code.
    pub uri: String,
    /// The secret in base32, for typing into an app by hand.
    pub secret_base32: SecretString,
}

impl std::fmt::Debug for TotpEnrolment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TotpEnrolment").finish_non_exhaustive()
    }
}

impl Nvr {
    /// Checks a TOTP code as typed (spaces allowed) at the service clock's time.
    pub(super) fn check_totp(
        &self,
        secret: &TotpSecret,
        code: &str,
        last_used_step: Option<u64>,
    ) -> Result<u64, TotpError> {
        let now = u64::try_from(unix_secs(self.inner.clock.now())).unwrap_or(0);
        let digits: String = code.chars().filter(|c| !c.is_whitespace()).collect();
        totp::check(secret, &digits, now, last_used_step)
    }

    /// Starts turning on two-factor login for the session's user: a new secret to scan. Nothing is
    /// stored until [`Nvr::confirm_totp`] gets a code made from it.
    pub async fn begin_totp(&self, session: &SecretString) -> Result<TotpEnrolment, NvrError> {
        let username = self.session_user(session)?;
        let secret = TotpSecret::generate();
        let enrolment = TotpEnrolment {
            uri: totp::enrolment_uri(&secret, "Vigil NVR", &username),
            secret_base32: SecretString::from(secret.to_base32()),
        };
        if let Some(entry) = lock(&self.inner.sessions).get_mut(session.expose_secret()) {
            entry.enrolling = Some(secret);
        }
        Ok(enrolment)
    }

    /// Turns two-factor login on with the first code from the app; returns the recovery codes, which
    /// are shown this once (only their hashes are kept).
    pub async fn confirm_totp(
        &self,
        session: &SecretString,
        code: &str,
        actor: &Actor,
    ) -> Result<Vec<String>, NvrError> {
        let _command = self.begin_command()?;
        self.session_user(session)?;
        let secret = lock(&self.inner.sessions)
            .get_mut(session.expose_secret())
            .and_then(|entry| entry.enrolling.take())
            .ok_or(NvrError::RecoveryWrongStep(
                "start turning on two-factor login first",
            ))?;
        let step = match self.check_totp(&secret, code, None) {
            Ok(step) => step,
            Err(_) => {
                // Keep the secret: the installer may simply have typed the code wrong.
                if let Some(entry) = lock(&self.inner.sessions).get_mut(session.expose_secret()) {
                    entry.enrolling = Some(secret);
                }
                return Err(NvrError::CodeInvalid { attempts_left: 0 });
            }
        };
        let codes = totp::recovery_codes(totp::RECOVERY_CODE_COUNT);
        let hashes: Vec<String> = codes
            .iter()
            .map(|c| hashing::recovery_code_hash(c))
            .collect();
        let secret_base32 = SecretString::from(secret.to_base32());
        let note = AuditNote::new(actor, AuditAction::NvrTotpOn, "nvr", "two-factor login on");
        self.write_audited(Some(note), move |tx| {
            tx.set_nvr_totp(&secret_base32, step, &hashes)
        })
        .await??;
        Ok(codes)
    }

    /// Turns two-factor login off; needs the password and a code (or a recovery code).
    pub async fn disable_totp(
        &self,
        session: &SecretString,
        password: &str,
        code: &str,
        actor: &Actor,
    ) -> Result<(), NvrError> {
        let _command = self.begin_command()?;
        let _account = self.inner.account.lock().await;
        self.session_user(session)?;
        let account = self
            .stored_account()
            .await?
            .ok_or(NvrError::NvrNotActivated)?;
        let password_ok = password_is(&account, password).await?;
        if !password_ok || !self.use_second_factor(code).await? {
            return Err(self.count_failed_login(&account).await?);
        }
        let note = AuditNote::new(
            actor,
            AuditAction::NvrTotpOff,
            "nvr",
            "two-factor login off",
        );
        Ok(self
            .write_audited(Some(note), |tx| tx.clear_nvr_totp())
            .await??)
    }
}
