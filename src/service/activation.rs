//! Activating a camera in factory state: its admin password (under the policy) and its reset email, by
//! whatever means its protocol offers, then, when asked, adding it with that password.

use super::passwords::check_new_password;
use super::recovery::recovery_error;
use super::{Nvr, NvrError};
use crate::mail::is_email_address;
use crate::model::Credentials;
use crate::model::camera_label;
use crate::model::{AddedCamera, AuditAction, Caller};
use crate::service::ArgumentProblem;

/// How an activation went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Activation {
    /// The camera, when it was added afterwards.
    pub camera: Option<AddedCamera>,
    /// Why the camera, activated, was not added when that was asked (add it by hand then).
    pub add_error: Option<NvrError>,
    /// Whether the reset email was set (cameras without the recovery extension cannot take one).
    pub reset_email_set: bool,
}

impl Nvr {
    /// Activates a discovered camera in factory state with an admin password (under the policy) and a
    /// reset email, in one step; then adds it when `add` is set.
    pub async fn activate_camera(
        &self,
        device_key: &str,
        password: &str,
        confirmation: &str,
        reset_email: &str,
        add: bool,
        caller: &Caller,
    ) -> Result<Activation, NvrError> {
        let actor = &self.acting_as(caller)?;
        let _command = self.begin_command()?;
        let device = self.discovered_device(device_key)?;
        if !device.inactive {
            return Err(NvrError::AlreadyActive);
        }
        let reset_email = reset_email.trim();
        if reset_email.is_empty() || !is_email_address(reset_email) {
            return Err(NvrError::InvalidArgument {
                field: "reset email",
                problem: if reset_email.is_empty() {
                    ArgumentProblem::Empty
                } else {
                    ArgumentProblem::NotEmailAddress
                },
            });
        }
        const ADMIN: &str = "admin";
        let new_password = check_new_password(password, confirmation, ADMIN)?;
        let credentials = Credentials {
            username: ADMIN.to_owned(),
            password: new_password.clone(),
        };
        let label = camera_label(&device.identity, &device.address);
        let activated = self
            .inner
            .connector
            .driver(device.protocols.managing())
            .activate(&device.address, &credentials, reset_email)
            .await
            .map_err(|error| recovery_error(error, &device.address));
        let reset_email_set = match activated {
            Ok(reset_email_set) => reset_email_set,
            Err(error) => {
                self.audit(
                    actor,
                    AuditAction::Activation,
                    &label,
                    &format!("failed: {error}"),
                )
                .await;
                return Err(error);
            }
        };
        let outcome = if reset_email_set {
            format!(
                "activated; reset email {}",
                crate::mail::mask_email(reset_email)
            )
        } else {
            "activated; the camera takes no reset email".to_owned()
        };
        self.audit(actor, AuditAction::Activation, &label, &outcome)
            .await;
        self.mark_activated(device_key);
        // The camera is activated whatever happens next: a failed add is reported, not returned.
        let (camera, add_error) = if add {
            let added = match device.added_as {
                // Already added (a camera reset, or replaced at its address): it keeps its channel
                // and takes the credentials it was just activated with.
                Some(id) => {
                    self.recertify(id, credentials, &actor.to_string(), "set by its activation")
                        .await
                }
                None => {
                    self.add_verified(
                        device.address.clone(),
                        Some(device.key.clone()),
                        device.protocols.managing(),
                        credentials,
                        &actor.to_string(),
                        "added after its activation",
                    )
                    .await
                }
            };
            match added {
                Ok(camera) => (Some(camera), None),
                Err(error) => {
                    tracing::warn!(address = %device.address, %error, "camera activated but not added");
                    (None, Some(error))
                }
            }
        } else {
            (None, None)
        };
        Ok(Activation {
            camera,
            add_error,
            reset_email_set,
        })
    }
}
