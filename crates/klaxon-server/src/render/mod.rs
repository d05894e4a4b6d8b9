//! Shared rendering: the response shapes that more than one handler module renders. Here: references
//! (`{id, type, summary, self, html_url}`), pagination fields, instants, team and user objects, stored
//! JSON; in the submodules, the full resources other resources embed (users, teams, services,
//! escalation policies, vendors). `self` and `html_url` are absolute URLs under the configured public
//! URL, because real clients refuse to follow links outside their base URL.
//!
//! Handler modules import from here, never from each other (`tests/layers.rs` checks it); this module
//! depends on the state and the store's rows, never on a handler.

pub mod escalation_policies;
pub mod names;
pub mod schedules;
pub mod services;
pub mod teams;
pub mod users;
pub mod vendors;

use crate::error::ApiResult;
use crate::state::App;
use klaxon_core::page::PageRequest;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

/// A pointer to another resource. `type` is `<kind>_reference`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Reference {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub summary: String,
    #[serde(rename = "self")]
    pub self_url: String,
    pub html_url: Option<String>,
}

/// The pagination fields of every classic list response. `more` is always present; `total` is null
/// unless the request asked for `total=true`.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Pagination {
    pub limit: u32,
    pub offset: u32,
    pub more: bool,
    pub total: Option<i64>,
}

impl Pagination {
    pub fn new(page: &PageRequest, more: bool, total: Option<i64>) -> Self {
        Self { limit: page.limit, offset: page.offset, more, total }
    }
}

impl App {
    /// The absolute API URL of a resource: `<public>/<collection>/<id>`.
    pub fn self_url(&self, collection: &str, id: &str) -> String {
        format!("{}/{collection}/{id}", self.public_url)
    }

    /// The web page of a resource. The web UI serves these paths when it asks for HTML.
    pub fn html_url(&self, collection: &str, id: &str) -> String {
        format!("{}/{collection}/{id}", self.public_url)
    }

    /// A secret calendar feed's URLs `(http_cal_url, web_cal_url)`: `<public>/ical/<collection>/<token>.ics`,
    /// and the same with the `webcal://` scheme (which calendar apps open as a subscription).
    pub fn calendar_urls(&self, collection: &str, token: &str) -> (String, String) {
        let http = format!("{}/ical/{collection}/{token}.ics", self.public_url);
        let rest = http.split_once("://").map_or(http.as_str(), |(_, rest)| rest);
        let web = format!("webcal://{rest}");
        (http, web)
    }

    /// A reference of type `<kind>_reference` to `<collection>/<id>`.
    pub fn reference(&self, kind: &str, collection: &str, id: &str, summary: impl Into<String>) -> Reference {
        Reference {
            id: id.to_string(),
            kind: format!("{kind}_reference"),
            summary: summary.into(),
            self_url: self.self_url(collection, id),
            html_url: Some(self.html_url(collection, id)),
        }
    }
}

/// An instant stored as Unix milliseconds, rendered as PagerDuty does (`2016-01-23T17:49:10Z`).
pub fn time(ms: i64) -> String {
    klaxon_core::time::render_millis(ms)
}

pub fn opt_time(ms: Option<i64>) -> Option<String> {
    ms.map(time)
}

/// `id` when a reference object was sent as `{"id": …, "type": …}`; used to read relationships.
#[derive(Clone, Debug, Deserialize, ToSchema)]
pub struct IdRef {
    pub id: String,
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
}

pub fn team_ref(app: &App, id: &str, name: &str) -> Reference {
    app.reference("team", "teams", id, name)
}

/// A team as a full object (for `include[]=teams`).
pub fn team_object(app: &App, id: &str, name: &str) -> Value {
    json!({
        "id": id, "type": "team", "summary": name, "self": app.self_url("teams", id),
        "html_url": app.html_url("teams", id), "name": name,
    })
}

pub fn user_ref(app: &App, id: &str, name: Option<&str>) -> Reference {
    app.reference("user", "users", id, name.unwrap_or(id))
}

/// A user as a full object (for `include[]=users|targets`); a reference when the user is unknown.
pub async fn user_object(app: &App, id: &str) -> ApiResult<Value> {
    Ok(match app.store.user_any(id).await? {
        Some(u) => json!({
            "id": u.id, "type": "user", "summary": u.name, "self": app.self_url("users", &u.id),
            "html_url": app.html_url("users", &u.id), "name": u.name, "email": u.email, "time_zone": u.time_zone,
            "color": u.color, "role": u.role, "description": u.description, "job_title": u.job_title,
            "avatar_url": u.avatar_url,
        }),
        None => to_value(user_ref(app, id, None)),
    })
}

pub fn to_value<T: serde::Serialize>(v: T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

/// Renders stored JSON text, or null.
pub fn json_or_null(text: Option<&str>) -> Value {
    text.and_then(|t| serde_json::from_str(t).ok()).unwrap_or(Value::Null)
}
