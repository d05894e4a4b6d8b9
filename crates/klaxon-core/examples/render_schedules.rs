//! Renders final schedules in bulk: the on-call issue's first benchmark target (1,000 schedules of 3
//! layers over 90 days, under 200 ms on the 2-core machine).
//!
//! Each schedule is in Europe/Berlin (so the window crosses a daylight-saving change), with a daily layer
//! of 5 users, a weekly layer of 4 users restricted to weekday office hours, and a 12-hour layer of 3 users
//! restricted to nights, plus 10 overrides. It prints the time to compute `final_entries` and the full
//! `render` (every layer, the overrides and the final schedule, with overflow) for all of them, best of
//! several runs, and the entries produced.
//!
//! ```text
//! scripts/bench-schedules        # cargo run --release -p klaxon-core --example render_schedules -- [--schedules 1000] [--days 90] [--runs 5]
//! ```

// A benchmark, not production code: it measures real elapsed time and fails loudly on bad arguments.
#![allow(clippy::disallowed_methods, clippy::unwrap_used, clippy::expect_used)]

use jiff::civil::Time;
use jiff::tz::TimeZone;
use klaxon_core::schedule::{self, Layer, Override, Restriction, Schedule, Window};
use std::time::Instant;

const DAY_MS: i64 = 86_400_000;
/// 2026-03-01T00:00:00Z: the 90 days from here cross Berlin's change to summer time.
const START_MS: i64 = 1_772_323_200_000;

fn users(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("P{prefix}{i:05}")).collect()
}

fn schedule(i: usize, zone: &TimeZone) -> (Schedule, Vec<Override>) {
    let anchor = START_MS - 30 * DAY_MS + (i as i64 % 24) * 3_600_000;
    let layer = |n: usize, turn: i64, restrictions: Vec<Restriction>, who: &str| Layer {
        id: format!("PL{i:05}{n}"),
        name: format!("Layer {n}"),
        start: anchor,
        end: None,
        rotation_virtual_start: anchor,
        rotation_turn_length_seconds: turn,
        users: users(&format!("{who}{i}"), [5, 4, 3][n]),
        restrictions,
    };
    let office = (1..=5)
        .map(|day| Restriction::Weekly {
            start_day_of_week: day,
            start_time_of_day: Time::constant(9, 0, 0, 0),
            duration_seconds: 9 * 3600,
        })
        .collect();
    let nights =
        vec![Restriction::Daily { start_time_of_day: Time::constant(22, 0, 0, 0), duration_seconds: 8 * 3600 }];
    let layers = vec![layer(0, 86_400, Vec::new(), "A"), layer(1, 604_800, office, "B"), layer(2, 43_200, nights, "C")];
    let overrides = (0..10)
        .map(|k| Override {
            id: format!("PO{i:05}{k}"),
            user_id: format!("PX{i:05}"),
            start: START_MS + k * 9 * DAY_MS,
            end: START_MS + k * 9 * DAY_MS + 6 * 3_600_000,
            created: k,
        })
        .collect();
    (Schedule { time_zone: zone.clone(), layers }, overrides)
}

fn best_of<T>(runs: usize, mut work: impl FnMut() -> T) -> (f64, T) {
    let mut best = f64::MAX;
    let mut last = None;
    for _ in 0..runs {
        let started = Instant::now();
        let out = work();
        best = best.min(started.elapsed().as_secs_f64() * 1000.0);
        last = Some(out);
    }
    (best, last.unwrap())
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let option = |name: &str, default: usize| -> usize {
        args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).map_or(default, |v| v.parse().unwrap())
    };
    let (count, days, runs) = (option("--schedules", 1000), option("--days", 90), option("--runs", 5));
    let zone = schedule::zone("Europe/Berlin", jiff::tz::db()).expect("the tz database has Europe/Berlin");
    let schedules: Vec<(Schedule, Vec<Override>)> = (0..count).map(|i| schedule(i, &zone)).collect();
    let window = Window { since: START_MS, until: START_MS + days as i64 * DAY_MS };
    println!("{count} schedules (Europe/Berlin, 3 layers, 10 overrides each) over {days} days, best of {runs}");
    let (ms, entries) =
        best_of(runs, || schedules.iter().map(|(s, o)| schedule::final_entries(s, o, window).len()).sum::<usize>());
    println!("final_entries: {ms:8.1} ms  ({entries} final entries)");
    let (ms, entries) = best_of(runs, || {
        schedules
            .iter()
            .map(|(s, o)| {
                let r = schedule::render(s, o, window, true);
                r.layers.iter().map(|l| l.entries.len()).sum::<usize>() + r.final_schedule.entries.len()
            })
            .sum::<usize>()
    });
    println!("render (all layers, overrides, final; overflow): {ms:8.1} ms  ({entries} entries)");
}
