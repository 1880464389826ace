//! `init` makes tracewire OpenTelemetry's global tracer provider, unless told not to.
#![cfg(feature = "testing")]

mod support;

use opentelemetry::global;
use opentelemetry::trace::{Span as _, Tracer as _};
use tracewire::testing::InMemoryExporter;

fn global_span_recorded(config: tracewire::Config) -> bool {
    let memory = InMemoryExporter::default();
    global::set_tracer_provider(opentelemetry::trace::noop::NoopTracerProvider::new());
    let guard = config.with_exporter(memory.clone()).init().expect("init");
    global::tracer("global")
        .start("through the global tracer")
        .end();
    drop(guard);
    memory.span_named("through the global tracer").is_some()
}

#[test]
fn init_sets_the_global_provider_by_default() {
    let _serial = support::serial();
    assert!(global_span_recorded(tracewire::Config::default()));
}

#[test]
fn with_global_tracer_provider_false_leaves_it_alone() {
    let _serial = support::serial();
    assert!(!global_span_recorded(
        tracewire::Config::default().with_global_tracer_provider(false)
    ));
}
