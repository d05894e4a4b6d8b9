//! The pure rules of durable jobs: what a handler may answer, a job kind's retry policy as data, and
//! when (or whether) a job that did not finish runs again.
//!
//! No I/O and no clock: `now`, the job's age and the jitter sample are parameters, so the whole retry
//! schedule is tested without time passing. The runner (`klaxon-server/src/jobs.rs`) draws the jitter
//! sample and reads the clock; the store (`klaxon-store/src/jobs.rs`) records the [`Resolution`].

use serde::{Deserialize, Serialize};

/// What a job handler answers after one attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JobOutcome {
    /// The work is done; the job finishes as `done`.
    Done,
    /// Try again. `at` is a `Retry-After` the handler learned (e.g. from a 429 or 503), as an instant in
    /// Unix milliseconds; `None` follows the kind's schedule. The policy decides the actual time, and
    /// may fail the job for good instead (too many attempts, too old).
    Retry { at: Option<i64>, reason: String },
    /// Failed for good (e.g. a 4xx that retrying cannot fix); the job finishes as `failed`.
    Failed(String),
    /// Nothing left to do (e.g. the incident it was for is resolved); the job finishes as `cancelled`.
    Cancelled(String),
}

/// How one job kind retries. Data, not code: a kind returns one from `JobKind::retry_policy`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RetryPolicy {
    /// Delay before each retry, in milliseconds: `delays_ms[0]` after the first failed attempt, and so
    /// on. Its length is the number of retries, so a job runs at most `delays_ms.len() + 1` times.
    pub delays_ms: Vec<i64>,
    /// Relative jitter: each delay is scaled by a factor in `[1 - jitter, 1 + jitter]` (0 for none).
    pub jitter: f64,
    /// A job older than this (counted from when it was scheduled) is not retried any more.
    pub max_age_ms: Option<i64>,
    /// Whether a `Retry-After` the handler reports is honoured (never earlier than the schedule says).
    pub honour_retry_after: bool,
    /// A reported `Retry-After` further away than this is capped to it.
    pub max_retry_after_ms: i64,
}

impl Default for RetryPolicy {
    /// 10 s, 30 s, 2 min, 10 min, then every 30 min: ten attempts in about three hours, ±20% jitter.
    fn default() -> Self {
        const MIN: i64 = 60_000;
        RetryPolicy {
            delays_ms: vec![10_000, 30_000, 2 * MIN, 10 * MIN, 30 * MIN, 30 * MIN, 30 * MIN, 30 * MIN, 30 * MIN],
            jitter: 0.2,
            max_age_ms: None,
            honour_retry_after: true,
            max_retry_after_ms: 60 * MIN,
        }
    }
}

impl RetryPolicy {
    /// The most attempts a job of this policy gets.
    pub fn max_attempts(&self) -> usize {
        self.delays_ms.len() + 1
    }
}

/// Why a job is not retried.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GiveUp {
    /// Every retry of the schedule has been used.
    MaxAttempts { attempts: i64 },
    /// The next attempt would come after the job's maximum age.
    MaxAge { age_ms: i64, max_age_ms: i64 },
}

impl std::fmt::Display for GiveUp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GiveUp::MaxAttempts { attempts } => write!(f, "gave up after {attempts} attempts"),
            GiveUp::MaxAge { age_ms, max_age_ms } => {
                write!(f, "gave up: the job would be {age_ms} ms old, past its maximum age of {max_age_ms} ms")
            }
        }
    }
}

/// When the next attempt of a job that did not finish runs.
///
/// - `attempts`: attempts made so far, the one that just ended included (1 after the first);
/// - `jitter_sample`: a number in `[0, 1)` (the caller draws it; 0.5 means no jitter);
/// - `retry_after`: an instant the handler reported (`Retry-After`), if any;
/// - `age_ms`: how long ago the job was scheduled; `now`: the current instant.
///
/// Past the schedule or past the maximum age the answer is [`GiveUp`].
pub fn next_attempt_at(
    policy: &RetryPolicy,
    attempts: i64,
    jitter_sample: f64,
    retry_after: Option<i64>,
    age_ms: i64,
    now: i64,
) -> Result<i64, GiveUp> {
    let index = usize::try_from(attempts.max(1) - 1).unwrap_or(usize::MAX);
    let Some(&delay) = policy.delays_ms.get(index) else {
        return Err(GiveUp::MaxAttempts { attempts });
    };
    let jitter = policy.jitter.clamp(0.0, 1.0);
    let sample = if jitter_sample.is_finite() { jitter_sample.clamp(0.0, 1.0) } else { 0.5 };
    let factor = 1.0 + jitter * (2.0 * sample - 1.0);
    // Delays are far below 2^53 ms, so the float round trip is exact enough; `as` saturates.
    let jittered = (delay.max(0) as f64 * factor).round() as i64;
    let mut at = now.saturating_add(jittered.max(0));
    if policy.honour_retry_after
        && let Some(reported) = retry_after
    {
        let capped = reported.min(now.saturating_add(policy.max_retry_after_ms.max(0)));
        at = at.max(capped);
    }
    if let Some(max_age_ms) = policy.max_age_ms {
        let age_then = age_ms.saturating_add(at - now);
        if age_then > max_age_ms {
            return Err(GiveUp::MaxAge { age_ms: age_then, max_age_ms });
        }
    }
    Ok(at)
}

/// What becomes of a job after an attempt: the runner's decision, which the store records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Resolution {
    Done,
    /// Due again at `at` (status `retrying`), with the error that caused it.
    RetryAt {
        at: i64,
        error: String,
    },
    Failed(String),
    Cancelled(String),
}

/// Turns a handler's answer into what happens to the job under `policy` (see [`next_attempt_at`]).
/// A handler error is passed as `JobOutcome::Retry { at: None, .. }`.
pub fn resolve(
    outcome: JobOutcome,
    policy: &RetryPolicy,
    attempts: i64,
    jitter_sample: f64,
    age_ms: i64,
    now: i64,
) -> Resolution {
    match outcome {
        JobOutcome::Done => Resolution::Done,
        JobOutcome::Failed(reason) => Resolution::Failed(reason),
        JobOutcome::Cancelled(reason) => Resolution::Cancelled(reason),
        JobOutcome::Retry { at, reason } => match next_attempt_at(policy, attempts, jitter_sample, at, age_ms, now) {
            Ok(at) => Resolution::RetryAt { at, error: reason },
            Err(give_up) => Resolution::Failed(format!("{reason} ({give_up})")),
        },
    }
}

/// How long (milliseconds of real time) an idle queue task sleeps before it looks for due jobs again:
/// until `next_due`, the earliest due time of the queue's live jobs not yet due at `now` (clock
/// milliseconds), but never longer than `poll_ms`, so jobs other nodes schedule and leases that expire
/// are still noticed. With `clock_runs` false (the clock did not follow the last timed sleep, see
/// [`clock_followed`]: a manual clock in tests) it is `poll_ms`, so a clock that stands still never
/// makes the task spin on a due time it will not reach by sleeping.
pub fn idle_sleep_ms(now: i64, next_due: Option<i64>, poll_ms: i64, clock_runs: bool) -> i64 {
    let poll_ms = poll_ms.max(1);
    match next_due {
        Some(due) if clock_runs => due.saturating_sub(now).clamp(1, poll_ms),
        _ => poll_ms,
    }
}

/// Whether the clock followed a sleep of `slept` real time: its monotonic reading moved forward by at
/// least half of it. A system clock's monotonic reading is the one the timers sleep on, so it always
/// does; a manual clock nobody advanced meanwhile does not.
pub fn clock_followed(slept: std::time::Duration, monotonic_moved: std::time::Duration) -> bool {
    monotonic_moved.saturating_mul(2) >= slept
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_000_000_000;
    const NO_JITTER: f64 = 0.5;

    fn policy(delays: &[i64]) -> RetryPolicy {
        RetryPolicy { delays_ms: delays.to_vec(), jitter: 0.0, ..RetryPolicy::default() }
    }

    #[test]
    fn each_retry_waits_the_delay_of_its_place_in_the_schedule() {
        let p = policy(&[1_000, 5_000, 60_000]);
        assert_eq!(next_attempt_at(&p, 1, NO_JITTER, None, 0, NOW), Ok(NOW + 1_000));
        assert_eq!(next_attempt_at(&p, 2, NO_JITTER, None, 0, NOW), Ok(NOW + 5_000));
        assert_eq!(next_attempt_at(&p, 3, NO_JITTER, None, 0, NOW), Ok(NOW + 60_000));
    }

    #[test]
    fn past_the_schedule_the_job_gives_up() {
        let p = policy(&[1_000, 5_000]);
        assert_eq!(p.max_attempts(), 3);
        assert_eq!(next_attempt_at(&p, 3, NO_JITTER, None, 0, NOW), Err(GiveUp::MaxAttempts { attempts: 3 }));
        assert_eq!(next_attempt_at(&policy(&[]), 1, NO_JITTER, None, 0, NOW), Err(GiveUp::MaxAttempts { attempts: 1 }));
    }

    #[test]
    fn jitter_scales_the_delay_within_its_bounds() {
        let p = RetryPolicy { jitter: 0.2, ..policy(&[10_000]) };
        assert_eq!(next_attempt_at(&p, 1, 0.0, None, 0, NOW), Ok(NOW + 8_000));
        assert_eq!(next_attempt_at(&p, 1, 0.5, None, 0, NOW), Ok(NOW + 10_000));
        assert_eq!(next_attempt_at(&p, 1, 1.0, None, 0, NOW), Ok(NOW + 12_000));
        // Out-of-range samples are clamped, never stretch the bounds.
        assert_eq!(next_attempt_at(&p, 1, 7.0, None, 0, NOW), Ok(NOW + 12_000));
        assert_eq!(next_attempt_at(&p, 1, f64::NAN, None, 0, NOW), Ok(NOW + 10_000));
    }

    #[test]
    fn a_later_retry_after_is_honoured() {
        let p = policy(&[1_000]);
        assert_eq!(next_attempt_at(&p, 1, NO_JITTER, Some(NOW + 30_000), 0, NOW), Ok(NOW + 30_000));
    }

    #[test]
    fn a_retry_after_never_brings_the_retry_earlier_than_the_schedule() {
        let p = policy(&[60_000]);
        assert_eq!(next_attempt_at(&p, 1, NO_JITTER, Some(NOW + 1_000), 0, NOW), Ok(NOW + 60_000));
    }

    #[test]
    fn a_retry_after_past_the_cap_is_capped() {
        let p = RetryPolicy { max_retry_after_ms: 120_000, ..policy(&[1_000]) };
        assert_eq!(next_attempt_at(&p, 1, NO_JITTER, Some(NOW + 86_400_000), 0, NOW), Ok(NOW + 120_000));
    }

    #[test]
    fn a_retry_after_is_ignored_when_the_policy_does_not_honour_it() {
        let p = RetryPolicy { honour_retry_after: false, ..policy(&[1_000]) };
        assert_eq!(next_attempt_at(&p, 1, NO_JITTER, Some(NOW + 30_000), 0, NOW), Ok(NOW + 1_000));
    }

    #[test]
    fn a_retry_that_would_come_after_the_maximum_age_gives_up() {
        let p = RetryPolicy { max_age_ms: Some(100_000), ..policy(&[10_000]) };
        assert_eq!(next_attempt_at(&p, 1, NO_JITTER, None, 90_000, NOW), Ok(NOW + 10_000));
        assert_eq!(
            next_attempt_at(&p, 1, NO_JITTER, None, 90_001, NOW),
            Err(GiveUp::MaxAge { age_ms: 100_001, max_age_ms: 100_000 })
        );
    }

    #[test]
    fn the_default_policy_gives_ten_attempts() {
        assert_eq!(RetryPolicy::default().max_attempts(), 10);
    }

    #[test]
    fn done_failed_and_cancelled_are_final_whatever_the_policy() {
        let p = policy(&[1_000]);
        assert_eq!(resolve(JobOutcome::Done, &p, 1, NO_JITTER, 0, NOW), Resolution::Done);
        assert_eq!(resolve(JobOutcome::Failed("no".into()), &p, 1, NO_JITTER, 0, NOW), Resolution::Failed("no".into()));
        assert_eq!(
            resolve(JobOutcome::Cancelled("moot".into()), &p, 1, NO_JITTER, 0, NOW),
            Resolution::Cancelled("moot".into())
        );
    }

    #[test]
    fn a_retry_becomes_a_retry_at_its_time_or_a_failure_with_the_reason() {
        let p = policy(&[1_000]);
        let retry =
            |attempts| resolve(JobOutcome::Retry { at: None, reason: "503".into() }, &p, attempts, NO_JITTER, 0, NOW);
        assert_eq!(retry(1), Resolution::RetryAt { at: NOW + 1_000, error: "503".into() });
        assert_eq!(retry(2), Resolution::Failed("503 (gave up after 2 attempts)".into()));
    }

    #[test]
    fn a_retry_carries_the_handlers_retry_after_into_the_decision() {
        let p = policy(&[1_000]);
        let outcome = JobOutcome::Retry { at: Some(NOW + 90_000), reason: "429".into() };
        assert_eq!(
            resolve(outcome, &p, 1, NO_JITTER, 0, NOW),
            Resolution::RetryAt { at: NOW + 90_000, error: "429".into() }
        );
    }

    #[test]
    fn an_idle_queue_sleeps_until_its_next_due_job() {
        assert_eq!(idle_sleep_ms(10_000, Some(10_300), 1_000, true), 300);
    }

    #[test]
    fn an_idle_queue_sleeps_at_most_the_poll_interval() {
        assert_eq!(idle_sleep_ms(10_000, Some(70_000), 1_000, true), 1_000);
        assert_eq!(idle_sleep_ms(10_000, None, 1_000, true), 1_000);
    }

    #[test]
    fn an_idle_queue_sleeps_at_least_a_millisecond() {
        // The next due time is after `now` by definition; a past one (clock skew between reads) must not
        // become a zero sleep, which would spin.
        assert_eq!(idle_sleep_ms(10_000, Some(10_000), 1_000, true), 1);
        assert_eq!(idle_sleep_ms(10_000, Some(9_000), 1_000, true), 1);
    }

    #[test]
    fn a_clock_that_does_not_run_makes_the_queue_poll() {
        assert_eq!(idle_sleep_ms(10_000, Some(10_001), 1_000, false), 1_000);
    }

    #[test]
    fn a_clock_follows_a_sleep_when_it_moved_at_least_half_of_it() {
        use std::time::Duration;
        let ms = Duration::from_millis;
        assert!(clock_followed(ms(300), ms(301)));
        assert!(clock_followed(ms(1), ms(1)));
        assert!(clock_followed(ms(300), ms(3_600_000)), "a manual clock advanced meanwhile");
        assert!(!clock_followed(ms(300), Duration::ZERO), "a manual clock nobody advanced");
        assert!(!clock_followed(ms(300), ms(149)));
    }
}
