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
use std::{
    cell::RefCell,
    collections::HashMap,
    sync::{
        LazyLock, RwLock,
        atomic::{AtomicU64, Ordering},
    },
    time::Instant,
};
use tracing::Instrument as _;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Runs the rest of the request inside a `request` span, then logs how it ended.
pub async fn request_span(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = interned(request.extensions().get::<MatchedPath>().map_or("(unmatched)", MatchedPath::as_str));
    let id = request_id(request.headers());
    let method = method_label(request.method());
    let span = tracing::info_span!("request", method = %method, route = %route, id = %id);
    let mut response = next.run(request).instrument(span).await;
    let seconds = started.elapsed().as_secs_f64();
    let status = response.status();
    // The request's own line names its fields itself, rather than through the span: a
    // formatter need not render the span again for the one line every request writes.
    tracing::info!(method = %method, route = %route, id = %id, status = status.as_u16(), latency_ms = seconds * 1000.0, "request done");
    count(method, route, status_label(status), seconds);
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    response
}

/// Counts a request in `http_requests_total` and `http_request_duration_seconds`. The
/// handles of each (method, route, status) are kept by each thread once looked up: asking the
/// recorder for them builds a key (two allocations) and looks it up in a shared map, for
/// every request. The labels are `'static` strings from fixed tables, so their addresses and
/// lengths stand for them. The recorder is installed before the first request is served (a handle
/// looked up before it would count nothing).
fn count(method: &'static str, route: &'static str, status: &'static str, seconds: f64) {
    type Labels = [(usize, usize); 3];
    thread_local! {
        static HANDLES: RefCell<HashMap<Labels, (metrics::Counter, metrics::Histogram)>> = RefCell::default();
    }
    let record = |(requests, durations): &(metrics::Counter, metrics::Histogram)| {
        requests.increment(1);
        durations.record(seconds);
    };
    let handles = || {
        (
            metrics::counter!("http_requests_total", "method" => method, "route" => route, "status" => status),
            metrics::histogram!("http_request_duration_seconds", "method" => method, "route" => route),
        )
    };
    let labels = [method, route, status].map(|label| (label.as_ptr() as usize, label.len()));
    let kept = HANDLES.try_with(|kept| {
        let mut kept = kept.try_borrow_mut().ok()?;
        record(kept.entry(labels).or_insert_with(handles));
        Some(())
    });
    if kept.ok().flatten().is_none() {
        record(&handles());
    }
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
        .map_or_else(fresh_request_id, str::to_owned)
}

/// A new request id: 32 hex digits, a random half drawn once per process and a counter, so
/// ids are unique across instances without a system call per request.
fn fresh_request_id() -> String {
    static PREFIX: LazyLock<u64> = LazyLock::new(|| uuid::Uuid::new_v4().as_u64_pair().0);
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    format!("{:016x}{:016x}", *PREFIX, COUNTER.fetch_add(1, Ordering::Relaxed))
}

/// A method as a label: the standard ones by name, any other as `OTHER` (a client may send
/// any token as a method; labels must stay few).
fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::TRACE => "TRACE",
        Method::CONNECT => "CONNECT",
        _ => "OTHER",
    }
}

/// A status as a label, from a table made once.
fn status_label(status: axum::http::StatusCode) -> &'static str {
    static LABELS: LazyLock<Vec<&'static str>> =
        LazyLock::new(|| (0..1000u16).map(|code| &*Box::leak(code.to_string().into_boxed_str())).collect());
    LABELS.get(usize::from(status.as_u16())).copied().unwrap_or("other")
}

/// A matched route pattern as a `'static` label. The patterns are the router's own (a fixed
/// set, not what clients send), so this table stays as small as the router.
fn interned(route: &str) -> &'static str {
    static ROUTES: LazyLock<RwLock<HashMap<String, &'static str>>> = LazyLock::new(Default::default);
    if let Some(known) = ROUTES.read().unwrap_or_else(|e| e.into_inner()).get(route) {
        return known;
    }
    let mut routes = ROUTES.write().unwrap_or_else(|e| e.into_inner());
    routes.entry(route.to_owned()).or_insert_with(|| Box::leak(route.to_owned().into_boxed_str()))
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
