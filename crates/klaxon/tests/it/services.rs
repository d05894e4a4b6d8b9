//! Services and their integrations: `/services`, `/services/{id}`, `/services/{id}/integrations[/{iid}]`,
//! and the vendor catalogue.

use crate::common::*;
use crate::escalation_policies::{create_policy, insert_team};
use klaxon_core::role::Role;
use reqwest::Method;
use serde_json::{Value, json};

pub fn service_body(name: &str, policy_id: &str) -> Value {
    json!({"service": {"type": "service", "name": name,
                       "escalation_policy": {"id": policy_id, "type": "escalation_policy_reference"}}})
}

/// Creates a service on `policy_id`; returns its id.
pub async fn create_service(server: &TestServer, name: &str, policy_id: &str) -> String {
    let (status, body) = server.post("/services", service_body(name, policy_id)).await;
    assert_eq!(status, 201, "{body}");
    body["service"]["id"].as_str().unwrap().to_string()
}

/// Creates an Events API v2 integration; returns (id, integration_key).
pub async fn create_integration(server: &TestServer, service_id: &str) -> (String, String) {
    let (status, body) = server
        .post(
            &format!("/services/{service_id}/integrations"),
            json!({"integration": {"type": "events_api_v2_inbound_integration"}}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let i = &body["integration"];
    (i["id"].as_str().unwrap().to_string(), i["integration_key"].as_str().unwrap().to_string())
}

#[tokio::test]
async fn creating_a_service_applies_pagerduty_defaults() {
    let server = TestServer::start().await;
    let ep = create_policy(&server, "EP").await;
    let (status, body) = server.post("/services", service_body("Web", &ep)).await;
    assert_eq!(status, 201, "{body}");
    let s = &body["service"];
    let id = s["id"].as_str().unwrap();
    assert_eq!(s["type"], "service");
    assert_eq!(s["summary"], "Web");
    assert_eq!(s["self"], format!("{}/services/{id}", server.url));
    assert_eq!(s["status"], "active");
    assert_eq!(s["acknowledgement_timeout"], 1800);
    assert_eq!(s["auto_resolve_timeout"], 14400);
    assert_eq!(s["incident_urgency_rule"], json!({"type": "constant", "urgency": "high"}));
    assert_eq!(s["scheduled_actions"], json!([]));
    assert_eq!(s["alert_creation"], "create_alerts_and_incidents");
    assert_eq!(s["auto_pause_notifications_parameters"], json!({"enabled": false, "timeout": null}));
    assert_eq!(s["addons"], json!([]));
    assert_eq!(s["integrations"], json!([]));
    assert_eq!(s["teams"], json!([]));
    assert!(s["response_play"].is_null());
    assert!(s["support_hours"].is_null());
    assert!(s["last_incident_timestamp"].is_null());
    assert!(s["created_at"].is_string() && s["updated_at"].is_string());
    assert_eq!(s["escalation_policy"]["id"], ep.as_str());
    assert_eq!(s["escalation_policy"]["type"], "escalation_policy_reference");
    assert_eq!(s["escalation_policy"]["summary"], "EP");
    let (_, fetched) = server.get(&format!("/services/{id}")).await;
    assert_eq!(fetched["service"], *s);
}

#[tokio::test]
async fn the_pagerduty_spec_example_service_round_trips() {
    let server = TestServer::start().await;
    let ep = create_policy(&server, "EP").await;
    let body = json!({"service":{"type":"service","name":"My Web App","description":"My cool web application that does things.",
        "auto_resolve_timeout":14400,"acknowledgement_timeout":600,"status":"active",
        "escalation_policy":{"id":ep,"type":"escalation_policy_reference"},
        "incident_urgency_rule":{"type":"use_support_hours","during_support_hours":{"type":"constant","urgency":"high"},
            "outside_support_hours":{"type":"constant","urgency":"low"}},
        "support_hours":{"type":"fixed_time_per_day","time_zone":"America/Lima","start_time":"09:00:00","end_time":"17:00:00","days_of_week":[1,2,3,4,5]},
        "scheduled_actions":[{"type":"urgency_change","at":{"type":"named_time","name":"support_hours_start"},"to_urgency":"high"}],
        "alert_creation":"create_alerts_and_incidents",
        "alert_grouping_parameters":{"type":"time","config":{"timeout":2}},
        "auto_pause_notifications_parameters":{"enabled":true,"timeout":300},
        "response_play": {"id": "PRP1234"}}});
    let (status, resp) = server.post("/services", body.clone()).await;
    assert_eq!(status, 201, "{resp}");
    let s = &resp["service"];
    for field in [
        "incident_urgency_rule",
        "support_hours",
        "scheduled_actions",
        "alert_grouping_parameters",
        "auto_pause_notifications_parameters",
        "description",
    ] {
        assert_eq!(s[field], body["service"][field], "{field}");
    }
    assert_eq!(s["acknowledgement_timeout"], 600);
    assert!(s["response_play"].is_null());
}

#[tokio::test]
async fn a_service_needs_a_name_and_an_existing_escalation_policy() {
    let server = TestServer::start().await;
    let (status, body) = server.post("/services", json!({"service": {"description": "x"}})).await;
    assert_eq!(status, 400);
    let text = error_text(&body);
    assert!(text.contains("service.name is required") && text.contains("service.escalation_policy is required"));
    let (status, body) = server.post("/services", service_body("Web", "PMISSIN")).await;
    assert_eq!(status, 400);
    assert!(error_text(&body).contains("service.escalation_policy.id PMISSIN not found"), "{body}");
}

#[tokio::test]
async fn service_names_are_unique_case_insensitively() {
    let server = TestServer::start().await;
    let ep = create_policy(&server, "EP").await;
    create_service(&server, "Web", &ep).await;
    let (status, body) = server.post("/services", service_body("WEB", &ep)).await;
    assert_eq!(status, 400);
    assert!(error_text(&body).contains("service.name has already been taken"), "{body}");
}

#[tokio::test]
async fn explicit_nulls_on_put_disable_timeouts_and_grouping() {
    let server = TestServer::start().await;
    let ep = create_policy(&server, "EP").await;
    let id = create_service(&server, "Web", &ep).await;
    let (status, body) = server
        .put(
            &format!("/services/{id}"),
            json!({"service": {"alert_grouping_parameters": {"type": "time", "config": {"timeout": 5}}}}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["service"]["alert_grouping_parameters"]["type"], "time");
    let (status, body) = server
        .put(
            &format!("/services/{id}"),
            json!({"service": {"acknowledgement_timeout": null, "auto_resolve_timeout": 0, "response_play": null,
                               "alert_grouping_parameters": {"type": null}, "description": "d"}}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let s = &body["service"];
    assert!(s["acknowledgement_timeout"].is_null());
    assert!(s["auto_resolve_timeout"].is_null());
    assert_eq!(s["alert_grouping_parameters"], json!({"type": null}));
    assert_eq!(s["name"], "Web", "absent fields are left alone");
    assert_eq!(s["description"], "d");
    let (_, body) = server.put(&format!("/services/{id}"), json!({"service": {"description": null}})).await;
    assert!(body["service"]["description"].is_null());
}

#[tokio::test]
async fn status_is_active_on_create_and_put_may_disable() {
    let server = TestServer::start().await;
    let ep = create_policy(&server, "EP").await;
    let mut body = service_body("Web", &ep);
    body["service"]["status"] = json!("disabled");
    let (status, resp) = server.post("/services", body).await;
    assert_eq!(status, 400);
    assert!(error_text(&resp).contains("service.status"));
    let id = create_service(&server, "Web", &ep).await;
    let (status, resp) = server.put(&format!("/services/{id}"), json!({"service": {"status": "disabled"}})).await;
    assert_eq!(status, 200);
    assert_eq!(resp["service"]["status"], "disabled");
    let (status, resp) = server.put(&format!("/services/{id}"), json!({"service": {"status": "critical"}})).await;
    assert_eq!(status, 400);
    assert!(error_text(&resp).contains("service.status must be active or disabled"));
}

#[tokio::test]
async fn invalid_documents_are_refused_naming_the_field() {
    let server = TestServer::start().await;
    let ep = create_policy(&server, "EP").await;
    let cases = [
        (
            "incident_urgency_rule",
            json!({"type": "constant", "urgency": "urgent"}),
            "service.incident_urgency_rule.urgency",
        ),
        (
            "incident_urgency_rule",
            json!({"type": "use_support_hours", "during_support_hours": {"type": "constant", "urgency": "severity_based"}}),
            "service.incident_urgency_rule.during_support_hours.urgency",
        ),
        (
            "support_hours",
            json!({"type": "fixed_time_per_day", "time_zone": "Mars/Olympus", "start_time": "09:00:00",
                   "end_time": "17:00:00", "days_of_week": [1]}),
            "service.support_hours.time_zone",
        ),
        (
            "support_hours",
            json!({"type": "fixed_time_per_day", "time_zone": "Europe/Paris", "start_time": "9am",
                   "end_time": "17:00:00", "days_of_week": [8]}),
            "service.support_hours.days_of_week",
        ),
        ("scheduled_actions", json!({"type": "urgency_change"}), "service.scheduled_actions must be an array"),
        ("alert_creation", json!("create_nothing"), "service.alert_creation"),
        ("alert_grouping_parameters", json!({"type": "magic"}), "service.alert_grouping_parameters.type"),
        (
            "auto_pause_notifications_parameters",
            json!({"enabled": true, "timeout": 7}),
            "service.auto_pause_notifications_parameters.timeout",
        ),
        ("acknowledgement_timeout", json!(-5), "service.acknowledgement_timeout"),
        ("auto_resolve_timeout", json!("soon"), "service.auto_resolve_timeout"),
    ];
    for (field, value, expected) in cases {
        let mut body = service_body("Web", &ep);
        body["service"][field] = value;
        let (status, resp) = server.post("/services", body).await;
        assert_eq!(status, 400, "{field}: {resp}");
        assert!(error_text(&resp).contains(expected), "{field}: {resp}");
    }
    let (_, list) = server.get("/services?total=true").await;
    assert_eq!(list["total"], 0);
}

#[tokio::test]
async fn listing_filters_by_query_name_and_team() {
    let server = TestServer::start().await;
    let ep = create_policy(&server, "EP").await;
    let team = insert_team(&server, "Payments").await;
    create_service(&server, "Checkout API", &ep).await;
    create_service(&server, "checkout worker", &ep).await;
    let mut body = service_body("Billing", &ep);
    body["service"]["teams"] = json!([{"id": team, "type": "team_reference"}]);
    let (status, resp) = server.post("/services", body).await;
    assert_eq!(status, 201, "{resp}");
    assert_eq!(resp["service"]["teams"][0]["summary"], "Payments");
    let names = |body: &Value| -> Vec<String> {
        body["services"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap().to_string()).collect()
    };
    let (_, body) = server.get("/services?total=true").await;
    assert_eq!(names(&body), ["Billing", "Checkout API", "checkout worker"]);
    assert_eq!(body["total"], 3);
    let (_, body) = server.get("/services?query=CHECKOUT").await;
    assert_eq!(names(&body), ["Checkout API", "checkout worker"]);
    let (_, body) = server.get("/services?name=checkout%20api").await;
    assert_eq!(names(&body), ["Checkout API"]);
    let (_, body) =
        server.get(&format!("/services?team_ids[]={team}&include[]=teams&include[]=escalation_policies")).await;
    assert_eq!(names(&body), ["Billing"]);
    assert_eq!(body["services"][0]["teams"][0]["type"], "team");
    assert_eq!(body["services"][0]["escalation_policy"]["type"], "escalation_policy");
    let (_, body) = server.get("/services?sort_by=name:desc&limit=2").await;
    assert_eq!(
        (names(&body), body["more"].as_bool()),
        (vec!["checkout worker".into(), "Checkout API".into()], Some(true))
    );
    let (status, _) = server.get("/services?include[]=everything").await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn integrations_get_a_routing_key_and_default_names() {
    let server = TestServer::start().await;
    let ep = create_policy(&server, "EP").await;
    let sid = create_service(&server, "Web", &ep).await;
    let (status, body) = server
        .post(
            &format!("/services/{sid}/integrations"),
            json!({"integration": {"type": "events_api_v2_inbound_integration", "integration_key": "chosen-by-client"}}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let i = &body["integration"];
    let iid = i["id"].as_str().unwrap();
    assert_eq!(i["type"], "events_api_v2_inbound_integration");
    assert_eq!(i["name"], "Events API v2");
    assert_eq!(i["summary"], "Events API v2");
    assert_eq!(i["self"], format!("{}/services/{sid}/integrations/{iid}", server.url));
    assert_eq!(i["service"]["id"], sid.as_str());
    assert_eq!(i["service"]["type"], "service_reference");
    assert!(i["vendor"].is_null());
    assert!(i["rate_limit_per_minute"].is_null());
    let key = i["integration_key"].as_str().unwrap();
    assert_eq!(key.len(), 32);
    assert!(key.chars().all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)), "{key}");
    let (status, body) = server
        .post(
            &format!("/services/{sid}/integrations"),
            json!({"integration": {"type": "generic_events_api_inbound_integration_reference",
                                   "vendor": {"id": "PAM4FGT", "type": "vendor_reference"}}}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["integration"]["type"], "generic_events_api_inbound_integration");
    assert_eq!(body["integration"]["name"], "Events API v1");
    assert_eq!(body["integration"]["vendor"]["summary"], "Prometheus Alertmanager");
    let (_, svc) = server.get(&format!("/services/{sid}")).await;
    let refs = svc["service"]["integrations"].as_array().unwrap();
    assert_eq!(refs.len(), 2);
    assert_eq!(refs[0]["type"], "events_api_v2_inbound_integration_reference");
    assert!(refs[0].get("integration_key").is_none());
    let (_, svc) = server.get(&format!("/services/{sid}?include[]=integrations")).await;
    assert_eq!(svc["service"]["integrations"][0]["integration_key"], key);
}

#[tokio::test]
async fn integration_types_and_fields_are_validated() {
    let server = TestServer::start().await;
    let ep = create_policy(&server, "EP").await;
    let sid = create_service(&server, "Web", &ep).await;
    let path = format!("/services/{sid}/integrations");
    let (status, body) =
        server.post(&path, json!({"integration": {"type": "generic_email_inbound_integration"}})).await;
    assert_eq!(status, 400);
    assert!(error_text(&body).contains("integration.type"));
    let (status, body) = server.post(&path, json!({"integration": {"name": "x"}})).await;
    assert_eq!(status, 400);
    assert!(error_text(&body).contains("integration.type is required"));
    let (status, body) = server
        .post(&path, json!({"integration": {"type": "events_api_v2_inbound_integration", "rate_limit_per_minute": -1}}))
        .await;
    assert_eq!(status, 400);
    assert!(error_text(&body).contains("integration.rate_limit_per_minute"));
    let (status, body) = server
        .post(&path, json!({"integration": {"type": "events_api_v2_inbound_integration", "vendor": {"id": "PNOPE", "type": "vendor"}}}))
        .await;
    assert_eq!(status, 400);
    assert!(error_text(&body).contains("integration.vendor.id PNOPE not found"));
    let (status, _) = server
        .post("/services/PNOSVC1/integrations", json!({"integration": {"type": "events_api_v2_inbound_integration"}}))
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn integrations_can_be_renamed_rate_limited_and_deleted() {
    let server = TestServer::start().await;
    let ep = create_policy(&server, "EP").await;
    let sid = create_service(&server, "Web", &ep).await;
    let (iid, key) = create_integration(&server, &sid).await;
    let path = format!("/services/{sid}/integrations/{iid}");
    let (status, body) = server
        .put(
            &path,
            json!({"integration": {"name": "Alertmanager", "rate_limit_per_minute": 0, "integration_key": "x"}}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["integration"]["name"], "Alertmanager");
    assert_eq!(body["integration"]["rate_limit_per_minute"], 0);
    assert_eq!(body["integration"]["integration_key"], key.as_str());
    let (status, body) = server.get(&path).await;
    assert_eq!((status, body["integration"]["name"].as_str()), (200, Some("Alertmanager")));
    let (status, _) = server.delete(&path).await;
    assert_eq!(status, 204);
    let (status, _) = server.get(&path).await;
    assert_eq!(status, 404);
    let (_, svc) = server.get(&format!("/services/{sid}")).await;
    assert_eq!(svc["service"]["integrations"], json!([]));
}

#[tokio::test]
async fn deleting_a_service_deletes_its_integrations() {
    let server = TestServer::start().await;
    let ep = create_policy(&server, "EP").await;
    let sid = create_service(&server, "Web", &ep).await;
    let (iid, _) = create_integration(&server, &sid).await;
    let (status, _) = server.delete(&format!("/services/{sid}")).await;
    assert_eq!(status, 204);
    let (status, _) = server.get(&format!("/services/{sid}")).await;
    assert_eq!(status, 404);
    let integration = server.store.integration(&sid, &iid).await.unwrap();
    assert!(integration.is_none(), "the integration is gone with its service");
    let (_, list) = server.get("/services?total=true").await;
    assert_eq!(list["total"], 0);
    create_service(&server, "Web", &ep).await; // the name is free again
}

#[tokio::test]
async fn service_writes_need_the_configure_permission() {
    let server = TestServer::start().await;
    let ep = create_policy(&server, "EP").await;
    let sid = create_service(&server, "Web", &ep).await;
    let (_, limited) = server.user_with_token("limited@klaxon.test", Role::LimitedUser).await;
    let read_only = server.read_only_key().await;
    for key in [&limited, &read_only] {
        let (status, _) = send(server.with_key(key, Method::POST, "/services").json(&service_body("X", &ep))).await;
        assert_eq!(status, 403);
        let (status, _) = send(
            server
                .with_key(key, Method::POST, &format!("/services/{sid}/integrations"))
                .json(&json!({"integration": {"type": "events_api_v2_inbound_integration"}})),
        )
        .await;
        assert_eq!(status, 403);
        let (status, _) = send(server.with_key(key, Method::DELETE, &format!("/services/{sid}"))).await;
        assert_eq!(status, 403);
        let (status, _) = send(server.with_key(key, Method::GET, &format!("/services/{sid}"))).await;
        assert_eq!(status, 200);
    }
}

#[tokio::test]
async fn vendors_are_a_searchable_catalogue() {
    let server = TestServer::start().await;
    let (status, body) = server.get("/vendors?total=true").await;
    assert_eq!(status, 200);
    assert_eq!(body["total"], 7);
    let (_, body) = server.get("/vendors?query=alertmanager").await;
    let vendors = body["vendors"].as_array().unwrap();
    assert_eq!(vendors.len(), 1);
    assert_eq!(vendors[0]["type"], "vendor");
    assert_eq!(vendors[0]["name"], "Prometheus Alertmanager");
    let id = vendors[0]["id"].as_str().unwrap();
    let (status, body) = server.get(&format!("/vendors/{id}")).await;
    assert_eq!((status, body["vendor"]["name"].as_str()), (200, Some("Prometheus Alertmanager")));
    let (status, _) = server.get("/vendors/PNOPE00").await;
    assert_eq!(status, 404);
}

/// Inserts an incident straight into the database (incidents are built elsewhere).
async fn insert_incident(server: &TestServer, service_id: &str, number: i64, status: &str) {
    use sqlx::Connection;
    let sql = "INSERT INTO incidents (id, incident_number, title, service_id, status, urgency, assigned_via,
                   escalation_level, last_status_change_at, last_status_change_by_type, last_status_change_by_id,
                   created_at, updated_at)
               VALUES ($1, $2, 'Down', $3, $4, 'high', 'escalation_policy', 1, 0, 'service_reference', $3, 0, 0)";
    let id = klaxon_store::ids::resource_id();
    match &server.database_url {
        Some(url) => {
            let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
            sqlx::query(sql).bind(&id).bind(number).bind(service_id).bind(status).execute(&mut conn).await.unwrap();
        }
        None => {
            let path = server.dir.path().join("klaxon.db");
            let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display())).await.unwrap();
            sqlx::query(sql).bind(&id).bind(number).bind(service_id).bind(status).execute(&mut conn).await.unwrap();
        }
    }
}

#[tokio::test]
async fn rendered_status_is_critical_with_triggered_and_warning_with_acknowledged_incidents() {
    let server = TestServer::start().await;
    let ep = create_policy(&server, "EP").await;
    let critical = create_service(&server, "Critical", &ep).await;
    let warning = create_service(&server, "Warning", &ep).await;
    let calm = create_service(&server, "Calm", &ep).await;
    insert_incident(&server, &critical, 1, "triggered").await;
    insert_incident(&server, &critical, 2, "acknowledged").await;
    insert_incident(&server, &warning, 3, "acknowledged").await;
    insert_incident(&server, &calm, 4, "resolved").await;
    let (_, body) = server.get("/services").await;
    let statuses: Vec<(&str, &str)> = body["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["name"].as_str().unwrap(), s["status"].as_str().unwrap()))
        .collect();
    assert_eq!(statuses, [("Calm", "active"), ("Critical", "critical"), ("Warning", "warning")]);
}

#[tokio::test]
async fn absurd_timeouts_are_refused() {
    let server = TestServer::start().await;
    let ep = create_policy(&server, "EP").await;
    let mut body = service_body("Web", &ep);
    body["service"]["auto_resolve_timeout"] = json!(9_000_000_000_000_000_000_i64);
    let (status, resp) = server.post("/services", body).await;
    assert_eq!(status, 400);
    assert!(error_text(&resp).contains("service.auto_resolve_timeout"));
}

#[tokio::test]
async fn a_vendor_integration_as_terraform_sends_it_takes_the_vendors_type_and_name() {
    let server = TestServer::start().await;
    let ep = create_policy(&server, "EP").await;
    let sid = create_service(&server, "Web", &ep).await;
    let (_, vendors) = server.get("/vendors?query=cloudwatch").await;
    let vendor = vendors["vendors"][0]["id"].as_str().unwrap().to_string();
    let (status, body) = server
        .post(
            &format!("/services/{sid}/integrations"),
            json!({"integration": {"name": "", "type": "service_integration",
                                   "service": {"id": sid, "type": "service"},
                                   "vendor": {"id": vendor, "type": "vendor"}}}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["integration"]["type"], "generic_events_api_inbound_integration");
    assert_eq!(body["integration"]["name"], "Amazon CloudWatch");
    assert_eq!(body["integration"]["vendor"]["id"], vendor.as_str());
    let (status, body) = server
        .post(&format!("/services/{sid}/integrations"), json!({"integration": {"type": "service_integration"}}))
        .await;
    assert_eq!(status, 400, "no vendor to decide the type");
    assert!(error_text(&body).contains("integration.type"));
}

#[tokio::test]
async fn query_treats_like_wildcards_literally() {
    let server = TestServer::start().await;
    let ep = create_policy(&server, "EP").await;
    create_service(&server, "api_gateway", &ep).await;
    create_service(&server, "apixgateway", &ep).await;
    let (_, body) = server.get("/services?query=i_g").await;
    let names: Vec<&str> = body["services"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["api_gateway"]);
    let (_, body) = server.get("/services?query=%25").await;
    assert_eq!(body["services"], json!([]));
}

#[tokio::test]
async fn a_use_support_hours_rule_requires_support_hours() {
    let server = TestServer::start().await;
    let ep = create_policy(&server, "EP").await;
    let rule = json!({"type": "use_support_hours", "during_support_hours": {"type": "constant", "urgency": "high"},
        "outside_support_hours": {"type": "constant", "urgency": "low"}});
    let expected = "service.incident_urgency_rule of type use_support_hours requires service.support_hours";
    let mut body = service_body("Web", &ep);
    body["service"]["incident_urgency_rule"] = rule.clone();
    let (status, resp) = server.post("/services", body.clone()).await;
    assert_eq!(status, 400, "{resp}");
    assert!(error_text(&resp).contains(expected), "{resp}");

    body["service"]["support_hours"] = json!({"type": "fixed_time_per_day", "time_zone": "Europe/Berlin",
        "days_of_week": [1, 2, 3, 4, 5], "start_time": "09:00:00", "end_time": "17:00:00"});
    let (status, resp) = server.post("/services", body).await;
    assert_eq!(status, 201, "{resp}");
    let id = resp["service"]["id"].as_str().unwrap();
    // Clearing the support hours while the rule stays is refused too.
    let (status, resp) = server.put(&format!("/services/{id}"), json!({"service": {"support_hours": null}})).await;
    assert_eq!(status, 400, "{resp}");
    assert!(error_text(&resp).contains(expected), "{resp}");
    // Clearing both together is fine.
    let (status, resp) = server
        .put(&format!("/services/{id}"), json!({"service": {"support_hours": null, "incident_urgency_rule": null}}))
        .await;
    assert_eq!(status, 200, "{resp}");
    assert_eq!(resp["service"]["incident_urgency_rule"], json!({"type": "constant", "urgency": "high"}));
}
