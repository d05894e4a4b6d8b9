//! A batch of alert events applied at once: PagerDuty's dedup, acknowledge and resolve rules
//! ([`crate::events::decide`]) over many events, in arrival order, against the open alerts they touch.
//!
//! Pure: the store loads the [`Facts`] (the services named, the open alerts of the batch's dedup keys and
//! the incidents behind them), asks [`plan`] for a [`Plan`], and writes it set-based: a handful of
//! statements however many events the batch holds. Events of one batch see each other's effects (a
//! trigger then a resolve of the same key opens and closes one alert), and the plan holds each touched
//! row's *final* state, so new rows are inserted as they end up and existing rows are updated once.
//!
//! The rules, per event:
//! - a deleted service drops the event;
//! - an open alert whose incident was resolved some other way (REST, a timer) is stale: it is resolved,
//!   and the event acts as if no alert were open;
//! - trigger on an open alert: counted on it, with a trigger log entry (no new incident, no page);
//! - trigger with no open alert: for a disabled service or one in a maintenance window, a *suppressed*
//!   alert (or one more count on the open suppressed alert); otherwise a new alert and, through the
//!   replaceable grouping step ([`choose_incident`]), a new incident with the service's urgency
//!   ([`UrgencyRule::urgency`] of the event's severity and whether the service's support hours contain
//!   the event's arrival), assigned to the escalation policy's first responders (which resolves an open
//!   suppressed alert it replaces);
//! - acknowledge: acknowledges the open alert's incident if it is triggered;
//! - resolve: resolves the open alert (and an open suppressed one), and the incident once none of its
//!   alerts is open;
//! - acknowledge or resolve of a key with no open alert: dropped, as on PagerDuty.
//!
//! Every change of an incident is decided by the command layer ([`crate::command::decide`] and
//! [`crate::command::open`]), exactly as for a REST request: the planner only turns events into commands
//! (by the integration, through the `api` channel) and folds their effects into set-based rows. So the
//! log entries, the assignments and the timers ([`Timer`]: triggered arms the auto-resolve timeout,
//! acknowledged the acknowledgement timeout, resolved cancels both) follow the same rules on both paths.
//! Paging follows the same rule too: the plan's [`Plan::paging`] says, per incident, who starts being
//! paged (a new incident's assignees) and whose intents stop (acknowledged or resolved), by
//! [`crate::notification::paging`].
//! The one difference is stored, not decided: an Events API acknowledgement is recorded as the
//! service's, as on PagerDuty.

use crate::actor::Actor;
use crate::command::{self, AckChange, Command, Effects, IncidentState, Opening};
pub use crate::command::{Timeouts, TimerChange, TimerKind};
use crate::events::{AlertEvent, Decision, EventAction, IncidentChoice, choose_incident, decide};
use crate::incident::{AssignedVia, Status, Urgency};
pub use crate::log_entry::LogKind;
use crate::notification::{self, IncidentPaging, Paging};
use crate::service_rules::{SupportHours, UrgencyRule};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use std::collections::HashMap;

/// What processing did with an event, stamped on its inbox row.
pub mod outcomes {
    pub const CREATED: &str = "created";
    pub const DEDUPLICATED: &str = "deduplicated";
    pub const SUPPRESSED: &str = "suppressed";
    pub const ACKNOWLEDGED: &str = "acknowledged";
    pub const RESOLVED: &str = "resolved";
    pub const DROPPED: &str = "dropped";
    pub const FAILED: &str = "failed";
    pub const DROPPED_SERVICE_DELETED: &str = "dropped: service deleted";
    pub const DROPPED_NOT_TRIGGERED: &str = "dropped: not triggered";
}

/// One accepted alert event and where it came from.
#[derive(Clone, Copy, Debug)]
pub struct BatchEvent<'a> {
    pub integration_id: &'a str,
    pub service_id: &'a str,
    /// When it was accepted: the instant of everything it causes.
    pub received_at: i64,
    pub event: &'a AlertEvent,
}

/// What processing needs to know of a live service.
#[derive(Clone, Debug)]
pub struct ServiceFacts {
    pub disabled: bool,
    /// `[start, end)` of each of its maintenance windows.
    pub maintenance: Vec<(i64, i64)>,
    pub escalation_policy_id: String,
    pub urgency_rule: UrgencyRule,
    /// Its support hours, if it has any.
    pub support_hours: Option<SupportHours>,
    /// The zone of its support hours, resolved by the caller from [`SupportHours::time_zone`].
    pub time_zone: Option<TimeZone>,
    /// Who a new incident is assigned to when `levels` is empty: the users of the policy's first rule.
    pub first_responders: Vec<String>,
    /// The users of each level of the policy, resolved at the batch's processing time (schedules through
    /// who is on call then); empty: `first_responders` is level 1 and the only level.
    pub levels: Vec<Vec<String>>,
    /// The policy's rules and `num_loops`, parallel to `levels`.
    pub path: crate::escalation::Path,
    pub timeouts: Timeouts,
}

impl ServiceFacts {
    fn suppresses_at(&self, at: i64) -> bool {
        self.disabled || self.maintenance.iter().any(|(start, end)| *start <= at && at < *end)
    }

    /// Whether `at` (Unix milliseconds) is inside the service's support hours. A service without support
    /// hours, or without a resolved zone for them, is always inside: a `use_support_hours` rule then
    /// takes its `during_support_hours` urgency (what the planner did before support hours were read).
    fn in_support_hours(&self, at: i64) -> bool {
        match (&self.support_hours, &self.time_zone, Timestamp::from_millisecond(at)) {
            (Some(hours), Some(tz), Ok(at)) => hours.contains(tz, at),
            _ => true,
        }
    }
}

/// An open alert as stored.
#[derive(Clone, Debug)]
pub struct OpenAlert {
    pub id: String,
    pub incident_id: Option<String>,
}

/// An existing incident behind an open alert.
#[derive(Clone, Debug)]
pub struct IncidentFacts {
    pub status: Status,
    pub service_id: String,
    /// How many of its alerts are open (triggered).
    pub open_alerts: i64,
    /// Its service's timers.
    pub timeouts: Timeouts,
}

/// Everything the batch's events may touch, read in the batch's transaction.
#[derive(Clone, Debug, Default)]
pub struct Facts {
    /// Live services by id; a service not here was deleted.
    pub services: HashMap<String, ServiceFacts>,
    /// The open unsuppressed alert of each `(integration_id, dedup_key)`.
    pub open: HashMap<(String, String), OpenAlert>,
    /// The open suppressed alert id of each `(integration_id, dedup_key)`.
    pub open_suppressed: HashMap<(String, String), String>,
    /// The incidents of the open alerts, by id.
    pub incidents: HashMap<String, IncidentFacts>,
}

/// A log entry to write. Its channel, agent and summary follow from `kind` and the event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlannedLogEntry {
    pub id: String,
    pub kind: LogKind,
    pub incident_id: Option<String>,
    pub alert_id: Option<String>,
    /// Index of the event that caused it.
    pub event: usize,
    /// The user acted upon (assignments).
    pub user_id: Option<String>,
    pub summary: String,
    pub at: i64,
}

/// A new incident, in its state at the end of the batch.
#[derive(Clone, Debug)]
pub struct NewIncident {
    pub id: String,
    /// The event that opened it (title, incident key, details).
    pub event: usize,
    pub service_id: String,
    pub escalation_policy_id: String,
    pub urgency: &'static str,
    pub first_trigger_log_entry_id: String,
    pub created_at: i64,
    pub status: Status,
    pub last_status_change_at: i64,
    /// The integration whose event last changed its status; `None`: still as opened (by the service).
    pub last_status_change_by_integration: Option<String>,
    pub resolved_at: Option<i64>,
    /// The level it was assigned at (level 1, or a later one when nobody was on call there).
    pub escalation_level: i32,
    pub escalation_loops: i32,
}

/// A new alert, in its state at the end of the batch.
#[derive(Clone, Debug)]
pub struct NewAlert {
    pub id: String,
    /// The event that opened it (its fields become the alert's).
    pub event: usize,
    pub incident_id: Option<String>,
    pub suppressed: bool,
    pub first_trigger_log_entry_id: Option<String>,
    pub created_at: i64,
    pub trigger_count: i64,
    pub last_occurred_at: i64,
    pub resolved_at: Option<i64>,
}

/// The changes to an existing alert.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlertChange {
    pub id: String,
    /// Triggers deduplicated onto it.
    pub added_triggers: i64,
    /// The last of them.
    pub last_occurred_at: Option<i64>,
    pub resolved_at: Option<i64>,
    pub updated_at: i64,
}

/// The new status of an existing incident.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IncidentChange {
    pub id: String,
    pub status: Status,
    pub changed_at: i64,
    pub by_integration_id: String,
    pub resolved_at: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Acknowledgement {
    pub incident_id: String,
    /// The service acknowledges (`service_reference`), as on PagerDuty.
    pub service_id: String,
    pub at: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Assignment {
    pub incident_id: String,
    pub user_id: String,
    pub at: i64,
}

/// An incident timer to set or cancel (the last change per incident and kind).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Timer {
    pub incident_id: String,
    pub kind: TimerKind,
    pub change: TimerChange,
    /// When it was decided (the job's creation time).
    pub at: i64,
}

/// What a batch does.
#[derive(Clone, Debug, Default)]
pub struct Plan {
    /// One per event, in order.
    pub outcomes: Vec<String>,
    /// In opening order: they take the next incident numbers in this order.
    pub new_incidents: Vec<NewIncident>,
    pub new_alerts: Vec<NewAlert>,
    pub alert_changes: Vec<AlertChange>,
    pub incident_changes: Vec<IncidentChange>,
    /// Existing incidents resolved: their assignments and acknowledgements end.
    pub cleared_incidents: Vec<String>,
    pub acknowledgements: Vec<Acknowledgement>,
    pub assignments: Vec<Assignment>,
    /// In the order they happened.
    pub log_entries: Vec<PlannedLogEntry>,
    /// Per service, when its last new incident opened.
    pub last_incident_at: Vec<(String, i64)>,
    pub timers: Vec<Timer>,
    /// Round-robin pointers after the batch: `(rule id, next index)`.
    pub round_robin: Vec<(String, i64)>,
    /// New incidents nobody could be assigned to.
    pub unassignable: usize,
    /// Whose paging starts or stops, per incident (`klaxon_core::notification::paging`); the store expands
    /// it into intents by the paged users' notification rules.
    pub paging: Vec<IncidentPaging>,
}

/// New identifiers for the incidents, alerts and log entries a plan creates.
pub trait IdSource {
    fn next_id(&mut self) -> String;
}

/// An alert the batch knows: loaded or opened by an earlier event of the batch.
struct AlertState {
    id: String,
    incident_id: Option<String>,
    new: bool,
    event: usize,
    suppressed: bool,
    first_log: Option<String>,
    created_at: i64,
    trigger_count: i64,
    added_triggers: i64,
    last_occurred_at: Option<i64>,
    resolved_at: Option<i64>,
    updated_at: i64,
}

/// An incident the batch touches: its state as the rules see it, and what the batch did to it.
struct IncidentSlot {
    state: IncidentState,
    /// When, and by which integration, its status last changed in this batch.
    changed: Option<(i64, String)>,
    resolved_at: Option<i64>,
    acknowledged_at: Option<i64>,
    /// The last change of each timer, with when it was decided.
    timers: Vec<(TimerKind, TimerChange, i64)>,
    /// For incidents the batch opens: where the `NewIncident` lives in the plan (`None`: a stored one).
    planned: Option<usize>,
    assigned_at: i64,
    /// Its status before the batch.
    initial_status: Status,
}

/// Working state of [`plan`].
struct Planner<'f, I: IdSource> {
    facts: &'f Facts,
    ids: I,
    alerts: Vec<AlertState>,
    /// Open alert per (integration, key, suppressed) -> index in `alerts`.
    open: HashMap<(String, String, bool), usize>,
    /// Keys whose loaded open alerts were already pulled into `open`.
    loaded: std::collections::HashSet<(String, String)>,
    incidents: Vec<IncidentSlot>,
    incident_index: HashMap<String, usize>,
    plan: Plan,
}

/// Plans a batch (see the module documentation for the rules).
pub fn plan<I: IdSource>(events: &[BatchEvent<'_>], facts: &Facts, ids: I) -> Plan {
    let mut p = Planner {
        facts,
        ids,
        alerts: Vec::new(),
        open: HashMap::new(),
        loaded: std::collections::HashSet::new(),
        incidents: Vec::new(),
        incident_index: HashMap::new(),
        plan: Plan::default(),
    };
    for (index, e) in events.iter().enumerate() {
        let outcome = p.apply(index, e);
        p.plan.outcomes.push(outcome);
    }
    p.finish()
}

impl<I: IdSource> Planner<'_, I> {
    fn apply(&mut self, index: usize, e: &BatchEvent<'_>) -> String {
        let Some(service) = self.facts.services.get(e.service_id) else {
            return outcomes::DROPPED_SERVICE_DELETED.into();
        };
        let at = e.received_at;
        let key = &e.event.dedup_key;
        self.load_key(e.integration_id, key);
        let mut open = self.open_alert(e.integration_id, key, false);
        if let Some(a) = open {
            let stale = self.alerts[a]
                .incident_id
                .as_deref()
                .is_some_and(|i| self.incident_status(i) == Some(Status::Resolved));
            if stale {
                self.resolve_alert(a, at);
                self.open.remove(&(e.integration_id.to_string(), key.clone(), false));
                open = None;
            }
        }
        match decide(e.event.action, open.is_some()) {
            Decision::Deduplicate => {
                let a = open.unwrap_or_default();
                self.count_trigger(a, at);
                let (alert_id, incident_id) = (self.alerts[a].id.clone(), self.alerts[a].incident_id.clone());
                let slot = incident_id.as_deref().and_then(|i| self.incident_slot(i));
                match slot {
                    Some(i) => self.command(i, Command::DedupTrigger { alert_id }, index, e),
                    None => {
                        let log = self.ids.next_id();
                        let summary = "Triggered through the API".to_string();
                        self.log(log, LogKind::Trigger, incident_id, Some(alert_id), index, None, summary, at);
                    }
                }
                outcomes::DEDUPLICATED.into()
            }
            Decision::CreateAlert if service.suppresses_at(at) => {
                match self.open_alert(e.integration_id, key, true) {
                    Some(s) => self.count_trigger(s, at),
                    None => {
                        self.new_alert(e, index, None, true, None);
                    }
                }
                outcomes::SUPPRESSED.into()
            }
            Decision::CreateAlert => {
                self.resolve_suppressed(e.integration_id, key, at);
                match choose_incident(e.event, &[]) {
                    IncidentChoice::New | IncidentChoice::Join(_) => self.open_incident(index, e, service),
                }
                outcomes::CREATED.into()
            }
            Decision::Acknowledge => {
                let a = open.unwrap_or_default();
                let Some(incident_id) = self.alerts[a].incident_id.clone() else {
                    return outcomes::DROPPED.into();
                };
                let Some(i) = self.incident_slot(&incident_id) else {
                    return outcomes::DROPPED.into();
                };
                if self.incidents[i].state.status != Status::Triggered {
                    return outcomes::DROPPED_NOT_TRIGGERED.into();
                }
                self.command(i, Command::Acknowledge, index, e);
                outcomes::ACKNOWLEDGED.into()
            }
            Decision::Resolve => {
                self.resolve_suppressed(e.integration_id, key, at);
                let a = open.unwrap_or_default();
                self.resolve_alert(a, at);
                self.open.remove(&(e.integration_id.to_string(), key.clone(), false));
                if let Some(incident_id) = self.alerts[a].incident_id.clone()
                    && let Some(i) = self.incident_slot(&incident_id)
                {
                    let inc = &mut self.incidents[i].state;
                    inc.open_alerts -= 1;
                    if inc.open_alerts <= 0 && inc.status != Status::Resolved {
                        self.command(i, Command::ResolveByLastAlert, index, e);
                    }
                }
                outcomes::RESOLVED.into()
            }
            Decision::Drop => {
                if e.event.action == EventAction::Resolve && self.resolve_suppressed(e.integration_id, key, at) {
                    return outcomes::RESOLVED.into();
                }
                outcomes::DROPPED.into()
            }
        }
    }

    /// Pulls the stored open alerts of a key into the working state, once.
    fn load_key(&mut self, integration_id: &str, key: &str) {
        let k = (integration_id.to_string(), key.to_string());
        if self.loaded.contains(&k) {
            return;
        }
        if let Some(found) = self.facts.open.get(&k) {
            let slot = self.known_alert(&found.id, found.incident_id.clone(), false);
            self.open.insert((k.0.clone(), k.1.clone(), false), slot);
        }
        if let Some(id) = self.facts.open_suppressed.get(&k) {
            let slot = self.known_alert(id, None, true);
            self.open.insert((k.0.clone(), k.1.clone(), true), slot);
        }
        self.loaded.insert(k);
    }

    fn known_alert(&mut self, id: &str, incident_id: Option<String>, suppressed: bool) -> usize {
        self.alerts.push(AlertState {
            id: id.to_string(),
            incident_id,
            new: false,
            event: 0,
            suppressed,
            first_log: None,
            created_at: 0,
            trigger_count: 0,
            added_triggers: 0,
            last_occurred_at: None,
            resolved_at: None,
            updated_at: 0,
        });
        self.alerts.len() - 1
    }

    fn open_alert(&self, integration_id: &str, key: &str, suppressed: bool) -> Option<usize> {
        self.open.get(&(integration_id.to_string(), key.to_string(), suppressed)).copied()
    }

    fn count_trigger(&mut self, a: usize, at: i64) {
        let alert = &mut self.alerts[a];
        alert.trigger_count += 1;
        alert.added_triggers += 1;
        alert.last_occurred_at = Some(at);
        alert.updated_at = at;
    }

    fn resolve_alert(&mut self, a: usize, at: i64) {
        let alert = &mut self.alerts[a];
        alert.resolved_at = Some(at);
        alert.updated_at = at;
    }

    /// Resolves the open suppressed alert of a key; answers whether there was one.
    fn resolve_suppressed(&mut self, integration_id: &str, key: &str, at: i64) -> bool {
        match self.open.remove(&(integration_id.to_string(), key.to_string(), true)) {
            Some(s) => {
                self.resolve_alert(s, at);
                true
            }
            None => false,
        }
    }

    /// An incident's status as the batch has left it so far.
    fn incident_status(&self, id: &str) -> Option<Status> {
        match self.incident_index.get(id) {
            Some(i) => Some(self.incidents[*i].state.status),
            None => self.facts.incidents.get(id).map(|f| f.status),
        }
    }

    /// The working slot of an incident, pulling a stored one in on first use.
    fn incident_slot(&mut self, id: &str) -> Option<usize> {
        if let Some(i) = self.incident_index.get(id) {
            return Some(*i);
        }
        let stored = self.facts.incidents.get(id)?;
        // What the events' commands (dedup, acknowledge, resolve by the last alert) read of a stored
        // incident; the fields they never read keep neutral values.
        let state = IncidentState {
            id: id.to_string(),
            number: 0,
            service_id: stored.service_id.clone(),
            status: stored.status,
            urgency: Urgency::High,
            priority_id: None,
            title: String::new(),
            escalation_policy_id: None,
            escalation_level: 1,
            assigned_via: AssignedVia::EscalationPolicy,
            assignees: Vec::new(),
            acknowledgers: Vec::new(),
            open_alerts: stored.open_alerts,
            alerts: stored.open_alerts,
            notes: 0,
            timeouts: stored.timeouts,
            levels: Vec::new(),
            path: Default::default(),
            escalation_loops: 0,
        };
        self.incidents.push(IncidentSlot {
            state,
            changed: None,
            resolved_at: None,
            acknowledged_at: None,
            timers: Vec::new(),
            planned: None,
            assigned_at: 0,
            initial_status: stored.status,
        });
        let i = self.incidents.len() - 1;
        self.incident_index.insert(id.to_string(), i);
        Some(i)
    }

    fn new_alert(
        &mut self,
        e: &BatchEvent<'_>,
        index: usize,
        incident_id: Option<String>,
        suppressed: bool,
        first_log: Option<String>,
    ) -> usize {
        let id = self.ids.next_id();
        self.alerts.push(AlertState {
            id,
            incident_id,
            new: true,
            event: index,
            suppressed,
            first_log,
            created_at: e.received_at,
            trigger_count: 1,
            added_triggers: 0,
            last_occurred_at: Some(e.received_at),
            resolved_at: None,
            updated_at: e.received_at,
        });
        let a = self.alerts.len() - 1;
        self.open.insert((e.integration_id.to_string(), e.event.dedup_key.clone(), suppressed), a);
        a
    }

    fn open_incident(&mut self, index: usize, e: &BatchEvent<'_>, service: &ServiceFacts) {
        let at = e.received_at;
        let incident_id = self.ids.next_id();
        let urgency = service.urgency_rule.urgency(e.event.severity.as_deref(), service.in_support_hours(at));
        let a = self.new_alert(e, index, Some(incident_id.clone()), false, None);
        let alert_id = self.alerts[a].id.clone();
        let levels =
            if service.levels.is_empty() { vec![service.first_responders.clone()] } else { service.levels.clone() };
        // Round-robin pointers move on from one new incident of the batch to the next.
        let mut path = service.path.clone();
        for rule in &mut path.rules {
            if let Some((_, pointer)) = self.plan.round_robin.iter().find(|(r, _)| *r == rule.id) {
                rule.pointer = *pointer;
            }
        }
        let opening = Opening {
            id: incident_id.clone(),
            number: 0,
            service_id: e.service_id.to_string(),
            title: e.event.summary.clone().unwrap_or_default(),
            urgency,
            priority_id: None,
            escalation_policy_id: Some(service.escalation_policy_id.clone()),
            levels,
            path,
            assignees: None,
            acknowledged: false,
            timeouts: service.timeouts,
            alert_id: Some(alert_id),
        };
        let (state, effects) = command::open(opening, &Actor::integration(e.integration_id), at);
        for (rule, pointer) in &effects.round_robin {
            self.plan.round_robin.retain(|(r, _)| r != rule);
            self.plan.round_robin.push((rule.clone(), *pointer));
        }
        self.plan.unassignable += usize::from(effects.unassignable);
        self.plan.new_incidents.push(NewIncident {
            escalation_level: state.escalation_level,
            escalation_loops: state.escalation_loops,
            id: incident_id.clone(),
            event: index,
            service_id: e.service_id.to_string(),
            escalation_policy_id: service.escalation_policy_id.clone(),
            urgency: urgency.as_str(),
            first_trigger_log_entry_id: String::new(),
            created_at: at,
            status: Status::Triggered,
            last_status_change_at: at,
            last_status_change_by_integration: None,
            resolved_at: None,
        });
        self.incidents.push(IncidentSlot {
            state,
            changed: None,
            resolved_at: None,
            acknowledged_at: None,
            timers: Vec::new(),
            planned: Some(self.plan.new_incidents.len() - 1),
            assigned_at: at,
            initial_status: Status::Triggered,
        });
        let slot = self.incidents.len() - 1;
        self.incident_index.insert(incident_id.clone(), slot);
        // `open` answered the state with its effects applied already.
        let first_log = self.fold(slot, effects, index, e, false);
        if let Some(first) = first_log {
            self.alerts[a].first_log = Some(first.clone());
            if let Some(planned) = self.plan.new_incidents.last_mut() {
                planned.first_trigger_log_entry_id = first;
            }
        }
        match self.plan.last_incident_at.iter_mut().find(|(s, _)| s == e.service_id) {
            Some((_, last)) => *last = (*last).max(at),
            None => self.plan.last_incident_at.push((e.service_id.to_string(), at)),
        }
    }

    /// Decides a command on an incident the batch knows, by the event's integration, and folds its effects
    /// in. The events only send commands whose rules hold (the planner checked the status), so a broken
    /// rule means nothing to do.
    fn command(&mut self, slot: usize, command: Command, index: usize, e: &BatchEvent<'_>) {
        let actor = Actor::integration(e.integration_id);
        if let Ok(effects) = command::decide(&self.incidents[slot].state, &command, &actor, e.received_at) {
            self.fold(slot, effects, index, e, true);
        }
    }

    /// Applies decided effects to the incident's working state and the plan; answers the id of the first
    /// log entry written.
    fn fold(&mut self, slot: usize, effects: Effects, index: usize, e: &BatchEvent<'_>, apply: bool) -> Option<String> {
        let at = e.received_at;
        let inc = &mut self.incidents[slot];
        let before = inc.state.status;
        if apply {
            inc.state.apply(&effects);
        }
        if effects.status.is_some_and(|s| s != before) {
            inc.changed = Some((at, e.integration_id.to_string()));
            if inc.state.status == Status::Resolved {
                inc.resolved_at = Some(at);
            }
        }
        if effects.acknowledgements.iter().any(|c| matches!(c, AckChange::Add(_))) {
            inc.acknowledged_at = Some(at);
        }
        if effects.acknowledgements.contains(&AckChange::ClearAll) {
            inc.acknowledged_at = None;
        }
        for (kind, change) in &effects.timers {
            inc.timers.retain(|(k, _, _)| k != kind);
            inc.timers.push((*kind, *change, at));
        }
        let incident_id = inc.state.id.clone();
        let mut first = None;
        for entry in effects.log_entries {
            let id = self.ids.next_id();
            if first.is_none() {
                first = Some(id.clone());
            }
            self.log(
                id,
                entry.kind,
                Some(incident_id.clone()),
                entry.alert_id,
                index,
                entry.user_id,
                entry.summary,
                at,
            );
        }
        first
    }

    #[allow(clippy::too_many_arguments)]
    fn log(
        &mut self,
        id: String,
        kind: LogKind,
        incident_id: Option<String>,
        alert_id: Option<String>,
        event: usize,
        user_id: Option<String>,
        summary: String,
        at: i64,
    ) {
        self.plan.log_entries.push(PlannedLogEntry { id, kind, incident_id, alert_id, event, user_id, summary, at });
    }

    fn finish(mut self) -> Plan {
        for alert in &self.alerts {
            if alert.new {
                self.plan.new_alerts.push(NewAlert {
                    id: alert.id.clone(),
                    event: alert.event,
                    incident_id: alert.incident_id.clone(),
                    suppressed: alert.suppressed,
                    first_trigger_log_entry_id: alert.first_log.clone(),
                    created_at: alert.created_at,
                    trigger_count: alert.trigger_count,
                    last_occurred_at: alert.last_occurred_at.unwrap_or(alert.created_at),
                    resolved_at: alert.resolved_at,
                });
            } else if alert.added_triggers > 0 || alert.resolved_at.is_some() {
                self.plan.alert_changes.push(AlertChange {
                    id: alert.id.clone(),
                    added_triggers: alert.added_triggers,
                    last_occurred_at: alert.last_occurred_at,
                    resolved_at: alert.resolved_at,
                    updated_at: alert.updated_at,
                });
            }
        }
        for slot in &self.incidents {
            let inc = &slot.state;
            match slot.planned {
                Some(p) => {
                    let planned = &mut self.plan.new_incidents[p];
                    planned.status = inc.status;
                    planned.resolved_at = slot.resolved_at;
                    if let Some((at, by)) = &slot.changed {
                        planned.last_status_change_at = *at;
                        planned.last_status_change_by_integration = Some(by.clone());
                    }
                    for user in &inc.assignees {
                        self.plan.assignments.push(Assignment {
                            incident_id: inc.id.clone(),
                            user_id: user.clone(),
                            at: slot.assigned_at,
                        });
                    }
                }
                None => {
                    if let Some((at, by)) = &slot.changed {
                        self.plan.incident_changes.push(IncidentChange {
                            id: inc.id.clone(),
                            status: inc.status,
                            changed_at: *at,
                            by_integration_id: by.clone(),
                            resolved_at: slot.resolved_at,
                        });
                        if inc.status == Status::Resolved {
                            self.plan.cleared_incidents.push(inc.id.clone());
                        }
                    }
                }
            }
            if let (Status::Acknowledged, Some(at)) = (inc.status, slot.acknowledged_at) {
                self.plan.acknowledgements.push(Acknowledgement {
                    incident_id: inc.id.clone(),
                    service_id: inc.service_id.clone(),
                    at,
                });
            }
            if let Some(paging) = Self::paging(slot) {
                self.plan.paging.push(paging);
            }
            for (kind, change, at) in &slot.timers {
                // A new incident has no timers to cancel.
                if slot.planned.is_some() && *change == TimerChange::Cancel {
                    continue;
                }
                self.plan.timers.push(Timer { incident_id: inc.id.clone(), kind: *kind, change: *change, at: *at });
            }
        }
        self.plan
    }

    /// What the batch did to an incident's paging: a new incident still triggered pages its assignees from
    /// when it was assigned; a stored one acknowledged or resolved stops paging (events never assign).
    fn paging(slot: &IncidentSlot) -> Option<IncidentPaging> {
        let inc = &slot.state;
        let (level, loops) = (inc.escalation_level, inc.escalation_loops);
        let before = Paging {
            status: slot.initial_status,
            assignees: &[],
            escalation_level: level,
            escalation_loops: loops,
            assigned: false,
        };
        let assignees: &[String] = if slot.planned.is_some() { &inc.assignees } else { &[] };
        let after = Paging { status: inc.status, assignees, assigned: slot.planned.is_some(), ..before.clone() };
        let mut change = notification::paging(&before, &after);
        // A new incident has no intents to stop yet.
        if slot.planned.is_some() {
            change.stop = notification::Stop::Nobody;
        }
        let at = match slot.planned {
            Some(_) => slot.assigned_at,
            None => slot.changed.as_ref().map(|(at, _)| *at).unwrap_or(slot.assigned_at),
        };
        (!change.is_empty()).then(|| IncidentPaging {
            incident_id: inc.id.clone(),
            service_id: inc.service_id.clone(),
            urgency: inc.urgency,
            at,
            change,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::EventsVersion;
    use crate::service_rules::{ConstantUrgency, SupportHoursUrgency};
    use serde_json::json;

    const INT: &str = "PINT001";
    const SVC: &str = "PSVC001";

    struct Counter(u32);
    impl IdSource for Counter {
        fn next_id(&mut self) -> String {
            self.0 += 1;
            format!("Q{:013}", self.0)
        }
    }

    fn event(action: EventAction, key: &str, severity: Option<&str>) -> AlertEvent {
        AlertEvent {
            version: EventsVersion::V2,
            action,
            dedup_key: key.into(),
            summary: Some(format!("{} {key}", action.as_str())),
            source: Some("host".into()),
            severity: severity.map(str::to_string),
            timestamp_ms: None,
            component: None,
            group: None,
            class: None,
            custom_details: None,
            contexts: vec![],
            client: None,
            client_url: None,
        }
    }

    fn trigger(key: &str) -> AlertEvent {
        event(EventAction::Trigger, key, Some("critical"))
    }
    fn ack(key: &str) -> AlertEvent {
        event(EventAction::Acknowledge, key, None)
    }
    fn resolve(key: &str) -> AlertEvent {
        event(EventAction::Resolve, key, None)
    }

    fn service() -> ServiceFacts {
        ServiceFacts {
            disabled: false,
            maintenance: vec![],
            escalation_policy_id: "PPOL001".into(),
            urgency_rule: UrgencyRule::Constant(ConstantUrgency::SeverityBased),
            support_hours: None,
            time_zone: None,
            first_responders: vec!["PUSR001".into(), "PUSR002".into()],
            levels: vec![],
            path: Default::default(),
            timeouts: Timeouts::default(),
        }
    }

    fn facts_with(service: ServiceFacts) -> Facts {
        let mut facts = Facts::default();
        facts.services.insert(SVC.into(), service);
        facts
    }

    /// Facts where `key` has an open alert `PALT001` on incident `PINC001` in `status`.
    fn facts_with_open(key: &str, status: Status, open_alerts: i64) -> Facts {
        let mut facts = facts_with(service());
        facts
            .open
            .insert((INT.into(), key.into()), OpenAlert { id: "PALT001".into(), incident_id: Some("PINC001".into()) });
        facts.incidents.insert(
            "PINC001".into(),
            IncidentFacts { status, service_id: SVC.into(), open_alerts, timeouts: Timeouts::default() },
        );
        facts
    }

    fn run(events: &[AlertEvent], facts: &Facts) -> Plan {
        let batch: Vec<BatchEvent<'_>> = events
            .iter()
            .enumerate()
            .map(|(i, event)| BatchEvent { integration_id: INT, service_id: SVC, received_at: 1_000 + i as i64, event })
            .collect();
        plan(&batch, facts, Counter(0))
    }

    fn kinds(plan: &Plan) -> Vec<LogKind> {
        plan.log_entries.iter().map(|l| l.kind).collect()
    }

    #[test]
    fn a_new_key_opens_an_alert_and_an_incident_assigned_to_the_first_responders() {
        let plan = run(&[trigger("a")], &facts_with(service()));
        assert_eq!(plan.outcomes, vec![outcomes::CREATED]);
        assert_eq!(plan.new_incidents.len(), 1);
        let incident = &plan.new_incidents[0];
        assert_eq!((incident.status, incident.urgency), (Status::Triggered, "high"));
        assert_eq!(plan.new_alerts.len(), 1);
        assert_eq!(plan.new_alerts[0].incident_id.as_deref(), Some(incident.id.as_str()));
        assert_eq!(
            plan.new_alerts[0].first_trigger_log_entry_id.as_deref(),
            Some(incident.first_trigger_log_entry_id.as_str())
        );
        assert_eq!(kinds(&plan), vec![LogKind::Trigger, LogKind::Assign, LogKind::Assign]);
        assert_eq!(plan.assignments.iter().map(|a| a.user_id.as_str()).collect::<Vec<_>>(), vec!["PUSR001", "PUSR002"]);
        assert_eq!(plan.last_incident_at, vec![(SVC.to_string(), 1_000)]);
    }

    #[test]
    fn repeated_triggers_in_one_batch_count_on_one_alert() {
        let plan = run(&[trigger("a"), trigger("a"), trigger("a")], &facts_with(service()));
        assert_eq!(plan.outcomes, vec![outcomes::CREATED, outcomes::DEDUPLICATED, outcomes::DEDUPLICATED]);
        assert_eq!(plan.new_incidents.len(), 1);
        assert_eq!(plan.new_alerts.len(), 1);
        assert_eq!(plan.new_alerts[0].trigger_count, 3);
        assert_eq!(plan.new_alerts[0].last_occurred_at, 1_002);
    }

    #[test]
    fn trigger_then_resolve_then_trigger_in_one_batch_makes_two_incidents_the_first_resolved() {
        let plan = run(&[trigger("a"), resolve("a"), trigger("a")], &facts_with(service()));
        assert_eq!(plan.outcomes, vec![outcomes::CREATED, outcomes::RESOLVED, outcomes::CREATED]);
        assert_eq!(plan.new_incidents.len(), 2);
        assert_eq!(plan.new_incidents[0].status, Status::Resolved);
        assert_eq!(plan.new_incidents[0].resolved_at, Some(1_001));
        assert_eq!(plan.new_incidents[0].last_status_change_by_integration.as_deref(), Some(INT));
        assert_eq!(plan.new_incidents[1].status, Status::Triggered);
        assert_eq!(plan.new_alerts[0].resolved_at, Some(1_001));
        assert_eq!(plan.new_alerts[1].resolved_at, None);
        // A resolved incident keeps no assignments; the open one has its two.
        assert!(plan.assignments.iter().all(|a| a.incident_id == plan.new_incidents[1].id));
        assert_eq!(plan.assignments.len(), 2);
    }

    #[test]
    fn a_trigger_on_a_stored_open_alert_is_counted_without_a_new_incident() {
        let plan = run(&[trigger("a"), trigger("a")], &facts_with_open("a", Status::Triggered, 1));
        assert_eq!(plan.outcomes, vec![outcomes::DEDUPLICATED, outcomes::DEDUPLICATED]);
        assert!(plan.new_incidents.is_empty() && plan.new_alerts.is_empty());
        assert_eq!(
            plan.alert_changes,
            vec![AlertChange {
                id: "PALT001".into(),
                added_triggers: 2,
                last_occurred_at: Some(1_001),
                resolved_at: None,
                updated_at: 1_001
            }]
        );
        assert_eq!(kinds(&plan), vec![LogKind::Trigger, LogKind::Trigger]);
        assert!(plan.log_entries.iter().all(|l| l.incident_id.as_deref() == Some("PINC001")));
    }

    #[test]
    fn acknowledge_then_resolve_of_a_stored_incident_ends_resolved_and_clears_it() {
        let plan = run(&[ack("a"), ack("a"), resolve("a")], &facts_with_open("a", Status::Triggered, 1));
        assert_eq!(plan.outcomes, vec![outcomes::ACKNOWLEDGED, outcomes::DROPPED_NOT_TRIGGERED, outcomes::RESOLVED]);
        assert_eq!(plan.incident_changes.len(), 1);
        assert_eq!(plan.incident_changes[0].status, Status::Resolved);
        assert_eq!(plan.incident_changes[0].resolved_at, Some(1_002));
        assert_eq!(plan.cleared_incidents, vec!["PINC001".to_string()]);
        assert!(plan.acknowledgements.is_empty(), "a resolved incident keeps no acknowledgements");
        assert_eq!(kinds(&plan), vec![LogKind::Acknowledge, LogKind::Resolve]);
    }

    #[test]
    fn an_incident_with_another_open_alert_stays_open_when_one_alert_resolves() {
        let plan = run(&[resolve("a")], &facts_with_open("a", Status::Triggered, 2));
        assert_eq!(plan.outcomes, vec![outcomes::RESOLVED]);
        assert_eq!(plan.alert_changes[0].resolved_at, Some(1_000));
        assert!(plan.incident_changes.is_empty());
        assert!(kinds(&plan).is_empty());
    }

    #[test]
    fn acknowledge_or_resolve_of_an_unknown_key_is_dropped() {
        let plan = run(&[ack("nope"), resolve("nope")], &facts_with(service()));
        assert_eq!(plan.outcomes, vec![outcomes::DROPPED, outcomes::DROPPED]);
        assert!(plan.log_entries.is_empty() && plan.alert_changes.is_empty());
    }

    #[test]
    fn an_open_alert_of_an_incident_resolved_elsewhere_is_stale_and_a_trigger_opens_a_new_incident() {
        let plan = run(&[trigger("a")], &facts_with_open("a", Status::Resolved, 1));
        assert_eq!(plan.outcomes, vec![outcomes::CREATED]);
        assert_eq!(plan.alert_changes[0].resolved_at, Some(1_000));
        assert_eq!(plan.new_incidents.len(), 1);
    }

    #[test]
    fn a_maintenance_window_suppresses_and_a_later_real_trigger_replaces_the_suppressed_alert() {
        let mut svc = service();
        svc.maintenance = vec![(0, 1_001)];
        let plan = run(&[trigger("a"), trigger("a")], &facts_with(svc.clone()));
        assert_eq!(plan.outcomes, vec![outcomes::SUPPRESSED, outcomes::CREATED]);
        assert!(plan.new_alerts[0].suppressed && plan.new_alerts[0].incident_id.is_none());
        assert_eq!(plan.new_alerts[0].resolved_at, Some(1_001), "the real alert replaces the suppressed one");
        assert_eq!(plan.new_incidents.len(), 1);

        svc.maintenance = vec![];
        svc.disabled = true;
        let plan = run(&[trigger("b"), trigger("b"), resolve("b")], &facts_with(svc));
        assert_eq!(plan.outcomes, vec![outcomes::SUPPRESSED, outcomes::SUPPRESSED, outcomes::RESOLVED]);
        assert_eq!(plan.new_alerts.len(), 1);
        assert_eq!(plan.new_alerts[0].trigger_count, 2);
        assert!(plan.new_incidents.is_empty() && plan.log_entries.is_empty());
    }

    #[test]
    fn a_deleted_service_drops_its_events() {
        let plan = run(&[trigger("a")], &Facts::default());
        assert_eq!(plan.outcomes, vec![outcomes::DROPPED_SERVICE_DELETED]);
        assert!(plan.new_alerts.is_empty());
    }

    #[test]
    fn warning_and_info_are_low_urgency_on_a_severity_based_service() {
        let events =
            [event(EventAction::Trigger, "w", Some("warning")), event(EventAction::Trigger, "e", Some("error"))];
        let plan = run(&events, &facts_with(service()));
        assert_eq!(plan.new_incidents.iter().map(|i| i.urgency).collect::<Vec<_>>(), vec!["low", "high"]);
    }

    #[test]
    fn status_changes_set_the_incident_timers() {
        let mut svc = service();
        svc.timeouts = Timeouts { acknowledgement_secs: Some(600), auto_resolve_secs: Some(3_600) };
        let plan = run(&[trigger("a")], &facts_with(svc.clone()));
        let incident = plan.new_incidents[0].id.clone();
        assert_eq!(
            plan.timers,
            vec![Timer {
                incident_id: incident,
                kind: TimerKind::AutoResolve,
                change: TimerChange::Schedule { due_at: 1_000 + 3_600_000 },
                at: 1_000
            }],
            "a new incident has nothing to cancel"
        );

        let mut facts = facts_with_open("a", Status::Triggered, 1);
        facts.incidents.get_mut("PINC001").unwrap().timeouts = svc.timeouts;
        let plan = run(&[ack("a")], &facts);
        assert_eq!(plan.timers.len(), 1);
        assert_eq!(plan.timers[0].change, TimerChange::Schedule { due_at: 1_000 + 600_000 });
        let plan = run(&[resolve("a")], &facts);
        let changes: Vec<(TimerKind, TimerChange)> = plan.timers.iter().map(|t| (t.kind, t.change)).collect();
        assert_eq!(
            changes,
            vec![
                (TimerKind::AcknowledgementTimeout, TimerChange::Cancel),
                (TimerKind::AutoResolve, TimerChange::Cancel)
            ]
        );
    }

    #[test]
    fn incidents_are_planned_in_arrival_order() {
        let plan = run(&[trigger("a"), trigger("b"), trigger("c")], &facts_with(service()));
        let keys: Vec<usize> = plan.new_incidents.iter().map(|i| i.event).collect();
        assert_eq!(keys, vec![0, 1, 2]);
    }

    /// A service paging high during Mon–Fri 09:00–17:00 New York time and low outside.
    fn office_hours_service() -> ServiceFacts {
        let hours = json!({"type": "fixed_time_per_day", "time_zone": "America/New_York",
                           "days_of_week": [1, 2, 3, 4, 5], "start_time": "09:00:00", "end_time": "17:00:00"});
        ServiceFacts {
            urgency_rule: UrgencyRule::UseSupportHours {
                during: SupportHoursUrgency::High,
                outside: SupportHoursUrgency::Low,
            },
            support_hours: Some(SupportHours::parse(&hours, "support_hours", |_| true).unwrap()),
            // The zone's rules without the tz database.
            time_zone: Some(TimeZone::posix("EST5EDT,M3.2.0,M11.1.0").unwrap()),
            ..service()
        }
    }

    /// Unix milliseconds of a New York (EST, UTC-5) wall-clock time on Wednesday 2027-03-03.
    fn wednesday_in_new_york(hour: i64) -> i64 {
        let midnight_utc = 1_804_032_000_000; // 2027-03-03T00:00:00Z
        midnight_utc + (hour + 5) * 3_600_000
    }

    fn urgency_at(received_at: i64, service: ServiceFacts) -> &'static str {
        let event = trigger("a");
        let batch = [BatchEvent { integration_id: INT, service_id: SVC, received_at, event: &event }];
        let plan = plan(&batch, &facts_with(service), Counter(0));
        plan.new_incidents[0].urgency
    }

    #[test]
    fn a_trigger_inside_support_hours_gets_the_during_urgency() {
        assert_eq!(urgency_at(wednesday_in_new_york(10), office_hours_service()), "high");
    }

    #[test]
    fn a_trigger_outside_support_hours_gets_the_outside_urgency() {
        assert_eq!(urgency_at(wednesday_in_new_york(20), office_hours_service()), "low");
    }

    #[test]
    fn a_use_support_hours_rule_without_support_hours_takes_the_during_urgency() {
        let svc = ServiceFacts { support_hours: None, time_zone: None, ..office_hours_service() };
        assert_eq!(urgency_at(wednesday_in_new_york(20), svc), "high");
    }
}
