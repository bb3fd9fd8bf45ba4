//! The server side of the browser door: the refresh cookie, the same-origin rule for
//! requests a cookie can reach, and the context server functions run in.

use super::service::{Admin, CurrentUser};
use crate::{error::AppError, server::AppState};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header, request::Parts};
use cookie::{Cookie, SameSite};
use leptos::prelude::use_context;
use leptos_axum::ResponseOptions;

/// How the refresh cookie is written: `HttpOnly`, `Path=/`, `SameSite=Lax` (so a link from an
/// email still finds the person signed in; every POST it reaches checks the origin), and
/// `Secure` with the `__Host-` prefix when served over HTTPS.
#[derive(Clone, Debug)]
pub struct RefreshCookie {
    secure: bool,
    max_age_seconds: u64,
}

impl RefreshCookie {
    pub fn new(https: bool, max_age_seconds: u64) -> Self {
        Self { secure: https, max_age_seconds }
    }

    pub fn name(&self) -> &'static str {
        if self.secure { "__Host-gatehouse_refresh" } else { "gatehouse_refresh" }
    }

    fn build(&self, value: String, max_age: i64) -> HeaderValue {
        let cookie = Cookie::build((self.name(), value))
            .http_only(true)
            .path("/")
            .same_site(SameSite::Lax)
            .secure(self.secure)
            .max_age(cookie::time::Duration::seconds(max_age))
            .build();
        HeaderValue::from_str(&cookie.to_string()).unwrap_or_else(|_| HeaderValue::from_static(""))
    }

    /// `Set-Cookie` carrying a new refresh token.
    pub fn set(&self, token: &str) -> HeaderValue {
        self.build(token.to_owned(), i64::try_from(self.max_age_seconds).unwrap_or(i64::MAX))
    }

    /// `Set-Cookie` removing the cookie.
    pub fn clear(&self) -> HeaderValue {
        self.build(String::new(), 0)
    }

    /// The refresh token in the request's cookies, if any.
    pub fn read(&self, headers: &HeaderMap) -> Option<String> {
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(Cookie::split_parse)
            .filter_map(Result::ok)
            .find(|c| c.name() == self.name() && !c.value().is_empty())
            .map(|c| c.value().to_owned())
    }
}

/// Refuses a request sent by another site. Browsers send `Sec-Fetch-Site` and `Origin` on
/// POSTs; a request with neither (curl, a test client) did not come from a hostile page.
pub fn require_same_origin(headers: &HeaderMap, public_url: Option<&str>) -> Result<(), AppError> {
    let refused = || AppError::Forbidden("Cross-site requests are not accepted here".into());
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok())
        && !matches!(site, "same-origin" | "none")
    {
        return Err(refused());
    }
    if let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        let expected = match public_url {
            Some(url) => url.to_owned(),
            None => {
                let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).ok_or_else(refused)?;
                format!("http://{host}")
            }
        };
        if origin != expected {
            return Err(refused());
        }
    }
    Ok(())
}

/// The application state, provided to every server function by the router.
pub fn state() -> Result<AppState, AppError> {
    use_context::<AppState>().ok_or_else(|| {
        tracing::error!("AppState missing from the server function context");
        AppError::Internal
    })
}

pub fn request_parts() -> Result<Parts, AppError> {
    use_context::<Parts>().ok_or_else(|| {
        tracing::error!("request parts missing from the server function context");
        AppError::Internal
    })
}

/// The request and state of a server function the refresh cookie can reach (or that sets
/// it), once the request has passed the same-origin check.
pub fn same_origin_context() -> Result<(Parts, AppState), AppError> {
    let parts = request_parts()?;
    let state = state()?;
    require_same_origin(&parts.headers, state.public_url.as_deref())?;
    Ok((parts, state))
}

/// The client's address for throttling: the socket peer, or what trusted proxies say.
pub fn client_ip(parts: &Parts, state: &AppState) -> std::net::IpAddr {
    state.trusted_proxies.client(crate::client_address::peer(parts), &parts.headers)
}

/// The caller of a protected server function, from its own `Authorization: Bearer` header.
/// The refresh cookie is never enough here.
pub async fn caller() -> Result<CurrentUser, AppError> {
    let parts = request_parts()?;
    let token = crate::api::bearer_token(&parts.headers)?;
    state()?.auth.authenticate(token).await
}

pub async fn admin() -> Result<Admin, AppError> {
    Admin::try_from(caller().await?)
}

/// A plain HTML form post (no JavaScript): it wants a redirect, not data.
pub fn is_plain_form(parts: &Parts) -> bool {
    parts.headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|v| v.contains("text/html"))
}

pub fn add_header(name: header::HeaderName, value: HeaderValue) {
    if let Some(response) = use_context::<ResponseOptions>() {
        response.append_header(name, value);
    }
}

/// The answers of server functions (`/fn/`) and the pages: never cached (they carry tokens
/// and account data); server-function errors with their own status and challenge. server_fn answers 500 for every
/// error (argument decoding failures included), so this layer reads the error back and sets
/// what `AppError::status` says. A real internal error stays 500; plain form posts,
/// redirected back to their page, keep their redirect.
pub async fn private_answers(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let is_server_fn = request.uri().path().starts_with("/fn/");
    let mut response = next.run(request).await;
    let is_page = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    if is_server_fn || is_page {
        // Pages are rendered for the person looking (from their cookie): no cache keeps them.
        response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if !is_server_fn || response.status() != StatusCode::INTERNAL_SERVER_ERROR {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, crate::api::BODY_LIMIT_BYTES).await.unwrap_or_default();
    if let Ok(error) = serde_json::from_slice::<AppError>(&bytes) {
        parts.status = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if let Some(challenge) = error.www_authenticate() {
            parts.headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
        }
        if let Some(seconds) = error.retry_after() {
            parts.headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
    }
    axum::response::Response::from_parts(parts, axum::body::Body::from(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn the_cookie_is_http_only_lax_and_secure_with_the_host_prefix_over_https() {
        let plain = RefreshCookie::new(false, 60).set("abc").to_str().unwrap().to_owned();
        assert!(plain.starts_with("gatehouse_refresh=abc"), "{plain}");
        assert!(plain.contains("HttpOnly") && plain.contains("SameSite=Lax") && plain.contains("Path=/"));
        assert!(!plain.contains("Secure"));
        let secure = RefreshCookie::new(true, 60).set("abc").to_str().unwrap().to_owned();
        assert!(secure.starts_with("__Host-gatehouse_refresh=abc") && secure.contains("Secure"), "{secure}");
        assert!(RefreshCookie::new(false, 60).clear().to_str().unwrap().contains("Max-Age=0"));
    }

    #[test]
    fn the_cookie_is_read_among_others() {
        let c = RefreshCookie::new(false, 60);
        assert_eq!(c.read(&headers(&[("cookie", "a=1; gatehouse_refresh=tok; b=2")])), Some("tok".into()));
        assert_eq!(c.read(&headers(&[("cookie", "gatehouse_refresh=")])), None);
        assert_eq!(c.read(&HeaderMap::new()), None);
    }

    #[test]
    fn cross_site_requests_are_refused() {
        let ok = headers(&[
            ("host", "127.0.0.1:3000"),
            ("origin", "http://127.0.0.1:3000"),
            ("sec-fetch-site", "same-origin"),
        ]);
        assert!(require_same_origin(&ok, None).is_ok());
        assert!(require_same_origin(&HeaderMap::new(), None).is_ok());
        let other_origin = headers(&[("host", "127.0.0.1:3000"), ("origin", "http://evil.example")]);
        assert!(require_same_origin(&other_origin, None).is_err());
        let cross_site = headers(&[("host", "127.0.0.1:3000"), ("sec-fetch-site", "cross-site")]);
        assert!(require_same_origin(&cross_site, None).is_err());
        let behind_tls = headers(&[("host", "auth.example.com"), ("origin", "https://auth.example.com")]);
        assert!(require_same_origin(&behind_tls, Some("https://auth.example.com")).is_ok());
    }
}
