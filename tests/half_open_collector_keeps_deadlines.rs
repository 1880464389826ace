//! A half-open collector (it accepts the TCP connection and never answers, never even reads) does
//! not hold tracewire up: each export ends at the export timeout and its spans count as failed, and
//! the guard still returns within its shutdown deadline.

mod support;

use std::time::Duration;

use support::Transport;
use support::faults::RawEndpoint;

const SCENARIO_BOUND: Duration = Duration::from_secs(60);
/// The per-request export timeout, short so that the test is quick.
const EXPORT_TIMEOUT: Duration = Duration::from_millis(300);
/// How long the first flush waits. The batch export timeout stays at its default (30 s), so that it
/// is the export timeout, not the batch's, that ends each export.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(5);
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(2);
/// What the guard may take past its shutdown timeout (a generous margin; the worker answers within
/// 250 ms of the deadline).
const SHUTDOWN_MARGIN: Duration = Duration::from_secs(1);
/// How long the failed batch may take to be counted after the flush returned: room for a few
/// attempts of `EXPORT_TIMEOUT` and their backoff, far below the batch export timeout.
const COUNTED_WITHIN: Duration = Duration::from_secs(10);
const SPANS: u64 = 10;

fn half_open(transport: Transport) {
    let _serial = support::serial();
    let endpoint = RawEndpoint::half_open();
    let config = support::config_to(transport, endpoint.endpoint())
        .with_schedule_delay(Duration::from_secs(60))
        .with_max_export_batch_size(512)
        .with_export_timeout(EXPORT_TIMEOUT)
        .with_shutdown_timeout(SHUTDOWN_TIMEOUT);
    let (flush, failed, took, after) =
        support::bounded("half-open collector", SCENARIO_BOUND, move || {
            let guard = config.init().expect("init");
            for i in 0..SPANS {
                tracewire::span(format!("unanswered-{i}")).end();
            }
            let flush = tracewire::force_flush_timeout(FLUSH_TIMEOUT);
            // The export ends by itself (at its timeout, after any retries): its spans are then
            // counted as failed, not left in flight.
            let failed = support::poll_until(COUNTED_WITHIN, Duration::from_millis(20), || {
                let stats = tracewire::stats();
                (stats.dropped_export_failed == SPANS).then_some(stats)
            });
            // More spans, then the guard: the exporter is still facing the half-open collector.
            for i in 0..SPANS {
                tracewire::span(format!("at-shutdown-{i}")).end();
            }
            let took = support::timed_drop(guard);
            (flush, failed, took, tracewire::stats())
        });
    println!(
        "{transport:?}, half-open: {} connections; flush: {flush:?}; guard returned in {took:?}; \
         dropped_export_failed {}, dropped {} of {}",
        endpoint.connections(),
        after.dropped_export_failed,
        after.dropped(),
        after.spans_ended
    );
    assert!(
        endpoint.connections() > 0,
        "the exporter never connected to the half-open endpoint"
    );
    assert!(
        flush.is_err(),
        "the flush reported success while nothing answered: {after:#?}"
    );
    let failed = failed.unwrap_or_else(|| {
        panic!(
            "the batch was not counted as failed within {COUNTED_WITHIN:?} of the flush: the \
             export did not end at its {EXPORT_TIMEOUT:?} timeout ({after:#?})"
        )
    });
    assert!(failed.export_errors >= 1, "{failed:#?}");
    assert_eq!(failed.spans_exported, 0, "{failed:#?}");
    assert!(
        took < SHUTDOWN_TIMEOUT + SHUTDOWN_MARGIN,
        "the guard took {took:?} (shutdown timeout {SHUTDOWN_TIMEOUT:?}): {after:#?}"
    );
    assert_eq!(after.spans_ended, 2 * SPANS, "{after:#?}");
    assert_eq!(after.spans_exported, 0, "{after:#?}");
    assert_eq!(
        after.dropped(),
        2 * SPANS,
        "every span is counted: {after:#?}"
    );
}

#[test]
fn grpc_half_open_collector_keeps_deadlines() {
    half_open(Transport::Grpc);
}

#[test]
fn http_half_open_collector_keeps_deadlines() {
    half_open(Transport::Http);
}
