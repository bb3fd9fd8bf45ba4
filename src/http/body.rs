//! Request bodies: the one size limit of every route (server functions included), and the
//! parsers of the two body types the JSON API takes, JSON objects and forms. Every
//! rejection is an [`AppError`], so it leaves as the documented JSON.

use crate::error::{AppError, FieldErrors};
use axum::{
    body::Body,
    extract::{FromRequest, Request},
    http::{HeaderMap, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use serde_json::{Map, Value};

pub const BODY_LIMIT_BYTES: usize = 64 * 1024;

/// Refuses bodies over 64 KiB with 413 on every route (server functions included) before any
/// handler reads them, whether or not the client announced a length.
pub async fn limit_body(request: Request, next: Next) -> Response {
    let announced =
        request.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|n| n > BODY_LIMIT_BYTES as u64) {
        return AppError::PayloadTooLarge.into_response();
    }
    let (parts, body) = request.into_parts();
    match axum::body::to_bytes(body, BODY_LIMIT_BYTES).await {
        Ok(bytes) => next.run(Request::from_parts(parts, Body::from(bytes))).await,
        Err(e) if is_length_limit(&e) => AppError::PayloadTooLarge.into_response(),
        Err(_) => AppError::bad_request("The request body could not be read").into_response(),
    }
}

fn is_length_limit(err: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = source {
        if e.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = e.source();
    }
    false
}

fn media_type(headers: &HeaderMap) -> Option<String> {
    let raw = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    Some(raw.split(';').next().unwrap_or("").trim().to_ascii_lowercase())
}

/// A JSON object body (`Content-Type: application/json`).
pub struct JsonObject(pub Map<String, Value>);

impl<S: Send + Sync> FromRequest<S> for JsonObject {
    type Rejection = AppError;

    async fn from_request(request: Request, state: &S) -> Result<Self, AppError> {
        let media = media_type(request.headers());
        if !media.as_deref().is_some_and(|m| m == "application/json" || m.ends_with("+json")) {
            return Err(AppError::UnsupportedMediaType(
                "The body must be JSON (Content-Type: application/json)".into(),
            ));
        }
        let bytes = axum::body::Bytes::from_request(request, state)
            .await
            .map_err(|_| AppError::bad_request("The request body could not be read"))?;
        parse_json_object(&bytes)
    }
}

/// A JSON object, or the documented error: 400 when unparsable, 422 when not an object.
pub fn parse_json_object(raw: &[u8]) -> Result<JsonObject, AppError> {
    match serde_json::from_slice::<Value>(raw) {
        Ok(Value::Object(map)) => Ok(JsonObject(map)),
        Ok(_) => Err(AppError::field("body", "The body must be a JSON object")),
        Err(_) => Err(AppError::bad_request("The body is not valid JSON")),
    }
}

/// Reads typed fields out of a JSON object, collecting every problem before answering 422.
pub struct Fields {
    map: Map<String, Value>,
    errors: FieldErrors,
}

impl Fields {
    pub fn new(JsonObject(map): JsonObject) -> Self {
        Self { map, errors: FieldErrors::new() }
    }

    /// An optional string field (absent or null: `None`).
    pub fn string(&mut self, name: &str) -> Option<String> {
        match self.map.remove(name) {
            Some(Value::String(s)) => Some(s),
            None | Some(Value::Null) => None,
            Some(_) => {
                self.errors.insert(name.into(), "Must be a string".into());
                None
            }
        }
    }

    /// A string field that must be present; when it is not, the error is recorded for
    /// [`Fields::finish`] and an empty string stands in.
    pub fn required_string(&mut self, name: &str) -> String {
        let present = matches!(self.map.get(name), Some(v) if !v.is_null());
        match self.string(name) {
            Some(s) => s,
            None => {
                if !present {
                    self.errors.insert(name.into(), "This field is required".into());
                }
                String::new()
            }
        }
    }

    /// An optional boolean field.
    pub fn boolean(&mut self, name: &str) -> Option<bool> {
        match self.map.remove(name) {
            Some(Value::Bool(b)) => Some(b),
            None => None,
            Some(_) => {
                self.errors.insert(name.into(), "Must be true or false".into());
                None
            }
        }
    }

    pub fn error(&mut self, name: &str, message: &str) {
        self.errors.insert(name.into(), message.into());
    }

    /// Fails with 422 listing every problem, unknown fields included.
    pub fn finish(mut self) -> Result<(), AppError> {
        for unknown in self.map.keys() {
            self.errors.insert(unknown.clone(), "Unknown field".into());
        }
        if self.errors.is_empty() { Ok(()) } else { Err(AppError::Validation(self.errors)) }
    }
}

/// An `application/x-www-form-urlencoded` body (RFC 6749 §3.2, RFC 7009 §2.1).
pub struct Form(pub Pairs);

impl std::ops::Deref for Form {
    type Target = Pairs;

    fn deref(&self) -> &Pairs {
        &self.0
    }
}

/// The parameters of a form or a query string.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Pairs {
    pairs: Vec<(String, String)>,
    repeated: std::collections::HashSet<String>,
}

impl Pairs {
    /// The value of `name`, if sent (its first value: see [`Pairs::refuse_repeated`]).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// Refuses a repeat of any of `names`, the parameters the caller reads (RFC 6749 §3.1:
    /// they "MUST NOT be included more than once"); parameters it ignores may repeat.
    pub fn refuse_repeated(&self, names: &[&str]) -> Result<(), AppError> {
        match names.iter().find(|name| self.repeated.contains(**name)) {
            Some(name) => Err(AppError::bad_request(format!("The parameter {name:?} is repeated"))),
            None => Ok(()),
        }
    }
}

impl<S: Send + Sync> FromRequest<S> for Form {
    type Rejection = AppError;

    async fn from_request(request: Request, state: &S) -> Result<Self, AppError> {
        if media_type(request.headers()).as_deref() != Some("application/x-www-form-urlencoded") {
            return Err(AppError::UnsupportedMediaType(
                "The body must be a form (Content-Type: application/x-www-form-urlencoded)".into(),
            ));
        }
        let bytes = axum::body::Bytes::from_request(request, state)
            .await
            .map_err(|_| AppError::bad_request("The request body could not be read"))?;
        Ok(Form(parse_pairs(&bytes)?))
    }
}

/// Parses `a=1&b=2`, refusing invalid UTF-8, noting which parameters repeat.
pub fn parse_pairs(raw: &[u8]) -> Result<Pairs, AppError> {
    if std::str::from_utf8(raw).is_err() {
        return Err(AppError::bad_request("The form is not valid UTF-8"));
    }
    // A set, not a scan of the pairs so far: 64 KiB of `a=&b=&...` is 16k pairs.
    let mut seen = std::collections::HashSet::new();
    let mut parsed = Pairs::default();
    for (key, value) in form_urlencoded::parse(raw) {
        if !seen.insert(key.clone()) {
            parsed.repeated.insert(key.into_owned());
            continue;
        }
        parsed.pairs.push((key.into_owned(), value.into_owned()));
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_parameters_are_refused_when_read_and_ignored_otherwise() {
        let pairs = parse_pairs(b"a=1&a=2&b=x%20y").unwrap();
        assert!(pairs.refuse_repeated(&["b", "a"]).is_err());
        assert!(pairs.refuse_repeated(&["b", "c"]).is_ok());
        assert_eq!((pairs.get("a"), pairs.get("b"), pairs.get("c")), (Some("1"), Some("x y"), None));
        assert!(parse_pairs(&[0x61, 0x3d, 0xff]).is_err());
    }
}
