//! The README's demo: one small trace, exported the way the `OTEL_*` environment says.
//!
//! ```text
//! OTEL_TRACES_EXPORTER=console cargo run --example quickstart
//! ```
//!
//! Without `OTEL_TRACES_EXPORTER` the spans go over OTLP/gRPC to `localhost:4317`; when nothing
//! listens there the example still exits promptly: dropping the guard gives up after the shutdown
//! timeout and the loss shows in the statistics.

use std::time::Duration;

use tracewire::KeyValue;

/// The error the card provider answers with.
#[derive(Debug)]
struct PaymentError(&'static str);

impl std::fmt::Display for PaymentError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for PaymentError {}

fn main() -> Result<(), tracewire::InitError> {
    let guard = tracewire::Config::from_env()?
        .with_service_name("quickstart")
        .with_shutdown_timeout(Duration::from_secs(2))
        .init()?;

    tracewire::in_span("checkout", |checkout| {
        checkout.set_attribute("user.id", 42_i64);
        checkout.set_attribute("cart.total", 59.90);
        checkout.set_attribute("express", true);

        tracewire::in_span("load cart", |load| {
            load.add_event("cache miss", vec![KeyValue::new("cache.key", "cart:42")]);
            std::thread::sleep(Duration::from_millis(2));
            load.set_attribute("cart.items", 3_i64);
        });

        tracewire::in_span("charge card", |charge| {
            charge.set_attribute("payment.provider", "acme-pay");
            std::thread::sleep(Duration::from_millis(1));
            charge.record_error(&PaymentError("card declined"));
        });
    });

    drop(guard); // flushes what is queued, waiting at most the shutdown timeout

    let stats = tracewire::stats();
    println!(
        "spans: {} started, {} exported, {} dropped (buffer full {}, export failed {}, shutdown {}); \
         {} export errors{}",
        stats.spans_started,
        stats.spans_exported,
        stats.dropped(),
        stats.dropped_buffer_full,
        stats.dropped_export_failed,
        stats.dropped_shutdown,
        stats.export_errors,
        match &stats.last_export_error {
            Some(error) => format!(" (last: {error})"),
            None => String::new(),
        },
    );
    Ok(())
}
