//! The CameraSettings global: IP and maintenance of one camera. Opening it for an added camera reads
//! its network settings with the stored password; for a discovered one it waits for a login. Saving
//! Edit IP, setting the clock, rebooting and restoring factory defaults each call the service and show
//! its answer in the dialog.

use slint::ComponentHandle;

use super::bridge::Adapter;
use super::rows::{self, no_failure};
use super::ui::{
    AppWindow, CameraSettings, DeviceAccess, Dialog, DialogKind, SettingsConfirm, SettingsDone,
};
use crate::model::{CameraNetwork, FactoryDefault, NetworkChanged};
use crate::rules::network::mask_of_prefix;
use crate::service::{MaintainedCamera, network_change_from_text};

/// Shows settings read from the camera in the fields.
fn show_network(window: &AppWindow, network: &CameraNetwork) {
    let settings = window.global::<CameraSettings>();
    settings.set_address(network.address.to_string().into());
    settings.set_mask(mask_of_prefix(network.prefix_len).to_string().into());
    settings.set_gateway(
        network
            .gateway
            .map(|g| g.to_string())
            .unwrap_or_default()
            .into(),
    );
    settings.set_dhcp(network.dhcp);
    settings.set_loaded(true);
}

/// Opens the dialog empty, for `target`.
fn open(window: &AppWindow, target: &str, name: &str, discovered: bool) {
    window.global::<DeviceAccess>().invoke_clear_notice();
    let settings = window.global::<CameraSettings>();
    settings.set_target(target.into());
    settings.set_discovered(discovered);
    settings.set_loaded(false);
    settings.set_address("".into());
    settings.set_mask("".into());
    settings.set_gateway("".into());
    settings.set_dhcp(false);
    settings.set_confirm(SettingsConfirm::None);
    settings.set_done(SettingsDone::None);
    let dialog = window.global::<Dialog>();
    dialog.set_camera_name(name.into());
    dialog.set_password("".into());
    dialog.set_failure(no_failure());
    dialog.set_kind(DialogKind::CameraSettings);
}

impl Adapter {
    /// The camera the dialog is about, with the login typed for a discovered one.
    fn maintained(window: &AppWindow, user: &str, password: &str) -> Option<MaintainedCamera> {
        let settings = window.global::<CameraSettings>();
        let target = settings.get_target().to_string();
        if settings.get_discovered() {
            Some(MaintainedCamera::Discovered {
                key: target,
                username: user.trim().to_owned(),
                password: password.to_owned(),
            })
        } else {
            rows::camera_id_of(&target).map(MaintainedCamera::Added)
        }
    }

    /// Reads the camera's settings into the dialog.
    fn load_network(&self, camera: MaintainedCamera) {
        let (nvr, caller) = (self.nvr.clone(), self.caller());
        self.dialog_call(
            async move { nvr.camera_network(&camera, &caller).await },
            |w, network| show_network(w, &network),
        );
    }

    /// Shows an added camera's clock offset and whether it is past the limit.
    fn show_clock(&self, window: &AppWindow) {
        let settings = window.global::<CameraSettings>();
        let camera = rows::camera_id_of(&settings.get_target())
            .and_then(|id| self.nvr.added_camera(id).ok());
        if let Some(camera) = camera {
            settings.set_clock_offset(rows::seconds_for_ui(camera.clock_offset_secs));
            settings.set_clock_drift(self.nvr.clock_drifted(&camera));
        }
        settings.set_drift_limit(
            i32::try_from(self.nvr.settings().camera_time.drift_limit.as_secs())
                .unwrap_or(i32::MAX),
        );
    }
}

pub(super) fn wire(window: &AppWindow, adapter: &Adapter) {
    let settings = window.global::<CameraSettings>();

    let (a, weak) = (adapter.clone(), window.as_weak());
    settings.on_open_added(move |id, name| {
        let Some(window) = weak.upgrade() else { return };
        open(&window, &id, &name, false);
        a.show_clock(&window);
        if let Some(camera) = Adapter::maintained(&window, "", "") {
            a.load_network(camera);
        }
    });

    let weak = window.as_weak();
    settings.on_open_discovered(move |key, name| {
        let Some(window) = weak.upgrade() else { return };
        open(&window, &key, &name, true);
    });

    let (a, weak) = (adapter.clone(), window.as_weak());
    settings.on_log_in(move |user, password| {
        let Some(window) = weak.upgrade() else { return };
        if let Some(camera) = Adapter::maintained(&window, &user, &password) {
            a.load_network(camera);
        }
    });

    let (a, weak) = (adapter.clone(), window.as_weak());
    settings.on_save_network(move |user, password, address, mask, gateway, dhcp| {
        let Some(window) = weak.upgrade() else { return };
        let Some(camera) = Adapter::maintained(&window, &user, &password) else {
            return;
        };
        let change = match network_change_from_text(&address, &mask, &gateway, dhcp) {
            Ok(change) => change,
            Err(error) => return a.dialog_failure(rows::failure_of(&error)),
        };
        let (nvr, caller) = (a.nvr.clone(), a.caller());
        a.dialog_call(
            async move { nvr.set_camera_network(&camera, &change, &caller).await },
            |w, changed: NetworkChanged| {
                show_network(w, &changed.network);
                w.global::<CameraSettings>().set_done(if changed.rebooted {
                    SettingsDone::NetworkSavedRebooted
                } else {
                    SettingsDone::NetworkSaved
                });
            },
        );
    });

    let (a, weak) = (adapter.clone(), window.as_weak());
    settings.on_set_clock(move || {
        let Some(window) = weak.upgrade() else { return };
        let Some(MaintainedCamera::Added(id)) = Adapter::maintained(&window, "", "") else {
            return;
        };
        let (nvr, caller) = (a.nvr.clone(), a.caller());
        let shown = a.clone();
        a.dialog_call(
            async move { nvr.set_camera_clock(id, &caller).await },
            move |w, _offset| {
                shown.show_clock(w);
                w.global::<CameraSettings>()
                    .set_done(SettingsDone::ClockSet);
            },
        );
    });

    let (a, weak) = (adapter.clone(), window.as_weak());
    settings.on_reboot(move |user, password| {
        let Some(window) = weak.upgrade() else { return };
        let Some(camera) = Adapter::maintained(&window, &user, &password) else {
            return;
        };
        let (nvr, caller) = (a.nvr.clone(), a.caller());
        a.dialog_call(
            async move { nvr.reboot_camera(&camera, &caller).await },
            |w, _message| {
                let settings = w.global::<CameraSettings>();
                settings.set_confirm(SettingsConfirm::None);
                settings.set_done(SettingsDone::Rebooting);
            },
        );
    });

    let (a, weak) = (adapter.clone(), window.as_weak());
    settings.on_factory_defaults(move |hard| {
        let Some(window) = weak.upgrade() else { return };
        let Some(camera) = Adapter::maintained(&window, "", "") else {
            return;
        };
        let kind = if hard {
            FactoryDefault::Hard
        } else {
            FactoryDefault::Soft
        };
        let (nvr, caller) = (a.nvr.clone(), a.caller());
        a.dialog_call(
            async move { nvr.restore_factory_defaults(&camera, kind, &caller).await },
            move |w, ()| {
                let settings = w.global::<CameraSettings>();
                settings.set_confirm(SettingsConfirm::None);
                settings.set_done(if hard {
                    SettingsDone::HardDefaults
                } else {
                    SettingsDone::SoftDefaults
                });
            },
        );
    });
}
