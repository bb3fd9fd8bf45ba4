//! Password policy: never panics, and whatever it accepts respects the length bounds and is
//! not the username (ignoring case). The input is `username \0 password`.
#![no_main]

use gatehouse::{
    auth::service::AuthService,
    domain::{MAX_PASSWORD_CHARS, MIN_PASSWORD_CHARS},
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|raw: &str| {
    let (username, password) = raw.split_once('\0').unwrap_or(("", raw));
    if let Ok(accepted) = AuthService::parse_password(password, Some(username)) {
        let chars = accepted.expose().chars().count();
        assert!((MIN_PASSWORD_CHARS..=MAX_PASSWORD_CHARS).contains(&chars), "{chars} chars accepted");
        assert!(!accepted.expose().eq_ignore_ascii_case(username) || username.is_empty());
    }
});
