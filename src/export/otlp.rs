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

use crate::error::InitError;
use crate::export::DynExporter;
use crate::export::settings::{Compression, OtlpSettings, Protocol};

/// The TLS material for an `https://` endpoint, read once; `None` for `http://`.
#[cfg(feature = "tls")]
type Tls = Option<crate::export::tls::TlsMaterial>;
/// Without the `tls` feature, resolving already refused `https://` endpoints.
#[cfg(not(feature = "tls"))]
type Tls = Option<std::convert::Infallible>;

/// Builds the exporter; must run inside a tokio runtime (tonic's channel spawns a task).
pub(crate) fn build(settings: &OtlpSettings) -> Result<Box<dyn DynExporter>, InitError> {
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
        Protocol::Grpc => grpc(settings, tls),
        Protocol::HttpProtobuf => http(settings, tls),
    }
}

/// The endpoint as errors and diagnostics show it: without credentials.
fn shown(endpoint: &str) -> std::borrow::Cow<'_, str> {
    crate::redact::redact_url(endpoint)
}

#[cfg(feature = "otlp-grpc")]
fn grpc(settings: &OtlpSettings, tls: Tls) -> Result<Box<dyn DynExporter>, InitError> {
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
    #[cfg(feature = "tls")]
    if let Some(tls) = &tls {
        builder = builder.with_tls_config(tls.tonic.clone());
    }
    #[cfg(not(feature = "tls"))]
    let _ = tls;
    let exporter = builder.build().map_err(|e| {
        failed(redact_in(
            format!("endpoint {:?}: {e}", settings.endpoint),
            &settings.endpoint,
        ))
    })?;
    Ok(Box::new(WithReason {
        inner: exporter,
        reason: None,
    }))
}

/// `text` with every copy of `endpoint` replaced by its redacted form.
fn redact_in(text: String, endpoint: &str) -> String {
    match shown(endpoint) {
        std::borrow::Cow::Owned(redacted) => text.replace(endpoint, &redacted),
        std::borrow::Cow::Borrowed(_) => text,
    }
}

#[cfg(not(feature = "otlp-grpc"))]
fn grpc(_settings: &OtlpSettings, _tls: Tls) -> Result<Box<dyn DynExporter>, InitError> {
    Err(InitError::FeatureDisabled {
        what: "OTLP over gRPC".into(),
        feature: "otlp-grpc",
    })
}

#[cfg(feature = "otlp-http")]
fn http(settings: &OtlpSettings, tls: Tls) -> Result<Box<dyn DynExporter>, InitError> {
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
    #[cfg(feature = "tls")]
    let client = match &tls {
        Some(tls) => tls.http_client(settings.timeout)?,
        None => crate::export::tls::TlsMaterial::clear_text_client(settings.timeout)?,
    };
    #[cfg(not(feature = "tls"))]
    let client = {
        let _ = tls;
        reqwest::Client::builder()
            .timeout(settings.timeout)
            .build()
            .map_err(|e| failed(format!("HTTP client: {e}")))?
    };
    let reason = Arc::new(Mutex::new(None));
    let mut builder = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
        .with_endpoint(settings.endpoint.clone())
        .with_timeout(settings.timeout)
        .with_http_client(HeadersLast {
            client,
            headers,
            unwanted,
            reason: Arc::clone(&reason),
        });
    if settings.compression == Compression::Gzip {
        builder = builder.with_compression(opentelemetry_otlp::Compression::Gzip);
    }
    let exporter = builder.build().map_err(|e| {
        failed(redact_in(
            format!("endpoint {:?}: {e}", settings.endpoint),
            &settings.endpoint,
        ))
    })?;
    Ok(Box::new(WithReason {
        inner: exporter,
        reason: Some(reason),
    }))
}

use std::sync::{Arc, Mutex, PoisonError};

/// The transport's reason for the last failed request of an export, shared by `HeadersLast`
/// (which sees it) and [`WithReason`] (which reports it).
type Reason = Arc<Mutex<Option<String>>>;

/// opentelemetry-otlp's exporter, with clearer errors: for OTLP/HTTP the transport's reason is
/// added to its bare "network error" (a TLS failure such as `invalid peer certificate:
/// UnknownIssuer`), and repeats are removed, so that `stats()` and the diagnostics say what
/// happened once.
#[derive(Debug)]
struct WithReason {
    inner: opentelemetry_otlp::SpanExporter,
    /// Set for OTLP/HTTP.
    reason: Option<Reason>,
}

impl WithReason {
    fn take_reason(&self) -> Option<String> {
        self.reason
            .as_ref()
            .and_then(|reason| reason.lock().unwrap_or_else(PoisonError::into_inner).take())
    }
}

/// `Operation failed: Operation failed: a: b: b` becomes `a: b`: the exporter wraps its errors
/// twice (and the error made from the result adds one `Operation failed: ` again), and tonic's
/// message repeats its cause.
fn tidy(text: &str) -> String {
    let mut text = text;
    while let Some(rest) = text.strip_prefix("Operation failed: ") {
        text = rest;
    }
    // The longest tail `: X` that the text before it already ends with.
    for (i, _) in text.match_indices(": ") {
        let (head, tail) = (&text[..i], &text[i + 2..]);
        if !tail.is_empty() && head.ends_with(tail) {
            return head.to_owned();
        }
    }
    text.to_owned()
}

impl opentelemetry_sdk::trace::SpanExporter for WithReason {
    async fn export(
        &self,
        batch: Vec<opentelemetry_sdk::trace::SpanData>,
    ) -> opentelemetry_sdk::error::OTelSdkResult {
        self.take_reason();
        let result = self.inner.export(batch).await;
        result.map_err(|error| {
            let text = error.to_string();
            let text = match self.take_reason() {
                Some(reason) if text.contains("network error") => format!("{text}: {reason}"),
                _ => text,
            };
            opentelemetry_sdk::error::OTelSdkError::InternalFailure(tidy(&text))
        })
    }

    fn shutdown_with_timeout(
        &self,
        timeout: std::time::Duration,
    ) -> opentelemetry_sdk::error::OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> opentelemetry_sdk::error::OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &opentelemetry_sdk::Resource) {
        self.inner.set_resource(resource);
    }
}

#[cfg(not(feature = "otlp-http"))]
fn http(_settings: &OtlpSettings, _tls: Tls) -> Result<Box<dyn DynExporter>, InitError> {
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
    /// Where the last failure's reason goes.
    reason: Reason,
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
        let uri = request.uri().to_string();
        let result = self.client.send_bytes(request).await;
        if let Err(error) = &result {
            // opentelemetry-otlp reduces this to "network error"; keep what actually happened (with
            // the URL's credentials redacted: reqwest's messages quote the URL).
            let reason = redact_in(error_chain(&**error), &uri);
            crate::diag::diag!(
                Error,
                "OTLP/HTTP request to {} failed: {reason}",
                shown(&uri)
            );
            *self.reason.lock().unwrap_or_else(PoisonError::into_inner) = Some(reason);
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

#[cfg(test)]
mod tests {
    use super::tidy;

    #[test]
    fn repeated_wrappers_and_causes_are_removed() {
        assert_eq!(
            tidy(
                "Operation failed: Operation failed: HTTP export failed: network error: \
                 client error (Connect): invalid peer certificate: UnknownIssuer"
            ),
            "HTTP export failed: network error: client error (Connect): \
             invalid peer certificate: UnknownIssuer"
        );
        assert_eq!(
            tidy("gRPC code: Unavailable: transport error: bad cert: x: bad cert: x"),
            "gRPC code: Unavailable: transport error: bad cert: x"
        );
        assert_eq!(tidy("a: b: c"), "a: b: c");
        assert_eq!(tidy("a: a"), "a");
    }
}
