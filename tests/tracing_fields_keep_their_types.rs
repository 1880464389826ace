//! `tracing` spans recorded by tracewire's layer keep their field types, honour the `otel.*`
//! fields, carry their events (fields, level, target), and errors mark them the OpenTelemetry way.
#![cfg(all(feature = "testing", feature = "tracing"))]

mod support;

use tracewire::opentelemetry_sdk::trace::SpanData;
use tracewire::testing::InMemoryExporter;
use tracewire::{KeyValue, SpanKind, Status, Value};
use tracing_subscriber::prelude::*;

/// Runs `f` under a subscriber with tracewire's layer and returns the exported spans.
fn record(f: impl FnOnce()) -> Vec<SpanData> {
    let _serial = support::serial();
    let memory = InMemoryExporter::default();
    let guard = tracewire::Config::default()
        .with_exporter(memory.clone())
        .init()
        .expect("init");
    let subscriber = tracing_subscriber::registry().with(tracewire::tracing_layer());
    tracing::subscriber::with_default(subscriber, f);
    drop(guard);
    memory.spans()
}

fn named<'a>(spans: &'a [SpanData], name: &str) -> &'a SpanData {
    spans
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no span {name:?} in {spans:#?}"))
}

fn value<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a Value> {
    attributes
        .iter()
        .rev()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| &kv.value)
}

#[derive(Debug)]
struct Point {
    #[allow(dead_code)]
    x: i32,
}

#[test]
fn field_values_keep_their_types() {
    let spans = record(|| {
        let span = tracing::info_span!(
            "typed",
            int = -3_i64,
            fits = 7_u64,
            big = u64::MAX,
            wide = 12_i128,
            ratio = 0.5_f64,
            flag = true,
            text = "hi",
            shown = %"display",
            debugged = ?Point { x: 1 },
            late = tracing::field::Empty,
        );
        span.record("late", 5_u64);
    });
    let typed = named(&spans, "typed");
    let attrs = &typed.attributes;
    assert_eq!(value(attrs, "int"), Some(&Value::I64(-3)));
    assert_eq!(value(attrs, "fits"), Some(&Value::I64(7)));
    assert_eq!(
        value(attrs, "big"),
        Some(&Value::from(u64::MAX.to_string()))
    );
    assert_eq!(value(attrs, "wide"), Some(&Value::I64(12)));
    assert_eq!(value(attrs, "ratio"), Some(&Value::F64(0.5)));
    assert_eq!(value(attrs, "flag"), Some(&Value::Bool(true)));
    assert_eq!(value(attrs, "text"), Some(&Value::from("hi")));
    assert_eq!(value(attrs, "shown"), Some(&Value::from("display")));
    assert_eq!(
        value(attrs, "debugged"),
        Some(&Value::from("Point { x: 1 }"))
    );
    assert_eq!(value(attrs, "late"), Some(&Value::I64(5)));
}

#[test]
fn otel_fields_set_name_kind_and_status() {
    let spans = record(|| {
        let span = tracing::info_span!(
            "GET",
            otel.name = "GET /users/{id}",
            otel.kind = "server",
            otel.status_code = tracing::field::Empty,
            otel.status_message = tracing::field::Empty,
            http.response.status_code = 503_i64,
        );
        span.record("otel.status_code", "error");
        span.record("otel.status_message", "upstream unavailable");
        tracing::info_span!("kept ok", otel.status_code = "ok").in_scope(|| {
            tracing::error!("an error event does not override an explicit Ok");
        });
    });
    let get = named(&spans, "GET /users/{id}");
    assert_eq!(get.span_kind, SpanKind::Server);
    assert_eq!(get.status, Status::error("upstream unavailable"));
    assert!(
        get.attributes
            .iter()
            .all(|kv| !kv.key.as_str().starts_with("otel."))
    );
    assert_eq!(named(&spans, "kept ok").status, Status::Ok);
}

#[test]
fn events_inside_a_span_become_span_events() {
    let spans = record(|| {
        tracing::info_span!("work").in_scope(|| {
            tracing::info!(answer = 42_u64, cached = false, "computed");
            tracing::debug!(target: "custom::target", step = 2_i64);
        });
        tracing::info!("outside any span: nothing to attach it to");
    });
    assert_eq!(spans.len(), 1);
    let events = &named(&spans, "work").events.events;
    assert_eq!(events.len(), 2);
    let computed = &events[0];
    assert_eq!(computed.name, "computed");
    assert_eq!(value(&computed.attributes, "answer"), Some(&Value::I64(42)));
    assert_eq!(
        value(&computed.attributes, "cached"),
        Some(&Value::Bool(false))
    );
    assert_eq!(
        value(&computed.attributes, "level"),
        Some(&Value::from("INFO"))
    );
    assert_eq!(
        value(&computed.attributes, "target"),
        Some(&Value::from(module_path!()))
    );
    let unnamed = &events[1];
    assert!(unnamed.name.starts_with("event "), "{:?}", unnamed.name);
    assert_eq!(
        value(&unnamed.attributes, "target"),
        Some(&Value::from("custom::target"))
    );
    assert_eq!(
        value(&unnamed.attributes, "level"),
        Some(&Value::from("DEBUG"))
    );
    assert_eq!(named(&spans, "work").status, Status::Unset);
}

#[test]
fn errors_mark_the_span_as_the_conventions_say() {
    let spans = record(|| {
        tracing::info_span!("with error field").in_scope(|| {
            let err = std::io::Error::other("disk full");
            tracing::warn!(error = &err as &dyn std::error::Error, "write failed");
        });
        tracing::info_span!("with error level").in_scope(|| {
            tracing::error!(attempt = 3_i64, "gave up");
        });
    });
    let field = named(&spans, "with error field");
    let exception = &field.events.events[0];
    assert_eq!(exception.name, "exception");
    assert_eq!(
        value(&exception.attributes, "exception.message"),
        Some(&Value::from("disk full"))
    );
    assert_eq!(
        value(&exception.attributes, "message"),
        Some(&Value::from("write failed"))
    );
    assert_eq!(field.status, Status::error("disk full"));

    let level = named(&spans, "with error level");
    assert_eq!(level.events.events[0].name, "gave up");
    assert_eq!(level.status, Status::error("gave up"));
}

#[test]
fn follows_from_becomes_a_link() {
    let spans = record(|| {
        let cause = tracing::info_span!("cause");
        let effect = tracing::info_span!(parent: None, "effect");
        effect.follows_from(&cause);
    });
    let cause = named(&spans, "cause");
    let effect = named(&spans, "effect");
    assert_eq!(effect.links.links.len(), 1);
    assert_eq!(effect.links.links[0].span_context, cause.span_context);
    assert_ne!(
        effect.span_context.trace_id(),
        cause.span_context.trace_id()
    );
}
