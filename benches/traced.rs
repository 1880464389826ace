//! The cost of an instrumented function, `#[tracewire::traced]` next to the hand-written
//! equivalent, `#[tracing::instrument]` with tracing-opentelemetry over opentelemetry_sdk, and
//! `#[fastrace::trace]` / fastrace's own wrappers.
//!
//! ```text
//! cargo bench --bench traced
//! cargo bench --bench traced -- async   # one group
//! ```
//!
//! Two groups: a sync function, and an async function whose future is pending nine times and ready
//! at the tenth poll (each poll enters and leaves the span). Every call is a sampled child of a
//! parent span, as in a service; each library runs its real pipeline into an exporter (reporter)
//! that discards what it gets. Calls are timed in batches of `BATCH`, with a flush between batches
//! outside the timed region, so the pipelines keep up and the time is the caller's cost. The run
//! ends with a table of mean ns per call (criterion's warm-up included) and each case's ratio to
//! `tracewire #[traced]`.

use std::future::Future;
use std::hint::black_box;
use std::pin::{Pin, pin};
use std::sync::Mutex;
use std::task::{Context as TaskContext, Poll, Waker};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use fastrace::local::LocalSpan;
use fastrace::prelude::SpanContext as FastContext;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{
    BatchConfigBuilder, BatchSpanProcessor, SdkTracerProvider, SpanData, SpanExporter,
};
use tracing_subscriber::layer::SubscriberExt as _;

/// Calls per timed batch (fastrace keeps at most 10 240 local spans under one local parent).
const BATCH: u64 = 1024;
/// Polls of each async call: pending this many times minus one, then ready.
const POLLS: u32 = 10;

// ---------------------------------------------------------------------------------------------
// The work being instrumented, and its instrumented variants.

#[inline(never)]
fn work(x: u64) -> u64 {
    black_box(x).wrapping_mul(31).rotate_left(7)
}

fn plain(x: u64) -> u64 {
    work(x)
}

#[tracewire::traced]
fn tw_macro(x: u64) -> u64 {
    work(x)
}

/// What `#[traced]` saves writing (it also records a panic's message).
fn tw_hand(x: u64) -> u64 {
    let span = tracewire::span("tw_hand");
    let _entered = span.enter();
    work(x)
}

#[tracing::instrument(skip_all)]
fn tracing_instrument(x: u64) -> u64 {
    work(x)
}

#[fastrace::trace]
fn fastrace_trace(x: u64) -> u64 {
    work(x)
}

fn fastrace_hand(x: u64) -> u64 {
    let _span = LocalSpan::enter_with_local_parent("fastrace_hand");
    work(x)
}

/// Pending `n` times (waking itself), then ready.
struct Pending(u32);

impl Future for Pending {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<()> {
        if self.0 == 0 {
            return Poll::Ready(());
        }
        self.0 -= 1;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

async fn plain_async(x: u64) -> u64 {
    Pending(POLLS - 1).await;
    work(x)
}

#[tracewire::traced]
async fn tw_macro_async(x: u64) -> u64 {
    Pending(POLLS - 1).await;
    work(x)
}

fn tw_hand_async(x: u64) -> impl Future<Output = u64> {
    tracewire::FutureExt::in_span(plain_async(x), tracewire::span("tw_hand_async"))
}

#[tracing::instrument(skip_all)]
async fn tracing_instrument_async(x: u64) -> u64 {
    Pending(POLLS - 1).await;
    work(x)
}

#[fastrace::trace]
async fn fastrace_trace_async(x: u64) -> u64 {
    Pending(POLLS - 1).await;
    work(x)
}

fn fastrace_hand_async(x: u64) -> impl Future<Output = u64> {
    let span = fastrace::Span::enter_with_local_parent("fastrace_hand_async");
    fastrace::future::FutureExt::in_span(plain_async(x), span)
}

/// Polls `future` to completion on this thread, without a runtime.
fn poll_to_end<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = TaskContext::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(value) = future.as_mut().poll(&mut cx) {
            return value;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Pipelines.

#[derive(Debug)]
struct Discard;

impl SpanExporter for Discard {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        black_box(batch);
        Ok(())
    }
}

struct DiscardReporter;

impl fastrace::collector::Reporter for DiscardReporter {
    fn report(&mut self, spans: Vec<fastrace::collector::SpanRecord>) {
        black_box(spans);
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Lib {
    None,
    Tracewire,
    Tracing,
    Fastrace,
}

/// Runs `batch` with a parent span of `lib` current, then flushes `lib`'s pipeline (untimed).
fn timed_batch(lib: Lib, otel: &SdkTracerProvider, n: u64, batch: impl Fn(u64)) -> Duration {
    let elapsed = match lib {
        Lib::None => time(|| batch(n)),
        Lib::Tracewire => {
            let parent = tracewire::span("parent");
            let _entered = parent.enter();
            time(|| batch(n))
        }
        Lib::Tracing => {
            let parent = tracing::info_span!("parent");
            let _entered = parent.enter();
            time(|| batch(n))
        }
        Lib::Fastrace => {
            let parent = fastrace::Span::root("parent", FastContext::random());
            let _guard = parent.set_local_parent();
            time(|| batch(n))
        }
    };
    match lib {
        Lib::None => {}
        Lib::Tracewire => {
            let _ = tracewire::force_flush();
        }
        Lib::Tracing => {
            let _ = otel.force_flush();
        }
        Lib::Fastrace => fastrace::flush(),
    }
    elapsed
}

fn time(f: impl FnOnce()) -> Duration {
    let started = Instant::now();
    f();
    started.elapsed()
}

/// Mean ns per call of every case, for the closing table.
static RESULTS: Mutex<Vec<(&'static str, &'static str, f64)>> = Mutex::new(Vec::new());

fn case(
    c: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    group: &'static str,
    name: &'static str,
    lib: Lib,
    otel: &SdkTracerProvider,
    call: impl Fn(u64) -> u64,
) {
    let mut total = Duration::ZERO;
    let mut calls = 0_u64;
    c.bench_function(name, |b| {
        b.iter_custom(|iters| {
            let mut elapsed = Duration::ZERO;
            let mut left = iters;
            while left > 0 {
                let n = left.min(BATCH);
                elapsed += timed_batch(lib, otel, n, |n| {
                    for i in 0..n {
                        black_box(call(black_box(i)));
                    }
                });
                left -= n;
            }
            total += elapsed;
            calls += iters;
            elapsed
        });
    });
    let mean = total.as_nanos() as f64 / calls.max(1) as f64;
    RESULTS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push((group, name, mean));
}

fn benches(c: &mut Criterion) {
    let provider = SdkTracerProvider::builder()
        .with_span_processor(
            BatchSpanProcessor::builder(Discard)
                .with_batch_config(
                    BatchConfigBuilder::default()
                        .with_max_queue_size(16_384)
                        .build(),
                )
                .build(),
        )
        .build();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("bench")));
    tracing::subscriber::set_global_default(subscriber).expect("the only tracing subscriber");
    fastrace::set_reporter(DiscardReporter, fastrace::collector::Config::default());
    let guard = tracewire::Config::default()
        .with_exporter(Discard)
        .with_diagnostics(tracewire::DiagLevel::None)
        .with_thread_buffer_size(8192)
        .with_max_queue_size(16_384)
        .init()
        .expect("init tracewire");

    let group = "sync_fn";
    let mut g = c.benchmark_group(group);
    case(&mut g, group, "no span", Lib::None, &provider, plain);
    case(
        &mut g,
        group,
        "tracewire #[traced]",
        Lib::Tracewire,
        &provider,
        tw_macro,
    );
    case(
        &mut g,
        group,
        "tracewire by hand",
        Lib::Tracewire,
        &provider,
        tw_hand,
    );
    case(
        &mut g,
        group,
        "tracing #[instrument] + otel",
        Lib::Tracing,
        &provider,
        tracing_instrument,
    );
    case(
        &mut g,
        group,
        "fastrace #[trace]",
        Lib::Fastrace,
        &provider,
        fastrace_trace,
    );
    case(
        &mut g,
        group,
        "fastrace by hand",
        Lib::Fastrace,
        &provider,
        fastrace_hand,
    );
    g.finish();

    let group = "async_fn_10_polls";
    let mut g = c.benchmark_group(group);
    case(&mut g, group, "no span", Lib::None, &provider, |x| {
        poll_to_end(plain_async(x))
    });
    case(
        &mut g,
        group,
        "tracewire #[traced]",
        Lib::Tracewire,
        &provider,
        |x| poll_to_end(tw_macro_async(x)),
    );
    case(
        &mut g,
        group,
        "tracewire in_span",
        Lib::Tracewire,
        &provider,
        |x| poll_to_end(tw_hand_async(x)),
    );
    case(
        &mut g,
        group,
        "tracing #[instrument] + otel",
        Lib::Tracing,
        &provider,
        |x| poll_to_end(tracing_instrument_async(x)),
    );
    case(
        &mut g,
        group,
        "fastrace #[trace]",
        Lib::Fastrace,
        &provider,
        |x| poll_to_end(fastrace_trace_async(x)),
    );
    case(
        &mut g,
        group,
        "fastrace in_span",
        Lib::Fastrace,
        &provider,
        |x| poll_to_end(fastrace_hand_async(x)),
    );
    g.finish();

    let stats = tracewire::stats();
    drop(guard);
    let _ = provider.shutdown();
    fastrace::flush();
    print_table(&stats);
}

fn print_table(stats: &tracewire::Stats) {
    let results = RESULTS.lock().unwrap_or_else(|e| e.into_inner());
    eprintln!("\nmean ns per call (warm-up included); ratio = case / tracewire #[traced]");
    for (group, _, _) in results.iter().filter(|(_, name, _)| *name == "no span") {
        let reference = results
            .iter()
            .find(|(g, name, _)| g == group && *name == "tracewire #[traced]")
            .map_or(f64::NAN, |r| r.2);
        eprintln!("{group}");
        for (_, name, mean) in results.iter().filter(|(g, _, _)| g == group) {
            eprintln!("  {name:<30} {mean:>9.1} ns  {:>5.2}x", mean / reference);
        }
    }
    eprintln!(
        "tracewire: {} spans ended, {} exported, {} dropped",
        stats.spans_ended,
        stats.spans_exported,
        stats.dropped()
    );
}

criterion_group!(traced, benches);
criterion_main!(traced);
