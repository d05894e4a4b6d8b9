//! Klaxon's HTTP server and the composition root of the running system.
//!
//! - [`app`] builds the [`App`] (every dependency, built once at start and passed explicitly) and the
//!   router, and runs it with graceful shutdown.
//! - [`api`] holds the PagerDuty-compatible REST API, one module per resource.
//! - [`extract`] turns requests into typed inputs (API key, `From` header, query parameters, JSON bodies)
//!   and [`error`] turns failures into PagerDuty-shaped error bodies, once, at the boundary.
//! - [`events`] is the Events API (v2, v1, change events): durable accept with group commit, and the
//!   processor that turns events into alerts and incidents.
//! - [`health`] serves `/healthz`, `/readyz`, `/metrics` and `/openapi.json`.

pub mod api;
pub mod app;
pub mod clock;
pub mod config;
pub mod error;
pub mod events;
pub mod extract;
pub mod health;
pub mod jobs;
pub mod metrics;
pub mod render;
pub mod timers;

pub use app::{App, serve};
pub use config::ServerConfig;
