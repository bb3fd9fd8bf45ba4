//! What lets other services trust Gatehouse on their own: the public signing keys
//! (`/.well-known/jwks.json`, RFC 7517) and the server's metadata
//! (`/.well-known/oauth-authorization-server`, RFC 8414).

use crate::{error::AppError, state::AppState};
use axum::{
    Json,
    extract::State,
    http::{HeaderMap, HeaderValue, header},
    response::{IntoResponse, Response},
};
use serde_json::json;

/// As long as a new key is published before it signs (the default rotation delay).
const CACHE_FOR: HeaderValue = HeaderValue::from_static("public, max-age=300");

/// The public signing keys (RFC 7517)
#[utoipa::path(
    get,
    path = "/jwks.json",
    tag = "keys",
    responses((status = 200, description = "Cacheable for 5 minutes", body = super::doc::JwkSet)),
)]
pub async fn jwks(State(state): State<AppState>) -> Response {
    let mut response = state.auth.jwks().into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(header::CACHE_CONTROL, CACHE_FOR);
    response
}

/// The authorization server's metadata (RFC 8414)
#[utoipa::path(
    get,
    path = "/oauth-authorization-server",
    tag = "keys",
    responses(
        (status = 200, description = "Cacheable for 5 minutes", body = super::doc::AuthorizationServerMetadata),
        (status = 400, description = "No public URL is configured and the `Host` header is malformed", body = crate::error::ErrorBody),
    ),
)]
pub async fn authorization_server(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, AppError> {
    let origin = state.public_origin(&headers)?;
    let mut response = Json(json!({
        "issuer": state.auth.issuer(),
        "token_endpoint": format!("{origin}/api/v1/auth/token"),
        "revocation_endpoint": format!("{origin}/api/v1/auth/revoke"),
        "jwks_uri": format!("{origin}/.well-known/jwks.json"),
        "grant_types_supported": ["password", "refresh_token", crate::error::MFA_OTP_GRANT],
        "token_endpoint_auth_methods_supported": ["none"],
        "revocation_endpoint_auth_methods_supported": ["none"],
        // No authorization endpoint: no response type is supported.
        "response_types_supported": [],
        "service_documentation": format!("{origin}/api/docs"),
    }))
    .into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, CACHE_FOR);
    if state.public_url.is_none() {
        response.headers_mut().insert(header::VARY, HeaderValue::from_static("host"));
    }
    Ok(response)
}
