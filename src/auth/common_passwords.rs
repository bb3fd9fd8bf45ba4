//! The 10,000 most common passwords (the top of the SecLists "10 million passwords" list,
//! OWASP SecLists, CC BY-SA 3.0), compared ignoring case (OWASP ASVS 6.2.4).
//! Server only: the list stays out of the WASM bundle.

use std::{collections::HashSet, sync::LazyLock};

static LIST: &str = include_str!("common_passwords.txt");

// An immutable table built once from data compiled into the binary: not application state.
static COMMON: LazyLock<HashSet<String>> =
    LazyLock::new(|| LIST.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_lowercase).collect());

/// True when `password` is on the list, ignoring case.
pub fn is_common(password: &str) -> bool {
    COMMON.contains(&password.to_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_has_ten_thousand_entries_and_knows_the_classics() {
        assert_eq!(LIST.lines().count(), 10_000);
        assert!(is_common("password"));
        assert!(is_common("PASSWORD1"));
        assert!(is_common("12345678"));
        assert!(!is_common("correct horse battery staple"));
    }
}
