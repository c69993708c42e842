//! The DeviceAccess global: the Added Devices and Discovered Devices lists, kept in step with the
//! service's events, their ticks and their actions.

use slint::{ComponentHandle, Model, SharedString, VecModel};
use tokio::sync::broadcast::error::RecvError;

use super::bridge::Adapter;
use super::rows::{self, failure_of, no_failure};
use super::ui::{AddedRow, AppWindow, DeviceAccess, DiscoveredRow, Failure, NoticeKind, Shell};
use crate::model::{CameraId, CameraState, RecoveryTarget};
use crate::service::NvrError;

pub(super) fn wire(window: &AppWindow, adapter: &Adapter) {
    let access = window.global::<DeviceAccess>();
    let a = adapter.clone();
    access.on_refresh(move || {
        a.touch_session();
        let a2 = a.clone();
        a.sink.post(|w| {
            let access = w.global::<DeviceAccess>();
            access.invoke_clear_notice();
            access.set_discovering(true);
        });
        a.runtime.spawn(async move {
            if let Err(error) = a2.nvr.refresh_discovery(&[]).await {
                let failure = failure_of(&error);
                let discovering = a2.nvr.discovery_running();
                a2.sink.post(move |w| {
                    show_notice_failure(w, failure);
                    w.global::<DeviceAccess>().set_discovering(discovering);
                });
            }
        });
    });
    let weak = window.as_weak();
    access.on_toggle_selected(move |id| {
        let Some(window) = weak.upgrade() else { return };
        let model = window.global::<DeviceAccess>().get_added();
        for index in 0..model.row_count() {
            if let Some(mut row) = model.row_data(index)
                && row.id == id
            {
                row.selected = !row.selected;
                model.set_row_data(index, row);
            }
        }
    });
    let weak = window.as_weak();
    access.on_toggle_discovered(move |key| {
        let Some(window) = weak.upgrade() else { return };
        let access = window.global::<DeviceAccess>();
        let model = access.get_discovered();
        for index in 0..model.row_count() {
            if let Some(mut row) = model.row_data(index)
                && row.key == key
                && !row.added
                && !row.inactive
            {
                row.selected = !row.selected;
                model.set_row_data(index, row);
            }
        }
        access.set_ticked_discovered(model.iter().filter(|r| r.selected).count() as i32);
    });
    let a = adapter.clone();
    access.on_remove(move |id| {
        let a2 = a.clone();
        let camera = rows::camera_id_of(&id);
        a.sink
            .post(|w| w.global::<DeviceAccess>().invoke_clear_notice());
        a.runtime.spawn(async move {
            let name = camera.and_then(|c| a2.nvr.with_added_camera(c, rows::notice_name));
            let result = match camera {
                Some(camera) => a2.nvr.remove_camera(camera, &a2.caller()).await,
                None => Err(NvrError::CameraNotFound(CameraId(0))),
            };
            if let Err(error) = &result
                && a2.login_ended(error)
            {
                return;
            }
            a2.sink.post(move |w| match result {
                Ok(()) => show_notice(w, NoticeKind::Removed, name.unwrap_or_default(), 1),
                Err(error) => show_notice_failure(w, failure_of(&error)),
            });
        });
    });
    let a = adapter.clone();
    access.on_forget_added(move |id| match rows::camera_id_of(&id) {
        Some(camera) => {
            a.sink
                .post(|w| w.global::<DeviceAccess>().invoke_clear_notice());
            a.start_wizard(RecoveryTarget::Added(camera))
        }
        None => {
            let error = NvrError::CameraNotFound(CameraId(0));
            a.sink
                .post(move |w| show_notice_failure(w, failure_of(&error)))
        }
    });
}

/// Says what an action did, about one camera (or `count` of them), over the bottom of the lists.
pub(super) fn show_notice(window: &AppWindow, kind: NoticeKind, camera: String, count: i32) {
    let access = window.global::<DeviceAccess>();
    access.set_notice_failure(no_failure());
    access.set_notice_camera(camera.into());
    access.set_notice_count(count);
    access.set_notice_kind(kind);
}

/// Says why an action failed, over the bottom of the lists, until it is closed or the next action.
pub(super) fn show_notice_failure(window: &AppWindow, failure: Failure) {
    let access = window.global::<DeviceAccess>();
    access.set_notice_kind(NoticeKind::None);
    access.set_notice_failure(failure);
}

/// Clears the ticks of Discovered Devices.
pub(super) fn untick_discovered(window: &AppWindow) {
    let access = window.global::<DeviceAccess>();
    let model = access.get_discovered();
    for index in 0..model.row_count() {
        if let Some(mut row) = model.row_data(index)
            && row.selected
        {
            row.selected = false;
            model.set_row_data(index, row);
        }
    }
    access.set_ticked_discovered(0);
}

pub(super) fn untick_all(window: &AppWindow) {
    let model = window.global::<DeviceAccess>().get_added();
    for index in 0..model.row_count() {
        if let Some(mut row) = model.row_data(index)
            && row.selected
        {
            row.selected = false;
            model.set_row_data(index, row);
        }
    }
}

// ── Keeping the lists current ──────────────────────────────────────────────────────────────────

/// The lists as the service has them, ready for the UI thread.
pub(super) struct Snapshot {
    added: Vec<AddedRow>,
    discovered: Vec<DiscoveredRow>,
    discovering: bool,
    online: i32,
}

impl Adapter {
    pub(super) fn snapshot(&self) -> Snapshot {
        let nvr = &self.nvr;
        let mut cameras = nvr.added_cameras();
        // By channel, as a recorder lists them; a camera without one last.
        cameras.sort_by_key(|c| (c.channel.is_none(), c.channel, c.id));
        let added: Vec<AddedRow> = cameras
            .iter()
            .map(|c| rows::added_row(c, nvr.lock_time_left(c), false, nvr.clock_drifted(c)))
            .collect();
        let online = cameras
            .iter()
            .filter(|c| c.status.state == CameraState::Online)
            .count() as i32;
        let state_of = |id: CameraId| cameras.iter().find(|c| c.id == id).map(|c| c.status.state);
        let mut devices = nvr.discovered_devices();
        devices.sort_by(|a, b| {
            (
                a.address.host.parse::<std::net::IpAddr>().ok(),
                a.address.port,
                &a.key,
            )
                .cmp(&(
                    b.address.host.parse::<std::net::IpAddr>().ok(),
                    b.address.port,
                    &b.key,
                ))
        });
        let discovered = devices
            .iter()
            .map(|d| {
                rows::discovered_row(
                    d,
                    d.added_as.and_then(state_of),
                    nvr.plug_and_play_outcome(&d.key),
                )
            })
            .collect();
        Snapshot {
            added,
            discovered,
            discovering: nvr.discovery_running(),
            online,
        }
    }

    /// Follows the service's events and refreshes the lists; a burst of events is one refresh.
    pub(super) fn spawn_watcher(&self) {
        let a = self.clone();
        let mut events = self.nvr.subscribe();
        let snapshot = a.snapshot();
        a.sink.post(move |w| apply_snapshot(w, snapshot));
        self.runtime.spawn(async move {
            loop {
                match events.recv().await {
                    Ok(event) => {
                        if let crate::model::NvrEvent::RecoveryChanged { flow } = &event
                            && a.flow_id() == Some(flow.id)
                        {
                            a.show_flow_update(flow);
                        }
                    }
                    Err(RecvError::Lagged(_)) => {}
                    Err(RecvError::Closed) => return,
                }
                // Take every event already waiting, then refresh once.
                loop {
                    match events.try_recv() {
                        Ok(crate::model::NvrEvent::RecoveryChanged { flow })
                            if a.flow_id() == Some(flow.id) =>
                        {
                            a.show_flow_update(&flow)
                        }
                        Ok(_) | Err(tokio::sync::broadcast::error::TryRecvError::Lagged(_)) => {}
                        Err(_) => break,
                    }
                }
                let snapshot = a.snapshot();
                a.sink.post(move |w| apply_snapshot(w, snapshot));
            }
        });
    }
}

/// Brings the models in line with a snapshot, touching only rows that changed (so only they are
/// repainted) and keeping the installer's ticks.
pub(super) fn apply_snapshot(window: &AppWindow, snapshot: Snapshot) {
    let access = window.global::<DeviceAccess>();
    let added = access.get_added();
    let ticked: Vec<SharedString> = added.iter().filter(|r| r.selected).map(|r| r.id).collect();
    let rows: Vec<AddedRow> = snapshot
        .added
        .into_iter()
        .map(|mut row| {
            row.selected = ticked.contains(&row.id);
            row
        })
        .collect();
    if let Some(model) = added.as_any().downcast_ref::<VecModel<AddedRow>>() {
        sync_rows(model, rows);
    }
    let discovered = access.get_discovered();
    let ticked_keys: Vec<SharedString> = discovered
        .iter()
        .filter(|r| r.selected)
        .map(|r| r.key)
        .collect();
    // A tick stays while the device can still be added.
    let devices: Vec<DiscoveredRow> = snapshot
        .discovered
        .into_iter()
        .map(|mut row| {
            row.selected = ticked_keys.contains(&row.key) && !row.added && !row.inactive;
            row
        })
        .collect();
    access.set_ticked_discovered(devices.iter().filter(|r| r.selected).count() as i32);
    if let Some(model) = discovered
        .as_any()
        .downcast_ref::<VecModel<DiscoveredRow>>()
    {
        sync_rows(model, devices);
    }
    access.set_discovering(snapshot.discovering);
    let shell = window.global::<Shell>();
    shell.set_added_count(access.get_added().row_count() as i32);
    shell.set_online_count(snapshot.online);
}

pub(super) fn sync_rows<T: Clone + PartialEq + 'static>(model: &VecModel<T>, rows: Vec<T>) {
    let keep = model.row_count().min(rows.len());
    for (index, row) in rows.iter().enumerate().take(keep) {
        if model.row_data(index).as_ref() != Some(row) {
            model.set_row_data(index, row.clone());
        }
    }
    if rows.len() > keep {
        model.extend(rows.into_iter().skip(keep));
    } else {
        while model.row_count() > keep {
            model.remove(model.row_count() - 1);
        }
    }
}
