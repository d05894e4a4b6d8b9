//! The durable job runner (jobs v2): typed job kinds, queues with their own concurrency, retries by each
//! kind's policy, short leases renewed while a handler runs, and wake-ups so a job due now starts at once.
//!
//! - **Kinds.** A kind is a type implementing [`JobKind`]: its name, its queue, its typed payload and its
//!   [`RetryPolicy`] (data: a schedule of delays, jitter, a maximum age, whether a `Retry-After` is
//!   honoured; the pure rule is `klaxon_core::jobs`). [`JobRunner::register_kind`] registers a handler
//!   taking `(App, Job<Payload>)` and answering a [`JobOutcome`] (done, retry, failed, cancelled); a
//!   handler error (or panic, or running past [`HANDLER_TIMEOUT`]) counts as a retry, and past the
//!   policy's attempts or age the job fails for good (kept as `failed` with its error, logged at error
//!   level, never silently dropped). A job of a kind this node does not know is retried the same way (a
//!   newer node may know it). [`NewJob`] builds a typed job to [`schedule`]. The untyped
//!   [`JobRunner::register`] remains for handlers working on the raw row.
//! - **Queues.** Each kind belongs to a queue (`default` unless it says otherwise). Each queue is claimed
//!   and run by a task of its own with its own concurrency limit ([`JobRunner::set_queue_concurrency`]),
//!   so a slow or failing queue never delays another. A node runs the `default` queue and the queues of
//!   the kinds it registered.
//! - **Leases.** A claimed job is `running`, leased to this node for [`LEASE_MS`] of clock time; while its
//!   handler runs, the lease is renewed every [`RENEW_EVERY`]. A node that dies leaves its leases to
//!   expire, and another node runs the job within `LEASE_MS` plus a poll. A server starting releases at
//!   once the leases of processes that are gone (`Store::release_gone_job_leases`), so a job a killed
//!   server held runs as soon as it is restarted: on SQLite every `running` lease (a SQLite database
//!   belongs to one server process, so any lease found at start belonged to a process that is gone); on
//!   PostgreSQL the leases of nodes that hold no node lock, a session advisory lock each node's worker
//!   takes first and keeps while it runs (`Store::join_job_nodes`). Live nodes' leases are kept. A node
//!   whose lock connection was lost looks gone to a node starting meanwhile, which then takes its leases
//!   over: its handlers lose their lease (and a `finish_in_tx` effect is not applied twice).
//! - **Attempts.** The claim writes each attempt's row (node, start) before the handler runs; its end is
//!   written when the attempt ends (`Store::job_attempts` lists them). Handlers that complete their job in
//!   the transaction of their effect (`queries::jobs::finish_in_tx`, as the timers do) leave nothing for
//!   the runner to record: its own finish then finds the lease released and writes nothing.
//! - **Precise timers.** After running what is due, each queue task asks the store when the queue's next
//!   live job comes due (`Store::next_job_due`, one read on the claim index) and sleeps until then, but
//!   never longer than [`POLL_INTERVAL`], so jobs other nodes schedule and leases that expire are still
//!   noticed; a job due in 300 ms starts within a few milliseconds of its due time. Sleep lengths are
//!   the clock's wall time against `due_at`; when the clock did not follow the last timed sleep (a
//!   `ManualClock` nobody advanced), the task polls every [`POLL_INTERVAL`] instead of spinning on a due
//!   time it cannot reach (rules: `klaxon_core::jobs::idle_sleep_ms`, `clock_followed`).
//! - **Wake-up.** The runner owns a `tokio::sync::Notify` per queue, with the clock instant by which the
//!   queue's task will look anyway. The store calls the hook the runner installs in it
//!   ([`JobRunner::wakeup_hook`], installed by `App::build`) after committing a job, with its queue and
//!   due time (the store stays unaware of the server: it only holds a callback); the task wakes when the
//!   job is due before it would look, so a job due now starts at once and one scheduled on this node
//!   sooner than the task's sleep still starts on time. On PostgreSQL the worker also listens on
//!   `klaxon_jobs` (`Store::listen_for_jobs`, a `PgListener`), which the scheduling transaction notifies
//!   at commit for a job due now, so such a job scheduled on any node wakes every node; a future job
//!   another node scheduled is found by the next look (within [`POLL_INTERVAL`]), then run on time.
//! - **Retention.** Finished jobs and attempts are deleted after [`JobRunner::set_retention`]'s times
//!   (the worker runs [`clean_up`] every [`CLEANUP_EVERY`]).
//! - [`run_due`] claims and runs everything due once, without sleeping: tests call it after advancing a
//!   `ManualClock`. Runs of one owner and queue are serialized, so a test's `run_due` returns only after a
//!   background run in flight has finished. All instants come from `app.clock`.

use crate::state::App;
use klaxon_core::jobs::{JobOutcome, Resolution, RetryPolicy, resolve};
use klaxon_store::jobs::{DEFAULT_QUEUE, JobRow, JobSpec};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use tokio::sync::Notify;

/// How long a claimed job is ours (clock time) unless renewed.
pub const LEASE_MS: i64 = 10_000;
/// How often (real time) the lease of a running handler is renewed.
pub const RENEW_EVERY: Duration = Duration::from_secs(3);
/// Real time a handler may run before it counts as failed.
pub const HANDLER_TIMEOUT: Duration = Duration::from_secs(60);
/// How often each queue task looks for due jobs when nothing woke it.
pub const POLL_INTERVAL: Duration = Duration::from_secs(1);
/// How often the worker deletes finished jobs and attempts past their retention.
pub const CLEANUP_EVERY: Duration = Duration::from_secs(600);
/// Jobs of one queue running at once, unless set otherwise.
pub const DEFAULT_CONCURRENCY: usize = 8;
/// Default retention of finished jobs and of attempts (clock time).
pub const DEFAULT_RETENTION_MS: i64 = 7 * 24 * 3600 * 1000;
/// Claims per queue per `run_due` call: bounds a handler that keeps scheduling work due at once.
const MAX_CLAIMS: usize = 100;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;
/// A type-erased handler: gets the app and the claimed row.
type ErasedHandler = Arc<dyn Fn(App, JobRow) -> BoxFuture<Result<JobOutcome, BoxError>> + Send + Sync>;

/// A kind of job: its name (`area.what`), queue, payload type and retry policy.
pub trait JobKind: Send + Sync + 'static {
    const NAME: &'static str;
    const QUEUE: &'static str = DEFAULT_QUEUE;
    type Payload: Serialize + DeserializeOwned + Send + 'static;
    fn retry_policy() -> RetryPolicy {
        RetryPolicy::default()
    }
}

/// A claimed job as its handler sees it.
#[derive(Clone, Debug)]
pub struct Job<P> {
    pub id: String,
    pub kind: String,
    pub queue: String,
    pub payload: P,
    /// This attempt's number (1 for the first).
    pub attempt: i32,
    /// The lease owner running it (pass it to `finish_in_tx`-style store methods).
    pub owner: String,
    pub due_at: i64,
    pub created_at: i64,
    pub unique_key: Option<String>,
    pub ordering_key: Option<String>,
    pub subject: Option<String>,
}

/// A typed job to schedule: `NewJob::<MyKind>::new(payload).due_at(t).unique_key("k")`, then
/// [`schedule`] (or [`NewJob::spec`] to schedule it inside a store transaction).
pub struct NewJob<K: JobKind> {
    payload: K::Payload,
    due_at: Option<i64>,
    unique_key: Option<String>,
    ordering_key: Option<String>,
    subject: Option<String>,
    queue: String,
    kind: PhantomData<K>,
}

impl<K: JobKind> NewJob<K> {
    /// A job of kind `K` due now, in `K::QUEUE`, with no keys.
    pub fn new(payload: K::Payload) -> Self {
        NewJob {
            payload,
            due_at: None,
            unique_key: None,
            ordering_key: None,
            subject: None,
            queue: K::QUEUE.to_string(),
            kind: PhantomData,
        }
    }
    pub fn due_at(mut self, at_ms: i64) -> Self {
        self.due_at = Some(at_ms);
        self
    }
    /// At most one live job per key: scheduling the key again moves it (same id, attempts kept).
    pub fn unique_key(mut self, key: impl Into<String>) -> Self {
        self.unique_key = Some(key.into());
        self
    }
    /// Jobs with one ordering key run one at a time, in scheduling order.
    pub fn ordering_key(mut self, key: impl Into<String>) -> Self {
        self.ordering_key = Some(key.into());
        self
    }
    /// What the job is about (`incident:<id>`): all live jobs of a subject can be cancelled at once.
    pub fn subject(mut self, subject: impl Into<String>) -> Self {
        self.subject = Some(subject.into());
        self
    }
    /// Overrides `K::QUEUE`.
    pub fn queue(mut self, queue: impl Into<String>) -> Self {
        self.queue = queue.into();
        self
    }
    /// The row to schedule (due at `now` unless set).
    pub fn spec(&self, now_ms: i64) -> Result<JobSpec, serde_json::Error> {
        Ok(JobSpec {
            kind: K::NAME.to_string(),
            queue: self.queue.clone(),
            payload: serde_json::to_string(&self.payload)?,
            due_at: self.due_at.unwrap_or(now_ms),
            unique_key: self.unique_key.clone(),
            ordering_key: self.ordering_key.clone(),
            subject: self.subject.clone(),
        })
    }
}

/// Schedules a typed job in a transaction of its own and answers its id (waking the runner when due).
pub async fn schedule<K: JobKind>(app: &App, job: NewJob<K>) -> Result<String, BoxError> {
    let now = app.now_ms();
    let spec = job.spec(now)?;
    Ok(app.store.schedule(&spec, now).await?)
}

/// Serializes runs of one (owner, queue).
type RunLock = Arc<tokio::sync::Mutex<()>>;

struct Registered {
    queue: String,
    policy: RetryPolicy,
    handler: ErasedHandler,
}

struct Queue {
    concurrency: usize,
    wake: Arc<Wake>,
}

/// How a queue's task is woken: its `Notify`, and the clock instant by which it will look for due jobs
/// anyway (`i64::MAX` while it runs jobs or has not decided yet, so every wake-up then counts).
struct Wake {
    notify: Notify,
    looks_at: AtomicI64,
}

impl Default for Wake {
    fn default() -> Self {
        Wake { notify: Notify::new(), looks_at: AtomicI64::new(i64::MAX) }
    }
}

impl Wake {
    /// A job due at `due_at` was committed: wake the task if it would look later than that. (A wake-up
    /// while the task runs is kept as a permit: it looks again before sleeping.)
    fn job_due(&self, due_at: i64) {
        if due_at < self.looks_at.load(Ordering::SeqCst) {
            self.notify.notify_one();
        }
    }
}

#[derive(Clone, Copy)]
struct Settings {
    lease_ms: i64,
    renew_every: Duration,
    finished_retention_ms: i64,
    attempts_retention_ms: i64,
}

/// The job registry and run bookkeeping of one [`App`]: kinds and their handlers, queues with their
/// concurrency and wake-up, this node's lease-owner id, and per-owner-and-queue locks that serialize runs.
pub struct JobRunner {
    kinds: RwLock<HashMap<String, Arc<Registered>>>,
    queues: Arc<RwLock<HashMap<String, Queue>>>,
    /// Wakes the worker's supervisor when a queue is added.
    queues_changed: Arc<Notify>,
    runs: Mutex<HashMap<(String, String), RunLock>>,
    settings: RwLock<Settings>,
    node_id: String,
    /// Set once the background worker has started (see [`JobRunner::started`]).
    started: tokio::sync::watch::Sender<bool>,
}

impl Default for JobRunner {
    fn default() -> Self {
        Self::new()
    }
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|p| p.into_inner())
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(|p| p.into_inner())
}

impl JobRunner {
    /// A runner with the built-in kinds (the incident timers, the handoff scan), the `default` queue and a
    /// random node id.
    pub fn new() -> Self {
        use rand::Rng;
        let suffix: u64 = rand::rng().random();
        let runner = JobRunner {
            kinds: RwLock::default(),
            queues: Arc::default(),
            queues_changed: Arc::default(),
            runs: Mutex::default(),
            settings: RwLock::new(Settings {
                lease_ms: LEASE_MS,
                renew_every: RENEW_EVERY,
                finished_retention_ms: DEFAULT_RETENTION_MS,
                attempts_retention_ms: DEFAULT_RETENTION_MS,
            }),
            node_id: format!("node-{suffix:016x}"),
            started: tokio::sync::watch::Sender::new(false),
        };
        runner.ensure_queue(DEFAULT_QUEUE);
        crate::timers::register_kinds(&runner);
        crate::handoffs::register_kinds(&runner);
        runner
    }

    /// This node's identity as a lease owner (random per `App`).
    pub fn node_id(&self) -> &str {
        &self.node_id
    }

    /// Resolves once this app's background worker has started: on SQLite the previous process's leases
    /// are released, on PostgreSQL the listener listens. (Test harnesses wait for it.)
    pub async fn started(&self) {
        let mut receiver = self.started.subscribe();
        let _ = receiver.wait_for(|started| *started).await;
    }

    /// Registers (or replaces) the handler of kind `K`; this node then runs `K::QUEUE`.
    pub fn register_kind<K, F, Fut>(&self, handler: F)
    where
        K: JobKind,
        F: Fn(App, Job<K::Payload>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<JobOutcome, BoxError>> + Send + 'static,
    {
        let handler = Arc::new(handler);
        let erased: ErasedHandler = Arc::new(move |app, row: JobRow| {
            let handler = handler.clone();
            Box::pin(async move {
                let payload: K::Payload = match serde_json::from_str(&row.payload) {
                    Ok(payload) => payload,
                    // Retrying cannot fix a payload this kind cannot read.
                    Err(error) => return Ok(JobOutcome::Failed(format!("unreadable {} payload: {error}", K::NAME))),
                };
                let job = Job {
                    id: row.id,
                    kind: row.kind,
                    queue: row.queue,
                    payload,
                    attempt: row.attempts,
                    owner: row.lease_owner.unwrap_or_default(),
                    due_at: row.due_at,
                    created_at: row.created_at,
                    unique_key: row.unique_key,
                    ordering_key: row.ordering_key,
                    subject: row.subject,
                };
                handler(app, job).await
            })
        });
        self.insert_kind(K::NAME, K::QUEUE, K::retry_policy(), erased);
    }

    /// Registers (or replaces) an untyped handler for a kind of the `default` queue with the default
    /// retry policy: it gets the claimed row, and `Ok` means done.
    pub fn register<F, Fut>(&self, kind: &str, handler: F)
    where
        F: Fn(App, JobRow) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), BoxError>> + Send + 'static,
    {
        let handler = Arc::new(handler);
        let erased: ErasedHandler = Arc::new(move |app, row| {
            let handler = handler.clone();
            Box::pin(async move { handler(app, row).await.map(|()| JobOutcome::Done) })
        });
        self.insert_kind(kind, DEFAULT_QUEUE, RetryPolicy::default(), erased);
    }

    fn insert_kind(&self, kind: &str, queue: &str, policy: RetryPolicy, handler: ErasedHandler) {
        write(&self.kinds).insert(kind.to_string(), Arc::new(Registered { queue: queue.to_string(), policy, handler }));
        self.ensure_queue(queue);
    }

    /// Whether a handler is registered for `kind`.
    pub fn knows(&self, kind: &str) -> bool {
        read(&self.kinds).contains_key(kind)
    }

    /// The queue a registered kind runs in.
    pub fn queue_of(&self, kind: &str) -> Option<String> {
        read(&self.kinds).get(kind).map(|k| k.queue.clone())
    }

    fn registered(&self, kind: &str) -> Option<Arc<Registered>> {
        read(&self.kinds).get(kind).cloned()
    }

    fn ensure_queue(&self, queue: &str) {
        let added = {
            let mut queues = write(&self.queues);
            if queues.contains_key(queue) {
                false
            } else {
                queues.insert(queue.to_string(), Queue { concurrency: DEFAULT_CONCURRENCY, wake: Arc::default() });
                true
            }
        };
        if added {
            self.queues_changed.notify_one();
        }
    }

    /// Sets how many jobs of `queue` run at once on this node (at least 1); this node then runs `queue`.
    pub fn set_queue_concurrency(&self, queue: &str, concurrency: usize) {
        self.ensure_queue(queue);
        if let Some(q) = write(&self.queues).get_mut(queue) {
            q.concurrency = concurrency.max(1);
        }
    }

    /// How long finished jobs and attempts are kept (clock time) before [`clean_up`] deletes them.
    pub fn set_retention(&self, finished_jobs_ms: i64, attempts_ms: i64) {
        let mut settings = write(&self.settings);
        settings.finished_retention_ms = finished_jobs_ms;
        settings.attempts_retention_ms = attempts_ms;
    }

    /// The lease a claim takes (clock time) and how often (real time) a running handler renews it.
    pub fn set_lease(&self, lease_ms: i64, renew_every: Duration) {
        let mut settings = write(&self.settings);
        settings.lease_ms = lease_ms;
        settings.renew_every = renew_every;
    }

    fn settings(&self) -> Settings {
        *read(&self.settings)
    }

    /// The queues this node runs.
    pub fn queue_names(&self) -> Vec<String> {
        let mut names: Vec<String> = read(&self.queues).keys().cloned().collect();
        names.sort();
        names
    }

    fn concurrency(&self, queue: &str) -> usize {
        read(&self.queues).get(queue).map_or(DEFAULT_CONCURRENCY, |q| q.concurrency)
    }

    fn waker(&self, queue: &str) -> Option<Arc<Wake>> {
        read(&self.queues).get(queue).map(|q| q.wake.clone())
    }

    /// Wakes the task running `queue` (no-op for a queue this node does not run).
    pub fn wake(&self, queue: &str) {
        wake_in(&self.queues, queue, i64::MIN);
    }

    /// The callback the store calls after committing a job, with its queue and due time (see the
    /// module doc).
    pub fn wakeup_hook(&self) -> klaxon_store::jobs::JobWakeup {
        let queues = self.queues.clone();
        Arc::new(move |queue: &str, due_at: i64| wake_in(&queues, queue, due_at))
    }

    fn run_lock(&self, owner: &str, queue: &str) -> RunLock {
        let mut runs = self.runs.lock().unwrap_or_else(|p| p.into_inner());
        runs.entry((owner.to_string(), queue.to_string())).or_default().clone()
    }
}

fn wake_in(queues: &RwLock<HashMap<String, Queue>>, queue: &str, due_at: i64) {
    if let Some(q) = read(queues).get(queue) {
        q.wake.job_due(due_at);
    }
}

/// Claims and runs every job due now in every queue this node runs, as `owner`, the queues side by side;
/// answers how many attempts it ran. Never sleeps; returns when nothing due is left (or at shutdown).
pub async fn run_due(app: &App, owner: &str) -> usize {
    let queues = app.jobs.queue_names();
    futures::future::join_all(queues.iter().map(|queue| run_queue_due(app, owner, queue))).await.into_iter().sum()
}

/// Claims and runs every job due now in `queue`, at most the queue's concurrency at once: a free slot is
/// filled as soon as a job ends (so a successor waiting on an ordering key runs in the same call).
pub async fn run_queue_due(app: &App, owner: &str, queue: &str) -> usize {
    let lock = app.jobs.run_lock(owner, queue);
    let _serialized = lock.lock().await;
    let concurrency = app.jobs.concurrency(queue);
    let mut running = tokio::task::JoinSet::new();
    let mut ran = 0;
    let mut claims = 0;
    let mut exhausted = false;
    loop {
        if !exhausted && running.len() < concurrency && claims < MAX_CLAIMS && !app.shutdown.is_cancelled() {
            claims += 1;
            let free = concurrency - running.len();
            let jobs = claim(app, owner, queue, free).await;
            exhausted = jobs.len() < free;
            ran += jobs.len();
            let claimed = !jobs.is_empty();
            for job in jobs {
                running.spawn(run_one(app.clone(), owner.to_string(), job));
            }
            if claimed {
                continue;
            }
        }
        match running.join_next().await {
            None => break,
            // A finished job may have freed a successor (ordering key) or scheduled more work.
            Some(_) => exhausted = false,
        }
    }
    ran
}

async fn claim(app: &App, owner: &str, queue: &str, limit: usize) -> Vec<JobRow> {
    let now = app.now_ms();
    match app.store.any_job_due(queue, now).await {
        Ok(true) => {}
        Ok(false) => return Vec::new(),
        Err(error) => {
            tracing::warn!(%error, queue, "looking for due jobs failed");
            return Vec::new();
        }
    }
    let lease_ms = app.jobs.settings().lease_ms;
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    match app.store.claim_due_jobs(queue, owner, now, lease_ms, limit).await {
        Ok(jobs) => jobs,
        Err(error) => {
            tracing::warn!(%error, queue, "claiming due jobs failed");
            Vec::new()
        }
    }
}

/// Runs one claimed job: its handler in a task of its own (a panic fails the attempt, not the worker),
/// renewing the lease while it runs; then records the outcome under the kind's policy.
async fn run_one(app: App, owner: String, job: JobRow) {
    let settings = app.jobs.settings();
    let registered = app.jobs.registered(&job.kind);
    let policy = registered.as_ref().map_or_else(RetryPolicy::default, |r| r.policy.clone());
    let result: Result<JobOutcome, String> = match registered {
        None => Err(format!("no handler is registered for job kind {:?}", job.kind)),
        Some(registered) => {
            let mut task = tokio::spawn((registered.handler)(app.clone(), job.clone()));
            let mut renew = tokio::time::interval(settings.renew_every);
            // The first renewal one period from now, not at once.
            renew.reset();
            let timeout = tokio::time::sleep(HANDLER_TIMEOUT);
            tokio::pin!(timeout);
            loop {
                tokio::select! {
                    joined = &mut task => break match joined {
                        Ok(Ok(outcome)) => Ok(outcome),
                        Ok(Err(error)) => Err(error.to_string()),
                        Err(join) => Err(format!("handler panicked: {join}")),
                    },
                    _ = renew.tick() => {
                        let until = app.now_ms().saturating_add(settings.lease_ms);
                        match app.store.renew_job_lease(&job.id, &owner, until).await {
                            Ok(true) => {}
                            Ok(false) => {
                                // Finished, moved, cancelled or taken over meanwhile: stop, record the attempt.
                                task.abort();
                                tracing::info!(job = %job.id, kind = %job.kind, "job lease lost while running; stopped");
                                record(&app, &owner, &job, &Resolution::Done).await;
                                return;
                            }
                            Err(error) => tracing::warn!(job = %job.id, %error, "renewing a job lease failed"),
                        }
                    }
                    () = &mut timeout => {
                        task.abort();
                        break Err(format!("handler ran longer than {} s", HANDLER_TIMEOUT.as_secs()));
                    }
                }
            }
        }
    };
    let outcome = result.unwrap_or_else(|reason| JobOutcome::Retry { at: None, reason });
    let now = app.now_ms();
    let jitter: f64 = rand::random();
    let resolution = resolve(outcome, &policy, i64::from(job.attempts), jitter, now - job.created_at, now);
    match &resolution {
        Resolution::Done => tracing::debug!(job = %job.id, kind = %job.kind, "job done"),
        Resolution::RetryAt { at, error } => {
            tracing::warn!(job = %job.id, kind = %job.kind, attempt = job.attempts, %error, retry_at = at, "job will retry")
        }
        Resolution::Failed(error) => tracing::error!(job = %job.id, kind = %job.kind, attempt = job.attempts, %error,
            "job failed for good (kept in the jobs table as failed, with its error)"),
        Resolution::Cancelled(reason) => tracing::info!(job = %job.id, kind = %job.kind, %reason, "job cancelled"),
    }
    record(&app, &owner, &job, &resolution).await;
}

async fn record(app: &App, owner: &str, job: &JobRow, resolution: &Resolution) {
    match app.store.finish_job(&job.id, owner, job.attempts, resolution, app.now_ms()).await {
        Ok(true) => {}
        // The handler finished it in its own transaction, or the lease went elsewhere: nothing to record.
        Ok(false) => tracing::debug!(job = %job.id, kind = %job.kind, "job already finished or lease lost"),
        Err(error) => {
            tracing::warn!(job = %job.id, kind = %job.kind, %error, "recording a job's outcome failed; the lease will expire")
        }
    }
}

/// Retention: deletes finished jobs and attempts older than the runner's retention times.
pub async fn clean_up(app: &App) -> Result<(u64, u64), BoxError> {
    let settings = app.jobs.settings();
    let now = app.now_ms();
    Ok(app
        .store
        .clean_up_jobs(
            now.saturating_sub(settings.finished_retention_ms),
            now.saturating_sub(settings.attempts_retention_ms),
        )
        .await?)
}

/// The background worker, until `app.shutdown`: first marks this node alive (PostgreSQL) and takes over
/// the leases of processes that are gone; then one task per queue (started as queues appear), the
/// PostgreSQL listener that wakes them, and the retention cleanup. [`JobRunner::started`] resolves once
/// the takeover is done and the listener listens.
pub fn spawn_worker(app: &App) -> tokio::task::JoinHandle<()> {
    let app = app.clone();
    tokio::spawn(async move {
        // Alive before claiming anything, so a node starting later keeps this node's leases.
        let node = match app.store.join_job_nodes(app.jobs.node_id()).await {
            Ok(node) => Some(node),
            Err(error) => {
                tracing::warn!(%error, "marking this job node alive failed; a node starting meanwhile may take its leases over");
                None
            }
        };
        match app.store.release_gone_job_leases(app.jobs.node_id(), app.now_ms()).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(jobs = n, "took over the job leases of processes that are gone"),
            Err(error) => tracing::warn!(%error, "releasing the job leases of processes that are gone failed"),
        }
        let listener = match app.store.listen_for_jobs().await {
            Ok(listener) => listener,
            Err(error) => {
                tracing::warn!(%error, "listening for job notifications failed; retrying, polling meanwhile");
                None
            }
        };
        let mut tasks = tokio::task::JoinSet::new();
        tasks.spawn(listen(app.clone(), listener));
        app.jobs.started.send_replace(true);
        let mut started = HashSet::new();
        let mut cleanup = tokio::time::interval(CLEANUP_EVERY);
        loop {
            for queue in app.jobs.queue_names() {
                if started.insert(queue.clone()) {
                    tasks.spawn(queue_worker(app.clone(), queue));
                }
            }
            tokio::select! {
                () = app.shutdown.cancelled() => break,
                () = app.jobs.queues_changed.notified() => {}
                _ = cleanup.tick() => {
                    if let Err(error) = clean_up(&app).await {
                        tracing::warn!(%error, "deleting old finished jobs failed");
                    }
                }
            }
        }
        while tasks.join_next().await.is_some() {}
        if let Some(node) = node {
            node.leave().await;
        }
    })
}

/// One queue's task: runs what is due, then sleeps until the queue's next job comes due (at most
/// [`POLL_INTERVAL`]) or a wake-up, whichever is first (the rule: `klaxon_core::jobs::idle_sleep_ms`).
async fn queue_worker(app: App, queue: String) {
    let Some(wake) = app.jobs.waker(&queue) else {
        return;
    };
    let poll_ms = i64::try_from(POLL_INTERVAL.as_millis()).unwrap_or(i64::MAX);
    // Whether the clock followed the last timed sleep (a manual clock in tests does not).
    let mut clock_runs = true;
    loop {
        // From here until the sleep is decided, every job committed for this queue wakes it again.
        wake.looks_at.store(i64::MAX, Ordering::SeqCst);
        run_queue_due(&app, app.jobs.node_id(), &queue).await;
        let now = app.now_ms();
        let next_due = match app.store.next_job_due(&queue, now).await {
            Ok(next) => next,
            Err(error) => {
                tracing::warn!(%error, queue, "looking for the next due job failed");
                None
            }
        };
        let sleep_ms = klaxon_core::jobs::idle_sleep_ms(now, next_due, poll_ms, clock_runs);
        wake.looks_at.store(now.saturating_add(sleep_ms), Ordering::SeqCst);
        let sleep = Duration::from_millis(u64::try_from(sleep_ms).unwrap_or(0));
        let before = app.clock.monotonic();
        tokio::select! {
            () = app.shutdown.cancelled() => break,
            () = wake.notify.notified() => {}
            () = tokio::time::sleep(sleep) => {
                let moved = app.clock.monotonic().saturating_sub(before);
                clock_runs = klaxon_core::jobs::clock_followed(sleep, moved);
            }
        }
    }
}

/// On PostgreSQL: wakes the queue named by each `klaxon_jobs` notification (from any node).
async fn listen(app: App, connected: Option<klaxon_store::jobs::JobListener>) {
    if connected.is_none() && app.store.kind() == klaxon_store::BackendKind::Sqlite {
        return;
    }
    let mut listener = match connected {
        Some(listener) => listener,
        None => loop {
            match app.store.listen_for_jobs().await {
                Ok(Some(listener)) => break listener,
                Ok(None) => return,
                Err(error) => {
                    tracing::warn!(%error, "listening for job notifications failed; polling meanwhile");
                    tokio::select! {
                        () = app.shutdown.cancelled() => return,
                        () = tokio::time::sleep(POLL_INTERVAL * 5) => {}
                    }
                }
            }
        },
    };
    loop {
        tokio::select! {
            () = app.shutdown.cancelled() => return,
            received = listener.recv() => match received {
                Ok(queue) => app.jobs.wake(&queue),
                Err(error) => {
                    tracing::warn!(%error, "the job notification connection failed; reconnecting");
                    tokio::select! {
                        () = app.shutdown.cancelled() => return,
                        () = tokio::time::sleep(POLL_INTERVAL) => {}
                    }
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_timer_kinds_are_registered_in_their_queue() {
        let runner = JobRunner::new();
        for kind in [klaxon_store::jobs::kinds::ACK_TIMEOUT, klaxon_store::jobs::kinds::AUTO_RESOLVE] {
            assert!(runner.knows(kind));
            assert_eq!(runner.queue_of(kind).as_deref(), Some(klaxon_store::jobs::kinds::INCIDENT_TIMERS_QUEUE));
        }
        assert!(!runner.knows("no.such_kind"));
        assert!(runner.queue_names().contains(&DEFAULT_QUEUE.to_string()));
    }
}
