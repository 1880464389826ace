//! Retries belong to tracewire's worker and follow what the collector asks for: HTTP 429/502/503/504
//! and gRPC `UNAVAILABLE` are retried, `RESOURCE_EXHAUSTED` only when it carries `RetryInfo`; HTTP
//! 400, gRPC `INVALID_ARGUMENT` and a bare `RESOURCE_EXHAUSTED` are not (the batch counts as
//! failed). A `Retry-After` (seconds or HTTP-date) or `RetryInfo` delay holds back the whole
//! exporter: the collector receives no request, of any batch, before it has passed (checked on the
//! receiver's arrival times, a lower bound). `export_retries` counts the re-sends and
//! `export_throttled` the answers that asked to slow down.

mod support;

use std::time::{Duration, SystemTime};

use support::Transport;
use support::faults::{Arrival, Fault, FaultReceiver, RetryAfter};

const WAIT: Duration = Duration::from_secs(15);
const SCENARIO_BOUND: Duration = Duration::from_secs(60);
/// Spans per batch; a batch goes out as soon as it is full.
const BATCH: usize = 4;
/// Batches made while the exporter is held back by the first answer.
const HELD_BATCHES: usize = 4;

fn config(receiver: &FaultReceiver) -> tracewire::Config {
    receiver
        .config()
        .with_max_export_batch_size(BATCH)
        .with_schedule_delay(Duration::from_millis(50))
        .with_export_timeout(Duration::from_secs(10))
}

fn make_batch(batch: usize) {
    for i in 0..BATCH {
        tracewire::span(format!("batch-{batch}-span-{i}")).end();
    }
}

fn names(spans: &[support::FlatSpan]) -> Vec<String> {
    let mut names: Vec<String> = spans.iter().map(|s| s.name().to_owned()).collect();
    names.sort();
    names
}

fn expected_names(batches: usize) -> Vec<String> {
    let mut names: Vec<String> = (0..batches)
        .flat_map(|b| (0..BATCH).map(move |i| format!("batch-{b}-span-{i}")))
        .collect();
    names.sort();
    names
}

/// The moment before which no request may arrive after `first` was answered with its fault.
enum NotBefore {
    /// `first.at + delay` (monotonic clock): `Retry-After: N`, `RetryInfo`.
    Delay(Duration),
    /// A wall-clock moment: `Retry-After: <HTTP-date>`.
    Wall(SystemTime),
    /// No hint: an ordinary backoff, with no lower bound asserted.
    None,
}

fn not_before(first: &Arrival) -> NotBefore {
    match &first.fault {
        Fault::Http {
            retry_after: Some(at @ RetryAfter::Date(_)),
            ..
        } => NotBefore::Wall(at.not_before(first.wall)),
        fault => fault.hint().map_or(NotBefore::None, NotBefore::Delay),
    }
}

/// The first request of the run is answered with `fault`, everything after it is accepted. More
/// batches are made while the exporter should be held back; every span must arrive, no request may
/// arrive before the fault's delay, and the stats count one retry (and one throttle if
/// `throttle`).
fn retried_then_delivered(transport: Transport, fault: impl FnOnce() -> Fault, throttle: bool) {
    let _serial = support::serial();
    // Made now, not before the lock: an HTTP-date is relative to the moment it is answered.
    let fault = fault();
    let receiver = FaultReceiver::start(transport);
    receiver.push(fault.clone());
    let config = config(&receiver);
    let log = receiver.log();
    let total = BATCH * (1 + HELD_BATCHES);
    let (flush, stats) = support::bounded("retried export", SCENARIO_BOUND, move || {
        let guard = config.init().expect("init");
        make_batch(0);
        let first = log.wait_for_arrivals(1, WAIT);
        assert!(!first.is_empty(), "no request reached the receiver");
        // Let the exporter read the answer before the next batches exist, so that a batch sent
        // alongside the first (several requests in flight) is not mistaken for one sent early.
        std::thread::sleep(Duration::from_millis(100));
        for batch in 1..=HELD_BATCHES {
            make_batch(batch);
            std::thread::sleep(Duration::from_millis(100));
        }
        let flush = tracewire::force_flush();
        let _ = log.wait_for_accepted_spans(total, WAIT);
        let stats = tracewire::stats();
        drop(guard);
        (flush, stats)
    });

    let arrivals = receiver.arrivals();
    let first = &arrivals[0];
    assert_eq!(
        first.fault, fault,
        "the first request got the scripted fault"
    );
    let later: Vec<&Arrival> = arrivals[1..].iter().collect();
    assert!(!later.is_empty(), "the first batch was never sent again");
    println!(
        "{transport:?} {fault:?}: {} requests; the next one {:?} after the first answer",
        arrivals.len(),
        later[0].at.saturating_duration_since(first.at)
    );
    match not_before(first) {
        NotBefore::Delay(delay) => {
            for arrival in &later {
                let after = arrival.at.saturating_duration_since(first.at);
                assert!(
                    arrival.at >= first.at + delay,
                    "a request ({} spans) arrived {after:?} after the {fault:?} answer, before \
                     its {delay:?} delay",
                    arrival.span_count()
                );
            }
        }
        NotBefore::Wall(at) => {
            for arrival in &later {
                assert!(
                    arrival.wall >= at,
                    "a request ({} spans) arrived at {:?}, before the Retry-After date {at:?}",
                    arrival.span_count(),
                    arrival.wall
                );
            }
        }
        NotBefore::None => {}
    }
    let accepted = receiver.accepted_spans();
    assert_eq!(
        names(&accepted),
        expected_names(1 + HELD_BATCHES),
        "every span arrives exactly once ({} requests)",
        arrivals.len()
    );
    assert_eq!(flush, Ok(()), "{stats:#?}");
    assert_eq!(stats.spans_exported, total as u64, "{stats:#?}");
    assert_eq!(stats.dropped(), 0, "{stats:#?}");
    assert_eq!(
        stats.export_errors, 0,
        "a retried success is not an error: {stats:#?}"
    );
    assert_eq!(
        stats.export_retries, 1,
        "one re-send of the first batch: {stats:#?}"
    );
    assert_eq!(
        stats.export_throttled,
        u64::from(throttle),
        "throttle count for {fault:?}: {stats:#?}"
    );
    support::assert_accounted(&stats);
}

/// The first batch is answered with `fault` and must not be sent again: it counts as failed, and
/// the next batch goes through.
fn not_retried(transport: Transport, fault: Fault) {
    let _serial = support::serial();
    let receiver = FaultReceiver::start(transport);
    receiver.push(fault.clone());
    let config = config(&receiver).with_schedule_delay(Duration::from_secs(60));
    let (first, second, stats) = support::bounded("refused export", SCENARIO_BOUND, move || {
        let guard = config.init().expect("init");
        make_batch(0);
        let first = tracewire::force_flush();
        make_batch(1);
        let second = tracewire::force_flush();
        let stats = tracewire::stats();
        drop(guard);
        (first, second, stats)
    });

    let arrivals = receiver.arrivals();
    assert_eq!(
        arrivals.len(),
        2,
        "one request per batch, no retry after {fault:?}: {arrivals:#?}"
    );
    assert_eq!(arrivals[0].fault, fault);
    assert_eq!(names(&arrivals[1].spans()), expected_names(2)[BATCH..]);
    assert!(first.is_err(), "the refused batch's flush: {first:?}");
    assert_eq!(second, Ok(()), "the next batch's flush");
    assert_eq!(stats.export_errors, 1, "{stats:#?}");
    assert_eq!(stats.dropped_export_failed, BATCH as u64, "{stats:#?}");
    assert_eq!(stats.spans_exported, BATCH as u64, "{stats:#?}");
    assert_eq!(stats.export_retries, 0, "{stats:#?}");
    assert_eq!(stats.export_throttled, 0, "{stats:#?}");
    support::assert_accounted(&stats);
}

const SECOND: Duration = Duration::from_secs(1);

// --- HTTP

#[test]
fn http_503_with_retry_after_seconds_holds_back_every_batch() {
    retried_then_delivered(
        Transport::Http,
        || Fault::unavailable(Transport::Http, Some(SECOND)),
        true,
    );
}

#[test]
fn http_429_with_retry_after_seconds_holds_back_every_batch() {
    retried_then_delivered(
        Transport::Http,
        || Fault::throttled(Transport::Http, Some(SECOND)),
        true,
    );
}

#[test]
fn http_503_with_retry_after_date_holds_back_every_batch() {
    // Two seconds ahead: the date has a one-second resolution, so the wait is one to two seconds.
    retried_then_delivered(
        Transport::Http,
        || Fault::Http {
            status: 503,
            retry_after: Some(RetryAfter::Date(SystemTime::now() + Duration::from_secs(2))),
        },
        true,
    );
}

#[test]
fn http_502_with_retry_after_is_a_throttle() {
    retried_then_delivered(
        Transport::Http,
        || Fault::Http {
            status: 502,
            retry_after: Some(RetryAfter::Seconds(1)),
        },
        true,
    );
}

#[test]
fn http_503_without_retry_after_is_retried_with_backoff() {
    retried_then_delivered(
        Transport::Http,
        || Fault::unavailable(Transport::Http, None),
        false,
    );
}

#[test]
fn http_400_is_not_retried() {
    not_retried(Transport::Http, Fault::invalid(Transport::Http));
}

// --- gRPC

#[test]
fn grpc_unavailable_is_retried_with_backoff() {
    retried_then_delivered(
        Transport::Grpc,
        || Fault::unavailable(Transport::Grpc, None),
        false,
    );
}

#[test]
fn grpc_unavailable_with_retry_info_holds_back_every_batch() {
    retried_then_delivered(
        Transport::Grpc,
        || Fault::unavailable(Transport::Grpc, Some(SECOND)),
        true,
    );
}

#[test]
fn grpc_resource_exhausted_with_retry_info_holds_back_every_batch() {
    retried_then_delivered(
        Transport::Grpc,
        || Fault::throttled(Transport::Grpc, Some(SECOND)),
        true,
    );
}

#[test]
fn grpc_resource_exhausted_without_retry_info_is_not_retried() {
    not_retried(Transport::Grpc, Fault::throttled(Transport::Grpc, None));
}

#[test]
fn grpc_invalid_argument_is_not_retried() {
    not_retried(Transport::Grpc, Fault::invalid(Transport::Grpc));
}
