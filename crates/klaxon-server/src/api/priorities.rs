//! `GET /priorities`: the installation's incident priorities, most severe first (P1–P5 are seeded).

use crate::error::ApiResult;
use crate::extract::{Auth, Params};
use crate::render::Pagination;
use crate::state::App;
use axum::Json;
use axum::extract::State;
use klaxon_core::page::split_page;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Priority {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub summary: String,
    #[serde(rename = "self")]
    pub self_url: String,
    pub html_url: Option<String>,
    pub name: String,
    pub description: String,
    pub color: String,
}

#[derive(Serialize, ToSchema)]
pub struct PriorityList {
    pub priorities: Vec<Priority>,
    #[serde(flatten)]
    pub pagination: Pagination,
}

pub fn routes() -> OpenApiRouter<App> {
    OpenApiRouter::new().routes(routes!(list_priorities))
}

/// List priorities, most severe first.
#[utoipa::path(get, path = "/priorities", tag = "Priorities",
    params(("limit" = Option<u32>, Query), ("offset" = Option<u32>, Query), ("total" = Option<bool>, Query)),
    responses((status = 200, body = PriorityList)))]
pub async fn list_priorities(State(app): State<App>, _auth: Auth, params: Params) -> ApiResult<Json<PriorityList>> {
    let page = params.page()?;
    let all = app.store.priorities().await?;
    let total = page.want_total.then_some(all.len() as i64);
    let rows: Vec<_> = all.into_iter().skip(page.offset as usize).take(page.limit as usize + 1).collect();
    let (rows, more) = split_page(rows, &page);
    let priorities = rows
        .into_iter()
        .map(|p| Priority {
            self_url: app.self_url("priorities", &p.id),
            html_url: None,
            kind: "priority",
            summary: p.name.clone(),
            id: p.id,
            name: p.name,
            description: p.description,
            color: p.color,
        })
        .collect();
    Ok(Json(PriorityList { priorities, pagination: Pagination::new(&page, more, total) }))
}
