//! The injectable clock: the only way Klaxon code learns the time.
//!
//! Production wires a system clock (in `klaxon-server`); tests wire [`ManualClock`] and advance it, so
//! escalation delays, timeouts, windows, rate limits and cache expiry run without sleeping. Clippy
//! enforces this (`clippy.toml` at the workspace root disallows the std, jiff and tokio clock reads).

use jiff::{SignedDuration, Timestamp};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Source of "now". Implementations must be cheap and thread-safe.
pub trait Clock: Send + Sync + 'static {
    /// Wall-clock time: what rules, timestamps and timers use.
    fn now(&self) -> Timestamp;

    /// Monotonic time since an arbitrary origin (fixed for the clock's lifetime): never goes backwards,
    /// even when the wall clock is stepped. For elapsed-time measures that protect the process (rate
    /// limits, cache lifetimes, latency metrics), not for business rules. Only differences between two
    /// readings of the same clock mean anything.
    fn monotonic(&self) -> Duration;
}

/// A clock that only moves when told to. Clones share the same instant.
///
/// Its monotonic reading starts at zero and moves forward with every forward step of the wall time; a
/// step backwards moves the wall time only (as a stepped system clock would).
#[derive(Clone, Debug)]
pub struct ManualClock {
    state: Arc<Mutex<ManualState>>,
}

#[derive(Debug)]
struct ManualState {
    now: Timestamp,
    monotonic: Duration,
}

impl ManualState {
    fn move_to(&mut self, to: Timestamp) {
        let forward = to.duration_since(self.now);
        if forward.is_positive() {
            let forward = Duration::try_from(forward).unwrap_or(Duration::MAX);
            self.monotonic = self.monotonic.saturating_add(forward);
        }
        self.now = to;
    }
}

impl ManualClock {
    pub fn new(start: Timestamp) -> Self {
        Self { state: Arc::new(Mutex::new(ManualState { now: start, monotonic: Duration::ZERO })) }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, ManualState> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Moves the clock forward (or backward, for a negative duration: the monotonic reading stays).
    pub fn advance(&self, by: SignedDuration) {
        let mut state = self.state();
        let to = state.now.saturating_add(by).unwrap_or(state.now);
        state.move_to(to);
    }

    /// Sets the wall time; the monotonic reading moves forward by the step if it is forward.
    pub fn set(&self, to: Timestamp) {
        self.state().move_to(to);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        self.state().now
    }

    fn monotonic(&self) -> Duration {
        self.state().monotonic
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_advanced() {
        let start = Timestamp::from_second(1_700_000_000).unwrap();
        let clock = ManualClock::new(start);
        assert_eq!(clock.now(), start);
        clock.advance(SignedDuration::from_hours(3));
        assert_eq!(clock.now(), start + SignedDuration::from_hours(3));
        let shared = clock.clone();
        shared.advance(SignedDuration::from_mins(1));
        assert_eq!(clock.now(), start + SignedDuration::from_mins(181));
    }

    #[test]
    fn manual_monotonic_time_moves_with_wall_time_and_never_back() {
        let start = Timestamp::from_second(1_700_000_000).unwrap();
        let clock = ManualClock::new(start);
        assert_eq!(clock.monotonic(), Duration::ZERO);
        clock.advance(SignedDuration::from_secs(90));
        assert_eq!(clock.monotonic(), Duration::from_secs(90));
        clock.advance(SignedDuration::from_secs(-30));
        assert_eq!(clock.now(), start + SignedDuration::from_secs(60));
        assert_eq!(clock.monotonic(), Duration::from_secs(90), "a step back leaves monotonic time alone");
        clock.set(start + SignedDuration::from_secs(70));
        assert_eq!(clock.monotonic(), Duration::from_secs(100));
        clock.set(start);
        assert_eq!(clock.monotonic(), Duration::from_secs(100));
    }
}
