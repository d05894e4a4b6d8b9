//! `/services` and their nested `/services/{id}/integrations`.
//!
//! JSON documents (urgency rule, support hours, scheduled actions, grouping and auto-pause parameters)
//! are validated for shape and stored as text (the first three through klaxon-core's `service_rules`
//! types, stored as sent). Explicit `null` on PUT clears a field (Terraform relies on
//! it). The rendered `status` is derived: disabled, maintenance (a window covers it now), critical
//! (triggered incidents), warning (acknowledged incidents), else active.

use super::config_common::{check, name_and_description, resolve_teams, sort_descending, type_is};
use crate::error::{ApiError, ApiResult};
use crate::extract::{Auth, JsonBody, Params, Patch};
use crate::render::services::{IntegrationOut, ServiceIncludes, ServiceOut, render_integration, render_service};
use crate::render::vendors::{vendor_generic_type, vendor_name};
use crate::render::{IdRef, Pagination};
use crate::state::App;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use klaxon_core::page::split_page;
use klaxon_core::role::Action;
use klaxon_core::service_rules::{ScheduledAction, SupportHours, UrgencyRule};
use klaxon_store::integrations::{IntegrationFields, IntegrationRow};
use klaxon_store::services::{Service, ServiceFields, ServiceFilter};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn routes() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(list_services, create_service))
        .routes(routes!(get_service, update_service, delete_service))
        .routes(routes!(create_integration))
        .routes(routes!(get_integration, update_integration, delete_integration))
}

pub const DEFAULT_ACK_TIMEOUT: i64 = 1800;
pub const DEFAULT_AUTO_RESOLVE: i64 = 14400;
/// The largest timeout accepted (about 68 years), so timer arithmetic in milliseconds cannot overflow.
pub const MAX_TIMEOUT_SECONDS: i64 = i32::MAX as i64;

#[derive(Clone, Debug, Deserialize, ToSchema)]
pub struct ServiceBody {
    pub service: Option<ServiceInput>,
}

/// A service as sent on create and update. Every field is optional on update; `null` clears.
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
pub struct ServiceInput {
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub name: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub description: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<IdRef>)]
    pub escalation_policy: Patch<IdRef>,
    #[serde(default)]
    #[schema(value_type = Option<Vec<IdRef>>)]
    pub teams: Patch<Vec<IdRef>>,
    #[serde(default)]
    #[schema(value_type = Option<i64>)]
    pub acknowledgement_timeout: Patch<i64>,
    #[serde(default)]
    #[schema(value_type = Option<i64>)]
    pub auto_resolve_timeout: Patch<i64>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub status: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub incident_urgency_rule: Patch<Value>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub support_hours: Patch<Value>,
    #[serde(default)]
    #[schema(value_type = Option<Vec<Object>>)]
    pub scheduled_actions: Patch<Value>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub alert_creation: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub alert_grouping_parameters: Patch<Value>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub auto_pause_notifications_parameters: Patch<Value>,
}

#[derive(Serialize, ToSchema)]
pub struct ServiceResponse {
    pub service: ServiceOut,
}

#[derive(Serialize, ToSchema)]
pub struct ServiceList {
    pub services: Vec<ServiceOut>,
    #[serde(flatten)]
    pub pagination: Pagination,
}

impl ServiceIncludes {
    fn from(params: &Params) -> ApiResult<Self> {
        params.check_includes(&[
            "escalation_policies",
            "teams",
            "integrations",
            "auto_pause_notifications_parameters",
        ])?;
        Ok(Self {
            escalation_policies: params.includes("escalation_policies"),
            teams: params.includes("teams"),
            integrations: params.includes("integrations"),
        })
    }
}

// ---- validation of the JSON documents ----

// The urgency rule, support hours and scheduled actions are klaxon-core's `service_rules` types; the
// request's JSON is stored as sent once it parses.

fn known_zone(name: &str) -> bool {
    jiff::tz::TimeZone::get(name).is_ok()
}

/// The parsed value, or its errors pushed onto `errors`.
fn collect<T>(parsed: Result<T, Vec<String>>, errors: &mut Vec<String>) -> Option<T> {
    parsed.map_err(|e| errors.extend(e)).ok()
}

/// Returns the grouping parameters to store (None = no grouping).
fn validate_grouping(v: &Value, errors: &mut Vec<String>) -> Option<String> {
    let field = "service.alert_grouping_parameters";
    if !v.is_object() {
        errors.push(format!("{field} must be an object"));
        return None;
    }
    match v.get("type") {
        None | Some(Value::Null) => None,
        Some(Value::String(t)) if ["time", "intelligent", "content_based"].contains(&t.as_str()) => {
            if let Some(config) = v.get("config") {
                if !(config.is_object() || config.is_null()) {
                    errors.push(format!("{field}.config must be an object"));
                }
                if t == "content_based"
                    && let Some(agg) = config.get("aggregate")
                    && !matches!(agg.as_str(), Some("all" | "any"))
                {
                    errors.push(format!("{field}.config.aggregate must be all or any"));
                }
            }
            Some(v.to_string())
        }
        Some(_) => {
            errors.push(format!("{field}.type must be time, intelligent, content_based or null"));
            None
        }
    }
}

fn validate_auto_pause(v: &Value, errors: &mut Vec<String>) -> String {
    let field = "service.auto_pause_notifications_parameters";
    if !v.is_object() {
        errors.push(format!("{field} must be an object"));
        return String::new();
    }
    let enabled = match v.get("enabled") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            errors.push(format!("{field}.enabled must be true or false"));
            false
        }
    };
    let timeout = match v.get("timeout") {
        None | Some(Value::Null) => Value::Null,
        Some(t) if t.as_i64().is_some_and(|n| [0, 120, 180, 300, 600, 900].contains(&n)) => t.clone(),
        Some(_) => {
            errors.push(format!("{field}.timeout must be one of 0, 120, 180, 300, 600, 900"));
            Value::Null
        }
    };
    json!({"enabled": enabled, "timeout": timeout}).to_string()
}

/// A timeout in seconds: null or 0 disables; negative is an error.
fn timeout(
    p: Patch<i64>,
    current: Option<Option<i64>>,
    default: i64,
    field: &str,
    errors: &mut Vec<String>,
) -> Option<i64> {
    match p {
        Patch::Value(n) if !(0..=MAX_TIMEOUT_SECONDS).contains(&n) => {
            errors.push(format!("{field} must be a number of seconds from 0 to {MAX_TIMEOUT_SECONDS}"));
            None
        }
        Patch::Value(0) | Patch::Null => None,
        Patch::Value(n) => Some(n),
        Patch::Absent => current.unwrap_or(Some(default)),
    }
}

struct ValidatedService {
    fields: ServiceFields,
    teams: Option<Vec<String>>,
}

async fn validate(app: &App, input: ServiceInput, existing: Option<&Service>) -> ApiResult<ValidatedService> {
    let mut errors = Vec::new();
    let cur = existing.map(|s| &s.row);
    let (name, description) = name_and_description(
        input.name,
        input.description,
        cur.map(|c| (c.name.as_str(), c.description.as_deref())),
        "service",
        &mut errors,
    );
    let escalation_policy_id = match input.escalation_policy {
        Patch::Value(r) => {
            if !type_is(&r.kind, "escalation_policy") {
                errors.push("service.escalation_policy.type must be escalation_policy_reference".into());
            } else if app.store.escalation_policy(&r.id, false).await?.is_none() {
                errors.push(format!("service.escalation_policy.id {} not found", r.id));
            }
            r.id
        }
        Patch::Absent if cur.is_some() => cur.map(|c| c.escalation_policy_id.clone()).unwrap_or_default(),
        _ => {
            errors.push("service.escalation_policy is required".into());
            String::new()
        }
    };
    let teams = match input.teams {
        Patch::Value(refs) => Some(resolve_teams(app, &refs, "service.teams", &mut errors).await?),
        Patch::Null => Some(Vec::new()),
        Patch::Absent => existing.is_none().then(Vec::new),
    };
    let acknowledgement_timeout = timeout(
        input.acknowledgement_timeout,
        cur.map(|c| c.acknowledgement_timeout),
        DEFAULT_ACK_TIMEOUT,
        "service.acknowledgement_timeout",
        &mut errors,
    );
    let auto_resolve_timeout = timeout(
        input.auto_resolve_timeout,
        cur.map(|c| c.auto_resolve_timeout),
        DEFAULT_AUTO_RESOLVE,
        "service.auto_resolve_timeout",
        &mut errors,
    );
    let status = match (input.status, cur) {
        (Patch::Value(s), None) if s == "active" => s,
        (Patch::Value(_), None) => {
            errors.push("service.status must be active when creating a service".into());
            String::new()
        }
        (Patch::Value(s), Some(_)) if s == "active" || s == "disabled" => s,
        (Patch::Value(_), Some(_)) => {
            errors.push("service.status must be active or disabled".into());
            String::new()
        }
        (Patch::Null | Patch::Absent, Some(c)) => c.status.clone(),
        (Patch::Null | Patch::Absent, None) => "active".into(),
    };
    const RULE: &str = "service.incident_urgency_rule";
    const HOURS: &str = "service.support_hours";
    let rules_sent = !matches!((&input.incident_urgency_rule, &input.support_hours), (Patch::Absent, Patch::Absent));
    let default_rule = || UrgencyRule::default().to_value().to_string();
    let (incident_urgency_rule, rule) = match input.incident_urgency_rule {
        Patch::Value(v) => (v.to_string(), collect(UrgencyRule::parse(&v, RULE), &mut errors)),
        Patch::Null => (default_rule(), Some(UrgencyRule::default())),
        Patch::Absent => {
            let text = cur.map(|c| c.incident_urgency_rule.clone()).unwrap_or_else(default_rule);
            let rule = serde_json::from_str::<UrgencyRule>(&text).ok();
            (text, rule)
        }
    };
    let support_hours = match input.support_hours {
        Patch::Value(v) => {
            collect(SupportHours::parse(&v, HOURS, known_zone), &mut errors);
            Some(v.to_string())
        }
        Patch::Null => None,
        Patch::Absent => cur.and_then(|c| c.support_hours.clone()),
    };
    // A use_support_hours rule needs support hours; checked when either is sent, so an update of other
    // fields of a service stored before this rule still succeeds.
    if rules_sent
        && let Some(rule) = rule
        && let Err(e) = rule.check_support_hours(support_hours.is_some(), RULE, HOURS)
    {
        errors.push(e);
    }
    let scheduled_actions = match input.scheduled_actions {
        Patch::Value(v) => {
            collect(ScheduledAction::parse_list(&v, "service.scheduled_actions"), &mut errors);
            v.to_string()
        }
        Patch::Null => "[]".into(),
        Patch::Absent => cur.map(|c| c.scheduled_actions.clone()).unwrap_or_else(|| "[]".into()),
    };
    let default_creation = || "create_alerts_and_incidents".to_string();
    let alert_creation = match input.alert_creation {
        Patch::Value(a) if a == "create_incidents" || a == "create_alerts_and_incidents" => a,
        Patch::Value(_) => {
            errors.push("service.alert_creation must be create_incidents or create_alerts_and_incidents".into());
            String::new()
        }
        Patch::Null => default_creation(),
        Patch::Absent => cur.map(|c| c.alert_creation.clone()).unwrap_or_else(default_creation),
    };
    let alert_grouping_parameters = match input.alert_grouping_parameters {
        Patch::Value(v) => validate_grouping(&v, &mut errors),
        Patch::Null => None,
        Patch::Absent => cur.and_then(|c| c.alert_grouping_parameters.clone()),
    };
    let default_pause = || json!({"enabled": false, "timeout": null}).to_string();
    let auto_pause_notifications_parameters = Some(match input.auto_pause_notifications_parameters {
        Patch::Value(v) => validate_auto_pause(&v, &mut errors),
        Patch::Null => default_pause(),
        Patch::Absent => cur.and_then(|c| c.auto_pause_notifications_parameters.clone()).unwrap_or_else(default_pause),
    });
    check(errors)?;
    Ok(ValidatedService {
        fields: ServiceFields {
            name,
            description,
            escalation_policy_id,
            status,
            acknowledgement_timeout,
            auto_resolve_timeout,
            incident_urgency_rule,
            support_hours,
            scheduled_actions,
            alert_creation,
            alert_grouping_parameters,
            auto_pause_notifications_parameters,
        },
        teams,
    })
}

async fn load(app: &App, id: &str) -> ApiResult<Service> {
    app.store.service(id, false, app.now_ms()).await?.ok_or_else(|| ApiError::not_found("Service"))
}

/// List services.
#[utoipa::path(get, path = "/services", tag = "Services",
    params(("query" = Option<String>, Query, description = "Case-insensitive name search"),
           ("name" = Option<String>, Query, description = "Exact name (case-insensitive)"),
           ("team_ids[]" = Option<Vec<String>>, Query),
           ("include[]" = Option<Vec<String>>, Query, description = "escalation_policies, teams, integrations"),
           ("sort_by" = Option<String>, Query, description = "name, name:asc or name:desc"),
           ("limit" = Option<u32>, Query), ("offset" = Option<u32>, Query), ("total" = Option<bool>, Query)),
    responses((status = 200, body = ServiceList), (status = 400, description = "Bad parameter")))]
pub async fn list_services(State(app): State<App>, _auth: Auth, params: Params) -> ApiResult<Json<ServiceList>> {
    let page = params.page()?;
    let include = ServiceIncludes::from(&params)?;
    let filter = ServiceFilter {
        query: params.get("query").map(String::from),
        name: params.get("name").map(String::from),
        team_ids: params.list("team_ids"),
        descending: sort_descending(&params)?,
    };
    let (rows, total) = app
        .store
        .list_services(&filter, page.fetch_limit(), i64::from(page.offset), page.want_total, app.now_ms())
        .await?;
    let (rows, more) = split_page(rows, &page);
    let mut services = Vec::with_capacity(rows.len());
    for s in rows {
        services.push(render_service(&app, s, include).await?);
    }
    Ok(Json(ServiceList { services, pagination: Pagination::new(&page, more, total) }))
}

/// Create a service.
#[utoipa::path(post, path = "/services", tag = "Services", request_body = ServiceBody,
    responses((status = 201, body = ServiceResponse), (status = 400, description = "Invalid input"),
              (status = 403, description = "Not allowed to configure")))]
pub async fn create_service(
    State(app): State<App>,
    auth: Auth,
    JsonBody(body): JsonBody<ServiceBody>,
) -> ApiResult<(StatusCode, Json<ServiceResponse>)> {
    auth.require(&Action::Configure)?;
    let input = body.service.ok_or_else(|| ApiError::field("service", "is required"))?;
    let v = validate(&app, input, None).await?;
    let id = app.store.create_service(&v.fields, v.teams.as_deref().unwrap_or(&[]), app.now_ms()).await?;
    let service = render_service(&app, load(&app, &id).await?, ServiceIncludes::default()).await?;
    Ok((StatusCode::CREATED, Json(ServiceResponse { service })))
}

/// Get a service.
#[utoipa::path(get, path = "/services/{id}", tag = "Services",
    params(("id" = String, Path),
           ("include[]" = Option<Vec<String>>, Query, description = "escalation_policies, teams, integrations")),
    responses((status = 200, body = ServiceResponse), (status = 404, description = "No such service")))]
pub async fn get_service(
    State(app): State<App>,
    _auth: Auth,
    Path(id): Path<String>,
    params: Params,
) -> ApiResult<Json<ServiceResponse>> {
    let include = ServiceIncludes::from(&params)?;
    let service = render_service(&app, load(&app, &id).await?, include).await?;
    Ok(Json(ServiceResponse { service }))
}

/// Update a service. Only sent fields change; `null` clears (timeouts disable, grouping off).
#[utoipa::path(put, path = "/services/{id}", tag = "Services", request_body = ServiceBody,
    params(("id" = String, Path)),
    responses((status = 200, body = ServiceResponse), (status = 400, description = "Invalid input"),
              (status = 403, description = "Not allowed to configure"), (status = 404, description = "No such service")))]
pub async fn update_service(
    State(app): State<App>,
    auth: Auth,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<ServiceBody>,
) -> ApiResult<Json<ServiceResponse>> {
    auth.require(&Action::Configure)?;
    let existing = load(&app, &id).await?;
    let input = body.service.ok_or_else(|| ApiError::field("service", "is required"))?;
    let v = validate(&app, input, Some(&existing)).await?;
    app.store.update_service(&id, &v.fields, v.teams.as_deref(), app.now_ms()).await?;
    let service = render_service(&app, load(&app, &id).await?, ServiceIncludes::default()).await?;
    Ok(Json(ServiceResponse { service }))
}

/// Delete a service (and its integrations: their routing keys stop working).
#[utoipa::path(delete, path = "/services/{id}", tag = "Services", params(("id" = String, Path)),
    responses((status = 204, description = "Deleted"), (status = 403, description = "Not allowed to configure"),
              (status = 404, description = "No such service")))]
pub async fn delete_service(State(app): State<App>, auth: Auth, Path(id): Path<String>) -> ApiResult<StatusCode> {
    auth.require(&Action::Configure)?;
    app.store.delete_service(&id, app.now_ms()).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---- integrations ----

pub const INTEGRATION_TYPES: &[(&str, &str)] = &[
    ("events_api_v2_inbound_integration", "Events API v2"),
    ("generic_events_api_inbound_integration", "Events API v1"),
];

#[derive(Clone, Debug, Deserialize, ToSchema)]
pub struct IntegrationBody {
    pub integration: Option<IntegrationInput>,
}

/// An integration as sent. `integration_key` is generated by the server; a sent one is ignored.
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
pub struct IntegrationInput {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub name: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<IdRef>)]
    pub vendor: Patch<IdRef>,
    /// Klaxon extension: events per minute for this routing key; null = server default, 0 = unlimited.
    #[serde(default)]
    #[schema(value_type = Option<i64>)]
    pub rate_limit_per_minute: Patch<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct IntegrationResponse {
    pub integration: IntegrationOut,
}

/// Validates the writable fields, merged onto `current` for updates.
fn integration_fields(
    input: IntegrationInput,
    kind: &str,
    current: Option<&IntegrationRow>,
) -> ApiResult<IntegrationFields> {
    let mut errors = Vec::new();
    let default_name = INTEGRATION_TYPES.iter().find(|t| t.0 == kind).map(|t| t.1).unwrap_or("Integration");
    let name = match input.name {
        Patch::Value(n) if !n.trim().is_empty() => n.trim().to_string(),
        Patch::Value(_) | Patch::Null => default_name.to_string(),
        Patch::Absent => current.map(|c| c.name.clone()).unwrap_or_else(|| default_name.to_string()),
    };
    let vendor_id = match input.vendor {
        Patch::Value(r) => {
            if !type_is(&r.kind, "vendor") {
                errors.push("integration.vendor.type must be vendor_reference".into());
            } else if vendor_name(&r.id).is_none() {
                errors.push(format!("integration.vendor.id {} not found", r.id));
            }
            Some(r.id)
        }
        Patch::Null => None,
        Patch::Absent => current.and_then(|c| c.vendor_id.clone()),
    };
    let rate_limit_per_minute = match input.rate_limit_per_minute {
        Patch::Value(n) if n < 0 => {
            errors.push("integration.rate_limit_per_minute must be 0 (unlimited) or more".into());
            None
        }
        Patch::Value(n) => Some(n),
        Patch::Null => None,
        Patch::Absent => current.and_then(|c| c.rate_limit_per_minute),
    };
    check(errors)?;
    Ok(IntegrationFields { name, vendor_id, rate_limit_per_minute })
}

async fn load_integration(app: &App, service_id: &str, id: &str) -> ApiResult<(Service, IntegrationRow)> {
    let service = load(app, service_id).await?;
    let integration = app.store.integration(service_id, id).await?.ok_or_else(|| ApiError::not_found("Integration"))?;
    Ok((service, integration))
}

/// Create an integration on a service; the response carries its routing key (`integration_key`).
#[utoipa::path(post, path = "/services/{id}/integrations", tag = "Services", request_body = IntegrationBody,
    params(("id" = String, Path)),
    responses((status = 201, body = IntegrationResponse), (status = 400, description = "Invalid input"),
              (status = 403, description = "Not allowed to configure"), (status = 404, description = "No such service")))]
pub async fn create_integration(
    State(app): State<App>,
    auth: Auth,
    Path(service_id): Path<String>,
    JsonBody(body): JsonBody<IntegrationBody>,
) -> ApiResult<(StatusCode, Json<IntegrationResponse>)> {
    auth.require(&Action::Configure)?;
    let service = load(&app, &service_id).await?;
    let mut input = body.integration.ok_or_else(|| ApiError::field("integration", "is required"))?;
    // Terraform sends `type: "service_integration"` with a vendor: the vendor decides the type.
    let vendor_type = input.vendor.as_value().and_then(|v| vendor_generic_type(&v.id));
    let kind = match input.kind.as_deref().map(|k| k.strip_suffix("_reference").unwrap_or(k)) {
        Some(k) if INTEGRATION_TYPES.iter().any(|t| t.0 == k) => k.to_string(),
        None | Some("service_integration" | "inbound_integration") if vendor_type.is_some() => {
            // Named after the vendor unless the client chose a name.
            if input.name.as_value().is_none_or(|n| n.trim().is_empty())
                && let Some(name) = input.vendor.as_value().and_then(|v| vendor_name(&v.id))
            {
                input.name = Patch::Value(name.to_string());
            }
            vendor_type.unwrap_or_default().to_string()
        }
        Some(_) => {
            return Err(ApiError::field(
                "integration.type",
                "must be events_api_v2_inbound_integration or generic_events_api_inbound_integration",
            ));
        }
        None => return Err(ApiError::field("integration.type", "is required")),
    };
    let fields = integration_fields(input, &kind, None)?;
    let row = app.store.create_integration(&service_id, &kind, &fields, app.now_ms()).await?;
    Ok((
        StatusCode::CREATED,
        Json(IntegrationResponse { integration: render_integration(&app, row, &service.row.name) }),
    ))
}

/// Get an integration of a service.
#[utoipa::path(get, path = "/services/{id}/integrations/{integration_id}", tag = "Services",
    params(("id" = String, Path), ("integration_id" = String, Path)),
    responses((status = 200, body = IntegrationResponse), (status = 404, description = "No such service or integration")))]
pub async fn get_integration(
    State(app): State<App>,
    _auth: Auth,
    Path((service_id, id)): Path<(String, String)>,
) -> ApiResult<Json<IntegrationResponse>> {
    let (service, row) = load_integration(&app, &service_id, &id).await?;
    Ok(Json(IntegrationResponse { integration: render_integration(&app, row, &service.row.name) }))
}

/// Update an integration's name, vendor or rate limit. Its type and routing key do not change.
#[utoipa::path(put, path = "/services/{id}/integrations/{integration_id}", tag = "Services",
    request_body = IntegrationBody, params(("id" = String, Path), ("integration_id" = String, Path)),
    responses((status = 200, body = IntegrationResponse), (status = 400, description = "Invalid input"),
              (status = 403, description = "Not allowed to configure"),
              (status = 404, description = "No such service or integration")))]
pub async fn update_integration(
    State(app): State<App>,
    auth: Auth,
    Path((service_id, id)): Path<(String, String)>,
    JsonBody(body): JsonBody<IntegrationBody>,
) -> ApiResult<Json<IntegrationResponse>> {
    auth.require(&Action::Configure)?;
    let (service, current) = load_integration(&app, &service_id, &id).await?;
    let input = body.integration.ok_or_else(|| ApiError::field("integration", "is required"))?;
    let kind = current.kind.clone();
    let fields = integration_fields(input, &kind, Some(&current))?;
    let row = app.store.update_integration(&service_id, &id, &fields).await?;
    Ok(Json(IntegrationResponse { integration: render_integration(&app, row, &service.row.name) }))
}

/// Delete an integration: its routing key stops working.
#[utoipa::path(delete, path = "/services/{id}/integrations/{integration_id}", tag = "Services",
    params(("id" = String, Path), ("integration_id" = String, Path)),
    responses((status = 204, description = "Deleted"), (status = 403, description = "Not allowed to configure"),
              (status = 404, description = "No such service or integration")))]
pub async fn delete_integration(
    State(app): State<App>,
    auth: Auth,
    Path((service_id, id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    auth.require(&Action::Configure)?;
    load_integration(&app, &service_id, &id).await?;
    app.store.delete_integration(&service_id, &id, app.now_ms()).await?;
    Ok(StatusCode::NO_CONTENT)
}
