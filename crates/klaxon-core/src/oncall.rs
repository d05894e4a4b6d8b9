//! Who is on call: an escalation policy's levels resolved to users, over a window or at one instant.
//!
//! A level (an escalation rule) has ordered targets: users, who are on call permanently while they are a
//! target, and schedules, whose final schedule (layers and overrides, `crate::schedule`) says who is on
//! call when. `GET /oncalls` lists entries `{escalation policy, level, schedule, user, start, end}`; the
//! escalation engine asks who is on call at one level now.
//!
//! # The rules
//!
//! - Levels count from 1, in the policy's rule order.
//! - A user target gives one entry with no `start` or `end` (permanent) and no schedule.
//! - A schedule target gives one entry per merged final-schedule shift overlapping the window, whole (not
//!   cut to the window; [`schedule::oncall_shifts`]). Intervals are half-open: a shift ending exactly at
//!   `since` is not included, nor one starting at `until`. An empty window (`since == until`, the default
//!   "now") means the instant `since`.
//! - Order: by level, then start (permanent entries first, as they started before any shift), then target
//!   order; a caller listing several policies keeps its policy order in front (see [`oncalls`]).
//! - [`earliest`] keeps the first entry of that order for each (policy, level, user): the user's on-call
//!   that starts soonest ("who is next").
//! - [`users_on_call_at`]: the users of one level's targets on call at an instant, in target order, each
//!   once.

use crate::schedule::{self, Override, Schedule, Window};
use std::collections::HashSet;

/// One target of an escalation level.
#[derive(Clone, Copy, Debug)]
pub enum Target<'a> {
    /// A user, always on call while targeted.
    User { id: &'a str },
    /// A schedule with its overrides (at least those overlapping the window, reaching as far as whole
    /// shifts do: [`schedule::OVERFLOW_LIMIT_MS`] beyond it).
    Schedule { id: &'a str, schedule: &'a Schedule, overrides: &'a [Override] },
}

/// An escalation policy's levels, in rule order, each with its targets in order.
#[derive(Clone, Debug)]
pub struct Policy<'a> {
    pub id: &'a str,
    pub levels: Vec<Vec<Target<'a>>>,
}

/// One on-call entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OnCall {
    pub escalation_policy: String,
    /// From 1.
    pub escalation_level: u32,
    /// The schedule that puts the user on call; `None` for a direct user target.
    pub schedule: Option<String>,
    pub user: String,
    /// `None` (with `end`): permanent, through a direct user target.
    pub start: Option<i64>,
    pub end: Option<i64>,
}

/// The on-call entries of `policies` over `window`: policies in the order given, each sorted by level,
/// then start (permanent first), then target order.
pub fn oncalls(policies: &[Policy<'_>], window: Window) -> Vec<OnCall> {
    let mut out = Vec::new();
    for policy in policies {
        let mut entries = Vec::new();
        for (i, targets) in policy.levels.iter().enumerate() {
            let level = u32::try_from(i + 1).unwrap_or(u32::MAX);
            for target in targets {
                match *target {
                    Target::User { id } => entries.push(OnCall {
                        escalation_policy: policy.id.to_string(),
                        escalation_level: level,
                        schedule: None,
                        user: id.to_string(),
                        start: None,
                        end: None,
                    }),
                    Target::Schedule { id, schedule, overrides } => {
                        for shift in schedule::oncall_shifts(schedule, overrides, window) {
                            entries.push(OnCall {
                                escalation_policy: policy.id.to_string(),
                                escalation_level: level,
                                schedule: Some(id.to_string()),
                                user: shift.user_id,
                                start: Some(shift.start),
                                end: Some(shift.end),
                            });
                        }
                    }
                }
            }
        }
        // Stable: equal (level, start) keep target order.
        entries.sort_by_key(|e| (e.escalation_level, e.start));
        out.extend(entries);
    }
    out
}

/// Only the first entry for each (policy, level, user) of `entries` (in [`oncalls`]' order, the one
/// starting soonest; a permanent one first of all).
pub fn earliest(entries: Vec<OnCall>) -> Vec<OnCall> {
    let mut seen: HashSet<(String, u32, String)> = HashSet::new();
    entries
        .into_iter()
        .filter(|e| seen.insert((e.escalation_policy.clone(), e.escalation_level, e.user.clone())))
        .collect()
}

/// The users on call at `at` among one level's targets, in target order, each once (a schedule with
/// nobody on call then contributes no one).
pub fn users_on_call_at(level_targets: &[Target<'_>], at: i64) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for target in level_targets {
        let user = match *target {
            Target::User { id } => Some(id.to_string()),
            Target::Schedule { schedule, overrides, .. } => schedule::on_call_at(schedule, overrides, at),
        };
        if let Some(user) = user
            && !out.contains(&user)
        {
            out.push(user);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::Layer;
    use jiff::tz::TimeZone;

    const H: i64 = 3_600_000;
    const DAY: i64 = 24 * H;

    /// A daily rotation of `users` starting at 0 (UTC midnight), handing off every day.
    fn daily(users: &[&str]) -> Schedule {
        Schedule {
            time_zone: TimeZone::UTC,
            layers: vec![Layer {
                id: "L1".into(),
                name: "Layer 1".into(),
                start: 0,
                end: None,
                rotation_virtual_start: 0,
                rotation_turn_length_seconds: 86_400,
                users: users.iter().map(|u| u.to_string()).collect(),
                restrictions: vec![],
            }],
        }
    }

    fn entry(level: u32, schedule: Option<&str>, user: &str, span: Option<(i64, i64)>) -> OnCall {
        OnCall {
            escalation_policy: "EP".into(),
            escalation_level: level,
            schedule: schedule.map(String::from),
            user: user.into(),
            start: span.map(|s| s.0),
            end: span.map(|s| s.1),
        }
    }

    #[test]
    fn user_targets_are_permanent_and_schedules_give_whole_shifts_with_levels_from_one() {
        let s = daily(&["ann", "bob"]);
        let policy = Policy {
            id: "EP",
            levels: vec![
                vec![Target::Schedule { id: "S", schedule: &s, overrides: &[] }],
                vec![Target::User { id: "cat" }],
            ],
        };
        // From noon of day 10 to noon of day 11: the shifts of day 10 (ann) and 11 (bob), whole.
        let got = oncalls(&[policy], Window { since: 10 * DAY + 12 * H, until: 11 * DAY + 12 * H });
        assert_eq!(
            got,
            vec![
                entry(1, Some("S"), "ann", Some((10 * DAY, 11 * DAY))),
                entry(1, Some("S"), "bob", Some((11 * DAY, 12 * DAY))),
                entry(2, None, "cat", None),
            ]
        );
    }

    #[test]
    fn a_shift_ending_exactly_at_since_is_not_included() {
        let s = daily(&["ann", "bob"]);
        let policy =
            Policy { id: "EP", levels: vec![vec![Target::Schedule { id: "S", schedule: &s, overrides: &[] }]] };
        let got = oncalls(&[policy], Window { since: 11 * DAY, until: 11 * DAY + H });
        assert_eq!(got, vec![entry(1, Some("S"), "bob", Some((11 * DAY, 12 * DAY)))]);
    }

    #[test]
    fn an_empty_window_is_the_instant_since() {
        let s = daily(&["ann", "bob"]);
        let policy =
            Policy { id: "EP", levels: vec![vec![Target::Schedule { id: "S", schedule: &s, overrides: &[] }]] };
        let got = oncalls(&[policy], Window { since: 10 * DAY + H, until: 10 * DAY + H });
        assert_eq!(got, vec![entry(1, Some("S"), "ann", Some((10 * DAY, 11 * DAY)))]);
    }

    #[test]
    fn permanent_entries_sort_first_within_a_level_and_policies_keep_their_order() {
        let s = daily(&["ann"]);
        let a = Policy {
            id: "A",
            levels: vec![vec![Target::Schedule { id: "S", schedule: &s, overrides: &[] }, Target::User { id: "cat" }]],
        };
        let b = Policy { id: "B", levels: vec![vec![Target::User { id: "dan" }]] };
        let got = oncalls(&[b, a], Window { since: 0, until: H });
        let order: Vec<(&str, &str)> = got.iter().map(|e| (e.escalation_policy.as_str(), e.user.as_str())).collect();
        assert_eq!(order, [("B", "dan"), ("A", "cat"), ("A", "ann")]);
    }

    #[test]
    fn earliest_keeps_the_soonest_entry_per_policy_level_and_user() {
        let s = daily(&["ann", "bob"]);
        let policy = Policy {
            id: "EP",
            levels: vec![
                vec![Target::Schedule { id: "S", schedule: &s, overrides: &[] }],
                vec![Target::Schedule { id: "S", schedule: &s, overrides: &[] }],
            ],
        };
        let all = oncalls(&[policy], Window { since: 0, until: 4 * DAY });
        assert_eq!(all.len(), 8);
        let first = earliest(all);
        let kept: Vec<(u32, &str, Option<i64>)> =
            first.iter().map(|e| (e.escalation_level, e.user.as_str(), e.start)).collect();
        assert_eq!(kept, [(1, "ann", Some(0)), (1, "bob", Some(DAY)), (2, "ann", Some(0)), (2, "bob", Some(DAY))]);
    }

    #[test]
    fn users_on_call_at_an_instant_follow_target_order_once_each() {
        let s = daily(&["ann", "bob"]);
        let o = [Override { id: "O".into(), user_id: "cat".into(), start: DAY, end: DAY + H, created: 1 }];
        let targets = [
            Target::User { id: "bob" },
            Target::Schedule { id: "S", schedule: &s, overrides: &o },
            Target::Schedule { id: "S2", schedule: &s, overrides: &[] },
        ];
        assert_eq!(users_on_call_at(&targets, DAY + 2 * H), ["bob"]);
        assert_eq!(users_on_call_at(&targets, DAY + H / 2), ["bob", "cat"]);
        assert_eq!(users_on_call_at(&targets, H), ["bob", "ann"]);
        let gap = Schedule { time_zone: TimeZone::UTC, layers: vec![] };
        assert!(users_on_call_at(&[Target::Schedule { id: "G", schedule: &gap, overrides: &[] }], H).is_empty());
    }
}
