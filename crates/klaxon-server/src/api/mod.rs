//! The PagerDuty-compatible REST API, one module per resource. The router (`crate::router`) registers
//! their routes; shared rendering lives in `crate::render`. A module here may import the state, the
//! extractors, errors, `crate::render` and `config_common` (validation shared by the configuration
//! endpoints), but neither the router nor another resource's module (`tests/layers.rs` checks it).

pub mod abilities;
pub mod change_events;
pub mod config_common;
pub mod escalation_policies;
pub mod ical;
pub mod incidents;
pub mod maintenance_windows;
pub mod notifications;
pub mod oncall_handoff_rules;
pub mod oncalls;
pub mod priorities;
pub mod schedules;
pub mod services;
pub mod teams;
pub mod users;
pub mod vendors;
