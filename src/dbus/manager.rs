//! `org.vigil.Nvr1.Manager` at `/org/vigil/Nvr1`: list, discover, add, remove and activate cameras,
//! start forget-password flows, push passwords, read and verify the audit log. Discovery signals are
//! emitted here. Each method checks the caller, then the arguments, then calls the service API.

use std::collections::HashMap;

use zbus::message::Header;
use zbus::object_server::SignalEmitter;
use zbus::{OwnedObjectPath, OwnedVariant, interface};

use crate::clock::unix_secs;
use crate::dbus::auth::{Access, authorized, check_text};
use crate::dbus::error::{DbusError, DbusResult};
use crate::dbus::{
    CameraRow, DeviceRow, MANAGER_PATH, Shared, camera_id_of, camera_path, no_object,
    publish_camera, publish_recovery, recovery_path,
};
use crate::mail::SmtpSecurity;
use crate::model::{Caller, CameraId, CameraState, DiscoveredDevice};
use crate::service::{AddCamera, MailServerChange, RecoveryStart};

/// Longest string argument of any kind.
pub const MAX_TEXT: usize = 512;
/// Most discovery targets in one call.
const MAX_TARGETS: usize = 64;
/// Most cameras in one password push.
const MAX_CAMERAS: usize = 1024;
/// Most audit entries in one read.
const MAX_AUDIT: u32 = 10_000;

/// The manager object.
pub struct Manager {
    shared: Shared,
}

impl Manager {
    /// The manager over the shared service.
    pub fn new(shared: Shared) -> Self {
        Self { shared }
    }
}

fn camera_of(path: &OwnedObjectPath) -> Result<CameraId, DbusError> {
    camera_id_of(path.as_str())
        .ok_or_else(|| DbusError::InvalidArgument(format!("{path} is not a camera object path")))
}

#[interface(name = "org.vigil.Nvr1.Manager")]
impl Manager {
    /// Every added camera, one row each.
    async fn list_cameras(
        &self,
        #[zbus(header)] header: Header<'_>,
    ) -> Result<Vec<CameraRow>, DbusError> {
        authorized(&self.shared, &header, Access::Read, async |_| {
            Ok(self.shared.nvr.map_added_cameras(CameraRow::of))
        })
        .await
    }

    /// The discovered devices, one row each.
    async fn list_discovered(
        &self,
        #[zbus(header)] header: Header<'_>,
    ) -> Result<Vec<DeviceRow>, DbusError> {
        authorized(&self.shared, &header, Access::Read, async |_| {
            Ok(self
                .shared
                .nvr
                .discovered_devices()
                .iter()
                .map(DeviceRow::of)
                .collect())
        })
        .await
    }

    /// Runs discovery (multicast as configured, plus unicast `targets`: addresses, `a-b` ranges,
    /// `net/len`) and returns the size of the discovered list when it ends. Devices are signalled as they
    /// are identified.
    async fn discover(
        &self,
        #[zbus(header)] header: Header<'_>,
        targets: Vec<String>,
    ) -> Result<u32, DbusError> {
        authorized(&self.shared, &header, Access::Admin, async |_| {
            if targets.len() > MAX_TARGETS {
                return Err(DbusError::InvalidArgument(format!(
                    "at most {MAX_TARGETS} targets"
                )));
            }
            for target in &targets {
                check_text("targets", target, 64)?;
            }
            let run = self.shared.nvr.refresh_discovery(&targets).await?;
            Ok(u32::try_from(run.finished().await).unwrap_or(u32::MAX))
        })
        .await
    }

    /// Adds a camera by address, verifying the credentials at once. Returns its object path.
    async fn add_camera(
        &self,
        #[zbus(header)] header: Header<'_>,
        #[zbus(object_server)] server: &zbus::ObjectServer,
        host: String,
        port: u16,
        username: String,
        password: String,
    ) -> Result<OwnedObjectPath, DbusError> {
        authorized(&self.shared, &header, Access::Admin, async |actor| {
            check_text("host", &host, 253)?;
            check_text("username", &username, 64)?;
            check_text("password", &password, 128)?;
            let camera = self
                .shared
                .nvr
                .add_camera(
                    AddCamera {
                        host,
                        port,
                        username,
                        password,
                    },
                    &Caller::from(actor),
                )
                .await?;
            publish_camera(server, &self.shared, camera.id).await;
            Ok(camera_path(camera.id))
        })
        .await
    }

    /// Adds a device from the discovered list by its key.
    async fn add_discovered(
        &self,
        #[zbus(header)] header: Header<'_>,
        #[zbus(object_server)] server: &zbus::ObjectServer,
        key: String,
        username: String,
        password: String,
    ) -> Result<OwnedObjectPath, DbusError> {
        authorized(&self.shared, &header, Access::Admin, async |actor| {
            check_text("key", &key, MAX_TEXT)?;
            check_text("username", &username, 64)?;
            check_text("password", &password, 128)?;
            let camera = self
                .shared
                .nvr
                .add_discovered(&key, &username, &password, &Caller::from(actor))
                .await?;
            publish_camera(server, &self.shared, camera.id).await;
            Ok(camera_path(camera.id))
        })
        .await
    }

    /// Adds several discovered devices with one user name and password (none: every active device
    /// not added yet). One login attempt each; per device: key, added, camera object or "/", why not.
    async fn add_discovered_many(
        &self,
        #[zbus(header)] header: Header<'_>,
        #[zbus(object_server)] server: &zbus::ObjectServer,
        keys: Vec<String>,
        username: String,
        password: String,
    ) -> Result<Vec<(String, bool, OwnedObjectPath, String)>, DbusError> {
        authorized(&self.shared, &header, Access::Admin, async |actor| {
            if keys.len() > MAX_CAMERAS {
                return Err(DbusError::InvalidArgument(format!(
                    "at most {MAX_CAMERAS} devices"
                )));
            }
            for key in &keys {
                check_text("key", key, MAX_TEXT)?;
            }
            check_text("username", &username, 64)?;
            check_text("password", &password, 128)?;
            let outcomes = self
                .shared
                .nvr
                .add_discovered_many(&keys, &username, &password, &Caller::from(actor))
                .await?;
            let mut rows = Vec::with_capacity(outcomes.len());
            for (key, result) in outcomes {
                rows.push(match result {
                    Ok(camera) => {
                        publish_camera(server, &self.shared, camera.id).await;
                        (key, true, camera_path(camera.id), String::new())
                    }
                    Err(error) => (key, false, no_object(), error.to_string()),
                });
            }
            Ok(rows)
        })
        .await
    }

    /// Removes an added camera.
    async fn remove_camera(
        &self,
        #[zbus(header)] header: Header<'_>,
        camera: OwnedObjectPath,
    ) -> Result<(), DbusError> {
        authorized(&self.shared, &header, Access::Admin, async |actor| {
            let id = camera_of(&camera)?;
            Ok(self
                .shared
                .nvr
                .remove_camera(id, &Caller::from(actor))
                .await?)
        })
        .await
    }

    /// Activates a discovered camera in factory state with an admin password and a reset email, and
    /// adds it when `add` is true. Returns whether the reset email was set, the camera's path (or
    /// "/" when not added), and why an asked-for add failed (empty otherwise): the camera is
    /// activated either way.
    // The header and object server are zbus plumbing; the method takes five arguments.
    #[allow(clippy::too_many_arguments)]
    async fn activate_camera(
        &self,
        #[zbus(header)] header: Header<'_>,
        #[zbus(object_server)] server: &zbus::ObjectServer,
        key: String,
        password: String,
        confirmation: String,
        reset_email: String,
        add: bool,
    ) -> Result<(bool, OwnedObjectPath, String), DbusError> {
        authorized(&self.shared, &header, Access::Admin, async |actor| {
            check_text("key", &key, MAX_TEXT)?;
            check_text("password", &password, 128)?;
            check_text("confirmation", &confirmation, 128)?;
            check_text("reset_email", &reset_email, 254)?;
            let activation = self
                .shared
                .nvr
                .activate_camera(
                    &key,
                    &password,
                    &confirmation,
                    &reset_email,
                    add,
                    &Caller::from(actor),
                )
                .await?;
            if let Some(camera) = &activation.camera {
                publish_camera(server, &self.shared, camera.id).await;
            }
            Ok((
                activation.reset_email_set,
                activation
                    .camera
                    .map(|c| camera_path(c.id))
                    .unwrap_or_else(no_object),
                activation
                    .add_error
                    .map(|e| e.to_string())
                    .unwrap_or_default(),
            ))
        })
        .await
    }

    /// The recorder's own account: activated, user name, seconds it stays locked (0: not locked),
    /// wrong passwords so far, two-factor login on. Root and the admin group only.
    async fn account_status(
        &self,
        #[zbus(header)] header: Header<'_>,
    ) -> Result<(bool, String, u64, u32, bool), DbusError> {
        authorized(&self.shared, &header, Access::Admin, async |_| {
            let status = self.shared.nvr.account_status().await?;
            Ok((
                status.activated,
                status.username.unwrap_or_default(),
                status.locked_for.map_or(0, |d| d.as_secs().max(1)),
                status.failed_logins,
                status.totp_enabled,
            ))
        })
        .await
    }

    /// Lifts the account's lockout. Root and the admin group only.
    async fn clear_account_lockout(
        &self,
        #[zbus(header)] header: Header<'_>,
    ) -> Result<(), DbusError> {
        authorized(&self.shared, &header, Access::Admin, async |actor| {
            Ok(self.shared.nvr.clear_account_lockout(&actor).await?)
        })
        .await
    }

    /// Activates the recorder itself: admin password (and confirmation), reserved email, and an
    /// optional default camera activation password (empty for none). Root only.
    async fn activate_nvr(
        &self,
        #[zbus(header)] header: Header<'_>,
        password: String,
        confirmation: String,
        reserved_email: String,
        default_camera_password: String,
    ) -> Result<(), DbusError> {
        authorized(&self.shared, &header, Access::Root, async |actor| {
            check_text("password", &password, 128)?;
            check_text("confirmation", &confirmation, 128)?;
            check_text("reserved_email", &reserved_email, 254)?;
            check_text("default_camera_password", &default_camera_password, 128)?;
            let default =
                (!default_camera_password.is_empty()).then_some(default_camera_password.as_str());
            Ok(self
                .shared
                .nvr
                .activate_nvr(&password, &confirmation, &reserved_email, default, &actor)
                .await?)
        })
        .await
    }

    /// The recorder's mail server: (set, host, port, security none/starttls/tls, user, password set,
    /// sender address, trusts its own certificate). Never the password. Root and the admin group only.
    #[allow(clippy::type_complexity)]
    async fn mail_server(
        &self,
        #[zbus(header)] header: Header<'_>,
    ) -> Result<(bool, String, u16, String, String, bool, String, bool), DbusError> {
        authorized(&self.shared, &header, Access::Admin, async |_| {
            Ok(match self.shared.nvr.mail_server().await? {
                None => Default::default(),
                Some(m) => (
                    true,
                    m.host,
                    m.port,
                    m.security.as_str().to_owned(),
                    m.username,
                    m.password_set,
                    m.from,
                    m.trusts_own_certificate,
                ),
            })
        })
        .await
    }

    /// Sets the recorder's mail server. `keep_password` keeps the stored login password (then
    /// `password` is ignored); an empty `trusted_certificate` trusts only the system's CAs.
    #[allow(clippy::too_many_arguments)]
    async fn set_mail_server(
        &self,
        #[zbus(header)] header: Header<'_>,
        host: String,
        port: u16,
        security: String,
        username: String,
        password: String,
        keep_password: bool,
        from: String,
        trusted_certificate: String,
    ) -> Result<(), DbusError> {
        authorized(&self.shared, &header, Access::Admin, async |actor| {
            check_text("host", &host, 253)?;
            check_text("username", &username, 128)?;
            check_text("password", &password, 256)?;
            check_text("from", &from, 254)?;
            if trusted_certificate.len() > 16_384 {
                return Err(DbusError::InvalidArgument(
                    "trusted_certificate: longer than 16384 bytes".into(),
                ));
            }
            let security = SmtpSecurity::parse(&security).ok_or_else(|| {
                DbusError::InvalidArgument(format!(
                    "security: '{security}' is not none, starttls or tls"
                ))
            })?;
            Ok(self
                .shared
                .nvr
                .set_mail_server(
                    MailServerChange {
                        host,
                        port,
                        security,
                        username,
                        password: (!keep_password).then_some(password),
                        from,
                        trusted_certificate: Some(trusted_certificate),
                    },
                    &Caller::from(actor),
                )
                .await?)
        })
        .await
    }

    /// Sends a test email through the recorder's mail server; a failure says what to fix.
    async fn send_test_email(
        &self,
        #[zbus(header)] header: Header<'_>,
        to: String,
    ) -> Result<(), DbusError> {
        authorized(&self.shared, &header, Access::Admin, async |_| {
            check_text("to", &to, 254)?;
            Ok(self.shared.nvr.send_test_email(&to).await?)
        })
        .await
    }

    /// Starts Forget Password on a discovered camera. Returns the next step and the object it is
    /// about: `started` and the new flow's path; `remove-first` and the added, not certified
    /// camera's path (call RemoveAndStartRecovery); `change-password` and the added camera's path,
    /// whose stored password works (change it with ChangePasswords; nothing was started).
    #[zbus(out_args("next", "object"))]
    async fn start_recovery(
        &self,
        #[zbus(header)] header: Header<'_>,
        #[zbus(object_server)] server: &zbus::ObjectServer,
        key: String,
    ) -> Result<(String, OwnedObjectPath), DbusError> {
        authorized(&self.shared, &header, Access::Admin, async |actor| {
            check_text("key", &key, MAX_TEXT)?;
            let start = self
                .shared
                .nvr
                .start_recovery(&key, &Caller::from(actor))
                .await?;
            Ok(recovery_start_reply(server, &self.shared, start).await)
        })
        .await
    }

    /// Removes the added, not certified camera and starts Forget Password on it, in one step. It is
    /// added again once the new password certifies. Answers like StartRecovery: `started` and the
    /// flow, or `change-password` and the camera when its stored password works (it is kept).
    #[zbus(out_args("next", "object"))]
    async fn remove_and_start_recovery(
        &self,
        #[zbus(header)] header: Header<'_>,
        #[zbus(object_server)] server: &zbus::ObjectServer,
        key: String,
    ) -> Result<(String, OwnedObjectPath), DbusError> {
        authorized(&self.shared, &header, Access::Admin, async |actor| {
            check_text("key", &key, MAX_TEXT)?;
            let start = self
                .shared
                .nvr
                .remove_and_start_recovery(&key, &Caller::from(actor))
                .await?;
            Ok(recovery_start_reply(server, &self.shared, start).await)
        })
        .await
    }

    /// Pushes one new password to certified cameras with their current one. One entry per camera:
    /// its path, whether it worked, and why not.
    async fn change_passwords(
        &self,
        #[zbus(header)] header: Header<'_>,
        cameras: Vec<OwnedObjectPath>,
        password: String,
        confirmation: String,
    ) -> Result<Vec<(OwnedObjectPath, bool, String)>, DbusError> {
        authorized(&self.shared, &header, Access::Admin, async |actor| {
            if cameras.len() > MAX_CAMERAS {
                return Err(DbusError::InvalidArgument(format!(
                    "at most {MAX_CAMERAS} cameras"
                )));
            }
            check_text("password", &password, 128)?;
            check_text("confirmation", &confirmation, 128)?;
            let ids = cameras
                .iter()
                .map(camera_of)
                .collect::<DbusResult<Vec<_>>>()?;
            let outcomes = self
                .shared
                .nvr
                .change_camera_passwords(&ids, &password, &confirmation, &Caller::from(actor))
                .await?;
            Ok(outcomes
                .into_iter()
                .map(|o| match o.result {
                    Ok(_) => (camera_path(o.camera), true, String::new()),
                    Err(error) => (camera_path(o.camera), false, error.to_string()),
                })
                .collect())
        })
        .await
    }

    /// Checks a candidate password against the policy for a user: whether it is acceptable, its
    /// strength (weak, fair, good, strong), and every unmet rule in words. Nothing is stored.
    async fn check_password(
        &self,
        #[zbus(header)] header: Header<'_>,
        password: String,
        username: String,
    ) -> Result<(bool, String, Vec<String>), DbusError> {
        authorized(&self.shared, &header, Access::Read, async |_| {
            check_text("password", &password, 128)?;
            check_text("username", &username, 64)?;
            let assessment = self.shared.nvr.assess_new_password(&password, &username);
            Ok((
                assessment.acceptable(),
                assessment.strength.as_str().to_owned(),
                assessment
                    .unmet
                    .iter()
                    .map(|r| r.describe().to_owned())
                    .collect(),
            ))
        })
        .await
    }

    /// The newest `limit` audit entries, newest first: (id, time, actor, action, camera, outcome).
    async fn get_audit_log(
        &self,
        #[zbus(header)] header: Header<'_>,
        limit: u32,
    ) -> Result<Vec<(i64, i64, String, String, String, String)>, DbusError> {
        authorized(&self.shared, &header, Access::Read, async |_| {
            if limit == 0 || limit > MAX_AUDIT {
                return Err(DbusError::InvalidArgument(format!(
                    "limit: use 1 to {MAX_AUDIT}"
                )));
            }
            let entries = self.shared.nvr.audit_log(limit as usize).await?;
            Ok(entries
                .into_iter()
                .map(|e| {
                    (
                        e.id,
                        unix_secs(e.at),
                        e.actor,
                        e.action.as_str().to_owned(),
                        e.camera,
                        e.outcome,
                    )
                })
                .collect())
        })
        .await
    }

    /// Verifies the audit log's hash chain; the number of entries. `AuditTampered` names the first
    /// entry that does not verify.
    async fn verify_audit_log(&self, #[zbus(header)] header: Header<'_>) -> Result<u32, DbusError> {
        authorized(&self.shared, &header, Access::Read, async |_| {
            let count = self.shared.nvr.verify_audit().await?;
            Ok(u32::try_from(count).unwrap_or(u32::MAX))
        })
        .await
    }

    /// Counts for a status line: Cameras, Online, NotCertified, Locked, Offline, Discovered, Recoveries.
    async fn status(
        &self,
        #[zbus(header)] header: Header<'_>,
    ) -> Result<HashMap<String, OwnedVariant>, DbusError> {
        authorized(&self.shared, &header, Access::Read, async |_| {
            let nvr = &self.shared.nvr;
            let counts = nvr.status_counts();
            let count = |state| counts.get(&state).copied().unwrap_or(0) as u32;
            let mut status = HashMap::new();
            status.insert(
                "Cameras".into(),
                OwnedVariant::from(counts.values().sum::<usize>() as u32),
            );
            status.insert(
                "Online".into(),
                OwnedVariant::from(count(CameraState::Online)),
            );
            status.insert(
                "NotCertified".into(),
                OwnedVariant::from(count(CameraState::NotCertified)),
            );
            status.insert(
                "Locked".into(),
                OwnedVariant::from(count(CameraState::Locked)),
            );
            status.insert(
                "Offline".into(),
                OwnedVariant::from(count(CameraState::Offline)),
            );
            status.insert(
                "Discovered".into(),
                OwnedVariant::from(nvr.discovered_devices().len() as u32),
            );
            let active = nvr
                .recoveries()
                .iter()
                .filter(|f| f.step.is_active())
                .count();
            status.insert("Recoveries".into(), OwnedVariant::from(active as u32));
            status.insert(
                "DiscoveryRunning".into(),
                OwnedVariant::from(nvr.discovery_running()),
            );
            Ok(status)
        })
        .await
    }

    /// vigild's version.
    #[zbus(property(emits_changed_signal = "const"))]
    async fn version(&self) -> String {
        env!("CARGO_PKG_VERSION").to_owned()
    }

    /// A discovery run began.
    #[zbus(signal)]
    async fn discovery_started(emitter: &SignalEmitter<'_>) -> zbus::Result<()>;

    /// A device was discovered, or what is known of it changed.
    #[zbus(signal)]
    async fn device_discovered(emitter: &SignalEmitter<'_>, device: DeviceRow) -> zbus::Result<()>;

    /// A discovered device left.
    #[zbus(signal)]
    async fn device_gone(emitter: &SignalEmitter<'_>, key: &str) -> zbus::Result<()>;

    /// A discovery run ended; the size of the discovered list.
    #[zbus(signal)]
    async fn discovery_finished(emitter: &SignalEmitter<'_>, devices: u32) -> zbus::Result<()>;
}

fn emitter(connection: &zbus::Connection) -> zbus::Result<SignalEmitter<'static>> {
    SignalEmitter::new(connection, MANAGER_PATH).map(|e| e.into_owned())
}

/// Signals DiscoveryStarted.
pub async fn emit_discovery_started(connection: &zbus::Connection) -> zbus::Result<()> {
    Manager::discovery_started(&emitter(connection)?).await
}

/// Signals DeviceDiscovered.
pub async fn emit_device_discovered(
    connection: &zbus::Connection,
    device: &DiscoveredDevice,
) -> zbus::Result<()> {
    Manager::device_discovered(&emitter(connection)?, DeviceRow::of(device)).await
}

/// Signals DeviceGone.
pub async fn emit_device_gone(connection: &zbus::Connection, key: &str) -> zbus::Result<()> {
    Manager::device_gone(&emitter(connection)?, key).await
}

/// Signals DiscoveryFinished.
pub async fn emit_discovery_finished(
    connection: &zbus::Connection,
    devices: usize,
) -> zbus::Result<()> {
    Manager::discovery_finished(
        &emitter(connection)?,
        u32::try_from(devices).unwrap_or(u32::MAX),
    )
    .await
}

/// StartRecovery's answer: the next step's name and the object it is about (a new flow is
/// published first, so the caller can use its path at once).
async fn recovery_start_reply(
    server: &zbus::ObjectServer,
    shared: &Shared,
    start: RecoveryStart,
) -> (String, OwnedObjectPath) {
    match start {
        RecoveryStart::Started(flow) => {
            publish_recovery(server, shared, flow.id).await;
            ("started".to_owned(), recovery_path(flow.id))
        }
        RecoveryStart::RemoveFirst { camera } => ("remove-first".to_owned(), camera_path(camera)),
        RecoveryStart::ChangePasswordInstead { camera } => {
            ("change-password".to_owned(), camera_path(camera))
        }
    }
}
