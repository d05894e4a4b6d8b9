//! On-call handoff notification rules ("tell me N minutes before I go on or off call") and the handoff
//! intents the scan records from them.
//!
//! The rules are per user (`/users/{id}/oncall_handoff_notification_rules`, migration 0012). The scan
//! (the server's `oncall.handoff_scan` job) reads, in a fixed number of queries whatever the number of
//! users or policies: the rules of live users with their contact methods ([`Store::handoff_scan_rules`]),
//! every live policy's `on_call_handoff_notifications` and whether a live service uses it
//! ([`Store::handoff_policies`]), and the on-call facts of the policies that notify
//! (`Store::oncall_facts`, as `GET /oncalls` does). `klaxon_core::handoff` decides the intents; then
//! [`Store::record_handoff_intents`] writes them as `notifications` rows (kind `oncall_handoff` or
//! `offcall_handoff`, no incident, status `pending`), finishes the scan job and schedules the next one,
//! all in one transaction. Each intent has a unique key, and the insert does nothing on a conflict, so a
//! rescan or a second node records nothing twice.

use crate::jobs::JobSpec;
use crate::{Result, Store, dispatch};
use klaxon_core::handoff::{HandoffIntent, HandoffNotifications, HandoffRule, HandoffType};

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct HandoffRuleRow {
    pub id: String,
    pub user_id: String,
    pub contact_method_id: String,
    pub notify_advance_in_minutes: i32,
    #[sqlx(try_from = "String")]
    pub handoff_type: HandoffType,
    pub created_at: i64,
}

/// The writable fields of a handoff rule (already validated by the caller).
#[derive(Clone, Debug)]
pub struct HandoffRuleFields {
    pub contact_method_id: String,
    pub notify_advance_in_minutes: i32,
    pub handoff_type: HandoffType,
}

/// A live policy as the scan reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HandoffPolicyRow {
    pub id: String,
    pub notifications: HandoffNotifications,
    /// Whether at least one live service uses the policy.
    pub has_services: bool,
}

impl Store {
    /// A page of a user's handoff rules, oldest first, and their total when asked for.
    pub async fn handoff_rules(
        &self,
        user_id: &str,
        limit: i64,
        offset: i64,
        want_total: bool,
    ) -> Result<(Vec<HandoffRuleRow>, Option<i64>)> {
        dispatch!(self, p => q::handoffs::for_user(p, user_id, limit, offset, want_total))
    }

    pub async fn handoff_rule(&self, user_id: &str, id: &str) -> Result<Option<HandoffRuleRow>> {
        dispatch!(self, p => q::handoffs::by_id(p, user_id, id))
    }

    /// Adds a rule. A contact method that is not the user's is `Rejected` naming
    /// `oncall_handoff_notification_rule.contact_method.id`.
    pub async fn create_handoff_rule(
        &self,
        user_id: &str,
        fields: &HandoffRuleFields,
        now_ms: i64,
    ) -> Result<HandoffRuleRow> {
        dispatch!(self, p => q::handoffs::create(p, user_id, fields, now_ms))
    }

    /// Replaces a rule's fields (the same check of the contact method as [`Store::create_handoff_rule`]).
    pub async fn update_handoff_rule(
        &self,
        user_id: &str,
        id: &str,
        fields: &HandoffRuleFields,
    ) -> Result<HandoffRuleRow> {
        dispatch!(self, p => q::handoffs::update(p, user_id, id, fields))
    }

    pub async fn delete_handoff_rule(&self, user_id: &str, id: &str) -> Result<()> {
        dispatch!(self, p => q::handoffs::delete(p, user_id, id))
    }

    /// Every handoff rule of a live user, with its contact method's notification type and address (one
    /// query). Rules of deleted users are left out: they never fire.
    pub async fn handoff_scan_rules(&self) -> Result<Vec<HandoffRule>> {
        dispatch!(self, p => q::handoffs::scan_rules(p))
    }

    /// Every live policy's `on_call_handoff_notifications` and whether a live service uses it (one query),
    /// by name.
    pub async fn handoff_policies(&self) -> Result<Vec<HandoffPolicyRow>> {
        dispatch!(self, p => q::handoffs::policies(p))
    }

    /// In one transaction: finishes the scan job `job_id` as done (only while `owner` holds its lease),
    /// records `intents` (those already recorded are left alone) and schedules the next scan `next`.
    /// Answers how many intents were new, or `None` (nothing written) when the lease was lost.
    pub async fn record_handoff_intents(
        &self,
        job_id: &str,
        owner: &str,
        intents: &[HandoffIntent<'_>],
        next: &JobSpec,
        now_ms: i64,
    ) -> Result<Option<u64>> {
        dispatch!(self, p => q::handoffs::record(p, job_id, owner, intents, next, now_ms))
    }

    /// A user's handoff intents, by handoff instant, then due time.
    pub async fn handoff_intents_of_user(&self, user_id: &str) -> Result<Vec<crate::notifications::NotificationRow>> {
        dispatch!(self, p => q::handoffs::intents_of_user(p, user_id))
    }
}
