//! Escalation policies, as `/escalation_policies` renders them and as services embed them
//! (`include[]=escalation_policies`).

use crate::error::ApiResult;
use crate::render::{team_object, team_ref, to_value, user_object, user_ref};
use crate::state::App;
use klaxon_store::escalation_policies::EscalationPolicy;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct AssignmentStrategy {
    #[serde(rename = "type")]
    pub kind: String,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct RuleOut {
    pub id: String,
    pub escalation_delay_in_minutes: i32,
    /// References (`user_reference`, `schedule_reference`), or full objects with `include[]=targets`.
    #[schema(value_type = Vec<Object>)]
    pub targets: Vec<Value>,
    pub escalation_rule_assignment_strategy: AssignmentStrategy,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct PolicyOut {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub summary: String,
    #[serde(rename = "self")]
    pub self_url: String,
    pub html_url: Option<String>,
    pub name: String,
    pub description: Option<String>,
    pub num_loops: i32,
    pub on_call_handoff_notifications: String,
    pub escalation_rules: Vec<RuleOut>,
    #[schema(value_type = Vec<Object>)]
    pub services: Vec<Value>,
    #[schema(value_type = Vec<Object>)]
    pub teams: Vec<Value>,
}

/// What `include[]` asks to expand.
#[derive(Clone, Copy, Default)]
pub struct PolicyIncludes {
    pub services: bool,
    pub teams: bool,
    pub targets: bool,
}

/// Renders a policy; `include` expands services, teams and targets into full objects.
pub async fn render_policy(app: &App, p: EscalationPolicy, include: PolicyIncludes) -> ApiResult<PolicyOut> {
    let mut rules = Vec::with_capacity(p.rules.len());
    for rule in p.rules {
        let mut targets = Vec::with_capacity(rule.targets.len());
        for t in &rule.targets {
            let value = if t.target_type == "user" {
                if include.targets {
                    user_object(app, &t.target_id).await?
                } else {
                    to_value(user_ref(app, &t.target_id, t.user_name.as_deref()))
                }
            } else {
                let summary = t.schedule_name.clone().unwrap_or_else(|| t.target_id.clone());
                to_value(app.reference("schedule", "schedules", &t.target_id, summary))
            };
            targets.push(value);
        }
        rules.push(RuleOut {
            id: rule.row.id,
            escalation_delay_in_minutes: rule.row.escalation_delay_in_minutes,
            targets,
            escalation_rule_assignment_strategy: AssignmentStrategy { kind: rule.row.assignment_strategy },
        });
    }
    let mut services = Vec::with_capacity(p.services.len());
    for (id, name) in &p.services {
        if include.services
            && let Some(s) = app.store.service(id, true, app.now_ms()).await?
        {
            services.push(to_value(crate::render::services::render_service(app, s, Default::default()).await?));
            continue;
        }
        services.push(to_value(app.reference("service", "services", id, name.clone())));
    }
    let teams = p
        .teams
        .iter()
        .map(|(id, name)| if include.teams { team_object(app, id, name) } else { to_value(team_ref(app, id, name)) })
        .collect();
    let row = p.row;
    Ok(PolicyOut {
        self_url: app.self_url("escalation_policies", &row.id),
        html_url: Some(app.html_url("escalation_policies", &row.id)),
        kind: "escalation_policy",
        summary: row.name.clone(),
        id: row.id,
        name: row.name,
        description: row.description,
        num_loops: row.num_loops,
        on_call_handoff_notifications: row.on_call_handoff_notifications,
        escalation_rules: rules,
        services,
        teams,
    })
}
