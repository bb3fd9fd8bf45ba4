//! Security headers on every response. Pages get a Content-Security-Policy whose only inline
//! scripts are Leptos's own, carrying the per-response nonce (set by the shell, which knows
//! it); everything else gets a policy that allows nothing at all.

use axum::{
    extract::{Request, State},
    http::{HeaderName, HeaderValue, header},
    middleware::Next,
    response::Response,
};
use std::sync::Arc;

/// The policy of responses that are not pages (JSON, files, errors): nothing may load.
pub const LOCKED_DOWN_CSP: &str = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// The policy of the API documentation (Swagger UI, served from our own files): scripts,
/// styles and requests from this origin only, nothing inline, no `eval`.
pub const DOCS_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                            font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; \
                            form-action 'self'; frame-ancestors 'none'";

/// The policy of a page whose inline scripts carry `nonce`. No `unsafe-inline`, no
/// `unsafe-eval`: `wasm-unsafe-eval` only lets the browser compile the WASM bundle.
pub fn page_csp(nonce: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; style-src 'self'; \
         img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; \
         form-action 'self'; frame-ancestors 'none'"
    )
}

/// What every response carries, decided once at start-up.
#[derive(Clone, Debug)]
pub struct SecurityHeaders {
    fixed: Vec<(HeaderName, HeaderValue)>,
}

impl SecurityHeaders {
    /// `https`: served over HTTPS (`GATEHOUSE_PUBLIC_URL`), which adds HSTS.
    pub fn new(https: bool) -> Self {
        let mut fixed = vec![
            (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
            // Not `no-referrer`: browsers then send `Origin: null` on same-origin POSTs, and the
            // origin check of cookie-carrying requests needs the real origin.
            (header::REFERRER_POLICY, HeaderValue::from_static("same-origin")),
            (
                HeaderName::from_static("permissions-policy"),
                HeaderValue::from_static("camera=(), microphone=(), geolocation=(), payment=(), usb=(), serial=()"),
            ),
            (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
            (HeaderName::from_static("cross-origin-opener-policy"), HeaderValue::from_static("same-origin")),
            (HeaderName::from_static("cross-origin-resource-policy"), HeaderValue::from_static("same-origin")),
        ];
        if https {
            fixed.push((header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static("max-age=63072000")));
        }
        Self { fixed }
    }
}

/// Adds the security headers; keeps a page's own nonce-bearing CSP and locks down the rest.
pub async fn security_headers(State(security): State<Arc<SecurityHeaders>>, request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    for (name, value) in &security.fixed {
        headers.insert(name.clone(), value.clone());
    }
    if headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        return response;
    }
    // Whatever its status: the 403 and 404 pages are Leptos pages too, and hydrate like the rest.
    let html = headers.get(header::CONTENT_TYPE).is_some_and(|v| v.as_bytes().starts_with(b"text/html"));
    if html {
        return with_nonce_from_page(response).await;
    }
    response.headers_mut().insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(LOCKED_DOWN_CSP));
    response
}

/// A page rendered by Leptos whose policy did not reach its response. Without a policy naming
/// its nonce the page's scripts are blocked and it never becomes interactive (a 403 page that
/// went out locked down once failed CI that way). The one cause found, a static file taking the
/// page's headers through a stray reactive owner, is closed by [`super::owner`]; this stays as
/// the second line. Its nonce is the one Leptos wrote on the first `<script>` of the `<head>`
/// (before any content of the page): that is the policy the shell would have set. Anything
/// else gets the locked-down policy.
async fn with_nonce_from_page(response: Response) -> Response {
    const MAX_PAGE_BYTES: usize = 4 * 1024 * 1024;
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_PAGE_BYTES).await else {
        parts.headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(LOCKED_DOWN_CSP));
        return Response::from_parts(parts, axum::body::Body::empty());
    };
    let policy = head_script_nonce(&bytes).and_then(|nonce| HeaderValue::from_str(&page_csp(nonce)).ok());
    let status = parts.status.as_u16();
    tracing::warn!(status, recovered = policy.is_some(), "a page was answered without its CSP; set from its nonce");
    parts.headers.insert(header::CONTENT_SECURITY_POLICY, policy.unwrap_or(HeaderValue::from_static(LOCKED_DOWN_CSP)));
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, axum::body::Body::from(bytes))
}

/// The nonce of the first `<script nonce="…">` inside `<head>`, if it is a plain token.
fn head_script_nonce(page: &[u8]) -> Option<&str> {
    let page = std::str::from_utf8(page).ok()?;
    let head = &page[..page.find("</head>")?];
    let script = head.find("<script")?;
    let tag = &head[script..script + head[script..].find('>')?];
    let value = tag.split("nonce=\"").nth(1)?.split('"').next()?;
    let plain = !value.is_empty()
        && value.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'+' | b'/' | b'='));
    plain.then_some(value)
}

/// Called while a page renders on the server: puts the CSP with this response's nonce on it.
pub fn set_page_csp() {
    use leptos::prelude::use_context;
    let (Some(nonce), Some(response)) = (leptos::nonce::use_nonce(), use_context::<leptos_axum::ResponseOptions>())
    else {
        tracing::warn!("a page rendered without a nonce or response options to put its CSP on");
        return;
    };
    if let Ok(value) = HeaderValue::from_str(&page_csp(&nonce)) {
        response.insert_header(header::CONTENT_SECURITY_POLICY, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pages_nonce_is_read_from_the_first_script_of_its_head_only() {
        let page = br#"<!DOCTYPE html><html><head><meta charset="utf-8"><script nonce="AbC-12_x" type="module">x</script></head><body><script nonce="evil">y</script></body></html>"#;
        assert_eq!(head_script_nonce(page), Some("AbC-12_x"));
        let no_script = br#"<html><head></head><body><script nonce="evil">y</script></body></html>"#;
        assert_eq!(head_script_nonce(no_script), None);
        let odd = br#"<html><head><script nonce="a'b">x</script></head></html>"#;
        assert_eq!(head_script_nonce(odd), None);
    }

    #[test]
    fn page_policies_allow_the_nonce_and_nothing_inline() {
        let csp = page_csp("abc123");
        assert!(csp.contains("script-src 'self' 'nonce-abc123' 'wasm-unsafe-eval'"));
        assert!(csp.contains("frame-ancestors 'none'"));
        assert!(!csp.contains("unsafe-inline") && !csp.contains("'unsafe-eval'"));
    }

    async fn answered(status: axum::http::StatusCode, content_type: &'static str, body: &'static str) -> Response {
        use axum::{Router, middleware::from_fn_with_state, routing::get};
        use tower::ServiceExt;
        let app = Router::new()
            .route("/", get(move || async move { (status, [(header::CONTENT_TYPE, content_type)], body) }))
            .layer(from_fn_with_state(Arc::new(SecurityHeaders::new(false)), security_headers));
        app.oneshot(Request::builder().uri("/").body(axum::body::Body::empty()).unwrap()).await.unwrap()
    }

    fn policy(response: &Response) -> &str {
        response.headers()[header::CONTENT_SECURITY_POLICY].to_str().unwrap()
    }

    #[tokio::test]
    async fn a_page_answered_without_its_policy_gets_it_from_its_nonce_whatever_its_status() {
        use axum::http::StatusCode;
        const PAGE: &str = r#"<!DOCTYPE html><html><head><script nonce="n0nce" type="module">x</script></head><body>page</body></html>"#;
        for status in [StatusCode::OK, StatusCode::FORBIDDEN, StatusCode::NOT_FOUND] {
            let response = answered(status, "text/html; charset=utf-8", PAGE).await;
            assert_eq!(response.status(), status);
            assert_eq!(policy(&response), page_csp("n0nce"), "{status}");
            let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
            assert_eq!(&body[..], PAGE.as_bytes(), "the page itself is untouched");
        }
        // HTML without a nonce, and anything that is not HTML, allows nothing.
        let bare = answered(StatusCode::FORBIDDEN, "text/html", "<html><head></head><body>x</body></html>").await;
        assert_eq!(policy(&bare), LOCKED_DOWN_CSP);
        let json = answered(StatusCode::OK, "application/json", PAGE).await;
        assert_eq!(policy(&json), LOCKED_DOWN_CSP);
    }

    #[test]
    fn hsts_only_over_https() {
        let has_hsts = |s: &SecurityHeaders| s.fixed.iter().any(|(n, _)| n == header::STRICT_TRANSPORT_SECURITY);
        assert!(has_hsts(&SecurityHeaders::new(true)));
        assert!(!has_hsts(&SecurityHeaders::new(false)));
    }
}
