//! The router: every route of the server, built from the handler modules (`api/`, `events`, `health`),
//! and the OpenAPI document generated from them. Every route is registered through
//! `utoipa_axum::routes!`, which documents it as it routes it: a route cannot exist undocumented.
//!
//! Layering: this module depends on the handlers and the state; no handler depends on it
//! (`tests/layers.rs` checks it). A new entry point (a web page, a callback) gets a module of its own
//! and is merged here.

use crate::api;
use crate::state::App;
use axum::Router;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Klaxon API",
        description = "Klaxon's REST API and Events API, wire-compatible with PagerDuty's. Send an API key as \
                       `Authorization: Token token=<key>` or `Authorization: Bearer <key>`.",
        version = "2.0.0"
    ),
    modifiers(&SecurityAddon),
    security(("api_key" = []))
)]
pub struct ApiDoc;

struct SecurityAddon;

impl utoipa::Modify for SecurityAddon {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components
            .add_security_scheme("api_key", SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("Authorization"))));
    }
}

/// Every documented route.
pub fn openapi_router() -> OpenApiRouter<App> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(crate::health::routes())
        .routes(routes!(openapi_json))
        .merge(api::abilities::routes())
        .merge(api::incidents::routes())
        .merge(api::priorities::routes())
        .merge(api::users::routes())
        .merge(api::oncall_handoff_rules::routes())
        .merge(api::teams::routes())
        .merge(api::escalation_policies::routes())
        .merge(api::schedules::routes())
        .merge(api::oncalls::routes())
        .merge(api::notifications::routes())
        .merge(api::ical::routes())
        .merge(api::services::routes())
        .merge(api::maintenance_windows::routes())
        .merge(api::vendors::routes())
        .merge(api::change_events::routes())
        .merge(crate::events::routes())
}

/// The OpenAPI document as served at `/openapi.json`.
pub fn openapi_document() -> utoipa::openapi::OpenApi {
    openapi_router().split_for_parts().1
}

/// The OpenAPI document rendered once per process (it never changes while running).
pub fn openapi_text() -> &'static str {
    static RENDERED: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    RENDERED.get_or_init(|| openapi_document().to_pretty_json().unwrap_or_else(|_| "{}".into()))
}

/// This API's OpenAPI document.
#[utoipa::path(get, path = "/openapi.json", tag = "Operations", security(()),
    responses((status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json")))]
pub async fn openapi_json() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], openapi_text().to_string()).into_response()
}

/// The router: every documented route, plus PagerDuty-shaped 404/405 fallbacks and the common layers.
pub fn router(app: App) -> Router {
    let (api, _openapi) = openapi_router().split_for_parts();
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

trait IntoResponseAny {
    fn into_response_any(self) -> axum::response::Response;
}

impl IntoResponseAny for crate::error::ApiError {
    fn into_response_any(self) -> axum::response::Response {
        axum::response::IntoResponse::into_response(self)
    }
}

#[cfg(test)]
mod tests {
    /// The committed `openapi.json` at the repository root must match what the handlers generate, so API
    /// changes show up in review. `KLAXON_BLESS=1 cargo test -p klaxon-server openapi` rewrites it.
    #[test]
    fn openapi_document_matches_the_committed_copy() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../openapi.json");
        let generated = format!("{}\n", super::openapi_text());
        if std::env::var_os("KLAXON_BLESS").is_some() {
            std::fs::write(&path, &generated).expect("write openapi.json");
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == generated,
            "openapi.json is stale: run `KLAXON_BLESS=1 cargo test -p klaxon-server openapi` and commit it"
        );
    }

    #[test]
    fn every_operation_is_tagged_and_summarized() {
        let doc = super::openapi_document();
        for (path, item) in doc.paths.paths.iter() {
            for (method, op) in [("get", &item.get), ("post", &item.post), ("put", &item.put), ("delete", &item.delete)]
            {
                if let Some(op) = op {
                    assert!(op.tags.as_ref().is_some_and(|t| !t.is_empty()), "{method} {path} has no tag");
                    assert!(op.summary.is_some() || op.description.is_some(), "{method} {path} has no doc comment");
                }
            }
        }
    }
}
