//! Server functions for accounts and sessions. The refresh cookie reaches only `viewer`,
//! `refresh` and `logout` (and is set by `login`/`signup`); everything else needs the bearer
//! access token.

use crate::{error::AppError, fns::client::AuthClient, users::User};
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

/// Where a password login stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LoginStep {
    /// Signed in.
    SignedIn(SignedIn),
    /// The password was right; the account asks for its second factor ([`verify_login`]).
    CodeNeeded,
}

/// The page a login waiting for its second factor continues on (`method`: `code` or
/// `recovery`), keeping `next`.
pub fn code_step_path(method: &str, next: Option<&str>) -> String {
    let mut path = format!("/login?step={method}");
    if let Some(next) = next.filter(|n| !n.is_empty()) {
        path.push_str("&next=");
        path.push_str(&crate::domain::percent_encode(next));
    }
    path
}

/// Logs in with a password. Sets the refresh cookie; a plain form post (no JavaScript) is
/// redirected to `next` (a local path) or `/me`. On an account with a second factor the login
/// waits for a code: its token goes into an `HttpOnly` cookie (JavaScript never sees it)
/// and a plain form post is redirected to the code step.
#[server(prefix = "/fn", endpoint = "login")]
pub async fn login(username: String, password: String, next: Option<String>) -> Result<LoginStep, AppError> {
    use crate::{error::MfaToken, fns::context, http::origin::is_plain_form};
    let (parts, state) = context::same_origin_context()?;
    let pair = match state.auth.login(&username, &password, &state.client_info(&parts)).await {
        Ok(pair) => pair,
        Err(AppError::MfaRequired(MfaToken(token))) => {
            context::add_header(axum::http::header::SET_COOKIE, state.mfa_cookie.set(&token));
            if is_plain_form(&parts) {
                leptos_axum::redirect(&code_step_path("code", next.as_deref()));
            }
            return Ok(LoginStep::CodeNeeded);
        }
        Err(e) => return Err(e),
    };
    let user = state.auth.authenticate(&pair.access_token).await?.user;
    Ok(LoginStep::SignedIn(browser::signed_in(&state, &parts, user, pair, next.as_deref())))
}

/// The second step of a login on an account with a second factor: an authentication code
/// (or, with `method` = `recovery`, a recovery code) for the login waiting in this browser's
/// cookie. Signs in as [`login`] does. A wrong code, a spent code and a login that waited too
/// long (or took 5 wrong codes) are one `invalid_grant`.
#[server(prefix = "/fn", endpoint = "verify-login")]
pub async fn verify_login(code: String, method: Option<String>, next: Option<String>) -> Result<SignedIn, AppError> {
    use crate::{auth::service::Code, fns::context};
    let (parts, state) = context::same_origin_context()?;
    let token = state.mfa_cookie.read(&parts.headers).ok_or(AppError::InvalidGrant)?;
    let code = match method.as_deref() {
        Some("recovery") => Code::Recovery(&code),
        _ => Code::Totp(&code),
    };
    let pair = state.auth.login_with_code(&token, code, &state.client_info(&parts)).await?;
    context::add_header(axum::http::header::SET_COOKIE, state.mfa_cookie.clear());
    let user = state.auth.authenticate(&pair.access_token).await?.user;
    Ok(browser::signed_in(&state, &parts, user, pair, next.as_deref()))
}

/// Creates an account and signs the person in.
#[server(prefix = "/fn", endpoint = "signup")]
pub async fn signup(
    username: String,
    password: String,
    email: Option<String>,
    full_name: Option<String>,
) -> Result<SignedIn, AppError> {
    use crate::{auth::service::Registration, fns::context};
    let (parts, state) = context::same_origin_context()?;
    let registration = Registration {
        username: &username,
        password: &password,
        email: email.as_deref(),
        full_name: full_name.as_deref(),
    };
    let (user, pair) = state.auth.sign_up(registration, &state.client_info(&parts)).await?;
    Ok(browser::signed_in(&state, &parts, user, pair, None))
}

/// Who is looking, from the refresh cookie, without using it up: lets the server render the
/// signed-in view on first paint. Changes nothing.
#[server(prefix = "/fn", endpoint = "viewer")]
pub async fn viewer() -> Result<Option<User>, AppError> {
    use crate::fns::context;
    let state = context::state()?;
    match state.refresh_cookie.read(&context::request_parts()?.headers) {
        Some(token) => state.auth.viewer(&token).await,
        None => Ok(None),
    }
}

/// Mints a new access token from the refresh cookie, rotating the cookie. The cookie is
/// removed only when its token can never work again (`invalid_grant`, or a disabled
/// account, which the browser then names); an outage leaves it for the next try.
#[server(prefix = "/fn", endpoint = "refresh")]
pub async fn refresh() -> Result<SignedIn, AppError> {
    use crate::fns::context;
    let (parts, state) = context::same_origin_context()?;
    let token = state.refresh_cookie.read(&parts.headers).ok_or(AppError::InvalidGrant)?;
    let (pair, user) = match state.auth.refresh(&token, &state.client_info(&parts)).await {
        Ok(refreshed) => refreshed,
        Err(e @ (AppError::InvalidGrant | AppError::AccountDisabled)) => {
            context::add_header(axum::http::header::SET_COOKIE, state.refresh_cookie.clear());
            return Err(e);
        }
        Err(e) => return Err(e),
    };
    // The old token is spent: nothing that can fail comes after the rotation (the account
    // was read with the token), so the new one always reaches the browser.
    browser::keep_refresh_token(&state, &pair);
    Ok(SignedIn { user, access_token: pair.access_token, expires_in: pair.expires_in })
}

/// Ends this browser's login (the one its cookie belongs to) and removes the cookie.
#[server(prefix = "/fn", endpoint = "logout")]
pub async fn logout() -> Result<(), AppError> {
    use crate::{fns::context, http::origin::is_plain_form};
    let (parts, state) = context::same_origin_context()?;
    if let Some(token) = state.refresh_cookie.read(&parts.headers) {
        state.auth.revoke(&token, &state.client_info(&parts)).await?;
    }
    context::add_header(axum::http::header::SET_COOKIE, state.refresh_cookie.clear());
    if is_plain_form(&parts) {
        leptos_axum::redirect("/login");
    }
    Ok(())
}

/// Sets a new password with the token of a reset link (no sign-in needed: the token is the
/// proof).
#[server(prefix = "/fn", endpoint = "reset-password")]
pub async fn reset_password(token: String, new_password: String) -> Result<(), AppError> {
    use crate::fns::context;
    let (parts, state) = context::same_origin_context()?;
    state.auth.reset_password(&token, &new_password, &state.client_info(&parts)).await
}

/// Ends every login of the caller, this one included. Needs the bearer token.
#[server(prefix = "/fn", endpoint = "sign-out-everywhere", client = AuthClient)]
pub async fn sign_out_everywhere() -> Result<(), AppError> {
    use crate::fns::context;
    let caller = context::caller().await?;
    let state = context::state()?;
    state.auth.sign_out_everywhere(&caller, &context::client()?).await?;
    context::add_header(axum::http::header::SET_COOKIE, state.refresh_cookie.clear());
    Ok(())
}

/// The caller's own account. Needs the bearer token.
#[server(prefix = "/fn", endpoint = "me", client = AuthClient)]
pub async fn me() -> Result<User, AppError> {
    crate::fns::context::caller().await.map(|c| c.user)
}

/// How a browser is signed in, whichever function did it.
#[cfg(feature = "ssr")]
mod browser {
    use super::SignedIn;
    use crate::{
        auth::service::TokenPair, domain::next_path, fns::context, http::origin::is_plain_form, state::AppState,
        users::User,
    };
    use axum::http::{header, request::Parts};

    /// Sets the refresh cookie and answers with the person and the access token; a plain form
    /// post (no JavaScript) is redirected to `next` (a local path) or `/me`.
    pub fn signed_in(state: &AppState, parts: &Parts, user: User, pair: TokenPair, next: Option<&str>) -> SignedIn {
        keep_refresh_token(state, &pair);
        if is_plain_form(parts) {
            leptos_axum::redirect(&next_path(next));
        }
        SignedIn { user, access_token: pair.access_token, expires_in: pair.expires_in }
    }

    /// Puts the pair's refresh token into the `HttpOnly` cookie of this answer.
    pub fn keep_refresh_token(state: &AppState, pair: &TokenPair) {
        context::add_header(header::SET_COOKIE, state.refresh_cookie.set(&pair.refresh_token));
    }
}
