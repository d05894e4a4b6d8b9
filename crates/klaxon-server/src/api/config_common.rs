//! Validation helpers shared by the configuration endpoints (escalation policies, services, integrations,
//! maintenance windows, a user's notification and handoff rules): `sort_by`, reference types, team
//! references, collected errors, a rule's minutes and contact method. The one module
//! under `api/` that other `api/` modules may import; their shared rendering lives in `crate::render`.

use crate::error::{ApiError, ApiResult};
use crate::extract::{Params, Patch};
use crate::render::IdRef;
use crate::state::App;
use klaxon_core::validate::FieldError;

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

/// A resource's `name` and `description` on create (`current` is `None`) or update: a sent name must not be
/// blank, an absent one keeps the current; a sent description (or null) replaces the current. `kind` names
/// the wrapper (`service`) in the problem pushed onto `errors`.
pub fn name_and_description(
    name: Patch<String>,
    description: Patch<String>,
    current: Option<(&str, Option<&str>)>,
    kind: &str,
    errors: &mut Vec<String>,
) -> (String, Option<String>) {
    let name = match name {
        Patch::Value(n) if !n.trim().is_empty() => n.trim().to_string(),
        Patch::Absent if current.is_some() => current.map(|c| c.0.to_string()).unwrap_or_default(),
        _ => {
            errors.push(format!("{kind}.name is required"));
            String::new()
        }
    };
    let description = match description.sent() {
        Some(d) => d,
        None => current.and_then(|c| c.1.map(String::from)),
    };
    (name, description)
}

/// Fails with every collected problem, if any.
pub fn check(errors: Vec<String>) -> ApiResult<()> {
    if errors.is_empty() { Ok(()) } else { Err(ApiError::invalid(errors)) }
}

/// The minutes of a user's rule (`start_delay_in_minutes`, `notify_advance_in_minutes`): required, from 0
/// to `max`.
pub fn rule_minutes(field: &str, value: Option<i64>, max: i64, errors: &mut Vec<FieldError>) -> Option<i32> {
    match value {
        None => errors.push(FieldError::new(field, "is required")),
        Some(m) if (0..=max).contains(&m) => return i32::try_from(m).ok(),
        Some(_) => errors.push(FieldError::new(field, format!("must be from 0 to {max}"))),
    }
    None
}

/// The contact method a user's rule names (`field` is `<rule>.contact_method`): required, with an id.
pub fn rule_contact_method(field: &str, value: Option<IdRef>, errors: &mut Vec<FieldError>) -> Option<String> {
    match value {
        Some(r) if !r.id.trim().is_empty() => Some(r.id),
        _ => {
            errors.push(FieldError::new(field, "is required"));
            None
        }
    }
}
