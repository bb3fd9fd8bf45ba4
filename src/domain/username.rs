use super::FieldError;
use std::fmt;

const REQUIRED: FieldError = "Username is required";
const SPACES: FieldError = "Username must not start or end with a space";
const TOO_SHORT: FieldError = "Username must be at least 3 characters";
const TOO_LONG: FieldError = "Username must be at most 32 characters";
const CHARACTERS: FieldError = "Username may contain only letters, digits, '_', '.' and '-'";

/// Every message the parser gives (what a page may show for this field).
pub(super) const MESSAGES: [FieldError; 5] = [REQUIRED, SPACES, TOO_SHORT, TOO_LONG, CHARACTERS];

/// A username as typed at registration: 3 to 32 ASCII letters, digits, `_`, `.`, `-`.
/// It keeps its casing for display; accounts are matched ignoring ASCII case.
#[derive(Clone, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    pub const MIN_LEN: usize = 3;
    pub const MAX_LEN: usize = 32;

    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        if raw.is_empty() {
            return Err(REQUIRED);
        }
        if raw.trim() != raw {
            return Err(SPACES);
        }
        if raw.len() < Self::MIN_LEN {
            return Err(TOO_SHORT);
        }
        if raw.len() > Self::MAX_LEN {
            return Err(TOO_LONG);
        }
        if !raw.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-')) {
            return Err(CHARACTERS);
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Username({:?})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_letters_digits_and_the_three_marks() {
        for ok in ["abc", "Alice_01", "a.b-c", &"x".repeat(32)] {
            assert_eq!(Username::parse(ok).unwrap().as_str(), ok);
        }
    }

    #[test]
    fn refuses_wrong_lengths_characters_and_surrounding_spaces() {
        for bad in ["", "ab", &"x".repeat(33), "al ice", " alice", "alice ", "élodie", "a@b", "a/b"] {
            assert!(Username::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn display_keeps_the_case_as_typed() {
        let u = Username::parse("Alice").unwrap();
        assert_eq!(u.to_string(), "Alice");
    }
}
