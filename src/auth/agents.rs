//! A `User-Agent` in words a person recognises ("Chrome on Linux"), read by woothee, a
//! maintained parser driven by a shared dataset of agents, not by rules written here.

/// "Chrome on Linux", "Firefox", "Linux", or `None` when the parser knows neither part.
pub fn describe(user_agent: &str) -> Option<String> {
    let parsed = woothee::parser::Parser::new().parse(user_agent)?;
    let known = |part: &str| (!part.is_empty() && part != woothee::woothee::VALUE_UNKNOWN).then(|| part.to_owned());
    match (known(parsed.name), known(parsed.os)) {
        (Some(browser), Some(os)) => Some(format!("{browser} on {os}")),
        (Some(one), None) | (None, Some(one)) => Some(one),
        (None, None) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::describe;

    #[test]
    fn common_browsers_read_as_browser_on_system() {
        let chrome = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) \
                      Chrome/131.0.0.0 Safari/537.36";
        assert_eq!(describe(chrome).as_deref(), Some("Chrome on Linux"));
        let firefox = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0";
        assert_eq!(describe(firefox).as_deref(), Some("Firefox on Windows 10"));
        assert_eq!(describe("curl/8.5.0").as_deref(), Some("HTTP Library"));
        assert_eq!(describe("x"), None);
    }
}
