//! The caller's cost of a `tracing` span recorded three ways, side by side:
//!
//! - `tracewire_layer`: tracewire's own layer (`tracewire::tracing_layer()`);
//! - `tracing_otel_to_tracewire`: tracing-opentelemetry's layer (default settings) pointed at
//!   tracewire's OpenTelemetry tracer;
//! - `tracing_otel_to_sdk`: tracing-opentelemetry's layer (default settings) over opentelemetry_sdk
//!   with its batch span processor;
//! - and `registry_only`, `tracing` with a registry and no layer, as the floor.
//!
//! ```text
//! cargo bench --bench tracing_bridge --features tracing-opentelemetry
//! ```
//!
//! Each iteration creates a child span (of a parent renewed every `CHILDREN` children), enters it,
//! exits and closes it: no fields, 4 typed fields, or 4 fields and an event inside. Spans are
//! timed in batches of at most `BATCH`, and each pipeline is flushed between batches outside the
//! timing, so every span is exported and the time is the caller's alone. The run ends with a table
//! of mean ns per span and the ratio of each path to tracewire's layer.

use std::hint::black_box;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{
    BatchConfigBuilder, BatchSpanProcessor, SdkTracerProvider, SpanData, SpanExporter,
};
use tracewire::{Config, DiagLevel};
use tracing_subscriber::prelude::*;

const THREAD_BUFFER: usize = 8192;
const QUEUE: usize = 16_384;
const BATCH: u64 = 4096;
const CHILDREN: u64 = 1024;

static SDK_EXPORTED: AtomicU64 = AtomicU64::new(0);

/// tracewire's exporter: accepts every batch, keeps nothing.
#[derive(Debug)]
struct NoopExporter;

impl SpanExporter for NoopExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        black_box(batch);
        Ok(())
    }
}

/// opentelemetry_sdk's exporter: accepts every batch and counts its spans.
#[derive(Debug)]
struct CountingExporter;

impl SpanExporter for CountingExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        SDK_EXPORTED.fetch_add(batch.len() as u64, Ordering::Relaxed);
        Ok(())
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Case {
    NoFields,
    FourFields,
    FourFieldsAndEvent,
}

impl Case {
    fn name(self) -> &'static str {
        match self {
            Case::NoFields => "span_no_fields",
            Case::FourFields => "span_4_fields",
            Case::FourFieldsAndEvent => "span_4_fields_1_event",
        }
    }
}

/// `children` child spans of one parent, each entered, exited and closed.
fn children(case: Case, children: u64) {
    let parent = tracing::info_span!("parent");
    let _parent = parent.enter();
    for _ in 0..children {
        match case {
            Case::NoFields => {
                let span = tracing::info_span!("child");
                let _entered = span.enter();
                black_box(&span);
            }
            Case::FourFields | Case::FourFieldsAndEvent => {
                let span = tracing::info_span!(
                    "query",
                    http.status_code = 200_i64,
                    sample.ratio = 0.25_f64,
                    cache.hit = true,
                    db.system = "postgresql",
                );
                let _entered = span.enter();
                if case == Case::FourFieldsAndEvent {
                    tracing::info!("retry");
                }
                black_box(&span);
            }
        }
    }
}

/// Times `iters` children, renewing the parent every `CHILDREN` children (inside the timing).
fn timed(case: Case, iters: u64) -> Duration {
    let start = Instant::now();
    let mut left = iters;
    while left > 0 {
        let n = left.min(CHILDREN);
        children(case, n);
        left -= n;
    }
    start.elapsed()
}

struct Row {
    case: &'static str,
    path: &'static str,
    ns: f64,
}

static ROWS: Mutex<Vec<Row>> = Mutex::new(Vec::new());

/// Runs every case with `dispatch` as the default subscriber; `flush` runs between batches.
fn path(c: &mut Criterion, name: &'static str, dispatch: tracing::Dispatch, flush: &dyn Fn()) {
    for case in [Case::NoFields, Case::FourFields, Case::FourFieldsAndEvent] {
        let mut group = c.benchmark_group(case.name());
        group.throughput(criterion::Throughput::Elements(1));
        let (mut iters_total, mut elapsed) = (0_u64, Duration::ZERO);
        tracing::dispatcher::with_default(&dispatch, || {
            group.bench_function(name, |b| {
                b.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    let mut left = iters;
                    while left > 0 {
                        let n = left.min(BATCH);
                        total += timed(case, n);
                        flush();
                        left -= n;
                    }
                    iters_total += iters;
                    elapsed += total;
                    total
                });
            });
        });
        group.finish();
        if iters_total > 0 {
            ROWS.lock().unwrap().push(Row {
                case: case.name(),
                path: name,
                ns: elapsed.as_nanos() as f64 / iters_total as f64,
            });
        }
    }
}

fn bench(c: &mut Criterion) {
    let guard = Config::default()
        .with_exporter(NoopExporter)
        .with_diagnostics(DiagLevel::None)
        .with_thread_buffer_size(THREAD_BUFFER)
        .with_max_queue_size(QUEUE)
        .with_global_tracer_provider(false)
        .init()
        .expect("init tracewire");
    let tw_flush = || {
        let _ = tracewire::force_flush();
    };

    let registry = tracing::Dispatch::new(tracing_subscriber::registry());
    path(c, "registry_only", registry, &|| ());

    let ours =
        tracing::Dispatch::new(tracing_subscriber::registry().with(tracewire::tracing_layer()));
    let before = tracewire::stats();
    path(c, "tracewire_layer", ours, &tw_flush);

    let tw_tracer = tracewire::otel::TracerProvider::default().tracer("bench");
    let otel_to_tw = tracing::Dispatch::new(
        tracing_subscriber::registry().with(tracing_opentelemetry::layer().with_tracer(tw_tracer)),
    );
    path(c, "tracing_otel_to_tracewire", otel_to_tw, &tw_flush);
    let after = tracewire::stats();

    let processor = BatchSpanProcessor::builder(CountingExporter)
        .with_batch_config(
            BatchConfigBuilder::default()
                .with_max_queue_size(QUEUE)
                .build(),
        )
        .build();
    let provider = SdkTracerProvider::builder()
        .with_span_processor(processor)
        .build();
    let sdk = tracing::Dispatch::new(
        tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("bench"))),
    );
    let sdk_flush = || {
        let _ = provider.force_flush();
    };
    path(c, "tracing_otel_to_sdk", sdk, &sdk_flush);
    let _ = provider.shutdown();
    drop(guard);

    eprintln!(
        "tracewire: {} spans ended, {} exported, {} dropped; opentelemetry_sdk exported {}",
        after.spans_ended - before.spans_ended,
        after.spans_exported - before.spans_exported,
        (after.dropped_buffer_full + after.dropped_shutdown + after.dropped_export_failed)
            - (before.dropped_buffer_full + before.dropped_shutdown + before.dropped_export_failed),
        SDK_EXPORTED.load(Ordering::Relaxed),
    );
    print_table();
}

fn print_table() {
    let rows = ROWS.lock().unwrap();
    eprintln!("\nmean ns per span (criterion's warm-up included), ratio to tracewire_layer");
    eprintln!(
        "{:<24} {:<28} {:>10} {:>8}",
        "case", "path", "ns/span", "ratio"
    );
    for row in rows.iter() {
        let base = rows
            .iter()
            .find(|r| r.case == row.case && r.path == "tracewire_layer")
            .map_or(f64::NAN, |r| r.ns);
        eprintln!(
            "{:<24} {:<28} {:>10.1} {:>7.2}x",
            row.case,
            row.path,
            row.ns,
            row.ns / base
        );
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
