//! `GET /oncalls`: who is on call for which escalation policy and level, over a window (PagerDuty §2.12).
//!
//! The facts (live policies, their rules and targets, the targeted schedules with their layers, and those
//! schedules' overrides) are read in a fixed number of queries (`Store::oncall_facts`), and turned into
//! entries by `klaxon_core::oncall`: a direct user target is one entry with null `start`/`end`
//! (permanent) and a null `schedule`; a schedule target gives its whole merged final-schedule shifts that
//! overlap the window (a shift ending exactly at `since` is not included).
//!
//! Decisions where PagerDuty's documentation is loose:
//! - `since` and `until` default to now; an absent bound takes the other's value when now falls on the
//!   wrong side of it. `until` before `since` is 400 (code 2004), `until` more than 90 days after now is
//!   400 naming `until`. `since == until` asks about that instant.
//! - Order: by escalation policy (name, then id), then level, then start (permanent entries first), then
//!   target order. `user_ids[]` and `schedule_ids[]` filter the entries (a `schedule_ids[]` value `null`
//!   selects direct user targets); `earliest=true` applies before them, per (policy, level, user).
//! - Times are printed in `time_zone` (default UTC, the account zone).
//! - `include[]` expands each distinct policy, user or schedule of the page into its full object (one
//!   lookup per distinct object, at most a page's worth).

use crate::error::{ApiError, ApiResult};
use crate::extract::{Auth, Params};
use crate::render::escalation_policies::{PolicyIncludes, render_policy};
use crate::render::schedules::{
    RenderOptions, models, oncall_policies, override_window, render_schedule, user_names_of,
};
use crate::render::{Pagination, to_value, user_object, user_ref};
use crate::state::App;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use jiff::tz::TimeZone;
use klaxon_core::oncall::{self, OnCall};
use klaxon_core::page::split_page;
use klaxon_core::schedule::Window;
use klaxon_core::time::render_in_zone;
use serde::Serialize;
use serde_json::Value;
use std::collections::HashMap;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn routes() -> OpenApiRouter<App> {
    OpenApiRouter::new().routes(routes!(list_oncalls))
}

/// How far ahead of now `until` may reach.
pub const MAX_AHEAD_MS: i64 = 90 * 24 * 3600 * 1000;

/// One on-call entry.
#[derive(Serialize, ToSchema)]
pub struct OncallOut {
    /// A reference, or the full policy with `include[]=escalation_policies`.
    #[schema(value_type = Object)]
    pub escalation_policy: Value,
    /// From 1.
    pub escalation_level: u32,
    /// Null for a direct user target; a reference, or the full schedule with `include[]=schedules`.
    #[schema(value_type = Option<Object>)]
    pub schedule: Option<Value>,
    /// A reference, or the full user with `include[]=users`.
    #[schema(value_type = Object)]
    pub user: Value,
    /// Null (with `end`): permanently on call through a direct user target.
    pub start: Option<String>,
    pub end: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct OncallList {
    pub oncalls: Vec<OncallOut>,
    #[serde(flatten)]
    pub pagination: Pagination,
}

/// The window of `since`/`until` (see the module comment).
fn window(app: &App, params: &Params) -> ApiResult<Window> {
    let now = app.now_ms();
    let (since, until) = (params.instant("since")?, params.instant("until")?);
    let since = since.unwrap_or_else(|| until.map_or(now, |u| u.min(now)));
    let until = until.unwrap_or(since.max(now));
    let invalid = |why: &str| ApiError::new(StatusCode::BAD_REQUEST, 2004, "Invalid since/until", vec![why.into()]);
    if until < since {
        return Err(invalid("until must not be before since"));
    }
    if until > now.saturating_add(MAX_AHEAD_MS) {
        return Err(invalid("until must be at most 90 days after now"));
    }
    Ok(Window { since, until })
}

/// List on-call entries.
#[utoipa::path(get, path = "/oncalls", tag = "On-Calls",
    params(("time_zone" = Option<String>, Query, description = "Print times in this zone (default UTC)"),
           ("include[]" = Option<Vec<String>>, Query, description = "escalation_policies, users, schedules"),
           ("user_ids[]" = Option<Vec<String>>, Query),
           ("escalation_policy_ids[]" = Option<Vec<String>>, Query),
           ("schedule_ids[]" = Option<Vec<String>>, Query, description = "`null` selects direct user targets"),
           ("since" = Option<String>, Query, description = "Default now"),
           ("until" = Option<String>, Query, description = "Default now; at most 90 days ahead"),
           ("earliest" = Option<bool>, Query, description = "Only the earliest entry per policy, level and user"),
           ("limit" = Option<u32>, Query), ("offset" = Option<u32>, Query), ("total" = Option<bool>, Query)),
    responses((status = 200, body = OncallList), (status = 400, description = "Bad parameter")))]
pub async fn list_oncalls(State(app): State<App>, _auth: Auth, params: Params) -> ApiResult<Json<OncallList>> {
    let page = params.page()?;
    params.check_includes(&["escalation_policies", "users", "schedules"])?;
    let window = window(&app, &params)?;
    let zone_name = params.get("time_zone").unwrap_or("UTC");
    let zone = TimeZone::get(zone_name)
        .map_err(|_| ApiError::field("time_zone", &format!("'{zone_name}' is not an IANA time zone")))?;
    let earliest = params.bool("earliest")?.unwrap_or(false);
    let user_ids = params.list("user_ids");
    let schedule_ids = params.list("schedule_ids");

    let reach = override_window(Window { since: window.since, until: window.until.max(window.since + 1) }, true);
    let facts = app.store.oncall_facts(&params.list("escalation_policy_ids"), reach.since, reach.until).await?;
    let models = models(&facts.schedules, &facts.overrides)?;
    let policies = oncall_policies(&facts, &models);
    let mut entries = oncall::oncalls(&policies, window);
    if earliest {
        entries = oncall::earliest(entries);
    }
    entries.retain(|e| {
        (user_ids.is_empty() || user_ids.contains(&e.user))
            && (schedule_ids.is_empty()
                || schedule_ids.iter().any(|s| match &e.schedule {
                    Some(id) => s == id,
                    None => s == "null",
                }))
    });
    let total = page.want_total.then_some(entries.len() as i64);
    let rows: Vec<OnCall> = entries.into_iter().skip(page.offset as usize).take(page.fetch_limit() as usize).collect();
    let (rows, more) = split_page(rows, &page);

    // Names for references, and the full objects include[] asks for (once per distinct object).
    let mut user_names = user_names_of(&facts.schedules, &facts.overrides);
    for rule in facts.policies.iter().flat_map(|p| &p.rules) {
        for t in rule.targets.iter().filter(|t| t.target_type == "user") {
            user_names.entry(t.target_id.clone()).or_insert_with(|| t.user_name.clone());
        }
    }
    let policy_names: HashMap<&str, &str> = facts.policies.iter().map(|p| (p.id.as_str(), p.name.as_str())).collect();
    let schedules: HashMap<&str, &klaxon_store::schedules::Schedule> =
        facts.schedules.iter().map(|s| (s.row.id.as_str(), s)).collect();
    let mut expanded: HashMap<(&'static str, String), Value> = HashMap::new();
    let mut oncalls = Vec::with_capacity(rows.len());
    for e in rows {
        let policy_key = ("escalation_policy", e.escalation_policy.clone());
        if params.includes("escalation_policies")
            && !expanded.contains_key(&policy_key)
            && let Some(p) = app.store.escalation_policy(&e.escalation_policy, true).await?
        {
            expanded.insert(policy_key.clone(), to_value(render_policy(&app, p, PolicyIncludes::default()).await?));
        }
        let user_key = ("user", e.user.clone());
        if params.includes("users") && !expanded.contains_key(&user_key) {
            expanded.insert(user_key.clone(), user_object(&app, &e.user).await?);
        }
        let schedule = match &e.schedule {
            None => None,
            Some(id) => {
                let key = ("schedule", id.clone());
                if params.includes("schedules")
                    && !expanded.contains_key(&key)
                    && let Some(s) = schedules.get(id.as_str())
                {
                    let options = RenderOptions {
                        window,
                        zone: zone.clone(),
                        overflow: false,
                        coverage: false,
                        layers: false,
                        overrides_subschedule: false,
                        final_schedule: false,
                        teams: false,
                    };
                    expanded.insert(key.clone(), to_value(render_schedule(&app, s, &[], &options, false)?));
                }
                Some(expanded.get(&key).cloned().unwrap_or_else(|| {
                    let name = schedules.get(id.as_str()).map_or(id.as_str(), |s| s.row.name.as_str());
                    to_value(app.reference("schedule", "schedules", id, name))
                }))
            }
        };
        oncalls.push(OncallOut {
            escalation_policy: expanded.get(&policy_key).cloned().unwrap_or_else(|| {
                let name = policy_names.get(e.escalation_policy.as_str()).copied().unwrap_or(&e.escalation_policy);
                to_value(app.reference("escalation_policy", "escalation_policies", &e.escalation_policy, name))
            }),
            escalation_level: e.escalation_level,
            schedule,
            user: expanded.get(&user_key).cloned().unwrap_or_else(|| {
                to_value(user_ref(&app, &e.user, user_names.get(&e.user).and_then(|n| n.as_deref())))
            }),
            start: e.start.map(|t| render_in_zone(t, &zone)),
            end: e.end.map(|t| render_in_zone(t, &zone)),
        });
    }
    Ok(Json(OncallList { oncalls, pagination: Pagination::new(&page, more, total) }))
}
