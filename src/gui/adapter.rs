//! The adapters between the UI contract (ui/api.slint) and the service API: each callback calls the
//! service on the tokio runtime and posts the outcome back to the UI thread, and a watcher keeps the
//! camera lists in step with the service's events. No flow logic and no SQL live here.

use std::rc::Rc;
use std::sync::{Arc, Mutex};

use slint::{ComponentHandle, Model, ModelRc, SharedString, VecModel};
use tokio::sync::broadcast::error::RecvError;

use super::rows::{self, failure, failure_of, no_failure};
use super::ui::{
    AddedRow, AppWindow, CameraStatus, DeviceAccess, Dialog, DialogKind, DiscoveredRow,
    ForgetPassword, Keyboard, Problem, PushResult, Shell, WizardStep,
};
use crate::model::{Actor, CameraId, CameraState};
use crate::model::{RecoveryFlow, RecoveryId, RecoveryStep};
use crate::service::{AddCamera, Nvr, NvrError};

/// Work for the UI thread.
pub type UiJob = Box<dyn FnOnce(&AppWindow) + Send>;

/// How results reach the UI thread: through Slint's event loop, or (in headless tests, which have no
/// event loop) through a queue the test drains.
#[derive(Clone)]
pub enum UiSink {
    /// The running event loop of the window.
    EventLoop(slint::Weak<AppWindow>),
    /// A queue drained by whoever owns the window.
    Queue(std::sync::mpsc::Sender<UiJob>),
}

impl UiSink {
    /// Runs `job` on the UI thread with the window, unless the window is gone.
    pub fn post(&self, job: impl FnOnce(&AppWindow) + Send + 'static) {
        match self {
            UiSink::EventLoop(window) => {
                let _ = window.upgrade_in_event_loop(move |window| job(&window));
            }
            UiSink::Queue(queue) => {
                let _ = queue.send(Box::new(job));
            }
        }
    }
}

/// Runs the jobs posted to a [`UiSink::Queue`] on `window` until `done` holds (true) or `limit` has
/// passed (false). Headless runs (tests, benchmarks) have no event loop; this stands in for it,
/// waiting on the queue rather than polling.
pub fn run_queued_until(
    window: &AppWindow,
    jobs: &std::sync::mpsc::Receiver<UiJob>,
    limit: std::time::Duration,
    done: impl Fn(&AppWindow) -> bool,
) -> bool {
    let deadline = std::time::Instant::now() + limit;
    loop {
        while let Ok(job) = jobs.try_recv() {
            job(window);
        }
        if done(window) {
            return true;
        }
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return false;
        }
        if let Ok(job) = jobs.recv_timeout(left) {
            job(window);
        }
    }
}

/// What the adapters share: the service, the runtime that runs its calls, the way back to the UI,
/// and the forget-password flow the wizard shows.
#[derive(Clone)]
pub(super) struct Adapter {
    pub(super) nvr: Nvr,
    pub(super) runtime: tokio::runtime::Handle,
    pub(super) sink: UiSink,
    pub(super) actor: Actor,
    wizard: Arc<Mutex<Wizard>>,
    pub(super) session: super::account::SharedSession,
}

/// The wizard's hold on the service: which device it started on and which flow it drives.
#[derive(Default)]
struct Wizard {
    device_key: String,
    flow: Option<RecoveryId>,
    modify_camera: Option<CameraId>,
}

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
    wire_shell(window, &adapter);
    wire_device_access(window, &adapter);
    wire_dialogs(window, &adapter);
    wire_wizard(window, &adapter);
    super::account::wire_account(window, &adapter);
    adapter.spawn_watcher();
    Wiring {
        _added: added,
        _discovered: discovered,
    }
}

/// Shows the menu in `language` ("en" or "ru"); whether it could.
fn show_language(window: &AppWindow, language: &str) -> bool {
    match slint::select_bundled_translation(language) {
        Ok(()) => {
            let index = crate::service::MENU_LANGUAGES
                .iter()
                .position(|l| *l == language)
                .unwrap_or(0);
            window.global::<Shell>().set_language(index as i32);
            true
        }
        Err(error) => {
            tracing::warn!(language, %error, "cannot switch the menu language");
            false
        }
    }
}

fn wire_shell(window: &AppWindow, adapter: &Adapter) {
    // The language chosen last time, once the store answers.
    let a = adapter.clone();
    adapter.runtime.spawn(async move {
        match a.nvr.menu_language().await {
            Ok(Some(language)) => a.sink.post(move |w| {
                show_language(w, &language);
            }),
            Ok(None) => {}
            Err(error) => tracing::warn!(%error, "cannot read the menu language"),
        }
    });
    let weak = window.as_weak();
    let a = adapter.clone();
    window.global::<Shell>().on_language_selected(move |index| {
        let Some(language) = usize::try_from(index)
            .ok()
            .and_then(|i| crate::service::MENU_LANGUAGES.get(i))
        else {
            return;
        };
        let Some(window) = weak.upgrade() else { return };
        if !show_language(&window, language) {
            return;
        }
        tracing::info!(language, "menu language changed");
        let nvr = a.nvr.clone();
        a.runtime.spawn(async move {
            if let Err(error) = nvr.set_menu_language(language).await {
                tracing::warn!(%error, "cannot keep the menu language for the next start");
            }
        });
    });
    let weak = window.as_weak();
    window.global::<Keyboard>().on_key_pressed(move |text| {
        let Some(window) = weak.upgrade() else { return };
        window
            .window()
            .dispatch_event(slint::platform::WindowEvent::KeyPressed { text: text.clone() });
        window
            .window()
            .dispatch_event(slint::platform::WindowEvent::KeyReleased { text });
    });
}

fn wire_device_access(window: &AppWindow, adapter: &Adapter) {
    let access = window.global::<DeviceAccess>();
    let a = adapter.clone();
    access.on_refresh(move || {
        a.touch_session();
        let a2 = a.clone();
        a.sink.post(|w| {
            let access = w.global::<DeviceAccess>();
            access.set_notice_failure(no_failure());
            access.set_discovering(true);
        });
        a.runtime.spawn(async move {
            if let Err(error) = a2.nvr.refresh_discovery(&[]).await {
                let failure = failure_of(&error);
                let discovering = a2.nvr.discovery_running();
                a2.sink.post(move |w| {
                    let access = w.global::<DeviceAccess>();
                    access.set_notice_failure(failure);
                    access.set_discovering(discovering);
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
    let a = adapter.clone();
    access.on_remove(move |id| {
        let a2 = a.clone();
        a.runtime.spawn(async move {
            let result = a2.nvr.remove_camera(CameraId(i64::from(id))).await;
            a2.sink.post(move |w| {
                let failure = result.err().map_or_else(no_failure, |e| failure_of(&e));
                w.global::<DeviceAccess>().set_notice_failure(failure);
            });
        });
    });
    let a = adapter.clone();
    access.on_forget_added(
        move |id| match a.nvr.discovered_device_of(CameraId(i64::from(id))) {
            Ok(device) => a.start_wizard(device.key),
            Err(error) => a.sink.post(move |w| {
                w.global::<DeviceAccess>()
                    .set_notice_failure(failure_of(&error));
            }),
        },
    );
}

impl Adapter {
    /// Runs a Device Access dialog's service call: busy while it runs, closed on success, the failure
    /// shown otherwise.
    fn dialog_call<T, F>(&self, call: F, on_success: impl FnOnce(&AppWindow, T) + Send + 'static)
    where
        T: Send + 'static,
        F: std::future::Future<Output = Result<T, NvrError>> + Send + 'static,
    {
        self.touch_session();
        self.sink.post(|w| {
            let dialog = w.global::<Dialog>();
            dialog.set_busy(true);
            dialog.set_failure(no_failure());
        });
        let sink = self.sink.clone();
        self.runtime.spawn(async move {
            let result = call.await;
            sink.post(move |w| {
                let dialog = w.global::<Dialog>();
                dialog.set_busy(false);
                match result {
                    Ok(value) => on_success(w, value),
                    Err(error) => dialog.set_failure(failure_of(&error)),
                }
            });
        });
    }

    fn dialog_failure(&self, failure: super::ui::Failure) {
        self.sink
            .post(move |w| w.global::<Dialog>().set_failure(failure));
    }
}

fn close_dialog(window: &AppWindow) {
    let dialog = window.global::<Dialog>();
    dialog.set_kind(DialogKind::None);
    dialog.set_failure(no_failure());
    dialog.set_results(ModelRc::default());
}

fn wire_dialogs(window: &AppWindow, adapter: &Adapter) {
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
            return a.dialog_failure(failure(Problem::EmptyField, 0, "user name"));
        }
        let nvr = a.nvr.clone();
        a.dialog_call(
            async move { nvr.add_discovered(&key, user.trim(), &password).await },
            |w, _| close_dialog(w),
        );
    });

    let a = adapter.clone();
    dialog.on_add_by_address(move |host, port, user, password| {
        let host = host.trim().to_owned();
        if host.is_empty() {
            return a.dialog_failure(failure(Problem::EmptyField, 0, "IP address"));
        }
        let Some(port) = rows::port_of(&port) else {
            return a.dialog_failure(failure(Problem::PortInvalid, 0, ""));
        };
        if user.trim().is_empty() {
            return a.dialog_failure(failure(Problem::EmptyField, 0, "user name"));
        }
        let nvr = a.nvr.clone();
        let request = AddCamera {
            host: host.clone(),
            port,
            username: user.trim().to_owned(),
            password: password.to_string(),
        };
        a.dialog_call(
            async move {
                match nvr.add_camera(request).await {
                    Ok(_) => Ok(None),
                    // A camera in factory state lets any login in: it is offered for activation
                    // instead, listed by asking its address directly.
                    Err(NvrError::CameraInactive) => nvr
                        .discover_address(&host, port)
                        .await
                        .ok()
                        .filter(|device| device.inactive)
                        .map(Some)
                        .ok_or(NvrError::CameraInactive),
                    Err(error) => Err(error),
                }
            },
            |w, inactive| match inactive {
                None => {
                    close_dialog(w);
                    w.global::<DeviceAccess>().set_tab(0);
                }
                Some(device) => {
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
            return a.dialog_failure(failure(Problem::EmptyField, 0, "user name"));
        }
        let nvr = a.nvr.clone();
        a.dialog_call(
            async move {
                nvr.edit_credentials(CameraId(i64::from(id)), user.trim(), &password)
                    .await
            },
            |w, _| close_dialog(w),
        );
    });

    let a = adapter.clone();
    dialog.on_activate(move |key, password, confirmation, email| {
        let nvr = a.nvr.clone();
        let actor = a.actor.clone();
        a.dialog_call(
            async move {
                nvr.activate_camera(&key, &password, &confirmation, email.trim(), true, &actor)
                    .await
            },
            |w, activation| {
                close_dialog(w);
                // Activated, but not added: say why, on the list.
                let failure = activation
                    .add_error
                    .as_ref()
                    .map_or_else(no_failure, failure_of);
                w.global::<DeviceAccess>().set_notice_failure(failure);
            },
        );
    });

    let a = adapter.clone();
    let weak = window.as_weak();
    dialog.on_change_passwords(move |password, confirmation| {
        let Some(window) = weak.upgrade() else { return };
        let mut ids: Vec<i32> = window.global::<Dialog>().get_camera_ids().iter().collect();
        if ids.is_empty() {
            let added = window.global::<DeviceAccess>().get_added();
            ids = added.iter().filter(|r| r.selected).map(|r| r.id).collect();
        }
        if ids.is_empty() {
            return a.dialog_failure(failure(Problem::NothingSelected, 0, ""));
        }
        let cameras: Vec<CameraId> = ids.into_iter().map(|id| CameraId(i64::from(id))).collect();
        let nvr = a.nvr.clone();
        let actor = a.actor.clone();
        a.dialog_call(
            async move {
                let outcomes = nvr
                    .change_camera_passwords(&cameras, &password, &confirmation, &actor)
                    .await?;
                Ok(outcomes
                    .into_iter()
                    .map(|outcome| {
                        let name = nvr
                            .with_added_camera(outcome.camera, rows::camera_name)
                            .unwrap_or_else(|| outcome.camera.to_string());
                        match outcome.result {
                            Ok(_) => PushResult {
                                name: name.into(),
                                ok: true,
                                failure: no_failure(),
                            },
                            Err(error) => PushResult {
                                name: name.into(),
                                ok: false,
                                failure: failure_of(&error),
                            },
                        }
                    })
                    .collect::<Vec<_>>())
            },
            |w, results| {
                if results.iter().all(|r| r.ok) {
                    close_dialog(w);
                    untick_all(w);
                } else {
                    w.global::<Dialog>()
                        .set_results(ModelRc::new(VecModel::from(results)));
                }
            },
        );
    });

    let a = adapter.clone();
    dialog.on_remove_camera(move |id| {
        let nvr = a.nvr.clone();
        a.dialog_call(
            async move { nvr.remove_camera(CameraId(i64::from(id))).await },
            |w, ()| close_dialog(w),
        );
    });
}

fn untick_all(window: &AppWindow) {
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

// ── The Forget Password wizard ─────────────────────────────────────────────────────────────────

/// What the wizard shows of a flow, computed off the UI thread (the QR image is made here too).
struct FlowView {
    flow: RecoveryFlow,
    seconds_left: i32,
    qr: Option<slint::SharedPixelBuffer<slint::Rgba8Pixel>>,
    result_status: Option<CameraStatus>,
}

impl Adapter {
    /// The wizard's hold on the service.
    fn wizard(&self) -> std::sync::MutexGuard<'_, Wizard> {
        self.wizard.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The seconds the flow's code has left on the service clock.
    fn seconds_left(&self, flow: &RecoveryFlow) -> i32 {
        i32::try_from(flow.time_left(self.nvr.now()).as_secs()).unwrap_or(i32::MAX)
    }

    fn flow_view(&self, flow: RecoveryFlow) -> FlowView {
        let seconds_left = self.seconds_left(&flow);
        let qr = flow.challenge.as_ref().and_then(|challenge| {
            crate::qr::render(&challenge.qr_payload, 8)
                .ok()
                .map(|image| {
                    slint::SharedPixelBuffer::<slint::Rgba8Pixel>::clone_from_slice(
                        &image.rgba,
                        image.width,
                        image.height,
                    )
                })
        });
        let result_status = flow
            .result_camera
            .and_then(|id| self.nvr.with_added_camera(id, |c| c.status.state))
            .map(rows::camera_status);
        FlowView {
            flow,
            seconds_left,
            qr,
            result_status,
        }
    }

    /// Opens the wizard on a discovered device.
    fn start_wizard(&self, device_key: String) {
        {
            let mut wizard = self.wizard();
            *wizard = Wizard {
                device_key: device_key.clone(),
                ..Wizard::default()
            };
        }
        let label = self
            .nvr
            .discovered_device(&device_key)
            .map(|d| crate::model::camera_label(&d.identity, &d.address))
            .unwrap_or_default();
        self.sink.post(move |w| {
            let fp = w.global::<ForgetPassword>();
            fp.set_camera(label.into());
            fp.set_failure(no_failure());
            fp.set_code_sent_to(SharedString::new());
            fp.set_busy(true);
            fp.set_step(WizardStep::Starting);
        });
        let a = self.clone();
        self.runtime.spawn(async move {
            match a.nvr.start_recovery(&device_key, &a.actor).await {
                Ok(flow) => a.show_flow(flow),
                Err(NvrError::RemoveFirst { .. }) => a.sink.post(|w| {
                    let fp = w.global::<ForgetPassword>();
                    fp.set_busy(false);
                    fp.set_step(WizardStep::RemoveFirst);
                }),
                Err(NvrError::UseModify { camera }) => {
                    a.wizard().modify_camera = Some(camera);
                    a.sink.post(|w| {
                        let fp = w.global::<ForgetPassword>();
                        fp.set_busy(false);
                        fp.set_step(WizardStep::UseModify);
                    });
                }
                Err(error) => a.wizard_failure(&error),
            }
        });
    }

    /// Shows the flow as it is now, at the step it is at.
    fn show_flow(&self, flow: RecoveryFlow) {
        {
            let mut wizard = self.wizard();
            wizard.flow = Some(flow.id);
        }
        let view = self.flow_view(flow);
        self.sink.post(move |w| apply_flow(w, view));
    }

    fn wizard_failure(&self, error: &NvrError) {
        let failure = failure_of(error);
        self.sink.post(move |w| {
            let fp = w.global::<ForgetPassword>();
            fp.set_busy(false);
            fp.set_failure(failure);
        });
    }

    fn flow_id(&self) -> Option<RecoveryId> {
        self.wizard().flow
    }

    /// Runs one step of the flow: busy while it runs; on failure the failure is shown with the flow
    /// as the service now has it (attempts left, a new step).
    fn wizard_call<F>(&self, call: impl FnOnce(Nvr, RecoveryId, Actor) -> F + Send + 'static)
    where
        F: std::future::Future<Output = Result<RecoveryFlow, NvrError>> + Send + 'static,
    {
        self.touch_session();
        let Some(id) = self.flow_id() else {
            return self
                .wizard_failure(&NvrError::RecoveryWrongStep("start Forget Password again"));
        };
        self.sink.post(|w| {
            let fp = w.global::<ForgetPassword>();
            fp.set_busy(true);
            fp.set_failure(no_failure());
        });
        let a = self.clone();
        self.runtime.spawn(async move {
            match call(a.nvr.clone(), id, a.actor.clone()).await {
                Ok(flow) => a.show_flow(flow),
                Err(error) => {
                    if let Ok(flow) = a.nvr.recovery(id) {
                        a.show_flow(flow);
                    }
                    a.wizard_failure(&error);
                }
            }
        });
    }
}

/// Puts a flow on the wizard's screen.
fn apply_flow(window: &AppWindow, view: FlowView) {
    let fp = window.global::<ForgetPassword>();
    let flow = &view.flow;
    fp.set_busy(false);
    fp.set_camera(flow.camera_label().into());
    fp.set_user_name(flow.reset_user.clone().into());
    fp.set_masked_email(flow.masked_email.clone().unwrap_or_default().into());
    fp.set_internet(flow.internet);
    use crate::model::RecoveryMethod;
    fp.set_by_email(flow.methods.contains(&RecoveryMethod::SendCode));
    fp.set_by_qr(flow.methods.contains(&RecoveryMethod::AppQr));
    fp.set_by_support(flow.methods.contains(&RecoveryMethod::SupportCode));
    fp.set_serial(flow.identity.serial.clone().into());
    fp.set_camera_date(flow.camera_date.clone().into());
    fp.set_code_sent_to(flow.code_sent_to.clone().unwrap_or_default().into());
    fp.set_attempts_left(flow.attempts_left() as i32);
    fp.set_seconds_left(view.seconds_left);
    if let Some(qr) = view.qr {
        fp.set_qr(slint::Image::from_rgba8(qr));
    }
    let step = match flow.step {
        RecoveryStep::AwaitingCode => WizardStep::GetCode,
        RecoveryStep::CodeVerified => WizardStep::NewPassword,
        RecoveryStep::Resetting => WizardStep::Working,
        RecoveryStep::Completed => {
            fp.set_readded(flow.result_camera.is_some());
            fp.set_result_status(view.result_status.unwrap_or(CameraStatus::Offline));
            fp.set_result_camera(flow.camera_label().into());
            WizardStep::Done
        }
        RecoveryStep::Failed | RecoveryStep::Expired | RecoveryStep::Cancelled => {
            let problem = match flow.step {
                RecoveryStep::Expired => Problem::RecoveryExpired,
                _ => Problem::Other,
            };
            fp.set_failure(failure(
                problem,
                0,
                flow.failure.clone().unwrap_or_default(),
            ));
            WizardStep::Working
        }
    };
    fp.set_step(step);
}

fn wire_wizard(window: &AppWindow, adapter: &Adapter) {
    let fp = window.global::<ForgetPassword>();
    let a = adapter.clone();
    fp.on_start(move |key| a.start_wizard(key.to_string()));

    let a = adapter.clone();
    fp.on_remove_and_continue(move || {
        let key = a.wizard().device_key.clone();
        a.sink.post(|w| {
            let fp = w.global::<ForgetPassword>();
            fp.set_busy(true);
            fp.set_failure(no_failure());
        });
        let a2 = a.clone();
        a.runtime.spawn(async move {
            match a2.nvr.remove_and_start_recovery(&key, &a2.actor).await {
                Ok(flow) => a2.show_flow(flow),
                Err(error) => a2.wizard_failure(&error),
            }
        });
    });

    let a = adapter.clone();
    fp.on_send_code(move || {
        a.wizard_call(|nvr, id, actor| async move { nvr.send_code(id, &actor).await })
    });
    let a = adapter.clone();
    fp.on_new_code(move || {
        a.wizard_call(|nvr, id, actor| async move { nvr.new_challenge(id, &actor).await })
    });
    let a = adapter.clone();
    fp.on_verify(move |code| {
        let code = code.trim().to_owned();
        a.wizard_call(move |nvr, id, actor| async move { nvr.verify_code(id, &code, &actor).await })
    });
    let a = adapter.clone();
    fp.on_verify_support(move |code| {
        let code = code.trim().to_owned();
        a.wizard_call(move |nvr, id, actor| async move {
            nvr.verify_support_code(id, &code, &actor).await
        })
    });
    let a = adapter.clone();
    fp.on_reset(move |password, confirmation| {
        // Rules the meter already shows are checked here too, so a weak password never leaves the
        // new-password step.
        a.sink
            .post(|w| w.global::<ForgetPassword>().set_step(WizardStep::Working));
        a.wizard_call(move |nvr, id, actor| async move {
            nvr.complete_reset(id, &password, &confirmation, &actor)
                .await
        })
    });
    let a = adapter.clone();
    fp.on_cancel(move || {
        let flow = a.flow_id();
        *a.wizard() = Wizard::default();
        a.sink.post(|w| {
            let fp = w.global::<ForgetPassword>();
            fp.set_busy(false);
            fp.set_failure(no_failure());
            fp.set_step(WizardStep::Closed);
        });
        if let Some(id) = flow {
            let a2 = a.clone();
            a.runtime.spawn(async move {
                let still_going = a2
                    .nvr
                    .with_recovery(id, |f| f.step.is_active())
                    .unwrap_or(false);
                if still_going && let Err(error) = a2.nvr.cancel_recovery(id, &a2.actor).await {
                    tracing::warn!(flow = %id, %error, "cannot cancel the password reset");
                }
            });
        }
    });
    let a = adapter.clone();
    fp.on_use_modify(move || {
        let camera = a.wizard().modify_camera;
        let name = camera
            .and_then(|id| a.nvr.with_added_camera(id, rows::camera_name))
            .unwrap_or_default();
        a.sink.post(move |w| {
            w.global::<ForgetPassword>().set_step(WizardStep::Closed);
            let Some(camera) = camera else { return };
            let dialog = w.global::<Dialog>();
            dialog.set_camera_ids(ModelRc::new(VecModel::from(vec![camera.0 as i32])));
            dialog.set_camera_name(name.into());
            dialog.set_failure(no_failure());
            dialog.set_kind(DialogKind::ChangePassword);
        });
    });
}

// ── Keeping the lists current ──────────────────────────────────────────────────────────────────

/// The lists as the service has them, ready for the UI thread.
struct Snapshot {
    added: Vec<AddedRow>,
    discovered: Vec<DiscoveredRow>,
    discovering: bool,
    online: i32,
}

impl Adapter {
    fn snapshot(&self) -> Snapshot {
        let nvr = &self.nvr;
        let mut cameras = nvr.added_cameras();
        cameras.sort_by_key(|c| c.id);
        let added: Vec<AddedRow> = cameras
            .iter()
            .map(|c| rows::added_row(c, nvr.lock_time_left(c), false))
            .collect();
        let online = cameras
            .iter()
            .filter(|c| c.status.state == CameraState::Online)
            .count() as i32;
        let not_certified = |id: CameraId| {
            cameras
                .iter()
                .any(|c| c.id == id && c.status.state != CameraState::Online)
        };
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
            .map(|d| rows::discovered_row(d, d.added_as.is_some_and(not_certified)))
            .collect();
        Snapshot {
            added,
            discovered,
            discovering: nvr.discovery_running(),
            online,
        }
    }

    /// Follows the service's events and refreshes the lists; a burst of events is one refresh.
    fn spawn_watcher(&self) {
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

    /// A flow changed behind the wizard (a background step, expiry): refresh what it shows, without
    /// moving a step the installer is typing in.
    fn show_flow_update(&self, flow: &RecoveryFlow) {
        let attempts = flow.attempts_left() as i32;
        let seconds = self.seconds_left(flow);
        let sent_to: SharedString = flow.code_sent_to.clone().unwrap_or_default().into();
        self.sink.post(move |w| {
            let fp = w.global::<ForgetPassword>();
            fp.set_attempts_left(attempts);
            fp.set_seconds_left(seconds);
            fp.set_code_sent_to(sent_to);
        });
    }
}

/// Brings the models in line with a snapshot, touching only rows that changed (so only they are
/// repainted) and keeping the installer's ticks.
fn apply_snapshot(window: &AppWindow, snapshot: Snapshot) {
    let access = window.global::<DeviceAccess>();
    let added = access.get_added();
    let ticked: Vec<i32> = added.iter().filter(|r| r.selected).map(|r| r.id).collect();
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
    if let Some(model) = discovered
        .as_any()
        .downcast_ref::<VecModel<DiscoveredRow>>()
    {
        sync_rows(model, snapshot.discovered);
    }
    access.set_discovering(snapshot.discovering);
    let shell = window.global::<Shell>();
    shell.set_added_count(access.get_added().row_count() as i32);
    shell.set_online_count(snapshot.online);
}

fn sync_rows<T: Clone + PartialEq + 'static>(model: &VecModel<T>, rows: Vec<T>) {
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
