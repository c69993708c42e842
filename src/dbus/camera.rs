//! `org.vigil.Nvr1.Camera` at `/org/vigil/Nvr1/camera/<id>`: one added camera's status, certified, model,
//! serial, firmware, address, last error, channel, name and clock offset as properties
//! (PropertiesChanged when they change; the manager's ListCameras has the rest), and its commands: edit
//! credentials, change its password with the current one, move it to another channel, name it, read
//! and change its network settings, reboot it, restore its factory defaults, set its clock, remove.
//! The password is never a property.

use std::borrow::Cow;
use std::collections::HashMap;

use zbus::message::Header;
use zbus::names::InterfaceName;
use zbus::{Variant, interface};

use crate::dbus::auth::Access;
use crate::dbus::auth::{authorized, check_text};
use crate::dbus::error::DbusError;
use crate::dbus::read_only::ReadOnly;
use crate::dbus::{Shared, camera_path};
use crate::model::{
    AddedCamera, Caller, CameraId, CameraNetwork, FactoryDefault, NetworkChange, NetworkChanged,
};
use crate::rules::network::mask_of_prefix;
use crate::service::{MaintainedCamera, network_change_from_text};

/// One camera object. It holds only the id; every property is read from the service when asked.
pub struct Camera {
    shared: Shared,
    id: CameraId,
}

impl Camera {
    /// The object for camera `id`.
    pub fn new(shared: Shared, id: CameraId) -> Self {
        Self { shared, id }
    }

    /// One property. Without a header zbus is building GetManagedObjects or InterfacesAdded
    /// itself (see [`super::serve`] on why that needs no check); a camera removed a moment ago then
    /// reads as empty rather than failing the whole listing before its object is gone.
    async fn read<T: Default>(
        &self,
        header: Option<&Header<'_>>,
        field: impl FnOnce(&AddedCamera) -> T,
    ) -> Result<T, DbusError> {
        let Some(header) = header else {
            return Ok(self
                .shared
                .nvr
                .with_added_camera(self.id, field)
                .unwrap_or_default());
        };
        self.shared.auth.check(header, Access::Read).await?;
        self.shared
            .nvr
            .with_added_camera(self.id, field)
            .ok_or_else(|| DbusError::NotFound(format!("camera {} was removed", self.id)))
    }
}

#[interface(name = "org.vigil.Nvr1.Camera")]
impl Camera {
    /// Replaces the user name and password after verifying them against the camera.
    async fn edit_credentials(
        &self,
        #[zbus(header)] header: Header<'_>,
        username: String,
        password: String,
    ) -> Result<(), DbusError> {
        authorized(&self.shared, &header, Access::Admin, async |actor| {
            check_text("username", &username, 64)?;
            check_text("password", &password, 128)?;
            self.shared
                .nvr
                .edit_credentials(self.id, &username, &password, &Caller::from(actor))
                .await?;
            Ok(())
        })
        .await
    }

    /// Changes the camera's password with the current one (the camera must be certified).
    async fn change_password(
        &self,
        #[zbus(header)] header: Header<'_>,
        password: String,
        confirmation: String,
    ) -> Result<(), DbusError> {
        authorized(&self.shared, &header, Access::Admin, async |actor| {
            check_text("password", &password, 128)?;
            check_text("confirmation", &confirmation, 128)?;
            let outcomes = self
                .shared
                .nvr
                .change_camera_passwords(&[self.id], &password, &confirmation, &Caller::from(actor))
                .await?;
            match outcomes.into_iter().next().map(|o| o.result) {
                Some(Ok(_)) => Ok(()),
                Some(Err(error)) => Err(error.into()),
                None => Err(DbusError::Failed("no outcome".into())),
            }
        })
        .await
    }

    /// Moves the camera to a free channel (1 to the recorder's channel count).
    async fn set_channel(
        &self,
        #[zbus(header)] header: Header<'_>,
        channel: u16,
    ) -> Result<(), DbusError> {
        authorized(&self.shared, &header, Access::Admin, async |actor| {
            self.shared
                .nvr
                .set_camera_channel(self.id, channel, &Caller::from(actor))
                .await?;
            Ok(())
        })
        .await
    }

    /// Names the camera (at most 32 characters); an empty name gives back the default (model and the
    /// end of its serial number).
    async fn set_name(
        &self,
        #[zbus(header)] header: Header<'_>,
        name: String,
    ) -> Result<(), DbusError> {
        authorized(&self.shared, &header, Access::Admin, async |actor| {
            check_text("name", &name, 128)?;
            self.shared
                .nvr
                .set_camera_name(self.id, &name, &Caller::from(actor))
                .await?;
            Ok(())
        })
        .await
    }

    /// The camera's IPv4 settings: address, mask (255.255.255.0), gateway (empty for none), DHCP.
    async fn get_network(
        &self,
        #[zbus(header)] header: Header<'_>,
    ) -> Result<(String, String, String, bool), DbusError> {
        authorized(&self.shared, &header, Access::Admin, async |actor| {
            let network = self
                .shared
                .nvr
                .camera_network(&MaintainedCamera::Added(self.id), &Caller::from(actor))
                .await?;
            Ok(network_reply(&network))
        })
        .await
    }

    /// Gives the camera new IPv4 settings (Edit IP): address, mask (255.255.255.0 or 24), gateway
    /// (empty for none), DHCP. Checked before anything is sent; the stored address follows. Returns the
    /// settings now in force and whether the camera was rebooted to apply them.
    async fn set_network(
        &self,
        #[zbus(header)] header: Header<'_>,
        address: String,
        mask: String,
        gateway: String,
        dhcp: bool,
    ) -> Result<(String, String, String, bool, bool), DbusError> {
        authorized(&self.shared, &header, Access::Admin, async |actor| {
            let change = network_change_arg(&address, &mask, &gateway, dhcp)?;
            let changed = self
                .shared
                .nvr
                .set_camera_network(
                    &MaintainedCamera::Added(self.id),
                    &change,
                    &Caller::from(actor),
                )
                .await?;
            Ok(changed_reply(&changed))
        })
        .await
    }

    /// Reboots the camera. Returns its own message, such as "Rebooting in 30 seconds".
    async fn reboot(&self, #[zbus(header)] header: Header<'_>) -> Result<String, DbusError> {
        authorized(&self.shared, &header, Access::Admin, async |actor| {
            Ok(self
                .shared
                .nvr
                .reboot_camera(&MaintainedCamera::Added(self.id), &Caller::from(actor))
                .await?)
        })
        .await
    }

    /// Restores the camera's factory defaults: "soft" keeps its network settings; "hard" loses
    /// everything, users and passwords included, so it must be activated again.
    async fn restore_factory_defaults(
        &self,
        #[zbus(header)] header: Header<'_>,
        kind: String,
    ) -> Result<(), DbusError> {
        authorized(&self.shared, &header, Access::Admin, async |actor| {
            check_text("kind", &kind, 16)?;
            let kind = FactoryDefault::parse(&kind).ok_or_else(|| {
                DbusError::InvalidArgument("kind: must be soft or hard".to_owned())
            })?;
            Ok(self
                .shared
                .nvr
                .restore_factory_defaults(
                    &MaintainedCamera::Added(self.id),
                    kind,
                    &Caller::from(actor),
                )
                .await?)
        })
        .await
    }

    /// Sets the camera's clock now (in UTC, or by NTP when the recorder is set to). Returns its clock
    /// offset from the recorder's afterwards, in seconds.
    async fn set_clock(&self, #[zbus(header)] header: Header<'_>) -> Result<i64, DbusError> {
        authorized(&self.shared, &header, Access::Admin, async |actor| {
            Ok(self
                .shared
                .nvr
                .set_camera_clock(self.id, &Caller::from(actor))
                .await?)
        })
        .await
    }

    /// Removes the camera from the NVR.
    async fn remove(&self, #[zbus(header)] header: Header<'_>) -> Result<(), DbusError> {
        authorized(&self.shared, &header, Access::Admin, async |actor| {
            Ok(self
                .shared
                .nvr
                .remove_camera(self.id, &Caller::from(actor))
                .await?)
        })
        .await
    }

    /// The NVR's id for the camera.
    #[zbus(property(emits_changed_signal = "const"))]
    async fn id(&self, #[zbus(header)] header: Option<Header<'_>>) -> Result<i64, DbusError> {
        self.read(header.as_ref(), |c| c.id.0).await
    }

    /// The camera's channel (1 for D1, ...), or 0 when it has none.
    #[zbus(property)]
    async fn channel(&self, #[zbus(header)] header: Option<Header<'_>>) -> Result<u16, DbusError> {
        self.read(header.as_ref(), |c| c.channel.unwrap_or(0)).await
    }

    /// The camera's name: the installer's, or its model and the end of its serial number.
    #[zbus(property)]
    async fn name(&self, #[zbus(header)] header: Option<Header<'_>>) -> Result<String, DbusError> {
        self.read(header.as_ref(), AddedCamera::display_name).await
    }

    /// `online`, `not_certified`, `locked` or `offline`.
    #[zbus(property)]
    async fn status(
        &self,
        #[zbus(header)] header: Option<Header<'_>>,
    ) -> Result<String, DbusError> {
        self.read(header.as_ref(), |c| c.status.state.as_str().to_owned())
            .await
    }

    /// Whether the stored credentials authenticate right now.
    #[zbus(property)]
    async fn certified(
        &self,
        #[zbus(header)] header: Option<Header<'_>>,
    ) -> Result<bool, DbusError> {
        self.read(header.as_ref(), |c| c.status.certified()).await
    }

    /// The last error in English, with what to do next; empty when none.
    #[zbus(property)]
    async fn last_error(
        &self,
        #[zbus(header)] header: Option<Header<'_>>,
    ) -> Result<String, DbusError> {
        self.read(header.as_ref(), last_error_sentence).await
    }

    /// The last error's kind, for programs to act on or translate: credentials_rejected,
    /// password_unreadable, locked, locked_again, offline, server_error, clock_rejected,
    /// unreadable_replies, refused, password_unconfirmed; empty when none.
    #[zbus(property)]
    async fn last_error_kind(
        &self,
        #[zbus(header)] header: Option<Header<'_>>,
    ) -> Result<String, DbusError> {
        self.read(header.as_ref(), |c| last_error_kind(c).to_owned())
            .await
    }

    /// Model.
    #[zbus(property)]
    async fn model(&self, #[zbus(header)] header: Option<Header<'_>>) -> Result<String, DbusError> {
        self.read(header.as_ref(), |c| c.identity.model.clone())
            .await
    }

    /// Serial number.
    #[zbus(property)]
    async fn serial(
        &self,
        #[zbus(header)] header: Option<Header<'_>>,
    ) -> Result<String, DbusError> {
        self.read(header.as_ref(), |c| c.identity.serial.clone())
            .await
    }

    /// Firmware version.
    #[zbus(property)]
    async fn firmware(
        &self,
        #[zbus(header)] header: Option<Header<'_>>,
    ) -> Result<String, DbusError> {
        self.read(header.as_ref(), |c| c.identity.firmware.clone())
            .await
    }

    /// `host:port` of the device service.
    #[zbus(property)]
    async fn address(
        &self,
        #[zbus(header)] header: Option<Header<'_>>,
    ) -> Result<String, DbusError> {
        self.read(header.as_ref(), |c| c.address.to_string()).await
    }

    /// The protocol the recorder manages the camera with: `onvif`, `hikvision` or `dahua`.
    #[zbus(property)]
    async fn protocol(
        &self,
        #[zbus(header)] header: Option<Header<'_>>,
    ) -> Result<String, DbusError> {
        self.read(header.as_ref(), |c| c.protocol.as_str().to_owned())
            .await
    }

    /// The camera's clock minus the recorder's, in seconds, as last measured.
    #[zbus(property)]
    async fn clock_offset(
        &self,
        #[zbus(header)] header: Option<Header<'_>>,
    ) -> Result<i64, DbusError> {
        self.read(header.as_ref(), |c| c.clock_offset_secs).await
    }

    /// Whether the camera's clock is off by more than the recorder allows
    /// (`[cameras] clock_drift_limit_secs`).
    #[zbus(property)]
    async fn clock_drift(
        &self,
        #[zbus(header)] header: Option<Header<'_>>,
    ) -> Result<bool, DbusError> {
        let limit = self.shared.nvr.settings().camera_time.drift_limit;
        self.read(header.as_ref(), |c| c.clock_drifted(limit)).await
    }
}

/// New network settings from a D-Bus call's arguments, each checked as text first.
pub(crate) fn network_change_arg(
    address: &str,
    mask: &str,
    gateway: &str,
    dhcp: bool,
) -> Result<NetworkChange, DbusError> {
    check_text("address", address, 64)?;
    check_text("mask", mask, 64)?;
    check_text("gateway", gateway, 64)?;
    Ok(network_change_from_text(address, mask, gateway, dhcp)?)
}

/// What SetNetwork answers: the settings in force, and whether the camera rebooted for them.
pub(crate) fn changed_reply(changed: &NetworkChanged) -> (String, String, String, bool, bool) {
    let (address, mask, gateway, dhcp) = network_reply(&changed.network);
    (address, mask, gateway, dhcp, changed.rebooted)
}

/// Network settings as D-Bus gives them: address, dotted mask, gateway (empty for none), DHCP.
pub(crate) fn network_reply(network: &CameraNetwork) -> (String, String, String, bool) {
    (
        network.address.to_string(),
        mask_of_prefix(network.prefix_len).to_string(),
        network.gateway.map(|g| g.to_string()).unwrap_or_default(),
        network.dhcp,
    )
}

/// The interface name.
pub(crate) const INTERFACE: &str = "org.vigil.Nvr1.Camera";

/// Every property, in the order GetManagedObjects lists them.
pub(crate) const PROPERTIES: &[&str] = &[
    "Id",
    "Status",
    "Certified",
    "Model",
    "Serial",
    "Firmware",
    "Address",
    "LastError",
    "LastErrorKind",
    "Channel",
    "Name",
    "ClockOffset",
    "ClockDrift",
    "Protocol",
];

/// The status properties, as one PropertiesChanged so clients see them change together.
const STATUS_PROPERTIES: &[&str] = &["Status", "Certified", "LastError", "LastErrorKind"];

/// The English sentence of a camera's last error, or empty.
pub(crate) fn last_error_sentence(camera: &AddedCamera) -> String {
    camera
        .status
        .last_error
        .as_ref()
        .map(ToString::to_string)
        .unwrap_or_default()
}

/// The word for the kind of a camera's last error, or empty.
fn last_error_kind(camera: &AddedCamera) -> &'static str {
    camera
        .status
        .last_error
        .as_ref()
        .map_or("", |reason| reason.kind.as_str())
}

/// One property's value, borrowed from `camera` where it can be. The single mapping from a camera to
/// its properties for PropertiesChanged and GetManagedObjects.
/// `drift_limit` is the recorder's `clock_drift_limit_secs`.
pub(crate) fn property_value<'a>(
    camera: &'a AddedCamera,
    name: &str,
    drift_limit: std::time::Duration,
) -> Option<Variant<'a>> {
    Some(match name {
        "Id" => Variant::from(camera.id.0),
        "Status" => Variant::from(camera.status.state.as_str()),
        "Certified" => Variant::from(camera.status.certified()),
        "LastError" => Variant::from(last_error_sentence(camera)),
        "LastErrorKind" => Variant::from(last_error_kind(camera)),
        "Channel" => Variant::from(camera.channel.unwrap_or(0)),
        "Name" => Variant::from(camera.display_name()),
        "Model" => Variant::from(camera.identity.model.as_str()),
        "Serial" => Variant::from(camera.identity.serial.as_str()),
        "Firmware" => Variant::from(camera.identity.firmware.as_str()),
        "Address" => Variant::from(camera.address.to_string()),
        "ClockOffset" => Variant::from(camera.clock_offset_secs),
        "ClockDrift" => Variant::from(camera.clock_drifted(drift_limit)),
        "Protocol" => Variant::from(camera.protocol.as_str()),
        _ => return None,
    })
}

async fn emit(connection: &zbus::Connection, id: CameraId, names: &[&str]) -> zbus::Result<()> {
    let path = camera_path(id);
    let object = connection
        .object_server()
        .interface::<_, ReadOnly<Camera>>(&path)
        .await?;
    let nvr = object.get().await.shared.nvr.clone();
    let Some(camera) = nvr.added_camera(id).ok() else {
        return Ok(());
    };
    let drift_limit = nvr.settings().camera_time.drift_limit;
    let changed: HashMap<&str, Variant<'_>> = names
        .iter()
        .filter_map(|name| property_value(&camera, name, drift_limit).map(|v| (*name, v)))
        .collect();
    zbus::fdo::Properties::properties_changed(
        object.signal_emitter(),
        InterfaceName::from_static_str_unchecked(INTERFACE),
        changed,
        Cow::Borrowed(&[]),
    )
    .await
}

/// Signals a status change (Status, Certified, LastError, LastErrorKind), in one PropertiesChanged.
pub async fn emit_status_changed(connection: &zbus::Connection, id: CameraId) -> zbus::Result<()> {
    emit(connection, id, STATUS_PROPERTIES).await
}

/// Signals a newly measured clock (ClockOffset, ClockDrift), in one PropertiesChanged.
pub async fn emit_clock_changed(connection: &zbus::Connection, id: CameraId) -> zbus::Result<()> {
    emit(connection, id, &["ClockOffset", "ClockDrift"]).await
}

/// Signals every property that can change, in one PropertiesChanged.
pub async fn emit_all_changed(connection: &zbus::Connection, id: CameraId) -> zbus::Result<()> {
    let mut names = STATUS_PROPERTIES.to_vec();
    names.extend([
        "Model",
        "Serial",
        "Firmware",
        "Address",
        "Channel",
        "Name",
        "ClockOffset",
        "ClockDrift",
    ]);
    emit(connection, id, &names).await
}
