//! Schedules, as `/schedules` renders them: the stored layers turned into `klaxon_core::schedule`'s model,
//! rendered by its rules over a window, and printed in the requested time zone (PagerDuty prints each
//! instant with that zone's offset, `2015-11-06T20:00:00-05:00`). Layers keep the order they were sent.
//! Also the override objects of `/schedules/{id}/overrides`.

use crate::error::{ApiError, ApiResult};
use crate::render::{Reference, team_object, team_ref, to_value, user_ref};
use crate::state::App;
use jiff::tz::TimeZone;
use klaxon_core::oncall::{Policy, Target};
use klaxon_core::schedule::{self as rules, Layer, Override, Window};
use klaxon_core::time::render_in_zone;
use klaxon_store::oncalls::OncallFacts;
use klaxon_store::schedules::{OverrideRow, RestrictionRow, Schedule};
use serde::Serialize;
use serde_json::Value;
use std::collections::HashMap;
use utoipa::ToSchema;

/// `{"user": {…reference…}}`, as layers list their users.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct LayerUserOut {
    pub user: Reference,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct RestrictionOut {
    /// `daily_restriction` or `weekly_restriction`.
    #[serde(rename = "type")]
    pub kind: String,
    pub start_time_of_day: String,
    /// ISO weekday (1 = Monday), weekly restrictions only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_day_of_week: Option<i32>,
    pub duration_seconds: i64,
}

/// Someone on call from `start` to `end`.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct EntryOut {
    pub start: String,
    pub end: String,
    pub user: Reference,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct LayerOut {
    /// Null only in a preview of a layer sent without an id.
    pub id: Option<String>,
    pub name: String,
    pub start: String,
    pub end: Option<String>,
    pub rotation_virtual_start: String,
    pub rotation_turn_length_seconds: i64,
    pub users: Vec<LayerUserOut>,
    pub restrictions: Vec<RestrictionOut>,
    pub rendered_schedule_entries: Vec<EntryOut>,
    /// Null unless the request gave `since` or `until`.
    pub rendered_coverage_percentage: Option<f64>,
}

/// `final_schedule` and `overrides_subschedule`.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct SubscheduleOut {
    pub name: &'static str,
    pub rendered_schedule_entries: Vec<EntryOut>,
    pub rendered_coverage_percentage: Option<f64>,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ScheduleOut {
    /// Null only in a preview.
    pub id: Option<String>,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub summary: String,
    #[serde(rename = "self")]
    pub self_url: Option<String>,
    pub html_url: Option<String>,
    pub name: String,
    pub description: Option<String>,
    pub time_zone: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedule_layers: Option<Vec<LayerOut>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub overrides_subschedule: Option<SubscheduleOut>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub final_schedule: Option<SubscheduleOut>,
    pub escalation_policies: Vec<Reference>,
    /// The users of the layers, in order of first appearance.
    pub users: Vec<Reference>,
    #[schema(value_type = Vec<Object>)]
    pub teams: Vec<Value>,
    /// With `include_next_oncall_for_user=<user id>`: that user's next (or current) final-schedule shift,
    /// null when none starts within 90 days.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<EntryOut>)]
    pub next_oncall_for_user: Option<Option<EntryOut>>,
    /// The schedule's secret iCalendar feed, with `include[]=calendar_urls`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_cal_url: Option<String>,
    /// The same feed with the `webcal://` scheme, with `include[]=calendar_urls`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub web_cal_url: Option<String>,
}

/// An override: `user` on call from `start` to `end` over every layer.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct OverrideOut {
    pub id: String,
    pub start: String,
    pub end: String,
    pub user: Reference,
}

/// What to render and how.
#[derive(Clone, Debug)]
pub struct RenderOptions {
    pub window: Window,
    /// The zone instants are printed in.
    pub zone: TimeZone,
    /// Whole turns instead of entries clipped to the window.
    pub overflow: bool,
    /// Whether the request gave `since`/`until` (coverage percentages are null otherwise).
    pub coverage: bool,
    pub layers: bool,
    pub overrides_subschedule: bool,
    pub final_schedule: bool,
    /// Expand teams into full objects (`include[]=teams`).
    pub teams: bool,
}

/// The stored schedule as the core's model.
pub fn model(s: &Schedule) -> ApiResult<rules::Schedule> {
    let time_zone = TimeZone::get(&s.row.time_zone).map_err(ApiError::internal)?;
    let mut layers = Vec::with_capacity(s.layers.len());
    for l in &s.layers {
        let restrictions = l.restrictions.iter().map(RestrictionRow::to_rule).collect::<Result<Vec<_>, _>>();
        layers.push(Layer {
            id: l.row.id.clone(),
            name: l.row.name.clone(),
            start: l.row.start_at,
            end: l.row.end_at,
            rotation_virtual_start: l.row.rotation_virtual_start,
            rotation_turn_length_seconds: l.row.rotation_turn_length_seconds,
            users: l.users.iter().map(|(id, _)| id.clone()).collect(),
            restrictions: restrictions.map_err(ApiError::internal)?,
        });
    }
    Ok(rules::Schedule { time_zone, layers })
}

/// Overrides in the core's terms (`created` is the creation order).
pub fn core_overrides(rows: &[OverrideRow]) -> Vec<Override> {
    rows.iter()
        .map(|o| Override {
            id: o.id.clone(),
            user_id: o.user_id.clone(),
            start: o.start_at,
            end: o.end_at,
            created: o.seq,
        })
        .collect()
}

/// The overrides a render over `window` must read: with `overflow`, whole shifts reach past the window by
/// up to [`rules::OVERFLOW_LIMIT_MS`].
pub fn override_window(window: Window, overflow: bool) -> Window {
    if !overflow {
        return window;
    }
    let reach = rules::OVERFLOW_LIMIT_MS;
    Window { since: window.since.saturating_sub(reach), until: window.until.saturating_add(reach) }
}

/// Names of every user the schedule and its overrides mention (deleted users included).
fn user_names(s: &Schedule, overrides: &[OverrideRow]) -> HashMap<String, Option<String>> {
    let mut names = HashMap::new();
    for l in &s.layers {
        for (id, name) in &l.users {
            names.entry(id.clone()).or_insert_with(|| name.clone());
        }
    }
    for o in overrides {
        names.entry(o.user_id.clone()).or_insert_with(|| o.user_name.clone());
    }
    names
}

fn entries(
    app: &App,
    list: &[rules::Entry],
    names: &HashMap<String, Option<String>>,
    zone: &TimeZone,
) -> Vec<EntryOut> {
    list.iter()
        .map(|e| EntryOut {
            start: render_in_zone(e.start, zone),
            end: render_in_zone(e.end, zone),
            user: user_ref(app, &e.user_id, names.get(&e.user_id).and_then(|n| n.as_deref())),
        })
        .collect()
}

/// The final schedule's entries over `window` (for `/schedules/{id}/users` and the on-call lookups).
pub fn final_entries(s: &Schedule, overrides: &[OverrideRow], window: Window) -> ApiResult<Vec<rules::Entry>> {
    Ok(rules::final_entries(&model(s)?, &core_overrides(overrides), window))
}

/// Renders a schedule (a stored one, or a preview's: `preview` leaves `id`, `self` and `html_url` null).
pub fn render_schedule(
    app: &App,
    s: &Schedule,
    overrides: &[OverrideRow],
    options: &RenderOptions,
    preview: bool,
) -> ApiResult<ScheduleOut> {
    let zone = &options.zone;
    let names = user_names(s, overrides);
    let wants_render = options.layers || options.overrides_subschedule || options.final_schedule;
    let rendered = if wants_render {
        Some(rules::render(&model(s)?, &core_overrides(overrides), options.window, options.overflow))
    } else {
        None
    };
    let coverage = |c: f64| options.coverage.then_some(c);
    let schedule_layers = match (&rendered, options.layers) {
        (Some(r), true) => Some(
            s.layers
                .iter()
                .enumerate()
                .map(|(i, l)| {
                    let part = r.layers.get(i);
                    LayerOut {
                        id: (!l.row.id.is_empty()).then(|| l.row.id.clone()),
                        name: l.row.name.clone(),
                        start: render_in_zone(l.row.start_at, zone),
                        end: l.row.end_at.map(|e| render_in_zone(e, zone)),
                        rotation_virtual_start: render_in_zone(l.row.rotation_virtual_start, zone),
                        rotation_turn_length_seconds: l.row.rotation_turn_length_seconds,
                        users: l
                            .users
                            .iter()
                            .map(|(id, name)| LayerUserOut { user: user_ref(app, id, name.as_deref()) })
                            .collect(),
                        restrictions: l
                            .restrictions
                            .iter()
                            .map(|r| RestrictionOut {
                                kind: r.kind.clone(),
                                start_time_of_day: r.start_time_of_day.clone(),
                                start_day_of_week: r.start_day_of_week,
                                duration_seconds: r.duration_seconds,
                            })
                            .collect(),
                        rendered_schedule_entries: part
                            .map(|p| entries(app, &p.entries, &names, zone))
                            .unwrap_or_default(),
                        rendered_coverage_percentage: part.and_then(|p| coverage(p.coverage_percentage)),
                    }
                })
                .collect(),
        ),
        _ => None,
    };
    let part = |name: &'static str, p: &rules::RenderedPart| SubscheduleOut {
        name,
        rendered_schedule_entries: entries(app, &p.entries, &names, zone),
        rendered_coverage_percentage: coverage(p.coverage_percentage),
    };
    let overrides_subschedule = match (&rendered, options.overrides_subschedule) {
        (Some(r), true) => Some(part("Overrides", &r.overrides)),
        _ => None,
    };
    let final_schedule = match (&rendered, options.final_schedule) {
        (Some(r), true) => Some(part("Final Schedule", &r.final_schedule)),
        _ => None,
    };
    let mut users: Vec<Reference> = Vec::new();
    for l in &s.layers {
        for (id, name) in &l.users {
            if !users.iter().any(|u| u.id == *id) {
                users.push(user_ref(app, id, name.as_deref()));
            }
        }
    }
    let row = &s.row;
    let id = (!preview).then(|| row.id.clone());
    Ok(ScheduleOut {
        self_url: id.as_ref().map(|id| app.self_url("schedules", id)),
        html_url: id.as_ref().map(|id| app.html_url("schedules", id)),
        id,
        kind: "schedule",
        summary: row.name.clone(),
        name: row.name.clone(),
        description: row.description.clone(),
        time_zone: row.time_zone.clone(),
        schedule_layers,
        overrides_subschedule,
        final_schedule,
        escalation_policies: s
            .escalation_policies
            .iter()
            .map(|(id, name)| app.reference("escalation_policy", "escalation_policies", id, name.clone()))
            .collect(),
        users,
        teams: s
            .teams
            .iter()
            .map(
                |(id, name)| if options.teams { team_object(app, id, name) } else { to_value(team_ref(app, id, name)) },
            )
            .collect(),
        next_oncall_for_user: None,
        http_cal_url: None,
        web_cal_url: None,
    })
}

/// `user_id`'s next final-schedule shift of `s` from `now` (the one in progress, or the first starting
/// within `horizon_ms`), whole, printed in `zone`; `overrides` must reach [`rules::OVERFLOW_LIMIT_MS`]
/// beyond `[now, now + horizon_ms)`.
pub fn next_oncall(
    app: &App,
    s: &Schedule,
    overrides: &[OverrideRow],
    user_id: &str,
    now: i64,
    horizon_ms: i64,
    zone: &TimeZone,
) -> ApiResult<Option<EntryOut>> {
    let next = rules::next_shift_for_user(&model(s)?, &core_overrides(overrides), user_id, now, horizon_ms);
    let names = user_names(s, overrides);
    Ok(next.map(|e| entries(app, &[e], &names, zone).remove(0)))
}

/// An override printed in `zone`; with a `window` (no overflow) its times are clipped to it.
pub fn render_override(app: &App, o: &OverrideRow, zone: &TimeZone, clip: Option<Window>) -> OverrideOut {
    let (start, end) = match clip {
        Some(w) => (o.start_at.max(w.since), o.end_at.min(w.until)),
        None => (o.start_at, o.end_at),
    };
    OverrideOut {
        id: o.id.clone(),
        start: render_in_zone(start, zone),
        end: render_in_zone(end, zone),
        user: user_ref(app, &o.user_id, o.user_name.as_deref()),
    }
}

/// Stored schedules and their overrides as the core's models, by schedule id.
pub fn models(
    schedules: &[Schedule],
    overrides: &[OverrideRow],
) -> ApiResult<HashMap<String, (rules::Schedule, Vec<Override>)>> {
    let mut out = HashMap::with_capacity(schedules.len());
    for s in schedules {
        let mine: Vec<OverrideRow> = overrides.iter().filter(|o| o.schedule_id == s.row.id).cloned().collect();
        out.insert(s.row.id.clone(), (model(s)?, core_overrides(&mine)));
    }
    Ok(out)
}

/// The on-call facts' policies as the core's model (`klaxon_core::oncall`): each level's targets in
/// order, users directly, schedules with their overrides from `models` (a schedule that is gone is left
/// out). `GET /oncalls` and the handoff scan read policies this one way.
pub fn oncall_policies<'a>(
    facts: &'a OncallFacts,
    models: &'a HashMap<String, (rules::Schedule, Vec<Override>)>,
) -> Vec<Policy<'a>> {
    facts
        .policies
        .iter()
        .map(|p| Policy {
            id: &p.id,
            levels: p
                .rules
                .iter()
                .map(|rule| {
                    rule.targets
                        .iter()
                        .filter_map(|t| match t.target_type.as_str() {
                            "user" => Some(Target::User { id: &t.target_id }),
                            _ => models.get(&t.target_id).map(|(schedule, overrides)| Target::Schedule {
                                id: &t.target_id,
                                schedule,
                                overrides,
                            }),
                        })
                        .collect()
                })
                .collect(),
        })
        .collect()
}

/// Names of every user the schedules and overrides mention (deleted users included).
pub fn user_names_of(schedules: &[Schedule], overrides: &[OverrideRow]) -> HashMap<String, Option<String>> {
    let mut names = HashMap::new();
    for s in schedules {
        names.extend(user_names(s, &[]));
    }
    for o in overrides {
        names.entry(o.user_id.clone()).or_insert_with(|| o.user_name.clone());
    }
    names
}
