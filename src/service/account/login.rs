//! Logging in to the recorder's admin account: the password (with a lockout that survives a
//! restart), the second factor when two-factor login is on, and sessions that end after inactivity.

use std::time::{Duration, SystemTime};

use secrecy::{ExposeSecret, SecretString};

use super::super::audit::AuditNote;
use super::{Nvr, NvrError, lock, password_is, round_up_to_second};
use crate::model::{Actor, AuditAction, Caller};
use crate::rules::hashing;
use crate::rules::totp::{TotpError, TotpSecret};
use crate::store::StoredAccount;

/// A login session: who, and the token that stands for the login. The token is a secret of the
/// caller's (the menu); it is never logged.
#[derive(Clone)]
pub struct Session {
    /// The user.
    pub username: String,
    /// The token.
    pub token: SecretString,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// A live session, by token.
pub(in crate::service) struct SessionEntry {
    /// Whose session.
    pub(super) username: String,
    /// When it was last used, for the inactivity limit.
    pub(super) last_used: SystemTime,
    /// The password was right, and the TOTP code is still to come: not a session yet.
    pub(super) awaiting_code: bool,
    /// A TOTP secret shown for enrolment, waiting for its first code.
    pub(super) enrolling: Option<TotpSecret>,
}

/// How a login went when the password was right.
#[derive(Debug)]
pub enum LoginStep {
    /// Logged in.
    Done(Session),
    /// Two-factor login is on: send the code from the authenticator app (or a recovery code) with
    /// this pending login to [`Nvr::login_code`].
    CodeNeeded(Session),
}

/// How long the code step of a login may take.
const CODE_STEP_LIMIT: Duration = Duration::from_secs(5 * 60);

impl Nvr {
    /// Logs in. A wrong user name counts as a wrong password (and says nothing about which was
    /// wrong); after `account.max_failed_logins` in a row the account locks for `account.lockout`,
    /// and the lock is stored, so a restart does not lift it.
    pub async fn login(&self, username: &str, password: &str) -> Result<LoginStep, NvrError> {
        let _command = self.begin_command()?;
        // One login at a time, so two wrong passwords at once cannot both see the old count.
        let _account = self.inner.account.lock().await;
        let account = self
            .stored_account()
            .await?
            .ok_or(NvrError::NvrNotActivated)?;
        if let Some(left) = self.lock_left(&account) {
            return Err(NvrError::AccountLocked {
                retry_after: Some(left),
            });
        }
        let password_ok = password_is(&account, password).await?;
        if !(password_ok && username == account.username) {
            return Err(self.count_failed_login(&account).await?);
        }
        if account.failed_logins > 0 || account.locked_until.is_some() {
            self.forget_failed_logins().await?;
        }
        let session = self.new_session(&account.username, account.totp_enabled);
        if account.totp_enabled {
            return Ok(LoginStep::CodeNeeded(session));
        }
        tracing::info!(user = %account.username, "logged in");
        Ok(LoginStep::Done(session))
    }

    /// Counts a wrong password (or code), locking the account at the limit; the error to return.
    pub(super) async fn count_failed_login(
        &self,
        account: &StoredAccount,
    ) -> Result<NvrError, NvrError> {
        let all_settings = self.settings();
        let settings = &all_settings.account;
        let failed = account.failed_logins.saturating_add(1);
        let (failed, locked_until) = if failed >= settings.max_failed_logins {
            // Rounded up to the whole second the registry keeps, so a restart never shortens it.
            let until = self.inner.clock.now() + settings.lockout;
            (0, Some(round_up_to_second(until)))
        } else {
            (failed, None)
        };
        let note = locked_until.map(|_| {
            AuditNote::new(
                &Actor::System,
                AuditAction::NvrLocked,
                "nvr",
                &format!("{} wrong passwords or codes", settings.max_failed_logins),
            )
        });
        self.write_audited(note, move |tx| {
            tx.record_login_attempts(failed, locked_until)
        })
        .await??;
        if locked_until.is_some() {
            tracing::warn!("the recorder's account locked after wrong passwords");
            return Ok(NvrError::AccountLocked {
                retry_after: Some(settings.lockout),
            });
        }
        Ok(NvrError::LoginFailed {
            attempts_left: settings.max_failed_logins - failed,
        })
    }

    fn new_session(&self, username: &str, awaiting_code: bool) -> Session {
        let token = hashing::new_token();
        lock(&self.inner.sessions).insert(
            token.clone(),
            SessionEntry {
                username: username.to_owned(),
                last_used: self.inner.clock.now(),
                awaiting_code,
                enrolling: None,
            },
        );
        Session {
            username: username.to_owned(),
            token: SecretString::from(token),
        }
    }

    /// The second step of a login with two-factor on: the code from the authenticator app, or one
    /// of the recovery codes (each works once). Wrong codes count towards the lockout like wrong
    /// passwords. The session returned is a new one; the pending login's token is spent.
    pub async fn login_code(
        &self,
        pending: &SecretString,
        code: &str,
    ) -> Result<Session, NvrError> {
        let _command = self.begin_command()?;
        let _account = self.inner.account.lock().await;
        let now = self.inner.clock.now();
        let username = {
            let mut sessions = lock(&self.inner.sessions);
            match sessions.get(pending.expose_secret()) {
                Some(entry)
                    if entry.awaiting_code
                        && now
                            .duration_since(entry.last_used)
                            .is_ok_and(|waited| waited < CODE_STEP_LIMIT) =>
                {
                    entry.username.clone()
                }
                Some(_) => {
                    sessions.remove(pending.expose_secret());
                    return Err(NvrError::SessionExpired);
                }
                None => return Err(NvrError::SessionExpired),
            }
        };
        let account = self
            .stored_account()
            .await?
            .ok_or(NvrError::NvrNotActivated)?;
        if let Some(left) = self.lock_left(&account) {
            lock(&self.inner.sessions).remove(pending.expose_secret());
            return Err(NvrError::AccountLocked {
                retry_after: Some(left),
            });
        }
        if !self.use_second_factor(code).await? {
            let error = self.count_failed_login(&account).await?;
            if matches!(error, NvrError::AccountLocked { .. }) {
                lock(&self.inner.sessions).remove(pending.expose_secret());
            }
            return Err(error);
        }
        if account.failed_logins > 0 {
            self.forget_failed_logins().await?;
        }
        lock(&self.inner.sessions).remove(pending.expose_secret());
        tracing::info!(user = %username, "logged in with a second factor");
        Ok(self.new_session(&username, false))
    }

    /// Checks a TOTP code (not used before) or an unused recovery code against the stored second
    /// factor, and records its use. False for a wrong, reused or malformed code.
    pub(super) async fn use_second_factor(&self, code: &str) -> Result<bool, NvrError> {
        let Some(stored) = self
            .with_store(|store| store.read(|tx| tx.nvr_totp()))
            .await??
        else {
            return Ok(false);
        };
        let code = code.trim();
        let secret = TotpSecret::from_base32(stored.secret_base32.expose_secret())
            .map_err(|_| NvrError::Storage("the two-factor secret is unreadable".into()))?;
        let (last_step, mut hashes) = (stored.last_step, stored.recovery_hashes);
        let new_step = match self.check_totp(&secret, code, last_step) {
            Ok(step) => Some(step),
            Err(TotpError::Malformed) => {
                let hash = hashing::recovery_code_hash(code);
                let Some(index) = hashes.iter().position(|h| *h == hash) else {
                    return Ok(false);
                };
                hashes.remove(index);
                last_step
            }
            Err(_) => return Ok(false),
        };
        self.with_store(move |store| store.write(|tx| tx.record_totp_use(new_step, &hashes)))
            .await??;
        Ok(true)
    }

    /// The user of a live session, keeping it alive; [`NvrError::SessionExpired`] when it is unknown
    /// or was idle longer than `account.session_idle`.
    pub fn session_user(&self, token: &SecretString) -> Result<String, NvrError> {
        let now = self.inner.clock.now();
        let idle_limit = self.settings().account.session_idle;
        let mut sessions = lock(&self.inner.sessions);
        sessions.retain(|_, s| {
            now.duration_since(s.last_used)
                .map_or(true, |idle| idle < idle_limit)
        });
        let entry = sessions
            .get_mut(token.expose_secret())
            .filter(|entry| !entry.awaiting_code)
            .ok_or(NvrError::SessionExpired)?;
        entry.last_used = now;
        Ok(entry.username.clone())
    }

    /// The actor a caller acts as: a menu caller as its session's user (refused with
    /// [`NvrError::SessionExpired`] once the session has ended; the command counts as use), anyone
    /// else as their face vouched.
    pub(crate) fn acting_as(&self, caller: &Caller) -> Result<Actor, NvrError> {
        match caller {
            Caller::Menu { session } => self.session_user(session).map(|user| Actor::Gui { user }),
            Caller::Authorized(actor) => Ok(actor.clone()),
        }
    }

    /// Whether a session is live, without counting the question as use (the menu's idle check).
    pub fn session_alive(&self, token: &SecretString) -> bool {
        let now = self.inner.clock.now();
        let idle_limit = self.settings().account.session_idle;
        lock(&self.inner.sessions)
            .get(token.expose_secret())
            .is_some_and(|entry| {
                !entry.awaiting_code
                    && now
                        .duration_since(entry.last_used)
                        .map_or(true, |idle| idle < idle_limit)
            })
    }

    /// Ends a session.
    pub fn logout(&self, token: &SecretString) {
        lock(&self.inner.sessions).remove(token.expose_secret());
    }
}
