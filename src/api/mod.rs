//! The JSON API of `shared/spec/http-api.md`: thin handlers that convert HTTP to the
//! services' inputs and their results back; every rule lives in the services.

mod auth;
mod discovery;
mod extract;
mod health;
mod keys;
mod users;

use crate::{error::AppError, http::private::no_store, state::AppState};
use axum::{
    Router, middleware,
    routing::{get, post},
};

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
        .route("/admin/keys", get(keys::list))
        .route("/admin/keys/rotate", post(keys::rotate))
        .route("/health", get(health::health))
        .fallback(|| async { AppError::NotFound })
        .method_not_allowed_fallback(|| async { AppError::MethodNotAllowed })
        .layer(middleware::map_response(no_store))
}

/// The routes under `/.well-known` (public, cacheable).
pub fn well_known() -> Router<AppState> {
    Router::new()
        .route("/jwks.json", get(discovery::jwks))
        .route("/oauth-authorization-server", get(discovery::authorization_server))
}
