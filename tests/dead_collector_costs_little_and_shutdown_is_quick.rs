//! A dead collector costs the process little and does not hold up its exit. With nothing listening
//! and default settings, recording goes on (every span is recorded and counted), the guard returns
//! in under a second (one last attempt with the breaker open, not the whole 5 s deadline) and the
//! spans that could not be sent are counted. A collector that accepts connections and closes them
//! at once, under steady span production, sees few connection attempts: the circuit breaker probes
//! it with a capped backoff instead of sending it every batch.

mod support;

use std::time::{Duration, Instant};

use support::Transport;
use support::faults::RawEndpoint;

const SCENARIO_BOUND: Duration = Duration::from_secs(60);
/// The bound for the guard with nothing listening (a generous one: one last attempt to a
/// refused port takes well under a millisecond).
const QUICK_SHUTDOWN: Duration = Duration::from_secs(1);
/// Steady production: `PER_TICK` spans every `TICK`.
const PER_TICK: usize = 50;
const TICK: Duration = Duration::from_millis(10);

/// Default settings, except where to export and the silenced diagnostics.
fn defaults_to(transport: Transport, endpoint: String) -> tracewire::Config {
    tracewire::Config::default()
        .with_exporter_kind(tracewire::ExporterKind::Otlp)
        .with_protocol(support::protocol(transport))
        .with_endpoint(endpoint)
        .with_service_name("tracewire-tests")
        .with_diagnostics(tracewire::DiagLevel::None)
}

/// Makes spans steadily for `run`; returns how many, and whether the last one was recording.
fn steady_spans(run: Duration) -> (u64, bool) {
    let started = Instant::now();
    let mut made = 0;
    let mut recording = true;
    // Bounded: run / TICK turns, at most.
    for _ in 0..(run.as_millis() / TICK.as_millis()).max(1) {
        if started.elapsed() >= run {
            break;
        }
        for _ in 0..PER_TICK {
            let span = tracewire::span("steady");
            recording &= span.is_recording();
            span.end();
            made += 1;
        }
        std::thread::sleep(TICK);
    }
    (made, recording)
}

fn nothing_listening(transport: Transport) {
    let _serial = support::serial();
    let config = defaults_to(transport, support::dead_endpoint());
    let (made, recording, during, took, after) =
        support::bounded("dead collector", SCENARIO_BOUND, move || {
            let guard = config.init().expect("init");
            let (made, recording) = steady_spans(Duration::from_secs(1));
            let during = tracewire::stats();
            let took = support::timed_drop(guard);
            (made, recording, during, took, tracewire::stats())
        });
    println!(
        "{transport:?}, nothing listening: {made} spans made, guard returned in {took:?}; \
         exported {}, dropped {}, queued {}",
        after.spans_exported,
        after.dropped(),
        after.queued
    );
    assert!(recording, "recording stopped while the collector was down");
    assert_eq!(
        during.spans_ended, made,
        "every span was recorded: {during:#?}"
    );
    assert!(
        took < QUICK_SHUTDOWN,
        "the guard took {took:?} with nothing listening (bound {QUICK_SHUTDOWN:?}): {after:#?}"
    );
    assert_eq!(after.spans_ended, made, "{after:#?}");
    assert_eq!(after.spans_exported, 0, "{after:#?}");
    assert_eq!(after.queued, 0, "{after:#?}");
    assert_eq!(
        after.dropped(),
        made,
        "every unsent span is counted: {after:#?}"
    );
    assert_eq!(during.worker_stopped, None, "worker_stopped: {during:#?}");
}

/// Steady production runs for `WARM_UP`, then for `WATCHED`, during which connection attempts are
/// counted.
const WARM_UP: Duration = Duration::from_secs(1);
const WATCHED: Duration = Duration::from_secs(2);
/// At most this many connection attempts during [`WATCHED`]: once a few failures have opened the
/// breaker, probes follow a growing backoff (the contract's "capped backoff"). Without a breaker,
/// every batch tries (today's main: about 150 over gRPC, where tonic reconnects at once, and about
/// 9 over HTTP, where each batch goes through the exporter's own retries).
const MAX_WATCHED_CONNECTIONS: u64 = 5;

fn accept_and_close(transport: Transport) {
    let _serial = support::serial();
    let endpoint = RawEndpoint::accept_and_close();
    // Small batches and a short delay: without a breaker, the exporter tries all the time.
    let config = defaults_to(transport, endpoint.endpoint())
        .with_schedule_delay(Duration::from_millis(50))
        .with_max_export_batch_size(64);
    let (made, recording, stats, before, watched) =
        support::bounded("accept-and-close collector", SCENARIO_BOUND, {
            let connections = move || endpoint.connections();
            move || {
                let guard = config.init().expect("init");
                let (warm, warm_recording) = steady_spans(WARM_UP);
                let before = connections();
                let (made, recording) = steady_spans(WATCHED);
                let watched = connections() - before;
                let stats = tracewire::stats();
                drop(guard);
                (
                    warm + made,
                    warm_recording && recording,
                    stats,
                    before,
                    watched,
                )
            }
        });
    println!(
        "{transport:?}: {before} connection attempts in the first {WARM_UP:?}, {watched} in the \
         next {WATCHED:?}; {made} spans made"
    );
    assert!(
        recording,
        "recording stopped while the collector was failing"
    );
    assert!(
        before > 0,
        "the exporter never reached the endpoint: {stats:#?}"
    );
    assert!(
        watched <= MAX_WATCHED_CONNECTIONS,
        "{watched} connection attempts in {WATCHED:?} after a {WARM_UP:?} warm-up (bound \
         {MAX_WATCHED_CONNECTIONS}): no circuit breaker? {stats:#?}"
    );
    assert_eq!(stats.spans_exported, 0, "{stats:#?}");
    assert_eq!(
        stats.spans_ended, made,
        "every span was recorded: {stats:#?}"
    );
}

#[test]
fn grpc_nothing_listening_shutdown_is_quick_and_spans_are_counted() {
    nothing_listening(Transport::Grpc);
}

#[test]
fn http_nothing_listening_shutdown_is_quick_and_spans_are_counted() {
    nothing_listening(Transport::Http);
}

#[test]
fn grpc_accept_and_close_is_probed_not_flooded() {
    accept_and_close(Transport::Grpc);
}

#[test]
fn http_accept_and_close_is_probed_not_flooded() {
    accept_and_close(Transport::Http);
}
