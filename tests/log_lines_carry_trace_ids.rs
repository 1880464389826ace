//! Log lines written by tracewire's fmt layers carry the trace and span ids of the span they are
//! written in (tracing span, tracewire span or explicit parent), and none outside a span.
#![cfg(all(feature = "testing", feature = "tracing-json"))]

mod support;

use std::io;
use std::sync::{Arc, Mutex};

use tracewire::testing::InMemoryExporter;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::prelude::*;

/// Collects what the fmt layer writes.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    fn lines(&self) -> Vec<String> {
        let bytes = self.0.lock().unwrap_or_else(|e| e.into_inner()).clone();
        String::from_utf8(bytes)
            .expect("utf-8 log lines")
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

impl io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = Captured;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// The ids (trace, span) of the exported span `name`, in lower-case hex.
fn ids(memory: &InMemoryExporter, name: &str) -> (String, String) {
    let span = memory
        .span_named(name)
        .unwrap_or_else(|| panic!("no span {name:?}"));
    (
        span.span_context.trace_id().to_string(),
        span.span_context.span_id().to_string(),
    )
}

fn scenario() {
    tracing::info!("before any span");
    let checkout = tracing::info_span!("checkout");
    checkout.in_scope(|| {
        tracing::info!(amount = 42, "in tracing span");
        tracewire::in_span("charge card", |_| tracing::info!("in tracewire span"));
    });
    tracing::info!(parent: &checkout, "explicit parent");
    drop(checkout);
    tracing::info!("after every span");
}

fn run(
    layer: impl FnOnce(
        Captured,
    )
        -> Box<dyn tracing_subscriber::Layer<tracing_subscriber::Registry> + Send + Sync>,
) -> (Vec<String>, InMemoryExporter) {
    let _serial = support::serial();
    let memory = InMemoryExporter::default();
    let captured = Captured::default();
    let guard = tracewire::Config::default()
        .with_exporter(memory.clone())
        .init()
        .expect("init");
    let subscriber = tracing_subscriber::registry()
        .with(layer(captured.clone()))
        .with(tracewire::tracing_layer());
    tracing::subscriber::with_default(subscriber, scenario);
    drop(guard);
    (captured.lines(), memory)
}

#[test]
fn text_lines_end_with_the_ids_of_their_span() {
    let (lines, memory) = run(|w| Box::new(tracewire::fmt_layer().with_writer(w)));
    assert_eq!(lines.len(), 5, "{lines:#?}");
    let (trace, checkout) = ids(&memory, "checkout");
    let (_, charge) = ids(&memory, "charge card");
    let suffix = |span: &str| format!(" trace_id={trace} span_id={span}");
    assert!(!lines[0].contains("trace_id="), "{}", lines[0]);
    assert!(
        lines[1].contains("in tracing span") && lines[1].ends_with(&suffix(&checkout)),
        "{}",
        lines[1]
    );
    assert!(
        lines[2].contains("in tracewire span") && lines[2].ends_with(&suffix(&charge)),
        "{}",
        lines[2]
    );
    assert!(
        lines[3].contains("explicit parent") && lines[3].ends_with(&suffix(&checkout)),
        "{}",
        lines[3]
    );
    assert!(!lines[4].contains("trace_id="), "{}", lines[4]);
    eprintln!("example line: {}", lines[1]);
}

#[test]
fn json_lines_carry_the_ids_as_keys() {
    let (lines, memory) = run(|w| Box::new(tracewire::json_fmt_layer().with_writer(w)));
    assert_eq!(lines.len(), 5, "{lines:#?}");
    let (trace, checkout) = ids(&memory, "checkout");
    let (_, charge) = ids(&memory, "charge card");
    let parsed: Vec<serde_json::Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let id = |i: usize, key: &str| {
        parsed[i]
            .get(key)
            .and_then(|v| v.as_str())
            .map(str::to_owned)
    };
    assert_eq!(id(0, "trace_id"), None);
    assert_eq!(
        (id(1, "trace_id"), id(1, "span_id")),
        (Some(trace.clone()), Some(checkout.clone()))
    );
    assert_eq!(id(2, "span_id"), Some(charge));
    assert_eq!(id(3, "span_id"), Some(checkout));
    assert_eq!(id(4, "span_id"), None);
    assert_eq!(parsed[1]["fields"]["amount"], 42);
    eprintln!("example line: {}", lines[1]);
}
