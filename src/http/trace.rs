//! The request span: every log line written while serving a request names its method, its
//! matched route (never the raw path, which may carry ids or garbage) and a request id.

use axum::{
    extract::{MatchedPath, Request},
    middleware::Next,
    response::Response,
};
use tracing::Instrument as _;

/// Runs the rest of the request inside a `request` span.
pub async fn request_span(request: Request, next: Next) -> Response {
    let route = request.extensions().get::<MatchedPath>().map_or("(unmatched)", MatchedPath::as_str).to_owned();
    let span = tracing::info_span!(
        "request",
        method = %request.method(),
        route = %route,
        id = %uuid::Uuid::new_v4().simple(),
    );
    next.run(request).instrument(span).await
}
