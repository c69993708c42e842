//! The service API of the NVR's own admin account: activation, login with a lockout that survives a
//! restart, sessions that end after inactivity, and clearing a lockout.

use std::time::{Duration, SystemTime};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Argon2, password_hash::rand_core::OsRng};
use secrecy::{ExposeSecret, SecretString};

use super::{Nvr, NvrError, check_new_password, lock};
use crate::account::device_secret::{DeviceSecret, DeviceSecretError};
use crate::account::totp::{self, TotpError, TotpSecret};
use crate::recovery::codes;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use subtle::ConstantTimeEq;

use crate::clock::unix_secs;
use crate::mail::MailSender;
use crate::model::{Actor, AuditAction};
use crate::store::{NewAccount, NvrSetting, StoredAccount};

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
pub(super) struct SessionEntry {
    username: String,
    last_used: SystemTime,
    /// The password was right, and the TOTP code is still to come: not a session yet.
    awaiting_code: bool,
    /// A TOTP secret shown for enrolment, waiting for its first code.
    enrolling: Option<TotpSecret>,
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

/// What the login dialog shows after a failed login, for the support path: the recorder's serial
/// number and today's date on its clock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SupportIdentity {
    /// The serial number.
    pub serial: String,
    /// Today, `YYYY-MM-DD` (UTC).
    pub date: String,
}

/// Codes sent to the reserved email: how long they last, how many wrong tries kill one, how many may
/// be sent in the window.
const RECOVERY_CODE_LIFETIME: Duration = Duration::from_secs(30 * 60);
const RECOVERY_CODE_TRIES: u32 = 5;
const RECOVERY_SENDS: usize = 3;
const RECOVERY_SEND_WINDOW: Duration = Duration::from_secs(10 * 60);
/// How long a verified code allows setting the new password.
const RECOVERY_TICKET_LIFETIME: Duration = Duration::from_secs(10 * 60);

/// The NVR account's password recovery by reserved email. Held in memory: a restart voids a code,
/// and the installer asks for a new one.
#[derive(Default)]
pub(super) struct AccountRecovery {
    /// SHA-256 of the live code (emailed, or behind the QR code), its expiry and the wrong tries left.
    code: Option<([u8; 32], SystemTime, u32)>,
    /// When codes were sent, for the send limit.
    sent: Vec<SystemTime>,
    /// When QR challenges were made, for the challenge limit.
    challenges: Vec<SystemTime>,
    /// The support-code day: the date, wrong entries that day, and whether that day's code was used.
    support: Option<(String, u32, bool)>,
    /// A verified code's ticket and its expiry.
    ticket: Option<(String, SystemTime)>,
}

/// Where the recovery code went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveryCodeSent {
    /// The reserved email, masked (`o***@e***.com`).
    pub masked_email: String,
    /// How long the code lasts.
    pub valid_for: Duration,
}

/// QR challenges per hour: with five tries each, at most 50 guesses an hour at a 1-in-10^8 code.
const RECOVERY_CHALLENGES: usize = 10;
const RECOVERY_CHALLENGE_WINDOW: Duration = Duration::from_secs(60 * 60);
/// Wrong support codes a day.
const SUPPORT_TRIES: u32 = 5;

/// Which ways to a recovery code the recorder offers now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountRecoveryMethods {
    /// The reserved email, masked, when a mail server is set to send the code there.
    pub email: Option<String>,
    /// Whether the phone app's QR code and the support code can be used (the vendor's device secret
    /// is there).
    pub device_secret: bool,
    /// The serial number and today's date, for the support desk.
    pub identity: SupportIdentity,
}

/// A QR challenge for the vendor's phone app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountRecoveryQr {
    /// What the QR code holds (no secret).
    pub payload: String,
    /// How long its code lasts.
    pub valid_for: Duration,
}

/// How long the code step of a login may take.
const CODE_STEP_LIMIT: Duration = Duration::from_secs(5 * 60);

/// A limit of `max` events per `window`: forgets events older than the window, and refuses with how
/// long until the oldest leaves it when `max` are still in it.
fn wait_for_window(
    events: &mut Vec<SystemTime>,
    now: SystemTime,
    window: Duration,
    max: usize,
) -> Result<(), Option<Duration>> {
    events.retain(|at| now.duration_since(*at).is_ok_and(|ago| ago < window));
    if events.len() < max {
        return Ok(());
    }
    let oldest = events.iter().min().copied().unwrap_or(now);
    Err((oldest + window).duration_since(now).ok())
}

fn sha256(text: &str) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(text.as_bytes()).into()
}

/// A fresh random token (32 bytes, base64url): session tokens and recovery tickets.
fn new_token() -> String {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
}

/// A recovery code as typed (any case, with or without dashes and spaces) to the hash kept of it.
fn recovery_hash(code: &str) -> String {
    use sha2::Digest;
    let normal: String = code
        .chars()
        .filter(|c| !matches!(c, '-' | ' '))
        .flat_map(char::to_lowercase)
        .collect();
    URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(normal.as_bytes()))
}

/// Whether `email` looks like a mail address one can send to: one `@`, a dotted domain, no spaces or
/// control characters, at most 254 characters.
fn check_email(email: &str) -> Result<(), NvrError> {
    let bad = |problem: &str| NvrError::InvalidArgument {
        field: "reserved email",
        problem: problem.to_owned(),
    };
    if email.is_empty() {
        return Err(bad("is empty"));
    }
    if email.len() > 254 {
        return Err(bad("is longer than 254 characters"));
    }
    if email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad("contains spaces or control characters"));
    }
    if crate::mail::is_email_address(email) {
        Ok(())
    } else {
        Err(bad("is not an address such as name@example.com"))
    }
}

fn round_up_to_second(time: SystemTime) -> SystemTime {
    match time.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(since) if since.subsec_nanos() > 0 => {
            SystemTime::UNIX_EPOCH + Duration::from_secs(since.as_secs() + 1)
        }
        _ => time,
    }
}

fn hash_password(password: &SecretString) -> Result<String, NvrError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.expose_secret().as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| NvrError::Storage(format!("cannot hash the password: {e}")))
}

/// Hashes off the async threads: argon2 is deliberately slow.
async fn hash_in_background(password: SecretString) -> Result<String, NvrError> {
    tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|e| NvrError::Storage(e.to_string()))?
}

/// Whether `password` is the account's, checked off the async threads.
async fn password_is(account: &StoredAccount, password: &str) -> Result<bool, NvrError> {
    let (given, hash) = (password.to_owned(), account.password_hash.clone());
    tokio::task::spawn_blocking(move || password_matches(&given, &hash))
        .await
        .map_err(|e| NvrError::Storage(e.to_string()))
}

fn password_matches(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

impl Nvr {
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

    /// Checks a TOTP code as typed (spaces allowed) at the service clock's time.
    fn check_totp(
        &self,
        secret: &TotpSecret,
        code: &str,
        last_used_step: Option<u64>,
    ) -> Result<u64, TotpError> {
        let now = u64::try_from(unix_secs(self.inner.clock.now())).unwrap_or(0);
        let digits: String = code.chars().filter(|c| !c.is_whitespace()).collect();
        totp::check(secret, &digits, now, last_used_step)
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
            Some(camera_password) if !camera_password.is_empty() => Some(check_new_password(
                camera_password,
                camera_password,
                NVR_ADMIN,
            )?),
            _ => None,
        };
        if self.stored_account().await?.is_some() {
            return Err(NvrError::NvrAlreadyActivated);
        }
        let hash = hash_in_background(password).await?;
        let now = self.inner.clock.now();
        let created = self
            .with_store(move |store| {
                store.write(|tx| {
                    tx.create_nvr_account(&NewAccount {
                        username: NVR_ADMIN,
                        password_hash: &hash,
                        reserved_email: &reserved_email,
                        default_camera_password: default_camera_password.as_ref(),
                        activated_at: now,
                    })
                })
            })
            .await??;
        if !created {
            return Err(NvrError::NvrAlreadyActivated);
        }
        self.audit(actor, AuditAction::NvrActivation, "nvr", "activated")
            .await;
        tracing::info!("the recorder was activated");
        Ok(())
    }

    /// Logs in. A wrong user name counts as a wrong password (and says nothing about which was
    /// wrong); after `account.max_failed_logins` in a row the account locks for `account.lockout`,
    /// and the lock is stored, so a restart does not lift it.
    pub async fn login(&self, username: &str, password: &str) -> Result<LoginStep, NvrError> {
        let _command = self.begin_command()?;
        // One login at a time, so two wrong passwords at once cannot both see the old count.
        let _commit = self.inner.commit.lock().await;
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
    async fn count_failed_login(&self, account: &StoredAccount) -> Result<NvrError, NvrError> {
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
        self.with_store(move |store| {
            store.write(|tx| tx.record_login_attempts(failed, locked_until))
        })
        .await??;
        if locked_until.is_some() {
            tracing::warn!("the recorder's account locked after wrong passwords");
            self.audit(
                &Actor::System,
                AuditAction::NvrLocked,
                "nvr",
                &format!("{} wrong passwords or codes", settings.max_failed_logins),
            )
            .await;
            return Ok(NvrError::AccountLocked {
                retry_after: Some(settings.lockout),
            });
        }
        Ok(NvrError::LoginFailed {
            attempts_left: settings.max_failed_logins - failed,
        })
    }

    fn new_session(&self, username: &str, awaiting_code: bool) -> Session {
        let token = new_token();
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
        let _commit = self.inner.commit.lock().await;
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
    async fn use_second_factor(&self, code: &str) -> Result<bool, NvrError> {
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
                let hash = recovery_hash(code);
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
        let hashes: Vec<String> = codes.iter().map(|c| recovery_hash(c)).collect();
        let secret_base32 = SecretString::from(secret.to_base32());
        self.with_store(move |store| {
            store.write(|tx| tx.set_nvr_totp(&secret_base32, step, &hashes))
        })
        .await??;
        self.audit(actor, AuditAction::NvrTotpOn, "nvr", "two-factor login on")
            .await;
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
        let _commit = self.inner.commit.lock().await;
        self.session_user(session)?;
        let account = self
            .stored_account()
            .await?
            .ok_or(NvrError::NvrNotActivated)?;
        let password_ok = password_is(&account, password).await?;
        if !password_ok || !self.use_second_factor(code).await? {
            return Err(self.count_failed_login(&account).await?);
        }
        self.with_store(|store| store.write(|tx| tx.clear_nvr_totp()))
            .await??;
        self.audit(
            actor,
            AuditAction::NvrTotpOff,
            "nvr",
            "two-factor login off",
        )
        .await;
        Ok(())
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

    /// Forgot the password: emails an 8-digit code to the reserved email through the recorder's mail
    /// server. At most three codes in ten minutes; a new code voids the old one.
    pub async fn send_account_recovery_code(&self) -> Result<RecoveryCodeSent, NvrError> {
        let _command = self.begin_command()?;
        let account = self
            .stored_account()
            .await?
            .ok_or(NvrError::NvrNotActivated)?;
        let now = self.inner.clock.now();
        {
            let mut recovery = lock(&self.inner.account_recovery);
            wait_for_window(
                &mut recovery.sent,
                now,
                RECOVERY_SEND_WINDOW,
                RECOVERY_SENDS,
            )
            .map_err(|retry_after| NvrError::SendLimit { retry_after })?;
        }
        let code = format!("{:08}", rand::random::<u32>() % 100_000_000);
        let digest = sha256(&code);
        let sender = self.recorder_mail_sender().await?;
        sender
            .send(crate::mail::OutgoingMail {
                to: account.reserved_email.clone(),
                subject: "Vigil NVR: password recovery code".into(),
                body: format!(
                    "Your recorder's password recovery code is {code}.\n\nIt is valid for 30 minutes and works once. If you did not ask for it, someone at the recorder did: check who has access.\n"
                ),
            })
            .await
            .map_err(NvrError::MailServer)?;
        {
            let mut recovery = lock(&self.inner.account_recovery);
            recovery.sent.push(now);
            recovery.code = Some((digest, now + RECOVERY_CODE_LIFETIME, RECOVERY_CODE_TRIES));
            recovery.ticket = None;
        }
        self.audit(
            &Actor::System,
            AuditAction::CodeSent,
            "nvr",
            "recovery code sent to the reserved email",
        )
        .await;
        Ok(RecoveryCodeSent {
            masked_email: crate::mail::mask_email(&account.reserved_email),
            valid_for: RECOVERY_CODE_LIFETIME,
        })
    }

    /// Checks the emailed code. Right: a ticket for [`Nvr::reset_account_password`] (the code is
    /// spent). Wrong: the tries left; after five the code is dead.
    pub async fn verify_account_recovery_code(&self, code: &str) -> Result<SecretString, NvrError> {
        let _command = self.begin_command()?;
        let now = self.inner.clock.now();
        let digest = sha256(code.trim());
        let mut recovery = lock(&self.inner.account_recovery);
        let Some((expected, expires, tries_left)) = recovery.code else {
            return Err(NvrError::CodeExpired);
        };
        if now >= expires {
            recovery.code = None;
            return Err(NvrError::CodeExpired);
        }
        if !bool::from(expected.ct_eq(&digest)) {
            let tries_left = tries_left.saturating_sub(1);
            if tries_left == 0 {
                recovery.code = None;
                return Err(NvrError::CodeAttemptsExhausted);
            }
            recovery.code = Some((expected, expires, tries_left));
            return Err(NvrError::CodeInvalid {
                attempts_left: tries_left,
            });
        }
        recovery.code = None;
        let ticket = new_token();
        recovery.ticket = Some((ticket.clone(), now + RECOVERY_TICKET_LIFETIME));
        Ok(SecretString::from(ticket))
    }

    /// Sets a new password with a ticket from a verified code: the policy applies, the lockout is
    /// lifted, every session ends.
    pub async fn reset_account_password(
        &self,
        ticket: &SecretString,
        password: &str,
        confirmation: &str,
    ) -> Result<(), NvrError> {
        let _command = self.begin_command()?;
        let password = check_new_password(password, confirmation, NVR_ADMIN)?;
        let now = self.inner.clock.now();
        {
            let recovery = lock(&self.inner.account_recovery);
            match &recovery.ticket {
                Some((live, expires)) if live == ticket.expose_secret() && now < *expires => {}
                _ => return Err(NvrError::RecoveryExpired),
            }
        }
        let hash = hash_in_background(password).await?;
        self.with_store(move |store| store.write(|tx| tx.set_nvr_password_hash(&hash)))
            .await??;
        lock(&self.inner.account_recovery).ticket = None;
        lock(&self.inner.sessions).clear();
        self.audit(
            &Actor::System,
            AuditAction::Reset,
            "nvr",
            "password reset with a recovery code",
        )
        .await;
        Ok(())
    }

    fn device_secret(&self) -> Result<DeviceSecret, NvrError> {
        let settings = self.settings();
        let path = settings
            .account
            .device_secret_file
            .as_deref()
            .ok_or(NvrError::NoDeviceSecret)?;
        DeviceSecret::read(path).map_err(|error| {
            if !matches!(error, DeviceSecretError::Missing(_)) {
                tracing::warn!(%error, "the device secret cannot be used");
            }
            NvrError::NoDeviceSecret
        })
    }

    /// Which ways to a code the login dialog's Forgot Password can offer.
    pub async fn account_recovery_methods(&self) -> Result<AccountRecoveryMethods, NvrError> {
        let account = self
            .stored_account()
            .await?
            .ok_or(NvrError::NvrNotActivated)?;
        let mail_server = self
            .with_store(|store| store.read(|tx| tx.nvr_mail_server()))
            .await??;
        Ok(AccountRecoveryMethods {
            email: mail_server.map(|_| crate::mail::mask_email(&account.reserved_email)),
            device_secret: self.device_secret().is_ok(),
            identity: self.support_identity().await?,
        })
    }

    /// Forgot the password, for a recorder with no mail server: a challenge for the vendor's phone
    /// app as a QR code. The app's cloud computes the code from the recorder's device secret and
    /// emails it to the reserved email; it is then typed like an emailed code (same lifetime, tries and
    /// single use). A new challenge voids the old code; at most ten an hour.
    pub async fn start_account_recovery_qr(&self) -> Result<AccountRecoveryQr, NvrError> {
        let _command = self.begin_command()?;
        if self.stored_account().await?.is_none() {
            return Err(NvrError::NvrNotActivated);
        }
        let secret = self.device_secret()?;
        let serial = self.support_identity().await?.serial;
        let now = self.inner.clock.now();
        let expires = round_up_to_second(now + RECOVERY_CODE_LIFETIME);
        let nonce: [u8; 16] = rand::random();
        let code = codes::challenge_code(secret.bytes(), &nonce, unix_secs(expires));
        {
            let mut recovery = lock(&self.inner.account_recovery);
            wait_for_window(
                &mut recovery.challenges,
                now,
                RECOVERY_CHALLENGE_WINDOW,
                RECOVERY_CHALLENGES,
            )
            .map_err(|retry_after| NvrError::ChallengeLimit { retry_after })?;
            recovery.challenges.push(now);
            recovery.code = Some((sha256(&code), expires, RECOVERY_CODE_TRIES));
            recovery.ticket = None;
        }
        self.audit(
            &Actor::System,
            AuditAction::CodeSent,
            "nvr",
            "recovery QR code shown for the phone app",
        )
        .await;
        Ok(AccountRecoveryQr {
            payload: codes::qr_payload(&serial, &URL_SAFE_NO_PAD.encode(nonce), expires),
            valid_for: RECOVERY_CODE_LIFETIME,
        })
    }

    /// Forgot the password, by phone to the vendor's support desk: they derive today's 10-digit
    /// support code from the serial number and date the login dialog shows. Good today only, once;
    /// five wrong entries a day and it is refused until tomorrow. Right: a ticket for
    /// [`Nvr::reset_account_password`].
    pub async fn verify_account_support_code(&self, code: &str) -> Result<SecretString, NvrError> {
        let _command = self.begin_command()?;
        if self.stored_account().await?.is_none() {
            return Err(NvrError::NvrNotActivated);
        }
        let secret = self.device_secret()?;
        let identity = self.support_identity().await?;
        let expected = codes::support_code(secret.bytes(), &identity.serial, &identity.date);
        let given: String = code.chars().filter(|c| !c.is_whitespace()).collect();
        let now = self.inner.clock.now();
        let ticket = {
            let mut recovery = lock(&self.inner.account_recovery);
            let day = match &mut recovery.support {
                Some(day) if day.0 == identity.date => day,
                other => other.insert((identity.date.clone(), 0, false)),
            };
            if day.1 >= SUPPORT_TRIES {
                return Err(NvrError::SupportLocked);
            }
            if day.2 {
                return Err(NvrError::CodeUsed);
            }
            if !bool::from(sha256(&given).ct_eq(&sha256(&expected))) {
                day.1 += 1;
                if day.1 >= SUPPORT_TRIES {
                    tracing::warn!(
                        "five wrong support codes today; the support path is closed until tomorrow"
                    );
                    return Err(NvrError::SupportLocked);
                }
                return Err(NvrError::CodeInvalid {
                    attempts_left: SUPPORT_TRIES - day.1,
                });
            }
            day.2 = true;
            recovery.code = None;
            let ticket = new_token();
            recovery.ticket = Some((ticket.clone(), now + RECOVERY_TICKET_LIFETIME));
            ticket
        };
        self.audit(
            &Actor::System,
            AuditAction::CodeSent,
            "nvr",
            "support code accepted",
        )
        .await;
        Ok(SecretString::from(ticket))
    }

    /// Lifts a lockout (and forgets the wrong passwords so far).
    pub async fn clear_account_lockout(&self, actor: &Actor) -> Result<(), NvrError> {
        let _command = self.begin_command()?;
        if self.stored_account().await?.is_none() {
            return Err(NvrError::NvrNotActivated);
        }
        self.forget_failed_logins().await?;
        self.audit(actor, AuditAction::NvrLockoutCleared, "nvr", "cleared")
            .await;
        Ok(())
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

    #[test]
    fn hashes_are_argon2id_and_check_the_password() {
        let hash = hash_password(&SecretString::from("Quiet-Falcon-83".to_owned())).unwrap();
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(password_matches("Quiet-Falcon-83", &hash));
        assert!(!password_matches("Quiet-Falcon-84", &hash));
        assert!(!password_matches("Quiet-Falcon-83", "not a hash"));
    }
}
