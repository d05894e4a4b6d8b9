//! Teams and team membership (PagerDuty REST API v2 §2.14).

use crate::common::*;
use klaxon_core::role::Role;
use reqwest::Method;
use serde_json::{Value, json};

async fn create_team(server: &TestServer, name: &str) -> String {
    let (status, body) = server.post("/teams", json!({"team": {"name": name}})).await;
    assert_eq!(status, 201, "{body}");
    body["team"]["id"].as_str().unwrap().to_string()
}

fn names(list: &Value) -> Vec<String> {
    list.as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap().to_string()).collect()
}

/// Runs raw SQL against the test's database (for rows whose API another branch builds).
async fn raw_sql(server: &TestServer, statements: &[String]) {
    match &server.database_url {
        Some(url) => {
            let pool = sqlx::PgPool::connect(url).await.expect("connect");
            for sql in statements {
                sqlx::raw_sql(sqlx::AssertSqlSafe(sql.clone())).execute(&pool).await.expect("raw sql");
            }
            pool.close().await;
        }
        None => {
            let path = server.dir.path().join("klaxon.db");
            let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", path.display())).await.expect("connect");
            for sql in statements {
                sqlx::raw_sql(sqlx::AssertSqlSafe(sql.clone())).execute(&pool).await.expect("raw sql");
            }
            pool.close().await;
        }
    }
}

/// Inserts a live escalation policy directly (the escalation policy API lives on another branch).
async fn insert_policy(server: &TestServer, id: &str) {
    raw_sql(
        server,
        &[format!(
        "INSERT INTO escalation_policies (id, name, name_lower, description, num_loops, on_call_handoff_notifications,
                                          created_at, updated_at)
         VALUES ('{id}', 'EP {id}', 'ep {id}', NULL, 0, 'if_has_services', 0, 0)"
    )],
    )
    .await;
}

#[tokio::test]
async fn creating_a_team_returns_201_with_defaults() {
    let server = TestServer::start().await;
    let (status, body) =
        server.post("/teams", json!({"team": {"type": "team", "name": "Ops", "description": "On call"}})).await;
    assert_eq!(status, 201, "{body}");
    let team = &body["team"];
    let id = team["id"].as_str().unwrap();
    assert_eq!(
        (&team["type"], &team["summary"], &team["default_role"]),
        (&json!("team"), &json!("Ops"), &json!("manager"))
    );
    assert_eq!(team["description"], "On call");
    assert!(team["parent"].is_null());
    assert_eq!(team["self"], format!("{}/teams/{id}", server.url));
    let (status, body) = server.get(&format!("/teams/{id}")).await;
    assert_eq!((status, &body["team"]["name"]), (200, &json!("Ops")));
}

#[tokio::test]
async fn team_names_are_unique_case_insensitively() {
    let server = TestServer::start().await;
    create_team(&server, "Ops").await;
    let (status, body) = server.post("/teams", json!({"team": {"name": "OPS"}})).await;
    assert_eq!(status, 400);
    assert_eq!(error_text(&body), "team.name has already been taken");
}

#[tokio::test]
async fn team_fields_are_validated_naming_the_field() {
    let server = TestServer::start().await;
    let cases = [
        (json!({"team": {"description": "x"}}), "team.name is required"),
        (json!({"team": {"name": "x".repeat(101)}}), "team.name must be at most 100"),
        (json!({"team": {"name": "A", "description": "x".repeat(1025)}}), "team.description must be at most 1024"),
        (json!({"team": {"name": "A", "default_role": "boss"}}), "team.default_role must be manager or none"),
        (
            json!({"team": {"name": "A", "parent": {"id": "PNOPE00", "type": "team_reference"}}}),
            "team.parent.id PNOPE00 not found",
        ),
        (json!({"team": {"name": ["A"]}}), "team.name"),
        (json!({"name": "A"}), "team is required"),
    ];
    for (body, expected) in cases {
        let (status, response) = server.post("/teams", body.clone()).await;
        assert_eq!(status, 400, "{body}: {response}");
        assert!(error_text(&response).contains(expected), "{body}: {response}");
    }
    let (_, list) = server.get("/teams?total=true").await;
    assert_eq!(list["total"], 0);
}

#[tokio::test]
async fn malformed_team_json_is_a_400() {
    let server = TestServer::start().await;
    let (status, body) =
        send(server.req(Method::POST, "/teams").header("Content-Type", "application/json").body("{oops")).await;
    assert_eq!(status, 400);
    assert!(error_text(&body).starts_with("body is not valid JSON"));
}

#[tokio::test]
async fn listing_teams_orders_by_name_filters_by_query_and_paginates() {
    let server = TestServer::start().await;
    for name in ["Platform", "database", "Mobile", "Data Science"] {
        create_team(&server, name).await;
    }
    let (status, body) = server.get("/teams").await;
    assert_eq!(status, 200);
    assert_eq!(names(&body["teams"]), ["Data Science", "database", "Mobile", "Platform"]);
    assert_eq!(body["more"], false);
    let (_, body) = server.get("/teams?query=DATA").await;
    assert_eq!(names(&body["teams"]), ["Data Science", "database"]);
    let (_, body) = server.get("/teams?limit=1&offset=2&total=true").await;
    assert_eq!(names(&body["teams"]), ["Mobile"]);
    assert_eq!((body["more"].as_bool(), body["total"].as_i64()), (Some(true), Some(4)));
}

#[tokio::test]
async fn updating_a_team_is_partial_and_null_clears() {
    let server = TestServer::start().await;
    let parent = create_team(&server, "Engineering").await;
    let (_, body) = server.post("/teams", json!({"team": {"name": "Ops", "description": "d"}})).await;
    let id = body["team"]["id"].as_str().unwrap().to_string();
    let (status, body) = server
        .put(
            &format!("/teams/{id}"),
            json!({"team": {"parent": {"id": parent, "type": "team_reference"}, "default_role": "none"}}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let team = &body["team"];
    assert_eq!(
        (&team["name"], &team["description"], &team["default_role"]),
        (&json!("Ops"), &json!("d"), &json!("none"))
    );
    assert_eq!((&team["parent"]["id"], &team["parent"]["type"]), (&json!(parent), &json!("team_reference")));
    let (status, body) =
        server.put(&format!("/teams/{id}"), json!({"team": {"description": null, "parent": null}})).await;
    assert_eq!(status, 200);
    assert!(body["team"]["description"].is_null() && body["team"]["parent"].is_null(), "{body}");
}

#[tokio::test]
async fn a_team_cannot_be_its_own_parent() {
    let server = TestServer::start().await;
    let id = create_team(&server, "Ops").await;
    let (status, body) = server.put(&format!("/teams/{id}"), json!({"team": {"parent": {"id": id}}})).await;
    assert_eq!(status, 400);
    assert!(error_text(&body).contains("team.parent.id"));
}

#[tokio::test]
async fn an_unknown_team_is_a_404() {
    let server = TestServer::start().await;
    for (method, path) in [
        (Method::GET, "/teams/PNOPE00"),
        (Method::PUT, "/teams/PNOPE00"),
        (Method::DELETE, "/teams/PNOPE00"),
        (Method::GET, "/teams/PNOPE00/members"),
        (Method::PUT, "/teams/PNOPE00/users/PNOPE01"),
        (Method::DELETE, "/teams/PNOPE00/users/PNOPE01"),
    ] {
        let (status, body) = send(server.req(method.clone(), path).json(&json!({"team": {"name": "x"}}))).await;
        assert_eq!(status, 404, "{method} {path}: {body}");
        assert!(!error_text(&body).is_empty());
    }
}

#[tokio::test]
async fn deleting_a_team_soft_deletes_it_and_removes_memberships() {
    let server = TestServer::start().await;
    let id = create_team(&server, "Ops").await;
    let (status, _) = server.put(&format!("/teams/{id}/users/{}", server.owner_id), json!({})).await;
    assert_eq!(status, 204);
    let (status, _) = server.delete(&format!("/teams/{id}")).await;
    assert_eq!(status, 204);
    let (status, _) = server.get(&format!("/teams/{id}")).await;
    assert_eq!(status, 404);
    let (_, owner) = server.get(&format!("/users/{}", server.owner_id)).await;
    assert_eq!(owner["user"]["teams"], json!([]));
    // The name is free again.
    create_team(&server, "Ops").await;
}

#[tokio::test]
async fn deleting_a_team_with_subteams_is_refused() {
    let server = TestServer::start().await;
    let parent = create_team(&server, "Engineering").await;
    let (status, _) = server.post("/teams", json!({"team": {"name": "Ops", "parent": {"id": parent}}})).await;
    assert_eq!(status, 201);
    let (status, body) = server.delete(&format!("/teams/{parent}")).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], 6006);
    let (status, _) = server.get(&format!("/teams/{parent}")).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn deleting_a_team_used_by_an_escalation_policy_is_refused() {
    let server = TestServer::start().await;
    let team = create_team(&server, "Ops").await;
    insert_policy(&server, "PEPTEST").await;
    let (status, _) = server.put(&format!("/teams/{team}/escalation_policies/PEPTEST"), json!({})).await;
    assert_eq!(status, 204);
    let (status, body) = server.delete(&format!("/teams/{team}")).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], 6006);
    assert_eq!(body["error"]["message"], "Team has existing associations");
    let (status, _) = server.delete(&format!("/teams/{team}/escalation_policies/PEPTEST")).await;
    assert_eq!(status, 204);
    let (status, _) = server.delete(&format!("/teams/{team}")).await;
    assert_eq!(status, 204, "deletable once the policy is removed");
}

#[tokio::test]
async fn an_unknown_or_deleted_escalation_policy_is_a_404() {
    let server = TestServer::start().await;
    let team = create_team(&server, "Ops").await;
    let (status, body) = server.put(&format!("/teams/{team}/escalation_policies/PNOPE00"), json!({})).await;
    assert_eq!(status, 404);
    assert!(error_text(&body).contains("Escalation policy not found"), "{body}");
    let (status, _) = server.delete(&format!("/teams/{team}/escalation_policies/PNOPE00")).await;
    assert_eq!(status, 404);
    insert_policy(&server, "PEPGONE").await;
    raw_sql(&server, &["UPDATE escalation_policies SET deleted_at = 1 WHERE id = 'PEPGONE'".to_string()]).await;
    let (status, _) = server.put(&format!("/teams/{team}/escalation_policies/PEPGONE"), json!({})).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn an_escalation_policy_can_be_added_to_and_removed_from_a_team() {
    let server = TestServer::start().await;
    let team = create_team(&server, "Ops").await;
    let (status, body) = server
        .post(
            "/escalation_policies",
            json!({"escalation_policy": {"name": "Default", "escalation_rules": [{"escalation_delay_in_minutes": 30,
                "targets": [{"id": server.owner_id, "type": "user_reference"}]}]}}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let policy = body["escalation_policy"]["id"].as_str().unwrap().to_string();
    let (status, _) = server.put(&format!("/teams/{team}/escalation_policies/{policy}"), json!({})).await;
    assert_eq!(status, 204);
    let (_, body) = server.get(&format!("/escalation_policies/{policy}")).await;
    assert_eq!(body["escalation_policy"]["teams"][0]["id"], json!(team), "{body}");
    let (status, _) = server.delete(&format!("/teams/{team}")).await;
    assert_eq!(status, 400);
    let (status, _) = server.delete(&format!("/teams/{team}/escalation_policies/{policy}")).await;
    assert_eq!(status, 204);
    let (_, body) = server.get(&format!("/escalation_policies/{policy}")).await;
    assert_eq!(body["escalation_policy"]["teams"], json!([]));
}

#[tokio::test]
async fn adding_a_member_defaults_to_manager_and_lists_them() {
    let server = TestServer::start().await;
    let team = create_team(&server, "Ops").await;
    let response = server.req(Method::PUT, &format!("/teams/{team}/users/{}", server.owner_id)).send().await.unwrap();
    assert_eq!(response.status(), 204, "no body at all is fine");
    let (status, body) = server.get(&format!("/teams/{team}/members")).await;
    assert_eq!(status, 200);
    let member = &body["members"][0];
    assert_eq!(
        (&member["role"], &member["user"]["id"], &member["user"]["type"]),
        (&json!("manager"), &json!(server.owner_id), &json!("user_reference"))
    );
    assert_eq!((body["more"].as_bool(), body["limit"].as_i64()), (Some(false), Some(25)));
    let (_, body) = server.get(&format!("/teams/{team}/members?include[]=users")).await;
    assert_eq!(
        (&body["members"][0]["user"]["type"], &body["members"][0]["user"]["email"]),
        (&json!("user"), &json!(OWNER_EMAIL))
    );
}

#[tokio::test]
async fn a_members_role_can_be_changed_and_they_can_be_removed() {
    let server = TestServer::start().await;
    let team = create_team(&server, "Ops").await;
    let path = format!("/teams/{team}/users/{}", server.owner_id);
    assert_eq!(server.put(&path, json!({"role": "responder"})).await.0, 204);
    let (_, body) = server.get(&format!("/teams/{team}/members")).await;
    assert_eq!(body["members"][0]["role"], "responder");
    assert_eq!(server.put(&path, json!({"role": "observer"})).await.0, 204);
    let (_, body) = server.get(&format!("/teams/{team}/members?total=true")).await;
    assert_eq!((&body["members"][0]["role"], &body["total"]), (&json!("observer"), &json!(1)));
    assert_eq!(server.delete(&path).await.0, 204);
    let (_, body) = server.get(&format!("/teams/{team}/members")).await;
    assert_eq!(body["members"], json!([]));
}

#[tokio::test]
async fn an_unknown_member_role_is_a_400() {
    let server = TestServer::start().await;
    let team = create_team(&server, "Ops").await;
    let (status, body) = server.put(&format!("/teams/{team}/users/{}", server.owner_id), json!({"role": "boss"})).await;
    assert_eq!(status, 400);
    assert!(error_text(&body).contains("role"));
    let (status, _) = server.put(&format!("/teams/{team}/users/{}", server.owner_id), json!({"role": 7})).await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn a_read_only_user_may_only_be_an_observer() {
    let server = TestServer::start().await;
    let team = create_team(&server, "Ops").await;
    let (reader, _) = server.user_with_token("reader@example.com", Role::ReadOnlyUser).await;
    let path = format!("/teams/{team}/users/{reader}");
    let (status, body) = server.put(&path, json!({"role": "responder"})).await;
    assert_eq!(status, 400, "{body}");
    let (status, _) = server.put(&path, json!({})).await;
    assert_eq!(status, 400, "the default role is manager");
    let (status, _) = server.put(&path, json!({"role": "observer"})).await;
    assert_eq!(status, 204);
}

#[tokio::test]
async fn an_unknown_user_cannot_join_a_team() {
    let server = TestServer::start().await;
    let team = create_team(&server, "Ops").await;
    let (status, body) = server.put(&format!("/teams/{team}/users/PNOPE00"), json!({})).await;
    assert_eq!(status, 404);
    assert!(error_text(&body).contains("User not found"));
}

#[tokio::test]
async fn users_show_their_teams_and_can_be_filtered_by_team() {
    let server = TestServer::start().await;
    let ops = create_team(&server, "Ops").await;
    let db = create_team(&server, "DB").await;
    let (member, _) = server.user_with_token("member@example.com", Role::User).await;
    server.user_with_token("loner@example.com", Role::User).await;
    assert_eq!(server.put(&format!("/teams/{ops}/users/{member}"), json!({})).await.0, 204);
    let (_, body) = server.get(&format!("/users/{member}")).await;
    let teams = &body["user"]["teams"];
    assert_eq!(
        (&teams[0]["id"], &teams[0]["type"], &teams[0]["summary"]),
        (&json!(ops), &json!("team_reference"), &json!("Ops"))
    );
    let (_, body) = server.get(&format!("/users/{member}?include[]=teams")).await;
    assert_eq!(body["user"]["teams"][0]["type"], "team");
    let (_, body) = server.get(&format!("/users?team_ids[]={ops}&team_ids[]={db}")).await;
    let ids: Vec<_> = body["users"].as_array().unwrap().iter().map(|u| u["id"].clone()).collect();
    assert_eq!(ids, [json!(member)]);
    let (_, body) = server.get(&format!("/users?team_ids[]={db}")).await;
    assert_eq!(body["users"], json!([]));
}

#[tokio::test]
async fn an_observer_cannot_create_teams() {
    let server = TestServer::start().await;
    let (_, token) = server.user_with_token("observer@example.com", Role::Observer).await;
    let (status, body) =
        send(server.with_key(&token, Method::POST, "/teams").json(&json!({"team": {"name": "Ops"}}))).await;
    assert_eq!(status, 403, "{body}");
    let (status, _) = send(server.with_key(&token, Method::GET, "/teams")).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_read_only_key_cannot_change_teams_or_membership() {
    let server = TestServer::start().await;
    let team = create_team(&server, "Ops").await;
    let key = server.read_only_key().await;
    let (status, _) =
        send(server.with_key(&key, Method::PUT, &format!("/teams/{team}")).json(&json!({"team": {"name": "X"}}))).await;
    assert_eq!(status, 403);
    let (status, _) =
        send(server.with_key(&key, Method::PUT, &format!("/teams/{team}/users/{}", server.owner_id))).await;
    assert_eq!(status, 403);
    let (status, _) = send(server.with_key(&key, Method::DELETE, &format!("/teams/{team}"))).await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn a_user_role_token_may_configure_teams() {
    let server = TestServer::start().await;
    let (_, token) = server.user_with_token("user@example.com", Role::User).await;
    let (status, _) =
        send(server.with_key(&token, Method::POST, "/teams").json(&json!({"team": {"name": "Ops"}}))).await;
    assert_eq!(status, 201);
}

#[tokio::test]
async fn unknown_and_read_only_team_fields_are_ignored() {
    let server = TestServer::start().await;
    let (status, body) =
        server.post("/teams", json!({"team": {"id": "PFAKE01", "summary": "S", "name": "Ops", "colour": "red"}})).await;
    assert_eq!(status, 201, "{body}");
    assert_ne!(body["team"]["id"], "PFAKE01");
    assert_eq!(body["team"]["summary"], "Ops");
}
