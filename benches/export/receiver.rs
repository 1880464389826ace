//! The bench's OTLP trace receiver: gRPC (tonic's `TraceServiceServer`) or HTTP/protobuf (hyper,
//! HTTP/1.1 and h2 on the same port), on 127.0.0.1, in the process of the library under test.
//!
//! Every request is decoded with opentelemetry-proto's prost types (gzip bodies inflated first), its
//! spans counted, and only then answered: when an exporter has its answer, the spans are counted.
//! Nothing else is kept, so the receiver's memory stays flat however long the run.
//!
//! The servers run until the process exits: a bench cell's child exits after its result line (and
//! the parent kills one that overruns its deadline); the serve mode exits after its run time.

use std::io::Read as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use prost::Message as _;
use tonic::codec::CompressionEncoding;

/// The largest request either server takes (tonic's default of 4 MiB is smaller than a large batch).
const MAX_MESSAGE_BYTES: usize = 64 * 1024 * 1024;
/// The OTLP/HTTP path for traces.
pub const TRACES_PATH: &str = "/v1/traces";
const PROTOBUF: &str = "application/x-protobuf";

/// What the receiver has seen; read at any time.
#[derive(Default)]
pub struct Counts {
    /// Spans in decoded requests.
    pub spans: AtomicU64,
    /// Requests decoded and answered with success.
    pub requests: AtomicU64,
    /// Requests refused: undecodable body, wrong content type or path.
    pub bad_requests: AtomicU64,
}

impl Counts {
    pub fn spans(&self) -> u64 {
        self.spans.load(Ordering::Relaxed)
    }

    fn accept(&self, request: &ExportTraceServiceRequest) {
        let spans: usize = request
            .resource_spans
            .iter()
            .flat_map(|rs| &rs.scope_spans)
            .map(|ss| ss.spans.len())
            .sum();
        self.spans.fetch_add(spans as u64, Ordering::Relaxed);
        self.requests.fetch_add(1, Ordering::Relaxed);
    }
}

/// The transport served.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    Grpc,
    Http,
}

/// A running receiver. It serves until the process exits (each bench cell is a process of its own).
pub struct Receiver {
    pub addr: SocketAddr,
    pub counts: Arc<Counts>,
}

impl Receiver {
    /// Starts a receiver on `port` of 127.0.0.1 (0: an ephemeral one), in a thread of its own with
    /// a tokio runtime of two workers (the machine's cores), and returns once it listens.
    pub fn start(transport: Transport, port: u16) -> Result<Receiver, String> {
        let listener = std::net::TcpListener::bind(("127.0.0.1", port))
            .map_err(|e| format!("bind 127.0.0.1:{port}: {e}"))?;
        listener
            .set_nonblocking(true)
            .map_err(|e| format!("non-blocking: {e}"))?;
        let addr = listener.local_addr().map_err(|e| format!("address: {e}"))?;
        let counts = Arc::new(Counts::default());
        let served = Arc::clone(&counts);
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<(), String>>();
        std::thread::Builder::new()
            .name("otlp-receiver".into())
            .spawn(move || serve(transport, listener, served, ready_tx))
            .map_err(|e| format!("spawn: {e}"))?;
        match ready_rx.recv_timeout(std::time::Duration::from_secs(10)) {
            Ok(Ok(())) => Ok(Receiver { addr, counts }),
            Ok(Err(e)) => Err(e),
            Err(e) => Err(format!("the receiver did not start: {e}")),
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }
}

fn serve(
    transport: Transport,
    listener: std::net::TcpListener,
    counts: Arc<Counts>,
    ready: std::sync::mpsc::Sender<Result<(), String>>,
) {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("otlp-receiver-worker")
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            let _ = ready.send(Err(format!("receiver runtime: {e}")));
            return;
        }
    };
    let outcome = runtime.block_on(async move {
        let listener = tokio::net::TcpListener::from_std(listener).map_err(|e| e.to_string())?;
        let _ = ready.send(Ok(()));
        match transport {
            Transport::Grpc => {
                let service = TraceServiceServer::new(GrpcReceiver { counts })
                    .accept_compressed(CompressionEncoding::Gzip)
                    .max_decoding_message_size(MAX_MESSAGE_BYTES);
                // Flow-control windows that grow with the measured bandwidth-delay product, as
                // grpc-go's (the OpenTelemetry Collector's) do; h2's fixed 64 KiB default would make
                // every request of a few hundred KiB wait for window updates, whoever sends it.
                // TCP_NODELAY as grpc-go (and tonic's own `serve`) set it: an incoming stream made
                // here does not get the builder's setting, and with Nagle on, an answer written
                // after another waited for the client's delayed ACK (40 ms at every shutdown).
                let incoming =
                    tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
                tonic::transport::Server::builder()
                    .initial_stream_window_size(4 << 20)
                    .initial_connection_window_size(16 << 20)
                    .add_service(service)
                    .serve_with_incoming(incoming)
                    .await
                    .map_err(|e| e.to_string())
            }
            Transport::Http => serve_http(listener, counts).await,
        }
    });
    if let Err(e) = outcome {
        eprintln!("export bench: the {transport:?} receiver stopped: {e}");
    }
}

struct GrpcReceiver {
    counts: Arc<Counts>,
}

#[tonic::async_trait]
impl TraceService for GrpcReceiver {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        self.counts.accept(request.get_ref());
        Ok(tonic::Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

/// Accepts connections until the process exits; each is served as HTTP/1.1 or h2 (prior
/// knowledge), whichever the client speaks.
async fn serve_http(listener: tokio::net::TcpListener, counts: Arc<Counts>) -> Result<(), String> {
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of descriptors, say: wait a little instead of spinning.
                eprintln!("export bench: accept: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let counts = Arc::clone(&counts);
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                let counts = Arc::clone(&counts);
                async move { Ok::<_, std::convert::Infallible>(http_export(request, &counts).await) }
            });
            // A client closing its connection ends this; errors are the client's business.
            let _ = auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn http_export(request: Request<Incoming>, counts: &Counts) -> Response<Full<Bytes>> {
    let refuse = |status: StatusCode, why: String| {
        counts.bad_requests.fetch_add(1, Ordering::Relaxed);
        let mut response = Response::new(Full::new(Bytes::from(why)));
        *response.status_mut() = status;
        response
    };
    if request.method() != hyper::Method::POST || request.uri().path() != TRACES_PATH {
        return refuse(
            StatusCode::NOT_FOUND,
            format!("no route for {}", request.uri()),
        );
    }
    let header = |name: hyper::header::HeaderName| {
        request
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase()
    };
    let content_type = header(hyper::header::CONTENT_TYPE);
    if !content_type.starts_with(PROTOBUF) {
        let why = format!("expected {PROTOBUF}, got {content_type:?}");
        return refuse(StatusCode::UNSUPPORTED_MEDIA_TYPE, why);
    }
    let encoding = header(hyper::header::CONTENT_ENCODING);
    let body = match Limited::new(request.into_body(), MAX_MESSAGE_BYTES)
        .collect()
        .await
    {
        Ok(collected) => collected.to_bytes(),
        Err(e) => return refuse(StatusCode::BAD_REQUEST, format!("body: {e}")),
    };
    let decoded = match encoding.as_str() {
        "" | "identity" => ExportTraceServiceRequest::decode(body),
        "gzip" => {
            let mut raw = Vec::new();
            if let Err(e) = flate2::read::GzDecoder::new(&body[..]).read_to_end(&mut raw) {
                return refuse(StatusCode::BAD_REQUEST, format!("gzip: {e}"));
            }
            ExportTraceServiceRequest::decode(&raw[..])
        }
        other => {
            let why = format!("content-encoding {other:?}");
            return refuse(StatusCode::UNSUPPORTED_MEDIA_TYPE, why);
        }
    };
    match decoded {
        Ok(request) => counts.accept(&request),
        Err(e) => return refuse(StatusCode::BAD_REQUEST, format!("protobuf: {e}")),
    }
    let answer = ExportTraceServiceResponse {
        partial_success: None,
    }
    .encode_to_vec();
    let mut response = Response::new(Full::new(Bytes::from(answer)));
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static(PROTOBUF),
    );
    response
}
