//! tracewire's own OTLP transports: they send an already-encoded `ExportTraceServiceRequest` and
//! say what became of it, so that the worker (not the transport) decides about retries, throttling
//! and the circuit breaker.
//!
//! - [`grpc`]: tonic over HTTP/2, the request bytes written as they are by a codec of ours, gzip
//!   through tonic's compression, HTTP/2 keepalive so that a collector that stops answering is
//!   noticed, a connect timeout.
//! - [`http`]: reqwest, `POST` of `application/x-protobuf` (gzip with flate2 when configured).
//!
//! Both set the headers tracewire merged from code and the environment, and nothing else: unlike
//! opentelemetry-otlp they never read the process environment themselves.

#[cfg(feature = "otlp-grpc")]
pub(crate) mod grpc;
#[cfg(feature = "otlp-http")]
pub(crate) mod http;

use bytes::Bytes;

use crate::error::InitError;
use crate::export::settings::{OtlpSettings, Protocol};

pub(crate) use super::Outcome;

/// The TLS material for an `https://` endpoint, read once; `None` for `http://`.
#[cfg(feature = "tls")]
pub(crate) type Tls = Option<crate::export::tls::TlsMaterial>;
/// Without the `tls` feature, resolving already refused `https://` endpoints.
#[cfg(not(feature = "tls"))]
pub(crate) type Tls = Option<std::convert::Infallible>;

/// One OTLP destination.
#[derive(Debug, Clone)]
pub(crate) enum Transport {
    #[cfg(feature = "otlp-grpc")]
    Grpc(grpc::GrpcTransport),
    #[cfg(feature = "otlp-http")]
    Http(http::HttpTransport),
}

impl Transport {
    /// Builds the transport; must run inside a tokio runtime (tonic's channel spawns a task).
    pub(crate) fn build(settings: &OtlpSettings) -> Result<Transport, InitError> {
        #[cfg(feature = "tls")]
        let tls: Tls = if settings.endpoint.len() >= 8
            && settings.endpoint[..8].eq_ignore_ascii_case("https://")
        {
            Some(crate::export::tls::TlsMaterial::load(&settings.tls)?)
        } else {
            None
        };
        #[cfg(not(feature = "tls"))]
        let tls: Tls = None;
        match settings.protocol {
            #[cfg(feature = "otlp-grpc")]
            Protocol::Grpc => Ok(Transport::Grpc(grpc::GrpcTransport::new(settings, tls)?)),
            #[cfg(feature = "otlp-http")]
            Protocol::HttpProtobuf => Ok(Transport::Http(http::HttpTransport::new(settings, tls)?)),
            #[allow(unreachable_patterns)]
            protocol => {
                let _ = tls;
                let (what, feature) = match protocol {
                    Protocol::Grpc => ("OTLP over gRPC", "otlp-grpc"),
                    _ => ("OTLP over HTTP", "otlp-http"),
                };
                Err(InitError::FeatureDisabled {
                    what: what.into(),
                    feature,
                })
            }
        }
    }

    /// Sends one encoded request.
    pub(crate) async fn send(&self, body: Bytes) -> Outcome {
        match self {
            #[cfg(feature = "otlp-grpc")]
            Transport::Grpc(grpc) => grpc.send(body).await,
            #[cfg(feature = "otlp-http")]
            Transport::Http(http) => http.send(body).await,
        }
    }
}

/// The endpoint as errors and diagnostics show it: without credentials.
pub(crate) fn shown(endpoint: &str) -> std::borrow::Cow<'_, str> {
    crate::redact::redact_url(endpoint)
}

/// `text` with every copy of `endpoint` replaced by its redacted form.
pub(crate) fn redact_in(text: String, endpoint: &str) -> String {
    match shown(endpoint) {
        std::borrow::Cow::Owned(redacted) => text.replace(endpoint, &redacted),
        std::borrow::Cow::Borrowed(_) => text,
    }
}

/// An error and its causes, `outer: inner: innermost`, without repeats.
pub(crate) fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// The `rejected_spans` and `error_message` of a response body; an empty body is plain success.
pub(crate) fn accepted(
    response: &opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse,
) -> Outcome {
    let (rejected, message) = response
        .partial_success
        .as_ref()
        .map(|p| {
            (
                u64::try_from(p.rejected_spans).unwrap_or(0),
                p.error_message.clone(),
            )
        })
        .unwrap_or_default();
    Outcome::Accepted { rejected, message }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn causes_are_joined_once() {
        #[derive(Debug)]
        struct E(&'static str, Option<Box<E>>);
        impl std::fmt::Display for E {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.0)
            }
        }
        impl std::error::Error for E {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                self.1.as_deref().map(|e| e as _)
            }
        }
        let e = E(
            "client error (Connect)",
            Some(Box::new(E("bad cert", None))),
        );
        assert_eq!(error_chain(&e), "client error (Connect): bad cert");
        let e = E(
            "transport error: bad cert",
            Some(Box::new(E("bad cert", None))),
        );
        assert_eq!(error_chain(&e), "transport error: bad cert");
    }
}
