//! Operational endpoints, open without an API key: `/healthz` (the process is up and migrated: the port
//! only opens after migrations), `/readyz` (the database answers now), `/metrics`, `/openapi.json`.

use crate::app::App;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use std::sync::Arc;

pub fn routes(openapi_json: Arc<String>) -> Router<App> {
    Router::new().route("/healthz", get(healthz)).route("/readyz", get(readyz)).route("/metrics", get(metrics)).route(
        "/openapi.json",
        get(move || {
            let body = openapi_json.clone();
            async move { ([(header::CONTENT_TYPE, "application/json")], body.as_str().to_owned()) }
        }),
    )
}

async fn healthz() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

async fn readyz(State(app): State<App>) -> Response {
    match app.store.ping().await {
        Ok(()) => Json(json!({"status": "ready"})).into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            (StatusCode::SERVICE_UNAVAILABLE, Json(json!({"status": "unavailable", "reason": "database"})))
                .into_response()
        }
    }
}

async fn metrics(State(app): State<App>) -> Response {
    let stats = app.store.pool_stats();
    app.metrics.db_pool_connections.set(i64::from(stats.size));
    app.metrics.db_pool_idle.set(i64::from(stats.idle));
    ([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], app.metrics.render())
        .into_response()
}
