//! Test builds only (never in a release build): with `VIGIL_FAULT_HOOKS=1` in the environment, SIGUSR1
//! hangs the menu's event loop and SIGUSR2 hangs every tokio worker, each for `VIGIL_FAULT_HANG_MS`
//! (default 6000), so tests can watch the watchdog's pings stop and come back.

use std::sync::{Arc, Barrier};
use std::time::Duration;

/// Installs the hooks when the environment asks for them. Call on the runtime.
pub fn install() {
    if std::env::var_os("VIGIL_FAULT_HOOKS").is_none_or(|v| v != "1") {
        return;
    }
    let hang = Duration::from_millis(
        std::env::var("VIGIL_FAULT_HANG_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(6000),
    );
    tracing::warn!("fault hooks on: SIGUSR1 hangs the menu, SIGUSR2 hangs the async runtime");
    tokio::spawn(async move {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut usr1), Ok(mut usr2)) = (
            signal(SignalKind::user_defined1()),
            signal(SignalKind::user_defined2()),
        ) else {
            tracing::error!("cannot install the fault hooks");
            return;
        };
        loop {
            tokio::select! {
                _ = usr1.recv() => {
                    tracing::warn!(hang_ms = hang.as_millis() as u64, "fault hook: hanging the menu's event loop");
                    #[cfg(feature = "gui")]
                    let _ = slint::invoke_from_event_loop(move || std::thread::sleep(hang));
                }
                _ = usr2.recv() => {
                    tracing::warn!(hang_ms = hang.as_millis() as u64, "fault hook: hanging every async worker");
                    hang_every_worker(hang);
                }
            }
        }
    });
}

/// Blocks every worker of the current runtime at once: one task per worker, all waiting on one
/// barrier before they sleep, so no worker is left to run anything else. Spawned from a plain thread,
/// so the tasks go to the shared queue where every worker takes them.
fn hang_every_worker(hang: Duration) {
    let runtime = tokio::runtime::Handle::current();
    let workers = runtime.metrics().num_workers();
    let barrier = Arc::new(Barrier::new(workers));
    std::thread::spawn(move || {
        for _ in 0..workers {
            let barrier = barrier.clone();
            runtime.spawn(async move {
                barrier.wait();
                std::thread::sleep(hang);
            });
        }
    });
}
