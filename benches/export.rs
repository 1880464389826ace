//! Delivery: how many spans reach an OTLP receiver, tracewire next to opentelemetry_sdk.
//!
//! ```text
//! cargo bench --bench export                       # every cell, twice (about 2 minutes on 2 cores)
//! cargo bench --bench export -- grpc               # the cells whose name contains every word given
//! cargo bench --bench export -- tracewire flood    # e.g. tracewire/grpc/flood and tracewire/http/flood
//! TRACEWIRE_BENCH_SECS=10 TRACEWIRE_BENCH_RUNS=3 cargo bench --bench export -- http
//! ```
//!
//! A cell is a library × a protocol × an offered rate, named `LIBRARY/PROTOCOL/RATE`:
//!
//! - libraries: `tracewire` (a [`tracewire::Config`] with the endpoint and protocol, every other
//!   setting at its default, `init()`, the guard dropped at the end) and `opentelemetry_sdk` (its
//!   `BatchSpanProcessor` with opentelemetry-otlp's exporter, default settings; for HTTP with an
//!   explicit blocking reqwest client, because with tracewire in the same build opentelemetry-otlp
//!   picks its async client, which panics on the processor's thread where no reactor runs);
//! - protocols: `grpc` and `http` (OTLP/HTTP protobuf);
//! - offered rates: `100k`, `400k` and `1m` spans/s, paced on the clock, and `flood` (one thread
//!   making spans as fast as it can). `1m` is the issue's sustained-delivery target with the caller
//!   leaving most of a core to the export and the receiver; a flood takes a whole core for the
//!   caller, which on 2 cores leaves the receiver and the export one core between them.
//!
//! The workload is units of one root span with 3 children, each child with 2 attributes, made on
//! one thread. Each cell runs in a process of its own: this binary runs itself again
//! (`TRACEWIRE_BENCH_CELL=<cell>`) with an OTLP receiver on 127.0.0.1 in that same process, which
//! decodes every request with opentelemetry-proto and counts the spans (`export/receiver.rs`).
//! The child records for the run window, drops the guard (shuts the provider down), and prints one
//! result line; the parent prints the table, with the ratios tracewire / opentelemetry_sdk of the
//! same run, and the machine.
//!
//! Reported per cell (a range over the runs):
//! - `created`: spans the caller made; `made/s` the rate it achieved (the pacing's precision);
//! - `delivered`: spans the receiver decoded once the guard / provider had shut down;
//! - `lost`: the share of `created` that never arrived;
//! - `delivered/s`: spans received per second while the caller was recording, the sustained
//!   delivery;
//! - `caller ns/span`: the caller's time spent making spans, divided by the spans it made, while
//!   the export ran (time spent waiting for the pace is not counted): wall-clock time, which
//!   includes the time the caller was preempted (by the export, the receiver or other processes),
//!   and `caller CPU ns/span`, the calling thread's CPU time over the same chunks of work
//!   (`CLOCK_THREAD_CPUTIME_ID`, read every 8 units when paced, every 64 in a flood; the reads add
//!   a few ns/span at 100k/s), which a busy machine disturbs less.
//!
//! `TRACEWIRE_BENCH_SERVE=grpc` (or `http`) runs only the receiver, on 127.0.0.1:4317 (4318 for
//! HTTP; `TRACEWIRE_BENCH_PORT` to change it) for `TRACEWIRE_BENCH_SECS` (default 60 there),
//! printing what it received each second: a collector stand-in for `examples/soak.rs`.
//!
//! Settings: `TRACEWIRE_BENCH_SECS` (run window per cell, default 3, at most 600),
//! `TRACEWIRE_BENCH_RUNS` (runs of every cell, interleaved, default 2, at most 20). A child that has
//! not finished within its window plus 60 s is killed and reported as failed. The figures are noisy
//! on a shared machine: compare ranges, and tracewire with opentelemetry_sdk within one run.

#[path = "export/receiver.rs"]
mod receiver;
#[path = "export/report.rs"]
mod report;

use std::collections::BTreeMap;
use std::io::Read as _;
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use opentelemetry::KeyValue as OtelKeyValue;
use opentelemetry::trace::{TraceContextExt as _, Tracer as _, TracerProvider as _};
use opentelemetry_otlp::{WithExportConfig as _, WithHttpConfig as _};
use opentelemetry_sdk::trace::{BatchSpanProcessor, SdkTracerProvider};
use receiver::{Receiver, TRACES_PATH, Transport};

/// Runs only the receiver (`grpc` or `http`), to point a soak test or any exporter at.
const SERVE_VAR: &str = "TRACEWIRE_BENCH_SERVE";
/// Names the cell a child process runs.
const CELL_VAR: &str = "TRACEWIRE_BENCH_CELL";
/// Prefix of the child's result line on its standard output.
const RESULT_PREFIX: &str = "export-bench-result";
/// Spans per unit: a root and its children.
const SPANS_PER_UNIT: u64 = 1 + CHILDREN;
const CHILDREN: u64 = 3;
/// Units made between two looks at the clock, when paced (32 spans: 80 µs of schedule at 400k/s).
const UNITS_PER_CHECK: u64 = 8;
/// The same for a flood: more, so that reading the clocks stays well under 1 % of the time.
const UNITS_PER_CHECK_FLOOD: u64 = 64;
/// Slack for a child beyond its run window (start, shutdown deadlines, process exit).
const CHILD_SLACK: Duration = Duration::from_secs(60);
/// The name tracewire's cells go under, and opentelemetry_sdk's.
const TRACEWIRE: &str = "tracewire";
const OTEL_SDK: &str = "opentelemetry_sdk";
const LIBRARIES: [&str; 2] = [TRACEWIRE, OTEL_SDK];
const PROTOCOLS: [&str; 2] = ["grpc", "http"];
/// Offered rates: a name and spans per second (`None`: flood).
const RATES: [(&str, Option<f64>); 4] = [
    ("100k", Some(100_000.0)),
    ("400k", Some(400_000.0)),
    ("1m", Some(1_000_000.0)),
    ("flood", None),
];

fn main() -> ExitCode {
    if let Ok(transport) = std::env::var(SERVE_VAR) {
        return serve(&transport);
    }
    match std::env::var(CELL_VAR) {
        Ok(cell) => child(&cell),
        Err(_) => parent(),
    }
}

/// `TRACEWIRE_BENCH_SERVE=grpc|http`: only the receiver, on `TRACEWIRE_BENCH_PORT` (default 4317
/// for gRPC, 4318 for HTTP), for `TRACEWIRE_BENCH_SECS` (here default 60), a line a second.
fn serve(transport: &str) -> ExitCode {
    let (transport, default_port) = match transport {
        "grpc" => (Transport::Grpc, 4317),
        "http" => (Transport::Http, 4318),
        other => {
            eprintln!("export bench: {SERVE_VAR}={other:?}: expected grpc or http");
            return ExitCode::FAILURE;
        }
    };
    let settings = setting("TRACEWIRE_BENCH_SECS", 60, 86_400)
        .and_then(|secs| Ok((secs, setting("TRACEWIRE_BENCH_PORT", default_port, 65_535)?)));
    let receiver = match settings
        .and_then(|(secs, port)| Ok((secs, Receiver::start(transport, port as u16)?)))
    {
        Ok(started) => started,
        Err(e) => {
            eprintln!("export bench: {e}");
            return ExitCode::FAILURE;
        }
    };
    let (secs, receiver) = receiver;
    println!(
        "receiver ({transport:?}) on {} for {secs} s",
        receiver.endpoint()
    );
    let mut last = 0;
    // Bounded: `secs` turns of one second.
    for t in 1..=secs {
        std::thread::sleep(Duration::from_secs(1));
        let spans = receiver.counts.spans();
        let requests = receiver
            .counts
            .requests
            .load(std::sync::atomic::Ordering::Relaxed);
        let bad = receiver
            .counts
            .bad_requests
            .load(std::sync::atomic::Ordering::Relaxed);
        println!(
            "t={t:>4}s received {spans} spans (+{}/s) in {requests} requests, {bad} refused",
            spans - last
        );
        last = spans;
    }
    std::process::exit(0)
}

// ---------------------------------------------------------------------------------------------
// Settings

fn setting(name: &str, default: u64, max: u64) -> Result<u64, String> {
    match std::env::var(name) {
        Err(_) => Ok(default),
        Ok(text) => match text.trim().parse::<u64>() {
            Ok(n) if (1..=max).contains(&n) => Ok(n),
            _ => Err(format!(
                "{name}={text:?}: expected a whole number in [1, {max}]"
            )),
        },
    }
}

fn window() -> Result<Duration, String> {
    setting("TRACEWIRE_BENCH_SECS", 3, 600).map(Duration::from_secs)
}

/// A cell: what one child process runs.
#[derive(Clone, Copy, Debug)]
struct Cell {
    library: &'static str,
    protocol: &'static str,
    rate_name: &'static str,
    rate: Option<f64>,
}

impl Cell {
    fn name(&self) -> String {
        format!("{}/{}/{}", self.library, self.protocol, self.rate_name)
    }

    fn all() -> Vec<Cell> {
        let mut cells = Vec::new();
        for (rate_name, rate) in RATES {
            for protocol in PROTOCOLS {
                for library in LIBRARIES {
                    cells.push(Cell {
                        library,
                        protocol,
                        rate_name,
                        rate,
                    });
                }
            }
        }
        cells
    }

    fn named(name: &str) -> Option<Cell> {
        Cell::all().into_iter().find(|cell| cell.name() == name)
    }
}

// ---------------------------------------------------------------------------------------------
// The child: one cell

/// What a child measured.
#[derive(Clone, Debug, Default)]
struct Outcome {
    created: u64,
    delivered: u64,
    /// Spans received by the end of the run window.
    received_in_window: u64,
    window_secs: f64,
    /// The caller's time making spans, in ns: wall clock, and the thread's CPU time.
    busy_ns: u64,
    busy_cpu_ns: u64,
    shutdown_ms: u64,
    requests: u64,
    bad_requests: u64,
    /// tracewire's counters after shutdown (absent for opentelemetry_sdk).
    tracewire_stats: Option<String>,
}

fn child(name: &str) -> ExitCode {
    let Some(cell) = Cell::named(name) else {
        eprintln!("export bench: {CELL_VAR}={name:?}: no such cell");
        return ExitCode::FAILURE;
    };
    match run_cell(cell) {
        Ok(outcome) => {
            println!("{RESULT_PREFIX} {}", encode(&outcome));
            // Exit here: threads the libraries left behind must not hold the process.
            std::process::exit(0)
        }
        Err(e) => {
            eprintln!("export bench: {name}: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run_cell(cell: Cell) -> Result<Outcome, String> {
    let window = window()?;
    let transport = match cell.protocol {
        "grpc" => Transport::Grpc,
        _ => Transport::Http,
    };
    let receiver = Receiver::start(transport, 0)?;
    let mut outcome = match cell.library {
        TRACEWIRE => run_tracewire(transport, &receiver, cell.rate, window)?,
        _ => run_otel_sdk(transport, &receiver, cell.rate, window)?,
    };
    outcome.delivered = receiver.counts.spans();
    outcome.requests = receiver
        .counts
        .requests
        .load(std::sync::atomic::Ordering::Relaxed);
    outcome.bad_requests = receiver
        .counts
        .bad_requests
        .load(std::sync::atomic::Ordering::Relaxed);
    Ok(outcome)
}

fn run_tracewire(
    transport: Transport,
    receiver: &Receiver,
    rate: Option<f64>,
    window: Duration,
) -> Result<Outcome, String> {
    let protocol = match transport {
        Transport::Grpc => tracewire::Protocol::Grpc,
        Transport::Http => tracewire::Protocol::HttpProtobuf,
    };
    let guard = tracewire::Config::default()
        .with_service_name("export-bench")
        .with_exporter_kind(tracewire::ExporterKind::Otlp)
        .with_protocol(protocol)
        .with_endpoint(receiver.endpoint())
        .init()
        .map_err(|e| format!("tracewire init: {e}"))?;
    let drive = drive(rate, window, receiver, |_| {
        tracewire::in_span("unit", |_| {
            for i in 0..CHILDREN as i64 {
                tracewire::in_span("child", |child| {
                    child.set_attribute("db.system", "postgresql");
                    child.set_attribute("item.index", i);
                });
            }
        });
    });
    let started = Instant::now();
    drop(guard);
    let shutdown = started.elapsed();
    Ok(Outcome {
        shutdown_ms: shutdown.as_millis() as u64,
        tracewire_stats: Some(format!("{:?}", tracewire::stats())),
        ..drive.into_outcome()
    })
}

fn run_otel_sdk(
    transport: Transport,
    receiver: &Receiver,
    rate: Option<f64>,
    window: Duration,
) -> Result<Outcome, String> {
    // tonic's channel runs on a tokio runtime, as in a service with `#[tokio::main]`; the batch
    // processor's own thread drives the exports.
    let runtime = tokio::runtime::Runtime::new().map_err(|e| format!("runtime: {e}"))?;
    let exporter = match transport {
        Transport::Grpc => {
            let _entered = runtime.enter();
            opentelemetry_otlp::SpanExporter::builder()
                .with_tonic()
                .with_endpoint(receiver.endpoint())
                .build()
        }
        Transport::Http => {
            let client = reqwest::blocking::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .map_err(|e| format!("blocking reqwest client: {e}"))?;
            opentelemetry_otlp::SpanExporter::builder()
                .with_http()
                .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
                .with_endpoint(format!("{}{TRACES_PATH}", receiver.endpoint()))
                .with_http_client(client)
                .build()
        }
    }
    .map_err(|e| format!("opentelemetry-otlp exporter: {e}"))?;
    let provider = SdkTracerProvider::builder()
        .with_span_processor(BatchSpanProcessor::builder(exporter).build())
        .with_resource(
            opentelemetry_sdk::Resource::builder()
                .with_service_name("export-bench")
                .build(),
        )
        .build();
    let tracer = provider.tracer("export-bench");
    let drive = drive(rate, window, receiver, |_| {
        tracer.in_span("unit", |_| {
            for i in 0..CHILDREN as i64 {
                tracer.in_span("child", |cx| {
                    let child = cx.span();
                    child.set_attribute(OtelKeyValue::new("db.system", "postgresql"));
                    child.set_attribute(OtelKeyValue::new("item.index", i));
                });
            }
        });
    });
    let started = Instant::now();
    let shut = provider.shutdown();
    let shutdown = started.elapsed();
    if let Err(e) = shut {
        eprintln!("export bench: opentelemetry_sdk shutdown: {e}");
    }
    drop(runtime);
    Ok(Outcome {
        shutdown_ms: shutdown.as_millis() as u64,
        ..drive.into_outcome()
    })
}

/// What the load loop measured.
struct Drive {
    units: u64,
    busy: Duration,
    busy_cpu: Duration,
    elapsed: Duration,
    received: u64,
}

impl Drive {
    fn into_outcome(self) -> Outcome {
        Outcome {
            created: self.units * SPANS_PER_UNIT,
            received_in_window: self.received,
            window_secs: self.elapsed.as_secs_f64(),
            busy_ns: self.busy.as_nanos() as u64,
            busy_cpu_ns: self.busy_cpu.as_nanos() as u64,
            ..Outcome::default()
        }
    }
}

/// Makes units on this thread for `window`: at `rate` spans/s on the clock (looking at it every
/// few units and sleeping when ahead of the schedule), or as fast as it can.
///
/// The schedule is absolute (unit `n` is due `n / rate` after the start), so a sleep that overshoots
/// is caught up by the next units, and the average rate stays exact while the caller keeps up.
/// Around each chunk of units it reads the wall clock and the thread's CPU clock: their sums are
/// the caller's cost, the time spent waiting for the pace left out.
fn drive(
    rate: Option<f64>,
    window: Duration,
    receiver: &Receiver,
    mut unit: impl FnMut(u64),
) -> Drive {
    let units_per_sec = rate.map(|r| r / SPANS_PER_UNIT as f64);
    let chunk = if rate.is_some() {
        UNITS_PER_CHECK
    } else {
        UNITS_PER_CHECK_FLOOD
    };
    let start = Instant::now();
    let end = start + window;
    let mut units = 0u64;
    let mut busy = Duration::ZERO;
    let mut busy_cpu = Duration::ZERO;
    let mut now = start;
    // Bounded: every turn reads the clock, and the loop ends at `end`.
    while now < end {
        if let Some(per_sec) = units_per_sec {
            let due = start + Duration::from_secs_f64(units as f64 / per_sec);
            if due > now {
                wait_until(due.min(end));
                now = Instant::now();
                continue;
            }
        }
        let (chunk_start, cpu_start) = (now, thread_cpu_time());
        for _ in 0..chunk {
            unit(units);
            units += 1;
        }
        busy_cpu += thread_cpu_time().saturating_sub(cpu_start);
        now = Instant::now();
        busy += now - chunk_start;
    }
    Drive {
        units,
        busy,
        busy_cpu,
        elapsed: now - start,
        received: receiver.counts.spans(),
    }
}

/// The CPU time this thread has used (zero where the clock cannot be read).
fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; the call only writes it.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return Duration::ZERO;
    }
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Sleeps until `deadline` (yielding for the last few microseconds, which a sleep would overshoot).
fn wait_until(deadline: Instant) {
    // Bounded: the deadline is at most the end of the run window.
    loop {
        let now = Instant::now();
        if now >= deadline {
            return;
        }
        let left = deadline - now;
        if left > Duration::from_micros(20) {
            std::thread::sleep(left);
        } else {
            std::thread::yield_now();
        }
    }
}

fn encode(o: &Outcome) -> String {
    let mut line = format!(
        "created={} delivered={} received_in_window={} window_secs={:.6} busy_ns={} \
         busy_cpu_ns={} shutdown_ms={} requests={} bad_requests={}",
        o.created,
        o.delivered,
        o.received_in_window,
        o.window_secs,
        o.busy_ns,
        o.busy_cpu_ns,
        o.shutdown_ms,
        o.requests,
        o.bad_requests
    );
    if let Some(stats) = &o.tracewire_stats {
        // Last: the Debug text has spaces.
        line.push_str(" tracewire_stats=");
        line.push_str(stats);
    }
    line
}

fn decode(line: &str) -> Result<Outcome, String> {
    let (fields, stats) = match line.split_once(" tracewire_stats=") {
        Some((fields, stats)) => (fields, Some(stats.to_owned())),
        None => (line, None),
    };
    let map: BTreeMap<&str, &str> = fields
        .split(' ')
        .filter_map(|kv| kv.split_once('='))
        .collect();
    let int = |key: &str| -> Result<u64, String> {
        map.get(key)
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| format!("result line without {key}: {line:?}"))
    };
    Ok(Outcome {
        created: int("created")?,
        delivered: int("delivered")?,
        received_in_window: int("received_in_window")?,
        window_secs: map
            .get("window_secs")
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| format!("result line without window_secs: {line:?}"))?,
        busy_ns: int("busy_ns")?,
        busy_cpu_ns: int("busy_cpu_ns")?,
        shutdown_ms: int("shutdown_ms")?,
        requests: int("requests")?,
        bad_requests: int("bad_requests")?,
        tracewire_stats: stats,
    })
}

// ---------------------------------------------------------------------------------------------
// The parent: every selected cell, each in a child process

fn parent() -> ExitCode {
    let settings = window().and_then(|w| Ok((w, setting("TRACEWIRE_BENCH_RUNS", 2, 20)?)));
    let (window, runs) = match settings {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("export bench: {e}");
            return ExitCode::FAILURE;
        }
    };
    // `cargo bench` passes `--bench`; every other argument is a word the cell's name must contain.
    let words: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let cells: Vec<Cell> = Cell::all()
        .into_iter()
        .filter(|cell| words.iter().all(|w| cell.name().contains(w.as_str())))
        .collect();
    if cells.is_empty() {
        eprintln!(
            "export bench: no cell matches {words:?}; cells are named like tracewire/grpc/100k"
        );
        return ExitCode::FAILURE;
    }
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(e) => {
            eprintln!("export bench: current_exe: {e}");
            return ExitCode::FAILURE;
        }
    };
    let machine = report::machine();
    eprintln!(
        "export bench: {} cell(s) × {runs} run(s), {} s each; {machine}",
        cells.len(),
        window.as_secs()
    );
    let mut results: Vec<report::Row> = Vec::new();
    let mut failed = 0;
    for run in 1..=runs {
        for cell in &cells {
            match run_child(&exe, cell, window) {
                Ok(outcome) => {
                    eprintln!(
                        "run {run}/{runs} {}: {}",
                        cell.name(),
                        report::summary(&outcome)
                    );
                    results.push(report::Row {
                        cell: *cell,
                        run,
                        outcome,
                    });
                }
                Err(e) => {
                    failed += 1;
                    eprintln!("run {run}/{runs} {}: FAILED: {e}", cell.name());
                }
            }
        }
    }
    println!("{}", report::render(&results, &machine, window, runs));
    if failed > 0 {
        eprintln!("export bench: {failed} child run(s) failed");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

/// Runs one cell in a child process and reads its result line; kills it past its deadline.
fn run_child(exe: &std::path::Path, cell: &Cell, window: Duration) -> Result<Outcome, String> {
    let mut child = Command::new(exe)
        .env(CELL_VAR, cell.name())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("spawn {}: {e}", exe.display()))?;
    let deadline = Instant::now() + window + CHILD_SLACK;
    // Bounded: polls until the child exits or the deadline passes.
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "no result within {:?}: killed",
                    window + CHILD_SLACK
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(format!("wait: {e}")),
        }
    };
    let mut stdout = String::new();
    if let Some(mut out) = child.stdout.take() {
        out.read_to_string(&mut stdout)
            .map_err(|e| format!("reading its output: {e}"))?;
    }
    if !status.success() {
        return Err(format!("exited with {status}"));
    }
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix(RESULT_PREFIX))
        .ok_or_else(|| format!("no result line in its output {stdout:?}"))?;
    decode(line.trim())
}
