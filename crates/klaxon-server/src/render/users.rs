//! Users with their contact methods and notification rules, as `/users` renders them and as teams
//! (members) embed them.

use crate::error::{ApiError, ApiResult};
use crate::render::Reference;
use crate::state::App;
use klaxon_store::calendar_feeds::FeedOwner;
use klaxon_store::contact_methods::ContactMethodRow;
use klaxon_store::notification_rules::NotificationRuleRow;
use klaxon_store::users::UserRow;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

/// A user (`type: "user"`). `teams`, `contact_methods` and `notification_rules` are references unless
/// `include[]` asked for the full objects.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct User {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub summary: String,
    #[serde(rename = "self")]
    pub self_url: String,
    pub html_url: Option<String>,
    pub name: String,
    pub email: String,
    pub time_zone: String,
    pub color: String,
    pub role: String,
    pub avatar_url: Option<String>,
    pub description: Option<String>,
    pub invitation_sent: bool,
    pub job_title: Option<String>,
    #[schema(value_type = Vec<Object>)]
    pub teams: Vec<Value>,
    #[schema(value_type = Vec<Object>)]
    pub contact_methods: Vec<Value>,
    #[schema(value_type = Vec<Object>)]
    pub notification_rules: Vec<Value>,
    /// The user's secret iCalendar feed of on-call shifts, with `include[]=calendar_urls`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_cal_url: Option<String>,
    /// The same feed with the `webcal://` scheme, with `include[]=calendar_urls`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub web_cal_url: Option<String>,
}

/// A contact method (`email_contact_method`, `phone_contact_method`, `sms_contact_method`,
/// `push_notification_contact_method`). Type-specific fields appear only on their types.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ContactMethod {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub summary: String,
    #[serde(rename = "self")]
    pub self_url: String,
    pub html_url: Option<String>,
    pub label: String,
    pub address: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub send_short_email: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country_code: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blacklisted: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<Object>>)]
    pub sounds: Option<Vec<Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
}

/// An assignment notification rule (`type: "assignment_notification_rule"`).
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct NotificationRule {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub summary: String,
    #[serde(rename = "self")]
    pub self_url: String,
    pub html_url: Option<String>,
    pub start_delay_in_minutes: i32,
    /// A contact method reference, or the full contact method with `include[]=contact_methods`.
    #[schema(value_type = Object)]
    pub contact_method: Value,
    pub urgency: String,
}

/// Which relationships of a user to render in full.
#[derive(Clone, Copy, Debug, Default)]
pub struct UserIncludes {
    pub contact_methods: bool,
    pub notification_rules: bool,
    pub teams: bool,
    pub calendar_urls: bool,
}

pub fn to_value<T: Serialize>(value: T) -> ApiResult<Value> {
    serde_json::to_value(value).map_err(ApiError::internal)
}

/// A user reference (`user_reference`).
pub fn user_reference(app: &App, user: &UserRow) -> Reference {
    app.reference("user", "users", &user.id, user.name.clone())
}

/// A user rendered with its teams, contact methods and notification rules.
pub async fn render_user(app: &App, user: UserRow, includes: UserIncludes) -> ApiResult<User> {
    let teams = app.store.teams_of_user(&user.id).await?;
    let methods = app.store.contact_methods(&user.id).await?;
    let rules = app.store.notification_rules(&user.id, None).await?;
    let mut rendered_teams = Vec::with_capacity(teams.len());
    for t in teams {
        rendered_teams.push(if includes.teams {
            to_value(crate::render::teams::render_team(app, t).await?)?
        } else {
            to_value(app.reference("team", "teams", &t.id, t.name))?
        });
    }
    let rendered_rules = rules
        .into_iter()
        .map(|r| {
            if includes.notification_rules {
                to_value(render_rule(app, r, &methods, false))
            } else {
                to_value(rule_reference(app, &r, &methods))
            }
        })
        .collect::<ApiResult<Vec<_>>>()?;
    let contact_methods = methods
        .into_iter()
        .map(|m| {
            if includes.contact_methods {
                to_value(render_contact_method(app, m))
            } else {
                to_value(contact_method_reference(app, &m))
            }
        })
        .collect::<ApiResult<Vec<_>>>()?;
    let (http_cal_url, web_cal_url) = if includes.calendar_urls {
        let token = app.store.calendar_token(FeedOwner::User, &user.id, app.now_ms()).await?;
        let (http, web) = app.calendar_urls("users", &token);
        (Some(http), Some(web))
    } else {
        (None, None)
    };
    Ok(User {
        kind: "user",
        summary: user.name.clone(),
        self_url: app.self_url("users", &user.id),
        html_url: Some(app.html_url("users", &user.id)),
        id: user.id,
        name: user.name,
        email: user.email,
        time_zone: user.time_zone,
        color: user.color,
        role: user.role,
        avatar_url: user.avatar_url,
        description: user.description,
        invitation_sent: false,
        job_title: user.job_title,
        teams: rendered_teams,
        contact_methods,
        notification_rules: rendered_rules,
        http_cal_url,
        web_cal_url,
    })
}

pub fn contact_method_collection(user_id: &str) -> String {
    format!("users/{user_id}/contact_methods")
}

pub fn rule_collection(user_id: &str) -> String {
    format!("users/{user_id}/notification_rules")
}

pub fn contact_method_reference(app: &App, m: &ContactMethodRow) -> Reference {
    let mut r = app.reference(&m.kind, &contact_method_collection(&m.user_id), &m.id, m.label.clone());
    r.html_url = None;
    r
}

pub fn render_contact_method(app: &App, m: ContactMethodRow) -> ContactMethod {
    let is_email = m.kind == "email_contact_method";
    let is_phone = matches!(m.kind.as_str(), "phone_contact_method" | "sms_contact_method");
    let is_push = m.kind == "push_notification_contact_method";
    ContactMethod {
        self_url: app.self_url(&contact_method_collection(&m.user_id), &m.id),
        html_url: None,
        summary: m.label.clone(),
        send_short_email: is_email.then_some(m.send_short_email),
        country_code: if is_phone { m.country_code } else { None },
        enabled: (is_email || is_phone).then_some(true),
        blacklisted: is_phone.then_some(m.blacklisted),
        device_type: if is_push { m.device_type } else { None },
        sounds: is_push.then(Vec::new),
        created_at: is_push.then(|| crate::render::time(m.created_at)),
        id: m.id,
        kind: m.kind,
        label: m.label,
        address: m.address,
    }
}

pub fn rule_summary(rule: &NotificationRuleRow, methods: &[ContactMethodRow]) -> String {
    let label = methods
        .iter()
        .find(|m| m.id == rule.contact_method_id)
        .map(|m| m.label.clone())
        .unwrap_or_else(|| rule.contact_method_id.clone());
    format!("{} minutes: channel {label}", rule.start_delay_in_minutes)
}

pub fn rule_reference(app: &App, rule: &NotificationRuleRow, methods: &[ContactMethodRow]) -> Reference {
    let mut r = app.reference(
        "assignment_notification_rule",
        &rule_collection(&rule.user_id),
        &rule.id,
        rule_summary(rule, methods),
    );
    r.html_url = None;
    r
}

/// The contact method `id` of a rule: a reference, or the full contact method when `full`; a bare
/// reference when it is not among `methods` (the user's).
pub fn contact_method_of(app: &App, methods: &[ContactMethodRow], id: &str, full: bool) -> Value {
    match methods.iter().find(|m| m.id == id) {
        Some(m) if full => serde_json::to_value(render_contact_method(app, m.clone())),
        Some(m) => serde_json::to_value(contact_method_reference(app, m)),
        None => Ok(serde_json::json!({"id": id, "type": "contact_method_reference"})),
    }
    .unwrap_or(Value::Null)
}

pub fn render_rule(
    app: &App,
    rule: NotificationRuleRow,
    methods: &[ContactMethodRow],
    full_contact_method: bool,
) -> NotificationRule {
    let contact_method = contact_method_of(app, methods, &rule.contact_method_id, full_contact_method);
    NotificationRule {
        kind: "assignment_notification_rule",
        summary: rule_summary(&rule, methods),
        self_url: app.self_url(&rule_collection(&rule.user_id), &rule.id),
        html_url: None,
        start_delay_in_minutes: rule.start_delay_in_minutes,
        contact_method,
        urgency: rule.urgency,
        id: rule.id,
    }
}
