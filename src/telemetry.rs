//! Logging. `RUST_LOG` picks the levels (default `info`, with sqlx's statements at `warn`);
//! `GATEHOUSE_LOG_FORMAT` picks `text` (for people; colours only at a terminal) or `json`
//! (one object a line, for a collector). Lines written while serving a request carry its
//! method, matched route and request id (`http::trace`: as a span's fields in text, at the
//! top level of each JSON line). Secrets never reach them: passwords and tokens have
//! redacting `Debug` impls and are never recorded as fields.

mod json;

use std::{
    io::Write,
    sync::{Arc, Condvar, Mutex, MutexGuard},
    thread::JoinHandle,
    time::Duration,
};
use tracing_subscriber::{
    EnvFilter, Layer, Registry, filter::Targets, fmt, layer::SubscriberExt as _, util::SubscriberInitExt as _,
};

/// Where log lines go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Output {
    Stdout,
    Stderr,
}

/// Starts logging, or says in one line why `GATEHOUSE_LOG_FORMAT` is wrong. Keep the guard
/// until the end of `main`: dropping it writes what is left.
pub fn init(output: Output) -> Result<LogGuard, String> {
    let destination: Box<dyn Write + Send> = match output {
        Output::Stdout => Box::new(std::io::stdout()),
        Output::Stderr => Box::new(std::io::stderr()),
    };
    let format = std::env::var("GATEHOUSE_LOG_FORMAT").unwrap_or_default();
    if !matches!(format.as_str(), "" | "text" | "json") {
        return Err(format!("GATEHOUSE_LOG_FORMAT: {format:?} is neither text nor json"));
    }
    let (writer, guard) = BatchWriter::start(destination, FLUSH_EVERY);
    let writing = if format == "json" {
        Format::Json(writer)
    } else {
        let ansi = match output {
            Output::Stdout => std::io::IsTerminal::is_terminal(&std::io::stdout()),
            Output::Stderr => std::io::IsTerminal::is_terminal(&std::io::stderr()),
        };
        Format::Text { writer, ansi }
    };
    // Plain `target=level` lists, the usual kind, become a `Targets` filter: an `EnvFilter`
    // takes a lock shared by every thread each time a span is entered or left (each poll of
    // a request's future), even when no directive names a span. Directives that do
    // (`[span{field}]`) get the `EnvFilter` they need.
    let directives = directives(std::env::var("RUST_LOG").ok().as_deref());
    match directives.parse::<Targets>() {
        Ok(targets) if !directives.contains(['[', '{']) => writing.install(targets),
        _ => writing.install(EnvFilter::try_new(&directives).unwrap_or_else(|_| EnvFilter::new(DEFAULT_LEVELS))),
    }
    Ok(guard)
}

/// The levels when `RUST_LOG` names none.
const DEFAULT_LEVELS: &str = "info,sqlx=warn";

/// `RUST_LOG`'s directives as filters read them: each trimmed, empty ones dropped (as
/// `EnvFilter` reads them; `Targets` would take `warn ` for a target and an empty one for
/// `error`); none at all is [`DEFAULT_LEVELS`].
fn directives(asked: Option<&str>) -> String {
    let kept: Vec<&str> = asked.unwrap_or_default().split(',').map(str::trim).filter(|d| !d.is_empty()).collect();
    if kept.is_empty() { DEFAULT_LEVELS.to_owned() } else { kept.join(",") }
}

/// How lines are written.
enum Format {
    Json(BatchWriter),
    Text { writer: BatchWriter, ansi: bool },
}

impl Format {
    /// Makes these lines, filtered by `levels`, the process's log.
    fn install<F: Layer<Registry> + Send + Sync + 'static>(self, levels: F) {
        let registry = tracing_subscriber::registry().with(levels);
        let _ = match self {
            Self::Json(writer) => {
                let installed = registry.with(json::JsonLayer::new(writer)).try_init();
                if installed.is_ok() {
                    // Its lines read the request being served from `http::trace`, not from a span.
                    crate::http::trace::serve_without_spans();
                }
                installed
            }
            Self::Text { writer, ansi } => {
                registry.with(fmt::layer().with_target(false).with_ansi(ansi).with_writer(writer)).try_init()
            }
        };
    }
}

/// How long a line may wait before it is written.
const FLUSH_EVERY: Duration = Duration::from_millis(20);
/// Lines gathered past this wake the writing thread at once.
const WAKE_AT_BYTES: usize = 256 * 1024;
/// Lines gathered past this make the threads that log wait for the writing thread: when the
/// destination is slower than the lines, requests slow down rather than lines being lost.
const WAIT_AT_BYTES: usize = 8 * 1024 * 1024;

/// Log lines gathered in memory and written by a thread of their own in one write every
/// [`FLUSH_EVERY`] (sooner past [`WAKE_AT_BYTES`]). A request never waits for a write and
/// never wakes a thread: it appends its line under a lock held for a copy. (A channel to a
/// writing thread, as `tracing-appender` has, wakes that thread for nearly every line of a
/// busy server: a system call and a context switch per request.)
#[derive(Clone)]
pub struct BatchWriter {
    shared: Arc<Shared>,
}

struct Shared {
    lines: Mutex<Lines>,
    /// Signalled when the writing thread took the lines (waiting loggers may go on).
    taken: Condvar,
    writer: std::sync::OnceLock<std::thread::Thread>,
}

#[derive(Default)]
struct Lines {
    bytes: Vec<u8>,
    closing: bool,
}

/// Stops the writing thread once what is gathered is written.
pub struct LogGuard {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl BatchWriter {
    /// Starts the writing thread for `destination`, writing every `every`.
    pub fn start(mut destination: Box<dyn Write + Send>, every: Duration) -> (Self, LogGuard) {
        let shared = Arc::new(Shared {
            lines: Mutex::new(Lines::default()),
            taken: Condvar::new(),
            writer: std::sync::OnceLock::new(),
        });
        let thread = {
            let shared = Arc::clone(&shared);
            std::thread::Builder::new()
                .name("gatehouse-log".into())
                .spawn(move || {
                    let mut spare = Vec::new();
                    loop {
                        std::thread::park_timeout(every);
                        let closing = {
                            let mut lines = shared.lock();
                            std::mem::swap(&mut lines.bytes, &mut spare);
                            lines.closing
                        };
                        shared.taken.notify_all();
                        if !spare.is_empty() {
                            // A destination that fails (a closed pipe) loses its lines; the
                            // server goes on.
                            let _ = destination.write_all(&spare).and_then(|()| destination.flush());
                            spare.clear();
                        }
                        if closing && shared.lock().bytes.is_empty() {
                            return;
                        }
                    }
                })
                .expect("a thread for the log can be started")
        };
        let _ = shared.writer.set(thread.thread().clone());
        (Self { shared: Arc::clone(&shared) }, LogGuard { shared, thread: Some(thread) })
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Lines> {
        self.lines.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn wake_writer(&self) {
        if let Some(writer) = self.writer.get() {
            writer.unpark();
        }
    }
}

impl BatchWriter {
    /// Adds `buf` to the lines to write.
    pub fn append(&self, buf: &[u8]) {
        let mut lines = self.shared.lock();
        while lines.bytes.len() >= WAIT_AT_BYTES && !lines.closing {
            self.shared.wake_writer();
            lines = self.shared.taken.wait(lines).unwrap_or_else(std::sync::PoisonError::into_inner);
        }
        lines.bytes.extend_from_slice(buf);
        let wake = lines.bytes.len() >= WAKE_AT_BYTES;
        drop(lines);
        if wake {
            self.shared.wake_writer();
        }
    }
}

impl Write for BatchWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.append(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> fmt::MakeWriter<'a> for BatchWriter {
    type Writer = BatchWriter;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

impl Drop for LogGuard {
    fn drop(&mut self) {
        self.shared.lock().closing = true;
        self.shared.taken.notify_all();
        self.shared.wake_writer();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A destination the test can read, counting the writes it was given.
    #[derive(Clone, Default)]
    struct Seen(Arc<Mutex<(Vec<u8>, usize)>>);

    impl Write for Seen {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            let mut seen = self.0.lock().unwrap();
            seen.0.extend_from_slice(buf);
            seen.1 += 1;
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn rust_log_is_read_as_env_filter_reads_it() {
        use tracing::Level;
        assert_eq!(directives(None), DEFAULT_LEVELS);
        assert_eq!(directives(Some(" , ")), DEFAULT_LEVELS);
        assert_eq!(directives(Some("info,sqlx=warn,")), "info,sqlx=warn");
        assert_eq!(directives(Some(" warn ")), "warn");
        let targets = |asked: &str| directives(Some(asked)).parse::<Targets>().unwrap();
        let spaced = targets("info, sqlx=warn ,");
        assert!(spaced.would_enable("gatehouse::auth", &Level::INFO));
        assert!(!spaced.would_enable("sqlx::query", &Level::INFO), "a spaced target still matches");
        assert!(spaced.would_enable("sqlx::query", &Level::WARN));
        let quiet = targets("warn ");
        assert!(quiet.would_enable("gatehouse", &Level::WARN) && !quiet.would_enable("gatehouse", &Level::INFO));
        let verbose = targets("info,gatehouse=trace");
        assert!(verbose.would_enable("gatehouse::http::trace", &Level::TRACE));
        assert!(!verbose.would_enable("hyper", &Level::DEBUG));
        assert!(!targets("off").would_enable("gatehouse", &Level::ERROR));
    }

    #[test]
    fn lines_are_written_in_order_in_few_writes_and_the_guard_writes_the_rest() {
        let seen = Seen::default();
        let (writer, guard) = BatchWriter::start(Box::new(seen.clone()), Duration::from_secs(3600));
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let mut writer = writer.clone();
                std::thread::spawn(move || {
                    for i in 0..1000 {
                        writer.write_all(format!("thread {t} line {i}\n").as_bytes()).unwrap();
                    }
                })
            })
            .collect();
        threads.into_iter().for_each(|t| t.join().unwrap());
        drop(guard);
        let (bytes, writes) = seen.0.lock().unwrap().clone();
        let text = String::from_utf8(bytes).unwrap();
        assert_eq!(text.lines().count(), 4000, "every line, whole");
        for t in 0..4 {
            let mine: Vec<&str> = text.lines().filter(|l| l.starts_with(&format!("thread {t} "))).collect();
            let expected: Vec<String> = (0..1000).map(|i| format!("thread {t} line {i}")).collect();
            assert_eq!(mine, expected, "each thread's lines in its order");
        }
        // One write at the guard's drop, give or take a spurious wake-up of the thread.
        assert!(writes < 100, "4000 lines in {writes} writes");
    }

    #[test]
    fn an_idle_writer_writes_a_line_within_its_period() {
        let seen = Seen::default();
        let (mut writer, _guard) = BatchWriter::start(Box::new(seen.clone()), Duration::from_millis(10));
        writer.write_all(b"hello\n").unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while seen.0.lock().unwrap().0.is_empty() {
            assert!(std::time::Instant::now() < deadline, "the line was never written");
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(seen.0.lock().unwrap().0, b"hello\n");
    }
}
