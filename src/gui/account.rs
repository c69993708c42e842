//! The adapters of the recorder's own account and mail server: the first-boot gate, the login dialog
//! (password, authenticator code, Forgot password), the session that guards Settings and ends when
//! idle, two-factor login in Settings > System, and Settings > Network > Email. Every decision is the
//! service's; this only carries entries to it and outcomes back.

use std::time::Duration;

use secrecy::SecretString;
use slint::{ComponentHandle, ModelRc, SharedString, VecModel};

use super::bridge::{Adapter, session};
use super::rows::{account_failure_of, failure, no_failure};
use super::shell::show_screen;
use super::ui::{
    Account, AppWindow, DeviceAccess, Dialog, DialogKind, ForgetPassword, ForgotStep, Gate,
    LoginStep, MailSettings, Problem, Screen, Shell, TwoFactorStep, WizardStep,
};
use crate::service::{LoginStep as Step, NVR_ADMIN, NvrError, Session};

/// How often the menu checks whether its login has gone idle.
pub(super) const IDLE_CHECK: Duration = Duration::from_secs(1);

impl Adapter {
    pub(super) fn account_busy(&self) {
        self.sink.post(|w| {
            let account = w.global::<Account>();
            account.set_busy(true);
            account.set_failure(no_failure());
        });
    }

    pub(super) fn account_failure(&self, error: &NvrError) {
        let failure = account_failure_of(error);
        self.sink.post(move |w| {
            let account = w.global::<Account>();
            account.set_busy(false);
            account.set_failure(failure);
        });
    }

    /// Logged in: remember the session, close the dialog and go where the installer was going.
    pub(super) fn logged_in(&self, new: Session) {
        let target = {
            let mut held = session(self);
            held.token = Some(new.token);
            held.pending = None;
            held.after_login.take().unwrap_or(Screen::Home)
        };
        let a = self.clone();
        self.runtime.spawn(async move {
            let two_factor = a
                .nvr
                .account_status()
                .await
                .map(|status| status.totp_enabled)
                .unwrap_or(false);
            let reserved_email = a.nvr.reserved_email(&a.caller()).await.unwrap_or_default();
            a.sink.post(move |w| {
                // A camera's Activate dialog offers the recorder's reserved email as its reset email.
                w.global::<Dialog>()
                    .set_suggested_email(reserved_email.into());
                let account = w.global::<Account>();
                account.set_busy(false);
                account.set_failure(no_failure());
                account.set_logged_in(true);
                account.set_user_name(new.username.into());
                account.set_show_identity(false);
                account.set_login_step(LoginStep::Closed);
                account.set_two_factor(if two_factor {
                    TwoFactorStep::On
                } else {
                    TwoFactorStep::Off
                });
                show_screen(w, target);
            });
            if target == Screen::Email {
                a.load_mail_settings();
            }
        });
    }

    /// The login ended (logout, idle, a password reset): back to the live view, with no dialog or
    /// wizard left open over it. A reset in progress is cancelled, as the installer could not finish
    /// it without logging in again anyway.
    pub(super) fn logged_out(&self, why: Option<Problem>) {
        {
            let mut held = session(self);
            if let Some(token) = held.token.take() {
                self.nvr.logout(&token);
            }
            held.pending = None;
        }
        self.sink.post(move |w| {
            let account = w.global::<Account>();
            account.set_logged_in(false);
            account.set_busy(false);
            account.set_two_factor(TwoFactorStep::Off);
            account.set_recovery_codes(ModelRc::default());
            account.set_two_factor_key(SharedString::new());
            match why {
                Some(problem) => {
                    account.set_failure(failure(problem, 0, ""));
                    account.set_login_step(LoginStep::Password);
                }
                None => account.set_failure(no_failure()),
            }
            w.global::<MailSettings>().set_busy(false);
            if w.global::<ForgetPassword>().get_step() != WizardStep::Closed {
                w.global::<ForgetPassword>().invoke_cancel();
            }
            w.global::<Dialog>().set_kind(DialogKind::None);
            w.global::<Dialog>().set_busy(false);
            w.global::<DeviceAccess>().invoke_clear_notice();
            super::device_access::untick_all(w);
            super::device_access::untick_discovered(w);
            w.global::<Shell>().set_screen(Screen::Home);
        });
    }

    /// Runs a Settings call that needs the login: refused (and logged out) when it has ended.
    pub(super) fn with_login<F, Fut>(&self, call: F)
    where
        F: FnOnce(Adapter, SecretString) -> Fut,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        let token = session(self).token.clone();
        match token {
            Some(token) if self.touch_session() => {
                self.runtime.spawn(call(self.clone(), token));
            }
            _ => self.logged_out(Some(Problem::SessionExpired)),
        }
    }

    pub(super) fn ticket_or_failure(&self, verified: Result<SecretString, NvrError>) {
        match verified {
            Ok(ticket) => {
                session(self).ticket = Some(ticket);
                self.sink.post(|w| {
                    let account = w.global::<Account>();
                    account.set_busy(false);
                    account.set_failure(no_failure());
                    account.set_forgot_step(ForgotStep::NewPassword);
                });
            }
            Err(error) => self.account_failure(&error),
        }
    }
}

pub(super) fn qr_image(payload: &str) -> Option<slint::SharedPixelBuffer<slint::Rgba8Pixel>> {
    crate::qr::render(payload, 6).ok().map(|image| {
        slint::SharedPixelBuffer::<slint::Rgba8Pixel>::clone_from_slice(
            &image.rgba,
            image.width,
            image.height,
        )
    })
}

/// Wires the account's and the mail settings' callbacks, asks the service whether the recorder is
/// activated, and starts the idle check.
pub(super) fn wire(window: &AppWindow, adapter: &Adapter) {
    let a = adapter.clone();
    adapter.runtime.spawn(async move {
        let gate = match a.nvr.account_status().await {
            Ok(status) if status.activated => Gate::Open,
            Ok(_) => Gate::Activate,
            Err(error) => {
                tracing::error!(%error, "cannot read the recorder's account; the menu stays closed");
                return;
            }
        };
        a.sink.post(move |w| w.global::<Account>().set_gate(gate));
    });
    spawn_idle_check(adapter);
    wire_activation_and_login(window, adapter);
    wire_forgot(window, adapter);
    wire_two_factor(window, adapter);
}

pub(super) fn spawn_idle_check(adapter: &Adapter) {
    let a = adapter.clone();
    adapter.runtime.spawn(async move {
        let mut tick = tokio::time::interval(IDLE_CHECK);
        loop {
            tick.tick().await;
            let token = session(&a).token.clone();
            if let Some(token) = token
                && !a.nvr.session_alive(&token)
            {
                tracing::info!("the menu's login timed out");
                a.logged_out(Some(Problem::SessionExpired));
            }
        }
    });
}

pub(super) fn wire_activation_and_login(window: &AppWindow, adapter: &Adapter) {
    let account = window.global::<Account>();
    let a = adapter.clone();
    account.on_activate(move |password, confirmation, email, camera_password| {
        a.account_busy();
        let a = a.clone();
        a.runtime.clone().spawn(async move {
            let camera_password = (!camera_password.is_empty()).then_some(camera_password.as_str());
            let activated = a
                .nvr
                .activate_nvr(&password, &confirmation, &email, camera_password, &a.actor)
                .await;
            if let Err(error) = activated {
                return a.account_failure(&error);
            }
            a.sink.post(|w| w.global::<Account>().set_gate(Gate::Open));
            // The installer who just chose the password is logged in.
            match a.nvr.login(NVR_ADMIN, &password).await {
                Ok(Step::Done(new)) => a.logged_in(new),
                Ok(Step::CodeNeeded(_)) => {}
                Err(error) => a.account_failure(&error),
            }
        });
    });
    let a = adapter.clone();
    account.on_login(move |user, password| {
        a.account_busy();
        let a = a.clone();
        a.runtime.clone().spawn(async move {
            match a.nvr.login(&user, &password).await {
                Ok(Step::Done(new)) => a.logged_in(new),
                Ok(Step::CodeNeeded(pending)) => {
                    session(&a).pending = Some(pending.token);
                    a.sink.post(|w| {
                        let account = w.global::<Account>();
                        account.set_busy(false);
                        account.set_login_step(LoginStep::Code);
                    });
                }
                Err(error) => {
                    // The support desk's path starts from what a failed login shows: the serial
                    // and date go up before the failure, so the two always show together.
                    let identity = a.nvr.support_identity().await.ok();
                    a.sink.post(move |w| {
                        let account = w.global::<Account>();
                        if let Some(identity) = identity {
                            account.set_serial(identity.serial.into());
                            account.set_date(identity.date.into());
                            account.set_show_identity(true);
                        }
                    });
                    a.account_failure(&error);
                }
            }
        });
    });
    let a = adapter.clone();
    account.on_login_code(move |code| {
        let Some(pending) = session(&a).pending.clone() else {
            return a.account_failure(&NvrError::SessionExpired);
        };
        a.account_busy();
        let a = a.clone();
        a.runtime.clone().spawn(async move {
            match a.nvr.login_code(&pending, &code).await {
                Ok(new) => a.logged_in(new),
                Err(error) => {
                    if matches!(
                        error,
                        NvrError::SessionExpired | NvrError::AccountLocked { .. }
                    ) {
                        session(&a).pending = None;
                        a.sink
                            .post(|w| w.global::<Account>().set_login_step(LoginStep::Password));
                    }
                    a.account_failure(&error);
                }
            }
        });
    });
    let a = adapter.clone();
    account.on_logout(move || {
        tracing::info!("logged out of the menu");
        a.logged_out(None);
    });
}

pub(super) fn wire_forgot(window: &AppWindow, adapter: &Adapter) {
    let account = window.global::<Account>();
    let a = adapter.clone();
    account.on_forgot(move || {
        a.account_busy();
        let a = a.clone();
        a.runtime.clone().spawn(async move {
            match a.nvr.account_recovery_methods().await {
                Ok(methods) => a.sink.post(move |w| {
                    let account = w.global::<Account>();
                    account.set_busy(false);
                    account.set_masked_email(methods.email.unwrap_or_default().into());
                    account.set_by_device_secret(methods.device_secret);
                    account.set_serial(methods.identity.serial.into());
                    account.set_date(methods.identity.date.into());
                    account.set_qr_shown(false);
                    account.set_forgot_step(ForgotStep::Choose);
                    account.set_login_step(LoginStep::Forgot);
                }),
                Err(error) => a.account_failure(&error),
            }
        });
    });
    let a = adapter.clone();
    account.on_send_email_code(move || {
        a.account_busy();
        let a = a.clone();
        a.runtime.clone().spawn(async move {
            match a.nvr.send_account_recovery_code().await {
                Ok(sent) => a.sink.post(move |w| {
                    let account = w.global::<Account>();
                    account.set_busy(false);
                    account.set_code_sent_to(sent.masked_email.into());
                    account.set_qr_shown(false);
                    account.set_forgot_step(ForgotStep::Code);
                }),
                Err(error) => a.account_failure(&error),
            }
        });
    });
    let a = adapter.clone();
    account.on_show_qr(move || {
        a.account_busy();
        let a = a.clone();
        a.runtime.clone().spawn(async move {
            match a.nvr.start_account_recovery_qr().await {
                Ok(qr) => {
                    let image = qr_image(&qr.payload);
                    a.sink.post(move |w| {
                        let account = w.global::<Account>();
                        account.set_busy(false);
                        if let Some(image) = image {
                            account.set_qr(slint::Image::from_rgba8(image));
                        }
                        account.set_qr_shown(true);
                        account.set_forgot_step(ForgotStep::Code);
                    });
                }
                Err(error) => a.account_failure(&error),
            }
        });
    });
    let a = adapter.clone();
    account.on_verify_code(move |code| {
        a.account_busy();
        let a = a.clone();
        a.runtime.clone().spawn(async move {
            let verified = a.nvr.verify_account_recovery_code(&code).await;
            a.ticket_or_failure(verified);
        });
    });
    let a = adapter.clone();
    account.on_verify_support_code(move |code| {
        a.account_busy();
        let a = a.clone();
        a.runtime.clone().spawn(async move {
            let verified = a.nvr.verify_account_support_code(&code).await;
            a.ticket_or_failure(verified);
        });
    });
    let a = adapter.clone();
    account.on_reset_password(move |password, confirmation| {
        let Some(ticket) = session(&a).ticket.clone() else {
            return a.account_failure(&NvrError::RecoveryExpired);
        };
        a.account_busy();
        let a = a.clone();
        a.runtime.clone().spawn(async move {
            match a
                .nvr
                .reset_account_password(&ticket, &password, &confirmation)
                .await
            {
                Ok(()) => {
                    session(&a).ticket = None;
                    // Every session ended with the reset; the menu's too.
                    a.logged_out(None);
                    a.sink.post(|w| {
                        let account = w.global::<Account>();
                        account.set_forgot_step(ForgotStep::Done);
                        account.set_login_step(LoginStep::Forgot);
                        account.set_show_identity(false);
                    });
                }
                Err(error) => a.account_failure(&error),
            }
        });
    });
}

pub(super) fn wire_two_factor(window: &AppWindow, adapter: &Adapter) {
    let account = window.global::<Account>();
    let a = adapter.clone();
    account.on_two_factor_begin(move || {
        a.with_login(|a, token| async move {
            match a.nvr.begin_totp(&token).await {
                Ok(enrolment) => {
                    let image = qr_image(&enrolment.uri);
                    let key =
                        secrecy::ExposeSecret::expose_secret(&enrolment.secret_base32).to_owned();
                    a.sink.post(move |w| {
                        let account = w.global::<Account>();
                        account.set_failure(no_failure());
                        if let Some(image) = image {
                            account.set_two_factor_qr(slint::Image::from_rgba8(image));
                        }
                        account.set_two_factor_key(key.into());
                        account.set_two_factor(TwoFactorStep::Scanning);
                    });
                }
                Err(error) => a.account_failure(&error),
            }
        });
    });
    let a = adapter.clone();
    account.on_two_factor_confirm(move |code| {
        a.with_login(|a, token| async move {
            match a.nvr.confirm_totp(&token, &code, &a.actor).await {
                Ok(codes) => a.sink.post(move |w| {
                    let account = w.global::<Account>();
                    account.set_failure(no_failure());
                    account.set_two_factor_key(SharedString::new());
                    let codes: Vec<SharedString> = codes.into_iter().map(Into::into).collect();
                    account.set_recovery_codes(ModelRc::new(VecModel::from(codes)));
                    account.set_two_factor(TwoFactorStep::RecoveryCodes);
                }),
                Err(error) => a.account_failure(&error),
            }
        });
    });
    let weak = window.as_weak();
    account.on_two_factor_codes_saved(move || {
        let Some(window) = weak.upgrade() else { return };
        let account = window.global::<Account>();
        account.set_recovery_codes(ModelRc::default());
        account.set_two_factor(TwoFactorStep::On);
    });
    let a = adapter.clone();
    account.on_two_factor_turn_off(move |password, code| {
        a.with_login(|a, token| async move {
            match a.nvr.disable_totp(&token, &password, &code, &a.actor).await {
                Ok(()) => a.sink.post(|w| {
                    let account = w.global::<Account>();
                    account.set_failure(no_failure());
                    account.set_two_factor(TwoFactorStep::Off);
                }),
                Err(error) => a.account_failure(&error),
            }
        });
    });
}
