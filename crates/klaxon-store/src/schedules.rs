//! On-call schedules (PagerDuty's v2 layer model): the schedule row, its ordered layers, each layer's
//! ordered users and restrictions, its teams, and its overrides. Schedules are soft-deleted so references
//! to them still render; a schedule an escalation policy targets cannot be deleted. The rules that read
//! these rows (rendering, who is on call) live in `klaxon_core::schedule`; the server converts the rows.

use crate::{Result, Store, dispatch};
use klaxon_core::schedule::{Restriction, parse_time_of_day};

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct ScheduleRow {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub time_zone: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub deleted_at: Option<i64>,
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct LayerRow {
    pub id: String,
    pub schedule_id: String,
    pub position: i32,
    pub name: String,
    pub start_at: i64,
    pub end_at: Option<i64>,
    pub rotation_virtual_start: i64,
    pub rotation_turn_length_seconds: i64,
}

/// One user of a layer's rotation; `user_name` is the user's name (deleted users included).
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct LayerUserRow {
    pub layer_id: String,
    pub position: i32,
    pub user_id: String,
    pub user_name: Option<String>,
}

/// A restriction as stored: `kind` is `daily_restriction` or `weekly_restriction`.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct RestrictionRow {
    pub kind: String,
    /// `HH:MM:SS` in the schedule's zone.
    pub start_time_of_day: String,
    /// ISO weekday (1 = Monday) for weekly restrictions.
    pub start_day_of_week: Option<i32>,
    pub duration_seconds: i64,
}

impl RestrictionRow {
    /// The stored restriction as the core's rule, or what is wrong with it.
    pub fn to_rule(&self) -> std::result::Result<Restriction, String> {
        restriction_rule(&self.kind, &self.start_time_of_day, self.start_day_of_week, self.duration_seconds)
    }
}

/// A stored restriction's columns as the core's rule, or what is wrong with them: the one reading of
/// `schedule_layer_restrictions`, for the REST API and the events batch alike.
pub fn restriction_rule(
    kind: &str,
    start_time_of_day: &str,
    start_day_of_week: Option<i32>,
    duration_seconds: i64,
) -> std::result::Result<Restriction, String> {
    let start_time_of_day =
        parse_time_of_day(start_time_of_day).ok_or_else(|| "start_time_of_day must be HH:MM:SS".to_string())?;
    match (kind, start_day_of_week) {
        ("daily_restriction", _) => Ok(Restriction::Daily { start_time_of_day, duration_seconds }),
        ("weekly_restriction", Some(day)) => Ok(Restriction::Weekly {
            start_day_of_week: u8::try_from(day).map_err(|_| "start_day_of_week must be from 1 to 7".to_string())?,
            start_time_of_day,
            duration_seconds,
        }),
        ("weekly_restriction", None) => Err("start_day_of_week is required for a weekly_restriction".into()),
        _ => Err("type must be daily_restriction or weekly_restriction".into()),
    }
}

/// A layer with its users `(id, name)` and restrictions, in order.
#[derive(Clone, Debug)]
pub struct StoredLayer {
    pub row: LayerRow,
    pub users: Vec<(String, Option<String>)>,
    pub restrictions: Vec<RestrictionRow>,
}

/// A schedule with everything it renders: layers in the order they were sent, teams `(id, name)` and
/// the live escalation policies targeting it `(id, name)`.
#[derive(Clone, Debug)]
pub struct Schedule {
    pub row: ScheduleRow,
    pub layers: Vec<StoredLayer>,
    pub teams: Vec<(String, String)>,
    pub escalation_policies: Vec<(String, String)>,
}

/// The writable fields of a schedule.
#[derive(Clone, Debug)]
pub struct ScheduleFields {
    pub name: String,
    pub description: Option<String>,
    pub time_zone: String,
}

/// A layer to write, in `schedule_layers` order.
#[derive(Clone, Debug)]
pub struct NewLayer {
    /// Keep this id (a layer of the same schedule being rewritten); `None` makes a new one.
    pub id: Option<String>,
    pub name: String,
    pub start: i64,
    pub end: Option<i64>,
    pub rotation_virtual_start: i64,
    pub rotation_turn_length_seconds: i64,
    /// User ids in turn order.
    pub users: Vec<String>,
    pub restrictions: Vec<RestrictionRow>,
}

/// An override as stored; `seq` is its creation order (greater is newer).
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct OverrideRow {
    pub seq: i64,
    pub id: String,
    pub schedule_id: String,
    pub user_id: String,
    pub user_name: Option<String>,
    pub start_at: i64,
    pub end_at: i64,
    pub created_at: i64,
}

/// An override to create.
#[derive(Clone, Debug)]
pub struct NewOverride {
    pub user_id: String,
    pub start: i64,
    pub end: i64,
}

/// What removing an override did (PagerDuty: a past override cannot be removed; one in progress is
/// truncated to now; a future one is deleted).
#[derive(Clone, Debug)]
pub enum OverrideRemoval {
    Deleted,
    Truncated(OverrideRow),
    /// It ended at or before now: nothing changed.
    Past(OverrideRow),
}

/// Filters of `GET /schedules`.
#[derive(Clone, Debug, Default)]
pub struct ScheduleFilter {
    pub query: Option<String>,
    pub team_ids: Vec<String>,
}

impl Store {
    /// Creates a schedule with its layers and teams in one transaction.
    pub async fn create_schedule(
        &self,
        fields: &ScheduleFields,
        layers: &[NewLayer],
        team_ids: &[String],
        now_ms: i64,
    ) -> Result<String> {
        dispatch!(self, p => q::schedules::create(p, fields, layers, team_ids, now_ms))
    }

    /// Replaces a live schedule's fields and, when given, its layers and teams, in one transaction.
    pub async fn update_schedule(
        &self,
        id: &str,
        fields: &ScheduleFields,
        layers: Option<&[NewLayer]>,
        team_ids: Option<&[String]>,
        now_ms: i64,
    ) -> Result<()> {
        dispatch!(self, p => q::schedules::update(p, id, fields, layers, team_ids, now_ms))
    }

    /// Soft-deletes a live schedule; refused (`Rejected`) while a live escalation policy targets it.
    pub async fn delete_schedule(&self, id: &str, now_ms: i64) -> Result<()> {
        dispatch!(self, p => q::schedules::delete(p, id, now_ms))
    }

    /// A schedule with its layers, teams and policies. `include_deleted` also finds deleted ones.
    pub async fn on_call_schedule(&self, id: &str, include_deleted: bool) -> Result<Option<Schedule>> {
        dispatch!(self, p => q::schedules::get(p, id, include_deleted))
    }

    /// One page of live schedules by name (`limit`/`offset`), and the total count when `want_total`.
    pub async fn list_schedules(
        &self,
        filter: &ScheduleFilter,
        limit: i64,
        offset: i64,
        want_total: bool,
    ) -> Result<(Vec<Schedule>, Option<i64>)> {
        dispatch!(self, p => q::schedules::list(p, filter, limit, offset, want_total))
    }

    /// `(id, name)` of the live schedules among `ids` (order not guaranteed).
    pub async fn live_schedules_named(&self, ids: &[String]) -> Result<Vec<(String, String)>> {
        dispatch!(self, p => q::schedules::live_named(p, ids))
    }

    /// A schedule's overrides that overlap `[since, until)`, oldest first.
    pub async fn schedule_overrides(&self, schedule_id: &str, since: i64, until: i64) -> Result<Vec<OverrideRow>> {
        dispatch!(self, p => q::schedules::overrides(p, schedule_id, since, until))
    }

    /// Creates overrides on a live schedule in one transaction, in order (a later item is newer).
    pub async fn create_overrides(
        &self,
        schedule_id: &str,
        overrides: &[NewOverride],
        now_ms: i64,
    ) -> Result<Vec<OverrideRow>> {
        dispatch!(self, p => q::schedules::create_overrides(p, schedule_id, overrides, now_ms))
    }

    /// Removes an override of a schedule as PagerDuty does (see [`OverrideRemoval`]).
    pub async fn remove_override(&self, schedule_id: &str, override_id: &str, now_ms: i64) -> Result<OverrideRemoval> {
        dispatch!(self, p => q::schedules::remove_override(p, schedule_id, override_id, now_ms))
    }
}
