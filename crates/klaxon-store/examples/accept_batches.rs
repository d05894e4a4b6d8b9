//! The events writer alone: `Store::accept_events` in back-to-back batches, without HTTP or wrk.
//!
//! Run by `scripts/bench-accept`, which makes DB (a data directory holding one escalation policy, one
//! service and one Events v2 integration, through the server's own REST API) and passes the integration's
//! routing key. The events are the ones `scripts/bench-events` sends (`scripts/bench/enqueue.lua`), parsed
//! as the server parses them; each batch is committed with `accept_events`, as the server's single writer
//! does (accepting and processing in one transaction). It prints the writer's time per event (best of
//! several runs, each on a fresh copy of DB): the part of the Events API path that one writer serializes, so
//! an A/B of two builds on it is not blurred by wrk and the HTTP tasks sharing the cores.
//!
//! ```text
//! cargo run --release -p klaxon-store --example accept_batches -- DB KEY [--events 20000] [--batch 32] [--runs 5] [--load new|repeat]
//! ```

// A benchmark, not production code: it measures real elapsed time and fails loudly on setup errors.
#![allow(clippy::disallowed_methods, clippy::unwrap_used, clippy::expect_used)]

use klaxon_store::events::InboxItem;
use klaxon_store::{Location, Store};
use std::path::Path;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

const OPEN_KEYS: usize = 300;

fn event_body(key: &str, routing_key: &str, n: usize, mode: &str) -> String {
    format!(
        r#"{{"routing_key":"{routing_key}","event_action":"trigger","dedup_key":"{key}","payload":{{"summary":"bench: {key}","source":"bench-host-{}","severity":"error","component":"bench","custom_details":{{"n":{n},"mode":"{mode}"}}}},"client":"wrk"}}"#,
        n % 16
    )
}

fn item(route: &klaxon_store::events::IntegrationRoute, body: &str) -> InboxItem {
    let obj = klaxon_core::events::parse_object(body.as_bytes()).expect("a JSON object");
    let parsed = klaxon_core::events::parse_v2(&obj, None, "unused").expect("a valid event");
    let event = parsed.event;
    InboxItem::Alert {
        integration_id: route.integration_id.clone(),
        service_id: route.service_id.clone(),
        dedup_key: event.dedup_key.clone(),
        body: serde_json::to_string(&event).expect("serializable"),
        event: Some(Box::new(event)),
    }
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

/// The process's CPU time so far (user and system, all threads), in seconds, from `/proc/self/stat`.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command's closing parenthesis: utime and stime are the 12th and 13th.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<f64> = rest.split_whitespace().skip(11).take(2).map(|f| f.parse().unwrap_or(0.0)).collect();
    fields.iter().sum::<f64>() / 100.0
}

/// One run on a fresh copy: (wall, CPU) seconds spent in `accept_events` for `events` events of `mode`.
async fn run(template: &Path, key: &str, mode: &str, events: usize, batch: usize) -> (f64, f64) {
    let dir = std::env::temp_dir().join(format!("klaxon-accept-{}-{mode}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    copy_dir(template, &dir);
    let store = Store::open(Location::SqliteDir(&dir)).await.unwrap();
    let route = store.integration_route(key).await.unwrap().expect("the routing key exists");
    let tag = now_ms();
    if mode == "repeat" {
        let opening: Vec<InboxItem> =
            (0..OPEN_KEYS).map(|i| item(&route, &event_body(&format!("open-{}", i + 1), key, i, mode))).collect();
        for chunk in opening.chunks(batch) {
            store.accept_events(chunk, now_ms()).await.unwrap();
        }
    }
    // A fixed pseudo-random sequence (90% repeats in `repeat` mode), the same in every run and build.
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let items: Vec<InboxItem> = (0..events)
        .map(|n| {
            let key_of = if mode == "repeat" && next() % 10 != 0 {
                format!("open-{}", next() as usize % OPEN_KEYS + 1)
            } else {
                format!("new-{tag}-{n}")
            };
            item(&route, &event_body(&key_of, key, n, mode))
        })
        .collect();
    let (started, cpu) = (Instant::now(), cpu_seconds());
    for chunk in items.chunks(batch) {
        store.accept_events(chunk, now_ms()).await.unwrap();
    }
    let elapsed = (started.elapsed().as_secs_f64(), cpu_seconds() - cpu);
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
    elapsed
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: accept_batches DB KEY [--events N] [--batch N] [--runs N] [--load new|repeat]";
    let template = Path::new(args.first().expect(usage));
    let key = args.get(1).expect(usage);
    let option = |name: &str, default: &str| -> usize {
        let raw = args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned();
        raw.unwrap_or(default.into()).parse().expect("options are numbers")
    };
    let (events, batch, runs) = (option("--events", "20000"), option("--batch", "32"), option("--runs", "5"));
    println!(
        "{:>7} {:>6} {:>13} {:>15} {:>12} {:>14}",
        "load", "batch", "wall us/event", "(median, best)", "CPU us/event", "(median, best)"
    );
    let modes = args.iter().position(|a| a == "--load").and_then(|i| args.get(i + 1)).cloned();
    let modes: Vec<&str> = match modes.as_deref() {
        Some(m) => vec![m],
        None => vec!["new", "repeat"],
    };
    for mode in modes {
        let (mut wall, mut cpu): (Vec<f64>, Vec<f64>) = (Vec::new(), Vec::new());
        for _ in 0..runs {
            let (w, c) = run(template, key, mode, events, batch).await;
            wall.push(w / events as f64 * 1e6);
            cpu.push(c / events as f64 * 1e6);
        }
        wall.sort_by(f64::total_cmp);
        cpu.sort_by(f64::total_cmp);
        let median = |v: &[f64]| v[v.len() / 2];
        println!(
            "{mode:>7} {batch:>6} {:>13.1} {:>15.1} {:>12.1} {:>14.1}",
            median(&wall),
            wall[0],
            median(&cpu),
            cpu[0]
        );
    }
}
