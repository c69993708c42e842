//! The Shell global: the live view, the right-click menu, the pages of Settings, the language and the
//! mouse cursor drawn on bare HDMI.

use slint::ComponentHandle;

use super::bridge::{Adapter, session};
use super::rows::no_failure;
use super::ui::{
    Account, AppWindow, DeviceAccess, Gate, Keyboard, LoginStep, MailSettings, Screen, Shell,
};

/// Shows the menu in `language` ("en" or "ru"); whether it could.
pub(super) fn show_language(window: &AppWindow, language: &str) -> bool {
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

pub(super) fn wire(window: &AppWindow, adapter: &Adapter) {
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
    wire_navigation(window, adapter);
}

pub(super) fn wire_navigation(window: &AppWindow, adapter: &Adapter) {
    let a = adapter.clone();
    let weak = window.as_weak();
    window.global::<Shell>().on_navigate(move |target| {
        let Some(window) = weak.upgrade() else { return };
        if window.global::<Account>().get_gate() != Gate::Open {
            return;
        }
        if target == Screen::Home {
            show_screen(&window, target);
            return;
        }
        if a.touch_session() {
            show_screen(&window, target);
            if target == Screen::Email {
                window.global::<MailSettings>().set_notice(0);
                a.load_mail_settings();
            }
            return;
        }
        session(&a).after_login = Some(target);
        let account = window.global::<Account>();
        account.set_logged_in(false);
        account.set_failure(no_failure());
        account.set_show_identity(false);
        account.set_login_step(LoginStep::Password);
    });
}

pub(super) fn show_screen(window: &AppWindow, target: Screen) {
    // A notice belongs to the action that raised it: leaving the screen ends it.
    if window.global::<Shell>().get_screen() != target {
        window.global::<DeviceAccess>().invoke_clear_notice();
    }
    window.global::<Shell>().set_screen(target);
}
