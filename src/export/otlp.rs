//! Building the OTLP exporters of `opentelemetry-otlp` from resolved settings.
//!
//! # Why headers go through an interceptor
//!
//! `opentelemetry-otlp` reads `OTEL_EXPORTER_OTLP_HEADERS` itself and lets it override headers set
//! in code. tracewire has already merged both layers (code wins), so it sets the merged headers on
//! each request last, replacing whatever the environment added under the same name.

use crate::config::{Compression, OtlpSettings, Protocol};
use crate::error::InitError;
use crate::export::DynExporter;

/// Builds the exporter; must run inside a tokio runtime (tonic's channel spawns a task).
pub(crate) fn build(settings: &OtlpSettings) -> Result<Box<dyn DynExporter>, InitError> {
    match settings.protocol {
        Protocol::Grpc => grpc(settings),
        Protocol::HttpProtobuf => http(settings),
    }
}

#[cfg(feature = "otlp-grpc")]
fn grpc(settings: &OtlpSettings) -> Result<Box<dyn DynExporter>, InitError> {
    use opentelemetry_otlp::{WithExportConfig, WithTonicConfig};
    use tonic::metadata::{KeyAndValueRef, MetadataKey, MetadataMap, MetadataValue};

    let failed = |reason: String| InitError::Exporter { exporter: "OTLP/gRPC", reason };
    let mut metadata = MetadataMap::new();
    for (name, value) in &settings.headers {
        let key = MetadataKey::from_bytes(name.as_bytes())
            .map_err(|e| failed(format!("header name {name:?}: {e}")))?;
        let value = MetadataValue::try_from(value.as_str())
            .map_err(|e| failed(format!("header {name:?} value {value:?}: {e}")))?;
        metadata.insert(key, value);
    }
    let interceptor = move |mut request: tonic::Request<()>| {
        for entry in metadata.iter() {
            if let KeyAndValueRef::Ascii(key, value) = entry {
                request.metadata_mut().insert(key.clone(), value.clone());
            }
        }
        Ok(request)
    };
    let mut builder = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .with_endpoint(settings.endpoint.clone())
        .with_timeout(settings.timeout)
        .with_interceptor(interceptor);
    if settings.compression == Compression::Gzip {
        builder = builder.with_compression(opentelemetry_otlp::Compression::Gzip);
    }
    let exporter = builder.build().map_err(|e| failed(format!("endpoint {:?}: {e}", settings.endpoint)))?;
    Ok(Box::new(exporter))
}

#[cfg(not(feature = "otlp-grpc"))]
fn grpc(_settings: &OtlpSettings) -> Result<Box<dyn DynExporter>, InitError> {
    Err(InitError::FeatureDisabled { what: "OTLP over gRPC".into(), feature: "otlp-grpc" })
}

#[cfg(feature = "otlp-http")]
fn http(settings: &OtlpSettings) -> Result<Box<dyn DynExporter>, InitError> {
    use opentelemetry_otlp::{WithExportConfig, WithHttpConfig};

    let failed = |reason: String| InitError::Exporter { exporter: "OTLP/HTTP", reason };
    let mut headers = http::HeaderMap::new();
    for (name, value) in &settings.headers {
        let name = http::HeaderName::from_bytes(name.as_bytes())
            .map_err(|e| failed(format!("header name {name:?}: {e}")))?;
        let value = http::HeaderValue::from_str(value)
            .map_err(|e| failed(format!("header {name:?} value {value:?}: {e}")))?;
        headers.insert(name, value);
    }
    let client = reqwest::Client::builder()
        .timeout(settings.timeout)
        .build()
        .map_err(|e| failed(format!("HTTP client: {e}")))?;
    let mut builder = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
        .with_endpoint(settings.endpoint.clone())
        .with_timeout(settings.timeout)
        .with_http_client(HeadersLast { client, headers });
    if settings.compression == Compression::Gzip {
        builder = builder.with_compression(opentelemetry_otlp::Compression::Gzip);
    }
    let exporter = builder.build().map_err(|e| failed(format!("endpoint {:?}: {e}", settings.endpoint)))?;
    Ok(Box::new(exporter))
}

#[cfg(not(feature = "otlp-http"))]
fn http(_settings: &OtlpSettings) -> Result<Box<dyn DynExporter>, InitError> {
    Err(InitError::FeatureDisabled { what: "OTLP over HTTP".into(), feature: "otlp-http" })
}

/// An HTTP client that sets tracewire's merged headers on every request, after the exporter's own.
#[cfg(feature = "otlp-http")]
#[derive(Debug)]
struct HeadersLast {
    client: reqwest::Client,
    headers: http::HeaderMap,
}

#[cfg(feature = "otlp-http")]
#[async_trait::async_trait]
impl opentelemetry_http::HttpClient for HeadersLast {
    async fn send_bytes(
        &self,
        mut request: http::Request<bytes::Bytes>,
    ) -> Result<http::Response<bytes::Bytes>, opentelemetry_http::HttpError> {
        for (name, value) in &self.headers {
            request.headers_mut().insert(name.clone(), value.clone());
        }
        self.client.send_bytes(request).await
    }
}
