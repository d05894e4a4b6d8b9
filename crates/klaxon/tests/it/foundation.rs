//! The foundation: health, auth, errors, pagination conventions, metrics and OpenAPI.

use crate::common::*;
use reqwest::Method;

#[tokio::test]
async fn healthz_and_readyz_answer_without_a_key() {
    let server = TestServer::start().await;
    let (status, body) = send(server.anon(Method::GET, "/healthz")).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("ok")));
    let (status, _) = send(server.anon(Method::GET, "/readyz")).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_missing_key_is_a_401_with_a_pagerduty_error_body() {
    let server = TestServer::start().await;
    let response = server.anon(Method::GET, "/abilities").send().await.unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(response.headers()["content-type"], "application/json");
    let (_, body) = read(response).await;
    assert_eq!(body["error"]["code"], 2006);
    assert!(!error_text(&body).is_empty());
}

#[tokio::test]
async fn a_wrong_or_revoked_key_is_a_401() {
    let server = TestServer::start().await;
    let (status, _) = send(server.with_key("nope", Method::GET, "/abilities")).await;
    assert_eq!(status, 401);
    let (status, _) = send(server.anon(Method::GET, "/abilities").header("Authorization", "Basic abc")).await;
    assert_eq!(status, 401);
    let (_, key) = server
        .store
        .create_api_key(&klaxon_store::tokens::NewApiKey::Account { read_only: false }, "x", 0)
        .await
        .unwrap();
    let (status, _) = send(server.with_key(&key, Method::GET, "/abilities")).await;
    assert_eq!(status, 200);
    let id = server.store.list_api_keys().await.unwrap().into_iter().find(|k| k.description == "x").unwrap().id;
    server.store.revoke_api_key(&id, 0).await.unwrap();
    let (status, _) = send(server.with_key(&key, Method::GET, "/abilities")).await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn bearer_and_token_authorization_both_work() {
    let server = TestServer::start().await;
    let (status, _) =
        send(server.anon(Method::GET, "/abilities").header("Authorization", format!("Bearer {}", server.key))).await;
    assert_eq!(status, 200);
    let (status, body) = server.get("/abilities").await;
    assert_eq!(status, 200);
    assert!(body["abilities"].as_array().unwrap().iter().any(|a| a == "teams"));
}

#[tokio::test]
async fn abilities_can_be_tested_one_by_one() {
    let server = TestServer::start().await;
    let (status, _) = server.get("/abilities/teams").await;
    assert_eq!(status, 204);
    let (status, body) = server.get("/abilities/time_travel").await;
    assert_eq!(status, 402);
    assert_eq!(body["error"]["code"], 2014);
}

#[tokio::test]
async fn priorities_are_seeded_p1_to_p5_and_paginate() {
    let server = TestServer::start().await;
    let (status, body) = server.get("/priorities").await;
    assert_eq!(status, 200);
    let names: Vec<_> = body["priorities"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["P1", "P2", "P3", "P4", "P5"]);
    assert_eq!(body["more"], false);
    assert!(body["total"].is_null());
    let (_, body) = server.get("/priorities?limit=2&offset=2&total=true").await;
    let names: Vec<_> = body["priorities"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["P3", "P4"]);
    assert_eq!(
        (body["more"].as_bool(), body["total"].as_i64(), body["limit"].as_i64(), body["offset"].as_i64()),
        (Some(true), Some(5), Some(2), Some(2))
    );
    let self_url = body["priorities"][0]["self"].as_str().unwrap();
    assert!(self_url.starts_with(&server.url), "{self_url}");
}

#[tokio::test]
async fn bad_pagination_is_a_400_naming_the_parameter() {
    let server = TestServer::start().await;
    let (status, body) = server.get("/priorities?limit=zero").await;
    assert_eq!(status, 400);
    assert!(error_text(&body).starts_with("limit "), "{body}");
    let (status, body) = server.get("/priorities?limit=100&offset=9950").await;
    assert_eq!(status, 400);
    assert!(error_text(&body).starts_with("offset "), "{body}");
}

#[tokio::test]
async fn metrics_count_requests_by_route_and_status() {
    let server = TestServer::start().await;
    server.get("/priorities").await;
    let text = server.anon(Method::GET, "/metrics").send().await.unwrap().text().await.unwrap();
    assert!(
        text.contains("klaxon_http_requests_total{method=\"GET\",route=\"/priorities\",status=\"200\"} 1"),
        "{text}"
    );
    assert!(text.contains("klaxon_http_request_duration_seconds_bucket"), "{text}");
    assert!(text.contains("klaxon_db_pool_connections"), "{text}");
}

#[tokio::test]
async fn every_response_carries_a_request_id() {
    let server = TestServer::start().await;
    let response = server.anon(Method::GET, "/healthz").send().await.unwrap();
    assert!(response.headers().contains_key("x-request-id"));
}

#[tokio::test]
async fn unknown_routes_are_404() {
    let server = TestServer::start().await;
    let (status, _) = server.get("/no_such_thing").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn a_rest_body_over_512_kb_is_a_413_in_pagerduty_shape() {
    let server = TestServer::start().await;
    let body = serde_json::json!({"team": {"name": "big", "description": "x".repeat(600 * 1024)}});
    let response = server.req(Method::POST, "/teams").json(&body).send().await.expect("an answer, not a reset");
    assert_eq!(response.status(), 413);
    assert_eq!(response.headers()["content-type"], "application/json");
    let (_, body) = read(response).await;
    assert!(error_text(&body).contains("524288"), "{body}");
    let (_, teams) = server.get("/teams").await;
    assert_eq!(teams["teams"], serde_json::json!([]), "nothing was written");
}

#[tokio::test]
async fn malformed_json_is_a_400_naming_the_body_never_a_500() {
    let server = TestServer::start().await;
    for raw in ["{", "[]", "null", "{\"team\": 5}", "{\"team\": {\"name\": [1]}}"] {
        let response = server
            .req(Method::POST, "/teams")
            .header("Content-Type", "application/json")
            .body(raw)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let (_, body) = read(response).await;
        assert_eq!(status, 400, "{raw} -> {body}");
        assert!(!error_text(&body).is_empty(), "{raw} -> {body}");
    }
}
