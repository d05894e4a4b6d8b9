//! Roles and what they may do.
//!
//! PagerDuty's account roles, from most to least powerful: owner, admin, user (manager/responder),
//! limited_user, observer, read_only_user. An API key is either account-level (full or read-only) or a
//! user token acting as its user with that user's role. Every endpoint asks [`Principal::may`] before it
//! writes; reads are open to every valid key.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Owner,
    Admin,
    User,
    LimitedUser,
    Observer,
    ReadOnlyUser,
}

impl Role {
    pub const ALL: [Role; 6] =
        [Role::Owner, Role::Admin, Role::User, Role::LimitedUser, Role::Observer, Role::ReadOnlyUser];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::User => "user",
            Role::LimitedUser => "limited_user",
            Role::Observer => "observer",
            Role::ReadOnlyUser => "read_only_user",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("role must be one of owner, admin, user, limited_user, observer, read_only_user")]
pub struct UnknownRole;

impl FromStr for Role {
    type Err = UnknownRole;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL.into_iter().find(|r| r.as_str() == s).ok_or(UnknownRole)
    }
}

/// Who is calling, as established by the API key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Principal {
    /// An account-level key. `read_only` keys may only read.
    Account { read_only: bool },
    /// A user token: acts as `user_id` with that user's role.
    User { user_id: String, role: Role },
}

/// A class of write. Reads need no permission beyond a valid key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action<'a> {
    /// Create, change or delete users, roles and API keys of others.
    ManageUsers,
    /// Change a user's own profile, contact methods and notification rules.
    EditUser { user_id: &'a str },
    /// Change a user's role (only owners and admins; nobody makes an owner through the API but an owner).
    ChangeRole { to: Role },
    /// Create or change configuration: teams, escalation policies, services, integrations, maintenance windows.
    Configure,
    /// Act on incidents: create, acknowledge, resolve, reassign, annotate, snooze, merge.
    RespondToIncidents,
}

impl Principal {
    pub fn may(&self, action: &Action<'_>) -> bool {
        match self {
            Principal::Account { read_only } => !read_only,
            Principal::User { user_id, role } => role_may(*role, user_id, action),
        }
    }

    pub fn user_id(&self) -> Option<&str> {
        match self {
            Principal::User { user_id, .. } => Some(user_id),
            Principal::Account { .. } => None,
        }
    }
}

fn role_may(role: Role, acting_user: &str, action: &Action<'_>) -> bool {
    use Role::*;
    match action {
        Action::ManageUsers => matches!(role, Owner | Admin),
        Action::ChangeRole { to } => match role {
            Owner => true,
            Admin => *to != Owner,
            _ => false,
        },
        Action::EditUser { user_id } => matches!(role, Owner | Admin) || *user_id == acting_user,
        Action::Configure => matches!(role, Owner | Admin | User),
        Action::RespondToIncidents => matches!(role, Owner | Admin | User | LimitedUser),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(role: Role) -> Principal {
        Principal::User { user_id: "PME".into(), role }
    }

    #[test]
    fn roles_round_trip_through_their_names() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
        }
        assert_eq!("superuser".parse::<Role>(), Err(UnknownRole));
    }

    #[test]
    fn read_only_account_keys_cannot_write() {
        let key = Principal::Account { read_only: true };
        assert!(!key.may(&Action::Configure));
        assert!(!key.may(&Action::RespondToIncidents));
        assert!(Principal::Account { read_only: false }.may(&Action::ManageUsers));
    }

    #[test]
    fn only_owners_and_admins_manage_users() {
        assert!(user(Role::Owner).may(&Action::ManageUsers));
        assert!(user(Role::Admin).may(&Action::ManageUsers));
        for role in [Role::User, Role::LimitedUser, Role::Observer, Role::ReadOnlyUser] {
            assert!(!user(role).may(&Action::ManageUsers), "{role}");
        }
    }

    #[test]
    fn admins_cannot_make_owners() {
        assert!(!user(Role::Admin).may(&Action::ChangeRole { to: Role::Owner }));
        assert!(user(Role::Owner).may(&Action::ChangeRole { to: Role::Owner }));
    }

    #[test]
    fn everyone_may_edit_their_own_profile_but_not_others() {
        for role in Role::ALL {
            assert!(user(role).may(&Action::EditUser { user_id: "PME" }), "{role}");
        }
        assert!(!user(Role::User).may(&Action::EditUser { user_id: "POTHER" }));
        assert!(user(Role::Admin).may(&Action::EditUser { user_id: "POTHER" }));
    }

    #[test]
    fn limited_users_respond_but_do_not_configure() {
        assert!(user(Role::LimitedUser).may(&Action::RespondToIncidents));
        assert!(!user(Role::LimitedUser).may(&Action::Configure));
        assert!(!user(Role::Observer).may(&Action::RespondToIncidents));
        assert!(!user(Role::ReadOnlyUser).may(&Action::RespondToIncidents));
        assert!(user(Role::User).may(&Action::Configure));
    }
}
