/// Where to go after logging in: `next` when it is a local path, else `/me`. Anything that
/// could leave the site (`//host`, `/\host`, `https://...`, control characters) is refused,
/// so a crafted link cannot turn the login page into an open redirect.
pub fn next_path(next: Option<&str>) -> String {
    match next {
        Some(path)
            if path.starts_with('/')
                && !path.starts_with("//")
                && !path.starts_with("/\\")
                && !path.chars().any(|c| c.is_control() || c == '\\') =>
        {
            path.to_owned()
        }
        _ => "/me".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_followed() {
        assert_eq!(next_path(Some("/admin/users?q=a")), "/admin/users?q=a");
        for hostile in ["//evil.example", "/\\evil.example", "https://evil.example", "evil", "/a\\b", "/\n/x", ""] {
            assert_eq!(next_path(Some(hostile)), "/me", "{hostile:?}");
        }
        assert_eq!(next_path(None), "/me");
    }
}
