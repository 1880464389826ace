//! When the collector comes back after an outage (its port refused connections for a while), every
//! span made after its return arrives, whatever the exporter learned while it was down (an open
//! circuit breaker, a backoff, a broken connection).

mod support;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use support::Transport;
use support::faults::FaultReceiver;

const WAIT: Duration = Duration::from_secs(15);
/// How long the spans made after the return may take to arrive (flushing again and again): room for
/// a breaker's capped backoff.
const RECOVERY_BOUND: Duration = Duration::from_secs(40);
const SPANS: usize = 10;

fn names(prefix: &str) -> BTreeSet<String> {
    (0..SPANS).map(|i| format!("{prefix}-{i}")).collect()
}

fn make(prefix: &str) {
    for name in names(prefix) {
        tracewire::span(name).end();
    }
}

fn arrived(receiver: &FaultReceiver, prefix: &str) -> BTreeSet<String> {
    receiver
        .accepted_spans()
        .iter()
        .map(|s| s.name().to_owned())
        .filter(|name| name.starts_with(&format!("{prefix}-")))
        .collect()
}

fn recovers(transport: Transport) {
    let _serial = support::serial();
    let mut receiver = FaultReceiver::start(transport);
    let config = receiver
        .config()
        .with_schedule_delay(Duration::from_millis(50))
        .with_export_timeout(Duration::from_secs(1))
        .with_batch_export_timeout(Duration::from_secs(3));
    let guard = config.init().expect("init");

    make("before");
    let _ = support::bounded("flush before", WAIT, tracewire::force_flush);
    assert_eq!(
        arrived(&receiver, "before"),
        names("before"),
        "the spans made before the outage"
    );

    receiver.stop();
    // A second of steady spans against a closed port: exports fail, a breaker opens.
    for round in 0..10 {
        make(&format!("outage{round}"));
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = support::bounded("flush during", WAIT, tracewire::force_flush);

    receiver.restart();
    make("after");
    let started = Instant::now();
    let mut flushes = 0;
    // Bounded: each turn flushes for at most 3 s (the batch export timeout) and sleeps 200 ms,
    // until RECOVERY_BOUND has passed.
    while arrived(&receiver, "after") != names("after") && started.elapsed() < RECOVERY_BOUND {
        let _ = support::bounded("flush after", WAIT, tracewire::force_flush);
        flushes += 1;
        std::thread::sleep(Duration::from_millis(200));
    }
    let stats = tracewire::stats();
    let took = started.elapsed();
    drop(guard);
    println!(
        "{transport:?}: the spans made after the return arrived in {took:?} ({flushes} flushes)"
    );
    let after = arrived(&receiver, "after");
    let missing: Vec<String> = names("after").difference(&after).cloned().collect();
    assert!(
        missing.is_empty(),
        "spans made after the collector came back never arrived within {RECOVERY_BOUND:?}: \
         {missing:?} ({stats:#?})"
    );
    support::assert_accounted(&stats);
}

#[test]
fn grpc_export_recovers_after_an_outage() {
    recovers(Transport::Grpc);
}

#[test]
fn http_export_recovers_after_an_outage() {
    recovers(Transport::Http);
}
