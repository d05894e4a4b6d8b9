//! The state: the [`App`], every dependency of the running server (store, clock, public URL, metrics,
//! job runner, shutdown token, the Events API's queue and caches), built once at start and passed
//! explicitly (no global state).
//!
//! Layering: handlers (`api/`, `events`, `health`) depend on the state; the router (`router.rs`) depends
//! on the handlers; this module depends on no handler (`tests/layers.rs` checks it). It names the Events
//! API's ingest state (`events::ingest::Ingest`) and the job runner, which the state owns.

use crate::clock::SystemClock;
use crate::metrics::Metrics;
use jiff::Timestamp;
use klaxon_core::clock::Clock;
use klaxon_store::Store;
use std::ops::Deref;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// Shared handle to the running system. Cheap to clone.
#[derive(Clone)]
pub struct App(Arc<AppInner>);

pub struct AppInner {
    pub store: Store,
    pub clock: Arc<dyn Clock>,
    /// Public base URL without a trailing slash.
    pub public_url: String,
    pub metrics: Metrics,
    /// The durable job runner: kinds and handlers, queues, this node's lease-owner id.
    pub jobs: crate::jobs::JobRunner,
    /// Cancelled when the server shuts down; background workers watch it.
    pub shutdown: CancellationToken,
    /// The Events API's writer queue, routing-key cache, rate limiter and processor wake-up.
    pub events: crate::events::ingest::Ingest,
}

impl Deref for App {
    type Target = AppInner;
    fn deref(&self) -> &AppInner {
        &self.0
    }
}

/// How to build an [`App`]. Tests swap the clock.
pub struct AppBuilder {
    store: Store,
    public_url: String,
    clock: Arc<dyn Clock>,
    events_rate_limit_per_minute: u32,
}

impl App {
    pub fn builder(store: Store, public_url: impl Into<String>) -> AppBuilder {
        AppBuilder {
            store,
            public_url: public_url.into().trim_end_matches('/').to_string(),
            clock: Arc::new(SystemClock::new()),
            events_rate_limit_per_minute: 0,
        }
    }

    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    pub fn now_ms(&self) -> i64 {
        self.clock.now().as_millisecond()
    }
}

impl AppBuilder {
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Default Events API limit per routing key and minute (0 = unlimited); integrations may override it.
    pub fn events_rate_limit_per_minute(mut self, per_minute: u32) -> Self {
        self.events_rate_limit_per_minute = per_minute;
        self
    }

    pub fn build(self) -> App {
        let metrics = Metrics::new();
        let events = crate::events::ingest::Ingest::new(self.events_rate_limit_per_minute, &metrics);
        let jobs = crate::jobs::JobRunner::new();
        // A job committed due now through this store wakes this runner at once (see `jobs.rs`).
        self.store.set_job_wakeup(jobs.wakeup_hook());
        App(Arc::new(AppInner {
            store: self.store,
            clock: self.clock,
            public_url: self.public_url,
            metrics,
            jobs,
            shutdown: CancellationToken::new(),
            events,
        }))
    }
}
