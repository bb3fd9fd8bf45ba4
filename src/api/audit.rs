//! `/audit`: the audit log, for admins.

use crate::{
    audit::EventPage,
    auth::service::Admin,
    error::{AppError, ErrorBody},
    http::body::parse_pairs,
    state::AppState,
    users::service::AuditQuery,
};
use axum::{
    Json,
    extract::{RawQuery, State},
};

/// The audit log (admins)
///
/// Security events, newest first, optionally of one user and/or one type. Page back with
/// `before` = the previous page's `next_before`.
#[utoipa::path(
    get,
    path = "/audit",
    tag = "audit",
    security(("oauth2" = [])),
    params(
        ("user_id" = Option<String>, Query, description = "Only events about this account"),
        ("type" = Option<crate::audit::EventType>, Query, description = "Only events of this type"),
        ("limit" = Option<String>, Query, pattern = r"^([1-9][0-9]{0,17})?$", description = "Page size (default 50; more than 200 is served as 200)"),
        ("before" = Option<String>, Query, description = "Only events older than this one (a `next_before`)"),
    ),
    responses(
        (status = 200, description = "One page of events, newest first", body = EventPage),
        (status = 400, description = "A parameter is repeated or not valid UTF-8", body = ErrorBody),
        (status = 401, description = "No access token, or one that is not valid", body = ErrorBody),
        (status = 403, description = "Not an admin, or the account is disabled", body = ErrorBody),
        (status = 422, description = "A parameter is not valid, listed in `fields`", body = ErrorBody),
    ),
)]
pub async fn list(
    State(state): State<AppState>,
    admin: Admin,
    RawQuery(query): RawQuery,
) -> Result<Json<EventPage>, AppError> {
    let pairs = parse_pairs(query.unwrap_or_default().as_bytes())?;
    pairs.refuse_repeated(&["user_id", "type", "limit", "before"])?;
    let query = AuditQuery::from_params(|name| pairs.get(name))?;
    Ok(Json(state.users.audit(&admin, query).await?))
}
