//! The Events API's pure rules: parsing and validating Events API v2, v1 and change events into one
//! normalized shape, with PagerDuty's error strings; and the processing decision
//! (what an event does to the open alert with its dedup key). Severity → urgency is the service's rule:
//! [`crate::service_rules::UrgencyRule::urgency`].
//!
//! Nothing here touches a database or a clock: the server resolves the routing key and commits the
//! normalized event; the store's processor applies [`decide`] and [`choose_incident`] inside its
//! transaction.
//!
//! Validation follows PagerDuty: one reason per bad field, fields named in quotes
//! (`'payload.summary' is missing or blank`), and nothing is over-validated: unknown fields are ignored,
//! `custom_details` may be any JSON, links without `href` and images without `src` are dropped (as
//! Alertmanager does before sending), and the payload of an acknowledge or resolve is not checked.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Longest `payload.summary` (v2) / `description` (v1), in characters.
pub const MAX_SUMMARY_CHARS: usize = 1024;
/// Longest `dedup_key` / `incident_key`, in characters.
pub const MAX_DEDUP_KEY_CHARS: usize = 255;
/// Length of a service integration key.
pub const ROUTING_KEY_LEN: usize = 32;

/// What an alert event asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventAction {
    Trigger,
    Acknowledge,
    Resolve,
}

impl EventAction {
    pub fn parse(s: &str) -> Option<EventAction> {
        match s {
            "trigger" => Some(EventAction::Trigger),
            "acknowledge" => Some(EventAction::Acknowledge),
            "resolve" => Some(EventAction::Resolve),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            EventAction::Trigger => "trigger",
            EventAction::Acknowledge => "acknowledge",
            EventAction::Resolve => "resolve",
        }
    }
}

/// Which Events API an event came through.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventsVersion {
    V1,
    V2,
}

/// An alert event after validation: what the inbox stores (as JSON) and the processor applies.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AlertEvent {
    pub version: EventsVersion,
    pub action: EventAction,
    /// Given by the sender, or generated (32 hex) for a trigger without one.
    pub dedup_key: String,
    /// Trigger only (ack/resolve carry whatever the sender sent, unchecked).
    pub summary: Option<String>,
    pub source: Option<String>,
    /// `critical | error | warning | info`; `None` for v1 and for ack/resolve.
    pub severity: Option<String>,
    /// `payload.timestamp` in Unix milliseconds, when sent.
    pub timestamp_ms: Option<i64>,
    pub component: Option<String>,
    pub group: Option<String>,
    pub class: Option<String>,
    pub custom_details: Option<Value>,
    /// Links and images as PagerDuty's alert `contexts`: `{type:"link",href,text?}` / `{type:"image",src,href?,alt?}`.
    #[serde(default)]
    pub contexts: Vec<Value>,
    pub client: Option<String>,
    pub client_url: Option<String>,
}

/// A change event after validation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChangeEvent {
    pub summary: String,
    pub source: Option<String>,
    pub timestamp_ms: Option<i64>,
    pub custom_details: Option<Value>,
    pub links: Vec<Value>,
    pub images: Vec<Value>,
}

/// Why an event was refused, as the Events API answers it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EventRejection {
    /// The body is not a JSON object: `{"status":"Unrecognized object",…,"errors":["JSON parse error"]}`.
    Unrecognized,
    /// `{"status":"invalid event","message":"Event object is invalid","errors":[…]}`.
    Invalid(Vec<String>),
}

/// The parsed, validated request: the routing key (not yet resolved) and the event.
#[derive(Clone, Debug, PartialEq)]
pub struct Parsed<T> {
    pub routing_key: String,
    pub event: T,
}

/// Parses a body into a JSON object, or [`EventRejection::Unrecognized`].
pub fn parse_object(body: &[u8]) -> Result<serde_json::Map<String, Value>, EventRejection> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(EventRejection::Unrecognized),
    }
}

fn quoted(field: &str) -> String {
    format!("'{field}'")
}

fn missing(field: &str) -> String {
    format!("{} is missing or blank", quoted(field))
}

/// Reads an optional string field: absent, null or `""` is `None`; a number or boolean is rendered as
/// text (senders are sloppy and PagerDuty tolerates it); an object or array is an error.
fn opt_string(obj: &serde_json::Map<String, Value>, key: &str, path: &str, errors: &mut Vec<String>) -> Option<String> {
    match obj.get(key) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.is_empty() => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(Value::Bool(b)) => Some(b.to_string()),
        Some(_) => {
            errors.push(format!("{} must be a string", quoted(path)));
            None
        }
    }
}

fn check_routing_key(key: Option<String>, field: &str, errors: &mut Vec<String>) -> String {
    match key {
        None => {
            errors.push(missing(field));
            String::new()
        }
        Some(k) => {
            let k = k.trim().to_string();
            if k.chars().count() != ROUTING_KEY_LEN {
                errors.push(format!("{} is the wrong length (should be {ROUTING_KEY_LEN} characters)", quoted(field)));
            }
            k
        }
    }
}

fn check_dedup_key(key: &Option<String>, field: &str, errors: &mut Vec<String>) {
    if let Some(k) = key
        && k.chars().count() > MAX_DEDUP_KEY_CHARS
    {
        errors.push(format!("{} is too long (must be at most {MAX_DEDUP_KEY_CHARS} characters)", quoted(field)));
    }
}

fn check_summary(summary: &Option<String>, field: &str, errors: &mut Vec<String>) {
    match summary {
        None => errors.push(missing(field)),
        Some(s) if s.trim().is_empty() => errors.push(missing(field)),
        Some(s) if s.chars().count() > MAX_SUMMARY_CHARS => {
            errors.push(format!("{} is too long (must be at most {MAX_SUMMARY_CHARS} characters)", quoted(field)))
        }
        Some(_) => {}
    }
}

fn timestamp(raw: Option<String>, field: &str, errors: &mut Vec<String>) -> Option<i64> {
    let raw = raw?;
    match crate::time::parse_timestamp(&raw) {
        Ok(ts) => Some(ts.as_millisecond()),
        Err(_) => {
            errors.push(format!("{} is invalid (must be an ISO 8601 date-time)", quoted(field)));
            None
        }
    }
}

fn non_empty_str(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_string)
}

/// v2 `links[]` → contexts; entries without `href` are dropped.
fn links(v: Option<&Value>) -> Vec<Value> {
    let Some(Value::Array(items)) = v else { return Vec::new() };
    items
        .iter()
        .filter_map(|l| {
            let href = non_empty_str(l, "href")?;
            let mut c = serde_json::json!({"type": "link", "href": href});
            if let Some(text) = non_empty_str(l, "text") {
                c["text"] = Value::String(text);
            }
            Some(c)
        })
        .collect()
}

/// v2 `images[]` → contexts; entries without `src` are dropped.
fn images(v: Option<&Value>) -> Vec<Value> {
    let Some(Value::Array(items)) = v else { return Vec::new() };
    items
        .iter()
        .filter_map(|i| {
            let src = non_empty_str(i, "src")?;
            let mut c = serde_json::json!({"type": "image", "src": src});
            for key in ["href", "alt"] {
                if let Some(value) = non_empty_str(i, key) {
                    c[key] = Value::String(value);
                }
            }
            Some(c)
        })
        .collect()
}

/// Where the routing key may come from besides the body.
pub fn routing_key_or_header(obj: &serde_json::Map<String, Value>, header: Option<&str>) -> Option<String> {
    let mut errors = Vec::new();
    opt_string(obj, "routing_key", "routing_key", &mut errors)
        .or_else(|| header.map(str::trim).filter(|h| !h.is_empty()).map(str::to_string))
}

/// Validates an Events API v2 alert event. `generated_key` becomes the dedup key of a trigger that has
/// none (the caller generates it: this crate has no randomness). `header_key` is `X-Routing-Key`.
pub fn parse_v2(
    obj: &serde_json::Map<String, Value>,
    header_key: Option<&str>,
    generated_key: &str,
) -> Result<Parsed<AlertEvent>, EventRejection> {
    let mut errors = Vec::new();
    let routing_key = check_routing_key(routing_key_or_header(obj, header_key), "routing_key", &mut errors);
    let action = match opt_string(obj, "event_action", "event_action", &mut errors) {
        None => {
            errors.push(missing("event_action"));
            None
        }
        Some(a) => match EventAction::parse(&a) {
            Some(action) => Some(action),
            None => {
                errors.push(
                    "'event_action' is invalid (must be one of the following: 'trigger', 'acknowledge' or 'resolve')"
                        .into(),
                );
                None
            }
        },
    };
    let dedup_key = opt_string(obj, "dedup_key", "dedup_key", &mut errors);
    check_dedup_key(&dedup_key, "dedup_key", &mut errors);
    let mut event = AlertEvent {
        version: EventsVersion::V2,
        action: action.unwrap_or(EventAction::Trigger),
        dedup_key: String::new(),
        summary: None,
        source: None,
        severity: None,
        timestamp_ms: None,
        component: None,
        group: None,
        class: None,
        custom_details: None,
        contexts: Vec::new(),
        client: None,
        client_url: None,
    };
    match action {
        Some(EventAction::Trigger) => {
            event.dedup_key = dedup_key.unwrap_or_else(|| generated_key.to_string());
            match obj.get("payload") {
                Some(Value::Object(payload)) => {
                    let mut p = Vec::new();
                    event.summary = opt_string(payload, "summary", "payload.summary", &mut p);
                    check_summary(&event.summary, "payload.summary", &mut p);
                    event.source = opt_string(payload, "source", "payload.source", &mut p);
                    if event.source.is_none() && !p.iter().any(|e| e.starts_with("'payload.source'")) {
                        p.push(missing("payload.source"));
                    }
                    match opt_string(payload, "severity", "payload.severity", &mut p) {
                        Some(s) if matches!(s.as_str(), "critical" | "error" | "warning" | "info") => {
                            event.severity = Some(s)
                        }
                        Some(_) => p.push(
                            "'payload.severity' is invalid (must be one of the following: 'critical', 'warning', \
                             'error' or 'info')"
                                .into(),
                        ),
                        None => p.push(missing("payload.severity")),
                    }
                    let ts = opt_string(payload, "timestamp", "payload.timestamp", &mut p);
                    event.timestamp_ms = timestamp(ts, "payload.timestamp", &mut p);
                    event.component = opt_string(payload, "component", "payload.component", &mut p);
                    event.group = opt_string(payload, "group", "payload.group", &mut p);
                    event.class = opt_string(payload, "class", "payload.class", &mut p);
                    event.custom_details = payload.get("custom_details").filter(|v| !v.is_null()).cloned();
                    errors.extend(p);
                }
                None | Some(Value::Null) => errors.push(missing("payload")),
                Some(_) => errors.push("'payload' must be an object".into()),
            }
            event.client = opt_string(obj, "client", "client", &mut errors);
            event.client_url = opt_string(obj, "client_url", "client_url", &mut errors);
            event.contexts = links(obj.get("links"));
            event.contexts.extend(images(obj.get("images")));
        }
        Some(_) => match dedup_key {
            Some(k) => event.dedup_key = k,
            None => errors.push(missing("dedup_key")),
        },
        None => event.dedup_key = dedup_key.unwrap_or_default(),
    }
    if errors.is_empty() { Ok(Parsed { routing_key, event }) } else { Err(EventRejection::Invalid(errors)) }
}

/// Validates an Events API v1 event (`service_key`, `event_type`, `incident_key`, `description`,
/// `details`, `client`, `client_url`, `contexts[]`). Stray fields (Alertmanager's `"event_action":""`
/// and `"payload":null`) are ignored.
pub fn parse_v1(
    obj: &serde_json::Map<String, Value>,
    generated_key: &str,
) -> Result<Parsed<AlertEvent>, EventRejection> {
    let mut errors = Vec::new();
    let service_key = opt_string(obj, "service_key", "service_key", &mut errors);
    let routing_key = match service_key {
        None => {
            errors.push("service_key is missing or blank".into());
            String::new()
        }
        Some(k) if k.trim().chars().count() != ROUTING_KEY_LEN => {
            errors.push(format!("Service key is the wrong length (should be {ROUTING_KEY_LEN} characters)"));
            k
        }
        Some(k) => k.trim().to_string(),
    };
    let mut ignored = Vec::new();
    let action = opt_string(obj, "event_type", "event_type", &mut ignored).and_then(|t| EventAction::parse(&t));
    if action.is_none() {
        errors.push("event_type is invalid (must be one of: trigger acknowledge resolve)".into());
    }
    let incident_key = opt_string(obj, "incident_key", "incident_key", &mut errors);
    if incident_key.as_ref().is_some_and(|k| k.chars().count() > MAX_DEDUP_KEY_CHARS) {
        errors.push(format!("incident_key is too long (must be at most {MAX_DEDUP_KEY_CHARS} characters)"));
    }
    let description = opt_string(obj, "description", "description", &mut errors);
    let mut event = AlertEvent {
        version: EventsVersion::V1,
        action: action.unwrap_or(EventAction::Trigger),
        dedup_key: String::new(),
        summary: None,
        source: None,
        severity: None,
        timestamp_ms: None,
        component: None,
        group: None,
        class: None,
        custom_details: obj.get("details").filter(|v| !v.is_null()).cloned(),
        contexts: Vec::new(),
        client: None,
        client_url: None,
    };
    match action {
        Some(EventAction::Trigger) => {
            event.dedup_key = incident_key.unwrap_or_else(|| generated_key.to_string());
            match &description {
                None => errors.push("description is missing or blank".into()),
                Some(d) if d.chars().count() > MAX_SUMMARY_CHARS => {
                    errors.push(format!("description is too long (must be at most {MAX_SUMMARY_CHARS} characters)"))
                }
                Some(_) => {}
            }
            event.summary = description;
            event.client = opt_string(obj, "client", "client", &mut errors);
            event.client_url = opt_string(obj, "client_url", "client_url", &mut errors);
            if let Some(Value::Array(contexts)) = obj.get("contexts") {
                for c in contexts {
                    match c.get("type").and_then(Value::as_str) {
                        Some("link") => event.contexts.extend(links(Some(&Value::Array(vec![c.clone()])))),
                        Some("image") => event.contexts.extend(images(Some(&Value::Array(vec![c.clone()])))),
                        _ => {}
                    }
                }
            }
        }
        Some(_) => match incident_key {
            Some(k) => event.dedup_key = k,
            None => errors.push("incident_key is missing or blank".into()),
        },
        None => {}
    }
    if errors.is_empty() { Ok(Parsed { routing_key, event }) } else { Err(EventRejection::Invalid(errors)) }
}

/// Validates a change event (`routing_key`, `payload.summary`, `payload.source`, `payload.timestamp`,
/// `payload.custom_details`, `links[]`, `images[]`).
pub fn parse_change(
    obj: &serde_json::Map<String, Value>,
    header_key: Option<&str>,
) -> Result<Parsed<ChangeEvent>, EventRejection> {
    let mut errors = Vec::new();
    let routing_key = check_routing_key(routing_key_or_header(obj, header_key), "routing_key", &mut errors);
    let mut event = ChangeEvent {
        summary: String::new(),
        source: None,
        timestamp_ms: None,
        custom_details: None,
        links: vec![],
        images: vec![],
    };
    match obj.get("payload") {
        Some(Value::Object(payload)) => {
            let summary = opt_string(payload, "summary", "payload.summary", &mut errors);
            check_summary(&summary, "payload.summary", &mut errors);
            event.summary = summary.unwrap_or_default();
            event.source = opt_string(payload, "source", "payload.source", &mut errors);
            let ts = opt_string(payload, "timestamp", "payload.timestamp", &mut errors);
            event.timestamp_ms = timestamp(ts, "payload.timestamp", &mut errors);
            event.custom_details = payload.get("custom_details").filter(|v| !v.is_null()).cloned();
        }
        None | Some(Value::Null) => errors.push(missing("payload")),
        Some(_) => errors.push("'payload' must be an object".into()),
    }
    event.links = links(obj.get("links"))
        .into_iter()
        .map(|mut l| {
            if let Some(m) = l.as_object_mut() {
                m.remove("type");
            }
            l
        })
        .collect();
    event.images = images(obj.get("images"))
        .into_iter()
        .map(|mut l| {
            if let Some(m) = l.as_object_mut() {
                m.remove("type");
            }
            l
        })
        .collect();
    if errors.is_empty() { Ok(Parsed { routing_key, event }) } else { Err(EventRejection::Invalid(errors)) }
}

/// What an alert event does, given whether its dedup key has an open (triggered) alert on the same
/// integration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Trigger on an open alert: count it on that alert, log it, no new alert or incident.
    Deduplicate,
    /// Trigger with no open alert: a new alert (and, unless suppressed, an incident for it).
    CreateAlert,
    /// Acknowledge of an open alert: acknowledge its incident.
    Acknowledge,
    /// Resolve of an open alert: resolve it (and its incident once all its alerts are resolved).
    Resolve,
    /// Acknowledge or resolve with no open alert: accepted and dropped, as on PagerDuty.
    Drop,
}

pub fn decide(action: EventAction, open_alert: bool) -> Decision {
    match (action, open_alert) {
        (EventAction::Trigger, true) => Decision::Deduplicate,
        (EventAction::Trigger, false) => Decision::CreateAlert,
        (EventAction::Acknowledge, true) => Decision::Acknowledge,
        (EventAction::Resolve, true) => Decision::Resolve,
        (EventAction::Acknowledge | EventAction::Resolve, false) => Decision::Drop,
    }
}

/// Which incident a new, unsuppressed alert joins.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IncidentChoice {
    New,
    Join(String),
}

/// The replaceable grouping step. Today every alert opens its own incident; alert grouping (by time
/// window, content or rules) will replace this function, given the service's open incidents.
pub fn choose_incident(_event: &AlertEvent, _open_incidents_of_service: &[String]) -> IncidentChoice {
    IncidentChoice::New
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const KEY: &str = "e93facc04764012d7bfb002500d5d1a6";

    fn obj(v: Value) -> serde_json::Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    fn v2(v: Value) -> Result<Parsed<AlertEvent>, EventRejection> {
        parse_v2(&obj(v), None, "generated")
    }

    fn errors(r: Result<Parsed<AlertEvent>, EventRejection>) -> Vec<String> {
        match r {
            Err(EventRejection::Invalid(e)) => e,
            other => panic!("expected invalid, got {other:?}"),
        }
    }

    #[test]
    fn the_documented_example_parses() {
        let parsed = v2(json!({"routing_key":KEY,"event_action":"trigger","dedup_key":"srv01/mysql",
            "payload":{"summary":"DISK at 99%","timestamp":"2015-07-17T08:42:58.315+0000","severity":"critical",
              "source":"prod","component":"mysql","group":"prod-datapipe","class":"disk",
              "custom_details":{"free space":"1%","load avg":0.75}},
            "client":"Sample","client_url":"https://monitoring.service.com",
            "links":[{"href":"http://x.example","text":"An example link."}],
            "images":[{"src":"https://chart.example/img.png","href":"https://example.com","alt":"chart"}]}))
        .unwrap();
        assert_eq!(parsed.routing_key, KEY);
        let e = parsed.event;
        assert_eq!(e.dedup_key, "srv01/mysql");
        assert_eq!(e.timestamp_ms, Some(1_437_122_578_315));
        assert_eq!(e.contexts.len(), 2);
        assert_eq!(e.contexts[1]["type"], "image");
        assert_eq!(e.custom_details.unwrap()["load avg"], 0.75);
    }

    #[test]
    fn a_trigger_without_dedup_key_gets_the_generated_one() {
        let e = v2(json!({"routing_key":KEY,"event_action":"trigger",
            "payload":{"summary":"s","source":"h","severity":"info"}}))
        .unwrap();
        assert_eq!(e.event.dedup_key, "generated");
    }

    #[test]
    fn every_bad_field_has_its_own_reason() {
        let e = errors(v2(json!({"routing_key":"short","event_action":"trigger",
            "payload":{"severity":"Info","timestamp":"yesterday"}})));
        assert!(e.contains(&"'routing_key' is the wrong length (should be 32 characters)".to_string()), "{e:?}");
        assert!(e.contains(&"'payload.summary' is missing or blank".to_string()), "{e:?}");
        assert!(e.contains(&"'payload.source' is missing or blank".to_string()), "{e:?}");
        assert!(e.iter().any(|x| x.starts_with("'payload.severity' is invalid")), "{e:?}");
        assert!(e.iter().any(|x| x.starts_with("'payload.timestamp' is invalid")), "{e:?}");
    }

    #[test]
    fn acknowledge_needs_a_dedup_key_but_no_payload() {
        let e = errors(v2(json!({"routing_key":KEY,"event_action":"acknowledge"})));
        assert_eq!(e, vec!["'dedup_key' is missing or blank".to_string()]);
        assert!(v2(json!({"routing_key":KEY,"event_action":"resolve","dedup_key":"k"})).is_ok());
    }

    #[test]
    fn limits_are_enforced() {
        let e = errors(v2(json!({"routing_key":KEY,"event_action":"trigger","dedup_key":"k".repeat(256),
            "payload":{"summary":"s".repeat(1025),"source":"h","severity":"error"}})));
        assert_eq!(e.len(), 2, "{e:?}");
        assert!(
            v2(json!({"routing_key":KEY,"event_action":"trigger","dedup_key":"k".repeat(255),
            "payload":{"summary":"é".repeat(1024),"source":"h","severity":"error"}}))
            .is_ok()
        );
    }

    #[test]
    fn the_routing_key_may_come_from_the_header() {
        let e = parse_v2(&obj(json!({"event_action":"resolve","dedup_key":"k"})), Some(KEY), "g").unwrap();
        assert_eq!(e.routing_key, KEY);
    }

    #[test]
    fn v1_ignores_alertmanagers_stray_fields() {
        let e = parse_v1(
            &obj(json!({"service_key":KEY,"event_type":"trigger","incident_key":"abc","description":"d",
                "details":{"firing":"x"},"event_action":"","payload":null})),
            "g",
        )
        .unwrap();
        assert_eq!(e.event.dedup_key, "abc");
        assert_eq!(e.event.summary.as_deref(), Some("d"));
    }

    #[test]
    fn v1_rejects_a_bad_event_type_with_its_documented_reason() {
        let r = parse_v1(&obj(json!({"service_key":KEY,"event_type":"explode"})), "g");
        assert_eq!(
            r,
            Err(EventRejection::Invalid(vec![
                "event_type is invalid (must be one of: trigger acknowledge resolve)".into()
            ]))
        );
    }

    #[test]
    fn unparseable_bodies_are_unrecognized() {
        assert_eq!(parse_object(b"{nope"), Err(EventRejection::Unrecognized));
        assert_eq!(parse_object(b"[1]"), Err(EventRejection::Unrecognized));
    }

    #[test]
    fn change_events_need_a_summary() {
        let r = parse_change(&obj(json!({"routing_key":KEY,"payload":{}})), None);
        assert_eq!(r, Err(EventRejection::Invalid(vec!["'payload.summary' is missing or blank".into()])));
    }

    #[test]
    fn decisions_follow_pagerduty_semantics() {
        assert_eq!(decide(EventAction::Trigger, true), Decision::Deduplicate);
        assert_eq!(decide(EventAction::Trigger, false), Decision::CreateAlert);
        assert_eq!(decide(EventAction::Acknowledge, false), Decision::Drop);
        assert_eq!(decide(EventAction::Resolve, false), Decision::Drop);
        assert_eq!(decide(EventAction::Resolve, true), Decision::Resolve);
    }
}
