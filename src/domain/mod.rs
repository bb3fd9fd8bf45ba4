//! Parsed values: raw strings from a form or a request become these once, at the boundary.
//! No I/O here, so the same parsers run on the server and in the browser.

mod email;
mod full_name;
mod next_path;
mod password;
mod role;
mod username;

pub use email::Email;
pub use full_name::FullName;
pub use next_path::next_path;
pub use password::{MAX_PASSWORD_CHARS, MIN_PASSWORD_CHARS, Password};
pub use role::Role;
pub use username::Username;

/// Why a raw value was refused: a sentence fit to show next to the field.
pub type FieldError = &'static str;

/// Whether `message` is one the parser of `field` gives. A page shows an error that arrived
/// in its URL (a form posted without JavaScript) only when it is: a crafted link cannot put
/// words of its own on a trusted page.
pub fn is_field_message(field: &str, message: &str) -> bool {
    let known: &[FieldError] = match field {
        "username" => &username::MESSAGES,
        "password" => &password::MESSAGES,
        "email" => &email::MESSAGES,
        "full_name" => &full_name::MESSAGES,
        _ => &[],
    };
    known.contains(&message)
}

/// RFC 3986 percent-encoding of everything but the unreserved characters (`A-Z a-z 0-9 - . _
/// ~`): for a value inside a URL (a query parameter, an `otpauth://` label, a `data:` URL).
pub fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_encoding_keeps_only_the_unreserved_characters() {
        assert_eq!(percent_encode("Acme & Co/ü~-._"), "Acme%20%26%20Co%2F%C3%BC~-._");
    }

    #[test]
    fn every_message_a_parser_gives_is_known_for_its_field() {
        for bad in ["", " a", "ab", &"x".repeat(33), "a b!"] {
            assert!(is_field_message("username", Username::parse(bad).unwrap_err()), "{bad:?}");
        }
        for bad in ["", "short", &"p".repeat(129), "Alice_B", "password1"] {
            let message = Password::parse(bad, Some("alice_b"), |p| p == "password1").unwrap_err();
            assert!(is_field_message("password", message), "{bad:?}");
        }
        for bad in [&format!("{}@example.com", "a".repeat(250)), "a b@example.com", "nobody", "a@b"] {
            assert!(is_field_message("email", Email::parse_optional(bad).unwrap_err()), "{bad:?}");
        }
        for bad in [&"n".repeat(129), "a\u{7}b", "   "] {
            assert!(is_field_message("full_name", FullName::parse_optional(bad).unwrap_err()), "{bad:?}");
        }
        assert!(!is_field_message("username", "Call 555-0100 to verify your account"));
        assert!(!is_field_message("role", Username::parse("").unwrap_err()));
    }
}
