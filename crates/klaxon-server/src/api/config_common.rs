//! Rendering and validation helpers shared by the configuration endpoints (escalation policies,
//! services, integrations, maintenance windows): team and user objects, `sort_by`, team references.

use crate::app::App;
use crate::error::{ApiError, ApiResult};
use crate::extract::Params;
use crate::render::{IdRef, Reference};
use serde_json::{Value, json};

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

/// `sort_by=name`, `name:asc` or `name:desc`; true for descending.
pub fn sort_descending(params: &Params) -> ApiResult<bool> {
    match params.get("sort_by") {
        None | Some("name") | Some("name:asc") => Ok(false),
        Some("name:desc") => Ok(true),
        Some(other) => Err(ApiError::field(
            "sort_by",
            &format!("has an unsupported value '{other}' (supported: name, name:asc, name:desc)"),
        )),
    }
}

/// Whether a sent reference `type` is `base` or `base_reference` (or absent).
pub fn type_is(kind: &Option<String>, base: &str) -> bool {
    match kind.as_deref() {
        None => true,
        Some(k) => k == base || k.strip_suffix("_reference") == Some(base),
    }
}

/// Checks team references (`field` names the array, e.g. `service.teams`): each must be a live team.
/// Returns the ids, deduplicated in order; problems are pushed onto `errors`.
pub async fn resolve_teams(app: &App, refs: &[IdRef], field: &str, errors: &mut Vec<String>) -> ApiResult<Vec<String>> {
    let mut ids: Vec<String> = Vec::new();
    for (i, r) in refs.iter().enumerate() {
        if !type_is(&r.kind, "team") {
            errors.push(format!("{field}[{i}].type must be team_reference"));
        } else if r.id.trim().is_empty() {
            errors.push(format!("{field}[{i}].id is required"));
        } else if !ids.contains(&r.id) {
            ids.push(r.id.clone());
        }
    }
    if ids.is_empty() {
        return Ok(ids);
    }
    let live = app.store.live_teams_named(&ids).await?;
    for (i, r) in refs.iter().enumerate() {
        if ids.contains(&r.id) && !live.iter().any(|(id, _)| *id == r.id) {
            errors.push(format!("{field}[{i}].id {} not found", r.id));
        }
    }
    Ok(ids)
}

/// Fails with every collected problem, if any.
pub fn check(errors: Vec<String>) -> ApiResult<()> {
    if errors.is_empty() { Ok(()) } else { Err(ApiError::invalid(errors)) }
}
