//! [`ConsoleExporter`]: finished spans as readable trees (`OTEL_TRACES_EXPORTER=console`).
//!
//! Each batch the background thread exports is written at once, as one block:
//!
//! ```text
//! resource service.name="shop"
//! trace 4bf92f3577b34da6a3ce929d0e0e4736
//!   checkout [server] 4.56ms user.id=42 express=true
//!     load cart 1.20ms
//!       • cache miss +120µs key="cart:42"
//!     charge card [client] 2.00ms ERROR "card declined" amount=12.5
//! ```
//!
//! Spans are grouped by trace and nested under their parent, ordered by start time. A span whose
//! parent is not in the same batch (the parent ended later and will come in another batch, or it
//! lives in another process) is printed as a root, with a `(parent <span id>)` note.
//!
//! Why a batch and not a span at a time: the block is formatted off the lock and written with one
//! call, so trees from two batches never interleave, and the tree can only be built from what the
//! batch holds.

use std::collections::{HashMap, HashSet};
use std::fmt::{self, Write as _};
use std::io::Write;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use opentelemetry::trace::{SpanId, SpanKind, Status, TraceId};
use opentelemetry::{Array, Key, KeyValue, Value};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};

/// Writes finished spans as indented trees, to standard output or any [`Write`].
///
/// Write errors are ignored: tracing output never fails the application.
///
/// # Examples
///
/// ```
/// let exporter = tracewire::export::console::ConsoleExporter::new(); // standard output
/// let config = tracewire::Config::default().with_exporter(exporter);
/// # drop(config);
/// ```
pub struct ConsoleExporter {
    writer: Mutex<Box<dyn Write + Send>>,
    resource_line: Option<String>,
}

impl ConsoleExporter {
    /// An exporter that writes to standard output.
    ///
    /// # Examples
    ///
    /// ```
    /// let exporter = tracewire::export::console::ConsoleExporter::new();
    /// # drop(exporter);
    /// ```
    #[must_use]
    pub fn new() -> Self {
        Self::with_writer(std::io::stdout())
    }

    /// An exporter that writes to `writer`, such as a file or standard error.
    ///
    /// # Examples
    ///
    /// ```
    /// let exporter = tracewire::export::console::ConsoleExporter::with_writer(std::io::stderr());
    /// # drop(exporter);
    /// ```
    #[must_use]
    pub fn with_writer(writer: impl Write + Send + 'static) -> Self {
        ConsoleExporter {
            writer: Mutex::new(Box::new(writer)),
            resource_line: None,
        }
    }

    fn write(&self, text: &str) {
        let mut writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let _ = writer.write_all(text.as_bytes());
        let _ = writer.flush();
    }
}

impl Default for ConsoleExporter {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for ConsoleExporter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConsoleExporter").finish_non_exhaustive()
    }
}

impl SpanExporter for ConsoleExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        if !batch.is_empty() {
            let mut text = String::new();
            let _ = render(&mut text, self.resource_line.as_deref(), &batch);
            self.write(&text);
        }
        Ok(())
    }

    fn force_flush(&self) -> OTelSdkResult {
        let _ = self
            .writer
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .flush();
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        self.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        let mut line = String::from("resource");
        for key in ["service.name", "service.version"] {
            if let Some(value) = resource.get(&Key::from_static_str(key)) {
                let _ = write!(line, " {key}={}", Val(&value));
            }
        }
        self.resource_line = (line.len() > "resource".len()).then_some(line);
    }
}

/// Formats one batch: the resource line, then one tree per trace.
fn render(out: &mut String, resource_line: Option<&str>, batch: &[SpanData]) -> fmt::Result {
    if let Some(line) = resource_line {
        writeln!(out, "{line}")?;
    }
    // Traces in order of their earliest span; spans within a trace by start time.
    let mut traces: Vec<(TraceId, Vec<&SpanData>)> = Vec::new();
    let mut index: HashMap<TraceId, usize> = HashMap::new();
    for span in batch {
        let trace_id = span.span_context.trace_id();
        let slot = *index.entry(trace_id).or_insert_with(|| {
            traces.push((trace_id, Vec::new()));
            traces.len() - 1
        });
        traces[slot].1.push(span);
    }
    for (_, spans) in &mut traces {
        spans.sort_by_key(|s| s.start_time);
    }
    traces.sort_by_key(|(_, spans)| spans[0].start_time);

    for (trace_id, spans) in &traces {
        writeln!(out, "trace {trace_id}")?;
        render_trace(out, spans)?;
    }
    Ok(())
}

/// Prints the spans of one trace (sorted by start time) as a tree, depth first.
fn render_trace(out: &mut String, spans: &[&SpanData]) -> fmt::Result {
    let present: HashSet<SpanId> = spans.iter().map(|s| s.span_context.span_id()).collect();
    let mut children: HashMap<SpanId, Vec<&SpanData>> = HashMap::new();
    let mut roots = Vec::new();
    for &span in spans {
        if present.contains(&span.parent_span_id)
            && span.parent_span_id != span.span_context.span_id()
        {
            children.entry(span.parent_span_id).or_default().push(span);
        } else {
            roots.push(span);
        }
    }

    // By address, not id: a batch with a duplicated span id still prints both spans.
    let mut printed: HashSet<*const SpanData> = HashSet::new();
    // An explicit stack rather than recursion: deep trees cannot overflow the thread's stack.
    let mut stack: Vec<(&SpanData, usize)> = roots.iter().rev().map(|&s| (s, 1)).collect();
    loop {
        while let Some((span, depth)) = stack.pop() {
            if !printed.insert(span) {
                continue;
            }
            render_span(out, span, depth, !present.contains(&span.parent_span_id))?;
            if let Some(kids) = children.get(&span.span_context.span_id()) {
                stack.extend(kids.iter().rev().map(|&k| (k, depth + 1)));
            }
        }
        // Spans caught in a parent cycle (malformed input) are not reachable from a root: print
        // them as roots rather than lose them.
        match spans
            .iter()
            .find(|&&s| !printed.contains(&std::ptr::from_ref(s)))
        {
            Some(&span) => stack.push((span, 1)),
            None => return Ok(()),
        }
    }
}

fn render_span(
    out: &mut String,
    span: &SpanData,
    depth: usize,
    parent_absent: bool,
) -> fmt::Result {
    let indent = depth * 2;
    write!(out, "{:indent$}{}", "", span.name)?;
    let kind = match span.span_kind {
        SpanKind::Client => " [client]",
        SpanKind::Server => " [server]",
        SpanKind::Producer => " [producer]",
        SpanKind::Consumer => " [consumer]",
        SpanKind::Internal => "",
    };
    out.push_str(kind);
    let elapsed = span
        .end_time
        .duration_since(span.start_time)
        .unwrap_or_default();
    write!(out, " {}", Human(elapsed))?;
    if let Status::Error { description } = &span.status {
        out.push_str(" ERROR");
        if !description.is_empty() {
            write!(out, " {description:?}")?;
        }
    }
    write_attributes(out, &span.attributes)?;
    if parent_absent && span.parent_span_id != SpanId::INVALID {
        let remote = if span.parent_span_is_remote {
            "remote "
        } else {
            ""
        };
        write!(out, " ({remote}parent {})", span.parent_span_id)?;
    }
    out.push('\n');

    for event in span.events.iter() {
        write!(
            out,
            "{:indent$}• {} {}",
            "",
            event.name,
            Offset(span.start_time, event.timestamp),
            indent = indent + 2
        )?;
        write_attributes(out, &event.attributes)?;
        out.push('\n');
    }
    Ok(())
}

fn write_attributes(out: &mut String, attributes: &[KeyValue]) -> fmt::Result {
    for kv in attributes {
        write!(out, " {}={}", kv.key, Val(&kv.value))?;
    }
    Ok(())
}

/// A value as its type reads: strings quoted, floats with a decimal point, arrays in brackets.
struct Val<'a>(&'a Value);

impl fmt::Display for Val<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Value::Bool(v) => write!(f, "{v}"),
            Value::I64(v) => write!(f, "{v}"),
            Value::F64(v) => write!(f, "{v:?}"),
            Value::String(v) => write!(f, "{:?}", v.as_str()),
            Value::Array(Array::Bool(v)) => write!(f, "{v:?}"),
            Value::Array(Array::I64(v)) => write!(f, "{v:?}"),
            Value::Array(Array::F64(v)) => write!(f, "{v:?}"),
            Value::Array(Array::String(v)) => f
                .debug_list()
                .entries(v.iter().map(|s| s.as_str()))
                .finish(),
            other => write!(f, "{other}"),
        }
    }
}

/// A duration in the unit that keeps three significant digits: `850ns`, `12.3µs`, `4.56ms`, `1.20s`.
struct Human(Duration);

impl fmt::Display for Human {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let nanos = self.0.as_nanos();
        if nanos < 1_000 {
            return write!(f, "{nanos}ns");
        }
        let secs = self.0.as_secs_f64();
        let (value, unit) = if nanos < 1_000_000 {
            (secs * 1e6, "µs")
        } else if nanos < 1_000_000_000 {
            (secs * 1e3, "ms")
        } else {
            (secs, "s")
        };
        let decimals = match value {
            v if v < 10.0 => 2,
            v if v < 100.0 => 1,
            _ => 0,
        };
        write!(f, "{value:.decimals$}{unit}")
    }
}

/// An event's time relative to its span's start: `+120µs` (or `-…` if it precedes the start).
struct Offset(SystemTime, SystemTime);

impl fmt::Display for Offset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.1.duration_since(self.0) {
            Ok(after) => write!(f, "+{}", Human(after)),
            Err(before) => write!(f, "-{}", Human(before.duration())),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    use opentelemetry::trace::{
        Event, SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState,
    };
    use opentelemetry::{InstrumentationScope, KeyValue};
    use opentelemetry_sdk::Resource;
    use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanExporter, SpanLinks};

    use super::{ConsoleExporter, Human};

    /// A writer the test can read back.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Shared {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    /// A writer that always fails.
    struct Broken;

    impl std::io::Write for Broken {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::Error::other("disk full"))
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Err(std::io::Error::other("disk full"))
        }
    }

    const TRACE: u128 = 0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736;
    const T0: Duration = Duration::from_secs(1_700_000_000);

    fn at(micros: u64) -> SystemTime {
        UNIX_EPOCH + T0 + Duration::from_micros(micros)
    }

    fn span(
        trace: u128,
        id: u64,
        parent: u64,
        name: &'static str,
        start_us: u64,
        end_us: u64,
    ) -> SpanData {
        SpanData {
            span_context: SpanContext::new(
                TraceId::from(trace),
                SpanId::from(id),
                TraceFlags::SAMPLED,
                false,
                TraceState::NONE,
            ),
            parent_span_id: SpanId::from(parent),
            parent_span_is_remote: false,
            span_kind: SpanKind::Internal,
            name: Cow::Borrowed(name),
            start_time: at(start_us),
            end_time: at(end_us),
            attributes: Vec::new(),
            dropped_attributes_count: 0,
            events: SpanEvents::default(),
            links: SpanLinks::default(),
            status: Status::Unset,
            instrumentation_scope: InstrumentationScope::builder("test").build(),
        }
    }

    fn export(exporter: &ConsoleExporter, batch: Vec<SpanData>) {
        let result = block_on(exporter.export(batch));
        assert!(result.is_ok());
    }

    /// Polls a future that never waits (the console exporter's) to completion.
    fn block_on<F: std::future::Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(future)
    }

    #[test]
    fn batch_renders_as_a_tree_with_events_errors_and_typed_attributes() {
        let mut root = span(TRACE, 0x0a, 0, "checkout", 0, 4_560);
        root.span_kind = SpanKind::Server;
        root.attributes = vec![
            KeyValue::new("user.id", 42),
            KeyValue::new("express", true),
            KeyValue::new("coupon", "SPRING \"24\""),
            KeyValue::new("sizes", opentelemetry::Value::Array(vec![1_i64, 2].into())),
        ];
        let mut load = span(TRACE, 0x0b, 0x0a, "load cart", 100, 1_300);
        load.events.events.push(Event::new(
            "cache miss",
            at(220),
            vec![KeyValue::new("key", "cart:42")],
            0,
        ));
        let mut charge = span(TRACE, 0x0c, 0x0a, "charge card", 1_500, 3_500);
        charge.span_kind = SpanKind::Client;
        charge.status = Status::error("card declined");
        charge.attributes = vec![KeyValue::new("amount", 12.5), KeyValue::new("retries", 0.0)];

        let out = Shared::default();
        let mut exporter = ConsoleExporter::with_writer(out.clone());
        exporter.set_resource(&Resource::builder_empty().with_service_name("shop").build());
        // Children end first, so they come first in a batch; the tree is ordered by start time.
        export(&exporter, vec![charge, load, root]);

        assert_eq!(
            out.text(),
            "resource service.name=\"shop\"\n\
             trace 4bf92f3577b34da6a3ce929d0e0e4736\n\
             \x20 checkout [server] 4.56ms user.id=42 express=true coupon=\"SPRING \\\"24\\\"\" sizes=[1, 2]\n\
             \x20   load cart 1.20ms\n\
             \x20     • cache miss +120µs key=\"cart:42\"\n\
             \x20   charge card [client] 2.00ms ERROR \"card declined\" amount=12.5 retries=0.0\n"
        );
    }

    #[test]
    fn span_whose_parent_is_elsewhere_is_a_root_with_a_note() {
        let orphan = span(TRACE, 0x0b, 0x00f0_67aa_0ba9_02b7, "late child", 0, 12);
        let mut remote = span(7, 0x0c, 0x0d, "handler", 5, 5_005);
        remote.parent_span_is_remote = true;

        let out = Shared::default();
        let exporter = ConsoleExporter::with_writer(out.clone());
        export(&exporter, vec![remote, orphan]);

        assert_eq!(
            out.text(),
            "trace 4bf92f3577b34da6a3ce929d0e0e4736\n\
             \x20 late child 12.0µs (parent 00f067aa0ba902b7)\n\
             trace 00000000000000000000000000000007\n\
             \x20 handler 5.00ms (remote parent 000000000000000d)\n"
        );
    }

    #[test]
    fn parent_cycle_loses_no_span() {
        let a = span(TRACE, 1, 2, "a", 0, 1);
        let b = span(TRACE, 2, 1, "b", 1, 2);
        let out = Shared::default();
        let exporter = ConsoleExporter::with_writer(out.clone());
        export(&exporter, vec![a, b]);
        assert_eq!(
            out.text(),
            "trace 4bf92f3577b34da6a3ce929d0e0e4736\n  a 1.00µs\n    b 1.00µs\n"
        );
    }

    #[test]
    fn duplicated_span_ids_lose_no_span() {
        let a = span(TRACE, 1, 0, "a", 0, 1);
        let b = span(TRACE, 1, 0, "b", 1, 2);
        let out = Shared::default();
        let exporter = ConsoleExporter::with_writer(out.clone());
        export(&exporter, vec![a, b]);
        assert_eq!(
            out.text(),
            "trace 4bf92f3577b34da6a3ce929d0e0e4736\n  a 1.00µs\n  b 1.00µs\n"
        );
    }

    #[test]
    fn write_errors_are_ignored() {
        let exporter = ConsoleExporter::with_writer(Broken);
        export(&exporter, vec![span(TRACE, 1, 0, "a", 0, 1)]);
        assert!(exporter.force_flush().is_ok());
        assert!(
            exporter
                .shutdown_with_timeout(Duration::from_secs(1))
                .is_ok()
        );
    }

    #[test]
    fn durations_keep_three_significant_digits() {
        let cases = [
            (Duration::from_nanos(850), "850ns"),
            (Duration::from_nanos(12_345), "12.3µs"),
            (Duration::from_nanos(4_561_000), "4.56ms"),
            (Duration::from_millis(1_200), "1.20s"),
            (Duration::from_secs(125), "125s"),
            (Duration::ZERO, "0ns"),
        ];
        for (duration, text) in cases {
            assert_eq!(Human(duration).to_string(), text);
        }
    }
}
