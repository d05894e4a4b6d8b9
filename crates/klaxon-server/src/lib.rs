//! Klaxon's HTTP server and the composition root of the running system. The layers, from the bottom:
//!
//! - [`state`] holds the [`App`]: every dependency (store, clock, metrics, job runner, the Events API's
//!   queue and caches), built once at start and passed explicitly. It depends on no handler.
//! - [`extract`] turns requests into typed inputs (API key, `From` header, query parameters, JSON bodies),
//!   [`error`] turns failures into PagerDuty-shaped error bodies, once, at the boundary, and [`render`]
//!   shapes responses shared by several handlers (references, pagination, users, teams, services,
//!   escalation policies, vendors).
//! - Handlers: [`api`] (the PagerDuty-compatible REST API, one module per resource), [`events`] (the
//!   Events API: durable accept with group commit, and the processor that turns events into alerts and
//!   incidents) and [`health`] (`/healthz`, `/readyz`, `/metrics`). They depend on the state, never on
//!   the router or on each other.
//! - [`router`] builds the axum router and the OpenAPI document (`/openapi.json`) from the handlers;
//!   [`server`] starts the background workers and serves with graceful shutdown.
//! - Job kinds with their handlers: [`timers`] (the incident timers) and [`handoffs`] (the on-call
//!   handoff scan), registered by [`jobs`]' runner.
//!
//! `tests/layers.rs` checks that the arrows point one way.

pub mod api;
pub mod clock;
pub mod config;
pub mod error;
pub mod events;
pub mod extract;
pub mod handoffs;
pub mod health;
pub mod jobs;
pub mod metrics;
pub mod render;
pub mod router;
pub mod server;
pub mod state;
pub mod timers;

pub use config::ServerConfig;
pub use router::{openapi_document, router};
pub use server::serve;
pub use state::{App, AppBuilder, AppInner};
