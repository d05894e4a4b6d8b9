//! Parsing and rendering instants the way PagerDuty's clients send and read them.
//!
//! Senders use `Z`, `+00:00` and `+0000` offsets with any number of fractional digits; the REST API also
//! accepts dates without a time (`2011-05-06`) and times without seconds (`2011-05-06T17:00Z`).
//! Responses are RFC 3339 in UTC with second precision, as PagerDuty renders them.

use jiff::{Timestamp, civil, tz::TimeZone};

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("is not an ISO 8601 date-time")]
pub struct BadTimestamp;

/// Parses an ISO 8601 instant as real senders write it. A value without an offset is taken as UTC.
pub fn parse_timestamp(raw: &str) -> Result<Timestamp, BadTimestamp> {
    let s = raw.trim();
    if s.is_empty() {
        return Err(BadTimestamp);
    }
    if let Ok(ts) = s.parse::<Timestamp>() {
        return Ok(ts);
    }
    // jiff wants `+00:00`; rewrite `+0000` / `+00` style offsets and retry.
    if let Some(normalized) = normalize_offset(s)
        && let Ok(ts) = normalized.parse::<Timestamp>()
    {
        return Ok(ts);
    }
    // No offset at all: a civil date-time or a bare date, in UTC.
    if let Ok(dt) = s.parse::<civil::DateTime>() {
        return TimeZone::UTC.to_timestamp(dt).map_err(|_| BadTimestamp);
    }
    if let Ok(d) = s.parse::<civil::Date>() {
        return TimeZone::UTC.to_timestamp(d.to_datetime(civil::Time::midnight())).map_err(|_| BadTimestamp);
    }
    Err(BadTimestamp)
}

fn normalize_offset(s: &str) -> Option<String> {
    let t = s.find('T').or_else(|| s.find(' '))?;
    let (date, time) = s.split_at(t + 1);
    let sign_at = time.rfind(['+', '-'])?;
    let (clock, offset) = time.split_at(sign_at);
    let digits = &offset[1..];
    let fixed = match digits.len() {
        4 if digits.bytes().all(|b| b.is_ascii_digit()) => format!("{}:{}", &digits[..2], &digits[2..]),
        2 if digits.bytes().all(|b| b.is_ascii_digit()) => format!("{digits}:00"),
        _ => return None,
    };
    let clock = if clock.matches(':').count() == 1 { format!("{clock}:00") } else { clock.to_string() };
    Some(format!("{}{}{}{}", date.replace(' ', "T"), clock, &offset[..1], fixed))
}

/// Milliseconds since the Unix epoch, the storage representation of instants.
pub fn to_millis(ts: Timestamp) -> i64 {
    ts.as_millisecond()
}

pub fn from_millis(ms: i64) -> Timestamp {
    Timestamp::from_millisecond(ms).unwrap_or(Timestamp::UNIX_EPOCH)
}

/// RFC 3339 in UTC, whole seconds: `2016-01-23T17:49:10Z`.
pub fn render(ts: Timestamp) -> String {
    let secs = Timestamp::from_second(ts.as_second()).unwrap_or(ts);
    secs.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

pub fn render_millis(ms: i64) -> String {
    render(from_millis(ms))
}

/// RFC 3339 with the offset of `zone` at that instant, whole seconds, as PagerDuty prints times rendered
/// in a requested `time_zone`: `2015-11-06T20:00:00-05:00`. UTC itself prints `Z`.
pub fn render_in_zone(ms: i64, zone: &TimeZone) -> String {
    let ts = from_millis(ms);
    let secs = Timestamp::from_second(ts.as_second()).unwrap_or(ts);
    if is_utc(zone) {
        return render(secs);
    }
    secs.to_zoned_datetime(zone.clone()).strftime("%Y-%m-%dT%H:%M:%S%:z").to_string()
}

fn is_utc(zone: &TimeZone) -> bool {
    *zone == TimeZone::UTC
        || matches!(
            zone.iana_name(),
            Some("UTC" | "Etc/UTC" | "Etc/UCT" | "UCT" | "Etc/Universal" | "Universal" | "Etc/Zulu" | "Zulu")
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> i64 {
        parse_timestamp(s).unwrap().as_millisecond()
    }

    #[test]
    fn accepts_every_offset_style_senders_use() {
        let expected = 1_437_122_578_315;
        assert_eq!(at("2015-07-17T08:42:58.315+0000"), expected);
        assert_eq!(at("2015-07-17T08:42:58.315Z"), expected);
        assert_eq!(at("2015-07-17T08:42:58.315+00:00"), expected);
        assert_eq!(at("2015-07-17T10:42:58.315+0200"), expected);
        assert_eq!(at("2015-07-17T08:42:58.315123456Z"), expected);
        assert_eq!(at("2015-07-17T08:42:58.3154Z"), expected);
    }

    #[test]
    fn accepts_rest_api_date_shorthands() {
        assert_eq!(at("2011-05-06"), at("2011-05-06T00:00:00Z"));
        assert_eq!(at("2011-05-06T17:00Z"), at("2011-05-06T17:00:00Z"));
        assert_eq!(at("2011-05-06T03:30-07"), at("2011-05-06T10:30:00Z"));
        assert_eq!(at("2011-05-06T03:30:00"), at("2011-05-06T03:30:00Z"));
    }

    #[test]
    fn rejects_garbage() {
        assert_eq!(parse_timestamp("yesterday"), Err(BadTimestamp));
        assert_eq!(parse_timestamp(""), Err(BadTimestamp));
        assert_eq!(parse_timestamp("2015-13-45T00:00:00Z"), Err(BadTimestamp));
    }

    #[test]
    fn renders_in_a_zone_with_its_offset_at_that_instant() {
        let ny = TimeZone::get("America/New_York").unwrap();
        assert_eq!(render_in_zone(at("2015-11-07T01:00:00Z"), &ny), "2015-11-06T20:00:00-05:00");
        assert_eq!(render_in_zone(at("2015-07-07T01:00:00.9Z"), &ny), "2015-07-06T21:00:00-04:00");
        assert_eq!(
            render_in_zone(at("2015-07-07T01:00:00Z"), &TimeZone::get("Etc/UTC").unwrap()),
            "2015-07-07T01:00:00Z"
        );
        let london = TimeZone::get("Europe/London").unwrap();
        assert_eq!(render_in_zone(at("2015-01-07T01:00:00Z"), &london), "2015-01-07T01:00:00+00:00");
    }

    #[test]
    fn renders_whole_seconds_in_utc() {
        assert_eq!(render_millis(1_437_122_578_315), "2015-07-17T08:42:58Z");
    }
}
