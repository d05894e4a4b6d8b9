//! Contact methods: the addresses Klaxon notifies a user at (email, phone, SMS, push).

use crate::{Result, Store, dispatch};

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct ContactMethodRow {
    pub id: String,
    pub user_id: String,
    #[sqlx(rename = "type")]
    pub kind: String,
    pub label: String,
    pub address: String,
    pub country_code: Option<i32>,
    pub send_short_email: bool,
    pub blacklisted: bool,
    pub device_type: Option<String>,
    pub created_at: i64,
}

/// The writable fields of a contact method (already validated by the caller).
#[derive(Clone, Debug)]
pub struct ContactMethodFields {
    pub kind: String,
    pub label: String,
    pub address: String,
    pub country_code: Option<i32>,
    pub send_short_email: bool,
    pub device_type: Option<String>,
}

impl Store {
    /// A user's contact methods, oldest first.
    pub async fn contact_methods(&self, user_id: &str) -> Result<Vec<ContactMethodRow>> {
        dispatch!(self, p => q::contact_methods::for_user(p, user_id))
    }

    /// One contact method of a user.
    pub async fn contact_method(&self, user_id: &str, id: &str) -> Result<Option<ContactMethodRow>> {
        dispatch!(self, p => q::contact_methods::by_id(p, user_id, id))
    }

    /// Adds a contact method. The same type and address twice for one user is
    /// `Conflict { field: "contact_method.address" }`.
    pub async fn create_contact_method(
        &self,
        user_id: &str,
        fields: &ContactMethodFields,
        now_ms: i64,
    ) -> Result<ContactMethodRow> {
        dispatch!(self, p => q::contact_methods::create(p, user_id, fields, now_ms))
    }

    /// Replaces a contact method's fields (same duplicate rule as creation).
    pub async fn update_contact_method(
        &self,
        user_id: &str,
        id: &str,
        fields: &ContactMethodFields,
    ) -> Result<ContactMethodRow> {
        dispatch!(self, p => q::contact_methods::update(p, user_id, id, fields))
    }

    /// Deletes a contact method and the notification rules and on-call handoff rules that use it, atomically.
    pub async fn delete_contact_method(&self, user_id: &str, id: &str) -> Result<()> {
        dispatch!(self, p => q::contact_methods::delete(p, user_id, id))
    }
}
