//! The schedule's data, as the rules read it: what the REST API stores and the renderer takes.

use jiff::civil::Time;
use jiff::tz::TimeZone;

/// A schedule: its zone and its layers, in the order of `schedule_layers` as sent (a later layer beats an
/// earlier one wherever it has someone on call).
#[derive(Clone, Debug, PartialEq)]
pub struct Schedule {
    pub time_zone: TimeZone,
    pub layers: Vec<Layer>,
}

/// One layer of a schedule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layer {
    /// The layer's id (`P…`), kept so rendered layers can be matched to stored ones.
    pub id: String,
    pub name: String,
    /// When the layer takes effect (Unix ms).
    pub start: i64,
    /// When it stops (Unix ms, exclusive); `None`: open-ended.
    pub end: Option<i64>,
    /// The phase anchor of the rotation (Unix ms); may precede `start`. Its local time in the schedule's
    /// zone is the handoff time of whole-day turns.
    pub rotation_virtual_start: i64,
    /// Length of one turn in seconds (86,400 daily, 604,800 weekly, or any positive number).
    pub rotation_turn_length_seconds: i64,
    /// The users of the rotation, in turn order (user ids). Never empty once validated.
    pub users: Vec<String>,
    /// Wall-clock windows (in the schedule's zone) outside which the layer has nobody; empty: always.
    pub restrictions: Vec<Restriction>,
}

/// A restriction: a recurring wall-clock window in the schedule's zone during which the layer is active.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Restriction {
    /// Every day from `start_time_of_day` for `duration_seconds` (may run past midnight).
    Daily { start_time_of_day: Time, duration_seconds: i64 },
    /// Every week from ISO weekday `start_day_of_week` (1 = Monday … 7 = Sunday) at `start_time_of_day`
    /// for `duration_seconds` (may run past the end of the week).
    Weekly { start_day_of_week: u8, start_time_of_day: Time, duration_seconds: i64 },
}

/// An override: `user_id` on call from `start` to `end` (Unix ms, end exclusive), over every layer.
/// Among overlapping overrides the one with the greater `created` wins (created last; within one bulk
/// request, the later item gets the greater value).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Override {
    pub id: String,
    pub user_id: String,
    pub start: i64,
    pub end: i64,
    /// The order of creation (for example a database sequence): greater is newer.
    pub created: i64,
}

/// A rendered entry: `user_id` on call from `start` to `end` (Unix ms, end exclusive).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Entry {
    pub start: i64,
    pub end: i64,
    pub user_id: String,
}

/// A window to render over (Unix ms, `since` inclusive, `until` exclusive).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub since: i64,
    pub until: i64,
}
