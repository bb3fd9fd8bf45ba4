//! Who is calling: the extractors of the JSON API's handlers. `CurrentUser` and `Admin` are
//! extractors themselves: a handler that takes one cannot run for anyone else.

use crate::{
    auth::service::{Admin, CurrentUser},
    error::AppError,
    http::bearer::bearer_token,
    state::AppState,
};
use axum::{extract::FromRequestParts, http::request::Parts};

/// The caller, authenticated from `Authorization: Bearer` (RFC 6750 §2.1).
impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        state.auth.authenticate(bearer_token(&parts.headers)?).await
    }
}

/// The caller, who must be an admin right now.
impl FromRequestParts<AppState> for Admin {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        Admin::try_from(CurrentUser::from_request_parts(parts, state).await?)
    }
}

/// The client's address: the socket peer, or what trusted proxies say it is.
pub struct ClientIp(pub std::net::IpAddr);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        Ok(ClientIp(state.client_ip(parts)))
    }
}
