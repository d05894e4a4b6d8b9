//! On-call schedules: PagerDuty's v2 layer model, as data, and the pure rules that render it.
//!
//! A schedule has a time zone and ordered layers; each layer rotates its ordered users in turns of a fixed
//! length from a phase anchor (`rotation_virtual_start`), between its start and optional end, masked by
//! daily or weekly restrictions read on the wall clock of the schedule's zone. Overrides put one user on
//! call for an interval and beat every layer. Rendering turns that into entries over a window: each
//! layer's, the overrides', and the final schedule (who is on call at each instant; nobody is possible).
//!
//! Instants are Unix milliseconds, as everywhere in the core; zones are jiff's `TimeZone` (the tz database
//! is read by the caller). Nothing here reads a clock. All intervals are half-open, `[start, end)`.
//!
//! # The rules
//!
//! **Turns.** A layer's turn `k` covers `[handoff(k), handoff(k+1))` and belongs to `users[k mod n]`
//! (`k` is negative before the anchor; the modulo is Euclidean, so it is never negative). Handoffs are
//! anchored to `rotation_virtual_start`:
//!
//! - If `rotation_turn_length_seconds` is a whole number of days (a multiple of 86,400), turns advance in
//!   **calendar days in the schedule's time zone**: `handoff(k)` is the local date-time of
//!   `rotation_virtual_start` in the schedule's zone plus `k × (days per turn)` calendar days, converted
//!   back to an instant in that zone. A 09:00 handoff stays at 09:00 local across daylight saving time
//!   changes (that turn is then 23 or 25 hours long). The anchor's local time is taken in the schedule's
//!   zone whatever UTC offset it was written with (the anchor is an instant; it is converted to the zone).
//! - Otherwise turns advance in elapsed time: `handoff(k) = rotation_virtual_start + k × length`. A 12-hour
//!   rotation handing off at 09:00 and 21:00 local hands off at 10:00 and 22:00 local after the clocks
//!   spring forward.
//! - Converting a local date-time back to an instant: a local time in a gap (the clocks jump over it) is
//!   read with the offset in force before the jump (02:30 on a spring-forward night where 02:00 jumps to
//!   03:00 is 03:30); a local time that occurs twice (the clocks fall back) is its first, earlier,
//!   occurrence. (jiff's `Disambiguation::Compatible`.) So an anchor at the second occurrence of a
//!   repeated time hands off at the first occurrence of that time.
//! - The layer has someone only within `[start, end)` (no `end`: forever): an end inside a turn cuts the
//!   entry there, a start inside a turn starts the entry there.
//!
//! **Restrictions** are wall-clock windows in the schedule's zone; a layer has someone only inside the
//! union of its restrictions (no restrictions: always). A daily restriction runs each local day from
//! `start_time_of_day` for `duration_seconds` measured on the wall clock: its end is the local start
//! date-time plus the duration as a civil span, converted with the same gap/fold rule — 22:00 for 8 hours
//! ends at 06:00 local also on the night the clocks change (9 or 7 hours of elapsed time). A weekly
//! restriction runs from ISO weekday `start_day_of_week` (1 = Monday … 7 = Sunday) at `start_time_of_day`
//! for the duration, on the wall clock too, and may cross the end of the week (Sunday 20:00 for 16 hours
//! ends Monday 12:00). A window whose start reads later than its end (possible only when its start falls
//! in a gap) is empty. Restrictions mask turns, never move handoffs; a turn masked into several pieces
//! gives several entries of its user.
//!
//! **Overrides** beat every layer. Where overrides overlap, the one with the greater `created` wins
//! (equal `created`: the one later in the list). The overrides subschedule is the winners' pieces: a
//! losing override keeps the parts no newer override covers.
//!
//! **The final schedule**: at each instant, the override winner if an override covers it; otherwise the
//! user of the last layer (highest index in [`Schedule::layers`]) that has someone then; otherwise nobody
//! (a gap). Touching entries of the same user are merged into one in the final schedule only: a layer's
//! entries are one per turn piece (consecutive turns of the same user stay separate), and the overrides
//! subschedule keeps one entry per surviving piece of each override.
//!
//! **Coverage** of a list of entries over a window is the covered milliseconds inside the window over the
//! window's length × 100 (0 to 100; 0 for an empty window).
//!
//! **Overflow.** Rendered with `overflow = false`, every entry is cut to the window; with `overflow = true`,
//! entries crossing an edge of the window are returned whole (the whole turn piece, the whole override
//! piece, the whole merged final shift), looking at most 90 days outside the window; a merged final shift
//! is followed outside the window as far as the longest turn among the layers plus one week (at most 90
//! days) and cut there.

mod ical;
mod interval;
mod local;
pub mod model;
mod render;
mod restriction;
mod rotation;
mod validate;

#[cfg(test)]
mod tests;

pub use ical::{FeedKind, FeedPart, IcalFeed, ical, ical_parts};
pub use interval::coverage_percentage;
pub use model::{Entry, Layer, Override, Restriction, Schedule, Window};
pub use render::{
    OVERFLOW_LIMIT_MS, Rendered, RenderedLayer, RenderedPart, final_entries, next_shift_for_user, on_call_at,
    oncall_shifts, override_entries, render, render_layer,
};
pub use validate::{
    MAX_DAILY_RESTRICTION_SECONDS, MAX_WEEKLY_RESTRICTION_SECONDS, OVERRIDE_MUST_END_AFTER_START, parse_time_of_day,
    validate_layer, validate_layers, validate_override, validate_schedule, zone,
};
