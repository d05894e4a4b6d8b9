//! Teams, their members, and their escalation policies.

use crate::users::UserRow;
use crate::{Result, Store, dispatch};

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct TeamRow {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub default_role: String,
    pub parent_id: Option<String>,
    pub created_at: i64,
    pub deleted_at: Option<i64>,
}

/// The writable fields of a team (already validated by the caller).
#[derive(Clone, Debug)]
pub struct TeamFields {
    pub name: String,
    pub description: Option<String>,
    pub default_role: String,
    pub parent_id: Option<String>,
}

/// A member of a team with their team role (`observer`, `responder`, `manager`).
#[derive(Clone, Debug)]
pub struct TeamMember {
    pub user: UserRow,
    pub role: String,
}

/// What deleting a team did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TeamDeletion {
    Deleted,
    /// Escalation policies, services or subteams still reference the team; nothing changed.
    HasAssociations,
}

impl Store {
    /// One page of live teams ordered by name then id; `query` is a case-insensitive name substring.
    pub async fn list_teams(
        &self,
        query: Option<&str>,
        limit: i64,
        offset: i64,
        want_total: bool,
    ) -> Result<(Vec<TeamRow>, Option<i64>)> {
        dispatch!(self, p => q::teams::list(p, query, limit, offset, want_total))
    }

    /// A live team.
    pub async fn team(&self, id: &str) -> Result<Option<TeamRow>> {
        dispatch!(self, p => q::teams::by_id(p, id, false))
    }

    /// A team, deleted ones included (for references).
    pub async fn team_any(&self, id: &str) -> Result<Option<TeamRow>> {
        dispatch!(self, p => q::teams::by_id(p, id, true))
    }

    /// Creates a team. A taken name is `Conflict { field: "name" }`; an unknown parent is `Rejected`.
    pub async fn create_team(&self, fields: &TeamFields, now_ms: i64) -> Result<TeamRow> {
        dispatch!(self, p => q::teams::create(p, fields, now_ms))
    }

    /// Replaces a live team's fields.
    pub async fn update_team(&self, id: &str, fields: &TeamFields) -> Result<TeamRow> {
        dispatch!(self, p => q::teams::update(p, id, fields))
    }

    /// Soft-deletes a team and removes its memberships, unless something still references it.
    pub async fn delete_team(&self, id: &str, now_ms: i64) -> Result<TeamDeletion> {
        dispatch!(self, p => q::teams::delete(p, id, now_ms))
    }

    /// The live teams a user belongs to, by name.
    pub async fn teams_of_user(&self, user_id: &str) -> Result<Vec<TeamRow>> {
        dispatch!(self, p => q::teams::of_user(p, user_id))
    }

    /// One page of a team's live members ordered by name then id, and the total when asked for.
    pub async fn team_members(
        &self,
        team_id: &str,
        limit: i64,
        offset: i64,
        want_total: bool,
    ) -> Result<(Vec<TeamMember>, Option<i64>)> {
        dispatch!(self, p => q::teams::members(p, team_id, limit, offset, want_total))
    }

    /// Adds a user to a team or changes their team role. `NotFound` for a missing team or user.
    pub async fn set_team_member(&self, team_id: &str, user_id: &str, role: &str) -> Result<()> {
        dispatch!(self, p => q::teams::set_member(p, team_id, user_id, role))
    }

    /// Removes a user from a team (no-op when not a member). `NotFound` for a missing team or user.
    pub async fn remove_team_member(&self, team_id: &str, user_id: &str) -> Result<()> {
        dispatch!(self, p => q::teams::remove_member(p, team_id, user_id))
    }

    /// Associates a live escalation policy with a live team (idempotent).
    pub async fn add_team_escalation_policy(&self, team_id: &str, policy_id: &str) -> Result<()> {
        dispatch!(self, p => q::teams::add_policy(p, team_id, policy_id))
    }

    /// Removes the association of an escalation policy with a team (idempotent).
    pub async fn remove_team_escalation_policy(&self, team_id: &str, policy_id: &str) -> Result<()> {
        dispatch!(self, p => q::teams::remove_policy(p, team_id, policy_id))
    }
}
