//! The second factor: `/users/me/mfa/...` for its owner, `/users/{id}/mfa` for admins.

use super::extract::{Client, PathParam};
use crate::{
    auth::service::{Admin, CurrentUser},
    error::{AppError, ErrorBody},
    http::body::{Fields, JsonObject},
    state::AppState,
    users::{RecoveryCodes, TotpSetup},
};
use axum::{Json, extract::State, http::StatusCode};

/// Set up two-factor authentication
///
/// Needs the password. Answers a new TOTP secret (SHA-1, 6 digits, 30 s) as text, as an
/// `otpauth://` URL and as a QR code (inline SVG). It is pending until confirmed with a code;
/// a new call replaces a pending secret.
#[utoipa::path(
    post,
    path = "/users/me/mfa/totp",
    tag = "two-factor",
    security(("oauth2" = [])),
    request_body(content = super::doc::PasswordConfirmation, content_type = "application/json"),
    responses(
        (status = 200, description = "The secret to put in an authenticator app", body = TotpSetup),
        (status = 400, description = "The body is not a JSON object", body = ErrorBody),
        (status = 401, description = "No access token, or one that is not valid", body = ErrorBody),
        (status = 403, description = "The account is disabled", body = ErrorBody),
        (status = 409, description = "Two-factor authentication is already on", body = ErrorBody),
        (status = 413, description = "The body is larger than 64 KiB", body = ErrorBody),
        (status = 415, description = "The body is not JSON", body = ErrorBody),
        (status = 422, description = "The password is wrong or missing", body = ErrorBody),
        (status = 429, description = "Too many wrong passwords; see `Retry-After`", body = ErrorBody),
    ),
)]
pub async fn start_totp(
    State(state): State<AppState>,
    caller: CurrentUser,
    Client(client): Client,
    body: JsonObject,
) -> Result<Json<TotpSetup>, AppError> {
    let mut fields = Fields::new(body);
    let password = fields.required_string("password");
    fields.finish()?;
    Ok(Json(state.auth.start_totp(&caller, &password, &client).await?))
}

/// Turn two-factor authentication on
///
/// Confirms the pending secret with a current code. Answers 10 recovery codes, shown this
/// once: each works once in place of a code.
#[utoipa::path(
    post,
    path = "/users/me/mfa/totp/confirm",
    tag = "two-factor",
    security(("oauth2" = [])),
    request_body(content = super::doc::CodeConfirmation, content_type = "application/json"),
    responses(
        (status = 200, description = "On; the recovery codes", body = RecoveryCodes),
        (status = 400, description = "The body is not a JSON object", body = ErrorBody),
        (status = 401, description = "No access token, or one that is not valid", body = ErrorBody),
        (status = 403, description = "The account is disabled", body = ErrorBody),
        (status = 409, description = "Nothing is pending (or it is already on)", body = ErrorBody),
        (status = 413, description = "The body is larger than 64 KiB", body = ErrorBody),
        (status = 415, description = "The body is not JSON", body = ErrorBody),
        (status = 422, description = "The code is wrong or missing", body = ErrorBody),
    ),
)]
pub async fn confirm_totp(
    State(state): State<AppState>,
    caller: CurrentUser,
    Client(client): Client,
    body: JsonObject,
) -> Result<Json<RecoveryCodes>, AppError> {
    let mut fields = Fields::new(body);
    let code = fields.required_string("code");
    fields.finish()?;
    Ok(Json(state.auth.confirm_totp(&caller, &code, &client).await?))
}

/// Turn two-factor authentication off
///
/// Needs the password and a code (a TOTP code or a recovery code), checked as one login
/// attempt. The secret and the recovery codes are deleted.
#[utoipa::path(
    delete,
    path = "/users/me/mfa/totp",
    tag = "two-factor",
    security(("oauth2" = [])),
    request_body(content = super::doc::TotpRemoval, content_type = "application/json"),
    responses(
        (status = 204, description = "Off"),
        (status = 400, description = "The body is not a JSON object", body = ErrorBody),
        (status = 401, description = "No access token, or one that is not valid", body = ErrorBody),
        (status = 403, description = "The account is disabled", body = ErrorBody),
        (status = 409, description = "Two-factor authentication is not on", body = ErrorBody),
        (status = 413, description = "The body is larger than 64 KiB", body = ErrorBody),
        (status = 415, description = "The body is not JSON", body = ErrorBody),
        (status = 422, description = "The password or the code is wrong (`fields` says which), or missing", body = ErrorBody),
        (status = 429, description = "Too many wrong passwords or codes; see `Retry-After`", body = ErrorBody),
    ),
)]
pub async fn disable_totp(
    State(state): State<AppState>,
    caller: CurrentUser,
    Client(client): Client,
    body: JsonObject,
) -> Result<StatusCode, AppError> {
    let mut fields = Fields::new(body);
    let password = fields.required_string("password");
    let code = fields.required_string("code");
    fields.finish()?;
    state.auth.disable_totp(&caller, &password, &code, &client).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Replace the recovery codes
///
/// Needs a code (a TOTP code or a recovery code). Answers 10 new recovery codes; the old
/// ones stop working.
#[utoipa::path(
    post,
    path = "/users/me/mfa/recovery-codes",
    tag = "two-factor",
    security(("oauth2" = [])),
    request_body(content = super::doc::CodeConfirmation, content_type = "application/json"),
    responses(
        (status = 200, description = "The new recovery codes", body = RecoveryCodes),
        (status = 400, description = "The body is not a JSON object", body = ErrorBody),
        (status = 401, description = "No access token, or one that is not valid", body = ErrorBody),
        (status = 403, description = "The account is disabled", body = ErrorBody),
        (status = 409, description = "Two-factor authentication is not on", body = ErrorBody),
        (status = 413, description = "The body is larger than 64 KiB", body = ErrorBody),
        (status = 415, description = "The body is not JSON", body = ErrorBody),
        (status = 422, description = "The code is wrong or missing", body = ErrorBody),
        (status = 429, description = "Too many wrong codes; see `Retry-After`", body = ErrorBody),
    ),
)]
pub async fn replace_recovery_codes(
    State(state): State<AppState>,
    caller: CurrentUser,
    Client(client): Client,
    body: JsonObject,
) -> Result<Json<RecoveryCodes>, AppError> {
    let mut fields = Fields::new(body);
    let code = fields.required_string("code");
    fields.finish()?;
    Ok(Json(state.auth.replace_recovery_codes(&caller, &code, &client).await?))
}

/// Remove a user's two-factor authentication (admins)
///
/// For a person who lost their authenticator and their recovery codes: the secret and the
/// recovery codes are deleted; the next login needs only the password.
#[utoipa::path(
    delete,
    path = "/users/{id}/mfa",
    tag = "two-factor",
    security(("oauth2" = [])),
    params(("id" = String, Path, description = "The account's id")),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, description = "No access token, or one that is not valid", body = ErrorBody),
        (status = 403, description = "Not an admin, or the account is disabled", body = ErrorBody),
        (status = 404, description = "No such account", body = ErrorBody),
        (status = 409, description = "The account has no two-factor authentication", body = ErrorBody),
    ),
)]
pub async fn remove(
    State(state): State<AppState>,
    admin: Admin,
    Client(client): Client,
    PathParam(id): PathParam,
) -> Result<StatusCode, AppError> {
    state.auth.remove_mfa_for(&admin, &id, &client).await?;
    Ok(StatusCode::NO_CONTENT)
}
