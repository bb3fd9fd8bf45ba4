//! `GATEHOUSE_LOG_FORMAT=json`: one JSON object a line, written by hand.
//!
//! A line is `{"timestamp":…,"level":…,"target":…, the request being served, "message":…
//! and the event's other fields, the fields of the spans it was written in}`. A line written
//! while serving a request has that request's `method`, `route` and `id` at the top level,
//! so a collector finds every line of a request under `id`, the key of the request's own
//! line (`request done`). Requests are served without a span in this mode: their fields are
//! read from `http::trace::with_serving`, which the request's future sets at each poll. No
//! key appears twice: an event's field named like a key already written goes under
//! `event.<name>`, and a span's field named like one already written is left out
//! (innermost span first).
//!
//! Why by hand: every request writes a line, and tracing-subscriber's JSON formatter spends
//! several microseconds on it (a `serde_json` map per line, the span's fields stored as JSON
//! text and parsed back for every line written in it, a timestamp formatted digit by digit,
//! a writer cloned per line), and a span per request costs a slot in the span registry and
//! its bookkeeping at every poll. Here a line is rendered into a buffer of its thread and
//! handed to the [`BatchWriter`] in one append; the timestamp's date and time of day are
//! formatted once a second; the fields of a span (other than the request's) are rendered
//! once, when it opens, as the text each line inside it copies.

use super::BatchWriter;
use std::{
    cell::RefCell,
    fmt::{self, Write as _},
    time::{SystemTime, UNIX_EPOCH},
};
use tracing::{
    Event, Level, Subscriber,
    field::{Field, Visit},
    span,
};
use tracing_log::NormalizeEvent as _;
use tracing_subscriber::{Layer, layer::Context, registry::LookupSpan};

/// The layer that writes JSON lines to a [`BatchWriter`].
pub struct JsonLayer {
    writer: BatchWriter,
}

impl JsonLayer {
    pub fn new(writer: BatchWriter) -> Self {
        Self { writer }
    }
}

/// A span's fields as they will appear in a line: `,"name":value` each, in one string, and
/// where each field's text starts (to leave out one an event names itself).
#[derive(Default)]
struct SpanFields {
    json: String,
    starts: Vec<(&'static str, usize)>,
}

impl SpanFields {
    fn segments(&self) -> impl Iterator<Item = (&'static str, &str)> {
        self.starts.iter().enumerate().map(|(i, &(name, start))| {
            let end = self.starts.get(i + 1).map_or(self.json.len(), |next| next.1);
            (name, &self.json[start..end])
        })
    }
}

impl<S> Layer<S> for JsonLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &span::Attributes<'_>, id: &span::Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut fields =
            SpanFields { json: String::with_capacity(96), starts: Vec::with_capacity(attrs.fields().len()) };
        attrs.record(&mut Fields {
            out: &mut fields.json,
            starts: Some(&mut fields.starts),
            from_log: false,
            taken: None,
        });
        span.extensions_mut().insert(fields);
    }

    fn on_record(&self, id: &span::Id, values: &span::Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut extensions = span.extensions_mut();
        let Some(old) = extensions.get_mut::<SpanFields>() else { return };
        // A field recorded again replaces its earlier value: keep the others, then add the new.
        let mut recorded: Vec<&'static str> = Vec::new();
        values.record(&mut |field: &Field, _: &dyn fmt::Debug| recorded.push(field.name()));
        let mut fields = SpanFields::default();
        for (name, text) in old.segments().filter(|(name, _)| !recorded.contains(name)) {
            fields.starts.push((name, fields.json.len()));
            fields.json.push_str(text);
        }
        values.record(&mut Fields {
            out: &mut fields.json,
            starts: Some(&mut fields.starts),
            from_log: false,
            taken: None,
        });
        *old = fields;
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        // One buffer per thread; a line written while this one renders (a field's `Debug`
        // that logs) gets a buffer of its own.
        thread_local! {
            static LINE: RefCell<String> = RefCell::new(String::with_capacity(512));
        }
        let write = |line: &mut String| {
            line.clear();
            render(line, event, &ctx);
            self.writer.append(line.as_bytes());
            // A rare long line does not keep its memory for the thread's life.
            if line.capacity() > 64 * 1024 {
                *line = String::with_capacity(512);
            }
        };
        let written = LINE.try_with(|line| line.try_borrow_mut().map(|mut line| write(&mut line)).is_ok());
        if written != Ok(true) {
            write(&mut String::new());
        }
    }
}

fn render<S>(line: &mut String, event: &Event<'_>, ctx: &Context<'_, S>)
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    let normalized = event.normalized_metadata();
    let metadata = normalized.as_ref().unwrap_or_else(|| event.metadata());
    let mut names = Names::default();
    line.push_str("{\"timestamp\":\"");
    timestamp(line, SystemTime::now());
    line.push_str("\",\"level\":\"");
    line.push_str(level(*metadata.level()));
    line.push_str("\",\"target\":\"");
    escape(line, metadata.target());
    line.push('"');
    names.extend(["timestamp", "level", "target"]);
    // The request being served: its fields are on every line written for it, whatever else
    // the line says.
    crate::http::trace::with_serving(|serving| {
        let Some(serving) = serving else { return };
        for (name, value) in [("method", serving.method), ("route", serving.route), ("id", &serving.id)] {
            line.push_str(",\"");
            line.push_str(name);
            line.push_str("\":\"");
            escape(line, value);
            line.push('"');
        }
        names.extend(["method", "route", "id"]);
    });
    // The event's own fields; one named like a key already written goes under `event.`.
    event.record(&mut Fields { out: line, starts: None, from_log: normalized.is_some(), taken: Some(&mut names) });
    // The fields of the spans it was written in, innermost first; a name already written is
    // left out.
    if let Some(scope) = ctx.event_scope(event) {
        for span in scope {
            let extensions = span.extensions();
            let Some(fields) = extensions.get::<SpanFields>() else { continue };
            for (name, text) in fields.segments() {
                if !names.contains(name) {
                    line.push_str(text);
                    names.push(name);
                }
            }
        }
    }
    line.push_str("}\n");
}

/// The keys a line has so far (up to 32; past that, no more are remembered).
#[derive(Default)]
struct Names {
    names: [&'static str; 32],
    len: usize,
}

impl Names {
    fn contains(&self, name: &str) -> bool {
        self.names[..self.len].contains(&name)
    }

    fn push(&mut self, name: &'static str) {
        if let Some(slot) = self.names.get_mut(self.len) {
            *slot = name;
            self.len += 1;
        }
    }

    fn extend<const N: usize>(&mut self, names: [&'static str; N]) {
        names.into_iter().for_each(|name| self.push(name));
    }
}

fn level(level: Level) -> &'static str {
    match level {
        Level::TRACE => "TRACE",
        Level::DEBUG => "DEBUG",
        Level::INFO => "INFO",
        Level::WARN => "WARN",
        Level::ERROR => "ERROR",
    }
}

/// Writes each field as `,"name":value`: numbers and booleans as JSON numbers and booleans,
/// anything else as a string (its `Display` for `%field`, its `Debug` otherwise).
struct Fields<'a> {
    out: &'a mut String,
    /// Where each field starts, for a span's fields.
    starts: Option<&'a mut Vec<(&'static str, usize)>>,
    /// An event that came from the `log` crate: its `log.*` fields are in its metadata.
    from_log: bool,
    /// For an event: the keys the line already has (a field named like one is written as
    /// `event.<name>`), and its own, added as they are written.
    taken: Option<&'a mut Names>,
}

impl Fields<'_> {
    /// Writes `,"name":` and says whether the field's value should follow.
    fn key(&mut self, field: &Field) -> bool {
        let name = field.name();
        if self.from_log && name.starts_with("log.") {
            return false;
        }
        if let Some(starts) = self.starts.as_deref_mut() {
            starts.push((name, self.out.len()));
        }
        self.out.push_str(",\"");
        if let Some(taken) = self.taken.as_deref_mut() {
            if taken.contains(name) {
                self.out.push_str("event.");
            } else {
                taken.push(name);
            }
        }
        escape(self.out, name);
        self.out.push_str("\":");
        true
    }

    fn number(&mut self, field: &Field, value: impl fmt::Display) {
        if self.key(field) {
            let _ = write!(self.out, "{value}");
        }
    }
}

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if self.key(field) {
            self.out.push('"');
            escape(self.out, value);
            self.out.push('"');
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if self.key(field) {
            self.out.push('"');
            let _ = write!(Escaping(self.out), "{value:?}");
            self.out.push('"');
        }
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        if value.is_finite() {
            self.number(field, value);
        } else if self.key(field) {
            // JSON has no NaN or infinity.
            self.out.push_str("null");
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.number(field, value);
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.number(field, value);
    }

    fn record_i128(&mut self, field: &Field, value: i128) {
        self.number(field, value);
    }

    fn record_u128(&mut self, field: &Field, value: u128) {
        self.number(field, value);
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.number(field, value);
    }
}

/// Escapes what is written through it as the inside of a JSON string.
struct Escaping<'a>(&'a mut String);

impl fmt::Write for Escaping<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        escape(self.0, s);
        Ok(())
    }
}

/// Appends `text` as the inside of a JSON string (RFC 8259: `"`, `\` and control characters
/// escaped; everything else as it is, UTF-8).
fn escape(out: &mut String, text: &str) {
    let mut plain = 0;
    for (i, byte) in text.bytes().enumerate() {
        let escaped = match byte {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0..=0x1f | 0x7f => "",
            _ => continue,
        };
        // `i` is at an ASCII byte, so at a character boundary.
        out.push_str(&text[plain..i]);
        if escaped.is_empty() {
            let _ = write!(out, "\\u{byte:04x}");
        } else {
            out.push_str(escaped);
        }
        plain = i + 1;
    }
    out.push_str(&text[plain..]);
}

/// Appends `at` in RFC 3339, UTC, to the microsecond: `2026-12-01T06:06:24.123456Z`. The
/// date and time of day are formatted once a second per thread.
fn timestamp(out: &mut String, at: SystemTime) {
    thread_local! {
        static SECOND: RefCell<(i64, String)> = const { RefCell::new((i64::MIN, String::new())) };
    }
    let (seconds, micros) = match at.duration_since(UNIX_EPOCH) {
        Ok(since) => (i64::try_from(since.as_secs()).unwrap_or(i64::MAX), since.subsec_micros()),
        Err(before) => {
            let before = before.duration();
            let whole = i64::try_from(before.as_secs()).unwrap_or(i64::MAX);
            match before.subsec_micros() {
                0 => (-whole, 0),
                micros => (-whole - 1, 1_000_000 - micros),
            }
        }
    };
    let cached = SECOND.try_with(|second| {
        let mut second = second.try_borrow_mut().ok()?;
        if second.0 != seconds {
            second.1.clear();
            date_time(&mut second.1, seconds);
            second.0 = seconds;
        }
        out.push_str(&second.1);
        Some(())
    });
    if cached.ok().flatten().is_none() {
        date_time(out, seconds);
    }
    let _ = write!(out, ".{micros:06}Z");
}

/// `YYYY-MM-DDTHH:MM:SS` of a Unix time.
fn date_time(out: &mut String, unix_seconds: i64) {
    let Ok(at) = time::OffsetDateTime::from_unix_timestamp(unix_seconds) else {
        out.push_str("0000-00-00T00:00:00");
        return;
    };
    let (date, time) = (at.date(), at.time());
    let _ = write!(
        out,
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        date.year(),
        u8::from(date.month()),
        date.day(),
        time.hour(),
        time.minute(),
        time.second()
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;
    use std::{
        sync::{Arc, Mutex},
        time::Duration,
    };
    use tracing_subscriber::layer::SubscriberExt as _;

    #[derive(Clone, Default)]
    struct Written(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Written {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// The lines `log` writes through a [`JsonLayer`], each parsed, and their text.
    fn lines_of(log: impl FnOnce()) -> (Vec<Value>, String) {
        let written = Written::default();
        let (writer, guard) = BatchWriter::start(Box::new(written.clone()), Duration::from_secs(3600));
        let subscriber = tracing_subscriber::registry().with(JsonLayer::new(writer));
        tracing::subscriber::with_default(subscriber, log);
        drop(guard);
        let text = String::from_utf8(written.0.lock().unwrap().clone()).unwrap();
        let lines = text.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}"))).collect();
        (lines, text)
    }

    #[test]
    fn a_line_has_the_event_its_fields_and_its_spans_fields_at_the_top_level() {
        let (lines, text) = lines_of(|| {
            let method = "GET";
            let span = tracing::info_span!("request", method = %method, route = "/users/{id}", id = "req-1");
            span.in_scope(|| {
                tracing::info!(
                    id = 7,
                    note = "a \"quoted\"\nline\twith \\ and \u{1}",
                    ratio = 0.25,
                    nothing = f64::NAN,
                    below = -3_i64,
                    ok = true,
                    detail = ?Some("debugged"),
                    "hello {}",
                    "world"
                );
            });
            tracing::warn!("outside");
        });
        assert_eq!(lines.len(), 2, "{text}");
        let inside = &lines[0];
        assert_eq!(inside["message"], "hello world");
        assert_eq!(inside["level"], "INFO");
        assert_eq!(inside["target"], module_path!());
        assert_eq!(inside["note"], "a \"quoted\"\nline\twith \\ and \u{1}");
        assert_eq!(inside["ratio"], 0.25);
        assert_eq!(inside["nothing"], Value::Null);
        assert_eq!(inside["below"], -3);
        assert_eq!(inside["ok"], true);
        assert_eq!(inside["detail"], "Some(\"debugged\")");
        assert_eq!(inside["method"], "GET");
        assert_eq!(inside["route"], "/users/{id}");
        // The event's own `id` wins over the span's, and the key appears once.
        assert_eq!(inside["id"], 7);
        assert_eq!(text.lines().next().unwrap().matches("\"id\":").count(), 1, "{text}");
        let stamp = inside["timestamp"].as_str().unwrap();
        let at = time::OffsetDateTime::parse(stamp, &time::format_description::well_known::Rfc3339).unwrap();
        assert!((time::OffsetDateTime::now_utc() - at).abs() < time::Duration::seconds(60), "{stamp}");
        let outside = &lines[1];
        assert_eq!(outside["level"], "WARN");
        assert_eq!(outside["message"], "outside");
        assert!(outside.get("method").is_none() && outside.get("id").is_none(), "no span: {outside}");
    }

    #[test]
    fn a_line_written_while_serving_a_request_names_it_at_the_top_level() {
        use crate::http::trace::{Serving, in_serving};
        let (lines, text) = lines_of(|| {
            let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
            let serving = Serving { method: "POST", route: "/api/v1/auth/token", id: "req-\"2\"".into() };
            runtime.block_on(in_serving(serving, async {
                tracing::info!("first poll");
                tokio::task::yield_now().await;
                tracing::info!(id = "its own", "second poll");
            }));
            tracing::info!("after");
        });
        assert_eq!(lines.len(), 3, "{text}");
        assert_eq!(lines[0]["method"], "POST");
        assert_eq!(lines[0]["route"], "/api/v1/auth/token");
        assert_eq!(lines[0]["id"], "req-\"2\"");
        assert_eq!(lines[1]["route"], "/api/v1/auth/token", "after a yield too");
        assert_eq!(lines[1]["id"], "req-\"2\"", "the request's id is on every line of it");
        assert_eq!(lines[1]["event.id"], "its own", "an event's field of the same name is kept beside it");
        assert_eq!(text.lines().nth(1).unwrap().matches("\"id\":").count(), 1, "{text}");
        assert!(lines[2].get("route").is_none() && lines[2].get("id").is_none(), "{}", lines[2]);
    }

    #[test]
    fn a_span_field_recorded_later_appears_once_with_its_last_value() {
        let (lines, text) = lines_of(|| {
            let span = tracing::info_span!("request", user = tracing::field::Empty, route = "/me");
            span.in_scope(|| tracing::info!("before"));
            span.record("user", "bob");
            span.in_scope(|| tracing::info!("once"));
            span.record("user", "carol");
            span.in_scope(|| tracing::info!("twice"));
        });
        assert_eq!(lines.len(), 3, "{text}");
        assert!(lines[0].get("user").is_none(), "{}", lines[0]);
        assert_eq!(lines[1]["user"], "bob");
        assert_eq!(lines[2]["user"], "carol");
        assert_eq!(text.lines().nth(2).unwrap().matches("\"user\":").count(), 1, "{text}");
        assert!(lines.iter().all(|line| line["route"] == "/me"), "{text}");
    }

    #[test]
    fn nested_spans_lend_their_fields_to_the_lines_inside_both_the_innermost_first() {
        let (lines, text) = lines_of(|| {
            tracing::info_span!("request", id = "outer-id", name = "outer").in_scope(|| {
                tracing::info_span!("step", name = "hashing").in_scope(|| tracing::info!("deep"));
            });
        });
        assert_eq!(lines[0]["id"], "outer-id");
        assert_eq!(lines[0]["name"], "hashing");
        assert_eq!(text.matches("\"name\":").count(), 1, "{text}");
    }

    #[test]
    fn no_key_appears_twice() {
        use crate::http::trace::{Serving, in_serving};
        let (lines, text) = lines_of(|| {
            let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
            let serving = Serving { method: "GET", route: "/me", id: "req-3".into() };
            runtime.block_on(in_serving(serving, async {
                tracing::info_span!("inner", id = "a span's", route = "a span's").in_scope(|| {
                    tracing::warn!(level = "an event's", target = 5, "keys taken");
                });
            }));
        });
        let line = &lines[0];
        assert_eq!(line["level"], "WARN");
        assert_eq!(line["event.level"], "an event's");
        assert_eq!(line["event.target"], 5);
        assert_eq!(line["id"], "req-3");
        assert_eq!(line["route"], "/me");
        for key in ["\"level\":", "\"target\":", "\"id\":", "\"route\":", "\"method\":"] {
            assert_eq!(text.matches(key).count(), 1, "{key} in {text}");
        }
    }

    #[test]
    fn lines_from_the_log_crate_have_its_target_and_level_and_no_log_fields() {
        use tracing_log::log;
        let (lines, text) = lines_of(|| {
            let record = log::Record::builder()
                .args(format_args!("from a library that logs with the log crate"))
                .level(log::Level::Warn)
                .target("some_library::module")
                .module_path(Some("some_library::module"))
                .file(Some("module.rs"))
                .line(Some(7))
                .build();
            tracing_log::format_trace(&record).unwrap();
        });
        assert_eq!(lines.len(), 1, "{text}");
        assert_eq!(lines[0]["level"], "WARN");
        assert_eq!(lines[0]["target"], "some_library::module");
        assert_eq!(lines[0]["message"], "from a library that logs with the log crate");
        assert!(!text.contains("log."), "{text}");
    }

    #[test]
    fn escaped_text_reads_back_as_what_was_written() {
        let text = "quote \" backslash \\ newline \n return \r tab \t bell \u{7} delete \u{7f} é ☃ \u{2028}";
        let mut out = String::new();
        escape(&mut out, text);
        assert!(!out.bytes().any(|b| b < 0x20 || b == 0x7f), "no raw control character: {out:?}");
        assert_eq!(serde_json::from_str::<String>(&format!("\"{out}\"")).unwrap(), text);
    }

    #[test]
    fn timestamps_are_rfc_3339_utc_to_the_microsecond() {
        let at = |seconds: i64, micros: u64| {
            let moment = if seconds >= 0 {
                UNIX_EPOCH + Duration::from_secs(seconds.unsigned_abs()) + Duration::from_micros(micros)
            } else {
                UNIX_EPOCH - Duration::from_secs(seconds.unsigned_abs()) + Duration::from_micros(micros)
            };
            let mut out = String::new();
            timestamp(&mut out, moment);
            out
        };
        // Checked against Python's datetime.fromtimestamp(t, timezone.utc).
        assert_eq!(at(0, 0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(at(951_782_400, 1), "2000-02-29T00:00:00.000001Z");
        assert_eq!(at(1_234_567_890, 123_456), "2009-02-13T23:31:30.123456Z");
        assert_eq!(at(1_709_164_800, 999_999), "2024-02-29T00:00:00.999999Z");
        assert_eq!(at(4_102_444_799, 500_000), "2099-12-31T23:59:59.500000Z");
        assert_eq!(at(-2, 500_000), "1969-12-31T23:59:58.500000Z");
        // The second is cached per thread: the next second and a jump back are both right.
        assert_eq!(at(1_234_567_891, 0), "2009-02-13T23:31:31.000000Z");
        assert_eq!(at(1_234_567_890, 7), "2009-02-13T23:31:30.000007Z");
    }
}
