//! `GET /abilities` and `GET /abilities/{id}`: what this installation can do. Terraform calls the list
//! at start-up to validate credentials.

use crate::error::{ApiError, ApiResult};
use crate::extract::Auth;
use crate::state::App;
use axum::Json;
use axum::extract::Path;
use axum::http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

/// Every ability Klaxon implements. A self-hosted installation has no plan tiers: all are on.
pub const ABILITIES: &[&str] = &[
    "teams",
    "read_only_users",
    "urgencies",
    "service_support_hours",
    "coordinated_responding",
    "manage_schedules",
    "maintenance_windows",
    "change_events",
];

#[derive(Serialize, ToSchema)]
pub struct AbilityList {
    pub abilities: Vec<String>,
}

pub fn routes() -> OpenApiRouter<App> {
    OpenApiRouter::new().routes(routes!(list_abilities)).routes(routes!(test_ability))
}

/// List the account's abilities.
#[utoipa::path(get, path = "/abilities", tag = "Abilities",
    responses((status = 200, body = AbilityList), (status = 401, description = "Missing or wrong API key")))]
pub async fn list_abilities(_auth: Auth) -> Json<AbilityList> {
    Json(AbilityList { abilities: ABILITIES.iter().map(|a| a.to_string()).collect() })
}

/// Test one ability: 204 when the account has it, 402 when it does not.
#[utoipa::path(get, path = "/abilities/{id}", tag = "Abilities",
    params(("id" = String, Path, description = "Ability name")),
    responses((status = 204, description = "The account has the ability"), (status = 402, description = "It does not")))]
pub async fn test_ability(_auth: Auth, Path(id): Path<String>) -> ApiResult<StatusCode> {
    if ABILITIES.contains(&id.as_str()) {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::new(
            StatusCode::PAYMENT_REQUIRED,
            2014,
            "Missing Account Ability",
            vec![format!("{id} is not an ability of this account")],
        ))
    }
}
