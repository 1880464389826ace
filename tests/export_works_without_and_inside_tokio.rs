//! Export works whatever the application runs on: a plain thread with no async runtime, inside a
//! current-thread tokio runtime (where blocking on the exporter would deadlock), and inside a
//! multi-thread runtime. Initialisation, spans, `force_flush` and the guard's drop all happen in that
//! context.

mod support;

use std::time::Duration;

use support::{Receiver, Transport};

const WAIT: Duration = Duration::from_secs(15);
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(3);
/// Liveness bound for dropping the guard (not a benchmark).
const DROP_BOUND: Duration = Duration::from_secs(8);
/// Liveness bound for a whole scenario: a deadlock fails the test instead of hanging it.
const SCENARIO_BOUND: Duration = Duration::from_secs(60);

/// Synchronous part: init, a parent and a child span; returns the guard so the caller decides where it
/// drops.
fn init_and_record(config: tracewire::Config, context: &str) -> tracewire::Guard {
    let guard = config
        .with_shutdown_timeout(SHUTDOWN_TIMEOUT)
        .init()
        .expect("init");
    tracewire::in_span(format!("{context} parent"), |parent| {
        parent.set_attribute("context", context.to_owned());
        tracewire::span(format!("{context} child")).end();
    });
    guard
}

/// Flushes, reads the stats and drops the guard, checking the drop is live.
fn flush_and_drop(guard: tracewire::Guard, context: &str) -> tracewire::Stats {
    tracewire::force_flush().unwrap_or_else(|e| panic!("force_flush ({context}): {e}"));
    let stats = tracewire::stats();
    let took = support::timed_drop(guard);
    assert!(took < DROP_BOUND, "{context}: guard drop took {took:?}");
    stats
}

fn check_received(receiver: &Receiver, context: &str, extra: &[&str]) {
    let expected = 2 + extra.len();
    let spans = receiver.wait_for_spans(expected, WAIT);
    let mut names: Vec<String> = spans.iter().map(|s| s.name().to_owned()).collect();
    names.sort();
    let mut want: Vec<String> = [format!("{context} child"), format!("{context} parent")]
        .into_iter()
        .chain(extra.iter().map(|s| (*s).to_owned()))
        .collect();
    want.sort();
    assert_eq!(names, want);
    let parent = support::find(&spans, &format!("{context} parent"));
    let child = support::find(&spans, &format!("{context} child"));
    assert_eq!(child.span.parent_span_id, parent.span.span_id);
    assert_eq!(child.span.trace_id, parent.span.trace_id);
}

fn plain_thread(transport: Transport) {
    let _serial = support::serial();
    let receiver = Receiver::start(transport);
    let context = format!("{transport:?} plain thread");
    let config = support::config_for(&receiver);
    let ctx = context.clone();
    let stats = support::bounded(&context, SCENARIO_BOUND, move || {
        assert!(tokio::runtime::Handle::try_current().is_err());
        let guard = init_and_record(config, &ctx);
        flush_and_drop(guard, &ctx)
    });
    assert_eq!(stats.spans_exported, 2, "{stats:#?}");
    check_received(&receiver, &context, &[]);
}

fn current_thread_runtime(transport: Transport) {
    let _serial = support::serial();
    let receiver = Receiver::start(transport);
    let context = format!("{transport:?} current-thread runtime");
    let config = support::config_for(&receiver);
    let ctx = context.clone();
    let stats = support::bounded(&context, SCENARIO_BOUND, move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            let guard = init_and_record(config, &ctx);
            // A span ended by a task of this runtime, across an await point.
            tokio::spawn(async {
                let span = tracewire::span("spawned task");
                tokio::time::sleep(Duration::from_millis(5)).await;
                span.end();
            })
            .await
            .expect("task");
            flush_and_drop(guard, &ctx)
        })
    });
    assert_eq!(stats.spans_exported, 3, "{stats:#?}");
    check_received(&receiver, &context, &["spawned task"]);
}

fn multi_thread_runtime(transport: Transport) {
    let _serial = support::serial();
    let receiver = Receiver::start(transport);
    let context = format!("{transport:?} multi-thread runtime");
    let config = support::config_for(&receiver);
    let ctx = context.clone();
    let stats = support::bounded(&context, SCENARIO_BOUND, move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            let guard = init_and_record(config, &ctx);
            let tasks: Vec<_> = (0..4)
                .map(|i| {
                    tokio::spawn(async move {
                        let span = tracewire::span(format!("worker task {i}"));
                        tokio::task::yield_now().await;
                        span.end();
                    })
                })
                .collect();
            for task in tasks {
                task.await.expect("task");
            }
            flush_and_drop(guard, &ctx)
        })
    });
    assert_eq!(stats.spans_exported, 6, "{stats:#?}");
    check_received(
        &receiver,
        &context,
        &[
            "worker task 0",
            "worker task 1",
            "worker task 2",
            "worker task 3",
        ],
    );
}

#[test]
fn grpc_from_a_plain_thread() {
    plain_thread(Transport::Grpc);
}

#[test]
fn http_from_a_plain_thread() {
    plain_thread(Transport::Http);
}

#[test]
fn grpc_inside_a_current_thread_runtime() {
    current_thread_runtime(Transport::Grpc);
}

#[test]
fn http_inside_a_current_thread_runtime() {
    current_thread_runtime(Transport::Http);
}

#[test]
fn grpc_inside_a_multi_thread_runtime() {
    multi_thread_runtime(Transport::Grpc);
}

#[test]
fn http_inside_a_multi_thread_runtime() {
    multi_thread_runtime(Transport::Http);
}
