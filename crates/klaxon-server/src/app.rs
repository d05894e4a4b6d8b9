//! The [`App`]: every dependency of the running server, built once at start and passed explicitly
//! (no global state), plus the router and the serve loop with graceful shutdown.

use crate::clock::SystemClock;
use crate::metrics::Metrics;
use axum::Router;
use jiff::Timestamp;
use klaxon_core::clock::Clock;
use klaxon_store::Store;
use std::future::Future;
use std::ops::Deref;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

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
    pub events: crate::events::Ingest,
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
            clock: Arc::new(SystemClock),
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
        let events = crate::events::Ingest::new(self.events_rate_limit_per_minute, &metrics);
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

/// The router: every documented route, plus PagerDuty-shaped 404/405 fallbacks and the common layers.
pub fn router(app: App) -> Router {
    let (api, _openapi) = crate::api::openapi_router().split_for_parts();
    let request_id = axum::http::HeaderName::from_static("x-request-id");
    Router::new()
        .merge(api)
        .fallback(|| async { crate::error::ApiError::not_found("Route") })
        .method_not_allowed_fallback(|| async {
            crate::error::ApiError::new(
                axum::http::StatusCode::METHOD_NOT_ALLOWED,
                2100,
                "Method Not Allowed",
                vec!["this route does not support that method".into()],
            )
        })
        .layer(axum::middleware::from_fn_with_state(app.clone(), crate::metrics::track))
        .layer(CatchPanicLayer::custom(|_| {
            crate::error::ApiError::internal("a request handler panicked").into_response_any()
        }))
        .layer(TraceLayer::new_for_http())
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
        .with_state(app)
}

/// Serves until `shutdown` resolves: stops accepting, finishes in-flight requests, stops background
/// workers, then closes the database.
pub async fn serve(
    app: App,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let workers = crate::api::spawn_workers(&app);
    let token = app.shutdown.clone();
    let router = router(app.clone());
    let served = axum::serve(listener, router.into_make_service_with_connect_info::<std::net::SocketAddr>())
        .with_graceful_shutdown(async move {
            tokio::select! {
                () = shutdown => {}
                () = token.cancelled() => {}
            }
        })
        .await;
    app.shutdown.cancel();
    for worker in workers {
        let _ = worker.await;
    }
    app.store.close().await;
    served
}

trait IntoResponseAny {
    fn into_response_any(self) -> axum::response::Response;
}

impl IntoResponseAny for crate::error::ApiError {
    fn into_response_any(self) -> axum::response::Response {
        axum::response::IntoResponse::into_response(self)
    }
}
