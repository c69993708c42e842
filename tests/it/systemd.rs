//! vigild as systemd sees it, with the test playing the service manager: readiness on `$NOTIFY_SOCKET`
//! only after the D-Bus name is owned, status lines, watchdog pings that stop while the menu's event
//! loop or the async runtime hangs (the test build's fault hooks), SIGHUP reloads (a bad file refused,
//! the running configuration kept), SIGTERM within 5 s with nothing lost, and logs in the journal's
//! own protocol with structured fields.

use std::io::{BufRead, BufReader};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::daemon::{
    CAMSIM, DEMO, Running, VIGILD, is_root, quiet_config, signal, wait_with_deadline, watch_stderr,
};

/// The service manager's end of `$NOTIFY_SOCKET`: every datagram, with when it came.
struct NotifySocket {
    path: PathBuf,
    messages: mpsc::Receiver<(Instant, String)>,
    _dir: tempfile::TempDir,
}

impl NotifySocket {
    fn bind() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify");
        let socket = UnixDatagram::bind(&path).expect("notify socket");
        let (tx, messages) = mpsc::channel();
        std::thread::spawn(move || {
            let mut buffer = vec![0u8; 4096];
            while let Ok(n) = socket.recv(&mut buffer) {
                let text = String::from_utf8_lossy(&buffer[..n]).into_owned();
                if tx.send((Instant::now(), text)).is_err() {
                    return;
                }
            }
        });
        NotifySocket {
            path,
            messages,
            _dir: dir,
        }
    }

    /// Waits up to `limit` for a message with the line `wanted`; returns it with when it came, and
    /// every message before it.
    fn wait_for(&self, wanted: &str, limit: Duration) -> (Option<(Instant, String)>, Vec<String>) {
        let deadline = Instant::now() + limit;
        let mut before = Vec::new();
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.messages.recv_timeout(left) {
                Ok((at, text)) if text.lines().any(|l| l == wanted) => {
                    return (Some((at, text)), before);
                }
                Ok((_, text)) => before.push(text),
                Err(_) => break,
            }
        }
        (None, before)
    }

    /// Every message that comes in the next `span`.
    fn collect(&self, span: Duration) -> Vec<(Instant, String)> {
        let deadline = Instant::now() + span;
        let mut got = Vec::new();
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.messages.recv_timeout(left) {
                Ok(message) => got.push(message),
                Err(_) => break,
            }
        }
        got
    }
}

fn pings_in(messages: &[(Instant, String)], from: Instant, to: Instant) -> usize {
    messages
        .iter()
        .filter(|(at, text)| *at >= from && *at <= to && text.lines().any(|l| l == "WATCHDOG=1"))
        .count()
}

/// A real X server with no screen: (the server, its DISPLAY).
fn xvfb() -> Option<(Running, String)> {
    let mut xvfb = Command::new("Xvfb")
        .args([
            "-displayfd",
            "1",
            "-screen",
            "0",
            "1280x720x24",
            "-nolisten",
            "tcp",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map(Running)
        .ok()?;
    let mut number = String::new();
    BufReader::new(xvfb.stdout.take()?)
        .read_line(&mut number)
        .ok()?;
    Some((xvfb, format!(":{}", number.trim())))
}

fn name_has_owner(bus_address: &str) -> bool {
    let out = Command::new("busctl")
        .arg(format!("--address={bus_address}"))
        .args([
            "call",
            "org.freedesktop.DBus",
            "/org/freedesktop/DBus",
            "org.freedesktop.DBus",
            "NameHasOwner",
            "s",
            "org.vigil.Nvr1",
        ])
        .output()
        .expect("busctl runs");
    String::from_utf8_lossy(&out.stdout).trim() == "b true"
}

#[test]
fn ready_comes_after_the_bus_name_and_watchdog_pings_stop_while_the_menu_or_the_runtime_hangs() {
    for tool in ["dbus-daemon", "busctl"] {
        if !crate::bus::installed(tool) {
            eprintln!("SKIPPED notify and watchdog run: {tool} is not installed");
            return;
        }
    }
    let Some((_xvfb, display)) = xvfb() else {
        eprintln!("SKIPPED notify and watchdog run: Xvfb is not installed (.ci/deps installs it)");
        return;
    };
    let bus = crate::bus::TestBus::start();
    let notify = NotifySocket::bind();
    let dir = tempfile::tempdir().unwrap();
    let config = quiet_config(dir.path());
    let hang = Duration::from_millis(4000);
    let mut child = Command::new(VIGILD)
        .arg("--config")
        .arg(&config)
        .arg("--state-dir")
        .arg(dir.path().join("state"))
        .args(["--bus-address", &bus.address])
        .env("DISPLAY", &display)
        .env_remove("WAYLAND_DISPLAY")
        .env("NOTIFY_SOCKET", &notify.path)
        // Pings every 500 ms, each after both loops answered within 250 ms.
        .env("WATCHDOG_USEC", "1500000")
        .env("VIGIL_FAULT_HOOKS", "1")
        .env("VIGIL_FAULT_HANG_MS", hang.as_millis().to_string())
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map(Running)
        .expect("vigild starts");
    let log = watch_stderr(&mut child, |_| false);

    let (ready, before) = notify.wait_for("READY=1", Duration::from_secs(30));
    // Asked the moment READY=1 arrives: the name must already be owned.
    let owned_at_ready = name_has_owner(&bus.address);
    let Some((_, ready)) = ready else {
        let _ = child.kill();
        panic!("no READY=1 within 30 s:\n{}", log.join().unwrap());
    };
    assert!(
        owned_at_ready,
        "READY=1 came before org.vigil.Nvr1 was owned"
    );
    assert!(
        before.iter().all(|m| !m.contains("WATCHDOG=1")),
        "no ping before READY: {before:?}"
    );
    assert!(
        ready.contains("STATUS=0 cameras added: 0 online, 0 not certified, 0 locked, 0 offline"),
        "the status line rides with READY: {ready:?}"
    );

    // Both loops answer: pings come about every 500 ms.
    let start = Instant::now();
    let healthy = notify.collect(Duration::from_secs(3));
    let pings = pings_in(&healthy, start, Instant::now());
    assert!(pings >= 3, "pings while healthy: {pings} in 3 s");

    for (hook, what) in [
        (libc::SIGUSR1, "the on-screen menu"),
        (libc::SIGUSR2, "the service core"),
    ] {
        signal(&child, hook);
        let hung_at = Instant::now();
        let during = notify.collect(hang + Duration::from_secs(3));
        // A round already under way when the hang began may still ping; after that, none until the
        // hang ends (4 s), then pings again.
        let silent = pings_in(
            &during,
            hung_at + Duration::from_millis(900),
            hung_at + hang - Duration::from_millis(300),
        );
        assert_eq!(silent, 0, "pings while {what} hung: {during:?}");
        let after = pings_in(
            &during,
            hung_at + hang,
            hung_at + hang + Duration::from_secs(3),
        );
        assert!(
            after >= 2,
            "pings came back after {what} recovered: {during:?}"
        );
    }

    signal(&child, libc::SIGTERM);
    let (stopping, _) = notify.wait_for("STOPPING=1", Duration::from_secs(5));
    let status = wait_with_deadline(&mut child, Duration::from_secs(5));
    let log = log.join().unwrap();
    assert!(stopping.is_some(), "STOPPING=1 on SIGTERM:\n{log}");
    assert_eq!(status.and_then(|s| s.code()), Some(0), "{log}");
    for what in ["the on-screen menu", "the service core"] {
        assert!(
            log.contains(&format!("what=\"{what}\"")) && log.contains("does not answer"),
            "the log names the loop that hung ({what}):\n{log}"
        );
    }
    assert!(log.contains("answers the watchdog again"), "{log}");
    assert!(log.contains("display=Window"), "the menu was up:\n{log}");
}

/// Starts one simulated camera on its own loopback address; returns it and that address.
fn camsim() -> (Running, String) {
    let bind = crate::support::loopback_block().to_string();
    let mut child = Command::new(CAMSIM)
        .args(["--count", "1", "--bind", &bind, "--base-port", "8080"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map(Running)
        .expect("camsim starts");
    let stdout = child.stdout.take().unwrap();
    for line in BufReader::new(stdout).lines() {
        if line.map(|l| l.starts_with("ready")).unwrap_or(true) {
            break;
        }
    }
    (child, bind)
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
}

#[test]
fn sighup_reloads_the_configuration_and_a_bad_file_is_refused_with_the_running_one_kept() {
    let (_camsim, camera_address) = camsim();
    let notify = NotifySocket::bind();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("vigild.toml");
    let quiet = "[discovery]\nmulticast = false\nlisten_announcements = false\non_start = false\nrefresh_interval_secs = 0\n";
    write(&config, quiet);
    let mut child = Command::new(VIGILD)
        .arg("--config")
        .arg(&config)
        .arg("--state-dir")
        .arg(dir.path().join("state"))
        .args(["--headless", "--no-dbus"])
        .env("NOTIFY_SOCKET", &notify.path)
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map(Running)
        .expect("vigild starts");
    let (lines_tx, lines) = mpsc::channel::<String>();
    let log = watch_stderr(&mut child, move |line| {
        let _ = lines_tx.send(line.to_owned());
        false
    });
    let wait_line = |wanted: &dyn Fn(&str) -> bool, limit: Duration| -> Option<String> {
        let deadline = Instant::now() + limit;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match lines.recv_timeout(left) {
                Ok(line) if wanted(&line) => return Some(line),
                Ok(_) => {}
                Err(_) => return None,
            }
        }
        None
    };
    assert!(
        notify
            .wait_for("READY=1", Duration::from_secs(20))
            .0
            .is_some(),
        "READY=1"
    );

    // A typo'd value: refused whole, with the key named, and vigild keeps running as it was.
    write(
        &config,
        &format!("{quiet}unicast_targets = [\"{camera_address}\"]\nprobe_window_ms = \"fast\"\n"),
    );
    signal(&child, libc::SIGHUP);
    let (reloading, _) = notify.wait_for("RELOADING=1", Duration::from_secs(5));
    assert!(reloading.is_some(), "RELOADING=1 on SIGHUP");
    assert!(
        notify
            .wait_for("READY=1", Duration::from_secs(5))
            .0
            .is_some(),
        "READY=1 after a refused reload"
    );
    let refused = wait_line(
        &|l| l.contains("configuration reload refused"),
        Duration::from_secs(5),
    )
    .expect("the refusal is logged");
    assert!(
        refused.contains("discovery.probe_window_ms") && refused.contains("ERROR"),
        "{refused}"
    );
    // A value out of range is refused the same way.
    write(
        &config,
        &format!("{quiet}[cameras]\nmonitor_period_ms = 1\n"),
    );
    signal(&child, libc::SIGHUP);
    let refused = wait_line(
        &|l| l.contains("configuration reload refused"),
        Duration::from_secs(5),
    )
    .expect("the refusal is logged");
    assert!(refused.contains("cameras.monitor_period_ms"), "{refused}");
    assert!(
        child.try_wait().unwrap().is_none(),
        "vigild runs on after refusing a configuration"
    );

    // A good file: the new place to probe is probed at once and the camera found, the log level
    // changes, and a key read only at start is named as waiting for a restart.
    write(
        &config,
        &format!(
            "[discovery]\nmulticast = false\nlisten_announcements = false\non_start = false\nrefresh_interval_secs = 0\nunicast_targets = [\"{camera_address}\"]\nidentify_concurrency = 4\n[log]\nlevel = \"debug\"\n"
        ),
    );
    signal(&child, libc::SIGHUP);
    let reloaded = wait_line(
        &|l| l.contains("configuration reloaded"),
        Duration::from_secs(5),
    )
    .expect("the reload is logged");
    for key in ["discovery.unicast_targets", "log.level"] {
        assert!(reloaded.contains(key), "{key} applied: {reloaded}");
    }
    assert!(
        !reloaded.contains("identify_concurrency"),
        "a start-only key is not applied: {reloaded}"
    );
    let found = wait_line(
        &|l| l.contains("discovery finished"),
        Duration::from_secs(15),
    )
    .expect("discovery ran after the reload");
    assert!(found.contains("devices=1"), "{found}");

    signal(&child, libc::SIGTERM);
    let status = wait_with_deadline(&mut child, Duration::from_secs(5));
    let log = log.join().unwrap();
    assert_eq!(status.and_then(|s| s.code()), Some(0), "{log}");
    let (before_reload, after_reload) = log
        .split_once("configuration reloaded")
        .expect("reloaded once");
    assert!(
        !before_reload.contains(" DEBUG "),
        "info level before the reload:\n{before_reload}"
    );
    assert!(
        after_reload.contains(" DEBUG "),
        "debug level after the reload:\n{after_reload}"
    );
    assert!(
        log.contains("key=discovery.identify_concurrency")
            && log.contains("takes effect after a restart"),
        "{log}"
    );
}

#[test]
fn sigterm_stops_within_5_s_and_every_camera_it_added_is_in_the_registry() {
    let _demo = DEMO.lock().unwrap_or_else(|e| e.into_inner());
    let notify = NotifySocket::bind();
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let mut child = Command::new(VIGILD)
        .args([
            "--demo",
            "--headless",
            "--demo-cameras",
            "24",
            "--state-dir",
        ])
        .arg(&state)
        .env("NOTIFY_SOCKET", &notify.path)
        .env("RUST_LOG", "info")
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map(Running)
        .expect("vigild starts");
    let (added_tx, added) = mpsc::channel::<()>();
    let log = watch_stderr(&mut child, move |line| {
        line.contains("camera added") && added_tx.send(()).is_err()
    });
    assert!(
        notify
            .wait_for("READY=1", Duration::from_secs(30))
            .0
            .is_some()
    );
    // Stop in the middle of the demo's run of adds.
    for _ in 0..3 {
        added
            .recv_timeout(Duration::from_secs(30))
            .expect("the demo adds cameras");
    }
    let asked = Instant::now();
    signal(&child, libc::SIGTERM);
    let (stopping, _) = notify.wait_for("STOPPING=1", Duration::from_secs(5));
    let status = wait_with_deadline(&mut child, Duration::from_secs(5));
    let took = asked.elapsed();
    let log = log.join().unwrap();
    assert!(stopping.is_some(), "STOPPING=1");
    assert_eq!(
        status.and_then(|s| s.code()),
        Some(0),
        "a clean stop within 5 s:\n{log}"
    );
    eprintln!("SIGTERM to exit: {} ms", took.as_millis());
    assert!(log.contains("vigild stopped"), "{log}");
    // Nothing lost: every camera the log called added is in the registry, and the registry is whole.
    let said_added: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("camera added"))
        .filter_map(|l| l.split("camera=").nth(1)?.split_whitespace().next())
        .collect();
    assert!(said_added.len() >= 3, "{log}");
    let store = vigil::store::Store::open(&state).expect("the registry opens");
    let stored: Vec<String> = store
        .write(|tx| tx.load_added_cameras())
        .expect("the registry reads")
        .iter()
        .map(|e| e.camera.id.to_string())
        .collect();
    for id in &said_added {
        assert!(
            stored.iter().any(|s| s == id),
            "camera {id} was added but is not in the registry ({stored:?})"
        );
    }
}

/// Reads one journal native-protocol datagram: `KEY=value` lines, or `KEY`, a little-endian 64-bit
/// length, the value and a newline for values with newlines in them.
fn journal_fields(datagram: &[u8]) -> Vec<(String, String)> {
    let mut fields = Vec::new();
    let mut rest = datagram;
    while !rest.is_empty() {
        let end = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
        let line = &rest[..end];
        if let Some(eq) = line.iter().position(|&b| b == b'=') {
            fields.push((
                String::from_utf8_lossy(&line[..eq]).into_owned(),
                String::from_utf8_lossy(&line[eq + 1..]).into_owned(),
            ));
            rest = rest.get(end + 1..).unwrap_or(&[]);
        } else {
            let key = String::from_utf8_lossy(line).into_owned();
            let body = &rest[end + 1..];
            let len = u64::from_le_bytes(body[..8].try_into().unwrap()) as usize;
            fields.push((key, String::from_utf8_lossy(&body[8..8 + len]).into_owned()));
            rest = body.get(8 + len + 1..).unwrap_or(&[]);
        }
    }
    fields
}

#[test]
fn under_systemd_logs_go_to_the_journal_with_structured_fields() {
    if !is_root() {
        eprintln!(
            "SKIPPED journal run: it puts a test socket at /run/systemd/journal/socket inside a private mount namespace, which needs root"
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let journal_path = dir.path().join("journal.sock");
    let journal = UnixDatagram::bind(&journal_path).expect("journal socket");
    journal
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let config = quiet_config(dir.path());
    // systemd connects a service's stderr to the journal and says so in JOURNAL_STREAM (device:inode
    // of that stream); here stderr is a pipe the test reads, named the same way.
    let script = r#"set -e
mount -t tmpfs -o mode=0755 tmpfs /run
mkdir -p /run/systemd/journal
touch /run/systemd/journal/socket
mount --bind "$1" /run/systemd/journal/socket
JOURNAL_STREAM=$(stat -L -c %d:%i /proc/self/fd/2)
export JOURNAL_STREAM
shift
exec "$@"
"#;
    let mut child = Command::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-c", script, "sh"])
        .arg(&journal_path)
        .arg(VIGILD)
        .arg("--config")
        .arg(&config)
        .arg("--state-dir")
        .arg(dir.path().join("state"))
        .args(["--headless", "--no-dbus"])
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map(Running)
        .expect("vigild starts in its namespace");
    let stderr = watch_stderr(&mut child, |_| false);
    let mut entries: Vec<Vec<(String, String)>> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut buffer = vec![0u8; 65536];
    let ready = |entries: &Vec<Vec<(String, String)>>| {
        entries
            .iter()
            .any(|e| e.iter().any(|(k, v)| k == "MESSAGE" && v == "vigild ready"))
    };
    while Instant::now() < deadline && !ready(&entries) {
        if let Ok(n) = journal.recv(&mut buffer) {
            entries.push(journal_fields(&buffer[..n]));
        }
    }
    signal(&child, libc::SIGTERM);
    let status = wait_with_deadline(&mut child, Duration::from_secs(5));
    while let Ok(n) = journal.recv(&mut buffer) {
        entries.push(journal_fields(&buffer[..n]));
    }
    let stderr = stderr.join().unwrap();
    assert_eq!(status.and_then(|s| s.code()), Some(0), "{stderr}");
    let field = |entry: &Vec<(String, String)>, key: &str| {
        entry.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
    };
    let ready_entry = entries
        .iter()
        .find(|e| field(e, "MESSAGE").as_deref() == Some("vigild ready"))
        .unwrap_or_else(|| panic!("'vigild ready' reached the journal: {entries:?}\n{stderr}"));
    assert_eq!(field(ready_entry, "PRIORITY").as_deref(), Some("6"), "info");
    assert_eq!(
        field(ready_entry, "SYSLOG_IDENTIFIER").as_deref(),
        Some("vigild")
    );
    assert_eq!(
        field(ready_entry, "VIGIL_ADDED_CAMERAS").as_deref(),
        Some("0"),
        "the event's own fields are journal fields: {ready_entry:?}"
    );
    assert!(field(ready_entry, "TARGET").is_some(), "{ready_entry:?}");
    assert!(
        entries
            .iter()
            .any(|e| field(e, "MESSAGE").as_deref() == Some("vigild stopped")),
        "the stop reached the journal too"
    );
    assert!(
        !stderr.contains("vigild ready"),
        "log lines go to the journal, not to stderr as well:\n{stderr}"
    );
}
