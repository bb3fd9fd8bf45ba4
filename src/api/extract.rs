//! Who is calling: the extractors of the JSON API's handlers. `CurrentUser` and `Admin` are
//! extractors themselves: a handler that takes one cannot run for anyone else.

use crate::{
    audit::ClientInfo,
    auth::service::{Admin, CurrentUser},
    error::AppError,
    http::bearer::bearer_token,
    state::AppState,
};
use axum::{
    extract::{FromRequestParts, Path},
    http::request::Parts,
};

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

/// The client's address and user agent, for the logins and events a request makes.
pub struct Client(pub ClientInfo);

impl FromRequestParts<AppState> for Client {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        Ok(Client(state.client_info(parts)))
    }
}

/// The two path parameters of a route (`/users/{id}/logins/{login_id}`), as text; 404 when
/// either does not decode.
pub struct PathPair(pub String, pub String);

impl<S: Send + Sync> FromRequestParts<S> for PathPair {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        Path::<(String, String)>::from_request_parts(parts, state)
            .await
            .map(|Path((a, b))| PathPair(a, b))
            .map_err(|_| AppError::NotFound)
    }
}

/// The one path parameter of a route, as text. A segment that does not decode (`%FF`) names
/// nothing here: 404 in the error JSON, like any unknown id (axum's own rejection would be a
/// text/plain 400).
pub struct PathParam(pub String);

impl<S: Send + Sync> FromRequestParts<S> for PathParam {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        Path::<String>::from_request_parts(parts, state)
            .await
            .map(|Path(value)| PathParam(value))
            .map_err(|_| AppError::NotFound)
    }
}
