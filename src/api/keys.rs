//! `/admin/keys`: the signing keys in force, and their rotation.

use super::extract::Client;
use crate::{
    auth::service::{Admin, KeyInfo},
    error::{AppError, ErrorBody},
    state::AppState,
};
use axum::{Json, extract::State};
use serde::Serialize;

#[derive(Serialize, utoipa::ToSchema)]
pub struct KeyList {
    pub items: Vec<KeyInfo>,
}

/// The signing keys in force (admins)
///
/// Oldest first: `retiring` keys (still verifying their tokens), the `current` one, and a
/// `next` one published before it signs. Times are microseconds since the Unix epoch.
#[utoipa::path(
    get,
    path = "/admin/keys",
    tag = "keys",
    security(("oauth2" = [])),
    responses(
        (status = 200, description = "The keys; never a private part", body = KeyList),
        (status = 401, description = "No access token, or one that is not valid", body = ErrorBody),
        (status = 403, description = "Not an admin, or the account is disabled", body = ErrorBody),
    ),
)]
pub async fn list(State(state): State<AppState>, admin: Admin) -> Result<Json<KeyList>, AppError> {
    Ok(Json(KeyList { items: state.auth.signing_keys(&admin).await? }))
}

/// Rotate the signing key (admins)
///
/// The new key is published at once and signs after `GATEHOUSE_KEY_ROTATION_DELAY` seconds;
/// the old one verifies until its last token expires.
#[utoipa::path(
    post,
    path = "/admin/keys/rotate",
    tag = "keys",
    security(("oauth2" = [])),
    responses(
        (status = 200, description = "The new key", body = KeyInfo),
        (status = 401, description = "No access token, or one that is not valid", body = ErrorBody),
        (status = 403, description = "Not an admin, or the account is disabled", body = ErrorBody),
        (status = 409, description = "Tokens are signed with the shared HS256 secret", body = ErrorBody),
    ),
)]
pub async fn rotate(
    State(state): State<AppState>,
    admin: Admin,
    Client(client): Client,
) -> Result<Json<KeyInfo>, AppError> {
    Ok(Json(state.auth.rotate_key(&admin, &client).await?))
}
