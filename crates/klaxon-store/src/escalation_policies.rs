//! Escalation policies: the policy row, its ordered rules, each rule's ordered targets (users or
//! schedules), and its team. Policies are soft-deleted so references to them still render.

use crate::{Result, Store, dispatch};

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct EscalationPolicyRow {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub num_loops: i32,
    pub on_call_handoff_notifications: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub deleted_at: Option<i64>,
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct EscalationRuleRow {
    pub id: String,
    pub escalation_policy_id: String,
    pub position: i32,
    pub escalation_delay_in_minutes: i32,
    pub assignment_strategy: String,
}

/// One target of a rule; `user_name` is the user's name for user targets, `schedule_name` the schedule's
/// for schedule targets (deleted ones included).
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct EscalationTargetRow {
    pub escalation_rule_id: String,
    pub position: i32,
    pub target_type: String,
    pub target_id: String,
    pub user_name: Option<String>,
    pub schedule_name: Option<String>,
}

/// A rule with its targets, in order.
#[derive(Clone, Debug)]
pub struct EscalationRule {
    pub row: EscalationRuleRow,
    pub targets: Vec<EscalationTargetRow>,
}

/// A policy with everything it renders: rules, teams `(id, name)` and the live services using it
/// `(id, name)`.
#[derive(Clone, Debug)]
pub struct EscalationPolicy {
    pub row: EscalationPolicyRow,
    pub rules: Vec<EscalationRule>,
    pub teams: Vec<(String, String)>,
    pub services: Vec<(String, String)>,
}

/// The writable fields of a policy.
#[derive(Clone, Debug)]
pub struct PolicyFields {
    pub name: String,
    pub description: Option<String>,
    pub num_loops: i32,
    pub on_call_handoff_notifications: String,
}

/// A rule to write. Targets are `(target_type, target_id)` with type `user` or `schedule`.
#[derive(Clone, Debug)]
pub struct NewRule {
    /// Keep this id (a rule of the same policy being rewritten); `None` makes a new one.
    pub id: Option<String>,
    pub escalation_delay_in_minutes: i32,
    pub assignment_strategy: String,
    pub targets: Vec<(String, String)>,
}

/// Filters of `GET /escalation_policies`.
#[derive(Clone, Debug, Default)]
pub struct PolicyFilter {
    pub query: Option<String>,
    pub user_ids: Vec<String>,
    pub team_ids: Vec<String>,
    pub descending: bool,
}

impl Store {
    /// Creates a policy with its rules and teams in one transaction. A live policy with the same name
    /// (case-insensitively) is `Conflict { field: "escalation_policy.name" }`.
    pub async fn create_escalation_policy(
        &self,
        fields: &PolicyFields,
        rules: &[NewRule],
        team_ids: &[String],
        now_ms: i64,
    ) -> Result<String> {
        dispatch!(self, p => q::escalation_policies::create(p, fields, rules, team_ids, now_ms))
    }

    /// Replaces a live policy's fields and, when given, its rules and teams, in one transaction.
    pub async fn update_escalation_policy(
        &self,
        id: &str,
        fields: &PolicyFields,
        rules: Option<&[NewRule]>,
        team_ids: Option<&[String]>,
        now_ms: i64,
    ) -> Result<()> {
        dispatch!(self, p => q::escalation_policies::update(p, id, fields, rules, team_ids, now_ms))
    }

    /// Soft-deletes a live policy; refused (`Rejected`) while a live service uses it.
    pub async fn delete_escalation_policy(&self, id: &str, now_ms: i64) -> Result<()> {
        dispatch!(self, p => q::escalation_policies::delete(p, id, now_ms))
    }

    /// A policy with its rules, teams and services. `include_deleted` also finds deleted ones.
    pub async fn escalation_policy(&self, id: &str, include_deleted: bool) -> Result<Option<EscalationPolicy>> {
        dispatch!(self, p => q::escalation_policies::get(p, id, include_deleted))
    }

    /// `(id, name)` of a policy, deleted ones included (for references).
    pub async fn escalation_policy_name(&self, id: &str) -> Result<Option<(String, String)>> {
        dispatch!(self, p => q::escalation_policies::name_of(p, id))
    }

    /// One page of live policies (`limit`/`offset`), and the total count when `want_total`.
    pub async fn list_escalation_policies(
        &self,
        filter: &PolicyFilter,
        limit: i64,
        offset: i64,
        want_total: bool,
    ) -> Result<(Vec<EscalationPolicy>, Option<i64>)> {
        dispatch!(self, p => q::escalation_policies::list(p, filter, limit, offset, want_total))
    }

    /// `(id, name)` of the live teams among `ids` (order not guaranteed).
    pub async fn live_teams_named(&self, ids: &[String]) -> Result<Vec<(String, String)>> {
        dispatch!(self, p => q::escalation_policies::live_teams(p, ids))
    }
}
