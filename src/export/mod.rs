//! Where finished spans go: OTLP (gRPC or HTTP/protobuf), the console, memory, or any
//! [`opentelemetry_sdk::trace::SpanExporter`].
//!
//! Exporters run only on tracewire's background thread, inside a current-thread tokio runtime that
//! the thread owns, so they work whether or not the application has a runtime of its own.

pub mod console;
#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
pub(crate) mod encode;
#[cfg(feature = "testing")]
pub mod memory;
#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
pub(crate) mod otlp;
pub(crate) mod settings;
#[cfg(feature = "tls")]
pub(crate) mod tls;

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};

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
