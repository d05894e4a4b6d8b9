//! Users: rows, and the store operations the rest of Klaxon calls.

use crate::{Result, Store, dispatch};
use klaxon_core::role::Role;

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct UserRow {
    pub id: String,
    pub name: String,
    pub email: String,
    pub time_zone: String,
    pub color: String,
    pub role: String,
    pub description: Option<String>,
    pub job_title: Option<String>,
    pub avatar_url: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub deleted_at: Option<i64>,
}

impl UserRow {
    pub fn role(&self) -> Role {
        self.role.parse().unwrap_or(Role::ReadOnlyUser)
    }
}

/// A user to create. The store adds, as PagerDuty does, a default email contact method and a
/// high-urgency notification rule that emails immediately.
#[derive(Clone, Debug)]
pub struct NewUser {
    pub name: String,
    pub email: String,
    pub role: Role,
    pub time_zone: String,
    pub color: String,
    pub description: Option<String>,
    pub job_title: Option<String>,
}

impl NewUser {
    pub fn new(name: impl Into<String>, email: impl Into<String>, role: Role) -> Self {
        Self {
            name: name.into(),
            email: email.into(),
            role,
            time_zone: "Etc/UTC".into(),
            color: "purple".into(),
            description: None,
            job_title: None,
        }
    }
}

impl Store {
    /// Creates a user with their default contact method and notification rule, atomically.
    /// A live user with the same email (case-insensitively) is a `Conflict { field: "email" }`.
    pub async fn create_user(&self, user: &NewUser, now_ms: i64) -> Result<UserRow> {
        dispatch!(self, p => q::users::create(p, user, now_ms))
    }

    /// A live (not deleted) user by id.
    pub async fn user(&self, id: &str) -> Result<Option<UserRow>> {
        dispatch!(self, p => q::users::by_id(p, id, false))
    }

    /// A user by id, deleted ones included (references to deleted users still render).
    pub async fn user_any(&self, id: &str) -> Result<Option<UserRow>> {
        dispatch!(self, p => q::users::by_id(p, id, true))
    }

    /// A live user by email, case-insensitively.
    pub async fn user_by_email(&self, email: &str) -> Result<Option<UserRow>> {
        dispatch!(self, p => q::users::by_email(p, email))
    }
}

/// Filters for listing users.
#[derive(Clone, Debug, Default)]
pub struct UserFilter {
    /// Case-insensitive substring of the name or the email.
    pub query: Option<String>,
    /// Only members of any of these teams.
    pub team_ids: Vec<String>,
}

/// A partial update of a user: `None` leaves a field alone; `Some(None)` clears an optional field.
#[derive(Clone, Debug, Default)]
pub struct UserUpdate {
    pub name: Option<String>,
    pub email: Option<String>,
    pub role: Option<Role>,
    pub time_zone: Option<String>,
    pub color: Option<String>,
    pub description: Option<Option<String>>,
    pub job_title: Option<Option<String>>,
}

impl Store {
    /// One page of live users ordered by name then id, and the total when asked for.
    pub async fn list_users(
        &self,
        filter: &UserFilter,
        limit: i64,
        offset: i64,
        want_total: bool,
    ) -> Result<(Vec<UserRow>, Option<i64>)> {
        dispatch!(self, p => q::users::list(p, filter, limit, offset, want_total))
    }

    /// Applies a partial update. Refuses (`Rejected`) to demote the last live owner; a taken email is
    /// `Conflict { field: "email" }`; `NotFound` for a missing or deleted user.
    pub async fn update_user(&self, id: &str, update: &UserUpdate, now_ms: i64) -> Result<UserRow> {
        dispatch!(self, p => q::users::update(p, id, update, now_ms))
    }

    /// Soft-deletes a user, revoking their user tokens and removing their team memberships, atomically.
    /// Refuses (`Rejected`) to delete the last live owner.
    pub async fn delete_user(&self, id: &str, now_ms: i64) -> Result<()> {
        dispatch!(self, p => q::users::delete(p, id, now_ms))
    }
}
