//! Escalation policies: `GET|POST /escalation_policies`, `GET|PUT|DELETE /escalation_policies/{id}`.

use crate::common::*;
use klaxon_core::role::Role;
use reqwest::Method;
use serde_json::{Value, json};

/// A policy body with one rule targeting `user_id`.
pub fn policy_body(name: &str, user_id: &str) -> Value {
    json!({"escalation_policy": {
        "type": "escalation_policy", "name": name,
        "escalation_rules": [{"escalation_delay_in_minutes": 30,
                              "targets": [{"id": user_id, "type": "user_reference"}]}]
    }})
}

/// Creates a policy targeting the owner; returns its id.
pub async fn create_policy(server: &TestServer, name: &str) -> String {
    let (status, body) = server.post("/escalation_policies", policy_body(name, &server.owner_id)).await;
    assert_eq!(status, 201, "{body}");
    body["escalation_policy"]["id"].as_str().unwrap().to_string()
}

/// Inserts a team straight into the database (the teams API is built elsewhere); returns its id.
pub async fn insert_team(server: &TestServer, name: &str) -> String {
    use sqlx::Connection;
    let id = format!("PT{}", &klaxon_store::ids::resource_id()[2..]);
    let sql = "INSERT INTO teams (id, name, name_lower, description, default_role, parent_id, created_at)
               VALUES ($1, $2, $3, NULL, 'manager', NULL, 0)";
    match &server.database_url {
        Some(url) => {
            let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
            sqlx::query(sql).bind(&id).bind(name).bind(name.to_lowercase()).execute(&mut conn).await.unwrap();
        }
        None => {
            let path = server.dir.path().join("klaxon.db");
            let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display())).await.unwrap();
            sqlx::query(sql).bind(&id).bind(name).bind(name.to_lowercase()).execute(&mut conn).await.unwrap();
        }
    }
    id
}

#[tokio::test]
async fn creating_a_policy_renders_rules_targets_and_defaults() {
    let server = TestServer::start().await;
    let (status, body) = server.post("/escalation_policies", policy_body("Primary", &server.owner_id)).await;
    assert_eq!(status, 201, "{body}");
    let ep = &body["escalation_policy"];
    let id = ep["id"].as_str().unwrap();
    assert_eq!(ep["type"], "escalation_policy");
    assert_eq!(ep["summary"], "Primary");
    assert_eq!(ep["self"], format!("{}/escalation_policies/{id}", server.url));
    assert_eq!(ep["num_loops"], 0);
    assert_eq!(ep["on_call_handoff_notifications"], "if_has_services");
    assert_eq!(ep["services"], json!([]));
    assert_eq!(ep["teams"], json!([]));
    let rule = &ep["escalation_rules"][0];
    assert!(rule["id"].as_str().unwrap().starts_with('P'));
    assert_eq!(rule["escalation_delay_in_minutes"], 30);
    assert_eq!(rule["escalation_rule_assignment_strategy"], json!({"type": "assign_to_everyone"}));
    let target = &rule["targets"][0];
    assert_eq!(target["id"], server.owner_id.as_str());
    assert_eq!(target["type"], "user_reference");
    assert_eq!(target["summary"], "Owner");
    let (status, fetched) = server.get(&format!("/escalation_policies/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(fetched["escalation_policy"], *ep);
}

#[tokio::test]
async fn policy_names_are_unique_case_insensitively() {
    let server = TestServer::start().await;
    create_policy(&server, "Primary").await;
    let (status, body) = server.post("/escalation_policies", policy_body("PRIMARY", &server.owner_id)).await;
    assert_eq!(status, 400);
    assert!(error_text(&body).contains("escalation_policy.name has already been taken"), "{body}");
}

#[tokio::test]
async fn a_policy_needs_a_name_and_at_least_one_rule() {
    let server = TestServer::start().await;
    let (status, body) =
        server.post("/escalation_policies", json!({"escalation_policy": {"escalation_rules": []}})).await;
    assert_eq!(status, 400);
    let text = error_text(&body);
    assert!(text.contains("escalation_policy.name is required"), "{text}");
    assert!(text.contains("escalation_policy.escalation_rules must have at least one rule"), "{text}");
    let (status, body) = server.post("/escalation_policies", json!({"escalation_policy": {"name": "x"}})).await;
    assert_eq!(status, 400);
    assert!(error_text(&body).contains("escalation_policy.escalation_rules is required"));
}

#[tokio::test]
async fn rule_problems_name_the_rule_and_target() {
    let server = TestServer::start().await;
    let body = json!({"escalation_policy": {"name": "P", "escalation_rules": [{
        "escalation_delay_in_minutes": 0,
        "targets": [{"id": server.owner_id, "type": "user"}, {"id": "PNOBODY", "type": "user_reference"},
                    {"id": "PX", "type": "team_reference"}]}]}});
    let (status, body) = server.post("/escalation_policies", body).await;
    assert_eq!(status, 400);
    let text = error_text(&body);
    assert!(text.contains("escalation_policy.escalation_rules[0].escalation_delay_in_minutes must be at least 1"));
    assert!(text.contains("escalation_policy.escalation_rules[0].targets[1].id PNOBODY not found"), "{text}");
    assert!(text.contains("escalation_policy.escalation_rules[0].targets[2].type"), "{text}");
    let (_, list) = server.get("/escalation_policies?total=true").await;
    assert_eq!(list["total"], 0, "nothing was written");
}

#[tokio::test]
async fn a_rule_without_targets_is_refused() {
    let server = TestServer::start().await;
    let body = json!({"escalation_policy": {"name": "P", "escalation_rules": [
        {"escalation_delay_in_minutes": 5, "targets": []}, {"escalation_delay_in_minutes": 5}]}});
    let (status, body) = server.post("/escalation_policies", body).await;
    assert_eq!(status, 400);
    let text = error_text(&body);
    assert!(text.contains("escalation_policy.escalation_rules[0].targets must have at least one target"), "{text}");
    assert!(text.contains("escalation_policy.escalation_rules[1].targets is required"), "{text}");
}

#[tokio::test]
async fn assignment_strategy_is_accepted_as_string_or_object_and_rendered_as_object() {
    let server = TestServer::start().await;
    let target = json!([{"id": server.owner_id, "type": "user_reference"}]);
    let body = json!({"escalation_policy": {"name": "RR", "escalation_rules": [
        {"escalation_delay_in_minutes": 10, "targets": target, "escalation_rule_assignment_strategy": "round_robin"},
        {"escalation_delay_in_minutes": 10, "targets": target,
         "escalation_rule_assignment_strategy": {"type": "round_robin"}}]}});
    let (status, body) = server.post("/escalation_policies", body).await;
    assert_eq!(status, 201, "{body}");
    for rule in body["escalation_policy"]["escalation_rules"].as_array().unwrap() {
        assert_eq!(rule["escalation_rule_assignment_strategy"], json!({"type": "round_robin"}));
    }
    let bad = json!({"escalation_policy": {"name": "Bad", "escalation_rules": [
        {"escalation_delay_in_minutes": 10, "targets": target, "escalation_rule_assignment_strategy": "random"}]}});
    let (status, body) = server.post("/escalation_policies", bad).await;
    assert_eq!(status, 400);
    assert!(error_text(&body).contains("escalation_policy.escalation_rules[0].escalation_rule_assignment_strategy"));
}

#[tokio::test]
async fn num_loops_must_be_from_0_to_9() {
    let server = TestServer::start().await;
    let mut body = policy_body("Loops", &server.owner_id);
    body["escalation_policy"]["num_loops"] = json!(10);
    let (status, resp) = server.post("/escalation_policies", body.clone()).await;
    assert_eq!(status, 400);
    assert!(error_text(&resp).contains("escalation_policy.num_loops"));
    body["escalation_policy"]["num_loops"] = json!(9);
    body["escalation_policy"]["on_call_handoff_notifications"] = json!("always");
    let (status, resp) = server.post("/escalation_policies", body).await;
    assert_eq!(status, 201);
    assert_eq!(resp["escalation_policy"]["num_loops"], 9);
    assert_eq!(resp["escalation_policy"]["on_call_handoff_notifications"], "always");
}

#[tokio::test]
async fn schedule_targets_render_as_references_summarized_by_the_schedules_name() {
    let server = TestServer::start().await;
    let first = crate::schedules::create_schedule(&server, "Primary rotation", &[&server.owner_id]).await;
    let second = crate::schedules::create_schedule(&server, "Backup rotation", &[&server.owner_id]).await;
    let body = json!({"escalation_policy": {"name": "S", "escalation_rules": [{"escalation_delay_in_minutes": 5,
        "targets": [{"id": first, "type": "schedule_reference"}, {"id": second, "type": "schedule"}]}]}});
    let (status, body) = server.post("/escalation_policies", body).await;
    assert_eq!(status, 201, "{body}");
    let targets = &body["escalation_policy"]["escalation_rules"][0]["targets"];
    assert_eq!(targets[0]["type"], "schedule_reference");
    assert_eq!(targets[0]["summary"], "Primary rotation");
    assert_eq!(targets[0]["self"], format!("{}/schedules/{first}", server.url));
    assert_eq!(targets[1]["id"], second.as_str());
    assert_eq!(targets[1]["summary"], "Backup rotation");
}

#[tokio::test]
async fn a_policy_targeting_an_unknown_schedule_is_refused_naming_the_target() {
    let server = TestServer::start().await;
    let known = crate::schedules::create_schedule(&server, "Primary rotation", &[&server.owner_id]).await;
    let body = json!({"escalation_policy": {"name": "S", "escalation_rules": [{"escalation_delay_in_minutes": 5,
        "targets": [{"id": known, "type": "schedule_reference"}, {"id": "PSCHED1", "type": "schedule_reference"}]}]}});
    let (status, body) = server.post("/escalation_policies", body).await;
    assert_eq!(status, 400);
    assert!(
        error_text(&body).contains("escalation_policy.escalation_rules[0].targets[1].id PSCHED1 not found"),
        "{body}"
    );
    let (_, list) = server.get("/escalation_policies?total=true").await;
    assert_eq!(list["total"], 0, "nothing was written");
}

#[tokio::test]
async fn updating_with_rules_replaces_them_and_leaves_other_fields() {
    let server = TestServer::start().await;
    let (other, _) = server.user_with_token("second@klaxon.test", Role::User).await;
    let id = create_policy(&server, "Primary").await;
    let (status, body) = server
        .put(
            &format!("/escalation_policies/{id}"),
            json!({"escalation_policy": {"description": "changed", "escalation_rules": [
                {"escalation_delay_in_minutes": 5, "targets": [{"id": other, "type": "user_reference"}]},
                {"escalation_delay_in_minutes": 15, "targets": [{"id": server.owner_id, "type": "user"}]}]}}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let ep = &body["escalation_policy"];
    assert_eq!(ep["name"], "Primary");
    assert_eq!(ep["description"], "changed");
    let rules = ep["escalation_rules"].as_array().unwrap();
    assert_eq!(rules.len(), 2);
    assert_eq!(rules[0]["targets"][0]["id"], other.as_str());
    assert_eq!(rules[1]["escalation_delay_in_minutes"], 15);
    let (_, body) =
        server.put(&format!("/escalation_policies/{id}"), json!({"escalation_policy": {"num_loops": 2}})).await;
    assert_eq!(body["escalation_policy"]["escalation_rules"].as_array().unwrap().len(), 2, "rules kept when not sent");
}

#[tokio::test]
async fn teams_are_set_limited_to_one_and_cleared_by_null() {
    let server = TestServer::start().await;
    let a = insert_team(&server, "Alpha").await;
    let b = insert_team(&server, "Beta").await;
    let mut body = policy_body("Team EP", &server.owner_id);
    body["escalation_policy"]["teams"] =
        json!([{"id": a, "type": "team_reference"}, {"id": b, "type": "team_reference"}]);
    let (status, resp) = server.post("/escalation_policies", body.clone()).await;
    assert_eq!(status, 400);
    assert!(error_text(&resp).contains("escalation_policy.teams may have at most one team"));
    body["escalation_policy"]["teams"] = json!([{"id": "PNOTEAM", "type": "team_reference"}]);
    let (status, resp) = server.post("/escalation_policies", body.clone()).await;
    assert_eq!(status, 400);
    assert!(error_text(&resp).contains("escalation_policy.teams[0].id PNOTEAM not found"), "{resp}");
    body["escalation_policy"]["teams"] = json!([{"id": a, "type": "team_reference"}]);
    let (status, resp) = server.post("/escalation_policies", body).await;
    assert_eq!(status, 201);
    let id = resp["escalation_policy"]["id"].as_str().unwrap().to_string();
    assert_eq!(resp["escalation_policy"]["teams"][0]["type"], "team_reference");
    assert_eq!(resp["escalation_policy"]["teams"][0]["summary"], "Alpha");
    let (_, list) = server.get(&format!("/escalation_policies?team_ids[]={a}&include[]=teams")).await;
    assert_eq!(list["escalation_policies"][0]["teams"][0]["type"], "team");
    let (_, list) = server.get(&format!("/escalation_policies?team_ids[]={b}")).await;
    assert_eq!(list["escalation_policies"], json!([]));
    let (status, resp) =
        server.put(&format!("/escalation_policies/{id}"), json!({"escalation_policy": {"teams": null}})).await;
    assert_eq!(status, 200);
    assert_eq!(resp["escalation_policy"]["teams"], json!([]));
}

#[tokio::test]
async fn listing_filters_by_query_and_user_and_sorts_by_name() {
    let server = TestServer::start().await;
    let (other, _) = server.user_with_token("other@klaxon.test", Role::User).await;
    create_policy(&server, "Bravo Ops").await;
    create_policy(&server, "alpha ops").await;
    let (status, _) = server.post("/escalation_policies", policy_body("Charlie", &other)).await;
    assert_eq!(status, 201);
    let names = |body: &Value| -> Vec<String> {
        body["escalation_policies"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap().to_string())
            .collect()
    };
    let (_, body) = server.get("/escalation_policies").await;
    assert_eq!(names(&body), ["alpha ops", "Bravo Ops", "Charlie"]);
    let (_, body) = server.get("/escalation_policies?sort_by=name:desc").await;
    assert_eq!(names(&body), ["Charlie", "Bravo Ops", "alpha ops"]);
    let (_, body) = server.get("/escalation_policies?query=OPS&total=true").await;
    assert_eq!(names(&body), ["alpha ops", "Bravo Ops"]);
    assert_eq!(body["total"], 2);
    let (_, body) = server.get(&format!("/escalation_policies?user_ids[]={other}")).await;
    assert_eq!(names(&body), ["Charlie"]);
    let (_, body) = server.get("/escalation_policies?limit=1&offset=1").await;
    assert_eq!((names(&body), body["more"].as_bool()), (vec!["Bravo Ops".to_string()], Some(true)));
    let (status, _) = server.get("/escalation_policies?sort_by=color").await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn include_targets_expands_users() {
    let server = TestServer::start().await;
    let id = create_policy(&server, "P").await;
    let (_, body) = server.get(&format!("/escalation_policies/{id}?include[]=targets")).await;
    let target = &body["escalation_policy"]["escalation_rules"][0]["targets"][0];
    assert_eq!(target["type"], "user");
    assert_eq!(target["email"], OWNER_EMAIL);
}

#[tokio::test]
async fn deleting_a_policy_in_use_is_refused() {
    let server = TestServer::start().await;
    let id = create_policy(&server, "Used").await;
    let service = crate::services::create_service(&server, "Web", &id).await;
    let (status, body) = server.delete(&format!("/escalation_policies/{id}")).await;
    assert_eq!(status, 400);
    assert!(error_text(&body).contains("Web"), "{body}");
    let (_, body) = server.get(&format!("/escalation_policies/{id}")).await;
    assert_eq!(body["escalation_policy"]["services"][0]["id"], service.as_str());
    let (status, _) = server.delete(&format!("/services/{service}")).await;
    assert_eq!(status, 204);
    let (status, _) = server.delete(&format!("/escalation_policies/{id}")).await;
    assert_eq!(status, 204);
    let (status, _) = server.get(&format!("/escalation_policies/{id}")).await;
    assert_eq!(status, 404);
    let (status, _) = server.delete(&format!("/escalation_policies/{id}")).await;
    assert_eq!(status, 404);
    create_policy(&server, "Used").await; // the name is free again
}

#[tokio::test]
async fn unknown_policy_ids_are_404() {
    let server = TestServer::start().await;
    let (status, body) = server.get("/escalation_policies/PNOPE00").await;
    assert_eq!(status, 404);
    error_text(&body);
    let (status, _) = server.put("/escalation_policies/PNOPE00", json!({"escalation_policy": {"name": "x"}})).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn policy_writes_need_the_configure_permission() {
    let server = TestServer::start().await;
    let (_, limited) = server.user_with_token("limited@klaxon.test", Role::LimitedUser).await;
    let body = policy_body("P", &server.owner_id);
    let (status, resp) = send(server.with_key(&limited, Method::POST, "/escalation_policies").json(&body)).await;
    assert_eq!(status, 403, "{resp}");
    let read_only = server.read_only_key().await;
    let (status, _) = send(server.with_key(&read_only, Method::POST, "/escalation_policies").json(&body)).await;
    assert_eq!(status, 403);
    let (status, _) = send(server.with_key(&read_only, Method::GET, "/escalation_policies")).await;
    assert_eq!(status, 200);
    let (_, user) = server.user_with_token("user@klaxon.test", Role::User).await;
    let (status, _) = send(server.with_key(&user, Method::POST, "/escalation_policies").json(&body)).await;
    assert_eq!(status, 201);
}

#[tokio::test]
async fn malformed_policy_bodies_are_400s_naming_the_problem() {
    let server = TestServer::start().await;
    let (status, body) =
        send(server.req(Method::POST, "/escalation_policies").header("Content-Type", "application/json").body("{nope"))
            .await;
    assert_eq!(status, 400);
    assert!(error_text(&body).contains("body"));
    let (status, body) =
        server.post("/escalation_policies", json!({"escalation_policy": {"name": "x", "num_loops": "two"}})).await;
    assert_eq!(status, 400);
    assert!(error_text(&body).contains("escalation_policy.num_loops"), "{body}");
    let (status, body) = server.post("/escalation_policies", json!({"name": "unwrapped"})).await;
    assert_eq!(status, 400);
    assert!(error_text(&body).contains("escalation_policy is required"));
}

#[tokio::test]
async fn rules_sent_back_with_their_ids_keep_them() {
    let server = TestServer::start().await;
    let id = create_policy(&server, "Primary").await;
    let (_, body) = server.get(&format!("/escalation_policies/{id}")).await;
    let rule_id = body["escalation_policy"]["escalation_rules"][0]["id"].as_str().unwrap().to_string();
    let (status, body) = server
        .put(
            &format!("/escalation_policies/{id}"),
            json!({"escalation_policy": {"escalation_rules": [
                {"id": rule_id, "escalation_delay_in_minutes": 45,
                 "targets": [{"id": server.owner_id, "type": "user_reference"}]},
                {"id": "PFOREIGN", "escalation_delay_in_minutes": 5,
                 "targets": [{"id": server.owner_id, "type": "user_reference"}]}]}}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let rules = body["escalation_policy"]["escalation_rules"].as_array().unwrap();
    assert_eq!(rules[0]["id"], rule_id.as_str());
    assert_eq!(rules[0]["escalation_delay_in_minutes"], 45);
    assert_ne!(rules[1]["id"], "PFOREIGN", "ids of other policies' rules are not taken");
}

#[tokio::test]
async fn creating_a_policy_does_not_need_a_from_header() {
    let server = TestServer::start().await;
    let (status, body) = send(
        server
            .with_key(&server.key, Method::POST, "/escalation_policies")
            .json(&policy_body("No From", &server.owner_id)),
    )
    .await;
    assert_eq!(status, 201, "{body}");
}

#[tokio::test]
async fn the_openapi_document_describes_the_configuration_endpoints() {
    let server = TestServer::start().await;
    let (status, doc) = send(server.anon(Method::GET, "/openapi.json")).await;
    assert_eq!(status, 200);
    let paths = &doc["paths"];
    for (path, methods) in [
        ("/escalation_policies", &["get", "post"][..]),
        ("/escalation_policies/{id}", &["get", "put", "delete"][..]),
        ("/services", &["get", "post"][..]),
        ("/services/{id}", &["get", "put", "delete"][..]),
        ("/services/{id}/integrations", &["post"][..]),
        ("/services/{id}/integrations/{integration_id}", &["get", "put", "delete"][..]),
        ("/maintenance_windows", &["get", "post"][..]),
        ("/maintenance_windows/{id}", &["get", "put", "delete"][..]),
        ("/vendors", &["get"][..]),
        ("/vendors/{id}", &["get"][..]),
    ] {
        for method in methods {
            assert!(paths[path][method].is_object(), "{method} {path} is documented");
        }
    }
}
