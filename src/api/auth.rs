//! `/auth/register`, `/auth/token` (RFC 6749) and `/auth/revoke` (RFC 7009).

use super::extract::ClientIp;
use crate::{
    auth::service::{Registration, TokenPair},
    error::AppError,
    http::body::{Fields, Form, JsonObject},
    state::AppState,
};
use axum::{
    Json,
    extract::State,
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Serialize;

pub async fn register(
    State(state): State<AppState>,
    ClientIp(client): ClientIp,
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
            client,
        )
        .await?;
    let location = format!("/api/v1/users/{}", user.id);
    Ok((StatusCode::CREATED, [(header::LOCATION, location)], Json(user)).into_response())
}

/// RFC 6749 §5.1 successful token response.
#[derive(Serialize)]
struct TokenResponse {
    access_token: String,
    token_type: &'static str,
    expires_in: u64,
    refresh_token: String,
}

impl From<TokenPair> for TokenResponse {
    fn from(pair: TokenPair) -> Self {
        Self {
            access_token: pair.access_token,
            token_type: "bearer",
            expires_in: pair.expires_in,
            refresh_token: pair.refresh_token,
        }
    }
}

pub async fn token(
    State(state): State<AppState>,
    ClientIp(client): ClientIp,
    form: Form,
) -> Result<Response, AppError> {
    let required = |name: &str| {
        form.get(name)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| AppError::bad_request(format!("The parameter {name:?} is required")))
    };
    let pair = match form.get("grant_type").unwrap_or("password") {
        "password" => state.auth.login(required("username")?, required("password")?, client).await?,
        // RFC 6749 §5.2: every unusable refresh token is `invalid_grant`, a disabled account's too.
        "refresh_token" => {
            let (pair, _) = state.auth.refresh(required("refresh_token")?).await.map_err(|e| match e {
                AppError::AccountDisabled => AppError::InvalidGrant,
                other => other,
            })?;
            pair
        }
        _ => return Err(AppError::UnsupportedGrantType),
    };
    Ok(Json(TokenResponse::from(pair)).into_response())
}

pub async fn revoke(State(state): State<AppState>, form: Form) -> Result<StatusCode, AppError> {
    let token = form
        .get("token")
        .filter(|t| !t.is_empty())
        .ok_or_else(|| AppError::bad_request("The parameter \"token\" is required"))?;
    // RFC 7009 §2.2: unknown tokens and other token types get 200 too. An access token
    // cannot be revoked by itself here; its login ends through the refresh token or
    // sign-out-everywhere.
    state.auth.revoke(token).await?;
    Ok(StatusCode::OK)
}
