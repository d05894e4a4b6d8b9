//! The handoff rules, one test per rule. Instants are written with explicit UTC offsets.

use super::*;
use crate::oncall::Target;
use crate::schedule::{Layer, Override, Schedule};
use jiff::Timestamp;
use jiff::tz::TimeZone;

const MIN: i64 = 60_000;
const HOUR: i64 = 60 * MIN;
const DAY: i64 = 24 * HOUR;

/// Europe/Berlin's rules (CET/CEST), without the tz database.
fn berlin() -> TimeZone {
    TimeZone::posix("CET-1CEST,M3.5.0,M10.5.0/3").unwrap()
}

fn at(s: &str) -> i64 {
    s.parse::<Timestamp>().unwrap().as_millisecond()
}

/// A daily rotation of `users` in `zone` handing off at the local time of `anchor`.
fn daily(zone: TimeZone, anchor: i64, users: &[&str]) -> Schedule {
    Schedule {
        time_zone: zone,
        layers: vec![Layer {
            id: "PL".into(),
            name: "Layer".into(),
            start: anchor,
            end: None,
            rotation_virtual_start: anchor,
            rotation_turn_length_seconds: 86_400,
            users: users.iter().map(|u| u.to_string()).collect(),
            restrictions: vec![],
        }],
    }
}

fn utc_daily(users: &[&str]) -> Schedule {
    daily(TimeZone::UTC, 0, users)
}

fn one_level<'a>(id: &'a str, targets: Vec<Target<'a>>) -> Policy<'a> {
    Policy { id, levels: vec![targets] }
}

fn on(id: &'static str, schedule: &'static Schedule) -> Target<'static> {
    Target::Schedule { id, schedule, overrides: &[] }
}

/// `(instant, user, kind)` of each handoff.
fn seen(handoffs: &[Handoff]) -> Vec<(i64, &str, HandoffKind)> {
    handoffs.iter().map(|h| (h.at, h.user.as_str(), h.kind)).collect()
}

fn rule(id: &str, user: &str, advance: i64, handoff_type: HandoffType) -> HandoffRule {
    HandoffRule {
        id: id.into(),
        user_id: user.into(),
        notify_advance_in_minutes: advance,
        handoff_type,
        contact_method_id: format!("cm-{id}"),
        notification_type: NotificationType::Sms,
        address: Some("+4915550100".into()),
    }
}

fn leak<T>(value: T) -> &'static T {
    Box::leak(Box::new(value))
}

#[test]
fn each_start_of_coverage_is_an_oncall_handoff_and_each_end_an_offcall_handoff() {
    let s = leak(utc_daily(&["ann", "bob"]));
    let policy = one_level("EP", vec![on("S", s)]);
    // Day 10 is ann's, day 11 bob's: over day 10 at noon to day 11 at noon, one handoff at day 11.
    let got = handoffs(&policy, Window { since: 10 * DAY + 12 * HOUR, until: 11 * DAY + 12 * HOUR });
    assert_eq!(seen(&got), [(11 * DAY, "ann", HandoffKind::Offcall), (11 * DAY, "bob", HandoffKind::Oncall)]);
    assert!(got.iter().all(|h| h.escalation_policy == "EP"));
}

#[test]
fn coverage_cut_by_the_window_edges_is_no_handoff() {
    let s = leak(utc_daily(&["ann", "bob"]));
    let policy = one_level("EP", vec![on("S", s)]);
    // Inside ann's day 10: she was on call before the window and stays after it.
    let got = handoffs(&policy, Window { since: 10 * DAY + HOUR, until: 10 * DAY + 23 * HOUR });
    assert!(got.is_empty(), "{got:?}");
}

#[test]
fn a_handoff_exactly_at_the_start_of_the_window_counts_and_one_at_its_end_does_not() {
    let s = leak(utc_daily(&["ann", "bob"]));
    let policy = one_level("EP", vec![on("S", s)]);
    let got = handoffs(&policy, Window { since: 11 * DAY, until: 12 * DAY });
    assert_eq!(seen(&got), [(11 * DAY, "ann", HandoffKind::Offcall), (11 * DAY, "bob", HandoffKind::Oncall)]);
}

#[test]
fn a_single_user_rotation_hands_off_to_nobody() {
    let s = leak(utc_daily(&["ann"]));
    let policy = one_level("EP", vec![on("S", s)]);
    assert!(handoffs(&policy, Window { since: 5 * DAY, until: 9 * DAY }).is_empty());
}

#[test]
fn coverage_is_the_union_over_the_levels_so_a_shift_continued_on_another_level_is_no_handoff() {
    // Level 1 has ann on even days, level 2 has her on odd days: she is on call throughout.
    let even = leak(utc_daily(&["ann", "bob"]));
    let odd = leak(utc_daily(&["cat", "ann"]));
    let policy = Policy { id: "EP", levels: vec![vec![on("EVEN", even)], vec![on("ODD", odd)]] };
    let got = handoffs(&policy, Window { since: 10 * DAY - 1, until: 13 * DAY });
    assert!(got.iter().all(|h| h.user != "ann"), "{got:?}");
    // bob and cat trade places every day.
    assert_eq!(got.iter().filter(|h| h.user == "bob").count(), 3);
}

#[test]
fn a_user_targeted_directly_is_always_on_call_and_has_no_handoffs() {
    let s = leak(utc_daily(&["ann", "bob"]));
    let policy = Policy { id: "EP", levels: vec![vec![on("S", s)], vec![Target::User { id: "ann" }]] };
    let got = handoffs(&policy, Window { since: 10 * DAY, until: 14 * DAY });
    assert!(got.iter().all(|h| h.user == "bob"), "{got:?}");
    assert!(!got.is_empty());
}

#[test]
fn an_override_moves_the_handoffs_to_its_user() {
    let s = leak(utc_daily(&["ann", "bob"]));
    let o = leak([Override { id: "O".into(), user_id: "cat".into(), start: 11 * DAY, end: 12 * DAY, created: 1 }]);
    let policy = one_level("EP", vec![Target::Schedule { id: "S", schedule: s, overrides: o }]);
    let got = handoffs(&policy, Window { since: 10 * DAY + HOUR, until: 11 * DAY + HOUR });
    assert_eq!(seen(&got), [(11 * DAY, "ann", HandoffKind::Offcall), (11 * DAY, "cat", HandoffKind::Oncall)]);
}

#[test]
fn a_daily_09_00_berlin_handoff_stays_at_09_00_local_across_the_spring_forward_night() {
    let s = leak(daily(berlin(), at("2026-03-20T09:00:00+01:00"), &["ann", "bob"]));
    let policy = one_level("EP", vec![on("S", s)]);
    let window = Window { since: at("2026-03-28T00:00:00+01:00"), until: at("2026-03-31T00:00:00+02:00") };
    let instants: Vec<i64> = handoffs(&policy, window).iter().map(|h| h.at).collect();
    let nine = [at("2026-03-28T09:00:00+01:00"), at("2026-03-29T09:00:00+02:00"), at("2026-03-30T09:00:00+02:00")];
    assert_eq!(instants, nine.iter().flat_map(|&t| [t, t]).collect::<Vec<_>>(), "two handoffs at each 09:00");
    // The night the clocks move, the 09:00 handoff comes 23 hours after the previous one.
    assert_eq!(nine[1] - nine[0], 23 * HOUR);
}

#[test]
fn rules_match_their_handoff_type() {
    let handoffs = [
        Handoff { at: DAY, escalation_policy: "EP".into(), user: "ann".into(), kind: HandoffKind::Oncall },
        Handoff { at: 2 * DAY, escalation_policy: "EP".into(), user: "ann".into(), kind: HandoffKind::Offcall },
    ];
    let rules = [
        rule("R1", "ann", 0, HandoffType::Both),
        rule("R2", "ann", 0, HandoffType::Oncall),
        rule("R3", "ann", 0, HandoffType::Offcall),
        rule("R4", "bob", 0, HandoffType::Both),
    ];
    let got: Vec<(&str, NotificationKind)> =
        intents(&handoffs, &rules).iter().map(|i| (i.rule.id.as_str(), i.kind())).collect();
    assert_eq!(
        got,
        [
            ("R1", NotificationKind::OncallHandoff),
            ("R2", NotificationKind::OncallHandoff),
            ("R1", NotificationKind::OffcallHandoff),
            ("R3", NotificationKind::OffcallHandoff),
        ]
    );
}

#[test]
fn an_intent_is_due_its_rules_advance_before_the_handoff() {
    let handoffs = [Handoff { at: DAY, escalation_policy: "EP".into(), user: "ann".into(), kind: HandoffKind::Oncall }];
    let rules = [rule("R0", "ann", 0, HandoffType::Both), rule("R15", "ann", 15, HandoffType::Both)];
    let got: Vec<(&str, i64)> = intents(&handoffs, &rules).iter().map(|i| (i.rule.id.as_str(), i.started_at)).collect();
    assert_eq!(got, [("R0", DAY), ("R15", DAY - 15 * MIN)]);
}

#[test]
fn the_unique_key_names_rule_kind_policy_and_instant() {
    let rules = [rule("R1", "ann", 5, HandoffType::Both)];
    let handoffs =
        [Handoff { at: DAY, escalation_policy: "EP".into(), user: "ann".into(), kind: HandoffKind::Offcall }];
    let got = intents(&handoffs, &rules);
    assert_eq!(got[0].unique_key(), format!("handoff:R1:offcall_handoff:EP:{DAY}"));
}

fn scanned(policies: &[HandoffPolicy<'_>], rules: &[HandoffRule], now: i64) -> Vec<(String, String, i64)> {
    due_intents(policies, rules, now, MIN)
        .iter()
        .map(|i| (i.handoff.escalation_policy.clone(), i.rule.id.clone(), i.started_at))
        .collect()
}

#[test]
fn a_scan_records_the_intents_due_within_one_period_of_now_whose_handoff_is_ahead() {
    let s = leak(utc_daily(&["ann", "bob"]));
    let policies = [HandoffPolicy {
        policy: one_level("EP", vec![on("S", s)]),
        notifications: HandoffNotifications::Always,
        has_services: false,
    }];
    let rules = [rule("R15", "bob", 15, HandoffType::Oncall), rule("R0", "bob", 0, HandoffType::Oncall)];
    let handoff = 11 * DAY;
    // 16 minutes ahead: nothing is due yet.
    assert!(scanned(&policies, &rules, handoff - 16 * MIN - 1).is_empty());
    // 15 minutes and a half ahead: the 15-minute rule is due within the period.
    assert_eq!(
        scanned(&policies, &rules, handoff - 15 * MIN - 30_000),
        [("EP".into(), "R15".into(), handoff - 15 * MIN)]
    );
    // Half a minute late it is still recorded; a period and more late it is not.
    assert_eq!(scanned(&policies, &rules, handoff - 14 * MIN - 30_000).len(), 1);
    assert!(scanned(&policies, &rules, handoff - 14 * MIN + 1).is_empty());
    // The advance-0 rule is due at the handoff itself, which is "now or ahead".
    assert_eq!(scanned(&policies, &rules, handoff), [("EP".into(), "R0".into(), handoff)]);
    assert!(scanned(&policies, &rules, handoff + 1).is_empty(), "the handoff is past");
}

#[test]
fn only_policies_that_notify_count_and_each_policy_gives_its_own_intent() {
    let s = leak(utc_daily(&["ann", "bob"]));
    let policy = |id: &'static str, notifications, has_services| HandoffPolicy {
        policy: one_level(id, vec![on("S", s)]),
        notifications,
        has_services,
    };
    let policies = [
        policy("EP-ALWAYS", HandoffNotifications::Always, false),
        policy("EP-IDLE", HandoffNotifications::IfHasServices, false),
        policy("EP-USED", HandoffNotifications::IfHasServices, true),
    ];
    let rules = [rule("R", "bob", 0, HandoffType::Both)];
    let got = due_intents(&policies, &rules, 11 * DAY, MIN);
    let keys: Vec<String> = got.iter().map(HandoffIntent::unique_key).collect();
    assert_eq!(
        keys,
        [
            format!("handoff:R:oncall_handoff:EP-ALWAYS:{}", 11 * DAY),
            format!("handoff:R:oncall_handoff:EP-USED:{}", 11 * DAY)
        ]
    );
}

#[test]
fn the_scan_looks_ahead_one_period_plus_the_longest_advance() {
    let rules = [rule("A", "ann", 15, HandoffType::Both), rule("B", "bob", 90, HandoffType::Both)];
    assert_eq!(scan_window(&rules, 1_000, MIN), Window { since: 1_000, until: 1_000 + MIN + 90 * MIN });
    assert_eq!(scan_window(&[], 1_000, MIN), Window { since: 1_000, until: 1_000 + MIN });
}

#[test]
fn handoff_types_and_policy_settings_read_their_wire_names() {
    for t in HandoffType::ALL {
        assert_eq!(t.as_str().parse::<HandoffType>(), Ok(t));
    }
    assert!("sometimes".parse::<HandoffType>().is_err());
    assert_eq!("always".parse::<HandoffNotifications>(), Ok(HandoffNotifications::Always));
    assert_eq!("if_has_services".parse::<HandoffNotifications>(), Ok(HandoffNotifications::IfHasServices));
    assert!(!HandoffNotifications::IfHasServices.notifies(false));
}
