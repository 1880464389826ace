//! # tracewire
//!
//! Low-overhead distributed tracing for Rust services: one call sets it up from the standard
//! `OTEL_*` environment variables, a span costs tens of nanoseconds on the calling thread, finished
//! spans are exported as typed OTLP (gRPC or HTTP/protobuf) by a background thread that tracewire
//! owns, memory stays bounded whatever the collector does, and every dropped span is counted.
//!
//! ```
//! fn main() -> Result<(), tracewire::InitError> {
//!     # unsafe { std::env::set_var("OTEL_TRACES_EXPORTER", "none") };
//!     let _guard = tracewire::init()?; // configured from OTEL_* variables
//!     let span = tracewire::span("checkout");
//!     span.set_attribute("cart.items", 3_i64);
//!     let _entered = span.enter(); // children started now nest under "checkout"
//!     tracewire::in_span("charge card", |card| card.set_attribute("amount", 42.5));
//!     Ok(())
//! } // guard dropped: queued spans are flushed (with a deadline) and the exporter shut down
//! ```
//!
//! The pieces:
//! - [`init`] / [`Config`] / [`Guard`]: setup, every knob and the variable it reads, shutdown.
//! - [`span`], [`span_builder`], [`in_span`], [`Span`]: recording.
//! - [`SpanContext`], [`current_span_context`]: ids for log correlation and propagation.
//! - [`Context`]: the span context and [`Baggage`] carried to other threads, tasks and closures.
//! - [`propagation`]: [`propagation::inject`] / [`propagation::extract`] carry them to other
//!   services (W3C Trace Context and Baggage, B3, Jaeger; `OTEL_PROPAGATORS`).
//! - [`force_flush`], [`stats`]: delivery and the counters that account for every span.
//! - [`Profile`], [`describe`]: an organisation's conventions (required attributes, redaction,
//!   value caps, span-name normalisation, defaults) and the effective configuration with sources.
//! - [`testing::capture`], [`testing::conformance`], [`testing::InMemoryExporter`] (feature
//!   `testing`): assert on the spans of one piece of code, check it against a profile.
//! - `http` (features `reqwest`, `tower`, `axum`): client and server spans for HTTP, with the
//!   context carried in the headers.
//! - [`otel`]: tracewire as an OpenTelemetry `TracerProvider`, for code written against the
//!   `opentelemetry` API (made the global provider by [`init`]).
//! - `tracing_layer`, `fmt_layer` (feature `tracing`): `tracing` spans recorded by tracewire, log
//!   lines with trace ids; [`current_trace_id`] / [`current_span_id`] for any other logger.
//!
//! Cargo features: `otlp-grpc` and `otlp-http` (default) select the OTLP transports, `tls` adds
//! `https://` collectors and mTLS to both; `testing`
//! adds the in-memory exporter; `reqwest`, `tower` and `axum` add the HTTP layers; `tokio` adds
//! [`spawn`]/[`spawn_blocking`] and `futures` adds `StreamExt`; `tracing` the `tracing` bridge,
//! `tracing-json` its JSON log lines, `tracing-opentelemetry` a re-export of the
//! `tracing-opentelemetry` that matches tracewire's `opentelemetry`.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(missing_docs)]

mod bridge;
mod collector;
pub mod config;
mod context;
mod diag;
mod error;
pub mod export;
#[cfg(any(feature = "reqwest", feature = "tower"))]
#[cfg_attr(docsrs, doc(cfg(any(feature = "reqwest", feature = "tower"))))]
pub mod http;
mod init;
mod instrument;
pub mod propagation;
mod redact;
mod span;

pub use collector::{Stats, stats};
pub use config::describe::describe;
pub use config::{Compression, Config, ExporterKind, Profile, Protocol, SpanLimits};
pub use context::{
    Context, ContextGuard, Entered, Sampler, SpanContext, TraceState, current_span_context,
};
pub use diag::DiagLevel;
pub use error::{FlushError, InitError};
pub use init::{Guard, force_flush, force_flush_timeout, init};
pub use span::{Span, SpanBuilder, in_span, span, span_builder};

#[cfg(feature = "futures")]
#[cfg_attr(docsrs, doc(cfg(feature = "futures")))]
pub use instrument::StreamExt;
pub use instrument::{CANCELLED_KEY, FutureExt, Instrumented, WithContext};
#[cfg(feature = "tokio")]
pub use instrument::{spawn, spawn_blocking};

// The examples assert on exported spans through the in-memory exporter, so the full text (what
// docs.rs shows, built with every feature) needs feature `testing`.
#[cfg_attr(feature = "testing", doc = include_str!("instrument/traced.md"))]
#[cfg_attr(
    not(feature = "testing"),
    doc = "Instruments a function: each call runs inside a new span. The options and examples are \
           in the documentation built with feature `testing` (as on docs.rs)."
)]
pub use tracewire_macros::traced;

/// What `#[traced]` expansions call; not a public API (it changes without notice).
#[doc(hidden)]
pub mod __private {
    pub use crate::instrument::private::*;
}

/// The instrumentation traits and the macro: `use tracewire::prelude::*;`.
///
/// # Examples
///
/// ```
/// use tracewire::prelude::*;
///
/// #[traced]
/// async fn load() -> u32 {
///     7
/// }
/// let future = load().in_current_span(); // `FutureExt` is in scope
/// # drop(future);
/// ```
pub mod prelude {
    pub use crate::FutureExt as _;
    #[cfg(feature = "futures")]
    pub use crate::StreamExt as _;
    pub use crate::traced;
}

#[cfg(feature = "tracing")]
#[cfg_attr(docsrs, doc(cfg(feature = "tracing")))]
pub use bridge::layer::{TracingLayer, tracing_layer};
#[cfg(feature = "tracing-json")]
#[cfg_attr(docsrs, doc(cfg(feature = "tracing-json")))]
pub use bridge::logs::json_fmt_layer;
#[cfg(feature = "tracing")]
#[cfg_attr(docsrs, doc(cfg(feature = "tracing")))]
pub use bridge::logs::{TraceIdFormat, fmt_layer};
pub use bridge::logs::{current_span_id, current_trace_id};
pub use bridge::otel_api as otel;

pub use opentelemetry::baggage::Baggage;
pub use opentelemetry::trace::{SpanId, SpanKind, Status, TraceFlags, TraceId};
pub use opentelemetry::{Array, Key, KeyValue, StringValue, Value};

/// The `opentelemetry` crate tracewire is built with, so that values and traits always match.
pub use opentelemetry;
/// The `opentelemetry_sdk` crate tracewire is built with (its `SpanExporter` trait and `SpanData`).
pub use opentelemetry_sdk;
/// The `tracing` crate the `tracing` bridge is built with.
#[cfg(feature = "tracing")]
#[cfg_attr(docsrs, doc(cfg(feature = "tracing")))]
pub use tracing;
/// The `tracing-opentelemetry` crate built against tracewire's `opentelemetry` (0.34 for
/// opentelemetry 0.33): point its layer at [`otel::TracerProvider`]'s tracer.
///
/// # Examples
///
/// ```
/// use tracewire::opentelemetry::trace::TracerProvider as _;
/// use tracewire::tracing_subscriber::prelude::*;
///
/// let tracer = tracewire::otel::TracerProvider::default().tracer("my-service");
/// let subscriber = tracewire::tracing_subscriber::registry()
///     .with(tracewire::tracing_opentelemetry::layer().with_tracer(tracer));
/// # drop(subscriber);
/// ```
#[cfg(feature = "tracing-opentelemetry")]
#[cfg_attr(docsrs, doc(cfg(feature = "tracing-opentelemetry")))]
pub use tracing_opentelemetry;
/// The `tracing-subscriber` crate the `tracing` bridge is built with.
#[cfg(feature = "tracing")]
#[cfg_attr(docsrs, doc(cfg(feature = "tracing")))]
pub use tracing_subscriber;

/// The README's examples, compiled and run as doctests.
#[cfg(all(
    doctest,
    feature = "testing",
    feature = "tracing-json",
    feature = "tracing-opentelemetry"
))]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub mod testing;
