//! A flow's last steps: the new password (under the policy) goes to the camera with the reset token,
//! is certified, and the camera is added again; or the flow is cancelled.

use secrecy::SecretString;

use super::super::audit::AuditNote;
use super::super::passwords::check_new_password;
use super::super::{Nvr, NvrError, camera_error, lock};
use super::{FlowSecrets, recovery_error};
use crate::camera::recovery_client::ResetToken;
use crate::model::Credentials;
use crate::model::{AuditAction, Caller};
use crate::model::{RecoveryFlow, RecoveryId, RecoveryStep};

impl Nvr {
    /// Sets the new password: checks it and its confirmation against the policy, resets it on the
    /// camera, checks that it certifies, and adds the camera (again). The flow ends Completed.
    pub async fn complete_reset(
        &self,
        id: RecoveryId,
        password: &str,
        confirmation: &str,
        caller: &Caller,
    ) -> Result<RecoveryFlow, NvrError> {
        let actor = &self.acting_as(caller)?;
        let (_busy, mut flow) = self.lock_flow(id).await?;
        Self::require_step(
            &flow,
            RecoveryStep::CodeVerified,
            "enter the verification code first",
        )?;
        let new_password = check_new_password(password, confirmation, &flow.reset_user)?;
        let token = lock(&self.inner.flows)
            .get(&id)
            .and_then(|e| e.token.clone());
        let Some((token, token_expires)) = token.filter(|(_, e)| *e > self.inner.clock.now())
        else {
            flow.step = RecoveryStep::Expired;
            flow.failure =
                Some("The permission to reset ran out; start Forget Password again.".into());
            self.save_flow(flow, Some(FlowSecrets::default())).await?;
            return Err(NvrError::RecoveryExpired);
        };
        // Record the new password before the camera has it: a crash from here on can still finish.
        flow.step = RecoveryStep::Resetting;
        let flow = self
            .save_flow(
                flow,
                Some(FlowSecrets {
                    token: Some((token.clone(), token_expires)),
                    new_password: Some(new_password.clone()),
                }),
            )
            .await?;
        let camera_token = ResetToken {
            secret: token.clone(),
            expires: Some(token_expires),
        };
        let reset_email = self.reset_email_for_a_fresh_set_up().await;
        let reset = self
            .inner
            .connector
            .driver(flow.protocol.managed_as())
            .reset_password(
                &flow.address,
                &camera_token,
                &flow.reset_user,
                &new_password,
                &reset_email,
            )
            .await;
        let label = flow.camera_label();
        if let Err(error) = reset {
            let error = recovery_error(error, &flow.address);
            // The camera may have taken the password and the answer got lost on the way back.
            let credentials = Credentials {
                username: flow.reset_user.clone(),
                password: new_password.clone(),
            };
            let took = self
                .inner
                .connector
                .driver(flow.protocol.managed_as())
                .certify(&flow.address, &credentials)
                .await
                .is_ok();
            if !took {
                let note = AuditNote::new(
                    actor,
                    AuditAction::Reset,
                    &label,
                    &format!("failed: {error}"),
                );
                let mut back = flow;
                let secrets = if error == NvrError::RecoveryExpired {
                    back.step = RecoveryStep::Expired;
                    back.failure = Some(
                        "The permission to reset ran out; start Forget Password again.".into(),
                    );
                    FlowSecrets::default()
                } else {
                    back.step = RecoveryStep::CodeVerified;
                    FlowSecrets::token(token, token_expires)
                };
                if let Err(storage) = self
                    .save_flow_audited(back, Some(secrets), Some(note))
                    .await
                {
                    // Still Resetting with the new password recorded: the resume task settles it.
                    self.spawn_resume_reset(id);
                    return Err(storage);
                }
                return Err(error);
            }
            tracing::info!(flow = %id, %error, "the reset answer was lost, but the camera took the new password");
        }
        let note = AuditNote::new(actor, AuditAction::Reset, &label, "password reset");
        self.finish_reset(flow, new_password, note).await
    }

    /// After the camera took the new password: check it certifies, add the camera, end the flow. The
    /// reset's audit entry (`note`) is stored with the flow's end, whichever it is; should vigild stop
    /// before that, the resumed flow writes it.
    pub(super) async fn finish_reset(
        &self,
        mut flow: RecoveryFlow,
        new_password: SecretString,
        mut note: AuditNote,
    ) -> Result<RecoveryFlow, NvrError> {
        let credentials = Credentials {
            username: flow.reset_user.clone(),
            password: new_password,
        };
        let certification = match self
            .inner
            .connector
            .driver(flow.protocol.managed_as())
            .certify(&flow.address, &credentials)
            .await
        {
            Ok(c) => c,
            Err(error) => {
                flow.step = RecoveryStep::Failed;
                flow.failure = Some(format!(
                    "The password was reset, but the camera does not accept it yet ({error}). Add the camera with the new password."
                ));
                let error = camera_error(error, &flow.address);
                note.outcome
                    .push_str("; the camera does not accept the new password yet");
                self.save_flow_audited(flow, Some(FlowSecrets::default()), Some(note))
                    .await?;
                return Err(error);
            }
        };
        let mut result_camera = None;
        if flow.add_after_reset {
            // Still added (the camera was not removed first): found by its key, or by its address
            // when it has no key (added by IP).
            let still_added = self
                .discovered_device(&flow.device_key)
                .ok()
                .and_then(|d| d.added_as)
                .or_else(|| {
                    self.added_cameras()
                        .into_iter()
                        .find(|c| c.address == flow.address)
                        .map(|c| c.id)
                });
            let added = match still_added {
                Some(id) => {
                    self.store_credentials(id, credentials, Some(certification), None)
                        .await
                }
                None => {
                    self.add_verified(
                        flow.address.clone(),
                        Some(flow.device_key.clone()).filter(|key| !key.is_empty()),
                        flow.protocol.managed_as(),
                        credentials,
                        &flow.actor,
                        "added again after its password reset",
                    )
                    .await
                }
            };
            match added {
                Ok(camera) => result_camera = Some(camera.id),
                Err(error) => {
                    flow.step = RecoveryStep::Failed;
                    flow.failure = Some(format!(
                        "The password was reset and works, but the camera could not be added: {error}"
                    ));
                    note.outcome.push_str("; the camera was not added");
                    self.save_flow_audited(flow, Some(FlowSecrets::default()), Some(note))
                        .await?;
                    return Err(error);
                }
            }
        }
        flow.step = RecoveryStep::Completed;
        flow.result_camera = result_camera;
        flow.failure = None;
        tracing::info!(flow = %flow.id, camera = %flow.camera_label(), "password reset and camera certified");
        self.save_flow_audited(flow, Some(FlowSecrets::default()), Some(note))
            .await
    }

    /// Cancels a flow. A camera removed first is not added back (its password is unknown).
    pub async fn cancel_recovery(
        &self,
        id: RecoveryId,
        caller: &Caller,
    ) -> Result<RecoveryFlow, NvrError> {
        let actor = &self.acting_as(caller)?;
        let (_busy, mut flow) = self.lock_flow(id).await?;
        if !flow.step.is_active() {
            return Ok(flow);
        }
        let outcome = if flow.removed_camera.is_some() {
            "cancelled; the camera removed before the reset is not added back"
        } else {
            "cancelled"
        };
        let note = AuditNote::new(
            actor,
            AuditAction::RecoveryCancelled,
            &flow.camera_label(),
            outcome,
        );
        flow.step = RecoveryStep::Cancelled;
        self.save_flow_audited(flow, Some(FlowSecrets::default()), Some(note))
            .await
    }
}
