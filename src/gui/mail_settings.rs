//! The MailSettings global: Settings > Network > Email, the recorder's own mail server, with a test
//! email.

use slint::ComponentHandle;

use super::bridge::Adapter;
use super::rows::{account_failure_of, failure, no_failure, port_of};
use super::ui::{AppWindow, MailSettings, Problem};
use crate::mail::SmtpSecurity;
use crate::service::MailServerChange;

impl Adapter {
    /// Loads Settings > Network > Email from the service.
    pub(super) fn load_mail_settings(&self) {
        let a = self.clone();
        self.runtime.spawn(async move {
            let server = a.nvr.mail_server().await;
            a.sink.post(move |w| {
                let mail = w.global::<MailSettings>();
                match server {
                    Ok(Some(server)) => {
                        mail.set_host(server.host.into());
                        mail.set_port(server.port.to_string().into());
                        mail.set_security(match server.security {
                            SmtpSecurity::None => 0,
                            SmtpSecurity::StartTls => 1,
                            SmtpSecurity::Tls => 2,
                        });
                        mail.set_user_name(server.username.into());
                        mail.set_sender(server.from.into());
                        mail.set_password_set(server.password_set);
                        mail.set_failure(no_failure());
                    }
                    Ok(None) => mail.set_failure(no_failure()),
                    Err(error) => mail.set_failure(account_failure_of(&error)),
                }
            });
        });
    }
}

pub(super) fn mail_failure(a: &Adapter, failure: super::ui::Failure) {
    a.sink.post(move |w| {
        let mail = w.global::<MailSettings>();
        mail.set_busy(false);
        mail.set_failure(failure);
        mail.set_notice(0);
    });
}

pub(super) fn mail_busy(a: &Adapter) {
    a.sink.post(|w| {
        let mail = w.global::<MailSettings>();
        mail.set_busy(true);
        mail.set_failure(no_failure());
        mail.set_notice(0);
    });
}

pub(super) fn wire(window: &AppWindow, adapter: &Adapter) {
    let mail = window.global::<MailSettings>();
    let a = adapter.clone();
    mail.on_save(move |host, port, security, user, password, sender| {
        let Some(port) = port_of(&port) else {
            return mail_failure(&a, failure(Problem::PortInvalid, 0, ""));
        };
        let change = MailServerChange {
            host: host.to_string(),
            port,
            security: match security {
                0 => SmtpSecurity::None,
                2 => SmtpSecurity::Tls,
                _ => SmtpSecurity::StartTls,
            },
            username: user.to_string(),
            // Left empty: keep the stored password.
            password: (!password.is_empty()).then(|| password.to_string()),
            from: sender.to_string(),
            trusted_certificate: None,
        };
        mail_busy(&a);
        a.with_login(move |a, _| async move {
            match a.nvr.set_mail_server(change, &a.caller()).await {
                Ok(()) => {
                    a.load_mail_settings();
                    a.sink.post(|w| {
                        let mail = w.global::<MailSettings>();
                        mail.set_busy(false);
                        mail.set_notice(1);
                    });
                }
                Err(error) => mail_failure(&a, account_failure_of(&error)),
            }
        });
    });
    let a = adapter.clone();
    mail.on_send_test(move |to| {
        mail_busy(&a);
        a.with_login(move |a, _| async move {
            match a.nvr.send_test_email(&to).await {
                Ok(()) => a.sink.post(move |w| {
                    let mail = w.global::<MailSettings>();
                    mail.set_busy(false);
                    mail.set_test_to(to);
                    mail.set_notice(2);
                }),
                Err(error) => mail_failure(&a, account_failure_of(&error)),
            }
        });
    });
}
