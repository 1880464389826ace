//! Every ended span is accounted for: after a flush,
//! `spans_ended == spans_exported + dropped_buffer_full + dropped_export_failed + dropped_shutdown +
//! queued`, even when a burst from several threads overflows a tiny queue (then
//! `dropped_buffer_full > 0`), and `spans_exported` is exactly what the collector received.

mod support;

use std::sync::Barrier;
use std::time::Duration;

use support::{Behaviour, Receiver, Transport};

const THREADS: u64 = 4;
const SPANS_PER_THREAD: u64 = 5_000;
const WAIT: Duration = Duration::from_secs(15);
const SCENARIO_BOUND: Duration = Duration::from_secs(90);

/// Ends `SPANS_PER_THREAD` spans on each of `THREADS` threads, all released at once; returns when
/// all threads have joined.
fn burst() {
    let barrier = Barrier::new(THREADS as usize);
    std::thread::scope(|scope| {
        for t in 0..THREADS {
            let barrier = &barrier;
            scope.spawn(move || {
                barrier.wait();
                for i in 0..SPANS_PER_THREAD {
                    let span = tracewire::span("burst");
                    span.set_attribute("thread", t as i64);
                    span.set_attribute("i", i as i64);
                    span.end();
                }
            });
        }
    });
}

fn tiny_queue_burst(transport: Transport) {
    let _serial = support::serial();
    let receiver = Receiver::start(transport);
    // A collector slower than the burst, so the queue cannot keep up.
    receiver.set_behaviour(Behaviour::Slow(Duration::from_millis(20)));
    let config = support::config_for(&receiver)
        .with_max_queue_size(16)
        .with_max_export_batch_size(16)
        .with_thread_buffer_size(16)
        .with_schedule_delay(Duration::from_millis(5));
    let stats = support::bounded("burst", SCENARIO_BOUND, move || {
        let guard = config.init().expect("init");
        burst();
        tracewire::force_flush_timeout(Duration::from_secs(30)).expect("force_flush");
        let stats = tracewire::stats();
        drop(guard);
        stats
    });
    let total = THREADS * SPANS_PER_THREAD;
    assert_eq!(stats.spans_started, total, "{stats:#?}");
    assert_eq!(stats.spans_ended, total, "{stats:#?}");
    support::assert_accounted(&stats);
    assert_eq!(stats.queued, 0, "flushed: {stats:#?}");
    assert!(
        stats.dropped_buffer_full > 0,
        "no drop from a 16-span queue: {stats:#?}"
    );
    assert!(stats.spans_exported > 0, "{stats:#?}");
    assert_eq!(stats.dropped_export_failed, 0, "{stats:#?}");
    assert_eq!(stats.dropped_shutdown, 0, "{stats:#?}");
    assert_eq!(stats.export_errors, 0, "{stats:#?}");
    // What was counted as exported is what the collector has.
    let received = receiver.wait_for_spans(stats.spans_exported as usize, WAIT);
    assert_eq!(received.len() as u64, stats.spans_exported);
    assert!(
        stats.export_requests >= stats.spans_exported.div_ceil(16),
        "batches of at most 16: {stats:#?}"
    );
}

/// With room for everything, nothing is dropped and everything arrives.
fn roomy_burst(transport: Transport) {
    let _serial = support::serial();
    let receiver = Receiver::start(transport);
    let total = THREADS * SPANS_PER_THREAD;
    let config = support::config_for(&receiver)
        .with_max_queue_size(total as usize)
        .with_thread_buffer_size(SPANS_PER_THREAD as usize);
    let stats = support::bounded("burst", SCENARIO_BOUND, move || {
        let guard = config.init().expect("init");
        burst();
        tracewire::force_flush_timeout(Duration::from_secs(30)).expect("force_flush");
        let stats = tracewire::stats();
        drop(guard);
        stats
    });
    support::assert_accounted(&stats);
    assert_eq!(stats.spans_ended, total, "{stats:#?}");
    assert_eq!(stats.spans_exported, total, "{stats:#?}");
    assert_eq!(stats.dropped(), 0, "{stats:#?}");
    let received = receiver.wait_for_spans(total as usize, WAIT);
    assert_eq!(received.len() as u64, total);
}

#[test]
fn grpc_tiny_queue_burst_is_accounted() {
    tiny_queue_burst(Transport::Grpc);
}

#[test]
fn http_tiny_queue_burst_is_accounted() {
    tiny_queue_burst(Transport::Http);
}

#[test]
fn grpc_roomy_burst_loses_nothing() {
    roomy_burst(Transport::Grpc);
}

#[test]
fn http_roomy_burst_loses_nothing() {
    roomy_burst(Transport::Http);
}

/// A span that ends after the guard dropped is still counted: ended, and dropped at shutdown.
#[test]
fn span_ending_after_shutdown_is_counted() {
    let _serial = support::serial();
    let receiver = Receiver::start(Transport::Grpc);
    let guard = support::config_for(&receiver).init().expect("init");
    let open = tracewire::span("open across shutdown");
    tracewire::span("ended before shutdown").end();
    drop(guard);
    open.end();
    let stats = tracewire::stats();
    assert_eq!(stats.spans_started, 2, "{stats:#?}");
    assert_eq!(stats.spans_ended, 2, "{stats:#?}");
    assert_eq!(stats.spans_exported, 1, "{stats:#?}");
    assert_eq!(stats.dropped_shutdown, 1, "{stats:#?}");
    assert_eq!(stats.queued, 0, "{stats:#?}");
    support::assert_accounted(&stats);
    let spans = receiver.wait_for_spans(1, WAIT);
    assert_eq!(spans.len(), 1);
    assert_eq!(spans[0].name(), "ended before shutdown");
}

/// Stats restart at each init, and a second init fails while a guard is alive.
#[test]
fn stats_restart_at_each_init() {
    let _serial = support::serial();
    let receiver = Receiver::start(Transport::Grpc);
    let first = support::config_for(&receiver).init().expect("first init");
    for _ in 0..3 {
        tracewire::span("first run").end();
    }
    tracewire::force_flush().expect("force_flush");
    assert_eq!(tracewire::stats().spans_exported, 3);
    let second = support::config_for(&receiver).init();
    assert!(
        matches!(second, Err(tracewire::InitError::AlreadyInitialized)),
        "a second init while the guard lives: {second:?}"
    );
    drop(first);

    let guard = support::config_for(&receiver)
        .init()
        .expect("init after the guard dropped");
    let fresh = tracewire::stats();
    assert_eq!(fresh.spans_started, 0, "{fresh:#?}");
    assert_eq!(fresh.spans_ended, 0, "{fresh:#?}");
    assert_eq!(fresh.spans_exported, 0, "{fresh:#?}");
    assert_eq!(fresh.export_requests, 0, "{fresh:#?}");
    tracewire::span("second run").end();
    tracewire::force_flush().expect("force_flush");
    let stats = tracewire::stats();
    drop(guard);
    assert_eq!(stats.spans_ended, 1, "{stats:#?}");
    assert_eq!(stats.spans_exported, 1, "{stats:#?}");
    support::assert_accounted(&stats);
    assert_eq!(receiver.wait_for_spans(4, WAIT).len(), 4);
}
