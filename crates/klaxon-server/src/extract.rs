//! Request extractors: who is calling (API key and `From` header), query parameters in PagerDuty's
//! style (`team_ids[]=a&team_ids[]=b`, `include[]=…`, classic pagination), JSON bodies with errors
//! that name the offending field, and [`Patch`] for "absent / null / value" in partial updates.

use crate::error::{ApiError, ApiResult};
use crate::state::App;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{Method, StatusCode, request::Parts};
use klaxon_core::page::PageRequest;
use klaxon_core::role::{Action, Principal};
use klaxon_store::users::UserRow;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};

/// Largest request body accepted anywhere (PagerDuty's limit).
pub const MAX_BODY_BYTES: usize = 524_288;

/// The authenticated caller.
#[derive(Clone, Debug)]
pub struct Auth {
    pub principal: Principal,
    /// The token's own user, for user tokens.
    pub user: Option<UserRow>,
    /// The user named by the `From` header, when one was sent and resolved.
    pub from: Option<UserRow>,
}

impl Auth {
    /// The user on whose behalf the request acts: a user token's user, else the `From` user.
    pub fn actor(&self) -> Option<&UserRow> {
        self.user.as_ref().or(self.from.as_ref())
    }

    /// 403 unless the caller may perform `action`.
    pub fn require(&self, action: &Action<'_>) -> ApiResult<()> {
        if self.principal.may(action) {
            Ok(())
        } else {
            let why = match &self.principal {
                Principal::Account { read_only: true } => "this API key is read-only".to_string(),
                Principal::User { role, .. } => format!("the {role} role may not perform this action"),
                Principal::Account { .. } => "not allowed".to_string(),
            };
            Err(ApiError::forbidden(why))
        }
    }

    /// For endpoints where PagerDuty requires `From` with account-level keys: the acting user, or 400.
    pub fn requester(&self) -> ApiResult<&UserRow> {
        self.actor().ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                2011,
                "Invalid Input Provided",
                vec!["From header is required: send the email address of a valid user in 'From'".into()],
            )
        })
    }

    pub fn is_account_key(&self) -> bool {
        matches!(self.principal, Principal::Account { .. })
    }
}

/// Pulls the secret out of `Token token=<key>` or `Bearer <key>`.
pub fn parse_authorization(value: &str) -> Option<&str> {
    let value = value.trim();
    let secret = if let Some(rest) = strip_prefix_ci(value, "token ") {
        let rest = rest.trim_start();
        strip_prefix_ci(rest, "token=")?
    } else {
        strip_prefix_ci(value, "bearer ")?
    };
    let secret = secret.trim().trim_matches('"');
    (!secret.is_empty()).then_some(secret)
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    (s.len() >= prefix.len() && s.is_char_boundary(prefix.len()) && s[..prefix.len()].eq_ignore_ascii_case(prefix))
        .then(|| &s[prefix.len()..])
}

impl FromRequestParts<App> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Self::Rejection> {
        let header = parts.headers.get(axum::http::header::AUTHORIZATION).and_then(|v| v.to_str().ok());
        let secret = header.and_then(parse_authorization).ok_or_else(ApiError::unauthorized)?;
        let resolved = app.store.api_key_by_secret(secret).await?.ok_or_else(ApiError::unauthorized)?;
        let (principal, user) = match (resolved.key.kind.as_str(), resolved.user) {
            ("user", Some(user)) => (Principal::User { user_id: user.id.clone(), role: user.role() }, Some(user)),
            ("account", _) => (Principal::Account { read_only: resolved.key.read_only }, None),
            _ => return Err(ApiError::unauthorized()),
        };
        let writes = !matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
        let from_header =
            parts.headers.get("from").and_then(|v| v.to_str().ok()).map(str::trim).filter(|v| !v.is_empty());
        let from = match from_header {
            Some(email) if writes && user.is_none() => match app.store.user_by_email(email).await? {
                Some(found) => Some(found),
                None => {
                    return Err(ApiError::new(
                        StatusCode::BAD_REQUEST,
                        2013,
                        "Invalid Input Provided",
                        vec![format!("From header '{email}' is not the email address of a user")],
                    ));
                }
            },
            _ => None,
        };
        Ok(Auth { principal, user, from })
    }
}

/// Query parameters as PagerDuty clients send them. `list("team_ids")` reads `team_ids[]=a&team_ids[]=b`,
/// repeated `team_ids=a`, and comma-separated values.
#[derive(Clone, Debug, Default)]
pub struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    pub fn from_query(query: &str) -> Self {
        Self { pairs: url::form_urlencoded::parse(query.as_bytes()).into_owned().collect() }
    }

    /// The last value of a scalar parameter, if present and non-empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).filter(|v| !v.is_empty())
    }

    /// Every value of a set parameter (`name[]`, or `name` repeated, or comma-separated).
    pub fn list(&self, name: &str) -> Vec<String> {
        let bracketed = format!("{name}[]");
        self.pairs
            .iter()
            .filter(|(k, _)| *k == bracketed || k == name)
            .flat_map(|(_, v)| v.split(',').map(str::trim).filter(|s| !s.is_empty()).map(String::from))
            .collect()
    }

    /// A boolean parameter: `true|false|1|0`; anything else is a 400 naming it.
    pub fn bool(&self, name: &str) -> ApiResult<Option<bool>> {
        match self.get(name) {
            None => Ok(None),
            Some("true" | "1") => Ok(Some(true)),
            Some("false" | "0") => Ok(Some(false)),
            Some(_) => Err(ApiError::field(name, "must be true or false")),
        }
    }

    /// An instant parameter (`since`, `until`) as Unix ms; a bad one is PagerDuty's 400 "Invalid since/until"
    /// (code 2004) naming it.
    pub fn instant(&self, name: &str) -> ApiResult<Option<i64>> {
        match self.get(name) {
            None => Ok(None),
            Some(raw) => klaxon_core::time::parse_timestamp(raw).map(|t| Some(t.as_millisecond())).map_err(|_| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    2004,
                    "Invalid since/until",
                    vec![format!("{name} is not an ISO 8601 date-time")],
                )
            }),
        }
    }

    /// `include[]` values.
    pub fn includes(&self, what: &str) -> bool {
        self.list("include").iter().any(|v| v == what)
    }

    /// Validates `include[]` against what the endpoint supports.
    pub fn check_includes(&self, allowed: &[&str]) -> ApiResult<()> {
        for value in self.list("include") {
            if !allowed.contains(&value.as_str()) {
                return Err(ApiError::field(
                    "include[]",
                    &format!("has an unsupported value '{value}' (supported: {})", allowed.join(", ")),
                ));
            }
        }
        Ok(())
    }

    pub fn page(&self) -> ApiResult<PageRequest> {
        let total = self.bool("total")?.unwrap_or(false);
        PageRequest::parse(self.get("limit"), self.get("offset"), total).map_err(|e| {
            let field = match e {
                klaxon_core::page::PageError::Limit => "limit",
                klaxon_core::page::PageError::Offset | klaxon_core::page::PageError::Window => "offset",
            };
            ApiError::field(field, &e.to_string())
        })
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Params::from_query(parts.uri.query().unwrap_or("")))
    }
}

/// A JSON body, at most [`MAX_BODY_BYTES`], whose decoding errors name the field (`user.email`).
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let bytes = read_body(req).await?;
        decode_json(&bytes).map(JsonBody)
    }
}

/// Reads a whole body, answering 413 (PagerDuty-shaped) past the limit.
pub async fn read_body(req: Request) -> ApiResult<bytes::Bytes> {
    axum::body::to_bytes(req.into_body(), MAX_BODY_BYTES).await.map_err(|e| {
        if is_length_limit(&e) {
            ApiError::payload_too_large(MAX_BODY_BYTES)
        } else {
            ApiError::field("body", "could not be read")
        }
    })
}

fn is_length_limit(e: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if err.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = err.source();
    }
    false
}

/// Decodes JSON into `T`, naming the path of the first bad field.
pub fn decode_json<T: DeserializeOwned>(bytes: &[u8]) -> ApiResult<T> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::field("body", "is required: send a JSON object"));
    }
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            ApiError::field("body", &format!("is not valid JSON ({inner})"))
        } else if path == "." || path.is_empty() {
            ApiError::field("body", &inner.to_string())
        } else {
            ApiError::field(&path, &strip_position(&inner.to_string()))
        }
    })
}

fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

/// A field of a partial update: absent (leave alone), `null` (clear), or a value (set). Use with
/// `#[serde(default)]`. Terraform sends explicit nulls to clear fields, so the difference matters.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Patch<T> {
    #[default]
    Absent,
    Null,
    Value(T),
}

impl<T> Patch<T> {
    pub fn is_absent(&self) -> bool {
        matches!(self, Patch::Absent)
    }

    /// `Some(new value)` when the field was sent (`Some(None)` for null), `None` when absent.
    pub fn sent(self) -> Option<Option<T>> {
        match self {
            Patch::Absent => None,
            Patch::Null => Some(None),
            Patch::Value(v) => Some(Some(v)),
        }
    }

    pub fn as_value(&self) -> Option<&T> {
        match self {
            Patch::Value(v) => Some(v),
            _ => None,
        }
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Patch<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match Option::<T>::deserialize(d)? {
            Some(v) => Patch::Value(v),
            None => Patch::Null,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_authorization_styles() {
        assert_eq!(parse_authorization("Token token=abc123"), Some("abc123"));
        assert_eq!(parse_authorization("token token=\"abc123\""), Some("abc123"));
        assert_eq!(parse_authorization("Bearer y_NbAkKc66ryYTWUXYEu"), Some("y_NbAkKc66ryYTWUXYEu"));
        assert_eq!(parse_authorization("Basic abc"), None);
        assert_eq!(parse_authorization("Token token="), None);
    }

    #[test]
    fn list_params_accept_brackets_repeats_and_commas() {
        let p = Params::from_query("team_ids%5B%5D=A&team_ids[]=B&team_ids=C,D&limit=5");
        assert_eq!(p.list("team_ids"), vec!["A", "B", "C", "D"]);
        assert_eq!(p.get("limit"), Some("5"));
    }

    #[test]
    fn decode_errors_name_the_field() {
        #[derive(Debug, Deserialize)]
        struct Inner {
            #[allow(dead_code)]
            email: String,
        }
        #[derive(Debug, Deserialize)]
        struct Outer {
            #[allow(dead_code)]
            user: Inner,
        }
        let err = decode_json::<Outer>(br#"{"user":{"email":5}}"#).unwrap_err();
        assert_eq!(err.status, StatusCode::BAD_REQUEST);
        assert!(err.errors[0].starts_with("user.email "), "{:?}", err.errors);
        let err = decode_json::<Outer>(b"{not json").unwrap_err();
        assert!(err.errors[0].starts_with("body is not valid JSON"), "{:?}", err.errors);
    }

    #[test]
    fn patch_tells_absent_from_null() {
        #[derive(Deserialize)]
        struct P {
            #[serde(default)]
            a: Patch<u32>,
            #[serde(default)]
            b: Patch<u32>,
            #[serde(default)]
            c: Patch<u32>,
        }
        let p: P = serde_json::from_str(r#"{"a":null,"b":7}"#).unwrap();
        assert_eq!(p.a, Patch::Null);
        assert_eq!(p.b, Patch::Value(7));
        assert_eq!(p.c, Patch::Absent);
    }
}
