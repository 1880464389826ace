//! [`TracingLayer`]: `tracing` spans recorded as tracewire spans.
//!
//! # When each hook fires
//!
//! - **New span** (`on_new_span`): a tracewire span starts, named after the `tracing` span (or
//!   its `otel.name` field), with its fields as typed attributes. Its parent is the explicit
//!   `parent:` of the `tracing` span if it has one (or that span's nearest ancestor recorded by
//!   this layer), no parent for `parent: None`, and otherwise tracewire's current span context,
//!   which is the innermost of the `tracing` spans entered through this layer, tracewire spans
//!   entered with [`Span::enter`](crate::Span::enter) and OpenTelemetry API spans.
//! - **Enter / exit**: the span's context becomes tracewire's current context on this thread and
//!   the previous one comes back on exit, so tracewire spans started inside (and `#[traced]`
//!   functions) are its children. Spans that a filter hides from this layer are never entered,
//!   so their children attach to the nearest recorded ancestor.
//! - **Record** (`span.record(..)`): more attributes, or a late `otel.*` field.
//! - **Event**: inside a recorded span, a span event named after the event's message (or its
//!   metadata name), with its fields, `level` and `target`. An event with an `error` field is an
//!   `exception` event with `exception.message` (the semantic conventions' shape), and, like an
//!   ERROR event, sets the span's status to error with that message. Events outside any recorded
//!   span have nothing to attach to and are not recorded (a log layer still prints them).
//! - **Close**: the tracewire span ends and goes to tracewire's buffers.
//!
//! # Field values
//!
//! `i64`, `f64`, `bool` and strings keep their types; `u64` and 128-bit integers are integers when
//! they fit an `i64` and decimal strings otherwise; errors are their `Display` text; anything
//! else is its `Debug` text. The special fields `otel.name` (span name), `otel.kind` (`server`,
//! `client`, `producer`, `consumer`, `internal`), `otel.status_code` (`ok`, `error`, `unset`) and
//! `otel.status_message` are applied to the span rather than recorded as attributes.

use std::borrow::Cow;
use std::fmt;

use opentelemetry::trace::{SpanKind, Status};
use opentelemetry::{Key, KeyValue, Value};
use smallvec::SmallVec;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::{LookupSpan, SpanRef};

use super::Exclusive;
use crate::context::{self, SpanContext};
use crate::span::{Span, start_span};

/// A `tracing_subscriber::Layer` that records `tracing` spans and their events as tracewire spans;
/// made by [`tracing_layer`].
///
/// Filter it like any layer: a global `EnvFilter`, or a per-layer filter with
/// `tracing_layer().with_filter(..)`. What the filter hides is not recorded and leaves no hole:
/// the children of a hidden span attach to its nearest recorded ancestor.
///
/// # Examples
///
/// ```
/// use tracing_subscriber::prelude::*;
///
/// # fn main() -> Result<(), tracewire::InitError> {
/// let memory = tracewire::testing::InMemoryExporter::default();
/// let guard = tracewire::Config::default().with_exporter(memory.clone()).init()?;
/// let subscriber = tracing_subscriber::registry().with(tracewire::tracing_layer());
/// tracing::subscriber::with_default(subscriber, || {
///     let span = tracing::info_span!("load cart", cart.items = 3_u64, otel.kind = "client");
///     let _entered = span.enter();
///     tracing::info!(cache.hit = false, "cache miss");
///     tracewire::in_span("parse", |_| ()); // a child of "load cart"
/// });
/// drop(guard);
/// let cart = memory.span_named("load cart").unwrap();
/// assert_eq!(cart.span_kind, tracewire::SpanKind::Client);
/// assert!(cart.attributes.contains(&tracewire::KeyValue::new("cart.items", 3_i64)));
/// assert_eq!(cart.events.events[0].name, "cache miss");
/// assert_eq!(memory.span_named("parse").unwrap().parent_span_id, cart.span_context.span_id());
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct TracingLayer {
    _private: (),
}

/// The layer that records `tracing` spans as tracewire spans (see [`TracingLayer`]).
///
/// # Examples
///
/// ```
/// use tracing_subscriber::prelude::*;
///
/// let subscriber = tracing_subscriber::registry()
///     .with(tracewire::tracing_layer())
///     .with(tracewire::fmt_layer()); // log lines with trace ids
/// # drop(subscriber);
/// ```
pub fn tracing_layer() -> TracingLayer {
    TracingLayer::default()
}

/// What the layer keeps in a `tracing` span's extensions.
struct Recorded {
    ctx: SpanContext,
    span: Exclusive<Span>,
}

/// The span context this layer recorded for `span`, if any.
pub(crate) fn recorded_context<'a, R: LookupSpan<'a> + 'a>(
    span: &SpanRef<'a, R>,
) -> Option<SpanContext> {
    span.extensions()
        .get::<Recorded>()
        .map(|recorded| recorded.ctx.clone())
}

/// The context of the nearest span of `scope` that this layer recorded.
fn nearest_recorded<'a, R: LookupSpan<'a> + 'a>(
    mut scope: impl Iterator<Item = SpanRef<'a, R>>,
) -> Option<SpanContext> {
    scope.find_map(|span| recorded_context(&span))
}

impl<S> Layer<S> for TracingLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        if !crate::collector::is_enabled() {
            return;
        }
        let Some(this) = ctx.span(id) else {
            return;
        };
        let parent = if attrs.is_root() {
            SpanContext::NONE
        } else if attrs.is_contextual() {
            context::current_span_context()
        } else {
            // An explicit parent, or its nearest recorded ancestor when a filter hid it.
            nearest_recorded(this.scope().skip(1)).unwrap_or_default()
        };
        // Field values are formatted before any lock is taken: a `Debug` impl may log.
        let mut fields = SpanFields::default();
        attrs.record(&mut fields);
        let name = fields
            .name
            .take()
            .map_or(Cow::Borrowed(attrs.metadata().name()), Cow::Owned);
        let span = start_span(
            name,
            fields.kind.take().unwrap_or(SpanKind::Internal),
            parent,
            std::mem::take(&mut fields.attributes),
            Vec::new(),
        );
        if let Some(status) = fields.status() {
            span.set_status(status);
        }
        let recorded = Recorded {
            ctx: span.context().clone(),
            span: Exclusive::new(span),
        };
        this.extensions_mut().replace(recorded);
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(this) = ctx.span(id) else {
            return;
        };
        let mut fields = SpanFields::default();
        values.record(&mut fields);
        let mut extensions = this.extensions_mut();
        let Some(recorded) = extensions.get_mut::<Recorded>() else {
            return;
        };
        let span = recorded.span.get_mut();
        for attribute in fields.attributes.drain(..) {
            span.set_attribute(attribute.key, attribute.value);
        }
        if let Some(name) = fields.name.take() {
            span.update_name(name);
        }
        if let Some(kind) = fields.kind.take() {
            span.set_kind(kind);
        }
        if let Some(status) = fields.status() {
            span.set_status(status);
        }
    }

    fn on_follows_from(&self, id: &Id, follows: &Id, ctx: Context<'_, S>) {
        let Some(cause) = ctx.span(follows).and_then(|span| recorded_context(&span)) else {
            return;
        };
        let Some(this) = ctx.span(id) else {
            return;
        };
        if let Some(recorded) = this.extensions_mut().get_mut::<Recorded>() {
            recorded.span.get_mut().add_link(&cause, Vec::new());
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        if !crate::collector::is_enabled() {
            return;
        }
        let Some(scope) = ctx.event_scope(event) else {
            return; // outside any span this layer sees: nothing to attach the event to
        };
        let meta = event.metadata();
        let mut fields = EventFields {
            attributes: Vec::with_capacity(meta.fields().len() + 2),
            ..EventFields::default()
        };
        event.record(&mut fields);
        let is_error_level = *meta.level() == tracing::Level::ERROR;
        let EventFields {
            message,
            error,
            mut attributes,
        } = fields;
        attributes.push(KeyValue::new("level", meta.level().as_str()));
        attributes.push(KeyValue::new("target", meta.target()));
        let (name, status) = match error {
            Some(error) => {
                if let Some(message) = &message {
                    attributes.push(KeyValue::new("message", message.clone()));
                }
                attributes.push(KeyValue::new("exception.message", error.clone()));
                (Cow::Borrowed("exception"), Some(Status::error(error)))
            }
            None => {
                let status =
                    is_error_level.then(|| Status::error(message.clone().unwrap_or_default()));
                let name = message.map_or(Cow::Borrowed(meta.name()), Cow::Owned);
                (name, status)
            }
        };
        for span in scope {
            let mut extensions = span.extensions_mut();
            if let Some(recorded) = extensions.get_mut::<Recorded>() {
                let span = recorded.span.get_mut();
                span.add_event(name, attributes);
                if let Some(status) = status {
                    span.set_status(status);
                }
                return;
            }
        }
    }

    fn on_enter(&self, id: &Id, ctx: Context<'_, S>) {
        if let Some(span_ctx) = ctx.span(id).and_then(|span| recorded_context(&span)) {
            context::enter_bridged(id.into_u64(), span_ctx);
        }
    }

    fn on_exit(&self, id: &Id, _ctx: Context<'_, S>) {
        context::exit_bridged(id.into_u64());
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let Some(this) = ctx.span(&id) else {
            return;
        };
        let recorded = this.extensions_mut().remove::<Recorded>();
        // Ended after the extensions' lock is released.
        if let Some(recorded) = recorded {
            recorded.span.into_inner().end();
        }
    }
}

/// A field value with its type kept, as an attribute value.
fn typed_u64(value: u64) -> Value {
    i64::try_from(value).map_or_else(|_| Value::from(value.to_string()), Value::I64)
}

fn typed_i128(value: i128) -> Value {
    i64::try_from(value).map_or_else(|_| Value::from(value.to_string()), Value::I64)
}

fn typed_u128(value: u128) -> Value {
    i64::try_from(value).map_or_else(|_| Value::from(value.to_string()), Value::I64)
}

fn key(field: &Field) -> Key {
    Key::from_static_str(field.name())
}

/// The fields of a span: attributes, and what the `otel.*` fields say.
#[derive(Default)]
struct SpanFields {
    attributes: SmallVec<[KeyValue; crate::span::record::INLINE_ATTRIBUTES]>,
    name: Option<String>,
    kind: Option<SpanKind>,
    status_code: Option<StatusCode>,
    status_message: Option<String>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum StatusCode {
    Ok,
    Error,
    Unset,
}

impl SpanFields {
    fn status(&mut self) -> Option<Status> {
        let message = self.status_message.take();
        match (self.status_code.take(), message) {
            (Some(StatusCode::Ok), _) => Some(Status::Ok),
            (Some(StatusCode::Unset), _) => None,
            (Some(StatusCode::Error), message) | (None, message @ Some(_)) => {
                Some(Status::error(message.unwrap_or_default()))
            }
            (None, None) => None,
        }
    }

    /// Applies an `otel.*` field; false when `field` is not one.
    fn special(&mut self, field: &Field, value: &str) -> bool {
        match field.name() {
            "otel.name" => self.name = Some(value.to_owned()),
            "otel.kind" => self.kind = parse_kind(value),
            "otel.status_code" => self.status_code = parse_status_code(value),
            "otel.status_message" => self.status_message = Some(value.to_owned()),
            _ => return false,
        }
        true
    }

    fn push(&mut self, field: &Field, value: Value) {
        self.attributes.push(KeyValue::new(key(field), value));
    }
}

fn parse_kind(value: &str) -> Option<SpanKind> {
    let kind = match value.to_ascii_lowercase().as_str() {
        "server" => SpanKind::Server,
        "client" => SpanKind::Client,
        "producer" => SpanKind::Producer,
        "consumer" => SpanKind::Consumer,
        "internal" => SpanKind::Internal,
        _ => {
            crate::diag::diag!(Warn, "otel.kind = {value:?} is not a span kind; ignored");
            return None;
        }
    };
    Some(kind)
}

fn parse_status_code(value: &str) -> Option<StatusCode> {
    let code = match value.to_ascii_lowercase().as_str() {
        "ok" => StatusCode::Ok,
        "error" => StatusCode::Error,
        "unset" => StatusCode::Unset,
        _ => {
            crate::diag::diag!(
                Warn,
                "otel.status_code = {value:?} is not a status; ignored"
            );
            return None;
        }
    };
    Some(code)
}

/// The `Visit` methods for numbers and booleans, the same for span and event fields: each value
/// becomes a typed attribute through the visitor's `push`.
macro_rules! record_typed_values {
    () => {
        fn record_i64(&mut self, field: &Field, value: i64) {
            self.push(field, Value::I64(value));
        }

        fn record_u64(&mut self, field: &Field, value: u64) {
            self.push(field, typed_u64(value));
        }

        fn record_i128(&mut self, field: &Field, value: i128) {
            self.push(field, typed_i128(value));
        }

        fn record_u128(&mut self, field: &Field, value: u128) {
            self.push(field, typed_u128(value));
        }

        fn record_f64(&mut self, field: &Field, value: f64) {
            self.push(field, Value::F64(value));
        }

        fn record_bool(&mut self, field: &Field, value: bool) {
            self.push(field, Value::Bool(value));
        }
    };
}

impl Visit for SpanFields {
    record_typed_values!();

    fn record_str(&mut self, field: &Field, value: &str) {
        if !self.special(field, value) {
            self.push(field, Value::from(value.to_owned()));
        }
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.push(field, Value::from(value.to_string()));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let text = format!("{value:?}");
        if !self.special(field, &text) {
            self.push(field, Value::from(text));
        }
    }
}

/// The fields of an event: its message, its `error` field, and the rest as attributes.
#[derive(Default)]
struct EventFields {
    message: Option<String>,
    error: Option<String>,
    attributes: Vec<KeyValue>,
}

impl EventFields {
    /// Where `message` and `error` go (they are not attributes).
    fn special(&mut self, field: &Field) -> Option<&mut Option<String>> {
        match field.name() {
            "message" => Some(&mut self.message),
            "error" => Some(&mut self.error),
            _ => None,
        }
    }

    /// Records a field given as text.
    fn text(&mut self, field: &Field, text: String) {
        match self.special(field) {
            Some(slot) => *slot = Some(text),
            None => self.push(field, Value::from(text)),
        }
    }

    fn push(&mut self, field: &Field, value: Value) {
        self.attributes.push(KeyValue::new(key(field), value));
    }
}

impl Visit for EventFields {
    record_typed_values!();

    fn record_str(&mut self, field: &Field, value: &str) {
        self.text(field, value.to_owned());
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.text(field, value.to_string());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.text(field, format!("{value:?}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_stay_integers_when_they_fit() {
        assert_eq!(typed_u64(42), Value::I64(42));
        assert_eq!(typed_u64(i64::MAX as u64), Value::I64(i64::MAX));
        assert_eq!(typed_u64(u64::MAX), Value::from(u64::MAX.to_string()));
        assert_eq!(typed_i128(-5), Value::I64(-5));
        assert_eq!(typed_u128(u128::MAX), Value::from(u128::MAX.to_string()));
    }

    #[test]
    fn status_fields_combine_as_the_conventions_say() {
        let status = |code, message: Option<&str>| {
            SpanFields {
                status_code: code,
                status_message: message.map(str::to_owned),
                ..SpanFields::default()
            }
            .status()
        };
        assert_eq!(status(Some(StatusCode::Ok), Some("x")), Some(Status::Ok));
        assert_eq!(status(Some(StatusCode::Unset), None), None);
        assert_eq!(
            status(Some(StatusCode::Error), Some("boom")),
            Some(Status::error("boom"))
        );
        assert_eq!(status(None, Some("boom")), Some(Status::error("boom")));
        assert_eq!(status(None, None), None);
        assert_eq!(parse_kind("Server"), Some(SpanKind::Server));
        assert_eq!(parse_kind("sideways"), None);
    }
}
