//! Notification intents: who is paged when an incident changes, at which contact methods and from when.
//!
//! An intent is a durable promise to notify one user at one contact method from an instant on; the
//! delivery engine turns it into a message. This module holds the rules, with no I/O:
//!
//! - [`paging`] decides, from an incident before and after a change, which users start being paged and
//!   whose pending intents stop (those not yet due: one already due is the delivery engine's).
//!   Acknowledging or resolving stops every pending intent of the incident.
//!   A triggered incident pages each user who became one of its assignees; an escalation step (assignees
//!   set as the level or the loop count moved) or a return to triggered (an acknowledgement timed out, a snooze ended)
//!   starts paging every assignee afresh, so a loop back to the same user pages them again; a user who
//!   is no longer assigned stops being paged. Exhausting the escalation path (the incident stays with its
//!   assignees) and changing only the urgency page nobody anew.
//! - [`intents`] expands paged users into intents by their assignment notification rules: the rules of
//!   the incident's urgency, each due `start_delay_in_minutes` after the change.

use crate::command::{Effects, IncidentState};
use crate::incident::{Status, Urgency};
use std::fmt;
use std::str::FromStr;

/// PagerDuty's notification `type`, from the contact method it goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NotificationType {
    Email,
    Sms,
    Phone,
    Push,
}

impl NotificationType {
    pub const ALL: [NotificationType; 4] =
        [NotificationType::Email, NotificationType::Sms, NotificationType::Phone, NotificationType::Push];

    pub fn as_str(self) -> &'static str {
        match self {
            NotificationType::Email => "email_notification",
            NotificationType::Sms => "sms_notification",
            NotificationType::Phone => "phone_notification",
            NotificationType::Push => "push_notification",
        }
    }

    /// The notification a contact method of this `type` receives; `None` for a type that has none.
    pub fn for_contact_method(contact_method_type: &str) -> Option<Self> {
        match contact_method_type {
            "email_contact_method" => Some(NotificationType::Email),
            "sms_contact_method" => Some(NotificationType::Sms),
            "phone_contact_method" => Some(NotificationType::Phone),
            "push_notification_contact_method" => Some(NotificationType::Push),
            _ => None,
        }
    }
}

impl fmt::Display for NotificationType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that names no notification type.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown notification type {0:?}")]
pub struct UnknownNotificationType(pub String);

impl FromStr for NotificationType {
    type Err = UnknownNotificationType;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        NotificationType::ALL.into_iter().find(|t| t.as_str() == s).ok_or_else(|| UnknownNotificationType(s.into()))
    }
}

impl TryFrom<String> for NotificationType {
    type Error = UnknownNotificationType;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

/// Where an intent stands. Intents are recorded `Pending`; the delivery engine moves them on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NotificationStatus {
    Pending,
    /// Acknowledged, resolved or unassigned before it was delivered.
    Cancelled,
}

impl NotificationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            NotificationStatus::Pending => "pending",
            NotificationStatus::Cancelled => "cancelled",
        }
    }
}

impl TryFrom<String> for NotificationStatus {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        match s.as_str() {
            "pending" => Ok(NotificationStatus::Pending),
            "cancelled" => Ok(NotificationStatus::Cancelled),
            _ => Err(format!("unknown notification status {s:?}")),
        }
    }
}

/// Why an intent exists.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NotificationKind {
    /// An assigned user's assignment notification rule.
    Assignment,
    /// The user goes on call (an on-call handoff notification rule).
    OncallHandoff,
    /// The user goes off call.
    OffcallHandoff,
}

impl NotificationKind {
    pub fn as_str(self) -> &'static str {
        match self {
            NotificationKind::Assignment => "assignment",
            NotificationKind::OncallHandoff => "oncall_handoff",
            NotificationKind::OffcallHandoff => "offcall_handoff",
        }
    }
}

impl TryFrom<String> for NotificationKind {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        match s.as_str() {
            "assignment" => Ok(NotificationKind::Assignment),
            "oncall_handoff" => Ok(NotificationKind::OncallHandoff),
            "offcall_handoff" => Ok(NotificationKind::OffcallHandoff),
            _ => Err(format!("unknown notification kind {s:?}")),
        }
    }
}

/// What paging reads of an incident, before or after a change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Paging<'a> {
    pub status: Status,
    pub assignees: &'a [String],
    pub escalation_level: i32,
    pub escalation_loops: i32,
    /// After a change: whether it set the assignees (an escalation to a level does; exhausting the path
    /// does not).
    pub assigned: bool,
}

impl<'a> Paging<'a> {
    /// An incident as it is.
    pub fn of(state: &'a IncidentState) -> Self {
        Paging {
            status: state.status,
            assignees: &state.assignees,
            escalation_level: state.escalation_level,
            escalation_loops: state.escalation_loops,
            assigned: false,
        }
    }

    /// An incident once `effects` are applied.
    pub fn after(state: &'a IncidentState, effects: &'a Effects) -> Self {
        Paging {
            status: effects.status.unwrap_or(state.status),
            assignees: effects.assignees.as_deref().unwrap_or(&state.assignees),
            escalation_level: effects.escalation_level.unwrap_or(state.escalation_level),
            escalation_loops: effects.escalation_loops.unwrap_or(state.escalation_loops),
            assigned: effects.assignees.is_some(),
        }
    }
}

/// What decided `effects` on the incident `before` do to its paging, at `at` (`None`: nothing).
pub fn incident_paging(before: &IncidentState, effects: &Effects, at: i64) -> Option<IncidentPaging> {
    let change = paging(&Paging::of(before), &Paging::after(before, effects));
    (!change.is_empty()).then(|| IncidentPaging {
        incident_id: before.id.clone(),
        service_id: before.service_id.clone(),
        urgency: effects.urgency.unwrap_or(before.urgency),
        at,
        change,
    })
}

/// Whose pending intents of the incident stop.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum Stop {
    #[default]
    Nobody,
    Everyone,
    Users(Vec<String>),
}

/// What a change does to an incident's paging.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct PagingChange {
    /// Users to page from now on (their rules of the incident's urgency), in assignee order.
    pub page: Vec<String>,
    /// Whose pending intents stop (before the new ones are recorded).
    pub stop: Stop,
}

impl PagingChange {
    pub fn is_empty(&self) -> bool {
        self.page.is_empty() && self.stop == Stop::Nobody
    }
}

/// The paging rule (see the module documentation).
pub fn paging(before: &Paging<'_>, after: &Paging<'_>) -> PagingChange {
    if after.status != Status::Triggered {
        let stop = if before.status == Status::Triggered || before.status != after.status {
            Stop::Everyone
        } else {
            Stop::Nobody
        };
        return PagingChange { page: vec![], stop };
    }
    let escalated = after.assigned
        && (before.escalation_level != after.escalation_level || before.escalation_loops != after.escalation_loops);
    let restarted = before.status != Status::Triggered || escalated;
    if restarted {
        return PagingChange { page: after.assignees.to_vec(), stop: Stop::Everyone };
    }
    let page: Vec<String> = after.assignees.iter().filter(|u| !before.assignees.contains(u)).cloned().collect();
    let gone: Vec<String> = before.assignees.iter().filter(|u| !after.assignees.contains(u)).cloned().collect();
    PagingChange { page, stop: if gone.is_empty() { Stop::Nobody } else { Stop::Users(gone) } }
}

/// What a change does to one incident's paging, with what the intents need of the incident.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IncidentPaging {
    pub incident_id: String,
    pub service_id: String,
    pub urgency: Urgency,
    /// When the change happened: intents are due from then (plus each rule's delay).
    pub at: i64,
    pub change: PagingChange,
}

/// An assignment notification rule with the contact method it names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AssignmentRule {
    pub id: String,
    pub user_id: String,
    /// The user's name (for the notify log entry's summary).
    pub user_name: String,
    pub start_delay_in_minutes: i64,
    pub urgency: Urgency,
    pub contact_method_id: String,
    pub notification_type: NotificationType,
    /// The address as a message would use it (`+<country code><number>` for phones; `None` for push).
    pub address: Option<String>,
}

/// One intent to record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Intent<'r> {
    pub user_id: &'r str,
    pub rule: &'r AssignmentRule,
    /// When it is due, in milliseconds.
    pub started_at: i64,
}

/// The intents for `users` paged at `now` about an incident of `urgency`: each user's rules of that
/// urgency (`rules` holds any users' rules, in any order), in user order, then by delay, then rule id.
pub fn intents<'r>(users: &'r [String], urgency: Urgency, rules: &'r [AssignmentRule], now: i64) -> Vec<Intent<'r>> {
    let mut out = Vec::new();
    for user in users {
        let mut mine: Vec<&AssignmentRule> =
            rules.iter().filter(|r| r.user_id == *user && r.urgency == urgency).collect();
        mine.sort_by(|a, b| a.start_delay_in_minutes.cmp(&b.start_delay_in_minutes).then(a.id.cmp(&b.id)));
        for rule in mine {
            out.push(Intent { user_id: user, rule, started_at: now + rule.start_delay_in_minutes * 60_000 });
        }
    }
    out
}

/// The address a message to a contact method uses: phone numbers in E.164 (`+` country code, number).
pub fn address_of(contact_method_type: &str, address: &str, country_code: Option<i32>) -> Option<String> {
    match contact_method_type {
        "push_notification_contact_method" => None,
        "sms_contact_method" | "phone_contact_method" => Some(match country_code {
            Some(code) => format!("+{code}{address}"),
            None => address.to_string(),
        }),
        _ => Some(address.to_string()),
    }
}

#[cfg(test)]
mod tests;
