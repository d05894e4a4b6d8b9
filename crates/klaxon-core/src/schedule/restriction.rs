//! Restrictions: the wall-clock windows (daily or weekly, in the schedule's zone) inside which a layer
//! has someone, as instants — the union of a layer's restrictions over a range, sorted and merged.
//!
//! A window starts at the local date-time of its start and ends at that local date-time plus the
//! duration on the wall clock (a civil span), both read with the gap/fold rule of [`super::local`].
//! Windows that started before the range but reach into it are found too (the search looks back by
//! the duration plus a day).

use super::interval::Span;
use super::local::{DAY_MS, SECOND_MS, iso_weekday, time_ms, to_civil, to_instant};
use super::model::Restriction;
use jiff::tz::TimeZone;

/// The union of `restrictions`' windows that meet `[since, until)`, clipped to it, sorted, merged where
/// they overlap or touch. No restrictions: the whole range.
pub(crate) fn allowed(restrictions: &[Restriction], zone: &TimeZone, since: i64, until: i64) -> Vec<Span> {
    if since >= until {
        return Vec::new();
    }
    if restrictions.is_empty() {
        return vec![Span { start: since, end: until }];
    }
    let mut windows = Vec::new();
    for r in restrictions {
        windows_of(r, zone, since, until, &mut windows);
    }
    windows.sort_unstable_by_key(|w| (w.start, w.end));
    let mut merged: Vec<Span> = Vec::with_capacity(windows.len());
    for w in windows {
        match merged.last_mut() {
            Some(last) if w.start <= last.end => last.end = last.end.max(w.end),
            _ => merged.push(w),
        }
    }
    merged
}

/// Pushes one restriction's windows meeting `[since, until)`, clipped to it.
fn windows_of(r: &Restriction, zone: &TimeZone, since: i64, until: i64, out: &mut Vec<Span>) {
    let (period_days, first_weekday, time, duration_seconds) = match *r {
        Restriction::Daily { start_time_of_day, duration_seconds } => (1, None, start_time_of_day, duration_seconds),
        Restriction::Weekly { start_day_of_week, start_time_of_day, duration_seconds } => {
            if !(1..=7).contains(&start_day_of_week) {
                return; // invalid (validation rejects it): no window
            }
            (7, Some(i64::from(start_day_of_week)), start_time_of_day, duration_seconds)
        }
    };
    if duration_seconds <= 0 {
        return;
    }
    let period = period_days * DAY_MS;
    let duration = duration_seconds.saturating_mul(SECOND_MS);
    if duration >= period {
        // Consecutive windows touch or overlap on the wall clock: always allowed.
        out.push(Span { start: since, end: until });
        return;
    }
    let time = time_ms(time);
    // Local dates to try: from the date of `since` minus the longest reach back (the duration, plus a
    // day for the zone's offset), to the date of `until`.
    let first_day = to_civil(zone, since).div_euclid(DAY_MS) - duration.div_euclid(DAY_MS) - 2;
    let last_day = to_civil(zone, until).div_euclid(DAY_MS) + 1;
    let mut day = match first_weekday {
        None => first_day,
        Some(w) => first_day + (w - iso_weekday(first_day)).rem_euclid(7),
    };
    while day <= last_day {
        let civil_start = day * DAY_MS + time;
        let start = to_instant(zone, civil_start);
        let end = to_instant(zone, civil_start + duration);
        let (start, end) = (start.max(since), end.min(until));
        if start < end {
            out.push(Span { start, end });
        }
        day += period_days;
    }
}
