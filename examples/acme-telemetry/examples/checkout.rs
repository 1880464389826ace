//! An Acme service: it depends only on `acme-telemetry`, which brings tracewire and the profile.
//!
//! ```text
//! OTEL_TRACES_EXPORTER=console \
//! OTEL_RESOURCE_ATTRIBUTES=service.namespace=shop,deployment.environment.name=dev \
//!     cargo run -p acme-telemetry --example checkout
//! ```
//!
//! The handler below makes the mistakes the profile exists for (a password attribute, an id in a
//! span name, a server span without `http.route`): the console shows what is exported instead.
//! Without `OTEL_RESOURCE_ATTRIBUTES`, `init` refuses and says what to set. With
//! `OTEL_LOG_LEVEL=debug`, `init` prints `describe()`: every setting and where it came from.

use acme_telemetry::{KeyValue, SpanKind};

#[acme_telemetry::traced(crate = acme_telemetry)]
fn load_user(id: u64) -> String {
    format!("user-{id}")
}

fn handle(path: &str, password: &str) {
    // A name with an id in it, and no `http.route`: the profile normalises and reports.
    let span = acme_telemetry::span_builder(format!("GET {path}"))
        .with_kind(SpanKind::Server)
        .with_attribute("http.request.method", "GET")
        .start();
    let _entered = span.enter();
    span.set_attribute("user.password", password.to_owned());
    span.add_event(
        "login",
        vec![KeyValue::new("authorization", "Bearer abc123")],
    );
    let user = load_user(12345);
    span.set_attribute("user.name", user);
}

fn main() {
    if let Err(err) = run() {
        eprintln!("checkout: tracing did not start: {err}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), acme_telemetry::InitError> {
    let guard = acme_telemetry::config()?
        .with_service_name("checkout")
        .with_shutdown_timeout(std::time::Duration::from_secs(2))
        .init()?;
    handle("/users/12345", "hunter2");
    acme_telemetry::force_flush().ok();
    let stats = acme_telemetry::stats();
    drop(guard);
    println!(
        "exported {} spans; {} attributes redacted, {} span names normalized",
        stats.spans_exported, stats.attributes_redacted, stats.span_names_normalized
    );
    Ok(())
}
