//! Maintenance windows: spans of time during which the covered services open no incidents.
//! `sequence_number` comes from the `maintenance_window_sequence` counter, taken in the creating
//! transaction.

use crate::{Result, Store, dispatch};

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct MaintenanceWindowRow {
    pub id: String,
    pub sequence_number: i64,
    pub description: Option<String>,
    pub start_time: i64,
    pub end_time: i64,
    pub created_by: Option<String>,
    pub created_at: i64,
}

/// A window with its services and teams (`(id, name)`, the teams of its services) and its creator's name.
#[derive(Clone, Debug)]
pub struct MaintenanceWindow {
    pub row: MaintenanceWindowRow,
    pub services: Vec<(String, String)>,
    pub teams: Vec<(String, String)>,
    pub created_by_name: Option<String>,
}

/// The writable fields of a window.
#[derive(Clone, Debug)]
pub struct WindowFields {
    pub description: Option<String>,
    pub start_time: i64,
    pub end_time: i64,
    pub service_ids: Vec<String>,
}

/// Which windows `GET /maintenance_windows` lists, relative to now.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum WindowTime {
    Past,
    Future,
    Ongoing,
    /// Ongoing or future.
    Open,
    #[default]
    All,
}

#[derive(Clone, Debug, Default)]
pub struct WindowFilter {
    pub time: WindowTime,
    pub service_ids: Vec<String>,
    pub team_ids: Vec<String>,
    pub query: Option<String>,
}

/// What deleting a window did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WindowDeletion {
    /// A future window was removed.
    Deleted,
    /// An ongoing window was ended now.
    Ended,
    /// The window is in the past: nothing was changed.
    Past,
}

impl Store {
    /// Creates a window with the next sequence number, atomically.
    pub async fn create_maintenance_window(
        &self,
        fields: &WindowFields,
        created_by: Option<&str>,
        now_ms: i64,
    ) -> Result<String> {
        dispatch!(self, p => q::maintenance_windows::create(p, fields, created_by, now_ms))
    }

    pub async fn maintenance_window(&self, id: &str) -> Result<Option<MaintenanceWindow>> {
        dispatch!(self, p => q::maintenance_windows::get(p, id))
    }

    pub async fn update_maintenance_window(&self, id: &str, fields: &WindowFields) -> Result<()> {
        dispatch!(self, p => q::maintenance_windows::update(p, id, fields))
    }

    /// Deletes a future window, ends an ongoing one now, and leaves a past one alone.
    pub async fn delete_maintenance_window(&self, id: &str, now_ms: i64) -> Result<WindowDeletion> {
        dispatch!(self, p => q::maintenance_windows::delete(p, id, now_ms))
    }

    /// One page of windows, and the total count when `want_total`.
    pub async fn list_maintenance_windows(
        &self,
        filter: &WindowFilter,
        limit: i64,
        offset: i64,
        want_total: bool,
        now_ms: i64,
    ) -> Result<(Vec<MaintenanceWindow>, Option<i64>)> {
        dispatch!(self, p => q::maintenance_windows::list(p, filter, limit, offset, want_total, now_ms))
    }

    /// Whether a maintenance window covers the service at `now_ms` (start ≤ now < end).
    pub async fn services_in_maintenance(&self, service_id: &str, now_ms: i64) -> Result<bool> {
        dispatch!(self, p => q::maintenance_windows::covers(p, service_id, now_ms))
    }
}
