//! Email parsing: never panics; an accepted address has one `@`, a dotted domain, at most
//! 254 characters, and parses again to itself.
#![no_main]

use gatehouse::domain::Email;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|raw: &str| {
    if let Ok(Some(email)) = Email::parse_optional(raw) {
        let s = email.as_str();
        assert!(s.chars().count() <= Email::MAX_LEN);
        assert_eq!(s.matches('@').count(), 1);
        let (local, domain) = s.split_once('@').unwrap();
        assert!(!local.is_empty() && domain.contains('.'));
        assert_eq!(Email::parse(s).unwrap().as_str(), s);
    }
});
