//! A week of on-call in virtual time: a daily 09:00 Europe/Berlin rotation of three users across the
//! spring-forward night, an override, a policy that escalates to a backup and loops once, and two
//! incidents a day through the Events API (one acknowledged before it escalates, one left to escalate,
//! loop and exhaust), each checked against who should be on call at that instant, worked out here
//! independently of the engine. Only the ManualClock moves time, so the week runs in well under two
//! seconds of wall time (nextest prints the figure).

use crate::common::*;
use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};
use klaxon_core::role::Role;
use klaxon_store::testing::{SeedOptions, TestOrg};
use serde_json::{Value, json};

const ZONE: &str = "Europe/Berlin";

fn berlin() -> TimeZone {
    TimeZone::get(ZONE).unwrap()
}

/// The instant of a Berlin wall-clock time.
fn local(date_time: &str) -> Timestamp {
    berlin().to_timestamp(date_time.parse::<DateTime>().unwrap()).unwrap()
}

/// Who the rotation puts on call at `at`: turn k (negative before the virtual start) starts at 09:00
/// Berlin on 23 March + k calendar days.
fn rotation_user(users: &[String; 3], at: Timestamp) -> &str {
    let first: DateTime = "2026-03-23T09:00".parse().unwrap();
    let now = berlin().to_datetime(at);
    let mut turn = -7i64;
    while first.checked_add((turn + 1).days()).unwrap() <= now {
        turn += 1;
    }
    &users[turn.rem_euclid(3) as usize]
}

struct Week {
    server: TestServer,
    key: String,
    rotation: [String; 3],
    backup: String,
    policy: String,
    /// Dee covers the rotation on 25 March from 12:00 to 18:00 Berlin.
    override_window: (Timestamp, Timestamp),
}

impl Week {
    async fn start() -> Week {
        let server = TestServer::start_with_clock(local("2026-03-23T00:00")).await;
        let org = TestOrg::new(&server.store, server.app.now_ms());
        let mut ids = Vec::new();
        for name in ["Ann", "Ben", "Cid", "Dee"] {
            ids.push(org.user(name, Role::User).await.unwrap().id);
        }
        let rotation = [ids[0].clone(), ids[1].clone(), ids[2].clone()];
        let backup = ids[3].clone();
        let layer = json!({"name": "Daily", "start": "2026-03-16T09:00:00+01:00",
            "rotation_virtual_start": "2026-03-23T09:00:00+01:00", "rotation_turn_length_seconds": 86400,
            "users": rotation.iter().map(|u| json!({"user": {"id": u, "type": "user_reference"}})).collect::<Vec<_>>()});
        let (status, body) = server
            .post(
                "/schedules",
                json!({"schedule": {"type": "schedule", "name": "Primary", "time_zone": ZONE,
                                                   "schedule_layers": [layer]}}),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        let schedule = body["schedule"]["id"].as_str().unwrap().to_string();
        let override_window = (local("2026-03-25T12:00"), local("2026-03-25T18:00"));
        let (status, body) = server
            .post(
                &format!("/schedules/{schedule}/overrides"),
                json!({"overrides": [{"start": override_window.0.to_string(), "end": override_window.1.to_string(),
                                      "user": {"id": backup, "type": "user_reference"}}]}),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        let rules = json!([
            {"escalation_delay_in_minutes": 15, "targets": [{"id": schedule, "type": "schedule_reference"}]},
            {"escalation_delay_in_minutes": 15, "targets": [{"id": backup, "type": "user_reference"}]},
        ]);
        let (status, body) = server
            .post(
                "/escalation_policies",
                json!({"escalation_policy": {"type": "escalation_policy",
                "name": "Primary then backup", "num_loops": 1, "escalation_rules": rules}}),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        let policy = body["escalation_policy"]["id"].as_str().unwrap().to_string();
        let options = SeedOptions { acknowledgement_timeout: None, ..SeedOptions::default() };
        let (_, _, key) = org.service(&policy, &options).await.unwrap();
        Week { server, key, rotation, backup, policy, override_window }
    }

    /// Who should be on call for level 1 at `at`.
    fn expected_primary(&self, at: Timestamp) -> &str {
        if self.override_window.0 <= at && at < self.override_window.1 {
            return &self.backup;
        }
        rotation_user(&self.rotation, at)
    }

    /// Moves the clock to `at` and runs whatever fell due.
    async fn at(&self, at: Timestamp) {
        let now = self.server.now();
        assert!(at >= now, "time runs forward");
        self.server.advance_secs(at.as_second() - now.as_second());
        self.server.run_jobs().await;
    }

    async fn trigger(&self, key: &str) -> String {
        let (status, body) = self.server.enqueue(v2_trigger(&self.key, key)).await;
        assert_eq!(status, 202, "{body}");
        self.server.events_processed().await;
        let (_, list) = self.server.get(&format!("/incidents?incident_key={key}")).await;
        list["incidents"][0]["id"].as_str().expect("the incident").to_string()
    }

    async fn resolve(&self, key: &str) {
        let (status, body) = self.server.enqueue(v2_action(&self.key, "resolve", key)).await;
        assert_eq!(status, 202, "{body}");
        self.server.events_processed().await;
    }

    async fn acknowledge(&self, incident: &str) {
        let (status, body) = self
            .server
            .put(&format!("/incidents/{incident}"), json!({"incident": {"type": "incident", "status": "acknowledged"}}))
            .await;
        assert_eq!(status, 200, "{body}");
    }

    /// The incident's assignees and escalation level.
    async fn assigned(&self, incident: &str) -> (Vec<String>, u64) {
        let (status, body) = self.server.get(&format!("/incidents/{incident}")).await;
        assert_eq!(status, 200, "{body}");
        let assignees = body["incident"]["assignments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["assignee"]["id"].as_str().unwrap().to_string())
            .collect();
        (assignees, body["incident"]["escalation_level"].as_u64().unwrap())
    }

    /// Level 1 of the policy as `GET /oncalls` answers now.
    async fn oncall_now(&self) -> String {
        let now = self.server.now();
        let (status, body) =
            self.server.get(&format!("/oncalls?escalation_policy_ids[]={}&since={now}&until={now}", self.policy)).await;
        assert_eq!(status, 200, "{body}");
        let level_one: Vec<&Value> =
            body["oncalls"].as_array().unwrap().iter().filter(|o| o["escalation_level"] == 1).collect();
        assert_eq!(level_one.len(), 1, "{body}");
        level_one[0]["user"]["id"].as_str().unwrap().to_string()
    }
}

#[tokio::test]
async fn a_week_of_rotations_overrides_incidents_acknowledgements_and_escalations_in_virtual_time() {
    let wall = std::time::Instant::now();
    let week = Week::start().await;
    let mut assignments = 0;
    for day in 0..7 {
        let date: DateTime = "2026-03-23T00:00".parse::<DateTime>().unwrap().checked_add(day.days()).unwrap();
        let at_local =
            |hh: i8, mm: i8| berlin().to_timestamp(date.with().hour(hh).minute(mm).build().unwrap()).unwrap();

        // 08:30: still yesterday's turn; acknowledged after 5 minutes, so it never escalates.
        let early = at_local(8, 30);
        week.at(early).await;
        let expected = week.expected_primary(early).to_string();
        assert_eq!(week.oncall_now().await, expected, "day {day} 08:30 on call");
        let incident = week.trigger(&format!("early-{day}")).await;
        assert_eq!(week.assigned(&incident).await, (vec![expected.clone()], 1), "day {day} 08:30");
        assignments += 1;
        week.at(early + 5.minutes()).await;
        week.acknowledge(&incident).await;
        week.at(early + 20.minutes()).await;
        assert_eq!(week.assigned(&incident).await, (vec![expected.clone()], 1), "acknowledged: no escalation");
        week.at(early + 60.minutes()).await;
        week.resolve(&format!("early-{day}")).await;

        // 09:30: today's turn; nobody acknowledges: backup, primary again (the one loop), backup, then stays.
        let late = at_local(9, 30);
        week.at(late).await;
        let primary = week.expected_primary(late).to_string();
        assert_ne!(primary, expected, "day {day}: the 09:00 handoff happened");
        let incident = week.trigger(&format!("late-{day}")).await;
        assert_eq!(week.assigned(&incident).await, (vec![primary.clone()], 1), "day {day} 09:30");
        for (minutes, who, level) in
            [(15, &week.backup, 2), (30, &primary, 1), (45, &week.backup, 2), (60, &week.backup, 2)]
        {
            week.at(late + minutes.minutes()).await;
            assert_eq!(week.assigned(&incident).await, (vec![who.clone()], level), "day {day} 09:30 + {minutes} min");
        }
        assignments += 4;
        week.at(late + 90.minutes()).await;
        week.resolve(&format!("late-{day}")).await;

        // 25 March 13:00: the override puts the backup on call.
        if day == 2 {
            let covered = at_local(13, 0);
            week.at(covered).await;
            assert_eq!(week.oncall_now().await, week.backup);
            let incident = week.trigger("override").await;
            assert_eq!(week.assigned(&incident).await, (vec![week.backup.clone()], 1));
            assignments += 1;
            week.acknowledge(&incident).await;
        }
    }
    week.at(local("2026-03-30T12:00")).await;

    // Every assignment paged its assignee once (each user's default rule: email, at once).
    let (status, body) = week
        .server
        .get("/notifications?since=2026-03-22T00:00:00Z&until=2026-03-31T00:00:00Z&limit=1&total=true")
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["total"], assignments);
    println!("a virtual week in {:?} of wall time", wall.elapsed());
}
