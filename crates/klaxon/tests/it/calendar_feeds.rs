//! Calendar feeds: `GET /ical/schedules/{token}.ics`, `GET /ical/users/{token}.ics`, the `http_cal_url` /
//! `web_cal_url` of schedules and users (`include[]=calendar_urls`), and `include_next_oncall_for_user`.

use crate::common::*;
use crate::oncalls::create_schedule;
use klaxon_core::role::Role;
use reqwest::Method;
use serde_json::Value;

const NOW: &str = "2025-03-01T12:00:00Z";

/// `(DTSTART, DTEND, SUMMARY)` of every event of a feed, parsed with a real iCalendar parser.
fn events(text: &str) -> Vec<(String, String, String)> {
    let unfolded = icalendar::parser::unfold(text);
    let parsed = icalendar::parser::read_calendar(&unfolded).unwrap();
    let prop = |c: &icalendar::parser::Component<'_>, name: &str| {
        c.properties.iter().find(|p| p.name == name).map(|p| p.val.to_string()).unwrap()
    };
    parsed
        .components
        .iter()
        .filter(|c| c.name == "VEVENT")
        .map(|c| (prop(c, "DTSTART"), prop(c, "DTEND"), prop(c, "SUMMARY")))
        .collect()
}

/// `2025-02-22T00:00:00Z` → `20250222T000000Z`.
fn ical_time(rfc3339: &str) -> String {
    rfc3339.replace(['-', ':'], "")
}

/// Fetches a feed without an API key: `(status, content type, body)`.
async fn feed(server: &TestServer, url: &str) -> (u16, String, String) {
    let response = server.http.get(url).send().await.unwrap();
    let status = response.status().as_u16();
    let kind = response.headers().get("content-type").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    (status, kind, response.text().await.unwrap())
}

fn urls(object: &Value) -> (String, String) {
    (object["http_cal_url"].as_str().unwrap().to_string(), object["web_cal_url"].as_str().unwrap().to_string())
}

#[tokio::test]
async fn a_schedules_feed_lists_its_final_shifts_from_a_week_back_to_90_days_ahead() {
    let server = TestServer::start_with_clock(NOW.parse().unwrap()).await;
    let ada = server.user_with_token("ada@klaxon.test", Role::User).await.0;
    let bob = server.user_with_token("bob@klaxon.test", Role::User).await.0;
    let schedule = create_schedule(&server, "Rotation", &[&ada, &bob]).await;

    let (_, plain) = server.get(&format!("/schedules/{schedule}")).await;
    assert!(plain["schedule"].get("http_cal_url").is_none() && plain["schedule"].get("web_cal_url").is_none());
    let (status, body) = server.get(&format!("/schedules/{schedule}?include[]=calendar_urls")).await;
    assert_eq!(status, 200, "{body}");
    let (http, web) = urls(&body["schedule"]);
    assert!(http.starts_with(&format!("{}/ical/schedules/", server.url)) && http.ends_with(".ics"), "{http}");
    assert_eq!(web, http.replacen("http://", "webcal://", 1));
    let (_, again) = server.get("/schedules?include[]=calendar_urls").await;
    assert_eq!(urls(&again["schedules"][0]).0, http, "the token is kept");

    let (status, kind, text) = feed(&server, &http).await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(kind, "text/calendar; charset=utf-8");
    assert!(text.contains("DTSTAMP:20250301T120000Z\r\n"), "DTSTAMP is the injected clock's");
    let got = events(&text);

    // The same shifts as the final schedule rendered whole over the feed's window.
    let (_, rendered) = server
        .get(&format!("/schedules/{schedule}?since=2025-02-22T12:00:00Z&until=2025-05-30T12:00:00Z&overflow=true"))
        .await;
    let expected: Vec<(String, String, String)> = rendered["schedule"]["final_schedule"]["rendered_schedule_entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let name = if e["user"]["id"] == ada.as_str() { "ada@klaxon.test" } else { "bob@klaxon.test" };
            (ical_time(e["start"].as_str().unwrap()), ical_time(e["end"].as_str().unwrap()), format!("{name} on call"))
        })
        .collect();
    assert_eq!(expected.len(), 98, "22 February to 30 May, whole days");
    assert_eq!(got, expected);
    assert_eq!(got[0].0, "20250222T000000Z");
}

#[tokio::test]
async fn a_users_feed_lists_their_shifts_across_every_schedule() {
    let server = TestServer::start_with_clock(NOW.parse().unwrap()).await;
    let ada = server.user_with_token("ada@klaxon.test", Role::User).await.0;
    let bob = server.user_with_token("bob@klaxon.test", Role::User).await.0;
    create_schedule(&server, "Rotation", &[&ada, &bob]).await;
    create_schedule(&server, "Backup", &[&ada]).await;
    create_schedule(&server, "Elsewhere", &[&bob]).await;

    let (_, plain) = server.get(&format!("/users/{ada}")).await;
    assert!(plain["user"].get("http_cal_url").is_none());
    let (status, body) = server.get(&format!("/users/{ada}?include[]=calendar_urls")).await;
    assert_eq!(status, 200, "{body}");
    let (http, web) = urls(&body["user"]);
    assert!(http.starts_with(&format!("{}/ical/users/", server.url)), "{http}");
    assert!(web.starts_with("webcal://"));
    let (status, kind, text) = feed(&server, &http).await;
    assert_eq!((status, kind.as_str()), (200, "text/calendar; charset=utf-8"));
    let got = events(&text);
    let backup = got.iter().filter(|e| e.2 == "On call: Backup").count();
    let rotation = got.iter().filter(|e| e.2 == "On call: Rotation").count();
    assert_eq!((backup, rotation, got.len()), (1, 49, 50), "Backup's days merge into one shift; {got:?}");
}

#[tokio::test]
async fn unknown_tokens_are_404_and_tokens_are_long_random_secrets() {
    let server = TestServer::start_with_clock(NOW.parse().unwrap()).await;
    let ada = server.user_with_token("ada@klaxon.test", Role::User).await.0;
    let one = create_schedule(&server, "One", &[&ada]).await;
    let two = create_schedule(&server, "Two", &[&ada]).await;
    let token = |url: &str| url.rsplit('/').next().unwrap().trim_end_matches(".ics").to_string();
    let (_, a) = server.get(&format!("/schedules/{one}?include[]=calendar_urls")).await;
    let (_, b) = server.get(&format!("/schedules/{two}?include[]=calendar_urls")).await;
    let (ta, tb) = (token(&urls(&a["schedule"]).0), token(&urls(&b["schedule"]).0));
    assert_ne!(ta, tb);
    // At least 128 bits: 22 or more characters of a 62-character alphabet.
    assert!(ta.len() >= 22 && ta.chars().all(|c| c.is_ascii_alphanumeric()), "{ta}");

    let (status, _, _) = feed(&server, &format!("{}/ical/schedules/{ta}.ics", server.url)).await;
    assert_eq!(status, 200, "no API key needed");
    let (status, _, _) = feed(&server, &format!("{}/ical/schedules/{}.ics", server.url, "x".repeat(43))).await;
    assert_eq!(status, 404);
    let (status, _, _) = feed(&server, &format!("{}/ical/users/{ta}.ics", server.url)).await;
    assert_eq!(status, 404, "a schedule's token opens no user feed");
    let (status, _, _) = feed(&server, &format!("{}/ical/schedules/{ta}", server.url)).await;
    assert_eq!(status, 404);
    let (status, _) = send(server.req(Method::DELETE, &format!("/schedules/{one}"))).await;
    assert_eq!(status, 204);
    let (status, _, _) = feed(&server, &format!("{}/ical/schedules/{ta}.ics", server.url)).await;
    assert_eq!(status, 404, "a deleted schedule's feed is gone");
}

#[tokio::test]
async fn include_next_oncall_for_user_gives_the_users_next_shift() {
    let server = TestServer::start_with_clock(NOW.parse().unwrap()).await;
    let ada = server.user_with_token("ada@klaxon.test", Role::User).await.0;
    let bob = server.user_with_token("bob@klaxon.test", Role::User).await.0;
    let carl = server.user_with_token("carl@klaxon.test", Role::User).await.0;
    let schedule = create_schedule(&server, "Rotation", &[&ada, &bob]).await;
    let (_, plain) = server.get(&format!("/schedules/{schedule}")).await;
    assert!(plain["schedule"].get("next_oncall_for_user").is_none());
    let (status, body) = server.get(&format!("/schedules/{schedule}?include_next_oncall_for_user={bob}")).await;
    assert_eq!(status, 200, "{body}");
    let next = &body["schedule"]["next_oncall_for_user"];
    assert_eq!(next["start"], "2025-03-02T00:00:00Z");
    assert_eq!(next["end"], "2025-03-03T00:00:00Z");
    assert_eq!(next["user"]["id"], bob.as_str());
    let (_, body) = server.get(&format!("/schedules/{schedule}?include_next_oncall_for_user={ada}")).await;
    assert_eq!(body["schedule"]["next_oncall_for_user"]["start"], "2025-03-01T00:00:00Z", "the shift in progress");
    let (_, body) = server.get(&format!("/schedules?include_next_oncall_for_user={carl}")).await;
    assert!(body["schedules"][0]["next_oncall_for_user"].is_null(), "{body}");
    assert!(body["schedules"][0].as_object().unwrap().contains_key("next_oncall_for_user"));
}
