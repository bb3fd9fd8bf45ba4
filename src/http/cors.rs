//! CORS for the JSON API (`GATEHOUSE_CORS_ORIGINS`): a single-page app on another origin may
//! call `/api/v1` with its bearer token. Exact origins only; never a wildcard and never
//! `Access-Control-Allow-Credentials` (the API takes bearer tokens, not cookies); any other
//! origin gets no CORS header at all. Pages and server functions never get any.

use axum::{
    extract::{Request, State},
    http::{HeaderValue, Method, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use std::sync::Arc;

/// The origins allowed to call the API from a browser.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CorsOrigins(Vec<HeaderValue>);

impl CorsOrigins {
    /// Parses a comma-separated list of origins such as `https://app.example.com,
    /// http://localhost:5173`: a scheme, a host and maybe a port; no path, no trailing slash.
    pub fn parse(list: &str) -> Result<Self, String> {
        let mut origins = Vec::new();
        for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let rest = item.strip_prefix("https://").or_else(|| item.strip_prefix("http://"));
            let valid = rest.is_some_and(|host| {
                !host.is_empty()
                    && host.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'))
            });
            let value = HeaderValue::from_str(item).ok().filter(|_| valid);
            origins.push(value.ok_or_else(|| format!("{item:?} is not an origin like https://app.example.com"))?);
        }
        Ok(Self(origins))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The methods each route answers, for preflights: a browser is told exactly what the path
/// it asks about allows.
#[derive(Clone, Debug, Default)]
pub struct RouteMethods(Vec<(Vec<String>, HeaderValue)>);

impl RouteMethods {
    /// From (path pattern, methods) pairs; a `{name}` segment of a pattern matches any one
    /// segment of a path.
    pub fn new<'a>(routes: impl IntoIterator<Item = (&'a str, Vec<&'a str>)>) -> Self {
        let routes = routes
            .into_iter()
            .filter_map(|(pattern, methods)| {
                let segments = pattern.split('/').map(str::to_owned).collect();
                HeaderValue::from_str(&methods.join(", ")).ok().map(|value| (segments, value))
            })
            .collect();
        Self(routes)
    }

    fn for_path(&self, path: &str) -> Option<&HeaderValue> {
        let segments: Vec<&str> = path.split('/').collect();
        self.0.iter().find_map(|(pattern, methods)| {
            let matches = pattern.len() == segments.len()
                && pattern.iter().zip(&segments).all(|(p, s)| p == s || (p.starts_with('{') && !s.is_empty()));
            matches.then_some(methods)
        })
    }
}

/// The CORS policy of the JSON API.
#[derive(Clone, Debug, Default)]
pub struct Cors {
    pub origins: CorsOrigins,
    /// Paths as the API's router sees them (without its prefix).
    pub methods: RouteMethods,
}

/// Answers preflights of allowed origins (with the methods of the path asked about; a path
/// with no route gets the API's 404) and marks the API's answers for them.
pub async fn cors(State(cors): State<Arc<Cors>>, request: Request, next: Next) -> Response {
    let origin = request.headers().get(header::ORIGIN).filter(|origin| cors.origins.0.contains(origin)).cloned();
    let preflight =
        request.method() == Method::OPTIONS && request.headers().contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    let methods = cors.methods.for_path(request.uri().path()).cloned();
    let mut response = match (&origin, preflight, methods) {
        (Some(_), true, Some(methods)) => {
            let mut response = StatusCode::NO_CONTENT.into_response();
            let headers = response.headers_mut();
            headers.insert(header::ACCESS_CONTROL_ALLOW_METHODS, methods);
            headers
                .insert(header::ACCESS_CONTROL_ALLOW_HEADERS, HeaderValue::from_static("Authorization, Content-Type"));
            headers.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
            response
        }
        _ => next.run(request).await,
    };
    let headers = response.headers_mut();
    // The answer depends on the Origin: no cache may hand one origin's answer to another.
    headers.append(header::VARY, HeaderValue::from_static("Origin"));
    if let Some(origin) = origin {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        headers.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static("Location, Retry-After, WWW-Authenticate, X-Request-Id"),
        );
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_exact_scheme_host_and_port() {
        let parsed = CorsOrigins::parse("https://app.example.com, http://localhost:5173").unwrap();
        assert_eq!(parsed.0.len(), 2);
        assert!(CorsOrigins::parse("").unwrap().is_empty());
        for bad in ["*", "app.example.com", "https://app.example.com/", "https://a.example/path", "ftp://x"] {
            assert!(CorsOrigins::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn each_path_gets_the_methods_of_its_route() {
        let routes = RouteMethods::new([("/users/me", vec!["GET"]), ("/users/{id}", vec!["GET", "PATCH"])]);
        assert_eq!(routes.for_path("/users/me").unwrap(), "GET");
        assert_eq!(routes.for_path("/users/0192").unwrap(), "GET, PATCH");
        assert!(routes.for_path("/users/").is_none() && routes.for_path("/users/a/b").is_none());
        assert!(routes.for_path("/nothing").is_none());
    }
}
