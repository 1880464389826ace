//! Spans a filter hides from tracewire's layer are not recorded, and their children (contextual,
//! explicit-parent, tracewire and OpenTelemetry API spans alike) attach to the nearest recorded
//! ancestor: a filtered trace has no holes. (With a global filter, a span hidden from every layer
//! does not exist at all, and `tracing` makes an explicit child of it a root.)
#![cfg(all(feature = "testing", feature = "tracing"))]

mod support;

use std::collections::HashMap;

use opentelemetry::trace::Tracer as _;
use tracewire::testing::InMemoryExporter;
use tracing_subscriber::filter::{EnvFilter, filter_fn};
use tracing_subscriber::prelude::*;

/// outer > hidden (filtered) > {contextual child, explicit child, tracewire child, otel child}
fn nested() {
    let outer = tracing::info_span!("outer");
    let _outer = outer.enter();
    let hidden = tracing::debug_span!("hidden");
    let _hidden = hidden.enter();
    tracing::info_span!("contextual child").in_scope(|| ());
    drop(tracing::info_span!(parent: &hidden, "explicit child"));
    tracewire::in_span("tracewire child", |_| ());
    opentelemetry::global::tracer("filtered").in_span("otel child", |_| ());
}

/// Runs `nested` under `subscriber` and returns each exported span's parent name.
fn parents_under(
    subscriber: impl tracing::Subscriber + Send + Sync + 'static,
) -> HashMap<String, String> {
    let _serial = support::serial();
    let memory = InMemoryExporter::default();
    let guard = tracewire::Config::default()
        .with_exporter(memory.clone())
        .init()
        .expect("init");
    tracing::subscriber::with_default(subscriber, nested);
    drop(guard);
    let spans = memory.spans();
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

fn assert_no_holes(parents: &HashMap<String, String>, children: &[&str]) {
    assert!(!parents.contains_key("hidden"), "{parents:#?}");
    for &child in children {
        assert_eq!(
            parents.get(child).map(String::as_str),
            Some("outer"),
            "parent of {child:?} in {parents:#?}"
        );
    }
    assert_eq!(parents.len(), 5, "{parents:#?}");
}

const ALL: [&str; 4] = [
    "contextual child",
    "explicit child",
    "tracewire child",
    "otel child",
];

#[test]
fn a_per_layer_filter_leaves_no_holes() {
    let layer = tracewire::tracing_layer().with_filter(filter_fn(|meta| {
        !meta.is_span() || *meta.level() <= tracing::Level::INFO
    }));
    // Another layer sees every span, so "hidden" exists and is hidden from tracewire's layer only.
    let logs = tracing_subscriber::fmt::layer().with_writer(std::io::sink);
    let parents = parents_under(tracing_subscriber::registry().with(logs).with(layer));
    assert_no_holes(&parents, &ALL);
}

#[test]
fn a_global_env_filter_leaves_no_holes() {
    let subscriber = tracing_subscriber::registry()
        .with(EnvFilter::new("info"))
        .with(tracewire::tracing_layer());
    let parents = parents_under(subscriber);
    // A span disabled for every layer is `Span::none()`, and `parent: &none` is `parent: None` in
    // `tracing` itself: the explicit child is a root, whichever layer records it.
    assert_no_holes(
        &parents,
        &["contextual child", "tracewire child", "otel child"],
    );
    assert_eq!(parents["explicit child"], "");
}
