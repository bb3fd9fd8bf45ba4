use super::FieldError;
use std::fmt;

const REQUIRED: FieldError = "Password is required";
const TOO_SHORT: FieldError = "Password must be at least 8 characters";
const TOO_LONG: FieldError = "Password must be at most 128 characters";
const IS_USERNAME: FieldError = "Password must not be the same as the username";
const COMMON: FieldError = "This password is too common; choose another";

/// Every message the parser gives (what a page may show for this field).
pub(super) const MESSAGES: [FieldError; 5] = [REQUIRED, TOO_SHORT, TOO_LONG, IS_USERNAME, COMMON];

/// Policy bounds in Unicode code points (NIST SP 800-63B).
pub const MIN_PASSWORD_CHARS: usize = 8;
pub const MAX_PASSWORD_CHARS: usize = 128;

/// A password that meets the policy. Its `Debug` never shows the secret, so it cannot reach a
/// log through a `{:?}` or a tracing field by accident.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    /// Checks length (code points of the text as typed), refuses a password equal to the
    /// username, and asks `is_common` whether it is a well-known one (both ignoring case).
    /// The server passes the common-password list; the browser, which does not carry that
    /// list, passes `|_| false` and leaves that check to the server.
    pub fn parse(raw: &str, username: Option<&str>, is_common: impl Fn(&str) -> bool) -> Result<Self, FieldError> {
        let chars = raw.chars().count();
        if chars == 0 {
            return Err(REQUIRED);
        }
        if chars < MIN_PASSWORD_CHARS {
            return Err(TOO_SHORT);
        }
        if chars > MAX_PASSWORD_CHARS {
            return Err(TOO_LONG);
        }
        let lowered = raw.to_lowercase();
        if username.is_some_and(|u| u.to_lowercase() == lowered) {
            return Err(IS_USERNAME);
        }
        if is_common(&lowered) {
            return Err(COMMON);
        }
        Ok(Self(raw.to_owned()))
    }

    /// The secret itself, for the hasher only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn never(_: &str) -> bool {
        false
    }

    #[test]
    fn counts_code_points_not_bytes() {
        // Eight two-byte characters are eight characters.
        assert!(Password::parse("éééééééé", None, never).is_ok());
        assert!(Password::parse("ééééééé", None, never).is_err());
        assert!(Password::parse(&"x".repeat(128), None, never).is_ok());
        assert!(Password::parse(&"x".repeat(129), None, never).is_err());
    }

    #[test]
    fn refuses_the_username_ignoring_case() {
        assert!(Password::parse("AliceSmith", Some("alicesmith"), never).is_err());
        assert!(Password::parse("AliceSmith2", Some("alicesmith"), never).is_ok());
    }

    #[test]
    fn asks_the_blocklist_with_the_lowercased_password() {
        let common = |p: &str| p == "password1";
        assert!(Password::parse("PassWord1", None, common).is_err());
        assert!(Password::parse("correct horse", None, common).is_ok());
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let p = Password::parse("hunter2hunter2", None, never).unwrap();
        assert!(!format!("{p:?}").contains("hunter2"));
    }
}
