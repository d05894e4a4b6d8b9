//! SQL shared by both backends. This directory is compiled twice (as `sqlite::q` and `postgres::q`);
//! `Db`, `Pools` and `begin_write` come from whichever backend module includes it. Write SQL that both
//! dialects accept.

#[allow(unused_imports)]
pub(crate) use super::{
    Db, FOR_UPDATE_OF_A, Pools, ROW_LOCKS, accept_events, begin_write, lock_event_processing, run_script,
};
/// Backend-specific job claim (SKIP LOCKED on PostgreSQL), and when a lease's owner is gone.
pub(crate) use super::{LEASE_OWNER_GONE, claim_due_jobs, notify_jobs};

pub mod calendar_feeds;
pub mod change_events;
pub mod commands;
pub mod config_filter;
pub mod contact_methods;
pub mod escalation_policies;
pub mod event_processing;
pub mod events;
#[cfg(feature = "testing")]
pub mod fixtures;
pub mod handoffs;
pub mod incidents;
pub mod integrations;
pub mod jobs;
pub mod log_entries;
pub mod maintenance_windows;
pub mod meta;
pub mod notification_rules;
pub mod notifications;
pub mod oncalls;
pub mod priorities;
pub mod schedules;
pub mod script;
pub mod services;
pub mod teams;
pub mod timers;
pub mod tokens;
pub mod users;
