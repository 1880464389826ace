//! Test support: a real OTLP trace receiver (gRPC and HTTP/protobuf) on 127.0.0.1.
//!
//! Each integration test includes this module with `mod support;`. A [`Receiver`] runs its server in
//! its own thread with its own tokio runtime, so tests that have no runtime can use it, and tests that
//! run inside a runtime do not share theirs with it. Everything the receiver gets is recorded (the
//! decoded `ExportTraceServiceRequest` plus the request headers or gRPC metadata); tests wait for it
//! with [`Receiver::wait_for_spans`], which is always bounded by a timeout.
//!
//! Behaviours are switchable while the receiver runs: answer normally, fail every request (HTTP 503 /
//! gRPC `UNAVAILABLE`, both retryable), fail the next N requests, reject (HTTP 400 / gRPC
//! `INVALID_ARGUMENT`, not retryable), or sleep before answering.
//!
//! Dropping the receiver stops the server (bounded: a hard stop, not a graceful drain), so declare the
//! receiver *before* the tracewire guard: locals drop in reverse order and the guard then flushes to a
//! live receiver.

#![allow(dead_code, unused_imports)] // each test binary uses a different part

pub mod faults;
pub mod tls;

use std::fmt;
use std::io::Read as _;
use std::net::{SocketAddr, TcpListener as StdTcpListener};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State as AxumState};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use prost::Message as _;
use tonic::codec::CompressionEncoding;

pub use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
pub use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, InstrumentationScope, KeyValue as ProtoKeyValue, any_value,
};
pub use opentelemetry_proto::tonic::resource::v1::Resource;
pub use opentelemetry_proto::tonic::trace::v1::span::{
    Event as ProtoEvent, Link as ProtoLink, SpanKind as ProtoSpanKind,
};
pub use opentelemetry_proto::tonic::trace::v1::status::StatusCode as ProtoStatusCode;
pub use opentelemetry_proto::tonic::trace::v1::{Span as ProtoSpan, Status as ProtoStatus};

/// The OTLP/HTTP path for traces.
pub const TRACES_PATH: &str = "/v1/traces";

/// Upper bound for starting or stopping a receiver.
const LIFECYCLE_TIMEOUT: Duration = Duration::from_secs(5);

/// Largest request either server accepts (the defaults, 4 MiB for tonic and 2 MiB for axum, are
/// smaller than a burst test can send).
const MAX_MESSAGE_BYTES: usize = 64 * 1024 * 1024;

// ---------------------------------------------------------------------------------------------------
// Serialising tests

static SERIAL: Mutex<()> = Mutex::new(());

/// Serialises the tests of one binary: tracewire's initialisation is global.
///
/// Poisoning is ignored, so one failed test does not fail every later one.
pub fn serial() -> MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

// ---------------------------------------------------------------------------------------------------
// Ports where nothing listens

/// A port on 127.0.0.1 where nothing listens (an ephemeral port bound, then released).
///
/// Another process could take it in between; on a test machine that is rare enough.
pub fn unused_port() -> u16 {
    let listener = StdTcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    let port = listener.local_addr().expect("local address").port();
    drop(listener);
    port
}

/// `http://127.0.0.1:PORT` for a port where nothing listens: a collector that is down.
pub fn dead_endpoint() -> String {
    format!("http://127.0.0.1:{}", unused_port())
}

// ---------------------------------------------------------------------------------------------------
// What is recorded

/// The transport a receiver serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// OTLP/gRPC: `opentelemetry.proto.collector.trace.v1.TraceService/Export` over HTTP/2.
    Grpc,
    /// OTLP/HTTP with protobuf bodies: `POST /v1/traces`.
    Http,
}

/// How the receiver answers. Switch it at run time with [`Receiver::set_behaviour`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Behaviour {
    /// Accept and record every request.
    Ok,
    /// Answer every request with HTTP 503 / gRPC `UNAVAILABLE` (retryable); nothing is recorded.
    Fail,
    /// Answer every request with HTTP 400 / gRPC `INVALID_ARGUMENT` (not retryable); nothing is
    /// recorded.
    Reject,
    /// Sleep this long, then accept and record the request (if the client is still there).
    Slow(Duration),
}

/// One request the receiver accepted.
#[derive(Clone, Debug)]
pub struct Recorded {
    /// The transport it came over.
    pub transport: Transport,
    /// The decoded request.
    pub request: ExportTraceServiceRequest,
    /// The HTTP headers, or the gRPC metadata (ASCII entries), names in lower case.
    pub headers: Vec<(String, String)>,
    /// The protobuf body, uncompressed: as received over HTTP; over gRPC, the message as tonic
    /// decoded it, encoded again (the same bytes for every field tracewire sends).
    pub body: Vec<u8>,
}

impl Recorded {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Whether the body came compressed with gzip (`content-encoding` for HTTP, `grpc-encoding` for
    /// gRPC).
    pub fn gzipped(&self) -> bool {
        let name = match self.transport {
            Transport::Grpc => "grpc-encoding",
            Transport::Http => "content-encoding",
        };
        self.header(name)
            .is_some_and(|v| v.eq_ignore_ascii_case("gzip"))
    }

    /// The spans of this request, flattened.
    pub fn spans(&self) -> Vec<FlatSpan> {
        flatten(&self.request)
    }
}

/// A proto span with the resource and the scope it was sent under.
#[derive(Clone, Debug)]
pub struct FlatSpan {
    pub span: ProtoSpan,
    pub resource: Resource,
    pub scope: InstrumentationScope,
}

impl FlatSpan {
    pub fn name(&self) -> &str {
        &self.span.name
    }

    /// The span kind; panics on a value outside the enum.
    pub fn kind(&self) -> ProtoSpanKind {
        ProtoSpanKind::try_from(self.span.kind).unwrap_or_else(|_| {
            panic!("span {:?}: unknown kind {}", self.span.name, self.span.kind)
        })
    }

    /// The status code (`Unset` when the status is absent).
    pub fn status_code(&self) -> ProtoStatusCode {
        let code = self.span.status.as_ref().map_or(0, |s| s.code);
        ProtoStatusCode::try_from(code)
            .unwrap_or_else(|_| panic!("span {:?}: unknown status code {code}", self.span.name))
    }

    /// The status message (empty when the status is absent).
    pub fn status_message(&self) -> &str {
        self.span.status.as_ref().map_or("", |s| s.message.as_str())
    }

    pub fn trace_id_hex(&self) -> String {
        hex(&self.span.trace_id)
    }

    pub fn span_id_hex(&self) -> String {
        hex(&self.span.span_id)
    }

    pub fn parent_span_id_hex(&self) -> String {
        hex(&self.span.parent_span_id)
    }

    /// The first event called `name`.
    pub fn event(&self, name: &str) -> Option<&ProtoEvent> {
        self.span.events.iter().find(|e| e.name == name)
    }
}

/// Flattens a request into its spans, each with its resource and scope.
pub fn flatten(request: &ExportTraceServiceRequest) -> Vec<FlatSpan> {
    let mut out = Vec::new();
    for rs in &request.resource_spans {
        let resource = rs.resource.clone().unwrap_or_default();
        for ss in &rs.scope_spans {
            let scope = ss.scope.clone().unwrap_or_default();
            for span in &ss.spans {
                out.push(FlatSpan {
                    span: span.clone(),
                    resource: resource.clone(),
                    scope: scope.clone(),
                });
            }
        }
    }
    out
}

/// The span called `name`; panics with the names present when there is none.
#[track_caller]
pub fn find<'a>(spans: &'a [FlatSpan], name: &str) -> &'a FlatSpan {
    spans.iter().find(|s| s.name() == name).unwrap_or_else(|| {
        let names: Vec<&str> = spans.iter().map(FlatSpan::name).collect();
        panic!("no span named {name:?} among {names:?}")
    })
}

/// Lower-case hex of an id.
pub fn hex(bytes: &[u8]) -> String {
    use fmt::Write as _;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

// ---------------------------------------------------------------------------------------------------
// Attribute helpers

/// Anything with OTLP attributes: spans, events, links, resources.
pub trait HasAttributes {
    fn attributes(&self) -> &[ProtoKeyValue];
}

impl HasAttributes for ProtoSpan {
    fn attributes(&self) -> &[ProtoKeyValue] {
        &self.attributes
    }
}

impl HasAttributes for FlatSpan {
    fn attributes(&self) -> &[ProtoKeyValue] {
        &self.span.attributes
    }
}

impl HasAttributes for ProtoEvent {
    fn attributes(&self) -> &[ProtoKeyValue] {
        &self.attributes
    }
}

impl HasAttributes for ProtoLink {
    fn attributes(&self) -> &[ProtoKeyValue] {
        &self.attributes
    }
}

impl HasAttributes for Resource {
    fn attributes(&self) -> &[ProtoKeyValue] {
        &self.attributes
    }
}

impl HasAttributes for [ProtoKeyValue] {
    fn attributes(&self) -> &[ProtoKeyValue] {
        self
    }
}

impl HasAttributes for Vec<ProtoKeyValue> {
    fn attributes(&self) -> &[ProtoKeyValue] {
        self
    }
}

/// The value of attribute `key`, whatever its type.
pub fn attr<'a, T: HasAttributes + ?Sized>(item: &'a T, key: &str) -> Option<&'a any_value::Value> {
    item.attributes()
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v| v.value.as_ref())
}

/// The attribute `key` if it is a string.
pub fn str_attr<'a, T: HasAttributes + ?Sized>(item: &'a T, key: &str) -> Option<&'a str> {
    match attr(item, key)? {
        any_value::Value::StringValue(s) => Some(s),
        _ => None,
    }
}

/// The attribute `key` if it is an int.
pub fn int_attr<T: HasAttributes + ?Sized>(item: &T, key: &str) -> Option<i64> {
    match attr(item, key)? {
        any_value::Value::IntValue(i) => Some(*i),
        _ => None,
    }
}

/// The attribute `key` if it is a double.
pub fn double_attr<T: HasAttributes + ?Sized>(item: &T, key: &str) -> Option<f64> {
    match attr(item, key)? {
        any_value::Value::DoubleValue(d) => Some(*d),
        _ => None,
    }
}

/// The attribute `key` if it is a bool.
pub fn bool_attr<T: HasAttributes + ?Sized>(item: &T, key: &str) -> Option<bool> {
    match attr(item, key)? {
        any_value::Value::BoolValue(b) => Some(*b),
        _ => None,
    }
}

/// The elements of the attribute `key` if it is an array.
pub fn array_attr<'a, T: HasAttributes + ?Sized>(
    item: &'a T,
    key: &str,
) -> Option<Vec<&'a any_value::Value>> {
    match attr(item, key)? {
        any_value::Value::ArrayValue(a) => {
            Some(a.values.iter().filter_map(|v| v.value.as_ref()).collect())
        }
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------------
// Shared state

#[derive(Default)]
struct Journal {
    accepted: Vec<Recorded>,
    /// Every request that reached a handler, failed or not.
    received: u64,
    /// Requests answered with an error (fail, fail-next, reject).
    failed: u64,
    behaviour: Option<Behaviour>,
    fail_next: u64,
}

struct Shared {
    state: Mutex<Journal>,
    changed: Condvar,
}

/// What a handler should do with one request.
enum Decision {
    Accept,
    Fail,
    Reject,
    SlowThenAccept(Duration),
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Journal> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Counts an arriving request and decides how to answer it.
    fn arrive(&self) -> Decision {
        let mut st = self.lock();
        st.received += 1;
        let decision = if st.fail_next > 0 {
            st.fail_next -= 1;
            Decision::Fail
        } else {
            match st.behaviour.unwrap_or(Behaviour::Ok) {
                Behaviour::Ok => Decision::Accept,
                Behaviour::Fail => Decision::Fail,
                Behaviour::Reject => Decision::Reject,
                Behaviour::Slow(d) => Decision::SlowThenAccept(d),
            }
        };
        if matches!(decision, Decision::Fail | Decision::Reject) {
            st.failed += 1;
        }
        drop(st);
        self.changed.notify_all();
        decision
    }

    fn record(&self, rec: Recorded) {
        self.lock().accepted.push(rec);
        self.changed.notify_all();
    }

    /// Waits until `done(state)` or the deadline; returns with the lock held either way.
    fn wait_until(
        &self,
        timeout: Duration,
        done: impl FnMut(&Journal) -> bool,
    ) -> MutexGuard<'_, Journal> {
        wait_on(self.lock(), &self.changed, timeout, done)
    }
}

/// Waits on `changed` until `done(state)` or `timeout` has passed; returns with the lock held either
/// way (a poisoned lock is taken over: a test that panicked has already failed).
pub fn wait_on<'a, T>(
    mut guard: MutexGuard<'a, T>,
    changed: &Condvar,
    timeout: Duration,
    mut done: impl FnMut(&T) -> bool,
) -> MutexGuard<'a, T> {
    let deadline = Instant::now() + timeout;
    // Bounded: each turn finishes or waits for the remaining time, which shrinks.
    while !done(&guard) {
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        guard = match changed.wait_timeout(guard, deadline - now) {
            Ok((g, _)) => g,
            Err(p) => p.into_inner().0,
        };
    }
    guard
}

fn span_count(st: &Journal) -> usize {
    st.accepted
        .iter()
        .map(|r| {
            r.request
                .resource_spans
                .iter()
                .flat_map(|rs| &rs.scope_spans)
                .map(|ss| ss.spans.len())
                .sum::<usize>()
        })
        .sum()
}

// ---------------------------------------------------------------------------------------------------
// The receiver

/// A running OTLP trace receiver. Dropping it stops the server.
pub struct Receiver {
    transport: Transport,
    addr: SocketAddr,
    /// Serves over TLS: the endpoints are `https://`.
    tls: bool,
    shared: Arc<Shared>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    stopped: std::sync::mpsc::Receiver<()>,
    thread: Option<JoinHandle<()>>,
}

impl fmt::Debug for Receiver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver")
            .field("transport", &self.transport)
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Receiver {
    /// Starts an OTLP/gRPC receiver (accepts gzip).
    pub fn grpc() -> Receiver {
        Receiver::start(Transport::Grpc)
    }

    /// Starts an OTLP/HTTP protobuf receiver (accepts gzip).
    pub fn http() -> Receiver {
        Receiver::start(Transport::Http)
    }

    /// Starts a receiver for `transport` on an ephemeral port of 127.0.0.1.
    pub fn start(transport: Transport) -> Receiver {
        Receiver::start_with(transport, None)
    }

    /// Starts a receiver for `transport` that serves over TLS (rustls, ring) with `tls`; its
    /// endpoints are `https://127.0.0.1:PORT`.
    pub fn start_tls(transport: Transport, tls: tls::ServerTls) -> Receiver {
        Receiver::start_with(transport, Some(tls))
    }

    fn start_with(transport: Transport, server_tls: Option<tls::ServerTls>) -> Receiver {
        let is_tls = server_tls.is_some();
        let listener = StdTcpListener::bind("127.0.0.1:0").expect("bind the receiver");
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let addr = listener.local_addr().expect("receiver address");
        let shared = Arc::new(Shared {
            state: Mutex::new(Journal::default()),
            changed: Condvar::new(),
        });
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<(), String>>();
        let (stopped_tx, stopped_rx) = std::sync::mpsc::channel::<()>();
        let server_shared = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name(format!("otlp-receiver-{transport:?}-{}", addr.port()))
            .spawn(move || {
                run_server(
                    transport,
                    listener,
                    server_shared,
                    stop_rx,
                    ready_tx,
                    server_tls,
                );
                let _ = stopped_tx.send(());
            })
            .expect("spawn the receiver thread");
        match ready_rx.recv_timeout(LIFECYCLE_TIMEOUT) {
            Ok(Ok(())) => {}
            Ok(Err(e)) => panic!("receiver failed to start: {e}"),
            Err(e) => panic!("receiver did not start within {LIFECYCLE_TIMEOUT:?}: {e}"),
        }
        Receiver {
            transport,
            addr,
            tls: is_tls,
            shared,
            stop: Some(stop_tx),
            stopped: stopped_rx,
            thread: Some(thread),
        }
    }

    pub fn transport(&self) -> Transport {
        self.transport
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    fn scheme(&self) -> &'static str {
        if self.tls { "https" } else { "http" }
    }

    /// `http://127.0.0.1:PORT` (`https://` for a TLS receiver): the base endpoint (for HTTP the SDK
    /// appends `/v1/traces`).
    pub fn endpoint(&self) -> String {
        format!("{}://{}", self.scheme(), self.addr)
    }

    /// `http://127.0.0.1:PORT/v1/traces` (`https://` for TLS): the full traces URL of the HTTP
    /// receiver.
    pub fn traces_url(&self) -> String {
        format!("{}://{}{TRACES_PATH}", self.scheme(), self.addr)
    }

    /// Changes how the receiver answers from now on.
    pub fn set_behaviour(&self, behaviour: Behaviour) {
        self.shared.lock().behaviour = Some(behaviour);
    }

    /// Fails (503 / `UNAVAILABLE`) the next `n` requests, then goes back to the current behaviour.
    pub fn fail_next(&self, n: u64) {
        self.shared.lock().fail_next = n;
    }

    /// Requests received so far, failed ones included.
    pub fn requests_received(&self) -> u64 {
        self.shared.lock().received
    }

    /// Requests answered with an error so far.
    pub fn requests_failed(&self) -> u64 {
        self.shared.lock().failed
    }

    /// The accepted requests so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.lock().accepted.clone()
    }

    /// The spans of the accepted requests so far, flattened.
    pub fn spans(&self) -> Vec<FlatSpan> {
        self.shared
            .lock()
            .accepted
            .iter()
            .flat_map(Recorded::spans)
            .collect()
    }

    /// Number of spans accepted so far.
    pub fn span_count(&self) -> usize {
        span_count(&self.shared.lock())
    }

    /// Forgets what was recorded and the request counts (the behaviour stays).
    pub fn clear(&self) {
        let mut st = self.shared.lock();
        st.accepted.clear();
        st.received = 0;
        st.failed = 0;
    }

    /// Waits until at least `n` spans were accepted or `timeout` passed, then returns all the spans
    /// accepted so far (possibly fewer than `n`: assert on the result).
    pub fn wait_for_spans(&self, n: usize, timeout: Duration) -> Vec<FlatSpan> {
        let st = self.shared.wait_until(timeout, |st| span_count(st) >= n);
        st.accepted.iter().flat_map(Recorded::spans).collect()
    }

    /// Waits until at least `n` requests were accepted or `timeout` passed, then returns them.
    pub fn wait_for_requests(&self, n: usize, timeout: Duration) -> Vec<Recorded> {
        let st = self.shared.wait_until(timeout, |st| st.accepted.len() >= n);
        st.accepted.clone()
    }

    /// Waits until at least `n` requests arrived (failed ones included) or `timeout` passed; returns
    /// the count.
    pub fn wait_for_received(&self, n: u64, timeout: Duration) -> u64 {
        self.shared
            .wait_until(timeout, |st| st.received >= n)
            .received
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        // Bounded: join only when the thread said it finished; otherwise leave it detached.
        if self.stopped.recv_timeout(LIFECYCLE_TIMEOUT).is_ok() {
            if let Some(thread) = self.thread.take() {
                let _ = thread.join();
            }
        } else if !std::thread::panicking() {
            eprintln!("support::Receiver: server thread did not stop within {LIFECYCLE_TIMEOUT:?}");
        }
    }
}

/// Runs in the receiver's own thread: builds a runtime, serves until `stop`, then shuts the runtime
/// down with a deadline (connections the clients keep alive are cut, not drained).
fn run_server(
    transport: Transport,
    listener: StdTcpListener,
    shared: Arc<Shared>,
    stop: tokio::sync::oneshot::Receiver<()>,
    ready: std::sync::mpsc::Sender<Result<(), String>>,
    server_tls: Option<tls::ServerTls>,
) {
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("otlp-receiver-worker")
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            let _ = ready.send(Err(format!("runtime: {e}")));
            return;
        }
    };
    let served = rt.block_on(async move {
        let listener = match tokio::net::TcpListener::from_std(listener) {
            Ok(l) => l,
            Err(e) => {
                let _ = ready.send(Err(format!("listener: {e}")));
                return Ok(());
            }
        };
        let https = match (&server_tls, transport) {
            (Some(server_tls), Transport::Http) => match tls::server_config(server_tls) {
                Ok(config) => Some(config),
                Err(e) => {
                    let _ = ready.send(Err(format!("TLS: {e}")));
                    return Ok(());
                }
            },
            _ => None,
        };
        let mut builder = tonic::transport::Server::builder();
        if let (Some(server_tls), Transport::Grpc) = (&server_tls, transport) {
            builder = match builder.tls_config(tls::grpc_config(server_tls)) {
                Ok(builder) => builder,
                Err(e) => {
                    let _ = ready.send(Err(format!("TLS: {e}")));
                    return Ok(());
                }
            };
        }
        let _ = ready.send(Ok(()));
        match transport {
            Transport::Grpc => {
                let service = TraceServiceServer::new(GrpcReceiver { shared })
                    .accept_compressed(CompressionEncoding::Gzip)
                    .max_decoding_message_size(MAX_MESSAGE_BYTES);
                // TCP_NODELAY, as a real collector (grpc-go) sets it: with Nagle on, an answer written
                // after another waits for the client's delayed ACK (40 ms).
                let incoming =
                    tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
                let server = builder.add_service(service).serve_with_incoming(incoming);
                tokio::select! {
                    r = server => r.map_err(|e| e.to_string()),
                    _ = stop => Ok(()),
                }
            }
            Transport::Http => {
                let app = axum::Router::new()
                    .route(TRACES_PATH, axum::routing::post(http_export))
                    .layer(DefaultBodyLimit::max(MAX_MESSAGE_BYTES))
                    .with_state(shared);
                if let Some(config) = https {
                    return tls::serve_https(listener, app, config, stop).await;
                }
                let server = axum::serve(listener, app).into_future();
                tokio::select! {
                    r = server => r.map_err(|e| e.to_string()),
                    _ = stop => Ok(()),
                }
            }
        }
    });
    if let Err(e) = served {
        eprintln!("support::Receiver ({transport:?}): server error: {e}");
    }
    rt.shutdown_timeout(Duration::from_secs(1));
}

// ---------------------------------------------------------------------------------------------------
// gRPC

struct GrpcReceiver {
    shared: Arc<Shared>,
}

#[tonic::async_trait]
impl TraceService for GrpcReceiver {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        match self.shared.arrive() {
            Decision::Accept => {}
            Decision::Fail => {
                return Err(tonic::Status::unavailable(
                    "support::Receiver: failing on purpose",
                ));
            }
            Decision::Reject => {
                return Err(tonic::Status::invalid_argument(
                    "support::Receiver: rejecting on purpose",
                ));
            }
            Decision::SlowThenAccept(d) => tokio::time::sleep(d).await,
        }
        let headers = grpc_header_pairs(request.metadata());
        let request = request.into_inner();
        let body = request.encode_to_vec();
        self.shared.record(Recorded {
            transport: Transport::Grpc,
            request,
            headers,
            body,
        });
        Ok(tonic::Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

// ---------------------------------------------------------------------------------------------------
// HTTP

const PROTOBUF: &str = "application/x-protobuf";

/// Decodes an OTLP/HTTP protobuf body (`content-encoding: gzip` or identity): the request and the
/// uncompressed bytes, or the status and message that refuse it (415 for a wrong content type or
/// encoding, 400 for a body that does not decode).
fn decode_http_body(
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(ExportTraceServiceRequest, Vec<u8>), (StatusCode, String)> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !content_type.starts_with(PROTOBUF) {
        return Err((
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("expected content-type {PROTOBUF}, got {content_type:?}"),
        ));
    }
    let encoding = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("identity")
        .to_ascii_lowercase();
    let raw: Vec<u8> = match encoding.as_str() {
        "identity" | "" => body.to_vec(),
        "gzip" => {
            let mut out = Vec::new();
            if let Err(e) = flate2::read::GzDecoder::new(body).read_to_end(&mut out) {
                return Err((StatusCode::BAD_REQUEST, format!("bad gzip body: {e}")));
            }
            out
        }
        other => {
            return Err((
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!("unsupported content-encoding {other:?}"),
            ));
        }
    };
    match ExportTraceServiceRequest::decode(&raw[..]) {
        Ok(request) => Ok((request, raw)),
        Err(e) => Err((StatusCode::BAD_REQUEST, format!("bad protobuf body: {e}"))),
    }
}

/// The HTTP headers as `(lower-case name, value)` pairs.
fn http_header_pairs(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_ascii_lowercase(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect()
}

/// The gRPC metadata (its ASCII entries) as `(lower-case name, value)` pairs.
fn grpc_header_pairs(metadata: &tonic::metadata::MetadataMap) -> Vec<(String, String)> {
    http_header_pairs(&metadata.clone().into_headers())
}

async fn http_export(
    AxumState(shared): AxumState<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match shared.arrive() {
        Decision::Accept => {}
        Decision::Fail => {
            return (StatusCode::SERVICE_UNAVAILABLE, "failing on purpose").into_response();
        }
        Decision::Reject => {
            return (StatusCode::BAD_REQUEST, "rejecting on purpose").into_response();
        }
        Decision::SlowThenAccept(d) => tokio::time::sleep(d).await,
    }
    let (request, raw) = match decode_http_body(&headers, &body) {
        Ok(decoded) => decoded,
        Err(refused) => return refused.into_response(),
    };
    let recorded_headers = http_header_pairs(&headers);
    shared.record(Recorded {
        transport: Transport::Http,
        request,
        headers: recorded_headers,
        body: raw,
    });
    let answer = ExportTraceServiceResponse {
        partial_success: None,
    }
    .encode_to_vec();
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, HeaderValue::from_static(PROTOBUF))],
        answer,
    )
        .into_response()
}

/// A bounded poll: calls `f` until it returns `Some` or `timeout` passes (sleeping `step` between
/// tries, so at most `timeout / step + 1` tries).
pub fn poll_until<T>(
    timeout: Duration,
    step: Duration,
    mut f: impl FnMut() -> Option<T>,
) -> Option<T> {
    let tries = (timeout.as_millis() / step.as_millis().max(1)) as u64 + 1;
    for _ in 0..tries {
        if let Some(v) = f() {
            return Some(v);
        }
        std::thread::sleep(step);
    }
    f()
}

// ---------------------------------------------------------------------------------------------------
// tracewire helpers

/// The tracewire protocol that talks to a receiver of `transport`.
pub fn protocol(transport: Transport) -> tracewire::Protocol {
    match transport {
        Transport::Grpc => tracewire::Protocol::Grpc,
        Transport::Http => tracewire::Protocol::HttpProtobuf,
    }
}

/// A configuration that exports to `receiver` over its transport, with tracewire's own diagnostics
/// silenced and a short schedule delay (so spans arrive without a flush, too).
pub fn config_for(receiver: &Receiver) -> tracewire::Config {
    config_to(receiver.transport(), receiver.endpoint())
}

/// A configuration that exports to `endpoint` (a base URL) over `transport`.
pub fn config_to(transport: Transport, endpoint: String) -> tracewire::Config {
    configure(tracewire::Config::default(), transport, endpoint)
}

/// `base` (from [`tracewire::Config::from_lookup`], say) with the settings of [`config_to`].
pub fn configure(
    base: tracewire::Config,
    transport: Transport,
    endpoint: String,
) -> tracewire::Config {
    base.with_exporter_kind(tracewire::ExporterKind::Otlp)
        .with_protocol(protocol(transport))
        .with_endpoint(endpoint)
        .with_service_name("tracewire-tests")
        .with_diagnostics(tracewire::DiagLevel::None)
        .with_schedule_delay(Duration::from_millis(50))
}

/// Asserts `spans_ended == spans_exported + spans_rejected + dropped_* + queued`, printing the stats otherwise.
#[track_caller]
pub fn assert_accounted(stats: &tracewire::Stats) {
    let accounted = stats.spans_exported
        + stats.spans_rejected
        + stats.dropped_buffer_full
        + stats.dropped_export_failed
        + stats.dropped_shutdown
        + stats.queued;
    assert_eq!(
        stats.spans_ended, accounted,
        "spans_ended != exported + rejected + dropped + queued in {stats:#?}"
    );
}

/// Drops `guard` and returns how long the drop took.
pub fn timed_drop<G>(guard: G) -> Duration {
    let started = Instant::now();
    drop(guard);
    started.elapsed()
}

/// Runs `f` on its own thread and waits for it at most `timeout`: a deadlock (in a guard's drop, a
/// flush, a runtime) fails the test instead of hanging it. A panic in `f` is propagated. On timeout
/// the stuck thread is left behind (it still holds whatever it held).
#[track_caller]
pub fn bounded<T: Send + 'static>(
    what: &str,
    timeout: Duration,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    let handle = std::thread::Builder::new()
        .name(format!("bounded: {what}"))
        .spawn(move || {
            let _ = tx.send(f());
        })
        .expect("spawn a bounded thread");
    match rx.recv_timeout(timeout) {
        Ok(value) => {
            let _ = handle.join();
            value
        }
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => match handle.join() {
            Err(panic) => std::panic::resume_unwind(panic),
            Ok(()) => unreachable!("the thread sends before it ends"),
        },
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
            panic!("{what}: did not finish within {timeout:?} (deadlock or unbounded wait)")
        }
    }
}
