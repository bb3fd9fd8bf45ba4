//! `/health`: 200 when the database answers, 503 otherwise.

use super::doc::Health;
use crate::{error::AppError, state::AppState};
use axum::{Json, extract::State};

/// Whether the service can serve
#[utoipa::path(
    get,
    path = "/health",
    tag = "service",
    responses(
        (status = 200, description = "The database answers", body = Health),
        (status = 503, description = "The database does not answer", body = crate::error::ErrorBody),
    ),
)]
pub async fn health(State(state): State<AppState>) -> Result<Json<Health>, AppError> {
    if state.db.ping().await { Ok(Json(Health { status: "ok".to_owned() })) } else { Err(AppError::Unavailable) }
}
