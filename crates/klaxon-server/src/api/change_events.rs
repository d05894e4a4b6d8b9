//! Change events, read side: `GET /change_events`, `GET /change_events/{id}`,
//! `GET /services/{id}/change_events` and `GET /incidents/{id}/related_change_events` (the incident's
//! service's changes in the [`RELATED_WINDOW_HOURS`] hours before the incident, each with a
//! `correlation_reason`). Change events arrive through `POST /v2/change/enqueue` (see `crate::events`).

use crate::error::{ApiError, ApiResult};
use crate::extract::{Auth, Params};
use crate::render::{Pagination, Reference, json_or_null};
use crate::state::App;
use axum::Json;
use axum::extract::{Path, State};
use klaxon_core::page::{PageRequest, split_page};
use klaxon_store::change_events::{ChangeEventFilter, ChangeEventRow};
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

/// How far before an incident its service's changes count as related.
pub const RELATED_WINDOW_HOURS: i64 = 4;

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ChangeEventBody {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub summary: String,
    #[serde(rename = "self")]
    pub self_url: String,
    pub html_url: Option<String>,
    pub timestamp: String,
    pub source: Option<String>,
    #[schema(value_type = Object)]
    pub custom_details: Value,
    #[schema(value_type = Vec<Object>)]
    pub links: Vec<Value>,
    #[schema(value_type = Vec<Object>)]
    pub images: Vec<Value>,
    pub services: Vec<Reference>,
    pub integration: Option<Reference>,
    /// Only on related change events: why the change is related (`{"reason":"same_service"}`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub correlation_reason: Option<Value>,
}

#[derive(Serialize, ToSchema)]
pub struct ChangeEventList {
    pub change_events: Vec<ChangeEventBody>,
    #[serde(flatten)]
    pub pagination: Pagination,
}

#[derive(Serialize, ToSchema)]
pub struct ChangeEventWrapper {
    pub change_event: ChangeEventBody,
}

#[derive(Serialize, ToSchema)]
pub struct RelatedChangeEvents {
    pub change_events: Vec<ChangeEventBody>,
}

pub fn routes() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(list_change_events))
        .routes(routes!(get_change_event))
        .routes(routes!(list_service_change_events))
        .routes(routes!(related_change_events))
}

fn render(app: &App, row: ChangeEventRow) -> ChangeEventBody {
    let array = |text: &str| match serde_json::from_str::<Value>(text) {
        Ok(Value::Array(items)) => items,
        _ => Vec::new(),
    };
    ChangeEventBody {
        self_url: app.self_url("change_events", &row.id),
        html_url: None,
        kind: "change_event",
        summary: row.summary,
        timestamp: crate::render::time(row.event_timestamp),
        source: row.source,
        custom_details: json_or_null(row.custom_details.as_deref()),
        links: array(&row.links),
        images: array(&row.images),
        services: vec![app.reference("service", "services", &row.service_id, row.service_name)],
        integration: row.integration_id.map(|id| {
            let name = row.integration_name.unwrap_or_default();
            app.reference("inbound_integration", &format!("services/{}/integrations", row.service_id), &id, name)
        }),
        correlation_reason: None,
        id: row.id,
    }
}

fn time_param(params: &Params, name: &str) -> ApiResult<Option<i64>> {
    match params.get(name) {
        None => Ok(None),
        Some(raw) => klaxon_core::time::parse_timestamp(raw)
            .map(|t| Some(t.as_millisecond()))
            .map_err(|_| ApiError::field(name, "is not an ISO 8601 date-time")),
    }
}

async fn list(app: &App, params: &Params, service_id: Option<String>) -> ApiResult<Json<ChangeEventList>> {
    let page: PageRequest = params.page()?;
    let filter = ChangeEventFilter {
        since_ms: time_param(params, "since")?,
        until_ms: time_param(params, "until")?,
        service_ids: service_id.into_iter().collect(),
        integration_ids: params.list("integration_ids"),
        team_ids: params.list("team_ids"),
    };
    let (rows, total) = app.store.change_events(&filter, &page).await?;
    let (rows, more) = split_page(rows, &page);
    let change_events = rows.into_iter().map(|r| render(app, r)).collect();
    Ok(Json(ChangeEventList { change_events, pagination: Pagination::new(&page, more, total) }))
}

/// List change events, newest first.
#[utoipa::path(get, path = "/change_events", tag = "Change Events",
    params(("since" = Option<String>, Query), ("until" = Option<String>, Query),
        ("integration_ids[]" = Option<Vec<String>>, Query), ("team_ids[]" = Option<Vec<String>>, Query),
        ("limit" = Option<u32>, Query), ("offset" = Option<u32>, Query), ("total" = Option<bool>, Query)),
    responses((status = 200, body = ChangeEventList)))]
pub async fn list_change_events(
    State(app): State<App>,
    _auth: Auth,
    params: Params,
) -> ApiResult<Json<ChangeEventList>> {
    list(&app, &params, None).await
}

/// Get one change event.
#[utoipa::path(get, path = "/change_events/{id}", tag = "Change Events",
    params(("id" = String, Path)),
    responses((status = 200, body = ChangeEventWrapper), (status = 404)))]
pub async fn get_change_event(
    State(app): State<App>,
    _auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<ChangeEventWrapper>> {
    let row = app.store.change_event(&id).await?.ok_or_else(|| ApiError::not_found("Change event"))?;
    Ok(Json(ChangeEventWrapper { change_event: render(&app, row) }))
}

/// List a service's change events, newest first.
#[utoipa::path(get, path = "/services/{id}/change_events", tag = "Change Events",
    params(("id" = String, Path), ("since" = Option<String>, Query), ("until" = Option<String>, Query),
        ("integration_ids[]" = Option<Vec<String>>, Query), ("team_ids[]" = Option<Vec<String>>, Query),
        ("limit" = Option<u32>, Query), ("offset" = Option<u32>, Query), ("total" = Option<bool>, Query)),
    responses((status = 200, body = ChangeEventList), (status = 404)))]
pub async fn list_service_change_events(
    State(app): State<App>,
    _auth: Auth,
    Path(id): Path<String>,
    params: Params,
) -> ApiResult<Json<ChangeEventList>> {
    if !app.store.change_events_service_exists(&id).await? {
        return Err(ApiError::not_found("Service"));
    }
    list(&app, &params, Some(id)).await
}

/// The incident's service's change events in the hours before the incident.
#[utoipa::path(get, path = "/incidents/{id}/related_change_events", tag = "Change Events",
    params(("id" = String, Path)),
    responses((status = 200, body = RelatedChangeEvents), (status = 404)))]
pub async fn related_change_events(
    State(app): State<App>,
    _auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<RelatedChangeEvents>> {
    let (service_id, started) =
        app.store.change_events_incident_anchor(&id).await?.ok_or_else(|| ApiError::not_found("Incident"))?;
    let filter = ChangeEventFilter {
        since_ms: Some(started - RELATED_WINDOW_HOURS * 3_600_000),
        until_ms: Some(started + 1),
        service_ids: vec![service_id],
        ..Default::default()
    };
    let page = PageRequest { limit: 99, offset: 0, want_total: false };
    let (rows, _) = app.store.change_events(&filter, &page).await?;
    let change_events = rows
        .into_iter()
        .map(|r| {
            let mut body = render(&app, r);
            body.correlation_reason = Some(json!({"reason": "same_service"}));
            body
        })
        .collect();
    Ok(Json(RelatedChangeEvents { change_events }))
}
