//! Changing the password of certified cameras with their current one, one or many at once (each with
//! its own outcome), and the policy every new camera password meets.

use crate::service::ArgumentProblem;
use std::sync::Arc;

use secrecy::SecretString;

use super::{Nvr, NvrError, PasswordField, camera_error, lock};
use crate::camera::CameraError;
use crate::model::Credentials;
use crate::model::camera_label;
use crate::model::{Actor, AddedCamera, AuditAction, Caller, CameraId, CameraState};
use crate::rules::policy;

/// Cameras changed at once in a password push.
pub(super) const PUSH_CONCURRENCY: usize = 16;

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
}
