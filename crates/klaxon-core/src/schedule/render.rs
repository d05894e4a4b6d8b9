//! Rendering over a window: each layer's entries (turns masked by restrictions), the overrides
//! subschedule, the final schedule (precedence and merging) and their coverage; who is on call at an
//! instant; the shifts meeting a window; a user's next shift.
//!
//! Cost: a layer costs the number of its turns and restriction windows inside the range rendered (the
//! first turn is found by arithmetic from the anchor, and turns that fall entirely outside the
//! restrictions are jumped over); overrides cost `n log n` in their number.

use super::interval::{self, Piece, clip, meets, merge_touching, overlay, push_masked, to_entries};
use super::local::{DAY_MS, SECOND_MS, WEEK_MS, clamp_instant, max_ms, min_ms};
use super::model::{Entry, Layer, Override, Schedule, Window};
use super::restriction;
use super::rotation::Rotation;
use jiff::tz::TimeZone;
use std::collections::BinaryHeap;

/// The longest look outside the window when rendering with `overflow`: 90 days.
pub const OVERFLOW_LIMIT_MS: i64 = 90 * DAY_MS;

/// A schedule rendered over a window: its layers (in schedule order), its overrides, its final schedule.
#[derive(Clone, Debug, PartialEq)]
pub struct Rendered {
    pub layers: Vec<RenderedLayer>,
    pub overrides: RenderedPart,
    pub final_schedule: RenderedPart,
}

/// One layer's rendered entries (one per turn piece, never merged across turns) and coverage.
#[derive(Clone, Debug, PartialEq)]
pub struct RenderedLayer {
    pub id: String,
    pub entries: Vec<Entry>,
    pub coverage_percentage: f64,
}

/// Rendered entries (sorted, disjoint) and their coverage of the window (0–100).
#[derive(Clone, Debug, PartialEq)]
pub struct RenderedPart {
    pub entries: Vec<Entry>,
    pub coverage_percentage: f64,
}

impl RenderedPart {
    fn new(entries: Vec<Entry>, window: Window) -> Self {
        let coverage_percentage = interval::coverage_percentage(&entries, window);
        RenderedPart { entries, coverage_percentage }
    }
}

/// The window inside jiff's range, or `None` if it is empty.
fn normalized(window: Window) -> Option<Window> {
    let w = Window { since: clamp_instant(window.since), until: clamp_instant(window.until) };
    (w.since < w.until).then_some(w)
}

/// `layer`'s entries over `window`, cut to it: one entry per piece of a turn that lies inside the layer's
/// `[start, end)`, the window and its restrictions; sorted; consecutive turns of the same user are not
/// merged.
pub fn render_layer(layer: &Layer, zone: &TimeZone, window: Window) -> Vec<Entry> {
    to_entries(&layer_pieces(layer, zone, window))
}

fn layer_pieces<'a>(layer: &'a Layer, zone: &TimeZone, window: Window) -> Vec<Piece<'a>> {
    let mut out = Vec::new();
    let Some(window) = normalized(window) else { return out };
    let Some(rotation) = Rotation::new(layer, zone) else { return out };
    let n = i64::try_from(layer.users.len()).unwrap_or(i64::MAX);
    if n == 0 {
        return out;
    }
    let since = window.since.max(layer.start);
    let until = window.until.min(layer.end.unwrap_or(i64::MAX));
    let allowed = restriction::allowed(&layer.restrictions, zone, since, until);
    let Some(first) = allowed.first() else { return out };
    let mut cursor = 0;
    let mut k = rotation.turn_at(first.start);
    let mut start = rotation.handoff(k);
    while start < until {
        let end = rotation.handoff(k + 1);
        while cursor < allowed.len() && allowed[cursor].end <= start.max(since) {
            cursor += 1;
        }
        let Some(next) = allowed.get(cursor) else { break };
        if end <= next.start {
            // Nothing allowed in this turn: jump to the turn where the next allowed span starts.
            k = rotation.turn_at(next.start).max(k + 1);
            start = rotation.handoff(k);
            continue;
        }
        let user = usize::try_from(k.rem_euclid(n)).ok().and_then(|i| layer.users.get(i));
        if let Some(user) = user {
            push_masked(&mut out, start.max(since), end.min(until), user, &allowed, &mut cursor);
        }
        k += 1;
        start = end;
    }
    out
}

/// `layer`'s entries meeting `window`, whole: a turn piece crossing an edge of the window is returned
/// up to the ends of its turn, but never more than [`OVERFLOW_LIMIT_MS`] outside the window.
fn layer_pieces_whole<'a>(layer: &'a Layer, zone: &TimeZone, window: Window) -> Vec<Piece<'a>> {
    let Some(rotation) = Rotation::new(layer, zone) else { return Vec::new() };
    let since = rotation.handoff(rotation.turn_at(window.since)).max(window.since.saturating_sub(OVERFLOW_LIMIT_MS));
    let until =
        rotation.handoff(rotation.turn_at(window.until - 1) + 1).min(window.until.saturating_add(OVERFLOW_LIMIT_MS));
    let mut pieces = layer_pieces(layer, zone, Window { since, until });
    pieces.retain(|p| meets(p.start, p.end, window));
    pieces
}

/// The overrides subschedule, whole: at each instant the covering override with the greatest `created`
/// (equal `created`: the later in `overrides`); each override's surviving pieces as entries, sorted and
/// disjoint. Touching pieces of one override are one entry; pieces of different overrides are never
/// merged, even for the same user. Overrides that do not end after their start are ignored.
pub fn override_entries(overrides: &[Override]) -> Vec<Entry> {
    to_entries(&override_pieces(overrides))
}

fn override_pieces(overrides: &[Override]) -> Vec<Piece<'_>> {
    let mut order: Vec<usize> = (0..overrides.len()).filter(|&i| overrides[i].start < overrides[i].end).collect();
    order.sort_unstable_by_key(|&i| overrides[i].start);
    let mut bounds: Vec<i64> = order.iter().flat_map(|&i| [overrides[i].start, overrides[i].end]).collect();
    bounds.sort_unstable();
    bounds.dedup();
    let mut active = BinaryHeap::new();
    let mut next = 0;
    let mut pieces: Vec<(usize, Piece<'_>)> = Vec::new();
    for pair in bounds.windows(2) {
        let (x, y) = (pair[0], pair[1]);
        while let Some(&i) = order.get(next).filter(|&&i| overrides[i].start <= x) {
            active.push((overrides[i].created, i));
            next += 1;
        }
        while active.peek().is_some_and(|&(_, i)| overrides[i].end <= x) {
            active.pop();
        }
        let Some(&(_, winner)) = active.peek() else { continue };
        match pieces.last_mut() {
            Some((last, piece)) if *last == winner && piece.end == x => piece.end = y,
            _ => pieces.push((winner, Piece { start: x, end: y, user: &overrides[winner].user_id })),
        }
    }
    pieces.into_iter().map(|(_, e)| e).collect()
}

/// The final schedule over `range` from the override pieces (whole), cut to the range, merged.
fn final_over<'a>(schedule: &'a Schedule, pieces: &[Piece<'a>], range: Window) -> Vec<Piece<'a>> {
    let mut acc = Vec::new();
    for layer in &schedule.layers {
        acc = overlay(acc, layer_pieces(layer, &schedule.time_zone, range));
    }
    merge_touching(overlay(acc, clip(pieces, range)))
}

/// How far outside a window the final schedule is computed for whole shifts: the longest turn among the
/// layers plus a week, at most [`OVERFLOW_LIMIT_MS`].
fn final_margin(schedule: &Schedule) -> i64 {
    let longest = schedule.layers.iter().map(|l| l.rotation_turn_length_seconds.max(0)).max().unwrap_or(0);
    longest.saturating_mul(SECOND_MS).saturating_add(WEEK_MS).min(OVERFLOW_LIMIT_MS)
}

/// The final schedule's shifts meeting `window`, whole, up to the margin of [`final_margin`].
fn final_whole<'a>(schedule: &'a Schedule, pieces: &[Piece<'a>], window: Window) -> Vec<Piece<'a>> {
    let margin = final_margin(schedule);
    let range = Window {
        since: window.since.saturating_sub(margin).max(min_ms()),
        until: window.until.saturating_add(margin).min(max_ms()),
    };
    let mut entries = final_over(schedule, pieces, range);
    entries.retain(|p| meets(p.start, p.end, window));
    entries
}

/// The final schedule over `window`, cut to it: at each instant the override winner, else the user of
/// the last layer that has someone, else nobody; touching entries of the same user merged.
pub fn final_entries(schedule: &Schedule, overrides: &[Override], window: Window) -> Vec<Entry> {
    let Some(window) = normalized(window) else { return Vec::new() };
    to_entries(&final_over(schedule, &override_pieces(overrides), window))
}

/// Renders `schedule` with `overrides` over `window`. `overflow = false`: every entry is cut to the
/// window. `overflow = true`: entries crossing an edge are returned whole — the whole turn piece, the
/// whole override piece, the whole merged final shift — except that nothing reaches more than
/// [`OVERFLOW_LIMIT_MS`] (90 days) outside the window, and a final shift is followed outside the window
/// only as far as the longest turn among the layers plus one week (at most 90 days): a merged shift
/// longer than that is cut there. Coverage always counts only the window.
pub fn render(schedule: &Schedule, overrides: &[Override], window: Window, overflow: bool) -> Rendered {
    let zone = &schedule.time_zone;
    let Some(window) = normalized(window) else {
        let empty = || RenderedPart { entries: Vec::new(), coverage_percentage: 0.0 };
        let layers = schedule
            .layers
            .iter()
            .map(|l| RenderedLayer { id: l.id.clone(), entries: Vec::new(), coverage_percentage: 0.0 })
            .collect();
        return Rendered { layers, overrides: empty(), final_schedule: empty() };
    };
    let pieces = override_pieces(overrides);
    let layer_entries: Vec<Vec<Piece<'_>>> = schedule
        .layers
        .iter()
        .map(|l| if overflow { layer_pieces_whole(l, zone, window) } else { layer_pieces(l, zone, window) })
        .collect();
    let (override_part, final_part) = if overflow {
        let whole: Vec<Piece<'_>> = pieces.iter().filter(|p| meets(p.start, p.end, window)).copied().collect();
        (whole, final_whole(schedule, &pieces, window))
    } else {
        let clipped = clip(&pieces, window);
        let mut acc = Vec::new();
        for entries in &layer_entries {
            acc = overlay(acc, entries.clone());
        }
        let final_part = merge_touching(overlay(acc, clipped.clone()));
        (clipped, final_part)
    };
    let layers = schedule
        .layers
        .iter()
        .zip(layer_entries)
        .map(|(l, pieces)| {
            let entries = to_entries(&pieces);
            let coverage_percentage = interval::coverage_percentage(&entries, window);
            RenderedLayer { id: l.id.clone(), entries, coverage_percentage }
        })
        .collect();
    Rendered {
        layers,
        overrides: RenderedPart::new(to_entries(&override_part), window),
        final_schedule: RenderedPart::new(to_entries(&final_part), window),
    }
}

/// The user on call at instant `at` in the final schedule, or `None` (a gap).
pub fn on_call_at(schedule: &Schedule, overrides: &[Override], at: i64) -> Option<String> {
    let window = normalized(Window { since: at, until: at.saturating_add(1) })?;
    final_over(schedule, &override_pieces(overrides), window).first().map(|p| p.user.to_string())
}

/// The final schedule's shifts meeting `window`, whole (as with `overflow = true`), for `GET /oncalls`.
/// Intervals are half-open: a shift ending exactly at `since` is not included, nor one starting at
/// `until`. An empty window (`since == until`, PagerDuty's default "now") means the instant `since`.
pub fn oncall_shifts(schedule: &Schedule, overrides: &[Override], window: Window) -> Vec<Entry> {
    let window = if window.until <= window.since {
        Window { since: window.since, until: window.since.saturating_add(1) }
    } else {
        window
    };
    let Some(window) = normalized(window) else { return Vec::new() };
    to_entries(&final_whole(schedule, &override_pieces(overrides), window))
}

/// `user`'s next final-schedule shift: the one in progress at `from` if `user` is on call then, else the
/// first one starting in `[from, from + horizon_ms)`; whole (as with `overflow = true`, so a shift in
/// progress starts before `from`). Searched a week at a time, so it stops at the first hit.
pub fn next_shift_for_user(
    schedule: &Schedule,
    overrides: &[Override],
    user: &str,
    from: i64,
    horizon_ms: i64,
) -> Option<Entry> {
    let pieces = override_pieces(overrides);
    let end = clamp_instant(from.saturating_add(horizon_ms.max(0)));
    let mut since = clamp_instant(from);
    while since < end {
        let until = since.saturating_add(WEEK_MS).min(end);
        let chunk = final_over(schedule, &pieces, Window { since, until });
        if let Some(hit) = chunk.iter().find(|p| p.user == user) {
            let at = Window { since: hit.start, until: hit.start + 1 };
            return final_whole(schedule, &pieces, at).into_iter().find(|p| p.user == user).map(Piece::to_entry);
        }
        since = until;
    }
    None
}
