//! How often a thing may happen: at most `max` events in a sliding `window`, such as three recovery
//! codes in ten minutes. The caller asks before the event and records it after.

use std::time::{Duration, SystemTime};

/// At most `max` events in any `window`.
#[derive(Debug, Clone)]
pub struct RateWindow {
    /// Events allowed in a window.
    max: usize,
    /// How long an event counts.
    window: Duration,
    /// When the events still counting happened.
    events: Vec<SystemTime>,
}

impl RateWindow {
    /// A window of `max` events per `window`.
    pub const fn new(max: usize, window: Duration) -> Self {
        Self {
            max,
            window,
            events: Vec::new(),
        }
    }

    /// Whether another event may happen at `now`; when not, how long until the oldest event stops
    /// counting (`None` when that cannot be told, a clock gone backwards).
    pub fn check(&mut self, now: SystemTime) -> Result<(), Option<Duration>> {
        let window = self.window;
        self.events
            .retain(|at| now.duration_since(*at).is_ok_and(|ago| ago < window));
        if self.events.len() < self.max {
            return Ok(());
        }
        let oldest = self.events.iter().min().copied().unwrap_or(now);
        Err((oldest + window).duration_since(now).ok())
    }

    /// Counts an event at `now`.
    pub fn record(&mut self, now: SystemTime) {
        self.events.push(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_admits_max_events_then_says_when_the_next_fits() {
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let mut window = RateWindow::new(3, Duration::from_secs(600));
        for minute in 0..3 {
            let at = start + Duration::from_secs(60 * minute);
            assert_eq!(window.check(at), Ok(()));
            window.record(at);
        }
        let later = start + Duration::from_secs(180);
        assert_eq!(window.check(later), Err(Some(Duration::from_secs(420))));
        // The first event leaves the window after ten minutes.
        assert_eq!(window.check(start + Duration::from_secs(600)), Ok(()));
    }
}
