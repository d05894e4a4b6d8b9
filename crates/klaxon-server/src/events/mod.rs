//! The Events API, wire-compatible with PagerDuty's: `POST /v2/enqueue` (alert events),
//! `POST /v2/change/enqueue` (change events) and the legacy v1 `POST /generic/2010-04-15/create_event.json`.
//!
//! No API key: the routing key (v1: `service_key`) in the body, or in an `X-Routing-Key` header, is the
//! credential. A request is validated ([`klaxon_core::events`]), its key resolved (cached, see [`ingest`]),
//! rate-limited per key ([`ratelimit`]), then committed by the group-commit writer before it is answered:
//! 202 (v1: 200) means the event is durable. Turning it into alerts and incidents happens right after, in
//! the [`processor`].
//!
//! Response shapes: `{"status","message","dedup_key"}` (v1: `incident_key`) on success, and
//! `{"status","message","errors":[…]}` for every failure: 400 invalid event (one reason per field) or
//! unrecognized JSON, 413 past 524,288 bytes (the rest of the body is drained, up to a bound, so the client
//! reads the answer instead of a reset connection), 429 + `Retry-After` when rate-limited or overloaded
//! (v1 answers 403, which its senders retry), 503 when the database cannot commit.
//!
//! Events API v1 accepts the key of any integration type (a v1 sender may use an Events API v2
//! integration's key and vice versa): the key identifies the service either way.

pub mod ingest;
pub mod processor;
pub mod ratelimit;

use crate::extract::MAX_BODY_BYTES;
use crate::state::App;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;
use ingest::AcceptError;
use klaxon_core::events::{self, EventRejection};
use klaxon_store::events::{InboxItem, IntegrationRoute};
use serde::Serialize;
use std::time::Duration;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

pub use ingest::Ingest;

/// How much of an oversized body is read (and discarded) before answering 413 anyway.
const DRAIN_LIMIT_BYTES: usize = 16 * 1024 * 1024;
const DRAIN_LIMIT_TIME: Duration = Duration::from_secs(10);

/// Success body of `/v2/enqueue`.
#[derive(Serialize, ToSchema)]
pub struct EventAccepted {
    pub status: String,
    pub message: String,
    pub dedup_key: String,
}

/// Success body of the v1 API.
#[derive(Serialize, ToSchema)]
pub struct V1EventAccepted {
    pub status: String,
    pub message: String,
    pub incident_key: String,
}

/// Success body of `/v2/change/enqueue`.
#[derive(Serialize, ToSchema)]
pub struct ChangeAccepted {
    pub status: String,
    pub message: String,
}

/// Every Events API failure: `{"status":"invalid event","message":"Event object is invalid","errors":[…]}`.
#[derive(Serialize, ToSchema)]
pub struct EventsError {
    pub status: String,
    pub message: String,
    pub errors: Vec<String>,
}

/// Which API answers: they differ in the throttling status and success shape.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Api {
    V2,
    Change,
    V1,
}

/// A finished failure answer.
struct Failure {
    status: StatusCode,
    body: EventsError,
    retry_after: Option<u64>,
    outcome: &'static str,
}

impl Failure {
    fn new(status: StatusCode, kind: &str, message: &str, errors: Vec<String>, outcome: &'static str) -> Self {
        Self {
            status,
            body: EventsError { status: kind.into(), message: message.into(), errors },
            retry_after: None,
            outcome,
        }
    }

    fn invalid(errors: Vec<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid event", "Event object is invalid", errors, "invalid")
    }

    fn rejection(r: EventRejection) -> Self {
        match r {
            EventRejection::Unrecognized => Self::new(
                StatusCode::BAD_REQUEST,
                "Unrecognized object",
                "Event object format is unrecognized",
                vec!["JSON parse error".into()],
                "invalid",
            ),
            EventRejection::Invalid(errors) => Self::invalid(errors),
        }
    }

    fn too_large() -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid event",
            "Request entity too large",
            vec![format!("Request body exceeds the maximum size of {MAX_BODY_BYTES} bytes")],
            "invalid",
        )
    }

    fn throttled(api: Api, retry_after: u64, outcome: &'static str) -> Self {
        let status = if api == Api::V1 { StatusCode::FORBIDDEN } else { StatusCode::TOO_MANY_REQUESTS };
        let reason = if outcome == "overloaded" {
            "The server is busy committing events"
        } else {
            "Too many events for this routing key"
        };
        let mut f = Self::new(
            status,
            "throttle event",
            "Requests for this service are arriving too quickly. Please retry later.",
            vec![reason.into()],
            outcome,
        );
        f.retry_after = Some(retry_after);
        f
    }

    fn unavailable() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "error",
            "The event could not be stored; please retry",
            vec!["Service unavailable".into()],
            "failed",
        )
    }

    fn into_response(self, app: &App) -> Response {
        app.metrics.count_event(self.outcome);
        let mut response = (self.status, axum::Json(self.body)).into_response();
        if let Some(seconds) = self.retry_after
            && let Ok(v) = HeaderValue::from_str(&seconds.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
        response
    }
}

pub fn routes() -> OpenApiRouter<App> {
    OpenApiRouter::new().routes(routes!(enqueue)).routes(routes!(change_enqueue)).routes(routes!(create_event_v1))
}

/// Reads the body up to [`MAX_BODY_BYTES`]; past it, drains the rest (bounded) and fails with 413.
async fn read_limited(body: Body) -> Result<bytes::Bytes, Failure> {
    let mut body = body;
    let mut buf = bytes::BytesMut::new();
    let mut too_large = false;
    let mut drained = 0usize;
    // An I/O deadline for the whole body, on tokio's timer (not a clock read of ours).
    let deadline = tokio::time::sleep(DRAIN_LIMIT_TIME);
    tokio::pin!(deadline);
    loop {
        let frame = tokio::select! {
            biased; // Like `timeout`: a frame that is ready wins over the deadline.
            frame = body.frame() => Ok(frame),
            () = &mut deadline => Err(()),
        };
        let frame = match frame {
            Ok(Some(Ok(frame))) => frame,
            Ok(Some(Err(_))) => {
                return Err(Failure::invalid(vec!["The request body could not be read".into()]));
            }
            Ok(None) => break,
            Err(()) if too_large => break,
            Err(()) => return Err(Failure::invalid(vec!["The request body could not be read in time".into()])),
        };
        let Ok(data) = frame.into_data() else { continue };
        if too_large {
            drained += data.len();
            if drained > DRAIN_LIMIT_BYTES {
                break;
            }
        } else if buf.len() + data.len() > MAX_BODY_BYTES {
            too_large = true;
            drained = buf.len() + data.len();
            buf.clear();
        } else {
            buf.extend_from_slice(&data);
        }
    }
    if too_large { Err(Failure::too_large()) } else { Ok(buf.freeze()) }
}

fn header_key(headers: &HeaderMap) -> Option<&str> {
    headers.get("x-routing-key").and_then(|v| v.to_str().ok())
}

/// Resolves the key and applies its rate limit.
async fn admit(app: &App, api: Api, key: &str) -> Result<IntegrationRoute, Failure> {
    let route = match app.events.route(app, key).await {
        Ok(Some(route)) => route,
        Ok(None) => {
            let reason = if api == Api::V1 { "Invalid service key" } else { "Invalid routing key" };
            return Err(Failure::invalid(vec![reason.into()]));
        }
        Err(e) => {
            tracing::error!(error = %e, "routing key lookup failed");
            return Err(Failure::unavailable());
        }
    };
    if let Err(retry_after) = app.events.limiter.check(key, app.events.limit_for(&route), app.clock.monotonic()) {
        return Err(Failure::throttled(api, retry_after, "rate_limited"));
    }
    Ok(route)
}

async fn commit(app: &App, api: Api, item: InboxItem) -> Result<(), Failure> {
    match app.events.accept(item).await {
        Ok(()) => Ok(()),
        Err(AcceptError::Overloaded) => Err(Failure::throttled(api, 1, "overloaded")),
        Err(AcceptError::Unavailable) => Err(Failure::unavailable()),
    }
}

fn alert_item(route: &IntegrationRoute, event: &events::AlertEvent) -> Result<InboxItem, Failure> {
    let body = serde_json::to_string(event).map_err(|_| Failure::unavailable())?;
    Ok(InboxItem::Alert {
        integration_id: route.integration_id.clone(),
        service_id: route.service_id.clone(),
        dedup_key: event.dedup_key.clone(),
        body,
        // Parsed here, on the request's own task, so the single writer does not parse it again.
        event: Some(Box::new(event.clone())),
    })
}

async fn handle_v2(app: &App, headers: &HeaderMap, body: Body) -> Result<String, Failure> {
    let bytes = read_limited(body).await?;
    let obj = events::parse_object(&bytes).map_err(Failure::rejection)?;
    let generated = klaxon_store::ids::integration_key();
    let parsed = events::parse_v2(&obj, header_key(headers), &generated).map_err(Failure::rejection)?;
    let route = admit(app, Api::V2, &parsed.routing_key).await?;
    commit(app, Api::V2, alert_item(&route, &parsed.event)?).await?;
    Ok(parsed.event.dedup_key)
}

/// Send an alert event (trigger, acknowledge or resolve).
#[utoipa::path(post, path = "/v2/enqueue", tag = "Events API",
    security(()),
    request_body(content = Object, description = "An Events API v2 event: routing_key, event_action, dedup_key, payload{summary, source, severity, timestamp, component, group, class, custom_details}, links, images, client, client_url"),
    params(("X-Routing-Key" = Option<String>, Header, description = "The routing key, when not in the body")),
    responses(
        (status = 202, description = "Committed", body = EventAccepted),
        (status = 400, description = "Invalid event or unrecognized JSON", body = EventsError),
        (status = 413, description = "Body larger than 524288 bytes", body = EventsError),
        (status = 429, description = "Rate limited or overloaded; see Retry-After", body = EventsError),
    ))]
pub async fn enqueue(State(app): State<App>, headers: HeaderMap, body: Body) -> Response {
    match handle_v2(&app, &headers, body).await {
        Ok(dedup_key) => {
            app.metrics.count_event("accepted");
            let body = EventAccepted { status: "success".into(), message: "Event processed".into(), dedup_key };
            (StatusCode::ACCEPTED, axum::Json(body)).into_response()
        }
        Err(f) => f.into_response(&app),
    }
}

async fn handle_change(app: &App, headers: &HeaderMap, body: Body) -> Result<(), Failure> {
    let bytes = read_limited(body).await?;
    let obj = events::parse_object(&bytes).map_err(Failure::rejection)?;
    let parsed = events::parse_change(&obj, header_key(headers)).map_err(Failure::rejection)?;
    let route = admit(app, Api::Change, &parsed.routing_key).await?;
    let item = InboxItem::Change {
        integration_id: route.integration_id.clone(),
        service_id: route.service_id.clone(),
        event: parsed.event,
    };
    commit(app, Api::Change, item).await
}

/// Send a change event (never pages; shown with the service's incidents).
#[utoipa::path(post, path = "/v2/change/enqueue", tag = "Events API",
    security(()),
    request_body(content = Object, description = "routing_key, payload{summary, source, timestamp, custom_details}, links, images"),
    responses(
        (status = 202, description = "Committed", body = ChangeAccepted),
        (status = 400, description = "Invalid event", body = EventsError),
        (status = 413, description = "Body too large", body = EventsError),
        (status = 429, description = "Rate limited or overloaded", body = EventsError),
    ))]
pub async fn change_enqueue(State(app): State<App>, headers: HeaderMap, body: Body) -> Response {
    match handle_change(&app, &headers, body).await {
        Ok(()) => {
            app.metrics.count_event("accepted");
            let body = ChangeAccepted { status: "success".into(), message: "Change event processed".into() };
            (StatusCode::ACCEPTED, axum::Json(body)).into_response()
        }
        Err(f) => f.into_response(&app),
    }
}

async fn handle_v1(app: &App, body: Body) -> Result<String, Failure> {
    let bytes = read_limited(body).await?;
    let obj = events::parse_object(&bytes).map_err(Failure::rejection)?;
    let generated = klaxon_store::ids::integration_key();
    let parsed = events::parse_v1(&obj, &generated).map_err(Failure::rejection)?;
    let route = admit(app, Api::V1, &parsed.routing_key).await?;
    commit(app, Api::V1, alert_item(&route, &parsed.event)?).await?;
    Ok(parsed.event.dedup_key)
}

/// Events API v1: trigger, acknowledge or resolve by `service_key` and `incident_key`.
#[utoipa::path(post, path = "/generic/2010-04-15/create_event.json", tag = "Events API",
    security(()),
    request_body(content = Object, description = "service_key, event_type, incident_key, description, details, client, client_url, contexts"),
    responses(
        (status = 200, description = "Committed", body = V1EventAccepted),
        (status = 400, description = "Invalid event", body = EventsError),
        (status = 403, description = "Rate limited or overloaded", body = EventsError),
    ))]
pub async fn create_event_v1(State(app): State<App>, body: Body) -> Response {
    match handle_v1(&app, body).await {
        Ok(incident_key) => {
            app.metrics.count_event("accepted");
            let body = V1EventAccepted { status: "success".into(), message: "Event processed".into(), incident_key };
            (StatusCode::OK, axum::Json(body)).into_response()
        }
        Err(f) => f.into_response(&app),
    }
}
