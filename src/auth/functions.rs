//! Server functions of the browser app for accounts and sessions: thin doors onto
//! `AuthService`, like the JSON API. Public HTTP endpoints under `/fn/`: each checks its
//! caller itself. The refresh cookie reaches only `viewer`, `refresh`, `logout` (and is set
//! by `login`/`signup`); everything else needs the bearer access token.

use crate::{error::AppError, session::AuthClient, users::User};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// What the browser keeps after signing in: the person, and a short-lived access token.
/// The refresh token travels only in the `HttpOnly` cookie.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedIn {
    pub user: User,
    pub access_token: String,
    pub expires_in: u64,
}

/// Logs in with a password. Sets the refresh cookie; a plain form post (no JavaScript) is
/// redirected to `next` (a local path) or `/me`.
#[server(prefix = "/fn", endpoint = "login")]
pub async fn login(username: String, password: String, next: Option<String>) -> Result<SignedIn, AppError> {
    use crate::auth::web;
    let (parts, state) = web::same_origin_context()?;
    let pair = state.auth.login(&username, &password, web::client_ip(&parts, &state)).await?;
    start_browser_session(&state, &parts, pair, next.as_deref()).await
}

/// Creates an account and signs the person in.
#[server(prefix = "/fn", endpoint = "signup")]
pub async fn signup(
    username: String,
    password: String,
    email: Option<String>,
    full_name: Option<String>,
) -> Result<SignedIn, AppError> {
    use crate::auth::{service::Registration, web};
    let (parts, state) = web::same_origin_context()?;
    let client = web::client_ip(&parts, &state);
    state
        .auth
        .register(
            Registration {
                username: &username,
                password: &password,
                email: email.as_deref(),
                full_name: full_name.as_deref(),
            },
            client,
        )
        .await?;
    let pair = state.auth.login(&username, &password, client).await?;
    start_browser_session(&state, &parts, pair, None).await
}

#[cfg(feature = "ssr")]
async fn start_browser_session(
    state: &crate::server::AppState,
    parts: &axum::http::request::Parts,
    pair: crate::auth::service::TokenPair,
    next: Option<&str>,
) -> Result<SignedIn, AppError> {
    use crate::auth::web;
    let user = state.auth.authenticate(&pair.access_token).await?.user;
    web::add_header(axum::http::header::SET_COOKIE, state.refresh_cookie.set(&pair.refresh_token));
    if web::is_plain_form(parts) {
        leptos_axum::redirect(&crate::domain::next_path(next));
    }
    Ok(SignedIn { user, access_token: pair.access_token, expires_in: pair.expires_in })
}

/// Who is looking, from the refresh cookie, without using it up: lets the server render the
/// signed-in view on first paint. Changes nothing.
#[server(prefix = "/fn", endpoint = "viewer")]
pub async fn viewer() -> Result<Option<User>, AppError> {
    use crate::auth::web;
    let state = web::state()?;
    match state.refresh_cookie.read(&web::request_parts()?.headers) {
        Some(token) => state.auth.viewer(&token).await,
        None => Ok(None),
    }
}

/// Mints a new access token from the refresh cookie, rotating the cookie.
#[server(prefix = "/fn", endpoint = "refresh")]
pub async fn refresh() -> Result<SignedIn, AppError> {
    use crate::auth::web;
    let (parts, state) = web::same_origin_context()?;
    let token = state.refresh_cookie.read(&parts.headers).ok_or(AppError::InvalidGrant)?;
    let pair = match state.auth.refresh(&token).await {
        Ok(pair) => pair,
        Err(e) => {
            web::add_header(axum::http::header::SET_COOKIE, state.refresh_cookie.clear());
            return Err(e);
        }
    };
    let user = state.auth.authenticate(&pair.access_token).await?.user;
    web::add_header(axum::http::header::SET_COOKIE, state.refresh_cookie.set(&pair.refresh_token));
    Ok(SignedIn { user, access_token: pair.access_token, expires_in: pair.expires_in })
}

/// Ends this browser's login (the one its cookie belongs to) and removes the cookie.
#[server(prefix = "/fn", endpoint = "logout")]
pub async fn logout() -> Result<(), AppError> {
    use crate::auth::web;
    let (parts, state) = web::same_origin_context()?;
    if let Some(token) = state.refresh_cookie.read(&parts.headers) {
        state.auth.revoke(&token).await?;
    }
    web::add_header(axum::http::header::SET_COOKIE, state.refresh_cookie.clear());
    if web::is_plain_form(&parts) {
        leptos_axum::redirect("/login");
    }
    Ok(())
}

/// Ends every login of the caller, this one included. Needs the bearer token.
#[server(prefix = "/fn", endpoint = "sign-out-everywhere", client = AuthClient)]
pub async fn sign_out_everywhere() -> Result<(), AppError> {
    use crate::auth::web;
    let caller = web::caller().await?;
    let state = web::state()?;
    state.auth.sign_out_everywhere(&caller).await?;
    web::add_header(axum::http::header::SET_COOKIE, state.refresh_cookie.clear());
    Ok(())
}

/// The caller's own account. Needs the bearer token.
#[server(prefix = "/fn", endpoint = "me", client = AuthClient)]
pub async fn me() -> Result<User, AppError> {
    crate::auth::web::caller().await.map(|c| c.user)
}
