//! A service's incident urgency rule, support hours and scheduled actions (PagerDuty's service fields
//! `incident_urgency_rule`, `support_hours`, `scheduled_actions`) as types.
//!
//! Each has a validating `parse` from JSON that returns every field error at once, with the messages the
//! REST API answers in its `400` (the `field` argument prefixes them, e.g. `service.incident_urgency_rule`),
//! and serde in PagerDuty's exact JSON shape. Deserializing runs the same validation (errors joined with
//! `; `), so a stored document reads back as the type the REST layer accepted.
//!
//! Pure: nothing here loads a time zone. [`SupportHours::parse`] asks the caller whether a zone name is
//! known, and [`SupportHours::contains`] takes the resolved [`TimeZone`]; resolving names against the tz
//! database is the caller's I/O.

use crate::incident::Urgency;
use jiff::Timestamp;
use jiff::civil::Time;
use jiff::tz::TimeZone;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Value, json};

/// The urgency of a `constant` rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConstantUrgency {
    High,
    Low,
    /// PagerDuty's "dynamic notifications": warning and info events low, everything else high.
    SeverityBased,
}

/// The urgency inside a `use_support_hours` rule: PagerDuty allows only constant high or low there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SupportHoursUrgency {
    High,
    Low,
}

/// A service's `incident_urgency_rule`: the urgency of the incidents its events open.
///
/// JSON: `{"type":"constant","urgency":"high"|"low"|"severity_based"}` or
/// `{"type":"use_support_hours","during_support_hours":{"type":"constant","urgency":"high"|"low"},
/// "outside_support_hours":{…}}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UrgencyRule {
    Constant(ConstantUrgency),
    UseSupportHours { during: SupportHoursUrgency, outside: SupportHoursUrgency },
}

impl Default for UrgencyRule {
    /// A new service's rule: constant high.
    fn default() -> Self {
        UrgencyRule::Constant(ConstantUrgency::High)
    }
}

impl ConstantUrgency {
    const NAMES: [&'static str; 3] = ["high", "low", "severity_based"];

    pub fn as_str(self) -> &'static str {
        match self {
            ConstantUrgency::High => "high",
            ConstantUrgency::Low => "low",
            ConstantUrgency::SeverityBased => "severity_based",
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        match name {
            "high" => Some(ConstantUrgency::High),
            "low" => Some(ConstantUrgency::Low),
            "severity_based" => Some(ConstantUrgency::SeverityBased),
            _ => None,
        }
    }

    /// The urgency for an event of `severity`: severity-based makes warning and info low, anything
    /// else (including no severity, as in Events API v1) high.
    pub fn urgency(self, severity: Option<&str>) -> Urgency {
        match self {
            ConstantUrgency::High => Urgency::High,
            ConstantUrgency::Low => Urgency::Low,
            ConstantUrgency::SeverityBased => match severity {
                Some("warning" | "info") => Urgency::Low,
                _ => Urgency::High,
            },
        }
    }
}

impl SupportHoursUrgency {
    const NAMES: [&'static str; 2] = ["high", "low"];

    pub fn as_str(self) -> &'static str {
        self.urgency().as_str()
    }

    fn from_name(name: &str) -> Option<Self> {
        match name {
            "high" => Some(SupportHoursUrgency::High),
            "low" => Some(SupportHoursUrgency::Low),
            _ => None,
        }
    }

    pub fn urgency(self) -> Urgency {
        match self {
            SupportHoursUrgency::High => Urgency::High,
            SupportHoursUrgency::Low => Urgency::Low,
        }
    }
}

/// Reads `{"type":"constant","urgency":…}` with `urgency` one of `allowed`; pushes the errors.
fn constant_urgency<'v>(v: &'v Value, field: &str, allowed: &[&str], errors: &mut Vec<String>) -> Option<&'v str> {
    match v.get("type").and_then(Value::as_str) {
        Some("constant") => match v.get("urgency").and_then(Value::as_str) {
            Some(u) if allowed.contains(&u) => Some(u),
            _ => {
                errors.push(format!("{field}.urgency must be one of {}", allowed.join(", ")));
                None
            }
        },
        _ => {
            errors.push(format!("{field}.type must be constant"));
            None
        }
    }
}

impl UrgencyRule {
    /// Validates a JSON urgency rule; every error message starts with `field`.
    pub fn parse(v: &Value, field: &str) -> Result<UrgencyRule, Vec<String>> {
        if !v.is_object() {
            return Err(vec![format!("{field} must be an object")]);
        }
        let mut errors = Vec::new();
        let rule = match v.get("type").and_then(Value::as_str) {
            Some("constant") => constant_urgency(v, field, &ConstantUrgency::NAMES, &mut errors)
                .and_then(ConstantUrgency::from_name)
                .map(UrgencyRule::Constant),
            Some("use_support_hours") => {
                let mut part = |name: &str| match v.get(name) {
                    Some(inner) if inner.is_object() => {
                        constant_urgency(inner, &format!("{field}.{name}"), &SupportHoursUrgency::NAMES, &mut errors)
                            .and_then(SupportHoursUrgency::from_name)
                    }
                    _ => {
                        errors.push(format!("{field}.{name} is required"));
                        None
                    }
                };
                let during = part("during_support_hours");
                let outside = part("outside_support_hours");
                during.zip(outside).map(|(during, outside)| UrgencyRule::UseSupportHours { during, outside })
            }
            _ => {
                errors.push(format!("{field}.type must be constant or use_support_hours"));
                None
            }
        };
        match rule {
            Some(rule) if errors.is_empty() => Ok(rule),
            _ => Err(errors),
        }
    }

    /// The rule in PagerDuty's JSON shape.
    pub fn to_value(&self) -> Value {
        let constant = |urgency: &str| json!({"type": "constant", "urgency": urgency});
        match self {
            UrgencyRule::Constant(u) => constant(u.as_str()),
            UrgencyRule::UseSupportHours { during, outside } => json!({
                "type": "use_support_hours",
                "during_support_hours": constant(during.as_str()),
                "outside_support_hours": constant(outside.as_str()),
            }),
        }
    }

    /// Whether the rule depends on the service's support hours.
    pub fn uses_support_hours(&self) -> bool {
        matches!(self, UrgencyRule::UseSupportHours { .. })
    }

    /// The cross-field rule: a `use_support_hours` rule needs the service to have support hours.
    /// `field` and `support_hours_field` name the two fields in the message.
    pub fn check_support_hours(
        &self,
        has_support_hours: bool,
        field: &str,
        support_hours_field: &str,
    ) -> Result<(), String> {
        if self.uses_support_hours() && !has_support_hours {
            return Err(format!("{field} of type use_support_hours requires {support_hours_field}"));
        }
        Ok(())
    }

    /// The urgency of a new incident for an event of `severity` (`None` for Events API v1), received
    /// inside (`in_support_hours`) or outside the service's support hours. A constant rule ignores the
    /// support hours.
    pub fn urgency(&self, severity: Option<&str>, in_support_hours: bool) -> Urgency {
        match self {
            UrgencyRule::Constant(u) => u.urgency(severity),
            UrgencyRule::UseSupportHours { during, .. } if in_support_hours => during.urgency(),
            UrgencyRule::UseSupportHours { outside, .. } => outside.urgency(),
        }
    }
}

impl Serialize for UrgencyRule {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_value().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for UrgencyRule {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(deserializer)?;
        UrgencyRule::parse(&v, "incident_urgency_rule").map_err(|errors| D::Error::custom(errors.join("; ")))
    }
}

/// A service's `support_hours` (type `fixed_time_per_day`): the same wall-clock window on each listed
/// ISO weekday (1 = Monday … 7 = Sunday), in the named IANA time zone.
///
/// JSON: `{"type":"fixed_time_per_day","time_zone":"America/Lima","days_of_week":[1,2,3,4,5],
/// "start_time":"09:00:00","end_time":"17:00:00"}`. A time may also be sent as `HH:MM` (read as
/// `HH:MM:00`); it is written back as `HH:MM:SS`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SupportHours {
    pub time_zone: String,
    /// ISO weekdays, 1 (Monday) to 7 (Sunday).
    pub days_of_week: Vec<u8>,
    pub start_time: Time,
    pub end_time: Time,
}

/// `HH:MM:SS` or `HH:MM`, two digits each, 00:00:00 to 23:59:59.
fn clock_time(s: &str) -> Option<Time> {
    let two = |p: &str, max: i8| {
        if p.len() != 2 {
            return None;
        }
        p.parse::<i8>().ok().filter(|n| (0..=max).contains(n))
    };
    let parts: Vec<&str> = s.split(':').collect();
    let (h, m, sec) = match parts.as_slice() {
        [h, m, sec] => (two(h, 23)?, two(m, 59)?, two(sec, 59)?),
        [h, m] => (two(h, 23)?, two(m, 59)?, 0),
        _ => return None,
    };
    Time::new(h, m, sec, 0).ok()
}

impl SupportHours {
    /// Validates JSON support hours; every error message starts with `field`. `known_zone` says
    /// whether a time zone name is in the caller's tz database (the core loads none).
    pub fn parse(v: &Value, field: &str, known_zone: impl Fn(&str) -> bool) -> Result<SupportHours, Vec<String>> {
        if !v.is_object() {
            return Err(vec![format!("{field} must be an object")]);
        }
        let mut errors = Vec::new();
        if v.get("type").and_then(Value::as_str) != Some("fixed_time_per_day") {
            errors.push(format!("{field}.type must be fixed_time_per_day"));
        }
        let time_zone = match v.get("time_zone").and_then(Value::as_str) {
            Some(tz) if known_zone(tz) => Some(tz.to_string()),
            Some(tz) => {
                errors.push(format!("{field}.time_zone {tz} is not a known IANA time zone"));
                None
            }
            None => {
                errors.push(format!("{field}.time_zone is required"));
                None
            }
        };
        let days: Option<Vec<u8>> =
            v.get("days_of_week").and_then(Value::as_array).filter(|days| !days.is_empty()).and_then(|days| {
                days.iter()
                    .map(|d| d.as_i64().filter(|n| (1..=7).contains(n)).and_then(|n| u8::try_from(n).ok()))
                    .collect()
            });
        if days.is_none() {
            errors.push(format!("{field}.days_of_week must be a non-empty array of ISO weekdays 1 (Monday) to 7"));
        }
        let mut time = |part: &str| {
            let t = v.get(part).and_then(Value::as_str).and_then(clock_time);
            if t.is_none() {
                errors.push(format!("{field}.{part} must be a time of day HH:MM:SS"));
            }
            t
        };
        let start_time = time("start_time");
        let end_time = time("end_time");
        match (time_zone, days, start_time, end_time) {
            (Some(time_zone), Some(days_of_week), Some(start_time), Some(end_time)) if errors.is_empty() => {
                Ok(SupportHours { time_zone, days_of_week, start_time, end_time })
            }
            _ => Err(errors),
        }
    }

    /// The support hours in PagerDuty's JSON shape.
    pub fn to_value(&self) -> Value {
        let time = |t: Time| t.strftime("%H:%M:%S").to_string();
        json!({
            "type": "fixed_time_per_day",
            "time_zone": self.time_zone,
            "days_of_week": self.days_of_week,
            "start_time": time(self.start_time),
            "end_time": time(self.end_time),
        })
    }

    fn listed(&self, day: i8) -> bool {
        self.days_of_week.iter().any(|d| i8::try_from(*d) == Ok(day))
    }

    /// Whether `at` falls inside the support hours, read in `tz` (the zone named by
    /// [`SupportHours::time_zone`], resolved by the caller).
    ///
    /// The window is wall-clock time in the zone: `at` is converted to the zone's local date and time
    /// and that is compared with `[start_time, end_time)` (start inclusive, end exclusive).
    /// - A window whose end is not after its start spans midnight: it starts on a listed day and ends
    ///   on the next day (so a Sunday `22:00`–`06:00` window covers Monday 03:00 even if Monday is not
    ///   listed, and a Saturday-only one ends on Sunday); `start == end` is a full 24 hours.
    /// - Daylight saving time: only instant-to-local conversions happen, which are unambiguous, so no
    ///   disambiguation is needed. A repeated hour (fold) is inside the window both times it occurs; a
    ///   skipped hour (gap) never occurs, so a window starting inside a gap starts at the first local
    ///   time after it. A window is therefore one hour shorter or longer in absolute time on those days.
    pub fn contains(&self, tz: &TimeZone, at: Timestamp) -> bool {
        let local = tz.to_datetime(at);
        let day = local.weekday();
        let time = local.time();
        if self.start_time < self.end_time {
            self.listed(day.to_monday_one_offset()) && self.start_time <= time && time < self.end_time
        } else {
            (self.listed(day.to_monday_one_offset()) && self.start_time <= time)
                || (self.listed(day.previous().to_monday_one_offset()) && time < self.end_time)
        }
    }
}

impl Serialize for SupportHours {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_value().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for SupportHours {
    /// Validates the shape; the time zone name is not checked (the core has no tz database): resolve
    /// it when using the hours.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(deserializer)?;
        SupportHours::parse(&v, "support_hours", |_| true).map_err(|errors| D::Error::custom(errors.join("; ")))
    }
}

/// When a scheduled action happens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NamedTime {
    SupportHoursStart,
    SupportHoursEnd,
}

impl NamedTime {
    pub fn as_str(self) -> &'static str {
        match self {
            NamedTime::SupportHoursStart => "support_hours_start",
            NamedTime::SupportHoursEnd => "support_hours_end",
        }
    }
}

/// One of a service's `scheduled_actions`: an `urgency_change` to high at a named time (PagerDuty bumps
/// open low-urgency incidents when support hours start).
///
/// JSON: `{"type":"urgency_change","at":{"type":"named_time","name":"support_hours_start"},
/// "to_urgency":"high"}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScheduledAction {
    pub at: NamedTime,
}

impl ScheduledAction {
    /// The urgency an action changes incidents to: PagerDuty allows only high.
    pub const TO_URGENCY: Urgency = Urgency::High;

    /// Validates one action; every error message starts with `field` (e.g. `…scheduled_actions[0]`).
    fn parse_one(a: &Value, field: &str, errors: &mut Vec<String>) -> Option<ScheduledAction> {
        let before = errors.len();
        if a.get("type").and_then(Value::as_str) != Some("urgency_change") {
            errors.push(format!("{field}.type must be urgency_change"));
        }
        let at = a.get("at");
        let name = match at.and_then(|at| at.get("name")).and_then(Value::as_str) {
            Some("support_hours_start") => Some(NamedTime::SupportHoursStart),
            Some("support_hours_end") => Some(NamedTime::SupportHoursEnd),
            _ => None,
        };
        let name = name.filter(|_| at.and_then(|at| at.get("type")).and_then(Value::as_str) == Some("named_time"));
        if name.is_none() {
            errors.push(format!(
                "{field}.at must be {{\"type\":\"named_time\",\"name\":\"support_hours_start\"|\"support_hours_end\"}}"
            ));
        }
        if a.get("to_urgency").and_then(Value::as_str) != Some("high") {
            errors.push(format!("{field}.to_urgency must be high"));
        }
        name.filter(|_| errors.len() == before).map(|at| ScheduledAction { at })
    }

    /// Validates a JSON array of actions; every error message starts with `field`, then the index.
    pub fn parse_list(v: &Value, field: &str) -> Result<Vec<ScheduledAction>, Vec<String>> {
        let Some(actions) = v.as_array() else {
            return Err(vec![format!("{field} must be an array")]);
        };
        let mut errors = Vec::new();
        let parsed: Vec<Option<ScheduledAction>> = actions
            .iter()
            .enumerate()
            .map(|(i, a)| Self::parse_one(a, &format!("{field}[{i}]"), &mut errors))
            .collect();
        if errors.is_empty() { Ok(parsed.into_iter().flatten().collect()) } else { Err(errors) }
    }

    /// The action in PagerDuty's JSON shape.
    pub fn to_value(&self) -> Value {
        json!({
            "type": "urgency_change",
            "at": {"type": "named_time", "name": self.at.as_str()},
            "to_urgency": Self::TO_URGENCY.as_str(),
        })
    }
}

impl Serialize for ScheduledAction {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_value().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for ScheduledAction {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(deserializer)?;
        let mut errors = Vec::new();
        ScheduledAction::parse_one(&v, "scheduled_action", &mut errors)
            .ok_or_else(|| D::Error::custom(errors.join("; ")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    const RULE: &str = "service.incident_urgency_rule";
    const HOURS: &str = "service.support_hours";
    const ACTIONS: &str = "service.scheduled_actions";

    /// US Eastern time without reading the tz database (the core loads no zone files).
    fn new_york() -> TimeZone {
        TimeZone::posix("EST5EDT,M3.2.0,M11.1.0").unwrap()
    }

    /// Central European time (Europe/Berlin's rules).
    fn berlin() -> TimeZone {
        TimeZone::posix("CET-1CEST,M3.5.0,M10.5.0/3").unwrap()
    }

    fn hours(days: &[u8], start: &str, end: &str) -> SupportHours {
        SupportHours::parse(
            &json!({"type": "fixed_time_per_day", "time_zone": "America/New_York", "days_of_week": days,
                    "start_time": start, "end_time": end}),
            HOURS,
            |_| true,
        )
        .unwrap()
    }

    /// The instant of a local date and time in `tz` (the earlier one in a fold).
    fn local(tz: &TimeZone, y: i16, m: i8, d: i8, h: i8, min: i8) -> Timestamp {
        tz.to_timestamp(date(y, m, d).at(h, min, 0, 0)).unwrap()
    }

    fn rule_errors(v: Value) -> Vec<String> {
        UrgencyRule::parse(&v, RULE).unwrap_err()
    }

    fn hours_errors(v: Value) -> Vec<String> {
        SupportHours::parse(&v, HOURS, |tz| tz == "America/New_York").unwrap_err()
    }

    fn round_trip<T: Serialize + for<'de> Deserialize<'de> + PartialEq + std::fmt::Debug>(v: Value) {
        let typed: T = serde_json::from_value(v.clone()).unwrap();
        assert_eq!(serde_json::to_value(&typed).unwrap(), v);
        let text = serde_json::to_string(&typed).unwrap();
        assert_eq!(serde_json::from_str::<T>(&text).unwrap(), typed);
    }

    #[test]
    fn a_constant_rule_round_trips() {
        for urgency in ["high", "low", "severity_based"] {
            round_trip::<UrgencyRule>(json!({"type": "constant", "urgency": urgency}));
        }
    }

    #[test]
    fn a_use_support_hours_rule_round_trips() {
        round_trip::<UrgencyRule>(json!({"type": "use_support_hours",
            "during_support_hours": {"type": "constant", "urgency": "high"},
            "outside_support_hours": {"type": "constant", "urgency": "low"}}));
    }

    #[test]
    fn support_hours_round_trip() {
        round_trip::<SupportHours>(json!({"type": "fixed_time_per_day", "time_zone": "America/Lima",
            "days_of_week": [1, 2, 3, 4, 5], "start_time": "09:00:00", "end_time": "17:00:00"}));
    }

    #[test]
    fn scheduled_actions_round_trip() {
        round_trip::<Vec<ScheduledAction>>(json!([
            {"type": "urgency_change", "at": {"type": "named_time", "name": "support_hours_start"}, "to_urgency": "high"},
            {"type": "urgency_change", "at": {"type": "named_time", "name": "support_hours_end"}, "to_urgency": "high"},
        ]));
    }

    #[test]
    fn a_rule_must_be_an_object() {
        assert_eq!(rule_errors(json!("high")), vec![format!("{RULE} must be an object")]);
    }

    #[test]
    fn a_rule_type_must_be_constant_or_use_support_hours() {
        assert_eq!(
            rule_errors(json!({"type": "severity_based"})),
            vec![format!("{RULE}.type must be constant or use_support_hours")]
        );
    }

    #[test]
    fn a_constant_rule_needs_a_known_urgency() {
        assert_eq!(
            rule_errors(json!({"type": "constant", "urgency": "urgent"})),
            vec![format!("{RULE}.urgency must be one of high, low, severity_based")]
        );
    }

    #[test]
    fn a_use_support_hours_rule_reports_both_missing_parts() {
        assert_eq!(
            rule_errors(json!({"type": "use_support_hours"})),
            vec![
                format!("{RULE}.during_support_hours is required"),
                format!("{RULE}.outside_support_hours is required")
            ]
        );
    }

    #[test]
    fn severity_based_is_not_allowed_inside_use_support_hours() {
        assert_eq!(
            rule_errors(json!({"type": "use_support_hours",
                "during_support_hours": {"type": "constant", "urgency": "severity_based"},
                "outside_support_hours": {"type": "constant", "urgency": "low"}})),
            vec![format!("{RULE}.during_support_hours.urgency must be one of high, low")]
        );
    }

    #[test]
    fn a_part_of_use_support_hours_must_be_constant() {
        assert_eq!(
            rule_errors(json!({"type": "use_support_hours",
                "during_support_hours": {"type": "use_support_hours"},
                "outside_support_hours": {"type": "constant", "urgency": "low"}})),
            vec![format!("{RULE}.during_support_hours.type must be constant")]
        );
    }

    #[test]
    fn a_use_support_hours_rule_requires_support_hours() {
        let rule =
            UrgencyRule::UseSupportHours { during: SupportHoursUrgency::High, outside: SupportHoursUrgency::Low };
        assert_eq!(
            rule.check_support_hours(false, RULE, HOURS),
            Err(format!("{RULE} of type use_support_hours requires {HOURS}"))
        );
        assert_eq!(rule.check_support_hours(true, RULE, HOURS), Ok(()));
    }

    #[test]
    fn a_constant_rule_needs_no_support_hours() {
        assert_eq!(UrgencyRule::default().check_support_hours(false, RULE, HOURS), Ok(()));
    }

    #[test]
    fn support_hours_must_be_an_object() {
        assert_eq!(hours_errors(json!([])), vec![format!("{HOURS} must be an object")]);
    }

    #[test]
    fn support_hours_report_every_field_error_at_once() {
        assert_eq!(
            hours_errors(json!({"type": "weekly", "days_of_week": [], "start_time": "9:00", "end_time": "24:00:00"})),
            vec![
                format!("{HOURS}.type must be fixed_time_per_day"),
                format!("{HOURS}.time_zone is required"),
                format!("{HOURS}.days_of_week must be a non-empty array of ISO weekdays 1 (Monday) to 7"),
                format!("{HOURS}.start_time must be a time of day HH:MM:SS"),
                format!("{HOURS}.end_time must be a time of day HH:MM:SS"),
            ]
        );
    }

    #[test]
    fn support_hours_need_a_known_time_zone() {
        assert_eq!(
            hours_errors(json!({"type": "fixed_time_per_day", "time_zone": "Mars/Olympus", "days_of_week": [1],
                "start_time": "09:00:00", "end_time": "17:00:00"})),
            vec![format!("{HOURS}.time_zone Mars/Olympus is not a known IANA time zone")]
        );
    }

    #[test]
    fn days_of_week_are_iso_weekdays() {
        assert_eq!(
            hours_errors(json!({"type": "fixed_time_per_day", "time_zone": "America/New_York", "days_of_week": [0, 7],
                "start_time": "09:00:00", "end_time": "17:00:00"})),
            vec![format!("{HOURS}.days_of_week must be a non-empty array of ISO weekdays 1 (Monday) to 7")]
        );
    }

    #[test]
    fn a_time_without_seconds_is_accepted_and_written_with_them() {
        let h = hours(&[1], "09:30", "17:00");
        assert_eq!(h.to_value()["start_time"], json!("09:30:00"));
    }

    #[test]
    fn scheduled_actions_must_be_an_array() {
        assert_eq!(
            ScheduledAction::parse_list(&json!({"type": "urgency_change"}), ACTIONS).unwrap_err(),
            vec![format!("{ACTIONS} must be an array")]
        );
    }

    #[test]
    fn scheduled_actions_report_every_field_error_with_its_index() {
        let ok = json!({"type": "urgency_change", "at": {"type": "named_time", "name": "support_hours_start"},
                        "to_urgency": "high"});
        let bad = json!({"type": "other", "at": {"type": "named_time", "name": "noon"}, "to_urgency": "low"});
        assert_eq!(
            ScheduledAction::parse_list(&json!([ok, bad]), ACTIONS).unwrap_err(),
            vec![
                format!("{ACTIONS}[1].type must be urgency_change"),
                format!(
                    "{ACTIONS}[1].at must be {{\"type\":\"named_time\",\"name\":\"support_hours_start\"|\"support_hours_end\"}}"
                ),
                format!("{ACTIONS}[1].to_urgency must be high"),
            ]
        );
    }

    #[test]
    fn a_scheduled_action_at_needs_the_named_time_type() {
        let a = json!([{"type": "urgency_change", "at": {"type": "clock", "name": "support_hours_end"},
                        "to_urgency": "high"}]);
        assert_eq!(ScheduledAction::parse_list(&a, ACTIONS).unwrap_err().len(), 1);
    }

    #[test]
    fn deserializing_an_invalid_rule_fails_with_the_validation_message() {
        let e = serde_json::from_value::<UrgencyRule>(json!({"type": "constant"})).unwrap_err();
        assert!(e.to_string().contains("incident_urgency_rule.urgency must be one of"), "{e}");
    }

    #[test]
    fn support_hours_contain_a_weekday_inside_the_window() {
        let tz = new_york();
        let h = hours(&[1, 2, 3, 4, 5], "09:00:00", "17:00:00");
        // 2027-03-03 is a Wednesday.
        assert!(h.contains(&tz, local(&tz, 2027, 3, 3, 9, 0)), "the start is inside");
        assert!(h.contains(&tz, local(&tz, 2027, 3, 3, 16, 59)));
        assert!(!h.contains(&tz, local(&tz, 2027, 3, 3, 17, 0)), "the end is outside");
        assert!(!h.contains(&tz, local(&tz, 2027, 3, 3, 8, 59)));
    }

    #[test]
    fn support_hours_exclude_unlisted_days() {
        let tz = new_york();
        let h = hours(&[1, 2, 3, 4, 5], "09:00:00", "17:00:00");
        // 2027-03-06 is a Saturday.
        assert!(!h.contains(&tz, local(&tz, 2027, 3, 6, 10, 0)));
    }

    #[test]
    fn support_hours_are_read_in_the_zone_not_in_utc() {
        let h = hours(&[3], "09:00:00", "17:00:00");
        // Wednesday 2027-03-03 15:00 UTC is 10:00 in New York (EST) and 16:00 in Berlin (CET).
        let at = date(2027, 3, 3).at(15, 0, 0, 0).to_zoned_datetime(TimeZone::UTC).unwrap().timestamp();
        assert!(h.contains(&new_york(), at));
        assert!(h.contains(&berlin(), at));
        assert!(!h.contains(&TimeZone::fixed(jiff::tz::offset(9)), at), "midnight in Tokyo");
    }

    #[test]
    fn a_window_ending_before_it_starts_spans_midnight() {
        let tz = new_york();
        // Wednesday 22:00 to Thursday 06:00.
        let h = hours(&[3], "22:00:00", "06:00:00");
        assert!(h.contains(&tz, local(&tz, 2027, 3, 3, 23, 0)));
        assert!(
            h.contains(&tz, local(&tz, 2027, 3, 4, 5, 59)),
            "the next day's early hours, though Thursday is not listed"
        );
        assert!(!h.contains(&tz, local(&tz, 2027, 3, 4, 6, 0)));
        assert!(!h.contains(&tz, local(&tz, 2027, 3, 3, 5, 0)), "Wednesday's early hours belong to Tuesday's window");
        assert!(!h.contains(&tz, local(&tz, 2027, 3, 4, 23, 0)));
    }

    #[test]
    fn a_sunday_window_spanning_midnight_continues_into_monday() {
        let tz = new_york();
        let h = hours(&[7], "20:00:00", "04:00:00");
        // 2027-03-07 is a Sunday, 2027-03-08 the Monday after.
        assert!(h.contains(&tz, local(&tz, 2027, 3, 7, 21, 0)));
        assert!(h.contains(&tz, local(&tz, 2027, 3, 8, 3, 0)), "across the week boundary");
        assert!(!h.contains(&tz, local(&tz, 2027, 3, 9, 3, 0)), "Tuesday's early hours follow an unlisted Monday");
    }

    #[test]
    fn a_window_starting_on_monday_is_not_reached_by_sunday() {
        let tz = new_york();
        let h = hours(&[1], "00:00:00", "08:00:00");
        assert!(!h.contains(&tz, local(&tz, 2027, 3, 7, 23, 0)), "Sunday night");
        assert!(h.contains(&tz, local(&tz, 2027, 3, 8, 0, 0)), "Monday midnight");
    }

    #[test]
    fn equal_start_and_end_is_a_whole_day() {
        let tz = new_york();
        let h = hours(&[3], "00:00:00", "00:00:00");
        assert!(h.contains(&tz, local(&tz, 2027, 3, 3, 0, 0)));
        assert!(h.contains(&tz, local(&tz, 2027, 3, 3, 23, 59)));
        assert!(!h.contains(&tz, local(&tz, 2027, 3, 4, 0, 0)));
    }

    #[test]
    fn support_hours_follow_the_zone_across_a_dst_change() {
        let tz = new_york();
        let h = hours(&[1, 2, 3, 4, 5], "09:00:00", "17:00:00");
        // 13:30 UTC is 08:30 EST on Wednesday 2027-03-10, and 09:30 EDT on Wednesday 2027-03-17 (DST
        // starts on 2027-03-14 in New York).
        let utc = |d: i8| date(2027, 3, d).at(13, 30, 0, 0).to_zoned_datetime(TimeZone::UTC).unwrap().timestamp();
        assert!(!h.contains(&tz, utc(10)));
        assert!(h.contains(&tz, utc(17)));
    }

    #[test]
    fn a_repeated_hour_is_inside_the_window_both_times() {
        let tz = berlin();
        // 2027-10-31 (Sunday): Berlin's clocks go back from 03:00 CEST to 02:00 CET.
        let h = hours(&[7], "02:00:00", "03:00:00");
        let first = date(2027, 10, 31).at(0, 30, 0, 0).to_zoned_datetime(TimeZone::UTC).unwrap().timestamp();
        let second = date(2027, 10, 31).at(1, 30, 0, 0).to_zoned_datetime(TimeZone::UTC).unwrap().timestamp();
        assert_eq!(tz.to_datetime(first), tz.to_datetime(second), "both are 02:30 local");
        assert!(h.contains(&tz, first));
        assert!(h.contains(&tz, second));
    }

    #[test]
    fn a_window_starting_in_a_skipped_hour_starts_after_the_gap() {
        let tz = berlin();
        // 2027-03-28 (Sunday): Berlin's clocks jump from 02:00 CET to 03:00 CEST.
        let h = hours(&[7], "02:30:00", "04:00:00");
        let before = date(2027, 3, 28).at(0, 59, 0, 0).to_zoned_datetime(TimeZone::UTC).unwrap().timestamp();
        let after = date(2027, 3, 28).at(1, 0, 0, 0).to_zoned_datetime(TimeZone::UTC).unwrap().timestamp();
        assert!(!h.contains(&tz, before), "01:59 CET");
        assert!(h.contains(&tz, after), "03:00 CEST");
    }

    #[test]
    fn a_constant_rule_ignores_support_hours() {
        let rule = UrgencyRule::Constant(ConstantUrgency::Low);
        assert_eq!(rule.urgency(Some("critical"), true), Urgency::Low);
        assert_eq!(rule.urgency(Some("critical"), false), Urgency::Low);
    }

    #[test]
    fn severity_based_makes_warning_and_info_low_inside_and_outside_support_hours() {
        let rule = UrgencyRule::Constant(ConstantUrgency::SeverityBased);
        for in_hours in [true, false] {
            assert_eq!(rule.urgency(Some("warning"), in_hours), Urgency::Low);
            assert_eq!(rule.urgency(Some("info"), in_hours), Urgency::Low);
            assert_eq!(rule.urgency(Some("error"), in_hours), Urgency::High);
            assert_eq!(rule.urgency(Some("critical"), in_hours), Urgency::High);
            assert_eq!(rule.urgency(None, in_hours), Urgency::High);
        }
    }

    #[test]
    fn use_support_hours_takes_the_during_urgency_inside_and_the_outside_urgency_outside() {
        let rule =
            UrgencyRule::UseSupportHours { during: SupportHoursUrgency::Low, outside: SupportHoursUrgency::High };
        assert_eq!(rule.urgency(Some("critical"), true), Urgency::Low);
        assert_eq!(rule.urgency(Some("info"), false), Urgency::High);
    }
}
