//! On-call handoff notifications: "tell me N minutes before I go on call (or off call)".
//!
//! A user's on-call handoff notification rule (`/users/{id}/oncall_handoff_notification_rules`) names a
//! contact method, a `handoff_type` (`both`, `oncall`, `offcall`) and `notify_advance_in_minutes`. Each
//! handoff it matches becomes a notification intent (`crate::notification`, kind `oncall_handoff` or
//! `offcall_handoff`) due that many minutes before the handoff. This module holds the rules, with no I/O:
//!
//! # The rules
//!
//! - **Coverage.** Within one escalation policy a user's coverage is the union, over the policy's levels,
//!   of the user's merged final-schedule shifts (`crate::oncall`, whole shifts); overlapping or touching
//!   shifts of two levels or schedules are one stretch of coverage. A user the policy targets directly is
//!   always on call there: that user has no handoffs in that policy at all.
//! - **Handoffs** over a window `[since, until)`: each start of a stretch of coverage inside the window is
//!   an `oncall` handoff, each end an `offcall` handoff. Only real starts and ends count: coverage that
//!   began before the window (or goes on after it) is not a handoff at the window's edge. (Shifts are
//!   read whole and the look reaches one millisecond before `since`, so a shift ending exactly at `since`
//!   that the next one continues is seen; a start exactly at `since` is a handoff.)
//! - **Which policies.** A policy counts when its `on_call_handoff_notifications` is `always`, or
//!   `if_has_services` (PagerDuty's default) and at least one live service uses it. Handoffs are per
//!   policy: a user handed off in two policies at once gets an intent for each.
//! - **Intents.** Each of the user's rules whose `handoff_type` matches the handoff yields one intent, due
//!   at `handoff - notify_advance_in_minutes`. Its unique key is the rule, the kind, the policy and the
//!   handoff instant ([`HandoffIntent::unique_key`]), so recording it twice is a no-op.
//! - **The scan** ([`due_intents`]), run every `period`: the intents due within one period of `now`
//!   (`started_at` in `[now - period, now + period)`) whose handoff is still ahead (`handoff >= now`).
//!   Consecutive scans overlap by a period, so a scan that runs up to one period late misses nothing; an
//!   intent is recorded at most a period or two before it is due, so a schedule or override change made
//!   before then is honoured.

use crate::notification::{NotificationKind, NotificationType};
use crate::oncall::{self, Policy};
use crate::schedule::Window;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

/// The largest `notify_advance_in_minutes`: one week. A weekly rotation's handoff can be announced up to
/// a whole turn ahead; it is also the bound of an assignment rule's `start_delay_in_minutes`, and it caps
/// how far ahead a scan renders schedules (a week and a period).
pub const MAX_NOTIFY_ADVANCE_MINUTES: i64 = 10_080;

const MINUTE_MS: i64 = 60_000;

/// A direction of a handoff: the user goes on call or off call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum HandoffKind {
    Oncall,
    Offcall,
}

impl HandoffKind {
    /// The kind of the intent it gives.
    pub fn notification_kind(self) -> NotificationKind {
        match self {
            HandoffKind::Oncall => NotificationKind::OncallHandoff,
            HandoffKind::Offcall => NotificationKind::OffcallHandoff,
        }
    }
}

/// A rule's `handoff_type`: which handoffs it notifies about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum HandoffType {
    /// Going on call and going off call (PagerDuty's default).
    #[default]
    Both,
    Oncall,
    Offcall,
}

impl HandoffType {
    pub const ALL: [HandoffType; 3] = [HandoffType::Both, HandoffType::Oncall, HandoffType::Offcall];

    pub fn as_str(self) -> &'static str {
        match self {
            HandoffType::Both => "both",
            HandoffType::Oncall => "oncall",
            HandoffType::Offcall => "offcall",
        }
    }

    /// Whether a rule of this type notifies about a handoff of `kind`.
    pub fn matches(self, kind: HandoffKind) -> bool {
        match self {
            HandoffType::Both => true,
            HandoffType::Oncall => kind == HandoffKind::Oncall,
            HandoffType::Offcall => kind == HandoffKind::Offcall,
        }
    }
}

impl fmt::Display for HandoffType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that names no handoff type.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("must be both, oncall or offcall")]
pub struct UnknownHandoffType(pub String);

impl FromStr for HandoffType {
    type Err = UnknownHandoffType;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        HandoffType::ALL.into_iter().find(|t| t.as_str() == s).ok_or_else(|| UnknownHandoffType(s.into()))
    }
}

impl TryFrom<String> for HandoffType {
    type Error = UnknownHandoffType;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

/// A policy's `on_call_handoff_notifications`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum HandoffNotifications {
    /// Only while at least one live service uses the policy (PagerDuty's default).
    #[default]
    IfHasServices,
    Always,
}

impl HandoffNotifications {
    pub fn as_str(self) -> &'static str {
        match self {
            HandoffNotifications::IfHasServices => "if_has_services",
            HandoffNotifications::Always => "always",
        }
    }

    /// Whether handoffs in a policy with this setting notify anyone.
    pub fn notifies(self, has_services: bool) -> bool {
        match self {
            HandoffNotifications::Always => true,
            HandoffNotifications::IfHasServices => has_services,
        }
    }
}

impl FromStr for HandoffNotifications {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "if_has_services" => Ok(HandoffNotifications::IfHasServices),
            "always" => Ok(HandoffNotifications::Always),
            _ => Err(format!("unknown on_call_handoff_notifications {s:?}")),
        }
    }
}

/// One handoff: `user` goes on or off call in `escalation_policy` at `at` (Unix ms).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Handoff {
    pub at: i64,
    pub escalation_policy: String,
    pub user: String,
    pub kind: HandoffKind,
}

/// The handoffs of every user in `policy` over `window` (see the module documentation), by instant, then
/// user, then kind.
pub fn handoffs(policy: &Policy<'_>, window: Window) -> Vec<Handoff> {
    if window.until <= window.since {
        return Vec::new();
    }
    // One millisecond earlier, so that a shift ending exactly at `since` shows whether the coverage goes on.
    let look = Window { since: window.since.saturating_sub(1), until: window.until };
    let mut shifts: BTreeMap<String, Vec<(i64, i64)>> = BTreeMap::new();
    let mut always: BTreeSet<String> = BTreeSet::new();
    for entry in oncall::oncalls(std::slice::from_ref(policy), look) {
        match (entry.start, entry.end) {
            (Some(start), Some(end)) => shifts.entry(entry.user).or_default().push((start, end)),
            _ => {
                always.insert(entry.user);
            }
        }
    }
    let inside = |t: i64| window.since <= t && t < window.until;
    let mut out = Vec::new();
    for (user, mut spans) in shifts {
        if always.contains(&user) {
            continue;
        }
        spans.sort_unstable();
        let mut merged: Vec<(i64, i64)> = Vec::with_capacity(spans.len());
        for (start, end) in spans {
            match merged.last_mut() {
                Some(last) if start <= last.1 => last.1 = last.1.max(end),
                _ => merged.push((start, end)),
            }
        }
        for (start, end) in merged {
            for (t, kind) in [(start, HandoffKind::Oncall), (end, HandoffKind::Offcall)] {
                if inside(t) {
                    out.push(Handoff { at: t, escalation_policy: policy.id.to_string(), user: user.clone(), kind });
                }
            }
        }
    }
    out.sort();
    out
}

/// An on-call handoff notification rule with the contact method it names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HandoffRule {
    pub id: String,
    pub user_id: String,
    pub notify_advance_in_minutes: i64,
    pub handoff_type: HandoffType,
    pub contact_method_id: String,
    pub notification_type: NotificationType,
    /// The address as a message would use it (`crate::notification::address_of`; `None` for push).
    pub address: Option<String>,
}

/// One intent to record: `rule` notifies its user about `handoff`, due at `started_at`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HandoffIntent<'r> {
    pub rule: &'r HandoffRule,
    pub handoff: Handoff,
    pub started_at: i64,
}

impl HandoffIntent<'_> {
    pub fn kind(&self) -> NotificationKind {
        self.handoff.kind.notification_kind()
    }

    /// Names this intent among all others: rule, kind, policy and handoff instant.
    pub fn unique_key(&self) -> String {
        format!(
            "handoff:{}:{}:{}:{}",
            self.rule.id,
            self.kind().as_str(),
            self.handoff.escalation_policy,
            self.handoff.at
        )
    }
}

/// The intents of `handoffs` by `rules` (any users' rules, in any order): for each handoff, in order,
/// the matching rules of its user by advance, then rule id.
pub fn intents<'r>(handoffs: &[Handoff], rules: &'r [HandoffRule]) -> Vec<HandoffIntent<'r>> {
    let mut out = Vec::new();
    for handoff in handoffs {
        let mut mine: Vec<&HandoffRule> =
            rules.iter().filter(|r| r.user_id == handoff.user && r.handoff_type.matches(handoff.kind)).collect();
        mine.sort_by(|a, b| a.notify_advance_in_minutes.cmp(&b.notify_advance_in_minutes).then(a.id.cmp(&b.id)));
        for rule in mine {
            let advance = rule.notify_advance_in_minutes.clamp(0, MAX_NOTIFY_ADVANCE_MINUTES) * MINUTE_MS;
            out.push(HandoffIntent { rule, handoff: handoff.clone(), started_at: handoff.at - advance });
        }
    }
    out
}

/// A policy's levels with what decides whether its handoffs notify.
#[derive(Clone, Debug)]
pub struct HandoffPolicy<'a> {
    pub policy: Policy<'a>,
    pub notifications: HandoffNotifications,
    /// Whether at least one live service uses the policy.
    pub has_services: bool,
}

/// The handoffs a scan at `now` looks for: from `now` until one period plus the longest advance among
/// `rules` ahead (an intent due before `now + period` has its handoff before then).
pub fn scan_window(rules: &[HandoffRule], now: i64, period_ms: i64) -> Window {
    let advance = rules.iter().map(|r| r.notify_advance_in_minutes.clamp(0, MAX_NOTIFY_ADVANCE_MINUTES)).max();
    let reach = period_ms.max(0).saturating_add(advance.unwrap_or(0) * MINUTE_MS);
    Window { since: now, until: now.saturating_add(reach) }
}

/// The scan (see the module documentation): the intents of the policies that notify, due within one
/// `period` of `now` and whose handoff is at or after `now`; by policy (in the order given), then as
/// [`intents`] orders them.
pub fn due_intents<'r>(
    policies: &[HandoffPolicy<'_>],
    rules: &'r [HandoffRule],
    now: i64,
    period_ms: i64,
) -> Vec<HandoffIntent<'r>> {
    let window = scan_window(rules, now, period_ms);
    let due = Window { since: now.saturating_sub(period_ms), until: now.saturating_add(period_ms) };
    let mut out = Vec::new();
    for p in policies.iter().filter(|p| p.notifications.notifies(p.has_services)) {
        let found = handoffs(&p.policy, window);
        out.extend(
            intents(&found, rules)
                .into_iter()
                .filter(|i| i.handoff.at >= now && due.since <= i.started_at && i.started_at < due.until),
        );
    }
    out
}

#[cfg(test)]
mod tests;
