//! The command layer's rules, one behaviour per test.

use super::*;
use crate::actor::{Actor, Agent, Channel};

const NOW: i64 = 1_000_000;

fn ada() -> Actor {
    Actor::user("PADA", "Ada", Channel::Api)
}
fn bob() -> Actor {
    Actor::user("PBOB", "Bob", Channel::WebTrigger)
}

fn state(status: Status) -> IncidentState {
    IncidentState {
        id: "Q1".into(),
        number: 1,
        service_id: "PSVC".into(),
        status,
        urgency: Urgency::High,
        priority_id: None,
        title: "Disk full".into(),
        escalation_policy_id: Some("PPOL".into()),
        escalation_level: 1,
        assigned_via: AssignedVia::EscalationPolicy,
        assignees: if status.is_open() { vec!["PL1".into()] } else { vec![] },
        acknowledgers: vec![],
        open_alerts: 1,
        alerts: 1,
        notes: 0,
        timeouts: Timeouts { acknowledgement_secs: Some(600), auto_resolve_secs: Some(3600) },
        levels: vec![vec!["PL1".into()], vec!["PL2a".into(), "PL2b".into()]],
        path: Default::default(),
        escalation_loops: 0,
    }
}

fn kinds(e: &Effects) -> Vec<LogKind> {
    e.log_entries.iter().map(|l| l.kind).collect()
}

fn run(s: &mut IncidentState, c: Command, actor: &Actor) -> Result<Effects, IncidentError> {
    let e = decide(s, &c, actor, NOW)?;
    s.apply(&e);
    Ok(e)
}

#[test]
fn acknowledging_a_triggered_incident_records_the_acknowledger_and_arms_the_ack_timeout() {
    let e = decide(&state(Status::Triggered), &Command::Acknowledge, &ada(), NOW).unwrap();
    assert_eq!(e.status, Some(Status::Acknowledged));
    assert_eq!(e.acknowledgements, vec![AckChange::Add(Agent::User("PADA".into()))]);
    assert_eq!(kinds(&e), vec![LogKind::Acknowledge]);
    assert_eq!(e.log_entries[0].summary, "Acknowledged by Ada");
    assert_eq!(e.timers, vec![(TimerKind::AcknowledgementTimeout, TimerChange::Schedule { due_at: NOW + 600_000 })]);
}

#[test]
fn a_second_acknowledger_joins_and_the_same_one_again_only_restarts_the_timeout() {
    let mut s = state(Status::Triggered);
    run(&mut s, Command::Acknowledge, &ada()).unwrap();
    let again = run(&mut s, Command::Acknowledge, &ada()).unwrap();
    assert!(again.log_entries.is_empty() && again.acknowledgements.is_empty() && again.status.is_none());
    assert_eq!(again.timers.len(), 1);
    let other = run(&mut s, Command::Acknowledge, &bob()).unwrap();
    assert_eq!(kinds(&other), vec![LogKind::Acknowledge]);
    assert_eq!(s.acknowledgers, vec![Agent::User("PADA".into()), Agent::User("PBOB".into())]);
}

#[test]
fn resolving_clears_assignments_acknowledgements_alerts_and_timers() {
    let mut s = state(Status::Triggered);
    run(&mut s, Command::Acknowledge, &ada()).unwrap();
    let e = run(&mut s, Command::Resolve { resolution: Some("fixed".into()) }, &ada()).unwrap();
    assert_eq!(e.status, Some(Status::Resolved));
    assert_eq!(e.assignees, Some(vec![]));
    assert_eq!(e.acknowledgements, vec![AckChange::ClearAll]);
    assert!(e.resolve_open_alerts);
    assert!(e.cancel_jobs, "its timers and escalations end with it");
    assert_eq!(e.log_entries[0].note.as_deref(), Some("fixed"));
    assert!(e.timers.iter().all(|(_, c)| *c == TimerChange::Cancel) && e.timers.len() == 2);
    assert!(s.acknowledgers.is_empty());
}

#[test]
fn resolving_a_resolved_incident_is_error_1001_on_every_path() {
    let s = state(Status::Resolved);
    for c in [
        Command::Resolve { resolution: None },
        Command::ResolveByLastAlert,
        Command::SetStatus { to: Status::Resolved, resolution: None },
    ] {
        assert_eq!(decide(&s, &c, &ada(), NOW), Err(IncidentError::AlreadyResolved), "{c:?}");
    }
    assert_eq!(IncidentError::AlreadyResolved.code(), 1001);
}

#[test]
fn acknowledged_by_a_auto_resolved_then_reopened_and_acknowledged_by_b_lists_b_alone() {
    let mut s = state(Status::Triggered);
    run(&mut s, Command::Acknowledge, &ada()).unwrap();
    run(&mut s, Command::Resolve { resolution: None }, &Actor::service_timer("PSVC")).unwrap();
    run(&mut s, Command::SetStatus { to: Status::Acknowledged, resolution: None }, &bob()).unwrap();
    assert_eq!(s.status, Status::Acknowledged);
    assert_eq!(s.acknowledgers, vec![Agent::User("PBOB".into())]);
}

#[test]
fn a_timer_resolving_says_due_to_timeout() {
    let e =
        decide(&state(Status::Triggered), &Command::Resolve { resolution: None }, &Actor::service_timer("PSVC"), NOW)
            .unwrap();
    assert_eq!(e.log_entries[0].summary, "Resolved due to timeout");
}

#[test]
fn an_event_acknowledging_says_through_the_api() {
    let e = decide(&state(Status::Triggered), &Command::Acknowledge, &Actor::integration("PINT"), NOW).unwrap();
    assert_eq!(e.log_entries[0].summary, "Acknowledged through the API");
}

#[test]
fn unacknowledge_needs_an_acknowledged_incident_and_rearms_auto_resolve() {
    assert_eq!(
        decide(&state(Status::Triggered), &Command::Unacknowledge, &Actor::service_timer("PSVC"), NOW),
        Err(IncidentError::NotAcknowledged)
    );
    let mut s = state(Status::Triggered);
    run(&mut s, Command::Acknowledge, &ada()).unwrap();
    let e = run(&mut s, Command::Unacknowledge, &Actor::service_timer("PSVC")).unwrap();
    assert_eq!(e.status, Some(Status::Triggered));
    assert_eq!(e.log_entries[0].summary, "Unacknowledged due to timeout");
    assert!(e.timers.contains(&(TimerKind::AutoResolve, TimerChange::Schedule { due_at: NOW + 3_600_000 })));
    assert!(s.acknowledgers.is_empty());
}

#[test]
fn reopening_as_triggered_assigns_the_first_level_again() {
    let mut s = state(Status::Resolved);
    let e = run(&mut s, Command::SetStatus { to: Status::Triggered, resolution: None }, &ada()).unwrap();
    assert!(e.reopened);
    assert_eq!(e.escalation_level, Some(1));
    assert_eq!(s.assignees, vec!["PL1".to_string()]);
    assert_eq!(kinds(&e), vec![LogKind::Trigger, LogKind::Assign]);
}

#[test]
fn reopening_as_acknowledged_assigns_and_acknowledges_the_actor() {
    let mut s = state(Status::Resolved);
    run(&mut s, Command::SetStatus { to: Status::Acknowledged, resolution: None }, &ada()).unwrap();
    assert_eq!(s.status, Status::Acknowledged);
    assert_eq!(s.assignees, vec!["PADA".to_string()]);
    assert_eq!(s.acknowledgers, vec![Agent::User("PADA".into())]);
}

#[test]
fn reassigning_an_acknowledged_incident_triggers_it_again_for_the_new_assignee() {
    let mut s = state(Status::Triggered);
    run(&mut s, Command::Acknowledge, &ada()).unwrap();
    let e = run(&mut s, Command::Reassign { users: vec!["PBOB".into()] }, &ada()).unwrap();
    assert_eq!(s.status, Status::Triggered);
    assert_eq!(s.assignees, vec!["PBOB".to_string()]);
    assert_eq!(s.assigned_via, AssignedVia::DirectAssignment);
    assert_eq!(kinds(&e), vec![LogKind::Assign, LogKind::Unacknowledge]);
}

#[test]
fn escalating_assigns_the_level_and_names_it() {
    let mut s = state(Status::Triggered);
    let e = run(&mut s, Command::EscalateTo { level: 2 }, &ada()).unwrap();
    assert_eq!(s.escalation_level, 2);
    assert_eq!(s.assignees, vec!["PL2a".to_string(), "PL2b".to_string()]);
    assert_eq!(kinds(&e), vec![LogKind::Escalate, LogKind::Assign, LogKind::Assign]);
}

#[test]
fn escalating_past_the_last_level_or_without_a_policy_is_error_1006() {
    let s = state(Status::Triggered);
    assert_eq!(decide(&s, &Command::EscalateTo { level: 3 }, &ada(), NOW), Err(IncidentError::NoSuchLevel));
    assert_eq!(decide(&s, &Command::EscalateTo { level: 0 }, &ada(), NOW), Err(IncidentError::NoSuchLevel));
    let mut none = s.clone();
    none.escalation_policy_id = None;
    assert_eq!(decide(&none, &Command::EscalateTo { level: 1 }, &ada(), NOW), Err(IncidentError::NoEscalationPolicy));
    assert_eq!(IncidentError::NoSuchLevel.code(), 1006);
}

#[test]
fn changing_the_policy_starts_at_its_first_level() {
    let mut s = state(Status::Triggered);
    let c =
        Command::ChangePolicy { policy_id: "POTHER".into(), levels: vec![vec!["PX".into()]], path: Default::default() };
    let e = run(&mut s, c, &ada()).unwrap();
    assert_eq!(s.escalation_policy_id.as_deref(), Some("POTHER"));
    assert_eq!(s.escalation_level, 1);
    assert_eq!(s.assignees, vec!["PX".to_string()]);
    assert_eq!(kinds(&e), vec![LogKind::Delegate, LogKind::Assign]);
}

#[test]
fn snoozing_needs_an_acknowledged_incident_and_moves_the_ack_timeout() {
    assert_eq!(
        decide(&state(Status::Triggered), &Command::Snooze { seconds: 60 }, &ada(), NOW),
        Err(IncidentError::NotAcknowledged)
    );
    let mut s = state(Status::Triggered);
    run(&mut s, Command::Acknowledge, &ada()).unwrap();
    assert_eq!(decide(&s, &Command::Snooze { seconds: 0 }, &ada(), NOW), Err(IncidentError::SnoozeDuration));
    let e = decide(&s, &Command::Snooze { seconds: 60 }, &ada(), NOW).unwrap();
    assert_eq!(e.timers, vec![(TimerKind::AcknowledgementTimeout, TimerChange::Schedule { due_at: NOW + 60_000 })]);
    assert_eq!(kinds(&e), vec![LogKind::Snooze]);
}

#[test]
fn merging_resolves_the_source_moves_its_alerts_and_needs_open_incidents() {
    let s = state(Status::Triggered);
    let e = decide(&s, &Command::MergeInto { target_id: "Q9".into(), target_number: 9 }, &ada(), NOW).unwrap();
    assert_eq!(e.status, Some(Status::Resolved));
    assert_eq!(e.move_alerts_to.as_deref(), Some("Q9"));
    assert_eq!(e.merged_into.as_deref(), Some("Q9"));
    assert!(!e.resolve_open_alerts, "merged alerts stay open on the target");
    let closed = state(Status::Resolved);
    assert_eq!(
        decide(&closed, &Command::MergeInto { target_id: "Q9".into(), target_number: 9 }, &ada(), NOW),
        Err(IncidentError::MergeClosed)
    );
    assert_eq!(
        decide(&closed, &Command::AbsorbMerged { source_id: "Q2".into(), source_number: 2 }, &ada(), NOW),
        Err(IncidentError::MergeClosed)
    );
    assert_eq!(
        decide(&s, &Command::MergeInto { target_id: "Q1".into(), target_number: 1 }, &ada(), NOW),
        Err(IncidentError::MergeIntoItself)
    );
}

#[test]
fn an_unchanged_urgency_writes_no_log_entry() {
    let s = state(Status::Triggered);
    assert!(decide(&s, &Command::SetUrgency(Urgency::High), &ada(), NOW).unwrap().is_empty());
    let e = decide(&s, &Command::SetUrgency(Urgency::Low), &ada(), NOW).unwrap();
    assert_eq!(kinds(&e), vec![LogKind::UrgencyChange]);
}

#[test]
fn notes_are_limited_to_two_thousand() {
    let mut s = state(Status::Resolved);
    let e = decide(&s, &Command::AddNote { content: "postmortem".into() }, &ada(), NOW).unwrap();
    assert_eq!(e.note.as_deref(), Some("postmortem"));
    s.notes = MAX_NOTES;
    assert_eq!(decide(&s, &Command::AddNote { content: "x".into() }, &ada(), NOW), Err(IncidentError::TooManyNotes));
}

#[test]
fn a_put_that_reassigns_and_acknowledges_ends_acknowledged_by_the_actor() {
    let s = state(Status::Triggered);
    let commands = [
        Command::SetStatus { to: Status::Acknowledged, resolution: None },
        Command::Reassign { users: vec!["PADA".into()] },
    ];
    let (_, end) = decide_all(&s, &commands, &ada(), NOW).unwrap();
    assert_eq!(end.status, Status::Acknowledged);
    assert_eq!(end.assignees, vec!["PADA".to_string()]);
}

#[test]
fn a_put_that_reopens_and_reassigns_reopens_first() {
    let s = state(Status::Resolved);
    let commands = [
        Command::Reassign { users: vec!["PBOB".into()] },
        Command::SetStatus { to: Status::Triggered, resolution: None },
    ];
    let (_, end) = decide_all(&s, &commands, &ada(), NOW).unwrap();
    assert_eq!(end.status, Status::Triggered);
    assert_eq!(end.assignees, vec!["PBOB".to_string()]);
}

#[test]
fn a_broken_rule_in_any_command_rejects_them_all() {
    let s = state(Status::Triggered);
    let commands = [Command::SetUrgency(Urgency::Low), Command::EscalateTo { level: 7 }];
    assert_eq!(decide_all(&s, &commands, &ada(), NOW), Err(IncidentError::NoSuchLevel));
}

#[test]
fn opening_logs_the_trigger_then_the_assignments_and_arms_auto_resolve() {
    let o = Opening {
        id: "Q5".into(),
        number: 5,
        service_id: "PSVC".into(),
        title: "Down".into(),
        urgency: Urgency::High,
        priority_id: None,
        escalation_policy_id: Some("PPOL".into()),
        levels: vec![vec!["PL1".into(), "PL1b".into()]],
        path: Default::default(),
        assignees: None,
        acknowledged: false,
        timeouts: Timeouts { acknowledgement_secs: None, auto_resolve_secs: Some(60) },
        alert_id: Some("QA".into()),
    };
    let (s, e) = open(o, &Actor::integration("PINT"), NOW);
    assert_eq!(kinds(&e), vec![LogKind::Trigger, LogKind::Assign, LogKind::Assign]);
    assert_eq!(e.log_entries[0].alert_id.as_deref(), Some("QA"));
    assert_eq!(e.log_entries[0].summary, "Triggered through the API");
    assert_eq!(s.assignees, vec!["PL1".to_string(), "PL1b".to_string()]);
    assert_eq!(e.timers, vec![(TimerKind::AutoResolve, TimerChange::Schedule { due_at: NOW + 60_000 })]);
}

#[test]
fn opening_acknowledged_by_oneself_assigns_and_acknowledges() {
    let o = Opening {
        id: "Q5".into(),
        number: 5,
        service_id: "PSVC".into(),
        title: "Down".into(),
        urgency: Urgency::Low,
        priority_id: None,
        escalation_policy_id: Some("PPOL".into()),
        levels: vec![],
        path: Default::default(),
        assignees: Some(vec!["PADA".into()]),
        acknowledged: true,
        timeouts: Timeouts::default(),
        alert_id: None,
    };
    let (s, e) = open(o, &ada(), NOW);
    assert_eq!(s.status, Status::Acknowledged);
    assert_eq!(s.assigned_via, AssignedVia::DirectAssignment);
    assert_eq!(kinds(&e), vec![LogKind::Trigger, LogKind::Assign, LogKind::Acknowledge]);
}
