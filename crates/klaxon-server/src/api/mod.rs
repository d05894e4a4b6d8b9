//! The PagerDuty-compatible REST API, one module per resource. Every route is registered through
//! `utoipa_axum::routes!`, which documents it in the OpenAPI document as it routes it: a route cannot
//! exist undocumented.

use crate::app::App;
use utoipa::OpenApi;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa_axum::router::OpenApiRouter;

pub mod abilities;
pub mod change_events;
pub mod config_common;
pub mod escalation_policies;
pub mod incidents;
pub mod maintenance_windows;
pub mod priorities;
pub mod services;
pub mod teams;
pub mod users;
pub mod vendors;

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
        .merge(abilities::routes())
        .merge(incidents::routes())
        .merge(priorities::routes())
        .merge(users::routes())
        .merge(teams::routes())
        .merge(escalation_policies::routes())
        .merge(services::routes())
        .merge(maintenance_windows::routes())
        .merge(vendors::routes())
        .merge(change_events::routes())
        .merge(crate::events::routes())
}

/// The OpenAPI document as served at `/openapi.json`.
pub fn openapi_document() -> utoipa::openapi::OpenApi {
    openapi_router().split_for_parts().1
}

/// The OpenAPI document rendered once per process (it never changes while running).
pub fn openapi_json() -> &'static str {
    static RENDERED: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    RENDERED.get_or_init(|| openapi_document().to_pretty_json().unwrap_or_else(|_| "{}".into()))
}

/// Starts the background workers (event processing, timers) that live as long as the server.
pub fn spawn_workers(app: &App) -> Vec<tokio::task::JoinHandle<()>> {
    let mut workers = Vec::new();
    workers.extend(crate::events::ingest::spawn_writer(app));
    workers.push(crate::events::processor::spawn(app));
    workers.push(crate::jobs::spawn_worker(app));
    workers
}

#[cfg(test)]
mod tests {
    /// The committed `openapi.json` at the repository root must match what the handlers generate, so API
    /// changes show up in review. `KLAXON_BLESS=1 cargo test -p klaxon-server openapi` rewrites it.
    #[test]
    fn openapi_document_matches_the_committed_copy() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../openapi.json");
        let generated = format!("{}\n", super::openapi_json());
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
