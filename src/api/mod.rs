//! The JSON API of `shared/spec/http-api.md`: thin handlers over `auth` and `users`.

mod auth;
pub mod extract;
mod health;
mod users;

use crate::{error::AppError, server::AppState};
use axum::{
    Json, Router,
    http::{HeaderValue, header},
    middleware,
    response::{IntoResponse, Response},
    routing::{get, post},
};

pub use extract::{BODY_LIMIT_BYTES, bearer_token, limit_body};

/// The routes under `/api/v1`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/auth/register", post(auth::register))
        .route("/auth/token", post(auth::token))
        .route("/auth/revoke", post(auth::revoke))
        .route("/users/me", get(users::me))
        .route("/users/me/sign-out-everywhere", post(users::sign_out_everywhere))
        .route("/users", get(users::list))
        .route("/users/{id}", get(users::get).patch(users::update))
        .route("/health", get(health::health))
        .fallback(|| async { AppError::NotFound })
        .method_not_allowed_fallback(|| async { AppError::MethodNotAllowed })
        .layer(middleware::map_response(no_store))
}

/// API responses carry tokens or account data: no cache may keep them (RFC 6749 §5.1).
async fn no_store(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status =
            axum::http::StatusCode::from_u16(self.status()).unwrap_or(axum::http::StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, Json(self.body())).into_response();
        if let Some(challenge) = self.www_authenticate() {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
        }
        if let Some(seconds) = self.retry_after() {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}
