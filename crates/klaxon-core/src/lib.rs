//! Klaxon's domain core: the rules of on-call, free of I/O.
//!
//! Nothing in this crate reads a clock, touches a network or a disk, or needs an async runtime: every
//! instant is a parameter, so hours of on-call time can be tested in microseconds. A test in
//! `tests/purity.rs` fails if this crate gains a dependency on tokio, sqlx, axum or reqwest.

pub mod actor;
pub mod alert_batch;
pub mod clock;
pub mod command;
pub mod escalation;
pub mod events;
pub mod handoff;
pub mod incident;
pub mod jobs;
pub mod log_entry;
pub mod notification;
pub mod oncall;
pub mod page;
pub mod role;
pub mod schedule;
pub mod service_rules;
pub mod time;
pub mod validate;
