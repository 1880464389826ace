//! Support for the HTTP tests: tracewire with the in-memory exporter, a test app behind the server
//! layer on 127.0.0.1, and typed attribute readers that fail on a wrong type.

#![allow(dead_code)] // each test binary uses a different part

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{any, get, post};
use http_body::Frame;
use tracewire::opentelemetry_sdk::trace::SpanData;
use tracewire::testing::InMemoryExporter;
use tracewire::{SpanKind, Value};

/// A trace id and a span id to send as an incoming context.
pub const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
pub const PARENT_ID: &str = "00f067aa0ba902b7";

/// `traceparent` with the ids above and `flags`.
pub fn traceparent(flags: &str) -> String {
    format!("00-{TRACE_ID}-{PARENT_ID}-{flags}")
}

/// Runs `test` on a two-worker tokio runtime, one test of the binary at a time (tracewire's
/// initialisation is global).
pub fn run<F: std::future::Future>(test: F) -> F::Output {
    let _serial = crate::support::serial();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(test)
}

/// Whether the sampled bit is set in a `traceparent`'s flags (other bits, such as Level 2's
/// random flag, may be set too).
pub fn sampled_flag(flags: &str) -> bool {
    u8::from_str_radix(flags, 16).expect("hex flags") & 1 == 1
}

/// tracewire installed with an in-memory exporter and `sampler`.
pub fn init(sampler: tracewire::Sampler) -> (tracewire::Guard, InMemoryExporter) {
    let memory = InMemoryExporter::default();
    let guard = tracewire::Config::default()
        .with_exporter(memory.clone())
        .with_sampler(sampler)
        .with_diagnostics(tracewire::DiagLevel::None)
        .init()
        .expect("init");
    (guard, memory)
}

/// Flushes until at least `n` spans have been exported (bounded: 5 s), then takes them all.
pub async fn take_spans(memory: &InMemoryExporter, n: usize) -> Vec<SpanData> {
    for _ in 0..250 {
        tracewire::force_flush().expect("flush");
        if memory.spans().len() >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let spans = memory.take();
    assert!(
        spans.len() >= n,
        "expected at least {n} spans, got {}: {:?}",
        spans.len(),
        spans.iter().map(|s| &s.name).collect::<Vec<_>>()
    );
    spans
}

/// The only span of `kind`.
#[track_caller]
pub fn only(spans: &[SpanData], kind: SpanKind) -> &SpanData {
    let found: Vec<_> = spans.iter().filter(|s| s.span_kind == kind).collect();
    assert_eq!(found.len(), 1, "spans of kind {kind:?}: {found:#?}");
    found[0]
}

/// The value of attribute `key`, if set.
pub fn attr<'a>(span: &'a SpanData, key: &str) -> Option<&'a Value> {
    span.attributes
        .iter()
        .rev()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| &kv.value)
}

/// Attribute `key`, which must be a string.
#[track_caller]
pub fn str_attr<'a>(span: &'a SpanData, key: &str) -> &'a str {
    match attr(span, key) {
        Some(Value::String(s)) => s.as_str(),
        other => panic!("{}: {key} should be a string, is {other:?}", span.name),
    }
}

/// Attribute `key`, which must be an int.
#[track_caller]
pub fn int_attr(span: &SpanData, key: &str) -> i64 {
    match attr(span, key) {
        Some(Value::I64(i)) => *i,
        other => panic!("{}: {key} should be an int, is {other:?}", span.name),
    }
}

/// Attribute `key`, which must be a bool.
#[track_caller]
pub fn bool_attr(span: &SpanData, key: &str) -> bool {
    match attr(span, key) {
        Some(Value::Bool(b)) => *b,
        other => panic!("{}: {key} should be a bool, is {other:?}", span.name),
    }
}

/// Asserts that `span` has none of `keys`.
#[track_caller]
pub fn assert_absent(span: &SpanData, keys: &[&str]) {
    for key in keys {
        assert!(
            attr(span, key).is_none(),
            "{}: {key} should be absent, is {:?}",
            span.name,
            attr(span, key)
        );
    }
}

/// Whether the status is an error.
pub fn is_error(span: &SpanData) -> bool {
    matches!(span.status, tracewire::Status::Error { .. })
}

/// What the test app saw of the requests to `/echo`: the `traceparent` header, or `None`.
#[derive(Clone, Default)]
pub struct Seen(pub Arc<Mutex<Vec<Option<String>>>>);

impl Seen {
    pub fn get(&self) -> Vec<Option<String>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// The app the HTTP tests talk to:
/// - `GET /ok` 200, `GET /users/{id}` 200, `GET /fail` 500, unknown paths 404;
/// - `GET /slow` answers after 10 s (for timeouts and cancellations);
/// - `ANY /echo` records the `traceparent` it got (see [`Seen`]) and answers 200;
/// - `GET /chunks` streams two chunks, starting a span `chunk` for each;
/// - `POST /retry` fails with 500 the first time, then answers 200.
pub fn app(seen: Seen) -> Router {
    let attempts = Arc::new(Mutex::new(0_u32));
    Router::new()
        .route("/ok", get(|| async { "ok" }))
        .route("/users/{id}", get(|| async { "a user" }))
        .route(
            "/fail",
            get(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "broken") }),
        )
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(10)).await;
                "late"
            }),
        )
        .route(
            "/echo",
            any(|State(seen): State<Seen>, headers: HeaderMap| async move {
                let traceparent = headers
                    .get("traceparent")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                seen.0
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(traceparent);
                "echo"
            }),
        )
        .route("/chunks", get(|| async { Body::new(Chunks(2)) }))
        .route(
            "/retry",
            post(move || {
                let attempts = Arc::clone(&attempts);
                async move {
                    let mut n = attempts.lock().unwrap_or_else(|e| e.into_inner());
                    *n += 1;
                    if *n == 1 {
                        StatusCode::INTERNAL_SERVER_ERROR
                    } else {
                        StatusCode::OK
                    }
                }
            }),
        )
        .with_state(seen)
}

/// A body of `n` chunks; producing each one records a span `chunk`.
pub struct Chunks(pub u8);

impl http_body::Body for Chunks {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if self.0 == 0 {
            return Poll::Ready(None);
        }
        self.0 -= 1;
        tracewire::span("chunk").end();
        Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(b"chunk")))))
    }
}

/// Serves `app` on 127.0.0.1 (with the peer address for `client.address`) until the runtime ends.
pub async fn serve(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move {
        let service = app.into_make_service_with_connect_info::<SocketAddr>();
        let _ = axum::serve(listener, service).await;
    });
    address
}
