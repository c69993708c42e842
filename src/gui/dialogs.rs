//! The Dialog global: Add, Add by IP, Edit, Activate, Change password (one or many) and Remove, each
//! calling the service and showing its answer in the dialog.

use slint::{ComponentHandle, Model, ModelRc, SharedString, VecModel};

use super::bridge::Adapter;
use super::device_access::untick_all;
use super::device_access::{show_notice, show_notice_failure, untick_discovered};
use super::rows::{self, failure, failure_of, field_failure, no_failure};
use super::ui::{AppWindow, DeviceAccess, Dialog, DialogKind, NoticeKind, Problem};
use crate::model::CameraId;
use crate::service::{AddCamera, NvrError};

impl Adapter {
    /// Runs a Device Access dialog's service call: busy while it runs, closed on success, the failure
    /// shown otherwise.
    pub(super) fn dialog_call<T, F>(
        &self,
        call: F,
        on_success: impl FnOnce(&AppWindow, T) + Send + 'static,
    ) where
        T: Send + 'static,
        F: std::future::Future<Output = Result<T, NvrError>> + Send + 'static,
    {
        self.touch_session();
        self.sink.post(|w| {
            let dialog = w.global::<Dialog>();
            dialog.set_busy(true);
            dialog.set_failure(no_failure());
        });
        let a = self.clone();
        self.runtime.spawn(async move {
            let result = call.await;
            if let Err(error) = &result
                && a.login_ended(error)
            {
                return;
            }
            a.sink.post(move |w| {
                let dialog = w.global::<Dialog>();
                dialog.set_busy(false);
                match result {
                    Ok(value) => on_success(w, value),
                    Err(error) => dialog.set_failure(failure_of(&error)),
                }
            });
        });
    }

    pub(super) fn dialog_failure(&self, failure: super::ui::Failure) {
        self.sink
            .post(move |w| w.global::<Dialog>().set_failure(failure));
    }
}

pub(super) fn close_dialog(window: &AppWindow) {
    let dialog = window.global::<Dialog>();
    dialog.set_kind(DialogKind::None);
    dialog.set_failure(no_failure());
    dialog.set_results(ModelRc::default());
}

pub(super) fn wire(window: &AppWindow, adapter: &Adapter) {
    let dialog = window.global::<Dialog>();
    let nvr = adapter.nvr.clone();
    dialog.on_check_password(move |password, user| {
        if password.is_empty() {
            rows::password_not_entered()
        } else {
            rows::password_check(&nvr.assess_new_password(&password, &user))
        }
    });

    let a = adapter.clone();
    dialog.on_add_discovered(move |key, user, password| {
        if user.trim().is_empty() {
            return a.dialog_failure(field_failure(Problem::EmptyField, 0, "username", ""));
        }
        let (nvr, caller) = (a.nvr.clone(), a.caller());
        a.dialog_call(
            async move {
                nvr.add_discovered(&key, user.trim(), &password, &caller)
                    .await
            },
            |w, camera| {
                close_dialog(w);
                show_notice(w, NoticeKind::Added, rows::notice_name(&camera), 1);
            },
        );
    });

    let a = adapter.clone();
    let weak = window.as_weak();
    dialog.on_add_selected(move |user, password| {
        let Some(window) = weak.upgrade() else { return };
        if user.trim().is_empty() {
            return a.dialog_failure(field_failure(Problem::EmptyField, 0, "username", ""));
        }
        let ticked: Vec<(String, String)> = window
            .global::<DeviceAccess>()
            .get_discovered()
            .iter()
            .filter(|r| r.selected)
            .map(|r| (r.key.to_string(), format!("{} {}", r.model, r.serial)))
            .collect();
        if ticked.is_empty() {
            return a.dialog_failure(failure(Problem::NothingSelected, 0, ""));
        }
        let keys: Vec<String> = ticked.iter().map(|(key, _)| key.clone()).collect();
        let (nvr, caller) = (a.nvr.clone(), a.caller());
        a.dialog_call(
            async move {
                let outcomes = nvr
                    .add_discovered_many(&keys, user.trim(), &password, &caller)
                    .await?;
                Ok(outcomes
                    .into_iter()
                    .map(|(key, result)| {
                        let name = ticked
                            .iter()
                            .find(|(k, _)| *k == key)
                            .map(|(_, name)| name.clone())
                            .unwrap_or(key);
                        let name = match &result {
                            Ok(camera) => format!("{} {name}", camera.channel_label()),
                            Err(_) => name,
                        };
                        rows::push_result(name, &result)
                    })
                    .collect::<Vec<_>>())
            },
            |w, results| {
                // Every outcome is listed; the ticks of a finished action go.
                untick_discovered(w);
                w.global::<Dialog>()
                    .set_results(ModelRc::new(VecModel::from(results)));
            },
        );
    });

    let a = adapter.clone();
    dialog.on_add_by_address(move |host, port, user, password| {
        let host = host.trim().to_owned();
        if host.is_empty() {
            return a.dialog_failure(field_failure(Problem::EmptyField, 0, "host", ""));
        }
        let Some(port) = rows::port_of(&port) else {
            return a.dialog_failure(failure(Problem::PortInvalid, 0, ""));
        };
        if user.trim().is_empty() {
            return a.dialog_failure(field_failure(Problem::EmptyField, 0, "username", ""));
        }
        let (nvr, caller) = (a.nvr.clone(), a.caller());
        let request = AddCamera {
            host: host.clone(),
            port,
            username: user.trim().to_owned(),
            password: password.to_string(),
        };
        let sink = a.sink.clone();
        a.dialog_call(
            async move {
                match nvr.add_camera(request, &caller).await {
                    Ok(camera) => Ok(Err(camera)),
                    // A refused password: the camera is listed by asking its address directly (no
                    // login), so the dialog can offer Forget Password for it.
                    Err(NvrError::CredentialsRejected) => {
                        if let Ok(device) = nvr.discover_address(&host, port).await {
                            let key = device.key;
                            sink.post(move |w| w.global::<Dialog>().set_device_key(key.into()));
                        }
                        Err(NvrError::CredentialsRejected)
                    }
                    // A camera in factory state lets any login in: it is offered for activation
                    // instead, listed by asking its address directly.
                    Err(NvrError::CameraInactive) => nvr
                        .discover_address(&host, port)
                        .await
                        .ok()
                        .filter(|device| device.inactive)
                        .map(Ok)
                        .ok_or(NvrError::CameraInactive),
                    Err(error) => Err(error),
                }
            },
            // Ok: an inactive device to activate instead; Err: the camera, added.
            |w, inactive| match inactive {
                Err(camera) => {
                    close_dialog(w);
                    w.global::<DeviceAccess>().set_tab(0);
                    show_notice(w, NoticeKind::Added, rows::notice_name(&camera), 1);
                }
                Ok(device) => {
                    let dialog = w.global::<Dialog>();
                    dialog.set_camera_name(
                        format!("{} {}", rows::device_model(&device), device.address).into(),
                    );
                    dialog.set_device_key(device.key.into());
                    dialog.set_failure(failure(Problem::CameraInactive, 0, ""));
                    dialog.set_kind(DialogKind::Activate);
                }
            },
        );
    });

    let a = adapter.clone();
    dialog.on_edit_credentials(move |id, user, password| {
        if user.trim().is_empty() {
            return a.dialog_failure(field_failure(Problem::EmptyField, 0, "username", ""));
        }
        let Some(camera) = rows::camera_id_of(&id) else {
            return a.dialog_failure(failure(Problem::CameraNotFound, 0, ""));
        };
        let (nvr, caller) = (a.nvr.clone(), a.caller());
        a.dialog_call(
            async move {
                nvr.edit_credentials(camera, user.trim(), &password, &caller)
                    .await
            },
            |w, _| close_dialog(w),
        );
    });

    let a = adapter.clone();
    dialog.on_activate(move |key, password, confirmation, email| {
        let nvr = a.nvr.clone();
        let caller = a.caller();
        a.dialog_call(
            async move {
                nvr.activate_camera(&key, &password, &confirmation, email.trim(), true, &caller)
                    .await
            },
            |w, activation| {
                close_dialog(w);
                match (&activation.camera, &activation.add_error) {
                    (Some(camera), _) => show_notice(
                        w,
                        NoticeKind::ActivatedAndAdded,
                        rows::notice_name(camera),
                        1,
                    ),
                    // Activated, but not added: say why, on the list.
                    (None, Some(error)) => show_notice_failure(w, failure_of(error)),
                    (None, None) => show_notice(w, NoticeKind::Activated, String::new(), 1),
                }
            },
        );
    });

    let a = adapter.clone();
    let weak = window.as_weak();
    dialog.on_change_passwords(move |password, confirmation| {
        let Some(window) = weak.upgrade() else { return };
        let mut ids: Vec<SharedString> =
            window.global::<Dialog>().get_camera_ids().iter().collect();
        if ids.is_empty() {
            let added = window.global::<DeviceAccess>().get_added();
            ids = added.iter().filter(|r| r.selected).map(|r| r.id).collect();
        }
        if ids.is_empty() {
            return a.dialog_failure(failure(Problem::NothingSelected, 0, ""));
        }
        let Some(cameras) = ids
            .iter()
            .map(|id| rows::camera_id_of(id))
            .collect::<Option<Vec<CameraId>>>()
        else {
            return a.dialog_failure(failure(Problem::CameraNotFound, 0, ""));
        };
        let nvr = a.nvr.clone();
        let caller = a.caller();
        a.dialog_call(
            async move {
                let outcomes = nvr
                    .change_camera_passwords(&cameras, &password, &confirmation, &caller)
                    .await?;
                Ok(outcomes
                    .into_iter()
                    .map(|outcome| {
                        let name = nvr
                            .with_added_camera(outcome.camera, rows::notice_name)
                            .unwrap_or_else(|| outcome.camera.to_string());
                        rows::push_result(name, &outcome.result)
                    })
                    .collect::<Vec<_>>())
            },
            |w, results| {
                if results.iter().all(|r| r.ok) {
                    close_dialog(w);
                    untick_all(w);
                    let first = results.first().map(|r| r.name.to_string());
                    show_notice(
                        w,
                        NoticeKind::PasswordsChanged,
                        first.unwrap_or_default(),
                        i32::try_from(results.len()).unwrap_or(i32::MAX),
                    );
                } else {
                    // The outcomes are listed by name; the ticks of a finished action go.
                    untick_all(w);
                    w.global::<Dialog>()
                        .set_results(ModelRc::new(VecModel::from(results)));
                }
            },
        );
    });

    let a = adapter.clone();
    dialog.on_open_channel_and_name(move |id| {
        let Some(camera) = rows::camera_id_of(&id).and_then(|c| a.nvr.added_camera(c).ok()) else {
            return;
        };
        // Its own channel first, then every free one.
        let choices: Vec<SharedString> = a
            .nvr
            .channels_open_to(camera.id)
            .into_iter()
            .map(|c| SharedString::from(format!("D{c}")))
            .collect();
        a.sink.post(move |w| {
            w.global::<DeviceAccess>().invoke_clear_notice();
            let dialog = w.global::<Dialog>();
            dialog.set_camera_id(id);
            dialog.set_camera_name(rows::notice_name(&camera).into());
            dialog.set_name(camera.name.clone().into());
            dialog.set_free_channels(ModelRc::new(VecModel::from(choices)));
            dialog.set_failure(no_failure());
            dialog.set_kind(DialogKind::ChannelAndName);
        });
    });

    let a = adapter.clone();
    dialog.on_set_channel_and_name(move |id, channel, name| {
        let Some(camera) = rows::camera_id_of(&id) else {
            return a.dialog_failure(failure(Problem::CameraNotFound, 0, ""));
        };
        let channel = channel
            .trim()
            .trim_start_matches(['D', 'd'])
            .parse::<u16>()
            .ok();
        let (nvr, caller) = (a.nvr.clone(), a.caller());
        a.dialog_call(
            async move {
                if let Some(channel) = channel {
                    nvr.set_camera_channel(camera, channel, &caller).await?;
                }
                nvr.set_camera_name(camera, &name, &caller).await
            },
            |w, camera| {
                close_dialog(w);
                show_notice(
                    w,
                    NoticeKind::ChannelAndName,
                    format!("{} {}", camera.channel_label(), camera.display_name()),
                    1,
                );
            },
        );
    });

    let a = adapter.clone();
    dialog.on_remove_camera(move |id| {
        let Some(camera) = rows::camera_id_of(&id) else {
            return a.dialog_failure(failure(Problem::CameraNotFound, 0, ""));
        };
        let (nvr, caller) = (a.nvr.clone(), a.caller());
        let name = nvr
            .with_added_camera(camera, rows::notice_name)
            .unwrap_or_default();
        a.dialog_call(
            async move { nvr.remove_camera(camera, &caller).await },
            move |w, ()| {
                close_dialog(w);
                show_notice(w, NoticeKind::Removed, name, 1);
            },
        );
    });
}
