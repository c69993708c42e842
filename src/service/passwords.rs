//! Changing the password of certified cameras with their current one, one or many at once (each with
//! its own outcome), and the policy every new camera password meets.

use crate::service::ArgumentProblem;
use std::sync::Arc;
use std::time::Duration;

use secrecy::SecretString;

use super::audit::AuditNote;
use super::{Nvr, NvrError, PasswordField, camera_error, lock};
use crate::camera::CameraError;
use crate::model::Credentials;
use crate::model::camera_label;
use crate::model::{Actor, AddedCamera, AuditAction, Caller, CameraId, CameraState};
use crate::rules::policy;

/// Cameras changed at once in a password push.
pub(super) const PUSH_CONCURRENCY: usize = 16;

/// How often vigild asks a camera whether it took a new password a stop interrupted, before it leaves
/// that for the next start.
const FINISH_TRIES: u32 = 6;

/// One camera's outcome in a password push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordPushOutcome {
    /// The camera.
    pub camera: CameraId,
    /// The camera as it is now, or why it was not changed.
    pub result: Result<AddedCamera, NvrError>,
}

/// Checks a new password and its confirmation against the policy for `username`.
pub fn check_new_password(
    password: &str,
    confirmation: &str,
    username: &str,
) -> Result<SecretString, NvrError> {
    if password != confirmation {
        return Err(NvrError::PasswordMismatch);
    }
    let assessment = policy::assess(password, username);
    if !assessment.acceptable() {
        return Err(NvrError::PolicyViolation {
            field: PasswordField::Password,
            unmet: assessment.unmet,
        });
    }
    Ok(SecretString::from(password.to_owned()))
}

impl Nvr {
    /// How a candidate new password for the camera account `username` fares against the policy,
    /// for a live meter while it is typed: whether it is acceptable, how strong it looks, and every
    /// rule it breaks. The commands that set passwords apply the same verdict. Nothing is stored.
    pub fn assess_new_password(&self, password: &str, username: &str) -> policy::Assessment {
        policy::assess(password, username)
    }

    /// Pushes one new password to certified cameras, each with its current password (the Modify path).
    /// Every camera is tried; each gets its own outcome.
    pub async fn change_camera_passwords(
        &self,
        cameras: &[CameraId],
        password: &str,
        confirmation: &str,
        caller: &Caller,
    ) -> Result<Vec<PasswordPushOutcome>, NvrError> {
        let actor = &self.acting_as(caller)?;
        let _command = self.begin_command()?;
        if cameras.is_empty() {
            return Err(NvrError::InvalidArgument {
                field: "cameras",
                problem: ArgumentProblem::Other("no camera chosen".into()),
            });
        }
        if password != confirmation {
            return Err(NvrError::PasswordMismatch);
        }
        // Each camera once, in the order given; at most PUSH_CONCURRENCY sessions at a time.
        let mut seen = std::collections::BTreeSet::new();
        let cameras: Vec<CameraId> = cameras
            .iter()
            .copied()
            .filter(|id| seen.insert(*id))
            .collect();
        let slots = Arc::new(tokio::sync::Semaphore::new(PUSH_CONCURRENCY));
        let mut tasks = tokio::task::JoinSet::new();
        for (order, id) in cameras.iter().copied().enumerate() {
            let nvr = self.clone();
            let password = password.to_owned();
            let actor = actor.clone();
            let slots = slots.clone();
            tasks.spawn(async move {
                let _slot = slots.acquire_owned().await;
                (order, id, nvr.push_password(id, &password, &actor).await)
            });
        }
        let mut outcomes = Vec::with_capacity(cameras.len());
        while let Some(joined) = tasks.join_next().await {
            if let Ok(outcome) = joined {
                outcomes.push(outcome);
            }
        }
        outcomes.sort_by_key(|(order, _, _)| *order);
        Ok(outcomes
            .into_iter()
            .map(|(_, camera, result)| PasswordPushOutcome { camera, result })
            .collect())
    }

    pub(super) async fn push_password(
        &self,
        id: CameraId,
        password: &str,
        actor: &Actor,
    ) -> Result<AddedCamera, NvrError> {
        // Why a camera that is not certified is skipped: the reason it is not, so an offline or locked
        // camera is not sent to Forget Password.
        let (camera, current) = self.answering_with_credentials(id)?;
        let Some(current) = current.filter(|_| camera.status.certified()) else {
            return Err(NvrError::NotCertified { camera: id });
        };
        let new_password = check_new_password(password, password, &camera.username)?;
        let label = camera_label(&camera.identity, &camera.address);
        // Sealed before the camera is told, so a crash between the camera taking it and the registry
        // storing it leaves it for the next start to finish (see `finish_password_changes`).
        self.set_pending_password(id, &camera.username, Some(new_password.clone()))
            .await?;
        if let Err(error) = self
            .inner
            .connector
            .driver(camera.protocol)
            .change_password(
                &camera.address,
                &current,
                camera.clock_offset_secs,
                &new_password,
            )
            .await
        {
            if let Err(problem) = self.set_pending_password(id, &camera.username, None).await {
                tracing::warn!(camera = %id, %problem, "the refused new password stays recorded");
            }
            return Err(self.push_failed(actor, &label, &camera, error).await);
        }
        // The camera has the new password now: record that first, whatever comes next.
        self.audit(actor, AuditAction::PasswordPush, &label, "password changed")
            .await;
        let credentials = Credentials {
            username: camera.username.clone(),
            password: new_password,
        };
        let certification = self
            .inner
            .connector
            .driver(camera.protocol)
            .certify(&camera.address, &credentials)
            .await;
        match certification {
            Ok(certification) => {
                self.store_credentials(id, credentials, Some(certification), None)
                    .await
            }
            Err(error) => {
                // Keep the password the camera has, even though it could not be checked just now:
                // the monitor certifies it at its next check.
                tracing::warn!(camera = %id, %error, "new password set but not yet certified");
                self.store_credentials(id, credentials, None, None).await
            }
        }
    }

    /// An added camera with its stored credentials, unless it is offline or locked: then why, in the
    /// words the installer acts on (an offline camera is told as offline, not as not certified).
    pub(super) fn answering_with_credentials(
        &self,
        id: CameraId,
    ) -> Result<(AddedCamera, Option<Credentials>), NvrError> {
        let (camera, credentials) = {
            let added = lock(&self.inner.added);
            let entry = added.get(&id).ok_or(NvrError::CameraNotFound(id))?;
            (entry.camera.clone(), entry.credentials.clone())
        };
        match camera.status.state {
            CameraState::Offline => Err(NvrError::Unreachable {
                address: camera.address.to_string(),
                detail: "the camera is offline".into(),
            }),
            CameraState::Locked => Err(NvrError::CameraLocked {
                retry_after: self.lock_time_left(&camera),
            }),
            CameraState::Online | CameraState::NotCertified => Ok((camera, credentials)),
        }
    }

    pub(super) async fn push_failed(
        &self,
        actor: &Actor,
        label: &str,
        camera: &AddedCamera,
        error: CameraError,
    ) -> NvrError {
        self.audit(
            actor,
            AuditAction::PasswordPush,
            label,
            &format!("failed: {error}"),
        )
        .await;
        camera_error(error, &camera.address)
    }

    /// Records (or with `None` forgets) the new password on its way to camera `id`.
    async fn set_pending_password(
        &self,
        id: CameraId,
        username: &str,
        password: Option<SecretString>,
    ) -> Result<(), NvrError> {
        let username = username.to_owned();
        Ok(self
            .with_store(move |store| {
                store.write(|tx| tx.set_pending_password(id, &username, password.as_ref()))
            })
            .await??)
    }

    /// Finishes the password changes a stop interrupted after the new password was recorded: each
    /// camera is asked whether it takes the new password. If it does, it is stored as the camera's
    /// (with its audit entry); if the camera refuses it, the camera never took it and the stored
    /// password stands. A camera that does not answer is asked again a few times, then left for the
    /// next start.
    pub(super) fn finish_password_changes(&self, pending: Vec<(CameraId, Credentials)>) {
        for (id, credentials) in pending {
            let nvr = self.clone();
            self.inner
                .tasks
                .spawn(async move { nvr.finish_password_change(id, credentials).await });
        }
    }

    async fn finish_password_change(&self, id: CameraId, credentials: Credentials) {
        let mut wait = Duration::from_secs(2);
        for _ in 0..FINISH_TRIES {
            let Ok(camera) = self.added_camera(id) else {
                return;
            };
            let checked = tokio::select! {
                _ = self.inner.shutdown.cancelled() => return,
                checked = self
                    .inner
                    .connector
                    .driver(camera.protocol)
                    .certify(&camera.address, &credentials) => checked,
            };
            match checked {
                Ok(certification) => {
                    let note = AuditNote::new(
                        &Actor::System,
                        AuditAction::PasswordPush,
                        &camera_label(&certification.identity, &camera.address),
                        "password change finished after a restart",
                    );
                    match self
                        .store_credentials(id, credentials, Some(certification), Some(note))
                        .await
                    {
                        Ok(_) => tracing::info!(
                            camera = %id,
                            "a password change a stop interrupted is finished"
                        ),
                        Err(error) => tracing::warn!(
                            camera = %id,
                            %error,
                            "the camera takes its new password, which cannot be stored"
                        ),
                    }
                    return;
                }
                Err(CameraError::CredentialsRejected) => {
                    match self
                        .set_pending_password(id, &credentials.username, None)
                        .await
                    {
                        Ok(()) => tracing::info!(
                            camera = %id,
                            "a password change stopped before the camera took it; the stored password stands"
                        ),
                        Err(error) => {
                            tracing::warn!(camera = %id, %error, "cannot forget the new password")
                        }
                    }
                    return;
                }
                Err(error) => {
                    tracing::info!(camera = %id, %error, "cannot finish the interrupted password change yet");
                    tokio::select! {
                        _ = self.inner.shutdown.cancelled() => return,
                        _ = tokio::time::sleep(wait) => {}
                    }
                    wait = (wait * 2).min(Duration::from_secs(60));
                }
            }
        }
    }
}
