//! `/auth/register`, `/auth/token` (RFC 6749) and `/auth/revoke` (RFC 7009).

use super::{doc::TokenResponse, extract::Client};
use crate::{
    auth::service::{Code, Registration, TokenPair},
    error::{AppError, ErrorBody, MFA_OTP_GRANT},
    http::body::{Fields, Form, JsonObject},
    state::AppState,
};
use axum::{
    Json,
    extract::State,
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
/// Create an account
///
/// The account has the `user` role. Throttled per client address.
#[utoipa::path(
    post,
    path = "/auth/register",
    tag = "auth",
    request_body(content = super::doc::Registration, content_type = "application/json"),
    responses(
        (status = 201, description = "Created; `Location` names the account", body = crate::users::User),
        (status = 400, description = "The body is not a JSON object", body = ErrorBody),
        (status = 409, description = "The username or email is taken (`fields` names which)", body = ErrorBody),
        (status = 413, description = "The body is larger than 64 KiB", body = ErrorBody),
        (status = 415, description = "The body is not JSON", body = ErrorBody),
        (status = 422, description = "Invalid fields, listed in `fields`", body = ErrorBody),
        (status = 429, description = "Too many sign-ups from this address; see `Retry-After`", body = ErrorBody),
    ),
)]
pub async fn register(
    State(state): State<AppState>,
    Client(client): Client,
    body: JsonObject,
) -> Result<Response, AppError> {
    let mut fields = Fields::new(body);
    let username = fields.required_string("username");
    let password = fields.required_string("password");
    let email = fields.string("email");
    let full_name = fields.string("full_name");
    fields.finish()?;
    let user = state
        .auth
        .register(
            Registration {
                username: &username,
                password: &password,
                email: email.as_deref(),
                full_name: full_name.as_deref(),
            },
            &client,
        )
        .await?;
    let location = format!("/api/v1/users/{}", user.id);
    Ok((StatusCode::CREATED, [(header::LOCATION, location)], Json(user)).into_response())
}

impl From<TokenPair> for TokenResponse {
    fn from(pair: TokenPair) -> Self {
        Self {
            access_token: pair.access_token,
            token_type: "bearer".to_owned(),
            expires_in: pair.expires_in,
            refresh_token: pair.refresh_token,
        }
    }
}

/// Get tokens
///
/// The password grant (a login) or the refresh grant (rotation: the refresh token works
/// once; a second use ends its whole login). Failures of either grant are one
/// `invalid_grant`, whether the user exists or not. On an account with two-factor
/// authentication a right password answers 403 `mfa_required` with an `mfa_token` (no
/// tokens); the `urn:gatehouse:grant-type:mfa-otp` grant then takes it with `otp` (a TOTP
/// code) or `recovery_code`. An `mfa_token` lives 5 minutes, serves one success and dies
/// after 5 wrong codes; a wrong, spent or unknown code and a dead token are one
/// `invalid_grant`.
#[utoipa::path(
    post,
    path = "/auth/token",
    tag = "auth",
    request_body(content = super::doc::TokenRequest, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "A new access token and refresh token", body = TokenResponse),
        (status = 400, description = "`invalid_request`, `invalid_grant` or `unsupported_grant_type`", body = ErrorBody),
        (status = 403, description = "`mfa_required`: the password was right; send a code with the `mfa_token`", body = ErrorBody),
        (status = 413, description = "The body is larger than 64 KiB", body = ErrorBody),
        (status = 415, description = "The body is not a form", body = ErrorBody),
        (status = 429, description = "Too many failed logins; see `Retry-After`", body = ErrorBody),
    ),
)]
pub async fn token(State(state): State<AppState>, Client(client): Client, form: Form) -> Result<Response, AppError> {
    form.refuse_repeated(&[
        "grant_type",
        "username",
        "password",
        "refresh_token",
        "mfa_token",
        "otp",
        "recovery_code",
    ])?;
    let required = |name: &str| {
        form.get(name)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| AppError::bad_request(format!("The parameter {name:?} is required")))
    };
    let pair = match form.get("grant_type").unwrap_or("password") {
        "password" => state.auth.login(required("username")?, required("password")?, &client).await?,
        // RFC 6749 §5.2: every unusable refresh token is `invalid_grant`, a disabled account's too.
        "refresh_token" => {
            let (pair, _) = state.auth.refresh(required("refresh_token")?, &client).await.map_err(|e| match e {
                AppError::AccountDisabled => AppError::InvalidGrant,
                other => other,
            })?;
            pair
        }
        MFA_OTP_GRANT => {
            let code = match (
                form.get("otp").filter(|v| !v.is_empty()),
                form.get("recovery_code").filter(|v| !v.is_empty()),
            ) {
                (Some(otp), None) => Code::Totp(otp),
                (None, Some(recovery_code)) => Code::Recovery(recovery_code),
                _ => {
                    return Err(AppError::bad_request(
                        "Exactly one of the parameters \"otp\" and \"recovery_code\" is required",
                    ));
                }
            };
            state.auth.login_with_code(required("mfa_token")?, code, &client).await?
        }
        _ => return Err(AppError::UnsupportedGrantType),
    };
    Ok(Json(TokenResponse::from(pair)).into_response())
}

/// Revoke a refresh token
///
/// Ends the token's login: its refresh tokens and access tokens stop working. Unknown
/// tokens are answered 200 too (RFC 7009 §2.2).
#[utoipa::path(
    post,
    path = "/auth/revoke",
    tag = "auth",
    request_body(content = super::doc::RevocationRequest, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Revoked, or nothing to revoke"),
        (status = 400, description = "`token` is missing", body = ErrorBody),
        (status = 413, description = "The body is larger than 64 KiB", body = ErrorBody),
        (status = 415, description = "The body is not a form", body = ErrorBody),
    ),
)]
pub async fn revoke(State(state): State<AppState>, Client(client): Client, form: Form) -> Result<StatusCode, AppError> {
    form.refuse_repeated(&["token"])?;
    let token = form
        .get("token")
        .filter(|t| !t.is_empty())
        .ok_or_else(|| AppError::bad_request("The parameter \"token\" is required"))?;
    // RFC 7009 §2.2: unknown tokens and other token types get 200 too. An access token
    // cannot be revoked by itself here; its login ends through the refresh token or
    // sign-out-everywhere.
    state.auth.revoke(token, &client).await?;
    Ok(StatusCode::OK)
}

/// Set a new password with a reset link
///
/// Takes the token of a link an admin made (`POST /users/{id}/password-reset`). The link
/// works once; every login of the account ends and its failed-login count is cleared.
#[utoipa::path(
    post,
    path = "/auth/password-reset",
    tag = "auth",
    request_body(content = super::doc::PasswordReset, content_type = "application/json"),
    responses(
        (status = 204, description = "The password is set"),
        (status = 400, description = "`invalid_grant`: the link is unknown, spent, replaced or expired", body = ErrorBody),
        (status = 413, description = "The body is larger than 64 KiB", body = ErrorBody),
        (status = 415, description = "The body is not JSON", body = ErrorBody),
        (status = 422, description = "The new password breaks the policy, or fields are missing", body = ErrorBody),
    ),
)]
pub async fn password_reset(
    State(state): State<AppState>,
    Client(client): Client,
    body: JsonObject,
) -> Result<StatusCode, AppError> {
    let mut fields = Fields::new(body);
    let token = fields.required_string("token");
    let new_password = fields.required_string("new_password");
    fields.finish()?;
    state.auth.reset_password(&token, &new_password, &client).await?;
    Ok(StatusCode::NO_CONTENT)
}
