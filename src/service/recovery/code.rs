//! A flow's code step: the camera emails a code (Send Code), a new challenge (New code, or the QR code
//! for the phone app), and checking a code or a support code, with the wrong tries left.

use super::super::audit::AuditNote;
use super::super::{Nvr, NvrError};
use super::{CodeKind, FlowSecrets, TOKEN_LIFETIME_UNSTATED, apply_info, recovery_error};
use crate::camera::recovery_client::ResetToken;
use crate::model::RecoveryMethod;
use crate::model::{Actor, AuditAction, Caller};
use crate::model::{RecoveryFlow, RecoveryId, RecoveryStep, camera_to_local};
use crate::service::ArgumentProblem;

impl Nvr {
    /// Send Code: the camera emails the code to its reset email. Only with internet; otherwise the
    /// error says to scan the QR code.
    pub async fn send_code(
        &self,
        id: RecoveryId,
        caller: &Caller,
    ) -> Result<RecoveryFlow, NvrError> {
        let actor = &self.acting_as(caller)?;
        let (_busy, mut flow) = self.lock_flow(id).await?;
        Self::require_step(
            &flow,
            RecoveryStep::AwaitingCode,
            "a code was already accepted; set the new password",
        )?;
        if !flow.internet {
            return Err(NvrError::NoInternet);
        }
        let nonce = flow
            .challenge
            .as_ref()
            .map(|c| c.nonce.clone())
            .ok_or(NvrError::ChallengeReplaced)?;
        let label = flow.camera_label();
        match self
            .inner
            .connector
            .driver(flow.protocol.managed_as())
            .send_code(&flow.address, &nonce)
            .await
        {
            Ok((reported, _)) => {
                // A camera that does not say where it sent the code sent it to its reset email.
                let masked = if reported.is_empty() {
                    flow.masked_email.clone().unwrap_or_default()
                } else {
                    crate::mail::ensure_masked(&reported)
                };
                let note = AuditNote::new(
                    actor,
                    AuditAction::CodeSent,
                    &label,
                    &format!("sent to {masked}"),
                );
                flow.code_sent_to = Some(masked);
                flow.failure = None;
                self.save_flow_audited(flow, None, Some(note)).await
            }
            Err(error) => {
                let error = recovery_error(error, &flow.address);
                let outcome = format!("not sent: {error}");
                if error == NvrError::NoInternet {
                    flow.internet = false;
                    flow.methods.retain(|m| *m != RecoveryMethod::SendCode);
                    let note = AuditNote::new(actor, AuditAction::CodeSent, &label, &outcome);
                    self.save_flow_audited(flow, None, Some(note)).await?;
                } else {
                    self.audit(actor, AuditAction::CodeSent, &label, &outcome)
                        .await;
                }
                Err(error)
            }
        }
    }

    /// Gets a new code: a fresh challenge from the camera (after too many wrong codes, expiry, or a
    /// camera restart). The attempts count starts again.
    pub async fn new_challenge(
        &self,
        id: RecoveryId,
        caller: &Caller,
    ) -> Result<RecoveryFlow, NvrError> {
        let actor = &self.acting_as(caller)?;
        let (_busy, mut flow) = self.lock_flow(id).await?;
        Self::require_step(
            &flow,
            RecoveryStep::AwaitingCode,
            "a code was already accepted; set the new password",
        )?;
        let label = flow.camera_label();
        let info = match self
            .fresh_recovery_info(flow.protocol, &flow.address, false)
            .await
        {
            Ok(info) => info,
            Err(error) => {
                self.audit(
                    actor,
                    AuditAction::NewCode,
                    &label,
                    &format!("refused: {error}"),
                )
                .await;
                return Err(error);
            }
        };
        apply_info(&mut flow, &info);
        flow.code_sent_to = None;
        flow.failure = None;
        let note = AuditNote::new(actor, AuditAction::NewCode, &label, "new code issued");
        self.save_flow_audited(flow, None, Some(note)).await
    }

    /// Checks the code the installer typed (8 digits, from the email).
    pub async fn verify_code(
        &self,
        id: RecoveryId,
        code: &str,
        caller: &Caller,
    ) -> Result<RecoveryFlow, NvrError> {
        let actor = &self.acting_as(caller)?;
        self.verify(id, code, CodeKind::Verification, actor).await
    }

    /// Checks a support code (10 digits, from the vendor's support desk).
    pub async fn verify_support_code(
        &self,
        id: RecoveryId,
        code: &str,
        caller: &Caller,
    ) -> Result<RecoveryFlow, NvrError> {
        let actor = &self.acting_as(caller)?;
        self.verify(id, code, CodeKind::Support, actor).await
    }

    pub(super) async fn verify(
        &self,
        id: RecoveryId,
        code: &str,
        kind: CodeKind,
        actor: &Actor,
    ) -> Result<RecoveryFlow, NvrError> {
        let code = code.trim();
        if code.len() != kind.digits() || !code.chars().all(|c| c.is_ascii_digit()) {
            return Err(NvrError::InvalidArgument {
                field: "code",
                problem: ArgumentProblem::NotDigits {
                    digits: kind.digits(),
                },
            });
        }
        let support = kind == CodeKind::Support;
        let (_busy, mut flow) = self.lock_flow(id).await?;
        Self::require_step(
            &flow,
            RecoveryStep::AwaitingCode,
            "a code was already accepted; set the new password",
        )?;
        let driver = self.inner.connector.driver(flow.protocol.managed_as());
        let result = if support {
            driver.verify_support_code(&flow.address, code).await
        } else {
            let nonce = flow
                .challenge
                .as_ref()
                .map(|c| c.nonce.clone())
                .ok_or(NvrError::ChallengeReplaced)?;
            if flow.time_left(self.inner.clock.now()).is_zero() {
                return Err(NvrError::CodeExpired);
            }
            if flow.attempts_left() == 0 {
                // Already dead: not asked again, and not another wrong entry.
                return Err(NvrError::CodeAttemptsExhausted);
            }
            driver
                .verify_code(&flow.address, &nonce, code, flow.attempts_left())
                .await
        };
        let label = flow.camera_label();
        match result {
            Ok(ResetToken { secret, expires }) => {
                flow.step = RecoveryStep::CodeVerified;
                flow.failure = None;
                // A camera that does not say gives the usual five minutes, counted here.
                let expires = expires.map_or_else(
                    || self.inner.clock.now() + TOKEN_LIFETIME_UNSTATED,
                    |e| camera_to_local(e, flow.clock_offset_secs),
                );
                tracing::info!(flow = %id, camera = %label, "verification code accepted");
                self.save_flow(flow, Some(FlowSecrets::token(secret, expires)))
                    .await
            }
            Err(error) => {
                let error = recovery_error(error, &flow.address);
                let kind = if support {
                    "wrong support code"
                } else {
                    "wrong code"
                };
                // The camera's verdict is the answer even when it cannot be stored: the installer
                // must see how many attempts are left. The camera keeps the count that matters.
                let saved = match &error {
                    NvrError::CodeInvalid { attempts_left } => {
                        let note = AuditNote::new(
                            actor,
                            AuditAction::WrongCode,
                            &label,
                            &format!("{kind}; {attempts_left} attempts left"),
                        );
                        if !support && let Some(challenge) = flow.challenge.as_mut() {
                            challenge.attempts_left = *attempts_left;
                        }
                        self.save_flow_audited(flow, None, Some(note))
                            .await
                            .map(drop)
                    }
                    NvrError::CodeAttemptsExhausted => {
                        let note = AuditNote::new(
                            actor,
                            AuditAction::WrongCode,
                            &label,
                            &format!("{kind}; no attempts left"),
                        );
                        if let Some(challenge) = flow.challenge.as_mut() {
                            challenge.attempts_left = 0;
                        }
                        self.save_flow_audited(flow, None, Some(note))
                            .await
                            .map(drop)
                    }
                    NvrError::SupportLocked => {
                        self.audit(
                            actor,
                            AuditAction::WrongCode,
                            &label,
                            "support code refused: too many today",
                        )
                        .await;
                        Ok(())
                    }
                    _ => Ok(()),
                };
                if let Err(storage) = saved {
                    tracing::error!(flow = %id, %storage, "wrong code not recorded");
                }
                Err(error)
            }
        }
    }
}
