//! `/admin/keys`: the signing keys in force, and their rotation.

use crate::{
    auth::service::{Admin, KeyInfo},
    error::AppError,
    state::AppState,
};
use axum::{Json, extract::State};
use serde::Serialize;

#[derive(Serialize)]
pub struct KeyList {
    pub items: Vec<KeyInfo>,
}

pub async fn list(State(state): State<AppState>, admin: Admin) -> Result<Json<KeyList>, AppError> {
    Ok(Json(KeyList { items: state.auth.signing_keys(&admin).await? }))
}

pub async fn rotate(State(state): State<AppState>, admin: Admin) -> Result<Json<KeyInfo>, AppError> {
    Ok(Json(state.auth.rotate_key(&admin).await?))
}
