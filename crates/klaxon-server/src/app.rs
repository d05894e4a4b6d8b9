//! Former home of the state; kept as an alias so code written against `crate::app::App` (modules being
//! rewritten on other branches) still compiles. New code imports `crate::state`; delete this module
//! once nothing uses it.

pub use crate::state::{App, AppBuilder, AppInner};
