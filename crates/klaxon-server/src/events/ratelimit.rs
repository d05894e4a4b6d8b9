//! Per-routing-key token buckets for the Events API.
//!
//! Each routing key has a bucket holding up to `per_minute` tokens that refills continuously at
//! `per_minute / 60` tokens a second; an event takes one token, and an empty bucket answers how many
//! seconds until the next token (the `Retry-After`). A limit of 0 means unlimited (the default: a
//! self-hosted pager should not throttle its own monitoring). Buckets live in memory, per node: with N
//! PostgreSQL nodes a key may send up to N× its limit. Buckets measure elapsed time on the injected clock's
//! monotonic reading (`Clock::monotonic`, passed in by the caller as `now`), not its wall time: they protect
//! the process, not a business rule, and a stepped wall clock must neither refill nor drain them. Tests
//! drive them with a `ManualClock`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

/// More keys than this and idle, full buckets are dropped (bounded memory under key floods).
const PRUNE_ABOVE: usize = 10_000;

struct Bucket {
    tokens: f64,
    /// Monotonic reading of the last refill.
    last: Duration,
    per_minute: u32,
}

#[derive(Default)]
pub struct RateLimiter {
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl RateLimiter {
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes a token for `key` under a limit of `per_minute` (0 = unlimited) at monotonic time `now`
    /// (`app.clock.monotonic()`). `Err(seconds)` when the bucket is empty: retry after that many seconds.
    pub fn check(&self, key: &str, per_minute: u32, now: Duration) -> Result<(), u64> {
        if per_minute == 0 {
            return Ok(());
        }
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() > PRUNE_ABOVE {
            buckets.retain(|_, b| {
                let refilled = b.tokens + now.saturating_sub(b.last).as_secs_f64() * f64::from(b.per_minute) / 60.0;
                refilled < f64::from(b.per_minute)
            });
        }
        let bucket =
            buckets.entry(key.to_string()).or_insert(Bucket { tokens: f64::from(per_minute), last: now, per_minute });
        let capacity = f64::from(per_minute);
        let rate = capacity / 60.0;
        let elapsed = now.saturating_sub(bucket.last).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * rate).min(capacity);
        bucket.last = bucket.last.max(now);
        bucket.per_minute = per_minute;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            let wait = ((1.0 - bucket.tokens) / rate).ceil().max(1.0);
            Err(wait as u64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: Duration = Duration::from_secs(1000);

    #[test]
    fn a_bucket_allows_its_limit_then_refuses() {
        let limiter = RateLimiter::new();
        assert!(limiter.check("k", 3, T0).is_ok());
        assert!(limiter.check("k", 3, T0).is_ok());
        assert!(limiter.check("k", 3, T0).is_ok());
        assert_eq!(limiter.check("k", 3, T0), Err(20), "3 a minute: one token every 20 s");
        assert!(limiter.check("other", 3, T0).is_ok(), "keys have separate buckets");
    }

    #[test]
    fn an_empty_bucket_refills_with_elapsed_time_and_says_how_long_to_wait() {
        let limiter = RateLimiter::new();
        for _ in 0..2 {
            assert!(limiter.check("k", 2, T0).is_ok());
        }
        assert_eq!(limiter.check("k", 2, T0), Err(30));
        let wait = limiter.check("k", 2, T0 + Duration::from_secs(20));
        assert!(matches!(wait, Err(10 | 11)), "two thirds of a token are back: {wait:?}");
        assert!(limiter.check("k", 2, T0 + Duration::from_secs(30)).is_ok(), "one token after 30 s");
        assert_eq!(limiter.check("k", 2, T0 + Duration::from_secs(30)), Err(30));
        // A long pause refills the bucket to its capacity, not beyond.
        let later = T0 + Duration::from_secs(3600);
        assert!(limiter.check("k", 2, later).is_ok());
        assert!(limiter.check("k", 2, later).is_ok());
        assert!(limiter.check("k", 2, later).is_err());
    }

    #[test]
    fn a_reading_older_than_the_last_one_refills_nothing() {
        let limiter = RateLimiter::new();
        assert!(limiter.check("k", 1, T0).is_ok());
        assert!(limiter.check("k", 1, T0 - Duration::from_secs(120)).is_err());
        assert!(limiter.check("k", 1, T0 + Duration::from_secs(59)).is_err(), "the bucket kept its last refill time");
        assert!(limiter.check("k", 1, T0 + Duration::from_secs(60)).is_ok());
    }

    #[test]
    fn zero_is_unlimited() {
        let limiter = RateLimiter::new();
        for _ in 0..1000 {
            assert!(limiter.check("k", 0, T0).is_ok());
        }
    }
}
