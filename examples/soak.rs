//! A soak test against your own collector: a steady load of spans, and tracewire's counters once a
//! second.
//!
//! ```text
//! # OTLP/HTTP to localhost:4318 (the default), 100,000 spans/s for a minute on 2 threads:
//! cargo run --release --example soak -- --rate 100000 --secs 60 --threads 2
//! # Any endpoint and protocol, from the standard variables (or --endpoint / --protocol):
//! OTEL_EXPORTER_OTLP_ENDPOINT=http://otel-collector:4317 OTEL_EXPORTER_OTLP_PROTOCOL=grpc \
//!     cargo run --release --example soak -- --rate 400000 --children 3 --attributes 2
//! cargo run --release --example soak -- --help
//! ```
//!
//! Every setting of tracewire comes from the `OTEL_*` variables ([`tracewire::Config::from_env`]:
//! `OTEL_EXPORTER_OTLP_*`, `OTEL_BSP_*`, TLS, headers, compression); the flags `--endpoint` and
//! `--protocol` override the variables, as code does. Each unit of load is a root span with
//! `--children` children, each span with `--attributes` attributes (strings, integers, floats and
//! booleans in turn), made on `--threads` threads that share `--rate` spans/s (0: as fast as they
//! can). Once a second a line shows what `tracewire::stats()` says; at the end the guard is
//! dropped (queued spans are flushed, within the shutdown timeout) and the final counters printed.
//!
//! With nothing listening the load keeps its pace (spans are dropped and counted, the caller never
//! waits) and the example ends within the shutdown timeout.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tracewire::{Config, Protocol, Stats};

const USAGE: &str = "\
usage: soak [--rate SPANS_PER_SEC] [--secs N] [--threads N] [--children N] [--attributes N]
            [--endpoint URL] [--protocol grpc|http/protobuf] [--thread-buffer N]

  --rate          spans per second over all threads; 0 = as fast as possible (default 100000)
  --secs          how long to run (default 30, at most 86400)
  --threads       threads making spans (default 1, at most 256)
  --children      child spans per root span (default 3, at most 1000)
  --attributes    attributes on every span (default 2, at most 128)
  --endpoint      the collector; default OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT, else localhost
  --protocol      default OTEL_EXPORTER_OTLP_(TRACES_)PROTOCOL, else http/protobuf
  --thread-buffer Config::with_thread_buffer_size (spans each thread holds; default 1024)

Other settings come from the OTEL_* variables (OTEL_BSP_MAX_QUEUE_SIZE,
OTEL_BSP_MAX_EXPORT_BATCH_SIZE, OTEL_EXPORTER_OTLP_COMPRESSION, headers, TLS, ...).";

/// The load, from the flags.
#[derive(Debug, Clone)]
struct Load {
    rate: u64,
    secs: u64,
    threads: u64,
    children: u64,
    attributes: u64,
    endpoint: Option<String>,
    protocol: Option<Protocol>,
    thread_buffer: Option<usize>,
}

fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Load, String> {
    let mut load = Load {
        rate: 100_000,
        secs: 30,
        threads: 1,
        children: 3,
        attributes: 2,
        endpoint: None,
        protocol: None,
        thread_buffer: None,
    };
    let mut args = args.into_iter();
    while let Some(flag) = args.next() {
        if flag == "--help" || flag == "-h" {
            return Err(String::new());
        }
        let value = args
            .next()
            .ok_or_else(|| format!("{flag}: expected a value after it"))?;
        let number = |max: u64| -> Result<u64, String> {
            value
                .parse::<u64>()
                .ok()
                .filter(|n| *n <= max)
                .ok_or_else(|| format!("{flag} {value:?}: expected a whole number in [0, {max}]"))
        };
        match flag.as_str() {
            "--rate" => load.rate = number(1_000_000_000)?,
            "--secs" => load.secs = number(86_400)?,
            "--threads" => load.threads = number(256)?.max(1),
            "--children" => load.children = number(1000)?,
            "--attributes" => load.attributes = number(128)?,
            "--thread-buffer" => load.thread_buffer = Some(number(1 << 20)? as usize),
            "--endpoint" => load.endpoint = Some(value),
            "--protocol" => {
                load.protocol = Some(match value.as_str() {
                    "grpc" => Protocol::Grpc,
                    "http/protobuf" | "http" => Protocol::HttpProtobuf,
                    _ => {
                        return Err(format!(
                            "--protocol {value:?}: expected grpc or http/protobuf"
                        ));
                    }
                })
            }
            _ => return Err(format!("unknown flag {flag:?}")),
        }
    }
    Ok(load)
}

fn main() -> std::process::ExitCode {
    let load = match parse_args(std::env::args().skip(1)) {
        Ok(load) => load,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("soak: {e}\n");
            }
            eprintln!("{USAGE}");
            return std::process::ExitCode::from(2);
        }
    };
    match run(&load) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("soak: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(load: &Load) -> Result<(), tracewire::InitError> {
    let mut config = Config::from_env()?.with_service_name("tracewire-soak");
    if let Some(endpoint) = &load.endpoint {
        config = config.with_endpoint(endpoint.clone());
    }
    if let Some(protocol) = load.protocol {
        config = config.with_protocol(protocol);
    }
    if let Some(size) = load.thread_buffer {
        config = config.with_thread_buffer_size(size);
    }
    let guard = config.init()?;
    let rate = match load.rate {
        0 => "as many spans as possible (flood)".to_owned(),
        rate => format!("{rate} spans/s"),
    };
    println!(
        "soak: {rate} for {} s on {} thread(s), units of 1 root + {} children, {} attributes per span",
        load.secs, load.threads, load.children, load.attributes
    );

    let made = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let end = started + Duration::from_secs(load.secs);
    let workers: Vec<_> = (0..load.threads)
        .map(|i| {
            let (load, made, stop) = (load.clone(), Arc::clone(&made), Arc::clone(&stop));
            std::thread::Builder::new()
                .name(format!("soak-{i}"))
                .spawn(move || make_spans(&load, end, &made, &stop))
        })
        .collect();

    // One line a second until the end (bounded: the loop ends at `end`).
    let mut last = (Instant::now(), tracewire::stats(), 0u64);
    while Instant::now() < end {
        let next = last.0 + Duration::from_secs(1);
        std::thread::sleep(next.min(end).saturating_duration_since(Instant::now()));
        let now = (
            Instant::now(),
            tracewire::stats(),
            made.load(Ordering::Relaxed),
        );
        println!("{}", progress(started, &last, &now));
        last = now;
    }
    stop.store(true, Ordering::Relaxed);
    for worker in workers.into_iter().flatten() {
        let _ = worker.join();
    }

    let made = made.load(Ordering::Relaxed);
    let shutting_down = Instant::now();
    let ran = shutting_down - started;
    drop(guard);
    println!(
        "soak: made {made} spans in {:.1} s; the guard dropped in {} ms",
        ran.as_secs_f64(),
        shutting_down.elapsed().as_millis()
    );
    let stats = tracewire::stats();
    println!("{stats:#?}");
    let accounted = stats.spans_exported + stats.spans_rejected + stats.dropped() + stats.queued;
    println!(
        "accounted (exported + rejected + dropped + queued): {accounted} of {} spans ended; \
         lost {:.2} %",
        stats.spans_ended,
        100.0 * (made.saturating_sub(stats.spans_exported)) as f64 / made.max(1) as f64
    );
    Ok(())
}

/// The progress line: totals, and rates over the last interval.
fn progress(started: Instant, last: &(Instant, Stats, u64), now: &(Instant, Stats, u64)) -> String {
    let secs = now.0.duration_since(last.0).as_secs_f64().max(1e-9);
    let rate = |new: u64, old: u64| new.saturating_sub(old) as f64 / secs;
    let s = &now.1;
    let mut line = format!(
        "t={:>4.0}s made {:>9.0}/s exported {:>9.0}/s | started {} ended {} exported {} \
         rejected {} dropped {} (buffer full {}, export failed {}, shutdown {}) queued {} | \
         requests {} errors {} retries {} throttled {}",
        now.0.duration_since(started).as_secs_f64(),
        rate(now.2, last.2),
        rate(s.spans_exported, last.1.spans_exported),
        s.spans_started,
        s.spans_ended,
        s.spans_exported,
        s.spans_rejected,
        s.dropped(),
        s.dropped_buffer_full,
        s.dropped_export_failed,
        s.dropped_shutdown,
        s.queued,
        s.export_requests,
        s.export_errors,
        s.export_retries,
        s.export_throttled,
    );
    if let Some(reason) = &s.worker_stopped {
        line.push_str(&format!(" | worker stopped: {reason}"));
    }
    if let Some(error) = &s.last_export_error
        && s.export_errors > last.1.export_errors
    {
        line.push_str(&format!(" | last error: {error}"));
    }
    line
}

/// Makes units until `end` (or `stop`), at this thread's share of the rate: an absolute schedule,
/// looked at every unit, with a sleep when ahead.
fn make_spans(load: &Load, end: Instant, made: &AtomicU64, stop: &AtomicBool) {
    let spans_per_unit = 1 + load.children;
    let per_thread = load.rate as f64 / load.threads as f64;
    let keys = keys(load.attributes);
    let start = Instant::now();
    let mut spans = 0u64;
    let mut unreported = 0u64;
    // Bounded: the loop ends at `end`.
    while !stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        if now >= end {
            break;
        }
        if per_thread > 0.0 {
            let due = start + Duration::from_secs_f64(spans as f64 / per_thread);
            if due > now {
                std::thread::sleep((due - now).min(end - now));
                continue;
            }
        }
        tracewire::in_span("soak unit", |root| {
            set_attributes(root, &keys);
            for _ in 0..load.children {
                tracewire::in_span("soak child", |child| set_attributes(child, &keys));
            }
        });
        spans += spans_per_unit;
        unreported += spans_per_unit;
        // The shared counter is touched now and then, not for every unit.
        if unreported >= 256 {
            made.fetch_add(unreported, Ordering::Relaxed);
            unreported = 0;
        }
    }
    made.fetch_add(unreported, Ordering::Relaxed);
}

/// The attribute keys, made once and kept for the whole run, so that they are `&'static str` as
/// in instrumented code.
fn keys(count: u64) -> Vec<&'static str> {
    (0..count)
        .map(|i| &*Box::leak(format!("soak.attribute.{i}").into_boxed_str()))
        .collect()
}

fn set_attributes(span: &tracewire::Span, keys: &[&'static str]) {
    for (i, key) in keys.iter().enumerate() {
        match i % 4 {
            0 => span.set_attribute(*key, "a soak value"),
            1 => span.set_attribute(*key, i as i64),
            2 => span.set_attribute(*key, i as f64 * 0.5),
            _ => span.set_attribute(*key, true),
        }
    }
}
