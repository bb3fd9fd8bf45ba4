//! What may be cached, and the status of server-function errors.

use crate::{error::AppError, http::body::BODY_LIMIT_BYTES};
use axum::{
    body::Body,
    extract::Request,
    http::{HeaderValue, StatusCode, header},
    middleware::Next,
    response::Response,
};

/// API responses carry tokens or account data: no cache may keep them (RFC 6749 §5.1).
pub async fn no_store(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// The answers of server functions (`/fn/`) and the pages: never cached (they carry tokens
/// and account data). server_fn answers 500 for every error, argument decoding failures
/// included, before any code of ours runs; so this layer reads the error back and answers
/// with the status and headers `AppError` maps it to (the same mapping as the JSON API). A
/// real internal error stays 500; plain form posts, redirected back to their page, keep
/// their redirect.
pub async fn private_answers(request: Request, next: Next) -> Response {
    let is_server_fn = request.uri().path().starts_with("/fn/");
    let mut response = next.run(request).await;
    let is_page = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    if is_server_fn || is_page {
        // Pages are rendered for the person looking (from their cookie): no cache keeps them.
        response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if !is_server_fn || response.status() != StatusCode::INTERNAL_SERVER_ERROR {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, BODY_LIMIT_BYTES).await.unwrap_or_default();
    if let Ok(error) = serde_json::from_slice::<AppError>(&bytes) {
        error.write_head(&mut parts.status, &mut parts.headers);
    }
    Response::from_parts(parts, Body::from(bytes))
}
