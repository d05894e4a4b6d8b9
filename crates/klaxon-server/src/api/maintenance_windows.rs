//! `/maintenance_windows`: spans during which the covered services open no incidents.
//! Creating needs a requester (`From` with account keys). A start in the past becomes now; the end must
//! be after the start and in the future. Deleting a future window removes it, an ongoing one ends now,
//! and a past one is refused with code 5003.

use super::config_common::{check, type_is};
use crate::error::{ApiError, ApiResult};
use crate::extract::{Auth, JsonBody, Params, Patch};
use crate::render::{IdRef, Pagination, team_object, team_ref, time, to_value, user_object, user_ref};
use crate::state::App;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use klaxon_core::page::split_page;
use klaxon_core::role::Action;
use klaxon_core::time::parse_timestamp;
use klaxon_store::maintenance_windows::{MaintenanceWindow, WindowDeletion, WindowFields, WindowFilter, WindowTime};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn routes() -> OpenApiRouter<App> {
    OpenApiRouter::new().routes(routes!(list_windows, create_window)).routes(routes!(
        get_window,
        update_window,
        delete_window
    ))
}

#[derive(Clone, Debug, Deserialize, ToSchema)]
pub struct WindowBody {
    pub maintenance_window: Option<WindowInput>,
}

#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
pub struct WindowInput {
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub start_time: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub end_time: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub description: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<Vec<IdRef>>)]
    pub services: Patch<Vec<IdRef>>,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct WindowOut {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub summary: String,
    #[serde(rename = "self")]
    pub self_url: String,
    pub html_url: Option<String>,
    pub sequence_number: i64,
    pub start_time: String,
    pub end_time: String,
    pub description: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub created_by: Value,
    #[schema(value_type = Vec<Object>)]
    pub services: Vec<Value>,
    #[schema(value_type = Vec<Object>)]
    pub teams: Vec<Value>,
}

#[derive(Serialize, ToSchema)]
pub struct WindowResponse {
    pub maintenance_window: WindowOut,
}

#[derive(Serialize, ToSchema)]
pub struct WindowList {
    pub maintenance_windows: Vec<WindowOut>,
    #[serde(flatten)]
    pub pagination: Pagination,
}

#[derive(Clone, Copy, Default)]
struct WindowIncludes {
    services: bool,
    teams: bool,
    users: bool,
}

impl WindowIncludes {
    fn from(params: &Params) -> ApiResult<Self> {
        params.check_includes(&["services", "teams", "users"])?;
        Ok(Self {
            services: params.includes("services"),
            teams: params.includes("teams"),
            users: params.includes("users"),
        })
    }
}

async fn render(app: &App, w: MaintenanceWindow, include: WindowIncludes) -> ApiResult<WindowOut> {
    let row = w.row;
    let mut services = Vec::with_capacity(w.services.len());
    for (id, name) in &w.services {
        if include.services
            && let Some(s) = app.store.service(id, true, app.now_ms()).await?
        {
            services.push(to_value(crate::render::services::render_service(app, s, Default::default()).await?));
            continue;
        }
        services.push(to_value(app.reference("service", "services", id, name.clone())));
    }
    let teams = w
        .teams
        .iter()
        .map(|(id, name)| if include.teams { team_object(app, id, name) } else { to_value(team_ref(app, id, name)) })
        .collect();
    let created_by = match &row.created_by {
        Some(user_id) if include.users => user_object(app, user_id).await?,
        Some(user_id) => to_value(user_ref(app, user_id, w.created_by_name.as_deref())),
        None => Value::Null,
    };
    Ok(WindowOut {
        self_url: app.self_url("maintenance_windows", &row.id),
        html_url: Some(app.html_url("maintenance_windows", &row.id)),
        kind: "maintenance_window",
        summary: row.description.clone().unwrap_or_else(|| format!("Maintenance window #{}", row.sequence_number)),
        sequence_number: row.sequence_number,
        start_time: time(row.start_time),
        end_time: time(row.end_time),
        description: row.description,
        created_by,
        services,
        teams,
        id: row.id,
    })
}

fn instant(value: &str, field: &str, errors: &mut Vec<String>) -> Option<i64> {
    match parse_timestamp(value) {
        Ok(ts) => Some(ts.as_millisecond()),
        Err(_) => {
            errors.push(format!("{field} is not an ISO 8601 date-time"));
            None
        }
    }
}

async fn validate(app: &App, input: WindowInput, existing: Option<&MaintenanceWindow>) -> ApiResult<WindowFields> {
    let now = app.now_ms();
    let mut errors = Vec::new();
    let cur = existing.map(|w| &w.row);
    let start = match &input.start_time {
        Patch::Value(s) => instant(s, "maintenance_window.start_time", &mut errors).map(|t| {
            // A start in the past becomes now (an unchanged start of an existing window stays).
            if t < now && cur.is_none_or(|c| c.start_time != t) { now } else { t }
        }),
        Patch::Absent if cur.is_some() => cur.map(|c| c.start_time),
        _ => {
            errors.push("maintenance_window.start_time is required".into());
            None
        }
    };
    let end = match &input.end_time {
        Patch::Value(s) => {
            let end = instant(s, "maintenance_window.end_time", &mut errors);
            if end.is_some_and(|e| e <= now) {
                errors.push("maintenance_window.end_time must be in the future".into());
            }
            end
        }
        Patch::Absent if cur.is_some() => cur.map(|c| c.end_time),
        _ => {
            errors.push("maintenance_window.end_time is required".into());
            None
        }
    };
    if let (Some(s), Some(e)) = (start, end)
        && e <= s
    {
        errors.push("maintenance_window.end_time must be after start_time".into());
    }
    let description = match input.description.sent() {
        Some(d) => d,
        None => cur.and_then(|c| c.description.clone()),
    };
    let service_ids = match input.services {
        Patch::Value(refs) => {
            if refs.is_empty() {
                errors.push("maintenance_window.services must have at least one service".into());
            }
            let mut ids: Vec<String> = Vec::new();
            for (i, r) in refs.iter().enumerate() {
                if !type_is(&r.kind, "service") {
                    errors.push(format!("maintenance_window.services[{i}].type must be service_reference"));
                } else if !ids.contains(&r.id) {
                    ids.push(r.id.clone());
                }
            }
            if !ids.is_empty() {
                let live = app.store.live_services_named(&ids).await?;
                for (i, r) in refs.iter().enumerate() {
                    if ids.contains(&r.id) && !live.iter().any(|(id, _)| *id == r.id) {
                        errors.push(format!("maintenance_window.services[{i}].id {} not found", r.id));
                    }
                }
            }
            ids
        }
        Patch::Absent if existing.is_some() => {
            existing.map(|w| w.services.iter().map(|s| s.0.clone()).collect()).unwrap_or_default()
        }
        _ => {
            errors.push("maintenance_window.services is required".into());
            Vec::new()
        }
    };
    check(errors)?;
    Ok(WindowFields { description, start_time: start.unwrap_or(now), end_time: end.unwrap_or(now), service_ids })
}

async fn load(app: &App, id: &str) -> ApiResult<MaintenanceWindow> {
    app.store.maintenance_window(id).await?.ok_or_else(|| ApiError::not_found("Maintenance Window"))
}

/// List maintenance windows.
#[utoipa::path(get, path = "/maintenance_windows", tag = "Maintenance Windows",
    params(("filter" = Option<String>, Query, description = "past, future, ongoing, open (ongoing + future) or all"),
           ("service_ids[]" = Option<Vec<String>>, Query), ("team_ids[]" = Option<Vec<String>>, Query),
           ("query" = Option<String>, Query, description = "Case-insensitive description search"),
           ("include[]" = Option<Vec<String>>, Query, description = "services, teams, users"),
           ("limit" = Option<u32>, Query), ("offset" = Option<u32>, Query), ("total" = Option<bool>, Query)),
    responses((status = 200, body = WindowList), (status = 400, description = "Bad parameter")))]
pub async fn list_windows(State(app): State<App>, _auth: Auth, params: Params) -> ApiResult<Json<WindowList>> {
    let page = params.page()?;
    let include = WindowIncludes::from(&params)?;
    let time = match params.get("filter") {
        None | Some("all") => WindowTime::All,
        Some("past") => WindowTime::Past,
        Some("future") => WindowTime::Future,
        Some("ongoing") => WindowTime::Ongoing,
        Some("open") => WindowTime::Open,
        Some(_) => return Err(ApiError::field("filter", "must be past, future, ongoing, open or all")),
    };
    let filter = WindowFilter {
        time,
        service_ids: params.list("service_ids"),
        team_ids: params.list("team_ids"),
        query: params.get("query").map(String::from),
    };
    let (rows, total) = app
        .store
        .list_maintenance_windows(&filter, page.fetch_limit(), i64::from(page.offset), page.want_total, app.now_ms())
        .await?;
    let (rows, more) = split_page(rows, &page);
    let mut maintenance_windows = Vec::with_capacity(rows.len());
    for w in rows {
        maintenance_windows.push(render(&app, w, include).await?);
    }
    Ok(Json(WindowList { maintenance_windows, pagination: Pagination::new(&page, more, total) }))
}

/// Create a maintenance window. Needs `From` with account keys.
#[utoipa::path(post, path = "/maintenance_windows", tag = "Maintenance Windows", request_body = WindowBody,
    responses((status = 201, body = WindowResponse), (status = 400, description = "Invalid input or missing From"),
              (status = 403, description = "Not allowed to configure")))]
pub async fn create_window(
    State(app): State<App>,
    auth: Auth,
    JsonBody(body): JsonBody<WindowBody>,
) -> ApiResult<(StatusCode, Json<WindowResponse>)> {
    auth.require(&Action::Configure)?;
    let requester = auth.requester()?.id.clone();
    let input = body.maintenance_window.ok_or_else(|| ApiError::field("maintenance_window", "is required"))?;
    let fields = validate(&app, input, None).await?;
    let id = app.store.create_maintenance_window(&fields, Some(&requester), app.now_ms()).await?;
    let window = render(&app, load(&app, &id).await?, WindowIncludes::default()).await?;
    Ok((StatusCode::CREATED, Json(WindowResponse { maintenance_window: window })))
}

/// Get a maintenance window.
#[utoipa::path(get, path = "/maintenance_windows/{id}", tag = "Maintenance Windows",
    params(("id" = String, Path), ("include[]" = Option<Vec<String>>, Query, description = "services, teams, users")),
    responses((status = 200, body = WindowResponse), (status = 404, description = "No such window")))]
pub async fn get_window(
    State(app): State<App>,
    _auth: Auth,
    Path(id): Path<String>,
    params: Params,
) -> ApiResult<Json<WindowResponse>> {
    let include = WindowIncludes::from(&params)?;
    let window = render(&app, load(&app, &id).await?, include).await?;
    Ok(Json(WindowResponse { maintenance_window: window }))
}

/// Update a maintenance window's times, description or services.
#[utoipa::path(put, path = "/maintenance_windows/{id}", tag = "Maintenance Windows", request_body = WindowBody,
    params(("id" = String, Path)),
    responses((status = 200, body = WindowResponse), (status = 400, description = "Invalid input"),
              (status = 403, description = "Not allowed to configure"), (status = 404, description = "No such window")))]
pub async fn update_window(
    State(app): State<App>,
    auth: Auth,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<WindowBody>,
) -> ApiResult<Json<WindowResponse>> {
    auth.require(&Action::Configure)?;
    let existing = load(&app, &id).await?;
    let input = body.maintenance_window.ok_or_else(|| ApiError::field("maintenance_window", "is required"))?;
    let fields = validate(&app, input, Some(&existing)).await?;
    app.store.update_maintenance_window(&id, &fields).await?;
    let window = render(&app, load(&app, &id).await?, WindowIncludes::default()).await?;
    Ok(Json(WindowResponse { maintenance_window: window }))
}

/// Delete (future), end now (ongoing) or refuse (past, code 5003) a maintenance window.
#[utoipa::path(delete, path = "/maintenance_windows/{id}", tag = "Maintenance Windows",
    params(("id" = String, Path)),
    responses((status = 204, description = "Deleted or ended"),
              (status = 400, description = "Cannot cancel a maintenance window from the past (5003)"),
              (status = 403, description = "Not allowed to configure"), (status = 404, description = "No such window")))]
pub async fn delete_window(State(app): State<App>, auth: Auth, Path(id): Path<String>) -> ApiResult<StatusCode> {
    auth.require(&Action::Configure)?;
    match app.store.delete_maintenance_window(&id, app.now_ms()).await? {
        WindowDeletion::Deleted | WindowDeletion::Ended => Ok(StatusCode::NO_CONTENT),
        WindowDeletion::Past => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            5003,
            "Cannot cancel a maintenance window from the past",
            vec!["Cannot cancel a maintenance window from the past".into()],
        )),
    }
}
