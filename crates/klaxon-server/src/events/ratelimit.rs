//! Per-routing-key token buckets for the Events API.
//!
//! Each routing key has a bucket holding up to `per_minute` tokens that refills continuously at
//! `per_minute / 60` tokens a second; an event takes one token, and an empty bucket answers how many
//! seconds until the next token (the `Retry-After`). A limit of 0 means unlimited (the default: a
//! self-hosted pager should not throttle its own monitoring). Buckets live in memory, per node: with N
//! PostgreSQL nodes a key may send up to N× its limit. Buckets measure real elapsed time (a monotonic
//! clock), not the injectable domain clock, because they protect the process, not a business rule.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

/// More keys than this and idle, full buckets are dropped (bounded memory under key floods).
const PRUNE_ABOVE: usize = 10_000;

struct Bucket {
    tokens: f64,
    last: Instant,
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

    /// Takes a token for `key` under a limit of `per_minute` (0 = unlimited). `Err(seconds)` when the
    /// bucket is empty: retry after that many seconds.
    pub fn check(&self, key: &str, per_minute: u32) -> Result<(), u64> {
        if per_minute == 0 {
            return Ok(());
        }
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() > PRUNE_ABOVE {
            buckets.retain(|_, b| {
                let refilled = b.tokens + now.duration_since(b.last).as_secs_f64() * f64::from(b.per_minute) / 60.0;
                refilled < f64::from(b.per_minute)
            });
        }
        let bucket =
            buckets.entry(key.to_string()).or_insert(Bucket { tokens: f64::from(per_minute), last: now, per_minute });
        let capacity = f64::from(per_minute);
        let rate = capacity / 60.0;
        let elapsed = now.duration_since(bucket.last).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * rate).min(capacity);
        bucket.last = now;
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

    #[test]
    fn a_bucket_allows_its_limit_then_refuses() {
        let limiter = RateLimiter::new();
        assert!(limiter.check("k", 3).is_ok());
        assert!(limiter.check("k", 3).is_ok());
        assert!(limiter.check("k", 3).is_ok());
        let wait = limiter.check("k", 3).unwrap_err();
        assert!((1..=20).contains(&wait), "{wait}");
        assert!(limiter.check("other", 3).is_ok(), "keys have separate buckets");
    }

    #[test]
    fn zero_is_unlimited() {
        let limiter = RateLimiter::new();
        for _ in 0..1000 {
            assert!(limiter.check("k", 0).is_ok());
        }
    }
}
