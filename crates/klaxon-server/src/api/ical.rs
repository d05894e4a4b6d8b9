//! Secret iCalendar feeds (RFC 5545) of on-call shifts: `GET /ical/schedules/{token}.ics` (a schedule's
//! final-schedule shifts, everyone's) and `GET /ical/users/{token}.ics` (one user's final-schedule shifts
//! across every schedule they are in). The token in the path is the only secret: calendar clients send no
//! API key, so an unknown token is a plain 404. The URLs are shown with `include[]=calendar_urls` on
//! schedules and users (`http_cal_url`, `web_cal_url`); a token has about 256 random bits.
//!
//! A feed covers from one week before now to 90 days after (whole shifts overlapping that window), with
//! `DTSTAMP` from the injected clock; the events are written by `klaxon_core::schedule::ical_parts`.

use crate::error::{ApiError, ApiResult};
use crate::render::schedules::{models, override_window, user_names_of};
use crate::state::App;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use klaxon_core::schedule::{self as rules, FeedKind, FeedPart, Window};
use klaxon_store::calendar_feeds::FeedOwner;
use klaxon_store::schedules::Schedule;
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn routes() -> OpenApiRouter<App> {
    OpenApiRouter::new().routes(routes!(schedule_feed)).routes(routes!(user_feed))
}

const DAY_MS: i64 = 24 * 3600 * 1000;
/// How far back a feed reaches.
pub const FEED_PAST_MS: i64 = 7 * DAY_MS;
/// How far ahead a feed reaches.
pub const FEED_AHEAD_MS: i64 = 90 * DAY_MS;

/// `<token>.ics` → `<token>`; anything else is no feed.
fn token_of(file: &str) -> ApiResult<&str> {
    file.strip_suffix(".ics").filter(|t| !t.is_empty()).ok_or_else(|| ApiError::not_found("Calendar feed"))
}

async fn owner(app: &App, kind: FeedOwner, file: &str) -> ApiResult<String> {
    app.store.calendar_feed_owner(kind, token_of(file)?).await?.ok_or_else(|| ApiError::not_found("Calendar feed"))
}

fn calendar(body: String) -> Response {
    ([(header::CONTENT_TYPE, "text/calendar; charset=utf-8")], body).into_response()
}

/// The feed's window and the whole shifts of `schedules` in it, per schedule, keeping `keep`'s entries.
async fn shifts(
    app: &App,
    schedules: &[Schedule],
    now: i64,
    keep: impl Fn(&rules::Entry) -> bool,
) -> ApiResult<Vec<Vec<rules::Entry>>> {
    let window = Window { since: now.saturating_sub(FEED_PAST_MS), until: now.saturating_add(FEED_AHEAD_MS) };
    let reach = override_window(window, true);
    let ids: Vec<String> = schedules.iter().map(|s| s.row.id.clone()).collect();
    let overrides = if ids.is_empty() {
        Vec::new()
    } else {
        app.store.overrides_of_schedules(&ids, reach.since, reach.until).await?
    };
    let models = models(schedules, &overrides)?;
    Ok(schedules
        .iter()
        .map(|s| match models.get(&s.row.id) {
            Some((model, overrides)) => {
                rules::oncall_shifts(model, overrides, window).into_iter().filter(|e| keep(e)).collect()
            }
            None => Vec::new(),
        })
        .collect())
}

/// A schedule's calendar feed.
#[utoipa::path(get, path = "/ical/schedules/{file}", tag = "Schedules", security(()),
    params(("file" = String, Path, description = "`<token>.ics`, the secret of the schedule's http_cal_url")),
    responses((status = 200, description = "text/calendar (RFC 5545)", content_type = "text/calendar"),
              (status = 404, description = "No such feed")))]
pub async fn schedule_feed(State(app): State<App>, Path(file): Path<String>) -> ApiResult<Response> {
    let id = owner(&app, FeedOwner::Schedule, &file).await?;
    let schedules = app.store.live_schedules(std::slice::from_ref(&id)).await?;
    let Some(schedule) = schedules.first() else { return Err(ApiError::not_found("Calendar feed")) };
    let now = app.now_ms();
    let entries = shifts(&app, &schedules, now, |_| true).await?;
    let names = user_names_of(&schedules, &[]);
    let part = FeedPart {
        schedule_id: &schedule.row.id,
        schedule_name: &schedule.row.name,
        entries: entries.first().map_or(&[][..], Vec::as_slice),
    };
    let body = rules::ical_parts(&schedule.row.name, FeedKind::Schedule, now, &[part], |user| {
        names.get(user).cloned().flatten().unwrap_or_else(|| user.to_string())
    });
    Ok(calendar(body))
}

/// A user's calendar feed: their shifts in every schedule.
#[utoipa::path(get, path = "/ical/users/{file}", tag = "Users", security(()),
    params(("file" = String, Path, description = "`<token>.ics`, the secret of the user's http_cal_url")),
    responses((status = 200, description = "text/calendar (RFC 5545)", content_type = "text/calendar"),
              (status = 404, description = "No such feed")))]
pub async fn user_feed(State(app): State<App>, Path(file): Path<String>) -> ApiResult<Response> {
    let user_id = owner(&app, FeedOwner::User, &file).await?;
    let Some(user) = app.store.user(&user_id).await? else { return Err(ApiError::not_found("Calendar feed")) };
    let schedules = app.store.schedules_of_user(&user.id).await?;
    let now = app.now_ms();
    let entries = shifts(&app, &schedules, now, |e| e.user_id == user.id).await?;
    let parts: Vec<FeedPart<'_>> = schedules
        .iter()
        .zip(&entries)
        .map(|(s, entries)| FeedPart { schedule_id: &s.row.id, schedule_name: &s.row.name, entries })
        .collect();
    let name = format!("{} on call", user.name);
    let body = rules::ical_parts(&name, FeedKind::User, now, &parts, |_| user.name.clone());
    Ok(calendar(body))
}
