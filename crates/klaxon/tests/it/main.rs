//! Klaxon's integration suite: one test binary (each extra binary is another slow link on 2 cores).
//! Every test starts a real server on an ephemeral port with its own temporary data: SQLite by default,
//! PostgreSQL when `KLAXON_TEST_BACKEND=postgres` (the README's test command runs the suite both ways).

// Test support outside #[test] functions (common.rs, per-module helpers) may panic: a failed setup is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]
// The suite drives real servers and child processes, whose waits and deadlines need real time.
#![allow(clippy::disallowed_methods)]

mod binary;
mod common;

mod calendar_feeds;
mod change_events;
mod cli;
mod escalation;
mod escalation_durability;
mod escalation_policies;
mod events;
mod events_durability;
mod foundation;
mod handoff_notifications;
mod incident_rules;
mod incidents;
mod jobs;
mod maintenance_windows;
mod notifications;
mod oncalls;
mod races;
mod schedules;
mod services;
mod teams;
mod timers;
mod users;
mod virtual_week;
