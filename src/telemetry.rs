//! Logging. `RUST_LOG` picks the level (default `info`). Secrets never reach it: passwords
//! and tokens have redacting `Debug` impls and are never recorded as fields.

pub fn init() {
    use tracing_subscriber::{EnvFilter, fmt};
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let _ = fmt().with_env_filter(filter).with_target(false).try_init();
}
