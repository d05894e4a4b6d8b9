//! Teams: `/teams`, `/teams/{id}`, `/teams/{id}/members`, `/teams/{id}/users/{user_id}` and
//! `/teams/{id}/escalation_policies/{escalation_policy_id}` (PagerDuty REST API v2 shapes).

use crate::error::{ApiError, ApiResult};
use crate::extract::{Auth, JsonBody, Params, Patch, decode_json, read_body};
use crate::render::teams::{Team, render_team};
use crate::render::users::{UserIncludes, render_user, user_reference};
use crate::render::{IdRef, Pagination};
use crate::state::App;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use klaxon_core::page::split_page;
use klaxon_core::role::{Action, Role};
use klaxon_core::validate::{FieldError, required_text};
use klaxon_store::teams::{TeamDeletion, TeamFields, TeamRow};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn routes() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(list_teams, create_team))
        .routes(routes!(get_team, update_team, delete_team))
        .routes(routes!(list_members))
        .routes(routes!(add_member, remove_member))
        .routes(routes!(add_escalation_policy, remove_escalation_policy))
}

#[derive(Serialize, ToSchema)]
pub struct TeamEnvelope {
    pub team: Team,
}

#[derive(Serialize, ToSchema)]
pub struct TeamList {
    pub teams: Vec<Team>,
    #[serde(flatten)]
    pub pagination: Pagination,
}

/// A team member: a user reference (or the full user with `include[]=users`) and their team role.
#[derive(Serialize, ToSchema)]
pub struct Member {
    #[schema(value_type = Object)]
    pub user: Value,
    pub role: String,
}

#[derive(Serialize, ToSchema)]
pub struct MemberList {
    pub members: Vec<Member>,
    #[serde(flatten)]
    pub pagination: Pagination,
}

/// The writable fields of a team. Unknown and read-only fields are ignored.
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
pub struct TeamInput {
    pub name: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub description: Patch<String>,
    pub default_role: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<IdRef>)]
    pub parent: Patch<IdRef>,
}

#[derive(Deserialize, ToSchema)]
pub struct TeamBody {
    pub team: Option<TeamInput>,
}

/// Validates a team's fields, starting from `current` for updates.
fn team_fields(input: TeamInput, current: Option<&TeamRow>) -> ApiResult<TeamFields> {
    let mut errors = Vec::new();
    let name = match (input.name.as_deref(), current) {
        (None, Some(c)) => Some(c.name.clone()),
        (name, _) => required_text("team.name", name, 100).map_err(|e| errors.push(e)).ok(),
    };
    let description = match input.description {
        Patch::Absent => current.and_then(|c| c.description.clone()),
        Patch::Null => None,
        Patch::Value(d) => {
            if d.chars().count() > 1024 {
                errors.push(FieldError::new("team.description", "must be at most 1024 characters"));
            }
            Some(d)
        }
    };
    let default_role = match (input.default_role.as_deref(), current) {
        (None, Some(c)) => Some(c.default_role.clone()),
        (None, None) => Some("manager".to_string()),
        (Some(r @ ("manager" | "none")), _) => Some(r.to_string()),
        (Some(_), _) => {
            errors.push(FieldError::new("team.default_role", "must be manager or none"));
            None
        }
    };
    let parent_id = match input.parent {
        Patch::Absent => current.and_then(|c| c.parent_id.clone()),
        Patch::Null => None,
        Patch::Value(r) => {
            if r.id.trim().is_empty() {
                errors.push(FieldError::new("team.parent.id", "is required"));
            }
            if let Some(kind) = r.kind.as_deref()
                && kind != "team"
                && kind != "team_reference"
            {
                errors.push(FieldError::new("team.parent.type", "must be team_reference"));
            }
            Some(r.id)
        }
    };
    let (Some(name), Some(default_role), true) = (name, default_role, errors.is_empty()) else {
        return Err(ApiError::fields(errors));
    };
    Ok(TeamFields { name, description, default_role, parent_id })
}

async fn live_team(app: &App, id: &str) -> ApiResult<TeamRow> {
    app.store.team(id).await?.ok_or_else(team_not_found)
}

fn team_not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, 6001, "Team Not Found", vec!["Team not found".into()])
}

/// 404 for a missing team keeps PagerDuty's team code (6001).
fn team_error(e: klaxon_store::StoreError) -> ApiError {
    match e {
        klaxon_store::StoreError::NotFound("team") => team_not_found(),
        other => other.into(),
    }
}

/// List teams.
#[utoipa::path(get, path = "/teams", tag = "Teams",
    params(("query" = Option<String>, Query, description = "Case-insensitive part of the name"),
        ("limit" = Option<u32>, Query), ("offset" = Option<u32>, Query), ("total" = Option<bool>, Query)),
    responses((status = 200, body = TeamList)))]
pub async fn list_teams(State(app): State<App>, _auth: Auth, params: Params) -> ApiResult<Json<TeamList>> {
    let page = params.page()?;
    let (rows, total) =
        app.store.list_teams(params.get("query"), page.fetch_limit(), i64::from(page.offset), page.want_total).await?;
    let (rows, more) = split_page(rows, &page);
    let mut teams = Vec::with_capacity(rows.len());
    for row in rows {
        teams.push(render_team(&app, row).await?);
    }
    Ok(Json(TeamList { teams, pagination: Pagination::new(&page, more, total) }))
}

/// Create a team.
#[utoipa::path(post, path = "/teams", tag = "Teams", request_body = TeamBody,
    responses((status = 201, body = TeamEnvelope), (status = 400), (status = 403)))]
pub async fn create_team(
    State(app): State<App>,
    auth: Auth,
    JsonBody(body): JsonBody<TeamBody>,
) -> ApiResult<(StatusCode, Json<TeamEnvelope>)> {
    auth.require(&Action::Configure)?;
    let input = body.team.ok_or_else(|| ApiError::field("team", "is required"))?;
    let fields = team_fields(input, None)?;
    let row = app.store.create_team(&fields, app.now_ms()).await?;
    Ok((StatusCode::CREATED, Json(TeamEnvelope { team: render_team(&app, row).await? })))
}

/// Get a team.
#[utoipa::path(get, path = "/teams/{id}", tag = "Teams", params(("id" = String, Path)),
    responses((status = 200, body = TeamEnvelope), (status = 404)))]
pub async fn get_team(State(app): State<App>, _auth: Auth, Path(id): Path<String>) -> ApiResult<Json<TeamEnvelope>> {
    let row = live_team(&app, &id).await?;
    Ok(Json(TeamEnvelope { team: render_team(&app, row).await? }))
}

/// Update a team (partial; `null` clears `description` and `parent`).
#[utoipa::path(put, path = "/teams/{id}", tag = "Teams", params(("id" = String, Path)), request_body = TeamBody,
    responses((status = 200, body = TeamEnvelope), (status = 400), (status = 403), (status = 404)))]
pub async fn update_team(
    State(app): State<App>,
    auth: Auth,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<TeamBody>,
) -> ApiResult<Json<TeamEnvelope>> {
    auth.require(&Action::Configure)?;
    let current = live_team(&app, &id).await?;
    let input = body.team.ok_or_else(|| ApiError::field("team", "is required"))?;
    let fields = team_fields(input, Some(&current))?;
    let row = app.store.update_team(&id, &fields).await.map_err(team_error)?;
    Ok(Json(TeamEnvelope { team: render_team(&app, row).await? }))
}

/// Delete a team. Refused (6006) while escalation policies, services or subteams reference it.
#[utoipa::path(delete, path = "/teams/{id}", tag = "Teams", params(("id" = String, Path)),
    responses((status = 204), (status = 400, description = "Team has existing associations"), (status = 403),
        (status = 404)))]
pub async fn delete_team(State(app): State<App>, auth: Auth, Path(id): Path<String>) -> ApiResult<StatusCode> {
    auth.require(&Action::Configure)?;
    match app.store.delete_team(&id, app.now_ms()).await.map_err(team_error)? {
        TeamDeletion::Deleted => Ok(StatusCode::NO_CONTENT),
        TeamDeletion::HasAssociations => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            6006,
            "Team has existing associations",
            vec!["escalation policies, services or subteams still belong to this team; remove them first".into()],
        )),
    }
}

/// List a team's members with their team roles.
#[utoipa::path(get, path = "/teams/{id}/members", tag = "Teams",
    params(("id" = String, Path), ("include[]" = Option<Vec<String>>, Query),
        ("limit" = Option<u32>, Query), ("offset" = Option<u32>, Query), ("total" = Option<bool>, Query)),
    responses((status = 200, body = MemberList), (status = 404)))]
pub async fn list_members(
    State(app): State<App>,
    _auth: Auth,
    Path(id): Path<String>,
    params: Params,
) -> ApiResult<Json<MemberList>> {
    let page = params.page()?;
    params.check_includes(&["users"])?;
    let full = params.includes("users");
    live_team(&app, &id).await?;
    let (rows, total) =
        app.store.team_members(&id, page.fetch_limit(), i64::from(page.offset), page.want_total).await?;
    let (rows, more) = split_page(rows, &page);
    let mut members = Vec::with_capacity(rows.len());
    for member in rows {
        let user = if full {
            serde_json::to_value(render_user(&app, member.user, UserIncludes::default()).await?)
        } else {
            serde_json::to_value(user_reference(&app, &member.user))
        }
        .map_err(ApiError::internal)?;
        members.push(Member { user, role: member.role });
    }
    Ok(Json(MemberList { members, pagination: Pagination::new(&page, more, total) }))
}

/// The optional body of `PUT /teams/{id}/users/{user_id}`.
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
pub struct MemberInput {
    /// observer, responder or manager (default manager).
    pub role: Option<String>,
}

/// Add a user to a team, or change their team role. Body optional: `{"role": "responder"}`.
#[utoipa::path(put, path = "/teams/{id}/users/{user_id}", tag = "Teams",
    params(("id" = String, Path), ("user_id" = String, Path)), request_body(content = Option<MemberInput>),
    responses((status = 204), (status = 400), (status = 403), (status = 404)))]
pub async fn add_member(
    State(app): State<App>,
    auth: Auth,
    Path((id, user_id)): Path<(String, String)>,
    request: axum::extract::Request,
) -> ApiResult<StatusCode> {
    auth.require(&Action::Configure)?;
    let body = read_body(request).await?;
    let input = if body.iter().all(u8::is_ascii_whitespace) {
        MemberInput::default()
    } else {
        decode_json::<Option<MemberInput>>(&body)?.unwrap_or_default()
    };
    let role = match input.role.as_deref().unwrap_or("manager") {
        r @ ("observer" | "responder" | "manager") => r.to_string(),
        _ => return Err(ApiError::field("role", "must be observer, responder or manager")),
    };
    live_team(&app, &id).await?;
    let user = app.store.user(&user_id).await?.ok_or_else(|| ApiError::not_found("User"))?;
    if user.role() == Role::ReadOnlyUser && role != "observer" {
        return Err(ApiError::field("role", "must be observer for a read_only_user"));
    }
    app.store.set_team_member(&id, &user_id, &role).await.map_err(team_error)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Remove a user from a team.
#[utoipa::path(delete, path = "/teams/{id}/users/{user_id}", tag = "Teams",
    params(("id" = String, Path), ("user_id" = String, Path)),
    responses((status = 204), (status = 403), (status = 404)))]
pub async fn remove_member(
    State(app): State<App>,
    auth: Auth,
    Path((id, user_id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    auth.require(&Action::Configure)?;
    app.store.remove_team_member(&id, &user_id).await.map_err(team_error)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Add an escalation policy to a team.
#[utoipa::path(put, path = "/teams/{id}/escalation_policies/{escalation_policy_id}", tag = "Teams",
    params(("id" = String, Path), ("escalation_policy_id" = String, Path)),
    responses((status = 204), (status = 403), (status = 404)))]
pub async fn add_escalation_policy(
    State(app): State<App>,
    auth: Auth,
    Path((id, policy_id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    auth.require(&Action::Configure)?;
    app.store.add_team_escalation_policy(&id, &policy_id).await.map_err(team_error)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Remove an escalation policy from a team.
#[utoipa::path(delete, path = "/teams/{id}/escalation_policies/{escalation_policy_id}", tag = "Teams",
    params(("id" = String, Path), ("escalation_policy_id" = String, Path)),
    responses((status = 204), (status = 403), (status = 404)))]
pub async fn remove_escalation_policy(
    State(app): State<App>,
    auth: Auth,
    Path((id, policy_id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    auth.require(&Action::Configure)?;
    app.store.remove_team_escalation_policy(&id, &policy_id).await.map_err(team_error)?;
    Ok(StatusCode::NO_CONTENT)
}
