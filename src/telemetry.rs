//! Logging. `RUST_LOG` picks the levels (default `info`, with sqlx's statements at `warn`);
//! `GATEHOUSE_LOG_FORMAT` picks `text` (for people; colours only at a terminal) or `json`
//! (one object a line, for a collector). Lines written while serving a request carry its
//! span (`http::trace`): method, matched route and request id. Secrets never reach it:
//! passwords and tokens have redacting `Debug` impls and are never recorded as fields.

use tracing_appender::non_blocking::{NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::{EnvFilter, fmt};

/// Where log lines go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Output {
    Stdout,
    Stderr,
}

/// Bytes of log lines the writing thread gathers into one write.
const WRITE_BUFFER_BYTES: usize = 64 * 1024;

/// Starts logging, or says in one line why `GATEHOUSE_LOG_FORMAT` is wrong. Lines are
/// written by a thread of their own (a request does not wait for a write to its log; when
/// that thread falls behind, requests wait rather than lines being lost); keep the guard
/// until the end of `main`, which flushes what is left. That thread writes the lines waiting
/// for it in one system call and flushes whenever none is left waiting: under load a line
/// costs a share of a write, not a write of its own, and an idle server's lines appear at
/// once.
pub fn init(output: Output) -> Result<WorkerGuard, String> {
    let destination: Box<dyn std::io::Write + Send> = match output {
        Output::Stdout => Box::new(std::io::BufWriter::with_capacity(WRITE_BUFFER_BYTES, std::io::stdout())),
        Output::Stderr => Box::new(std::io::BufWriter::with_capacity(WRITE_BUFFER_BYTES, std::io::stderr())),
    };
    let (writer, guard) = NonBlockingBuilder::default().lossy(false).finish(destination);
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    match std::env::var("GATEHOUSE_LOG_FORMAT").unwrap_or_default().as_str() {
        "" | "text" => {
            let ansi = match output {
                Output::Stdout => std::io::IsTerminal::is_terminal(&std::io::stdout()),
                Output::Stderr => std::io::IsTerminal::is_terminal(&std::io::stderr()),
            };
            let _ = fmt().with_env_filter(filter).with_target(false).with_ansi(ansi).with_writer(writer).try_init();
        }
        "json" => {
            let _ = fmt()
                .json()
                .flatten_event(true)
                .with_current_span(true)
                .with_span_list(false)
                .with_env_filter(filter)
                .with_writer(writer)
                .try_init();
        }
        other => return Err(format!("GATEHOUSE_LOG_FORMAT: {other:?} is neither text nor json")),
    }
    Ok(guard)
}
