//! Teams, as `/teams` renders them and as users embed them (`include[]=teams`).

use crate::error::ApiResult;
use crate::render::Reference;
use crate::state::App;
use klaxon_store::teams::TeamRow;
use serde::Serialize;
use utoipa::ToSchema;

/// A team (`type: "team"`).
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Team {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub summary: String,
    #[serde(rename = "self")]
    pub self_url: String,
    pub html_url: Option<String>,
    pub name: String,
    pub description: Option<String>,
    pub default_role: String,
    pub parent: Option<Reference>,
}

/// A team reference (`team_reference`).
pub fn team_reference(app: &App, team: &TeamRow) -> Reference {
    app.reference("team", "teams", &team.id, team.name.clone())
}

/// A team with its parent as a reference.
pub async fn render_team(app: &App, team: TeamRow) -> ApiResult<Team> {
    let parent = match &team.parent_id {
        Some(parent_id) => app.store.team_any(parent_id).await?.map(|p| team_reference(app, &p)),
        None => None,
    };
    Ok(Team {
        kind: "team",
        summary: team.name.clone(),
        self_url: app.self_url("teams", &team.id),
        html_url: Some(app.html_url("teams", &team.id)),
        id: team.id,
        name: team.name,
        description: team.description,
        default_role: team.default_role,
        parent,
    })
}
