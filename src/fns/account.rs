//! Server functions of self-service (`/me`, `/me/security`): thin doors onto the services.
//! Each needs the caller's bearer token.

use crate::{
    audit::EventLine,
    error::AppError,
    fns::client::AuthClient,
    users::{LoginSession, RecoveryCodes, TotpSetup, User},
};
use leptos::prelude::*;

/// How many of a person's own events `/me/security` shows.
pub const HISTORY_LENGTH: i64 = 20;

/// Sets the caller's email and full name (empty clears either).
#[server(prefix = "/fn", endpoint = "update-profile", client = AuthClient)]
pub async fn update_profile(email: String, full_name: String) -> Result<User, AppError> {
    use crate::{fns::context, users::service::ProfileChange};
    let caller = context::caller().await?;
    let change = ProfileChange { email: Some(email), full_name: Some(full_name) };
    context::state()?.users.update_profile(&caller, change, &context::client()?).await
}

/// Changes the caller's password; their other logins end.
#[server(prefix = "/fn", endpoint = "change-password", client = AuthClient)]
pub async fn change_password(current_password: String, new_password: String) -> Result<(), AppError> {
    use crate::fns::context;
    let caller = context::caller().await?;
    context::state()?.auth.change_password(&caller, &current_password, &new_password, &context::client()?).await
}

/// Deletes the caller's account and removes this browser's refresh cookie.
#[server(prefix = "/fn", endpoint = "delete-account", client = AuthClient)]
pub async fn delete_account(password: String) -> Result<(), AppError> {
    use crate::fns::context;
    let caller = context::caller().await?;
    let state = context::state()?;
    state.auth.delete_account(&caller, &password, &context::client()?).await?;
    context::add_header(axum::http::header::SET_COOKIE, state.refresh_cookie.clear());
    Ok(())
}

/// The caller's live logins, newest first, this one marked.
#[server(prefix = "/fn", endpoint = "my-logins", client = AuthClient)]
pub async fn my_logins() -> Result<Vec<LoginSession>, AppError> {
    use crate::fns::context;
    let caller = context::caller().await?;
    context::state()?.auth.own_logins(&caller).await
}

/// Ends one of the caller's logins.
#[server(prefix = "/fn", endpoint = "end-my-login", client = AuthClient)]
pub async fn end_my_login(id: String) -> Result<(), AppError> {
    use crate::fns::context;
    let caller = context::caller().await?;
    context::state()?.auth.end_own_login(&caller, &id, &context::client()?).await
}

/// The caller's recent security events, in plain words.
#[server(prefix = "/fn", endpoint = "my-history", client = AuthClient)]
pub async fn my_history() -> Result<Vec<EventLine>, AppError> {
    use crate::fns::context;
    let caller = context::caller().await?;
    context::state()?.users.own_history(&caller, HISTORY_LENGTH).await
}

/// Starts setting up two-factor authentication, given the password: the secret to scan.
#[server(prefix = "/fn", endpoint = "start-totp", client = AuthClient)]
pub async fn start_totp(password: String) -> Result<TotpSetup, AppError> {
    use crate::fns::context;
    let caller = context::caller().await?;
    context::state()?.auth.start_totp(&caller, &password, &context::client()?).await
}

/// Turns two-factor authentication on with a code of the secret being set up; answers the
/// recovery codes (this once).
#[server(prefix = "/fn", endpoint = "confirm-totp", client = AuthClient)]
pub async fn confirm_totp(code: String) -> Result<RecoveryCodes, AppError> {
    use crate::fns::context;
    let caller = context::caller().await?;
    context::state()?.auth.confirm_totp(&caller, &code, &context::client()?).await
}

/// Turns two-factor authentication off, given the password and a code.
#[server(prefix = "/fn", endpoint = "disable-totp", client = AuthClient)]
pub async fn disable_totp(password: String, code: String) -> Result<(), AppError> {
    use crate::fns::context;
    let caller = context::caller().await?;
    context::state()?.auth.disable_totp(&caller, &password, &code, &context::client()?).await
}

/// How many of the caller's recovery codes are unused.
#[server(prefix = "/fn", endpoint = "recovery-codes-left", client = AuthClient)]
pub async fn recovery_codes_left() -> Result<i64, AppError> {
    use crate::fns::context;
    let caller = context::caller().await?;
    context::state()?.auth.recovery_codes_left(&caller).await
}

/// New recovery codes, given a code; the old ones stop working.
#[server(prefix = "/fn", endpoint = "new-recovery-codes", client = AuthClient)]
pub async fn new_recovery_codes(code: String) -> Result<RecoveryCodes, AppError> {
    use crate::fns::context;
    let caller = context::caller().await?;
    context::state()?.auth.replace_recovery_codes(&caller, &code, &context::client()?).await
}
