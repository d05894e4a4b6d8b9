//! A user's on-call handoff notification rules:
//! `/users/{id}/oncall_handoff_notification_rules[/{oncall_handoff_notification_rule_id}]` (PagerDuty REST
//! API v2 shapes: list with offset pagination, create 201, show, update (partial), delete 204).
//!
//! A rule is `{notify_advance_in_minutes, handoff_type, contact_method}`, answered with `id`, `type:
//! "oncall_handoff_notification_rule"` and `self`. `notify_advance_in_minutes` is required on create, from
//! 0 to 10080 (`klaxon_core::handoff::MAX_NOTIFY_ADVANCE_MINUTES`: a week); `handoff_type` is `both`
//! (the default), `oncall` or `offcall`; the contact method must be one of the user's (400 naming
//! `oncall_handoff_notification_rule.contact_method.id`). Reading needs any key; changing needs the
//! permission to edit the user, as for assignment notification rules (a user may edit their own).
//! What the rules do (the handoff scan records intents from them) is `klaxon_core::handoff`'s.

use super::config_common::{rule_contact_method, rule_minutes};
use crate::error::{ApiError, ApiResult};
use crate::extract::{Auth, JsonBody, Params};
use crate::render::users::contact_method_of;
use crate::render::{IdRef, Pagination};
use crate::state::App;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use klaxon_core::handoff::{HandoffType, MAX_NOTIFY_ADVANCE_MINUTES};
use klaxon_core::page::split_page;
use klaxon_core::role::Action;
use klaxon_core::validate::FieldError;
use klaxon_store::handoffs::{HandoffRuleFields, HandoffRuleRow};
use klaxon_store::users::UserRow;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn routes() -> OpenApiRouter<App> {
    OpenApiRouter::new().routes(routes!(list_handoff_rules, create_handoff_rule)).routes(routes!(
        get_handoff_rule,
        update_handoff_rule,
        delete_handoff_rule
    ))
}

/// An on-call handoff notification rule (`type: "oncall_handoff_notification_rule"`).
#[derive(Serialize, ToSchema)]
pub struct OncallHandoffNotificationRule {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    #[serde(rename = "self")]
    pub self_url: String,
    /// Minutes before the handoff the user is notified (0 to 10080).
    pub notify_advance_in_minutes: i32,
    /// `both`, `oncall` or `offcall`.
    pub handoff_type: &'static str,
    /// A contact method reference.
    #[schema(value_type = Object)]
    pub contact_method: Value,
}

#[derive(Serialize, ToSchema)]
pub struct HandoffRuleEnvelope {
    pub oncall_handoff_notification_rule: OncallHandoffNotificationRule,
}

#[derive(Serialize, ToSchema)]
pub struct HandoffRuleList {
    pub oncall_handoff_notification_rules: Vec<OncallHandoffNotificationRule>,
    #[serde(flatten)]
    pub pagination: Pagination,
}

/// The writable fields of a handoff rule.
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
pub struct HandoffRuleInput {
    pub notify_advance_in_minutes: Option<i64>,
    pub handoff_type: Option<String>,
    pub contact_method: Option<IdRef>,
}

#[derive(Deserialize, ToSchema)]
pub struct HandoffRuleBody {
    pub oncall_handoff_notification_rule: Option<HandoffRuleInput>,
}

const FIELD: &str = "oncall_handoff_notification_rule";

/// Validates a complete rule (after merging for updates).
fn handoff_fields(input: HandoffRuleInput) -> ApiResult<HandoffRuleFields> {
    let mut errors = Vec::new();
    let advance = rule_minutes(
        &format!("{FIELD}.notify_advance_in_minutes"),
        input.notify_advance_in_minutes,
        MAX_NOTIFY_ADVANCE_MINUTES,
        &mut errors,
    );
    let handoff_type = match input.handoff_type.as_deref().map(str::parse::<HandoffType>) {
        None => Some(HandoffType::default()),
        Some(Ok(t)) => Some(t),
        Some(Err(e)) => {
            errors.push(FieldError::new(format!("{FIELD}.handoff_type"), e.to_string()));
            None
        }
    };
    let contact_method = rule_contact_method(&format!("{FIELD}.contact_method"), input.contact_method, &mut errors);
    let (Some(notify_advance_in_minutes), Some(handoff_type), Some(contact_method_id), true) =
        (advance, handoff_type, contact_method, errors.is_empty())
    else {
        return Err(ApiError::fields(errors));
    };
    Ok(HandoffRuleFields { contact_method_id, notify_advance_in_minutes, handoff_type })
}

async fn live_user(app: &App, id: &str) -> ApiResult<UserRow> {
    app.store.user(id).await?.ok_or_else(|| ApiError::not_found("User"))
}

fn collection(user_id: &str) -> String {
    format!("users/{user_id}/oncall_handoff_notification_rules")
}

fn render(
    app: &App,
    rule: HandoffRuleRow,
    methods: &[klaxon_store::contact_methods::ContactMethodRow],
) -> OncallHandoffNotificationRule {
    OncallHandoffNotificationRule {
        kind: "oncall_handoff_notification_rule",
        self_url: app.self_url(&collection(&rule.user_id), &rule.id),
        notify_advance_in_minutes: rule.notify_advance_in_minutes,
        handoff_type: rule.handoff_type.as_str(),
        contact_method: contact_method_of(app, methods, &rule.contact_method_id, false),
        id: rule.id,
    }
}

async fn respond(app: &App, rule: HandoffRuleRow) -> ApiResult<Json<HandoffRuleEnvelope>> {
    let methods = app.store.contact_methods(&rule.user_id).await?;
    Ok(Json(HandoffRuleEnvelope { oncall_handoff_notification_rule: render(app, rule, &methods) }))
}

async fn existing_rule(app: &App, user_id: &str, id: &str) -> ApiResult<HandoffRuleRow> {
    live_user(app, user_id).await?;
    app.store.handoff_rule(user_id, id).await?.ok_or_else(|| ApiError::not_found("Oncall handoff notification rule"))
}

/// List a user's on-call handoff notification rules, oldest first.
#[utoipa::path(get, path = "/users/{id}/oncall_handoff_notification_rules", tag = "Users",
    params(("id" = String, Path),
        ("limit" = Option<u32>, Query), ("offset" = Option<u32>, Query), ("total" = Option<bool>, Query)),
    responses((status = 200, body = HandoffRuleList), (status = 400), (status = 404)))]
pub async fn list_handoff_rules(
    State(app): State<App>,
    _auth: Auth,
    Path(id): Path<String>,
    params: Params,
) -> ApiResult<Json<HandoffRuleList>> {
    let page = params.page()?;
    live_user(&app, &id).await?;
    let (rows, total) =
        app.store.handoff_rules(&id, page.fetch_limit(), i64::from(page.offset), page.want_total).await?;
    let (rows, more) = split_page(rows, &page);
    let methods = app.store.contact_methods(&id).await?;
    Ok(Json(HandoffRuleList {
        oncall_handoff_notification_rules: rows.into_iter().map(|r| render(&app, r, &methods)).collect(),
        pagination: Pagination::new(&page, more, total),
    }))
}

/// Create an on-call handoff notification rule. Its contact method must be one of the user's.
#[utoipa::path(post, path = "/users/{id}/oncall_handoff_notification_rules", tag = "Users",
    params(("id" = String, Path)), request_body = HandoffRuleBody,
    responses((status = 201, body = HandoffRuleEnvelope), (status = 400), (status = 403), (status = 404)))]
pub async fn create_handoff_rule(
    State(app): State<App>,
    auth: Auth,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<HandoffRuleBody>,
) -> ApiResult<(StatusCode, Json<HandoffRuleEnvelope>)> {
    auth.require(&Action::EditUser { user_id: &id })?;
    live_user(&app, &id).await?;
    let input = body.oncall_handoff_notification_rule.ok_or_else(|| ApiError::field(FIELD, "is required"))?;
    let fields = handoff_fields(input)?;
    let row = app.store.create_handoff_rule(&id, &fields, app.now_ms()).await?;
    Ok((StatusCode::CREATED, respond(&app, row).await?))
}

/// Get an on-call handoff notification rule.
#[utoipa::path(get, path = "/users/{id}/oncall_handoff_notification_rules/{oncall_handoff_notification_rule_id}",
    tag = "Users", params(("id" = String, Path), ("oncall_handoff_notification_rule_id" = String, Path)),
    responses((status = 200, body = HandoffRuleEnvelope), (status = 404)))]
pub async fn get_handoff_rule(
    State(app): State<App>,
    _auth: Auth,
    Path((id, rule_id)): Path<(String, String)>,
) -> ApiResult<Json<HandoffRuleEnvelope>> {
    let row = existing_rule(&app, &id, &rule_id).await?;
    respond(&app, row).await
}

/// Update an on-call handoff notification rule (partial).
#[utoipa::path(put, path = "/users/{id}/oncall_handoff_notification_rules/{oncall_handoff_notification_rule_id}",
    tag = "Users", params(("id" = String, Path), ("oncall_handoff_notification_rule_id" = String, Path)),
    request_body = HandoffRuleBody,
    responses((status = 200, body = HandoffRuleEnvelope), (status = 400), (status = 403), (status = 404)))]
pub async fn update_handoff_rule(
    State(app): State<App>,
    auth: Auth,
    Path((id, rule_id)): Path<(String, String)>,
    JsonBody(body): JsonBody<HandoffRuleBody>,
) -> ApiResult<Json<HandoffRuleEnvelope>> {
    auth.require(&Action::EditUser { user_id: &id })?;
    let current = existing_rule(&app, &id, &rule_id).await?;
    let input = body.oncall_handoff_notification_rule.ok_or_else(|| ApiError::field(FIELD, "is required"))?;
    let merged = HandoffRuleInput {
        notify_advance_in_minutes: input
            .notify_advance_in_minutes
            .or(Some(i64::from(current.notify_advance_in_minutes))),
        handoff_type: input.handoff_type.or(Some(current.handoff_type.as_str().to_string())),
        contact_method: input.contact_method.or(Some(IdRef { id: current.contact_method_id, kind: None })),
    };
    let fields = handoff_fields(merged)?;
    let row = app.store.update_handoff_rule(&id, &rule_id, &fields).await?;
    respond(&app, row).await
}

/// Delete an on-call handoff notification rule.
#[utoipa::path(delete, path = "/users/{id}/oncall_handoff_notification_rules/{oncall_handoff_notification_rule_id}",
    tag = "Users", params(("id" = String, Path), ("oncall_handoff_notification_rule_id" = String, Path)),
    responses((status = 204), (status = 403), (status = 404)))]
pub async fn delete_handoff_rule(
    State(app): State<App>,
    auth: Auth,
    Path((id, rule_id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    auth.require(&Action::EditUser { user_id: &id })?;
    live_user(&app, &id).await?;
    app.store.delete_handoff_rule(&id, &rule_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
