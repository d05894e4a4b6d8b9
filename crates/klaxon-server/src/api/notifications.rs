//! `GET /notifications`: the notification intents due in a window (PagerDuty's "List notifications").
//!
//! Each item is PagerDuty's `{id, type, started_at, address, user}`, plus ours: `status` (`pending`, then
//! what delivery made of it; `cancelled` when the incident was acknowledged or resolved, or the user
//! unassigned, first), `failure_reason`, `kind` (`assignment`, `oncall_handoff`, `offcall_handoff`) and the
//! `incident` it is about (null for handoffs). `started_at` is when the intent is due (the assignment plus
//! the rule's delay). Decisions where PagerDuty's documentation is loose:
//! - `since` and `until` are required, `until` after `since` and at most 3 calendar months later (400
//!   naming the parameter otherwise); the window is `[since, until)` over `started_at`.
//! - Order: by `started_at`, then id. Times print in `time_zone` (default UTC, the account zone).
//! - `filter` is one notification type; `include[]=users` expands each user.

use crate::error::{ApiError, ApiResult};
use crate::extract::{Auth, Params};
use crate::render::names::Names;
use crate::render::{Pagination, Reference, to_value, user_object};
use crate::state::App;
use axum::Json;
use axum::extract::State;
use jiff::ToSpan;
use jiff::tz::TimeZone;
use klaxon_core::notification::NotificationType;
use klaxon_core::page::split_page;
use klaxon_core::time::{from_millis, render_in_zone};
use klaxon_store::notifications::NotificationFilter;
use serde::Serialize;
use serde_json::Value;
use std::collections::HashMap;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn routes() -> OpenApiRouter<App> {
    OpenApiRouter::new().routes(routes!(list_notifications))
}

#[derive(Serialize, ToSchema)]
pub struct NotificationOut {
    pub id: String,
    /// `email_notification`, `sms_notification`, `phone_notification` or `push_notification`.
    #[serde(rename = "type")]
    pub notification_type: &'static str,
    /// When it is due.
    pub started_at: String,
    /// Null for push notifications.
    pub address: Option<String>,
    /// A reference, or the full user with `include[]=users`.
    #[schema(value_type = Object)]
    pub user: Value,
    /// The incident it pages for; null for on-call handoffs.
    pub incident: Option<Reference>,
    /// `pending`, `cancelled` (later: `queued`, `sent`, `delivered`, `failed`).
    pub status: &'static str,
    pub failure_reason: Option<String>,
    /// Why it exists: `assignment`, `oncall_handoff` or `offcall_handoff`.
    pub kind: &'static str,
}

#[derive(Serialize, ToSchema)]
pub struct NotificationList {
    pub notifications: Vec<NotificationOut>,
    #[serde(flatten)]
    pub pagination: Pagination,
}

/// List notifications due in a window.
#[utoipa::path(get, path = "/notifications", tag = "Notifications",
    params(("since" = String, Query, description = "Start of the window (required)"),
           ("until" = String, Query, description = "End of the window (required; at most 3 months after since)"),
           ("time_zone" = Option<String>, Query, description = "Print times in this zone (default UTC)"),
           ("filter" = Option<String>, Query,
            description = "email_notification, sms_notification, phone_notification or push_notification"),
           ("include[]" = Option<Vec<String>>, Query, description = "users"),
           ("limit" = Option<u32>, Query), ("offset" = Option<u32>, Query), ("total" = Option<bool>, Query)),
    responses((status = 200, body = NotificationList), (status = 400, description = "Bad parameter")))]
pub async fn list_notifications(
    State(app): State<App>,
    _auth: Auth,
    params: Params,
) -> ApiResult<Json<NotificationList>> {
    let page = params.page()?;
    params.check_includes(&["users"])?;
    let since = params.instant("since")?.ok_or_else(|| ApiError::field("since", "is required"))?;
    let until = params.instant("until")?.ok_or_else(|| ApiError::field("until", "is required"))?;
    if until <= since {
        return Err(ApiError::field("until", "must be after since"));
    }
    let latest = TimeZone::UTC
        .to_datetime(from_millis(since))
        .checked_add(3.months())
        .ok()
        .and_then(|later| TimeZone::UTC.to_timestamp(later).ok())
        .map_or(i64::MAX, |t| t.as_millisecond());
    if until > latest {
        return Err(ApiError::field("until", "must be at most 3 months after since"));
    }
    let zone_name = params.get("time_zone").unwrap_or("UTC");
    let zone = TimeZone::get(zone_name)
        .map_err(|_| ApiError::field("time_zone", &format!("'{zone_name}' is not an IANA time zone")))?;
    let notification_type = match params.get("filter") {
        None => None,
        Some(raw) => Some(raw.parse::<NotificationType>().map_err(|_| {
            ApiError::field(
                "filter",
                "must be email_notification, sms_notification, phone_notification or push_notification",
            )
        })?),
    };
    let filter = NotificationFilter {
        since,
        until,
        notification_type,
        limit: page.fetch_limit(),
        offset: i64::from(page.offset),
        total: page.want_total,
        ..Default::default()
    };
    let (rows, total) = app.store.list_notifications(&filter).await?;
    let (rows, more) = split_page(rows, &page);
    let mut names = Names::new(&app);
    let mut users: HashMap<String, Value> = HashMap::new();
    let mut notifications = Vec::with_capacity(rows.len());
    for n in rows {
        let user = match users.get(&n.user_id) {
            Some(user) => user.clone(),
            None => {
                let user = if params.includes("users") {
                    user_object(&app, &n.user_id).await?
                } else {
                    to_value(names.reference("user", &n.user_id).await)
                };
                users.insert(n.user_id.clone(), user.clone());
                user
            }
        };
        let incident = match &n.incident_id {
            Some(id) => Some(names.reference("incident", id).await),
            None => None,
        };
        notifications.push(NotificationOut {
            id: n.id,
            notification_type: n.notification_type.as_str(),
            started_at: render_in_zone(n.started_at, &zone),
            address: n.address,
            user,
            incident,
            status: n.status.as_str(),
            failure_reason: n.failure_reason,
            kind: n.kind.as_str(),
        });
    }
    Ok(Json(NotificationList { notifications, pagination: Pagination::new(&page, more, total) }))
}
