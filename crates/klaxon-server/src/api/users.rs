//! Users, their contact methods and their notification rules:
//! `/users`, `/users/me`, `/users/{id}`, `/users/{id}/contact_methods[/{id}]`,
//! `/users/{id}/notification_rules[/{id}]` (PagerDuty REST API v2 shapes).

use super::config_common::{rule_contact_method, rule_minutes};
use crate::error::{ApiError, ApiResult};
use crate::extract::{Auth, JsonBody, Params, Patch};
use crate::render::users::{
    ContactMethod, NotificationRule, User, UserIncludes, render_contact_method, render_rule, render_user,
};
use crate::render::{IdRef, Pagination};
use crate::state::App;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use klaxon_core::page::split_page;
use klaxon_core::role::{Action, Role};
use klaxon_core::validate::{FieldError, is_email, required_text};
use klaxon_store::StoreError;
use klaxon_store::contact_methods::{ContactMethodFields, ContactMethodRow};
use klaxon_store::notification_rules::{NotificationRuleFields, NotificationRuleRow};
use klaxon_store::users::{NewUser, UserFilter, UserRow, UserUpdate};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn routes() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(list_users, create_user))
        .routes(routes!(get_me))
        .routes(routes!(get_user, update_user, delete_user))
        .routes(routes!(list_contact_methods, create_contact_method))
        .routes(routes!(get_contact_method, update_contact_method, delete_contact_method))
        .routes(routes!(list_notification_rules, create_notification_rule))
        .routes(routes!(get_notification_rule, update_notification_rule, delete_notification_rule))
}

// ---------------------------------------------------------------------------------------------------
// Response envelopes (the resources themselves are rendered in `crate::render::users`)
// ---------------------------------------------------------------------------------------------------

#[derive(Serialize, ToSchema)]
pub struct UserEnvelope {
    pub user: User,
}

#[derive(Serialize, ToSchema)]
pub struct UserList {
    pub users: Vec<User>,
    #[serde(flatten)]
    pub pagination: Pagination,
}

#[derive(Serialize, ToSchema)]
pub struct ContactMethodEnvelope {
    pub contact_method: ContactMethod,
}

#[derive(Serialize, ToSchema)]
pub struct ContactMethodList {
    pub contact_methods: Vec<ContactMethod>,
}

#[derive(Serialize, ToSchema)]
pub struct NotificationRuleEnvelope {
    pub notification_rule: NotificationRule,
}

#[derive(Serialize, ToSchema)]
pub struct NotificationRuleList {
    pub notification_rules: Vec<NotificationRule>,
}

/// `include[]` of the user endpoints.
impl UserIncludes {
    fn from_params(params: &Params) -> ApiResult<Self> {
        params.check_includes(&["contact_methods", "notification_rules", "teams", "subdomains", "calendar_urls"])?;
        Ok(Self {
            calendar_urls: params.includes("calendar_urls"),
            contact_methods: params.includes("contact_methods"),
            notification_rules: params.includes("notification_rules"),
            teams: params.includes("teams"),
        })
    }
}

// ---------------------------------------------------------------------------------------------------
// Users
// ---------------------------------------------------------------------------------------------------

/// The writable fields of a user. Unknown and read-only fields are ignored.
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
pub struct UserInput {
    pub name: Option<String>,
    pub email: Option<String>,
    pub role: Option<String>,
    pub time_zone: Option<String>,
    pub color: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub description: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub job_title: Patch<String>,
}

#[derive(Deserialize, ToSchema)]
pub struct UserBody {
    pub user: Option<UserInput>,
}

fn check_email(value: &str, errors: &mut Vec<FieldError>) -> Option<String> {
    let email = value.trim();
    let chars = email.chars().count();
    if !(6..=100).contains(&chars) {
        errors.push(FieldError::new("user.email", "must be 6 to 100 characters"));
        None
    } else if !is_email(email) {
        errors.push(FieldError::new("user.email", "must be a valid email address"));
        None
    } else {
        Some(email.to_string())
    }
}

fn check_role(value: &str, errors: &mut Vec<FieldError>) -> Option<Role> {
    match value.parse::<Role>() {
        Ok(role) => Some(role),
        Err(e) => {
            errors.push(FieldError::new("user.role", e.to_string().trim_start_matches("role ").to_string()));
            None
        }
    }
}

fn check_time_zone(value: &str, errors: &mut Vec<FieldError>) -> Option<String> {
    if jiff::tz::TimeZone::get(value).is_ok() {
        Some(value.to_string())
    } else {
        errors.push(FieldError::new(
            "user.time_zone",
            format!("'{value}' is not an IANA time zone (e.g. Europe/Berlin)"),
        ));
        None
    }
}

fn check_optional_text(field: &str, value: Option<&str>, max: usize, errors: &mut Vec<FieldError>) {
    if let Some(v) = value
        && v.chars().count() > max
    {
        errors.push(FieldError::new(field, format!("must be at most {max} characters")));
    }
}

fn user_conflict(e: StoreError) -> ApiError {
    match e {
        StoreError::Conflict { .. } => ApiError::field("user.email", "has already been taken"),
        other => other.into(),
    }
}

async fn live_user(app: &App, id: &str) -> ApiResult<UserRow> {
    app.store.user(id).await?.ok_or_else(|| ApiError::not_found("User"))
}

/// List users.
#[utoipa::path(get, path = "/users", tag = "Users",
    params(("query" = Option<String>, Query, description = "Case-insensitive part of a name or email"),
        ("team_ids[]" = Option<Vec<String>>, Query), ("include[]" = Option<Vec<String>>, Query),
        ("limit" = Option<u32>, Query), ("offset" = Option<u32>, Query), ("total" = Option<bool>, Query)),
    responses((status = 200, body = UserList)))]
pub async fn list_users(State(app): State<App>, _auth: Auth, params: Params) -> ApiResult<Json<UserList>> {
    let page = params.page()?;
    let includes = UserIncludes::from_params(&params)?;
    let filter = UserFilter { query: params.get("query").map(str::to_string), team_ids: params.list("team_ids") };
    let (rows, total) =
        app.store.list_users(&filter, page.fetch_limit(), i64::from(page.offset), page.want_total).await?;
    let (rows, more) = split_page(rows, &page);
    let mut users = Vec::with_capacity(rows.len());
    for row in rows {
        users.push(render_user(&app, row, includes).await?);
    }
    Ok(Json(UserList { users, pagination: Pagination::new(&page, more, total) }))
}

/// Create a user. Account-level keys must send `From`.
#[utoipa::path(post, path = "/users", tag = "Users", request_body = UserBody,
    responses((status = 201, body = UserEnvelope), (status = 400), (status = 403)))]
pub async fn create_user(
    State(app): State<App>,
    auth: Auth,
    JsonBody(body): JsonBody<UserBody>,
) -> ApiResult<(StatusCode, Json<UserEnvelope>)> {
    auth.require(&Action::ManageUsers)?;
    auth.requester()?;
    let input = body.user.ok_or_else(|| ApiError::field("user", "is required"))?;
    let mut errors = Vec::new();
    let name = required_text("user.name", input.name.as_deref(), 100).map_err(|e| errors.push(e)).ok();
    let email = match required_text("user.email", input.email.as_deref(), 100) {
        Ok(email) => check_email(&email, &mut errors),
        Err(e) => {
            errors.push(e);
            None
        }
    };
    let role = check_role(input.role.as_deref().unwrap_or("user"), &mut errors);
    let time_zone = check_time_zone(input.time_zone.as_deref().unwrap_or("Etc/UTC"), &mut errors);
    check_optional_text("user.job_title", input.job_title.as_value().map(String::as_str), 100, &mut errors);
    let (Some(name), Some(email), Some(role), Some(time_zone), true) =
        (name, email, role, time_zone, errors.is_empty())
    else {
        return Err(ApiError::fields(errors));
    };
    auth.require(&Action::ChangeRole { to: role })?;
    let mut new = NewUser::new(name, email, role);
    new.time_zone = time_zone;
    if let Some(color) = input.color.filter(|c| !c.trim().is_empty()) {
        new.color = color;
    }
    new.description = input.description.sent().flatten();
    new.job_title = input.job_title.sent().flatten();
    let row = app.store.create_user(&new, app.now_ms()).await.map_err(user_conflict)?;
    let user = render_user(&app, row, UserIncludes::default()).await?;
    Ok((StatusCode::CREATED, Json(UserEnvelope { user })))
}

/// The user a user-level token belongs to. Account-level keys get a 400.
#[utoipa::path(get, path = "/users/me", tag = "Users",
    params(("include[]" = Option<Vec<String>>, Query)),
    responses((status = 200, body = UserEnvelope), (status = 400, description = "Called with an account-level key")))]
pub async fn get_me(State(app): State<App>, auth: Auth, params: Params) -> ApiResult<Json<UserEnvelope>> {
    let includes = UserIncludes::from_params(&params)?;
    let Some(user) = auth.user.clone() else {
        let message = "Because this request was made using an account-level access token, we were unable to \
                       determine the user.";
        return Err(ApiError::new(StatusCode::BAD_REQUEST, 2100, message, vec![message.to_string()]));
    };
    Ok(Json(UserEnvelope { user: render_user(&app, user, includes).await? }))
}

/// Get a user.
#[utoipa::path(get, path = "/users/{id}", tag = "Users",
    params(("id" = String, Path), ("include[]" = Option<Vec<String>>, Query)),
    responses((status = 200, body = UserEnvelope), (status = 404)))]
pub async fn get_user(
    State(app): State<App>,
    _auth: Auth,
    Path(id): Path<String>,
    params: Params,
) -> ApiResult<Json<UserEnvelope>> {
    let includes = UserIncludes::from_params(&params)?;
    let user = live_user(&app, &id).await?;
    Ok(Json(UserEnvelope { user: render_user(&app, user, includes).await? }))
}

/// Update a user (partial). Users may edit their own profile; changing a role needs an owner or admin,
/// and the last owner cannot be demoted.
#[utoipa::path(put, path = "/users/{id}", tag = "Users", request_body = UserBody,
    params(("id" = String, Path)),
    responses((status = 200, body = UserEnvelope), (status = 400), (status = 403), (status = 404)))]
pub async fn update_user(
    State(app): State<App>,
    auth: Auth,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<UserBody>,
) -> ApiResult<Json<UserEnvelope>> {
    auth.require(&Action::EditUser { user_id: &id })?;
    let current = live_user(&app, &id).await?;
    let input = body.user.ok_or_else(|| ApiError::field("user", "is required"))?;
    let mut errors = Vec::new();
    let mut update = UserUpdate::default();
    if let Some(name) = input.name.as_deref() {
        update.name = required_text("user.name", Some(name), 100).map_err(|e| errors.push(e)).ok();
    }
    if let Some(email) = input.email.as_deref() {
        update.email = check_email(email, &mut errors);
    }
    if let Some(role) = input.role.as_deref() {
        update.role = check_role(role, &mut errors);
    }
    if let Some(tz) = input.time_zone.as_deref() {
        update.time_zone = check_time_zone(tz, &mut errors);
    }
    check_optional_text("user.job_title", input.job_title.as_value().map(String::as_str), 100, &mut errors);
    if !errors.is_empty() {
        return Err(ApiError::fields(errors));
    }
    match update.role {
        Some(role) if role.as_str() == current.role => update.role = None,
        Some(role) => {
            auth.require(&Action::ChangeRole { to: role })?;
            if current.role == Role::Owner.as_str() {
                // Only an owner may change an owner's role.
                auth.require(&Action::ChangeRole { to: Role::Owner })?;
            }
        }
        None => {}
    }
    update.color = input.color.filter(|c| !c.trim().is_empty());
    update.description = input.description.sent();
    update.job_title = input.job_title.sent();
    let row = app.store.update_user(&id, &update, app.now_ms()).await.map_err(user_conflict)?;
    Ok(Json(UserEnvelope { user: render_user(&app, row, UserIncludes::default()).await? }))
}

/// Delete a user: their tokens are revoked and their team memberships removed. The last owner cannot
/// be deleted.
#[utoipa::path(delete, path = "/users/{id}", tag = "Users", params(("id" = String, Path)),
    responses((status = 204), (status = 400, description = "The last owner"), (status = 403), (status = 404)))]
pub async fn delete_user(State(app): State<App>, auth: Auth, Path(id): Path<String>) -> ApiResult<StatusCode> {
    auth.require(&Action::ManageUsers)?;
    app.store.delete_user(&id, app.now_ms()).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---------------------------------------------------------------------------------------------------
// Contact methods
// ---------------------------------------------------------------------------------------------------

const CONTACT_METHOD_TYPES: &[&str] =
    &["email_contact_method", "phone_contact_method", "sms_contact_method", "push_notification_contact_method"];

/// The writable fields of a contact method.
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
pub struct ContactMethodInput {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub label: Option<String>,
    pub address: Option<String>,
    pub country_code: Option<i64>,
    pub send_short_email: Option<bool>,
    pub device_type: Option<String>,
}

#[derive(Deserialize, ToSchema)]
pub struct ContactMethodBody {
    pub contact_method: Option<ContactMethodInput>,
}

/// Validates a complete contact method (after merging for updates).
fn contact_method_fields(input: ContactMethodInput) -> ApiResult<ContactMethodFields> {
    let mut errors = Vec::new();
    let kind = match input.kind.as_deref().map(|k| k.trim_end_matches("_reference")) {
        None => {
            errors.push(FieldError::new("contact_method.type", "is required"));
            None
        }
        Some(k) if CONTACT_METHOD_TYPES.contains(&k) => Some(k.to_string()),
        Some(k) => {
            errors.push(FieldError::new(
                "contact_method.type",
                format!("'{k}' is not supported (one of {})", CONTACT_METHOD_TYPES.join(", ")),
            ));
            None
        }
    };
    let label = required_text("contact_method.label", input.label.as_deref(), 255).map_err(|e| errors.push(e)).ok();
    let address =
        required_text("contact_method.address", input.address.as_deref(), 255).map_err(|e| errors.push(e)).ok();
    let mut country_code = None;
    let mut device_type = None;
    match (kind.as_deref(), address.as_deref()) {
        (Some("email_contact_method"), Some(a)) if !is_email(a) => {
            errors.push(FieldError::new("contact_method.address", "must be a valid email address"))
        }
        (Some("phone_contact_method" | "sms_contact_method"), a) => {
            if let Some(a) = a
                && (a.is_empty() || a.len() > 20 || !a.chars().all(|c| c.is_ascii_digit()))
            {
                errors.push(FieldError::new(
                    "contact_method.address",
                    "must be the national phone number, digits only (the country goes in country_code)",
                ));
            }
            match input.country_code {
                None => errors.push(FieldError::new("contact_method.country_code", "is required")),
                Some(c) if !(1..=1999).contains(&c) => {
                    errors.push(FieldError::new("contact_method.country_code", "must be from 1 to 1999"))
                }
                Some(c) => country_code = Some(c as i32),
            }
        }
        (Some("push_notification_contact_method"), _) => match input.device_type.as_deref() {
            Some(d @ ("android" | "ios")) => device_type = Some(d.to_string()),
            Some(_) => errors.push(FieldError::new("contact_method.device_type", "must be android or ios")),
            None => errors.push(FieldError::new("contact_method.device_type", "is required")),
        },
        _ => {}
    }
    let (Some(kind), Some(label), Some(address), true) = (kind, label, address, errors.is_empty()) else {
        return Err(ApiError::fields(errors));
    };
    let send_short_email = kind == "email_contact_method" && input.send_short_email.unwrap_or(false);
    Ok(ContactMethodFields { kind, label, address, country_code, send_short_email, device_type })
}

fn contact_method_conflict(e: StoreError) -> ApiError {
    match e {
        StoreError::Conflict { field } => {
            ApiError::field(field, "has already been taken: this user has a contact method of this type there")
        }
        other => other.into(),
    }
}

/// List a user's contact methods.
#[utoipa::path(get, path = "/users/{id}/contact_methods", tag = "Users", params(("id" = String, Path)),
    responses((status = 200, body = ContactMethodList), (status = 404)))]
pub async fn list_contact_methods(
    State(app): State<App>,
    _auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<ContactMethodList>> {
    live_user(&app, &id).await?;
    let rows = app.store.contact_methods(&id).await?;
    Ok(Json(ContactMethodList { contact_methods: rows.into_iter().map(|m| render_contact_method(&app, m)).collect() }))
}

/// Create a contact method for a user.
#[utoipa::path(post, path = "/users/{id}/contact_methods", tag = "Users", params(("id" = String, Path)),
    request_body = ContactMethodBody,
    responses((status = 201, body = ContactMethodEnvelope), (status = 400), (status = 403), (status = 404)))]
pub async fn create_contact_method(
    State(app): State<App>,
    auth: Auth,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<ContactMethodBody>,
) -> ApiResult<(StatusCode, Json<ContactMethodEnvelope>)> {
    auth.require(&Action::EditUser { user_id: &id })?;
    live_user(&app, &id).await?;
    let input = body.contact_method.ok_or_else(|| ApiError::field("contact_method", "is required"))?;
    let fields = contact_method_fields(input)?;
    let row = app.store.create_contact_method(&id, &fields, app.now_ms()).await.map_err(contact_method_conflict)?;
    Ok((StatusCode::CREATED, Json(ContactMethodEnvelope { contact_method: render_contact_method(&app, row) })))
}

async fn existing_contact_method(app: &App, user_id: &str, id: &str) -> ApiResult<ContactMethodRow> {
    live_user(app, user_id).await?;
    app.store.contact_method(user_id, id).await?.ok_or_else(|| ApiError::not_found("Contact method"))
}

/// Get a contact method.
#[utoipa::path(get, path = "/users/{id}/contact_methods/{contact_method_id}", tag = "Users",
    params(("id" = String, Path), ("contact_method_id" = String, Path)),
    responses((status = 200, body = ContactMethodEnvelope), (status = 404)))]
pub async fn get_contact_method(
    State(app): State<App>,
    _auth: Auth,
    Path((id, cm_id)): Path<(String, String)>,
) -> ApiResult<Json<ContactMethodEnvelope>> {
    let row = existing_contact_method(&app, &id, &cm_id).await?;
    Ok(Json(ContactMethodEnvelope { contact_method: render_contact_method(&app, row) }))
}

/// Update a contact method (partial; its type cannot change).
#[utoipa::path(put, path = "/users/{id}/contact_methods/{contact_method_id}", tag = "Users",
    params(("id" = String, Path), ("contact_method_id" = String, Path)), request_body = ContactMethodBody,
    responses((status = 200, body = ContactMethodEnvelope), (status = 400), (status = 403), (status = 404)))]
pub async fn update_contact_method(
    State(app): State<App>,
    auth: Auth,
    Path((id, cm_id)): Path<(String, String)>,
    JsonBody(body): JsonBody<ContactMethodBody>,
) -> ApiResult<Json<ContactMethodEnvelope>> {
    auth.require(&Action::EditUser { user_id: &id })?;
    let current = existing_contact_method(&app, &id, &cm_id).await?;
    let input = body.contact_method.ok_or_else(|| ApiError::field("contact_method", "is required"))?;
    if let Some(kind) = input.kind.as_deref()
        && kind.trim_end_matches("_reference") != current.kind
    {
        return Err(ApiError::field("contact_method.type", "cannot be changed"));
    }
    let merged = ContactMethodInput {
        kind: Some(current.kind.clone()),
        label: input.label.or(Some(current.label)),
        address: input.address.or(Some(current.address)),
        country_code: input.country_code.or(current.country_code.map(i64::from)),
        send_short_email: input.send_short_email.or(Some(current.send_short_email)),
        device_type: input.device_type.or(current.device_type),
    };
    let fields = contact_method_fields(merged)?;
    let row = app.store.update_contact_method(&id, &cm_id, &fields).await.map_err(contact_method_conflict)?;
    Ok(Json(ContactMethodEnvelope { contact_method: render_contact_method(&app, row) }))
}

/// Delete a contact method, with the notification rules that use it.
#[utoipa::path(delete, path = "/users/{id}/contact_methods/{contact_method_id}", tag = "Users",
    params(("id" = String, Path), ("contact_method_id" = String, Path)),
    responses((status = 204), (status = 403), (status = 404)))]
pub async fn delete_contact_method(
    State(app): State<App>,
    auth: Auth,
    Path((id, cm_id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    auth.require(&Action::EditUser { user_id: &id })?;
    live_user(&app, &id).await?;
    app.store.delete_contact_method(&id, &cm_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---------------------------------------------------------------------------------------------------
// Notification rules
// ---------------------------------------------------------------------------------------------------

/// The writable fields of a notification rule.
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
pub struct NotificationRuleInput {
    pub start_delay_in_minutes: Option<i64>,
    pub contact_method: Option<IdRef>,
    pub urgency: Option<String>,
}

#[derive(Deserialize, ToSchema)]
pub struct NotificationRuleBody {
    pub notification_rule: Option<NotificationRuleInput>,
}

fn rule_fields(input: NotificationRuleInput) -> ApiResult<NotificationRuleFields> {
    let mut errors = Vec::new();
    let delay =
        rule_minutes("notification_rule.start_delay_in_minutes", input.start_delay_in_minutes, 10080, &mut errors);
    let contact_method = rule_contact_method("notification_rule.contact_method", input.contact_method, &mut errors);
    let urgency = match input.urgency.as_deref().unwrap_or("high") {
        u @ ("high" | "low") => Some(u.to_string()),
        _ => {
            errors.push(FieldError::new("notification_rule.urgency", "must be high or low"));
            None
        }
    };
    let (Some(start_delay_in_minutes), Some(contact_method_id), Some(urgency), true) =
        (delay, contact_method, urgency, errors.is_empty())
    else {
        return Err(ApiError::fields(errors));
    };
    Ok(NotificationRuleFields { contact_method_id, start_delay_in_minutes, urgency })
}

async fn rule_response(app: &App, user_id: &str, rule: NotificationRuleRow) -> ApiResult<NotificationRule> {
    let methods = app.store.contact_methods(user_id).await?;
    Ok(render_rule(app, rule, &methods, false))
}

/// List a user's notification rules (`urgency` high|low|all, default high).
#[utoipa::path(get, path = "/users/{id}/notification_rules", tag = "Users",
    params(("id" = String, Path), ("urgency" = Option<String>, Query), ("include[]" = Option<Vec<String>>, Query)),
    responses((status = 200, body = NotificationRuleList), (status = 400), (status = 404)))]
pub async fn list_notification_rules(
    State(app): State<App>,
    _auth: Auth,
    Path(id): Path<String>,
    params: Params,
) -> ApiResult<Json<NotificationRuleList>> {
    params.check_includes(&["contact_methods"])?;
    let urgency = match params.get("urgency").unwrap_or("high") {
        "all" => None,
        u @ ("high" | "low") => Some(u),
        _ => return Err(ApiError::field("urgency", "must be high, low or all")),
    };
    live_user(&app, &id).await?;
    let rules = app.store.notification_rules(&id, urgency).await?;
    let methods = app.store.contact_methods(&id).await?;
    let full = params.includes("contact_methods");
    Ok(Json(NotificationRuleList {
        notification_rules: rules.into_iter().map(|r| render_rule(&app, r, &methods, full)).collect(),
    }))
}

/// Create a notification rule. Its contact method must be one of the user's.
#[utoipa::path(post, path = "/users/{id}/notification_rules", tag = "Users", params(("id" = String, Path)),
    request_body = NotificationRuleBody,
    responses((status = 201, body = NotificationRuleEnvelope), (status = 400), (status = 403), (status = 404)))]
pub async fn create_notification_rule(
    State(app): State<App>,
    auth: Auth,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<NotificationRuleBody>,
) -> ApiResult<(StatusCode, Json<NotificationRuleEnvelope>)> {
    auth.require(&Action::EditUser { user_id: &id })?;
    live_user(&app, &id).await?;
    let input = body.notification_rule.ok_or_else(|| ApiError::field("notification_rule", "is required"))?;
    let fields = rule_fields(input)?;
    let row = app.store.create_notification_rule(&id, &fields, app.now_ms()).await?;
    let notification_rule = rule_response(&app, &id, row).await?;
    Ok((StatusCode::CREATED, Json(NotificationRuleEnvelope { notification_rule })))
}

async fn existing_rule(app: &App, user_id: &str, id: &str) -> ApiResult<NotificationRuleRow> {
    live_user(app, user_id).await?;
    app.store.notification_rule(user_id, id).await?.ok_or_else(|| ApiError::not_found("Notification rule"))
}

/// Get a notification rule.
#[utoipa::path(get, path = "/users/{id}/notification_rules/{notification_rule_id}", tag = "Users",
    params(("id" = String, Path), ("notification_rule_id" = String, Path)),
    responses((status = 200, body = NotificationRuleEnvelope), (status = 404)))]
pub async fn get_notification_rule(
    State(app): State<App>,
    _auth: Auth,
    Path((id, rule_id)): Path<(String, String)>,
) -> ApiResult<Json<NotificationRuleEnvelope>> {
    let row = existing_rule(&app, &id, &rule_id).await?;
    Ok(Json(NotificationRuleEnvelope { notification_rule: rule_response(&app, &id, row).await? }))
}

/// Update a notification rule (partial).
#[utoipa::path(put, path = "/users/{id}/notification_rules/{notification_rule_id}", tag = "Users",
    params(("id" = String, Path), ("notification_rule_id" = String, Path)), request_body = NotificationRuleBody,
    responses((status = 200, body = NotificationRuleEnvelope), (status = 400), (status = 403), (status = 404)))]
pub async fn update_notification_rule(
    State(app): State<App>,
    auth: Auth,
    Path((id, rule_id)): Path<(String, String)>,
    JsonBody(body): JsonBody<NotificationRuleBody>,
) -> ApiResult<Json<NotificationRuleEnvelope>> {
    auth.require(&Action::EditUser { user_id: &id })?;
    let current = existing_rule(&app, &id, &rule_id).await?;
    let input = body.notification_rule.ok_or_else(|| ApiError::field("notification_rule", "is required"))?;
    let merged = NotificationRuleInput {
        start_delay_in_minutes: input.start_delay_in_minutes.or(Some(i64::from(current.start_delay_in_minutes))),
        contact_method: input.contact_method.or(Some(IdRef { id: current.contact_method_id, kind: None })),
        urgency: input.urgency.or(Some(current.urgency)),
    };
    let fields = rule_fields(merged)?;
    let row = app.store.update_notification_rule(&id, &rule_id, &fields).await?;
    Ok(Json(NotificationRuleEnvelope { notification_rule: rule_response(&app, &id, row).await? }))
}

/// Delete a notification rule.
#[utoipa::path(delete, path = "/users/{id}/notification_rules/{notification_rule_id}", tag = "Users",
    params(("id" = String, Path), ("notification_rule_id" = String, Path)),
    responses((status = 204), (status = 403), (status = 404)))]
pub async fn delete_notification_rule(
    State(app): State<App>,
    auth: Auth,
    Path((id, rule_id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    auth.require(&Action::EditUser { user_id: &id })?;
    live_user(&app, &id).await?;
    app.store.delete_notification_rule(&id, &rule_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
