//! Operational endpoints, open without an API key: `/healthz` (the process is up and migrated: the port
//! only opens after migrations), `/readyz` (the database answers now), `/metrics` (Prometheus) and
//! `/openapi.json` (this API's OpenAPI document, served by the router that builds it). They are
//! documented like every other route.

use crate::state::App;
use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn routes() -> OpenApiRouter<App> {
    OpenApiRouter::new().routes(routes!(healthz)).routes(routes!(readyz)).routes(routes!(metrics))
}

#[derive(Serialize, ToSchema)]
pub struct Health {
    /// `ok`, `ready` or `unavailable`.
    pub status: &'static str,
}

/// Liveness: 200 once the server listens, which happens only after migrations ran.
#[utoipa::path(get, path = "/healthz", tag = "Operations", security(()), responses((status = 200, body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// Readiness: 200 when the database answers now, 503 otherwise.
#[utoipa::path(get, path = "/readyz", tag = "Operations", security(()),
    responses((status = 200, body = Health), (status = 503, body = Health)))]
pub async fn readyz(State(app): State<App>) -> Response {
    match app.store.ping().await {
        Ok(()) => Json(Health { status: "ready" }).into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            (StatusCode::SERVICE_UNAVAILABLE, Json(Health { status: "unavailable" })).into_response()
        }
    }
}

/// Prometheus metrics (OpenMetrics text): requests by route and status, latency histograms, pool figures.
#[utoipa::path(get, path = "/metrics", tag = "Operations", security(()),
    responses((status = 200, description = "OpenMetrics text", content_type = "application/openmetrics-text")))]
pub async fn metrics(State(app): State<App>) -> Response {
    let stats = app.store.pool_stats();
    app.metrics.db_pool_connections.set(i64::from(stats.size));
    app.metrics.db_pool_idle.set(i64::from(stats.idle));
    app.metrics.sync_store(&app.store);
    ([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], app.metrics.render())
        .into_response()
}
