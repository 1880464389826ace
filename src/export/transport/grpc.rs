//! OTLP/gRPC with tonic: the request bytes go out as encoded, the response is decoded with prost.

use std::time::Duration;

use bytes::{BufMut, Bytes};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use tonic::codec::{Codec, CompressionEncoding, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::metadata::{MetadataKey, MetadataMap, MetadataValue};
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Status};
use tonic_types::StatusExt;

use super::{Outcome, Tls, error_chain, redact_in};
use crate::error::InitError;
use crate::export::settings::{Compression, OtlpSettings};

const PATH: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";
/// HTTP/2 pings on an open connection this often, so that a collector that stopped answering (a
/// half-open connection) is noticed without waiting for the next request's timeout.
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(10);
/// How long a ping may go unanswered before the connection is dropped.
const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(5);
/// HTTP/2 flow-control windows: h2's default (64 KiB) makes a request of a few hundred KiB wait a
/// round trip for every 64 KiB; these let several requests in flight go out at once.
const STREAM_WINDOW: u32 = 4 << 20;
const CONNECTION_WINDOW: u32 = 16 << 20;

/// One gRPC destination: a lazily connecting channel (cheap to clone) and the request metadata.
#[derive(Debug, Clone)]
pub(crate) struct GrpcTransport {
    channel: Channel,
    metadata: MetadataMap,
    gzip: bool,
    timeout: Duration,
    endpoint: String,
}

impl GrpcTransport {
    pub(crate) fn new(settings: &OtlpSettings, tls: Tls) -> Result<GrpcTransport, InitError> {
        let failed = |reason: String| InitError::Exporter {
            exporter: "OTLP/gRPC",
            reason: redact_in(reason, &settings.endpoint),
        };
        let mut metadata = MetadataMap::new();
        for (name, value) in &settings.headers {
            let key = MetadataKey::from_bytes(name.as_bytes())
                .map_err(|e| failed(format!("header name {name:?}: {e}")))?;
            // Never the value in the message: it is often a secret.
            let value = MetadataValue::try_from(value.as_str())
                .map_err(|e| failed(format!("header {name:?}: invalid value: {e}")))?;
            metadata.insert(key, value);
        }
        let endpoint = Endpoint::from_shared(settings.endpoint.clone())
            .map_err(|e| failed(format!("endpoint {:?}: {e}", settings.endpoint)))?
            .connect_timeout(settings.timeout)
            .timeout(settings.timeout)
            .tcp_nodelay(true)
            .initial_stream_window_size(STREAM_WINDOW)
            .initial_connection_window_size(CONNECTION_WINDOW)
            .http2_keep_alive_interval(KEEPALIVE_INTERVAL)
            .keep_alive_timeout(KEEPALIVE_TIMEOUT)
            .keep_alive_while_idle(true);
        #[cfg(feature = "tls")]
        let endpoint = match tls {
            Some(tls) => endpoint
                .tls_config(tls.tonic)
                .map_err(|e| failed(format!("TLS: {}", error_chain(&e))))?,
            None => endpoint,
        };
        #[cfg(not(feature = "tls"))]
        let _ = tls;
        Ok(GrpcTransport {
            channel: endpoint.connect_lazy(),
            metadata,
            gzip: settings.compression == Compression::Gzip,
            timeout: settings.timeout,
            endpoint: settings.endpoint.clone(),
        })
    }

    pub(crate) async fn send(&self, body: Bytes) -> Outcome {
        let mut grpc = tonic::client::Grpc::new(self.channel.clone());
        if self.gzip {
            grpc = grpc.send_compressed(CompressionEncoding::Gzip);
        }
        grpc = grpc.accept_compressed(CompressionEncoding::Gzip);
        if let Err(e) = grpc.ready().await {
            return Outcome::Unreachable {
                reason: self.reason(format!("transport error: {}", error_chain(&e))),
            };
        }
        let mut request = tonic::Request::new(body);
        *request.metadata_mut() = self.metadata.clone();
        request.set_timeout(self.timeout);
        let path = http::uri::PathAndQuery::from_static(PATH);
        match grpc.unary(request, path, RawCodec).await {
            Ok(response) => super::accepted(response.get_ref()),
            Err(status) => self.classify(&status),
        }
    }

    fn reason(&self, text: String) -> String {
        redact_in(text, &self.endpoint)
    }

    /// What a non-OK status means for the worker.
    fn classify(&self, status: &Status) -> Outcome {
        let text = if status.message().is_empty() {
            format!("gRPC status {:?}", status.code())
        } else {
            format!("gRPC status {:?}: {}", status.code(), status.message())
        };
        // A status made by the client from a transport error (refused, reset, TLS) carries it as
        // its source; one sent by the collector does not.
        if let Some(source) = std::error::Error::source(status) {
            return Outcome::Unreachable {
                reason: self.reason({
                    let chain = error_chain(source);
                    if chain.contains(status.message()) {
                        format!("gRPC status {:?}: {chain}", status.code())
                    } else {
                        format!("{text}: {chain}")
                    }
                }),
            };
        }
        let reason = self.reason(text);
        let delay = status
            .get_details_retry_info()
            .and_then(|info| info.retry_delay);
        match status.code() {
            Code::Unavailable => Outcome::Retryable {
                throttled: delay.is_some(),
                delay,
                reason,
            },
            Code::ResourceExhausted if delay.is_some() => Outcome::Retryable {
                delay,
                throttled: true,
                reason,
            },
            Code::DeadlineExceeded => Outcome::Unreachable { reason },
            _ => Outcome::Failed { reason },
        }
    }
}

/// Writes the pre-encoded request as it is; decodes the response with prost.
#[derive(Debug, Clone, Copy, Default)]
struct RawCodec;

#[derive(Debug, Clone, Copy, Default)]
struct RawEncoder;

#[derive(Debug, Clone, Copy, Default)]
struct ResponseDecoder;

impl Codec for RawCodec {
    type Encode = Bytes;
    type Decode = ExportTraceServiceResponse;
    type Encoder = RawEncoder;
    type Decoder = ResponseDecoder;

    fn encoder(&mut self) -> RawEncoder {
        RawEncoder
    }

    fn decoder(&mut self) -> ResponseDecoder {
        ResponseDecoder
    }
}

impl Encoder for RawEncoder {
    type Item = Bytes;
    type Error = Status;

    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put(item);
        Ok(())
    }
}

impl Decoder for ResponseDecoder {
    type Item = ExportTraceServiceResponse;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Self::Item>, Status> {
        prost::Message::decode(src)
            .map(Some)
            .map_err(|e| Status::internal(format!("undecodable ExportTraceServiceResponse: {e}")))
    }
}
