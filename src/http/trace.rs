//! The request span: every log line written while serving a request names its method, its
//! matched route (never the raw path, which may carry ids or garbage) and a request id; each
//! request ends with one line of its own (status, latency), and its id goes back to the
//! client in `X-Request-Id`.

use axum::{
    extract::{MatchedPath, Request},
    http::{HeaderMap, HeaderName, HeaderValue},
    middleware::Next,
    response::Response,
};
use std::time::Instant;
use tracing::Instrument as _;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Runs the rest of the request inside a `request` span, then logs how it ended.
pub async fn request_span(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = request.extensions().get::<MatchedPath>().map_or("(unmatched)", MatchedPath::as_str).to_owned();
    let id = request_id(request.headers());
    let span = tracing::info_span!("request", method = %request.method(), route = %route, id = %id);
    let method = request.method().as_str().to_owned();
    let mut response = next.run(request).instrument(span.clone()).await;
    let seconds = started.elapsed().as_secs_f64();
    let status = response.status().as_u16();
    // The request's own line names its fields itself, rather than through the span: a
    // formatter need not render the span again for the one line every request writes.
    tracing::info!(method = %method, route = %route, id = %id, status, latency_ms = seconds * 1000.0, "request done");
    metrics::counter!("http_requests_total", "method" => method.clone(), "route" => route.clone(), "status" => status.to_string())
        .increment(1);
    metrics::histogram!("http_request_duration_seconds", "method" => method, "route" => route).record(seconds);
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    response
}

/// The caller's `X-Request-Id` when it is a short printable token (so a proxy's id follows
/// the request through), else a fresh one: nothing a client sends reaches a log unchecked.
fn request_id(headers: &HeaderMap) -> String {
    headers
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|id| {
            (1..=64).contains(&id.len())
                && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
        })
        .map_or_else(|| uuid::Uuid::new_v4().simple().to_string(), str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::{Router, body::Body, middleware, routing::get};
    use std::sync::{Arc, Mutex};
    use tower::ServiceExt as _;

    /// Collects what the subscriber writes.
    #[derive(Clone, Default)]
    struct Lines(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Lines {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn lines_logged_while_serving_name_the_method_the_matched_route_and_a_request_id() {
        let lines = Lines::default();
        let writer = lines.clone();
        let subscriber = tracing_subscriber::fmt().with_writer(move || writer.clone()).with_ansi(false).finish();
        let _guard = tracing::subscriber::set_default(subscriber);
        let app = Router::new()
            .route(
                "/users/{id}",
                get(|| async {
                    tracing::info!("inside the handler");
                }),
            )
            .layer(middleware::from_fn(request_span));
        for _ in 0..2 {
            let request = axum::http::Request::get("/users/0192-secret-looking-id").body(Body::empty()).unwrap();
            app.clone().oneshot(request).await.unwrap();
        }
        let text = String::from_utf8(lines.0.lock().unwrap().clone()).unwrap();
        let logged: Vec<&str> = text.lines().filter(|l| l.contains("inside the handler")).collect();
        assert_eq!(logged.len(), 2, "{text}");
        let ids: Vec<&str> =
            logged.iter().map(|l| l.split("id=").nth(1).unwrap().split(['}', ' ']).next().unwrap()).collect();
        for line in &logged {
            assert!(line.contains("method=GET") && line.contains("route=/users/{id}"), "{line}");
            assert!(!line.contains("secret-looking"), "the raw path must not be logged: {line}");
        }
        assert_eq!(ids[0].len(), 32);
        assert_ne!(ids[0], ids[1], "each request has an id of its own");
    }
}
