//! Access-token verification: arbitrary strings, and valid tokens with bytes flipped, are
//! all refused (never a panic, never an acceptance of something that was not issued).
#![no_main]

use gatehouse::auth::tokens::TokenKeys;
use libfuzzer_sys::fuzz_target;
use std::sync::LazyLock;

static KEYS: LazyLock<TokenKeys> =
    LazyLock::new(|| TokenKeys::new(b"fuzzing-secret-0123456789abcdefghijkl", "gatehouse", "gatehouse", 900));
static VALID: LazyLock<String> = LazyLock::new(|| KEYS.issue(uuid::Uuid::now_v7(), uuid::Uuid::now_v7()).unwrap());

fuzz_target!(|data: &[u8]| {
    // 1. The input as a token.
    if let Ok(text) = std::str::from_utf8(data) {
        assert!(KEYS.verify(text).is_err() || text == VALID.as_str(), "accepted a token we did not issue");
        // As the Authorization header it would arrive in.
        let mut headers = axum::http::HeaderMap::new();
        if let Ok(value) = axum::http::HeaderValue::from_str(text) {
            headers.insert(axum::http::header::AUTHORIZATION, value);
            if let Ok(token) = gatehouse::api::bearer_token(&headers) {
                let _ = KEYS.verify(token);
            }
        }
    }
    // 2. A real token with the input XORed into it: any change must be refused.
    let mut bytes = VALID.as_bytes().to_vec();
    for (i, b) in data.iter().enumerate() {
        let at = i % bytes.len();
        bytes[at] ^= b;
    }
    if let Ok(tampered) = String::from_utf8(bytes) {
        if tampered != *VALID {
            assert!(KEYS.verify(&tampered).is_err(), "accepted a tampered token: {tampered}");
        }
    }
});
