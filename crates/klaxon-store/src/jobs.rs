//! Durable jobs (v2): timers and deliveries stored in the database, so a restart or a crash never drops one.
//!
//! A job row has a kind (`area.what`, e.g. `incident.ack_timeout`), a queue (each queue is claimed and run
//! with its own concurrency, so one slow queue never delays another), a JSON payload, a due time and an
//! explicit status:
//!
//! - live: `scheduled` (waits for `due_at`), `running` (leased to `lease_owner` until `lease_until`),
//!   `retrying` (an attempt did not finish it; due again at `due_at`);
//! - finished: `done`, `failed`, `cancelled`. Finished rows stay (with `finished_at` and `last_error`) until
//!   the runner's retention cleanup ([`Store::clean_up_jobs`]) deletes them.
//!
//! A job is live exactly while `finished_at` is NULL: every statement that finishes a job stamps it, and
//! queries test "live" that way (`queries::jobs::LIVE`), which is also the claim index's predicate.
//!
//! Optional keys:
//! - `unique_key` names a *live* job: scheduling a key that is live moves that job (new due time and
//!   payload, same id, attempts kept); finishing a job clears its key, so the key can be scheduled again.
//! - `ordering_key`: a live job is not claimed while an earlier live job (smaller `seq`) with the same
//!   ordering key exists, so deliveries to one target run one after the other, in order.
//! - `subject` (e.g. `incident:<id>`): `queries::jobs::cancel_subject` cancels every live job of a subject
//!   in one statement, inside the caller's transaction.
//!
//! Claiming takes a short lease and counts the attempt, and writes the attempt's row in `job_attempts`
//! (node, start) in the same committed transaction, before any handler runs; the end (outcome, error) is
//! filled when the attempt ends. A job whose worker died is claimed again once its lease expires, or at
//! once when a server starts and finds its owner gone ([`Store::release_gone_job_leases`]; its open
//! attempt is closed as `abandoned`), so handlers re-check state. A handler that applies its effect in a
//! transaction finishes the job in that same transaction with `queries::jobs::finish_in_tx`, which
//! succeeds only while its owner holds the lease.
//!
//! Wake-up: a job scheduled due now must start at once, not at the next poll. On PostgreSQL the scheduling
//! statement also issues `pg_notify('klaxon_jobs', <queue>)` in the caller's transaction, delivered at
//! commit to every node's listener ([`Store::listen_for_jobs`]), this node's included; this covers every
//! scheduling path, even a transaction the store's callers run themselves. On SQLite only this process
//! writes, so [`Store::schedule`] calls the wake-up hook the runner installed ([`Store::set_job_wakeup`])
//! after its commit; callers scheduling inside a transaction of their own call [`Store::wake_jobs`]
//! after committing (or the job waits for the runner's next poll). The hook is a plain callback so the
//! store stays unaware of the server.

use crate::{Result, Store, dispatch};
pub use klaxon_core::jobs::Resolution;
use std::sync::Arc;

/// The statuses of a job (see the module doc).
pub mod status {
    pub const SCHEDULED: &str = "scheduled";
    pub const RUNNING: &str = "running";
    pub const RETRYING: &str = "retrying";
    pub const DONE: &str = "done";
    pub const FAILED: &str = "failed";
    pub const CANCELLED: &str = "cancelled";
}

/// The queue of a job scheduled without one.
pub const DEFAULT_QUEUE: &str = "default";

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct JobRow {
    pub id: String,
    pub kind: String,
    pub queue: String,
    pub status: String,
    pub unique_key: Option<String>,
    pub ordering_key: Option<String>,
    pub subject: Option<String>,
    pub payload: String,
    pub due_at: i64,
    pub lease_owner: Option<String>,
    pub lease_until: Option<i64>,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub finished_at: Option<i64>,
}

/// One attempt of a job (`job_attempts`).
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct AttemptRow {
    pub job_id: String,
    pub attempt: i32,
    pub node: String,
    pub started_at: i64,
    pub ended_at: Option<i64>,
    /// `done`, `retry`, `failed`, `cancelled`, `lease_lost`, `abandoned`; `None` while it runs.
    pub outcome: Option<String>,
    pub error: Option<String>,
}

/// A job to schedule, untyped (the server's `NewJob<K>` builds one from a typed kind and payload).
#[derive(Clone, Debug, PartialEq)]
pub struct JobSpec {
    pub kind: String,
    pub queue: String,
    /// The payload, as JSON.
    pub payload: String,
    pub due_at: i64,
    pub unique_key: Option<String>,
    pub ordering_key: Option<String>,
    pub subject: Option<String>,
}

impl JobSpec {
    /// A job of `kind` in the default queue, due at `due_at`, with no keys.
    pub fn new(kind: &str, payload: &serde_json::Value, due_at: i64) -> JobSpec {
        JobSpec {
            kind: kind.to_string(),
            queue: DEFAULT_QUEUE.to_string(),
            payload: payload.to_string(),
            due_at,
            unique_key: None,
            ordering_key: None,
            subject: None,
        }
    }
}

/// Job kinds the incident timers and the handoff scan use, their queues and their subject.
pub mod kinds {
    /// An acknowledged incident returns to triggered when its service's acknowledgement timeout passes.
    pub const ACK_TIMEOUT: &str = "incident.ack_timeout";
    /// An open incident resolves when its service's auto-resolve timeout passes.
    pub const AUTO_RESOLVE: &str = "incident.auto_resolve";
    /// The escalation step: the incident moves on to the next level of its policy.
    pub const ESCALATE: &str = "incident.escalate";
    /// The queue of the incident timers (the escalation step included).
    pub const INCIDENT_TIMERS_QUEUE: &str = "incident_timers";

    /// The on-call handoff scan: records the handoff notification intents due soon, then schedules
    /// itself a minute later (one live job, under [`HANDOFF_SCAN_KEY`]).
    pub const HANDOFF_SCAN: &str = "oncall.handoff_scan";
    /// The unique key of the one live handoff scan.
    pub const HANDOFF_SCAN_KEY: &str = "oncall.handoff_scan";
    /// The handoff scan's own queue, so a slow scan never delays the incident timers.
    pub const HANDOFF_QUEUE: &str = "oncall_handoffs";

    /// The subject of every job about an incident.
    pub fn incident_subject(incident_id: &str) -> String {
        format!("incident:{incident_id}")
    }

    /// The queue a kind scheduled without one goes to: the timers' own queue, else the default queue.
    pub fn queue_of(kind: &str) -> &'static str {
        if kind == ACK_TIMEOUT || kind == AUTO_RESOLVE || kind == ESCALATE {
            INCIDENT_TIMERS_QUEUE
        } else if kind == HANDOFF_SCAN {
            HANDOFF_QUEUE
        } else {
            super::DEFAULT_QUEUE
        }
    }
}

/// A v1-style job: the kind's queue ([`kinds::queue_of`]) and, for a payload with an `incident_id`, the
/// subject `incident:<id>`.
pub fn legacy_spec(kind: &str, unique_key: Option<&str>, payload: &serde_json::Value, due_at: i64) -> JobSpec {
    JobSpec {
        queue: kinds::queue_of(kind).to_string(),
        unique_key: unique_key.map(str::to_string),
        subject: payload.get("incident_id").and_then(serde_json::Value::as_str).map(kinds::incident_subject),
        ..JobSpec::new(kind, payload, due_at)
    }
}

/// The callback a runner installs to hear that a job of a queue was committed, with its due time
/// (`i64::MIN` for "due now": wake at once): the runner wakes the queue's task if it would otherwise
/// look later.
pub type JobWakeup = Arc<dyn Fn(&str, i64) + Send + Sync>;

/// A PostgreSQL `LISTEN klaxon_jobs` connection: each notification names the queue of a job scheduled due
/// now, on any node. It holds one connection of the pool while it lives.
pub struct JobListener(sqlx::postgres::PgListener);

/// A job-runner node's presence ([`Store::join_job_nodes`]): on PostgreSQL the connection holding the
/// node's lock. Keep it while the node runs jobs; [`JobNode::leave`] (or dropping it) ends it.
pub struct JobNode(Option<sqlx::postgres::PgConnection>);

impl JobNode {
    /// Ends the presence at once (closes the connection, releasing its lock).
    pub async fn leave(self) {
        if let Some(connection) = self.0 {
            let _ = sqlx::Connection::close(connection).await;
        }
    }
}

/// The notification channel of job wake-ups on PostgreSQL.
pub const NOTIFY_CHANNEL: &str = "klaxon_jobs";

impl JobListener {
    /// Waits for the next notification and answers its queue. An error means the connection was lost
    /// (the listener reconnects on the next call; wake-ups sent meanwhile are lost, polling covers them).
    pub async fn recv(&mut self) -> Result<String> {
        Ok(self.0.recv().await?.payload().to_string())
    }
}

impl Store {
    /// Installs the wake-up hook (the server's job runner): called with the queue and due time after
    /// [`Store::schedule`] commits a job, and by [`Store::wake_jobs`] and [`Store::wake_jobs_at`].
    pub fn set_job_wakeup(&self, hook: JobWakeup) {
        *self.job_wakeup.write().unwrap_or_else(|p| p.into_inner()) = Some(hook);
    }

    /// Wakes this process's runner for `queue` (after committing a transaction that scheduled a job due
    /// now through `queries::jobs`). No-op without a hook.
    pub fn wake_jobs(&self, queue: &str) {
        self.call_job_wakeup(queue, i64::MIN);
    }

    /// Tells this process's runner that a job of `queue` due at `due_at` was committed at `now` (through
    /// `queries::jobs`, in a transaction of the caller's): a job due by `now` wakes the queue's task at
    /// once (as [`Store::wake_jobs`]: whatever instant it meant to look at, which a clock that jumped
    /// may have passed); a later one wakes it if it sleeps past `due_at`, to sleep until then instead.
    /// No-op without a hook.
    pub fn wake_jobs_at(&self, queue: &str, due_at_ms: i64, now_ms: i64) {
        self.call_job_wakeup(queue, if due_at_ms <= now_ms { i64::MIN } else { due_at_ms });
    }

    fn call_job_wakeup(&self, queue: &str, due_at_ms: i64) {
        let hook = self.job_wakeup.read().unwrap_or_else(|p| p.into_inner()).clone();
        if let Some(hook) = hook {
            hook(queue, due_at_ms);
        }
    }

    /// On PostgreSQL, a listener for job wake-ups from every node; `None` on SQLite (one process).
    pub async fn listen_for_jobs(&self) -> Result<Option<JobListener>> {
        match &*self.backend {
            crate::Backend::Sqlite(_) => Ok(None),
            crate::Backend::Postgres(p) => {
                let mut listener = sqlx::postgres::PgListener::connect_with(&p.write).await?;
                listener.listen(NOTIFY_CHANNEL).await?;
                Ok(Some(JobListener(listener)))
            }
        }
    }

    /// Schedules a job in a transaction of its own and answers its id. With a `unique_key` that is live,
    /// moves that job instead (same id, attempts kept). Tells the runner its due time after the commit
    /// ([`Store::wake_jobs_at`]), so it starts at once when due now and on time when due soon.
    pub async fn schedule(&self, job: &JobSpec, now_ms: i64) -> Result<String> {
        let id = dispatch!(self, p => async {
            let mut tx = crate::queries_begin_write!(p)?;
            let id = q::jobs::insert(&mut tx, job, now_ms).await?;
            tx.commit().await?;
            Ok::<String, crate::StoreError>(id)
        })?;
        self.wake_jobs_at(&job.queue, job.due_at, now_ms);
        Ok(id)
    }

    /// Schedules (or moves) a job the v1 way: the kind's queue ([`kinds::queue_of`]) and, for a payload
    /// with an `incident_id`, the subject `incident:<id>`.
    pub async fn schedule_job(
        &self,
        kind: &str,
        unique_key: Option<&str>,
        payload: &serde_json::Value,
        due_at_ms: i64,
        now_ms: i64,
    ) -> Result<()> {
        self.schedule(&legacy_spec(kind, unique_key, payload, due_at_ms), now_ms).await?;
        Ok(())
    }

    /// Live jobs (scheduled, running, retrying), soonest first.
    pub async fn pending_jobs(&self) -> Result<Vec<JobRow>> {
        dispatch!(self, p => q::jobs::pending(p))
    }

    /// Claims up to `limit` due jobs of `queue` (live, `due_at <= now`, no live lease, no earlier live job
    /// of the same ordering key), soonest first: each becomes `running`, leased to `owner` until
    /// `now + lease_ms`, its attempt counted and its attempt row written, in one write transaction. On
    /// PostgreSQL concurrent claimers skip each other's rows (`FOR UPDATE SKIP LOCKED`).
    pub async fn claim_due_jobs(
        &self,
        queue: &str,
        owner: &str,
        now_ms: i64,
        lease_ms: i64,
        limit: i64,
    ) -> Result<Vec<JobRow>> {
        dispatch!(self, p => q::jobs::claim_due(p, queue, owner, now_ms, lease_ms, limit))
    }

    /// Whether any job of `queue` is due and unleased at `now` (a read: idle polls never take the write
    /// lock; the ordering-key rule is left to the claim).
    pub async fn any_job_due(&self, queue: &str, now_ms: i64) -> Result<bool> {
        dispatch!(self, p => q::jobs::any_due(p, queue, now_ms))
    }

    /// When the next job of `queue` comes due: the earliest due time after `now` of its live jobs (the
    /// runner's queue task sleeps until then, see the server's `jobs.rs`).
    pub async fn next_job_due(&self, queue: &str, now_ms: i64) -> Result<Option<i64>> {
        dispatch!(self, p => q::jobs::next_due_after(p, queue, now_ms))
    }

    /// Extends `owner`'s lease on a running job to `until`; false when the lease is no longer `owner`'s
    /// (the job was finished, moved, cancelled, or claimed by another node).
    pub async fn renew_job_lease(&self, id: &str, owner: &str, until_ms: i64) -> Result<bool> {
        dispatch!(self, p => q::jobs::renew_lease(p, id, owner, until_ms))
    }

    /// Records the end of attempt `attempt` of a job run by `owner`: the job takes `resolution` if `owner`
    /// still holds its lease (answered), and the attempt row gets its end either way (`lease_lost` when
    /// the lease was gone) unless it was already closed (by the handler's own `finish_in_tx`, or as
    /// abandoned by a later claim).
    pub async fn finish_job(
        &self,
        id: &str,
        owner: &str,
        attempt: i32,
        resolution: &Resolution,
        now_ms: i64,
    ) -> Result<bool> {
        dispatch!(self, p => q::jobs::finish(p, id, owner, attempt, resolution, now_ms))
    }

    /// Finishes a job as done while `owner` holds its lease (see [`Store::finish_job`]).
    pub async fn complete_job(&self, id: &str, owner: &str, attempt: i32, now_ms: i64) -> Result<bool> {
        self.finish_job(id, owner, attempt, &Resolution::Done, now_ms).await
    }

    /// Cancels the live job with this `unique_key`, if any (status `cancelled`, key released).
    pub async fn cancel_job(&self, unique_key: &str, now_ms: i64) -> Result<u64> {
        dispatch!(self, p => async {
            let mut tx = crate::queries_begin_write!(p)?;
            let n = q::jobs::cancel_at(&mut tx, unique_key, now_ms).await?;
            tx.commit().await?;
            Ok(n)
        })
    }

    /// Cancels every live job of `subject` in one statement; answers how many.
    pub async fn cancel_subject(&self, subject: &str, now_ms: i64) -> Result<u64> {
        dispatch!(self, p => async {
            let mut tx = crate::queries_begin_write!(p)?;
            let n = q::jobs::cancel_subject_at(&mut tx, subject, now_ms).await?;
            tx.commit().await?;
            Ok(n)
        })
    }

    /// Marks this node (`node`, its lease-owner id) alive for as long as the answer is kept: on
    /// PostgreSQL a session advisory lock on a connection of its own, which a node starting later reads
    /// ([`Store::release_gone_job_leases`]); the process dying releases it. Nothing on SQLite.
    pub async fn join_job_nodes(&self, node: &str) -> Result<JobNode> {
        match &*self.backend {
            crate::Backend::Sqlite(_) => Ok(JobNode(None)),
            crate::Backend::Postgres(p) => Ok(JobNode(Some(crate::postgres::hold_node_lock(p, node).await?))),
        }
    }

    /// Releases every `running` lease whose owner is gone, except `own_owner`'s (the starting runner
    /// itself): the jobs are due again at once (status `retrying`) and their open attempts are closed as
    /// `abandoned`; answers how many. For a server at start, so that a job a killed process held runs at
    /// once instead of after its lease. Gone means: on SQLite, any other owner (one process owns a SQLite
    /// data directory, so every lease found at start was held by a process that is gone); on PostgreSQL,
    /// an owner whose node lock ([`Store::join_job_nodes`]) no session holds. Leases of live nodes are
    /// kept (they expire if their node dies later).
    pub async fn release_gone_job_leases(&self, own_owner: &str, now_ms: i64) -> Result<u64> {
        dispatch!(self, p => q::jobs::release_gone_leases(p, own_owner, now_ms))
    }

    /// Retention: deletes finished jobs that finished before `finished_before`, and attempts that started
    /// before `attempts_before`; answers (jobs, attempts) deleted.
    pub async fn clean_up_jobs(&self, finished_before_ms: i64, attempts_before_ms: i64) -> Result<(u64, u64)> {
        dispatch!(self, p => q::jobs::clean_up(p, finished_before_ms, attempts_before_ms))
    }

    /// The attempts of a job, first first.
    pub async fn job_attempts(&self, job_id: &str) -> Result<Vec<AttemptRow>> {
        dispatch!(self, p => q::jobs::attempts(p, job_id))
    }

    /// The live job with this `unique_key`, if any.
    pub async fn job_by_key(&self, unique_key: &str) -> Result<Option<JobRow>> {
        dispatch!(self, p => q::jobs::by_key(p, unique_key))
    }

    /// A job by id, live or finished (until the retention cleanup deletes it).
    pub async fn job_by_id(&self, id: &str) -> Result<Option<JobRow>> {
        dispatch!(self, p => q::jobs::by_id(p, id))
    }

    /// Every job of a subject, live or finished, oldest first.
    pub async fn jobs_of_subject(&self, subject: &str) -> Result<Vec<JobRow>> {
        dispatch!(self, p => q::jobs::of_subject(p, subject))
    }
}
