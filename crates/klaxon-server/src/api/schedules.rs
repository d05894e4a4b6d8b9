//! `/schedules`: on-call schedules in PagerDuty's v2 layer model, their overrides, and previews.
//!
//! A schedule's layers are replaced as a whole when `schedule_layers` is sent on PUT (in one transaction);
//! a layer sent with the id of one of this schedule's layers keeps it, any other gets a new one. Layers
//! keep the order they were sent in (a later layer beats an earlier one). Rendering and the layer rules
//! are `klaxon_core::schedule`'s; this module reads the wire, names the field of every problem, and prints
//! instants in the requested `time_zone` (default: the schedule's).
//!
//! Overrides follow PagerDuty: `POST /schedules/{id}/overrides` takes `{"overrides":[…]}` and answers 201
//! with a top-level array of per-item results (valid items are created even when others fail), or the
//! legacy `{"override":{…}}`; the newest override wins where overrides overlap; `DELETE` deletes a future
//! override (204), truncates one in progress to now (200) and refuses a past one (400).

use super::config_common::{check, name_and_description, resolve_teams, type_is};
use crate::error::{ApiError, ApiResult};
use crate::extract::{Auth, JsonBody, Params, Patch};
use crate::render::schedules::{
    OverrideOut, RenderOptions, ScheduleOut, final_entries, next_oncall, override_window, render_override,
    render_schedule,
};
use crate::render::{IdRef, Pagination, user_object};
use crate::state::App;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use jiff::tz::TimeZone;
use klaxon_core::page::split_page;
use klaxon_core::role::Action;
use klaxon_core::schedule::{self as rules, Window};
use klaxon_store::calendar_feeds::FeedOwner;
use klaxon_store::schedules::{
    LayerRow, NewLayer, NewOverride, OverrideRemoval, RestrictionRow, Schedule, ScheduleFields, ScheduleFilter,
    ScheduleRow, StoredLayer,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn routes() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(list_schedules, create_schedule))
        .routes(routes!(preview_schedule))
        .routes(routes!(get_schedule, update_schedule, delete_schedule))
        .routes(routes!(schedule_users))
        .routes(routes!(list_overrides, create_overrides))
        .routes(routes!(delete_override))
}

/// Two weeks: the default reach of a window from the bound that was given (or from now).
const TWO_WEEKS_MS: i64 = 14 * 24 * 3600 * 1000;

#[derive(Clone, Debug, Deserialize, ToSchema)]
pub struct ScheduleBody {
    pub schedule: Option<ScheduleInput>,
}

/// A schedule as sent on create, update and preview. Every field is optional on update.
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
pub struct ScheduleInput {
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub name: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub description: Patch<String>,
    /// IANA zone; restrictions and whole-day turns are read in it.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub time_zone: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<Vec<LayerInput>>)]
    pub schedule_layers: Patch<Vec<LayerInput>>,
    #[serde(default)]
    #[schema(value_type = Option<Vec<IdRef>>)]
    pub teams: Patch<Vec<IdRef>>,
}

#[derive(Clone, Debug, Deserialize, ToSchema)]
pub struct LayerInput {
    /// On update, the id of an existing layer of this schedule keeps that id.
    pub id: Option<String>,
    pub name: Option<String>,
    pub start: Option<String>,
    /// Null: open-ended.
    pub end: Option<String>,
    pub rotation_virtual_start: Option<String>,
    pub rotation_turn_length_seconds: Option<i64>,
    pub users: Option<Vec<LayerUserInput>>,
    pub restrictions: Option<Vec<RestrictionInput>>,
}

/// `{"user": {"id": …, "type": "user" | "user_reference"}}`.
#[derive(Clone, Debug, Deserialize, ToSchema)]
pub struct LayerUserInput {
    pub user: Option<UserRefInput>,
}

#[derive(Clone, Debug, Deserialize, ToSchema)]
pub struct UserRefInput {
    pub id: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
}

#[derive(Clone, Debug, Deserialize, ToSchema)]
pub struct RestrictionInput {
    /// `daily_restriction` or `weekly_restriction`.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// `HH:MM:SS` in the schedule's zone.
    pub start_time_of_day: Option<String>,
    /// ISO weekday, 1 (Monday) to 7; weekly restrictions only.
    pub start_day_of_week: Option<i64>,
    pub duration_seconds: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct ScheduleResponse {
    pub schedule: ScheduleOut,
}

#[derive(Serialize, ToSchema)]
pub struct ScheduleList {
    pub schedules: Vec<ScheduleOut>,
    #[serde(flatten)]
    pub pagination: Pagination,
}

#[derive(Serialize, ToSchema)]
pub struct ScheduleUsers {
    #[schema(value_type = Vec<Object>)]
    pub users: Vec<Value>,
}

#[derive(Serialize, ToSchema)]
pub struct OverrideList {
    pub overrides: Vec<OverrideOut>,
}

#[derive(Serialize, ToSchema)]
pub struct OverrideResponse {
    #[serde(rename = "override")]
    pub override_: OverrideOut,
}

/// `{"overrides": [...]}` (answered with one result per item) or the legacy `{"override": {...}}`.
#[derive(Clone, Debug, Deserialize, ToSchema)]
pub struct OverridesBody {
    /// Items `{start, end, user: {id, type}, time_zone?}`.
    #[schema(value_type = Option<Vec<Object>>)]
    pub overrides: Option<Vec<Value>>,
    #[serde(rename = "override")]
    #[schema(value_type = Option<Object>)]
    pub single: Option<Value>,
}

#[derive(Clone, Debug, Deserialize)]
struct OverrideInput {
    start: Option<String>,
    end: Option<String>,
    user: Option<UserRefInput>,
    /// The zone the answer prints this override's times in (default: the schedule's).
    time_zone: Option<String>,
}

// ---- query parameters -----------------------------------------------------------------------------------

/// `time_zone`, or the default (the schedule's own).
fn zone_param(params: &Params, default: &str) -> ApiResult<TimeZone> {
    let name = params.get("time_zone").unwrap_or(default);
    TimeZone::get(name).map_err(|_| ApiError::field("time_zone", &format!("'{name}' is not an IANA time zone")))
}

/// The window of `since`/`until`: each defaults to two weeks from the other, or `since` to now. The flag
/// says whether either was given (coverage percentages are rendered only then).
fn window_params(app: &App, params: &Params) -> ApiResult<(Window, bool)> {
    let (since, until) = (params.instant("since")?, params.instant("until")?);
    let given = since.is_some() || until.is_some();
    let (since, until) = match (since, until) {
        (Some(s), Some(u)) => (s, u),
        (Some(s), None) => (s, s.saturating_add(TWO_WEEKS_MS)),
        (None, Some(u)) => (u.saturating_sub(TWO_WEEKS_MS), u),
        (None, None) => {
            let now = app.now_ms();
            (now, now.saturating_add(TWO_WEEKS_MS))
        }
    };
    if until <= since {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            2004,
            "Invalid since/until",
            vec!["until must be after since".into()],
        ));
    }
    Ok((Window { since, until }, given))
}

/// Rendering options of a single-schedule answer: every part, the window, `overflow`, `time_zone`.
fn full_options(app: &App, params: &Params, schedule_zone: &str) -> ApiResult<RenderOptions> {
    let (window, coverage) = window_params(app, params)?;
    Ok(RenderOptions {
        window,
        zone: zone_param(params, schedule_zone)?,
        overflow: params.bool("overflow")?.unwrap_or(false),
        coverage,
        layers: true,
        overrides_subschedule: true,
        final_schedule: true,
        teams: false,
    })
}

// ---- validation -------------------------------------------------------------------------------------------

/// An instant field: parsed, or a problem pushed. `None` when absent (and not required) or bad.
fn instant(field: &str, raw: Option<&str>, required: bool, errors: &mut Vec<String>) -> Option<i64> {
    match raw.map(str::trim) {
        None | Some("") => {
            if required {
                errors.push(format!("{field} is required"));
            }
            None
        }
        Some(raw) => match klaxon_core::time::parse_timestamp(raw) {
            Ok(t) => Some(t.as_millisecond()),
            Err(e) => {
                errors.push(format!("{field} {e}"));
                None
            }
        },
    }
}

/// A user reference `{id, type}` naming a live user: `(id, name)`, or a problem pushed.
async fn live_user(
    app: &App,
    user: Option<&UserRefInput>,
    field: &str,
    errors: &mut Vec<String>,
) -> ApiResult<Option<(String, String)>> {
    let Some(user) = user else {
        errors.push(format!("{field} is required"));
        return Ok(None);
    };
    if !type_is(&user.kind, "user") {
        errors.push(format!("{field}.type must be user or user_reference"));
        return Ok(None);
    }
    let Some(id) = user.id.as_deref().map(str::trim).filter(|s| !s.is_empty()) else {
        errors.push(format!("{field}.id is required"));
        return Ok(None);
    };
    match app.store.user(id).await? {
        Some(u) => Ok(Some((u.id, u.name))),
        None => {
            errors.push(format!("{field}.id {id} not found"));
            Ok(None)
        }
    }
}

fn restriction(r: &RestrictionInput, field: &str, errors: &mut Vec<String>) -> Option<RestrictionRow> {
    let before = errors.len();
    let kind = match r.kind.as_deref() {
        Some(k @ ("daily_restriction" | "weekly_restriction")) => k.to_string(),
        None => {
            errors.push(format!("{field}.type is required"));
            String::new()
        }
        Some(_) => {
            errors.push(format!("{field}.type must be daily_restriction or weekly_restriction"));
            String::new()
        }
    };
    let start_day_of_week = match (kind.as_str(), r.start_day_of_week) {
        ("weekly_restriction", None) => {
            errors.push(format!("{field}.start_day_of_week is required for a weekly_restriction"));
            None
        }
        ("weekly_restriction", Some(d)) if !(1..=7).contains(&d) => {
            errors.push(format!("{field}.start_day_of_week must be from 1 (Monday) to 7 (Sunday)"));
            None
        }
        ("weekly_restriction", Some(d)) => Some(d as i32),
        _ => None,
    };
    let start_time_of_day = match r.start_time_of_day.as_deref().map(str::trim) {
        None | Some("") => {
            errors.push(format!("{field}.start_time_of_day is required"));
            String::new()
        }
        Some(raw) => match rules::parse_time_of_day(raw) {
            Some(t) => t.strftime("%H:%M:%S").to_string(),
            None => {
                errors.push(format!("{field}.start_time_of_day must be HH:MM:SS (00:00:00 to 23:59:59)"));
                String::new()
            }
        },
    };
    let Some(duration_seconds) = r.duration_seconds else {
        errors.push(format!("{field}.duration_seconds is required"));
        return None;
    };
    (errors.len() == before).then_some(RestrictionRow { kind, start_time_of_day, start_day_of_week, duration_seconds })
}

/// A layer as validated: what to store, and the names of its users (for previews).
struct ValidLayer {
    new: NewLayer,
    user_names: Vec<String>,
}

async fn validate_layers(
    app: &App,
    layers: &[LayerInput],
    existing_layer_ids: &[String],
    errors: &mut Vec<String>,
) -> ApiResult<Vec<ValidLayer>> {
    if layers.is_empty() {
        errors.push("schedule.schedule_layers must have at least one layer".into());
    }
    let mut out: Vec<ValidLayer> = Vec::with_capacity(layers.len());
    for (i, layer) in layers.iter().enumerate() {
        let field = format!("schedule.schedule_layers[{i}]");
        let start = instant(&format!("{field}.start"), layer.start.as_deref(), true, errors);
        let end = instant(&format!("{field}.end"), layer.end.as_deref(), false, errors);
        let virtual_start =
            instant(&format!("{field}.rotation_virtual_start"), layer.rotation_virtual_start.as_deref(), true, errors);
        let turn = layer.rotation_turn_length_seconds;
        if turn.is_none() {
            errors.push(format!("{field}.rotation_turn_length_seconds is required"));
        }
        let mut users = Vec::new();
        let mut user_names = Vec::new();
        match &layer.users {
            None => errors.push(format!("{field}.users is required")),
            Some(list) if list.is_empty() => errors.push(format!("{field}.users must have at least one user")),
            Some(list) => {
                for (j, u) in list.iter().enumerate() {
                    let ufield = format!("{field}.users[{j}].user");
                    if let Some((id, name)) = live_user(app, u.user.as_ref(), &ufield, errors).await? {
                        users.push(id);
                        user_names.push(name);
                    }
                }
            }
        }
        let mut restrictions = Vec::new();
        for (j, r) in layer.restrictions.iter().flatten().enumerate() {
            if let Some(r) = restriction(r, &format!("{field}.restrictions[{j}]"), errors) {
                restrictions.push(r);
            }
        }
        // Keep a sent layer id only when it is one of this schedule's layers (and not used twice).
        let id = layer
            .id
            .clone()
            .filter(|id| existing_layer_ids.contains(id) && !out.iter().any(|l| l.new.id.as_ref() == Some(id)));
        let name = layer
            .name
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(String::from)
            .unwrap_or_else(|| format!("Layer {}", i + 1));
        out.push(ValidLayer {
            new: NewLayer {
                id,
                name,
                start: start.unwrap_or_default(),
                end,
                rotation_virtual_start: virtual_start.unwrap_or_default(),
                rotation_turn_length_seconds: turn.unwrap_or_default(),
                users,
                restrictions,
            },
            user_names,
        });
    }
    if errors.is_empty() {
        let model: Vec<rules::Layer> = out.iter().map(|l| core_layer(&l.new)).collect::<Result<_, _>>()?;
        errors.extend(rules::validate_layers(&model).iter().map(ToString::to_string));
    }
    Ok(out)
}

/// A validated layer in the core's terms.
fn core_layer(l: &NewLayer) -> ApiResult<rules::Layer> {
    let restrictions = l.restrictions.iter().map(RestrictionRow::to_rule).collect::<Result<Vec<_>, _>>();
    Ok(rules::Layer {
        id: l.id.clone().unwrap_or_default(),
        name: l.name.clone(),
        start: l.start,
        end: l.end,
        rotation_virtual_start: l.rotation_virtual_start,
        rotation_turn_length_seconds: l.rotation_turn_length_seconds,
        users: l.users.clone(),
        restrictions: restrictions.map_err(ApiError::internal)?,
    })
}

struct Validated {
    fields: ScheduleFields,
    layers: Option<Vec<ValidLayer>>,
    teams: Option<Vec<String>>,
}

async fn validate(app: &App, input: ScheduleInput, existing: Option<&Schedule>) -> ApiResult<Validated> {
    let mut errors = Vec::new();
    let current = existing.map(|s| &s.row);
    let (name, description) = name_and_description(
        input.name,
        input.description,
        current.map(|c| (c.name.as_str(), c.description.as_deref())),
        "schedule",
        &mut errors,
    );
    let time_zone = match input.time_zone {
        Patch::Value(tz) => match rules::zone(tz.trim(), jiff::tz::db()) {
            Ok(_) => tz.trim().to_string(),
            Err(e) => {
                errors.push(e.to_string());
                String::new()
            }
        },
        Patch::Absent if current.is_some() => current.map(|c| c.time_zone.clone()).unwrap_or_default(),
        _ => {
            errors.push("schedule.time_zone is required".into());
            String::new()
        }
    };
    let layers = match input.schedule_layers {
        Patch::Value(layers) => {
            let existing_ids: Vec<String> =
                existing.map(|s| s.layers.iter().map(|l| l.row.id.clone()).collect()).unwrap_or_default();
            Some(validate_layers(app, &layers, &existing_ids, &mut errors).await?)
        }
        Patch::Absent if existing.is_some() => None,
        _ => {
            errors.push("schedule.schedule_layers is required".into());
            None
        }
    };
    let teams = match input.teams {
        Patch::Value(refs) => Some(resolve_teams(app, &refs, "schedule.teams", &mut errors).await?),
        Patch::Null => Some(Vec::new()),
        Patch::Absent => existing.is_none().then(Vec::new),
    };
    check(errors)?;
    Ok(Validated { fields: ScheduleFields { name, description, time_zone }, layers, teams })
}

fn unwrap_body(body: ScheduleBody) -> ApiResult<ScheduleInput> {
    body.schedule.ok_or_else(|| ApiError::field("schedule", "is required"))
}

async fn load(app: &App, id: &str) -> ApiResult<Schedule> {
    app.store.on_call_schedule(id, false).await?.ok_or_else(|| ApiError::not_found("Schedule"))
}

/// The overrides a render of `s` over `options` reads.
async fn overrides_for(
    app: &App,
    s: &Schedule,
    options: &RenderOptions,
) -> ApiResult<Vec<klaxon_store::schedules::OverrideRow>> {
    if !(options.layers || options.overrides_subschedule || options.final_schedule) {
        return Ok(Vec::new());
    }
    let w = override_window(options.window, options.overflow);
    Ok(app.store.schedule_overrides(&s.row.id, w.since, w.until).await?)
}

async fn render_full(app: &App, s: &Schedule, options: &RenderOptions) -> ApiResult<ScheduleOut> {
    let overrides = overrides_for(app, s, options).await?;
    render_schedule(app, s, &overrides, options, false)
}

/// How far ahead `include_next_oncall_for_user` looks for the user's next shift.
const NEXT_ONCALL_HORIZON_MS: i64 = 90 * 24 * 3600 * 1000;

/// What `GET /schedules[/{id}]` adds on request: `next_oncall_for_user` (with
/// `include_next_oncall_for_user=<user id>`, printed in `zone`) and the calendar feed's URLs (with
/// `include[]=calendar_urls`).
async fn add_requested(
    app: &App,
    params: &Params,
    s: &Schedule,
    out: &mut ScheduleOut,
    zone: &TimeZone,
) -> ApiResult<()> {
    if let Some(user_id) = params.get("include_next_oncall_for_user") {
        let now = app.now_ms();
        let reach = override_window(Window { since: now, until: now.saturating_add(NEXT_ONCALL_HORIZON_MS) }, true);
        let overrides = app.store.schedule_overrides(&s.row.id, reach.since, reach.until).await?;
        out.next_oncall_for_user = Some(next_oncall(app, s, &overrides, user_id, now, NEXT_ONCALL_HORIZON_MS, zone)?);
    }
    if params.includes("calendar_urls") {
        let token = app.store.calendar_token(FeedOwner::Schedule, &s.row.id, app.now_ms()).await?;
        let (http, web) = app.calendar_urls("schedules", &token);
        out.http_cal_url = Some(http);
        out.web_cal_url = Some(web);
    }
    Ok(())
}

// ---- schedules --------------------------------------------------------------------------------------------

/// List schedules.
#[utoipa::path(get, path = "/schedules", tag = "Schedules",
    params(("query" = Option<String>, Query, description = "Case-insensitive name search"),
           ("include[]" = Option<Vec<String>>, Query, description = "schedule_layers, overrides_subschedule, final_schedule, calendar_urls"),
           ("time_zone" = Option<String>, Query, description = "Print times in this zone (default: each schedule's)"),
           ("since" = Option<String>, Query), ("until" = Option<String>, Query),
           ("team_ids[]" = Option<Vec<String>>, Query),
           ("include_next_oncall_for_user" = Option<String>, Query, description = "Add each schedule's next_oncall_for_user for this user id"),
           ("limit" = Option<u32>, Query), ("offset" = Option<u32>, Query), ("total" = Option<bool>, Query)),
    responses((status = 200, body = ScheduleList), (status = 400, description = "Bad parameter")))]
pub async fn list_schedules(State(app): State<App>, _auth: Auth, params: Params) -> ApiResult<Json<ScheduleList>> {
    let page = params.page()?;
    params.check_includes(&["schedule_layers", "overrides_subschedule", "final_schedule", "calendar_urls"])?;
    let (window, coverage) = window_params(&app, &params)?;
    let filter = ScheduleFilter { query: params.get("query").map(String::from), team_ids: params.list("team_ids") };
    let (rows, total) =
        app.store.list_schedules(&filter, page.fetch_limit(), i64::from(page.offset), page.want_total).await?;
    let (rows, more) = split_page(rows, &page);
    let mut schedules = Vec::with_capacity(rows.len());
    for s in rows {
        let options = RenderOptions {
            window,
            zone: zone_param(&params, &s.row.time_zone)?,
            overflow: params.bool("overflow")?.unwrap_or(false),
            coverage,
            layers: params.includes("schedule_layers"),
            overrides_subschedule: params.includes("overrides_subschedule"),
            final_schedule: params.includes("final_schedule"),
            teams: false,
        };
        let mut out = render_full(&app, &s, &options).await?;
        add_requested(&app, &params, &s, &mut out, &options.zone).await?;
        schedules.push(out);
    }
    Ok(Json(ScheduleList { schedules, pagination: Pagination::new(&page, more, total) }))
}

/// Create a schedule.
#[utoipa::path(post, path = "/schedules", tag = "Schedules", request_body = ScheduleBody,
    params(("overflow" = Option<bool>, Query, description = "Render whole turns instead of clipping them to the window")),
    responses((status = 201, body = ScheduleResponse), (status = 400, description = "Invalid input"),
              (status = 403, description = "Not allowed to configure")))]
pub async fn create_schedule(
    State(app): State<App>,
    auth: Auth,
    params: Params,
    JsonBody(body): JsonBody<ScheduleBody>,
) -> ApiResult<(StatusCode, Json<ScheduleResponse>)> {
    auth.require(&Action::Configure)?;
    let v = validate(&app, unwrap_body(body)?, None).await?;
    let layers: Vec<NewLayer> = v.layers.unwrap_or_default().into_iter().map(|l| l.new).collect();
    let id = app.store.create_schedule(&v.fields, &layers, v.teams.as_deref().unwrap_or(&[]), app.now_ms()).await?;
    let s = load(&app, &id).await?;
    let schedule = render_full(&app, &s, &full_options(&app, &params, &s.row.time_zone)?).await?;
    Ok((StatusCode::CREATED, Json(ScheduleResponse { schedule })))
}

/// Render a schedule without saving it (validated as a create is).
#[utoipa::path(post, path = "/schedules/preview", tag = "Schedules", request_body = ScheduleBody,
    params(("since" = Option<String>, Query), ("until" = Option<String>, Query), ("overflow" = Option<bool>, Query)),
    responses((status = 200, body = ScheduleResponse), (status = 400, description = "Invalid input")))]
pub async fn preview_schedule(
    State(app): State<App>,
    auth: Auth,
    params: Params,
    JsonBody(body): JsonBody<ScheduleBody>,
) -> ApiResult<Json<ScheduleResponse>> {
    auth.require(&Action::Configure)?;
    let v = validate(&app, unwrap_body(body)?, None).await?;
    let team_ids = v.teams.unwrap_or_default();
    let teams = if team_ids.is_empty() { Vec::new() } else { app.store.live_teams_named(&team_ids).await? };
    let now = app.now_ms();
    let layers = v
        .layers
        .unwrap_or_default()
        .into_iter()
        .enumerate()
        .map(|(position, l)| StoredLayer {
            row: LayerRow {
                id: l.new.id.clone().unwrap_or_default(),
                schedule_id: String::new(),
                position: position as i32,
                name: l.new.name,
                start_at: l.new.start,
                end_at: l.new.end,
                rotation_virtual_start: l.new.rotation_virtual_start,
                rotation_turn_length_seconds: l.new.rotation_turn_length_seconds,
            },
            users: l.new.users.into_iter().zip(l.user_names.into_iter().map(Some)).collect(),
            restrictions: l.new.restrictions,
        })
        .collect();
    let fields = v.fields;
    let s = Schedule {
        row: ScheduleRow {
            id: String::new(),
            name: fields.name,
            description: fields.description,
            time_zone: fields.time_zone,
            created_at: now,
            updated_at: now,
            deleted_at: None,
        },
        layers,
        teams,
        escalation_policies: Vec::new(),
    };
    let options = full_options(&app, &params, &s.row.time_zone)?;
    let schedule = render_schedule(&app, &s, &[], &options, true)?;
    Ok(Json(ScheduleResponse { schedule }))
}

/// Get a schedule, rendered over `since`/`until` (each defaults to two weeks from the other, or from now).
#[utoipa::path(get, path = "/schedules/{id}", tag = "Schedules",
    params(("id" = String, Path),
           ("time_zone" = Option<String>, Query, description = "Print times in this zone (default: the schedule's)"),
           ("since" = Option<String>, Query), ("until" = Option<String>, Query),
           ("overflow" = Option<bool>, Query, description = "Render whole turns instead of clipping them to the window"),
           ("include_next_oncall_for_user" = Option<String>, Query, description = "Add next_oncall_for_user for this user id"),
           ("include[]" = Option<Vec<String>>, Query, description = "calendar_urls")),
    responses((status = 200, body = ScheduleResponse), (status = 404, description = "No such schedule")))]
pub async fn get_schedule(
    State(app): State<App>,
    _auth: Auth,
    Path(id): Path<String>,
    params: Params,
) -> ApiResult<Json<ScheduleResponse>> {
    params.check_includes(&["calendar_urls"])?;
    let s = load(&app, &id).await?;
    let options = full_options(&app, &params, &s.row.time_zone)?;
    let mut schedule = render_full(&app, &s, &options).await?;
    add_requested(&app, &params, &s, &mut schedule, &options.zone).await?;
    Ok(Json(ScheduleResponse { schedule }))
}

/// Update a schedule. Sent `schedule_layers` replace all layers; `teams: null` clears.
#[utoipa::path(put, path = "/schedules/{id}", tag = "Schedules", request_body = ScheduleBody,
    params(("id" = String, Path), ("overflow" = Option<bool>, Query)),
    responses((status = 200, body = ScheduleResponse), (status = 400, description = "Invalid input"),
              (status = 403, description = "Not allowed to configure"), (status = 404, description = "No such schedule")))]
pub async fn update_schedule(
    State(app): State<App>,
    auth: Auth,
    Path(id): Path<String>,
    params: Params,
    JsonBody(body): JsonBody<ScheduleBody>,
) -> ApiResult<Json<ScheduleResponse>> {
    auth.require(&Action::Configure)?;
    let existing = load(&app, &id).await?;
    let v = validate(&app, unwrap_body(body)?, Some(&existing)).await?;
    let layers: Option<Vec<NewLayer>> = v.layers.map(|ls| ls.into_iter().map(|l| l.new).collect());
    app.store.update_schedule(&id, &v.fields, layers.as_deref(), v.teams.as_deref(), app.now_ms()).await?;
    let s = load(&app, &id).await?;
    let schedule = render_full(&app, &s, &full_options(&app, &params, &s.row.time_zone)?).await?;
    Ok(Json(ScheduleResponse { schedule }))
}

/// Delete a schedule. Refused (400) while an escalation policy targets it.
#[utoipa::path(delete, path = "/schedules/{id}", tag = "Schedules",
    params(("id" = String, Path)),
    responses((status = 204, description = "Deleted"), (status = 400, description = "Used by escalation policies"),
              (status = 403, description = "Not allowed to configure"), (status = 404, description = "No such schedule")))]
pub async fn delete_schedule(State(app): State<App>, auth: Auth, Path(id): Path<String>) -> ApiResult<StatusCode> {
    auth.require(&Action::Configure)?;
    app.store.delete_schedule(&id, app.now_ms()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The users on call in the final schedule between `since` and `until`, in order of their first turn.
#[utoipa::path(get, path = "/schedules/{id}/users", tag = "Schedules",
    params(("id" = String, Path), ("since" = Option<String>, Query), ("until" = Option<String>, Query)),
    responses((status = 200, body = ScheduleUsers), (status = 404, description = "No such schedule")))]
pub async fn schedule_users(
    State(app): State<App>,
    _auth: Auth,
    Path(id): Path<String>,
    params: Params,
) -> ApiResult<Json<ScheduleUsers>> {
    let s = load(&app, &id).await?;
    let (window, _) = window_params(&app, &params)?;
    let overrides = app.store.schedule_overrides(&s.row.id, window.since, window.until).await?;
    let mut ids: Vec<String> = Vec::new();
    for e in final_entries(&s, &overrides, window)? {
        if !ids.contains(&e.user_id) {
            ids.push(e.user_id);
        }
    }
    let mut users = Vec::with_capacity(ids.len());
    for id in &ids {
        users.push(user_object(&app, id).await?);
    }
    Ok(Json(ScheduleUsers { users }))
}

// ---- overrides --------------------------------------------------------------------------------------------

/// List a schedule's overrides between `since` and `until` (both required).
#[utoipa::path(get, path = "/schedules/{id}/overrides", tag = "Schedules",
    params(("id" = String, Path), ("since" = String, Query), ("until" = String, Query),
           ("editable" = Option<bool>, Query, description = "Only overrides that have not ended"),
           ("overflow" = Option<bool>, Query, description = "Whole overrides instead of clipping them to the window"),
           ("time_zone" = Option<String>, Query)),
    responses((status = 200, body = OverrideList), (status = 400, description = "Bad parameter"),
              (status = 404, description = "No such schedule")))]
pub async fn list_overrides(
    State(app): State<App>,
    _auth: Auth,
    Path(id): Path<String>,
    params: Params,
) -> ApiResult<Json<OverrideList>> {
    let missing: Vec<String> =
        ["since", "until"].iter().filter(|p| params.get(p).is_none()).map(|p| format!("{p} is required")).collect();
    check(missing)?;
    let s = load(&app, &id).await?;
    let (window, _) = window_params(&app, &params)?;
    let zone = zone_param(&params, &s.row.time_zone)?;
    let overflow = params.bool("overflow")?.unwrap_or(false);
    let editable = params.bool("editable")?.unwrap_or(false);
    let now = app.now_ms();
    let overrides = app
        .store
        .schedule_overrides(&s.row.id, window.since, window.until)
        .await?
        .iter()
        .filter(|o| !editable || o.end_at > now)
        .map(|o| render_override(&app, o, &zone, (!overflow).then_some(window)))
        .collect();
    Ok(Json(OverrideList { overrides }))
}

/// One item's problems, or what to create and the zone to print it in.
async fn validate_override(
    app: &App,
    item: &Value,
    field: &str,
    schedule_zone: &str,
) -> ApiResult<Result<(NewOverride, TimeZone), Vec<String>>> {
    let input: OverrideInput = match serde_path_to_error::deserialize(item.clone()) {
        Ok(input) => input,
        Err(e) => {
            let path = e.path().to_string();
            let at = if path == "." { field.to_string() } else { format!("{field}.{path}") };
            return Ok(Err(vec![format!("{at} {}", e.into_inner())]));
        }
    };
    let mut errors = Vec::new();
    let start = instant(&format!("{field}.start"), input.start.as_deref(), true, &mut errors);
    let end = instant(&format!("{field}.end"), input.end.as_deref(), true, &mut errors);
    let user = live_user(app, input.user.as_ref(), &format!("{field}.user"), &mut errors).await?;
    if let (Some(start), Some(end)) = (start, end) {
        let candidate = rules::Override { id: String::new(), user_id: "-".into(), start, end, created: 0 };
        for e in rules::validate_override(&candidate, field) {
            // PagerDuty's exact sentence, which clients match on; anything else names its field.
            errors.push(if e.message == rules::OVERRIDE_MUST_END_AFTER_START { e.message } else { e.to_string() });
        }
    }
    let zone_name = input.time_zone.as_deref().unwrap_or(schedule_zone);
    let zone = TimeZone::get(zone_name).ok();
    if zone.is_none() {
        errors.push(format!("{field}.time_zone '{zone_name}' is not an IANA time zone"));
    }
    Ok(match (start, end, user, zone) {
        (Some(start), Some(end), Some((user_id, _)), Some(zone)) if errors.is_empty() => {
            Ok((NewOverride { user_id, start, end }, zone))
        }
        _ => Err(errors),
    })
}

/// Create overrides: `{"overrides":[…]}` answers 201 with one `{status, override}` or
/// `{status: 400, errors, override}` per item (valid items are created); the legacy `{"override":{…}}`
/// answers 201 with `{"override":{…}}`. Among overlapping overrides the newest wins.
#[utoipa::path(post, path = "/schedules/{id}/overrides", tag = "Schedules", request_body = OverridesBody,
    params(("id" = String, Path)),
    responses((status = 201, description = "A result per item (bulk), or the override (legacy single form)",
               body = Vec<Object>),
              (status = 400, description = "Invalid input"), (status = 403, description = "Not allowed to configure"),
              (status = 404, description = "No such schedule")))]
pub async fn create_overrides(
    State(app): State<App>,
    auth: Auth,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<OverridesBody>,
) -> ApiResult<Response> {
    auth.require(&Action::Configure)?;
    let s = load(&app, &id).await?;
    let zone = s.row.time_zone.clone();
    if let (None, Some(single)) = (&body.overrides, &body.single) {
        let (new, zone) = validate_override(&app, single, "override", &zone).await?.map_err(ApiError::invalid)?;
        let created = app.store.create_overrides(&id, &[new], app.now_ms()).await?;
        let row = created.first().ok_or_else(|| ApiError::internal("an override was created but not read back"))?;
        let out = OverrideResponse { override_: render_override(&app, row, &zone, None) };
        return Ok((StatusCode::CREATED, Json(out)).into_response());
    }
    let items = match body.overrides {
        None => return Err(ApiError::field("overrides", "is required")),
        Some(items) if items.is_empty() => return Err(ApiError::field("overrides", "must have at least one override")),
        Some(items) => items,
    };
    let mut checked = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        checked.push(validate_override(&app, item, &format!("overrides[{i}]"), &zone).await?);
    }
    let valid: Vec<NewOverride> = checked.iter().filter_map(|c| c.as_ref().ok().map(|(n, _)| n.clone())).collect();
    let created =
        if valid.is_empty() { Vec::new() } else { app.store.create_overrides(&id, &valid, app.now_ms()).await? };
    let mut created = created.into_iter();
    let mut results = Vec::with_capacity(items.len());
    for (item, check) in items.into_iter().zip(checked) {
        results.push(match check {
            Ok((_, zone)) => {
                let row = created.next().ok_or_else(|| ApiError::internal("fewer overrides created than sent"))?;
                json!({"status": 201, "override": render_override(&app, &row, &zone, None)})
            }
            Err(errors) => json!({"status": 400, "errors": errors, "override": item}),
        });
    }
    Ok((StatusCode::CREATED, Json(results)).into_response())
}

/// Remove an override: a future one is deleted (204); one in progress is truncated to now (200, with the
/// override); a past one cannot be removed (400).
#[utoipa::path(delete, path = "/schedules/{id}/overrides/{override_id}", tag = "Schedules",
    params(("id" = String, Path), ("override_id" = String, Path)),
    responses((status = 204, description = "Deleted"), (status = 200, body = OverrideResponse, description = "Truncated to now"),
              (status = 400, description = "A past override"), (status = 403, description = "Not allowed to configure"),
              (status = 404, description = "No such schedule or override")))]
pub async fn delete_override(
    State(app): State<App>,
    auth: Auth,
    Path((id, override_id)): Path<(String, String)>,
) -> ApiResult<Response> {
    auth.require(&Action::Configure)?;
    let s = load(&app, &id).await?;
    let zone = zone_param(&Params::default(), &s.row.time_zone)?;
    match app.store.remove_override(&id, &override_id, app.now_ms()).await? {
        OverrideRemoval::Deleted => Ok(StatusCode::NO_CONTENT.into_response()),
        OverrideRemoval::Truncated(row) => {
            Ok((StatusCode::OK, Json(OverrideResponse { override_: render_override(&app, &row, &zone, None) }))
                .into_response())
        }
        OverrideRemoval::Past(row) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            4004,
            "Invalid Override",
            vec![format!(
                "override {} ended at {}: a past override cannot be removed",
                row.id,
                klaxon_core::time::render_in_zone(row.end_at, &zone)
            )],
        )),
    }
}
