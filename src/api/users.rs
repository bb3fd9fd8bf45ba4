//! `/users/me`, sign-out-everywhere, and the admin user routes.

use super::extract::{Client, PathPair, PathParam};
use crate::{
    auth::service::{Admin, CurrentUser},
    domain::Role,
    error::{AppError, ErrorBody},
    http::body::{Fields, JsonObject, parse_pairs},
    state::AppState,
    users::{
        LoginList, ResetLink, User, UserPage,
        service::{ListQuery, UserChange},
    },
};
use axum::{
    Json,
    extract::{RawQuery, State},
    http::{HeaderMap, StatusCode},
};

/// The caller's account
#[utoipa::path(
    get,
    path = "/users/me",
    tag = "users",
    security(("oauth2" = [])),
    responses(
        (status = 200, description = "The caller's account", body = User),
        (status = 401, description = "No access token, or one that is not valid", body = ErrorBody),
        (status = 403, description = "The account is disabled", body = ErrorBody),
    ),
)]
pub async fn me(caller: CurrentUser) -> Json<User> {
    Json(caller.user)
}

/// Sign out everywhere
///
/// Ends every login of the caller, this one included.
#[utoipa::path(
    post,
    path = "/users/me/sign-out-everywhere",
    tag = "users",
    security(("oauth2" = [])),
    responses(
        (status = 204, description = "Every login ended"),
        (status = 401, description = "No access token, or one that is not valid", body = ErrorBody),
        (status = 403, description = "The account is disabled", body = ErrorBody),
    ),
)]
pub async fn sign_out_everywhere(
    State(state): State<AppState>,
    caller: CurrentUser,
    Client(client): Client,
) -> Result<StatusCode, AppError> {
    state.auth.sign_out_everywhere(&caller, &client).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// List accounts (admins)
#[utoipa::path(
    get,
    path = "/users",
    tag = "users",
    security(("oauth2" = [])),
    params(
        ("q" = Option<String>, Query, max_length = 254, description = "Only accounts whose username or email contains this, ignoring case"),
        // Strings of digits, since an empty value (as a form sends it) means the default.
        ("limit" = Option<String>, Query, pattern = r"^([1-9][0-9]{0,17})?$", description = "Page size, a whole number of at least 1 (default 50; more than 200 is served as 200)"),
        ("offset" = Option<String>, Query, pattern = r"^[0-9]{0,18}$", description = "Accounts to skip (default 0)"),
    ),
    responses(
        (status = 200, description = "One page of accounts, oldest first", body = UserPage),
        (status = 400, description = "A parameter is repeated or not valid UTF-8", body = ErrorBody),
        (status = 401, description = "No access token, or one that is not valid", body = ErrorBody),
        (status = 403, description = "Not an admin, or the account is disabled", body = ErrorBody),
        (status = 422, description = "`limit` or `offset` out of range, listed in `fields`", body = ErrorBody),
    ),
)]
pub async fn list(
    State(state): State<AppState>,
    admin: Admin,
    RawQuery(query): RawQuery,
) -> Result<Json<UserPage>, AppError> {
    let pairs = parse_pairs(query.unwrap_or_default().as_bytes())?;
    pairs.refuse_repeated(&["q", "limit", "offset"])?;
    let query = ListQuery::from_params(|name| pairs.get(name))?;
    Ok(Json(state.users.list(&admin, query).await?))
}

/// One account (admins)
#[utoipa::path(
    get,
    path = "/users/{id}",
    tag = "users",
    security(("oauth2" = [])),
    params(("id" = String, Path, description = "The account's id")),
    responses(
        (status = 200, description = "The account", body = User),
        (status = 401, description = "No access token, or one that is not valid", body = ErrorBody),
        (status = 403, description = "Not an admin, or the account is disabled", body = ErrorBody),
        (status = 404, description = "No such account", body = ErrorBody),
    ),
)]
pub async fn get(
    State(state): State<AppState>,
    admin: Admin,
    PathParam(id): PathParam,
) -> Result<Json<User>, AppError> {
    Ok(Json(state.users.get(&admin, &id).await?))
}

/// Disable, enable, promote or demote an account (admins)
///
/// Disabling ends every login of the account. The last enabled admin cannot be disabled or
/// demoted.
#[utoipa::path(
    patch,
    path = "/users/{id}",
    tag = "users",
    security(("oauth2" = [])),
    params(("id" = String, Path, description = "The account's id")),
    request_body(content = super::doc::UserChange, content_type = "application/json"),
    responses(
        (status = 200, description = "The account as it is now", body = User),
        (status = 400, description = "The body is not a JSON object", body = ErrorBody),
        (status = 401, description = "No access token, or one that is not valid", body = ErrorBody),
        (status = 403, description = "Not an admin, or the account is disabled", body = ErrorBody),
        (status = 404, description = "No such account", body = ErrorBody),
        (status = 409, description = "The last enabled admin would be lost", body = ErrorBody),
        (status = 413, description = "The body is larger than 64 KiB", body = ErrorBody),
        (status = 415, description = "The body is not JSON", body = ErrorBody),
        (status = 422, description = "Invalid or unknown fields, or nothing to change", body = ErrorBody),
    ),
)]
pub async fn update(
    State(state): State<AppState>,
    admin: Admin,
    Client(client): Client,
    PathParam(id): PathParam,
    body: JsonObject,
) -> Result<Json<User>, AppError> {
    // A change, not a form: `null` is no value for either attribute.
    let nulls: Vec<&'static str> =
        ["role", "disabled"].into_iter().filter(|name| body.0.get(*name).is_some_and(|v| v.is_null())).collect();
    let mut fields = Fields::new(body);
    for name in nulls {
        fields.error(name, if name == "role" { "Must be \"user\" or \"admin\"" } else { "Must be true or false" });
    }
    let disabled = fields.boolean("disabled");
    let role = match fields.string("role").map(|r| r.parse::<Role>()) {
        Some(Ok(role)) => Some(role),
        Some(Err(message)) => {
            fields.error("role", message);
            None
        }
        None => None,
    };
    fields.finish()?;
    Ok(Json(state.users.update(&admin, &id, UserChange { role, disabled }, &client).await?))
}

/// Delete an account (admins)
///
/// As self-deletion: the account, its logins and tokens are gone; its username and email are
/// free again; its events stay. The last enabled admin cannot be deleted.
#[utoipa::path(
    delete,
    path = "/users/{id}",
    tag = "users",
    security(("oauth2" = [])),
    params(("id" = String, Path, description = "The account's id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "No access token, or one that is not valid", body = ErrorBody),
        (status = 403, description = "Not an admin, or the account is disabled", body = ErrorBody),
        (status = 404, description = "No such account", body = ErrorBody),
        (status = 409, description = "It is the last enabled admin", body = ErrorBody),
    ),
)]
pub async fn delete(
    State(state): State<AppState>,
    admin: Admin,
    Client(client): Client,
    PathParam(id): PathParam,
) -> Result<StatusCode, AppError> {
    state.auth.delete_user_for(&admin, &id, &client).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Create a password reset link (admins)
///
/// A single-use link, valid `GATEHOUSE_PASSWORD_RESET_TTL` seconds, for the admin to hand to
/// the person. A newer link voids the older. The token is in the URL's fragment.
#[utoipa::path(
    post,
    path = "/users/{id}/password-reset",
    tag = "users",
    security(("oauth2" = [])),
    params(("id" = String, Path, description = "The account's id")),
    responses(
        (status = 201, description = "The link and when it expires", body = ResetLink),
        (status = 400, description = "No public URL is configured and the `Host` header is malformed", body = ErrorBody),
        (status = 401, description = "No access token, or one that is not valid", body = ErrorBody),
        (status = 403, description = "Not an admin, or the account is disabled", body = ErrorBody),
        (status = 404, description = "No such account", body = ErrorBody),
    ),
)]
pub async fn reset_link(
    State(state): State<AppState>,
    admin: Admin,
    Client(client): Client,
    PathParam(id): PathParam,
    headers: HeaderMap,
) -> Result<(StatusCode, Json<ResetLink>), AppError> {
    let origin = state.public_origin(&headers)?;
    let link = state.auth.create_reset_link(&admin, &id, &origin, &client).await?;
    Ok((StatusCode::CREATED, Json(link)))
}

/// An account's logins (admins)
///
/// Its live logins, newest first.
#[utoipa::path(
    get,
    path = "/users/{id}/logins",
    tag = "users",
    security(("oauth2" = [])),
    params(("id" = String, Path, description = "The account's id")),
    responses(
        (status = 200, description = "The live logins", body = LoginList),
        (status = 401, description = "No access token, or one that is not valid", body = ErrorBody),
        (status = 403, description = "Not an admin, or the account is disabled", body = ErrorBody),
        (status = 404, description = "No such account", body = ErrorBody),
    ),
)]
pub async fn logins(
    State(state): State<AppState>,
    admin: Admin,
    PathParam(id): PathParam,
) -> Result<Json<LoginList>, AppError> {
    Ok(Json(LoginList { items: state.auth.logins_of(&admin, &id).await? }))
}

/// End one of an account's logins (admins)
#[utoipa::path(
    delete,
    path = "/users/{id}/logins/{login_id}",
    tag = "users",
    security(("oauth2" = [])),
    params(
        ("id" = String, Path, description = "The account's id"),
        ("login_id" = String, Path, description = "The login's id"),
    ),
    responses(
        (status = 204, description = "Ended"),
        (status = 401, description = "No access token, or one that is not valid", body = ErrorBody),
        (status = 403, description = "Not an admin, or the account is disabled", body = ErrorBody),
        (status = 404, description = "Not a live login of that account", body = ErrorBody),
    ),
)]
pub async fn end_login(
    State(state): State<AppState>,
    admin: Admin,
    Client(client): Client,
    PathPair(id, login_id): PathPair,
) -> Result<StatusCode, AppError> {
    state.auth.end_login_of(&admin, &id, &login_id, &client).await?;
    Ok(StatusCode::NO_CONTENT)
}
