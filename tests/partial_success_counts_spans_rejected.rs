//! A collector that takes a request but rejects some of its spans (`partial_success.rejected_spans`)
//! makes them count in `spans_rejected`, not in `spans_exported`, so that
//! `spans_ended == spans_exported + spans_rejected + dropped() + queued` after a flush; the
//! collector's `error_message` reaches tracewire's diagnostics. A `partial_success` that rejects
//! nothing is a plain success.

mod support;

use std::process::{Command, Stdio};
use std::time::Duration;

use support::Transport;
use support::faults::{Fault, FaultReceiver};

const SCENARIO_BOUND: Duration = Duration::from_secs(60);
const CHILD: &str = "TRACEWIRE_PARTIAL_SUCCESS_CHILD";
const MESSAGE: &str = "tracewire-test: 2 spans over the tenant quota";
const FIRST: u64 = 5;
const SECOND: u64 = 3;
const REJECTED: i64 = 2;

/// Two batches (one per flush): the first answered with `first_answer`, the second accepted.
/// Returns the stats after the second flush.
fn two_batches(
    transport: Transport,
    first_answer: Fault,
    diagnostics: tracewire::DiagLevel,
) -> tracewire::Stats {
    let receiver = FaultReceiver::start(transport);
    receiver.push(first_answer);
    let config = receiver
        .config()
        .with_schedule_delay(Duration::from_secs(60))
        .with_max_export_batch_size(512)
        .with_diagnostics(diagnostics);
    let stats = support::bounded("partial success", SCENARIO_BOUND, move || {
        let guard = config.init().expect("init");
        for i in 0..FIRST {
            tracewire::span(format!("first-{i}")).end();
        }
        let _ = tracewire::force_flush();
        for i in 0..SECOND {
            tracewire::span(format!("second-{i}")).end();
        }
        let _ = tracewire::force_flush();
        let stats = tracewire::stats();
        drop(guard);
        stats
    });
    let arrivals = receiver.arrivals();
    assert_eq!(arrivals.len(), 2, "one request per flush: {arrivals:#?}");
    assert_eq!(
        arrivals.iter().map(|a| a.span_count() as u64).sum::<u64>(),
        FIRST + SECOND,
        "every span was sent once"
    );
    stats
}

fn rejected_spans_are_counted_apart(transport: Transport) {
    let _serial = support::serial();
    let stats = two_batches(
        transport,
        Fault::PartialSuccess {
            rejected_spans: REJECTED,
            error_message: MESSAGE.into(),
        },
        tracewire::DiagLevel::None,
    );
    assert_eq!(stats.spans_rejected, REJECTED as u64, "{stats:#?}");
    assert_eq!(
        stats.spans_exported,
        FIRST + SECOND - REJECTED as u64,
        "rejected spans are not exported: {stats:#?}"
    );
    assert_eq!(stats.dropped(), 0, "{stats:#?}");
    assert_eq!(stats.queued, 0, "{stats:#?}");
    support::assert_accounted(&stats);
}

fn empty_partial_success_is_plain_success(transport: Transport) {
    let _serial = support::serial();
    let stats = two_batches(
        transport,
        Fault::PartialSuccess {
            rejected_spans: 0,
            error_message: String::new(),
        },
        tracewire::DiagLevel::None,
    );
    assert_eq!(stats.spans_rejected, 0, "{stats:#?}");
    assert_eq!(stats.spans_exported, FIRST + SECOND, "{stats:#?}");
    assert_eq!(stats.export_errors, 0, "{stats:#?}");
    assert_eq!(stats.last_export_error, None, "{stats:#?}");
    support::assert_accounted(&stats);
}

/// Runs `test` again in a child process (this binary, with [`CHILD`] set) with diagnostics on, and
/// asserts that the collector's message is on its standard error.
fn message_reaches_the_diagnostics(test: &str) {
    let exe = std::env::current_exe().expect("the test binary");
    let mut command = Command::new(exe);
    command
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(CHILD, "1")
        .stdin(Stdio::null());
    let output = support::bounded("the child", SCENARIO_BOUND, move || command.output())
        .expect("run the child");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "the child failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    assert!(
        stderr.contains(MESSAGE),
        "the collector's message {MESSAGE:?} is not in the diagnostics:\n{stderr}"
    );
}

/// The child's part: the rejection, with diagnostics at their default level (Warn). The counts are
/// the other tests' business: only the message is checked here.
fn child_work(transport: Transport) {
    two_batches(
        transport,
        Fault::PartialSuccess {
            rejected_spans: REJECTED,
            error_message: MESSAGE.into(),
        },
        tracewire::DiagLevel::Warn,
    );
}

#[test]
fn grpc_rejected_spans_are_counted_apart() {
    rejected_spans_are_counted_apart(Transport::Grpc);
}

#[test]
fn http_rejected_spans_are_counted_apart() {
    rejected_spans_are_counted_apart(Transport::Http);
}

#[test]
fn grpc_empty_partial_success_is_plain_success() {
    empty_partial_success_is_plain_success(Transport::Grpc);
}

#[test]
fn http_empty_partial_success_is_plain_success() {
    empty_partial_success_is_plain_success(Transport::Http);
}

#[test]
fn grpc_collector_message_reaches_the_diagnostics() {
    if std::env::var_os(CHILD).is_some() {
        return child_work(Transport::Grpc);
    }
    message_reaches_the_diagnostics("grpc_collector_message_reaches_the_diagnostics");
}

#[test]
fn http_collector_message_reaches_the_diagnostics() {
    if std::env::var_os(CHILD).is_some() {
        return child_work(Transport::Http);
    }
    message_reaches_the_diagnostics("http_collector_message_reaches_the_diagnostics");
}
