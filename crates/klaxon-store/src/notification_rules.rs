//! Assignment notification rules: "notify me at this contact method N minutes after I'm assigned".

use crate::{Result, Store, dispatch};

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct NotificationRuleRow {
    pub id: String,
    pub user_id: String,
    pub contact_method_id: String,
    pub start_delay_in_minutes: i32,
    pub urgency: String,
    pub created_at: i64,
}

/// The writable fields of a notification rule (already validated by the caller).
#[derive(Clone, Debug)]
pub struct NotificationRuleFields {
    pub contact_method_id: String,
    pub start_delay_in_minutes: i32,
    pub urgency: String,
}

impl Store {
    /// A user's notification rules ordered by delay, optionally only those of one urgency.
    pub async fn notification_rules(&self, user_id: &str, urgency: Option<&str>) -> Result<Vec<NotificationRuleRow>> {
        dispatch!(self, p => q::notification_rules::for_user(p, user_id, urgency))
    }

    pub async fn notification_rule(&self, user_id: &str, id: &str) -> Result<Option<NotificationRuleRow>> {
        dispatch!(self, p => q::notification_rules::by_id(p, user_id, id))
    }

    /// Adds a rule. A contact method that is not the user's is `Rejected` naming
    /// `notification_rule.contact_method.id`.
    pub async fn create_notification_rule(
        &self,
        user_id: &str,
        fields: &NotificationRuleFields,
        now_ms: i64,
    ) -> Result<NotificationRuleRow> {
        dispatch!(self, p => q::notification_rules::create(p, user_id, fields, now_ms))
    }

    pub async fn update_notification_rule(
        &self,
        user_id: &str,
        id: &str,
        fields: &NotificationRuleFields,
    ) -> Result<NotificationRuleRow> {
        dispatch!(self, p => q::notification_rules::update(p, user_id, id, fields))
    }

    pub async fn delete_notification_rule(&self, user_id: &str, id: &str) -> Result<()> {
        dispatch!(self, p => q::notification_rules::delete(p, user_id, id))
    }
}
