//! tracewire behind the OpenTelemetry trace API: a [`TracerProvider`] whose [`Tracer`] records
//! [`Span`]s that are tracewire spans.
//!
//! Crates instrumented with the `opentelemetry` API (directly, or through
//! `tracing_opentelemetry::layer().with_tracer(..)`) then record into tracewire, with tracewire's
//! ids, sampler, limits, buffers and exporter. [`init`](crate::init) makes tracewire the global
//! provider (`opentelemetry::global::set_tracer_provider`) unless
//! [`Config::with_global_tracer_provider(false)`](crate::Config::with_global_tracer_provider) says
//! otherwise.
//!
//! # Parents, in both directions
//!
//! - A span started through this API takes its parent from the `opentelemetry::Context` it is
//!   given (`Tracer::start` gives the current one). When that context has no span, or its span is
//!   the current one while a tracewire span was entered inside it, the parent is tracewire's
//!   current span ([`current_span_context`](crate::current_span_context)): an OpenTelemetry span
//!   inside a tracewire span (or inside a `tracing` span recorded by tracewire's layer) is its
//!   child.
//! - Once this provider has handed out a tracer, tracewire also looks at OpenTelemetry's current
//!   context when it starts a span: a tracewire span started while an OpenTelemetry span is
//!   attached (`Context::attach`, `Tracer::in_span`, `mark_span_as_active`) is its child. Until
//!   then tracewire never reads OpenTelemetry's context, so services that do not use the API pay
//!   nothing for it (one relaxed load of a flag).
//!
//! # What differs from opentelemetry_sdk
//!
//! - Spans are exported under tracewire's instrumentation scope, not the tracer's: the scope given
//!   to [`tracer_with_scope`](opentelemetry::trace::TracerProvider::tracer_with_scope) is kept
//!   ([`Tracer::scope`]) but not exported per span.
//! - tracewire's sampler decides; the builder has no sampling input in this API version.
//! - Times given as `SystemTime` (`with_start_time`, `end_with_timestamp`, event timestamps) are
//!   exported exactly as given; spans without them are timed with tracewire's cheaper clock.
//!
//! # Examples
//!
//! ```
//! use tracewire::opentelemetry::trace::{Span as _, Tracer as _, TracerProvider as _};
//! use tracewire::opentelemetry::{global, KeyValue};
//!
//! # fn main() -> Result<(), tracewire::InitError> {
//! let memory = tracewire::testing::InMemoryExporter::default();
//! let guard = tracewire::Config::default().with_exporter(memory.clone()).init()?;
//! // `init` made tracewire the global provider: code written against the API records into it.
//! let tracer = global::tracer("payments");
//! tracer.in_span("charge", |_cx| {
//!     let mut span = tracer.start("call bank"); // a child of "charge"
//!     span.set_attribute(KeyValue::new("bank.attempt", 1_i64));
//!     span.end();
//!     tracewire::in_span("audit", |_| ()); // a tracewire span, a child of "charge" too
//! });
//! drop(guard);
//! let charge = memory.span_named("charge").unwrap();
//! assert_eq!(memory.span_named("call bank").unwrap().parent_span_id, charge.span_context.span_id());
//! assert_eq!(memory.span_named("audit").unwrap().parent_span_id, charge.span_context.span_id());
//! # Ok(())
//! # }
//! ```

use std::borrow::Cow;
use std::fmt;
use std::time::SystemTime;

use opentelemetry::trace::{self as otel, TraceContextExt as _};
use opentelemetry::{InstrumentationScope, KeyValue};

use super::Exclusive;
use crate::context::{self, SpanContext};

/// tracewire as an OpenTelemetry `TracerProvider`: its tracers record tracewire spans.
///
/// It holds no state (tracewire's configuration is global, set by [`init`](crate::init)), so
/// every value is the same provider. Spans started before `init` or after the guard drops record
/// nothing, like every tracewire span.
///
/// # Examples
///
/// ```
/// use tracewire::opentelemetry::trace::{Tracer as _, TracerProvider as _};
///
/// # fn main() -> Result<(), tracewire::InitError> {
/// let _guard = tracewire::Config::default()
///     .with_exporter_kind(tracewire::ExporterKind::None)
///     .with_global_tracer_provider(false) // leave the global provider alone
///     .init()?;
/// let tracer = tracewire::otel::TracerProvider::default().tracer("inventory");
/// let span = tracer.start("reserve");
/// # drop(span);
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug, Default)]
pub struct TracerProvider {
    _private: (),
}

impl TracerProvider {
    /// The provider (the same as [`TracerProvider::default`]).
    ///
    /// # Examples
    ///
    /// ```
    /// let provider = tracewire::otel::TracerProvider::new();
    /// # drop(provider);
    /// ```
    pub fn new() -> Self {
        TracerProvider::default()
    }
}

impl otel::TracerProvider for TracerProvider {
    type Tracer = Tracer;

    fn tracer_with_scope(&self, scope: InstrumentationScope) -> Tracer {
        context::use_otel_api();
        Tracer { scope }
    }
}

/// An OpenTelemetry `Tracer` that records tracewire spans; made by [`TracerProvider`].
///
/// It is what `tracing_opentelemetry::layer().with_tracer(..)` takes, so a service can keep that
/// layer and point it at tracewire (tracewire's own [`tracing_layer`](crate::tracing_layer) costs
/// less: see the README's figures).
///
/// # Examples
///
/// ```
/// use tracewire::opentelemetry::trace::{Tracer as _, TracerProvider as _};
///
/// let tracer = tracewire::otel::TracerProvider::default().tracer("inventory");
/// assert_eq!(tracer.scope().name(), "inventory");
/// let span = tracer.start("reserve"); // tracing is off (no `init`): records nothing
/// # drop(span);
/// ```
#[derive(Clone, Debug)]
pub struct Tracer {
    scope: InstrumentationScope,
}

impl Tracer {
    /// The instrumentation scope the tracer was asked for (not exported per span: tracewire's spans
    /// carry tracewire's scope).
    ///
    /// # Examples
    ///
    /// ```
    /// use tracewire::opentelemetry::trace::TracerProvider as _;
    /// let tracer = tracewire::otel::TracerProvider::default().tracer("db");
    /// assert_eq!(tracer.scope().name(), "db");
    /// ```
    pub fn scope(&self) -> &InstrumentationScope {
        &self.scope
    }
}

/// The parent of a span started through the API with `parent_cx`.
fn parent_of(parent_cx: &opentelemetry::Context) -> SpanContext {
    if parent_cx.has_active_span() {
        let span = parent_cx.span();
        let given = span.span_context();
        // The current context (what `Tracer::start` passes) may have a tracewire span entered
        // inside it: then the innermost of the two is the parent, which is what tracewire's current
        // context says.
        if given.is_valid() && !is_otel_current(given) {
            return SpanContext::from_otel(given);
        }
    }
    context::current_span_context()
}

fn is_otel_current(given: &otel::SpanContext) -> bool {
    opentelemetry::Context::map_current(|cx| {
        cx.has_active_span() && cx.span().span_context().span_id() == given.span_id()
    })
}

impl otel::Tracer for Tracer {
    type Span = Span;

    fn build_with_context(
        &self,
        builder: otel::SpanBuilder,
        parent_cx: &opentelemetry::Context,
    ) -> Span {
        let otel::SpanBuilder {
            span_kind,
            name,
            start_time,
            attributes,
            events,
            links,
        } = builder;
        let span = crate::span::start_span(
            name,
            span_kind.unwrap_or(otel::SpanKind::Internal),
            parent_of(parent_cx),
            attributes.into_iter().flatten().collect(),
            links.unwrap_or_default(),
        );
        if let Some(start) = start_time {
            span.set_start_time(start);
        }
        for event in events.into_iter().flatten() {
            span.add_event_at(event.name, event.timestamp, event.attributes);
        }
        Span::wrap(span)
    }
}

/// An OpenTelemetry `Span` that is a tracewire [`Span`](crate::Span); made by [`Tracer`].
///
/// It ends when [`end`](opentelemetry::trace::Span::end) is called or when it is dropped.
///
/// # Examples
///
/// ```
/// use tracewire::opentelemetry::trace::{Span as _, Status, Tracer as _, TracerProvider as _};
/// use tracewire::opentelemetry::KeyValue;
///
/// # fn main() -> Result<(), tracewire::InitError> {
/// let memory = tracewire::testing::InMemoryExporter::default();
/// let guard = tracewire::Config::default().with_exporter(memory.clone()).init()?;
/// let tracer = tracewire::otel::TracerProvider::default().tracer("inventory");
/// let mut span = tracer.start("reserve");
/// span.set_attribute(KeyValue::new("items", 3_i64));
/// span.add_event("stock checked", vec![]);
/// span.set_status(Status::error("out of stock"));
/// span.end();
/// drop(guard);
/// let exported = memory.span_named("reserve").unwrap();
/// assert_eq!(exported.attributes, vec![KeyValue::new("items", 3_i64)]);
/// # Ok(())
/// # }
/// ```
pub struct Span {
    context: otel::SpanContext,
    recording: bool,
    span: Exclusive<crate::Span>,
}

impl Span {
    fn wrap(span: crate::Span) -> Span {
        Span {
            context: span.context().to_otel(),
            recording: span.is_recording(),
            span: Exclusive::new(span),
        }
    }

    fn take(&mut self) -> crate::Span {
        self.recording = false;
        std::mem::take(self.span.get_mut())
    }
}

impl otel::Span for Span {
    fn add_event<T>(&mut self, name: T, attributes: Vec<KeyValue>)
    where
        T: Into<Cow<'static, str>>,
    {
        self.span.get_mut().add_event(name, attributes);
    }

    fn add_event_with_timestamp<T>(
        &mut self,
        name: T,
        timestamp: SystemTime,
        attributes: Vec<KeyValue>,
    ) where
        T: Into<Cow<'static, str>>,
    {
        self.span
            .get_mut()
            .add_event_at(name.into(), timestamp, attributes);
    }

    fn span_context(&self) -> &otel::SpanContext {
        &self.context
    }

    fn is_recording(&self) -> bool {
        self.recording
    }

    fn set_attribute(&mut self, attribute: KeyValue) {
        self.span
            .get_mut()
            .set_attribute(attribute.key, attribute.value);
    }

    fn set_status(&mut self, status: otel::Status) {
        self.span.get_mut().set_status(status);
    }

    fn update_name<T>(&mut self, new_name: T)
    where
        T: Into<Cow<'static, str>>,
    {
        self.span.get_mut().update_name(new_name);
    }

    fn add_link(&mut self, span_context: otel::SpanContext, attributes: Vec<KeyValue>) {
        self.span
            .get_mut()
            .add_link(&SpanContext::from_otel(&span_context), attributes);
    }

    fn end(&mut self) {
        self.take().end();
    }

    fn end_with_timestamp(&mut self, timestamp: SystemTime) {
        self.take().end_at(timestamp);
    }
}

impl fmt::Debug for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Span")
            .field("context", &self.context)
            .field("recording", &self.recording)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_types_can_be_shared_between_threads() {
        fn send_sync<T: Send + Sync + 'static>() {}
        send_sync::<TracerProvider>();
        send_sync::<Tracer>();
        send_sync::<Span>();
    }
}
