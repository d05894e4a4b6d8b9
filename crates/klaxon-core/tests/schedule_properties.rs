//! Property tests of the schedule renderer against an independent reference: random schedules (1–3
//! layers, 1–4 users, whole-day and other turn lengths, daily and weekly restrictions, overrides) in
//! zones with daylight saving time (Berlin, New York, Lord Howe's half-hour shift) and UTC, over random
//! windows near the transitions.
//!
//! The reference evaluates one instant at a time, straight from the rules, with jiff's own calendar
//! arithmetic (spans of days, civil durations) rather than the renderer's code.

// Test support outside #[test] functions may panic: a failed setup is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use jiff::civil::{DateTime, Time};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Span, Timestamp};
use klaxon_core::schedule::{
    Entry, Layer, Override, Restriction, Schedule, Window, coverage_percentage, final_entries, on_call_at, render,
    render_layer,
};
use proptest::prelude::*;

const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;
/// 2026-01-01T00:00Z.
const Y2026: i64 = 1_767_225_600_000;

fn zones() -> Vec<TimeZone> {
    vec![
        TimeZone::posix("CET-1CEST,M3.5.0,M10.5.0/3").unwrap(),
        TimeZone::posix("EST5EDT,M3.2.0,M11.1.0").unwrap(),
        TimeZone::posix("<+1030>-10:30<+11>-11,M10.1.0,M4.1.0").unwrap(),
        TimeZone::UTC,
    ]
}

/// Instants of 2026's transitions in the zones above (within a day), where windows are drawn often.
fn transitions() -> Vec<i64> {
    [
        "2026-03-29T01:00Z",
        "2026-10-25T01:00Z",
        "2026-03-08T07:00Z",
        "2026-11-01T06:00Z",
        "2026-04-04T15:00Z",
        "2026-10-03T15:30Z",
    ]
    .iter()
    .map(|s| s.parse::<Timestamp>().unwrap().as_millisecond())
    .collect()
}

const POOL: [&str; 5] = ["a", "b", "c", "d", "e"];

fn restriction() -> impl Strategy<Value = Restriction> {
    let time = (0i8..24, prop::sample::select(vec![0i8, 15, 30, 59])).prop_map(|(h, m)| Time::new(h, m, 0, 0).unwrap());
    prop_oneof![
        (time.clone(), prop_oneof![1i64..=86_400, prop::sample::select(vec![3_600i64, 8 * 3_600, 16 * 3_600, 86_400])])
            .prop_map(|(t, d)| Restriction::Daily { start_time_of_day: t, duration_seconds: d }),
        (1u8..=7, time, prop_oneof![1i64..=604_800, prop::sample::select(vec![16 * 3_600i64, 2 * 86_400, 604_800])])
            .prop_map(|(w, t, d)| Restriction::Weekly {
                start_day_of_week: w,
                start_time_of_day: t,
                duration_seconds: d
            }),
    ]
}

fn turn_length() -> impl Strategy<Value = i64> {
    prop_oneof![
        prop::sample::select(vec![86_400i64, 2 * 86_400, 7 * 86_400, 14 * 86_400]),
        prop::sample::select(vec![3_600i64, 43_200, 28_800, 5_400, 90_061]),
        600i64..200_000,
    ]
}

/// A layer near `center`: anchor within 60 days of it (or in 2015), start and end around it.
fn layer(center: i64) -> impl Strategy<Value = Layer> {
    (
        turn_length(),
        prop::sample::subsequence(POOL.to_vec(), 1..=4).prop_shuffle(),
        prop::collection::vec(restriction(), 0..=2),
        prop_oneof![(-60 * DAY..60 * DAY).prop_map(move |d| center + d), Just(1_420_070_400_000i64)],
        prop_oneof![Just(None), (-20 * DAY..20 * DAY).prop_map(Some)],
        prop_oneof![Just(None), (HOUR..40 * DAY).prop_map(Some)],
    )
        .prop_map(move |(len, users, restrictions, anchor, start, end)| {
            let start = start.map_or(anchor.min(center - 30 * DAY), |d| center + d);
            Layer {
                id: "PL".into(),
                name: "L".into(),
                start,
                end: end.map(|d| start + d),
                rotation_virtual_start: anchor,
                rotation_turn_length_seconds: len,
                users: users.into_iter().map(String::from).collect(),
                restrictions,
            }
        })
}

fn overrides(center: i64) -> impl Strategy<Value = Vec<Override>> {
    prop::collection::vec(
        (-3 * DAY..3 * DAY, 1..2 * DAY, prop::sample::select(POOL.to_vec()), 0i64..6).prop_map(
            move |(offset, length, user, created)| Override {
                id: format!("PO{offset}"),
                user_id: user.into(),
                start: center + offset,
                end: center + offset + length,
                created,
            },
        ),
        0..=4,
    )
}

#[derive(Clone, Debug)]
struct Case {
    schedule: Schedule,
    overrides: Vec<Override>,
    window: Window,
    samples: Vec<i64>,
}

fn case() -> impl Strategy<Value = Case> {
    let center = prop_oneof![
        prop::sample::select(transitions()).prop_flat_map(|t| (-2 * DAY..2 * DAY).prop_map(move |d| t + d)),
        (0..365 * DAY).prop_map(|d| Y2026 + d),
    ];
    (center, 0usize..4).prop_flat_map(|(center, zone)| {
        (
            prop::collection::vec(layer(center), 1..=3),
            overrides(center),
            (-3 * DAY..0, HOUR..6 * DAY),
            prop::collection::vec(-4 * DAY..6 * DAY, 40),
        )
            .prop_map(move |(layers, overrides, (since, length), samples)| {
                let mut layers = layers;
                for (i, l) in layers.iter_mut().enumerate() {
                    l.id = format!("PL{i}");
                }
                let window = Window { since: center + since, until: center + since + length };
                let schedule = Schedule { time_zone: zones()[zone].clone(), layers };
                Case { schedule, overrides, window, samples: samples.into_iter().map(|s| center + s).collect() }
            })
    })
}

// --- The reference: one instant, straight from the rules ---

fn ts(ms: i64) -> Timestamp {
    Timestamp::from_millisecond(ms).unwrap()
}

fn compatible(tz: &TimeZone, dt: DateTime) -> i64 {
    tz.to_ambiguous_timestamp(dt).compatible().unwrap().as_millisecond()
}

fn ref_handoff(l: &Layer, tz: &TimeZone, k: i64) -> i64 {
    let len = l.rotation_turn_length_seconds;
    if len % 86_400 == 0 {
        let local = tz.to_datetime(ts(l.rotation_virtual_start));
        compatible(tz, local.checked_add(Span::new().days(k * (len / 86_400))).unwrap())
    } else {
        l.rotation_virtual_start + k * len * 1_000
    }
}

fn ref_turn(l: &Layer, tz: &TimeZone, t: i64) -> i64 {
    let mut k = (t - l.rotation_virtual_start).div_euclid(l.rotation_turn_length_seconds * 1_000);
    while ref_handoff(l, tz, k) > t {
        k -= 1;
    }
    while ref_handoff(l, tz, k + 1) <= t {
        k += 1;
    }
    k
}

fn ref_restricted(r: &Restriction, tz: &TimeZone, t: i64) -> bool {
    let (weekday, time, duration, back) = match *r {
        Restriction::Daily { start_time_of_day, duration_seconds } => (None, start_time_of_day, duration_seconds, 2),
        Restriction::Weekly { start_day_of_week, start_time_of_day, duration_seconds } => {
            (Some(start_day_of_week), start_time_of_day, duration_seconds, 9)
        }
    };
    let period = if weekday.is_some() { 604_800 } else { 86_400 };
    if duration >= period {
        return true;
    }
    let today = tz.to_datetime(ts(t)).date();
    (0..=back).any(|b| {
        let day = today.checked_sub(Span::new().days(b)).unwrap();
        if weekday.is_some_and(|w| day.weekday().to_monday_one_offset() != i8::try_from(w).unwrap()) {
            return false;
        }
        let start = day.to_datetime(time);
        let end = start.checked_add(SignedDuration::from_secs(duration)).unwrap();
        compatible(tz, start) <= t && t < compatible(tz, end)
    })
}

fn ref_layer_user(l: &Layer, tz: &TimeZone, t: i64) -> Option<String> {
    if t < l.start || l.end.is_some_and(|end| t >= end) {
        return None;
    }
    if !l.restrictions.is_empty() && !l.restrictions.iter().any(|r| ref_restricted(r, tz, t)) {
        return None;
    }
    let n = i64::try_from(l.users.len()).unwrap();
    Some(l.users[usize::try_from(ref_turn(l, tz, t).rem_euclid(n)).unwrap()].clone())
}

fn ref_final_user(c: &Case, t: i64) -> Option<String> {
    let winner = c
        .overrides
        .iter()
        .enumerate()
        .filter(|(_, o)| o.start <= t && t < o.end)
        .max_by_key(|(i, o)| (o.created, *i))
        .map(|(_, o)| o.user_id.clone());
    winner.or_else(|| c.schedule.layers.iter().rev().find_map(|l| ref_layer_user(l, &c.schedule.time_zone, t)))
}

fn user_at(entries: &[Entry], t: i64) -> Option<&str> {
    entries.iter().find(|e| e.start <= t && t < e.end).map(|e| e.user_id.as_str())
}

/// Instants worth checking: the random ones inside the window and every entry edge (and one before).
fn instants(c: &Case, entries: &[&[Entry]]) -> Vec<i64> {
    let w = c.window;
    let mut out: Vec<i64> = c.samples.iter().map(|s| w.since + (s - w.since).rem_euclid(w.until - w.since)).collect();
    for list in entries {
        for e in *list {
            out.extend([e.start, e.start - 1, e.end, e.end - 1]);
        }
    }
    out.push(w.since);
    out.push(w.until - 1);
    out.retain(|t| (w.since..w.until).contains(t));
    out.sort_unstable();
    out.dedup();
    out
}

fn sorted_disjoint(entries: &[Entry]) -> bool {
    entries.iter().all(|e| e.start < e.end) && entries.windows(2).all(|p| p[0].end <= p[1].start)
}

fn measure(mut spans: Vec<(i64, i64)>) -> i64 {
    spans.sort_unstable();
    let (mut total, mut reach) = (0, i64::MIN);
    for (s, e) in spans {
        let s = s.max(reach);
        if e > s {
            total += e - s;
            reach = e;
        }
    }
    total
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 160, ..ProptestConfig::default() })]

    /// (a) the final schedule is sorted, never overlaps itself, stays in the window and is merged.
    #[test]
    fn the_final_schedule_is_sorted_disjoint_merged_and_inside_the_window(c in case()) {
        let f = final_entries(&c.schedule, &c.overrides, c.window);
        prop_assert!(sorted_disjoint(&f), "{f:?}");
        prop_assert!(f.iter().all(|e| c.window.since <= e.start && e.end <= c.window.until));
        prop_assert!(f.windows(2).all(|p| !(p[0].end == p[1].start && p[0].user_id == p[1].user_id)), "unmerged: {f:?}");
    }

    /// (b) the final schedule covers exactly the union of what the layers and the overrides cover.
    #[test]
    fn the_final_schedule_covers_exactly_the_union_of_layers_and_overrides(c in case()) {
        let r = render(&c.schedule, &c.overrides, c.window, false);
        let mut spans: Vec<(i64, i64)> = r.layers.iter().flat_map(|l| l.entries.iter().map(|e| (e.start, e.end))).collect();
        spans.extend(r.overrides.entries.iter().map(|e| (e.start, e.end)));
        let union = measure(spans);
        let covered = measure(r.final_schedule.entries.iter().map(|e| (e.start, e.end)).collect());
        prop_assert_eq!(covered, union);
        let expected = coverage_percentage(&r.final_schedule.entries, c.window);
        prop_assert!((r.final_schedule.coverage_percentage - expected).abs() < 1e-9);
        #[allow(clippy::cast_precision_loss)]
        let by_hand = covered as f64 / (c.window.until - c.window.since) as f64 * 100.0;
        prop_assert!((r.final_schedule.coverage_percentage - by_hand).abs() < 1e-9);
    }

    /// (c) at every sampled instant, each layer and the final schedule agree with the reference.
    #[test]
    fn every_instant_agrees_with_the_one_instant_reference(c in case()) {
        let r = render(&c.schedule, &c.overrides, c.window, false);
        let mut lists: Vec<&[Entry]> = r.layers.iter().map(|l| l.entries.as_slice()).collect();
        lists.push(&r.final_schedule.entries);
        lists.push(&r.overrides.entries);
        let tz = &c.schedule.time_zone;
        for t in instants(&c, &lists) {
            for (l, rendered) in c.schedule.layers.iter().zip(&r.layers) {
                let expected = ref_layer_user(l, tz, t);
                prop_assert_eq!(user_at(&rendered.entries, t), expected.as_deref(), "layer {} at {}", l.id, t);
            }
            let expected = ref_final_user(&c, t);
            prop_assert_eq!(user_at(&r.final_schedule.entries, t), expected.as_deref(), "final at {}", t);
        }
        let t = c.samples[0];
        prop_assert_eq!(on_call_at(&c.schedule, &c.overrides, t), ref_final_user(&c, t));
        for part in [&r.overrides.entries].into_iter().chain(r.layers.iter().map(|l| &l.entries)) {
            prop_assert!(sorted_disjoint(part), "{part:?}");
        }
    }

    /// (d) a layer's entries follow turn order: without restrictions they tile the layer's time in the
    /// window, one entry per turn, going users[k], users[k + 1], …
    #[test]
    fn a_layers_entries_follow_turn_order(c in case()) {
        let tz = &c.schedule.time_zone;
        for l in &c.schedule.layers {
            let l = Layer { restrictions: vec![], ..l.clone() };
            let got = render_layer(&l, tz, c.window);
            let since = c.window.since.max(l.start);
            let until = c.window.until.min(l.end.unwrap_or(i64::MAX));
            if since >= until {
                prop_assert!(got.is_empty());
                continue;
            }
            let k0 = ref_turn(&l, tz, since);
            let n = i64::try_from(l.users.len()).unwrap();
            prop_assert_eq!(got.first().map(|e| e.start), Some(since));
            prop_assert_eq!(got.last().map(|e| e.end), Some(until));
            for (i, e) in got.iter().enumerate() {
                let k = k0 + i64::try_from(i).unwrap();
                prop_assert_eq!(&e.user_id, &l.users[usize::try_from(k.rem_euclid(n)).unwrap()]);
                prop_assert_eq!(e.start, ref_handoff(&l, tz, k).max(since));
                prop_assert_eq!(e.end, ref_handoff(&l, tz, k + 1).min(until));
            }
        }
    }

    /// (e) overflow only lengthens entries past the window's edges: cut back to the window, every part
    /// is the same as without overflow, and every entry it returns meets the window.
    #[test]
    fn overflow_entries_cut_to_the_window_are_the_entries_without_overflow(c in case()) {
        let cut = render(&c.schedule, &c.overrides, c.window, false);
        let whole = render(&c.schedule, &c.overrides, c.window, true);
        let w = c.window;
        let clip = |entries: &[Entry]| -> Vec<Entry> {
            entries.iter().map(|e| Entry { start: e.start.max(w.since), end: e.end.min(w.until), user_id: e.user_id.clone() }).collect()
        };
        for (a, b) in cut.layers.iter().zip(&whole.layers) {
            prop_assert_eq!(&clip(&b.entries), &a.entries);
            prop_assert_eq!(a.coverage_percentage, b.coverage_percentage);
        }
        prop_assert_eq!(&clip(&whole.overrides.entries), &cut.overrides.entries);
        prop_assert_eq!(&clip(&whole.final_schedule.entries), &cut.final_schedule.entries);
        prop_assert_eq!(whole.final_schedule.coverage_percentage, cut.final_schedule.coverage_percentage);
        prop_assert!(sorted_disjoint(&whole.final_schedule.entries));
    }
}
