//! Incidents (§2.8 of the PagerDuty reference): list with filters, show by id or number, manual creation,
//! updates one by one or in bulk (all or nothing), merge, snooze, notes, log entries and alerts.
//! Writes need `Action::RespondToIncidents` and, with account keys, the `From` header naming the actor.

use crate::error::{ApiError, ApiResult};
use crate::extract::{Auth, JsonBody, Params, Patch};
use crate::render::names::Names;
use crate::render::{IdRef, Pagination, Reference, opt_time, time};
use crate::state::App;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use klaxon_core::actor::{Actor, Channel};
use klaxon_core::command::Command;
use klaxon_core::incident::{AlertStatus, AssignedVia, IncidentError, MAX_BULK, Status, Urgency};
use klaxon_core::log_entry::LogKind;
use klaxon_core::page::split_page;
use klaxon_core::role::Action;
use klaxon_store::StoreError;
use klaxon_store::commands::{AlertChange, IncidentCommands, NewIncidentSpec};
use klaxon_store::incidents::{
    AlertRow, IncidentDetails, IncidentFilter, IncidentRow, LogEntryFilter, LogEntryRow, NoteRow,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::HashMap;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn routes() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(list_incidents, create_incident, update_incidents))
        .routes(routes!(get_incident, update_incident))
        .routes(routes!(merge_incidents))
        .routes(routes!(snooze_incident))
        .routes(routes!(list_notes, create_note))
        .routes(routes!(update_note, delete_note))
        .routes(routes!(incident_log_entries))
        .routes(routes!(list_log_entries))
        .routes(routes!(get_log_entry))
        .routes(routes!(list_alerts, update_alerts))
        .routes(routes!(get_alert, update_alert))
}

fn incident_error(e: IncidentError) -> ApiError {
    crate::error::incident_error(e, None)
}

/// A failed command: a broken rule names the incident (by `field`, given its position in the request).
fn command_error(e: StoreError, field: impl Fn(usize) -> String) -> ApiError {
    match e {
        StoreError::Incident { index, error } => {
            let base = field(index);
            // The body's top level (snooze) is named by the field alone.
            let named = match (error.field(), base.is_empty()) {
                (Some(sub), true) => sub.to_string(),
                (None, true) => "incident".to_string(),
                (Some(sub), false) if !base.ends_with(sub) => format!("{base}.{sub}"),
                _ => base,
            };
            crate::error::incident_error(error, Some(&named))
        }
        other => other.into(),
    }
}

#[derive(Serialize, ToSchema)]
pub struct Assignment {
    pub at: String,
    pub assignee: Reference,
}

#[derive(Serialize, ToSchema)]
pub struct Acknowledgement {
    pub at: String,
    pub acknowledger: Reference,
}

#[derive(Serialize, ToSchema)]
pub struct PendingAction {
    #[serde(rename = "type")]
    pub kind: String,
    pub at: String,
}

#[derive(Serialize, ToSchema)]
pub struct AlertCounts {
    pub all: i64,
    pub triggered: i64,
    pub resolved: i64,
}

#[derive(Serialize, ToSchema)]
pub struct ConferenceBridge {
    pub conference_number: Option<String>,
    pub conference_url: Option<String>,
}

/// An incident, as PagerDuty renders it.
#[derive(Serialize, ToSchema)]
pub struct Incident {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub summary: String,
    #[serde(rename = "self")]
    pub self_url: String,
    pub html_url: Option<String>,
    pub incident_number: i64,
    pub title: String,
    pub description: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    #[schema(value_type = String)]
    pub status: Status,
    pub incident_key: Option<String>,
    pub service: Reference,
    pub escalation_policy: Option<Reference>,
    pub teams: Vec<Reference>,
    pub assignments: Vec<Assignment>,
    #[schema(value_type = String)]
    pub assigned_via: AssignedVia,
    pub acknowledgements: Vec<Acknowledgement>,
    pub last_status_change_at: String,
    pub last_status_change_by: Option<Reference>,
    pub first_trigger_log_entry: Option<Reference>,
    #[schema(value_type = String)]
    pub urgency: Urgency,
    #[schema(value_type = Object)]
    pub priority: Value,
    pub resolved_at: Option<String>,
    #[schema(value_type = Object)]
    pub resolve_reason: Value,
    pub alert_counts: AlertCounts,
    pub pending_actions: Vec<PendingAction>,
    pub is_mergeable: bool,
    pub conference_bridge: ConferenceBridge,
    pub escalation_level: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub body: Option<Value>,
}

async fn render_incidents(app: &App, rows: Vec<IncidentRow>, params: &Params) -> ApiResult<Vec<Incident>> {
    let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    let mut details = app.store.incident_details(&ids).await?;
    let priorities: HashMap<String, klaxon_store::priorities::PriorityRow> =
        app.store.priorities().await?.into_iter().map(|p| (p.id.clone(), p)).collect();
    let mut names = Names::new(app);
    let mut service_teams: HashMap<String, Vec<Reference>> = HashMap::new();
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let d = details.remove(&row.id).unwrap_or_default();
        out.push(render_one(app, row, d, &priorities, &mut names, &mut service_teams, params).await?);
    }
    Ok(out)
}

async fn render_one(
    app: &App,
    row: IncidentRow,
    d: IncidentDetails,
    priorities: &HashMap<String, klaxon_store::priorities::PriorityRow>,
    names: &mut Names<'_>,
    service_teams: &mut HashMap<String, Vec<Reference>>,
    params: &Params,
) -> ApiResult<Incident> {
    let mut assignments = Vec::new();
    for (user, at) in &d.assignments {
        assignments.push(Assignment { at: time(*at), assignee: names.reference("user", user).await });
    }
    let mut acknowledgements = Vec::new();
    for (kind, who, at) in &d.acknowledgements {
        if let Some(acknowledger) = names.agent(Some(kind), Some(who)).await {
            acknowledgements.push(Acknowledgement { at: time(*at), acknowledger });
        }
    }
    let teams = match service_teams.get(&row.service_id) {
        Some(t) => t.clone(),
        None => {
            let teams = match app.store.service(&row.service_id, true, app.now_ms()).await? {
                Some(s) => s.teams.iter().map(|(id, name)| app.reference("team", "teams", id, name.clone())).collect(),
                None => vec![],
            };
            service_teams.insert(row.service_id.clone(), teams.clone());
            teams
        }
    };
    let priority = match row.priority_id.as_ref().and_then(|id| priorities.get(id)) {
        Some(p) => json!({"id": p.id, "type": "priority", "summary": p.name, "self": app.self_url("priorities", &p.id),
                          "html_url": null, "name": p.name, "description": p.description, "color": p.color}),
        None => Value::Null,
    };
    let resolve_reason = match row.resolve_reason.as_deref().and_then(|r| serde_json::from_str::<Value>(r).ok()) {
        Some(reason) => {
            let target = reason["incident"]["id"].as_str().unwrap_or_default().to_string();
            json!({"type": reason["type"], "incident": app.reference("incident", "incidents", &target, format!("Incident {target}"))})
        }
        None => Value::Null,
    };
    let status = row.status;
    let pending_actions = d
        .pending
        .iter()
        .map(|(kind, due)| PendingAction {
            kind: if kind == klaxon_store::jobs::kinds::ACK_TIMEOUT { "unacknowledge" } else { "resolve" }.into(),
            at: time(*due),
        })
        .collect();
    Ok(Incident {
        summary: format!("[#{}] {}", row.incident_number, row.title),
        self_url: app.self_url("incidents", &row.id),
        html_url: Some(app.html_url("incidents", &row.id)),
        kind: "incident",
        incident_number: row.incident_number,
        description: row.description.clone().or_else(|| Some(row.title.clone())),
        title: row.title,
        created_at: time(row.created_at),
        updated_at: time(row.updated_at),
        incident_key: row.incident_key,
        service: names.reference("service", &row.service_id).await,
        escalation_policy: match &row.escalation_policy_id {
            Some(ep) => Some(names.reference("escalation_policy", ep).await),
            None => None,
        },
        teams,
        assignments: if status == Status::Resolved { vec![] } else { assignments },
        assigned_via: row.assigned_via,
        acknowledgements: if status == Status::Acknowledged { acknowledgements } else { vec![] },
        last_status_change_at: time(row.last_status_change_at),
        last_status_change_by: names
            .agent(Some(&row.last_status_change_by_type), Some(&row.last_status_change_by_id))
            .await,
        first_trigger_log_entry: row
            .first_trigger_log_entry_id
            .as_ref()
            .map(|id| app.reference("trigger_log_entry", "log_entries", id, "Triggered")),
        urgency: row.urgency,
        priority,
        resolved_at: opt_time(row.resolved_at),
        resolve_reason,
        alert_counts: AlertCounts {
            all: d.alerts_triggered + d.alerts_resolved,
            triggered: d.alerts_triggered,
            resolved: d.alerts_resolved,
        },
        pending_actions,
        is_mergeable: status.is_open(),
        conference_bridge: ConferenceBridge {
            conference_number: row.conference_number,
            conference_url: row.conference_url,
        },
        escalation_level: row.escalation_level,
        body: params.includes("body").then(|| json!({"type": "incident_body", "details": row.body_details})),
        status,
        id: row.id,
    })
}

#[derive(Serialize, ToSchema)]
pub struct IncidentList {
    pub incidents: Vec<Incident>,
    #[serde(flatten)]
    pub pagination: Pagination,
}

#[derive(Serialize, ToSchema)]
pub struct IncidentEnvelope {
    pub incident: Incident,
}

const MONTH_MS: i64 = 30 * 24 * 3600 * 1000;
const SIX_MONTHS_MS: i64 = 183 * 24 * 3600 * 1000;

fn check_values(params: &Params, name: &str, allowed: &[&str]) -> ApiResult<Vec<String>> {
    let values = params.list(name);
    for v in &values {
        if !allowed.contains(&v.as_str()) {
            return Err(ApiError::field(
                &format!("{name}[]"),
                &format!("has an invalid value '{v}' (allowed: {})", allowed.join(", ")),
            ));
        }
    }
    Ok(values)
}

/// List incidents: by default those created in the last 30 days.
#[utoipa::path(get, path = "/incidents", tag = "Incidents",
    params(("statuses[]" = Option<Vec<String>>, Query), ("service_ids[]" = Option<Vec<String>>, Query),
           ("team_ids[]" = Option<Vec<String>>, Query), ("user_ids[]" = Option<Vec<String>>, Query),
           ("urgencies[]" = Option<Vec<String>>, Query), ("incident_key" = Option<String>, Query),
           ("since" = Option<String>, Query), ("until" = Option<String>, Query), ("date_range" = Option<String>, Query),
           ("sort_by" = Option<String>, Query), ("include[]" = Option<Vec<String>>, Query),
           ("limit" = Option<u32>, Query), ("offset" = Option<u32>, Query), ("total" = Option<bool>, Query)),
    responses((status = 200, body = IncidentList), (status = 400, description = "Invalid filter")))]
pub async fn list_incidents(State(app): State<App>, _auth: Auth, params: Params) -> ApiResult<Json<IncidentList>> {
    params.check_includes(&[
        "acknowledgers",
        "agents",
        "assignees",
        "conference_bridge",
        "escalation_policies",
        "first_trigger_log_entries",
        "priorities",
        "services",
        "teams",
        "users",
        "body",
    ])?;
    let page = params.page()?;
    let mut filter = IncidentFilter {
        statuses: check_values(&params, "statuses", &["triggered", "acknowledged", "resolved"])?,
        urgencies: check_values(&params, "urgencies", &["high", "low"])?,
        service_ids: params.list("service_ids"),
        team_ids: params.list("team_ids"),
        user_ids: params.list("user_ids"),
        incident_key: params.get("incident_key").map(String::from),
        ..Default::default()
    };
    if !filter.user_ids.is_empty() && filter.statuses.is_empty() {
        filter.statuses = vec!["triggered".into(), "acknowledged".into()];
    }
    if params.get("date_range") != Some("all") {
        let now = app.now_ms();
        let since = params.instant("since")?;
        let until = params.instant("until")?;
        let (since, until) = match (since, until) {
            (None, None) => (now - MONTH_MS, now + 1000),
            (Some(s), None) => (s, (s + SIX_MONTHS_MS).min(now + 1000).max(s)),
            (None, Some(u)) => (u - MONTH_MS, u),
            (Some(s), Some(u)) => (s, u),
        };
        if until < since {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                2005,
                "Invalid Query Date Range",
                vec!["until must not be before since".into()],
            ));
        }
        if until - since > SIX_MONTHS_MS {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                2005,
                "Invalid Query Date Range",
                vec!["since and until may be at most 6 months apart".into()],
            ));
        }
        filter.since = Some(since);
        filter.until = Some(until);
    }
    let sort_by = params.get("sort_by").unwrap_or("");
    for term in sort_by.split(',').map(str::trim).filter(|t| !t.is_empty()) {
        let (field, dir) = term.split_once(':').unwrap_or((term, "asc"));
        let column = match field {
            "incident_number" => "incident_number",
            "created_at" => "created_at",
            "resolved_at" => "resolved_at",
            "urgency" => "urgency",
            _ => {
                return Err(ApiError::field(
                    "sort_by",
                    "must be incident_number, created_at, resolved_at or urgency, optionally with :asc or :desc",
                ));
            }
        };
        let desc = match dir {
            "asc" => false,
            "desc" => true,
            _ => return Err(ApiError::field("sort_by", "direction must be asc or desc")),
        };
        filter.sort.push((column, desc));
    }
    if filter.sort.len() > 2 {
        return Err(ApiError::field("sort_by", "takes at most 2 fields"));
    }
    let (rows, total) =
        app.store.list_incidents(&filter, page.fetch_limit(), i64::from(page.offset), page.want_total).await?;
    let (rows, more) = split_page(rows, &page);
    let incidents = render_incidents(&app, rows, &params).await?;
    Ok(Json(IncidentList { incidents, pagination: Pagination::new(&page, more, total) }))
}

async fn load(app: &App, id: &str) -> ApiResult<IncidentRow> {
    app.store.incident(id).await?.ok_or_else(|| ApiError::not_found("Incident"))
}

async fn envelope(app: &App, row: IncidentRow, params: &Params) -> ApiResult<Json<IncidentEnvelope>> {
    let mut rendered = render_incidents(app, vec![row], params).await?;
    let incident = rendered.pop().ok_or_else(|| ApiError::internal("rendering an incident produced nothing"))?;
    Ok(Json(IncidentEnvelope { incident }))
}

/// Show an incident, by id or by incident number.
#[utoipa::path(get, path = "/incidents/{id}", tag = "Incidents",
    params(("id" = String, Path, description = "Incident id or number")),
    responses((status = 200, body = IncidentEnvelope), (status = 404, description = "No such incident")))]
pub async fn get_incident(
    State(app): State<App>,
    _auth: Auth,
    Path(id): Path<String>,
    params: Params,
) -> ApiResult<Json<IncidentEnvelope>> {
    let row = load(&app, &id).await?;
    envelope(&app, row, &params).await
}

#[derive(Deserialize, ToSchema)]
pub struct AssignmentInput {
    pub assignee: IdRef,
}

#[derive(Deserialize, ToSchema)]
pub struct BodyInput {
    #[serde(default)]
    pub details: Option<String>,
}

#[derive(Deserialize, ToSchema)]
pub struct ConferenceInput {
    #[serde(default)]
    pub conference_number: Option<String>,
    #[serde(default)]
    pub conference_url: Option<String>,
}

/// A priority as a reference or as a priority name.
#[derive(Deserialize, ToSchema)]
#[serde(untagged)]
pub enum PriorityInput {
    Name(String),
    Ref(IdRef),
}

#[derive(Deserialize, ToSchema)]
pub struct NewIncidentInput {
    pub title: Option<String>,
    pub service: Option<IdRef>,
    #[serde(default)]
    pub urgency: Option<String>,
    #[serde(default)]
    pub priority: Option<PriorityInput>,
    #[serde(default)]
    pub body: Option<BodyInput>,
    #[serde(default)]
    pub incident_key: Option<String>,
    #[serde(default)]
    pub assignments: Option<Vec<AssignmentInput>>,
    #[serde(default)]
    pub escalation_policy: Option<IdRef>,
    #[serde(default)]
    pub conference_bridge: Option<ConferenceInput>,
}

#[derive(Deserialize, ToSchema)]
pub struct NewIncidentBody {
    pub incident: NewIncidentInput,
}

async fn priority_id(app: &App, field: &str, input: &PriorityInput) -> ApiResult<String> {
    let all = app.store.priorities().await?;
    let found = match input {
        PriorityInput::Ref(r) => all.iter().find(|p| p.id == r.id),
        PriorityInput::Name(name) => all.iter().find(|p| p.name.eq_ignore_ascii_case(name)),
    };
    found.map(|p| p.id.clone()).ok_or_else(|| {
        ApiError::new(StatusCode::BAD_REQUEST, 1020, "Invalid Priority", vec![format!("{field} names no priority")])
    })
}

async fn live_users(app: &App, field: &str, refs: &[AssignmentInput]) -> ApiResult<Vec<String>> {
    let mut users = Vec::new();
    for (i, a) in refs.iter().enumerate() {
        match app.store.user(&a.assignee.id).await? {
            Some(u) => users.push(u.id),
            None => {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    1007,
                    "Assigned To User Not Found",
                    vec![format!("{field}[{i}].assignee.id {} not found", a.assignee.id)],
                ));
            }
        }
    }
    Ok(users)
}

fn parse_urgency(field: &str, urgency: &str) -> ApiResult<Urgency> {
    urgency.parse().map_err(|_| ApiError::field(field, "must be high or low"))
}

/// The requester as the commands' actor: through the API with an account key, the website otherwise.
fn actor(auth: &Auth, requester: &klaxon_store::users::UserRow) -> Actor {
    let channel = if auth.is_account_key() { Channel::Api } else { Channel::WebTrigger };
    Actor::user(requester.id.clone(), requester.name.clone(), channel)
}

async fn check_policy(app: &App, field: &str, id: &str) -> ApiResult<()> {
    if app.store.escalation_policy_name(id).await?.is_none() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            1014,
            "Escalation Policy Not Found",
            vec![format!("{field} {id} not found")],
        ));
    }
    Ok(())
}

/// Create an incident by hand. Needs `From` with account keys.
#[utoipa::path(post, path = "/incidents", tag = "Incidents", request_body = NewIncidentBody,
    responses((status = 201, body = IncidentEnvelope), (status = 400, description = "Invalid input")))]
pub async fn create_incident(
    State(app): State<App>,
    auth: Auth,
    params: Params,
    JsonBody(body): JsonBody<NewIncidentBody>,
) -> ApiResult<(StatusCode, Json<IncidentEnvelope>)> {
    auth.require(&Action::RespondToIncidents)?;
    let requester = auth.requester()?.clone();
    let input = body.incident;
    let title = klaxon_core::validate::required_text("incident.title", input.title.as_deref(), 1024)?;
    let service_ref = input.service.ok_or_else(|| ApiError::field("incident.service", "is required"))?;
    let service = app
        .store
        .service(&service_ref.id, false, app.now_ms())
        .await?
        .ok_or_else(|| ApiError::field("incident.service.id", &format!("{} not found", service_ref.id)))?;
    if input.assignments.as_ref().is_some_and(|a| !a.is_empty()) && input.escalation_policy.is_some() {
        return Err(ApiError::field("incident", "may have assignments or an escalation_policy, not both"));
    }
    let urgency = parse_urgency("incident.urgency", input.urgency.as_deref().unwrap_or("high"))?;
    let priority = match &input.priority {
        Some(p) => Some(priority_id(&app, "incident.priority", p).await?),
        None => None,
    };
    let (assignees, policy) = match (&input.assignments, &input.escalation_policy) {
        (Some(a), _) if !a.is_empty() => {
            (Some(live_users(&app, "incident.assignments", a).await?), service.row.escalation_policy_id.clone())
        }
        (_, Some(ep)) => {
            check_policy(&app, "incident.escalation_policy.id", &ep.id).await?;
            (None, ep.id.clone())
        }
        _ => (None, service.row.escalation_policy_id.clone()),
    };
    let acknowledged = assignees.as_ref().is_some_and(|a| *a == [requester.id.clone()]);
    let incident_key = input.incident_key.clone().filter(|k| !k.is_empty());
    if incident_key.as_ref().is_some_and(|k| k.chars().count() > 255) {
        return Err(ApiError::field("incident.incident_key", "must be at most 255 characters"));
    }
    let spec = NewIncidentSpec {
        title,
        service_id: service.row.id.clone(),
        escalation_policy_id: Some(policy),
        urgency,
        priority_id: priority,
        incident_key,
        body_details: input.body.and_then(|b| b.details),
        assignees,
        conference_number: input.conference_bridge.as_ref().and_then(|c| c.conference_number.clone()),
        conference_url: input.conference_bridge.as_ref().and_then(|c| c.conference_url.clone()),
        acknowledged,
    };
    let id = app
        .store
        .open_incident(&spec, &actor(&auth, &requester), app.now_ms())
        .await
        .map_err(|e| command_error(e, |_| "incident".into()))?;
    let fresh = load(&app, &id).await?;
    Ok((StatusCode::CREATED, envelope(&app, fresh, &params).await?))
}

#[derive(Deserialize, ToSchema, Default)]
pub struct IncidentChangeInput {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub resolution: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub priority: Patch<PriorityInput>,
    #[serde(default)]
    pub escalation_level: Option<i32>,
    #[serde(default)]
    pub assignments: Option<Vec<AssignmentInput>>,
    #[serde(default)]
    pub escalation_policy: Option<IdRef>,
    #[serde(default)]
    pub urgency: Option<String>,
    #[serde(default)]
    pub conference_bridge: Option<ConferenceInput>,
}

#[derive(Deserialize, ToSchema)]
pub struct IncidentChangeBody {
    pub incident: IncidentChangeInput,
}

#[derive(Deserialize, ToSchema)]
pub struct IncidentBulkBody {
    pub incidents: Vec<IncidentChangeInput>,
}

/// Translates one requested change into commands. What needs the incident's current state (its status,
/// its policy's levels) is decided by the command layer, in the transaction that applies the change.
async fn commands(app: &App, field: &str, input: IncidentChangeInput) -> ApiResult<Vec<Command>> {
    let mut commands = Vec::new();
    if let Some(status) = &input.status {
        let to: Status =
            status.parse().map_err(|e| crate::error::incident_error(e, Some(&format!("{field}.status"))))?;
        commands.push(Command::SetStatus { to, resolution: input.resolution.clone() });
    }
    if let Some(title) = &input.title {
        let title = klaxon_core::validate::required_text(&format!("{field}.title"), Some(title), 1024)?;
        commands.push(Command::SetTitle(title));
    }
    match &input.priority {
        Patch::Absent => {}
        Patch::Null => commands.push(Command::SetPriority(None)),
        Patch::Value(p) => {
            commands.push(Command::SetPriority(Some(priority_id(app, &format!("{field}.priority"), p).await?)))
        }
    }
    if let Some(urgency) = &input.urgency {
        commands.push(Command::SetUrgency(parse_urgency(&format!("{field}.urgency"), urgency)?));
    }
    if let Some(assignments) = &input.assignments {
        if assignments.is_empty() {
            return Err(ApiError::field(&format!("{field}.assignments"), "must name at least one assignee"));
        }
        let users = live_users(app, &format!("{field}.assignments"), assignments).await?;
        commands.push(Command::Reassign { users });
    }
    if let Some(ep) = &input.escalation_policy {
        check_policy(app, &format!("{field}.escalation_policy.id"), &ep.id).await?;
        let (levels, path) = app.store.escalation_levels(&ep.id, app.now_ms()).await?;
        commands.push(Command::ChangePolicy { policy_id: ep.id.clone(), levels, path });
    }
    if let Some(level) = input.escalation_level {
        commands.push(Command::EscalateTo { level });
    }
    if let Some(c) = input.conference_bridge {
        commands.push(Command::SetConference { number: c.conference_number, url: c.conference_url });
    }
    Ok(commands)
}

/// Update an incident: acknowledge, resolve, reopen, reassign, escalate, delegate, change urgency or priority.
#[utoipa::path(put, path = "/incidents/{id}", tag = "Incidents", request_body = IncidentChangeBody,
    params(("id" = String, Path)), responses((status = 200, body = IncidentEnvelope), (status = 400, description = "Invalid change")))]
pub async fn update_incident(
    State(app): State<App>,
    auth: Auth,
    Path(id): Path<String>,
    params: Params,
    JsonBody(body): JsonBody<IncidentChangeBody>,
) -> ApiResult<Json<IncidentEnvelope>> {
    auth.require(&Action::RespondToIncidents)?;
    let requester = auth.requester()?.clone();
    let row = load(&app, &id).await?;
    let commands = commands(&app, "incident", body.incident).await?;
    app.store
        .execute_one(&row.id, commands, &actor(&auth, &requester), app.now_ms())
        .await
        .map_err(|e| command_error(e, |_| "incident".into()))?;
    let fresh = load(&app, &row.id).await?;
    envelope(&app, fresh, &params).await
}

/// Update up to 250 incidents at once: every change is validated first, then all apply or none.
#[utoipa::path(put, path = "/incidents", tag = "Incidents", request_body = IncidentBulkBody,
    responses((status = 200, body = IncidentList), (status = 413, description = "More than 250 incidents")))]
pub async fn update_incidents(
    State(app): State<App>,
    auth: Auth,
    params: Params,
    JsonBody(body): JsonBody<IncidentBulkBody>,
) -> ApiResult<Json<Value>> {
    auth.require(&Action::RespondToIncidents)?;
    let requester = auth.requester()?.clone();
    if body.incidents.len() > MAX_BULK {
        return Err(incident_error(IncidentError::TooMany));
    }
    let mut batch = Vec::new();
    for (i, input) in body.incidents.into_iter().enumerate() {
        let field = format!("incidents[{i}]");
        let id = input.id.clone().ok_or_else(|| ApiError::field(&format!("{field}.id"), "is required"))?;
        let row = app
            .store
            .incident(&id)
            .await?
            .ok_or_else(|| ApiError::field(&format!("{field}.id"), &format!("{id} not found")))?;
        batch.push(IncidentCommands::new(row.id, commands(&app, &field, input).await?));
    }
    app.store
        .execute(&batch, &actor(&auth, &requester), app.now_ms())
        .await
        .map_err(|e| command_error(e, |i| format!("incidents[{i}]")))?;
    let mut rows = Vec::new();
    for item in &batch {
        rows.push(load(&app, &item.incident).await?);
    }
    let incidents = render_incidents(&app, rows, &params).await?;
    Ok(Json(json!({"incidents": incidents})))
}

#[derive(Deserialize, ToSchema)]
pub struct MergeBody {
    pub source_incidents: Vec<IdRef>,
}

/// Merge incidents into this one: their alerts move here and they resolve.
#[utoipa::path(put, path = "/incidents/{id}/merge", tag = "Incidents", request_body = MergeBody,
    params(("id" = String, Path)), responses((status = 200, body = IncidentEnvelope)))]
pub async fn merge_incidents(
    State(app): State<App>,
    auth: Auth,
    Path(id): Path<String>,
    params: Params,
    JsonBody(body): JsonBody<MergeBody>,
) -> ApiResult<Json<IncidentEnvelope>> {
    auth.require(&Action::RespondToIncidents)?;
    let requester = auth.requester()?.clone();
    let target = load(&app, &id).await?;
    if body.source_incidents.is_empty() {
        return Err(ApiError::field("source_incidents", "must name at least one incident"));
    }
    let mut absorb = Vec::new();
    let mut batch = Vec::new();
    for (i, s) in body.source_incidents.iter().enumerate() {
        let row = app
            .store
            .incident(&s.id)
            .await?
            .ok_or_else(|| ApiError::field(&format!("source_incidents[{i}].id"), &format!("{} not found", s.id)))?;
        if row.id == target.id {
            return Err(ApiError::field(&format!("source_incidents[{i}].id"), "is the merge target itself"));
        }
        absorb.push(Command::AbsorbMerged { source_id: row.id.clone(), source_number: row.incident_number });
        batch.push(IncidentCommands::new(
            row.id,
            vec![Command::MergeInto { target_id: target.id.clone(), target_number: target.incident_number }],
        ));
    }
    batch.insert(0, IncidentCommands::new(target.id.clone(), absorb));
    app.store.execute(&batch, &actor(&auth, &requester), app.now_ms()).await.map_err(|e| {
        command_error(e, |i| if i == 0 { "id".to_string() } else { format!("source_incidents[{}]", i - 1) })
    })?;
    let fresh = load(&app, &target.id).await?;
    envelope(&app, fresh, &params).await
}

#[derive(Deserialize, ToSchema)]
pub struct SnoozeBody {
    pub duration: Option<i64>,
}

/// Snooze an acknowledged incident: it triggers again after `duration` seconds.
#[utoipa::path(post, path = "/incidents/{id}/snooze", tag = "Incidents", request_body = SnoozeBody,
    params(("id" = String, Path)), responses((status = 201, body = IncidentEnvelope)))]
pub async fn snooze_incident(
    State(app): State<App>,
    auth: Auth,
    Path(id): Path<String>,
    params: Params,
    JsonBody(body): JsonBody<SnoozeBody>,
) -> ApiResult<(StatusCode, Json<IncidentEnvelope>)> {
    auth.require(&Action::RespondToIncidents)?;
    let requester = auth.requester()?.clone();
    let row = load(&app, &id).await?;
    let seconds = body.duration.ok_or_else(|| ApiError::field("duration", "is required"))?;
    app.store
        .execute_one(&row.id, vec![Command::Snooze { seconds }], &actor(&auth, &requester), app.now_ms())
        .await
        .map_err(|e| command_error(e, |_| String::new()))?;
    let fresh = load(&app, &row.id).await?;
    Ok((StatusCode::CREATED, envelope(&app, fresh, &params).await?))
}

#[derive(Serialize, ToSchema)]
pub struct NoteChannel {
    pub summary: String,
}

#[derive(Serialize, ToSchema)]
pub struct Note {
    pub id: String,
    pub user: Option<Reference>,
    pub channel: NoteChannel,
    pub content: String,
    pub created_at: String,
    pub updated_at: String,
}

async fn render_note(app: &App, names: &mut Names<'_>, n: NoteRow) -> Note {
    let _ = app;
    Note {
        user: match &n.user_id {
            Some(u) => Some(names.reference("user", u).await),
            None => None,
        },
        id: n.id,
        channel: NoteChannel { summary: n.channel_summary },
        content: n.content,
        created_at: time(n.created_at),
        updated_at: time(n.updated_at),
    }
}

#[derive(Serialize, ToSchema)]
pub struct NoteList {
    pub notes: Vec<Note>,
}

#[derive(Serialize, ToSchema)]
pub struct NoteEnvelope {
    pub note: Note,
}

#[derive(Deserialize, ToSchema)]
pub struct NoteInput {
    pub content: Option<String>,
}

#[derive(Deserialize, ToSchema)]
pub struct NoteBody {
    pub note: NoteInput,
}

/// An incident's notes, oldest first.
#[utoipa::path(get, path = "/incidents/{id}/notes", tag = "Incidents", params(("id" = String, Path)),
    responses((status = 200, body = NoteList)))]
pub async fn list_notes(State(app): State<App>, _auth: Auth, Path(id): Path<String>) -> ApiResult<Json<NoteList>> {
    let row = load(&app, &id).await?;
    let mut names = Names::new(&app);
    let mut notes = Vec::new();
    for n in app.store.notes(&row.id).await? {
        notes.push(render_note(&app, &mut names, n).await);
    }
    Ok(Json(NoteList { notes }))
}

const MAX_NOTE_CHARS: usize = 25_000;

/// Add a note to an incident. Needs `From` with account keys.
#[utoipa::path(post, path = "/incidents/{id}/notes", tag = "Incidents", request_body = NoteBody,
    params(("id" = String, Path)), responses((status = 200, body = NoteEnvelope)))]
pub async fn create_note(
    State(app): State<App>,
    auth: Auth,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<NoteBody>,
) -> ApiResult<Json<NoteEnvelope>> {
    auth.require(&Action::RespondToIncidents)?;
    let requester = auth.requester()?.clone();
    let row = load(&app, &id).await?;
    let content = klaxon_core::validate::required_text("note.content", body.note.content.as_deref(), MAX_NOTE_CHARS)?;
    let applied = app
        .store
        .execute_one(&row.id, vec![Command::AddNote { content }], &actor(&auth, &requester), app.now_ms())
        .await
        .map_err(|e| command_error(e, |_| "note".into()))?;
    let note_id = applied.note_id.ok_or_else(|| ApiError::internal("adding a note wrote no note"))?;
    let note = app
        .store
        .notes(&row.id)
        .await?
        .into_iter()
        .find(|n| n.id == note_id)
        .ok_or_else(|| ApiError::internal("the added note is missing"))?;
    let mut names = Names::new(&app);
    Ok(Json(NoteEnvelope { note: render_note(&app, &mut names, note).await }))
}

/// Change a note's content.
#[utoipa::path(put, path = "/incidents/{id}/notes/{note_id}", tag = "Incidents", request_body = NoteBody,
    params(("id" = String, Path), ("note_id" = String, Path)), responses((status = 200, body = NoteEnvelope)))]
pub async fn update_note(
    State(app): State<App>,
    auth: Auth,
    Path((id, note_id)): Path<(String, String)>,
    JsonBody(body): JsonBody<NoteBody>,
) -> ApiResult<Json<NoteEnvelope>> {
    auth.require(&Action::RespondToIncidents)?;
    auth.requester()?;
    let row = load(&app, &id).await?;
    let content = klaxon_core::validate::required_text("note.content", body.note.content.as_deref(), MAX_NOTE_CHARS)?;
    let note = app.store.update_note(&row.id, &note_id, &content, app.now_ms()).await?;
    let mut names = Names::new(&app);
    Ok(Json(NoteEnvelope { note: render_note(&app, &mut names, note).await }))
}

/// Delete a note.
#[utoipa::path(delete, path = "/incidents/{id}/notes/{note_id}", tag = "Incidents",
    params(("id" = String, Path), ("note_id" = String, Path)), responses((status = 204, description = "Deleted")))]
pub async fn delete_note(
    State(app): State<App>,
    auth: Auth,
    Path((id, note_id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    auth.require(&Action::RespondToIncidents)?;
    let row = load(&app, &id).await?;
    app.store.delete_note(&row.id, &note_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A log entry, as PagerDuty renders it.
#[derive(Serialize, ToSchema)]
pub struct LogEntry {
    pub id: String,
    #[serde(rename = "type")]
    #[schema(value_type = String)]
    pub kind: LogKind,
    pub summary: String,
    #[serde(rename = "self")]
    pub self_url: String,
    pub html_url: Option<String>,
    pub created_at: String,
    pub agent: Option<Reference>,
    #[schema(value_type = Object)]
    pub channel: Value,
    pub service: Option<Reference>,
    pub incident: Option<Reference>,
    pub teams: Vec<Reference>,
    #[schema(value_type = Vec<Object>)]
    pub contexts: Vec<Value>,
    #[schema(value_type = Object)]
    pub event_details: Value,
    pub note: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<Reference>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assigned_user: Option<Reference>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub details: Option<Value>,
    /// `notify_log_entry`: the notification `{id, type, status, address, started_at}` as recorded.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub notification: Option<Value>,
}

async fn render_log(app: &App, names: &mut Names<'_>, e: LogEntryRow) -> LogEntry {
    let details: Option<Value> = e.details.as_deref().and_then(|d| serde_json::from_str(d).ok());
    let channel: Value = serde_json::from_str(&e.channel).unwrap_or_else(|_| json!({"type": "auto"}));
    let user = match &e.user_id {
        Some(u) => Some(names.reference("user", u).await),
        None => None,
    };
    let incident = e.incident_id.as_ref().map(|i| app.reference("incident", "incidents", i, format!("Incident {i}")));
    LogEntry {
        self_url: app.self_url("log_entries", &e.id),
        html_url: None,
        kind: e.kind,
        created_at: time(e.created_at),
        agent: names.agent(e.agent_type.as_deref(), e.agent_id.as_deref()).await,
        service: match &e.service_id {
            Some(s) => Some(names.reference("service", s).await),
            None => None,
        },
        incident,
        teams: vec![],
        contexts: vec![],
        event_details: json!({"description": e.summary}),
        note: e.note,
        assigned_user: if e.kind == LogKind::Assign { user.clone() } else { None },
        user,
        duration: details.as_ref().and_then(|d| d["duration"].as_i64()),
        notification: details.as_ref().filter(|_| e.kind == LogKind::Notify).map(|d| d["notification"].clone()),
        details,
        channel,
        summary: e.summary,
        id: e.id,
    }
}

#[derive(Serialize, ToSchema)]
pub struct LogEntryList {
    pub log_entries: Vec<LogEntry>,
    #[serde(flatten)]
    pub pagination: Pagination,
}

async fn log_list(app: &App, params: &Params, mut filter: LogEntryFilter) -> ApiResult<Json<LogEntryList>> {
    params.check_includes(&["incidents", "services", "channels", "teams"])?;
    let page = params.page()?;
    filter.since = params.instant("since")?;
    filter.until = params.instant("until")?;
    filter.overview = params.bool("is_overview")?.unwrap_or(false);
    let (rows, total) =
        app.store.list_log_entries(&filter, page.fetch_limit(), i64::from(page.offset), page.want_total).await?;
    let (rows, more) = split_page(rows, &page);
    let mut names = Names::new(app);
    let mut log_entries = Vec::new();
    for r in rows {
        log_entries.push(render_log(app, &mut names, r).await);
    }
    Ok(Json(LogEntryList { log_entries, pagination: Pagination::new(&page, more, total) }))
}

/// An incident's log entries (its timeline), newest first.
#[utoipa::path(get, path = "/incidents/{id}/log_entries", tag = "Log Entries",
    params(("id" = String, Path), ("since" = Option<String>, Query), ("until" = Option<String>, Query),
           ("is_overview" = Option<bool>, Query), ("limit" = Option<u32>, Query), ("offset" = Option<u32>, Query)),
    responses((status = 200, body = LogEntryList)))]
pub async fn incident_log_entries(
    State(app): State<App>,
    _auth: Auth,
    Path(id): Path<String>,
    params: Params,
) -> ApiResult<Json<LogEntryList>> {
    let row = load(&app, &id).await?;
    log_list(&app, &params, LogEntryFilter { incident_id: Some(row.id), ..Default::default() }).await
}

/// Every log entry of the account, newest first.
#[utoipa::path(get, path = "/log_entries", tag = "Log Entries",
    params(("team_ids[]" = Option<Vec<String>>, Query), ("since" = Option<String>, Query), ("until" = Option<String>, Query),
           ("is_overview" = Option<bool>, Query), ("limit" = Option<u32>, Query), ("offset" = Option<u32>, Query)),
    responses((status = 200, body = LogEntryList)))]
pub async fn list_log_entries(State(app): State<App>, _auth: Auth, params: Params) -> ApiResult<Json<LogEntryList>> {
    log_list(&app, &params, LogEntryFilter { team_ids: params.list("team_ids"), ..Default::default() }).await
}

#[derive(Serialize, ToSchema)]
pub struct LogEntryEnvelope {
    pub log_entry: LogEntry,
}

/// One log entry.
#[utoipa::path(get, path = "/log_entries/{id}", tag = "Log Entries", params(("id" = String, Path)),
    responses((status = 200, body = LogEntryEnvelope), (status = 404, description = "No such log entry")))]
pub async fn get_log_entry(
    State(app): State<App>,
    _auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<LogEntryEnvelope>> {
    let row = app.store.log_entry(&id).await?.ok_or_else(|| ApiError::not_found("Log entry"))?;
    let mut names = Names::new(&app);
    Ok(Json(LogEntryEnvelope { log_entry: render_log(&app, &mut names, row).await }))
}

/// An alert, as PagerDuty renders it, with Klaxon's dedup counters.
#[derive(Serialize, ToSchema)]
pub struct Alert {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub summary: String,
    #[serde(rename = "self")]
    pub self_url: String,
    pub html_url: Option<String>,
    pub created_at: String,
    #[schema(value_type = String)]
    pub status: AlertStatus,
    pub alert_key: String,
    pub service: Reference,
    pub first_trigger_log_entry: Option<Reference>,
    pub incident: Option<Reference>,
    pub suppressed: bool,
    pub severity: String,
    pub integration: Option<Reference>,
    #[schema(value_type = Object)]
    pub body: Value,
    pub resolved_at: Option<String>,
    /// How many triggers were deduplicated onto this alert (the first included).
    pub trigger_count: i64,
    pub last_occurred_at: String,
}

async fn render_alert(app: &App, names: &mut Names<'_>, a: AlertRow) -> Alert {
    let contexts: Value = serde_json::from_str(&a.contexts).unwrap_or_else(|_| json!([]));
    let custom: Value = a.custom_details.as_deref().and_then(|d| serde_json::from_str(d).ok()).unwrap_or(Value::Null);
    let cef = json!({
        "summary": a.summary, "source": a.source, "severity": a.severity, "component": a.component,
        "group": a.group_name, "class": a.class, "event_class": a.class, "client": a.client, "client_url": a.client_url,
        "timestamp": a.event_timestamp.map(time), "contexts": contexts, "details": custom,
    });
    Alert {
        self_url: format!("{}/alerts/{}", app.self_url("incidents", a.incident_id.as_deref().unwrap_or("-")), a.id),
        html_url: None,
        kind: "alert",
        created_at: time(a.created_at),
        service: names.reference("service", &a.service_id).await,
        first_trigger_log_entry: a
            .first_trigger_log_entry_id
            .as_ref()
            .map(|id| app.reference("trigger_log_entry", "log_entries", id, "Triggered")),
        incident: a.incident_id.as_ref().map(|i| app.reference("incident", "incidents", i, format!("Incident {i}"))),
        integration: a.integration_id.as_ref().map(|i| app.reference("integration", "integrations", i, "Integration")),
        body: json!({"type": "alert_body", "contexts": contexts, "details": custom, "cef_details": cef}),
        resolved_at: opt_time(a.resolved_at),
        trigger_count: a.trigger_count,
        last_occurred_at: time(a.last_occurred_at),
        summary: a.summary,
        status: a.status,
        alert_key: a.alert_key,
        suppressed: a.suppressed,
        severity: a.severity,
        id: a.id,
    }
}

#[derive(Serialize, ToSchema)]
pub struct AlertList {
    pub alerts: Vec<Alert>,
    #[serde(flatten)]
    pub pagination: Pagination,
}

/// An incident's alerts, oldest first.
#[utoipa::path(get, path = "/incidents/{id}/alerts", tag = "Incidents",
    params(("id" = String, Path), ("statuses[]" = Option<Vec<String>>, Query), ("alert_key" = Option<String>, Query),
           ("limit" = Option<u32>, Query), ("offset" = Option<u32>, Query), ("total" = Option<bool>, Query)),
    responses((status = 200, body = AlertList)))]
pub async fn list_alerts(
    State(app): State<App>,
    _auth: Auth,
    Path(id): Path<String>,
    params: Params,
) -> ApiResult<Json<AlertList>> {
    let row = load(&app, &id).await?;
    let page = params.page()?;
    let statuses = check_values(&params, "statuses", &["triggered", "resolved"])?;
    let (rows, total) = app
        .store
        .incident_alerts(&row.id, &statuses, params.get("alert_key"), page.fetch_limit(), i64::from(page.offset))
        .await?;
    let (rows, more) = split_page(rows, &page);
    let mut names = Names::new(&app);
    let mut alerts = Vec::new();
    for a in rows {
        alerts.push(render_alert(&app, &mut names, a).await);
    }
    Ok(Json(AlertList { alerts, pagination: Pagination::new(&page, more, page.want_total.then_some(total)) }))
}

#[derive(Serialize, ToSchema)]
pub struct AlertEnvelope {
    pub alert: Alert,
}

/// One alert of an incident.
#[utoipa::path(get, path = "/incidents/{id}/alerts/{alert_id}", tag = "Incidents",
    params(("id" = String, Path), ("alert_id" = String, Path)), responses((status = 200, body = AlertEnvelope)))]
pub async fn get_alert(
    State(app): State<App>,
    _auth: Auth,
    Path((id, alert_id)): Path<(String, String)>,
) -> ApiResult<Json<AlertEnvelope>> {
    let row = load(&app, &id).await?;
    let alert = app.store.alert(&row.id, &alert_id).await?.ok_or_else(|| ApiError::not_found("Alert"))?;
    let mut names = Names::new(&app);
    Ok(Json(AlertEnvelope { alert: render_alert(&app, &mut names, alert).await }))
}

#[derive(Deserialize, ToSchema)]
pub struct AlertChangeInput {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub incident: Option<IdRef>,
}

#[derive(Deserialize, ToSchema)]
pub struct AlertChangeBody {
    pub alert: AlertChangeInput,
}

#[derive(Deserialize, ToSchema)]
pub struct AlertBulkBody {
    pub alerts: Vec<AlertChangeInput>,
}

fn alert_change(alert_id: String, c: &AlertChangeInput) -> AlertChange {
    AlertChange {
        alert_id,
        status: c.status.as_deref().and_then(|s| s.parse().ok()),
        move_to: c.incident.as_ref().map(|i| i.id.clone()),
    }
}

fn check_alert_change(field: &str, c: &AlertChangeInput) -> ApiResult<()> {
    match c.status.as_deref() {
        None | Some("resolved") | Some("triggered") => Ok(()),
        Some(_) => Err(ApiError::field(&format!("{field}.status"), "must be resolved or triggered")),
    }
}

/// Resolve an alert, or move it to another open incident.
#[utoipa::path(put, path = "/incidents/{id}/alerts/{alert_id}", tag = "Incidents", request_body = AlertChangeBody,
    params(("id" = String, Path), ("alert_id" = String, Path)), responses((status = 200, body = AlertEnvelope)))]
pub async fn update_alert(
    State(app): State<App>,
    auth: Auth,
    Path((id, alert_id)): Path<(String, String)>,
    JsonBody(body): JsonBody<AlertChangeBody>,
) -> ApiResult<Json<AlertEnvelope>> {
    auth.require(&Action::RespondToIncidents)?;
    let requester = auth.requester()?.clone();
    let row = load(&app, &id).await?;
    check_alert_change("alert", &body.alert)?;
    app.store.alert(&row.id, &alert_id).await?.ok_or_else(|| ApiError::not_found("Alert"))?;
    let change = alert_change(alert_id.clone(), &body.alert);
    app.store
        .change_alerts(&row.id, &[change], &actor(&auth, &requester), app.now_ms())
        .await
        .map_err(|e| command_error(e, |_| "alert".into()))?;
    let incident_id = body.alert.incident.map(|i| i.id).unwrap_or(row.id);
    let alert = app.store.alert(&incident_id, &alert_id).await?.ok_or_else(|| ApiError::not_found("Alert"))?;
    let mut names = Names::new(&app);
    Ok(Json(AlertEnvelope { alert: render_alert(&app, &mut names, alert).await }))
}

/// Resolve or move up to 250 alerts of an incident at once.
#[utoipa::path(put, path = "/incidents/{id}/alerts", tag = "Incidents", request_body = AlertBulkBody,
    params(("id" = String, Path)), responses((status = 200, body = AlertList)))]
pub async fn update_alerts(
    State(app): State<App>,
    auth: Auth,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<AlertBulkBody>,
) -> ApiResult<Json<Value>> {
    auth.require(&Action::RespondToIncidents)?;
    let requester = auth.requester()?.clone();
    let row = load(&app, &id).await?;
    if body.alerts.len() > MAX_BULK {
        return Err(incident_error(IncidentError::TooMany));
    }
    let mut changes = Vec::new();
    for (i, c) in body.alerts.iter().enumerate() {
        let field = format!("alerts[{i}]");
        check_alert_change(&field, c)?;
        let alert_id = c.id.clone().ok_or_else(|| ApiError::field(&format!("{field}.id"), "is required"))?;
        if app.store.alert(&row.id, &alert_id).await?.is_none() {
            return Err(ApiError::field(
                &format!("{field}.id"),
                &format!("{alert_id} is not an alert of this incident"),
            ));
        }
        changes.push(alert_change(alert_id, c));
    }
    app.store
        .change_alerts(&row.id, &changes, &actor(&auth, &requester), app.now_ms())
        .await
        .map_err(|e| command_error(e, |i| format!("alerts[{i}]")))?;
    let (rows, _) = app.store.incident_alerts(&row.id, &[], None, 1000, 0).await?;
    let mut names = Names::new(&app);
    let mut alerts = Vec::new();
    for a in rows {
        alerts.push(render_alert(&app, &mut names, a).await);
    }
    Ok(Json(json!({"alerts": alerts})))
}
