//! The PagerDuty-compatible REST API, one module per resource. Every route is registered through
//! `utoipa_axum::routes!`, which documents it in the OpenAPI document as it routes it: a route cannot
//! exist undocumented.

use crate::app::App;
use utoipa::OpenApi;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa_axum::router::OpenApiRouter;

pub mod abilities;
pub mod priorities;

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
    OpenApiRouter::with_openapi(ApiDoc::openapi()).merge(abilities::routes()).merge(priorities::routes())
}

/// The OpenAPI document as served at `/openapi.json`.
pub fn openapi_document() -> utoipa::openapi::OpenApi {
    openapi_router().split_for_parts().1
}

/// Starts the background workers (event processing, timers) that live as long as the server.
pub fn spawn_workers(app: &App) -> Vec<tokio::task::JoinHandle<()>> {
    vec![crate::jobs::spawn_worker(app)]
}
