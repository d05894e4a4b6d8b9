//! Half-open interval arithmetic on sorted lists, in one pass each: masking entries by allowed spans,
//! laying one list of entries over another, merging touching entries of one user, clipping, coverage.
//!
//! Every list here is sorted by start and its intervals are disjoint and non-empty; every function keeps
//! that. The lists hold [`Piece`]s, which borrow their user id, so rendering allocates no string until
//! the entries are handed out.

use super::model::{Entry, Window};

/// An entry while rendering: `user` on call over `[start, end)`, the id borrowed from the schedule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Piece<'a> {
    pub start: i64,
    pub end: i64,
    pub user: &'a str,
}

impl Piece<'_> {
    pub(crate) fn to_entry(self) -> Entry {
        Entry { start: self.start, end: self.end, user_id: self.user.to_string() }
    }
}

pub(crate) fn to_entries(pieces: &[Piece<'_>]) -> Vec<Entry> {
    pieces.iter().map(|p| p.to_entry()).collect()
}

/// An interval `[start, end)` of instants (Unix ms).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Span {
    pub start: i64,
    pub end: i64,
}

/// Pushes the parts of `[start, end)` inside `allowed` (sorted, disjoint) as entries of `user`.
/// `cursor` is an index into `allowed` that callers with increasing intervals keep between calls.
pub(crate) fn push_masked<'a>(
    out: &mut Vec<Piece<'a>>,
    start: i64,
    end: i64,
    user: &'a str,
    allowed: &[Span],
    cursor: &mut usize,
) {
    while *cursor < allowed.len() && allowed[*cursor].end <= start {
        *cursor += 1;
    }
    let mut i = *cursor;
    while i < allowed.len() && allowed[i].start < end {
        let (s, e) = (allowed[i].start.max(start), allowed[i].end.min(end));
        if s < e {
            out.push(Piece { start: s, end: e, user });
        }
        if allowed[i].end > end {
            break; // this span may serve the next interval too
        }
        i += 1;
    }
}

/// `top` laid over `base`: all of `top`, and the parts of `base` that `top` does not cover.
pub(crate) fn overlay<'a>(base: Vec<Piece<'a>>, top: Vec<Piece<'a>>) -> Vec<Piece<'a>> {
    if top.is_empty() {
        return base;
    }
    let mut rest = Vec::with_capacity(base.len());
    let mut j = 0;
    for b in base {
        while j < top.len() && top[j].end <= b.start {
            j += 1;
        }
        let mut s = b.start;
        let mut k = j;
        while s < b.end {
            match top.get(k) {
                Some(t) if t.start < b.end => {
                    if t.start > s {
                        rest.push(Piece { start: s, end: t.start, user: b.user });
                    }
                    s = s.max(t.end);
                    k += 1;
                }
                _ => {
                    rest.push(Piece { start: s, ..b });
                    break;
                }
            }
        }
    }
    // Both lists are sorted and disjoint from each other: merge by start.
    let mut out = Vec::with_capacity(rest.len() + top.len());
    let mut rest = rest.into_iter().peekable();
    let mut top = top.into_iter().peekable();
    loop {
        let take_rest = match (rest.peek(), top.peek()) {
            (Some(r), Some(t)) => r.start < t.start,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => break,
        };
        let next = if take_rest { rest.next() } else { top.next() };
        out.extend(next);
    }
    out
}

/// Merges entries of the same user that touch (one ends where the next starts).
pub(crate) fn merge_touching(pieces: Vec<Piece<'_>>) -> Vec<Piece<'_>> {
    let mut out: Vec<Piece<'_>> = Vec::with_capacity(pieces.len());
    for e in pieces {
        match out.last_mut() {
            Some(last) if last.end == e.start && last.user == e.user => last.end = e.end,
            _ => out.push(e),
        }
    }
    out
}

/// Whether `[start, end)` meets the window (half-open: an interval ending at `since` does not).
pub(crate) fn meets(start: i64, end: i64, window: Window) -> bool {
    start < window.until && end > window.since
}

/// The pieces meeting `window`, cut to it.
pub(crate) fn clip<'a>(pieces: &[Piece<'a>], window: Window) -> Vec<Piece<'a>> {
    pieces
        .iter()
        .filter(|p| meets(p.start, p.end, window))
        .map(|p| Piece { start: p.start.max(window.since), end: p.end.min(window.until), user: p.user })
        .collect()
}

/// Covered milliseconds of `window` (any entries: overlaps are counted once) / its length × 100;
/// 0 for an empty window.
pub fn coverage_percentage(entries: &[Entry], window: Window) -> f64 {
    if window.until <= window.since {
        return 0.0;
    }
    let mut spans: Vec<(i64, i64)> = entries
        .iter()
        .filter(|e| meets(e.start, e.end, window))
        .map(|e| (e.start.max(window.since), e.end.min(window.until)))
        .collect();
    spans.sort_unstable();
    let mut covered: i128 = 0;
    let mut reach = window.since;
    for (s, e) in spans {
        let s = s.max(reach);
        if e > s {
            covered += i128::from(e) - i128::from(s);
            reach = e;
        }
    }
    let length = i128::from(window.until) - i128::from(window.since);
    // Lossy only beyond 2^53 ms (about 285,000 years).
    #[allow(clippy::cast_precision_loss)]
    let pct = covered as f64 / length as f64 * 100.0;
    pct.clamp(0.0, 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(start: i64, end: i64, user: &str) -> Entry {
        Entry { start, end, user_id: user.into() }
    }

    fn p(start: i64, end: i64, user: &str) -> Piece<'_> {
        Piece { start, end, user }
    }

    #[test]
    fn overlay_keeps_the_top_and_the_uncovered_base() {
        let base = vec![p(0, 10, "a"), p(10, 20, "b"), p(20, 30, "a")];
        let top = vec![p(5, 12, "x"), p(14, 15, "y"), p(18, 40, "z")];
        assert_eq!(
            overlay(base, top),
            vec![p(0, 5, "a"), p(5, 12, "x"), p(12, 14, "b"), p(14, 15, "y"), p(15, 18, "b"), p(18, 40, "z")]
        );
    }

    #[test]
    fn masking_splits_an_interval_into_the_allowed_pieces() {
        let allowed = [Span { start: 2, end: 4 }, Span { start: 6, end: 12 }];
        let mut out = Vec::new();
        let mut cursor = 0;
        push_masked(&mut out, 0, 8, "a", &allowed, &mut cursor);
        push_masked(&mut out, 8, 20, "b", &allowed, &mut cursor);
        assert_eq!(out, vec![p(2, 4, "a"), p(6, 8, "a"), p(8, 12, "b")]);
    }

    #[test]
    fn coverage_of_a_half_covered_window_is_fifty() {
        let w = Window { since: 0, until: 100 };
        assert_eq!(coverage_percentage(&[e(-50, 25, "a"), e(75, 90, "b"), e(80, 100, "c")], w), 50.0);
        assert_eq!(coverage_percentage(&[], w), 0.0);
        assert_eq!(coverage_percentage(&[e(0, 10, "a")], Window { since: 5, until: 5 }), 0.0);
        assert_eq!(coverage_percentage(&[e(-10, 200, "a")], w), 100.0);
    }

    #[test]
    fn touching_entries_of_one_user_merge_and_others_do_not() {
        let merged = merge_touching(vec![p(0, 5, "a"), p(5, 9, "a"), p(9, 12, "b"), p(13, 14, "b")]);
        assert_eq!(merged, vec![p(0, 9, "a"), p(9, 12, "b"), p(13, 14, "b")]);
    }
}
