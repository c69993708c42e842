//! Wall-clock time for every expiry, lockout and timestamp decision, behind one small trait so tests can
//! run a simulated clock and get exact answers instead of sleeping.
//!
//! Scheduling (poll periods, backoff, probe windows) uses tokio's timer, which tests pause and advance on
//! their own; this trait is only for "what time is it now" in the UTC sense that ends up in records.

use std::fmt::Debug;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A source of the current UTC time.
pub trait Clock: Send + Sync + Debug + 'static {
    /// The current time.
    fn now(&self) -> SystemTime;

    /// The current time as whole seconds since the Unix epoch (negative before 1970).
    fn unix_secs(&self) -> i64 {
        unix_secs(self.now())
    }
}

/// The operating system's clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// A clock that only moves when told to. Starts at the time it is created with.
#[derive(Debug)]
pub struct SimulatedClock {
    /// Why a mutex: tests advance it from one task while the code under test reads it from others.
    now: Mutex<SystemTime>,
}

impl SimulatedClock {
    /// A clock standing still at `start`.
    pub fn new(start: SystemTime) -> Self {
        Self {
            now: Mutex::new(start),
        }
    }

    /// A clock standing still at the current system time.
    pub fn starting_now() -> Self {
        Self::new(SystemTime::now())
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        let mut now = self.now.lock().unwrap_or_else(|e| e.into_inner());
        *now += by;
    }

    /// Sets the clock to `to`, forwards or backwards.
    pub fn set(&self, to: SystemTime) {
        *self.now.lock().unwrap_or_else(|e| e.into_inner()) = to;
    }
}

impl Clock for SimulatedClock {
    fn now(&self) -> SystemTime {
        *self.now.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Seconds since the Unix epoch, negative for times before it.
pub fn unix_secs(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_secs()).unwrap_or(i64::MAX),
    }
}

/// The inverse of [`unix_secs`].
pub fn from_unix_secs(secs: i64) -> SystemTime {
    if secs >= 0 {
        UNIX_EPOCH + Duration::from_secs(secs.unsigned_abs())
    } else {
        UNIX_EPOCH - Duration::from_secs(secs.unsigned_abs())
    }
}

/// Formats a time as RFC 3339 UTC with whole seconds, e.g. `2026-11-23T20:40:00Z`.
pub fn rfc3339(t: SystemTime) -> String {
    let secs = unix_secs(t);
    time::OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|dt| {
            dt.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| secs.to_string())
}

/// Parses an RFC 3339 / xs:dateTime timestamp such as `2026-11-23T20:40:00Z` or `...00.123+01:00`.
pub fn parse_rfc3339(text: &str) -> Option<SystemTime> {
    let dt =
        time::OffsetDateTime::parse(text.trim(), &time::format_description::well_known::Rfc3339)
            .ok()?;
    let nanos = dt.unix_timestamp_nanos();
    let secs = i64::try_from(nanos.div_euclid(1_000_000_000)).ok()?;
    let sub = u32::try_from(nanos.rem_euclid(1_000_000_000)).ok()?;
    Some(from_unix_secs(secs) + Duration::from_nanos(u64::from(sub)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simulated_clock_moves_only_when_told() {
        let start = from_unix_secs(1_700_000_000);
        let clock = SimulatedClock::new(start);
        assert_eq!(clock.now(), start);
        clock.advance(Duration::from_secs(90));
        assert_eq!(clock.unix_secs(), 1_700_000_090);
        clock.set(from_unix_secs(5));
        assert_eq!(clock.unix_secs(), 5);
    }

    #[test]
    fn rfc3339_round_trips_and_accepts_fractions_and_offsets() {
        let t = from_unix_secs(1_795_000_000);
        let text = rfc3339(t);
        assert_eq!(text, "2026-11-18T11:06:40Z");
        assert_eq!(parse_rfc3339(&text), Some(t));
        let with_fraction = parse_rfc3339("2026-11-18T11:06:40.500Z").map(unix_secs);
        assert_eq!(with_fraction, Some(1_795_000_000));
        let with_offset = parse_rfc3339("2026-11-18T12:06:40+01:00").map(unix_secs);
        assert_eq!(with_offset, Some(1_795_000_000));
        assert_eq!(parse_rfc3339("yesterday"), None);
    }

    #[test]
    fn unix_secs_handles_times_before_the_epoch() {
        assert_eq!(unix_secs(from_unix_secs(-30)), -30);
    }
}
