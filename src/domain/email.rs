use super::FieldError;

const TOO_LONG: FieldError = "Email must be at most 254 characters";
const SPACES: FieldError = "Email must not contain spaces";
const NOT_AN_ADDRESS: FieldError = "Enter an email address like name@example.com";

/// Every message the parser gives (what a page may show for this field).
pub(super) const MESSAGES: [FieldError; 3] = [TOO_LONG, SPACES, NOT_AN_ADDRESS];

/// An email address: at most 254 characters, one `@`, a non-empty local part and a dotted
/// domain. Unique ignoring case; kept as typed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub const MAX_LEN: usize = 254;

    /// `""` means no email at all.
    pub fn parse_optional(raw: &str) -> Result<Option<Self>, FieldError> {
        if raw.is_empty() {
            return Ok(None);
        }
        Self::parse(raw).map(Some)
    }

    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        if raw.chars().count() > Self::MAX_LEN {
            return Err(TOO_LONG);
        }
        if raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(SPACES);
        }
        let mut parts = raw.split('@');
        let (Some(local), Some(domain), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(NOT_AN_ADDRESS);
        };
        let dotted = domain.split('.').count() >= 2 && domain.split('.').all(|l| !l.is_empty());
        if local.is_empty() || !dotted {
            return Err(NOT_AN_ADDRESS);
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_means_absent() {
        assert_eq!(Email::parse_optional("").unwrap(), None);
    }

    #[test]
    fn accepts_ordinary_addresses() {
        for ok in ["a@b.co", "first.last+tag@mail.example.org", "ünï@exämple.de"] {
            assert!(Email::parse(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn refuses_malformed_addresses() {
        let long = format!("{}@example.com", "a".repeat(250));
        for bad in ["plain", "@example.com", "a@b", "a@@b.com", "a@b@c.com", "a@.com", "a@b.", "a b@c.com", &long] {
            assert!(Email::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }
}
