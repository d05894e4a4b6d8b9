use super::*;

fn users(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}

fn state(status: Status, assignees: &[String], level: i32, loops: i32) -> Paging<'_> {
    Paging { status, assignees, escalation_level: level, escalation_loops: loops, assigned: false }
}

/// After a change that set the assignees.
fn assigned(status: Status, assignees: &[String], level: i32, loops: i32) -> Paging<'_> {
    Paging { assigned: true, ..state(status, assignees, level, loops) }
}

fn rule(id: &str, user: &str, delay: i64, urgency: Urgency) -> AssignmentRule {
    AssignmentRule {
        id: id.into(),
        user_id: user.into(),
        user_name: user.to_uppercase(),
        start_delay_in_minutes: delay,
        urgency,
        contact_method_id: format!("cm-{id}"),
        notification_type: NotificationType::Email,
        address: Some(format!("{user}@example.com")),
    }
}

#[test]
fn a_new_incident_pages_every_first_assignee() {
    let (none, ab) = (users(&[]), users(&["a", "b"]));
    let change = paging(&state(Status::Triggered, &none, 1, 0), &assigned(Status::Triggered, &ab, 1, 0));
    assert_eq!(change, PagingChange { page: ab.clone(), stop: Stop::Nobody });
}

#[test]
fn acknowledging_stops_every_pending_intent_and_pages_nobody() {
    let a = users(&["a"]);
    let change = paging(&state(Status::Triggered, &a, 1, 0), &state(Status::Acknowledged, &a, 1, 0));
    assert_eq!(change, PagingChange { page: vec![], stop: Stop::Everyone });
}

#[test]
fn resolving_stops_every_pending_intent() {
    let a = users(&["a"]);
    let change = paging(&state(Status::Triggered, &a, 1, 0), &state(Status::Resolved, &a, 1, 0));
    assert_eq!(change.stop, Stop::Everyone);
    assert!(change.page.is_empty());
}

#[test]
fn an_escalation_step_pages_the_new_level_and_stops_the_old_one() {
    let (a, b) = (users(&["a"]), users(&["b"]));
    let change = paging(&state(Status::Triggered, &a, 1, 0), &assigned(Status::Triggered, &b, 2, 0));
    assert_eq!(change, PagingChange { page: b, stop: Stop::Everyone });
}

#[test]
fn a_loop_back_to_the_same_user_pages_them_again() {
    let a = users(&["a"]);
    let change = paging(&state(Status::Triggered, &a, 1, 0), &assigned(Status::Triggered, &a, 1, 1));
    assert_eq!(change, PagingChange { page: a, stop: Stop::Everyone });
}

#[test]
fn exhausting_the_escalation_path_pages_nobody_again() {
    let b = users(&["b"]);
    let change = paging(&state(Status::Triggered, &b, 2, 1), &state(Status::Triggered, &b, 2, 2));
    assert!(change.is_empty());
}

#[test]
fn an_acknowledgement_timing_out_pages_every_assignee_again() {
    let a = users(&["a"]);
    let change = paging(&state(Status::Acknowledged, &a, 1, 0), &state(Status::Triggered, &a, 1, 0));
    assert_eq!(change, PagingChange { page: a, stop: Stop::Everyone });
}

#[test]
fn reassigning_pages_only_the_newcomers_and_stops_those_who_left() {
    let (ab, bc) = (users(&["a", "b"]), users(&["b", "c"]));
    let change = paging(&state(Status::Triggered, &ab, 1, 0), &assigned(Status::Triggered, &bc, 1, 0));
    assert_eq!(change, PagingChange { page: users(&["c"]), stop: Stop::Users(users(&["a"])) });
}

#[test]
fn a_change_that_leaves_assignees_and_level_alone_pages_nobody() {
    let a = users(&["a"]);
    let change = paging(&state(Status::Triggered, &a, 1, 0), &state(Status::Triggered, &a, 1, 0));
    assert!(change.is_empty());
}

#[test]
fn reassigning_an_acknowledged_incident_pages_nobody() {
    let (a, b) = (users(&["a"]), users(&["b"]));
    let change = paging(&state(Status::Acknowledged, &a, 1, 0), &state(Status::Acknowledged, &b, 1, 0));
    assert!(change.is_empty());
}

#[test]
fn intents_follow_the_rules_of_the_incidents_urgency_each_after_its_delay() {
    let rules = vec![
        rule("r3", "a", 5, Urgency::High),
        rule("r1", "a", 0, Urgency::High),
        rule("r2", "a", 0, Urgency::Low),
        rule("r4", "b", 1, Urgency::High),
        rule("r5", "c", 0, Urgency::High),
    ];
    let paged = users(&["b", "a"]);
    let got: Vec<(&str, &str, i64)> = intents(&paged, Urgency::High, &rules, 1_000)
        .iter()
        .map(|i| (i.user_id, i.rule.id.as_str(), i.started_at))
        .collect();
    assert_eq!(got, vec![("b", "r4", 61_000), ("a", "r1", 1_000), ("a", "r3", 301_000)]);
    let low: Vec<&str> = intents(&paged, Urgency::Low, &rules, 0).iter().map(|i| i.rule.id.as_str()).collect();
    assert_eq!(low, vec!["r2"]);
}

#[test]
fn a_user_without_rules_of_that_urgency_gets_no_intent() {
    let rules = vec![rule("r1", "a", 0, Urgency::Low)];
    assert!(intents(&users(&["a"]), Urgency::High, &rules, 0).is_empty());
}

#[test]
fn phone_addresses_are_e164_and_push_has_none() {
    assert_eq!(address_of("sms_contact_method", "5555551234", Some(1)).as_deref(), Some("+15555551234"));
    assert_eq!(address_of("phone_contact_method", "301234567", Some(49)).as_deref(), Some("+49301234567"));
    assert_eq!(address_of("email_contact_method", "a@example.com", None).as_deref(), Some("a@example.com"));
    assert_eq!(address_of("push_notification_contact_method", "device", None), None);
}

#[test]
fn notification_types_round_trip_and_follow_contact_methods() {
    for t in NotificationType::ALL {
        assert_eq!(t.as_str().parse::<NotificationType>(), Ok(t));
    }
    assert_eq!(NotificationType::for_contact_method("sms_contact_method"), Some(NotificationType::Sms));
    assert!("fax_notification".parse::<NotificationType>().is_err());
}
