//! Durable accept with group commit.
//!
//! A handler validates an event, resolves its routing key, then hands the event and a oneshot to the ONE
//! writer task over a bounded queue. The writer takes what is queued (up to [`MAX_BATCH`]), commits it all
//! in a single write transaction ([`klaxon_store::Store::accept_events`]), then answers every oneshot; only
//! then does each handler send its 202. So the promise "202 means committed" holds with SQLite's
//! `synchronous=FULL`, and throughput comes from sharing each fsync among all the requests that arrived
//! while the previous commit ran. The same path serves PostgreSQL. The same transaction also applies the
//! events (one fsync for both; a processing failure rolls back and commits the batch again unprocessed, so
//! it never fails the accept), see `klaxon_store::Store::accept_events`.
//!
//! When the queue is full (the write path is saturated) the handler answers 429 with `Retry-After`
//! (v1: 403) at once instead of letting latency grow without bound; every sender retries those.
//!
//! The same 429 answers while processing lags: when the oldest accepted-but-unprocessed event is older than
//! [`MAX_PROCESSING_LAG_MS`], or more than [`MAX_PROCESSING_BACKLOG`] events wait (the processor measures
//! both after each full batch), new events are refused until it catches up, so the time from a 202 to the
//! incident stays bounded under overload instead of growing with the backlog.
//!
//! Routing keys are resolved through a small in-memory cache ([`ROUTE_TTL`], measured on the injected
//! clock's monotonic reading, so tests expire it with a `ManualClock`): a new integration is
//! usable at once (unknown keys are cached only briefly), while a deleted integration, or a changed rate
//! limit, may still be honoured for up to that long on each node.

use crate::events::ratelimit::RateLimiter;
use crate::state::App;
use klaxon_store::events::{InboxItem, IntegrationRoute};
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Notify, mpsc, oneshot};

/// Most events committed in one transaction.
pub const MAX_BATCH: usize = 1024;
/// Events waiting for the writer before new ones are refused with 429.
pub const QUEUE_CAPACITY: usize = 8192;
/// Refuse new events (429) while the oldest unprocessed one has waited longer than this...
pub const MAX_PROCESSING_LAG_MS: i64 = 5_000;
/// ...or while more than this many accepted events wait to be processed.
pub const MAX_PROCESSING_BACKLOG: i64 = 250;
/// How long a resolved routing key is trusted.
pub const ROUTE_TTL: Duration = Duration::from_secs(5);
/// How long an unknown routing key is remembered as unknown.
pub const UNKNOWN_ROUTE_TTL: Duration = Duration::from_secs(1);
/// Cached keys beyond this and the cache starts over (bounded memory under floods of random keys).
const ROUTE_CACHE_MAX: usize = 50_000;

struct Pending {
    item: InboxItem,
    done: oneshot::Sender<Result<(), ()>>,
}

/// Why an event could not be committed.
#[derive(Debug, PartialEq, Eq)]
pub enum AcceptError {
    /// The queue is full: retry shortly.
    Overloaded,
    /// The server is stopping or the database failed.
    Unavailable,
}

/// The Events API's shared state: the writer queue, the routing-key cache, the rate limiter, and the
/// processor's wake-up.
pub struct Ingest {
    /// How far processing lags behind accepting (ms), as the processor last measured it.
    pub processing_lag_ms: AtomicI64,
    /// How many accepted events wait to be processed, as the processor last measured it.
    pub processing_backlog: AtomicI64,
    lag_gauge: Gauge,
    tx: mpsc::Sender<Pending>,
    rx: Mutex<Option<mpsc::Receiver<Pending>>>,
    /// Each key's route (None: unknown) and the monotonic reading when it was looked up.
    routes: Mutex<HashMap<String, (Option<IntegrationRoute>, Duration)>>,
    pub limiter: RateLimiter,
    /// Woken after every commit of alert events; the processor waits on it (and also polls).
    pub wakeup: Arc<Notify>,
    /// Server default events per minute per routing key (0 = unlimited).
    pub default_rate_limit_per_minute: u32,
    /// Events per group commit, and how long each commit took.
    batch_size: Histogram,
    commit_seconds: Histogram,
}

impl Ingest {
    /// Registers its metrics (`klaxon_events_commit_batch_size`, `klaxon_events_commit_seconds`) in `metrics`.
    pub fn new(default_rate_limit_per_minute: u32, metrics: &crate::metrics::Metrics) -> Self {
        let (tx, rx) = mpsc::channel(QUEUE_CAPACITY);
        let batch_size = Histogram::new([1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0]);
        let commit_seconds = Histogram::new([0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5]);
        metrics.with_registry(|r| {
            r.register("events_commit_batch_size", "Events committed per group commit", batch_size.clone());
            r.register("events_commit_seconds", "Duration of each events group commit", commit_seconds.clone());
        });
        let lag_gauge = Gauge::default();
        metrics.with_registry(|r| {
            r.register("events_processing_lag_milliseconds", "Age of the oldest unprocessed event", lag_gauge.clone());
        });
        Self {
            processing_lag_ms: AtomicI64::new(0),
            processing_backlog: AtomicI64::new(0),
            lag_gauge,
            batch_size,
            commit_seconds,
            tx,
            rx: Mutex::new(Some(rx)),
            routes: Mutex::new(HashMap::new()),
            limiter: RateLimiter::new(),
            wakeup: Arc::new(Notify::new()),
            default_rate_limit_per_minute,
        }
    }

    /// Resolves a routing key, through the cache.
    pub async fn route(&self, app: &App, key: &str) -> Result<Option<IntegrationRoute>, klaxon_store::StoreError> {
        {
            let now = app.clock.monotonic();
            let routes = self.routes.lock().unwrap_or_else(|p| p.into_inner());
            if let Some((route, at)) = routes.get(key) {
                let ttl = if route.is_some() { ROUTE_TTL } else { UNKNOWN_ROUTE_TTL };
                if now.saturating_sub(*at) < ttl {
                    return Ok(route.clone());
                }
            }
        }
        let route = app.store.integration_route(key).await?;
        let looked_up = app.clock.monotonic();
        let mut routes = self.routes.lock().unwrap_or_else(|p| p.into_inner());
        if routes.len() >= ROUTE_CACHE_MAX {
            routes.clear();
        }
        routes.insert(key.to_string(), (route.clone(), looked_up));
        Ok(route)
    }

    /// The effective limit of an integration: its own, else the server default (0 = unlimited).
    pub fn limit_for(&self, route: &IntegrationRoute) -> u32 {
        match route.rate_limit_per_minute {
            Some(n) => u32::try_from(n.max(0)).unwrap_or(u32::MAX),
            None => self.default_rate_limit_per_minute,
        }
    }

    /// Records how far processing lags (the processor calls this).
    pub fn set_processing_lag(&self, lag_ms: i64) {
        let lag = lag_ms.max(0);
        self.processing_lag_ms.store(lag, Ordering::Relaxed);
        self.lag_gauge.set(lag);
    }

    /// Records how many accepted events wait to be processed (the processor calls this).
    pub fn set_processing_backlog(&self, events: i64) {
        self.processing_backlog.store(events.max(0), Ordering::Relaxed);
    }

    /// Queues an event for the writer and waits until it is committed.
    pub async fn accept(&self, item: InboxItem) -> Result<(), AcceptError> {
        if self.processing_lag_ms.load(Ordering::Relaxed) > MAX_PROCESSING_LAG_MS
            || self.processing_backlog.load(Ordering::Relaxed) > MAX_PROCESSING_BACKLOG
        {
            return Err(AcceptError::Overloaded);
        }
        let (done, committed) = oneshot::channel();
        match self.tx.try_send(Pending { item, done }) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => return Err(AcceptError::Overloaded),
            Err(mpsc::error::TrySendError::Closed(_)) => return Err(AcceptError::Unavailable),
        }
        match committed.await {
            Ok(Ok(())) => Ok(()),
            _ => Err(AcceptError::Unavailable),
        }
    }

    fn take_receiver(&self) -> Option<mpsc::Receiver<Pending>> {
        self.rx.lock().unwrap_or_else(|p| p.into_inner()).take()
    }
}

/// Starts the writer task (once). It stops when `app.shutdown` fires, after committing what was queued.
pub fn spawn_writer(app: &App) -> Option<tokio::task::JoinHandle<()>> {
    let rx = app.events.take_receiver()?;
    let app = app.clone();
    Some(tokio::spawn(async move { run_writer(app, rx).await }))
}

async fn run_writer(app: App, mut rx: mpsc::Receiver<Pending>) {
    let mut closing = false;
    loop {
        let first = if closing {
            rx.recv().await
        } else {
            tokio::select! {
                m = rx.recv() => m,
                () = app.shutdown.cancelled() => {
                    rx.close();
                    closing = true;
                    continue;
                }
            }
        };
        let Some(first) = first else { break };
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(more) => batch.push(more),
                Err(_) => break,
            }
        }
        commit(&app, batch).await;
    }
}

async fn commit(app: &App, batch: Vec<Pending>) {
    let (items, senders): (Vec<InboxItem>, Vec<_>) = batch.into_iter().map(|p| (p.item, p.done)).unzip();
    let now = app.now_ms();
    let started = app.clock.monotonic();
    let result = app.store.accept_events(&items, now).await;
    app.events.batch_size.observe(items.len() as f64);
    app.events.commit_seconds.observe(app.clock.monotonic().saturating_sub(started).as_secs_f64());
    let mut wake = false;
    match result {
        Ok(backlog) => {
            wake = backlog;
            for done in senders {
                let _ = done.send(Ok(()));
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, events = items.len(), "events batch commit failed; committing one by one");
            // One bad row (say, an integration deleted a moment ago) must not fail its neighbours.
            for (item, done) in items.into_iter().zip(senders) {
                let result = app.store.accept_events(std::slice::from_ref(&item), now).await;
                match &result {
                    Ok(backlog) => wake |= *backlog,
                    Err(e) => tracing::error!(error = %e, "event commit failed"),
                }
                let _ = done.send(result.map(|_| ()).map_err(|_| ()));
            }
        }
    }
    if wake {
        app.events.wakeup.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::FutureExt;

    fn item(n: usize) -> InboxItem {
        InboxItem::Alert {
            integration_id: "PINT000".into(),
            service_id: "PSVC000".into(),
            dedup_key: format!("k{n}"),
            body: "{}".into(),
            event: None,
        }
    }

    #[test]
    fn a_full_queue_refuses_at_once_instead_of_waiting() {
        let ingest = Ingest::new(0, &crate::metrics::Metrics::new());
        // No writer runs: every accepted item stays queued (its answer never comes).
        for n in 0..QUEUE_CAPACITY {
            assert!(ingest.accept(item(n)).now_or_never().is_none(), "item {n} should wait for its commit");
        }
        assert_eq!(ingest.accept(item(QUEUE_CAPACITY)).now_or_never(), Some(Err(AcceptError::Overloaded)));
    }

    #[test]
    fn an_integrations_own_limit_wins_over_the_server_default() {
        let ingest = Ingest::new(120, &crate::metrics::Metrics::new());
        let mut route = IntegrationRoute {
            integration_id: "P".into(),
            service_id: "S".into(),
            integration_type: "events_api_v2_inbound_integration".into(),
            rate_limit_per_minute: None,
        };
        assert_eq!(ingest.limit_for(&route), 120);
        route.rate_limit_per_minute = Some(0);
        assert_eq!(ingest.limit_for(&route), 0, "0 = unlimited");
        route.rate_limit_per_minute = Some(10);
        assert_eq!(ingest.limit_for(&route), 10);
    }

    #[test]
    fn a_lagging_processor_makes_accept_refuse_until_it_catches_up() {
        let ingest = Ingest::new(0, &crate::metrics::Metrics::new());
        ingest.set_processing_lag(MAX_PROCESSING_LAG_MS + 1);
        assert_eq!(ingest.accept(item(0)).now_or_never(), Some(Err(AcceptError::Overloaded)));
        ingest.set_processing_lag(0);
        assert_eq!(
            ingest.accept(item(1)).now_or_never(),
            None,
            "a caught-up processor lets the event through to the writer"
        );
    }
}
