//! An added camera's credentials: edited by the installer, re-certified in the protocol the camera
//! speaks now (its vendor's own once discovery sees it), and stored with its new status, identity and
//! protocol in one transaction before its monitor restarts with them.

use crate::camera::client::Certification;
use crate::model::{
    AddedCamera, AuditAction, Caller, CameraId, CameraState, CameraStatus, Credentials,
    DeviceIdentity, NvrEvent, Protocol, ReasonKind, StatusReason, camera_label,
};

use super::audit::AuditNote;
use super::cameras::check_credentials;
use super::{CredentialsAre, Nvr, NvrError};

impl Nvr {
    /// Replaces an added camera's credentials after verifying them against the camera. On success the
    /// camera is certified again and its monitor uses the new credentials; on failure nothing changes.
    pub async fn edit_credentials(
        &self,
        id: CameraId,
        username: &str,
        password: &str,
        caller: &Caller,
    ) -> Result<AddedCamera, NvrError> {
        let _command = self.begin_command()?;
        let actor = self.acting_as(caller)?;
        let credentials = check_credentials(username, password)?;
        let camera = self.added_camera(id)?;
        if camera.status.state == CameraState::Locked {
            // Every try while the camera holds the lock would only extend it.
            let retry_after = self.lock_time_left(&camera);
            return Err(NvrError::CameraLocked { retry_after });
        }
        self.recertify(id, credentials, &actor.to_string(), "they work")
            .await
    }

    /// Certifies `credentials` at an added camera (in the protocol it speaks now) and stores them, with
    /// an audit entry by `actor` ending in `outcome`.
    pub(super) async fn recertify(
        &self,
        id: CameraId,
        credentials: Credentials,
        actor: &str,
        outcome: &str,
    ) -> Result<AddedCamera, NvrError> {
        let camera = self.added_camera(id)?;
        let certification = self
            .certify(self.protocol_now(&camera), &camera.address, &credentials)
            .await?;
        let note = AuditNote::by(
            actor,
            AuditAction::CredentialsEdited,
            &camera_label(&certification.identity, &camera.address),
            &format!("stored for user {}; {outcome}", credentials.username),
        );
        self.store_credentials(id, credentials, Some(certification), Some(note))
            .await
    }

    /// The protocol to reach an added camera in now: its vendor's own when discovery sees the camera
    /// speaking one (a camera replaced at its address by another make, or one first added over
    /// ONVIF), else the one it was added with.
    pub(super) fn protocol_now(&self, camera: &AddedCamera) -> Protocol {
        self.discovered_device_of(camera.id)
            .ok()
            .and_then(|d| d.protocols.vendor())
            .unwrap_or(camera.protocol)
    }

    /// Stores new credentials for an added camera and restarts its monitor with them. With the
    /// `certification` they just passed, the camera is certified; without one (the camera took a new
    /// password but did not answer the check), it shows Not certified until its monitor logs in. An
    /// audit `note` is written in the same transaction.
    pub(super) async fn store_credentials(
        &self,
        id: CameraId,
        credentials: Credentials,
        certification: Option<Certification>,
        note: Option<AuditNote>,
    ) -> Result<AddedCamera, NvrError> {
        let _commit = self.inner.commit.lock().await;
        let mut camera = self.added_camera(id)?;
        let now = self.inner.clock.now();
        let status = match &certification {
            Some(_) => CameraStatus::certified_since(if camera.status.certified() {
                camera.status.since
            } else {
                now
            }),
            None => CameraStatus {
                state: CameraState::NotCertified,
                credentials_rejected: false,
                last_error: Some(StatusReason::bare(ReasonKind::PasswordUnconfirmed)),
                last_error_at: Some(now),
                since: now,
            },
        };
        let (identity, offset) = match &certification {
            Some(c) => (
                DeviceIdentity {
                    mac: c.identity.mac.clone().or(camera.identity.mac.clone()),
                    ..c.identity.clone()
                },
                c.clock_offset_secs,
            ),
            None => (camera.identity.clone(), camera.clock_offset_secs),
        };
        let protocol_changed = certification
            .as_ref()
            .map(|c| c.protocol)
            .filter(|p| *p != camera.protocol);
        {
            let credentials = credentials.clone();
            let identity = identity.clone();
            let status = status.clone();
            self.write_audited(note, move |tx| {
                tx.update_credentials(id, &credentials, &identity, &status, offset)?;
                match protocol_changed {
                    Some(protocol) => tx.set_protocol(id, protocol),
                    None => Ok(()),
                }
            })
            .await??;
        }
        camera.username = credentials.username.clone();
        camera.identity = identity;
        if let Some(protocol) = protocol_changed {
            tracing::info!(camera = %id, %protocol, "camera now managed in another protocol");
            camera.protocol = protocol;
        }
        camera.status = status.clone();
        camera.clock_offset_secs = offset;
        let first_check = if certification.is_some() {
            self.settings().monitor.period
        } else {
            std::time::Duration::ZERO
        };
        self.install(
            camera.clone(),
            Some(credentials),
            first_check,
            CredentialsAre::New,
        );
        if certification.is_some() {
            tracing::info!(camera = %id, address = %camera.address, "camera credentials changed and certified");
        } else {
            tracing::info!(camera = %id, address = %camera.address, "camera credentials changed; not yet certified");
        }
        self.emit(NvrEvent::CameraUpdated {
            camera: camera.clone(),
        });
        self.emit(NvrEvent::CameraStatusChanged { id, status });
        Ok(camera)
    }
}
