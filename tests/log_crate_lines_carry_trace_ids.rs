//! The `log` crate's records, forwarded to `tracing` by the ready set-up's `init()` (tracing-log's
//! `LogTracer`), are written with the ids of the current span. One test: it installs globals.
#![cfg(all(feature = "testing", feature = "tracing"))]

use std::io;
use std::sync::{Arc, Mutex};

use tracing_subscriber::prelude::*;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

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

#[test]
fn log_records_carry_the_current_span_ids() {
    let memory = tracewire::testing::InMemoryExporter::default();
    let guard = tracewire::Config::default()
        .with_exporter(memory.clone())
        .init()
        .expect("init");
    let captured = Captured::default();
    let writer = captured.clone();
    tracing_subscriber::registry()
        .with(tracewire::tracing_layer())
        .with(tracewire::fmt_layer().with_writer(move || writer.clone()))
        .init();
    log::info!("outside");
    tracewire::in_span(
        "job",
        |_| log::warn!(target: "legacy", "from the log crate"),
    );
    drop(guard);
    let job = memory.span_named("job").expect("exported");
    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(!lines[0].contains("trace_id="), "{}", lines[0]);
    assert!(lines[1].contains("from the log crate"), "{}", lines[1]);
    assert!(
        lines[1].ends_with(&format!(
            " trace_id={} span_id={}",
            job.span_context.trace_id(),
            job.span_context.span_id()
        )),
        "{}",
        lines[1]
    );
}
