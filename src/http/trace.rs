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
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::Instant,
};
use tracing::Instrument as _;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Runs the rest of the request inside a `request` span (or, for JSON lines, as the request
/// [`with_serving`] names), then logs how it ended.
pub async fn request_span(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = interned(request.extensions().get::<MatchedPath>().map_or("(unmatched)", MatchedPath::as_str));
    let method = method_label(request.method());
    let id = request_id(request.headers());
    let without_spans = WITHOUT_SPANS.load(Ordering::Relaxed);
    let (mut response, id) = if without_spans {
        let (response, serving) = in_serving(Serving { method, route, id }, next.run(request)).await;
        (response, serving.map(|serving| serving.id).unwrap_or_default())
    } else {
        let span = tracing::info_span!("request", method = %method, route = %route, id = %id);
        (next.run(request).instrument(span).await, id)
    };
    let elapsed = started.elapsed();
    let status = response.status();
    // The request's own line names its fields itself. Its latency in ms to the microsecond
    // (a float's every digit says nothing more).
    let latency_ms = (elapsed.as_secs_f64() * 1e6).round() / 1000.0;
    let status_code = status.as_u16();
    if without_spans {
        // Strings as strings: a JSON line takes them as they are, without formatting them.
        tracing::info!(method, route, id = id.as_str(), status = status_code, latency_ms, "request done");
    } else {
        // Text lines show `%` values unquoted, as the span's.
        tracing::info!(method = %method, route = %route, id = %id, status = status_code, latency_ms, "request done");
    }
    count(method, route, status_label(status), elapsed.as_secs_f64());
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    response
}

/// The request a thread is serving, as log lines name it, when lines are not written
/// through tracing spans ([`serve_without_spans`]).
pub struct Serving {
    pub method: &'static str,
    pub route: &'static str,
    pub id: String,
}

thread_local! {
    static SERVING: RefCell<Option<Serving>> = const { RefCell::new(None) };
}

static WITHOUT_SPANS: AtomicBool = AtomicBool::new(false);

/// From now on requests are served without a `request` span: a line written while serving
/// one finds it with [`with_serving`]. For a log layer that reads it there (the JSON lines):
/// a span costs a slot in the span registry, its fields stored, and the registry's stack
/// pushed and popped at every poll of the request's future.
pub fn serve_without_spans() {
    WITHOUT_SPANS.store(true, Ordering::Relaxed);
}

/// Calls `f` with the request this thread is serving, if any.
pub fn with_serving(f: impl FnOnce(Option<&Serving>)) {
    let mut f = Some(f);
    let _ = SERVING.try_with(|serving| {
        if let (Ok(serving), Some(f)) = (serving.try_borrow(), f.take()) {
            f(serving.as_ref());
        }
    });
    if let Some(f) = f {
        f(None);
    }
}

/// Polls `future` with `serving` as the thread's request during each poll, and gives it back
/// with the output (always, unless the thread's slot was gone in the middle of a poll).
pub(crate) async fn in_serving<F: Future>(serving: Serving, future: F) -> (F::Output, Option<Serving>) {
    let mut serving = Some(serving);
    let mut future = std::pin::pin!(future);
    let output = std::future::poll_fn(|cx| {
        let _entered = Entered::new(&mut serving);
        future.as_mut().poll(cx)
    })
    .await;
    (output, serving)
}

/// The request's fields moved into the thread's slot for one poll, and back when it ends
/// (a panicking poll included).
struct Entered<'a> {
    fields: &'a mut Option<Serving>,
    swapped: bool,
}

impl<'a> Entered<'a> {
    fn new(fields: &'a mut Option<Serving>) -> Self {
        let swapped = swap_serving(fields);
        Self { fields, swapped }
    }
}

impl Drop for Entered<'_> {
    fn drop(&mut self) {
        if self.swapped {
            swap_serving(self.fields);
        }
    }
}

fn swap_serving(fields: &mut Option<Serving>) -> bool {
    SERVING
        .try_with(|serving| serving.try_borrow_mut().map(|mut serving| std::mem::swap(&mut *serving, fields)).is_ok())
        .unwrap_or(false)
}

/// Counts a request in `http_requests_total` and `http_request_duration_seconds`. The
/// handles of each (method, route, status) are kept by each thread once looked up: asking the
/// recorder for them builds a key (two allocations) and looks it up in a shared map, for
/// every request. The labels are `'static` strings from fixed tables, so their addresses and
/// lengths stand for them. The recorder is installed before the first request is served (a
/// handle looked up before it would count nothing), and it never drops idle metrics (no
/// `idle_timeout`: a dropped one would live on in these handles, counted and never shown).
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

    fn serving_id() -> Option<String> {
        let mut id = None;
        with_serving(|serving| id = serving.map(|serving| serving.id.clone()));
        id
    }

    #[tokio::test]
    async fn a_request_is_the_threads_during_its_polls_only_and_comes_back_after() {
        let serving = Serving { method: "GET", route: "/me", id: "outer".into() };
        let (seen, back) = in_serving(serving, async {
            let first = serving_id();
            tokio::task::yield_now().await;
            let inner = Serving { method: "GET", route: "/me", id: "inner".into() };
            let (nested, inner) = in_serving(inner, async { serving_id() }).await;
            (first, serving_id(), nested, inner.map(|inner| inner.id))
        })
        .await;
        assert_eq!(seen.0.as_deref(), Some("outer"));
        assert_eq!(seen.1.as_deref(), Some("outer"), "after a yield");
        assert_eq!(seen.2.as_deref(), Some("inner"));
        assert_eq!(seen.3.as_deref(), Some("inner"), "the inner request's fields came back");
        assert_eq!(back.map(|back| back.id).as_deref(), Some("outer"));
        assert_eq!(serving_id(), None, "nothing is served between requests");
    }

    #[test]
    fn a_panicking_poll_leaves_no_request_behind() {
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let serving = Serving { method: "GET", route: "/boom", id: "boom".into() };
            runtime.block_on(in_serving(serving, async { panic!("a handler panics") }))
        }));
        assert!(panicked.is_err());
        assert_eq!(serving_id(), None);
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
