//! The server side of every server function: the state and request it runs with, its
//! caller, and what it adds to the response. A server function is a public HTTP endpoint:
//! each one asks this module for its caller itself.

use crate::{
    audit::ClientInfo,
    auth::service::{Admin, CurrentUser},
    error::AppError,
    http::{bearer::bearer_token, origin::require_same_origin},
    state::AppState,
};
use axum::http::{HeaderName, HeaderValue, request::Parts};
use leptos::prelude::use_context;
use leptos_axum::ResponseOptions;

/// The application state, provided to every server function by the router.
pub fn state() -> Result<AppState, AppError> {
    use_context::<AppState>().ok_or_else(|| {
        tracing::error!("AppState missing from the server function context");
        AppError::Internal
    })
}

pub fn request_parts() -> Result<Parts, AppError> {
    use_context::<Parts>().ok_or_else(|| {
        tracing::error!("request parts missing from the server function context");
        AppError::Internal
    })
}

/// The request and state of a server function the refresh cookie can reach (or that sets
/// it), once the request has passed the same-origin check.
pub fn same_origin_context() -> Result<(Parts, AppState), AppError> {
    let parts = request_parts()?;
    let state = state()?;
    require_same_origin(&parts.headers, state.public_url.as_deref())?;
    Ok((parts, state))
}

/// The caller of a protected server function, from its own `Authorization: Bearer` header.
/// The refresh cookie is never enough here.
pub async fn caller() -> Result<CurrentUser, AppError> {
    let parts = request_parts()?;
    state()?.auth.authenticate(bearer_token(&parts.headers)?).await
}

/// The caller, who must be an admin right now.
pub async fn admin() -> Result<Admin, AppError> {
    Admin::try_from(caller().await?)
}

/// The caller's address and user agent, for the logins and events the function makes.
pub fn client() -> Result<ClientInfo, AppError> {
    Ok(state()?.client_info(&request_parts()?))
}

pub fn add_header(name: HeaderName, value: HeaderValue) {
    if let Some(response) = use_context::<ResponseOptions>() {
        response.append_header(name, value);
    }
}
