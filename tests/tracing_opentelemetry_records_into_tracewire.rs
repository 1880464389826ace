//! A service that keeps tracing-opentelemetry can point its layer at tracewire's tracer: spans are
//! recorded by tracewire with their parents, in both directions.
#![cfg(all(feature = "testing", feature = "tracing-opentelemetry"))]

mod support;

use std::collections::HashMap;

use tracewire::opentelemetry::trace::TracerProvider as _;
use tracewire::testing::InMemoryExporter;
use tracewire::{KeyValue, Value};
use tracing_subscriber::prelude::*;

#[test]
fn tracing_opentelemetry_pointed_at_tracewire_keeps_parents() {
    let _serial = support::serial();
    let memory = InMemoryExporter::default();
    let guard = tracewire::Config::default()
        .with_exporter(memory.clone())
        .init()
        .expect("init");
    let tracer = tracewire::otel::TracerProvider::default().tracer("legacy");
    let subscriber = tracing_subscriber::registry()
        .with(tracewire::tracing_opentelemetry::layer().with_tracer(tracer));
    tracing::subscriber::with_default(subscriber, || {
        tracewire::in_span("tracewire root", |_| {
            tracing::info_span!("request", items = 3_i64).in_scope(|| {
                tracewire::in_span("inside tracing", |_| ());
                tracing::info_span!("nested").in_scope(|| ());
            });
        });
    });
    drop(guard);
    let spans = memory.spans();
    let names: HashMap<_, _> = spans
        .iter()
        .map(|s| (s.span_context.span_id(), s.name.to_string()))
        .collect();
    let parent = |name: &str| {
        let span = spans
            .iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("{name}"));
        names.get(&span.parent_span_id).cloned().unwrap_or_default()
    };
    assert_eq!(parent("request"), "tracewire root");
    assert_eq!(parent("inside tracing"), "request");
    assert_eq!(parent("nested"), "request");
    let request = spans.iter().find(|s| s.name == "request").unwrap();
    assert!(
        request
            .attributes
            .contains(&KeyValue::new("items", Value::I64(3)))
    );
}
