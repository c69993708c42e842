//! Wiring the window to the service: every callback of the UI contract goes to the adapter of its
//! global, and a watcher keeps the lists current.

use std::rc::Rc;
use std::sync::Arc;

use slint::{ComponentHandle, ModelRc, VecModel};

use super::bridge::{Adapter, UiSink};
use super::ui::{AddedRow, AppWindow, DeviceAccess, DiscoveredRow, Shell};
use super::{account, camera_settings, device_access, dialogs, mail_settings, shell, wizard};
use crate::model::Actor;
use crate::service::Nvr;

/// Keeps the lists' models alive with the window.
pub struct Wiring {
    _added: Rc<VecModel<AddedRow>>,
    _discovered: Rc<VecModel<DiscoveredRow>>,
}

/// Wires every callback of the UI contract to the service and starts the watcher that keeps the
/// lists current. `draw_cursor` is for bare HDMI, where nothing else draws the mouse.
pub fn wire(
    window: &AppWindow,
    nvr: Nvr,
    runtime: tokio::runtime::Handle,
    sink: UiSink,
    draw_cursor: bool,
) -> Wiring {
    let added = Rc::new(VecModel::<AddedRow>::default());
    let discovered = Rc::new(VecModel::<DiscoveredRow>::default());
    window
        .global::<DeviceAccess>()
        .set_added(ModelRc::from(added.clone()));
    window
        .global::<DeviceAccess>()
        .set_discovered(ModelRc::from(discovered.clone()));
    let shell = window.global::<Shell>();
    shell.set_draw_cursor(draw_cursor);
    shell.set_version(env!("CARGO_PKG_VERSION").into());
    // Settings are reached only logged in to the recorder's one admin account.
    let adapter = Adapter {
        nvr,
        runtime,
        sink,
        actor: Actor::Gui {
            user: crate::service::NVR_ADMIN.into(),
        },
        wizard: Arc::default(),
        session: Arc::default(),
    };
    shell::wire(window, &adapter);
    device_access::wire(window, &adapter);
    dialogs::wire(window, &adapter);
    camera_settings::wire(window, &adapter);
    wizard::wire(window, &adapter);
    account::wire(window, &adapter);
    mail_settings::wire(window, &adapter);
    adapter.spawn_watcher();
    Wiring {
        _added: added,
        _discovered: discovered,
    }
}
