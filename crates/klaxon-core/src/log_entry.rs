//! Log entry types: the incident timeline's vocabulary, as an enum from the row to the wire.

use std::fmt;
use std::str::FromStr;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LogKind {
    Trigger,
    Acknowledge,
    Unacknowledge,
    Resolve,
    Assign,
    Escalate,
    Delegate,
    Snooze,
    Annotate,
    UrgencyChange,
    RepeatEscalationPath,
    ExhaustEscalationPath,
    /// A notification intent recorded for a user (its `notification` says which, where and from when).
    Notify,
}

impl LogKind {
    pub const ALL: [LogKind; 13] = [
        LogKind::Trigger,
        LogKind::Acknowledge,
        LogKind::Unacknowledge,
        LogKind::Resolve,
        LogKind::Assign,
        LogKind::Escalate,
        LogKind::Delegate,
        LogKind::Snooze,
        LogKind::Annotate,
        LogKind::UrgencyChange,
        LogKind::RepeatEscalationPath,
        LogKind::ExhaustEscalationPath,
        LogKind::Notify,
    ];

    /// PagerDuty's `type` of the log entry.
    pub fn type_name(self) -> &'static str {
        match self {
            LogKind::Trigger => "trigger_log_entry",
            LogKind::Acknowledge => "acknowledge_log_entry",
            LogKind::Unacknowledge => "unacknowledge_log_entry",
            LogKind::Resolve => "resolve_log_entry",
            LogKind::Assign => "assign_log_entry",
            LogKind::Escalate => "escalate_log_entry",
            LogKind::Delegate => "delegate_log_entry",
            LogKind::Snooze => "snooze_log_entry",
            LogKind::Annotate => "annotate_log_entry",
            LogKind::UrgencyChange => "urgency_change_log_entry",
            LogKind::RepeatEscalationPath => "repeat_escalation_path_log_entry",
            LogKind::ExhaustEscalationPath => "exhaust_escalation_path_log_entry",
            LogKind::Notify => "notify_log_entry",
        }
    }

    /// The types `is_overview=true` keeps.
    pub fn in_overview(self) -> bool {
        matches!(
            self,
            LogKind::Trigger
                | LogKind::Acknowledge
                | LogKind::Resolve
                | LogKind::Escalate
                | LogKind::Assign
                | LogKind::Delegate
                | LogKind::Annotate
        )
    }
}

impl serde::Serialize for LogKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.type_name())
    }
}

impl fmt::Display for LogKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.type_name())
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown log entry type {0:?}")]
pub struct UnknownLogKind(pub String);

impl FromStr for LogKind {
    type Err = UnknownLogKind;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        LogKind::ALL.into_iter().find(|k| k.type_name() == s).ok_or_else(|| UnknownLogKind(s.to_string()))
    }
}

impl TryFrom<String> for LogKind {
    type Error = UnknownLogKind;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_kinds_round_trip_through_their_type_names() {
        for k in LogKind::ALL {
            assert_eq!(k.type_name().parse::<LogKind>(), Ok(k));
        }
        assert!("notify".parse::<LogKind>().is_err());
    }
}
