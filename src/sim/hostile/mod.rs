//! Hostile peers, for the tests and the soak (`vigil-bench soak`): discovery floods and lies in
//! WS-Discovery, SADP and DHIP ([`discovery`]), and cameras whose HTTP answers are poison — slow,
//! oversized, XML bombs, malformed — including cameras that turn so after they were added ([`http`]).
//!
//! Every hostile peer is bounded: it stops by itself at its deadline (or sooner when cancelled),
//! datagram senders are paced, each connection is served for a bounded time with bounded bytes, and
//! they send only by unicast to the addresses they are given (loopback in the tests and the soak).

pub mod discovery;
pub mod http;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// When a hostile peer stops: at `until`, or sooner when `cancel` fires.
#[derive(Debug, Clone)]
pub struct Bounds {
    /// The deadline; nothing is sent after it.
    pub until: Instant,
    /// Stops the peer early.
    pub cancel: CancellationToken,
}

impl Bounds {
    /// Bounds lasting `duration` from now.
    pub fn lasting(duration: Duration, cancel: CancellationToken) -> Self {
        Self {
            until: Instant::now() + duration,
            cancel,
        }
    }

    /// Whether the peer must stop.
    pub fn over(&self) -> bool {
        self.cancel.is_cancelled() || Instant::now() >= self.until
    }

    /// Resolves when the peer must stop.
    pub async fn ended(&self) {
        tokio::select! {
            _ = self.cancel.cancelled() => {}
            _ = tokio::time::sleep_until(self.until) => {}
        }
    }
}

/// What hostile peers did, counted, so a test or the soak can tell the hostility really happened.
#[derive(Debug, Default)]
pub struct HostileStats {
    /// Inquiries (probes, SADP inquiries, DHIP searches) a responder answered.
    pub inquiries: AtomicU64,
    /// Datagrams sent.
    pub datagrams: AtomicU64,
    /// HTTP connections served with poison.
    pub poisoned: AtomicU64,
    /// HTTP connections passed through to the real camera (a turncoat not yet turned).
    pub passed: AtomicU64,
}

impl HostileStats {
    /// Adds one to a counter.
    pub(crate) fn count(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// A counter's value.
    pub fn read(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

/// Keeps a sender at or under a rate, over its whole life: after a pause it may catch up by at most a
/// second's worth.
#[derive(Debug)]
pub(crate) struct Pacer {
    start: Instant,
    sent: u64,
    per_sec: u64,
}

impl Pacer {
    pub(crate) fn new(per_sec: u32) -> Self {
        Self {
            start: Instant::now(),
            sent: 0,
            per_sec: u64::from(per_sec.max(1)),
        }
    }

    /// Counts one datagram sent, waiting when the sender is ahead of its rate.
    pub(crate) async fn sent_one(&mut self) {
        self.sent += 1;
        let due = self.start + Duration::from_secs_f64(self.sent as f64 / self.per_sec as f64);
        let now = Instant::now();
        if due > now {
            tokio::time::sleep_until(due).await;
        } else if now.duration_since(due) > Duration::from_secs(1) {
            // Idle for a while: start counting again rather than bursting to catch up.
            self.start = now;
            self.sent = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_pacer_keeps_to_its_rate() {
        let mut pacer = Pacer::new(1000);
        let began = Instant::now();
        for _ in 0..200 {
            pacer.sent_one().await;
        }
        let took = began.elapsed();
        assert!(took >= Duration::from_millis(195), "{took:?}");
    }

    #[tokio::test]
    async fn bounds_end_at_their_deadline_or_when_cancelled() {
        let cancel = CancellationToken::new();
        let bounds = Bounds::lasting(Duration::from_millis(50), cancel.clone());
        assert!(!bounds.over());
        bounds.ended().await;
        assert!(bounds.over());
        let early = Bounds::lasting(Duration::from_secs(60), cancel.clone());
        cancel.cancel();
        assert!(early.over());
        early.ended().await;
    }
}
