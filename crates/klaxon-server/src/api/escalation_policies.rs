//! `/escalation_policies`: who is notified, in which order, and how often the path repeats.
//! Rules are replaced as a whole when `escalation_rules` is sent on PUT (in one transaction).
//! `escalation_rule_assignment_strategy` is accepted as `{"type": …}` or a plain string and always
//! rendered as the object. Every target must name a live user or schedule.

use super::config_common::{check, name_and_description, resolve_teams, sort_descending};
use crate::error::{ApiError, ApiResult};
use crate::extract::{Auth, JsonBody, Params, Patch};
use crate::render::escalation_policies::{PolicyIncludes, PolicyOut, render_policy};
use crate::render::{IdRef, Pagination};
use crate::state::App;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use klaxon_core::page::split_page;
use klaxon_core::role::Action;
use klaxon_store::escalation_policies::{EscalationPolicy, NewRule, PolicyFields, PolicyFilter};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn routes() -> OpenApiRouter<App> {
    OpenApiRouter::new().routes(routes!(list_policies, create_policy)).routes(routes!(
        get_policy,
        update_policy,
        delete_policy
    ))
}

#[derive(Clone, Debug, Deserialize, ToSchema)]
pub struct PolicyBody {
    pub escalation_policy: Option<PolicyInput>,
}

/// An escalation policy as sent on create and update. Every field is optional on update.
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
pub struct PolicyInput {
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub name: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub description: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<i64>)]
    pub num_loops: Patch<i64>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub on_call_handoff_notifications: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<Vec<RuleInput>>)]
    pub escalation_rules: Patch<Vec<RuleInput>>,
    #[serde(default)]
    #[schema(value_type = Option<Vec<IdRef>>)]
    pub teams: Patch<Vec<IdRef>>,
}

#[derive(Clone, Debug, Deserialize, ToSchema)]
pub struct RuleInput {
    /// On update, the id of an existing rule of this policy keeps that id.
    pub id: Option<String>,
    pub escalation_delay_in_minutes: Option<i64>,
    pub targets: Option<Vec<TargetInput>>,
    /// `{"type": "round_robin" | "assign_to_everyone"}` or the plain string.
    #[schema(value_type = Object)]
    pub escalation_rule_assignment_strategy: Option<Value>,
}

#[derive(Clone, Debug, Deserialize, ToSchema)]
pub struct TargetInput {
    pub id: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct PolicyResponse {
    pub escalation_policy: PolicyOut,
}

#[derive(Serialize, ToSchema)]
pub struct PolicyList {
    pub escalation_policies: Vec<PolicyOut>,
    #[serde(flatten)]
    pub pagination: Pagination,
}

impl PolicyIncludes {
    fn from(params: &Params) -> ApiResult<Self> {
        params.check_includes(&["services", "teams", "targets", "escalation_rule_assignment_strategies"])?;
        Ok(Self {
            services: params.includes("services"),
            teams: params.includes("teams"),
            targets: params.includes("targets"),
        })
    }
}

/// The strategy sent as an object or a string, or the error line.
fn strategy_of(value: &Option<Value>, field: &str) -> Result<String, String> {
    let kind = match value {
        None | Some(Value::Null) => return Ok("assign_to_everyone".into()),
        Some(Value::String(s)) => Some(s.as_str()),
        Some(Value::Object(o)) => match o.get("type") {
            None | Some(Value::Null) => return Ok("assign_to_everyone".into()),
            Some(v) => v.as_str(),
        },
        Some(_) => None,
    };
    match kind {
        Some(k @ ("round_robin" | "assign_to_everyone")) => Ok(k.to_string()),
        _ => Err(format!("{field} must be round_robin or assign_to_everyone")),
    }
}

/// Validates the rules; every problem is pushed onto `errors`.
async fn validate_rules(
    app: &App,
    rules: &[RuleInput],
    existing_rule_ids: &[String],
    errors: &mut Vec<String>,
) -> ApiResult<Vec<NewRule>> {
    let mut out = Vec::with_capacity(rules.len());
    if rules.is_empty() {
        errors.push("escalation_policy.escalation_rules must have at least one rule".into());
    }
    for (i, rule) in rules.iter().enumerate() {
        let field = format!("escalation_policy.escalation_rules[{i}]");
        let delay = match rule.escalation_delay_in_minutes {
            None => {
                errors.push(format!("{field}.escalation_delay_in_minutes is required"));
                1
            }
            Some(d) if !(1..=i64::from(i32::MAX)).contains(&d) => {
                errors.push(format!("{field}.escalation_delay_in_minutes must be at least 1"));
                1
            }
            Some(d) => d as i32,
        };
        let strategy = strategy_of(
            &rule.escalation_rule_assignment_strategy,
            &format!("{field}.escalation_rule_assignment_strategy"),
        )
        .unwrap_or_else(|e| {
            errors.push(e);
            "assign_to_everyone".into()
        });
        let mut targets = Vec::new();
        match &rule.targets {
            None => errors.push(format!("{field}.targets is required")),
            Some(list) if list.is_empty() => errors.push(format!("{field}.targets must have at least one target")),
            Some(list) => {
                for (j, t) in list.iter().enumerate() {
                    let tfield = format!("{field}.targets[{j}]");
                    let Some(id) = t.id.as_deref().map(str::trim).filter(|s| !s.is_empty()) else {
                        errors.push(format!("{tfield}.id is required"));
                        continue;
                    };
                    let kind = match t.kind.as_deref() {
                        Some("user" | "user_reference") => "user",
                        Some("schedule" | "schedule_reference" | "schedule_v3_reference") => "schedule",
                        None => {
                            errors.push(format!("{tfield}.type is required"));
                            continue;
                        }
                        Some(_) => {
                            errors.push(format!(
                                "{tfield}.type must be user, user_reference, schedule or schedule_reference"
                            ));
                            continue;
                        }
                    };
                    let found = if kind == "user" {
                        app.store.user(id).await?.is_some()
                    } else {
                        !app.store.live_schedules_named(&[id.to_string()]).await?.is_empty()
                    };
                    if !found {
                        errors.push(format!("{tfield}.id {id} not found"));
                        continue;
                    }
                    targets.push((kind.to_string(), id.to_string()));
                }
            }
        }
        // Keep a sent rule id only when it is one of this policy's rules (and not used twice).
        let id = rule
            .id
            .clone()
            .filter(|id| existing_rule_ids.contains(id) && !out.iter().any(|r: &NewRule| r.id.as_ref() == Some(id)));
        out.push(NewRule { id, escalation_delay_in_minutes: delay, assignment_strategy: strategy, targets });
    }
    Ok(out)
}

struct Validated {
    fields: PolicyFields,
    rules: Option<Vec<NewRule>>,
    teams: Option<Vec<String>>,
}

async fn validate(app: &App, input: PolicyInput, existing: Option<&EscalationPolicy>) -> ApiResult<Validated> {
    let mut errors = Vec::new();
    let current = existing.map(|p| &p.row);
    let (name, description) = name_and_description(
        input.name,
        input.description,
        current.map(|c| (c.name.as_str(), c.description.as_deref())),
        "escalation_policy",
        &mut errors,
    );
    let num_loops = match input.num_loops {
        Patch::Value(n) if (0..=9).contains(&n) => n as i32,
        Patch::Value(_) => {
            errors.push("escalation_policy.num_loops must be from 0 to 9".into());
            0
        }
        Patch::Null => 0,
        Patch::Absent => current.map(|c| c.num_loops).unwrap_or(0),
    };
    let handoff = match input.on_call_handoff_notifications {
        Patch::Value(h) if h == "if_has_services" || h == "always" => h,
        Patch::Value(_) => {
            errors.push("escalation_policy.on_call_handoff_notifications must be if_has_services or always".into());
            String::new()
        }
        Patch::Null => "if_has_services".into(),
        Patch::Absent => {
            current.map(|c| c.on_call_handoff_notifications.clone()).unwrap_or_else(|| "if_has_services".into())
        }
    };
    let rules = match input.escalation_rules {
        Patch::Value(rules) => {
            let existing_ids: Vec<String> =
                existing.map(|p| p.rules.iter().map(|r| r.row.id.clone()).collect()).unwrap_or_default();
            Some(validate_rules(app, &rules, &existing_ids, &mut errors).await?)
        }
        Patch::Absent if existing.is_some() => None,
        _ => {
            errors.push("escalation_policy.escalation_rules is required".into());
            None
        }
    };
    let teams = match input.teams {
        Patch::Value(refs) => {
            if refs.len() > 1 {
                errors.push("escalation_policy.teams may have at most one team".into());
            }
            Some(resolve_teams(app, &refs, "escalation_policy.teams", &mut errors).await?)
        }
        Patch::Null => Some(Vec::new()),
        Patch::Absent => existing.is_none().then(Vec::new),
    };
    check(errors)?;
    Ok(Validated {
        fields: PolicyFields { name, description, num_loops, on_call_handoff_notifications: handoff },
        rules,
        teams,
    })
}

fn unwrap_body(body: PolicyBody) -> ApiResult<PolicyInput> {
    body.escalation_policy.ok_or_else(|| ApiError::field("escalation_policy", "is required"))
}

async fn load(app: &App, id: &str) -> ApiResult<EscalationPolicy> {
    app.store.escalation_policy(id, false).await?.ok_or_else(|| ApiError::not_found("Escalation Policy"))
}

/// List escalation policies.
#[utoipa::path(get, path = "/escalation_policies", tag = "Escalation Policies",
    params(("query" = Option<String>, Query, description = "Case-insensitive name search"),
           ("user_ids[]" = Option<Vec<String>>, Query, description = "Policies targeting these users"),
           ("team_ids[]" = Option<Vec<String>>, Query),
           ("include[]" = Option<Vec<String>>, Query, description = "services, teams, targets"),
           ("sort_by" = Option<String>, Query, description = "name, name:asc or name:desc"),
           ("limit" = Option<u32>, Query), ("offset" = Option<u32>, Query), ("total" = Option<bool>, Query)),
    responses((status = 200, body = PolicyList), (status = 400, description = "Bad parameter")))]
pub async fn list_policies(State(app): State<App>, _auth: Auth, params: Params) -> ApiResult<Json<PolicyList>> {
    let page = params.page()?;
    let include = PolicyIncludes::from(&params)?;
    let filter = PolicyFilter {
        query: params.get("query").map(String::from),
        user_ids: params.list("user_ids"),
        team_ids: params.list("team_ids"),
        descending: sort_descending(&params)?,
    };
    let (rows, total) = app
        .store
        .list_escalation_policies(&filter, page.fetch_limit(), i64::from(page.offset), page.want_total)
        .await?;
    let (rows, more) = split_page(rows, &page);
    let mut escalation_policies = Vec::with_capacity(rows.len());
    for p in rows {
        escalation_policies.push(render_policy(&app, p, include).await?);
    }
    Ok(Json(PolicyList { escalation_policies, pagination: Pagination::new(&page, more, total) }))
}

/// Create an escalation policy. `From` is optional.
#[utoipa::path(post, path = "/escalation_policies", tag = "Escalation Policies", request_body = PolicyBody,
    responses((status = 201, body = PolicyResponse), (status = 400, description = "Invalid input"),
              (status = 403, description = "Not allowed to configure")))]
pub async fn create_policy(
    State(app): State<App>,
    auth: Auth,
    JsonBody(body): JsonBody<PolicyBody>,
) -> ApiResult<(StatusCode, Json<PolicyResponse>)> {
    auth.require(&Action::Configure)?;
    let v = validate(&app, unwrap_body(body)?, None).await?;
    let id = app
        .store
        .create_escalation_policy(
            &v.fields,
            v.rules.as_deref().unwrap_or(&[]),
            v.teams.as_deref().unwrap_or(&[]),
            app.now_ms(),
        )
        .await?;
    let policy = render_policy(&app, load(&app, &id).await?, PolicyIncludes::default()).await?;
    Ok((StatusCode::CREATED, Json(PolicyResponse { escalation_policy: policy })))
}

/// Get an escalation policy.
#[utoipa::path(get, path = "/escalation_policies/{id}", tag = "Escalation Policies",
    params(("id" = String, Path), ("include[]" = Option<Vec<String>>, Query, description = "services, teams, targets")),
    responses((status = 200, body = PolicyResponse), (status = 404, description = "No such policy")))]
pub async fn get_policy(
    State(app): State<App>,
    _auth: Auth,
    Path(id): Path<String>,
    params: Params,
) -> ApiResult<Json<PolicyResponse>> {
    let include = PolicyIncludes::from(&params)?;
    let policy = render_policy(&app, load(&app, &id).await?, include).await?;
    Ok(Json(PolicyResponse { escalation_policy: policy }))
}

/// Update an escalation policy. Sent `escalation_rules` replace all rules; `teams: null` clears.
#[utoipa::path(put, path = "/escalation_policies/{id}", tag = "Escalation Policies", request_body = PolicyBody,
    params(("id" = String, Path)),
    responses((status = 200, body = PolicyResponse), (status = 400, description = "Invalid input"),
              (status = 403, description = "Not allowed to configure"), (status = 404, description = "No such policy")))]
pub async fn update_policy(
    State(app): State<App>,
    auth: Auth,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<PolicyBody>,
) -> ApiResult<Json<PolicyResponse>> {
    auth.require(&Action::Configure)?;
    let existing = load(&app, &id).await?;
    let v = validate(&app, unwrap_body(body)?, Some(&existing)).await?;
    app.store.update_escalation_policy(&id, &v.fields, v.rules.as_deref(), v.teams.as_deref(), app.now_ms()).await?;
    let policy = render_policy(&app, load(&app, &id).await?, PolicyIncludes::default()).await?;
    Ok(Json(PolicyResponse { escalation_policy: policy }))
}

/// Delete an escalation policy. Refused (400) while a service uses it.
#[utoipa::path(delete, path = "/escalation_policies/{id}", tag = "Escalation Policies",
    params(("id" = String, Path)),
    responses((status = 204, description = "Deleted"), (status = 400, description = "In use by a service"),
              (status = 403, description = "Not allowed to configure"), (status = 404, description = "No such policy")))]
pub async fn delete_policy(State(app): State<App>, auth: Auth, Path(id): Path<String>) -> ApiResult<StatusCode> {
    auth.require(&Action::Configure)?;
    app.store.delete_escalation_policy(&id, app.now_ms()).await?;
    Ok(StatusCode::NO_CONTENT)
}
