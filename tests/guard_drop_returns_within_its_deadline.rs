//! Dropping the guard returns within its shutdown deadline in every case: when the export
//! runtime's blocking pool holds a task that never ends (a DNS lookup that hangs), when the
//! exporter takes forever to drop, and with the longest deadline `Config` accepts (no `Instant`
//! overflow).

mod support;

use std::time::Duration;

use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};

const SHUTDOWN: Duration = Duration::from_secs(1);
/// What a stuck task or drop would hold the guard for without the deadline.
const STUCK: Duration = Duration::from_secs(20);
/// A generous upper bound for the drop: the deadline, the grace for the thread's answer, slack.
const BOUND: Duration = Duration::from_secs(4);

/// Leaves a task in the runtime's blocking pool that outlives everything, as a hung
/// `getaddrinfo` does.
#[derive(Debug)]
struct LeavesABlockingTask;

impl SpanExporter for LeavesABlockingTask {
    async fn export(&self, _batch: Vec<SpanData>) -> OTelSdkResult {
        drop(tokio::task::spawn_blocking(|| std::thread::sleep(STUCK)));
        Ok(())
    }
}

/// Takes [`STUCK`] to drop (a client that closes its connections synchronously, say).
#[derive(Debug)]
struct SlowToDrop;

impl SpanExporter for SlowToDrop {
    async fn export(&self, _batch: Vec<SpanData>) -> OTelSdkResult {
        Ok(())
    }
}

impl Drop for SlowToDrop {
    fn drop(&mut self) {
        std::thread::sleep(STUCK);
    }
}

fn drop_time(config: tracewire::Config) -> Duration {
    let guard = config
        .with_diagnostics(tracewire::DiagLevel::None)
        .with_shutdown_timeout(SHUTDOWN)
        .init()
        .expect("init");
    tracewire::span("work").end();
    tracewire::force_flush().expect("exported");
    support::bounded("dropping the guard", STUCK * 2, move || {
        support::timed_drop(guard)
    })
}

#[test]
fn a_blocking_task_left_in_the_runtime_does_not_hold_the_guard() {
    let _serial = support::serial();
    let took = drop_time(tracewire::Config::default().with_exporter(LeavesABlockingTask));
    assert!(took < BOUND, "the guard took {took:?} to drop");
}

#[test]
fn an_exporter_slow_to_drop_does_not_hold_the_guard() {
    let _serial = support::serial();
    let took = drop_time(tracewire::Config::default().with_exporter(SlowToDrop));
    assert!(took < BOUND, "the guard took {took:?} to drop");
}

#[test]
fn the_longest_shutdown_timeout_is_accepted_and_a_longer_one_refused() {
    let _serial = support::serial();
    let config = || {
        tracewire::Config::default()
            .with_exporter_kind(tracewire::ExporterKind::None)
            .with_diagnostics(tracewire::DiagLevel::None)
    };
    match config().with_shutdown_timeout(Duration::MAX).init() {
        Err(tracewire::InitError::InvalidConfig {
            setting,
            value,
            expected,
        }) => {
            assert_eq!(setting, "Config::with_shutdown_timeout");
            assert_eq!(value, format!("{:?}", Duration::MAX));
            assert_eq!(expected, "expected at most 3600s");
        }
        other => panic!("expected an error naming the value, got {other:?}"),
    }
    let guard = config()
        .with_shutdown_timeout(tracewire::config::MAX_SHUTDOWN_TIMEOUT)
        .init()
        .expect("the longest timeout is accepted");
    tracewire::span("work").end();
    let took = support::bounded("dropping the guard", STUCK, move || {
        support::timed_drop(guard)
    });
    assert!(took < BOUND, "{took:?}");
}

#[test]
fn the_longest_schedule_delay_does_not_overflow_the_clock() {
    let _serial = support::serial();
    let guard = tracewire::Config::default()
        .with_exporter_kind(tracewire::ExporterKind::None)
        .with_diagnostics(tracewire::DiagLevel::None)
        .with_schedule_delay(Duration::MAX)
        .init()
        .expect("init");
    tracewire::span("work").end();
    tracewire::force_flush().expect("a flush does not wait for the schedule");
    assert_eq!(tracewire::stats().spans_exported, 1);
    drop(guard);
}
