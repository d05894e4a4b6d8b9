//! The facts `GET /oncalls` and the calendar feeds read: live escalation policies with their rules and
//! targets, the schedules they target with their layers, and those schedules' overrides over a window.
//! Read in a fixed number of queries whatever the number of policies or schedules; the rules that turn
//! them into on-call entries are `klaxon_core::oncall`'s.

use crate::escalation_policies::EscalationRule;
use crate::schedules::{OverrideRow, Schedule};
use crate::{Result, Store, dispatch};

/// A live policy `(id, name)` with its rules in order.
#[derive(Clone, Debug)]
pub struct OncallPolicy {
    pub id: String,
    pub name: String,
    pub rules: Vec<EscalationRule>,
}

/// What the on-call lookup over a window reads. Policies are by name (then id).
#[derive(Clone, Debug, Default)]
pub struct OncallFacts {
    pub policies: Vec<OncallPolicy>,
    /// The live schedules the policies target.
    pub schedules: Vec<Schedule>,
    /// Their overrides overlapping the override window asked for, oldest first.
    pub overrides: Vec<OverrideRow>,
}

impl Store {
    /// The live policies (only `policy_ids` when not empty), the schedules they target, and those
    /// schedules' overrides overlapping `[since, until)`.
    pub async fn oncall_facts(&self, policy_ids: &[String], since: i64, until: i64) -> Result<OncallFacts> {
        dispatch!(self, p => q::oncalls::facts(p, policy_ids, since, until))
    }

    /// The live schedules among `ids` with their layers, teams and policies (order not guaranteed).
    pub async fn live_schedules(&self, ids: &[String]) -> Result<Vec<Schedule>> {
        dispatch!(self, p => q::schedules::live_many(p, ids))
    }

    /// The live schedules in which `user_id` is in a rotation or has an override, by name.
    pub async fn schedules_of_user(&self, user_id: &str) -> Result<Vec<Schedule>> {
        dispatch!(self, p => q::schedules::of_user(p, user_id))
    }

    /// The overrides of the schedules `ids` overlapping `[since, until)`, oldest first.
    pub async fn overrides_of_schedules(&self, ids: &[String], since: i64, until: i64) -> Result<Vec<OverrideRow>> {
        dispatch!(self, p => q::schedules::overrides_of_many(p, ids, since, until))
    }
}
