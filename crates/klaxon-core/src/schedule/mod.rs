//! On-call schedules: PagerDuty's v2 layer model, as data, and the pure rules that render it.
//!
//! A schedule has a time zone and ordered layers; each layer rotates its ordered users in turns of a fixed
//! length from a phase anchor (`rotation_virtual_start`), between its start and optional end, masked by
//! daily or weekly restrictions read on the wall clock of the schedule's zone. Overrides put one user on
//! call for an interval and beat every layer. Rendering turns that into entries over a window: each
//! layer's, the overrides', and the final schedule (who is on call at each instant; nobody is possible).
//!
//! Instants are Unix milliseconds, as everywhere in the core; zones are jiff's `TimeZone` (the tz database
//! is read by the caller). Nothing here reads a clock.

pub mod model;

pub use model::{Entry, Layer, Override, Restriction, Schedule, Window};
