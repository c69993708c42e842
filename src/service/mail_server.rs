//! The service API of the recorder's own mail server (Settings > Network > Email): set it, read it
//! (never its password), and send a test email that says what to fix when it fails.

use crate::service::ArgumentProblem;
use std::time::Duration;

use secrecy::SecretString;

use super::audit::AuditNote;
use super::{Nvr, NvrError};
use crate::mail::{MailSender, OutgoingMail, SmtpMailSender, SmtpSecurity, SmtpSettings};
use crate::model::{AuditAction, Caller};
use crate::store::StoredMailServer;

/// How long a send to the recorder's mail server may take.
const MAIL_TIMEOUT: Duration = Duration::from_secs(15);

/// The mail server as the menu and D-Bus show it: no password, only whether one is set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailServer {
    /// Server host name or address.
    pub host: String,
    /// Port.
    pub port: u16,
    /// Connection security.
    pub security: SmtpSecurity,
    /// Login user; empty for none.
    pub username: String,
    /// Whether a login password is stored.
    pub password_set: bool,
    /// From address.
    pub from: String,
    /// Whether a certificate of its own is trusted for the server.
    pub trusts_own_certificate: bool,
}

/// New mail server settings as the installer enters them.
#[derive(Clone)]
pub struct MailServerChange {
    /// Server host name or address.
    pub host: String,
    /// Port.
    pub port: u16,
    /// Connection security.
    pub security: SmtpSecurity,
    /// Login user; empty for none.
    pub username: String,
    /// The login password: `None` keeps the stored one, `Some("")` removes it.
    pub password: Option<String>,
    /// From address.
    pub from: String,
    /// A certificate (PEM) to trust for this server besides the system's (the CA that signed a private
    /// relay's certificate): `None` keeps the stored one, `Some("")` trusts only the system's CAs.
    pub trusted_certificate: Option<String>,
}

impl std::fmt::Debug for MailServerChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MailServerChange")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("username", &self.username)
            .field("from", &self.from)
            .finish_non_exhaustive()
    }
}

fn invalid(field: &'static str, problem: &str) -> NvrError {
    NvrError::InvalidArgument {
        field,
        problem: match problem {
            "is empty" => ArgumentProblem::Empty,
            _ => ArgumentProblem::Other(problem.to_owned()),
        },
    }
}

fn check_change(change: &MailServerChange) -> Result<(), NvrError> {
    let host = change.host.trim();
    if host.is_empty() {
        return Err(invalid("mail server", "is empty"));
    }
    if host.len() > 253 || host.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid(
            "mail server",
            "is not a host name or address such as smtp.example.com",
        ));
    }
    if change.port == 0 {
        return Err(invalid("port", "must be from 1 to 65535"));
    }
    if change.username.len() > 128 || change.username.chars().any(char::is_control) {
        return Err(invalid(
            "user name",
            "is longer than 128 characters or has control characters",
        ));
    }
    if change
        .password
        .as_ref()
        .is_some_and(|p| p.len() > 256 || p.chars().any(char::is_control))
    {
        return Err(invalid(
            "password",
            "is longer than 256 characters or has control characters",
        ));
    }
    let certificate = change
        .trusted_certificate
        .as_deref()
        .unwrap_or_default()
        .trim();
    if !certificate.is_empty()
        && (certificate.len() > 16_384 || !crate::mail::is_certificate(certificate))
    {
        return Err(invalid(
            "trusted certificate",
            "is not a PEM certificate (-----BEGIN CERTIFICATE----- ...)",
        ));
    }
    if !crate::mail::is_email_address(change.from.trim()) {
        return Err(NvrError::InvalidArgument {
            field: "sender address",
            problem: ArgumentProblem::NotEmailAddress,
        });
    }
    Ok(())
}

impl Nvr {
    /// The recorder's mail server, when one is set.
    pub async fn mail_server(&self) -> Result<Option<MailServer>, NvrError> {
        let stored = self
            .with_store(|store| store.read(|tx| tx.nvr_mail_server()))
            .await??;
        Ok(stored.map(|s| MailServer {
            host: s.host,
            port: s.port,
            security: s.security,
            username: s.username.unwrap_or_default(),
            password_set: s.password.is_some(),
            from: s.from,
            trusts_own_certificate: s.trusted_certificate.is_some(),
        }))
    }

    /// Sets the recorder's mail server. Bad entries are refused, naming the field, and nothing is
    /// stored.
    pub async fn set_mail_server(
        &self,
        change: MailServerChange,
        caller: &Caller,
    ) -> Result<(), NvrError> {
        let actor = &self.acting_as(caller)?;
        let _command = self.begin_command()?;
        check_change(&change)?;
        let old = self
            .with_store(|store| store.read(|tx| tx.nvr_mail_server()))
            .await??;
        let (old_password, old_certificate) = old
            .map(|old| (old.password, old.trusted_certificate))
            .unwrap_or_default();
        let password_outcome = match (&change.password, &old_password) {
            (None, Some(_)) => "password kept",
            (None, None) => "no password",
            (Some(password), _) if password.is_empty() => "password cleared",
            (Some(_), _) => "new password",
        };
        let password = match change.password {
            None => old_password,
            Some(password) if password.is_empty() => None,
            Some(password) => Some(SecretString::from(password)),
        };
        let username = change.username.trim().to_owned();
        let stored = StoredMailServer {
            host: change.host.trim().to_owned(),
            port: change.port,
            security: change.security,
            username: (!username.is_empty()).then_some(username),
            password,
            from: change.from.trim().to_owned(),
            trusted_certificate: match change.trusted_certificate {
                None => old_certificate,
                Some(pem) => {
                    let pem = pem.trim();
                    (!pem.is_empty()).then(|| pem.to_owned())
                }
            },
        };
        let note = AuditNote::new(
            actor,
            AuditAction::MailServerChanged,
            "nvr",
            &format!(
                "{}:{} {}, {}, {password_outcome}, {}",
                stored.host,
                stored.port,
                stored.security.as_str(),
                stored
                    .username
                    .as_ref()
                    .map_or("no login".to_owned(), |user| format!("login {user}")),
                if stored.trusted_certificate.is_some() {
                    "its own certificate trusted"
                } else {
                    "the system's certificates"
                },
            ),
        );
        self.write_audited(Some(note), move |tx| tx.set_nvr_mail_server(&stored))
            .await??;
        tracing::info!(%actor, "the recorder's mail server was changed");
        Ok(())
    }

    /// A sender through the recorder's mail server; refused with the reason when none is set.
    pub(super) async fn recorder_mail_sender(&self) -> Result<SmtpMailSender, NvrError> {
        let server = self
            .with_store(|store| store.read(|tx| tx.nvr_mail_server()))
            .await??
            .ok_or(NvrError::NoMailServer)?;
        Ok(SmtpMailSender::new(SmtpSettings {
            host: server.host,
            port: server.port,
            security: server.security,
            username: server.username,
            password: server.password,
            from: server.from,
            timeout: MAIL_TIMEOUT,
            trusted_certificate: server.trusted_certificate,
        }))
    }

    /// Sends a test email to `to` through the stored mail server. A failure says what to fix:
    /// unreachable server or port, refused login, TLS, timeout, refused address.
    pub async fn send_test_email(&self, to: &str) -> Result<(), NvrError> {
        let _command = self.begin_command()?;
        let to = to.trim();
        if !crate::mail::is_email_address(to) {
            return Err(NvrError::InvalidArgument {
                field: "recipient",
                problem: ArgumentProblem::NotEmailAddress,
            });
        }
        let sender = self.recorder_mail_sender().await?;
        sender
            .send(OutgoingMail {
                to: to.to_owned(),
                subject: "Vigil NVR: test email".into(),
                body: "This is a test email from your network video recorder. Its mail settings work.\n"
                    .into(),
            })
            .await
            .map_err(NvrError::MailServer)
    }
}
