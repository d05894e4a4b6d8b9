//! The incident command layer's storage side: the one way to change an incident outside the events batch.
//! Each call is one write transaction in which the incident's row is locked, its [`IncidentState`] read,
//! the commands decided by `klaxon_core::command` and their effects written (status, fields,
//! assignments, acknowledgements, alerts, notes, log entries, timers). Entry points (REST, timers, and
//! later the web app, email, SMS, voice and Slack) translate their input into [`Command`]s and an
//! [`Actor`] and call these; none writes incident state or log entries itself.

use crate::{Result, Store, dispatch};
use klaxon_core::actor::Actor;
use klaxon_core::command::{Command, Effects, IncidentState, TimerChange};
use klaxon_core::incident::Urgency;

/// The commands for one incident of a request (named by id or number).
#[derive(Clone, Debug)]
pub struct IncidentCommands {
    pub incident: String,
    pub commands: Vec<Command>,
}

impl IncidentCommands {
    pub fn new(incident: impl Into<String>, commands: Vec<Command>) -> Self {
        Self { incident: incident.into(), commands }
    }
}

/// What one incident's commands did.
#[derive(Clone, Debug)]
pub struct Applied {
    /// The incident's state afterwards.
    pub state: IncidentState,
    pub effects: Effects,
    /// The note a command added.
    pub note_id: Option<String>,
}

/// An incident opened by hand.
#[derive(Clone, Debug)]
pub struct NewIncidentSpec {
    pub title: String,
    pub service_id: String,
    pub escalation_policy_id: Option<String>,
    pub urgency: Urgency,
    pub priority_id: Option<String>,
    pub incident_key: Option<String>,
    pub body_details: Option<String>,
    /// Direct assignees; `None`: the escalation policy's first level.
    pub assignees: Option<Vec<String>>,
    pub conference_number: Option<String>,
    pub conference_url: Option<String>,
    /// Created acknowledged by the actor (they assigned it only to themselves).
    pub acknowledged: bool,
}

/// A change of one alert of an incident (`PUT /incidents/{id}/alerts`).
#[derive(Clone, Debug)]
pub struct AlertChange {
    pub alert_id: String,
    pub status: Option<klaxon_core::incident::AlertStatus>,
    /// Move it to this open incident.
    pub move_to: Option<String>,
}

/// A timer's job came due with this command for its incident.
#[derive(Clone, Debug)]
pub struct TimerFired<'a> {
    pub job_id: &'a str,
    pub owner: &'a str,
    pub incident_id: &'a str,
    pub command: Command,
}

impl Store {
    /// Decides and applies the commands of every named incident in one transaction, all or none. A broken
    /// rule is [`crate::StoreError::Incident`] naming the incident's position in `batch`.
    pub async fn execute(&self, batch: &[IncidentCommands], actor: &Actor, now_ms: i64) -> Result<Vec<Applied>> {
        let applied: Vec<Applied> = dispatch!(self, p => q::commands::execute(p, batch, actor, now_ms))?;
        self.wake_for(applied.iter().map(|a| &a.effects), now_ms);
        self.count_unassignable(applied.iter().filter(|a| a.effects.unassignable).count() as u64);
        Ok(applied)
    }

    /// After a commit: tells this node's runner the earliest timer the effects scheduled, so one due now
    /// runs at once and one due sooner than the timers' queue task would look runs on time
    /// ([`Store::wake_jobs_at`]; PostgreSQL's NOTIFY reaches the other nodes for one due now).
    fn wake_for<'a>(&self, effects: impl Iterator<Item = &'a Effects>, now_ms: i64) {
        let earliest = effects
            .flat_map(|e| e.timers.iter())
            .filter_map(|(_, change)| match change {
                TimerChange::Schedule { due_at } => Some(*due_at),
                TimerChange::Cancel => None,
            })
            .min();
        if let Some(due_at) = earliest {
            self.wake_jobs_at(crate::jobs::kinds::INCIDENT_TIMERS_QUEUE, due_at, now_ms);
        }
    }

    /// One incident's commands (see [`Store::execute`]).
    pub async fn execute_one(
        &self,
        incident: &str,
        commands: Vec<Command>,
        actor: &Actor,
        now_ms: i64,
    ) -> Result<Applied> {
        let mut applied = self.execute(&[IncidentCommands::new(incident, commands)], actor, now_ms).await?;
        applied.pop().ok_or(crate::StoreError::NotFound("incident"))
    }

    /// Opens an incident by hand; answers its id.
    pub async fn open_incident(&self, spec: &NewIncidentSpec, actor: &Actor, now_ms: i64) -> Result<String> {
        let (id, unassignable) = dispatch!(self, p => q::commands::open(p, spec, actor, now_ms))?;
        self.count_unassignable(u64::from(unassignable));
        Ok(id)
    }

    /// Resolves and/or moves alerts of an incident, then resolves the incident by the rules once none of
    /// its alerts is open (answered as the incident's [`Applied`]).
    pub async fn change_alerts(
        &self,
        incident: &str,
        changes: &[AlertChange],
        actor: &Actor,
        now_ms: i64,
    ) -> Result<Option<Applied>> {
        let applied = dispatch!(self, p => q::commands::change_alerts(p, incident, changes, actor, now_ms))?;
        self.wake_for(applied.iter().map(|a| &a.effects), now_ms);
        self.count_unassignable(applied.as_ref().map(|a| u64::from(a.effects.unassignable)).unwrap_or(0));
        Ok(applied)
    }

    /// The live user targets of each level of an escalation policy (index 0 is level 1).
    pub async fn escalation_levels(
        &self,
        policy_id: &str,
        now_ms: i64,
    ) -> Result<(Vec<Vec<String>>, klaxon_core::escalation::Path)> {
        dispatch!(self, p => q::commands::levels_of(p, policy_id, now_ms))
    }

    /// Runs a timer's command, completing its job in the same transaction.
    pub async fn fire_timer(&self, fired: &TimerFired<'_>, now_ms: i64) -> Result<crate::timers::TimerOutcome> {
        let (outcome, unassignable) = dispatch!(self, p => q::commands::fire_timer(p, fired, now_ms))?;
        self.count_unassignable(u64::from(unassignable));
        Ok(outcome)
    }
}
