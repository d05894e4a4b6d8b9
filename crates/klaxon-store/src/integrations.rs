//! Integrations: a service's inbound event sources, each with its routing key (`integration_key`).
//! Deleted integrations (and those of deleted services) keep their rows but their keys stop working.

use crate::{Result, Store, dispatch};

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct IntegrationRow {
    pub id: String,
    pub service_id: String,
    #[sqlx(rename = "type")]
    pub kind: String,
    pub name: String,
    pub integration_key: String,
    pub vendor_id: Option<String>,
    pub rate_limit_per_minute: Option<i64>,
    pub created_at: i64,
    pub deleted_at: Option<i64>,
}

/// The writable fields of an integration (`kind` is fixed at creation).
#[derive(Clone, Debug)]
pub struct IntegrationFields {
    pub name: String,
    pub vendor_id: Option<String>,
    pub rate_limit_per_minute: Option<i64>,
}

impl Store {
    /// Creates an integration with a fresh routing key on a live service.
    pub async fn create_integration(
        &self,
        service_id: &str,
        kind: &str,
        fields: &IntegrationFields,
        now_ms: i64,
    ) -> Result<IntegrationRow> {
        dispatch!(self, p => q::integrations::create(p, service_id, kind, fields, now_ms))
    }

    /// A live integration of a live service.
    pub async fn integration(&self, service_id: &str, id: &str) -> Result<Option<IntegrationRow>> {
        dispatch!(self, p => q::integrations::get(p, service_id, id))
    }

    pub async fn update_integration(
        &self,
        service_id: &str,
        id: &str,
        fields: &IntegrationFields,
    ) -> Result<IntegrationRow> {
        dispatch!(self, p => q::integrations::update(p, service_id, id, fields))
    }

    /// Soft-deletes an integration: its routing key stops working.
    pub async fn delete_integration(&self, service_id: &str, id: &str, now_ms: i64) -> Result<()> {
        dispatch!(self, p => q::integrations::delete(p, service_id, id, now_ms))
    }
}
