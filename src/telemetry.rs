//! Logging. `RUST_LOG` picks the levels (default `info`, with sqlx's statements at `warn`).
//! Secrets never reach it: passwords and tokens have redacting `Debug` impls and are never
//! recorded as fields. Lines written while serving a request carry its span
//! (`http::trace`): method, matched route and request id.

pub fn init() {
    use tracing_subscriber::{EnvFilter, fmt};
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    // Colours only for a person at a terminal: a log collector gets plain lines.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let _ = fmt().with_env_filter(filter).with_target(false).with_ansi(ansi).try_init();
}
