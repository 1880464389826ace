//! Shared by the tests of instrumented code: run code with tracing on, exporting to an in-memory
//! exporter, and read the spans it left.

#![allow(dead_code)] // each test binary uses a different part

use tracewire::Value;
use tracewire::opentelemetry_sdk::trace::SpanData;
use tracewire::testing::InMemoryExporter;

/// Runs `f` with tracing on (in-memory exporter, diagnostics off); returns what `f` returned and
/// every span exported by the time the guard has shut down.
pub fn record<R>(f: impl FnOnce() -> R) -> (R, Vec<SpanData>) {
    let memory = InMemoryExporter::default();
    let guard = tracewire::Config::default()
        .with_exporter(memory.clone())
        .with_diagnostics(tracewire::DiagLevel::None)
        .init()
        .expect("init");
    let value = f();
    guard.shutdown().expect("shutdown");
    (value, memory.spans())
}

/// Runs `future` to completion on a current-thread runtime with timers.
pub fn current_thread<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime")
        .block_on(future)
}

/// The spans called `name`; panics, listing the spans, when there is none.
#[track_caller]
pub fn all<'a>(spans: &'a [SpanData], name: &str) -> Vec<&'a SpanData> {
    let matching: Vec<_> = spans.iter().filter(|s| s.name == name).collect();
    assert!(!matching.is_empty(), "no span {name:?} in {spans:#?}");
    matching
}

/// The one span called `name`; panics, listing the spans, unless there is exactly one.
#[track_caller]
pub fn one<'a>(spans: &'a [SpanData], name: &str) -> &'a SpanData {
    let matching = all(spans, name);
    assert_eq!(matching.len(), 1, "spans named {name:?} in {spans:#?}");
    matching[0]
}

/// Asserts that every span called `child` is a child of the one called `parent`.
#[track_caller]
pub fn assert_children(spans: &[SpanData], child: &str, parent: &str) {
    let parent = one(spans, parent);
    for span in all(spans, child) {
        assert_eq!(
            span.parent_span_id,
            parent.span_context.span_id(),
            "{child:?} should be a child of {:?}",
            parent.name
        );
        assert_eq!(span.span_context.trace_id(), parent.span_context.trace_id());
    }
}

/// The value of the span's attribute `key`.
pub fn attribute(span: &SpanData, key: &str) -> Option<Value> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.clone())
}
