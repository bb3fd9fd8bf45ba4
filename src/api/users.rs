//! `/users/me`, sign-out-everywhere, and the admin user routes.

use super::extract::PathParam;
use crate::{
    auth::service::{Admin, CurrentUser},
    domain::Role,
    error::AppError,
    http::body::{Fields, JsonObject, parse_pairs},
    state::AppState,
    users::{
        User, UserPage,
        service::{ListQuery, UserChange},
    },
};
use axum::{
    Json,
    extract::{RawQuery, State},
    http::StatusCode,
};

pub async fn me(caller: CurrentUser) -> Json<User> {
    Json(caller.user)
}

pub async fn sign_out_everywhere(State(state): State<AppState>, caller: CurrentUser) -> Result<StatusCode, AppError> {
    state.auth.sign_out_everywhere(&caller).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn list(
    State(state): State<AppState>,
    admin: Admin,
    RawQuery(query): RawQuery,
) -> Result<Json<UserPage>, AppError> {
    let pairs = parse_pairs(query.unwrap_or_default().as_bytes())?;
    let query = ListQuery::from_params(|name| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()))?;
    Ok(Json(state.users.list(&admin, query).await?))
}

pub async fn get(
    State(state): State<AppState>,
    admin: Admin,
    PathParam(id): PathParam,
) -> Result<Json<User>, AppError> {
    Ok(Json(state.users.get(&admin, &id).await?))
}

pub async fn update(
    State(state): State<AppState>,
    admin: Admin,
    PathParam(id): PathParam,
    body: JsonObject,
) -> Result<Json<User>, AppError> {
    let mut fields = Fields::new(body);
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
    Ok(Json(state.users.update(&admin, &id, UserChange { role, disabled }).await?))
}
