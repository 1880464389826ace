//! One trace mixing `#[tracing::instrument]` functions, `tracing::info_span!`, tracewire spans and
//! OpenTelemetry API spans, each nested inside each (all 16 pairs): every span has the parent it
//! was opened in, and the context comes back right after each one exits.
#![cfg(all(feature = "testing", feature = "tracing"))]

mod support;

use std::collections::HashMap;

use opentelemetry::global;
use opentelemetry::trace::{Span as _, TraceContextExt as _, Tracer as _};
use tracewire::opentelemetry_sdk::trace::SpanData;
use tracewire::testing::InMemoryExporter;
use tracing_subscriber::prelude::*;

fn tracer() -> global::BoxedTracer {
    global::tracer("mixed")
}

/// An OpenTelemetry API span made current with `Tracer::in_span` (`Context::attach` inside).
fn otel<R>(name: &'static str, f: impl FnOnce() -> R) -> R {
    tracer().in_span(name, |_cx| f())
}

/// A tracewire span, current while `f` runs (`W:checksum.inner` and `W:audit` below are
/// `#[tracewire::traced]` functions instead, so both ways of making a tracewire span take part).
fn tw<R>(name: &'static str, f: impl FnOnce() -> R) -> R {
    tracewire::in_span(name, |_| f())
}

fn info_span<R>(name: &'static str, f: impl FnOnce() -> R) -> R {
    tracing::info_span!("span", otel.name = name).in_scope(f)
}

#[tracing::instrument]
fn handler() {
    tw("W:validate", || {
        otel("O:lookup", || {
            info_span("T:cache", || {
                // An OpenTelemetry span made current by hand, the other common way.
                let span = tracer().start("O:cache.get");
                let _attached = opentelemetry::Context::current_with_span(span).attach();
                decode();
            });
        });
        // The context is back to "W:validate" after "O:lookup" exits.
        info_span("T:validate.rules", || ());
    });
}

#[tracing::instrument(name = "I:decode")]
fn decode() {
    decode_inner();
}

#[tracing::instrument(name = "I:decode.inner")]
fn decode_inner() {
    info_span("T:decode.step", || {
        info_span("T:decode.substep", || {
            tw("W:checksum", checksum_inner);
        });
    });
}

#[tracewire::traced(name = "W:checksum.inner")]
fn checksum_inner() {
    otel("O:report", || {
        otel("O:report.inner", audit);
    });
}

#[tracewire::traced(name = "W:audit")]
fn audit() {
    audit_write();
}

#[tracing::instrument(name = "I:audit.write")]
fn audit_write() {
    otel("O:store", || ());
}

/// Child name → parent name ("" for the root).
fn parents(spans: &[SpanData]) -> HashMap<String, String> {
    let names: HashMap<_, _> = spans
        .iter()
        .map(|s| (s.span_context.span_id(), s.name.to_string()))
        .collect();
    spans
        .iter()
        .map(|s| {
            let parent = names.get(&s.parent_span_id).cloned().unwrap_or_default();
            (s.name.to_string(), parent)
        })
        .collect()
}

#[test]
fn every_api_nests_inside_every_other() {
    let _serial = support::serial();
    let memory = InMemoryExporter::default();
    let guard = tracewire::Config::default()
        .with_exporter(memory.clone())
        .init()
        .expect("init");
    let subscriber = tracing_subscriber::registry().with(tracewire::tracing_layer());
    tracing::subscriber::with_default(subscriber, || {
        let request = tracing::info_span!("T:request");
        let _entered = request.enter();
        handler();
        // After everything exited, the current context is "T:request" again in all three views.
        let current = tracewire::current_span_context();
        assert_eq!(
            Some(current.span_id()),
            opentelemetry::Context::map_current(|cx| {
                // tracing spans are not OpenTelemetry spans: OpenTelemetry's context is empty.
                assert!(!cx.has_active_span());
                tracewire::current_span_id()
            })
        );
    });
    drop(guard);

    let spans = memory.spans();
    let expected = [
        ("T:request", ""),
        ("handler", "T:request"),              // I in T
        ("W:validate", "handler"),             // W in I
        ("O:lookup", "W:validate"),            // O in W
        ("T:cache", "O:lookup"),               // T in O
        ("O:cache.get", "T:cache"),            // O in T
        ("I:decode", "O:cache.get"),           // I in O
        ("I:decode.inner", "I:decode"),        // I in I
        ("T:decode.step", "I:decode.inner"),   // T in I
        ("T:decode.substep", "T:decode.step"), // T in T
        ("W:checksum", "T:decode.substep"),    // W in T
        ("W:checksum.inner", "W:checksum"),    // W in W
        ("O:report", "W:checksum.inner"),      // O in W
        ("O:report.inner", "O:report"),        // O in O
        ("W:audit", "O:report.inner"),         // W in O
        ("I:audit.write", "W:audit"),          // I in W
        ("O:store", "I:audit.write"),          // O in I
        ("T:validate.rules", "W:validate"),    // T in W, after a sibling exited
    ];
    let actual = parents(&spans);
    for (child, parent) in expected {
        assert_eq!(
            actual.get(child).map(String::as_str),
            Some(parent),
            "parent of {child:?}; the whole tree: {actual:#?}"
        );
    }
    assert_eq!(spans.len(), expected.len(), "{actual:#?}");
    let trace_id = spans[0].span_context.trace_id();
    assert!(spans.iter().all(|s| s.span_context.trace_id() == trace_id));
}

#[test]
fn an_explicit_otel_parent_wins_over_the_current_span() {
    let _serial = support::serial();
    let memory = InMemoryExporter::default();
    let guard = tracewire::Config::default()
        .with_exporter(memory.clone())
        .init()
        .expect("init");
    let elsewhere = tracer().start("elsewhere");
    let elsewhere_cx =
        opentelemetry::Context::new().with_remote_span_context(elsewhere.span_context().clone());
    tracewire::in_span("current", |_| {
        let mut child = tracer().start_with_context("explicit child", &elsewhere_cx);
        child.end();
        // A context without a span falls back to tracewire's current span.
        tracer()
            .start_with_context("fallback child", &opentelemetry::Context::new())
            .end();
    });
    drop(elsewhere);
    drop(guard);
    let parents = parents(&memory.spans());
    assert_eq!(parents["explicit child"], "elsewhere");
    assert_eq!(parents["fallback child"], "current");
}

#[test]
fn otel_api_times_given_by_the_caller_are_exported_as_given() {
    use std::time::{Duration, UNIX_EPOCH};
    let _serial = support::serial();
    let memory = InMemoryExporter::default();
    let guard = tracewire::Config::default()
        .with_exporter(memory.clone())
        .init()
        .expect("init");
    let start = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let mut span = tracer().build(
        opentelemetry::trace::SpanBuilder::from_name("timed")
            .with_start_time(start)
            .with_kind(opentelemetry::trace::SpanKind::Consumer),
    );
    span.add_event_with_timestamp("midway", start + Duration::from_millis(5), vec![]);
    span.end_with_timestamp(start + Duration::from_millis(10));
    drop(guard);
    let timed = memory.span_named("timed").expect("exported");
    assert_eq!(timed.start_time, start);
    assert_eq!(timed.end_time, start + Duration::from_millis(10));
    assert_eq!(
        timed.events.events[0].timestamp,
        start + Duration::from_millis(5)
    );
    assert_eq!(timed.span_kind, opentelemetry::trace::SpanKind::Consumer);
}
