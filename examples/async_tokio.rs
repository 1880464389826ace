//! A nested async trace: an instrumented request handler whose steps run concurrently
//! (`tokio::join!`), in a spawned task, on the blocking pool, and one that times out.
//!
//! ```text
//! OTEL_TRACES_EXPORTER=console cargo run --example async_tokio
//! ```
//!
//! The console exporter prints the trace as a tree once the guard is dropped. Without
//! `OTEL_TRACES_EXPORTER` the spans go over OTLP to the default endpoint.

use std::time::Duration;

use tracewire::{Context, FutureExt as _, traced};

#[derive(Debug)]
struct NotFound(u64);

impl std::fmt::Display for NotFound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "user {} not found", self.0)
    }
}

/// A server span, with the user id recorded (and nothing else of the arguments).
#[traced(name = "GET /users/{id}", kind = server, fields(user.id = id), err)]
async fn handle_request(id: u64, _auth_token: String) -> Result<String, NotFound> {
    // Both run concurrently, each in its own child span.
    let (profile, orders) = tokio::join!(load_profile(id), count_orders(id));
    let profile = profile?;

    // A spawned task keeps its parent: the context travels with the future.
    // (`tracewire::spawn`, with feature `tokio`, does this wrapping for you.)
    let audit = tokio::spawn(write_audit_log(id).in_current_span());
    let _ = audit.await;

    // Blocking work on tokio's blocking pool, with the context carried into the closure.
    let digest = tokio::task::spawn_blocking(Context::current().wrap(move || checksum(&profile)))
        .await
        .unwrap_or_default();

    // A step that is cancelled by a timeout ends its span marked `tracewire.cancelled = true`.
    let _ = tokio::time::timeout(Duration::from_millis(5), slow_recommendations(id)).await;

    Ok(format!("{orders} orders, checksum {digest}"))
}

#[traced(err)]
async fn load_profile(id: u64) -> Result<String, NotFound> {
    tokio::time::sleep(Duration::from_millis(3)).await;
    if id == 0 {
        return Err(NotFound(id));
    }
    Ok(format!("profile of {id}"))
}

#[traced(ret, kind = client, fields(db.system.name = "postgresql"))]
async fn count_orders(_id: u64) -> i64 {
    tokio::time::sleep(Duration::from_millis(2)).await;
    3
}

#[traced]
async fn write_audit_log(_id: u64) {
    tokio::time::sleep(Duration::from_millis(1)).await;
}

#[traced(ret)]
fn checksum(text: &str) -> u32 {
    text.bytes().map(u32::from).sum()
}

#[traced]
async fn slow_recommendations(_id: u64) {
    tokio::time::sleep(Duration::from_secs(1)).await;
}

#[tokio::main]
async fn main() -> Result<(), tracewire::InitError> {
    let guard = tracewire::Config::from_env()?
        .with_service_name("async-tokio-example")
        .with_shutdown_timeout(Duration::from_secs(2))
        .init()?;

    let found = handle_request(42, "secret".to_owned()).await;
    let missing = handle_request(0, "secret".to_owned()).await;
    drop(guard); // flushes: the console exporter prints the two traces

    let stats = tracewire::stats();
    println!("request 42: {found:?}");
    println!("request 0: {missing:?}");
    println!(
        "spans: {} started, {} exported, {} dropped",
        stats.spans_started,
        stats.spans_exported,
        stats.dropped()
    );
    Ok(())
}
