//! The production clock. This is the only place in Klaxon that reads the system time.

use jiff::Timestamp;
use klaxon_core::clock::Clock;

#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}
