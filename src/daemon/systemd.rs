//! Running under systemd: the readiness, status, reload and stopping notices on `$NOTIFY_SOCKET`, the
//! watchdog that pings only while the service core and the menu's event loop both answer, and the
//! check that stderr is the journal. Outside systemd every notice is a no-op.

use std::collections::BTreeMap;
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use sd_notify::NotifyState;

use crate::model::CameraState;

fn notify(states: &[NotifyState<'_>]) {
    if let Err(error) = sd_notify::notify(states) {
        tracing::warn!(%error, "cannot notify the service manager");
    }
}

/// Startup is done: the store, the core, the D-Bus name and the menu are up. `status` is the first
/// status line.
pub fn notify_ready(status: &str) {
    notify(&[NotifyState::Ready, NotifyState::Status(status)]);
}

/// A new status line (`systemctl status vigild` shows it).
pub fn notify_status(status: &str) {
    notify(&[NotifyState::Status(status)]);
}

/// A configuration reload begins; [`notify_ready`] ends it.
pub fn notify_reloading() {
    let mut states = vec![NotifyState::Reloading];
    // systemd 253 and later want the clock with RELOADING=1 (Type=notify-reload); older ones ignore it.
    if let Ok(now) = NotifyState::monotonic_usec_now() {
        states.push(now);
    }
    notify(&states);
}

/// Shutdown begins.
pub fn notify_stopping() {
    notify(&[NotifyState::Stopping, NotifyState::Status("stopping")]);
}

/// The status line: the added cameras by state, as `systemctl status` shows it.
pub fn status_line(counts: &BTreeMap<CameraState, usize>) -> String {
    let count = |state| counts.get(&state).copied().unwrap_or(0);
    let added: usize = counts.values().sum();
    format!(
        "{added} cameras added: {} online, {} not certified, {} locked, {} offline",
        count(CameraState::Online),
        count(CameraState::NotCertified),
        count(CameraState::Locked),
        count(CameraState::Offline),
    )
}

/// Whether stderr is connected to the journal: `$JOURNAL_STREAM` names stderr's device and inode, as
/// systemd sets it for a service whose output goes to the journal.
pub fn stderr_is_journal() -> bool {
    use std::os::fd::AsFd;
    let Some(stream) = std::env::var_os("JOURNAL_STREAM") else {
        return false;
    };
    let Some((device, inode)) = stream.to_str().and_then(|s| s.split_once(':')) else {
        return false;
    };
    let Ok(stderr) = std::io::stderr().as_fd().try_clone_to_owned() else {
        return false;
    };
    let Ok(metadata) = std::fs::File::from(stderr).metadata() else {
        return false;
    };
    use std::os::unix::fs::MetadataExt;
    device.parse() == Ok(metadata.dev()) && inode.parse() == Ok(metadata.ino())
}

/// How long the service manager waits between pings before it restarts vigild, when it asked for
/// pings (`WatchdogSec=` sets `$WATCHDOG_USEC`).
pub fn watchdog_interval() -> Option<Duration> {
    sd_notify::watchdog_enabled().filter(|interval| !interval.is_zero())
}

/// What a probe hands to its loop: the loop calls [`Answer::answer`] when it gets to it.
pub struct Answer(mpsc::Sender<()>);

impl Answer {
    /// The loop turned.
    pub fn answer(self) {
        let _ = self.0.send(());
    }
}

/// Hands an [`Answer`] to a loop and returns at once; the loop answers when it runs it. Dropping the
/// answer unanswered (the loop is gone) counts as no answer.
pub type Probe = Box<dyn Fn(Answer) + Send>;

/// A loop the watchdog watches.
pub struct WatchedLoop {
    /// Its name in logs ("the service core", "the on-screen menu").
    pub name: &'static str,
    /// How to ask it.
    pub probe: Probe,
}

/// Pings the service manager (`WATCHDOG=1`) about three times per watchdog interval, each time only
/// after every watched loop has answered a fresh probe. A loop that hangs stops the pings, and the
/// service manager restarts vigild. Runs on a thread of its own, so a hung async runtime cannot take
/// the pings' clock with it.
pub struct Watchdog {
    stop: Arc<(Mutex<bool>, Condvar)>,
    thread: Option<JoinHandle<()>>,
}

impl Watchdog {
    /// Starts pinging for a service manager that waits `interval` between pings.
    pub fn start(interval: Duration, loops: Vec<WatchedLoop>) -> Self {
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let thread = {
            let stop = stop.clone();
            std::thread::Builder::new()
                .name("vigil-watchdog".into())
                .spawn(move || watch(interval, loops, &stop))
                .map_err(|error| tracing::error!(%error, "cannot start the watchdog"))
                .ok()
        };
        Watchdog { stop, thread }
    }

    /// Stops pinging (shutdown).
    pub fn stop(mut self) {
        self.stop_now();
    }

    fn stop_now(&mut self) {
        let (stopped, wake) = &*self.stop;
        *stopped.lock().unwrap_or_else(|e| e.into_inner()) = true;
        wake.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.stop_now();
    }
}

fn watch(interval: Duration, loops: Vec<WatchedLoop>, stop: &(Mutex<bool>, Condvar)) {
    let every = (interval / 3).max(Duration::from_millis(100));
    let patience = every / 2;
    // A loop that has not answered keeps its probe: one question outstanding per loop, never a pile.
    let mut outstanding: Vec<Option<(mpsc::Receiver<()>, Instant)>> =
        loops.iter().map(|_| None).collect();
    let mut reported_stuck = vec![false; loops.len()];
    tracing::info!(
        interval_ms = interval.as_millis() as u64,
        ping_every_ms = every.as_millis() as u64,
        "watchdog on"
    );
    loop {
        let round = Instant::now();
        for (watched, pending) in loops.iter().zip(outstanding.iter_mut()) {
            if pending.is_none() {
                let (tx, rx) = mpsc::channel();
                (watched.probe)(Answer(tx));
                *pending = Some((rx, round));
            }
        }
        let deadline = round + patience;
        let mut all_answered = true;
        for (i, pending) in outstanding.iter_mut().enumerate() {
            let Some((rx, asked)) = pending else { continue };
            let wait = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(wait) {
                Ok(()) => {
                    *pending = None;
                    if std::mem::take(&mut reported_stuck[i]) {
                        tracing::info!(what = loops[i].name, "answers the watchdog again");
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    all_answered = false;
                    if !reported_stuck[i] && asked.elapsed() >= every {
                        reported_stuck[i] = true;
                        tracing::error!(
                            what = loops[i].name,
                            waited_ms = asked.elapsed().as_millis() as u64,
                            "does not answer: watchdog pings stop, and the service manager restarts vigild unless it recovers"
                        );
                    }
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    all_answered = false;
                    *pending = None;
                    if !std::mem::replace(&mut reported_stuck[i], true) {
                        tracing::error!(what = loops[i].name, "is gone: watchdog pings stop");
                    }
                }
            }
        }
        if all_answered {
            notify(&[NotifyState::Watchdog]);
        }
        let (stopped, wake) = stop;
        let mut stopped = stopped.lock().unwrap_or_else(|e| e.into_inner());
        let next = round + every;
        while !*stopped {
            let left = next.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            stopped = wake
                .wait_timeout(stopped, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        if *stopped {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_status_line_counts_cameras_by_state() {
        let counts = BTreeMap::from([(CameraState::Online, 3), (CameraState::Offline, 1)]);
        assert_eq!(
            status_line(&counts),
            "4 cameras added: 3 online, 0 not certified, 0 locked, 1 offline"
        );
    }
}
