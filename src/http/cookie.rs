//! The browser's `HttpOnly` cookies: the refresh cookie, the only place the browser keeps a
//! refresh token, and the second-factor cookie, which carries a login's `mfa_token` between
//! its password step and its code step (JavaScript never sees either).

use axum::http::{HeaderMap, HeaderValue, header};
use cookie::{Cookie, SameSite};

/// How one of the cookies is written: `HttpOnly`, `Path=/`, and `Secure` with the `__Host-`
/// prefix when served over HTTPS.
#[derive(Clone, Debug)]
pub struct PrivateCookie {
    name: &'static str,
    secure: bool,
    max_age_seconds: u64,
    same_site: SameSite,
}

/// The refresh cookie's type (the name it has always had).
pub type RefreshCookie = PrivateCookie;

impl PrivateCookie {
    /// The refresh cookie: `SameSite=Lax`, so a link from an email still finds the person
    /// signed in (every POST it reaches checks the origin).
    pub fn new(https: bool, max_age_seconds: u64) -> Self {
        let name = if https { "__Host-gatehouse_refresh" } else { "gatehouse_refresh" };
        Self { name, secure: https, max_age_seconds, same_site: SameSite::Lax }
    }

    /// The second-factor cookie: `SameSite=Strict`, for as long as a login waits for its code.
    pub fn mfa(https: bool, max_age_seconds: u64) -> Self {
        let name = if https { "__Host-gatehouse_mfa" } else { "gatehouse_mfa" };
        Self { name, secure: https, max_age_seconds, same_site: SameSite::Strict }
    }

    pub fn name(&self) -> &'static str {
        self.name
    }

    fn build(&self, value: String, max_age: i64) -> HeaderValue {
        let cookie = Cookie::build((self.name(), value))
            .http_only(true)
            .path("/")
            .same_site(self.same_site)
            .secure(self.secure)
            .max_age(cookie::time::Duration::seconds(max_age))
            .build();
        HeaderValue::from_str(&cookie.to_string()).unwrap_or_else(|_| HeaderValue::from_static(""))
    }

    /// `Set-Cookie` carrying a new token.
    pub fn set(&self, token: &str) -> HeaderValue {
        self.build(token.to_owned(), i64::try_from(self.max_age_seconds).unwrap_or(i64::MAX))
    }

    /// `Set-Cookie` removing the cookie.
    pub fn clear(&self) -> HeaderValue {
        self.build(String::new(), 0)
    }

    /// The token in the request's cookies, if any.
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
        let mfa = PrivateCookie::mfa(true, 300).set("t").to_str().unwrap().to_owned();
        assert!(mfa.starts_with("__Host-gatehouse_mfa=t") && mfa.contains("SameSite=Strict"), "{mfa}");
        assert!(mfa.contains("HttpOnly") && mfa.contains("Max-Age=300") && mfa.contains("Secure"), "{mfa}");
    }

    #[test]
    fn the_cookie_is_read_among_others() {
        let c = RefreshCookie::new(false, 60);
        assert_eq!(c.read(&cookies("a=1; gatehouse_refresh=tok; b=2")), Some("tok".into()));
        assert_eq!(c.read(&cookies("gatehouse_refresh=")), None);
        assert_eq!(c.read(&HeaderMap::new()), None);
    }
}
