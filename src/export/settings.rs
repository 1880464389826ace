//! What the exporters are built from: the validated settings `config` resolves, and the public
//! enums that name a transport and a compression. They live here, below `config`, so that the
//! export side never imports the layer that builds it.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use crate::error::{InitError, invalid};
use crate::export::DynExporter;

/// The OTLP transport (`OTEL_EXPORTER_OTLP_PROTOCOL`).
///
/// The default is [`Protocol::HttpProtobuf`], as the OpenTelemetry specification recommends; a build
/// without the `otlp-http` feature defaults to [`Protocol::Grpc`].
///
/// # Examples
///
/// ```
/// use tracewire::{Config, Protocol};
///
/// // A collector that only listens for gRPC.
/// let config = Config::default()
///     .with_protocol(Protocol::Grpc)
///     .with_endpoint("http://otel-collector:4317");
/// # drop(config);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Protocol {
    /// OTLP/gRPC (`grpc`), port 4317. Needs the `otlp-grpc` feature.
    Grpc,
    /// OTLP/HTTP with protobuf bodies (`http/protobuf`, the default), port 4318. Needs the
    /// `otlp-http` feature.
    HttpProtobuf,
}

/// Compression of OTLP requests (`OTEL_EXPORTER_OTLP_COMPRESSION`).
///
/// # Examples
///
/// ```
/// use tracewire::{Compression, Config};
///
/// let config = Config::default().with_compression(Compression::Gzip);
/// # drop(config);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Compression {
    /// No compression (`none`).
    None,
    /// gzip (`gzip`).
    Gzip,
}

/// The exporter to build on the background thread.
pub(crate) enum ExporterSettings {
    // Read only by the OTLP exporters; a build without them rejects this choice when resolving.
    #[cfg_attr(
        not(any(feature = "otlp-grpc", feature = "otlp-http")),
        allow(dead_code)
    )]
    Otlp(OtlpSettings),
    Console,
    None,
    Custom(Box<dyn DynExporter>),
}

/// A validated OTLP destination.
#[derive(Clone, PartialEq)]
pub(crate) struct OtlpSettings {
    pub(crate) protocol: Protocol,
    /// The URL requests go to: for gRPC the base endpoint, for HTTP the full `/v1/traces` URL.
    pub(crate) endpoint: String,
    /// Headers merged from both layers, names lower-cased, one entry per name, code winning.
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) timeout: Duration,
    pub(crate) compression: Compression,
    /// The TLS files to read when the exporter is built (`https://` endpoints only).
    pub(crate) tls: TlsFiles,
}

// By hand: the endpoint may hold credentials and header values are often secrets.
impl std::fmt::Debug for OtlpSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let header_names: Vec<&str> = self.headers.iter().map(|(name, _)| name.as_str()).collect();
        f.debug_struct("OtlpSettings")
            .field("protocol", &self.protocol)
            .field("endpoint", &crate::redact::redact_url(&self.endpoint))
            .field("header_names", &header_names)
            .field("timeout", &self.timeout)
            .field("compression", &self.compression)
            .field("tls", &self.tls)
            .finish()
    }
}

/// One PEM file and the setting that named it (a variable such as
/// `OTEL_EXPORTER_OTLP_CERTIFICATE`, or a `Config` method).
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct PemFile {
    pub(crate) origin: &'static str,
    pub(crate) path: PathBuf,
}

impl fmt::Debug for PemFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={:?}", self.origin, self.path)
    }
}

impl PemFile {
    /// An error about this file: `expected` says what was wrong. It names the setting and the path,
    /// never what the file holds.
    pub(crate) fn error(&self, expected: impl Into<String>) -> InitError {
        invalid(
            self.origin,
            self.path.display().to_string(),
            expected.into(),
        )
    }
}

/// The TLS files of the exporter, resolved code > environment setting by setting.
#[derive(Clone, Default, PartialEq, Eq, Debug)]
pub(crate) struct TlsFiles {
    /// CAs that replace the platform's roots.
    pub(crate) ca: Option<PemFile>,
    /// The client certificate chain and its key (mTLS); both or neither.
    pub(crate) client: Option<(PemFile, PemFile)>,
}

impl TlsFiles {
    pub(crate) fn first(&self) -> Option<&PemFile> {
        self.ca
            .as_ref()
            .or(self.client.as_ref().map(|(cert, _)| cert))
    }
}
