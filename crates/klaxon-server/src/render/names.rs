//! Names for references (`summary`), looked up once per request per object: what handlers that render
//! many references to the same users, services or policies share.

use super::Reference;
use crate::state::App;
use std::collections::HashMap;

/// Resolves names for references, once per request.
pub struct Names<'a> {
    app: &'a App,
    cache: HashMap<(&'static str, String), String>,
}

impl<'a> Names<'a> {
    pub fn new(app: &'a App) -> Self {
        Self { app, cache: HashMap::new() }
    }

    pub async fn name(&mut self, kind: &'static str, id: &str) -> String {
        if let Some(name) = self.cache.get(&(kind, id.to_string())) {
            return name.clone();
        }
        let store = &self.app.store;
        let found = match kind {
            "user" => store.user_any(id).await.ok().flatten().map(|u| u.name),
            "service" => store.service_name(id).await.ok().flatten().map(|(_, n)| n),
            "escalation_policy" => store.escalation_policy_name(id).await.ok().flatten().map(|(_, n)| n),
            "incident" => {
                store.incident(id).await.ok().flatten().map(|i| format!("[#{}] {}", i.incident_number, i.title))
            }
            _ => None,
        };
        let name = found.unwrap_or_else(|| id.to_string());
        self.cache.insert((kind, id.to_string()), name.clone());
        name
    }

    pub async fn reference(&mut self, kind: &'static str, id: &str) -> Reference {
        let collection = match kind {
            "user" => "users",
            "service" => "services",
            "escalation_policy" => "escalation_policies",
            "integration" => "integrations",
            "incident" => "incidents",
            _ => "resources",
        };
        let name = self.name(kind, id).await;
        self.app.reference(kind, collection, id, name)
    }

    /// A reference from a stored `<kind>_reference` type and id.
    pub async fn agent(&mut self, agent_type: Option<&str>, agent_id: Option<&str>) -> Option<Reference> {
        let id = agent_id?;
        let kind = match agent_type? {
            "user_reference" => "user",
            "service_reference" => "service",
            "integration_reference" => "integration",
            _ => return None,
        };
        Some(self.reference(kind, id).await)
    }
}
