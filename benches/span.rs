//! The caller's cost of a span, tracewire next to opentelemetry_sdk and fastrace.
//!
//! ```text
//! cargo bench --bench span                      # everything, a few minutes on 2 cores
//! cargo bench --bench span -- child_span        # one group
//! ```
//!
//! Every library runs its real pipeline, on its **default buffer sizes**, into an exporter
//! (reporter) that counts what it is given, so the background work competes for the CPU as it
//! would in a service. Each case is measured twice:
//!
//! - `<library>` (continuous, the headline): spans back to back, as fast as the caller can make
//!   them, while the pipeline drains and exports: no flush between batches. What the pipeline could
//!   not keep up with shows in the created / exported counts printed after the case.
//! - `<library>/batched`: batches of at most `BATCH` spans, with a flush between batches outside the
//!   timed region, so that (nearly) every span is exported and the time is the caller's cost with an
//!   idle pipeline. A second row, never the headline.
//!
//! The `disabled` group also has `*_in_place` rows: the span is made and ended where it lies, and
//! only its address goes through `black_box`. The other rows move the returned span by value
//! through `black_box`, which copies it twice; the difference is the cost of those copies (a
//! tracewire `Span` is 104 bytes), which code that keeps a span in place does not pay.
//!
//! After each case a line on standard error gives created, exported and dropped span counts. The
//! `two_threads` group then runs root spans from 2 producer threads for a few seconds per library
//! (`TRACEWIRE_BENCH_SECS`, default 3) and prints spans produced and exported per second and the
//! peak RSS growth. The run ends with a table of mean ns per span, the ratio to fastrace's case in
//! the same group (the reference of the goals) and exported / created. The table's means include
//! criterion's warm-up; criterion's own estimates are printed above it.

use std::hint::black_box;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, criterion_group, criterion_main};
use fastrace::Span as FastSpan;
use fastrace::local::LocalSpan;
use fastrace::prelude::SpanContext as FastContext;
use opentelemetry::trace::{Span as _, TraceContextExt as _, Tracer as _, TracerProvider as _};
use opentelemetry::{Context, KeyValue as OtelKeyValue};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{
    BatchSpanProcessor, SdkTracer, SdkTracerProvider, SpanData, SpanExporter,
};
use tracewire::{Config, DiagLevel, Sampler};

/// Spans per timed batch in the `batched` variants: at most tracewire's default thread buffer
/// (1024 spans) and opentelemetry_sdk's default queue (2048).
const BATCH: u64 = 512;
/// Child spans under one parent. fastrace keeps at most 10 240 local spans per local parent and
/// silently ignores the rest, so parents are renewed every `CHILDREN` children, for every library.
const CHILDREN: u64 = 1024;

// ---------------------------------------------------------------------------------------------
// Discarding exporters that count what reaches them.

static OTEL_EXPORTED: AtomicU64 = AtomicU64::new(0);
static FASTRACE_REPORTED: AtomicU64 = AtomicU64::new(0);
/// Name of the spans that push fastrace's parked commands out; the reporter does not count them.
const FASTRACE_PROBE: &str = "flush probe";

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
        OTEL_EXPORTED.fetch_add(batch.len() as u64, Ordering::Relaxed);
        Ok(())
    }
}

/// fastrace's reporter: counts the span records it is given.
struct CountingReporter;

impl fastrace::collector::Reporter for CountingReporter {
    fn report(&mut self, spans: Vec<fastrace::collector::SpanRecord>) {
        let counted = spans.iter().filter(|s| s.name != FASTRACE_PROBE).count();
        FASTRACE_REPORTED.fetch_add(counted as u64, Ordering::Relaxed);
    }
}

// ---------------------------------------------------------------------------------------------
// Libraries under test.

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Lib {
    Tracewire,
    Otel,
    Fastrace,
}

impl Lib {
    /// Waits until everything the library has been given is exported; returns the exported count.
    fn flush(self, otel: Option<&SdkTracerProvider>) -> u64 {
        match self {
            Lib::Tracewire => {
                let _ = tracewire::force_flush();
                tracewire::stats().spans_exported
            }
            Lib::Otel => {
                if let Some(provider) = otel {
                    let _ = provider.force_flush();
                }
                OTEL_EXPORTED.load(Ordering::Relaxed)
            }
            Lib::Fastrace => {
                // fastrace parks what does not fit its per-thread ring in a queue that only the
                // thread's next span moves on, so `flush` alone can miss it: push it with probe
                // spans (not counted) until nothing more arrives.
                let mut last = u64::MAX;
                loop {
                    drop(FastSpan::root(FASTRACE_PROBE, FastContext::random()));
                    fastrace::flush();
                    let now = FASTRACE_REPORTED.load(Ordering::Relaxed);
                    if now == last {
                        return now;
                    }
                    last = now;
                }
            }
        }
    }
}

/// One finished case, for the closing table.
struct Row {
    group: &'static str,
    case: String,
    ns_per_iter: f64,
    exported: Option<(u64, u64)>,
}

static ROWS: Mutex<Vec<Row>> = Mutex::new(Vec::new());

/// A criterion group in which one library set-up stays alive.
struct Group<'c, 'p> {
    group: BenchmarkGroup<'c, WallTime>,
    name: &'static str,
    otel: Option<&'p SdkTracerProvider>,
    batched: bool,
}

impl<'c, 'p> Group<'c, 'p> {
    fn new(c: &'c mut Criterion, name: &'static str, batched: bool) -> Self {
        let mut group = c.benchmark_group(name);
        group.throughput(criterion::Throughput::Elements(1));
        Group {
            group,
            name,
            otel: None,
            batched,
        }
    }

    fn with_otel(mut self, provider: &'p SdkTracerProvider) -> Self {
        self.otel = Some(provider);
        self
    }

    /// Runs one case, then flushes and prints what happened to the spans it made.
    ///
    /// `routine(n)` runs `n` iterations and returns the time they took; `spans(n)` is how many
    /// spans those iterations create (a child case also creates its parents). When the group is
    /// `batched`, `routine` is called with at most `BATCH` iterations and the library is flushed
    /// between calls, outside the timing. `exports` says whether the case's spans should reach the
    /// exporter (not for the disabled cases).
    fn case(
        &mut self,
        lib: Lib,
        name: &str,
        exports: bool,
        spans: fn(u64) -> u64,
        mut routine: impl FnMut(u64) -> Duration,
    ) {
        let (otel, batched) = (self.otel, self.batched);
        let exported_before = lib.flush(otel);
        let tw_before = tracewire::stats();
        let id = if batched {
            format!("{name}/batched")
        } else {
            name.to_owned()
        };
        let (mut iters_total, mut created, mut elapsed) = (0_u64, 0_u64, Duration::ZERO);
        self.group.bench_function(&id, |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                let mut left = iters;
                while left > 0 {
                    let n = if batched { left.min(BATCH) } else { left };
                    total += routine(n);
                    created += spans(n);
                    if batched {
                        lib.flush(otel);
                    }
                    left -= n;
                }
                iters_total += iters;
                elapsed += total;
                total
            });
        });
        if iters_total == 0 {
            return; // filtered out on the command line
        }
        let exported = lib.flush(otel) - exported_before;
        let counts = if lib == Lib::Tracewire {
            let now = tracewire::stats();
            let dropped = |s: &tracewire::Stats| {
                s.dropped_buffer_full + s.dropped_export_failed + s.dropped_shutdown
            };
            format!(
                "created {created}: started {}, not sampled {}, ended {}, exported {}, dropped {} \
                 (buffer full {}), queued {}",
                now.spans_started - tw_before.spans_started,
                now.spans_not_sampled - tw_before.spans_not_sampled,
                now.spans_ended - tw_before.spans_ended,
                now.spans_exported - tw_before.spans_exported,
                dropped(&now) - dropped(&tw_before),
                now.dropped_buffer_full - tw_before.dropped_buffer_full,
                now.queued,
            )
        } else {
            format!("created {created}, exported {exported}")
        };
        let lost = if exports {
            created.saturating_sub(exported)
        } else {
            0
        };
        let warning = if lost > 0 {
            format!("  <-- {lost} spans lost")
        } else {
            String::new()
        };
        eprintln!("[{}/{id}] {counts}{warning}", self.name);

        ROWS.lock().unwrap().push(Row {
            group: self.name,
            case: id,
            ns_per_iter: elapsed.as_nanos() as f64 / iters_total as f64,
            exported: exports.then_some((exported, created)),
        });
    }

    fn finish(self) {
        self.group.finish();
    }
}

/// `n` iterations create `n` spans.
fn one(n: u64) -> u64 {
    n
}

/// `n` child iterations create `n` children and their parents, one per `CHILDREN`.
fn with_parents(n: u64) -> u64 {
    n + n.div_ceil(CHILDREN)
}

/// Times `iters` runs of `f`.
fn timed(iters: u64, mut f: impl FnMut()) -> Duration {
    let start = Instant::now();
    for _ in 0..iters {
        f();
    }
    start.elapsed()
}

/// Times `iters` children, renewing the parent every `CHILDREN` children (inside the timing).
fn timed_children(iters: u64, mut parent: impl FnMut(u64)) -> Duration {
    let start = Instant::now();
    let mut left = iters;
    while left > 0 {
        let n = left.min(CHILDREN);
        parent(n);
        left -= n;
    }
    start.elapsed()
}

// ---------------------------------------------------------------------------------------------
// Set-up of each library.

fn otel_provider(sampler: opentelemetry_sdk::trace::Sampler) -> SdkTracerProvider {
    let processor = BatchSpanProcessor::builder(CountingExporter).build();
    SdkTracerProvider::builder()
        .with_sampler(sampler)
        .with_span_processor(processor)
        .build()
}

/// tracewire on its default buffer sizes (thread buffer and queue).
fn tracewire_config() -> Config {
    Config::default()
        .with_exporter(NoopExporter)
        .with_diagnostics(DiagLevel::None)
}

// ---------------------------------------------------------------------------------------------
// The operations, one function per library and case, so every variant runs the same code.

fn tw_child(children: u64) {
    let parent = tracewire::span("parent");
    let entered = parent.enter();
    for _ in 0..children {
        black_box(tracewire::span("child")).end();
    }
    drop(entered);
    parent.end();
}

fn otel_child(tracer: &SdkTracer, children: u64) {
    let parent = Context::current_with_span(tracer.start("parent"));
    for _ in 0..children {
        black_box(tracer.start_with_context("child", &parent)).end();
    }
}

fn fastrace_child(children: u64) {
    let root = FastSpan::root("parent", FastContext::random());
    let _local = root.set_local_parent();
    for _ in 0..children {
        drop(black_box(LocalSpan::enter_with_local_parent("child")));
    }
}

fn tw_root() {
    black_box(tracewire::span("root")).end();
}

/// [`tw_root`] without moving the span: only its address escapes.
fn tw_root_in_place() {
    let span = tracewire::span("root");
    black_box(&span);
    span.end();
}

fn otel_root(tracer: &SdkTracer) {
    black_box(tracer.start_with_context("root", &Context::new())).end();
}

fn fastrace_root() {
    drop(black_box(FastSpan::root("root", FastContext::random())));
}

fn tw_attrs(children: u64) {
    let parent = tracewire::span("parent");
    let entered = parent.enter();
    for _ in 0..children {
        let span = tracewire::span("query");
        span.set_attribute("http.status_code", 200_i64);
        span.set_attribute("sample.ratio", 0.25_f64);
        span.set_attribute("cache.hit", true);
        span.set_attribute("db.system", "postgresql");
        span.add_event("retry", Vec::new());
        black_box(span).end();
    }
    drop(entered);
    parent.end();
}

fn otel_attrs(tracer: &SdkTracer, children: u64) {
    let parent = Context::current_with_span(tracer.start("parent"));
    for _ in 0..children {
        let mut span = tracer.start_with_context("query", &parent);
        span.set_attribute(OtelKeyValue::new("http.status_code", 200_i64));
        span.set_attribute(OtelKeyValue::new("sample.ratio", 0.25_f64));
        span.set_attribute(OtelKeyValue::new("cache.hit", true));
        span.set_attribute(OtelKeyValue::new("db.system", "postgresql"));
        span.add_event("retry", Vec::new());
        black_box(span).end();
    }
}

fn fastrace_attrs(children: u64) {
    let root = FastSpan::root("parent", FastContext::random());
    let _local = root.set_local_parent();
    for _ in 0..children {
        let span = LocalSpan::enter_with_local_parent("query").with_properties(|| {
            [
                ("http.status_code", 200_i64.to_string()),
                ("sample.ratio", 0.25_f64.to_string()),
                ("cache.hit", true.to_string()),
                ("db.system", "postgresql".to_owned()),
            ]
        });
        LocalSpan::add_event(fastrace::Event::new("retry"));
        drop(black_box(span));
    }
}

// ---------------------------------------------------------------------------------------------
// Groups.

fn disabled(c: &mut Criterion) {
    use Lib::{Fastrace, Otel, Tracewire};
    let mut g = Group::new(c, "disabled", false);

    // Before anything is initialised: tracewire is off, fastrace has no reporter.
    g.case(Tracewire, "tracewire_off", false, one, |n| {
        timed(n, tw_root)
    });
    g.case(Tracewire, "tracewire_off_in_place", false, one, |n| {
        timed(n, tw_root_in_place)
    });
    g.case(Fastrace, "fastrace_no_reporter", false, one, |n| {
        timed(n, fastrace_root)
    });
    g.case(Fastrace, "fastrace_no_local_parent", false, one, |n| {
        timed(n, || {
            drop(black_box(LocalSpan::enter_with_local_parent("child")))
        })
    });
    g.case(
        Fastrace,
        "fastrace_no_local_parent_in_place",
        false,
        one,
        |n| {
            timed(n, || {
                let span = LocalSpan::enter_with_local_parent("child");
                black_box(&span);
                drop(span);
            })
        },
    );
    g.case(Fastrace, "fastrace_unsampled_root", false, one, |n| {
        timed(n, || {
            drop(black_box(FastSpan::root(
                "root",
                FastContext::random().sampled(false),
            )))
        })
    });
    g.case(
        Fastrace,
        "fastrace_unsampled_root_in_place",
        false,
        one,
        |n| {
            timed(n, || {
                let span = FastSpan::root("root", FastContext::random().sampled(false));
                black_box(&span);
                drop(span);
            })
        },
    );

    let noop = opentelemetry::trace::noop::NoopTracerProvider::new().tracer("bench");
    g.case(Otel, "opentelemetry_noop_tracer", false, one, |n| {
        timed(n, || {
            black_box(noop.start_with_context("root", &Context::new())).end()
        })
    });
    let provider = otel_provider(opentelemetry_sdk::trace::Sampler::AlwaysOff);
    let tracer = provider.tracer("bench");
    g.otel = Some(&provider);
    g.case(Otel, "opentelemetry_sdk_always_off", false, one, |n| {
        timed(n, || otel_root(&tracer))
    });
    g.otel = None;

    let guard = tracewire_config()
        .with_sampler(Sampler::AlwaysOff)
        .init()
        .expect("init tracewire");
    g.case(Tracewire, "tracewire_always_off", false, one, |n| {
        timed(n, tw_root)
    });
    g.case(
        Tracewire,
        "tracewire_always_off_in_place",
        false,
        one,
        |n| timed(n, tw_root_in_place),
    );
    drop(guard);
    g.finish();
    let _ = provider.shutdown();
}

fn enabled(c: &mut Criterion) {
    use Lib::{Fastrace, Otel, Tracewire};
    fastrace::set_reporter(CountingReporter, fastrace::collector::Config::default());
    let provider = otel_provider(opentelemetry_sdk::trace::Sampler::AlwaysOn);
    let tracer = provider.tracer("bench");
    let guard = tracewire_config().init().expect("init tracewire");

    for batched in [false, true] {
        let mut g = Group::new(c, "child_span", batched).with_otel(&provider);
        g.case(Tracewire, "tracewire", true, with_parents, |n| {
            timed_children(n, tw_child)
        });
        g.case(Otel, "opentelemetry_sdk", true, with_parents, |n| {
            timed_children(n, |k| otel_child(&tracer, k))
        });
        g.case(Fastrace, "fastrace", true, with_parents, |n| {
            timed_children(n, fastrace_child)
        });
        g.finish();
    }

    for batched in [false, true] {
        let mut g = Group::new(c, "root_span", batched).with_otel(&provider);
        g.case(Tracewire, "tracewire", true, one, |n| timed(n, tw_root));
        g.case(Otel, "opentelemetry_sdk", true, one, |n| {
            timed(n, || otel_root(&tracer))
        });
        g.case(Fastrace, "fastrace", true, one, |n| timed(n, fastrace_root));
        g.finish();
    }

    for batched in [false, true] {
        let mut g = Group::new(c, "span_4_attrs_1_event", batched).with_otel(&provider);
        g.case(Tracewire, "tracewire", true, with_parents, |n| {
            timed_children(n, tw_attrs)
        });
        g.case(Otel, "opentelemetry_sdk", true, with_parents, |n| {
            timed_children(n, |k| otel_attrs(&tracer, k))
        });
        g.case(Fastrace, "fastrace", true, with_parents, |n| {
            timed_children(n, fastrace_attrs)
        });
        g.finish();
    }

    drop(guard);
    let _ = provider.shutdown();
}

/// The closing table: mean ns per iteration, the ratio to fastrace's case in the same group and
/// variant (the goals are written against it), and how many of the spans created were exported.
fn print_table() {
    let rows = ROWS.lock().unwrap();
    if rows.is_empty() {
        return;
    }
    let base = |row: &Row| {
        let name = match (row.group, row.case.ends_with("/batched")) {
            ("disabled", _) => return None,
            (_, true) => "fastrace/batched",
            (_, false) => "fastrace",
        };
        rows.iter()
            .find(|r| r.group == row.group && r.case == name)
            .map(|r| r.ns_per_iter)
    };
    eprintln!(
        "\nmean ns per iteration (criterion's warm-up included), ratio to fastrace in the same group"
    );
    eprintln!(
        "{:<21} {:<35} {:>9} {:>9} {:>24}",
        "group", "case", "ns/iter", "/fastrace", "exported/created"
    );
    let mut last = "";
    for row in rows.iter() {
        if row.group != last {
            eprintln!("{}", "-".repeat(102));
            last = row.group;
        }
        let ratio = match base(row) {
            Some(b) if b > 0.0 => format!("{:.2}x", row.ns_per_iter / b),
            _ => "-".to_owned(),
        };
        let exported = match row.exported {
            Some((exported, created)) => format!(
                "{exported}/{created} {:>3.0}%",
                100.0 * exported as f64 / created.max(1) as f64
            ),
            None => "-".to_owned(),
        };
        eprintln!(
            "{:<21} {:<35} {:>9.1} {ratio:>9} {exported:>24}",
            row.group, row.case, row.ns_per_iter
        );
    }
    for line in THREADS.lock().unwrap().iter() {
        eprintln!("{line}");
    }
}

// ---------------------------------------------------------------------------------------------
// Root spans from two producer threads: throughput, not latency.

/// The `two_threads` lines, printed after the table.
static THREADS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// The process's resident set size in KiB (Linux; 0 elsewhere).
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
            line.split_whitespace().nth(1)?.parse().ok()
        })
        .unwrap_or(0)
}

/// Runs `make` (one root span) on 2 threads for `secs` seconds; `exported()` reads the library's
/// exported count. Prints spans produced and exported per second (exported within the window, not
/// after a final flush), the share dropped, and the peak RSS growth over the run.
fn two_threads(lib: Lib, otel: Option<&SdkTracerProvider>, make: impl Fn() + Sync) {
    use std::sync::atomic::AtomicBool;
    let secs: f64 = std::env::var("TRACEWIRE_BENCH_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3.0);
    let exported_before = lib.flush(otel);
    let tw_before = tracewire::stats();
    let rss_before = rss_kib();
    let stop = AtomicBool::new(false);
    let peak = AtomicU64::new(rss_before);
    let window = Duration::from_secs_f64(secs);
    let (produced, exported_in_window) = std::thread::scope(|scope| {
        let producers: Vec<_> = (0..2)
            .map(|_| {
                scope.spawn(|| {
                    let mut made = 0_u64;
                    while !stop.load(Ordering::Relaxed) {
                        for _ in 0..256 {
                            make();
                        }
                        made += 256;
                    }
                    made
                })
            })
            .collect();
        let start = Instant::now();
        while start.elapsed() < window {
            std::thread::sleep(Duration::from_millis(10));
            peak.fetch_max(rss_kib(), Ordering::Relaxed);
        }
        let exported = match lib {
            Lib::Tracewire => tracewire::stats().spans_exported,
            Lib::Otel => OTEL_EXPORTED.load(Ordering::Relaxed),
            Lib::Fastrace => FASTRACE_REPORTED.load(Ordering::Relaxed),
        };
        stop.store(true, Ordering::Relaxed);
        let produced: u64 = producers.into_iter().map(|p| p.join().unwrap()).sum();
        (produced, exported)
    });
    let exported_in_window = exported_in_window - exported_before;
    let exported_total = lib.flush(otel) - exported_before;
    peak.fetch_max(rss_kib(), Ordering::Relaxed);
    let dropped = match lib {
        Lib::Tracewire => {
            let now = tracewire::stats();
            format!(
                ", dropped {} (counted)",
                now.dropped() - tw_before.dropped()
            )
        }
        _ => String::new(),
    };
    let lost = produced.saturating_sub(exported_total);
    let line = format!(
        "[two_threads/{lib:?}] produced {:.2} M/s, exported {:.2} M/s within the run; \
         {exported_total} of {produced} exported in the end ({:.1} % lost{dropped}); \
         peak RSS growth {:.1} MiB",
        produced as f64 / secs / 1e6,
        exported_in_window as f64 / secs / 1e6,
        100.0 * lost as f64 / produced.max(1) as f64,
        peak.load(Ordering::Relaxed).saturating_sub(rss_before) as f64 / 1024.0,
    );
    eprintln!("{line}");
    THREADS.lock().unwrap().push(line);
}

fn threads(_c: &mut Criterion) {
    let filter_out = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .any(|a| !"two_threads".contains(a.as_str()));
    if filter_out {
        return;
    }
    let guard = tracewire_config().init().expect("init tracewire");
    two_threads(Lib::Tracewire, None, tw_root);
    drop(guard);
    let provider = otel_provider(opentelemetry_sdk::trace::Sampler::AlwaysOn);
    let tracer = provider.tracer("bench");
    two_threads(Lib::Otel, Some(&provider), || otel_root(&tracer));
    let _ = provider.shutdown();
    two_threads(Lib::Fastrace, None, fastrace_root);
    print_table();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = disabled, enabled, threads
}
criterion_main!(benches);
