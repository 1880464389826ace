//! Spans ended just before the guard drops are not lost: with a schedule delay far longer than the
//! test, only the shutdown flush can deliver them, and they arrive, including spans ended on a thread
//! that has already exited. `force_flush` delivers what is queued without dropping the guard.

mod support;

use std::time::Duration;

use support::{Receiver, Transport};

const WAIT: Duration = Duration::from_secs(15);
const SCENARIO_BOUND: Duration = Duration::from_secs(60);
/// Far longer than any test: nothing is exported on schedule.
const NEVER: Duration = Duration::from_secs(3600);

fn config(receiver: &Receiver) -> tracewire::Config {
    support::config_for(receiver)
        .with_schedule_delay(NEVER)
        .with_max_export_batch_size(512)
        .with_shutdown_timeout(Duration::from_secs(5))
}

fn delivered_by_the_shutdown_flush(transport: Transport) {
    let _serial = support::serial();
    let receiver = Receiver::start(transport);
    let config = config(&receiver);
    let stats = support::bounded("shutdown flush", SCENARIO_BOUND, move || {
        let guard = config.init().expect("init");
        for i in 0..10_i64 {
            tracewire::in_span("before shutdown", |span| span.set_attribute("i", i));
        }
        // Spans ended on a thread that is gone by the time the guard drops.
        std::thread::spawn(|| {
            for _ in 0..5 {
                tracewire::span("from an exited thread").end();
            }
        })
        .join()
        .expect("thread");
        drop(guard);
        tracewire::stats()
    });

    let spans = receiver.wait_for_spans(15, WAIT);
    let main = spans
        .iter()
        .filter(|s| s.name() == "before shutdown")
        .count();
    let exited = spans
        .iter()
        .filter(|s| s.name() == "from an exited thread")
        .count();
    assert_eq!((main, exited), (10, 5), "received {} spans", spans.len());
    let mut seen: Vec<i64> = spans
        .iter()
        .filter_map(|s| support::int_attr(s, "i"))
        .collect();
    seen.sort_unstable();
    assert_eq!(seen, (0..10).collect::<Vec<_>>());
    assert_eq!(stats.spans_ended, 15, "{stats:#?}");
    assert_eq!(stats.spans_exported, 15, "{stats:#?}");
    assert_eq!(stats.dropped(), 0, "{stats:#?}");
    assert_eq!(stats.queued, 0, "{stats:#?}");
}

fn force_flush_delivers_without_dropping_the_guard(transport: Transport) {
    let _serial = support::serial();
    let receiver = Receiver::start(transport);
    let guard = config(&receiver).init().expect("init");
    for _ in 0..7 {
        tracewire::span("flushed").end();
    }
    // Nothing goes out on schedule.
    assert_eq!(receiver.span_count(), 0);
    support::bounded("force_flush", SCENARIO_BOUND, || {
        tracewire::force_flush().map_err(|e| e.to_string())
    })
    .expect("force_flush");
    // force_flush returns once the export is answered: the spans are there already.
    assert_eq!(
        receiver.span_count(),
        7,
        "force_flush returned before delivering"
    );
    let stats = tracewire::stats();
    assert_eq!(stats.spans_exported, 7, "{stats:#?}");
    assert_eq!(stats.queued, 0, "{stats:#?}");
    support::assert_accounted(&stats);

    // The pipeline keeps working after a flush; the rest goes out at shutdown.
    tracewire::span("after the flush").end();
    assert_eq!(receiver.span_count(), 7);
    let took = support::bounded("guard drop", SCENARIO_BOUND, move || {
        support::timed_drop(guard)
    });
    assert!(took < Duration::from_secs(10), "guard drop took {took:?}");
    let spans = receiver.wait_for_spans(8, WAIT);
    assert_eq!(spans.len(), 8);
    assert_eq!(
        support::find(&spans, "after the flush").name(),
        "after the flush"
    );
}

#[test]
fn grpc_spans_ended_before_shutdown_arrive() {
    delivered_by_the_shutdown_flush(Transport::Grpc);
}

#[test]
fn http_spans_ended_before_shutdown_arrive() {
    delivered_by_the_shutdown_flush(Transport::Http);
}

#[test]
fn grpc_force_flush_delivers() {
    force_flush_delivers_without_dropping_the_guard(Transport::Grpc);
}

#[test]
fn http_force_flush_delivers() {
    force_flush_delivers_without_dropping_the_guard(Transport::Http);
}
