//! Shapes shared by every response: references (`{id, type, summary, self, html_url}`), pagination
//! fields, and instants. `self` and `html_url` are absolute URLs under the configured public URL,
//! because real clients refuse to follow links outside their base URL.

use crate::app::App;
use klaxon_core::page::PageRequest;
use serde::{Deserialize, Serialize};
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
