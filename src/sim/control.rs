//! The simulator's control interface: JSON lines over a local Unix socket, and the same calls
//! in-process through [`Simulator::control`]. Documented in `docs/camsim-control.md`.

use std::path::Path;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};

use crate::sim::Simulator;
use crate::sim::camera::{CameraStats, CameraSummary};
use crate::sim::dialect::Dialect;
use crate::sim::recovery::RecoveryStats;

/// The longest request line the control socket reads.
const MAX_REQUEST_LINE: usize = 16 * 1024;

/// One control request.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum ControlRequest {
    /// Every camera's summary.
    List,
    /// Take a camera off the network or bring it back.
    SetOnline {
        /// Camera index.
        camera: usize,
        /// The new state.
        online: bool,
    },
    /// Change (or create) a user's password on the camera, behind the NVR's back.
    SetPassword {
        /// Camera index.
        camera: usize,
        /// The user name.
        user: String,
        /// The new password.
        password: String,
    },
    /// Reset a camera to factory state (no users); it reboots and says Hello.
    FactoryReset {
        /// Camera index.
        camera: usize,
    },
    /// Set a camera's clock offset from true UTC.
    SetClockOffset {
        /// Camera index.
        camera: usize,
        /// Seconds, positive when the camera runs ahead.
        seconds: i64,
    },
    /// What a camera has seen: requests, logins, failures, lockouts, recovery.
    Stats {
        /// Camera index.
        camera: usize,
    },
    /// Turn a camera's internet access on or off (SendCode needs it).
    SetInternet {
        /// Camera index.
        camera: usize,
        /// The new state.
        internet: bool,
    },
    /// Reboot a camera: its recovery challenge is void; it says Hello.
    Reboot {
        /// Camera index.
        camera: usize,
    },
    /// Set a camera's reset email, as its administrator would.
    SetResetEmail {
        /// Camera index.
        camera: usize,
        /// The address.
        email: String,
    },
    /// Make a camera word its refusals in another dialect (`onvif`, `wsse-failed-authentication`...).
    SetDialect {
        /// Camera index.
        camera: usize,
        /// The dialect's name.
        dialect: String,
    },
    /// The vendor's phone app scans a recovery QR payload; its cloud emails the code.
    AppScan {
        /// The payload read from the QR code.
        payload: String,
    },
    /// The vendor's support desk derives a support code from a serial number and a date.
    SupportCode {
        /// Serial number.
        serial: String,
        /// `YYYY-MM-DD`.
        date: String,
    },
}

/// The answer to a control request.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum ControlReply {
    /// Done, nothing to report.
    Done,
    /// The camera list.
    Cameras {
        /// One summary per camera.
        cameras: Vec<CameraSummary>,
    },
    /// One camera's counters.
    Stats {
        /// The counters.
        stats: CameraStats,
        /// The recovery side's counters.
        recovery: RecoveryStats,
    },
    /// A line of text for the user: where a code was emailed, or a support code.
    Text {
        /// The text.
        text: String,
    },
    /// The request could not be carried out.
    Error {
        /// Why.
        message: String,
    },
}

impl Simulator {
    /// Carries out a control request in-process.
    pub async fn control(&self, request: ControlRequest) -> ControlReply {
        let missing = |camera: usize| ControlReply::Error {
            message: format!(
                "no camera with index {camera}; there are {}",
                self.cameras().len()
            ),
        };
        match request {
            ControlRequest::List => ControlReply::Cameras {
                cameras: self.summaries(),
            },
            ControlRequest::SetOnline { camera, online } => match self.camera(camera) {
                Some(c) if c.set_online(online).await => ControlReply::Done,
                Some(_) => ControlReply::Error {
                    message: format!(
                        "camera {camera} did not finish going {}",
                        if online { "online" } else { "offline" }
                    ),
                },
                None => missing(camera),
            },
            ControlRequest::SetPassword {
                camera,
                user,
                password,
            } => match self.camera(camera) {
                Some(_) if user.is_empty() || password.is_empty() => ControlReply::Error {
                    message: "user and password must not be empty".into(),
                },
                Some(c) => {
                    c.set_password_directly(&user, &password);
                    ControlReply::Done
                }
                None => missing(camera),
            },
            ControlRequest::FactoryReset { camera } => {
                if self.factory_reset(camera).await {
                    ControlReply::Done
                } else {
                    missing(camera)
                }
            }
            ControlRequest::SetClockOffset { camera, seconds } => match self.camera(camera) {
                Some(c) => {
                    c.set_clock_offset(seconds);
                    ControlReply::Done
                }
                None => missing(camera),
            },
            ControlRequest::Stats { camera } => match self.camera(camera) {
                Some(c) => ControlReply::Stats {
                    stats: c.stats(),
                    recovery: c.recovery_stats(),
                },
                None => missing(camera),
            },
            ControlRequest::SetInternet { camera, internet } => match self.camera(camera) {
                Some(c) => {
                    c.set_internet(internet);
                    ControlReply::Done
                }
                None => missing(camera),
            },
            ControlRequest::Reboot { camera } => {
                if self.reboot(camera).await {
                    ControlReply::Done
                } else {
                    missing(camera)
                }
            }
            ControlRequest::SetResetEmail { camera, email } => match self.camera(camera) {
                Some(c) => match c.set_reset_email(&email) {
                    Ok(()) => ControlReply::Done,
                    Err(fault) => ControlReply::Error {
                        message: fault.reason,
                    },
                },
                None => missing(camera),
            },
            ControlRequest::SetDialect { camera, dialect } => {
                match (self.camera(camera), Dialect::parse(&dialect)) {
                    (Some(c), Some(dialect)) => {
                        c.set_dialect(dialect);
                        ControlReply::Done
                    }
                    (None, _) => missing(camera),
                    (Some(_), None) => ControlReply::Error {
                        message: format!(
                            "'{dialect}' is not a dialect; one of: {}",
                            Dialect::ALL.map(Dialect::name).join(", ")
                        ),
                    },
                }
            }
            ControlRequest::AppScan { payload } => match self.app_scan(&payload).await {
                Ok(masked) => ControlReply::Text {
                    text: format!("The verification code was sent to {masked}"),
                },
                Err(message) => ControlReply::Error { message },
            },
            ControlRequest::SupportCode { serial, date } => match self.support_code(&serial, &date)
            {
                Ok(code) => ControlReply::Text { text: code },
                Err(message) => ControlReply::Error { message },
            },
        }
    }
}

/// Serves the control socket at `path` until the simulator shuts down. The socket is 0600 from the
/// moment anyone can reach it (see [`bind_private`]).
pub async fn serve(simulator: Arc<Simulator>, path: &Path) -> std::io::Result<()> {
    let listener = bind_private(path)?;
    let shutdown = simulator.shutdown_token();
    loop {
        let stream = tokio::select! {
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(_) => continue,
            },
        };
        let simulator = simulator.clone();
        tokio::spawn(async move {
            let _ = serve_client(simulator, stream).await;
        });
    }
    let _ = std::fs::remove_file(path);
    Ok(())
}

/// Binds a Unix socket at `path` that only this user can connect to, with no moment in which others
/// could: it is bound inside a new directory only this user may enter (0700), made 0600 there, and then
/// renamed to `path` (replacing a stale socket, or a link, left there; never following one).
pub fn bind_private(path: &Path) -> std::io::Result<UnixListener> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    let name = path.file_name().ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "the control socket path names no file",
        )
    })?;
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let staging = parent.join(format!(
        ".vigil-camsim-{}-{:016x}",
        std::process::id(),
        rand::random::<u64>()
    ));
    std::fs::DirBuilder::new().mode(0o700).create(&staging)?;
    let bound = (|| {
        let staged = staging.join(name);
        let listener = UnixListener::bind(&staged)?;
        std::fs::set_permissions(&staged, std::fs::Permissions::from_mode(0o600))?;
        std::fs::rename(&staged, path)?;
        Ok(listener)
    })();
    let _ = std::fs::remove_dir_all(&staging);
    bound
}

async fn serve_client(simulator: Arc<Simulator>, stream: UnixStream) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    let mut line = String::new();
    loop {
        line.clear();
        let read = (&mut lines)
            .take(MAX_REQUEST_LINE as u64)
            .read_line(&mut line)
            .await?;
        if read == 0 {
            return Ok(());
        }
        let reply = if !line.ends_with('\n') && read >= MAX_REQUEST_LINE {
            ControlReply::Error {
                message: "request line too long".into(),
            }
        } else {
            match serde_json::from_str::<ControlRequest>(line.trim()) {
                Ok(request) => simulator.control(request).await,
                Err(error) => ControlReply::Error {
                    message: format!("bad request: {error}"),
                },
            }
        };
        let mut out = serde_json::to_string(&reply).unwrap_or_else(|_| "{}".into());
        out.push('\n');
        write.write_all(out.as_bytes()).await?;
        if !line.ends_with('\n') {
            return Ok(());
        }
    }
}

/// Sends one request to a control socket and reads the reply.
pub async fn request(path: &Path, request: &ControlRequest) -> std::io::Result<ControlReply> {
    let stream = UnixStream::connect(path).await?;
    let (read, mut write) = stream.into_split();
    let mut line = serde_json::to_string(request).map_err(std::io::Error::other)?;
    line.push('\n');
    write.write_all(line.as_bytes()).await?;
    let mut reply = String::new();
    BufReader::new(read)
        .take(4 * 1024 * 1024)
        .read_line(&mut reply)
        .await?;
    serde_json::from_str(reply.trim()).map_err(std::io::Error::other)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{FileTypeExt, PermissionsExt};

    #[tokio::test]
    async fn the_control_socket_is_private_from_the_start_and_replaces_a_stale_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("camsim.sock");
        std::fs::write(&path, b"stale").unwrap();
        let listener = bind_private(&path).unwrap();
        let metadata = std::fs::symlink_metadata(&path).unwrap();
        assert!(metadata.file_type().is_socket());
        assert_eq!(metadata.permissions().mode() & 0o777, 0o600);
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(
            left,
            vec![std::ffi::OsString::from("camsim.sock")],
            "no staging left"
        );
        let (client, accepted) = tokio::join!(UnixStream::connect(&path), listener.accept());
        assert!(client.is_ok() && accepted.is_ok(), "it answers at the path");
    }
}
