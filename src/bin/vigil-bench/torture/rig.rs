//! The crash torture's rig: the simulated cameras (in pools, one per phase), the SMTP receiver their
//! codes go to, a private dbus-daemon, and the one process that holds the state directory at a time:
//! vigild (ready when it says READY=1 on `$NOTIFY_SOCKET` and owns its bus name) or the menu worker.
//! Processes are started here, killed here by their own PID, and never outlive the rig.

use std::net::{IpAddr, Ipv4Addr};
use std::ops::Range;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use vigil::sim::{SimConfig, Simulator};

use super::smtp::SmtpSink;

/// The simulated cameras, by what each phase does with them (indices into the simulator).
#[derive(Debug, Clone)]
pub(super) struct Pools {
    /// Added, edited and removed one at a time.
    pub(super) singles: Range<usize>,
    /// Added several at once.
    pub(super) batch: Range<usize>,
    /// Reset through Forget Password.
    pub(super) recovery: Range<usize>,
    /// In factory state: activated (and reset to factory state again by the torture).
    pub(super) inactive: Range<usize>,
}

impl Pools {
    const SINGLES: usize = 6;
    const BATCH: usize = 6;
    const RECOVERY: usize = 24;
    const INACTIVE: usize = 4;

    fn new() -> Self {
        let batch = Self::SINGLES..Self::SINGLES + Self::BATCH;
        let recovery = batch.end..batch.end + Self::RECOVERY;
        let inactive = recovery.end..recovery.end + Self::INACTIVE;
        Self {
            singles: 0..Self::SINGLES,
            batch,
            recovery,
            inactive,
        }
    }

    fn count(&self) -> usize {
        self.inactive.end
    }
}

/// A private dbus-daemon, stopped on drop.
struct PrivateBus {
    address: String,
    child: std::process::Child,
    _dir: tempfile::TempDir,
}

impl Drop for PrivateBus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl PrivateBus {
    fn start() -> Result<Self, String> {
        use std::io::BufRead;
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let mut child = std::process::Command::new("dbus-daemon")
            .args(["--session", "--nofork", "--print-address"])
            .arg(format!(
                "--address=unix:path={}",
                dir.path().join("bus").display()
            ))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start dbus-daemon: {e}"))?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let mut address = String::new();
        std::io::BufReader::new(stdout)
            .read_line(&mut address)
            .map_err(|e| e.to_string())?;
        Ok(Self {
            address: address.trim().to_owned(),
            child,
            _dir: dir,
        })
    }
}

/// The process on the state directory.
enum Holder {
    Vigild(Child),
    Menu(MenuWorker),
}

/// The menu worker: the service's account API in a process of its own, driven line by line.
struct MenuWorker {
    child: Child,
    stdin: ChildStdin,
    stdout: Lines<BufReader<ChildStdout>>,
}

/// Everything the torture runs against.
pub(super) struct Rig {
    pub(super) sim: Simulator,
    pub(super) smtp: SmtpSink,
    pub(super) pools: Pools,
    /// The torture's own connection to the private bus; it outlives every vigild.
    pub(super) client: zbus::Connection,
    bus: PrivateBus,
    work: tempfile::TempDir,
    notify: tokio::net::UnixDatagram,
    vigild: PathBuf,
    holder: Option<Holder>,
}

/// How long a start may take before it counts as failed.
const START_LIMIT: Duration = Duration::from_secs(60);

impl Rig {
    /// Starts the cameras on 127.79.`block`.1 onwards, the SMTP receiver and the bus.
    pub(super) async fn start(block: u8, vigild: PathBuf) -> Result<Self, String> {
        let pools = Pools::new();
        let first = Ipv4Addr::new(127, 79, block, 1);
        let smtp = SmtpSink::start(IpAddr::V4(Ipv4Addr::new(127, 79, block, 250))).await?;
        let sim = Simulator::start(SimConfig {
            count: pools.count(),
            bind: IpAddr::V4(first),
            base_port: 8080,
            address_per_camera: true,
            max_reply_delay: Duration::from_millis(20),
            inactive: pools.inactive.len(),
            seed: 79 + u16::from(block),
            smtp: Some(smtp.settings("camera-noreply@example.com")),
            ..SimConfig::default()
        })
        .await
        .map_err(|e| format!("simulator: {e}"))?;
        let bus = PrivateBus::start()?;
        let client = zbus::connection::Builder::address(bus.address.as_str())
            .build()
            .await
            .map_err(|e| format!("bus: {e}"))?;
        let work = tempfile::tempdir().map_err(|e| e.to_string())?;
        let notify = tokio::net::UnixDatagram::bind(work.path().join("notify"))
            .map_err(|e| format!("notify socket: {e}"))?;
        std::fs::write(
            work.path().join("vigild.toml"),
            "[discovery]\nmulticast = false\nlisten_announcements = false\non_start = false\n\
             refresh_interval_secs = 0\nprobe_window_ms = 150\nsadp = false\ndhip = false\n\
             [cameras]\nmonitor_period_ms = 2000\nchannels = 64\n\
             [account]\ndevice_secret_file = \"\"\n",
        )
        .map_err(|e| e.to_string())?;
        Ok(Self {
            sim,
            smtp,
            pools,
            client,
            bus,
            work,
            notify,
            vigild,
            holder: None,
        })
    }

    /// The state directory vigild and the menu worker share.
    pub(super) fn state(&self) -> PathBuf {
        self.work.path().join("state")
    }

    /// Keeps the working directory after the run, for a look at the state and log.
    pub(super) fn keep(self) -> PathBuf {
        let Rig { work, holder, .. } = self;
        drop(holder);
        work.keep()
    }

    /// The unicast discovery target of camera `index`.
    pub(super) fn target(&self, index: usize) -> String {
        self.sim.cameras()[index]
            .identity()
            .wsd_addr
            .ip()
            .to_string()
    }

    fn log_file(&self) -> Result<std::fs::File, String> {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.work.path().join("vigild.log"))
            .map_err(|e| e.to_string())
    }

    /// Starts vigild on the state and waits until it is ready: READY=1 on the notify socket, and its
    /// name on the bus. How long that took.
    pub(super) async fn start_vigild(&mut self) -> Result<Duration, String> {
        self.stop().await?;
        let mut buffer = vec![0u8; 4096];
        // Notices from an earlier vigild are not this one's.
        for _ in 0..10_000 {
            if self.notify.try_recv(&mut buffer).is_err() {
                break;
            }
        }
        let started = Instant::now();
        let child = Command::new(&self.vigild)
            .args(["--headless", "--bus-address", &self.bus.address, "--config"])
            .arg(self.work.path().join("vigild.toml"))
            .arg("--state-dir")
            .arg(self.state())
            .env("NOTIFY_SOCKET", self.work.path().join("notify"))
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(self.log_file()?)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", self.vigild.display()))?;
        self.holder = Some(Holder::Vigild(child));
        let deadline = tokio::time::Instant::now() + START_LIMIT;
        loop {
            match tokio::time::timeout_at(deadline, self.notify.recv(&mut buffer)).await {
                Err(_) => return Err("vigild was not ready within 60 s".into()),
                Ok(Err(e)) => return Err(format!("notify socket: {e}")),
                Ok(Ok(n)) => {
                    let text = String::from_utf8_lossy(&buffer[..n]);
                    if text.lines().any(|l| l == "READY=1") {
                        break;
                    }
                }
            }
        }
        let bus = zbus::fdo::DBusProxy::new(&self.client)
            .await
            .map_err(|e| e.to_string())?;
        let name =
            zbus::names::BusName::try_from(vigil::dbus::BUS_NAME).map_err(|e| e.to_string())?;
        if !bus.name_has_owner(name).await.map_err(|e| e.to_string())? {
            return Err("vigild said READY=1 before owning its bus name".into());
        }
        Ok(started.elapsed())
    }

    /// Starts the menu worker on the state and waits for its "ready".
    pub(super) async fn start_menu(&mut self) -> Result<(), String> {
        self.stop().await?;
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        let mut child = Command::new(exe)
            .args(["torture-menu", "--state-dir"])
            .arg(self.state())
            .arg("--paper")
            .arg(self.work.path().join("paper"))
            .env("RUST_LOG", "warn")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(self.log_file()?)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot start the menu worker: {e}"))?;
        let stdin = child.stdin.take().ok_or("no stdin")?;
        let stdout = BufReader::new(child.stdout.take().ok_or("no stdout")?).lines();
        self.holder = Some(Holder::Menu(MenuWorker {
            child,
            stdin,
            stdout,
        }));
        match self.menu_reply(START_LIMIT).await?.as_str() {
            "ready" => Ok(()),
            other => Err(format!("the menu worker said '{other}' instead of ready")),
        }
    }

    /// Sends one command to the menu worker and waits for its answer.
    pub(super) async fn ask_menu(&mut self, command: &str) -> Result<String, String> {
        let Some(Holder::Menu(worker)) = &mut self.holder else {
            return Err("no menu worker".into());
        };
        worker
            .stdin
            .write_all(format!("{command}\n").as_bytes())
            .await
            .map_err(|e| format!("menu worker: {e}"))?;
        self.menu_reply(Duration::from_secs(120)).await
    }

    async fn menu_reply(&mut self, limit: Duration) -> Result<String, String> {
        let Some(Holder::Menu(worker)) = &mut self.holder else {
            return Err("no menu worker".into());
        };
        match tokio::time::timeout(limit, worker.stdout.next_line()).await {
            Err(_) => Err("the menu worker did not answer".into()),
            Ok(Err(e)) => Err(format!("menu worker: {e}")),
            Ok(Ok(None)) => Err("the menu worker ended".into()),
            Ok(Ok(Some(line))) => Ok(line),
        }
    }

    fn child(&mut self) -> Option<&mut Child> {
        match &mut self.holder {
            Some(Holder::Vigild(child)) => Some(child),
            Some(Holder::Menu(worker)) => Some(&mut worker.child),
            None => None,
        }
    }

    /// Whether the process on the state died by itself (it should only ever die by our hand).
    pub(super) fn died_by_itself(&mut self) -> bool {
        self.child()
            .is_some_and(|child| matches!(child.try_wait(), Ok(Some(_))))
    }

    /// `kill -9` of the process on the state, by its PID; waits until it is gone.
    pub(super) async fn kill_9(&mut self) -> Result<(), String> {
        let Some(child) = self.child() else {
            return Err("nothing to kill".into());
        };
        let pid = child.id().ok_or("the process already ended")?;
        // SAFETY: kill(2) on our own child's PID, which it keeps until we wait for it.
        let sent = unsafe { libc::kill(pid as i32, libc::SIGKILL) };
        if sent != 0 {
            return Err(format!(
                "kill -9 {pid}: {}",
                std::io::Error::last_os_error()
            ));
        }
        let status = child.wait().await.map_err(|e| e.to_string())?;
        self.holder = None;
        if std::os::unix::process::ExitStatusExt::signal(&status) == Some(libc::SIGKILL) {
            Ok(())
        } else {
            Err(format!("the process ended with {status} before the kill"))
        }
    }

    /// Stops the process on the state cleanly (SIGTERM, or the menu worker's stdin closed), with
    /// kill -9 after 15 s.
    pub(super) async fn stop(&mut self) -> Result<(), String> {
        let Some(holder) = self.holder.take() else {
            return Ok(());
        };
        let mut child = match holder {
            Holder::Vigild(child) => {
                if let Some(pid) = child.id() {
                    // SAFETY: kill(2) on our own child's PID.
                    unsafe { libc::kill(pid as i32, libc::SIGTERM) };
                }
                child
            }
            Holder::Menu(MenuWorker { child, stdin, .. }) => {
                drop(stdin);
                child
            }
        };
        match tokio::time::timeout(Duration::from_secs(15), child.wait()).await {
            Ok(Ok(_)) => Ok(()),
            _ => {
                let _ = child.kill().await;
                Err("the process did not stop within 15 s of being asked".into())
            }
        }
    }
}
