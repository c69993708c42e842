//! `org.vigil.Nvr1.Recovery` at `/org/vigil/Nvr1/recovery/<id>`: one forget-password flow, its state as
//! properties (step, masked reset email, internet, methods, QR payload, attempts and time left) and its
//! steps as methods. PropertiesChanged follows every change; `Ended` says how it ended. No code,
//! token or password is ever a property or in a signal.

use std::borrow::Cow;
use std::collections::HashMap;

use zbus::message::Header;
use zbus::names::InterfaceName;
use zbus::object_server::SignalEmitter;
use zbus::{OwnedObjectPath, Variant, interface};

use crate::clock::unix_secs;
use crate::dbus::auth::Access;
use crate::dbus::auth::{authorized, check_text};
use crate::dbus::error::DbusError;
use crate::dbus::read_only::ReadOnly;
use crate::dbus::{Shared, camera_path, no_object, recovery_path};
use crate::model::{Caller, RecoveryMethod};
use crate::model::{RecoveryFlow, RecoveryId};

/// One flow object. It holds only the id; properties are read from the service.
pub struct Recovery {
    shared: Shared,
    id: RecoveryId,
}

impl Recovery {
    /// The object for flow `id`.
    pub fn new(shared: Shared, id: RecoveryId) -> Self {
        Self { shared, id }
    }

    /// One property; without a header, as for [`super::camera::Camera`]'s.
    async fn read<T: Default>(
        &self,
        header: Option<&Header<'_>>,
        field: impl FnOnce(&RecoveryFlow) -> T,
    ) -> Result<T, DbusError> {
        let Some(header) = header else {
            return Ok(self
                .shared
                .nvr
                .with_recovery(self.id, field)
                .unwrap_or_default());
        };
        self.shared.auth.check(header, Access::Read).await?;
        self.shared
            .nvr
            .with_recovery(self.id, field)
            .ok_or_else(|| DbusError::NotFound(format!("no password reset {}", self.id)))
    }
}

fn method_name(method: &RecoveryMethod) -> String {
    match method {
        RecoveryMethod::SendCode => "send_code",
        RecoveryMethod::AppQr => "app_qr",
        RecoveryMethod::SupportCode => "support_code",
    }
    .to_owned()
}

/// The interface name.
pub(crate) const INTERFACE: &str = "org.vigil.Nvr1.Recovery";

#[interface(name = "org.vigil.Nvr1.Recovery")]
impl Recovery {
    /// The camera emails the code to its reset email (needs internet; otherwise `NoInternet`).
    async fn send_code(&self, #[zbus(header)] header: Header<'_>) -> Result<(), DbusError> {
        authorized(&self.shared, &header, Access::Admin, async |actor| {
            self.shared
                .nvr
                .send_code(self.id, &Caller::from(actor))
                .await?;
            Ok(())
        })
        .await
    }

    /// Gets a fresh challenge (a new code) from the camera.
    async fn new_code(&self, #[zbus(header)] header: Header<'_>) -> Result<(), DbusError> {
        authorized(&self.shared, &header, Access::Admin, async |actor| {
            self.shared
                .nvr
                .new_challenge(self.id, &Caller::from(actor))
                .await?;
            Ok(())
        })
        .await
    }

    /// Checks the 8-digit code from the email (or the phone app's email).
    async fn verify_code(
        &self,
        #[zbus(header)] header: Header<'_>,
        code: String,
    ) -> Result<(), DbusError> {
        authorized(&self.shared, &header, Access::Admin, async |actor| {
            check_text("code", &code, 32)?;
            self.shared
                .nvr
                .verify_code(self.id, &code, &Caller::from(actor))
                .await?;
            Ok(())
        })
        .await
    }

    /// Checks a 10-digit support code (from the vendor's support desk).
    async fn verify_support_code(
        &self,
        #[zbus(header)] header: Header<'_>,
        code: String,
    ) -> Result<(), DbusError> {
        authorized(&self.shared, &header, Access::Admin, async |actor| {
            check_text("code", &code, 32)?;
            self.shared
                .nvr
                .verify_support_code(self.id, &code, &Caller::from(actor))
                .await?;
            Ok(())
        })
        .await
    }

    /// Sets the new password (policy-checked), resets it on the camera, checks it certifies and adds
    /// the camera. Returns the added camera's path, or "/" when it was not added.
    async fn set_password(
        &self,
        #[zbus(header)] header: Header<'_>,
        password: String,
        confirmation: String,
    ) -> Result<OwnedObjectPath, DbusError> {
        authorized(&self.shared, &header, Access::Admin, async |actor| {
            check_text("password", &password, 128)?;
            check_text("confirmation", &confirmation, 128)?;
            let flow = self
                .shared
                .nvr
                .complete_reset(self.id, &password, &confirmation, &Caller::from(actor))
                .await?;
            Ok(flow
                .result_camera
                .map(camera_path)
                .unwrap_or_else(no_object))
        })
        .await
    }

    /// Cancels the flow.
    async fn cancel(&self, #[zbus(header)] header: Header<'_>) -> Result<(), DbusError> {
        authorized(&self.shared, &header, Access::Admin, async |actor| {
            self.shared
                .nvr
                .cancel_recovery(self.id, &Caller::from(actor))
                .await?;
            Ok(())
        })
        .await
    }

    /// The flow's id.
    #[zbus(property(emits_changed_signal = "const"))]
    async fn id(&self, #[zbus(header)] header: Option<Header<'_>>) -> Result<i64, DbusError> {
        self.read(header.as_ref(), |f| f.id.0).await
    }

    /// `awaiting_code`, `code_verified`, `resetting`, `completed`, `failed`, `expired` or `cancelled`.
    #[zbus(property)]
    async fn step(&self, #[zbus(header)] header: Option<Header<'_>>) -> Result<String, DbusError> {
        self.read(header.as_ref(), |f| f.step.as_str().to_owned())
            .await
    }

    /// The discovered device's key.
    #[zbus(property(emits_changed_signal = "const"))]
    async fn device_key(
        &self,
        #[zbus(header)] header: Option<Header<'_>>,
    ) -> Result<String, DbusError> {
        self.read(header.as_ref(), |f| f.device_key.clone()).await
    }

    /// The camera's serial number (support needs it with the date).
    #[zbus(property(emits_changed_signal = "const"))]
    async fn serial(
        &self,
        #[zbus(header)] header: Option<Header<'_>>,
    ) -> Result<String, DbusError> {
        self.read(header.as_ref(), |f| f.identity.serial.clone())
            .await
    }

    /// The camera's model.
    #[zbus(property(emits_changed_signal = "const"))]
    async fn model(&self, #[zbus(header)] header: Option<Header<'_>>) -> Result<String, DbusError> {
        self.read(header.as_ref(), |f| f.identity.model.clone())
            .await
    }

    /// `host:port` of the camera.
    #[zbus(property(emits_changed_signal = "const"))]
    async fn address(
        &self,
        #[zbus(header)] header: Option<Header<'_>>,
    ) -> Result<String, DbusError> {
        self.read(header.as_ref(), |f| f.address.to_string()).await
    }

    /// The camera user whose password is reset.
    #[zbus(property(emits_changed_signal = "const"))]
    async fn reset_user(
        &self,
        #[zbus(header)] header: Option<Header<'_>>,
    ) -> Result<String, DbusError> {
        self.read(header.as_ref(), |f| f.reset_user.clone()).await
    }

    /// The masked reset email; empty when the camera has none.
    #[zbus(property)]
    async fn masked_email(
        &self,
        #[zbus(header)] header: Option<Header<'_>>,
    ) -> Result<String, DbusError> {
        self.read(header.as_ref(), |f| {
            f.masked_email.clone().unwrap_or_default()
        })
        .await
    }

    /// Whether the camera can email the code itself.
    #[zbus(property)]
    async fn internet(
        &self,
        #[zbus(header)] header: Option<Header<'_>>,
    ) -> Result<bool, DbusError> {
        self.read(header.as_ref(), |f| f.internet).await
    }

    /// The protocol the reset runs in: `vigil` (Vigil's extension, over ONVIF) or the camera vendor's
    /// own (`dahua`).
    #[zbus(property(emits_changed_signal = "const"))]
    async fn protocol(
        &self,
        #[zbus(header)] header: Option<Header<'_>>,
    ) -> Result<String, DbusError> {
        self.read(header.as_ref(), |f| f.protocol.as_str().to_owned())
            .await
    }

    /// The vendor's phone app that scans the QR code (`DMSS`, `Hik-Connect`); empty when any vendor's
    /// app that adopts Vigil's extension does.
    #[zbus(property(emits_changed_signal = "const"))]
    async fn phone_app(
        &self,
        #[zbus(header)] header: Option<Header<'_>>,
    ) -> Result<String, DbusError> {
        self.read(header.as_ref(), |f| {
            f.protocol.phone_app().unwrap_or_default().to_owned()
        })
        .await
    }

    /// Ways to get a code: `send_code`, `app_qr`, `support_code`.
    #[zbus(property)]
    async fn methods(
        &self,
        #[zbus(header)] header: Option<Header<'_>>,
    ) -> Result<Vec<String>, DbusError> {
        self.read(header.as_ref(), |f| {
            f.methods.iter().map(method_name).collect()
        })
        .await
    }

    /// The camera's date (YYYY-MM-DD), for the support code.
    #[zbus(property)]
    async fn camera_date(
        &self,
        #[zbus(header)] header: Option<Header<'_>>,
    ) -> Result<String, DbusError> {
        self.read(header.as_ref(), |f| f.camera_date.clone()).await
    }

    /// When the code expires, seconds since the epoch (NVR clock); 0 when there is no challenge.
    #[zbus(property)]
    async fn expires_at(
        &self,
        #[zbus(header)] header: Option<Header<'_>>,
    ) -> Result<i64, DbusError> {
        self.read(header.as_ref(), |f| {
            f.challenge.as_ref().map_or(0, |c| unix_secs(c.expires))
        })
        .await
    }

    /// Wrong codes the challenge still takes.
    #[zbus(property)]
    async fn attempts_left(
        &self,
        #[zbus(header)] header: Option<Header<'_>>,
    ) -> Result<u32, DbusError> {
        self.read(header.as_ref(), |f| f.attempts_left()).await
    }

    /// What the QR code for the phone app encodes (no secret).
    #[zbus(property)]
    async fn qr_payload(
        &self,
        #[zbus(header)] header: Option<Header<'_>>,
    ) -> Result<String, DbusError> {
        self.read(header.as_ref(), |f| {
            f.challenge
                .as_ref()
                .map(|c| c.qr_payload.clone())
                .unwrap_or_default()
        })
        .await
    }

    /// Where the last code was sent (masked); empty when none was.
    #[zbus(property)]
    async fn code_sent_to(
        &self,
        #[zbus(header)] header: Option<Header<'_>>,
    ) -> Result<String, DbusError> {
        self.read(header.as_ref(), |f| {
            f.code_sent_to.clone().unwrap_or_default()
        })
        .await
    }

    /// The camera id it had when it was removed before the reset; 0 when it was not.
    #[zbus(property)]
    async fn removed_camera(
        &self,
        #[zbus(header)] header: Option<Header<'_>>,
    ) -> Result<i64, DbusError> {
        self.read(header.as_ref(), |f| {
            f.removed_camera.as_ref().map_or(0, |r| r.id.0)
        })
        .await
    }

    /// The added camera at the end; "/" until then.
    #[zbus(property)]
    async fn result_camera(
        &self,
        #[zbus(header)] header: Option<Header<'_>>,
    ) -> Result<OwnedObjectPath, DbusError> {
        self.read(header.as_ref(), |f| {
            f.result_camera.map(camera_path).unwrap_or_else(no_object)
        })
        .await
    }

    /// Why it failed or expired, with what to do; empty otherwise.
    #[zbus(property)]
    async fn failure(
        &self,
        #[zbus(header)] header: Option<Header<'_>>,
    ) -> Result<String, DbusError> {
        self.read(header.as_ref(), |f| f.failure.clone().unwrap_or_default())
            .await
    }

    /// Who started it.
    #[zbus(property(emits_changed_signal = "const"))]
    async fn actor(&self, #[zbus(header)] header: Option<Header<'_>>) -> Result<String, DbusError> {
        self.read(header.as_ref(), |f| f.actor.clone()).await
    }

    /// The flow ended: its final step.
    #[zbus(signal)]
    async fn ended(emitter: &SignalEmitter<'_>, step: &str) -> zbus::Result<()>;
}

/// Signals every changing property in one PropertiesChanged (so a client sees a step's effects
/// together), and `Ended` once the flow is over.
pub async fn emit_changed(connection: &zbus::Connection, id: RecoveryId) -> zbus::Result<()> {
    let object = connection
        .object_server()
        .interface::<_, ReadOnly<Recovery>>(&recovery_path(id))
        .await?;
    let Ok(flow) = object.get().await.shared.nvr.recovery(id) else {
        return Ok(());
    };
    let mut changed: HashMap<&str, Variant<'_>> = HashMap::new();
    changed.insert("Step", Variant::from(flow.step.as_str().to_owned()));
    changed.insert(
        "MaskedEmail",
        Variant::from(flow.masked_email.clone().unwrap_or_default()),
    );
    changed.insert("Internet", Variant::from(flow.internet));
    changed.insert(
        "Methods",
        Variant::from(flow.methods.iter().map(method_name).collect::<Vec<_>>()),
    );
    changed.insert("CameraDate", Variant::from(flow.camera_date.clone()));
    changed.insert(
        "ExpiresAt",
        Variant::from(flow.challenge.as_ref().map_or(0, |c| unix_secs(c.expires))),
    );
    changed.insert("AttemptsLeft", Variant::from(flow.attempts_left()));
    changed.insert(
        "QrPayload",
        Variant::from(
            flow.challenge
                .as_ref()
                .map(|c| c.qr_payload.clone())
                .unwrap_or_default(),
        ),
    );
    changed.insert(
        "CodeSentTo",
        Variant::from(flow.code_sent_to.clone().unwrap_or_default()),
    );
    changed.insert(
        "RemovedCamera",
        Variant::from(flow.removed_camera.as_ref().map_or(0, |r| r.id.0)),
    );
    changed.insert(
        "ResultCamera",
        Variant::from(zbus::ObjectPath::from(
            flow.result_camera
                .map(camera_path)
                .unwrap_or_else(no_object),
        )),
    );
    changed.insert(
        "Failure",
        Variant::from(flow.failure.clone().unwrap_or_default()),
    );
    let emitter = object.signal_emitter();
    zbus::fdo::Properties::properties_changed(
        emitter,
        InterfaceName::from_static_str_unchecked(INTERFACE),
        changed,
        Cow::Borrowed(&[]),
    )
    .await?;
    if !flow.step.is_active() {
        Recovery::ended(emitter, flow.step.as_str()).await?;
    }
    Ok(())
}
