//! A real SMTP server on loopback (aiosmtpd, `tests/interop/smtp_server.py`) that delivers into a
//! Maildir the tests read, so codes travel as real email.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use vigil::mail::{SmtpSecurity, SmtpSettings};

/// The Python with the test peers installed, or `None` (tests then skip, except in CI).
pub fn python() -> Option<String> {
    let python = std::env::var("VIGIL_PYTHON").ok()?;
    let probe = Command::new(&python)
        .args(["-c", "import aiosmtpd, onvif, zeep"])
        .output()
        .ok()?;
    probe.status.success().then_some(python)
}

/// `python()`, or a skip message (and `None`) outside CI, or a failure inside it.
pub fn python_or_skip(what: &str) -> Option<String> {
    let python = python();
    if python.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must run {what}: VIGIL_PYTHON is unset or lacks the test peers (.ci/deps installs them)"
        );
        eprintln!(
            "SKIPPED {what}: run it through .ci/test, which installs the Python test peers and sets VIGIL_PYTHON"
        );
    }
    python
}

/// One received message.
#[derive(Debug, Clone)]
pub struct Mail {
    /// The To header.
    pub to: String,
    /// The Subject header.
    pub subject: String,
    /// The body.
    pub body: String,
}

impl Mail {
    /// The first run of exactly `digits` digits in the body.
    pub fn code(&self, digits: usize) -> Option<String> {
        self.body
            .split(|c: char| !c.is_ascii_digit())
            .find(|run| run.len() == digits)
            .map(str::to_owned)
    }
}

/// A running SMTP server.
pub struct SmtpServer {
    /// Its port on 127.0.0.1.
    pub port: u16,
    maildir: tempfile::TempDir,
    child: Child,
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl SmtpServer {
    /// Starts a plain SMTP server (no TLS, no login).
    pub fn start(python: &str) -> Self {
        Self::start_with(python, &[])
    }

    /// Starts one with extra arguments (`--auth`, `--starttls`, `--tls`).
    pub fn start_with(python: &str, extra: &[&str]) -> Self {
        let maildir = tempfile::tempdir().expect("maildir");
        let port = free_port();
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop/smtp_server.py");
        let mut child = Command::new(python)
            .arg(script)
            .args(["--port", &port.to_string(), "--maildir"])
            // A path that does not exist yet, so the server lays out new/, cur/ and tmp/ itself.
            .arg(maildir.path().join("mail"))
            .args(extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("smtp server starts");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("ready line");
        assert_eq!(line.trim(), "ready", "SMTP server did not start");
        Self {
            port,
            maildir,
            child,
        }
    }

    /// Settings for a sender that uses this server.
    pub fn settings(&self, from: &str) -> SmtpSettings {
        SmtpSettings {
            host: "127.0.0.1".into(),
            port: self.port,
            security: SmtpSecurity::None,
            username: None,
            password: None,
            from: from.into(),
            timeout: Duration::from_secs(5),
            trusted_certificate: None,
        }
    }

    /// Every message received so far, oldest first.
    pub fn messages(&self) -> Vec<Mail> {
        let mut files: Vec<_> = ["new", "cur"]
            .iter()
            .filter_map(|d| std::fs::read_dir(self.maildir.path().join("mail").join(d)).ok())
            .flatten()
            .filter_map(Result::ok)
            .map(|e| e.path())
            .collect();
        files.sort_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok());
        files.iter().filter_map(|p| parse(p)).collect()
    }

    /// Waits for the `n`-th message (counting from 1) to arrive, up to five seconds.
    pub async fn nth_message(&self, n: usize) -> Mail {
        for _ in 0..250 {
            let messages = self.messages();
            if messages.len() >= n {
                return messages[n - 1].clone();
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!(
            "message {n} did not arrive; {} so far",
            self.messages().len()
        );
    }
}

fn parse(path: &Path) -> Option<Mail> {
    let text = std::fs::read_to_string(path).ok()?;
    let (head, body) = text
        .split_once("\n\n")
        .or_else(|| text.split_once("\r\n\r\n"))?;
    let header = |name: &str| {
        head.lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| v.trim().to_owned())
            .unwrap_or_default()
    };
    Some(Mail {
        to: header("To:"),
        subject: header("Subject:"),
        body: body.replace("=\r\n", "").replace("=\n", ""),
    })
}
