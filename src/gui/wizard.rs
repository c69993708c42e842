//! The ForgetPassword global: the forget-password wizard, from remove first to the camera added
//! again, driving one flow of the service and showing its every step.

use slint::{ComponentHandle, ModelRc, SharedString, VecModel};

use super::bridge::{Adapter, Wizard};
use super::rows::{self, failure, failure_of, no_failure};
use super::ui::{
    AppWindow, CameraStatus, DeviceAccess, Dialog, DialogKind, ForgetPassword, Problem, WizardStep,
};
use crate::model::Caller;
use crate::model::{RecoveryFlow, RecoveryId, RecoveryStep, RecoveryTarget};
use crate::service::{Nvr, NvrError, RecoveryStart};

// ── The Forget Password wizard ─────────────────────────────────────────────────────────────────

/// What the wizard shows of a flow, computed off the UI thread (the QR image is made here too).
pub(super) struct FlowView {
    flow: RecoveryFlow,
    /// The camera as the menu names it: channel and name when it is (or was) added.
    label: String,
    /// The camera added again after the reset, named so.
    result_label: Option<String>,
    seconds_left: i32,
    qr: Option<slint::SharedPixelBuffer<slint::Rgba8Pixel>>,
    result_status: Option<CameraStatus>,
}

impl Adapter {
    /// The wizard's hold on the service.
    pub(super) fn wizard(&self) -> std::sync::MutexGuard<'_, Wizard> {
        self.wizard.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The seconds the flow's code has left on the service clock.
    pub(super) fn seconds_left(&self, flow: &RecoveryFlow) -> i32 {
        i32::try_from(flow.time_left(self.nvr.now()).as_secs()).unwrap_or(i32::MAX)
    }

    pub(super) fn flow_view(&self, flow: RecoveryFlow) -> FlowView {
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
        let result_label = flow
            .result_camera
            .and_then(|id| self.nvr.with_added_camera(id, rows::wizard_name));
        let label = self
            .wizard()
            .label
            .clone()
            .unwrap_or_else(|| flow.camera_label());
        FlowView {
            flow,
            label,
            result_label,
            seconds_left,
            qr,
            result_status,
        }
    }

    /// Opens the wizard on a discovered device or an added camera.
    pub(super) fn start_wizard(&self, target: RecoveryTarget) {
        {
            let mut wizard = self.wizard();
            *wizard = Wizard {
                target: Some(target.clone()),
                ..Wizard::default()
            };
        }
        // An added camera is named as Added Devices names it (channel and name); another by its serial
        // number and address.
        let added = match &target {
            RecoveryTarget::Discovered(key) => self
                .nvr
                .discovered_device(key)
                .ok()
                .and_then(|d| d.added_as),
            RecoveryTarget::Added(id) => Some(*id),
        };
        let label = match added.and_then(|id| self.nvr.with_added_camera(id, rows::wizard_name)) {
            Some(label) => label,
            None => match &target {
                RecoveryTarget::Discovered(key) => self
                    .nvr
                    .discovered_device(key)
                    .map(|d| crate::model::camera_label(&d.identity, &d.address))
                    .unwrap_or_default(),
                RecoveryTarget::Added(_) => String::new(),
            },
        };
        self.wizard().label = Some(label.clone()).filter(|l| !l.is_empty());
        self.sink.post(move |w| {
            w.global::<DeviceAccess>().invoke_clear_notice();
            let fp = w.global::<ForgetPassword>();
            fp.set_camera(label.into());
            fp.set_failure(no_failure());
            fp.set_code_sent_to(SharedString::new());
            fp.set_busy(true);
            fp.set_step(WizardStep::Starting);
        });
        let a = self.clone();
        self.runtime.spawn(async move {
            match a.nvr.start_recovery(target, &a.caller()).await {
                Ok(start) => a.show_start(start),
                Err(error) => a.wizard_failure(&error),
            }
        });
    }

    /// Shows the step starting Forget Password led to: the flow, Remove first, or Change password.
    fn show_start(&self, start: RecoveryStart) {
        match start {
            RecoveryStart::Started(flow) => self.show_flow(*flow),
            RecoveryStart::RemoveFirst { .. } => self.sink.post(|w| {
                let fp = w.global::<ForgetPassword>();
                fp.set_busy(false);
                fp.set_step(WizardStep::RemoveFirst);
            }),
            RecoveryStart::ChangePasswordInstead { camera } => {
                self.wizard().modify_camera = Some(camera);
                self.sink.post(|w| {
                    let fp = w.global::<ForgetPassword>();
                    fp.set_busy(false);
                    fp.set_step(WizardStep::UseModify);
                });
            }
        }
    }

    /// Shows the flow as it is now, at the step it is at.
    pub(super) fn show_flow(&self, flow: RecoveryFlow) {
        {
            let mut wizard = self.wizard();
            wizard.flow = Some(flow.id);
        }
        let view = self.flow_view(flow);
        self.sink.post(move |w| apply_flow(w, view));
    }

    pub(super) fn wizard_failure(&self, error: &NvrError) {
        if self.login_ended(error) {
            return;
        }
        let failure = failure_of(error);
        self.sink.post(move |w| {
            let fp = w.global::<ForgetPassword>();
            fp.set_busy(false);
            fp.set_failure(failure);
        });
    }

    pub(super) fn flow_id(&self) -> Option<RecoveryId> {
        self.wizard().flow
    }

    /// Runs one step of the flow: busy while it runs; on failure the failure is shown with the flow
    /// as the service now has it (attempts left, a new step).
    pub(super) fn wizard_call<F>(
        &self,
        call: impl FnOnce(Nvr, RecoveryId, Caller) -> F + Send + 'static,
    ) where
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
            match call(a.nvr.clone(), id, a.caller()).await {
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

    /// A flow changed behind the wizard (a background step, expiry): refresh what it shows, without
    /// moving a step the installer is typing in.
    pub(super) fn show_flow_update(&self, flow: &RecoveryFlow) {
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

/// Puts a flow on the wizard's screen.
pub(super) fn apply_flow(window: &AppWindow, view: FlowView) {
    let fp = window.global::<ForgetPassword>();
    let flow = &view.flow;
    fp.set_busy(false);
    fp.set_camera(view.label.clone().into());
    fp.set_user_name(flow.reset_user.clone().into());
    fp.set_masked_email(flow.masked_email.clone().unwrap_or_default().into());
    fp.set_internet(flow.internet);
    use crate::model::RecoveryMethod;
    fp.set_by_email(flow.methods.contains(&RecoveryMethod::SendCode));
    fp.set_by_qr(flow.methods.contains(&RecoveryMethod::AppQr));
    fp.set_phone_app(flow.protocol.phone_app().unwrap_or_default().into());
    fp.set_support_restores_defaults(flow.protocol.support_restores_defaults());
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
            fp.set_added_before(flow.removed_camera.is_some());
            fp.set_result_status(view.result_status.unwrap_or(CameraStatus::Offline));
            fp.set_result_camera(
                view.result_label
                    .clone()
                    .unwrap_or_else(|| view.label.clone())
                    .into(),
            );
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

pub(super) fn wire(window: &AppWindow, adapter: &Adapter) {
    let fp = window.global::<ForgetPassword>();
    let a = adapter.clone();
    fp.on_start(move |key| a.start_wizard(RecoveryTarget::Discovered(key.to_string())));

    let a = adapter.clone();
    fp.on_remove_and_continue(move || {
        let Some(target) = a.wizard().target.clone() else {
            return;
        };
        a.sink.post(|w| {
            let fp = w.global::<ForgetPassword>();
            fp.set_busy(true);
            fp.set_failure(no_failure());
        });
        let a2 = a.clone();
        a.runtime.spawn(async move {
            match a2.nvr.remove_and_start_recovery(target, &a2.caller()).await {
                Ok(start) => a2.show_start(start),
                Err(error) => a2.wizard_failure(&error),
            }
        });
    });

    let a = adapter.clone();
    fp.on_send_code(move || {
        a.wizard_call(|nvr, id, caller| async move { nvr.send_code(id, &caller).await })
    });
    let a = adapter.clone();
    fp.on_new_code(move || {
        a.wizard_call(|nvr, id, caller| async move { nvr.new_challenge(id, &caller).await })
    });
    let a = adapter.clone();
    fp.on_verify(move |code| {
        let code = code.trim().to_owned();
        a.wizard_call(
            move |nvr, id, caller| async move { nvr.verify_code(id, &code, &caller).await },
        )
    });
    let a = adapter.clone();
    fp.on_verify_support(move |code| {
        let code = code.trim().to_owned();
        a.wizard_call(move |nvr, id, caller| async move {
            nvr.verify_support_code(id, &code, &caller).await
        })
    });
    let a = adapter.clone();
    fp.on_reset(move |password, confirmation| {
        // The step stays while the camera is asked (busy): a refusal (a weak password, a
        // mismatch) keeps what was typed, as every dialog of the menu does.
        a.wizard_call(move |nvr, id, caller| async move {
            nvr.complete_reset(id, &password, &confirmation, &caller)
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
                if still_going && let Err(error) = a2.nvr.cancel_recovery(id, &a2.caller()).await {
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
            dialog.set_camera_ids(ModelRc::new(VecModel::from(vec![SharedString::from(
                camera.0.to_string(),
            )])));
            dialog.set_camera_name(name.into());
            dialog.set_failure(no_failure());
            dialog.set_kind(DialogKind::ChangePassword);
        });
    });
}
