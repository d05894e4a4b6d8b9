//! Wall-clock arithmetic in a zone: instants to local "civil milliseconds" and back, with the schedule
//! rule for local times that do not exist (a gap: the offset in force before the jump) or occur twice (a
//! fold: the first occurrence) — jiff's `Disambiguation::Compatible`.
//!
//! A civil millisecond count is a local date-time written as milliseconds since 1970-01-01T00:00 on the
//! wall clock (no zone): adding `n × 86,400,000` to it moves `n` calendar days at the same local time,
//! which is how whole-day turns and wall-clock restriction durations are measured.

use jiff::Timestamp;
use jiff::civil::{Date, DateTime, Time};
use jiff::tz::TimeZone;

pub(crate) const SECOND_MS: i64 = 1_000;
pub(crate) const DAY_MS: i64 = 86_400_000;
pub(crate) const WEEK_MS: i64 = 7 * DAY_MS;

/// The earliest and latest instants jiff represents (about ±9999 years); everything is clamped to these.
pub(crate) fn min_ms() -> i64 {
    Timestamp::MIN.as_millisecond()
}

pub(crate) fn max_ms() -> i64 {
    Timestamp::MAX.as_millisecond()
}

pub(crate) fn clamp_instant(ms: i64) -> i64 {
    ms.clamp(min_ms(), max_ms())
}

/// The local wall-clock reading of instant `ms` in `zone`, as civil milliseconds.
pub(crate) fn to_civil(zone: &TimeZone, ms: i64) -> i64 {
    let ms = clamp_instant(ms);
    let ts = Timestamp::from_millisecond(ms).unwrap_or(Timestamp::UNIX_EPOCH);
    let offset_ms = i64::from(zone.to_offset(ts).seconds()) * SECOND_MS;
    ms + offset_ms
}

/// The instant of a local wall-clock reading in `zone` (gap: the offset before the jump; fold: the first
/// occurrence). Readings outside jiff's range saturate to its ends.
pub(crate) fn to_instant(zone: &TimeZone, civil_ms: i64) -> i64 {
    let Some(dt) = civil_datetime(civil_ms) else {
        return if civil_ms < 0 { min_ms() } else { max_ms() };
    };
    match zone.to_ambiguous_timestamp(dt).compatible() {
        Ok(ts) => ts.as_millisecond(),
        Err(_) => {
            if civil_ms < 0 {
                min_ms()
            } else {
                max_ms()
            }
        }
    }
}

/// Milliseconds since midnight of a time of day (sub-millisecond precision is dropped).
pub(crate) fn time_ms(time: Time) -> i64 {
    ((i64::from(time.hour()) * 60 + i64::from(time.minute())) * 60 + i64::from(time.second())) * SECOND_MS
        + i64::from(time.subsec_nanosecond()) / 1_000_000
}

fn civil_datetime(civil_ms: i64) -> Option<DateTime> {
    let day = civil_ms.div_euclid(DAY_MS);
    let in_day = civil_ms.rem_euclid(DAY_MS);
    let date = date_of_epoch_day(day)?;
    let secs = in_day / SECOND_MS;
    let nanos = (in_day % SECOND_MS) * 1_000_000;
    let time = Time::new(
        i8::try_from(secs / 3600).ok()?,
        i8::try_from(secs / 60 % 60).ok()?,
        i8::try_from(secs % 60).ok()?,
        i32::try_from(nanos).ok()?,
    )
    .ok()?;
    Some(date.to_datetime(time))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
#[cfg(test)]
pub(crate) fn epoch_day(date: Date) -> i64 {
    let (y, m, d) = (i64::from(date.year()), i64::from(date.month()), i64::from(date.day()));
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date `day` days after 1970-01-01 (Hinnant's `civil_from_days`); `None` outside jiff's years.
pub(crate) fn date_of_epoch_day(day: i64) -> Option<Date> {
    let z = day.checked_add(719_468)?;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    Date::new(i16::try_from(y).ok()?, i8::try_from(m).ok()?, i8::try_from(d).ok()?).ok()
}

/// ISO weekday (1 = Monday … 7 = Sunday) of an epoch day (1970-01-01 was a Thursday).
pub(crate) fn iso_weekday(day: i64) -> i64 {
    (day + 3).rem_euclid(7) + 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    #[test]
    fn epoch_days_agree_with_jiff() {
        for d in [date(1970, 1, 1), date(2000, 2, 29), date(1969, 12, 31), date(2026, 3, 29), date(-200, 7, 4)] {
            let day = epoch_day(d);
            assert_eq!(date_of_epoch_day(day), Some(d));
            let jiff_days = d.since(date(1970, 1, 1)).unwrap().get_days();
            assert_eq!(day, i64::from(jiff_days), "{d}");
            assert_eq!(iso_weekday(day), i64::from(d.weekday().to_monday_one_offset()), "{d}");
        }
    }

    #[test]
    fn civil_round_trips_outside_transitions() {
        let tz = TimeZone::posix("CET-1CEST,M3.5.0,M10.5.0/3").unwrap();
        let at = 1_780_000_000_123;
        assert_eq!(to_instant(&tz, to_civil(&tz, at)), at);
    }
}
