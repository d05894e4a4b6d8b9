//! The incident command layer's rules: every change of an incident, from every entry point (REST, Events
//! API, timers, and later the web app, email, SMS, voice, Slack and the escalation engine), is a
//! [`Command`] with an [`Actor`], decided here by one pure function, [`decide`], against the incident's
//! current [`IncidentState`]. The answer is either PagerDuty's error for the broken rule
//! ([`IncidentError`], with its code) or the [`Effects`]: the new status, fields, assignments and
//! acknowledgements, alert changes, the log entries to write and the timers to set.
//!
//! The store applies effects (`klaxon-store/src/commands.rs` for single commands in one transaction with
//! the incident's row locked; the events batch planner, [`crate::alert_batch`], for many incidents at once,
//! set-based). Neither decides anything itself, so a new entry point cannot change an incident without
//! going through these rules.
//!
//! Several commands on one incident (a `PUT` that reassigns and acknowledges) are decided in turn with
//! [`decide_all`], each against the state the previous one left ([`IncidentState::apply`]).

use crate::actor::{Actor, Agent, Channel};
use crate::escalation::{self, Path, Step};
use crate::incident::{self, AssignedVia, IncidentError, Status, StatusChange, Urgency};
use crate::log_entry::LogKind;
use serde_json::{Value, json};

/// An incident holds at most this many notes.
pub const MAX_NOTES: i64 = 2000;

/// A service's timers, in seconds (`None` or 0: off).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Timeouts {
    pub acknowledgement_secs: Option<i64>,
    pub auto_resolve_secs: Option<i64>,
}

/// What the rules need to know of an incident: read in the command's transaction, with its row locked.
#[derive(Clone, Debug, PartialEq)]
pub struct IncidentState {
    pub id: String,
    pub number: i64,
    pub service_id: String,
    pub status: Status,
    pub urgency: Urgency,
    pub priority_id: Option<String>,
    pub title: String,
    pub escalation_policy_id: Option<String>,
    /// 1-based.
    pub escalation_level: i32,
    pub assigned_via: AssignedVia,
    pub assignees: Vec<String>,
    pub acknowledgers: Vec<Agent>,
    /// Its triggered alerts, and all of its alerts.
    pub open_alerts: i64,
    pub alerts: i64,
    pub notes: i64,
    pub timeouts: Timeouts,
    /// The users of each level of its escalation policy (index 0 is level 1), resolved at the instant of
    /// the change (schedules through who is on call then; empty: nobody).
    pub levels: Vec<Vec<String>>,
    /// The policy's rules (delays, strategies, round-robin pointers) and `num_loops`, parallel to `levels`.
    pub path: Path,
    /// How many times escalation looped back to level 1; past `num_loops`: exhausted.
    pub escalation_loops: i32,
}

/// A change someone asks for.
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    /// A requested status (REST, web): acknowledge, unacknowledge, resolve or reopen, as
    /// [`incident::status_change`] reads it against the current status.
    SetStatus {
        to: Status,
        resolution: Option<String>,
    },
    /// Acknowledge an open incident (Events API, SMS, Slack, ...). A second acknowledger joins the first;
    /// the same one again only restarts the acknowledgement timeout.
    Acknowledge,
    /// Back to triggered: the acknowledgement timeout, or a snooze running out.
    Unacknowledge,
    /// Resolve an open incident (a person, the Events API, auto-resolve).
    Resolve {
        resolution: Option<String>,
    },
    /// Its last open alert was resolved.
    ResolveByLastAlert,
    /// A trigger deduplicated onto one of its open alerts.
    DedupTrigger {
        alert_id: String,
    },
    /// Assign directly to these users (at least one).
    Reassign {
        users: Vec<String>,
    },
    /// Assign to a level of its escalation policy (1-based).
    EscalateTo {
        level: i32,
    },
    /// Hand it to another escalation policy, at its first level.
    ChangePolicy {
        policy_id: String,
        levels: Vec<Vec<String>>,
        path: Path,
    },
    /// The escalation step job came due: on to the next level (or loop back, or exhaust).
    EscalateStep,
    /// Quiet an acknowledged incident for a while; it triggers again afterwards.
    Snooze {
        seconds: i64,
    },
    /// This incident is merged into `target`: its alerts move there and it resolves.
    MergeInto {
        target_id: String,
        target_number: i64,
    },
    /// `source` is merged into this incident.
    AbsorbMerged {
        source_id: String,
        source_number: i64,
    },
    SetUrgency(Urgency),
    SetPriority(Option<String>),
    SetTitle(String),
    SetConference {
        number: Option<String>,
        url: Option<String>,
    },
    AddNote {
        content: String,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TimerKind {
    AcknowledgementTimeout,
    AutoResolve,
    /// The escalation step (`incident.escalate`).
    Escalation,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimerChange {
    Cancel,
    Schedule { due_at: i64 },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AckChange {
    Add(Agent),
    ClearAll,
}

/// A log entry to write (the store gives it its id, incident, service, agent and channel).
#[derive(Clone, Debug, PartialEq)]
pub struct LogEffect {
    pub kind: LogKind,
    pub summary: String,
    pub note: Option<String>,
    /// The user acted upon (assignments).
    pub user_id: Option<String>,
    pub alert_id: Option<String>,
    pub details: Option<Value>,
}

impl LogEffect {
    fn new(kind: LogKind, summary: impl Into<String>) -> Self {
        Self { kind, summary: summary.into(), note: None, user_id: None, alert_id: None, details: None }
    }
}

/// What a decided command changes. Absent fields are left alone.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Effects {
    pub status: Option<Status>,
    /// A resolved incident opened again: its resolve reason and merge target are cleared.
    pub reopened: bool,
    /// Resolved as merged into this incident (`resolve_reason` `merge_resolve_reason`).
    pub merged_into: Option<String>,
    pub title: Option<String>,
    pub priority: Option<Option<String>>,
    pub urgency: Option<Urgency>,
    pub conference: Option<(Option<String>, Option<String>)>,
    pub escalation_policy_id: Option<String>,
    pub escalation_level: Option<i32>,
    pub assigned_via: Option<AssignedVia>,
    /// The whole new set of assignees.
    pub assignees: Option<Vec<String>>,
    pub acknowledgements: Vec<AckChange>,
    /// Every open alert of the incident resolves.
    pub resolve_open_alerts: bool,
    /// Every alert of the incident moves to this one (a merge).
    pub move_alerts_to: Option<String>,
    pub note: Option<String>,
    pub log_entries: Vec<LogEffect>,
    /// The last change per kind wins.
    pub timers: Vec<(TimerKind, TimerChange)>,
    /// Every job about the incident ends (its timers, escalations, and later its notifications).
    pub cancel_jobs: bool,
    pub escalation_loops: Option<i32>,
    /// Round-robin pointers to store: `(rule id, next index)`.
    pub round_robin: Vec<(String, i64)>,
    /// Nobody could be assigned (nobody on call at any level).
    pub unassignable: bool,
    /// The new policy's levels and path (a `ChangePolicy`), for the commands decided after it.
    pub levels: Option<(Vec<Vec<String>>, Path)>,
}

impl Effects {
    /// Whether the command changed nothing at all.
    pub fn is_empty(&self) -> bool {
        *self == Effects::default()
    }

    fn timer(&mut self, kind: TimerKind, change: TimerChange) {
        self.timers.retain(|(k, _)| *k != kind);
        self.timers.push((kind, change));
    }

    fn log(&mut self, entry: LogEffect) {
        self.log_entries.push(entry);
    }

    /// Appends `later`'s effects to these (as if both were decided in turn).
    pub fn merge(&mut self, later: Effects) {
        macro_rules! take {
            ($($f:ident),*) => { $( if later.$f.is_some() { self.$f = later.$f; } )* };
        }
        take!(status, merged_into, title, priority, urgency, conference, escalation_policy_id, escalation_level);
        take!(assigned_via, assignees, move_alerts_to, note, escalation_loops, levels);
        self.reopened |= later.reopened;
        self.unassignable |= later.unassignable;
        for (rule, pointer) in later.round_robin {
            self.round_robin.retain(|(r, _)| *r != rule);
            self.round_robin.push((rule, pointer));
        }
        self.cancel_jobs |= later.cancel_jobs;
        self.resolve_open_alerts |= later.resolve_open_alerts;
        self.acknowledgements.extend(later.acknowledgements);
        self.log_entries.extend(later.log_entries);
        for (kind, change) in later.timers {
            self.timer(kind, change);
        }
    }
}

impl IncidentState {
    /// The state after `effects`.
    pub fn apply(&mut self, effects: &Effects) {
        if let Some(status) = effects.status {
            self.status = status;
        }
        if let Some(t) = &effects.title {
            self.title = t.clone();
        }
        if let Some(p) = &effects.priority {
            self.priority_id = p.clone();
        }
        if let Some(u) = effects.urgency {
            self.urgency = u;
        }
        if let Some(p) = &effects.escalation_policy_id {
            self.escalation_policy_id = Some(p.clone());
        }
        if let Some(l) = effects.escalation_level {
            self.escalation_level = l;
        }
        if let Some(v) = effects.assigned_via {
            self.assigned_via = v;
        }
        if let Some(l) = effects.escalation_loops {
            self.escalation_loops = l;
        }
        if let Some((levels, path)) = &effects.levels {
            self.levels = levels.clone();
            self.path = path.clone();
        }
        for (rule, pointer) in &effects.round_robin {
            if let Some(r) = self.path.rules.iter_mut().find(|r| r.id == *rule) {
                r.pointer = *pointer;
            }
        }
        if let Some(a) = &effects.assignees {
            self.assignees = a.clone();
        }
        for change in &effects.acknowledgements {
            match change {
                AckChange::Add(agent) => {
                    if !self.acknowledgers.contains(agent) {
                        self.acknowledgers.push(agent.clone());
                    }
                }
                AckChange::ClearAll => self.acknowledgers.clear(),
            }
        }
        if effects.resolve_open_alerts {
            self.open_alerts = 0;
        }
        if effects.move_alerts_to.is_some() {
            self.open_alerts = 0;
            self.alerts = 0;
        }
        if effects.note.is_some() {
            self.notes += 1;
        }
    }
}

/// How a summary names who acted: "by Ada", "through the API", "due to timeout".
fn by(actor: &Actor) -> By<'_> {
    By(actor)
}

/// How a summary names who acted, written straight into the summary (no string of its own: the events
/// batch writes several of these per event).
struct By<'a>(&'a Actor);

impl std::fmt::Display for By<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.0.agent, self.0.channel) {
            (Agent::User(_), _) => write!(f, "by {}", self.0.name),
            (_, Channel::Timeout) => f.write_str("due to timeout"),
            (_, channel) => write!(f, "through {}", channel.phrase()),
        }
    }
}

fn require_open(s: &IncidentState) -> Result<(), IncidentError> {
    if s.status.is_open() { Ok(()) } else { Err(IncidentError::AlreadyResolved) }
}

/// Decides one command against the incident's current state (see the module documentation).
pub fn decide(s: &IncidentState, command: &Command, actor: &Actor, now: i64) -> Result<Effects, IncidentError> {
    let mut e = decide_inner(s, command, actor, now)?;
    arm_escalation(s, now, &mut e);
    Ok(e)
}

fn decide_inner(s: &IncidentState, command: &Command, actor: &Actor, now: i64) -> Result<Effects, IncidentError> {
    let mut e = Effects::default();
    match command {
        Command::SetStatus { to, resolution } => match incident::status_change(s.status, *to)? {
            StatusChange::None => {}
            StatusChange::Acknowledge => acknowledge(s, actor, now, &mut e),
            StatusChange::Unacknowledge => unacknowledge(s, actor, now, &mut e),
            StatusChange::Resolve => resolve(actor, resolution.clone(), &mut e),
            StatusChange::Reopen { to } => reopen(s, to, actor, now, &mut e),
        },
        Command::Acknowledge => {
            require_open(s)?;
            acknowledge(s, actor, now, &mut e);
        }
        Command::Unacknowledge => {
            if s.status != Status::Acknowledged {
                return Err(IncidentError::NotAcknowledged);
            }
            unacknowledge(s, actor, now, &mut e);
        }
        Command::Resolve { resolution } => {
            require_open(s)?;
            resolve(actor, resolution.clone(), &mut e);
        }
        Command::ResolveByLastAlert => {
            require_open(s)?;
            resolve(actor, None, &mut e);
        }
        Command::DedupTrigger { alert_id } => {
            require_open(s)?;
            let mut entry = LogEffect::new(LogKind::Trigger, format!("Triggered {}", by(actor)));
            entry.alert_id = Some(alert_id.clone());
            e.log(entry);
        }
        Command::Reassign { users } => {
            require_open(s)?;
            assign(s, users, AssignedVia::DirectAssignment, "directly", actor, now, &mut e);
        }
        Command::EscalateTo { level } => {
            require_open(s)?;
            if s.escalation_policy_id.is_none() {
                return Err(IncidentError::NoEscalationPolicy);
            }
            if usize::try_from(*level - 1).ok().and_then(|i| s.levels.get(i)).is_none() {
                return Err(IncidentError::NoSuchLevel);
            }
            enter_level(s, *level, 0, actor, now, true, &mut e);
        }
        Command::EscalateStep => {
            let policy_driven = s.assigned_via == AssignedVia::EscalationPolicy && s.escalation_policy_id.is_some();
            if s.status != Status::Triggered || s.urgency != Urgency::High || !policy_driven {
                return Err(IncidentError::NoEscalationPolicy);
            }
            let last = escalation::clamp(i32::MAX, s.levels.len());
            if !s.levels.is_empty() && s.escalation_level > last {
                // The incident's level was removed from the policy since: its last level applies now.
                enter_level(s, last, s.escalation_loops, actor, now, true, &mut e);
                return Ok(e);
            }
            match escalation::next(s.escalation_level, s.escalation_loops, s.levels.len(), s.path.num_loops) {
                Step::To { level, loops, repeated } => {
                    if repeated {
                        let mut entry = LogEffect::new(
                            LogKind::RepeatEscalationPath,
                            format!(
                                "Repeated the escalation path (loop {loops} of {}) {}",
                                s.path.num_loops,
                                by(actor)
                            ),
                        );
                        entry.details = Some(json!({"loop": loops, "num_loops": s.path.num_loops}));
                        e.log(entry);
                    }
                    enter_level(s, level, loops, actor, now, true, &mut e);
                }
                Step::Exhausted => {
                    e.escalation_loops = Some(s.path.num_loops.saturating_add(1));
                    e.log(LogEffect::new(
                        LogKind::ExhaustEscalationPath,
                        format!("Escalation path exhausted; the incident stays with its assignees {}", by(actor)),
                    ));
                }
            }
        }
        Command::ChangePolicy { policy_id, levels, path } => {
            require_open(s)?;
            e.escalation_policy_id = Some(policy_id.clone());
            let mut entry =
                LogEffect::new(LogKind::Delegate, format!("Delegated to another escalation policy {}", by(actor)));
            entry.details = Some(json!({"escalation_policy": policy_id}));
            e.log(entry);
            let mut delegated = s.clone();
            delegated.levels = levels.clone();
            delegated.path = path.clone();
            e.levels = Some((levels.clone(), path.clone()));
            enter_level(&delegated, 1, 0, actor, now, false, &mut e);
        }
        Command::Snooze { seconds } => {
            incident::check_snooze(s.status, *seconds)?;
            e.timer(
                TimerKind::AcknowledgementTimeout,
                TimerChange::Schedule { due_at: now.saturating_add(seconds.saturating_mul(1000)) },
            );
            let mut entry = LogEffect::new(LogKind::Snooze, format!("Snoozed for {seconds} seconds {}", by(actor)));
            entry.details = Some(json!({"duration": seconds}));
            e.log(entry);
        }
        Command::MergeInto { target_id, target_number } => {
            if !s.status.is_open() {
                return Err(IncidentError::MergeClosed);
            }
            if *target_id == s.id {
                return Err(IncidentError::MergeIntoItself);
            }
            e.move_alerts_to = Some(target_id.clone());
            e.merged_into = Some(target_id.clone());
            resolve(actor, None, &mut e);
            e.resolve_open_alerts = false;
            if let Some(last) = e.log_entries.last_mut() {
                last.summary = format!("Resolved by merging into incident #{target_number} {}", by(actor));
                last.details = Some(json!({"type": "merge_resolve_reason", "incident": {"id": target_id}}));
            }
        }
        Command::AbsorbMerged { source_id, source_number } => {
            if !s.status.is_open() {
                return Err(IncidentError::MergeClosed);
            }
            if *source_id == s.id {
                return Err(IncidentError::MergeIntoItself);
            }
            let mut entry = LogEffect::new(
                LogKind::Annotate,
                format!("Merged incident #{source_number} into this incident {}", by(actor)),
            );
            entry.details = Some(json!({"merged_incident": source_id}));
            e.log(entry);
        }
        Command::SetUrgency(urgency) => {
            if *urgency != s.urgency {
                e.urgency = Some(*urgency);
                let mut entry =
                    LogEffect::new(LogKind::UrgencyChange, format!("Urgency changed to {urgency} {}", by(actor)));
                entry.details = Some(json!({"urgency": urgency.as_str()}));
                e.log(entry);
            }
        }
        Command::SetPriority(priority) => {
            if *priority != s.priority_id {
                e.priority = Some(priority.clone());
            }
        }
        Command::SetTitle(title) => {
            if *title != s.title {
                e.title = Some(title.clone());
            }
        }
        Command::SetConference { number, url } => e.conference = Some((number.clone(), url.clone())),
        Command::AddNote { content } => {
            if s.notes >= MAX_NOTES {
                return Err(IncidentError::TooManyNotes);
            }
            e.note = Some(content.clone());
            let mut entry = LogEffect::new(LogKind::Annotate, format!("Note added {}", by(actor)));
            entry.note = Some(content.clone());
            e.log(entry);
        }
    }
    Ok(e)
}

/// Decides several commands on one incident in turn, each against the state the previous ones left, and
/// answers their combined effects and the final state. A status change that reopens a resolved incident
/// is decided first (so the rest apply to the open incident); any other status change last (so that a
/// `PUT` that reassigns and acknowledges ends acknowledged, and one that resolves does so after the
/// rest).
pub fn decide_all(
    state: &IncidentState,
    commands: &[Command],
    actor: &Actor,
    now: i64,
) -> Result<(Effects, IncidentState), IncidentError> {
    let reopens = |c: &Command| matches!(c, Command::SetStatus { to, .. } if state.status == Status::Resolved && *to != Status::Resolved);
    let is_status = |c: &Command| matches!(c, Command::SetStatus { .. });
    let ordered = commands
        .iter()
        .filter(|c| reopens(c))
        .chain(commands.iter().filter(|c| !is_status(c)))
        .chain(commands.iter().filter(|c| is_status(c) && !reopens(c)));
    let mut current = state.clone();
    let mut all = Effects::default();
    for command in ordered {
        let effects = decide(&current, command, actor, now)?;
        current.apply(&effects);
        all.merge(effects);
    }
    Ok((all, current))
}

/// What opening an incident needs to know (manual creation, or a new alert of the Events API).
#[derive(Clone, Debug, PartialEq)]
pub struct Opening {
    pub id: String,
    pub number: i64,
    pub service_id: String,
    pub title: String,
    pub urgency: Urgency,
    pub priority_id: Option<String>,
    pub escalation_policy_id: Option<String>,
    pub levels: Vec<Vec<String>>,
    pub path: Path,
    /// Direct assignees; `None`: the escalation policy's first level.
    pub assignees: Option<Vec<String>>,
    /// Created acknowledged by the actor (a person who assigned it only to themselves).
    pub acknowledged: bool,
    pub timeouts: Timeouts,
    /// The alert that opened it (Events API).
    pub alert_id: Option<String>,
}

/// Opens an incident: its first state and the effects of opening it (the trigger log entry first, then
/// the assignments, and the timers of its first status).
pub fn open(o: Opening, actor: &Actor, now: i64) -> (IncidentState, Effects) {
    let direct = o.assignees;
    let via = if direct.is_some() { AssignedVia::DirectAssignment } else { AssignedVia::EscalationPolicy };
    let empty = IncidentState {
        id: o.id,
        number: o.number,
        service_id: o.service_id,
        status: Status::Triggered,
        urgency: o.urgency,
        priority_id: o.priority_id,
        title: o.title,
        escalation_policy_id: o.escalation_policy_id,
        escalation_level: 1,
        assigned_via: via,
        assignees: vec![],
        acknowledgers: vec![],
        open_alerts: i64::from(o.alert_id.is_some()),
        alerts: i64::from(o.alert_id.is_some()),
        notes: 0,
        timeouts: o.timeouts,
        levels: o.levels,
        path: o.path,
        escalation_loops: 0,
    };
    let mut e = Effects { status: Some(Status::Triggered), ..Effects::default() };
    let mut trigger = LogEffect::new(LogKind::Trigger, format!("Triggered {}", by(actor)));
    trigger.alert_id = o.alert_id;
    e.log(trigger);
    match direct {
        Some(users) => {
            assign_users(&users, "directly", &mut e);
            e.assignees = Some(users);
        }
        None => {
            let level = land_on(&empty, 1, 0, "via escalation policy", &mut e);
            e.assignees = Some(level.unwrap_or_default());
        }
    }
    e.assigned_via = Some(via);
    e.timer(TimerKind::AutoResolve, schedule(o.timeouts.auto_resolve_secs, now));
    arm_escalation(&empty, now, &mut e);
    // A new incident has no step job to cancel (and the events batch writes no row for one).
    e.timers.retain(|t| *t != (TimerKind::Escalation, TimerChange::Cancel));
    let mut state = empty;
    state.apply(&e);
    if o.acknowledged {
        let mut ack = Effects::default();
        acknowledge(&state, actor, now, &mut ack);
        arm_escalation(&state, now, &mut ack);
        state.apply(&ack);
        e.merge(ack);
    }
    (state, e)
}

/// Lands on `level` of the incident's path (skipping levels with nobody on call, with a log entry each):
/// writes the level, loops, round-robin pointer and assignment log entries, and answers the users to
/// assign, or `None` when nobody is on call at any level (logged; the assignees stay).
fn land_on(s: &IncidentState, level: i32, loops: i32, how: &str, e: &mut Effects) -> Option<Vec<String>> {
    let landing = escalation::land(&s.levels, &s.path, level, loops);
    for skipped in &landing.skipped {
        if landing.users.is_empty() && s.levels.is_empty() {
            break;
        }
        let mut entry = LogEffect::new(LogKind::Escalate, format!("Skipped level {skipped}: nobody is on call"));
        entry.details = Some(json!({"skipped_level": skipped, "reason": "nobody_on_call"}));
        e.log(entry);
    }
    e.escalation_level = Some(landing.level);
    e.escalation_loops = Some(landing.loops);
    if landing.users.is_empty() {
        e.unassignable = true;
        let mut entry = LogEffect::new(
            LogKind::Annotate,
            "Nobody could be assigned: nobody is on call at any level of the escalation policy",
        );
        entry.details = Some(json!({"reason": "nobody_on_call"}));
        e.log(entry);
        return None;
    }
    if let Some(advance) = landing.advance {
        e.round_robin.push(advance);
    }
    assign_users(&landing.users, how, e);
    Some(landing.users)
}

/// Enters a level of the path now (an escalation step, a jump, a new policy): its users replace the
/// assignees (an acknowledged incident triggers again), with `escalate_log_entry`.
fn enter_level(s: &IncidentState, level: i32, loops: i32, actor: &Actor, now: i64, escalate: bool, e: &mut Effects) {
    let landing_level = escalation::land(&s.levels, &s.path, level, loops).level;
    let mut entry = LogEffect::new(LogKind::Escalate, format!("Escalated to level {landing_level} {}", by(actor)));
    entry.details = Some(json!({"escalation_level": landing_level}));
    if escalate {
        e.log(entry);
    }
    let mut users_log = Effects::default();
    let users = land_on(s, level, loops, "via escalation policy", &mut users_log);
    e.escalation_level = users_log.escalation_level;
    e.escalation_loops = users_log.escalation_loops;
    e.unassignable |= users_log.unassignable;
    e.round_robin.extend(users_log.round_robin);
    // Skipped levels are logged before the escalation; assignments after it.
    let (assigns, others): (Vec<LogEffect>, Vec<LogEffect>) =
        users_log.log_entries.into_iter().partition(|l| l.kind == LogKind::Assign);
    let at = e.log_entries.len().saturating_sub(usize::from(escalate));
    e.log_entries.splice(at..at, others);
    e.assigned_via = Some(AssignedVia::EscalationPolicy);
    if let Some(users) = users {
        e.log_entries.extend(assigns);
        e.assignees = Some(users);
        if s.status == Status::Acknowledged {
            unacknowledge(s, actor, now, e);
        }
    }
}

/// The delay of the next escalation step, when one is due: the incident is triggered, high-urgency,
/// assigned through its policy and its path not exhausted.
fn step_delay(s: &IncidentState) -> Option<i64> {
    let armed = s.status == Status::Triggered
        && s.urgency == Urgency::High
        && s.assigned_via == AssignedVia::EscalationPolicy
        && s.escalation_policy_id.is_some()
        && !s.levels.is_empty()
        && !escalation::exhausted(s.escalation_loops, s.path.num_loops);
    if armed { s.path.delay_ms(s.escalation_level) } else { None }
}

/// Sets or ends the escalation step when the command changed what it depends on: a step is due at the
/// current level's delay while the incident is triggered, high-urgency, assigned through its policy and
/// its path not exhausted.
fn arm_escalation(s: &IncidentState, now: i64, e: &mut Effects) {
    let relevant = e.status.is_some()
        || e.escalation_level.is_some()
        || e.escalation_loops.is_some()
        || e.assigned_via.is_some()
        || e.urgency.is_some();
    if !relevant {
        return;
    }
    let mut after = s.clone();
    after.apply(e);
    let change = match step_delay(&after) {
        Some(delay) => TimerChange::Schedule { due_at: now.saturating_add(delay) },
        // Nothing was armed before either: no job to end.
        None if step_delay(s).is_none() => return,
        None => TimerChange::Cancel,
    };
    e.timer(TimerKind::Escalation, change);
}

fn schedule(secs: Option<i64>, at: i64) -> TimerChange {
    match secs.filter(|s| *s > 0) {
        Some(s) => TimerChange::Schedule { due_at: at.saturating_add(s.saturating_mul(1000)) },
        None => TimerChange::Cancel,
    }
}

fn acknowledge(s: &IncidentState, actor: &Actor, now: i64, e: &mut Effects) {
    // Acknowledging again restarts the acknowledgement timeout; a new acknowledger joins the others.
    e.timer(TimerKind::AcknowledgementTimeout, schedule(s.timeouts.acknowledgement_secs, now));
    if s.status == Status::Acknowledged && s.acknowledgers.contains(&actor.agent) {
        return;
    }
    if s.status != Status::Acknowledged {
        e.status = Some(Status::Acknowledged);
    }
    e.acknowledgements.push(AckChange::Add(actor.agent.clone()));
    e.log(LogEffect::new(LogKind::Acknowledge, format!("Acknowledged {}", by(actor))));
}

fn unacknowledge(s: &IncidentState, actor: &Actor, now: i64, e: &mut Effects) {
    e.status = Some(Status::Triggered);
    e.acknowledgements.push(AckChange::ClearAll);
    e.timer(TimerKind::AcknowledgementTimeout, TimerChange::Cancel);
    e.timer(TimerKind::AutoResolve, schedule(s.timeouts.auto_resolve_secs, now));
    e.log(LogEffect::new(LogKind::Unacknowledge, format!("Unacknowledged {}", by(actor))));
}

fn resolve(actor: &Actor, resolution: Option<String>, e: &mut Effects) {
    e.status = Some(Status::Resolved);
    e.assignees = Some(vec![]);
    e.acknowledgements.push(AckChange::ClearAll);
    e.resolve_open_alerts = true;
    e.cancel_jobs = true;
    e.timer(TimerKind::AcknowledgementTimeout, TimerChange::Cancel);
    e.timer(TimerKind::AutoResolve, TimerChange::Cancel);
    let mut entry = LogEffect::new(LogKind::Resolve, format!("Resolved {}", by(actor)));
    entry.note = resolution;
    e.log(entry);
}

fn reopen(s: &IncidentState, to: Status, actor: &Actor, now: i64, e: &mut Effects) {
    e.status = Some(Status::Triggered);
    e.reopened = true;
    e.escalation_level = Some(1);
    e.escalation_loops = Some(0);
    let mut entry = LogEffect::new(LogKind::Trigger, format!("Reopened {}", by(actor)));
    entry.details = Some(json!({"reopened": true}));
    e.log(entry);
    e.timer(TimerKind::AutoResolve, schedule(s.timeouts.auto_resolve_secs, now));
    if to == Status::Acknowledged {
        if let Some(user) = actor.agent.user_id() {
            let users = vec![user.to_string()];
            assign_users(&users, "on reopening", e);
            e.assignees = Some(users);
        }
        let mut reopened = s.clone();
        reopened.apply(e);
        acknowledge(&reopened, actor, now, e);
    } else {
        let users = land_on(s, 1, 0, "on reopening", e);
        e.assignees = Some(users.unwrap_or_default());
        e.assigned_via = Some(AssignedVia::EscalationPolicy);
    }
}

/// New assignees (replacing the old ones). An acknowledged incident goes back to triggered: the new
/// assignees have not acknowledged it.
fn assign(s: &IncidentState, users: &[String], via: AssignedVia, how: &str, actor: &Actor, now: i64, e: &mut Effects) {
    assign_users(users, how, e);
    e.assignees = Some(users.to_vec());
    e.assigned_via = Some(via);
    if s.status == Status::Acknowledged {
        unacknowledge(s, actor, now, e);
    }
}

/// One `assign_log_entry` per assignee (naming them in `user_id`; the store renders their details).
fn assign_users(users: &[String], how: &str, e: &mut Effects) {
    for user in users {
        let mut entry = LogEffect::new(LogKind::Assign, format!("Assigned {how}"));
        entry.user_id = Some(user.clone());
        e.log(entry);
    }
}

#[cfg(test)]
mod tests;
