//! The refresh cookie: the only place the browser keeps a refresh token.

use axum::http::{HeaderMap, HeaderValue, header};
use cookie::{Cookie, SameSite};

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

#[cfg(test)]
mod tests {
    use super::*;

    fn cookies(value: &str) -> HeaderMap {
        HeaderMap::from_iter([(header::COOKIE, HeaderValue::from_str(value).unwrap())])
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
        assert_eq!(c.read(&cookies("a=1; gatehouse_refresh=tok; b=2")), Some("tok".into()));
        assert_eq!(c.read(&cookies("gatehouse_refresh=")), None);
        assert_eq!(c.read(&HeaderMap::new()), None);
    }
}
