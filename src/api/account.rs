//! Self-service under `/users/me`: the profile, the password, the caller's logins, the
//! account's deletion, and its security history.

use super::extract::{Client, PathParam};
use crate::{
    audit::EventList,
    auth::service::CurrentUser,
    error::{AppError, ErrorBody},
    http::body::{Fields, JsonObject, parse_pairs},
    state::AppState,
    users::{LoginList, User, service::ProfileChange},
};
use axum::{
    Json,
    extract::{RawQuery, State},
    http::StatusCode,
};
use serde_json::Value;

/// Edit the caller's profile
///
/// Sets `email` and/or `full_name`; `null` or `""` clears one.
#[utoipa::path(
    patch,
    path = "/users/me",
    tag = "users",
    security(("oauth2" = [])),
    request_body(content = super::doc::ProfileChange, content_type = "application/json"),
    responses(
        (status = 200, description = "The account as it is now", body = User),
        (status = 400, description = "The body is not a JSON object", body = ErrorBody),
        (status = 401, description = "No access token, or one that is not valid", body = ErrorBody),
        (status = 403, description = "The account is disabled", body = ErrorBody),
        (status = 409, description = "The email is another account's (`fields.email`)", body = ErrorBody),
        (status = 413, description = "The body is larger than 64 KiB", body = ErrorBody),
        (status = 415, description = "The body is not JSON", body = ErrorBody),
        (status = 422, description = "Invalid or unknown fields, or nothing to change", body = ErrorBody),
    ),
)]
pub async fn update_profile(
    State(state): State<AppState>,
    caller: CurrentUser,
    Client(client): Client,
    body: JsonObject,
) -> Result<Json<User>, AppError> {
    // `null` clears, as `""` does.
    let cleared = |body: &JsonObject, name: &str| body.0.get(name).is_some_and(Value::is_null).then(String::new);
    let (email_null, name_null) = (cleared(&body, "email"), cleared(&body, "full_name"));
    let mut fields = Fields::new(body);
    let change = ProfileChange {
        email: fields.string("email").or(email_null),
        full_name: fields.string("full_name").or(name_null),
    };
    fields.finish()?;
    Ok(Json(state.users.update_profile(&caller, change, &client).await?))
}

/// Change the caller's password
///
/// Needs the current password (a wrong one counts as a failed login). Every other login of
/// the caller ends; this one goes on.
#[utoipa::path(
    post,
    path = "/users/me/password",
    tag = "users",
    security(("oauth2" = [])),
    request_body(content = super::doc::PasswordChange, content_type = "application/json"),
    responses(
        (status = 204, description = "Changed; the other logins ended"),
        (status = 400, description = "The body is not a JSON object", body = ErrorBody),
        (status = 401, description = "No access token, or one that is not valid", body = ErrorBody),
        (status = 403, description = "The account is disabled", body = ErrorBody),
        (status = 409, description = "The password was changed by another request meanwhile", body = ErrorBody),
        (status = 413, description = "The body is larger than 64 KiB", body = ErrorBody),
        (status = 415, description = "The body is not JSON", body = ErrorBody),
        (status = 422, description = "The current password is wrong, or the new one breaks the policy", body = ErrorBody),
        (status = 429, description = "Too many wrong passwords; see `Retry-After`", body = ErrorBody),
    ),
)]
pub async fn change_password(
    State(state): State<AppState>,
    caller: CurrentUser,
    Client(client): Client,
    body: JsonObject,
) -> Result<StatusCode, AppError> {
    let mut fields = Fields::new(body);
    let current = fields.required_string("current_password");
    let new = fields.required_string("new_password");
    fields.finish()?;
    state.auth.change_password(&caller, &current, &new, &client).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Delete the caller's account
///
/// Needs the password. The account, its logins and its tokens are gone; its username and
/// email are free again. The last enabled admin cannot delete their account.
#[utoipa::path(
    delete,
    path = "/users/me",
    tag = "users",
    security(("oauth2" = [])),
    request_body(content = super::doc::PasswordConfirmation, content_type = "application/json"),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "The body is not a JSON object", body = ErrorBody),
        (status = 401, description = "No access token, or one that is not valid", body = ErrorBody),
        (status = 403, description = "The account is disabled", body = ErrorBody),
        (status = 409, description = "The caller is the last enabled admin", body = ErrorBody),
        (status = 413, description = "The body is larger than 64 KiB", body = ErrorBody),
        (status = 415, description = "The body is not JSON", body = ErrorBody),
        (status = 422, description = "The password is wrong or missing", body = ErrorBody),
        (status = 429, description = "Too many wrong passwords; see `Retry-After`", body = ErrorBody),
    ),
)]
pub async fn delete_account(
    State(state): State<AppState>,
    caller: CurrentUser,
    Client(client): Client,
    body: JsonObject,
) -> Result<StatusCode, AppError> {
    let mut fields = Fields::new(body);
    let password = fields.required_string("password");
    fields.finish()?;
    state.auth.delete_account(&caller, &password, &client).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The caller's logins
///
/// Every live login of the caller (each browser or client signed in), newest first;
/// `current` marks the one this token belongs to.
#[utoipa::path(
    get,
    path = "/users/me/logins",
    tag = "users",
    security(("oauth2" = [])),
    responses(
        (status = 200, description = "The live logins", body = LoginList),
        (status = 401, description = "No access token, or one that is not valid", body = ErrorBody),
        (status = 403, description = "The account is disabled", body = ErrorBody),
    ),
)]
pub async fn logins(State(state): State<AppState>, caller: CurrentUser) -> Result<Json<LoginList>, AppError> {
    Ok(Json(LoginList { items: state.auth.own_logins(&caller).await? }))
}

/// End one of the caller's logins
///
/// Its refresh token and access tokens stop working. It may be this one.
#[utoipa::path(
    delete,
    path = "/users/me/logins/{id}",
    tag = "users",
    security(("oauth2" = [])),
    params(("id" = String, Path, description = "The login's id")),
    responses(
        (status = 204, description = "Ended"),
        (status = 401, description = "No access token, or one that is not valid", body = ErrorBody),
        (status = 403, description = "The account is disabled", body = ErrorBody),
        (status = 404, description = "Not a live login of the caller", body = ErrorBody),
    ),
)]
pub async fn end_login(
    State(state): State<AppState>,
    caller: CurrentUser,
    Client(client): Client,
    PathParam(id): PathParam,
) -> Result<StatusCode, AppError> {
    state.auth.end_own_login(&caller, &id, &client).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The caller's security events
///
/// Sign-ins, failed sign-ins, password and profile changes and the like, newest first.
#[utoipa::path(
    get,
    path = "/users/me/events",
    tag = "users",
    security(("oauth2" = [])),
    params(
        ("limit" = Option<String>, Query, pattern = r"^([1-9][0-9]{0,17})?$", description = "How many (default 50; more than 200 is served as 200)"),
    ),
    responses(
        (status = 200, description = "The caller's events, newest first", body = EventList),
        (status = 400, description = "A parameter is repeated or not valid UTF-8", body = ErrorBody),
        (status = 401, description = "No access token, or one that is not valid", body = ErrorBody),
        (status = 403, description = "The account is disabled", body = ErrorBody),
        (status = 422, description = "`limit` is not a whole number of at least 1", body = ErrorBody),
    ),
)]
pub async fn events(
    State(state): State<AppState>,
    caller: CurrentUser,
    RawQuery(query): RawQuery,
) -> Result<Json<EventList>, AppError> {
    let pairs = parse_pairs(query.unwrap_or_default().as_bytes())?;
    pairs.refuse_repeated(&["limit"])?;
    let limit = crate::users::service::limit_param(&|name| pairs.get(name))?;
    Ok(Json(EventList { items: state.users.own_events(&caller, limit).await? }))
}
