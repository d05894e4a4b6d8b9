//! The iCalendar feed of on-call entries (RFC 5545): one `VEVENT` per entry, times in UTC.
//!
//! Hand-written rather than built with the `icalendar` crate, which writes `DTSTAMP` from the system
//! clock and a random `UID` whenever they are missing and pulls in chrono; here every value is given:
//! `DTSTAMP` by the caller, `UID` derived from the schedule id, the user id and the entry's start (so
//! the same shift keeps its UID when its end moves, and calendar clients update it rather than adding a
//! copy). Lines end in CRLF, are folded at 75 octets (never inside a UTF-8 character), and TEXT values
//! are escaped (`\\`, `\;`, `\,`, `\n`).
//!
//! `SUMMARY`: in a schedule's feed, `<user name> on call`; in a user's feed, `On call: <schedule name>`.
//! Instants are written with second precision (milliseconds are dropped).

use super::model::Entry;
use jiff::Timestamp;
use sha2::{Digest, Sha256};
use std::fmt::Write as _;

/// Whose feed it is, which decides the events' `SUMMARY`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FeedKind {
    /// A schedule's feed (everyone's shifts): `SUMMARY:<user name> on call`.
    Schedule,
    /// One user's feed: `SUMMARY:On call: <schedule name>`.
    User,
}

/// What the feed says about itself.
#[derive(Clone, Copy, Debug)]
pub struct IcalFeed<'a> {
    /// The calendar's name (`X-WR-CALNAME`).
    pub name: &'a str,
    pub kind: FeedKind,
    /// The schedule's id, part of every event's `UID`.
    pub schedule_id: &'a str,
    pub schedule_name: &'a str,
    /// `DTSTAMP` of every event (Unix ms): when the feed was generated, from the caller's clock.
    pub dtstamp: i64,
}

/// One schedule's entries in a feed (a user's feed has one part per schedule).
#[derive(Clone, Copy, Debug)]
pub struct FeedPart<'a> {
    pub schedule_id: &'a str,
    pub schedule_name: &'a str,
    pub entries: &'a [Entry],
}

/// Renders `entries` as a `VCALENDAR`; `user_name` gives a user id's display name.
pub fn ical(feed: &IcalFeed<'_>, entries: &[Entry], user_name: impl Fn(&str) -> String) -> String {
    let part = FeedPart { schedule_id: feed.schedule_id, schedule_name: feed.schedule_name, entries };
    ical_parts(feed.name, feed.kind, feed.dtstamp, &[part], user_name)
}

/// Renders the entries of several schedules as one `VCALENDAR` named `name` (`X-WR-CALNAME`), each event
/// with its schedule's `UID` and `SUMMARY`; `dtstamp` (Unix ms) comes from the caller's clock.
pub fn ical_parts(
    name: &str,
    kind: FeedKind,
    dtstamp: i64,
    parts: &[FeedPart<'_>],
    user_name: impl Fn(&str) -> String,
) -> String {
    let count: usize = parts.iter().map(|p| p.entries.len()).sum();
    let mut out = String::with_capacity(256 + count * 256);
    line(&mut out, "BEGIN:VCALENDAR");
    line(&mut out, "VERSION:2.0");
    line(&mut out, "PRODID:-//Klaxon//On-call schedules//EN");
    line(&mut out, "CALSCALE:GREGORIAN");
    line(&mut out, "METHOD:PUBLISH");
    line(&mut out, &format!("X-WR-CALNAME:{}", escape_text(name)));
    let dtstamp = utc(dtstamp);
    for part in parts {
        for e in part.entries {
            let summary = match kind {
                FeedKind::Schedule => format!("{} on call", user_name(&e.user_id)),
                FeedKind::User => format!("On call: {}", part.schedule_name),
            };
            line(&mut out, "BEGIN:VEVENT");
            line(&mut out, &format!("UID:{}", uid(part.schedule_id, &e.user_id, e.start)));
            line(&mut out, &format!("DTSTAMP:{dtstamp}"));
            line(&mut out, &format!("DTSTART:{}", utc(e.start)));
            line(&mut out, &format!("DTEND:{}", utc(e.end)));
            line(&mut out, &format!("SUMMARY:{}", escape_text(&summary)));
            line(&mut out, "TRANSP:OPAQUE");
            line(&mut out, "END:VEVENT");
        }
    }
    line(&mut out, "END:VCALENDAR");
    out
}

/// A stable event id: a hash of the schedule id, the user id and the start.
fn uid(schedule_id: &str, user_id: &str, start: i64) -> String {
    let mut h = Sha256::new();
    for part in [schedule_id.as_bytes(), b"\n", user_id.as_bytes(), b"\n", start.to_string().as_bytes()] {
        h.update(part);
    }
    let digest = h.finalize();
    format!("{}@klaxon", hex::encode(&digest[..16]))
}

/// `YYYYMMDDTHHMMSSZ`, whole seconds (rounded down).
fn utc(ms: i64) -> String {
    let ts = Timestamp::from_second(ms.div_euclid(1_000)).unwrap_or(Timestamp::UNIX_EPOCH);
    ts.strftime("%Y%m%dT%H%M%SZ").to_string()
}

/// RFC 5545 §3.3.11 TEXT escaping.
fn escape_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// Writes one content line, folded so that no physical line exceeds 75 octets (RFC 5545 §3.1): a
/// continuation starts with a space, which counts toward its 75.
fn line(out: &mut String, content: &str) {
    let mut budget = 75;
    let mut used = 0;
    for c in content.chars() {
        let len = c.len_utf8();
        if used + len > budget {
            out.push_str("\r\n ");
            budget = 74;
            used = 0;
        }
        out.push(c);
        used += len;
    }
    let _ = write!(out, "\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding_keeps_lines_within_75_octets_and_characters_whole() {
        let mut out = String::new();
        let long = format!("SUMMARY:{}", "é".repeat(100));
        line(&mut out, &long);
        for physical in out.split("\r\n").filter(|l| !l.is_empty()) {
            assert!(physical.len() <= 75, "{} octets: {physical}", physical.len());
        }
        assert_eq!(out.replace("\r\n ", "").trim_end(), long);
    }

    #[test]
    fn text_is_escaped() {
        assert_eq!(escape_text("a,b;c\\d\ne"), "a\\,b\\;c\\\\d\\ne");
    }
}
