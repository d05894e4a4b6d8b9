//! The turns of one layer: where handoff `k` falls and which turn contains an instant, by arithmetic
//! from the anchor (`rotation_virtual_start`), so the cost of a window never depends on how far the anchor
//! is from it.
//!
//! Whole-day turn lengths advance in calendar days on the schedule's wall clock; any other length
//! advances in elapsed time (see the module documentation of [`crate::schedule`]).

use super::local::{DAY_MS, SECOND_MS, max_ms, min_ms, to_civil, to_instant};
use super::model::Layer;
use jiff::tz::TimeZone;

/// One layer's handoffs in one zone.
#[derive(Clone, Debug)]
pub(crate) struct Rotation<'a> {
    zone: &'a TimeZone,
    kind: Kind,
}

#[derive(Clone, Copy, Debug)]
enum Kind {
    /// handoff(k) = anchor + k × step (instants).
    Elapsed { anchor: i64, step: i64 },
    /// handoff(k) = the instant of civil anchor + k × step (civil milliseconds, whole days).
    Calendar { civil_anchor: i64, step: i64 },
}

impl<'a> Rotation<'a> {
    /// `None` when the turn length is not positive (such a layer has nobody; validation rejects it).
    pub(crate) fn new(layer: &Layer, zone: &'a TimeZone) -> Option<Self> {
        let seconds = layer.rotation_turn_length_seconds;
        if seconds <= 0 {
            return None;
        }
        let step = seconds.saturating_mul(SECOND_MS);
        let kind = if seconds % 86_400 == 0 {
            Kind::Calendar { civil_anchor: to_civil(zone, layer.rotation_virtual_start), step }
        } else {
            Kind::Elapsed { anchor: layer.rotation_virtual_start, step }
        };
        Some(Rotation { zone, kind })
    }

    /// The instant turn `k` starts (saturating at jiff's range). Non-decreasing in `k`.
    pub(crate) fn handoff(&self, k: i64) -> i64 {
        let at = |origin: i64, step: i64| -> Option<i64> {
            let v = i128::from(origin) + i128::from(k) * i128::from(step);
            i64::try_from(v).ok().filter(|v| (min_ms()..=max_ms()).contains(v))
        };
        let saturated = if k < 0 { min_ms() } else { max_ms() };
        match self.kind {
            Kind::Elapsed { anchor, step } => at(anchor, step).unwrap_or(saturated),
            Kind::Calendar { civil_anchor, step } => {
                // The civil range is a little wider than the instant range (offsets), so allow a day.
                let v = i128::from(civil_anchor) + i128::from(k) * i128::from(step);
                match i64::try_from(v) {
                    Ok(civil) if (min_ms() - DAY_MS..=max_ms() + DAY_MS).contains(&civil) => {
                        to_instant(self.zone, civil)
                    }
                    _ => saturated,
                }
            }
        }
    }

    /// The index of the turn containing instant `t`: `handoff(k) <= t < handoff(k + 1)`.
    pub(crate) fn turn_at(&self, t: i64) -> i64 {
        // Inside the range, so that the saturated handoffs at its ends bound the loops below.
        let t = t.clamp(min_ms(), max_ms() - 1);
        let (offset, step) = match self.kind {
            Kind::Elapsed { anchor, step } => (i128::from(t) - i128::from(anchor), step),
            Kind::Calendar { civil_anchor, step } => {
                (i128::from(to_civil(self.zone, t)) - i128::from(civil_anchor), step)
            }
        };
        let estimate = offset.div_euclid(i128::from(step));
        let mut k = i64::try_from(estimate.clamp(i128::from(i64::MIN / 2), i128::from(i64::MAX / 2))).unwrap_or(0);
        // The estimate is exact for elapsed turns; for calendar turns the zone's offsets at `t` and at the
        // handoff may differ by a transition, which moves the answer by at most one turn. The loops end:
        // handoffs are non-decreasing and saturate at the ends of the range, which `t` lies inside.
        while self.handoff(k) > t {
            k -= 1;
        }
        while self.handoff(k + 1) <= t {
            k += 1;
        }
        k
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer(anchor: i64, seconds: i64) -> Layer {
        Layer {
            id: "L".into(),
            name: "L".into(),
            start: anchor,
            end: None,
            rotation_virtual_start: anchor,
            rotation_turn_length_seconds: seconds,
            users: vec!["a".into()],
            restrictions: vec![],
        }
    }

    #[test]
    fn turn_at_is_consistent_with_handoffs_in_both_kinds() {
        let tz = TimeZone::posix("EST5EDT,M3.2.0,M11.1.0").unwrap();
        for seconds in [86_400, 7 * 86_400, 3_600, 43_200, 1] {
            let anchor = 1_420_070_400_000; // 2015-01-01T00:00Z
            let l = layer(anchor, seconds);
            let r = Rotation::new(&l, &tz).unwrap();
            for t in [anchor - 1, anchor, anchor + 1, 1_774_000_000_000, 0, -5_000_000_000_000] {
                let k = r.turn_at(t);
                assert!(r.handoff(k) <= t && t < r.handoff(k + 1), "{seconds} {t} {k}");
            }
        }
    }

    #[test]
    fn huge_turn_lengths_saturate_instead_of_overflowing() {
        let tz = TimeZone::UTC;
        for seconds in [i64::MAX, i64::MAX / 86_400 * 86_400] {
            let l = layer(0, seconds);
            let r = Rotation::new(&l, &tz).unwrap();
            assert_eq!(r.turn_at(1_000), 0);
            assert_eq!(r.handoff(0), 0);
            assert_eq!(r.handoff(1), max_ms());
            assert_eq!(r.handoff(-1), min_ms());
        }
    }
}
