//! `/users/me`, sign-out-everywhere, and the admin user routes.

use super::extract::{AdminUser, Bearer, Fields, JsonObject, parse_pairs};
use crate::{
    domain::Role,
    error::{AppError, FieldErrors},
    server::AppState,
    users::{
        User, UserPage,
        service::{self, DEFAULT_PAGE_SIZE, UserChange},
    },
};
use axum::{
    Json,
    extract::{Path, RawQuery, State},
    http::StatusCode,
};
use uuid::Uuid;

pub async fn me(Bearer(user): Bearer) -> Json<User> {
    Json(user.user)
}

pub async fn sign_out_everywhere(State(state): State<AppState>, Bearer(user): Bearer) -> Result<StatusCode, AppError> {
    state.auth.sign_out_everywhere(&user).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn list(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    RawQuery(query): RawQuery,
) -> Result<Json<UserPage>, AppError> {
    let pairs = parse_pairs(query.unwrap_or_default().as_bytes())?;
    let get = |name: &str| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let mut errors = FieldErrors::new();
    let mut number = |name: &str, default: i64, min: i64| match get(name) {
        None | Some("") => default,
        Some(raw) => match raw.parse::<i64>() {
            Ok(n) if n >= min => n,
            _ => {
                errors.insert(name.into(), format!("Must be a whole number of at least {min}"));
                default
            }
        },
    };
    let limit = number("limit", DEFAULT_PAGE_SIZE, 1);
    let offset = number("offset", 0, 0);
    if !errors.is_empty() {
        return Err(AppError::Validation(errors));
    }
    let page = service::list(state.auth.db(), &admin, get("q"), limit, offset).await?;
    Ok(Json(page))
}

/// Ids that are not UUIDs name no user: 404, like any other unknown id.
fn user_id(raw: &str) -> Result<Uuid, AppError> {
    Uuid::parse_str(raw).map_err(|_| AppError::NotFound)
}

pub async fn get(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    Path(id): Path<String>,
) -> Result<Json<User>, AppError> {
    let id = user_id(&id)?;
    Ok(Json(service::get(state.auth.db(), &admin, &id).await?))
}

pub async fn update(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    Path(id): Path<String>,
    body: JsonObject,
) -> Result<Json<User>, AppError> {
    let id = user_id(&id)?;
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
    if role.is_none() && disabled.is_none() {
        fields.error("body", "Send \"role\" and/or \"disabled\"");
    }
    fields.finish()?;
    Ok(Json(service::update(state.auth.db(), &admin, &id, UserChange { role, disabled }).await?))
}
