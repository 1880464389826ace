//! The test service of the W3C Trace Context test harness, built on tracewire's HTTP layers.
//!
//! The harness POSTs a JSON array of `{"url": ..., "arguments": [...]}` to `/test`. For each element,
//! in order and before answering, this service POSTs `json(arguments)` to `url`, from a new client
//! span that is a child of the incoming context (through the server span), so `traceparent` and
//! `tracestate` are propagated, sampled or not. A malformed incoming context starts a new trace.
//!
//! `scripts/w3c-harness.sh path/to/trace-context/test` builds and starts it, then runs the harness
//! at `STRICT_LEVEL=2` (Python 3 with `aiohttp`). By hand, in two shells:
//!
//! ```text
//! cargo run --example w3c_test_service --features reqwest,axum -- 5000   # or PORT=5000
//!
//! git clone https://github.com/w3c/trace-context && cd trace-context/test
//! pip install aiohttp
//! python test.py http://127.0.0.1:5000/test
//! ```
//!
//! The harness listens on 127.0.0.1:7777 for the service's calls. Spans go to the console unless
//! `OTEL_TRACES_EXPORTER` or `OTEL_EXPORTER_OTLP_ENDPOINT` says otherwise; `OTEL_PROPAGATORS`
//! selects the propagators.

use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::routing::post;
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware};
use serde_json::Value;
use tracewire::http::{ServerLayer, TracingMiddleware};

/// How long one call to the harness may take (the harness itself waits 5 s).
const CALL_TIMEOUT: Duration = Duration::from_secs(5);

/// The service: `POST /test`, with server spans.
pub fn app(client: ClientWithMiddleware) -> Router {
    Router::new()
        .route("/test", post(test))
        .with_state(client)
        .layer(ServerLayer::new())
}

/// A reqwest client whose requests get client spans and carry the current context.
pub fn client() -> ClientWithMiddleware {
    let client = reqwest::Client::builder()
        .timeout(CALL_TIMEOUT)
        .build()
        .unwrap_or_default();
    ClientBuilder::new(client)
        .with(TracingMiddleware::new())
        .build()
}

/// One call the harness asks for: where, and what to send.
struct Call {
    url: String,
    body: Vec<u8>,
}

/// The calls of a harness request, or `None` when it is not a JSON array of
/// `{"url": string, "arguments": ...}`.
fn parse(body: &[u8]) -> Option<Vec<Call>> {
    let Value::Array(cases) = serde_json::from_slice(body).ok()? else {
        return None;
    };
    cases
        .iter()
        .map(|case| {
            let url = case.get("url")?.as_str()?.to_owned();
            let arguments = case.get("arguments").cloned().unwrap_or(Value::Null);
            let body = serde_json::to_vec(&arguments).ok()?;
            Some(Call { url, body })
        })
        .collect()
}

async fn test(State(client): State<ClientWithMiddleware>, body: Bytes) -> StatusCode {
    let Some(calls) = parse(&body) else {
        return StatusCode::BAD_REQUEST;
    };
    for call in calls {
        let sent = client
            .post(&call.url)
            .header(header::CONTENT_TYPE, "application/json")
            .body(call.body)
            .send()
            .await;
        if let Err(error) = sent {
            // Keep going: the harness judges what arrived; the client span records the error.
            eprintln!("POST {}: {error}", call.url);
        }
    }
    StatusCode::OK
}

/// tracewire's settings: from the environment, with the console exporter unless an exporter or
/// an OTLP endpoint is configured there.
fn config() -> Result<tracewire::Config, tracewire::InitError> {
    let config = tracewire::Config::from_env()?.with_service_name("w3c-test-service");
    let configured = ["OTEL_TRACES_EXPORTER", "OTEL_EXPORTER_OTLP_ENDPOINT"]
        .iter()
        .any(|name| std::env::var_os(name).is_some());
    Ok(if configured {
        config
    } else {
        config.with_exporter_kind(tracewire::ExporterKind::Console)
    })
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let port: u16 = std::env::args()
        .nth(1)
        .or_else(|| std::env::var("PORT").ok())
        .ok_or("usage: w3c_test_service PORT (or set PORT)")?
        .parse()?;
    let _guard = config()?.init()?;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    eprintln!("W3C test service on http://127.0.0.1:{port}/test (Ctrl-C stops it)");
    axum::serve(listener, app(client()))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
