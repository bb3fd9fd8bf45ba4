//! Bearer credentials (RFC 6750 §2.1), read the same way by the JSON API and the server
//! functions.

use crate::error::AppError;
use axum::http::{HeaderMap, header};

/// The bearer token of a request. No `Authorization` header, or another scheme: no
/// credentials at all. The scheme name is matched ignoring case (RFC 7235 §2.1).
pub fn bearer_token(headers: &HeaderMap) -> Result<&str, AppError> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let (Some(value), None) = (values.next(), values.next()) else {
        return Err(if headers.contains_key(header::AUTHORIZATION) {
            AppError::InvalidToken
        } else {
            AppError::Unauthenticated
        });
    };
    let value = value.to_str().map_err(|_| AppError::InvalidToken)?;
    let (scheme, token) = value.split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(AppError::Unauthenticated);
    }
    let token = token.trim();
    if token.is_empty() {
        return Err(AppError::InvalidToken);
    }
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn auth(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        h
    }

    #[test]
    fn the_bearer_scheme_ignores_case() {
        assert_eq!(bearer_token(&auth("bEaReR abc.def")).unwrap(), "abc.def");
    }

    #[test]
    fn missing_other_scheme_and_empty_tokens_are_told_apart() {
        assert_eq!(bearer_token(&HeaderMap::new()), Err(AppError::Unauthenticated));
        assert_eq!(bearer_token(&auth("Basic dXNlcjpwYXNz")), Err(AppError::Unauthenticated));
        assert_eq!(bearer_token(&auth("Bearer ")), Err(AppError::InvalidToken));
        assert_eq!(bearer_token(&auth("Bearer")), Err(AppError::InvalidToken));
    }
}
