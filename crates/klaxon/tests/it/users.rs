//! Users, contact methods and notification rules (PagerDuty REST API v2 §2.13).

use crate::common::*;
use klaxon_core::role::Role;
use reqwest::Method;
use serde_json::{Value, json};

async fn create_user(server: &TestServer, name: &str, email: &str) -> Value {
    let (status, body) = server.post("/users", json!({"user": {"name": name, "email": email}})).await;
    assert_eq!(status, 201, "{body}");
    body["user"].clone()
}

fn names(list: &Value) -> Vec<String> {
    list.as_array().unwrap().iter().map(|u| u["name"].as_str().unwrap().to_string()).collect()
}

// ------------------------------------------------------------------------------------------------
// Users
// ------------------------------------------------------------------------------------------------

#[tokio::test]
async fn creating_a_user_returns_201_with_pagerduty_defaults() {
    let server = TestServer::start().await;
    let user = create_user(&server, "Ada Lovelace", "ada@example.com").await;
    let id = user["id"].as_str().unwrap();
    assert_eq!(user["type"], "user");
    assert_eq!(user["summary"], "Ada Lovelace");
    assert_eq!(user["self"], format!("{}/users/{id}", server.url));
    assert_eq!(user["role"], "user");
    assert_eq!(user["time_zone"], "Etc/UTC");
    assert_eq!(user["invitation_sent"], false);
    assert!(user["avatar_url"].is_null());
    assert_eq!(user["teams"], json!([]));
    assert_eq!(user["contact_methods"][0]["type"], "email_contact_method_reference");
    assert_eq!(user["notification_rules"][0]["type"], "assignment_notification_rule_reference");
}

#[tokio::test]
async fn creating_a_user_keeps_optional_fields() {
    let server = TestServer::start().await;
    let (status, body) = server
        .post(
            "/users",
            json!({"user": {"type": "user", "name": "Grace", "email": "grace@example.com", "role": "admin",
                "time_zone": "Europe/Berlin", "color": "green", "description": "Navy", "job_title": "Rear Admiral"}}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let user = &body["user"];
    assert_eq!(
        (&user["role"], &user["time_zone"], &user["color"], &user["description"], &user["job_title"]),
        (&json!("admin"), &json!("Europe/Berlin"), &json!("green"), &json!("Navy"), &json!("Rear Admiral"))
    );
}

#[tokio::test]
async fn creating_a_user_with_an_account_key_requires_from() {
    let server = TestServer::start().await;
    let (status, body) = send(
        server.with_key(&server.key, Method::POST, "/users").json(&json!({"user": {"name": "A", "email": "a@b.co"}})),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(error_text(&body).contains("From"), "{body}");
}

#[tokio::test]
async fn a_duplicate_email_is_refused_case_insensitively() {
    let server = TestServer::start().await;
    create_user(&server, "Ada", "ada@example.com").await;
    let (status, body) = server.post("/users", json!({"user": {"name": "Ada 2", "email": "ADA@Example.com"}})).await;
    assert_eq!(status, 400);
    assert_eq!(error_text(&body), "user.email has already been taken");
}

#[tokio::test]
async fn user_fields_are_validated_naming_the_field() {
    let server = TestServer::start().await;
    let cases = [
        (json!({"user": {"email": "ada@example.com"}}), "user.name is required"),
        (json!({"user": {"name": "x".repeat(101), "email": "ada@example.com"}}), "user.name must be at most"),
        (json!({"user": {"name": "Ada"}}), "user.email is required"),
        (json!({"user": {"name": "Ada", "email": "not-an-email"}}), "user.email must be a valid email"),
        (json!({"user": {"name": "Ada", "email": "a@b.c"}}), "user.email must be 6 to 100"),
        (json!({"user": {"name": "Ada", "email": "ada@example.com", "role": "god"}}), "user.role"),
        (json!({"user": {"name": "Ada", "email": "ada@example.com", "time_zone": "Mars/Olympus"}}), "user.time_zone"),
        (json!({"user": {"name": 5, "email": "ada@example.com"}}), "user.name"),
        (json!({"name": "Ada"}), "user is required"),
    ];
    for (body, expected) in cases {
        let (status, response) = server.post("/users", body.clone()).await;
        assert_eq!(status, 400, "{body} -> {response}");
        assert!(error_text(&response).contains(expected), "{body} -> {response}");
    }
    let (_, list) = server.get("/users?total=true").await;
    assert_eq!(list["total"], 1, "nothing was written");
}

#[tokio::test]
async fn malformed_json_is_a_400_naming_the_body() {
    let server = TestServer::start().await;
    let (status, body) =
        send(server.req(Method::POST, "/users").header("Content-Type", "application/json").body("{\"user\":")).await;
    assert_eq!(status, 400);
    assert!(error_text(&body).starts_with("body is not valid JSON"), "{body}");
}

#[tokio::test]
async fn listing_users_orders_by_name_filters_by_query_and_paginates() {
    let server = TestServer::start().await;
    create_user(&server, "Charlie", "charlie@example.com").await;
    create_user(&server, "alice", "alice@example.com").await;
    create_user(&server, "Bob", "bob@corp.example").await;
    let (status, body) = server.get("/users").await;
    assert_eq!(status, 200);
    assert_eq!(names(&body["users"]), ["alice", "Bob", "Charlie", "Owner"]);
    assert_eq!((body["more"].as_bool(), body["total"].is_null()), (Some(false), true));
    let (_, body) = server.get("/users?query=CORP").await;
    assert_eq!(names(&body["users"]), ["Bob"]);
    let (_, body) = server.get("/users?query=li").await;
    assert_eq!(names(&body["users"]), ["alice", "Charlie"]);
    let (_, body) = server.get("/users?limit=2&offset=1&total=true").await;
    assert_eq!(names(&body["users"]), ["Bob", "Charlie"]);
    assert_eq!((body["more"].as_bool(), body["total"].as_i64()), (Some(true), Some(4)));
}

#[tokio::test]
async fn a_percent_sign_in_the_query_matches_only_itself() {
    let server = TestServer::start().await;
    create_user(&server, "100% Ada", "ada@example.com").await;
    let (_, body) = server.get("/users?query=%25").await;
    assert_eq!(names(&body["users"]), ["100% Ada"]);
}

#[tokio::test]
async fn include_contact_methods_and_rules_renders_full_objects() {
    let server = TestServer::start().await;
    let user = create_user(&server, "Ada", "ada@example.com").await;
    let id = user["id"].as_str().unwrap();
    let (_, body) = server.get(&format!("/users/{id}?include[]=contact_methods&include[]=notification_rules")).await;
    let method = &body["user"]["contact_methods"][0];
    assert_eq!((&method["type"], &method["address"]), (&json!("email_contact_method"), &json!("ada@example.com")));
    let rule = &body["user"]["notification_rules"][0];
    assert_eq!(rule["type"], "assignment_notification_rule");
    assert_eq!((&rule["start_delay_in_minutes"], &rule["urgency"]), (&json!(0), &json!("high")));
    let (_, body) = server.get("/users?include[]=contact_methods").await;
    assert_eq!(body["users"][0]["contact_methods"][0]["type"], "email_contact_method");
    let (status, body) = server.get("/users?include[]=bananas").await;
    assert_eq!(status, 400);
    assert!(error_text(&body).contains("include[]"));
}

#[tokio::test]
async fn an_unknown_user_is_a_404() {
    let server = TestServer::start().await;
    for (method, path) in [
        (Method::GET, "/users/PNOPE00"),
        (Method::PUT, "/users/PNOPE00"),
        (Method::DELETE, "/users/PNOPE00"),
        (Method::GET, "/users/PNOPE00/contact_methods"),
        (Method::GET, "/users/PNOPE00/notification_rules"),
    ] {
        let (status, body) = send(server.req(method.clone(), path).json(&json!({"user": {"name": "x"}}))).await;
        assert_eq!(status, 404, "{method} {path}: {body}");
        assert!(error_text(&body).contains("not found"), "{body}");
    }
}

#[tokio::test]
async fn updating_a_user_changes_only_the_sent_fields_and_null_clears() {
    let server = TestServer::start().await;
    let (_, body) = server
        .post("/users", json!({"user": {"name": "Ada", "email": "ada@example.com", "job_title": "Countess"}}))
        .await;
    let id = body["user"]["id"].as_str().unwrap();
    let (status, body) = server
        .put(
            &format!("/users/{id}"),
            json!({"user": {"name": "Ada King", "job_title": null, "time_zone": "Asia/Tokyo"}}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let user = &body["user"];
    assert_eq!((&user["name"], &user["email"]), (&json!("Ada King"), &json!("ada@example.com")));
    assert!(user["job_title"].is_null());
    assert_eq!(user["time_zone"], "Asia/Tokyo");
    let (_, body) = server.get(&format!("/users/{id}")).await;
    assert_eq!(body["user"]["name"], "Ada King");
}

#[tokio::test]
async fn updating_a_user_validates_fields() {
    let server = TestServer::start().await;
    let id = create_user(&server, "Ada", "ada@example.com").await["id"].as_str().unwrap().to_string();
    create_user(&server, "Bob", "bob@example.com").await;
    let (status, body) = server.put(&format!("/users/{id}"), json!({"user": {"email": "BOB@example.com"}})).await;
    assert_eq!((status, error_text(&body)), (400, "user.email has already been taken".to_string()));
    let (status, body) = server.put(&format!("/users/{id}"), json!({"user": {"time_zone": "Nowhere"}})).await;
    assert_eq!(status, 400);
    assert!(error_text(&body).contains("user.time_zone"));
}

#[tokio::test]
async fn a_user_token_can_edit_its_own_profile_but_not_anothers() {
    let server = TestServer::start().await;
    let (me, token) = server.user_with_token("me@example.com", Role::User).await;
    let other = create_user(&server, "Other", "other@example.com").await;
    let (status, body) = send(
        server
            .with_key(&token, Method::PUT, &format!("/users/{me}"))
            .json(&json!({"user": {"name": "New Me", "description": "hi"}})),
    )
    .await;
    assert_eq!((status, &body["user"]["name"]), (200, &json!("New Me")), "{body}");
    let (status, body) = send(
        server
            .with_key(&token, Method::PUT, &format!("/users/{}", other["id"].as_str().unwrap()))
            .json(&json!({"user": {"name": "Hacked"}})),
    )
    .await;
    assert_eq!(status, 403, "{body}");
}

#[tokio::test]
async fn a_user_cannot_change_their_own_role() {
    let server = TestServer::start().await;
    let (me, token) = server.user_with_token("me@example.com", Role::User).await;
    let (status, _) =
        send(server.with_key(&token, Method::PUT, &format!("/users/{me}")).json(&json!({"user": {"role": "admin"}})))
            .await;
    assert_eq!(status, 403);
    // Sending the unchanged role back (as Terraform does) is fine.
    let (status, _) =
        send(server.with_key(&token, Method::PUT, &format!("/users/{me}")).json(&json!({"user": {"role": "user"}})))
            .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_limited_user_token_cannot_create_users() {
    let server = TestServer::start().await;
    let (_, token) = server.user_with_token("limited@example.com", Role::LimitedUser).await;
    let (status, body) = send(
        server.with_key(&token, Method::POST, "/users").json(&json!({"user": {"name": "X", "email": "x@example.com"}})),
    )
    .await;
    assert_eq!(status, 403, "{body}");
}

#[tokio::test]
async fn an_admin_may_create_users_but_not_owners() {
    let server = TestServer::start().await;
    let (_, token) = server.user_with_token("admin@example.com", Role::Admin).await;
    let (status, _) = send(
        server.with_key(&token, Method::POST, "/users").json(&json!({"user": {"name": "X", "email": "x@example.com"}})),
    )
    .await;
    assert_eq!(status, 201);
    let (status, _) = send(
        server
            .with_key(&token, Method::POST, "/users")
            .json(&json!({"user": {"name": "Y", "email": "y@example.com", "role": "owner"}})),
    )
    .await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn an_admin_cannot_demote_an_owner() {
    let server = TestServer::start().await;
    let (_, token) = server.user_with_token("admin@example.com", Role::Admin).await;
    let (second_owner, _) = server.user_with_token("owner2@example.com", Role::Owner).await;
    let (status, _) = send(
        server
            .with_key(&token, Method::PUT, &format!("/users/{second_owner}"))
            .json(&json!({"user": {"role": "user"}})),
    )
    .await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn a_read_only_account_key_cannot_write_users() {
    let server = TestServer::start().await;
    let key = server.read_only_key().await;
    let (status, _) = send(
        server
            .with_key(&key, Method::POST, "/users")
            .header("From", OWNER_EMAIL)
            .json(&json!({"user": {"name": "X", "email": "x@example.com"}})),
    )
    .await;
    assert_eq!(status, 403);
    let (status, _) = send(
        server
            .with_key(&key, Method::PUT, &format!("/users/{}", server.owner_id))
            .json(&json!({"user": {"name": "X"}})),
    )
    .await;
    assert_eq!(status, 403);
    let (status, _) = send(server.with_key(&key, Method::GET, "/users")).await;
    assert_eq!(status, 200, "reads stay open");
}

#[tokio::test]
async fn the_last_owner_cannot_be_demoted() {
    let server = TestServer::start().await;
    let (status, body) = server.put(&format!("/users/{}", server.owner_id), json!({"user": {"role": "admin"}})).await;
    assert_eq!(status, 400, "{body}");
    assert!(error_text(&body).contains("last owner"));
    let (second, _) = server.user_with_token("owner2@example.com", Role::Owner).await;
    let (status, _) = server.put(&format!("/users/{second}"), json!({"user": {"role": "admin"}})).await;
    assert_eq!(status, 200, "another owner remains");
}

#[tokio::test]
async fn the_last_owner_cannot_be_deleted() {
    let server = TestServer::start().await;
    let (status, body) = server.delete(&format!("/users/{}", server.owner_id)).await;
    assert_eq!(status, 400, "{body}");
    assert!(error_text(&body).contains("last owner"));
    let (status, _) = server.get(&format!("/users/{}", server.owner_id)).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn deleting_a_user_revokes_their_tokens_and_removes_memberships() {
    let server = TestServer::start().await;
    let (id, token) = server.user_with_token("gone@example.com", Role::User).await;
    let (_, team) = server.post("/teams", json!({"team": {"name": "Ops"}})).await;
    let team_id = team["team"]["id"].as_str().unwrap();
    let (status, _) = server.put(&format!("/teams/{team_id}/users/{id}"), json!({})).await;
    assert_eq!(status, 204);
    let (status, _) = server.delete(&format!("/users/{id}")).await;
    assert_eq!(status, 204);
    let (status, _) = server.get(&format!("/users/{id}")).await;
    assert_eq!(status, 404);
    let (status, _) = send(server.with_key(&token, Method::GET, "/users")).await;
    assert_eq!(status, 401);
    let (_, members) = server.get(&format!("/teams/{team_id}/members")).await;
    assert_eq!(members["members"], json!([]));
    // The email is free again.
    create_user(&server, "Back", "gone@example.com").await;
}

#[tokio::test]
async fn users_me_answers_for_a_user_token() {
    let server = TestServer::start().await;
    let (id, token) = server.user_with_token("me@example.com", Role::Observer).await;
    let (status, body) = send(server.with_key(&token, Method::GET, "/users/me")).await;
    assert_eq!(status, 200);
    assert_eq!((&body["user"]["id"], &body["user"]["role"]), (&json!(id), &json!("observer")));
}

#[tokio::test]
async fn users_me_with_an_account_key_is_a_400() {
    let server = TestServer::start().await;
    let (status, body) = server.get("/users/me").await;
    assert_eq!(status, 400);
    assert!(body["error"]["message"].as_str().unwrap().contains("account-level access token"), "{body}");
}

// ------------------------------------------------------------------------------------------------
// Contact methods
// ------------------------------------------------------------------------------------------------

async fn add_method(server: &TestServer, user: &str, method: Value) -> (u16, Value) {
    server.post(&format!("/users/{user}/contact_methods"), json!({"contact_method": method})).await
}

#[tokio::test]
async fn contact_methods_can_be_created_read_updated_and_deleted() {
    let server = TestServer::start().await;
    let user = server.owner_id.clone();
    let (status, body) = add_method(
        &server,
        &user,
        json!({"type": "email_contact_method", "label": "Work", "address": "work@example.com", "send_short_email": true}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let method = &body["contact_method"];
    let id = method["id"].as_str().unwrap();
    assert_eq!(
        (&method["type"], &method["summary"], &method["send_short_email"]),
        (&json!("email_contact_method"), &json!("Work"), &json!(true))
    );
    assert_eq!(method["self"], format!("{}/users/{user}/contact_methods/{id}", server.url));
    let (_, list) = server.get(&format!("/users/{user}/contact_methods")).await;
    assert_eq!(list["contact_methods"].as_array().unwrap().len(), 2);
    let (status, body) = server
        .put(&format!("/users/{user}/contact_methods/{id}"), json!({"contact_method": {"label": "Office"}}))
        .await;
    assert_eq!((status, &body["contact_method"]["label"]), (200, &json!("Office")), "{body}");
    assert_eq!(body["contact_method"]["address"], "work@example.com");
    let (status, body) = server.get(&format!("/users/{user}/contact_methods/{id}")).await;
    assert_eq!((status, &body["contact_method"]["label"]), (200, &json!("Office")));
    let (status, _) = server.delete(&format!("/users/{user}/contact_methods/{id}")).await;
    assert_eq!(status, 204);
    let (status, _) = server.get(&format!("/users/{user}/contact_methods/{id}")).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn phone_and_sms_methods_need_a_country_code_and_a_national_number() {
    let server = TestServer::start().await;
    let user = server.owner_id.clone();
    let (status, body) = add_method(
        &server,
        &user,
        json!({"type": "phone_contact_method", "label": "Mobile", "address": "5555550100", "country_code": 1}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        (&body["contact_method"]["country_code"], &body["contact_method"]["blacklisted"]),
        (&json!(1), &json!(false))
    );
    let cases = [
        (
            json!({"type": "sms_contact_method", "label": "M", "address": "5555550100"}),
            "contact_method.country_code is required",
        ),
        (
            json!({"type": "sms_contact_method", "label": "M", "address": "5555550100", "country_code": 2000}),
            "contact_method.country_code must be from 1 to 1999",
        ),
        (
            json!({"type": "sms_contact_method", "label": "M", "address": "+1 555", "country_code": 1}),
            "contact_method.address must be the national phone number",
        ),
    ];
    for (method, expected) in cases {
        let (status, body) = add_method(&server, &user, method.clone()).await;
        assert_eq!(status, 400, "{method}: {body}");
        assert!(error_text(&body).contains(expected), "{method}: {body}");
    }
}

#[tokio::test]
async fn contact_method_fields_are_validated_naming_the_field() {
    let server = TestServer::start().await;
    let user = server.owner_id.clone();
    let cases = [
        (
            json!({"type": "push_notification_contact_method", "label": "Phone", "address": "tok"}),
            "contact_method.device_type is required",
        ),
        (
            json!({"type": "push_notification_contact_method", "label": "Phone", "address": "tok", "device_type": "nokia"}),
            "contact_method.device_type must be android or ios",
        ),
        (json!({"type": "pager_contact_method", "label": "P", "address": "1"}), "contact_method.type"),
        (json!({"type": "email_contact_method", "address": "x@example.com"}), "contact_method.label is required"),
        (json!({"type": "email_contact_method", "label": "x"}), "contact_method.address is required"),
        (
            json!({"type": "email_contact_method", "label": "x", "address": "nope"}),
            "contact_method.address must be a valid email",
        ),
        (
            json!({"type": "phone_contact_method", "label": "x", "address": "555", "country_code": "one"}),
            "contact_method.country_code",
        ),
    ];
    for (method, expected) in cases {
        let (status, body) = add_method(&server, &user, method.clone()).await;
        assert_eq!(status, 400, "{method}: {body}");
        assert!(error_text(&body).contains(expected), "{method}: {body}");
    }
    let (status, body) = add_method(
        &server,
        &user,
        json!({"type": "push_notification_contact_method", "label": "Phone", "address": "tok", "device_type": "ios"}),
    )
    .await;
    assert_eq!((status, &body["contact_method"]["device_type"]), (201, &json!("ios")), "{body}");
}

#[tokio::test]
async fn a_duplicate_contact_method_is_refused() {
    let server = TestServer::start().await;
    let (status, body) = add_method(
        &server,
        &server.owner_id,
        json!({"type": "email_contact_method", "label": "Again", "address": OWNER_EMAIL.to_uppercase()}),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(error_text(&body).contains("contact_method.address"), "{body}");
}

#[tokio::test]
async fn the_type_of_a_contact_method_cannot_change() {
    let server = TestServer::start().await;
    let user = server.owner_id.clone();
    let (_, list) = server.get(&format!("/users/{user}/contact_methods")).await;
    let id = list["contact_methods"][0]["id"].as_str().unwrap();
    let (status, body) = server
        .put(&format!("/users/{user}/contact_methods/{id}"), json!({"contact_method": {"type": "sms_contact_method"}}))
        .await;
    assert_eq!(status, 400);
    assert!(error_text(&body).contains("contact_method.type"));
}

#[tokio::test]
async fn a_user_token_cannot_add_contact_methods_to_another_user() {
    let server = TestServer::start().await;
    let (me, token) = server.user_with_token("me@example.com", Role::User).await;
    let method = json!({"contact_method": {"type": "email_contact_method", "label": "x", "address": "x@example.com"}});
    let (status, _) = send(
        server.with_key(&token, Method::POST, &format!("/users/{}/contact_methods", server.owner_id)).json(&method),
    )
    .await;
    assert_eq!(status, 403);
    let (status, _) =
        send(server.with_key(&token, Method::POST, &format!("/users/{me}/contact_methods")).json(&method)).await;
    assert_eq!(status, 201);
}

#[tokio::test]
async fn deleting_a_contact_method_deletes_the_rules_that_use_it() {
    let server = TestServer::start().await;
    let user = server.owner_id.clone();
    let (_, body) = add_method(
        &server,
        &user,
        json!({"type": "sms_contact_method", "label": "M", "address": "5550100", "country_code": 44}),
    )
    .await;
    let method_id = body["contact_method"]["id"].as_str().unwrap();
    let (status, _) = server
        .post(
            &format!("/users/{user}/notification_rules"),
            json!({"notification_rule": {"start_delay_in_minutes": 5, "urgency": "high",
                "contact_method": {"id": method_id, "type": "sms_contact_method_reference"}}}),
        )
        .await;
    assert_eq!(status, 201);
    let (_, rules) = server.get(&format!("/users/{user}/notification_rules")).await;
    assert_eq!(rules["notification_rules"].as_array().unwrap().len(), 2);
    let (status, _) = server.delete(&format!("/users/{user}/contact_methods/{method_id}")).await;
    assert_eq!(status, 204);
    let (_, rules) = server.get(&format!("/users/{user}/notification_rules")).await;
    let rules = rules["notification_rules"].as_array().unwrap();
    assert_eq!(rules.len(), 1);
    assert_ne!(rules[0]["contact_method"]["id"], json!(method_id));
}

// ------------------------------------------------------------------------------------------------
// Notification rules
// ------------------------------------------------------------------------------------------------

async fn default_method(server: &TestServer, user: &str) -> String {
    let (_, list) = server.get(&format!("/users/{user}/contact_methods")).await;
    list["contact_methods"][0]["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn notification_rules_can_be_created_read_updated_and_deleted() {
    let server = TestServer::start().await;
    let user = server.owner_id.clone();
    let method = default_method(&server, &user).await;
    let (status, body) = server
        .post(
            &format!("/users/{user}/notification_rules"),
            json!({"notification_rule": {"type": "assignment_notification_rule", "start_delay_in_minutes": 10,
                "urgency": "low", "contact_method": {"id": method, "type": "email_contact_method_reference"}}}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let rule = &body["notification_rule"];
    let id = rule["id"].as_str().unwrap();
    assert_eq!(rule["type"], "assignment_notification_rule");
    assert_eq!((&rule["start_delay_in_minutes"], &rule["urgency"]), (&json!(10), &json!("low")));
    assert_eq!(
        (&rule["contact_method"]["id"], &rule["contact_method"]["type"]),
        (&json!(method), &json!("email_contact_method_reference"))
    );
    assert_eq!(rule["self"], format!("{}/users/{user}/notification_rules/{id}", server.url));
    let (status, body) = server
        .put(
            &format!("/users/{user}/notification_rules/{id}"),
            json!({"notification_rule": {"start_delay_in_minutes": 3}}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (&body["notification_rule"]["start_delay_in_minutes"], &body["notification_rule"]["urgency"]),
        (&json!(3), &json!("low"))
    );
    let (status, _) = server.get(&format!("/users/{user}/notification_rules/{id}")).await;
    assert_eq!(status, 200);
    let (status, _) = server.delete(&format!("/users/{user}/notification_rules/{id}")).await;
    assert_eq!(status, 204);
    let (status, _) = server.get(&format!("/users/{user}/notification_rules/{id}")).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn listing_notification_rules_filters_by_urgency_defaulting_to_high() {
    let server = TestServer::start().await;
    let user = server.owner_id.clone();
    let method = default_method(&server, &user).await;
    let (status, _) = server
        .post(
            &format!("/users/{user}/notification_rules"),
            json!({"notification_rule": {"start_delay_in_minutes": 0, "urgency": "low", "contact_method": {"id": method}}}),
        )
        .await;
    assert_eq!(status, 201);
    let count = |body: &Value| body["notification_rules"].as_array().unwrap().len();
    let (_, high) = server.get(&format!("/users/{user}/notification_rules")).await;
    let (_, low) = server.get(&format!("/users/{user}/notification_rules?urgency=low")).await;
    let (_, all) = server.get(&format!("/users/{user}/notification_rules?urgency=all")).await;
    assert_eq!((count(&high), count(&low), count(&all)), (1, 1, 2));
    assert_eq!(low["notification_rules"][0]["urgency"], "low");
    let (status, body) = server.get(&format!("/users/{user}/notification_rules?urgency=urgent")).await;
    assert_eq!(status, 400);
    assert!(error_text(&body).contains("urgency"));
}

#[tokio::test]
async fn listing_notification_rules_can_include_contact_methods() {
    let server = TestServer::start().await;
    let user = server.owner_id.clone();
    let (_, body) = server.get(&format!("/users/{user}/notification_rules?include[]=contact_methods")).await;
    let method = &body["notification_rules"][0]["contact_method"];
    assert_eq!((&method["type"], &method["address"]), (&json!("email_contact_method"), &json!(OWNER_EMAIL)));
}

#[tokio::test]
async fn a_rule_must_use_one_of_the_users_own_contact_methods() {
    let server = TestServer::start().await;
    let other = create_user(&server, "Other", "other@example.com").await;
    let foreign = default_method(&server, other["id"].as_str().unwrap()).await;
    let (status, body) = server
        .post(
            &format!("/users/{}/notification_rules", server.owner_id),
            json!({"notification_rule": {"start_delay_in_minutes": 0, "urgency": "high", "contact_method": {"id": foreign}}}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(error_text(&body).contains("notification_rule.contact_method.id"), "{body}");
}

#[tokio::test]
async fn notification_rule_fields_are_validated_naming_the_field() {
    let server = TestServer::start().await;
    let user = server.owner_id.clone();
    let method = default_method(&server, &user).await;
    let cases = [
        (
            json!({"urgency": "high", "contact_method": {"id": method}}),
            "notification_rule.start_delay_in_minutes is required",
        ),
        (
            json!({"start_delay_in_minutes": -1, "contact_method": {"id": method}}),
            "notification_rule.start_delay_in_minutes must be",
        ),
        (
            json!({"start_delay_in_minutes": 10081, "contact_method": {"id": method}}),
            "notification_rule.start_delay_in_minutes must be",
        ),
        (json!({"start_delay_in_minutes": 1}), "notification_rule.contact_method is required"),
        (
            json!({"start_delay_in_minutes": 1, "urgency": "medium", "contact_method": {"id": method}}),
            "notification_rule.urgency",
        ),
        (
            json!({"start_delay_in_minutes": "soon", "contact_method": {"id": method}}),
            "notification_rule.start_delay_in_minutes",
        ),
    ];
    for (rule, expected) in cases {
        let (status, body) =
            server.post(&format!("/users/{user}/notification_rules"), json!({"notification_rule": rule.clone()})).await;
        assert_eq!(status, 400, "{rule}: {body}");
        assert!(error_text(&body).contains(expected), "{rule}: {body}");
    }
}

#[tokio::test]
async fn the_openapi_document_describes_the_people_endpoints() {
    let server = TestServer::start().await;
    let (status, doc) = send(server.anon(Method::GET, "/openapi.json")).await;
    assert_eq!(status, 200);
    let paths = &doc["paths"];
    for (path, methods) in [
        ("/users", &["get", "post"][..]),
        ("/users/me", &["get"][..]),
        ("/users/{id}", &["get", "put", "delete"][..]),
        ("/users/{id}/contact_methods", &["get", "post"][..]),
        ("/users/{id}/contact_methods/{contact_method_id}", &["get", "put", "delete"][..]),
        ("/users/{id}/notification_rules", &["get", "post"][..]),
        ("/users/{id}/notification_rules/{notification_rule_id}", &["get", "put", "delete"][..]),
        ("/teams", &["get", "post"][..]),
        ("/teams/{id}", &["get", "put", "delete"][..]),
        ("/teams/{id}/members", &["get"][..]),
        ("/teams/{id}/users/{user_id}", &["put", "delete"][..]),
        ("/teams/{id}/escalation_policies/{escalation_policy_id}", &["put", "delete"][..]),
    ] {
        for method in methods {
            assert!(paths[path][method].is_object(), "{method} {path} is undocumented");
        }
    }
}

#[tokio::test]
async fn an_unknown_contact_method_or_rule_is_a_404() {
    let server = TestServer::start().await;
    let user = server.owner_id.clone();
    for (method, path) in [
        (Method::GET, format!("/users/{user}/contact_methods/PNOPE00")),
        (Method::PUT, format!("/users/{user}/contact_methods/PNOPE00")),
        (Method::DELETE, format!("/users/{user}/contact_methods/PNOPE00")),
        (Method::GET, format!("/users/{user}/notification_rules/PNOPE00")),
        (Method::PUT, format!("/users/{user}/notification_rules/PNOPE00")),
        (Method::DELETE, format!("/users/{user}/notification_rules/PNOPE00")),
    ] {
        let body = json!({"contact_method": {"label": "x"}, "notification_rule": {"start_delay_in_minutes": 1}});
        let (status, response) = send(server.req(method.clone(), &path).json(&body)).await;
        assert_eq!(status, 404, "{method} {path}: {response}");
    }
}

#[tokio::test]
async fn another_users_contact_method_is_not_reachable_under_my_id() {
    let server = TestServer::start().await;
    let other = create_user(&server, "Other", "other@example.com").await;
    let foreign = default_method(&server, other["id"].as_str().unwrap()).await;
    let (status, _) = server.get(&format!("/users/{}/contact_methods/{foreign}", server.owner_id)).await;
    assert_eq!(status, 404);
    let (status, _) = server.delete(&format!("/users/{}/contact_methods/{foreign}", server.owner_id)).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn a_read_only_key_cannot_change_contact_methods_or_rules() {
    let server = TestServer::start().await;
    let key = server.read_only_key().await;
    let user = server.owner_id.clone();
    let method = default_method(&server, &user).await;
    let (status, _) =
        send(server.with_key(&key, Method::DELETE, &format!("/users/{user}/contact_methods/{method}"))).await;
    assert_eq!(status, 403);
    let (status, _) = send(
        server
            .with_key(&key, Method::POST, &format!("/users/{user}/notification_rules"))
            .json(&json!({"notification_rule": {"start_delay_in_minutes": 1, "contact_method": {"id": method}}})),
    )
    .await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn two_owners_deleted_at_once_leave_one_owner() {
    let server = TestServer::start().await;
    let (second, _) = server.user_with_token("owner2@example.com", Role::Owner).await;
    let first_path = format!("/users/{}", server.owner_id);
    let second_path = format!("/users/{second}");
    let (a, b) = tokio::join!(server.delete(&first_path), server.delete(&second_path));
    let mut statuses = [a.0, b.0];
    statuses.sort();
    assert_eq!(statuses, [204, 400], "{a:?} {b:?}");
    let (_, owners) = server.get("/users?total=true").await;
    let roles: Vec<_> = owners["users"].as_array().unwrap().iter().map(|u| u["role"].clone()).collect();
    assert_eq!(roles, [json!("owner")]);
}

#[tokio::test]
async fn unknown_and_read_only_user_fields_are_ignored() {
    let server = TestServer::start().await;
    let (status, body) = server
        .post(
            "/users",
            json!({"user": {"id": "PFAKE01", "self": "http://elsewhere/users/PFAKE01", "invitation_sent": true,
                "name": "Ada", "email": "ada@example.com", "teams": [{"id": "PNOPE00"}], "favourite_colour": "red"}}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_ne!(body["user"]["id"], "PFAKE01");
    assert_eq!((&body["user"]["invitation_sent"], &body["user"]["teams"]), (&json!(false), &json!([])));
}
