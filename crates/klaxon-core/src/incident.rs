//! The incident state machine's vocabulary: statuses, urgencies, how an incident is assigned, alert
//! statuses, which status changes a request may make, and PagerDuty's error (with its code) for each broken
//! rule. The rules themselves, command by command, are in [`crate::command`].
//!
//! Statuses are `triggered`, `acknowledged` and `resolved`. An open incident may be acknowledged (again:
//! another responder joins the acknowledgers) or resolved; a resolved incident may be reopened as triggered
//! or acknowledged; resolving a resolved incident is error 1001.

use std::fmt;
use std::str::FromStr;

/// Serializes a wire enum as its `as_str` name (the stored and rendered string).
macro_rules! serialize_as_str {
    ($($t:ty),*) => {$(
        impl serde::Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
    )*};
}
serialize_as_str!(Status, Urgency, AssignedVia, AlertStatus);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Triggered,
    Acknowledged,
    Resolved,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Triggered => "triggered",
            Status::Acknowledged => "acknowledged",
            Status::Resolved => "resolved",
        }
    }

    pub fn is_open(self) -> bool {
        self != Status::Resolved
    }
}

impl TryFrom<String> for Status {
    type Error = IncidentError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

/// An incident's urgency.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Urgency {
    High,
    Low,
}

impl Urgency {
    pub fn as_str(self) -> &'static str {
        match self {
            Urgency::High => "high",
            Urgency::Low => "low",
        }
    }
}

impl fmt::Display for Urgency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that names no urgency.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("urgency must be high or low, not {0:?}")]
pub struct InvalidUrgency(pub String);

impl FromStr for Urgency {
    type Err = InvalidUrgency;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "high" => Ok(Urgency::High),
            "low" => Ok(Urgency::Low),
            _ => Err(InvalidUrgency(s.to_string())),
        }
    }
}

impl TryFrom<String> for Urgency {
    type Error = InvalidUrgency;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

/// How an incident got its assignees.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AssignedVia {
    EscalationPolicy,
    DirectAssignment,
}

impl AssignedVia {
    pub fn as_str(self) -> &'static str {
        match self {
            AssignedVia::EscalationPolicy => "escalation_policy",
            AssignedVia::DirectAssignment => "direct_assignment",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("assigned_via must be escalation_policy or direct_assignment, not {0:?}")]
pub struct InvalidAssignedVia(pub String);

impl TryFrom<String> for AssignedVia {
    type Error = InvalidAssignedVia;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        match s.as_str() {
            "escalation_policy" => Ok(AssignedVia::EscalationPolicy),
            "direct_assignment" => Ok(AssignedVia::DirectAssignment),
            _ => Err(InvalidAssignedVia(s)),
        }
    }
}

/// An alert's status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AlertStatus {
    Triggered,
    Resolved,
}

impl AlertStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertStatus::Triggered => "triggered",
            AlertStatus::Resolved => "resolved",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("alert status must be triggered or resolved, not {0:?}")]
pub struct InvalidAlertStatus(pub String);

impl FromStr for AlertStatus {
    type Err = InvalidAlertStatus;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "triggered" => Ok(AlertStatus::Triggered),
            "resolved" => Ok(AlertStatus::Resolved),
            _ => Err(InvalidAlertStatus(s.to_string())),
        }
    }
}

impl TryFrom<String> for AlertStatus {
    type Error = InvalidAlertStatus;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Status {
    type Err = IncidentError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "triggered" => Ok(Status::Triggered),
            "acknowledged" => Ok(Status::Acknowledged),
            "resolved" => Ok(Status::Resolved),
            _ => Err(IncidentError::InvalidStatus),
        }
    }
}

/// What a requested status means for an incident in its current status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatusChange {
    /// Nothing to do (e.g. `triggered` on a triggered incident).
    None,
    Acknowledge,
    /// An acknowledged incident goes back to triggered.
    Unacknowledge,
    Resolve,
    /// A resolved incident opens again, as `to`.
    Reopen {
        to: Status,
    },
}

/// PagerDuty's incident errors, with their codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum IncidentError {
    #[error("Incident Already Resolved")]
    AlreadyResolved,
    #[error("Invalid Status Provided: status must be triggered, acknowledged or resolved")]
    InvalidStatus,
    #[error("Incident is not Acknowledged: only an acknowledged incident can be snoozed")]
    NotAcknowledged,
    #[error("Snooze Duration is Invalid: duration must be from 1 to 604800 seconds")]
    SnoozeDuration,
    #[error("Incident Already Merged or Resolved: a merge target and its sources must be open")]
    MergeClosed,
    #[error("Too many incidents in one request: at most 250")]
    TooMany,
    #[error("Cannot Escalate: the incident has no escalation policy")]
    NoEscalationPolicy,
    #[error("Cannot Escalate: the incident's escalation policy has no such level")]
    NoSuchLevel,
    #[error("Incident Already Merged: an incident cannot be merged into itself")]
    MergeIntoItself,
    #[error("Too many notes: an incident holds at most 2000 notes")]
    TooManyNotes,
    #[error("Alert Already Resolved: a resolved alert cannot trigger again")]
    AlertResolved,
    #[error("Open Incident Exists: an open incident with this incident_key exists on this service")]
    DuplicateIncidentKey,
}

impl IncidentError {
    /// The request field a broken rule is about, where one field is (`escalation_level`, ...).
    pub fn field(self) -> Option<&'static str> {
        match self {
            IncidentError::NoEscalationPolicy | IncidentError::NoSuchLevel => Some("escalation_level"),
            IncidentError::InvalidStatus => Some("status"),
            IncidentError::SnoozeDuration => Some("duration"),
            IncidentError::DuplicateIncidentKey => Some("incident_key"),
            IncidentError::TooManyNotes => Some("content"),
            _ => None,
        }
    }

    pub fn code(self) -> u32 {
        match self {
            IncidentError::AlreadyResolved => 1001,
            IncidentError::InvalidStatus => 1003,
            IncidentError::NotAcknowledged => 1012,
            IncidentError::SnoozeDuration => 1013,
            IncidentError::MergeClosed => 1019,
            IncidentError::TooMany => 2001,
            IncidentError::NoEscalationPolicy | IncidentError::NoSuchLevel => 1006,
            IncidentError::MergeIntoItself => 1019,
            IncidentError::TooManyNotes | IncidentError::AlertResolved | IncidentError::DuplicateIncidentKey => 2001,
        }
    }
}

/// Decides what `requested` means for an incident that is `current`.
pub fn status_change(current: Status, requested: Status) -> Result<StatusChange, IncidentError> {
    use Status::*;
    Ok(match (current, requested) {
        (Resolved, Resolved) => return Err(IncidentError::AlreadyResolved),
        (Resolved, to) => StatusChange::Reopen { to },
        (_, Resolved) => StatusChange::Resolve,
        (_, Acknowledged) => StatusChange::Acknowledge,
        (Acknowledged, Triggered) => StatusChange::Unacknowledge,
        (Triggered, Triggered) => StatusChange::None,
    })
}

pub const MAX_SNOOZE_SECONDS: i64 = 604_800;
/// Bulk incident and alert updates take at most this many items (more: 413).
pub const MAX_BULK: usize = 250;

/// Snooze applies to acknowledged incidents only, for 1 second to 1 week.
pub fn check_snooze(current: Status, duration_seconds: i64) -> Result<(), IncidentError> {
    if !(1..=MAX_SNOOZE_SECONDS).contains(&duration_seconds) {
        return Err(IncidentError::SnoozeDuration);
    }
    if current != Status::Acknowledged {
        return Err(IncidentError::NotAcknowledged);
    }
    Ok(())
}

/// A merge needs an open target and open sources distinct from it.
pub fn check_merge(target: Status, sources: &[Status]) -> Result<(), IncidentError> {
    if !target.is_open() || sources.iter().any(|s| !s.is_open()) {
        return Err(IncidentError::MergeClosed);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use Status::*;

    #[test]
    fn open_incidents_can_be_acknowledged_again_and_resolved() {
        assert_eq!(status_change(Triggered, Acknowledged), Ok(StatusChange::Acknowledge));
        assert_eq!(status_change(Acknowledged, Acknowledged), Ok(StatusChange::Acknowledge));
        assert_eq!(status_change(Triggered, Resolved), Ok(StatusChange::Resolve));
        assert_eq!(status_change(Acknowledged, Resolved), Ok(StatusChange::Resolve));
    }

    #[test]
    fn resolving_twice_is_error_1001() {
        assert_eq!(status_change(Resolved, Resolved), Err(IncidentError::AlreadyResolved));
        assert_eq!(IncidentError::AlreadyResolved.code(), 1001);
    }

    #[test]
    fn resolved_incidents_reopen_as_requested() {
        assert_eq!(status_change(Resolved, Triggered), Ok(StatusChange::Reopen { to: Triggered }));
        assert_eq!(status_change(Resolved, Acknowledged), Ok(StatusChange::Reopen { to: Acknowledged }));
    }

    #[test]
    fn triggered_means_unacknowledge_or_nothing() {
        assert_eq!(status_change(Acknowledged, Triggered), Ok(StatusChange::Unacknowledge));
        assert_eq!(status_change(Triggered, Triggered), Ok(StatusChange::None));
    }

    #[test]
    fn unknown_statuses_are_error_1003() {
        assert_eq!("snoozed".parse::<Status>(), Err(IncidentError::InvalidStatus));
        assert_eq!(IncidentError::InvalidStatus.code(), 1003);
    }

    #[test]
    fn snooze_needs_an_acknowledged_incident_and_a_sane_duration() {
        assert_eq!(check_snooze(Acknowledged, 3600), Ok(()));
        assert_eq!(check_snooze(Triggered, 3600), Err(IncidentError::NotAcknowledged));
        assert_eq!(check_snooze(Acknowledged, 0), Err(IncidentError::SnoozeDuration));
        assert_eq!(check_snooze(Acknowledged, 604_801), Err(IncidentError::SnoozeDuration));
    }

    #[test]
    fn merges_need_open_incidents() {
        assert_eq!(check_merge(Triggered, &[Acknowledged, Triggered]), Ok(()));
        assert_eq!(check_merge(Resolved, &[Triggered]), Err(IncidentError::MergeClosed));
        assert_eq!(check_merge(Triggered, &[Resolved]), Err(IncidentError::MergeClosed));
    }
}
