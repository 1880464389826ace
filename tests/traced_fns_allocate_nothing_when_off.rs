//! An instrumented function or future costs no heap allocation when tracing is off (no `init`, or
//! disabled by configuration) or when its span is not sampled: `#[traced]` sync and async fns with
//! fields, `err` and `ret`, and futures wrapped with `in_span`/`in_current_span`. Fields are not
//! even evaluated then (the `format!` below would allocate). A counting global allocator (this test
//! binary's own) counts the allocations made by the test thread.
#![cfg(feature = "tokio")]

mod counting_allocator;

use std::future::Future;
use std::pin::pin;
use std::sync::Mutex;
use std::task::{Context as TaskContext, Poll, Waker};

use counting_allocator::allocations_in;
use tracewire::{Config, DiagLevel, ExporterKind, FutureExt as _, Sampler, traced};

static SERIAL: Mutex<()> = Mutex::new(());

#[traced(fields(id, label = format!("order {id}")), err, ret)]
fn sync_work(id: i64) -> Result<i64, std::fmt::Error> {
    Ok(id + 1)
}

#[traced(kind = server, fields(id, label = format!("order {id}")), err, ret)]
async fn async_work(id: i64) -> Result<i64, std::fmt::Error> {
    Pending::new(9).await; // pending 9 times, ready at the 10th poll
    Ok(id * 2)
}

#[traced(root)]
fn plain() -> u8 {
    7
}

/// Returns `Pending` `n` times (waking itself), then `Ready`.
struct Pending(u32);

impl Pending {
    fn new(n: u32) -> Self {
        Pending(n)
    }
}

impl Future for Pending {
    type Output = ();

    fn poll(mut self: std::pin::Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<()> {
        if self.0 == 0 {
            return Poll::Ready(());
        }
        self.0 -= 1;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// Polls `future` to completion on this thread (bounded: at most 100 polls).
fn block_on<F: Future>(future: F) -> Option<F::Output> {
    let mut future = pin!(future);
    let mut cx = TaskContext::from_waker(Waker::noop());
    for _ in 0..100 {
        if let Poll::Ready(value) = future.as_mut().poll(&mut cx) {
            return Some(value);
        }
    }
    None
}

fn run_all(times: usize) {
    for i in 0..times as i64 {
        assert_eq!(sync_work(i), Ok(i + 1));
        assert_eq!(plain(), 7);
        assert_eq!(block_on(async_work(i)), Some(Ok(i * 2)));
        assert_eq!(
            block_on(async { 1 }.in_span(tracewire::span("wrapped"))),
            Some(1)
        );
        assert_eq!(block_on(async { 2 }.in_current_span()), Some(2));
    }
}

#[test]
fn instrumented_code_allocates_nothing_with_tracing_off() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    assert_eq!(allocations_in(|| run_all(200)), 0, "no init");
    let guard = Config::default().with_disabled(true).init().expect("init");
    assert_eq!(allocations_in(|| run_all(200)), 0, "disabled");
    drop(guard);
}

#[test]
fn instrumented_code_allocates_nothing_when_not_sampled() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let guard = Config::default()
        .with_exporter_kind(ExporterKind::None)
        .with_diagnostics(DiagLevel::None)
        .with_sampler(Sampler::AlwaysOff)
        .init()
        .expect("init");
    run_all(1); // the thread registers its counters once
    assert_eq!(allocations_in(|| run_all(200)), 0);
    assert_eq!(tracewire::stats().spans_started, 0);
    drop(guard);
}

#[test]
fn the_counter_sees_allocations_when_spans_record() {
    // The check that the tests above can fail: recording spans evaluates `format!`.
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let guard = Config::default()
        .with_exporter_kind(ExporterKind::None)
        .with_diagnostics(DiagLevel::None)
        .init()
        .expect("init");
    run_all(1);
    assert!(allocations_in(|| run_all(10)) > 0);
    drop(guard);
}
