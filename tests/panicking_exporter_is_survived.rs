//! A user's exporter (an `opentelemetry_sdk::trace::SpanExporter` given to `Config::with_exporter`)
//! that panics on some batches does not take tracewire down: each such batch counts as failed
//! (`dropped_export_failed`, `export_errors`), later batches are exported, recording stays on, and
//! `stats().worker_stopped` stays `None`.
//!
//! The exporter is opentelemetry-otlp's (OTLP/HTTP to a real receiver), wrapped to panic on any
//! batch holding a span named [`BOOM`].

mod support;

use std::time::Duration;

use opentelemetry_otlp::{WithExportConfig as _, WithHttpConfig as _};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use support::faults::{self, FaultReceiver};

const SCENARIO_BOUND: Duration = Duration::from_secs(60);
const BOOM: &str = "boom";
/// Spans per batch (one batch per flush).
const PER_BATCH: u64 = 3;

#[derive(Debug)]
struct PanicsOnBoom {
    inner: opentelemetry_otlp::SpanExporter,
}

impl SpanExporter for PanicsOnBoom {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        if batch.iter().any(|span| span.name == BOOM) {
            panic!("tracewire-test: this exporter panics on purpose");
        }
        self.inner.export(batch).await
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

fn otlp_http_exporter(receiver: &FaultReceiver) -> opentelemetry_otlp::SpanExporter {
    opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
        .with_endpoint(receiver.traces_url())
        .with_timeout(Duration::from_secs(5))
        // An explicit async client: it runs on tracewire's export thread, inside its runtime.
        .with_http_client(faults::http_client())
        .build()
        .expect("build the OTLP/HTTP exporter")
}

/// The names of the spans the receiver accepted, sorted.
fn arrived(receiver: &FaultReceiver) -> Vec<String> {
    let mut names: Vec<String> = receiver
        .accepted_spans()
        .iter()
        .map(|s| s.name().to_owned())
        .collect();
    names.sort();
    names
}

/// The names of the spans of the batches `labels` (see [`batch`]) and of the `last` span, sorted.
fn expected(labels: &[&str], last: &str) -> Vec<String> {
    let mut names: Vec<String> = labels
        .iter()
        .flat_map(|label| (0..PER_BATCH).map(move |i| format!("{label}-{i}")))
        .chain([last.to_owned()])
        .collect();
    names.sort();
    names
}

/// tracewire exporting through `exporter`, one batch per flush (the schedule never seals one).
fn config_with(exporter: impl SpanExporter + 'static) -> tracewire::Config {
    tracewire::Config::default()
        .with_exporter(exporter)
        .with_service_name("tracewire-tests")
        .with_diagnostics(tracewire::DiagLevel::None)
        .with_schedule_delay(Duration::from_secs(60))
        .with_max_export_batch_size(512)
        .with_batch_export_timeout(Duration::from_secs(10))
}

/// One batch of `PER_BATCH` spans, `boom` among them if `panics`, then a flush.
fn batch(label: &str, panics: bool) -> Result<(), tracewire::FlushError> {
    for i in 0..PER_BATCH {
        let name = if panics && i == 1 {
            BOOM.to_owned()
        } else {
            format!("{label}-{i}")
        };
        tracewire::span(name).end();
    }
    tracewire::force_flush()
}

#[test]
fn panicking_exporter_is_survived() {
    let _serial = support::serial();
    let receiver = FaultReceiver::http();
    let config = config_with(PanicsOnBoom {
        inner: otlp_http_exporter(&receiver),
    });
    let (flushes, recording, stats) =
        support::bounded("panicking exporter", SCENARIO_BOUND, move || {
            let guard = config.init().expect("init");
            let flushes = vec![
                batch("ok0", false),
                batch("panic1", true),
                batch("ok2", false),
                batch("panic3", true),
                batch("ok4", false),
            ];
            let span = tracewire::span("after the panics");
            let recording = span.is_recording();
            span.end();
            let _ = tracewire::force_flush();
            let stats = tracewire::stats();
            drop(guard);
            (flushes, recording, stats)
        });

    println!(
        "flushes {flushes:?}; exported {}, dropped_export_failed {}, export_errors {}",
        stats.spans_exported, stats.dropped_export_failed, stats.export_errors
    );
    assert!(
        flushes[0].is_ok(),
        "first batch: {:?} ({stats:#?})",
        flushes[0]
    );
    assert!(flushes[1].is_err(), "a panicking batch reports an error");
    assert!(
        flushes[2].is_ok(),
        "the batch after a panic: {:?} ({stats:#?})",
        flushes[2]
    );
    assert!(flushes[3].is_err(), "a panicking batch reports an error");
    assert!(
        flushes[4].is_ok(),
        "the batch after a panic: {:?} ({stats:#?})",
        flushes[4]
    );
    assert!(
        recording,
        "recording switched off after the exporter panicked"
    );
    assert_eq!(
        arrived(&receiver),
        expected(&["ok0", "ok2", "ok4"], "after the panics"),
        "the batches that did not panic arrived"
    );
    assert_eq!(stats.spans_ended, 5 * PER_BATCH + 1, "{stats:#?}");
    assert_eq!(stats.spans_exported, 3 * PER_BATCH + 1, "{stats:#?}");
    assert_eq!(stats.dropped_export_failed, 2 * PER_BATCH, "{stats:#?}");
    assert_eq!(stats.export_errors, 2, "{stats:#?}");
    assert_eq!(
        stats.worker_stopped, None,
        "worker_stopped after a caught panic: {stats:#?}"
    );
    support::assert_accounted(&stats);
}

/// Panics where no future guards them: in `export` before it returns its future (a plain `fn`
/// returning `impl Future`), and in `shutdown_with_timeout`.
#[derive(Debug)]
struct PanicsBeforeItsFuture {
    inner: opentelemetry_otlp::SpanExporter,
}

impl SpanExporter for PanicsBeforeItsFuture {
    #[allow(clippy::manual_async_fn)] // the panic must come before the future exists
    fn export(
        &self,
        batch: Vec<SpanData>,
    ) -> impl std::future::Future<Output = OTelSdkResult> + Send {
        if batch.iter().any(|span| span.name == BOOM) {
            panic!("tracewire-test: this exporter panics before returning its future");
        }
        self.inner.export(batch)
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        panic!("tracewire-test: this exporter panics in shutdown");
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

#[test]
fn panics_outside_the_exporters_future_are_survived() {
    let _serial = support::serial();
    let receiver = FaultReceiver::http();
    let config = config_with(PanicsBeforeItsFuture {
        inner: otlp_http_exporter(&receiver),
    });
    let (flushes, recording, took, stats) = support::bounded(
        "exporter panics outside its future",
        SCENARIO_BOUND,
        move || {
            let guard = config.init().expect("init");
            let flushes = vec![
                batch("ok0", false),
                batch("panic1", true),
                batch("ok2", false),
            ];
            let span = tracewire::span("after the panic");
            let recording = span.is_recording();
            span.end();
            // The exporter's `shutdown_with_timeout` panics in here.
            let took = support::timed_drop(guard);
            (flushes, recording, took, tracewire::stats())
        },
    );

    println!(
        "flushes {flushes:?}; guard returned in {took:?}; exported {}, dropped_export_failed {}, \
         export_errors {}, worker_stopped {:?}",
        stats.spans_exported,
        stats.dropped_export_failed,
        stats.export_errors,
        stats.worker_stopped
    );
    assert!(flushes[0].is_ok(), "first batch: {flushes:?} ({stats:#?})");
    assert!(flushes[1].is_err(), "a panicking batch reports an error");
    assert!(
        flushes[2].is_ok(),
        "the batch after a panic: {flushes:?} ({stats:#?})"
    );
    assert!(
        recording,
        "recording switched off after the exporter panicked"
    );
    assert_eq!(
        arrived(&receiver),
        expected(&["ok0", "ok2"], "after the panic"),
        "the batches that did not panic arrived, and the last span"
    );
    assert_eq!(stats.spans_exported, 2 * PER_BATCH + 1, "{stats:#?}");
    assert_eq!(stats.dropped_export_failed, PER_BATCH, "{stats:#?}");
    assert_eq!(stats.export_errors, 1, "{stats:#?}");
    assert_eq!(
        stats.worker_stopped, None,
        "a panic in export or shutdown is not a stopped worker: {stats:#?}"
    );
    support::assert_accounted(&stats);
}
