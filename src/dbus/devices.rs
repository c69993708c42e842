//! `org.vigil.Nvr1.Devices` at `/org/vigil/Nvr1`: maintenance of discovered cameras that are not
//! added, with a user name and password given for the call (one login, never retried): read and
//! change a camera's network settings (Edit IP), and reboot it. An added camera's own object
//! (`org.vigil.Nvr1.Camera`) does the same with its stored credentials.

use zbus::interface;
use zbus::message::Header;

use crate::dbus::Shared;
use crate::dbus::auth::{Access, authorized, check_text};
use crate::dbus::camera::{changed_reply, network_change_arg, network_reply};
use crate::dbus::error::DbusError;
use crate::dbus::manager::MAX_TEXT;
use crate::model::Caller;
use crate::service::MaintainedCamera;

/// The devices object.
pub struct Devices {
    shared: Shared,
}

impl Devices {
    /// The object over the shared service.
    pub fn new(shared: Shared) -> Self {
        Self { shared }
    }
}

/// A discovered camera, checked, with the credentials for this call.
fn discovered(key: &str, username: &str, password: &str) -> Result<MaintainedCamera, DbusError> {
    check_text("key", key, MAX_TEXT)?;
    check_text("username", username, 64)?;
    check_text("password", password, 128)?;
    Ok(MaintainedCamera::Discovered {
        key: key.to_owned(),
        username: username.to_owned(),
        password: password.to_owned(),
    })
}

#[interface(name = "org.vigil.Nvr1.Devices")]
impl Devices {
    /// A discovered camera's IPv4 settings: address, mask (255.255.255.0), gateway (empty for none),
    /// DHCP.
    async fn get_device_network(
        &self,
        #[zbus(header)] header: Header<'_>,
        key: String,
        username: String,
        password: String,
    ) -> Result<(String, String, String, bool), DbusError> {
        authorized(&self.shared, &header, Access::Admin, async |actor| {
            let camera = discovered(&key, &username, &password)?;
            let network = self
                .shared
                .nvr
                .camera_network(&camera, &Caller::from(actor))
                .await?;
            Ok(network_reply(&network))
        })
        .await
    }

    /// Gives a discovered camera new IPv4 settings (Edit IP): address, mask, gateway (empty for
    /// none), DHCP. Checked before anything is sent. Returns the settings now in force and whether the
    /// camera was rebooted to apply them.
    #[allow(clippy::too_many_arguments)] // The D-Bus method's arguments, one each.
    async fn set_device_network(
        &self,
        #[zbus(header)] header: Header<'_>,
        key: String,
        username: String,
        password: String,
        address: String,
        mask: String,
        gateway: String,
        dhcp: bool,
    ) -> Result<(String, String, String, bool, bool), DbusError> {
        authorized(&self.shared, &header, Access::Admin, async |actor| {
            let camera = discovered(&key, &username, &password)?;
            let change = network_change_arg(&address, &mask, &gateway, dhcp)?;
            let changed = self
                .shared
                .nvr
                .set_camera_network(&camera, &change, &Caller::from(actor))
                .await?;
            Ok(changed_reply(&changed))
        })
        .await
    }

    /// Reboots a discovered camera. Returns its own message.
    async fn reboot_device(
        &self,
        #[zbus(header)] header: Header<'_>,
        key: String,
        username: String,
        password: String,
    ) -> Result<String, DbusError> {
        authorized(&self.shared, &header, Access::Admin, async |actor| {
            let camera = discovered(&key, &username, &password)?;
            Ok(self
                .shared
                .nvr
                .reboot_camera(&camera, &Caller::from(actor))
                .await?)
        })
        .await
    }
}
