//! Export failures are counted, and only definitive ones: a collector that answers 503 /
//! `UNAVAILABLE` a few times then recovers gets every span (the exporter retries, and a retried
//! success is not an error); a collector that always fails or rejects makes the spans count as
//! `dropped_export_failed` with the failure in `last_export_error`; a collector slower than the batch
//! export timeout counts as a failure too, and the guard's drop still returns within its shutdown
//! timeout plus a margin.

mod support;

use std::time::Duration;

use support::{Behaviour, Receiver, Transport};

const WAIT: Duration = Duration::from_secs(15);
const SCENARIO_BOUND: Duration = Duration::from_secs(90);
const SPANS: u64 = 5;

/// Ends `SPANS` spans, flushes, and returns the flush result and the stats after it, then drops the
/// guard (bounded).
fn export_batch(
    config: tracewire::Config,
) -> (
    Result<(), tracewire::FlushError>,
    tracewire::Stats,
    Duration,
) {
    support::bounded("export scenario", SCENARIO_BOUND, move || {
        let guard = config.init().expect("init");
        for i in 0..SPANS {
            tracewire::in_span("faulty export", |span| span.set_attribute("i", i as i64));
        }
        let flush = tracewire::force_flush();
        let stats = tracewire::stats();
        let took = support::timed_drop(guard);
        (flush, stats, took)
    })
}

/// A long schedule delay and a batch that holds every span: the flush makes exactly one batch.
fn one_batch_config(receiver: &Receiver) -> tracewire::Config {
    support::config_for(receiver)
        .with_schedule_delay(Duration::from_secs(60))
        .with_max_export_batch_size(512)
}

fn recovers_after_transient_failures(transport: Transport) {
    let _serial = support::serial();
    let receiver = Receiver::start(transport);
    // Fewer failures than the exporter's retries (3 in opentelemetry-otlp's recommended policy).
    receiver.fail_next(2);
    let (flush, stats, _) = export_batch(one_batch_config(&receiver));
    let spans = receiver.wait_for_spans(SPANS as usize, WAIT);

    assert_eq!(flush, Ok(()), "{stats:#?}");
    assert_eq!(spans.len(), SPANS as usize, "spans received after retries");
    assert_eq!(
        receiver.requests_received(),
        3,
        "two failed attempts and one retried success"
    );
    assert_eq!(receiver.requests_failed(), 2);
    assert_eq!(stats.spans_exported, SPANS, "{stats:#?}");
    assert_eq!(stats.dropped_export_failed, 0, "{stats:#?}");
    assert_eq!(
        stats.export_errors, 0,
        "a retried success is not an error: {stats:#?}"
    );
    assert_eq!(stats.export_requests, 1, "{stats:#?}");
    support::assert_accounted(&stats);
}

/// More failures than the retries: that batch is a definitive failure (counted once), the next batch
/// goes through, and only that definitive failure is in `export_errors`.
fn outlasts_the_retries_then_recovers(transport: Transport) {
    let _serial = support::serial();
    let receiver = Receiver::start(transport);
    // One attempt and three retries, all failing.
    receiver.fail_next(4);
    let config = one_batch_config(&receiver).with_export_timeout(Duration::from_secs(5));
    let (first, second, stats) = support::bounded("retries exhausted", SCENARIO_BOUND, move || {
        let guard = config.init().expect("init");
        for _ in 0..SPANS {
            tracewire::span("lost batch").end();
        }
        let first = tracewire::force_flush();
        for _ in 0..SPANS {
            tracewire::span("delivered batch").end();
        }
        let second = tracewire::force_flush();
        let stats = tracewire::stats();
        drop(guard);
        (first, second, stats)
    });

    assert!(
        matches!(first, Err(tracewire::FlushError::Export(_))),
        "first flush: {first:?}"
    );
    assert_eq!(second, Ok(()), "second flush");
    assert_eq!(
        receiver.requests_received(),
        5,
        "4 failed attempts, then 1 success"
    );
    let spans = receiver.wait_for_spans(SPANS as usize, WAIT);
    assert_eq!(spans.len(), SPANS as usize);
    assert!(spans.iter().all(|s| s.name() == "delivered batch"));
    assert_eq!(stats.export_requests, 2, "{stats:#?}");
    assert_eq!(stats.export_errors, 1, "{stats:#?}");
    assert_eq!(stats.dropped_export_failed, SPANS, "{stats:#?}");
    assert_eq!(stats.spans_exported, SPANS, "{stats:#?}");
    support::assert_accounted(&stats);
}

fn always_failing(transport: Transport, behaviour: Behaviour) {
    let _serial = support::serial();
    let receiver = Receiver::start(transport);
    receiver.set_behaviour(behaviour);
    let config = one_batch_config(&receiver).with_export_timeout(Duration::from_secs(5));
    let (flush, stats, _) = export_batch(config);

    assert!(receiver.span_count() == 0);
    assert!(
        flush.is_err(),
        "force_flush reported success while every export failed: {stats:#?}"
    );
    assert_eq!(stats.spans_ended, SPANS, "{stats:#?}");
    assert_eq!(stats.spans_exported, 0, "{stats:#?}");
    assert_eq!(stats.dropped_export_failed, SPANS, "{stats:#?}");
    assert_eq!(stats.queued, 0, "{stats:#?}");
    assert_eq!(stats.export_requests, 1, "one batch: {stats:#?}");
    assert_eq!(stats.export_errors, 1, "one definitive failure: {stats:#?}");
    support::assert_accounted(&stats);

    let message = stats
        .last_export_error
        .clone()
        .expect("last_export_error is set");
    let lower = message.to_lowercase();
    match behaviour {
        Behaviour::Fail => {
            // Retryable: the exporter tried more than once before giving up.
            assert!(
                receiver.requests_received() > 1,
                "no retry: {} request(s)",
                receiver.requests_received()
            );
            assert!(
                lower.contains("503") || lower.contains("unavailable"),
                "last_export_error does not say what failed: {message:?}"
            );
        }
        Behaviour::Reject => {
            // Not retryable: exactly one attempt.
            assert_eq!(receiver.requests_received(), 1, "a 400 must not be retried");
            assert!(
                lower.contains("400") || lower.contains("invalid") || lower.contains("bad request"),
                "last_export_error does not say what failed: {message:?}"
            );
        }
        other => unreachable!("{other:?}"),
    }
}

/// The batch export timeout abandons an export to a collector that does not answer in time; the
/// spans count as failed (flushed with a deadline long enough for the export to time out).
fn slower_than_the_batch_timeout(transport: Transport) {
    let _serial = support::serial();
    let receiver = Receiver::start(transport);
    receiver.set_behaviour(Behaviour::Slow(Duration::from_secs(5)));
    let shutdown_timeout = Duration::from_secs(1);
    let config = one_batch_config(&receiver)
        .with_batch_export_timeout(Duration::from_millis(300))
        .with_shutdown_timeout(shutdown_timeout);
    let (flush, stats, drop_took) = support::bounded("slow export", SCENARIO_BOUND, move || {
        let guard = config.init().expect("init");
        for _ in 0..SPANS {
            tracewire::span("slow export").end();
        }
        let flush = tracewire::force_flush_timeout(Duration::from_secs(10));
        let stats = tracewire::stats();
        (flush, stats, support::timed_drop(guard))
    });

    assert!(
        receiver.wait_for_received(1, WAIT) >= 1,
        "the export never reached the receiver"
    );
    assert!(
        matches!(flush, Err(tracewire::FlushError::Export(_))),
        "a timed-out export is an export failure: {flush:?}"
    );
    assert_eq!(stats.spans_exported, 0, "{stats:#?}");
    assert_eq!(stats.dropped_export_failed, SPANS, "{stats:#?}");
    assert_eq!(stats.export_errors, 1, "{stats:#?}");
    assert!(
        stats.last_export_error.is_some(),
        "no last_export_error: {stats:#?}"
    );
    support::assert_accounted(&stats);
    let bound = shutdown_timeout + Duration::from_secs(5);
    assert!(
        drop_took < bound,
        "guard drop took {drop_took:?}, bound {bound:?}"
    );
}

/// An export still waiting on a slow collector when the guard drops does not hold the drop past the
/// shutdown timeout, and its spans are still accounted for (as dropped at shutdown).
fn slow_collector_does_not_hold_up_shutdown(transport: Transport) {
    let _serial = support::serial();
    let receiver = Receiver::start(transport);
    receiver.set_behaviour(Behaviour::Slow(Duration::from_secs(10)));
    let shutdown_timeout = Duration::from_secs(1);
    let config = support::config_for(&receiver)
        .with_schedule_delay(Duration::from_millis(10))
        .with_batch_export_timeout(Duration::from_secs(8))
        .with_export_timeout(Duration::from_secs(8))
        .with_shutdown_timeout(shutdown_timeout);
    let (stats, drop_took) = support::bounded("slow shutdown", SCENARIO_BOUND, move || {
        let guard = config.init().expect("init");
        for _ in 0..SPANS {
            tracewire::span("stuck in export").end();
        }
        // Bounded wait until the export is in flight (the receiver holds it for 10 s).
        assert!(
            receiver.wait_for_received(1, WAIT) >= 1,
            "the export never reached the receiver"
        );
        let took = support::timed_drop(guard);
        drop(receiver);
        (tracewire::stats(), took)
    });
    let bound = shutdown_timeout + Duration::from_secs(5);
    assert!(
        drop_took < bound,
        "guard drop took {drop_took:?}, bound {bound:?}"
    );
    assert_eq!(stats.spans_ended, SPANS, "{stats:#?}");
    assert_eq!(stats.spans_exported, 0, "{stats:#?}");
    assert_eq!(stats.queued, 0, "{stats:#?}");
    assert_eq!(
        stats.dropped(),
        SPANS,
        "spans of the export abandoned at shutdown are not accounted for: {stats:#?}"
    );
    support::assert_accounted(&stats);
}

#[test]
fn grpc_recovers_after_transient_unavailable() {
    recovers_after_transient_failures(Transport::Grpc);
}

#[test]
fn http_recovers_after_transient_503() {
    recovers_after_transient_failures(Transport::Http);
}

#[test]
fn grpc_always_unavailable_drops_and_counts() {
    always_failing(Transport::Grpc, Behaviour::Fail);
}

#[test]
fn http_always_503_drops_and_counts() {
    always_failing(Transport::Http, Behaviour::Fail);
}

#[test]
fn grpc_invalid_argument_is_not_retried() {
    always_failing(Transport::Grpc, Behaviour::Reject);
}

#[test]
fn http_400_is_not_retried() {
    always_failing(Transport::Http, Behaviour::Reject);
}

#[test]
fn grpc_slow_collector_times_out() {
    slower_than_the_batch_timeout(Transport::Grpc);
}

#[test]
fn http_slow_collector_times_out() {
    slower_than_the_batch_timeout(Transport::Http);
}

#[test]
fn grpc_slow_collector_does_not_hold_up_shutdown() {
    slow_collector_does_not_hold_up_shutdown(Transport::Grpc);
}

#[test]
fn http_slow_collector_does_not_hold_up_shutdown() {
    slow_collector_does_not_hold_up_shutdown(Transport::Http);
}

#[test]
fn grpc_failures_beyond_the_retries_count_once() {
    outlasts_the_retries_then_recovers(Transport::Grpc);
}

#[test]
fn http_failures_beyond_the_retries_count_once() {
    outlasts_the_retries_then_recovers(Transport::Http);
}
