//! `GET /vendors` and `GET /vendors/{id}`: a small static catalogue of monitoring tools, enough for
//! Terraform's `pagerduty_vendor` data source and for integrations' `vendor` references.

use crate::error::{ApiError, ApiResult};
use crate::extract::{Auth, Params};
use crate::render::Pagination;
use crate::render::vendors::VENDORS;
use crate::state::App;
use axum::Json;
use axum::extract::{Path, State};
use klaxon_core::page::split_page;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Vendor {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub summary: String,
    #[serde(rename = "self")]
    pub self_url: String,
    pub html_url: Option<String>,
    pub name: String,
    pub website_url: String,
    pub description: String,
    pub generic_service_type: String,
    pub logo_url: Option<String>,
    pub thumbnail_url: Option<String>,
    pub long_name: String,
    pub integration_guide_url: Option<String>,
    pub alert_creation_default: String,
    pub alert_creation_editable: bool,
    pub is_pd_cef: bool,
}

#[derive(Serialize, ToSchema)]
pub struct VendorResponse {
    pub vendor: Vendor,
}

#[derive(Serialize, ToSchema)]
pub struct VendorList {
    pub vendors: Vec<Vendor>,
    #[serde(flatten)]
    pub pagination: Pagination,
}

pub fn routes() -> OpenApiRouter<App> {
    OpenApiRouter::new().routes(routes!(list_vendors)).routes(routes!(get_vendor))
}

fn render(app: &App, v: &(&str, &str, &str, &str, &str)) -> Vendor {
    Vendor {
        id: v.0.into(),
        kind: "vendor",
        summary: v.1.into(),
        self_url: app.self_url("vendors", v.0),
        html_url: None,
        name: v.1.into(),
        website_url: v.2.into(),
        description: v.3.into(),
        generic_service_type: v.4.into(),
        logo_url: None,
        thumbnail_url: None,
        long_name: v.1.into(),
        integration_guide_url: None,
        alert_creation_default: "create_alerts_and_incidents".into(),
        alert_creation_editable: true,
        is_pd_cef: false,
    }
}

/// List vendors (`query` searches names case-insensitively).
#[utoipa::path(get, path = "/vendors", tag = "Vendors",
    params(("query" = Option<String>, Query), ("limit" = Option<u32>, Query), ("offset" = Option<u32>, Query),
           ("total" = Option<bool>, Query)),
    responses((status = 200, body = VendorList)))]
pub async fn list_vendors(State(app): State<App>, _auth: Auth, params: Params) -> ApiResult<Json<VendorList>> {
    let page = params.page()?;
    let query = params.get("query").map(str::to_lowercase);
    let matching: Vec<_> =
        VENDORS.iter().filter(|v| query.as_ref().is_none_or(|q| v.1.to_lowercase().contains(q.as_str()))).collect();
    let total = page.want_total.then_some(matching.len() as i64);
    let rows: Vec<_> = matching.into_iter().skip(page.offset as usize).take(page.limit as usize + 1).collect();
    let (rows, more) = split_page(rows, &page);
    let vendors = rows.into_iter().map(|v| render(&app, v)).collect();
    Ok(Json(VendorList { vendors, pagination: Pagination::new(&page, more, total) }))
}

/// Get a vendor.
#[utoipa::path(get, path = "/vendors/{id}", tag = "Vendors", params(("id" = String, Path)),
    responses((status = 200, body = VendorResponse), (status = 404, description = "No such vendor")))]
pub async fn get_vendor(
    State(app): State<App>,
    _auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<VendorResponse>> {
    let v = VENDORS.iter().find(|v| v.0 == id).ok_or_else(|| ApiError::not_found("Vendor"))?;
    Ok(Json(VendorResponse { vendor: render(&app, v) }))
}
