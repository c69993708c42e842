//! The signals vigild answers: SIGTERM and SIGINT stop it in order, SIGHUP asks for a reload.

use tokio_util::sync::CancellationToken;

/// SIGTERM and SIGINT stop vigild; SIGHUP asks for a configuration reload.
pub fn spawn_signal_handler(
    shutdown: CancellationToken,
    reload_requests: tokio::sync::mpsc::UnboundedSender<()>,
) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int), Ok(mut hup)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
        signal(SignalKind::hangup()),
    ) else {
        tracing::error!("cannot install signal handlers");
        return;
    };
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = term.recv() => {
                    tracing::info!("SIGTERM received");
                    break;
                }
                _ = int.recv() => {
                    tracing::info!("SIGINT received");
                    break;
                }
                _ = hup.recv() => {
                    tracing::info!("SIGHUP received: reloading the configuration");
                    let _ = reload_requests.send(());
                }
            }
        }
        shutdown.cancel();
    });
}
