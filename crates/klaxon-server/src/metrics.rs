//! Prometheus metrics, held in the [`App`](crate::App) rather than a global registry: requests by
//! route and status with latency histograms, and database pool figures read at scrape time.
//! Label values are bounded: routes are axum's matched path templates, never raw URIs or keys.
//! Durations are measured on the injected clock's monotonic reading (`app.clock.monotonic()`).

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::sync::Mutex;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub method: String,
    pub route: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub method: String,
    pub route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    pub outcome: String,
}

pub struct Metrics {
    registry: Mutex<Registry>,
    pub http_requests: Family<RequestLabels, Counter>,
    pub http_duration: Family<RouteLabels, Histogram>,
    pub db_pool_connections: Gauge,
    pub db_pool_idle: Gauge,
    /// Events API outcomes: accepted, invalid, rate_limited, overloaded.
    pub events: Family<OutcomeLabels, Counter>,
    /// Incidents left with nobody assignable (nobody on call at any level tried), by the command layer or
    /// the events batch: the store's count, brought up to date at scrape time ([`Metrics::sync_store`]).
    pub incidents_unassignable: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("klaxon");
        let http_requests = Family::<RequestLabels, Counter>::default();
        registry.register("http_requests", "HTTP requests by route and status", http_requests.clone());
        let http_duration = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            Histogram::new([0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0])
        });
        registry.register("http_request_duration_seconds", "HTTP request latency", http_duration.clone());
        let db_pool_connections = Gauge::default();
        registry.register("db_pool_connections", "Open database connections", db_pool_connections.clone());
        let db_pool_idle = Gauge::default();
        registry.register("db_pool_idle_connections", "Idle database connections", db_pool_idle.clone());
        let events = Family::<OutcomeLabels, Counter>::default();
        registry.register("events", "Events API requests by outcome", events.clone());
        let incidents_unassignable = Counter::default();
        registry.register(
            "incidents_unassignable",
            "Incidents left with nobody assignable: nobody on call at any escalation level tried",
            incidents_unassignable.clone(),
        );
        Self {
            registry: Mutex::new(registry),
            http_requests,
            http_duration,
            db_pool_connections,
            db_pool_idle,
            events,
            incidents_unassignable,
        }
    }

    /// Brings the counters the store keeps up to date (under the registry's lock, so two scrapes at once
    /// add each increment once).
    pub fn sync_store(&self, store: &klaxon_store::Store) {
        let _registry = self.registry.lock().unwrap_or_else(|p| p.into_inner());
        let total = store.unassignable_incidents();
        let seen = self.incidents_unassignable.get();
        if total > seen {
            self.incidents_unassignable.inc_by(total - seen);
        }
    }

    /// Lets other modules register their own metrics.
    pub fn with_registry(&self, f: impl FnOnce(&mut Registry)) {
        let mut registry = self.registry.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut registry);
    }

    pub fn render(&self) -> String {
        let registry = self.registry.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &registry).is_err() {
            out.clear();
        }
        out
    }

    pub fn count_event(&self, outcome: &str) {
        self.events.get_or_create(&OutcomeLabels { outcome: outcome.to_string() }).inc();
    }
}

/// Middleware: counts and times every request under its route template.
pub async fn track(State(app): State<crate::App>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    let method = request.method().as_str().to_string();
    let started = app.clock.monotonic();
    let response = next.run(request).await;
    let status = response.status().as_u16();
    app.metrics
        .http_duration
        .get_or_create(&RouteLabels { method: method.clone(), route: route.clone() })
        .observe(app.clock.monotonic().saturating_sub(started).as_secs_f64());
    app.metrics.http_requests.get_or_create(&RequestLabels { method, route, status }).inc();
    response
}
