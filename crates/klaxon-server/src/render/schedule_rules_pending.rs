//! TEMPORARY stand-in for `klaxon_core::schedule`'s rendering and validation (branch `sched-core`, written
//! concurrently), so the schedules API builds and its storage tests run before that work lands. It renders
//! no entries and holds no rule; it is deleted when `sched-core` is merged.

pub use klaxon_core::schedule::*;
use klaxon_core::validate::FieldError;

pub struct RenderedLayer {
    pub id: String,
    pub entries: Vec<Entry>,
    pub coverage_percentage: f64,
}

pub struct RenderedPart {
    pub entries: Vec<Entry>,
    pub coverage_percentage: f64,
}

pub struct Rendered {
    pub layers: Vec<RenderedLayer>,
    pub overrides: RenderedPart,
    pub final_schedule: RenderedPart,
}

pub fn render(schedule: &Schedule, _overrides: &[Override], _window: Window, _overflow: bool) -> Rendered {
    let empty = || RenderedPart { entries: Vec::new(), coverage_percentage: 0.0 };
    Rendered {
        layers: schedule
            .layers
            .iter()
            .map(|l| RenderedLayer { id: l.id.clone(), entries: Vec::new(), coverage_percentage: 0.0 })
            .collect(),
        overrides: empty(),
        final_schedule: empty(),
    }
}

pub fn parse_time_of_day(raw: &str) -> Result<jiff::civil::Time, FieldError> {
    jiff::civil::Time::strptime("%H:%M:%S", raw).map_err(|_| FieldError::new("start_time_of_day", "must be HH:MM:SS"))
}

pub fn validate_layers(_layers: &[Layer]) -> Vec<FieldError> {
    Vec::new()
}
