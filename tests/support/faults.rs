//! A fault-injecting OTLP trace receiver on 127.0.0.1, gRPC and HTTP/protobuf, and endpoints that
//! misbehave below the protocol: nothing listening, accept-and-close, half-open.
//!
//! A [`FaultReceiver`] answers each request with the next [`Fault`] of its script, then with its
//! default (accept, unless told otherwise). It records every request it gets, whatever it answers:
//! the arrival time (monotonic and wall clock), the decoded `ExportTraceServiceRequest`, the headers
//! or gRPC metadata, and the fault it answered with. It can be stopped and started again on the same
//! port, to play a collector that goes away and comes back.
//!
//! The servers are the same as [`Receiver`](super::Receiver)'s: tonic's `TraceServiceServer` from
//! opentelemetry-proto for gRPC (gzip accepted), an axum route decoding with prost for HTTP (gzip
//! aware, through the same decoder). gRPC statuses carry `google.rpc.RetryInfo` in their details
//! through `tonic-types`, as collectors send it.
//!
//! Every wait is bounded: the `wait_for_*` methods take a timeout, stopping a server waits at most
//! [`LIFECYCLE_TIMEOUT`], and a hanging request hangs at most [`HANG_CAP`].

use std::collections::VecDeque;
use std::net::{SocketAddr, TcpListener as StdTcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State as AxumState};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use prost::Message as _;
use tonic::codec::CompressionEncoding;
use tonic_types::{ErrorDetails, StatusExt as _};

use super::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse, FlatSpan,
    MAX_MESSAGE_BYTES, PROTOBUF, Recorded, TRACES_PATH, Transport,
};

/// Upper bound for starting or stopping a server.
pub const LIFECYCLE_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest a [`Fault::Hang`] request is held before the server lets it go.
pub const HANG_CAP: Duration = Duration::from_secs(120);

// ---------------------------------------------------------------------------------------------------
// What to answer

/// A `Retry-After` header value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetryAfter {
    /// `Retry-After: N` (delay-seconds).
    Seconds(u64),
    /// `Retry-After: <HTTP-date>`: the client must wait until then (one-second resolution).
    Date(SystemTime),
}

impl RetryAfter {
    /// The header value.
    pub fn header_value(&self) -> String {
        match self {
            RetryAfter::Seconds(s) => s.to_string(),
            RetryAfter::Date(at) => httpdate::fmt_http_date(*at),
        }
    }

    /// The earliest moment (wall clock) a client may send again, given the moment it was answered.
    pub fn not_before(&self, answered: SystemTime) -> SystemTime {
        match self {
            RetryAfter::Seconds(s) => answered + Duration::from_secs(*s),
            // What the header says, at its resolution: the client sees the same truncated date.
            RetryAfter::Date(at) => httpdate::parse_http_date(&httpdate::fmt_http_date(*at))
                .expect("an HTTP-date we formatted parses"),
        }
    }
}

/// How the receiver answers one request.
#[derive(Clone, Debug, PartialEq)]
pub enum Fault {
    /// Record the request and answer success (no `partial_success`).
    Accept,
    /// Answer success with `partial_success { rejected_spans, error_message }`.
    PartialSuccess {
        rejected_spans: i64,
        error_message: String,
    },
    /// An HTTP status, with a `Retry-After` header if given (HTTP receivers; a gRPC receiver
    /// answers `INTERNAL` saying the script is wrong).
    Http {
        status: u16,
        retry_after: Option<RetryAfter>,
    },
    /// A gRPC status, with `google.rpc.RetryInfo { retry_delay }` in its details if given (gRPC
    /// receivers; an HTTP receiver answers 500 saying the script is wrong).
    Grpc {
        code: tonic::Code,
        retry_info: Option<Duration>,
    },
    /// Take the request and never answer (the server lets it go after [`HANG_CAP`], or when it
    /// stops).
    Hang,
    /// Wait this long, then accept.
    Slow(Duration),
}

impl Fault {
    /// HTTP 503 / gRPC `UNAVAILABLE`, with `Retry-After: N` / `RetryInfo` when `hint` is given
    /// (HTTP rounds it up to whole seconds).
    pub fn unavailable(transport: Transport, hint: Option<Duration>) -> Fault {
        match transport {
            Transport::Http => Fault::Http {
                status: 503,
                retry_after: hint.map(|d| RetryAfter::Seconds(whole_seconds(d))),
            },
            Transport::Grpc => Fault::Grpc {
                code: tonic::Code::Unavailable,
                retry_info: hint,
            },
        }
    }

    /// HTTP 429 / gRPC `RESOURCE_EXHAUSTED`, with `Retry-After: N` / `RetryInfo` when `hint` is
    /// given.
    pub fn throttled(transport: Transport, hint: Option<Duration>) -> Fault {
        match transport {
            Transport::Http => Fault::Http {
                status: 429,
                retry_after: hint.map(|d| RetryAfter::Seconds(whole_seconds(d))),
            },
            Transport::Grpc => Fault::Grpc {
                code: tonic::Code::ResourceExhausted,
                retry_info: hint,
            },
        }
    }

    /// HTTP 400 / gRPC `INVALID_ARGUMENT`: a permanent refusal.
    pub fn invalid(transport: Transport) -> Fault {
        match transport {
            Transport::Http => Fault::Http {
                status: 400,
                retry_after: None,
            },
            Transport::Grpc => Fault::Grpc {
                code: tonic::Code::InvalidArgument,
                retry_info: None,
            },
        }
    }

    /// Whether the answer is a success (the request's spans are taken, some perhaps rejected).
    pub fn is_success(&self) -> bool {
        matches!(
            self,
            Fault::Accept | Fault::PartialSuccess { .. } | Fault::Slow(_)
        )
    }

    /// The delay the answer asks the client to wait, if any.
    pub fn hint(&self) -> Option<Duration> {
        match self {
            Fault::Http {
                retry_after: Some(RetryAfter::Seconds(s)),
                ..
            } => Some(Duration::from_secs(*s)),
            Fault::Grpc {
                retry_info: Some(d),
                ..
            } => Some(*d),
            _ => None,
        }
    }
}

fn whole_seconds(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

// ---------------------------------------------------------------------------------------------------
// What is recorded

/// One request the receiver got, whatever it answered.
#[derive(Clone, Debug)]
pub struct Arrival {
    /// When its handler started (monotonic).
    pub at: Instant,
    /// The same moment on the wall clock (for HTTP-date comparisons).
    pub wall: SystemTime,
    /// What the receiver answered.
    pub fault: Fault,
    /// The decoded request and its headers (an empty request if it did not decode; see `error`).
    pub recorded: Recorded,
    /// Why the body did not decode, if it did not.
    pub error: Option<String>,
}

impl Arrival {
    /// Its spans, flattened.
    pub fn spans(&self) -> Vec<FlatSpan> {
        self.recorded.spans()
    }

    /// How many spans it carried.
    pub fn span_count(&self) -> usize {
        count_spans(&self.recorded.request)
    }
}

fn count_spans(request: &ExportTraceServiceRequest) -> usize {
    request
        .resource_spans
        .iter()
        .flat_map(|rs| &rs.scope_spans)
        .map(|ss| ss.spans.len())
        .sum()
}

#[derive(Default)]
struct Script {
    queue: VecDeque<Fault>,
    default: Option<Fault>,
    arrivals: Vec<Arrival>,
}

#[derive(Default)]
struct Shared {
    script: Mutex<Script>,
    changed: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Script> {
        self.script.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The fault for the request arriving now.
    fn next_fault(&self) -> Fault {
        let mut script = self.lock();
        match script.queue.pop_front() {
            Some(fault) => fault,
            None => script.default.clone().unwrap_or(Fault::Accept),
        }
    }

    fn record(&self, arrival: Arrival) {
        self.lock().arrivals.push(arrival);
        self.changed.notify_all();
    }

    /// Waits until `done(script)` or the deadline; returns with the lock held either way.
    fn wait_until(
        &self,
        timeout: Duration,
        done: impl FnMut(&Script) -> bool,
    ) -> MutexGuard<'_, Script> {
        super::wait_on(self.lock(), &self.changed, timeout, done)
    }
}

fn accepted_spans(script: &Script) -> Vec<FlatSpan> {
    script
        .arrivals
        .iter()
        .filter(|a| a.fault.is_success() && a.error.is_none())
        .flat_map(Arrival::spans)
        .collect()
}

// ---------------------------------------------------------------------------------------------------
// The receiver

/// A scriptable OTLP receiver on a fixed port of 127.0.0.1. Dropping it stops the server.
pub struct FaultReceiver {
    transport: Transport,
    addr: SocketAddr,
    log: FaultLog,
    server: Option<Server>,
}

impl std::fmt::Debug for FaultReceiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaultReceiver")
            .field("transport", &self.transport)
            .field("addr", &self.addr)
            .field("running", &self.server.is_some())
            .finish_non_exhaustive()
    }
}

impl FaultReceiver {
    /// Starts an OTLP/gRPC fault receiver.
    pub fn grpc() -> FaultReceiver {
        FaultReceiver::start(Transport::Grpc)
    }

    /// Starts an OTLP/HTTP protobuf fault receiver.
    pub fn http() -> FaultReceiver {
        FaultReceiver::start(Transport::Http)
    }

    /// Starts a fault receiver for `transport` on an ephemeral port; it accepts everything until
    /// scripted otherwise.
    pub fn start(transport: Transport) -> FaultReceiver {
        let listener = StdTcpListener::bind("127.0.0.1:0").expect("bind the fault receiver");
        let addr = listener.local_addr().expect("receiver address");
        let shared = Arc::new(Shared::default());
        let server = Server::start(transport, listener, Arc::clone(&shared));
        FaultReceiver {
            transport,
            addr,
            log: FaultLog { shared },
            server: Some(server),
        }
    }

    pub fn transport(&self) -> Transport {
        self.transport
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `http://127.0.0.1:PORT`, the base endpoint.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `http://127.0.0.1:PORT/v1/traces`.
    pub fn traces_url(&self) -> String {
        format!("http://{}{TRACES_PATH}", self.addr)
    }

    /// A configuration exporting here, as [`config_to`](super::config_to) makes it.
    pub fn config(&self) -> tracewire::Config {
        super::config_to(self.transport, self.endpoint())
    }

    /// A handle on the script and the arrivals that other threads can hold (the receiver itself
    /// stays with the test, which stops and restarts it).
    pub fn log(&self) -> FaultLog {
        FaultLog {
            shared: Arc::clone(&self.log.shared),
        }
    }

    /// Whether the server is running.
    pub fn is_running(&self) -> bool {
        self.server.is_some()
    }

    /// Stops the server: the port is closed (connections refused) and open connections are cut.
    /// The script and the arrivals are kept.
    pub fn stop(&mut self) {
        if let Some(server) = self.server.take() {
            server.stop();
        }
    }

    /// Starts the server again on the same port (retrying the bind for up to
    /// [`LIFECYCLE_TIMEOUT`]).
    pub fn restart(&mut self) {
        self.stop();
        let deadline = Instant::now() + LIFECYCLE_TIMEOUT;
        // Bounded: at most LIFECYCLE_TIMEOUT / 20 ms tries.
        let listener = loop {
            match StdTcpListener::bind(self.addr) {
                Ok(listener) => break listener,
                Err(e) if Instant::now() < deadline => {
                    let _ = e;
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(e) => panic!("rebinding {}: {e}", self.addr),
            }
        };
        self.server = Some(Server::start(
            self.transport,
            listener,
            Arc::clone(&self.log.shared),
        ));
    }
}

/// The script and the arrivals of a [`FaultReceiver`], shareable between threads (a
/// `FaultReceiver` derefs to it).
#[derive(Clone)]
pub struct FaultLog {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for FaultLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaultLog")
            .field("arrivals", &self.arrival_count())
            .finish_non_exhaustive()
    }
}

impl FaultLog {
    /// Answers the next request (after those already scripted) with `fault`.
    pub fn push(&self, fault: Fault) {
        self.shared.lock().queue.push_back(fault);
    }

    /// Answers the next `n` requests (after those already scripted) with `fault`.
    pub fn push_n(&self, fault: Fault, n: usize) {
        let mut script = self.shared.lock();
        script.queue.extend(std::iter::repeat_n(fault, n));
    }

    /// Answers with `fault` once the scripted faults are used up.
    pub fn set_default(&self, fault: Fault) {
        self.shared.lock().default = Some(fault);
    }

    /// Every request received so far, in arrival order.
    pub fn arrivals(&self) -> Vec<Arrival> {
        self.shared.lock().arrivals.clone()
    }

    /// The number of requests received so far.
    pub fn arrival_count(&self) -> usize {
        self.shared.lock().arrivals.len()
    }

    /// The spans of the requests answered with success so far.
    pub fn accepted_spans(&self) -> Vec<FlatSpan> {
        accepted_spans(&self.shared.lock())
    }

    /// Waits until at least `n` requests arrived or `timeout` passed; returns them all.
    pub fn wait_for_arrivals(&self, n: usize, timeout: Duration) -> Vec<Arrival> {
        self.shared
            .wait_until(timeout, |s| s.arrivals.len() >= n)
            .arrivals
            .clone()
    }

    /// Waits until at least `n` spans were accepted or `timeout` passed; returns the accepted spans
    /// (possibly fewer than `n`: assert on the result).
    pub fn wait_for_accepted_spans(&self, n: usize, timeout: Duration) -> Vec<FlatSpan> {
        let script = self
            .shared
            .wait_until(timeout, |s| accepted_spans(s).len() >= n);
        accepted_spans(&script)
    }
}

impl std::ops::Deref for FaultReceiver {
    type Target = FaultLog;

    fn deref(&self) -> &FaultLog {
        &self.log
    }
}

impl Drop for FaultReceiver {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One run of the server thread.
struct Server {
    stop: tokio::sync::oneshot::Sender<()>,
    stopped: std::sync::mpsc::Receiver<()>,
    thread: JoinHandle<()>,
}

impl Server {
    fn start(transport: Transport, listener: StdTcpListener, shared: Arc<Shared>) -> Server {
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let port = listener.local_addr().map_or(0, |a| a.port());
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<(), String>>();
        let (stopped_tx, stopped_rx) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name(format!("fault-receiver-{transport:?}-{port}"))
            .spawn(move || {
                serve(transport, listener, shared, stop_rx, ready_tx);
                let _ = stopped_tx.send(());
            })
            .expect("spawn the fault receiver thread");
        match ready_rx.recv_timeout(LIFECYCLE_TIMEOUT) {
            Ok(Ok(())) => {}
            Ok(Err(e)) => panic!("fault receiver failed to start: {e}"),
            Err(e) => panic!("fault receiver did not start within {LIFECYCLE_TIMEOUT:?}: {e}"),
        }
        Server {
            stop: stop_tx,
            stopped: stopped_rx,
            thread,
        }
    }

    /// Stops and joins the thread, bounded: a thread that does not say it finished is left behind.
    fn stop(self) {
        let _ = self.stop.send(());
        if self.stopped.recv_timeout(LIFECYCLE_TIMEOUT).is_ok() {
            let _ = self.thread.join();
        } else if !std::thread::panicking() {
            eprintln!("FaultReceiver: server thread did not stop within {LIFECYCLE_TIMEOUT:?}");
        }
    }
}

/// The server thread: its own runtime, serving until `stop`; then the runtime is shut down with a
/// deadline, which cuts open connections (and hanging requests) instead of draining them.
fn serve(
    transport: Transport,
    listener: StdTcpListener,
    shared: Arc<Shared>,
    stop: tokio::sync::oneshot::Receiver<()>,
    ready: std::sync::mpsc::Sender<Result<(), String>>,
) {
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("fault-receiver-worker")
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            let _ = ready.send(Err(format!("runtime: {e}")));
            return;
        }
    };
    let served: Result<(), String> = rt.block_on(async move {
        let listener = match tokio::net::TcpListener::from_std(listener) {
            Ok(l) => l,
            Err(e) => {
                let _ = ready.send(Err(format!("listener: {e}")));
                return Ok(());
            }
        };
        let _ = ready.send(Ok(()));
        match transport {
            Transport::Grpc => {
                let service = TraceServiceServer::new(GrpcFaults { shared })
                    .accept_compressed(CompressionEncoding::Gzip)
                    .max_decoding_message_size(MAX_MESSAGE_BYTES);
                // TCP_NODELAY, as a real collector (grpc-go) sets it: with Nagle on, an answer written
                // after another waits for the client's delayed ACK (40 ms).
                let incoming =
                    tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
                let server = tonic::transport::Server::builder()
                    .add_service(service)
                    .serve_with_incoming(incoming);
                tokio::select! {
                    r = server => r.map_err(|e| e.to_string()),
                    _ = stop => Ok(()),
                }
            }
            Transport::Http => {
                let app = axum::Router::new()
                    .route(TRACES_PATH, axum::routing::post(http_faults))
                    .layer(DefaultBodyLimit::max(MAX_MESSAGE_BYTES))
                    .with_state(shared);
                let server = axum::serve(listener, app).into_future();
                tokio::select! {
                    r = server => r.map_err(|e| e.to_string()),
                    _ = stop => Ok(()),
                }
            }
        }
    });
    if let Err(e) = served {
        eprintln!("FaultReceiver ({transport:?}): server error: {e}");
    }
    rt.shutdown_timeout(Duration::from_millis(500));
}

/// Holds a request forever (up to [`HANG_CAP`]).
async fn hang() {
    tokio::time::sleep(HANG_CAP).await;
}

// ---------------------------------------------------------------------------------------------------
// gRPC

struct GrpcFaults {
    shared: Arc<Shared>,
}

#[tonic::async_trait]
impl TraceService for GrpcFaults {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let (at, wall) = (Instant::now(), SystemTime::now());
        let fault = self.shared.next_fault();
        let headers = super::grpc_header_pairs(request.metadata());
        let request = request.into_inner();
        let body = request.encode_to_vec();
        self.shared.record(Arrival {
            at,
            wall,
            fault: fault.clone(),
            recorded: Recorded {
                transport: Transport::Grpc,
                request,
                headers,
                body,
            },
            error: None,
        });
        let partial_success = match fault {
            Fault::Accept => None,
            Fault::Slow(d) => {
                tokio::time::sleep(d).await;
                None
            }
            Fault::PartialSuccess {
                rejected_spans,
                error_message,
            } => Some(ExportTracePartialSuccess {
                rejected_spans,
                error_message,
            }),
            Fault::Grpc { code, retry_info } => {
                let message = format!("FaultReceiver: {code:?} on purpose");
                return Err(match retry_info {
                    Some(delay) => tonic::Status::with_error_details(
                        code,
                        message,
                        ErrorDetails::with_retry_info(Some(delay)),
                    ),
                    None => tonic::Status::new(code, message),
                });
            }
            Fault::Hang => {
                hang().await;
                return Err(tonic::Status::deadline_exceeded("FaultReceiver: hang cap"));
            }
            Fault::Http { status, .. } => {
                return Err(tonic::Status::internal(format!(
                    "FaultReceiver: the script gave HTTP {status} to a gRPC receiver"
                )));
            }
        };
        Ok(tonic::Response::new(ExportTraceServiceResponse {
            partial_success,
        }))
    }
}

// ---------------------------------------------------------------------------------------------------
// HTTP

async fn http_faults(
    AxumState(shared): AxumState<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (at, wall) = (Instant::now(), SystemTime::now());
    let fault = shared.next_fault();
    let (request, raw, error) = match super::decode_http_body(&headers, &body) {
        Ok((request, raw)) => (request, raw, None),
        Err((status, message)) => (
            ExportTraceServiceRequest::default(),
            body.to_vec(),
            Some(format!("refused with HTTP {status}: {message}")),
        ),
    };
    shared.record(Arrival {
        at,
        wall,
        fault: fault.clone(),
        recorded: Recorded {
            transport: Transport::Http,
            request,
            headers: super::http_header_pairs(&headers),
            body: raw,
        },
        error: error.clone(),
    });
    if let Some(error) = error {
        return (StatusCode::BAD_REQUEST, error).into_response();
    }
    let partial_success = match fault {
        Fault::Accept => None,
        Fault::Slow(d) => {
            tokio::time::sleep(d).await;
            None
        }
        Fault::PartialSuccess {
            rejected_spans,
            error_message,
        } => Some(ExportTracePartialSuccess {
            rejected_spans,
            error_message,
        }),
        Fault::Http {
            status,
            retry_after,
        } => {
            let status = StatusCode::from_u16(status).expect("a valid HTTP status in the script");
            let mut response =
                (status, format!("FaultReceiver: {status} on purpose")).into_response();
            if let Some(retry_after) = retry_after {
                let value = HeaderValue::from_str(&retry_after.header_value())
                    .expect("a Retry-After value is ASCII");
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
            return response;
        }
        Fault::Hang => {
            hang().await;
            return (StatusCode::GATEWAY_TIMEOUT, "FaultReceiver: hang cap").into_response();
        }
        Fault::Grpc { code, .. } => {
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("FaultReceiver: the script gave gRPC {code:?} to an HTTP receiver"),
            )
                .into_response();
        }
    };
    let answer = ExportTraceServiceResponse { partial_success }.encode_to_vec();
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, HeaderValue::from_static(PROTOBUF))],
        answer,
    )
        .into_response()
}

// ---------------------------------------------------------------------------------------------------
// Endpoints that fail below OTLP

/// What a [`RawEndpoint`] does with the connections it accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RawMode {
    /// Accept, then close at once (a collector whose process dies on every connection).
    AcceptAndClose,
    /// Accept and hold the socket open, never reading nor writing (TCP half-open: a hung collector
    /// or a black-holing proxy).
    HalfOpen,
}

/// A raw TCP listener on 127.0.0.1 that counts the connections it accepts. Dropping it stops it
/// (and closes the held sockets).
pub struct RawEndpoint {
    addr: SocketAddr,
    mode: RawMode,
    connections: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for RawEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawEndpoint")
            .field("addr", &self.addr)
            .field("mode", &self.mode)
            .field("connections", &self.connections())
            .finish()
    }
}

/// How often the raw listener polls for connections and for its stop flag.
const RAW_POLL: Duration = Duration::from_millis(2);

impl RawEndpoint {
    /// A listener that accepts connections and closes them at once.
    pub fn accept_and_close() -> RawEndpoint {
        RawEndpoint::start(RawMode::AcceptAndClose)
    }

    /// A listener that accepts connections and holds them, never answering.
    pub fn half_open() -> RawEndpoint {
        RawEndpoint::start(RawMode::HalfOpen)
    }

    pub fn start(mode: RawMode) -> RawEndpoint {
        let listener = StdTcpListener::bind("127.0.0.1:0").expect("bind a raw endpoint");
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let addr = listener.local_addr().expect("raw endpoint address");
        let connections = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (count, stopping) = (Arc::clone(&connections), Arc::clone(&stop));
        let thread = std::thread::Builder::new()
            .name(format!("raw-endpoint-{}", addr.port()))
            .spawn(move || {
                let mut held: Vec<TcpStream> = Vec::new();
                // Bounded by the stop flag, checked every RAW_POLL.
                while !stopping.load(Ordering::Relaxed) {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            count.fetch_add(1, Ordering::Relaxed);
                            match mode {
                                RawMode::AcceptAndClose => {
                                    let _ = stream.shutdown(std::net::Shutdown::Both);
                                }
                                RawMode::HalfOpen => held.push(stream),
                            }
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                            std::thread::sleep(RAW_POLL);
                        }
                        Err(_) => std::thread::sleep(RAW_POLL),
                    }
                }
            })
            .expect("spawn the raw endpoint thread");
        RawEndpoint {
            addr,
            mode,
            connections,
            stop,
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> u64 {
        self.connections.load(Ordering::Relaxed)
    }
}

impl Drop for RawEndpoint {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

// ---------------------------------------------------------------------------------------------------
// Clients for user exporters

/// A plain reqwest client for an opentelemetry-otlp HTTP exporter built by a test. With the `tls`
/// feature, reqwest is built without a default crypto provider: ring is installed as the process
/// default first (once; this test binary's choice, not tracewire's).
pub fn http_client() -> reqwest::Client {
    #[cfg(feature = "tls")]
    {
        let _ = tokio_rustls::rustls::crypto::ring::default_provider().install_default();
    }
    reqwest::Client::new()
}
