//! Email out: SMTP settings and the one small trait every sender of mail goes through, with the real
//! SMTP sender (lettre) and a recording sender for tests that need no server. Failures are classified
//! into what an installer can fix: refused, bad login, TLS, timeout, rejected address.

use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials as SmtpCredentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

/// How the connection to the mail server is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpSecurity {
    /// Plain text; only for a relay on a trusted network.
    None,
    /// Plain text upgraded with STARTTLS, which is required.
    StartTls,
    /// TLS from the first byte (usually port 465).
    Tls,
}

impl SmtpSecurity {
    /// The name used in settings, the registry and on D-Bus: `none`, `starttls`, `tls`.
    pub fn as_str(self) -> &'static str {
        match self {
            SmtpSecurity::None => "none",
            SmtpSecurity::StartTls => "starttls",
            SmtpSecurity::Tls => "tls",
        }
    }

    /// The inverse of [`SmtpSecurity::as_str`].
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "none" => SmtpSecurity::None,
            "starttls" => SmtpSecurity::StartTls,
            "tls" => SmtpSecurity::Tls,
            _ => return None,
        })
    }
}

/// Where and how to send mail.
#[derive(Clone)]
pub struct SmtpSettings {
    /// Server host name or address.
    pub host: String,
    /// Server port.
    pub port: u16,
    /// Connection security.
    pub security: SmtpSecurity,
    /// Login, when the server wants one.
    pub username: Option<String>,
    /// Password for the login.
    pub password: Option<SecretString>,
    /// The From address.
    pub from: String,
    /// How long one send may take.
    pub timeout: Duration,
    /// A certificate (PEM) to trust besides the system's: the CA that signed a private relay's
    /// certificate (a self-signed server certificate cannot be trusted directly).
    pub trusted_certificate: Option<String>,
}

impl std::fmt::Debug for SmtpSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("username", &self.username)
            .field("from", &self.from)
            .finish_non_exhaustive()
    }
}

/// One message to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingMail {
    /// Recipient address.
    pub to: String,
    /// Subject line.
    pub subject: String,
    /// Plain-text body.
    pub body: String,
}

/// Why a message was not sent, in terms of what to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MailError {
    /// An address is not an email address.
    #[error("'{0}' is not an email address")]
    BadAddress(String),
    /// Nothing accepted the connection.
    #[error(
        "the mail server {0} refused the connection or could not be reached; check the server name and port"
    )]
    Unreachable(String),
    /// The server did not answer in time.
    #[error(
        "the mail server {0} did not answer in time; check the server and port, and that the network allows it"
    )]
    Timeout(String),
    /// The login was refused.
    #[error("the mail server refused the login; check the user name and password")]
    LoginRefused,
    /// TLS could not be set up.
    #[error(
        "a secure (TLS) connection to the mail server failed; check the security setting and port (STARTTLS is usually 587, TLS 465)"
    )]
    Tls,
    /// The server refused the message or an address.
    #[error(
        "the mail server refused the message (code {0}); check the sender and recipient addresses"
    )]
    Rejected(String),
    /// Anything else.
    #[error("sending mail failed: {0}")]
    Other(String),
}

/// Sends mail. The real one speaks SMTP; tests may record instead.
#[async_trait]
pub trait MailSender: Send + Sync + std::fmt::Debug + 'static {
    /// Sends one message.
    async fn send(&self, mail: OutgoingMail) -> Result<(), MailError>;
}

/// Sends mail over SMTP.
#[derive(Debug, Clone)]
pub struct SmtpMailSender {
    settings: SmtpSettings,
}

impl SmtpMailSender {
    /// A sender with these settings.
    pub fn new(settings: SmtpSettings) -> Self {
        Self { settings }
    }

    fn transport(&self) -> Result<AsyncSmtpTransport<Tokio1Executor>, MailError> {
        let s = &self.settings;
        let tls = || {
            let mut builder = TlsParameters::builder(s.host.clone());
            if let Some(pem) = &s.trusted_certificate {
                let certificate =
                    Certificate::from_pem(pem.as_bytes()).map_err(|_| MailError::Tls)?;
                builder = builder.add_root_certificate(certificate);
            }
            builder.build().map_err(|_| MailError::Tls)
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(s.host.clone())
            .port(s.port)
            .timeout(Some(s.timeout))
            .tls(match s.security {
                SmtpSecurity::None => Tls::None,
                SmtpSecurity::StartTls => Tls::Required(tls()?),
                SmtpSecurity::Tls => Tls::Wrapper(tls()?),
            });
        if let (Some(user), Some(password)) = (&s.username, &s.password) {
            builder = builder.credentials(SmtpCredentials::new(
                user.clone(),
                password.expose_secret().to_owned(),
            ));
        }
        Ok(builder.build())
    }
}

#[async_trait]
impl MailSender for SmtpMailSender {
    async fn send(&self, mail: OutgoingMail) -> Result<(), MailError> {
        let from = self
            .settings
            .from
            .parse()
            .map_err(|_| MailError::BadAddress(self.settings.from.clone()))?;
        let to = mail
            .to
            .parse()
            .map_err(|_| MailError::BadAddress(mail.to.clone()))?;
        let message = Message::builder()
            .from(from)
            .to(to)
            .subject(mail.subject)
            .header(ContentType::TEXT_PLAIN)
            .body(mail.body)
            .map_err(|e| MailError::Other(e.to_string()))?;
        let server = format!("{}:{}", self.settings.host, self.settings.port);
        let transport = self.transport()?;
        let result = tokio::time::timeout(
            self.settings.timeout + Duration::from_secs(1),
            transport.send(message),
        )
        .await;
        match result {
            Err(_) => Err(MailError::Timeout(server)),
            Ok(Ok(_)) => Ok(()),
            Ok(Err(error)) => Err(classify(&error, server)),
        }
    }
}

fn classify(error: &lettre::transport::smtp::Error, server: String) -> MailError {
    if error.is_timeout() {
        return MailError::Timeout(server);
    }
    if error.is_tls() {
        return MailError::Tls;
    }
    let said = format!("{error} {error:?}").to_ascii_lowercase();
    if let Some(code) = error.status() {
        let code = u16::from(code);
        return match code {
            // "530 Must issue a STARTTLS command first": the server wants a secure connection.
            530 if said.contains("starttls") => MailError::Tls,
            530 | 534 | 535 | 538 => MailError::LoginRefused,
            _ => MailError::Rejected(code.to_string()),
        };
    }
    // TLS failures come wrapped as connection errors ("Connection error: invalid peer certificate"),
    // so they are looked for first.
    let text = said;
    if text.contains("tls")
        || text.contains("certificate")
        || text.contains("handshake")
        || text.contains("starttls")
    {
        MailError::Tls
    } else if text.contains("refused") || text.contains("connection") || text.contains("resolve") {
        MailError::Unreachable(server)
    } else {
        MailError::Other(error.to_string().chars().take(200).collect())
    }
}

/// Writes each message as a file (mode 0600) in a directory, for demo mode where there is no mail
/// server: the installer opens the file to read the code.
#[derive(Debug, Clone)]
pub struct DirectoryMailSender {
    dir: std::path::PathBuf,
}

impl DirectoryMailSender {
    /// A sender writing into `dir` (created 0700 when missing).
    pub fn new(dir: std::path::PathBuf) -> Self {
        Self { dir }
    }
}

#[async_trait]
impl MailSender for DirectoryMailSender {
    async fn send(&self, mail: OutgoingMail) -> Result<(), MailError> {
        use std::io::Write;
        use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
        if !is_email_address(&mail.to) {
            return Err(MailError::BadAddress(mail.to));
        }
        let io = |e: std::io::Error| MailError::Other(e.to_string());
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.dir)
            .map_err(io)?;
        let name = format!(
            "{}-{}.eml",
            crate::clock::unix_secs(std::time::SystemTime::now()),
            uuid::Uuid::new_v4().simple()
        );
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(self.dir.join(name))
            .map_err(io)?;
        write!(
            file,
            "To: {}\nSubject: {}\n\n{}",
            mail.to, mail.subject, mail.body
        )
        .map_err(io)?;
        Ok(())
    }
}

/// Keeps messages instead of sending them; for tests that need no mail server.
#[derive(Debug, Default)]
pub struct RecordingMailSender {
    sent: Mutex<Vec<OutgoingMail>>,
}

impl RecordingMailSender {
    /// Everything sent so far.
    pub fn sent(&self) -> Vec<OutgoingMail> {
        self.sent.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

#[async_trait]
impl MailSender for RecordingMailSender {
    async fn send(&self, mail: OutgoingMail) -> Result<(), MailError> {
        if !is_email_address(&mail.to) {
            return Err(MailError::BadAddress(mail.to));
        }
        self.sent
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(mail);
        Ok(())
    }
}

/// Whether `pem` holds a certificate the mail sender can trust.
pub fn is_certificate(pem: &str) -> bool {
    pem.contains("-----BEGIN CERTIFICATE-----") && Certificate::from_pem(pem.as_bytes()).is_ok()
}

/// Whether `text` is a plausible email address: one `@`, a local part, and a domain with a dot.
pub fn is_email_address(text: &str) -> bool {
    if text.len() > 254 || text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return false;
    }
    let Some((local, domain)) = text.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && local.len() <= 64
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && text.parse::<lettre::Address>().is_ok()
}

/// Masks an address for display: `john.doe@example.com` becomes `j***@e***.com`.
pub fn mask_email(address: &str) -> String {
    let Some((local, domain)) = address.split_once('@') else {
        return "***".to_owned();
    };
    let first = |s: &str| s.chars().next().map(String::from).unwrap_or_default();
    let (name, tld) = domain.rsplit_once('.').unwrap_or((domain, ""));
    let tld = if tld.is_empty() {
        String::new()
    } else {
        format!(".{tld}")
    };
    format!("{}***@{}***{tld}", first(local), first(name))
}

/// A reset email as a camera reports it, masked whatever the camera did: an address that still shows
/// a whole local part (no `*` in it) is masked here, so it never reaches the audit log, D-Bus or the
/// screen in full.
pub fn ensure_masked(reported: &str) -> String {
    let local = reported.split_once('@').map_or(reported, |(l, _)| l);
    if local.contains('*') {
        reported.to_owned()
    } else {
        mask_email(reported)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_checked_and_masked() {
        assert!(is_email_address("john.doe@example.com"));
        assert!(!is_email_address("john.doe@localhost"));
        assert!(!is_email_address("john doe@example.com"));
        assert!(!is_email_address("@example.com"));
        assert!(!is_email_address("a@b@example.com"));
        assert_eq!(mask_email("john.doe@example.com"), "j***@e***.com");
        assert_eq!(mask_email("x@mail.example.co.uk"), "x***@m***.uk");
        assert_eq!(ensure_masked("j***@e***.com"), "j***@e***.com");
        assert_eq!(ensure_masked("john.doe@example.com"), "j***@e***.com");
        assert_eq!(ensure_masked("no address"), "***");
    }

    #[tokio::test]
    async fn nothing_listening_is_reported_as_unreachable() {
        let sender = SmtpMailSender::new(SmtpSettings {
            host: "127.0.0.1".into(),
            port: 1,
            security: SmtpSecurity::None,
            username: None,
            password: None,
            from: "nvr@example.com".into(),
            timeout: Duration::from_secs(2),
            trusted_certificate: None,
        });
        let result = sender
            .send(OutgoingMail {
                to: "owner@example.com".into(),
                subject: "s".into(),
                body: "b".into(),
            })
            .await;
        assert!(
            matches!(result, Err(MailError::Unreachable(_))),
            "{result:?}"
        );
    }
}
