//! Once the OpenTelemetry API bridge is in use, tracewire reads OpenTelemetry's current context,
//! whose `map_current` panics when its thread-local is gone. A span started from a thread-local
//! destructor (after OpenTelemetry's own was destroyed) must not take the process down: tracewire's
//! own context decides instead.
#![cfg(feature = "testing")]

mod support;

use std::sync::atomic::{AtomicBool, Ordering};

use opentelemetry::global;
use opentelemetry::trace::Tracer as _;
use tracewire::testing::InMemoryExporter;

static DESTRUCTOR_FINISHED: AtomicBool = AtomicBool::new(false);

/// Starts and enters a tracewire span when its thread ends.
struct SpanOnDrop;

impl Drop for SpanOnDrop {
    fn drop(&mut self) {
        let span = tracewire::span("from a thread-local destructor");
        let _entered = span.enter();
        drop(tracewire::span("its child"));
        DESTRUCTOR_FINISHED.store(true, Ordering::SeqCst);
    }
}

thread_local! {
    static ON_EXIT: SpanOnDrop = const { SpanOnDrop };
}

#[test]
fn a_span_started_after_opentelemetry_s_thread_local_is_gone_does_not_panic() {
    let _serial = support::serial();
    let memory = InMemoryExporter::default();
    let guard = tracewire::Config::default()
        .with_exporter(memory.clone())
        .init()
        .expect("init");

    std::thread::spawn(|| {
        // Registered first, so destroyed last: after OpenTelemetry's context (registered below).
        ON_EXIT.with(|_| ());
        global::tracer("bridge").in_span("through the OpenTelemetry API", |_cx| {
            drop(tracewire::span("inside it"));
        });
    })
    .join()
    .expect("the thread ended without a panic");

    assert!(DESTRUCTOR_FINISHED.load(Ordering::SeqCst));
    drop(guard);
    assert!(memory.span_named("inside it").is_some());
}
