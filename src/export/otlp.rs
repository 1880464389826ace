//! Building the OTLP exporters of `opentelemetry-otlp` from resolved settings.
//!
//! # Why headers go through an interceptor
//!
//! `opentelemetry-otlp` reads `OTEL_EXPORTER_OTLP_(TRACES_)HEADERS` from the process environment
//! itself and lets them override headers set in code. tracewire has already merged both layers (code
//! wins), so it sets the merged headers on each request last, and removes the headers the process
//! environment names that the merged set does not have (a `Config` built with
//! [`Config::from_lookup`](crate::Config::from_lookup) or [`Config::default`] does not read the
//! process environment at all).
//!
//! `opentelemetry-otlp` also reads `OTEL_EXPORTER_OTLP_(TRACES_)COMPRESSION` when tracewire does not
//! ask for gzip; its builder has no way to say "no compression", so that variable, when set in the
//! process environment, applies even to such a `Config`.

/// Lower-cased names of the headers that `opentelemetry-otlp` will copy from the process
/// environment (the traces variable replaces the generic one, as there).
fn process_env_header_names() -> Vec<String> {
    let list = std::env::var("OTEL_EXPORTER_OTLP_TRACES_HEADERS")
        .or_else(|_| std::env::var("OTEL_EXPORTER_OTLP_HEADERS"))
        .unwrap_or_default();
    list.split(',')
        .filter_map(|item| item.split_once('='))
        .map(|(name, _)| name.trim().to_ascii_lowercase())
        .filter(|name| !name.is_empty())
        .collect()
}

/// The environment's header names that the resolved settings do not carry: to remove.
fn unwanted_env_headers(settings: &OtlpSettings) -> Vec<String> {
    process_env_header_names()
        .into_iter()
        .filter(|name| {
            !settings
                .headers
                .iter()
                .any(|(kept, _)| kept.eq_ignore_ascii_case(name))
        })
        .collect()
}

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

    let failed = |reason: String| InitError::Exporter {
        exporter: "OTLP/gRPC",
        reason,
    };
    let mut metadata = MetadataMap::new();
    for (name, value) in &settings.headers {
        let key = MetadataKey::from_bytes(name.as_bytes())
            .map_err(|e| failed(format!("header name {name:?}: {e}")))?;
        let value = MetadataValue::try_from(value.as_str())
            .map_err(|e| failed(format!("header {name:?} value {value:?}: {e}")))?;
        metadata.insert(key, value);
    }
    let unwanted: Vec<MetadataKey<_>> = unwanted_env_headers(settings)
        .iter()
        .filter_map(|name| MetadataKey::from_bytes(name.as_bytes()).ok())
        .collect();
    let interceptor = move |mut request: tonic::Request<()>| {
        for key in &unwanted {
            request.metadata_mut().remove(key.clone());
        }
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
    let exporter = builder
        .build()
        .map_err(|e| failed(format!("endpoint {:?}: {e}", settings.endpoint)))?;
    Ok(Box::new(exporter))
}

#[cfg(not(feature = "otlp-grpc"))]
fn grpc(_settings: &OtlpSettings) -> Result<Box<dyn DynExporter>, InitError> {
    Err(InitError::FeatureDisabled {
        what: "OTLP over gRPC".into(),
        feature: "otlp-grpc",
    })
}

#[cfg(feature = "otlp-http")]
fn http(settings: &OtlpSettings) -> Result<Box<dyn DynExporter>, InitError> {
    use opentelemetry_otlp::{WithExportConfig, WithHttpConfig};

    let failed = |reason: String| InitError::Exporter {
        exporter: "OTLP/HTTP",
        reason,
    };
    let mut headers = http::HeaderMap::new();
    for (name, value) in &settings.headers {
        let name = http::HeaderName::from_bytes(name.as_bytes())
            .map_err(|e| failed(format!("header name {name:?}: {e}")))?;
        let value = http::HeaderValue::from_str(value)
            .map_err(|e| failed(format!("header {name:?} value {value:?}: {e}")))?;
        headers.insert(name, value);
    }
    let unwanted = unwanted_env_headers(settings)
        .iter()
        .filter_map(|name| http::HeaderName::from_bytes(name.as_bytes()).ok())
        .collect();
    let client = reqwest::Client::builder()
        .timeout(settings.timeout)
        .build()
        .map_err(|e| failed(format!("HTTP client: {e}")))?;
    let mut builder = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
        .with_endpoint(settings.endpoint.clone())
        .with_timeout(settings.timeout)
        .with_http_client(HeadersLast {
            client,
            headers,
            unwanted,
        });
    if settings.compression == Compression::Gzip {
        builder = builder.with_compression(opentelemetry_otlp::Compression::Gzip);
    }
    let exporter = builder
        .build()
        .map_err(|e| failed(format!("endpoint {:?}: {e}", settings.endpoint)))?;
    Ok(Box::new(exporter))
}

#[cfg(not(feature = "otlp-http"))]
fn http(_settings: &OtlpSettings) -> Result<Box<dyn DynExporter>, InitError> {
    Err(InitError::FeatureDisabled {
        what: "OTLP over HTTP".into(),
        feature: "otlp-http",
    })
}

/// An HTTP client that sets tracewire's merged headers on every request, after the exporter's own.
#[cfg(feature = "otlp-http")]
#[derive(Debug)]
struct HeadersLast {
    client: reqwest::Client,
    headers: http::HeaderMap,
    /// Headers the process environment added that the configuration does not have.
    unwanted: Vec<http::HeaderName>,
}

#[cfg(feature = "otlp-http")]
#[async_trait::async_trait]
impl opentelemetry_http::HttpClient for HeadersLast {
    async fn send_bytes(
        &self,
        mut request: http::Request<bytes::Bytes>,
    ) -> Result<http::Response<bytes::Bytes>, opentelemetry_http::HttpError> {
        for name in &self.unwanted {
            request.headers_mut().remove(name);
        }
        for (name, value) in &self.headers {
            request.headers_mut().insert(name.clone(), value.clone());
        }
        let uri = request.uri().clone();
        let result = self.client.send_bytes(request).await;
        if let Err(error) = &result {
            // opentelemetry-otlp reduces this to "network error"; say what actually happened.
            crate::diag::diag!(
                Error,
                "OTLP/HTTP request to {uri} failed: {}",
                error_chain(&**error)
            );
        }
        result
    }
}

/// An error and its causes, `outer: inner: innermost`.
#[cfg(feature = "otlp-http")]
fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.ends_with(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}
