//! Validating schedule input: layers, restrictions, overrides, times of day and zone names, with
//! PagerDuty-style field names (`schedule.schedule_layers[1].rotation_turn_length_seconds must be
//! positive`). Every check returns all its errors at once.
//!
//! Pure: [`zone`] resolves a name in the tz database the caller passes (`jiff::tz::db()` in the server);
//! the core loads none.

use super::model::{Layer, Override, Restriction, Schedule};
use crate::validate::FieldError;
use jiff::civil::Time;
use jiff::tz::{TimeZone, TimeZoneDatabase};

/// PagerDuty's message for an override that does not end after its start (bulk override errors).
pub const OVERRIDE_MUST_END_AFTER_START: &str = "Override must end after its start";

/// The longest daily restriction: a whole day.
pub const MAX_DAILY_RESTRICTION_SECONDS: i64 = 86_400;
/// The longest weekly restriction: a whole week.
pub const MAX_WEEKLY_RESTRICTION_SECONDS: i64 = 604_800;

/// `start_time_of_day` as sent: `HH:MM:SS` or `HH:MM`, two ASCII digits each, 00:00:00 to 23:59:59.
pub fn parse_time_of_day(s: &str) -> Option<Time> {
    let two = |p: &str, max: i8| -> Option<i8> {
        let b = p.as_bytes();
        if b.len() != 2 || !b.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let n = i8::try_from((b[0] - b'0') * 10 + (b[1] - b'0')).ok()?;
        (n <= max).then_some(n)
    };
    let mut parts = s.split(':');
    let (h, m, sec) = match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(h), Some(m), None, None) => (two(h, 23)?, two(m, 59)?, 0),
        (Some(h), Some(m), Some(sec), None) => (two(h, 23)?, two(m, 59)?, two(sec, 59)?),
        _ => return None,
    };
    Time::new(h, m, sec, 0).ok()
}

/// Resolves an IANA zone name in `db`; the error names `schedule.time_zone`.
pub fn zone(name: &str, db: &TimeZoneDatabase) -> Result<TimeZone, FieldError> {
    let unknown = || FieldError::new("schedule.time_zone", format!("{name} is not a known IANA time zone"));
    if name.trim().is_empty() {
        return Err(FieldError::new("schedule.time_zone", "is required"));
    }
    db.get(name).map_err(|_| unknown())
}

/// Checks a schedule: at least one layer, and every layer (see [`validate_layers`]).
pub fn validate_schedule(schedule: &Schedule) -> Vec<FieldError> {
    if schedule.layers.is_empty() {
        return vec![FieldError::new("schedule.schedule_layers", "must not be empty")];
    }
    validate_layers(&schedule.layers)
}

/// Checks each layer, naming fields `schedule.schedule_layers[i].…`.
pub fn validate_layers(layers: &[Layer]) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for (i, layer) in layers.iter().enumerate() {
        validate_layer(layer, &format!("schedule.schedule_layers[{i}]"), &mut errors);
    }
    errors
}

/// Checks one layer; every field is named under `field` (e.g. `schedule.schedule_layers[0]`).
pub fn validate_layer(layer: &Layer, field: &str, errors: &mut Vec<FieldError>) {
    if layer.rotation_turn_length_seconds <= 0 {
        errors.push(FieldError::new(format!("{field}.rotation_turn_length_seconds"), "must be positive"));
    }
    if layer.users.is_empty() {
        errors.push(FieldError::new(format!("{field}.users"), "must not be empty"));
    }
    for (j, user) in layer.users.iter().enumerate() {
        if user.trim().is_empty() {
            errors.push(FieldError::new(format!("{field}.users[{j}]"), "must not be blank"));
        }
    }
    if let Some(end) = layer.end
        && end <= layer.start
    {
        errors.push(FieldError::new(format!("{field}.end"), "must be after start"));
    }
    for (j, r) in layer.restrictions.iter().enumerate() {
        let field = format!("{field}.restrictions[{j}]");
        let (duration, max, kind) = match *r {
            Restriction::Daily { duration_seconds, .. } => (duration_seconds, MAX_DAILY_RESTRICTION_SECONDS, "daily"),
            Restriction::Weekly { start_day_of_week, duration_seconds, .. } => {
                if !(1..=7).contains(&start_day_of_week) {
                    errors.push(FieldError::new(format!("{field}.start_day_of_week"), "must be 1 to 7"));
                }
                (duration_seconds, MAX_WEEKLY_RESTRICTION_SECONDS, "weekly")
            }
        };
        if duration <= 0 {
            errors.push(FieldError::new(format!("{field}.duration_seconds"), "must be positive"));
        } else if duration > max {
            errors.push(FieldError::new(
                format!("{field}.duration_seconds"),
                format!("must be at most {max} for a {kind} restriction"),
            ));
        }
    }
}

/// Checks an override, naming fields under `field` (e.g. `override` or `overrides[2]`). An override that
/// does not end after its start gets PagerDuty's message [`OVERRIDE_MUST_END_AFTER_START`] on
/// `{field}.end`.
pub fn validate_override(o: &Override, field: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if o.user_id.trim().is_empty() {
        errors.push(FieldError::new(format!("{field}.user"), "is required"));
    }
    if o.end <= o.start {
        errors.push(FieldError::new(format!("{field}.end"), OVERRIDE_MUST_END_AFTER_START));
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer() -> Layer {
        Layer {
            id: "PL1".into(),
            name: "Layer 1".into(),
            start: 0,
            end: None,
            rotation_virtual_start: 0,
            rotation_turn_length_seconds: 86_400,
            users: vec!["PU1".into()],
            restrictions: vec![],
        }
    }

    fn messages(errors: &[FieldError]) -> Vec<String> {
        errors.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn a_valid_layer_has_no_errors() {
        let mut l = layer();
        l.restrictions = vec![
            Restriction::Daily { start_time_of_day: Time::midnight(), duration_seconds: 86_400 },
            Restriction::Weekly {
                start_day_of_week: 7,
                start_time_of_day: Time::midnight(),
                duration_seconds: 604_800,
            },
        ];
        l.end = Some(1);
        assert!(validate_layers(&[l]).is_empty());
    }

    #[test]
    fn layer_errors_name_the_field_pagerduty_style() {
        let mut bad = layer();
        bad.rotation_turn_length_seconds = 0;
        bad.users.clear();
        bad.end = Some(0);
        bad.restrictions = vec![
            Restriction::Weekly { start_day_of_week: 8, start_time_of_day: Time::midnight(), duration_seconds: 0 },
            Restriction::Daily { start_time_of_day: Time::midnight(), duration_seconds: 86_401 },
            Restriction::Weekly {
                start_day_of_week: 0,
                start_time_of_day: Time::midnight(),
                duration_seconds: 604_801,
            },
        ];
        let errors = validate_layers(&[layer(), bad]);
        assert_eq!(
            messages(&errors),
            vec![
                "schedule.schedule_layers[1].rotation_turn_length_seconds must be positive",
                "schedule.schedule_layers[1].users must not be empty",
                "schedule.schedule_layers[1].end must be after start",
                "schedule.schedule_layers[1].restrictions[0].start_day_of_week must be 1 to 7",
                "schedule.schedule_layers[1].restrictions[0].duration_seconds must be positive",
                "schedule.schedule_layers[1].restrictions[1].duration_seconds must be at most 86400 for a daily restriction",
                "schedule.schedule_layers[1].restrictions[2].start_day_of_week must be 1 to 7",
                "schedule.schedule_layers[1].restrictions[2].duration_seconds must be at most 604800 for a weekly restriction",
            ]
        );
    }

    #[test]
    fn a_negative_turn_length_and_a_blank_user_are_rejected() {
        let mut bad = layer();
        bad.rotation_turn_length_seconds = -5;
        bad.users = vec!["PU1".into(), " ".into()];
        assert_eq!(
            messages(&validate_layers(&[bad])),
            vec![
                "schedule.schedule_layers[0].rotation_turn_length_seconds must be positive",
                "schedule.schedule_layers[0].users[1] must not be blank",
            ]
        );
    }

    #[test]
    fn a_schedule_needs_a_layer() {
        let s = Schedule { time_zone: TimeZone::UTC, layers: vec![] };
        assert_eq!(messages(&validate_schedule(&s)), vec!["schedule.schedule_layers must not be empty"]);
        let s = Schedule { time_zone: TimeZone::UTC, layers: vec![layer()] };
        assert!(validate_schedule(&s).is_empty());
    }

    #[test]
    fn an_override_must_end_after_its_start_with_pagerdutys_message() {
        let o = Override { id: "PO1".into(), user_id: "PU1".into(), start: 10, end: 10, created: 1 };
        let errors = validate_override(&o, "override");
        assert_eq!(errors, vec![FieldError::new("override.end", "Override must end after its start")]);
        assert!(validate_override(&Override { end: 11, ..o }, "override").is_empty());
    }

    #[test]
    fn times_of_day_parse_with_or_without_seconds() {
        assert_eq!(parse_time_of_day("09:30:15"), Some(Time::new(9, 30, 15, 0).unwrap()));
        assert_eq!(parse_time_of_day("23:59"), Some(Time::new(23, 59, 0, 0).unwrap()));
        assert_eq!(parse_time_of_day("00:00:00"), Some(Time::midnight()));
        for bad in ["24:00", "9:30", "09:60", "09:30:60", "+1:30", "09:30:00:00", "", "0930", "09:3a", "ab:cd"] {
            assert_eq!(parse_time_of_day(bad), None, "{bad}");
        }
    }

    #[test]
    fn zone_names_resolve_in_the_callers_database() {
        assert!(zone("Europe/Berlin", jiff::tz::db()).is_ok());
        let err = zone("Mars/Olympus_Mons", jiff::tz::db()).unwrap_err();
        assert_eq!(err.to_string(), "schedule.time_zone Mars/Olympus_Mons is not a known IANA time zone");
        assert!(zone("Europe/Berlin", &TimeZoneDatabase::none()).is_err(), "nothing is read but the given database");
        assert_eq!(zone(" ", jiff::tz::db()).unwrap_err().to_string(), "schedule.time_zone is required");
    }
}
