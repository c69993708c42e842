//! The camera side of the vigil recovery extension (docs/recovery-protocol.md): the per-device secret,
//! the reset email, challenges and the 8-digit codes derived from them, the send limit, reset tokens,
//! support codes, activation, and the vendor's side (the phone app's cloud and the support desk) that
//! the simulator also plays.
//!
//! Invariants: codes are HMAC-SHA256 of a per-device secret, never of a global key; a code is good for
//! one challenge, 30 minutes, once, and five wrong entries kill the challenge; a reboot or a new
//! challenge voids the old one; new challenges and sends are rate limited so codes cannot be farmed.

pub mod state;
#[cfg(test)]
mod tests;

use crate::clock::{rfc3339, unix_secs};
use crate::mail::{MailError, OutgoingMail, is_email_address, mask_email};
use crate::sim::camera::{SimCamera, UserChange, UserLevel, constant_time_eq};
use crate::sim::fault::Fault;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use state::{Challenge, ResetToken};
use std::collections::VecDeque;
use std::time::{Duration, SystemTime};

pub use crate::rules::codes::{
    QrPayload, challenge_code, parse_qr_payload, qr_payload, support_code,
};
pub use state::{RecoveryState, RecoveryStats, SharedMailSender};

/// How long a challenge (and so its code) is good for.
pub const CODE_VALIDITY: Duration = Duration::from_secs(30 * 60);

/// Wrong codes a challenge takes before it is dead.
pub const MAX_CODE_ATTEMPTS: u32 = 5;

/// Codes a camera emails per [`SEND_WINDOW`].
pub const SENDS_PER_WINDOW: usize = 3;

/// The window of the send limit.
pub const SEND_WINDOW: Duration = Duration::from_secs(10 * 60);

/// New challenges a camera issues per [`CHALLENGE_WINDOW`]; bounds guessing across challenges.
pub const CHALLENGES_PER_WINDOW: usize = 10;

/// The window of the challenge limit.
pub const CHALLENGE_WINDOW: Duration = Duration::from_secs(60 * 60);

/// How long a reset token from VerifyCode is good for.
pub const TOKEN_VALIDITY: Duration = Duration::from_secs(10 * 60);

/// Wrong support codes a camera takes per day.
pub const MAX_SUPPORT_ATTEMPTS: u32 = 5;

/// The user a reset applies to when none is named.
pub const DEFAULT_RESET_USER: &str = "admin";

/// What GetRecoveryInfo answers.
#[derive(Debug, Clone)]
pub struct RecoveryInfo {
    /// Serial number (also the device id in QR payloads).
    pub serial: String,
    /// MAC address.
    pub mac: String,
    /// The camera's date, `YYYY-MM-DD`.
    pub date: String,
    /// Masked reset email, when one is set.
    pub masked_email: Option<String>,
    /// Whether the camera can reach the internet.
    pub internet: bool,
    /// Supported methods, in protocol words.
    pub methods: Vec<&'static str>,
    /// Whether the camera is in factory state.
    pub inactive: bool,
    /// The user a reset applies to.
    pub reset_user: String,
    /// The challenge nonce, base64url.
    pub challenge: Option<(String, SystemTime)>,
    /// Wrong entries the challenge still takes.
    pub attempts_left: u32,
}

fn prune(times: &mut VecDeque<SystemTime>, now: SystemTime, window: Duration) {
    while times
        .front()
        .is_some_and(|t| now.duration_since(*t).unwrap_or_default() >= window)
    {
        times.pop_front();
    }
}

fn retry_after(times: &VecDeque<SystemTime>, now: SystemTime, window: Duration) -> u64 {
    times
        .front()
        .map(|t| {
            (window.saturating_sub(now.duration_since(*t).unwrap_or_default()))
                .as_secs()
                .max(1)
        })
        .unwrap_or(1)
}

fn date_of(t: SystemTime) -> String {
    rfc3339(t).chars().take(10).collect()
}

fn code_mail(to: &str, model: &str, serial: &str, code: &str) -> OutgoingMail {
    OutgoingMail {
        to: to.to_owned(),
        subject: format!("Verification code for camera {serial}"),
        body: format!(
            "Your verification code to reset the password of camera {model} (serial {serial}) is:\n\n\
             {code}\n\n\
             It is valid for 30 minutes and can be used once. If you did not ask to reset this camera's \
             password, ignore this message; the password has not changed.\n"
        ),
    }
}

impl SimCamera {
    /// GetRecoveryInfo: issues a fresh challenge (voiding the old one) unless `keep_challenge` is set
    /// and a live one exists. No authentication.
    pub fn recovery_info(&self, keep_challenge: bool) -> Result<RecoveryInfo, Fault> {
        let now = self.camera_now();
        let inactive = self.is_inactive();
        let reset_user = self.reset_user();
        let mut r = self.recovery();
        let live = r
            .challenge
            .as_ref()
            .is_some_and(|c| c.expires > now && !c.used && c.wrong < MAX_CODE_ATTEMPTS);
        let reuse_live_challenge = keep_challenge && live;
        if !inactive && !reuse_live_challenge {
            prune(&mut r.challenges_issued, now, CHALLENGE_WINDOW);
            if r.challenges_issued.len() >= CHALLENGES_PER_WINDOW {
                let wait = retry_after(&r.challenges_issued, now, CHALLENGE_WINDOW);
                return Err(Fault::recovery(
                    "vrc:ChallengeLimit",
                    format!("Too many recovery attempts; try again in {wait} s"),
                )
                .with_detail("vrc:RetryAfter", wait.to_string()));
            }
            r.challenges_issued.push_back(now);
            r.challenge = Some(Challenge {
                nonce: rand::random(),
                expires: now + CODE_VALIDITY,
                wrong: 0,
                used: false,
            });
            r.token = None;
            r.stats.challenges += 1;
        }
        let mut methods = Vec::new();
        if !inactive {
            if r.reset_email.is_some() {
                if r.internet {
                    methods.push("SendCode");
                }
                methods.push("AppQr");
            }
            methods.push("SupportCode");
        }
        Ok(RecoveryInfo {
            serial: self.identity().serial.clone(),
            mac: self.identity().mac.clone(),
            date: date_of(now),
            masked_email: r.reset_email.as_deref().map(mask_email),
            internet: r.internet,
            methods,
            inactive,
            reset_user,
            challenge: r
                .challenge
                .as_ref()
                .filter(|_| !inactive)
                .map(|c| (B64URL.encode(c.nonce), c.expires)),
            attempts_left: r.challenge.as_ref().map_or(MAX_CODE_ATTEMPTS, |c| {
                MAX_CODE_ATTEMPTS.saturating_sub(c.wrong)
            }),
        })
    }

    fn reset_user(&self) -> String {
        let users = self.users();
        users
            .iter()
            .find(|(name, _)| name == DEFAULT_RESET_USER)
            .or_else(|| {
                users
                    .iter()
                    .find(|(_, level)| *level == UserLevel::Administrator)
            })
            .map_or_else(|| DEFAULT_RESET_USER.to_owned(), |(name, _)| name.clone())
    }

    /// The live challenge matching `nonce` (when given), or a fault saying why there is none.
    fn live_challenge<'a>(
        r: &'a mut RecoveryState,
        nonce: Option<&str>,
        now: SystemTime,
    ) -> Result<&'a mut Challenge, Fault> {
        let challenge = r.challenge.as_mut().ok_or_else(|| {
            Fault::recovery(
                "vrc:NoChallenge",
                "No recovery challenge; call GetRecoveryInfo first",
            )
        })?;
        if let Some(nonce) = nonce
            && B64URL.encode(challenge.nonce) != nonce.trim()
        {
            return Err(Fault::recovery(
                "vrc:NoChallenge",
                "That challenge was replaced by a newer one or the camera restarted; get a new code",
            ));
        }
        if challenge.used {
            return Err(Fault::recovery(
                "vrc:CodeUsed",
                "This code was already used; get a new one",
            ));
        }
        if challenge.wrong >= MAX_CODE_ATTEMPTS {
            return Err(Fault::recovery(
                "vrc:ChallengeDead",
                "Too many wrong codes for this challenge; get a new code",
            ));
        }
        if challenge.expires <= now {
            return Err(Fault::recovery(
                "vrc:CodeExpired",
                "The code has expired; get a new one",
            ));
        }
        Ok(challenge)
    }

    /// SendCode: the camera emails the current challenge's code to its reset email. Needs internet.
    pub async fn send_code(&self, nonce: Option<&str>) -> Result<(String, SystemTime), Fault> {
        let now = self.camera_now();
        let (mail, expires) = {
            let mut r = self.recovery();
            if !r.internet {
                return Err(Fault::recovery(
                    "vrc:NoInternet",
                    "The camera cannot reach the internet to send email; use the QR code with the phone app",
                ));
            }
            let Some(email) = r.reset_email.clone() else {
                return Err(Fault::recovery(
                    "vrc:NoResetEmail",
                    "The camera has no reset email",
                ));
            };
            prune(&mut r.sends, now, SEND_WINDOW);
            if r.sends.len() >= SENDS_PER_WINDOW {
                let wait = retry_after(&r.sends, now, SEND_WINDOW);
                return Err(Fault::recovery(
                    "vrc:SendLimit",
                    format!("A code was sent {SENDS_PER_WINDOW} times in 10 minutes; try again in {wait} s"),
                )
                .with_detail("vrc:RetryAfter", wait.to_string()));
            }
            let secret = r.device_secret;
            let challenge = Self::live_challenge(&mut r, nonce, now)?;
            let code = challenge_code(&secret, &challenge.nonce, unix_secs(challenge.expires));
            let expires = challenge.expires;
            r.sends.push_back(now);
            (
                code_mail(
                    &email,
                    &self.identity().model,
                    &self.identity().serial,
                    &code,
                ),
                expires,
            )
        };
        let masked = mask_email(&mail.to);
        self.mail_out(mail).await?;
        self.recovery().stats.codes_sent += 1;
        Ok((masked, expires))
    }

    async fn mail_out(&self, mail: OutgoingMail) -> Result<(), Fault> {
        let Some(sender) = self.mail_sender() else {
            return Err(Fault::recovery(
                "vrc:MailFailed",
                "The camera has no mail server configured",
            ));
        };
        sender.send(mail).await.map_err(|e: MailError| {
            Fault::recovery(
                "vrc:MailFailed",
                format!("The camera could not send the email: {e}"),
            )
        })
    }

    /// VerifyCode: a right code yields a single-use reset token; a wrong one costs an attempt.
    pub fn verify_code(
        &self,
        nonce: Option<&str>,
        code: &str,
    ) -> Result<(String, SystemTime), Fault> {
        let now = self.camera_now();
        let mut r = self.recovery();
        let secret = r.device_secret;
        let challenge = Self::live_challenge(&mut r, nonce, now)?;
        let expected = challenge_code(&secret, &challenge.nonce, unix_secs(challenge.expires));
        if !constant_time_eq(expected.as_bytes(), code.trim().as_bytes()) {
            challenge.wrong += 1;
            let left = MAX_CODE_ATTEMPTS.saturating_sub(challenge.wrong);
            r.stats.wrong_codes += 1;
            if left == 0 {
                return Err(Fault::recovery(
                    "vrc:ChallengeDead",
                    "Too many wrong codes for this challenge; get a new code",
                )
                .with_detail("vrc:AttemptsLeft", "0"));
            }
            return Err(Fault::recovery(
                "vrc:CodeInvalid",
                format!("The code is not right; {left} attempts left"),
            )
            .with_detail("vrc:AttemptsLeft", left.to_string()));
        }
        challenge.used = true;
        Ok(Self::issue_token(&mut r, now))
    }

    fn issue_token(r: &mut RecoveryState, now: SystemTime) -> (String, SystemTime) {
        let value = B64URL.encode(rand::random::<[u8; 32]>());
        let expires = now + TOKEN_VALIDITY;
        r.token = Some(ResetToken {
            value: value.clone(),
            expires,
        });
        (value, expires)
    }

    /// VerifySupportCode: today's support code (from the vendor's support desk) yields a reset token.
    pub fn verify_support_code(&self, code: &str) -> Result<(String, SystemTime), Fault> {
        let now = self.camera_now();
        let today = date_of(now);
        let mut r = self.recovery();
        let wrong = r.support_wrong.get(&today).copied().unwrap_or(0);
        if wrong >= MAX_SUPPORT_ATTEMPTS {
            return Err(Fault::recovery(
                "vrc:SupportLocked",
                "Too many wrong support codes today; try again tomorrow",
            ));
        }
        if r.support_used.contains(&today) {
            return Err(Fault::recovery(
                "vrc:CodeUsed",
                "Today's support code was already used; ask support again tomorrow",
            ));
        }
        let expected = support_code(&r.device_secret, &self.identity().serial, &today);
        if !constant_time_eq(expected.as_bytes(), code.trim().as_bytes()) {
            r.support_wrong.insert(today, wrong + 1);
            r.stats.wrong_codes += 1;
            let left = MAX_SUPPORT_ATTEMPTS - wrong - 1;
            return Err(Fault::recovery(
                "vrc:CodeInvalid",
                format!("The support code is not right for today; {left} attempts left"),
            )
            .with_detail("vrc:AttemptsLeft", left.to_string()));
        }
        r.support_used.insert(today);
        Ok(Self::issue_token(&mut r, now))
    }

    /// ResetPassword: sets `username`'s password with a reset token, once.
    pub fn reset_password(&self, token: &str, username: &str, password: &str) -> Result<(), Fault> {
        let now = self.camera_now();
        // Checked, used and spent under one hold of the recovery state, so two requests with one
        // token cannot both pass the check. (The user list's lock is taken inside it, never the
        // other way round.)
        let mut r = self.recovery();
        let valid = r.token.as_ref().is_some_and(|t| {
            constant_time_eq(t.value.as_bytes(), token.trim().as_bytes()) && t.expires > now
        });
        if !valid {
            return Err(Fault::recovery(
                "vrc:TokenInvalid",
                "The reset token is not valid or has expired; verify a code again",
            ));
        }
        let change = UserChange {
            username: username.to_owned(),
            password: Some(password.to_owned()),
            level: None,
        };
        self.set_users(&crate::sim::camera::Caller::FactoryState, &[change])?;
        r.token = None;
        r.challenge = None;
        r.stats.resets += 1;
        Ok(())
    }

    /// SetResetEmail (administrators).
    pub fn set_reset_email(&self, email: &str) -> Result<(), Fault> {
        if !is_email_address(email) {
            return Err(Fault::invalid_arg("That is not an email address"));
        }
        self.recovery().reset_email = Some(email.to_owned());
        Ok(())
    }

    /// ActivateDevice: in factory state only, creates the administrator and sets the reset email.
    pub fn activate(&self, username: &str, password: &str, email: &str) -> Result<(), Fault> {
        if !self.is_inactive() {
            return Err(Fault::recovery(
                "vrc:AlreadyActive",
                "The camera is already activated",
            ));
        }
        if !is_email_address(email) {
            return Err(Fault::invalid_arg(
                "The reset email is not an email address",
            ));
        }
        self.create_users(&[UserChange {
            username: username.to_owned(),
            password: Some(password.to_owned()),
            level: Some(UserLevel::Administrator),
        }])?;
        let mut r = self.recovery();
        r.reset_email = Some(email.to_owned());
        r.stats.activations += 1;
        Ok(())
    }

    /// Turns the camera's internet access on or off.
    pub fn set_internet(&self, internet: bool) {
        self.recovery().internet = internet;
    }

    /// The reset email, unmasked (for the simulated vendor and for tests).
    pub fn reset_email(&self) -> Option<String> {
        self.recovery().reset_email.clone()
    }

    /// What the recovery side has seen.
    pub fn recovery_stats(&self) -> RecoveryStats {
        self.recovery().stats.clone()
    }

    /// What the recorder's QR code shows for this camera now: its current, unused challenge, as the
    /// phone app reads it from the screen. `None` when there is none.
    pub fn shown_qr(&self) -> Option<QrPayload> {
        let r = self.recovery();
        let challenge = r.challenge.as_ref().filter(|c| !c.used)?;
        Some(QrPayload {
            device: self.identity().serial.clone(),
            nonce: challenge.nonce,
            expires_unix: unix_secs(challenge.expires),
        })
    }

    /// The vendor's phone-app cloud: computes the code for a scanned challenge from this camera's secret
    /// and emails it to the reset email registered for the camera. Returns the masked address.
    pub async fn vendor_send_app_code(
        &self,
        payload: &QrPayload,
        now: SystemTime,
    ) -> Result<String, String> {
        if payload.expires_unix <= unix_secs(now) {
            return Err("the QR code has expired; show a new one".to_owned());
        }
        let (mail, masked) = {
            let r = self.recovery();
            let email = r
                .reset_email
                .clone()
                .ok_or("the camera has no reset email registered")?;
            let code = challenge_code(&r.device_secret, &payload.nonce, payload.expires_unix);
            let masked = mask_email(&email);
            (
                code_mail(
                    &email,
                    &self.identity().model,
                    &self.identity().serial,
                    &code,
                ),
                masked,
            )
        };
        let sender = self.mail_sender().ok_or("no mail server configured")?;
        sender.send(mail).await.map_err(|e| e.to_string())?;
        Ok(masked)
    }

    /// The vendor's support desk: the support code for this camera on `date`.
    pub fn vendor_support_code(&self, date: &str) -> String {
        support_code(
            &self.recovery().device_secret,
            &self.identity().serial,
            date,
        )
    }

    /// Today's password from the vendor's support desk, by the camera's own date (the Dahua persona
    /// takes it as the administrator's at login, as Lorex's support path has it).
    pub fn support_password_today(&self) -> String {
        self.vendor_support_code(&date_of(self.camera_now()))
    }

    /// The camera's local time as Dahua's `DevInit.getCurrentTime` gives it: `YYYY-MM-DD HH:MM:SS`.
    pub fn local_time_text(&self) -> String {
        rfc3339(self.camera_now())
            .chars()
            .take(19)
            .collect::<String>()
            .replace('T', " ")
    }

    /// A reboot: the challenge and any reset token are void.
    pub fn reboot_recovery(&self) {
        self.recovery().void();
    }
}
