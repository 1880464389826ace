//! Where finished spans go: OTLP (gRPC or HTTP/protobuf, tracewire's own transports), the console, memory, or any
//! [`opentelemetry_sdk::trace::SpanExporter`].
//!
//! Exporters run only on tracewire's background thread, inside a current-thread tokio runtime that
//! the thread owns, so they work whether or not the application has a runtime of its own.

pub mod console;
#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
pub(crate) mod encode;
#[cfg(feature = "testing")]
pub mod memory;
pub(crate) mod settings;
#[cfg(feature = "tls")]
pub(crate) mod tls;
#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
pub(crate) mod transport;

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};

/// What became of one export request: an OTLP transport's answer, classified, or a `SpanExporter`'s
/// result (accepted or failed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// The collector took the request; `rejected` of its spans were refused through
    /// `partial_success` (with the collector's `message`).
    Accepted { rejected: u64, message: String },
    /// Worth sending again: HTTP 429/502/503/504, gRPC `UNAVAILABLE`, `RESOURCE_EXHAUSTED` with
    /// `RetryInfo`. `delay` is the collector's (`Retry-After`, `RetryInfo`); `throttled` says it
    /// asked to slow down.
    #[cfg_attr(
        not(any(feature = "otlp-grpc", feature = "otlp-http")),
        allow(dead_code)
    )]
    Retryable {
        delay: Option<Duration>,
        throttled: bool,
        reason: String,
    },
    /// Nothing answered: connection refused or reset, TLS handshake failed, timed out. Feeds the
    /// circuit breaker; the request is retried.
    #[cfg_attr(
        not(any(feature = "otlp-grpc", feature = "otlp-http")),
        allow(dead_code)
    )]
    Unreachable { reason: String },
    /// The collector refused the request for good (HTTP 400, gRPC `INVALID_ARGUMENT`, ...).
    Failed { reason: String },
}

/// A boxed export future.
pub(crate) type ExportFuture<'a> = Pin<Box<dyn Future<Output = OTelSdkResult> + Send + 'a>>;

/// The object-safe face of [`SpanExporter`], so the worker can hold any exporter.
pub(crate) trait DynExporter: Send + Sync + std::fmt::Debug {
    fn export_boxed(&self, batch: Vec<SpanData>) -> ExportFuture<'_>;
    fn shutdown_boxed(&mut self, timeout: Duration) -> OTelSdkResult;
    fn set_resource_boxed(&mut self, resource: &Resource);
}

impl<E: SpanExporter + 'static> DynExporter for E {
    fn export_boxed(&self, batch: Vec<SpanData>) -> ExportFuture<'_> {
        Box::pin(self.export(batch))
    }

    fn shutdown_boxed(&mut self, timeout: Duration) -> OTelSdkResult {
        self.shutdown_with_timeout(timeout)
    }

    fn set_resource_boxed(&mut self, resource: &Resource) {
        self.set_resource(resource);
    }
}

/// An exporter that accepts every batch and keeps nothing (`OTEL_TRACES_EXPORTER=none`).
#[derive(Debug, Default)]
pub(crate) struct NoneExporter;

impl SpanExporter for NoneExporter {
    async fn export(&self, _batch: Vec<SpanData>) -> OTelSdkResult {
        Ok(())
    }
}
