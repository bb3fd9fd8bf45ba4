//! What a browser says about where a request comes from and what it wants back.

use crate::error::AppError;
use axum::http::{HeaderMap, header, request::Parts};

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

/// A plain HTML form post (no JavaScript): it wants a redirect, not data.
pub fn is_plain_form(parts: &Parts) -> bool {
    parts.headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|v| v.contains("text/html"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).unwrap());
        }
        h
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
