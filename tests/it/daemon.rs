//! vigild and vigil-camsim as processes: flags, configuration errors and exit codes, signals, secrets
//! kept out of logs, and a registry that survives kill -9 in the middle of a run of adds.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use vigil::store::Store;

pub(crate) const VIGILD: &str = env!("CARGO_BIN_EXE_vigild");
pub(crate) const CAMSIM: &str = env!("CARGO_BIN_EXE_vigil-camsim");

/// Demo mode uses fixed loopback addresses; only one demo runs at a time.
pub(crate) static DEMO: Mutex<()> = Mutex::new(());

/// A child process that is killed if the test ends early, so no daemon outlives a failed test.
pub(crate) struct Running(pub(crate) Child);

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

impl std::ops::Deref for Running {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl std::ops::DerefMut for Running {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

pub(crate) fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

pub(crate) fn signal(child: &Child, signal: i32) {
    // SAFETY: sending a signal to our own child process.
    unsafe {
        libc::kill(child.id() as i32, signal);
    }
}

/// Runs vigild with `args` to completion (it must exit by itself) and returns (exit code, stderr).
fn vigild_exits(args: &[&str]) -> (i32, String) {
    let output = Command::new(VIGILD)
        .args(args)
        .output()
        .expect("vigild runs");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Starts vigild with stderr piped, behind `wrapper` (such as `unshare -n`) when one is given.
fn start_vigild(wrapper: &[&str], args: &[&str], rust_log: &str) -> Running {
    let mut command = match wrapper.split_first() {
        Some((program, wrapper_args)) => {
            let mut c = Command::new(program);
            c.args(wrapper_args).arg(VIGILD);
            c
        }
        None => Command::new(VIGILD),
    };
    command
        .args(args)
        .env("RUST_LOG", rust_log)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map(Running)
        .expect("vigild starts")
}

/// Waits up to `limit` for the stderr line that `wanted` picks; returns it (if it came) and the thread
/// that keeps collecting the whole log.
fn wait_for_line(
    child: &mut Running,
    limit: Duration,
    mut wanted: impl FnMut(&str) -> bool + Send + 'static,
) -> (Option<String>, std::thread::JoinHandle<String>) {
    let (tx, rx) = std::sync::mpsc::channel();
    let log = watch_stderr(child, move |line| {
        if wanted(line) {
            let _ = tx.send(line.to_owned());
            return true;
        }
        false
    });
    (rx.recv_timeout(limit).ok(), log)
}

/// Reads a child's stderr on a thread, passing each line to `on_line` until it returns true.
pub(crate) fn watch_stderr(
    child: &mut Child,
    mut on_line: impl FnMut(&str) -> bool + Send + 'static,
) -> std::thread::JoinHandle<String> {
    let stderr = child.stderr.take().expect("stderr piped");
    std::thread::spawn(move || {
        let mut all = String::new();
        let mut done = false;
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if !done {
                done = on_line(&line);
            }
            all.push_str(&line);
            all.push('\n');
        }
        all
    })
}

pub(crate) fn wait_with_deadline(
    child: &mut Child,
    limit: Duration,
) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + limit;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn bad_flags_and_bad_configuration_exit_2_naming_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let state = state.to_str().unwrap();
    let (code, stderr) = vigild_exits(&["--no-such-flag"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("--no-such-flag"), "{stderr}");

    let (code, stderr) =
        vigild_exits(&["--config", "/nonexistent/vigild.toml", "--state-dir", state]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("/nonexistent/vigild.toml: file: cannot read it"),
        "{stderr}"
    );

    let cases = [
        (
            "[cameras]\nmonitor_period_ms = 0\n",
            "cameras.monitor_period_ms: 0 is out of range",
        ),
        (
            "[discovery]\nmulticats = false\n",
            "discovery.multicats: unknown field",
        ),
        (
            "[discovery]\nprobe_window_ms = \"soon\"\n",
            "discovery.probe_window_ms",
        ),
        (
            "[discovery]\nunicast_targets = [\"10.0.0.0/8\"]\n",
            "discovery.unicast_targets[0]",
        ),
    ];
    for (text, expected) in cases {
        let config = dir.path().join("vigild.toml");
        std::fs::write(&config, text).unwrap();
        let (code, stderr) =
            vigild_exits(&["--config", config.to_str().unwrap(), "--state-dir", state]);
        assert_eq!(code, 2, "{text}: {stderr}");
        assert!(stderr.contains(expected), "{text}: {stderr}");
    }
    let (code, stderr) = vigild_exits(&[
        "--log-level",
        "loud=[",
        "--config",
        "/dev/null",
        "--state-dir",
        state,
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        !Path::new(state).exists(),
        "a refused start touches no state"
    );
}

#[test]
fn with_no_configuration_file_vigild_runs_headless_and_stops_cleanly_on_sigterm() {
    if !is_root() {
        eprintln!(
            "SKIPPED default-configuration run: default discovery multicasts, so it runs only inside a private network namespace, which needs root"
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    // A private, empty network namespace: the default multicast discovery has no interface to use.
    let mut child = start_vigild(
        &["unshare", "-n"],
        &[
            "--headless",
            "--no-dbus",
            "--state-dir",
            state.to_str().unwrap(),
        ],
        "info",
    );
    let (ready, log) = wait_for_line(&mut child, Duration::from_secs(20), |l| {
        l.contains("vigild ready")
    });
    assert!(ready.is_some(), "vigild becomes ready");
    signal(&child, libc::SIGTERM);
    let status = wait_with_deadline(&mut child, Duration::from_secs(5)).expect("stops within 5 s");
    let log = log.join().unwrap();
    assert_eq!(status.code(), Some(0), "{log}");
    assert!(log.contains("vigild stopped"), "{log}");
    assert!(state.join("vigil.db").exists());
}

#[test]
fn passwords_never_reach_the_log_even_at_trace_level() {
    let _demo = DEMO.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().to_str().unwrap();
    let mut child = start_vigild(
        &[],
        &["--demo", "--headless", "--state-dir", state],
        "trace",
    );
    let (not_certified, log) = wait_for_line(&mut child, Duration::from_secs(30), |line| {
        line.contains("to=\"not_certified\"") || line.contains("to=not_certified")
    });
    signal(&child, libc::SIGTERM);
    wait_with_deadline(&mut child, Duration::from_secs(10)).expect("stops");
    let log = log.join().unwrap();
    assert!(
        not_certified.is_some(),
        "the demo reached a Not certified camera:\n{}",
        &log[log.len().saturating_sub(3000)..]
    );
    assert!(log.contains("camera added"));
    for secret in [vigil::daemon::demo::DEMO_PASSWORD, "Changed#Elsewhere1"] {
        assert!(!log.contains(secret), "a password appeared in the log");
    }
}

/// The demo opens its cameras' control socket in the state directory, so the README's vendor steps
/// work on it: the support desk's code, and the phone app (which needs a QR code on screen first).
#[test]
fn the_demo_serves_its_cameras_control_socket_for_the_vendor_tools() {
    let _demo = DEMO.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().to_str().unwrap();
    let mut child = start_vigild(&[], &["--demo", "--headless", "--state-dir", state], "info");
    let (served, log) = wait_for_line(&mut child, Duration::from_secs(30), |line| {
        line.contains("demo camera added")
    });
    let socket = dir.path().join("demo-cameras.sock");
    let camsim = |args: &[&str]| {
        Command::new(CAMSIM)
            .args(args)
            .output()
            .expect("vigil-camsim runs")
    };
    let socket_arg = socket.to_str().unwrap();
    let support = camsim(&["support-code", "--control", socket_arg, "VS0001000002"]);
    let scan = camsim(&["app-scan", "--control", socket_arg, "VS0001000002"]);
    signal(&child, libc::SIGTERM);
    wait_with_deadline(&mut child, Duration::from_secs(10)).expect("stops");
    let log = log.join().unwrap();
    assert!(served.is_some(), "the demo ran:\n{log}");
    assert!(
        log.contains("demo-cameras.sock"),
        "the log names the socket"
    );
    let code = String::from_utf8_lossy(&support.stdout);
    assert!(
        support.status.success() && code.trim().len() == 10,
        "a support code from the demo's socket: {code} {}",
        String::from_utf8_lossy(&support.stderr)
    );
    assert_eq!(scan.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&scan.stderr).contains("open Forget Password on it first"),
        "the phone app needs a QR code on screen: {}",
        String::from_utf8_lossy(&scan.stderr)
    );
}

#[test]
fn kill_9_during_a_run_of_adds_leaves_a_consistent_registry() {
    let _demo = DEMO.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    for (round, kill_after) in [1usize, 7, 23, 41].into_iter().enumerate() {
        let state = dir.path().join(format!("state-{round}"));
        let args = [
            "--demo",
            "--demo-cameras",
            "64",
            "--headless",
            "--state-dir",
            state.to_str().unwrap(),
        ];
        let mut child = start_vigild(&[], &args, "info");
        let mut added = 0;
        let (killed_at, log) = wait_for_line(&mut child, Duration::from_secs(30), move |line| {
            added += usize::from(line.contains("vigil::service::cameras: camera added"));
            added == kill_after
        });
        assert!(killed_at.is_some(), "adds happen");
        signal(&child, libc::SIGKILL);
        let _ = child.wait();
        let _ = log.join();

        let store = Store::open(&state).expect("the registry opens after kill -9");
        store.integrity_check().expect("SQLite integrity check");
        let cameras = store.write(|tx| tx.load_added_cameras()).unwrap();
        assert!(
            cameras.len() >= kill_after,
            "every add that was announced is stored ({} < {kill_after})",
            cameras.len()
        );
        for stored in &cameras {
            assert!(
                stored.credentials.is_some(),
                "camera {} has a readable sealed password",
                stored.camera.id
            );
            assert!(
                !stored.camera.identity.serial.is_empty(),
                "camera {} is complete",
                stored.camera.id
            );
        }
        drop(store);

        // And vigild itself starts again on it.
        let mut again = start_vigild(&[], &args, "info");
        let (ready, log) = wait_for_line(&mut again, Duration::from_secs(20), |l| {
            l.contains("vigild ready")
        });
        let ready = ready.expect("ready after the crash");
        assert!(
            ready.contains(&format!("added_cameras={}", cameras.len())),
            "{ready}"
        );
        signal(&again, libc::SIGTERM);
        let status = wait_with_deadline(&mut again, Duration::from_secs(10)).expect("stops");
        let _ = log.join();
        assert_eq!(status.code(), Some(0));
    }
}

#[test]
fn camsim_runs_and_answers_its_control_socket() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("camsim.sock");
    let bind = crate::support::loopback_block().to_string();
    let mut child = Command::new(CAMSIM)
        .args([
            "--count",
            "3",
            "--bind",
            &bind,
            "--base-port",
            "8080",
            "--control",
            socket.to_str().unwrap(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map(Running)
        .expect("camsim starts");
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let mut cameras = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        if line.starts_with("ready") {
            break;
        }
        cameras.push(line);
    }
    assert_eq!(cameras.len(), 3);
    assert!(
        cameras[1].contains(&format!("http://{bind}:8081/onvif/device_service")),
        "{cameras:?}"
    );

    let ctl = |args: &[&str]| {
        let mut full = vec!["ctl", "--control", socket.to_str().unwrap()];
        full.extend_from_slice(args);
        Command::new(CAMSIM).args(&full).output().unwrap()
    };
    for _ in 0..100 {
        if socket.exists() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(ctl(&["offline", "1"]).status.success());
    let list = String::from_utf8(ctl(&["list"]).stdout).unwrap();
    let list: serde_json::Value = serde_json::from_str(&list).unwrap();
    assert_eq!(list["cameras"][1]["online"], false);
    assert_eq!(list["cameras"][0]["online"], true);
    assert!(
        !list.to_string().contains("Harbor-Lamp-62"),
        "the control API never shows passwords"
    );
    let missing = ctl(&["stats", "9"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no camera with index 9"));
    // The vendor's support desk, and a phone app scanning something that is not a recovery QR code.
    let serial = list["cameras"][0]["serial"].as_str().unwrap().to_owned();
    let support = Command::new(CAMSIM)
        .args([
            "support-code",
            "--control",
            socket.to_str().unwrap(),
            &serial,
            "2026-11-23",
        ])
        .output()
        .unwrap();
    assert!(support.status.success());
    let code = String::from_utf8(support.stdout).unwrap();
    assert_eq!(code.trim().len(), 10, "{code}");
    assert!(code.trim().chars().all(|c| c.is_ascii_digit()));
    let scan = Command::new(CAMSIM)
        .args([
            "app-scan",
            "--control",
            socket.to_str().unwrap(),
            "https://example.com",
        ])
        .output()
        .unwrap();
    assert_eq!(scan.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&scan.stderr).contains("not a vigil recovery QR code"));
    let bad = Command::new(CAMSIM)
        .args(["--count", "nope"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));

    signal(&child, libc::SIGTERM);
    let status = wait_with_deadline(&mut child, Duration::from_secs(5)).expect("camsim stops");
    assert!(status.success());
}

/// A configuration that sends nothing on the network by itself (no multicast, no announcements).
pub(crate) fn quiet_config(dir: &Path) -> std::path::PathBuf {
    let config = dir.join("quiet.toml");
    std::fs::write(
        &config,
        "[discovery]\nmulticast = false\nlisten_announcements = false\non_start = false\nrefresh_interval_secs = 0\n",
    )
    .unwrap();
    config
}

fn display_hardware() -> bool {
    let drm = std::fs::read_dir("/dev/dri").is_ok_and(|entries| {
        entries
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with("card"))
    });
    drm || Path::new("/dev/fb0").exists()
}

/// Runs vigild without --headless and stops it with SIGTERM; returns its whole log.
fn run_with_menu(display: Option<&str>, wanted: &'static str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let config = quiet_config(dir.path());
    let mut command = Command::new(VIGILD);
    command
        .arg("--config")
        .arg(&config)
        .arg("--state-dir")
        .arg(dir.path().join("state"))
        .arg("--no-dbus")
        .env("RUST_LOG", "info")
        .env_remove("WAYLAND_DISPLAY")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    match display {
        Some(display) => command.env("DISPLAY", display),
        None => command.env_remove("DISPLAY"),
    };
    let mut child = Running(command.spawn().expect("vigild starts"));
    let (ready, log) = wait_for_line(&mut child, Duration::from_secs(30), |l| {
        l.contains("vigild ready")
    });
    assert!(ready.is_some(), "vigild becomes ready");
    signal(&child, libc::SIGTERM);
    let status = wait_with_deadline(&mut child, Duration::from_secs(5));
    let log = log.join().unwrap();
    let status = status.unwrap_or_else(|| panic!("stops within 5 s:\n{log}"));
    assert_eq!(status.code(), Some(0), "{log}");
    assert!(log.contains(wanted), "the log says {wanted:?}:\n{log}");
    assert!(log.contains("vigild stopped"), "{log}");
    log
}

#[test]
fn with_no_display_vigild_says_so_and_runs_headless() {
    if display_hardware() {
        eprintln!("SKIPPED no-display run: this machine has a DRM card or framebuffer");
        return;
    }
    let log = run_with_menu(None, "no on-screen menu; running headless");
    assert!(
        log.contains("DISPLAY is not set"),
        "the reason is given:\n{log}"
    );
}

#[test]
fn on_a_desktop_display_vigild_shows_the_menu_and_stops_cleanly() {
    // A real X server with no screen attached: Xvfb, which tells us its display number on stdout.
    let xvfb = Command::new("Xvfb")
        .args([
            "-displayfd",
            "1",
            "-screen",
            "0",
            "1920x1080x24",
            "-nolisten",
            "tcp",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn();
    let Ok(xvfb) = xvfb else {
        eprintln!("SKIPPED desktop-window run: Xvfb is not installed (.ci/deps installs it)");
        return;
    };
    let mut xvfb = Running(xvfb);
    let mut number = String::new();
    BufReader::new(xvfb.stdout.take().expect("piped"))
        .read_line(&mut number)
        .expect("Xvfb prints its display number");
    let display = format!(":{}", number.trim());
    run_with_menu(Some(&display), "on-screen menu shown display=Window");
    drop(xvfb);
}
