//! The one place log entries are written. Both the command layer (`queries/commands.rs`, one incident at a
//! time) and the events batch (`queries/event_processing.rs`, many at once) add their entries to a
//! [`Script`] through [`insert`], so the table's columns and their meaning live in one function.

use super::script::Script;
use klaxon_core::actor::{Actor, Agent};
use klaxon_core::log_entry::LogKind;

/// A log entry about to be written.
#[derive(Clone, Debug)]
pub struct NewLogEntry {
    pub id: String,
    pub kind: LogKind,
    pub incident_id: Option<String>,
    pub alert_id: Option<String>,
    pub service_id: Option<String>,
    pub agent: Option<Agent>,
    /// The `channel` object, as JSON.
    pub channel: String,
    pub note: Option<String>,
    pub summary: String,
    /// The user acted upon (assignments).
    pub user_id: Option<String>,
    /// Type-specific fields, as JSON.
    pub details: Option<String>,
    pub created_at: i64,
}

/// The `channel` object of an actor with nothing more to say than its type.
pub fn channel_of(actor: &Actor) -> String {
    serde_json::json!({ "type": actor.channel.as_str() }).to_string()
}

/// Adds the entries, in order, as one statement.
pub fn insert(script: &mut Script, entries: Vec<NewLogEntry>) {
    script.insert_rows(
        "INSERT INTO log_entries (id, type, incident_id, alert_id, service_id, agent_type, agent_id, channel, note,
             summary, user_id, details, created_at)",
        "",
        entries,
        |b, l| {
            let agent_type = l.agent.as_ref().and_then(Agent::reference_type);
            b.push_bind(l.id)
                .push_bind(l.kind.type_name())
                .push_bind(l.incident_id)
                .push_bind(l.alert_id)
                .push_bind(l.service_id)
                .push_bind(agent_type)
                .push_bind(l.agent.and_then(Agent::into_id))
                .push_bind(l.channel)
                .push_bind(l.note)
                .push_bind(l.summary)
                .push_bind(l.user_id)
                .push_bind(l.details)
                .push_bind(l.created_at);
        },
    );
}
