//! Which discovery run a request gets: the one going on when it reaches everything the request asks
//! for, or a new one once that run ends when the request reaches further (a target the run was not
//! given, an interface that came up after its probes went out).

use std::collections::HashSet;
use std::net::{Ipv4Addr, SocketAddr};

use tokio::sync::watch;

use super::{Nvr, NvrError, lock};

/// A running (or finished) discovery run.
#[derive(Debug, Clone)]
pub struct DiscoveryRun {
    pub(super) done: watch::Receiver<Option<usize>>,
}

impl DiscoveryRun {
    /// Waits for the run to end; the size of the discovered list afterwards.
    pub async fn finished(mut self) -> usize {
        match self.done.wait_for(Option::is_some).await {
            Ok(count) => count.unwrap_or(0),
            Err(_) => 0,
        }
    }

    /// Whether the run is still going: not ended, and its worker not gone (shut down).
    pub(super) fn running(&self) -> bool {
        self.done.borrow().is_none() && self.done.has_changed().is_ok()
    }
}

/// The latest discovery run and what its probes reach.
#[derive(Debug)]
pub(super) struct LatestDiscoveryRun {
    run: DiscoveryRun,
    multicast_interfaces: HashSet<Ipv4Addr>,
    unicast_targets: HashSet<SocketAddr>,
}

impl LatestDiscoveryRun {
    pub(super) fn running(&self) -> bool {
        self.run.running()
    }

    fn reaches(&self, multicast_interfaces: &[Ipv4Addr], unicast_targets: &[SocketAddr]) -> bool {
        multicast_interfaces
            .iter()
            .all(|interface| self.multicast_interfaces.contains(interface))
            && unicast_targets
                .iter()
                .all(|target| self.unicast_targets.contains(target))
    }
}

/// What a discovery request gets.
pub(super) enum DiscoveryClaim {
    /// The run going on reaches everything asked: the request joins it.
    Join(DiscoveryRun),
    /// A new run, registered as the latest; its worker reports the count through `done`.
    Start {
        run: DiscoveryRun,
        done: watch::Sender<Option<usize>>,
    },
}

impl Nvr {
    /// Joins the run going on if it reaches every interface and target asked for; otherwise waits for
    /// it to end and registers a new run, so no request's target or new interface goes unprobed.
    pub(super) async fn claim_discovery_run(
        &self,
        multicast_interfaces: &[Ipv4Addr],
        unicast_targets: &[SocketAddr],
    ) -> Result<DiscoveryClaim, NvrError> {
        loop {
            let mut going_on = {
                let mut latest = lock(&self.inner.discovery_run);
                match latest.as_ref() {
                    Some(current) if current.running() => {
                        if current.reaches(multicast_interfaces, unicast_targets) {
                            return Ok(DiscoveryClaim::Join(current.run.clone()));
                        }
                        current.run.clone()
                    }
                    _ => {
                        let (done, done_rx) = watch::channel(None);
                        let run = DiscoveryRun { done: done_rx };
                        *latest = Some(LatestDiscoveryRun {
                            run: run.clone(),
                            multicast_interfaces: multicast_interfaces.iter().copied().collect(),
                            unicast_targets: unicast_targets.iter().copied().collect(),
                        });
                        return Ok(DiscoveryClaim::Start { run, done });
                    }
                }
            };
            tokio::select! {
                _ = going_on.done.wait_for(Option::is_some) => {}
                () = self.inner.shutdown.cancelled() => return Err(NvrError::ShuttingDown),
            }
        }
    }
}
