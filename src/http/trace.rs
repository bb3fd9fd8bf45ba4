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
