use super::FieldError;

const TOO_LONG: FieldError = "Full name must be at most 128 characters";
const CONTROL: FieldError = "Full name must not contain control characters";
const BLANK: FieldError = "Full name must not be only spaces";

/// Every message the parser gives (what a page may show for this field).
pub(super) const MESSAGES: [FieldError; 3] = [TOO_LONG, CONTROL, BLANK];

/// A display name: optional, at most 128 characters, no control characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FullName(String);

impl FullName {
    pub const MAX_CHARS: usize = 128;

    /// `""` means no name at all.
    pub fn parse_optional(raw: &str) -> Result<Option<Self>, FieldError> {
        if raw.is_empty() {
            return Ok(None);
        }
        if raw.chars().count() > Self::MAX_CHARS {
            return Err(TOO_LONG);
        }
        if raw.chars().any(char::is_control) {
            return Err(CONTROL);
        }
        if raw.trim().is_empty() {
            return Err(BLANK);
        }
        Ok(Some(Self(raw.to_owned())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_is_absent_and_blank_or_control_is_refused() {
        assert_eq!(FullName::parse_optional("").unwrap(), None);
        assert!(FullName::parse_optional("   ").is_err());
        assert!(FullName::parse_optional("a\u{0}b").is_err());
        assert_eq!(FullName::parse_optional("Ada Lovelace").unwrap().unwrap().as_str(), "Ada Lovelace");
    }
}
