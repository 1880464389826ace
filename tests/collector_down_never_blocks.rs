//! A collector that is down never blocks the application: with nothing listening at the endpoint (or
//! a listener that accepts connections and never answers), ten thousand spans are created and ended,
//! the guard's drop returns within its shutdown timeout plus a generous margin, and every span is
//! accounted for as dropped (never lost from the counts, never "exported").
//!
//! No timing is asserted on the hot path: the only bound is a liveness bound on the guard's drop.

mod support;

use std::net::TcpListener;
use std::time::{Duration, Instant};

use support::Transport;

const SPANS: u64 = 10_000;
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(2);
/// Liveness margin on top of the shutdown timeout (not a benchmark).
const MARGIN: Duration = Duration::from_secs(5);
const FLUSH_BOUND: Duration = Duration::from_secs(60);
const SCENARIO_BOUND: Duration = Duration::from_secs(120);

struct Outcome {
    /// Stats just before the guard dropped, after a flush attempt.
    before_drop: tracewire::Stats,
    /// Stats after the guard dropped.
    after_drop: tracewire::Stats,
    drop_took: Duration,
    flush: Result<(), tracewire::FlushError>,
}

fn run(transport: Transport, endpoint: String) -> Outcome {
    let config = support::config_to(transport, endpoint)
        .with_export_timeout(Duration::from_millis(500))
        .with_batch_export_timeout(Duration::from_secs(1))
        .with_shutdown_timeout(SHUTDOWN_TIMEOUT);
    support::bounded("collector down scenario", SCENARIO_BOUND, move || {
        let guard = config.init().expect("init must not need the collector");
        for i in 0..SPANS {
            let span = tracewire::span("work while the collector is down");
            span.set_attribute("i", i as i64);
            span.end();
        }
        // A deadline long enough for every batch to fail, so the background thread is idle after
        // it and the accounting is exact.
        let flush = tracewire::force_flush_timeout(FLUSH_BOUND);
        let before_drop = tracewire::stats();
        let started = Instant::now();
        drop(guard);
        let drop_took = started.elapsed();
        Outcome {
            before_drop,
            after_drop: tracewire::stats(),
            drop_took,
            flush,
        }
    })
}

fn check(outcome: &Outcome) {
    let Outcome {
        before_drop,
        after_drop,
        drop_took,
        flush,
    } = outcome;
    assert!(
        *drop_took < SHUTDOWN_TIMEOUT + MARGIN,
        "guard drop took {drop_took:?} with a shutdown timeout of {SHUTDOWN_TIMEOUT:?}"
    );
    // Every span ended; nothing was exported.
    for stats in [before_drop, after_drop] {
        assert_eq!(stats.spans_started, SPANS, "{stats:#?}");
        assert_eq!(stats.spans_ended, SPANS, "{stats:#?}");
        assert_eq!(stats.spans_exported, 0, "{stats:#?}");
    }
    // After a flush, the background thread is idle: the invariant holds exactly.
    support::assert_accounted(before_drop);
    assert!(
        !matches!(flush, Err(tracewire::FlushError::Timeout(_))),
        "flush timed out after {FLUSH_BOUND:?}: {flush:?}"
    );
    assert!(
        before_drop.dropped_export_failed > 0,
        "nothing counted as failed: {before_drop:#?}"
    );
    assert!(before_drop.export_errors > 0, "{before_drop:#?}");
    assert!(before_drop.export_requests >= before_drop.export_errors);
    assert!(
        before_drop.last_export_error.is_some(),
        "no last_export_error: {before_drop:#?}"
    );
    // After the drop nothing is left queued: everything is dropped for a counted reason.
    support::assert_accounted(after_drop);
    assert_eq!(after_drop.queued, 0, "{after_drop:#?}");
    assert_eq!(after_drop.dropped(), SPANS, "{after_drop:#?}");
    assert!(
        after_drop.dropped_export_failed + after_drop.dropped_shutdown > 0,
        "{after_drop:#?}"
    );
}

#[test]
fn grpc_nothing_listening() {
    let _serial = support::serial();
    check(&run(Transport::Grpc, support::dead_endpoint()));
}

#[test]
fn http_nothing_listening() {
    let _serial = support::serial();
    check(&run(Transport::Http, support::dead_endpoint()));
}

/// A listener that never accepts: connections hang instead of being refused.
fn black_hole() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let endpoint = format!("http://{}", listener.local_addr().expect("address"));
    (listener, endpoint)
}

#[test]
fn grpc_collector_never_answers() {
    let _serial = support::serial();
    let (_listener, endpoint) = black_hole();
    check(&run(Transport::Grpc, endpoint));
}

#[test]
fn http_collector_never_answers() {
    let _serial = support::serial();
    let (_listener, endpoint) = black_hole();
    check(&run(Transport::Http, endpoint));
}
