//! A forgotten recorder password: a code to the reserved email, the vendor's phone app (a QR
//! challenge) or the support desk (a code from the serial number and date), then a new password with
//! the ticket the code gave. Codes and tickets are held in memory: a restart voids them, and the
//! installer asks for a new one.

use std::time::{Duration, SystemTime};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use secrecy::{ExposeSecret, SecretString};

use super::super::audit::AuditNote;
use super::{
    NVR_ADMIN, Nvr, NvrError, SupportIdentity, check_new_password, hash_in_background, lock,
    round_up_to_second,
};
use crate::clock::unix_secs;
use crate::mail::MailSender;
use crate::model::{Actor, AuditAction};
use crate::rules::codes;
use crate::rules::device_secret::{DeviceSecret, DeviceSecretError};
use crate::rules::hashing;
use crate::rules::windows::RateWindow;
use crate::store::NvrSetting;

/// Codes sent to the reserved email: how long they last, how many wrong tries kill one, how many may
/// be sent in the window.
const RECOVERY_CODE_LIFETIME: Duration = Duration::from_secs(30 * 60);

const RECOVERY_CODE_TRIES: u32 = 5;

const RECOVERY_SENDS: usize = 3;

const RECOVERY_SEND_WINDOW: Duration = Duration::from_secs(10 * 60);

/// How long a verified code allows setting the new password.
const RECOVERY_TICKET_LIFETIME: Duration = Duration::from_secs(10 * 60);

/// QR challenges per hour: with five tries each, at most 50 guesses an hour at a 1-in-10^8 code.
const RECOVERY_CHALLENGES: usize = 10;

const RECOVERY_CHALLENGE_WINDOW: Duration = Duration::from_secs(60 * 60);

/// Wrong support codes a day.
const SUPPORT_TRIES: u32 = 5;

/// A live recovery code: what is kept of it, when it expires, and the wrong tries it still takes.
pub(in crate::service) struct LiveCode {
    /// The code's digest.
    digest: [u8; 32],
    /// When it stops working.
    expires: SystemTime,
    /// Wrong entries it still takes.
    tries_left: u32,
}

impl LiveCode {
    fn new(digest: [u8; 32], expires: SystemTime) -> Self {
        Self {
            digest,
            expires,
            tries_left: RECOVERY_CODE_TRIES,
        }
    }
}

/// What a verified code gives: the right to set a new password until it expires.
pub(in crate::service) struct Ticket {
    /// The token the caller holds.
    token: String,
    /// When it stops working.
    expires: SystemTime,
}

impl Ticket {
    fn new(now: SystemTime) -> Self {
        Self {
            token: hashing::new_token(),
            expires: now + RECOVERY_TICKET_LIFETIME,
        }
    }
}

/// The support code's day: its date, the wrong entries that day, and whether that day's code was used.
/// Kept in the registry (as `date wrong used`), so a restart changes nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(in crate::service) struct SupportDay {
    /// `YYYY-MM-DD`.
    date: String,
    /// Wrong entries that day.
    wrong: u32,
    /// Whether that day's code was used.
    used: bool,
}

impl SupportDay {
    fn parse(text: &str) -> Option<Self> {
        let mut parts = text.split_whitespace();
        let date = parts.next()?.to_owned();
        let wrong = parts.next()?.parse().ok()?;
        let used = parts.next()? == "1";
        Some(Self { date, wrong, used })
    }

    fn to_text(&self) -> String {
        format!("{} {} {}", self.date, self.wrong, u8::from(self.used))
    }

    /// Counts one entry, `right` or not: what to answer.
    fn enter(&mut self, right: bool) -> Result<(), NvrError> {
        if self.wrong >= SUPPORT_TRIES {
            return Err(NvrError::SupportLocked);
        }
        if self.used {
            return Err(NvrError::CodeUsed);
        }
        if !right {
            self.wrong += 1;
            if self.wrong >= SUPPORT_TRIES {
                tracing::warn!(
                    "five wrong support codes today; the support path is closed until tomorrow"
                );
                return Err(NvrError::SupportLocked);
            }
            return Err(NvrError::CodeInvalid {
                attempts_left: SUPPORT_TRIES - self.wrong,
            });
        }
        self.used = true;
        Ok(())
    }
}

/// The NVR account's password recovery state.
pub(in crate::service) struct AccountRecovery {
    /// The live code (emailed, or behind the QR code).
    code: Option<LiveCode>,
    /// Codes sent, for the send limit.
    sends: RateWindow,
    /// QR challenges made, for the challenge limit.
    challenges: RateWindow,
    /// A verified code's ticket.
    ticket: Option<Ticket>,
}

impl Default for AccountRecovery {
    fn default() -> Self {
        Self {
            code: None,
            sends: RateWindow::new(RECOVERY_SENDS, RECOVERY_SEND_WINDOW),
            challenges: RateWindow::new(RECOVERY_CHALLENGES, RECOVERY_CHALLENGE_WINDOW),
            ticket: None,
        }
    }
}

/// Where the recovery code went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveryCodeSent {
    /// The reserved email, masked (`o***@e***.com`).
    pub masked_email: String,
    /// How long the code lasts.
    pub valid_for: Duration,
}

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

impl Nvr {
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
            recovery
                .sends
                .check(now)
                .map_err(|retry_after| NvrError::SendLimit { retry_after })?;
        }
        let code = format!("{:08}", rand::random::<u32>() % 100_000_000);
        let digest = hashing::digest(&code);
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
            recovery.sends.record(now);
            recovery.code = Some(LiveCode::new(digest, now + RECOVERY_CODE_LIFETIME));
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
        let digest = hashing::digest(code.trim());
        let mut recovery = lock(&self.inner.account_recovery);
        let Some(live) = recovery.code.as_mut() else {
            return Err(NvrError::CodeExpired);
        };
        if now >= live.expires {
            recovery.code = None;
            return Err(NvrError::CodeExpired);
        }
        if !hashing::same_digest(&live.digest, &digest) {
            live.tries_left = live.tries_left.saturating_sub(1);
            let attempts_left = live.tries_left;
            if attempts_left == 0 {
                recovery.code = None;
                return Err(NvrError::CodeAttemptsExhausted);
            }
            return Err(NvrError::CodeInvalid { attempts_left });
        }
        recovery.code = None;
        let ticket = Ticket::new(now);
        let token = ticket.token.clone();
        recovery.ticket = Some(ticket);
        Ok(SecretString::from(token))
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
            if !recovery
                .ticket
                .as_ref()
                .is_some_and(|live| live.token == ticket.expose_secret() && now < live.expires)
            {
                return Err(NvrError::RecoveryExpired);
            }
        }
        let hash = hash_in_background(password).await?;
        let note = AuditNote::new(
            &Actor::System,
            AuditAction::Reset,
            "nvr",
            "password reset with a recovery code",
        );
        self.write_audited(Some(note), move |tx| tx.set_nvr_password_hash(&hash))
            .await??;
        lock(&self.inner.account_recovery).ticket = None;
        lock(&self.inner.sessions).clear();
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
            recovery
                .challenges
                .check(now)
                .map_err(|retry_after| NvrError::ChallengeLimit { retry_after })?;
            recovery.challenges.record(now);
            recovery.code = Some(LiveCode::new(hashing::digest(&code), expires));
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
        let right = hashing::same_digest(&hashing::digest(&given), &hashing::digest(&expected));
        // The day's count is kept in the registry, so a restart does not give five more tries; it is
        // read, checked and written in one transaction, so two entries at once cannot both count as
        // the fourth.
        let today = identity.date.clone();
        let verdict = self
            .with_store(move |store| {
                store.write(|tx| {
                    let stored = tx.nvr_setting(NvrSetting::SupportDay)?;
                    let mut day = stored
                        .as_deref()
                        .and_then(SupportDay::parse)
                        .filter(|day| day.date == today)
                        .unwrap_or(SupportDay {
                            date: today,
                            wrong: 0,
                            used: false,
                        });
                    let verdict = day.enter(right);
                    tx.set_nvr_setting(NvrSetting::SupportDay, &day.to_text())?;
                    Ok(verdict)
                })
            })
            .await??;
        verdict?;
        let ticket = {
            let mut recovery = lock(&self.inner.account_recovery);
            recovery.code = None;
            let ticket = Ticket::new(now);
            let token = ticket.token.clone();
            recovery.ticket = Some(ticket);
            token
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
}
