//! Notification intents as stored: read by `GET /notifications` and the incident's notifications. They are
//! written only with an incident's change (`queries/notifications.rs`, called by the command layer and the
//! events batch) or by the handoff scan.

use crate::{Result, Store, dispatch};
use klaxon_core::notification::{NotificationKind, NotificationStatus, NotificationType};

#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct NotificationRow {
    pub id: String,
    #[sqlx(try_from = "String")]
    pub kind: NotificationKind,
    #[sqlx(rename = "type", try_from = "String")]
    pub notification_type: NotificationType,
    pub user_id: String,
    pub contact_method_id: String,
    pub address: Option<String>,
    pub incident_id: Option<String>,
    /// The assignment or handoff rule it came from.
    pub rule_id: String,
    #[sqlx(try_from = "String")]
    pub status: NotificationStatus,
    pub failure_reason: Option<String>,
    pub started_at: i64,
    pub handoff_at: Option<i64>,
    pub escalation_policy_id: Option<String>,
    pub created_at: i64,
}

/// Which intents to list: those due in `[since, until)`, optionally of one type, users or incident.
#[derive(Clone, Debug, Default)]
pub struct NotificationFilter {
    pub since: i64,
    pub until: i64,
    pub notification_type: Option<NotificationType>,
    pub user_ids: Vec<String>,
    pub incident_id: Option<String>,
    pub limit: i64,
    pub offset: i64,
    pub total: bool,
}

impl Store {
    /// One page of intents by due time (and how many match, when `filter.total`).
    pub async fn list_notifications(&self, filter: &NotificationFilter) -> Result<(Vec<NotificationRow>, Option<i64>)> {
        dispatch!(self, p => q::notifications::list(p, filter))
    }
}
