//! The schedule rules, one test per rule, named as specifications. Expected instants are written with
//! explicit UTC offsets, so the gap/fold behaviour is checked against the rule, not against jiff.

use super::*;
use jiff::Timestamp;
use jiff::civil::Time;
use jiff::tz::TimeZone;

const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;

/// Europe/Berlin's rules (CET/CEST: last Sunday of March 02:00 → 03:00, last Sunday of October 03:00 →
/// 02:00), without the tz database.
fn berlin() -> TimeZone {
    TimeZone::posix("CET-1CEST,M3.5.0,M10.5.0/3").unwrap()
}

/// America/New_York (second Sunday of March 02:00 → 03:00, first Sunday of November 02:00 → 01:00).
fn new_york() -> TimeZone {
    TimeZone::posix("EST5EDT,M3.2.0,M11.1.0").unwrap()
}

/// Australia/Lord_Howe: +10:30, +11:00 in summer; the clocks move by 30 minutes (first Sunday of October
/// 02:00 → 02:30, first Sunday of April 02:00 → 01:30).
fn lord_howe() -> TimeZone {
    TimeZone::posix("<+1030>-10:30<+11>-11,M10.1.0,M4.1.0").unwrap()
}

/// An instant written with an explicit offset, e.g. `2026-03-29T03:30+02:00`.
fn at(s: &str) -> i64 {
    s.parse::<Timestamp>().unwrap().as_millisecond()
}

/// An entry as local time in `tz`, for readable assertions: `03-28T09:00+01:00..03-29T09:00+02:00 a`.
fn show(tz: &TimeZone, entries: &[Entry]) -> Vec<String> {
    let fmt = |ms: i64| {
        Timestamp::from_millisecond(ms).unwrap().to_zoned_datetime(tz.clone()).strftime("%m-%dT%H:%M%:z").to_string()
    };
    entries.iter().map(|e| format!("{}..{} {}", fmt(e.start), fmt(e.end), e.user_id)).collect()
}

fn users(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}

fn layer(anchor: i64, seconds: i64, names: &[&str]) -> Layer {
    Layer {
        id: "PL".into(),
        name: "Layer".into(),
        start: anchor,
        end: None,
        rotation_virtual_start: anchor,
        rotation_turn_length_seconds: seconds,
        users: users(names),
        restrictions: vec![],
    }
}

fn window(since: &str, until: &str) -> Window {
    Window { since: at(since), until: at(until) }
}

fn daily(h: i8, m: i8, duration_seconds: i64) -> Restriction {
    Restriction::Daily { start_time_of_day: Time::new(h, m, 0, 0).unwrap(), duration_seconds }
}

fn weekly(day: u8, h: i8, m: i8, duration_seconds: i64) -> Restriction {
    Restriction::Weekly { start_day_of_week: day, start_time_of_day: Time::new(h, m, 0, 0).unwrap(), duration_seconds }
}

fn ov(id: &str, user: &str, start: &str, end: &str, created: i64) -> Override {
    Override { id: id.into(), user_id: user.into(), start: at(start), end: at(end), created }
}

fn e(start: &str, end: &str, user: &str) -> Entry {
    Entry { start: at(start), end: at(end), user_id: user.into() }
}

// --- Turns: whole-day lengths follow the wall clock ---

#[test]
fn daily_handoff_stays_at_nine_local_across_berlin_spring_forward() {
    let tz = berlin();
    let l = layer(at("2026-03-20T09:00+01:00"), 86_400, &["a", "b"]);
    let got = render_layer(&l, &tz, window("2026-03-28T09:00+01:00", "2026-03-31T09:00+02:00"));
    assert_eq!(
        show(&tz, &got),
        [
            "03-28T09:00+01:00..03-29T09:00+02:00 a",
            "03-29T09:00+02:00..03-30T09:00+02:00 b",
            "03-30T09:00+02:00..03-31T09:00+02:00 a"
        ]
    );
    assert_eq!(got[0].end - got[0].start, 23 * HOUR, "the turn over the change is 23 hours");
}

#[test]
fn daily_handoff_stays_at_nine_local_across_berlin_fall_back() {
    let tz = berlin();
    let l = layer(at("2026-10-20T09:00+02:00"), 86_400, &["a", "b"]);
    let got = render_layer(&l, &tz, window("2026-10-24T09:00+02:00", "2026-10-26T09:00+01:00"));
    assert_eq!(show(&tz, &got), ["10-24T09:00+02:00..10-25T09:00+01:00 a", "10-25T09:00+01:00..10-26T09:00+01:00 b"]);
    assert_eq!(got[0].end - got[0].start, 25 * HOUR);
}

#[test]
fn daily_handoff_stays_at_nine_local_across_new_york_spring_forward_and_fall_back() {
    let tz = new_york();
    let l = layer(at("2026-01-01T09:00-05:00"), 86_400, &["a"]);
    let spring = render_layer(&l, &tz, window("2026-03-07T09:00-05:00", "2026-03-09T09:00-04:00"));
    assert_eq!(
        show(&tz, &spring),
        ["03-07T09:00-05:00..03-08T09:00-04:00 a", "03-08T09:00-04:00..03-09T09:00-04:00 a"]
    );
    let fall = render_layer(&l, &tz, window("2026-10-31T09:00-04:00", "2026-11-02T09:00-05:00"));
    assert_eq!(show(&tz, &fall), ["10-31T09:00-04:00..11-01T09:00-05:00 a", "11-01T09:00-05:00..11-02T09:00-05:00 a"]);
}

#[test]
fn weekly_handoff_stays_at_monday_nine_local_across_new_york_spring_forward() {
    let tz = new_york();
    let l = layer(at("2026-03-02T09:00-05:00"), 7 * 86_400, &["a", "b"]);
    let got = render_layer(&l, &tz, window("2026-03-02T09:00-05:00", "2026-03-16T09:00-04:00"));
    assert_eq!(show(&tz, &got), ["03-02T09:00-05:00..03-09T09:00-04:00 a", "03-09T09:00-04:00..03-16T09:00-04:00 b"]);
}

#[test]
fn the_anchor_is_read_in_the_schedules_zone_whatever_offset_it_was_written_with() {
    // 08:00 UTC is 09:00 in Berlin in winter: the handoff is 09:00 Berlin time, also in summer.
    let tz = berlin();
    let l = layer(at("2026-01-05T08:00Z"), 86_400, &["a"]);
    let got = render_layer(&l, &tz, window("2026-07-01T00:00+02:00", "2026-07-02T00:00+02:00"));
    assert_eq!(show(&tz, &got), ["07-01T00:00+02:00..07-01T09:00+02:00 a", "07-01T09:00+02:00..07-02T00:00+02:00 a"]);
}

// --- Turns: other lengths follow elapsed time ---

#[test]
fn twelve_hour_handoffs_move_from_nine_to_ten_local_after_new_york_spring_forward() {
    let tz = new_york();
    let l = layer(at("2026-03-06T09:00-05:00"), 43_200, &["a", "b"]);
    let got = render_layer(&l, &tz, window("2026-03-07T09:00-05:00", "2026-03-09T10:00-04:00"));
    assert_eq!(
        show(&tz, &got),
        [
            "03-07T09:00-05:00..03-07T21:00-05:00 a",
            "03-07T21:00-05:00..03-08T10:00-04:00 b",
            "03-08T10:00-04:00..03-08T22:00-04:00 a",
            "03-08T22:00-04:00..03-09T10:00-04:00 b",
        ]
    );
    assert!(got.iter().all(|e| e.end - e.start == 12 * HOUR), "elapsed turns are always 12 hours");
}

#[test]
fn twelve_hour_handoffs_move_from_nine_to_eight_local_after_berlin_fall_back() {
    let tz = berlin();
    let l = layer(at("2026-10-20T09:00+02:00"), 43_200, &["a", "b"]);
    let got = render_layer(&l, &tz, window("2026-10-24T21:00+02:00", "2026-10-25T20:00+01:00"));
    assert_eq!(show(&tz, &got), ["10-24T21:00+02:00..10-25T08:00+01:00 b", "10-25T08:00+01:00..10-25T20:00+01:00 a"]);
}

#[test]
fn lord_howe_daily_handoffs_stay_at_nine_across_its_half_hour_shifts() {
    let tz = lord_howe();
    let l = layer(at("2026-01-01T09:00+11:00"), 86_400, &["a"]);
    // First Sunday of April 2026 (the 5th): 02:00 → 01:30, a 24.5-hour day.
    let april = render_layer(&l, &tz, window("2026-04-04T09:00+11:00", "2026-04-05T09:00+10:30"));
    assert_eq!(show(&tz, &april), ["04-04T09:00+11:00..04-05T09:00+10:30 a"]);
    assert_eq!(april[0].end - april[0].start, 24 * HOUR + HOUR / 2);
    // First Sunday of October 2026 (the 4th): 02:00 → 02:30, a 23.5-hour day.
    let october = render_layer(&l, &tz, window("2026-10-03T09:00+10:30", "2026-10-04T09:00+11:00"));
    assert_eq!(show(&tz, &october), ["10-03T09:00+10:30..10-04T09:00+11:00 a"]);
    assert_eq!(october[0].end - october[0].start, 23 * HOUR + HOUR / 2);
}

#[test]
fn lord_howe_twelve_hour_handoffs_move_by_half_an_hour() {
    let tz = lord_howe();
    let l = layer(at("2026-10-01T09:00+10:30"), 43_200, &["a", "b"]);
    let got = render_layer(&l, &tz, window("2026-10-03T21:00+10:30", "2026-10-04T21:30+11:00"));
    assert_eq!(show(&tz, &got), ["10-03T21:00+10:30..10-04T09:30+11:00 b", "10-04T09:30+11:00..10-04T21:30+11:00 a"]);
}

// --- Gaps and folds ---

#[test]
fn a_daily_handoff_in_the_spring_forward_gap_happens_at_the_offset_before_the_jump() {
    // 02:30 does not exist in Berlin on 2026-03-29: it reads as 02:30+01:00, which is 03:30+02:00.
    let tz = berlin();
    let l = layer(at("2026-03-20T02:30+01:00"), 86_400, &["a", "b"]);
    let got = render_layer(&l, &tz, window("2026-03-28T02:30+01:00", "2026-03-31T02:30+02:00"));
    assert_eq!(
        show(&tz, &got),
        [
            "03-28T02:30+01:00..03-29T03:30+02:00 a",
            "03-29T03:30+02:00..03-30T02:30+02:00 b",
            "03-30T02:30+02:00..03-31T02:30+02:00 a"
        ]
    );
    assert_eq!(got[0].end, at("2026-03-29T01:30Z"));
}

#[test]
fn an_anchor_written_as_the_gap_time_is_the_instant_it_names() {
    // "02:30+01:00" on the gap night is the instant 03:30+02:00: the handoff is 03:30 local from then on.
    let tz = berlin();
    let l = layer(at("2026-03-29T02:30+01:00"), 86_400, &["a"]);
    let got = render_layer(&l, &tz, window("2026-03-29T03:30+02:00", "2026-03-31T03:30+02:00"));
    assert_eq!(show(&tz, &got), ["03-29T03:30+02:00..03-30T03:30+02:00 a", "03-30T03:30+02:00..03-31T03:30+02:00 a"]);
}

#[test]
fn a_daily_handoff_at_a_repeated_time_happens_at_its_first_occurrence() {
    // 02:30 occurs twice in Berlin on 2026-10-25 (+02:00, then +01:00): the handoff is the first.
    let tz = berlin();
    let l = layer(at("2026-10-20T02:30+02:00"), 86_400, &["a", "b"]);
    let got = render_layer(&l, &tz, window("2026-10-24T02:30+02:00", "2026-10-26T02:30+01:00"));
    assert_eq!(show(&tz, &got), ["10-24T02:30+02:00..10-25T02:30+02:00 a", "10-25T02:30+02:00..10-26T02:30+01:00 b"]);
    assert_eq!(got[1].end - got[1].start, 25 * HOUR);
}

#[test]
fn an_anchor_at_the_second_occurrence_of_a_repeated_time_hands_off_at_the_first() {
    let tz = new_york();
    // 01:30-05:00 on 2026-11-01 is the second 01:30 in New York.
    let mut l = layer(at("2026-11-01T01:30-05:00"), 86_400, &["a", "b"]);
    l.start = at("2026-10-30T00:00-04:00");
    let got = render_layer(&l, &tz, window("2026-10-31T01:30-04:00", "2026-11-02T01:30-05:00"));
    assert_eq!(show(&tz, &got), ["10-31T01:30-04:00..11-01T01:30-04:00 b", "11-01T01:30-04:00..11-02T01:30-05:00 a"]);
}

// --- Layer bounds, distant anchors, negative turns ---

#[test]
fn a_layer_end_cuts_the_turn_and_a_start_inside_a_turn_starts_the_entry() {
    let tz = TimeZone::UTC;
    let mut l = layer(at("2026-01-01T00:00Z"), 86_400, &["a", "b"]);
    l.start = at("2026-01-01T12:00Z");
    l.end = Some(at("2026-01-02T06:00Z"));
    let got = render_layer(&l, &tz, window("2025-12-31T00:00Z", "2026-01-05T00:00Z"));
    assert_eq!(
        got,
        [e("2026-01-01T12:00Z", "2026-01-02T00:00Z", "a"), e("2026-01-02T00:00Z", "2026-01-02T06:00Z", "b")]
    );
}

#[test]
fn an_anchor_from_2015_renders_2026_by_arithmetic() {
    // A one-second rotation anchored in 2015: about 350 million turns before the window. The first turn
    // is computed, not stepped to, so this is as fast as a window next to the anchor.
    let tz = berlin();
    let anchor = at("2015-01-01T00:00Z");
    let names = ["a", "b", "c", "d", "e", "f", "g"];
    let l = layer(anchor, 1, &names);
    let w = Window { since: at("2026-06-01T12:00Z"), until: at("2026-06-01T12:00:10Z") };
    let got = render_layer(&l, &tz, w);
    assert_eq!(got.len(), 10);
    for (i, entry) in got.iter().enumerate() {
        let k = (w.since - anchor) / 1_000 + i64::try_from(i).unwrap();
        assert_eq!(entry.start, anchor + k * 1_000);
        assert_eq!(entry.user_id, names[usize::try_from(k % 7).unwrap()]);
    }
    // Whole-day turns the same way: day n after the anchor belongs to names[n mod 7].
    let l = layer(anchor, 86_400, &names);
    let got = render_layer(&l, &TimeZone::UTC, window("2026-06-01T00:00Z", "2026-06-02T00:00Z"));
    let n = (at("2026-06-01T00:00Z") - anchor) / DAY;
    assert_eq!(got, [e("2026-06-01T00:00Z", "2026-06-02T00:00Z", names[usize::try_from(n % 7).unwrap()])]);
}

#[test]
fn turns_before_the_anchor_have_negative_indexes_counted_euclidean() {
    let tz = TimeZone::UTC;
    let mut l = layer(at("2026-01-10T00:00Z"), 86_400, &["a", "b", "c"]);
    l.start = at("2020-01-01T00:00Z");
    let got = render_layer(&l, &tz, window("2026-01-06T00:00Z", "2026-01-11T00:00Z"));
    let who: Vec<&str> = got.iter().map(|e| e.user_id.as_str()).collect();
    // Turns -4, -3, -2, -1, 0.
    assert_eq!(who, ["c", "a", "b", "c", "a"]);
}

#[test]
fn consecutive_turns_of_the_same_user_stay_separate_in_the_layer_but_merge_in_the_final_schedule() {
    let tz = TimeZone::UTC;
    let l = layer(at("2026-01-01T00:00Z"), 86_400, &["a"]);
    let w = window("2026-01-01T00:00Z", "2026-01-04T00:00Z");
    assert_eq!(render_layer(&l, &tz, w).len(), 3);
    let s = Schedule { time_zone: tz, layers: vec![l] };
    assert_eq!(final_entries(&s, &[], w), [e("2026-01-01T00:00Z", "2026-01-04T00:00Z", "a")]);
}

// --- Restrictions ---

#[test]
fn a_daily_restriction_across_midnight_is_found_from_inside_it() {
    let tz = berlin();
    let mut l = layer(at("2026-01-01T00:00+01:00"), 7 * 86_400, &["a"]);
    l.restrictions = vec![daily(22, 0, 8 * 3_600)];
    let got = render_layer(&l, &tz, window("2026-02-03T02:00+01:00", "2026-02-04T23:00+01:00"));
    assert_eq!(
        show(&tz, &got),
        [
            "02-03T02:00+01:00..02-03T06:00+01:00 a",
            "02-03T22:00+01:00..02-04T06:00+01:00 a",
            "02-04T22:00+01:00..02-04T23:00+01:00 a"
        ]
    );
}

#[test]
fn a_weekly_restriction_across_the_week_boundary_is_found_from_inside_it() {
    // Sunday 20:00 for 16 hours ends Monday 12:00; 2026-02-09 is a Monday.
    let tz = new_york();
    let mut l = layer(at("2026-01-01T00:00-05:00"), 86_400, &["a"]);
    l.restrictions = vec![weekly(7, 20, 0, 16 * 3_600)];
    let got = render_layer(&l, &tz, window("2026-02-09T08:00-05:00", "2026-02-16T08:00-05:00"));
    assert_eq!(
        show(&tz, &got),
        [
            "02-09T08:00-05:00..02-09T12:00-05:00 a",
            "02-15T20:00-05:00..02-16T00:00-05:00 a",
            "02-16T00:00-05:00..02-16T08:00-05:00 a"
        ]
    );
}

#[test]
fn a_night_restriction_of_eight_hours_ends_at_six_local_on_both_changeover_nights() {
    let tz = berlin();
    let mut l = layer(at("2026-01-01T00:00+01:00"), 14 * 86_400, &["a"]);
    l.restrictions = vec![daily(22, 0, 8 * 3_600)];
    let spring = render_layer(&l, &tz, window("2026-03-28T12:00+01:00", "2026-03-29T12:00+02:00"));
    assert_eq!(show(&tz, &spring), ["03-28T22:00+01:00..03-29T06:00+02:00 a"]);
    assert_eq!(spring[0].end - spring[0].start, 7 * HOUR);
    let fall = render_layer(&l, &tz, window("2026-10-24T12:00+02:00", "2026-10-25T12:00+01:00"));
    assert_eq!(show(&tz, &fall), ["10-24T22:00+02:00..10-25T06:00+01:00 a"]);
    assert_eq!(fall[0].end - fall[0].start, 9 * HOUR);
}

#[test]
fn a_restricted_turn_gives_one_entry_per_piece_and_restrictions_never_move_handoffs() {
    // Weekly turns handing off Monday 00:00, restricted to 09:00-17:00 each day: a turn is 7 pieces of
    // the same user, and the next user starts at the next 09:00 after the handoff.
    let tz = TimeZone::UTC;
    let mut l = layer(at("2026-02-02T00:00Z"), 7 * 86_400, &["a", "b"]);
    l.restrictions = vec![daily(9, 0, 8 * 3_600)];
    let got = render_layer(&l, &tz, window("2026-02-02T00:00Z", "2026-02-16T00:00Z"));
    assert_eq!(got.len(), 14);
    assert!(got[..7].iter().all(|e| e.user_id == "a") && got[7..].iter().all(|e| e.user_id == "b"));
    assert_eq!(got[7], e("2026-02-09T09:00Z", "2026-02-09T17:00Z", "b"));
}

#[test]
fn overlapping_restrictions_are_one_union() {
    let tz = TimeZone::UTC;
    let mut l = layer(at("2026-02-02T00:00Z"), 7 * 86_400, &["a"]);
    // Monday 08:00 for 4h and daily 10:00 for 4h: Monday 08:00-14:00, then 10:00-14:00 daily.
    l.restrictions = vec![weekly(1, 8, 0, 4 * 3_600), daily(10, 0, 4 * 3_600)];
    let got = render_layer(&l, &tz, window("2026-02-02T00:00Z", "2026-02-04T00:00Z"));
    assert_eq!(
        got,
        [e("2026-02-02T08:00Z", "2026-02-02T14:00Z", "a"), e("2026-02-03T10:00Z", "2026-02-03T14:00Z", "a")]
    );
}

#[test]
fn a_whole_day_daily_restriction_does_not_split_entries_at_midnight() {
    let tz = berlin();
    let mut l = layer(at("2026-03-23T09:00+01:00"), 7 * 86_400, &["a"]);
    l.restrictions = vec![daily(0, 0, 86_400)];
    let got = render_layer(&l, &tz, window("2026-03-23T09:00+01:00", "2026-03-30T09:00+02:00"));
    assert_eq!(show(&tz, &got), ["03-23T09:00+01:00..03-30T09:00+02:00 a"]);
}

// --- Precedence, overrides, the final schedule ---

fn two_layers() -> Schedule {
    let tz = TimeZone::UTC;
    let base = layer(at("2026-01-01T00:00Z"), 86_400, &["a"]);
    let mut day = layer(at("2026-01-01T00:00Z"), 86_400, &["b"]);
    day.id = "PL2".into();
    day.restrictions = vec![daily(9, 0, 8 * 3_600)];
    Schedule { time_zone: tz, layers: vec![base, day] }
}

#[test]
fn a_later_layer_beats_an_earlier_one_where_it_has_someone() {
    let s = two_layers();
    let got = final_entries(&s, &[], window("2026-01-05T00:00Z", "2026-01-06T00:00Z"));
    assert_eq!(
        got,
        [
            e("2026-01-05T00:00Z", "2026-01-05T09:00Z", "a"),
            e("2026-01-05T09:00Z", "2026-01-05T17:00Z", "b"),
            e("2026-01-05T17:00Z", "2026-01-06T00:00Z", "a"),
        ]
    );
}

#[test]
fn an_override_beats_every_layer_and_a_newer_override_beats_an_older_one() {
    let s = two_layers();
    let overrides = [
        ov("PO1", "old", "2026-01-05T08:00Z", "2026-01-05T12:00Z", 1),
        ov("PO2", "new", "2026-01-05T10:00Z", "2026-01-05T11:00Z", 2),
    ];
    let w = window("2026-01-05T00:00Z", "2026-01-06T00:00Z");
    let got = final_entries(&s, &overrides, w);
    assert_eq!(
        got,
        [
            e("2026-01-05T00:00Z", "2026-01-05T08:00Z", "a"),
            e("2026-01-05T08:00Z", "2026-01-05T10:00Z", "old"),
            e("2026-01-05T10:00Z", "2026-01-05T11:00Z", "new"),
            e("2026-01-05T11:00Z", "2026-01-05T12:00Z", "old"),
            e("2026-01-05T12:00Z", "2026-01-05T17:00Z", "b"),
            e("2026-01-05T17:00Z", "2026-01-06T00:00Z", "a"),
        ]
    );
    // The overrides subschedule: the older override's uncovered pieces survive.
    let r = render(&s, &overrides, w, false);
    assert_eq!(r.overrides.entries, got[1..4]);
    assert_eq!(on_call_at(&s, &overrides, at("2026-01-05T10:30Z")).as_deref(), Some("new"));
    assert_eq!(on_call_at(&s, &overrides, at("2026-01-05T11:00Z")).as_deref(), Some("old"));
}

#[test]
fn a_newer_override_wins_whatever_the_order_of_the_list() {
    let s = two_layers();
    let newer_first = [
        ov("PO2", "new", "2026-01-05T10:00Z", "2026-01-05T11:00Z", 2),
        ov("PO1", "old", "2026-01-05T08:00Z", "2026-01-05T12:00Z", 1),
    ];
    assert_eq!(on_call_at(&s, &newer_first, at("2026-01-05T10:00Z")).as_deref(), Some("new"));
    assert_eq!(on_call_at(&s, &newer_first, at("2026-01-05T09:59:59.999Z")).as_deref(), Some("old"));
}

#[test]
fn the_final_schedule_merges_touching_entries_of_the_same_user() {
    // Layer 0: a all day; layer 1: b 09-17; an override puts a on call 09-17: a all day, one entry.
    let s = two_layers();
    let overrides = [ov("PO1", "a", "2026-01-05T09:00Z", "2026-01-05T17:00Z", 1)];
    let got = final_entries(&s, &overrides, window("2026-01-05T00:00Z", "2026-01-06T00:00Z"));
    assert_eq!(got, [e("2026-01-05T00:00Z", "2026-01-06T00:00Z", "a")]);
}

#[test]
fn nobody_is_on_call_where_no_layer_has_someone() {
    let tz = TimeZone::UTC;
    let mut l = layer(at("2026-01-01T00:00Z"), 86_400, &["a"]);
    l.restrictions = vec![daily(9, 0, 8 * 3_600)];
    let s = Schedule { time_zone: tz, layers: vec![l] };
    assert_eq!(on_call_at(&s, &[], at("2026-01-05T08:59:59.999Z")), None);
    assert_eq!(on_call_at(&s, &[], at("2026-01-05T09:00Z")).as_deref(), Some("a"));
    assert_eq!(on_call_at(&s, &[], at("2026-01-05T17:00Z")), None);
}

// --- Coverage and overflow ---

#[test]
fn coverage_of_a_half_covered_window_is_fifty_percent() {
    let s = two_layers();
    // Layer 1 covers 09:00-17:00: a window 05:00-21:00 is half covered by it; layer 0 covers it all.
    let r = render(&s, &[], window("2026-01-05T05:00Z", "2026-01-05T21:00Z"), false);
    assert_eq!(r.layers[1].coverage_percentage, 50.0);
    assert_eq!(r.layers[0].coverage_percentage, 100.0);
    assert_eq!(r.final_schedule.coverage_percentage, 100.0);
    assert_eq!(r.overrides.coverage_percentage, 0.0);
    let overrides = [ov("PO1", "x", "2026-01-05T05:00Z", "2026-01-05T09:00Z", 1)];
    let r = render(&s, &overrides, window("2026-01-05T05:00Z", "2026-01-05T13:00Z"), true);
    assert_eq!(r.overrides.coverage_percentage, 50.0);
    assert_eq!(r.layers.iter().map(|l| l.id.as_str()).collect::<Vec<_>>(), ["PL", "PL2"]);
}

#[test]
fn overflow_false_cuts_entries_to_the_window_and_overflow_true_returns_them_whole() {
    let s = two_layers();
    let overrides = [ov("PO1", "x", "2026-01-04T20:00Z", "2026-01-05T02:00Z", 1)];
    let w = window("2026-01-05T00:00Z", "2026-01-05T12:00Z");
    let cut = render(&s, &overrides, w, false);
    assert_eq!(cut.layers[0].entries, [e("2026-01-05T00:00Z", "2026-01-05T12:00Z", "a")]);
    assert_eq!(cut.layers[1].entries, [e("2026-01-05T09:00Z", "2026-01-05T12:00Z", "b")]);
    assert_eq!(cut.overrides.entries, [e("2026-01-05T00:00Z", "2026-01-05T02:00Z", "x")]);
    assert_eq!(
        cut.final_schedule.entries,
        [
            e("2026-01-05T00:00Z", "2026-01-05T02:00Z", "x"),
            e("2026-01-05T02:00Z", "2026-01-05T09:00Z", "a"),
            e("2026-01-05T09:00Z", "2026-01-05T12:00Z", "b"),
        ]
    );
    let whole = render(&s, &overrides, w, true);
    assert_eq!(whole.layers[0].entries, [e("2026-01-05T00:00Z", "2026-01-06T00:00Z", "a")]);
    assert_eq!(whole.layers[1].entries, [e("2026-01-05T09:00Z", "2026-01-05T17:00Z", "b")]);
    assert_eq!(whole.overrides.entries, [e("2026-01-04T20:00Z", "2026-01-05T02:00Z", "x")]);
    assert_eq!(
        whole.final_schedule.entries,
        [
            e("2026-01-04T20:00Z", "2026-01-05T02:00Z", "x"),
            e("2026-01-05T02:00Z", "2026-01-05T09:00Z", "a"),
            e("2026-01-05T09:00Z", "2026-01-05T17:00Z", "b"),
        ]
    );
    // Coverage counts the window only, with or without overflow.
    assert_eq!(whole.final_schedule.coverage_percentage, 100.0);
    assert_eq!(whole.layers[1].coverage_percentage, 25.0);
    assert_eq!(cut.layers[1].coverage_percentage, 25.0);
}

#[test]
fn a_merged_final_shift_with_overflow_is_followed_up_to_the_margin_and_cut_there() {
    // One user on daily turns forever: the merged shift is endless; with overflow it reaches the margin
    // (longest turn, a day, plus a week) on both sides.
    let tz = TimeZone::UTC;
    let s = Schedule { time_zone: tz, layers: vec![layer(at("2026-01-01T00:00Z"), 86_400, &["a"])] };
    let w = window("2026-03-10T00:00Z", "2026-03-11T00:00Z");
    let r = render(&s, &[], w, true);
    assert_eq!(
        r.final_schedule.entries,
        [Entry { start: w.since - 8 * DAY, end: w.until + 8 * DAY, user_id: "a".into() }]
    );
}

#[test]
fn an_empty_window_renders_nothing() {
    let s = two_layers();
    let r = render(&s, &[], Window { since: 10, until: 10 }, true);
    assert!(r.final_schedule.entries.is_empty() && r.layers.iter().all(|l| l.entries.is_empty()));
    assert_eq!(r.final_schedule.coverage_percentage, 0.0);
}

// --- Who is on call ---

#[test]
fn oncall_shifts_are_half_open_and_whole() {
    let s = two_layers();
    // The shift of b ends at 17:00: a window from 17:00 does not include it.
    let got = oncall_shifts(&s, &[], window("2026-01-05T17:00Z", "2026-01-05T18:00Z"));
    assert_eq!(got, [e("2026-01-05T17:00Z", "2026-01-06T09:00Z", "a")]);
    let got = oncall_shifts(&s, &[], window("2026-01-05T16:59Z", "2026-01-05T17:00Z"));
    assert_eq!(got, [e("2026-01-05T09:00Z", "2026-01-05T17:00Z", "b")]);
    // An empty window is the instant.
    let now = at("2026-01-05T12:00Z");
    let got = oncall_shifts(&s, &[], Window { since: now, until: now });
    assert_eq!(got, [e("2026-01-05T09:00Z", "2026-01-05T17:00Z", "b")]);
}

#[test]
fn next_shift_for_user_is_the_current_one_or_the_next_within_the_horizon() {
    let s = two_layers();
    let from = at("2026-01-05T12:00Z");
    assert_eq!(
        next_shift_for_user(&s, &[], "b", from, 30 * DAY),
        Some(e("2026-01-05T09:00Z", "2026-01-05T17:00Z", "b"))
    );
    assert_eq!(
        next_shift_for_user(&s, &[], "a", from, 30 * DAY),
        Some(e("2026-01-05T17:00Z", "2026-01-06T09:00Z", "a"))
    );
    assert_eq!(next_shift_for_user(&s, &[], "a", from, HOUR), None, "beyond the horizon");
    assert_eq!(next_shift_for_user(&s, &[], "nobody", from, 30 * DAY), None);
    let far = [ov("PO1", "c", "2026-01-25T00:00Z", "2026-01-25T01:00Z", 1)];
    assert_eq!(
        next_shift_for_user(&s, &far, "c", from, 30 * DAY),
        Some(e("2026-01-25T00:00Z", "2026-01-25T01:00Z", "c"))
    );
}

// --- The tz database agrees with the rule strings used above ---

#[test]
fn the_posix_rules_used_here_render_like_the_tz_database() {
    let db = jiff::tz::db();
    for (name, posix) in
        [("Europe/Berlin", berlin()), ("America/New_York", new_york()), ("Australia/Lord_Howe", lord_howe())]
    {
        let real = zone(name, db).unwrap();
        let mut l = layer(at("2015-03-01T09:00Z"), 86_400, &["a", "b", "c"]);
        l.restrictions = vec![daily(22, 0, 8 * 3_600), weekly(7, 20, 0, 16 * 3_600)];
        let w = window("2026-01-01T00:00Z", "2027-01-01T00:00Z");
        assert_eq!(render_layer(&l, &real, w), render_layer(&l, &posix, w), "{name}");
    }
}

// --- iCal ---

#[test]
fn the_ical_feed_parses_with_one_event_per_entry() {
    let entries =
        [e("2026-01-05T09:00Z", "2026-01-05T17:00Z", "PU1"), e("2026-01-05T17:00Z", "2026-01-06T09:00:00.750Z", "PU2")];
    let names = |id: &str| match id {
        "PU1" => "Ada, Countess; of \\ Lovelace".to_string(),
        _ => "Grace Hopper ".repeat(10),
    };
    let feed = IcalFeed {
        name: "Ops, primary",
        kind: FeedKind::Schedule,
        schedule_id: "PSCHED1",
        schedule_name: "Ops",
        dtstamp: at("2026-01-01T00:00Z"),
    };
    let text = ical(&feed, &entries, names);
    // TEXT values are escaped in the feed and read back unescaped by the parser.
    assert!(text.contains("SUMMARY:Ada\\, Countess\\; of \\\\ Lovelace on call\r\n"), "{text}");
    assert!(text.ends_with("END:VCALENDAR\r\n"));
    assert!(text.split("\r\n").all(|l| l.len() <= 75 && !l.contains('\n')), "CRLF lines of at most 75 octets");

    let unfolded = icalendar::parser::unfold(&text);
    let parsed = icalendar::parser::read_calendar(&unfolded).unwrap();
    let cal_prop = |name: &str| parsed.properties.iter().find(|p| p.name == name).map(|p| p.val.to_string());
    assert_eq!(cal_prop("VERSION").as_deref(), Some("2.0"));
    assert_eq!(cal_prop("X-WR-CALNAME").as_deref(), Some("Ops, primary"));
    let prop = |c: &icalendar::parser::Component<'_>, name: &str| {
        c.properties.iter().find(|p| p.name == name).map(|p| p.val.to_string())
    };
    let events: Vec<_> = parsed.components.iter().filter(|c| c.name == "VEVENT").collect();
    assert_eq!(events.len(), 2, "{parsed:#?}");
    assert_eq!(prop(events[0], "DTSTART").as_deref(), Some("20260105T090000Z"));
    assert_eq!(prop(events[0], "DTEND").as_deref(), Some("20260105T170000Z"));
    assert_eq!(prop(events[1], "DTEND").as_deref(), Some("20260106T090000Z"), "seconds, rounded down");
    assert_eq!(prop(events[0], "DTSTAMP").as_deref(), Some("20260101T000000Z"));
    assert_eq!(prop(events[0], "SUMMARY").as_deref(), Some("Ada, Countess; of \\ Lovelace on call"));
    assert_eq!(prop(events[1], "SUMMARY"), Some(format!("{} on call", "Grace Hopper ".repeat(10))));
    let uid0 = prop(events[0], "UID").unwrap();
    assert_ne!(uid0, prop(events[1], "UID").unwrap());

    // The UID is stable: the same start of the same user keeps it when the end moves.
    let moved = [Entry { end: at("2026-01-05T18:00Z"), ..entries[0].clone() }];
    let again = ical(&feed, &moved, names);
    assert!(again.contains(&format!("UID:{uid0}\r\n")));
    // A user's feed names the schedule.
    let user_feed = ical(&IcalFeed { kind: FeedKind::User, ..feed }, &entries[..1], names);
    assert!(user_feed.contains("\r\nSUMMARY:On call: Ops\r\n"));
}
