//! Recording spans on the hot path allocates nothing: not when tracing is off, not for unsampled
//! spans, and not for sampled spans with a static name, up to four attributes and one event once
//! the thread's recycled records are warm. A counting global allocator (this test binary's own)
//! counts the allocations made by the test thread; the export thread's are not counted.

mod counting_allocator;

use std::sync::Mutex;

use counting_allocator::allocations_in;
use tracewire::{Config, DiagLevel, ExporterKind, Sampler};

static SERIAL: Mutex<()> = Mutex::new(());
/// Spans (and the parent) that fit in a thread's first ring of 64 slots.
const WARM_SPANS: usize = 50;

fn record_spans(count: usize) {
    let parent = tracewire::span("parent");
    let _entered = parent.enter();
    for i in 0..count {
        let span = tracewire::span("child");
        span.set_attribute("index", i as i64);
        span.set_attribute("ratio", 0.5);
        span.set_attribute("cached", true);
        span.set_attribute("kind", "static");
        span.add_event("step", Vec::new());
        span.end();
    }
}

#[test]
fn disabled_tracing_allocates_nothing() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    // No init at all.
    assert_eq!(allocations_in(|| record_spans(1_000)), 0);
    // Disabled by configuration.
    let guard = Config::default().with_disabled(true).init().expect("init");
    assert_eq!(allocations_in(|| record_spans(1_000)), 0);
    drop(guard);
}

#[test]
fn unsampled_spans_allocate_nothing() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let guard = Config::default()
        .with_exporter_kind(ExporterKind::None)
        .with_sampler(Sampler::AlwaysOff)
        .init()
        .expect("init");
    // The first span of the thread registers its counters (once per thread).
    record_spans(1);
    assert_eq!(allocations_in(|| record_spans(1_000)), 0);
    assert_eq!(tracewire::stats().spans_started, 0);
    drop(guard);
}

#[test]
fn sampled_spans_allocate_nothing_once_warm() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let guard = Config::default()
        .with_exporter_kind(ExporterKind::None)
        .with_diagnostics(DiagLevel::None)
        .with_thread_buffer_size(1024)
        .init()
        .expect("init");
    // Warm-up: the thread's rings and its first records are allocated once, then the export
    // thread hands emptied records back. A ring starts at 64 slots and grows when the thread fills
    // it before the export thread drains it (when depends on scheduling); records recycled through
    // an outgrown ring are still taken, but each recycle ring holds at most its ring's size. The
    // last rounds hold fewer spans than the first ring, so they cannot make it grow, and they leave
    // that many records recycled.
    for _ in 0..4 {
        record_spans(500);
        tracewire::force_flush().expect("flush");
    }
    for _ in 0..2 {
        record_spans(WARM_SPANS);
        tracewire::force_flush().expect("flush");
    }
    let allocations = allocations_in(|| record_spans(WARM_SPANS));
    tracewire::force_flush().expect("flush");
    let stats = tracewire::stats();
    assert_eq!(
        allocations, 0,
        "sampled spans allocated on the recording thread"
    );
    assert_eq!(stats.dropped(), 0, "{stats:?}");
    assert_eq!(stats.spans_exported, stats.spans_ended, "{stats:?}");
    drop(guard);
}
