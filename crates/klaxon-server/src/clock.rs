//! The production clock. This is the only place in Klaxon that reads the system clocks: clippy's
//! `disallowed-methods` (`clippy.toml` at the workspace root) rejects them everywhere else, and the
//! `allow`s below are the one exception.

use jiff::Timestamp;
use klaxon_core::clock::Clock;
use std::time::{Duration, Instant};

/// Wall time from the system clock; monotonic time from [`Instant`], measured from the moment the
/// clock was built.
#[derive(Clone, Copy, Debug)]
pub struct SystemClock {
    origin: Instant,
}

impl SystemClock {
    #[allow(clippy::disallowed_methods)] // The one place that reads the monotonic clock (see the module doc).
    pub fn new() -> Self {
        Self { origin: Instant::now() }
    }
}

impl Default for SystemClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)] // The one place that reads the wall clock (see the module doc).
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }

    #[allow(clippy::disallowed_methods)] // The one place that reads the monotonic clock (see the module doc).
    fn monotonic(&self) -> Duration {
        self.origin.elapsed()
    }
}
