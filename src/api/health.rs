//! `/health`: 200 when the database answers, 503 otherwise.

use crate::{error::AppError, state::AppState};
use axum::{Json, extract::State};
use serde_json::{Value, json};

pub async fn health(State(state): State<AppState>) -> Result<Json<Value>, AppError> {
    if state.db.ping().await { Ok(Json(json!({ "status": "ok" }))) } else { Err(AppError::Unavailable) }
}
