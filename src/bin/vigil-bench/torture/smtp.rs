//! The crash torture's mail server: a small SMTP receiver on loopback that keeps every message in
//! memory, so the codes the simulated cameras (and the vendor's cloud) email travel as real SMTP and
//! the torture reads them back. Enough of RFC 5321 for lettre: EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP,
//! QUIT. Every read is bounded in size and count.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use vigil::mail::{SmtpSecurity, SmtpSettings};

/// Longest line read, bytes.
const MAX_LINE: u64 = 4096;
/// Most lines one connection may send.
const MAX_LINES: usize = 20_000;

/// One received message's body (soft line breaks undone).
#[derive(Debug, Clone)]
pub(super) struct Mail {
    pub(super) body: String,
}

impl Mail {
    /// The code: the first line of the body that is exactly `digits` digits.
    pub(super) fn code_line(&self, digits: usize) -> Option<String> {
        self.body
            .lines()
            .map(str::trim)
            .find(|line| line.len() == digits && line.bytes().all(|b| b.is_ascii_digit()))
            .map(str::to_owned)
    }
}

/// A running receiver; stops when dropped.
pub(super) struct SmtpSink {
    addr: SocketAddr,
    messages: Arc<Mutex<Vec<Mail>>>,
    arrived: Arc<tokio::sync::Notify>,
    stop: CancellationToken,
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl SmtpSink {
    /// Listens on `ip` (a loopback address), on a free port.
    pub(super) async fn start(ip: IpAddr) -> Result<Self, String> {
        let listener = TcpListener::bind((ip, 0))
            .await
            .map_err(|e| format!("SMTP receiver on {ip}: {e}"))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let messages = Arc::new(Mutex::new(Vec::new()));
        let arrived = Arc::new(tokio::sync::Notify::new());
        let stop = CancellationToken::new();
        let (kept, told, stopped) = (messages.clone(), arrived.clone(), stop.clone());
        tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    _ = stopped.cancelled() => return,
                    accepted = listener.accept() => accepted,
                };
                let Ok((stream, _)) = accepted else { continue };
                let (kept, told) = (kept.clone(), told.clone());
                tokio::spawn(async move {
                    if let Ok(Ok(mails)) =
                        tokio::time::timeout(Duration::from_secs(30), converse(stream)).await
                    {
                        if let Ok(mut all) = kept.lock() {
                            all.extend(mails);
                        }
                        told.notify_waiters();
                    }
                });
            }
        });
        Ok(Self {
            addr,
            messages,
            arrived,
            stop,
        })
    }

    /// Settings for a sender that uses this receiver.
    pub(super) fn settings(&self, from: &str) -> SmtpSettings {
        SmtpSettings {
            host: self.addr.ip().to_string(),
            port: self.addr.port(),
            security: SmtpSecurity::None,
            username: None,
            password: None,
            from: from.into(),
            timeout: Duration::from_secs(5),
            trusted_certificate: None,
        }
    }

    /// How many messages have arrived.
    pub(super) fn count(&self) -> usize {
        self.messages.lock().map(|m| m.len()).unwrap_or(0)
    }

    /// The `n`-th message (from 0), once it has arrived, waiting at most `limit`.
    pub(super) async fn nth(&self, n: usize, limit: Duration) -> Option<Mail> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let waiting = self.arrived.notified();
            if let Some(mail) = self.messages.lock().ok().and_then(|m| m.get(n).cloned()) {
                return Some(mail);
            }
            if tokio::time::timeout_at(deadline, waiting).await.is_err() {
                return None;
            }
        }
    }
}

/// One SMTP conversation; the messages it delivered.
async fn converse(stream: tokio::net::TcpStream) -> std::io::Result<Vec<Mail>> {
    let (reader, mut writer) = stream.into_split();
    let mut reader = BufReader::new(reader);
    writer.write_all(b"220 torture.invalid ESMTP\r\n").await?;
    let mut mails = Vec::new();
    let mut line = String::new();
    for _ in 0..MAX_LINES {
        line.clear();
        if (&mut reader).take(MAX_LINE).read_line(&mut line).await? == 0 {
            break;
        }
        let command = line.trim_end().to_ascii_uppercase();
        let reply: &[u8] = if command.starts_with("EHLO") {
            b"250-torture.invalid\r\n250 8BITMIME\r\n"
        } else if command == "DATA" {
            writer.write_all(b"354 go on\r\n").await?;
            let body = read_data(&mut reader).await?;
            mails.push(Mail { body });
            b"250 kept\r\n"
        } else if command == "QUIT" {
            writer.write_all(b"221 bye\r\n").await?;
            break;
        } else {
            // HELO, MAIL FROM, RCPT TO, RSET, NOOP: all fine.
            b"250 ok\r\n"
        };
        writer.write_all(reply).await?;
    }
    Ok(mails)
}

/// The body of a DATA section (after the headers) up to the lone dot, dot-stuffing and soft line
/// breaks undone.
async fn read_data<R: tokio::io::AsyncBufRead + Unpin>(reader: &mut R) -> std::io::Result<String> {
    let mut body = String::new();
    let mut line = String::new();
    let mut in_headers = true;
    for _ in 0..MAX_LINES {
        line.clear();
        if reader.take(MAX_LINE).read_line(&mut line).await? == 0 {
            break;
        }
        let text = line.trim_end_matches(['\r', '\n']);
        if text == "." {
            break;
        }
        let text = text.strip_prefix('.').unwrap_or(text);
        if in_headers {
            in_headers = !text.is_empty();
            continue;
        }
        match text.strip_suffix('=') {
            Some(joined) => body.push_str(joined),
            None => {
                body.push_str(text);
                body.push('\n');
            }
        }
    }
    Ok(body)
}
