//! [`Span`]: the recording hot path.
//!
//! Starting a sampled span reads the thread's current context, draws ids from a per-thread
//! generator and reads the tick counter; attributes and one event are stored inline. Ending it moves
//! the record into the thread's bounded buffer, which tracewire's background thread drains. None of
//! this takes a lock, makes a system call or (for a static name and up to four attributes)
//! allocates. When the buffer is full, the span is dropped and counted
//! ([`Stats::dropped_buffer_full`](crate::Stats::dropped_buffer_full)): the caller never waits.

pub(crate) mod clock;
pub(crate) mod ids;
pub(crate) mod limits;
pub(crate) mod record;

pub(crate) use ids::RANDOM_FLAG;

use std::borrow::Cow;
use std::cell::RefCell;
use std::fmt;
use std::mem::ManuallyDrop;

use opentelemetry::trace::{Link, SpanId, SpanKind, Status, TraceFlags};
use opentelemetry::{Key, KeyValue, Value};
use smallvec::SmallVec;

use crate::collector;
use crate::context::{self, Entered, SpanContext, TraceState};
use record::{EventRecord, Extras, INLINE_ATTRIBUTES, Recording};

/// A unit of work in a trace. It ends when [`end`](Span::end) is called or when it is dropped,
/// exactly once.
///
/// A span that is not sampled (or started while tracing is off) records nothing and costs almost
/// nothing, but still has a [`context`](Span::context) to hand to children and other services.
///
/// `Span` is `Send`, so it can end on another thread, but not `Sync`: its methods take `&self`
/// without a lock. To share a trace between threads or tasks, share [`Span::context`] and start
/// children from it.
///
/// # Examples
///
/// ```
/// use tracewire::{KeyValue, Status};
///
/// # fn main() -> Result<(), tracewire::InitError> {
/// let _guard = tracewire::Config::default().with_exporter_kind(tracewire::ExporterKind::None).init()?;
/// let span = tracewire::span("checkout");
/// span.set_attribute("cart.items", 3_i64);
/// span.set_attribute("cart.total", 99.5);
/// span.add_event("cart loaded", vec![KeyValue::new("cache.hit", true)]);
/// {
///     let _entered = span.enter();
///     let child = tracewire::span("charge card"); // a child of "checkout"
///     assert_eq!(child.context().trace_id(), span.context().trace_id());
/// }
/// span.set_status(Status::Ok);
/// span.end();
/// # Ok(())
/// # }
/// ```
pub struct Span {
    ctx: SpanContext,
    /// Never dropped by the drop glue: [`Span`]'s `Drop` ends a recording, and
    /// `collector::submit_in_place`, which ends it, always leaves `None`. So the glue of a span
    /// that does not record is two inlined checks (this and the trace state) instead of a call
    /// that tests the name, the extras and the trace state (`perf`: a third of the cost of a span
    /// with tracing off).
    rec: ManuallyDrop<RefCell<Option<Recording>>>,
}

/// Starts a span named `name`: a child of the current span, or a root when there is none.
///
/// # Examples
///
/// ```
/// # fn main() -> Result<(), tracewire::InitError> {
/// let _guard = tracewire::Config::default().with_exporter_kind(tracewire::ExporterKind::None).init()?;
/// let root = tracewire::span("request");
/// let _entered = root.enter();
/// let child = tracewire::span(format!("query {}", "users")); // owned names work too
/// assert_eq!(child.context().trace_id(), root.context().trace_id());
/// # Ok(())
/// # }
/// ```
#[inline(always)]
pub fn span(name: impl Into<Cow<'static, str>>) -> Span {
    // Only this check is inlined into the caller: with tracing off, it is the whole cost.
    if !collector::is_enabled() {
        return Span::none();
    }
    // Decided here, not in `start_child`: a check there costs the usual path more than the load.
    if context::otel_api_in_use() {
        return start_child_of_any(name.into());
    }
    start_child(name.into())
}

#[inline(never)]
fn start_child(name: Cow<'static, str>) -> Span {
    Span::start_plain(name, SpanKind::Internal, context::tracewire_current())
}

/// [`start_child`] once the OpenTelemetry API bridge is in use: the parent may be a span attached
/// through OpenTelemetry's context.
#[cold]
#[inline(never)]
fn start_child_of_any(name: Cow<'static, str>) -> Span {
    Span::start_plain(name, SpanKind::Internal, context::current_span_context())
}

/// Runs `f` inside a new span (the child of the current one), which is current while `f` runs and
/// ends when it returns or panics (a panic marks it as an error).
///
/// # Examples
///
/// ```
/// # fn main() -> Result<(), tracewire::InitError> {
/// let _guard = tracewire::Config::default().with_exporter_kind(tracewire::ExporterKind::None).init()?;
/// let total = tracewire::in_span("sum", |span| {
///     span.set_attribute("items", 3_i64);
///     1 + 2
/// });
/// assert_eq!(total, 3);
/// # Ok(())
/// # }
/// ```
pub fn in_span<R>(name: impl Into<Cow<'static, str>>, f: impl FnOnce(&Span) -> R) -> R {
    let span = span(name);
    let _entered = span.enter();
    f(&span)
}

/// Starts a span with a kind, an explicit parent, links or attributes known at start.
///
/// # Examples
///
/// ```
/// use tracewire::{KeyValue, SpanKind};
///
/// # fn main() -> Result<(), tracewire::InitError> {
/// let _guard = tracewire::Config::default().with_exporter_kind(tracewire::ExporterKind::None).init()?;
/// let span = tracewire::span_builder("GET /users/{id}")
///     .with_kind(SpanKind::Server)
///     .with_attribute("http.request.method", "GET")
///     .start();
/// assert!(span.is_recording());
/// # Ok(())
/// # }
/// ```
pub fn span_builder(name: impl Into<Cow<'static, str>>) -> SpanBuilder {
    SpanBuilder {
        name: name.into(),
        kind: SpanKind::Internal,
        parent: Parent::Current,
        attributes: SmallVec::new(),
        links: Vec::new(),
    }
}

enum Parent {
    Current,
    Root,
    Explicit(SpanContext),
}

/// A span about to start; made by [`span_builder`].
#[must_use = "a SpanBuilder does nothing until `.start()` is called"]
pub struct SpanBuilder {
    name: Cow<'static, str>,
    kind: SpanKind,
    parent: Parent,
    attributes: SmallVec<[KeyValue; INLINE_ATTRIBUTES]>,
    links: Vec<Link>,
}

impl SpanBuilder {
    /// The span kind (internal by default).
    ///
    /// # Examples
    ///
    /// ```
    /// let builder = tracewire::span_builder("send").with_kind(tracewire::SpanKind::Producer);
    /// # drop(builder);
    /// ```
    pub fn with_kind(mut self, kind: SpanKind) -> Self {
        self.kind = kind;
        self
    }

    /// Makes the span a child of `parent` instead of the current span. An invalid `parent` makes it a
    /// root.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), tracewire::InitError> {
    /// let _guard = tracewire::Config::default().with_exporter_kind(tracewire::ExporterKind::None).init()?;
    /// let parent = tracewire::span("job").context().clone();
    /// let step = tracewire::span_builder("step").with_parent(&parent).start();
    /// assert_eq!(step.context().trace_id(), parent.trace_id());
    /// # Ok(())
    /// # }
    /// ```
    pub fn with_parent(mut self, parent: &SpanContext) -> Self {
        self.parent = Parent::Explicit(parent.clone());
        self
    }

    /// Starts a new trace, whatever span is current.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), tracewire::InitError> {
    /// let _guard = tracewire::Config::default().with_exporter_kind(tracewire::ExporterKind::None).init()?;
    /// let outer = tracewire::span("outer");
    /// let _entered = outer.enter();
    /// let detached = tracewire::span_builder("background").root().start();
    /// assert_ne!(detached.context().trace_id(), outer.context().trace_id());
    /// # Ok(())
    /// # }
    /// ```
    pub fn root(mut self) -> Self {
        self.parent = Parent::Root;
        self
    }

    /// Adds an attribute known at start.
    ///
    /// # Examples
    ///
    /// ```
    /// let builder = tracewire::span_builder("query").with_attribute("db.system.name", "postgresql");
    /// # drop(builder);
    /// ```
    pub fn with_attribute(mut self, key: impl Into<Key>, value: impl Into<Value>) -> Self {
        self.attributes.push(KeyValue::new(key, value));
        self
    }

    /// Links the span to another span context (for example each message of a batch).
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), tracewire::InitError> {
    /// let _guard = tracewire::Config::default().with_exporter_kind(tracewire::ExporterKind::None).init()?;
    /// let message = tracewire::span("enqueue").context().clone();
    /// let batch = tracewire::span_builder("process batch").root().with_link(&message, vec![]).start();
    /// # drop(batch);
    /// # Ok(())
    /// # }
    /// ```
    pub fn with_link(mut self, context: &SpanContext, attributes: Vec<KeyValue>) -> Self {
        self.links.push(Link::new(context.to_otel(), attributes, 0));
        self
    }

    /// Starts the span.
    ///
    /// # Examples
    ///
    /// ```
    /// let span = tracewire::span_builder("work").start();
    /// # drop(span);
    /// ```
    pub fn start(self) -> Span {
        if !collector::is_enabled() {
            return Span::none();
        }
        let parent = match self.parent {
            Parent::Current => context::current_span_context(),
            Parent::Root => SpanContext::NONE,
            Parent::Explicit(parent) => parent,
        };
        Span::start(self.name, self.kind, parent, self.attributes, self.links)
    }
}

impl Span {
    /// A span that records nothing and has no context, as when tracing is off.
    ///
    /// # Examples
    ///
    /// ```
    /// let span = tracewire::Span::none();
    /// assert!(!span.is_recording() && !span.context().is_valid());
    /// ```
    #[inline]
    pub const fn none() -> Span {
        Span {
            ctx: SpanContext::NONE,
            rec: ManuallyDrop::new(RefCell::new(None)),
        }
    }

    /// Starts a span with attributes or links known at start.
    fn start(
        name: Cow<'static, str>,
        kind: SpanKind,
        parent: SpanContext,
        attributes: SmallVec<[KeyValue; INLINE_ATTRIBUTES]>,
        links: Vec<Link>,
    ) -> Span {
        let span = Span::start_plain(name, kind, parent);
        if !attributes.is_empty() || !links.is_empty() {
            span.with_extras(|extras| {
                for attribute in attributes {
                    extras.push_attribute(attribute);
                }
                for link in links {
                    extras.push_link(link);
                }
            });
        }
        span
    }

    /// Starts a span without attributes or links: what [`span`] does, so the hot path neither
    /// passes nor drops an empty `SmallVec` and `Vec` (a call out of line, every span).
    #[inline]
    fn start_plain(name: Cow<'static, str>, kind: SpanKind, parent: SpanContext) -> Span {
        // A span of a capture (a child inherits it; a root or a span with an explicit parent takes
        // the thread's while a capture is active) records whether or not tracing runs.
        let mut capture = parent.capture();
        if capture == 0 {
            let state = collector::state();
            if state & collector::CAPTURING != 0 {
                capture = context::current_capture();
            }
            if state & collector::EXPORTING == 0 && capture == 0 {
                return Span::none();
            }
        }
        let (trace_id, parent_span_id, parent_remote, parent_sampled, random, state) =
            if parent.is_valid() {
                (
                    parent.trace_id_halves(),
                    parent.span_id(),
                    parent.is_remote(),
                    Some(parent.is_sampled()),
                    parent.trace_flags().to_u8() & RANDOM_FLAG,
                    parent.into_trace_state(),
                )
            } else {
                (
                    ids::trace_id(),
                    SpanId::INVALID,
                    false,
                    None,
                    RANDOM_FLAG,
                    TraceState::default(),
                )
            };
        let sampled = if capture == 0 {
            collector::sampler().should_sample(trace_id[1], parent_sampled)
        } else {
            // A capture records every span the code makes, unless a remote parent said no.
            parent_sampled.unwrap_or(true)
        };
        let flags = TraceFlags::new(random | u8::from(sampled));
        // The counting and the clock come before the context is made, and the context is made in
        // the span returned: a context made first lived across those calls on the stack, and
        // copying it into the span read it back wider than it was written, a store-forwarding
        // stall that `perf` put at a third of an unsampled span's time.
        if !sampled {
            if capture == 0 {
                collector::count_not_sampled();
            }
            return Span {
                ctx: SpanContext::new_local(trace_id, ids::span_id(), flags, capture, state),
                rec: ManuallyDrop::new(RefCell::new(None)),
            };
        }
        if capture == 0 {
            collector::count_started();
        }
        let start = clock::now();
        Span {
            ctx: SpanContext::new_local(trace_id, ids::span_id(), flags, capture, state),
            rec: ManuallyDrop::new(RefCell::new(Some(Recording {
                name,
                kind,
                parent_span_id,
                parent_remote,
                start,
                extras: None,
            }))),
        }
    }

    #[inline]
    fn with_recording(&self, f: impl FnOnce(&mut Recording)) {
        if let Ok(mut rec) = self.rec.try_borrow_mut()
            && let Some(rec) = rec.as_mut()
        {
            f(rec);
        }
    }

    /// Runs `f` on the span's extras, taking a (recycled) box on first use.
    #[inline]
    fn with_extras(&self, f: impl FnOnce(&mut Extras)) {
        self.with_recording(|rec| f(rec.extras.get_or_insert_with(collector::take_extras)));
    }

    /// The span's context: ids, sampled flag and trace state.
    ///
    /// # Examples
    ///
    /// ```
    /// let span = tracewire::span("x");
    /// let _trace_id = span.context().trace_id();
    /// ```
    pub fn context(&self) -> &SpanContext {
        &self.ctx
    }

    /// Whether this span records (it is sampled and has not ended).
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!tracewire::Span::none().is_recording());
    /// ```
    pub fn is_recording(&self) -> bool {
        self.rec.try_borrow().is_ok_and(|rec| rec.is_some())
    }

    /// Sets an attribute. Values keep their type in OTLP: `i64`, `f64`, `bool`, strings, and arrays
    /// of each ([`Value::Array`]). Setting a key twice keeps the last value.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracewire::{Array, Value};
    ///
    /// let span = tracewire::span("resize");
    /// span.set_attribute("image.width", 640_i64);
    /// span.set_attribute("image.ratio", 1.5);
    /// span.set_attribute("image.cached", false);
    /// span.set_attribute("image.format", "png");
    /// span.set_attribute("image.sizes", Value::Array(Array::from(vec![64_i64, 128])));
    /// ```
    #[inline]
    pub fn set_attribute(&self, key: impl Into<Key>, value: impl Into<Value>) {
        if self.ctx.is_sampled() {
            let attribute = KeyValue::new(key, value);
            self.with_extras(|extras| extras.push_attribute(attribute));
        }
    }

    /// Adds an event at the current time.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracewire::KeyValue;
    /// let span = tracewire::span("download");
    /// span.add_event("retrying", vec![KeyValue::new("attempt", 2_i64)]);
    /// ```
    #[inline]
    pub fn add_event(&self, name: impl Into<Cow<'static, str>>, attributes: Vec<KeyValue>) {
        if self.ctx.is_sampled() {
            let event = EventRecord {
                name: name.into(),
                at: clock::now(),
                attributes,
            };
            self.with_extras(|extras| extras.push_event(event));
        }
    }

    /// Links this span to another span context.
    ///
    /// # Examples
    ///
    /// ```
    /// let cause = tracewire::span("cause").context().clone();
    /// let effect = tracewire::span("effect");
    /// effect.add_link(&cause, vec![]);
    /// ```
    pub fn add_link(&self, context: &SpanContext, attributes: Vec<KeyValue>) {
        if self.ctx.is_sampled() {
            let link = Link::new(context.to_otel(), attributes, 0);
            self.with_extras(|extras| extras.push_link(link));
        }
    }

    /// Sets the status. `Ok` is final; `Unset` is ignored; otherwise the last status set wins.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracewire::Status;
    /// let span = tracewire::span("lookup");
    /// span.set_status(Status::error("user not found"));
    /// ```
    pub fn set_status(&self, status: Status) {
        if status == Status::Unset {
            return;
        }
        self.with_extras(|extras| {
            if extras.status != Status::Ok {
                extras.status = status;
            }
        });
    }

    /// Records an error the way the semantic conventions describe: an `exception` event with
    /// `exception.type` and `exception.message`, and an error status with the message.
    ///
    /// # Examples
    ///
    /// ```
    /// let span = tracewire::span("read config");
    /// if let Err(err) = std::fs::read("/does/not/exist") {
    ///     span.record_error(&err);
    /// }
    /// ```
    pub fn record_error<E: std::error::Error + ?Sized>(&self, error: &E) {
        if !self.ctx.is_sampled() {
            return;
        }
        self.record_exception(std::any::type_name::<E>(), error.to_string());
    }

    /// The `exception` event and the error status, for an error of type `type_name` (or a panic).
    pub(crate) fn record_exception(&self, type_name: &'static str, message: String) {
        let mut attributes = Vec::with_capacity(2);
        // `dyn Error` says nothing about the type; the message alone satisfies the conventions.
        if !type_name.starts_with("dyn ") {
            attributes.push(KeyValue::new("exception.type", type_name));
        }
        attributes.push(KeyValue::new("exception.message", message.clone()));
        self.add_event("exception", attributes);
        self.set_status(Status::error(message));
    }

    /// Renames the span.
    ///
    /// # Examples
    ///
    /// ```
    /// let span = tracewire::span("GET");
    /// span.update_name("GET /users/{id}");
    /// ```
    pub fn update_name(&self, name: impl Into<Cow<'static, str>>) {
        let name = name.into();
        self.with_recording(|rec| rec.name = name);
    }

    /// Makes this span current on this thread until the guard drops; spans started meanwhile
    /// become its children. The guard is `!Send`; for async code, wrap the future instead.
    ///
    /// # Examples
    ///
    /// ```
    /// let parent = tracewire::span("parent");
    /// let _entered = parent.enter();
    /// let child = tracewire::span("child");
    /// # drop(child);
    /// ```
    pub fn enter(&self) -> Entered<'_> {
        Entered::new(self.ctx.clone())
    }

    /// Ends the span now (dropping it does the same).
    ///
    /// # Examples
    ///
    /// ```
    /// let span = tracewire::span("step");
    /// span.end();
    /// ```
    #[inline]
    pub fn end(self) {
        drop(self);
    }
}

impl Drop for Span {
    #[inline(always)]
    fn drop(&mut self) {
        // Inlined: a span that does not record (off, unsampled, ended) costs this check.
        if self.rec.get_mut().is_some() {
            self.finish();
        }
    }
}

/// Starts a span with everything decided by the caller (the bridges): tracing on or off is checked
/// here, sampling in [`Span::start`].
pub(crate) fn start_span(
    name: Cow<'static, str>,
    kind: SpanKind,
    parent: SpanContext,
    attributes: SmallVec<[KeyValue; INLINE_ATTRIBUTES]>,
    links: Vec<Link>,
) -> Span {
    if !collector::is_enabled() {
        return Span::none();
    }
    Span::start(name, kind, parent, attributes, links)
}

/// What the bridges need beyond the public API: times given as `SystemTime` (the OpenTelemetry
/// API's), and a kind known only after start (`otel.kind` recorded late).
impl Span {
    /// Replaces the start time with one given by the caller.
    pub(crate) fn set_start_time(&self, at: std::time::SystemTime) {
        self.with_recording(|rec| rec.start = clock::Ticks::from_system_time(at));
    }

    /// Changes the span kind.
    #[cfg(feature = "tracing")]
    pub(crate) fn set_kind(&self, kind: SpanKind) {
        self.with_recording(|rec| rec.kind = kind);
    }

    /// Adds an event at a time given by the caller.
    pub(crate) fn add_event_at(
        &self,
        name: Cow<'static, str>,
        at: std::time::SystemTime,
        attributes: Vec<KeyValue>,
    ) {
        if self.ctx.is_sampled() {
            let event = EventRecord {
                name,
                at: clock::Ticks::from_system_time(at),
                attributes,
            };
            self.with_extras(|extras| extras.push_event(event));
        }
    }

    /// Ends the span at a time given by the caller (a span that ends this way is not the trace of
    /// a panic: the caller chose the time).
    pub(crate) fn end_at(mut self, at: std::time::SystemTime) {
        if self.rec.get_mut().is_some() {
            let end = clock::Ticks::from_system_time(at);
            collector::submit_in_place(&mut self.ctx, self.rec.get_mut(), end);
        }
    }
}

impl Span {
    /// Ends a recording span: timestamps it and hands it to the thread's buffer.
    #[inline(never)]
    fn finish(&mut self) {
        let end = clock::now();
        // A span ended by unwinding is the trace of a panic; say so unless the code already did.
        if std::thread::panicking() {
            self.mark_panicked();
        }
        collector::submit_in_place(&mut self.ctx, self.rec.get_mut(), end);
    }

    #[cold]
    fn mark_panicked(&mut self) {
        if let Some(rec) = self.rec.get_mut() {
            let extras = rec.extras.get_or_insert_with(collector::take_extras);
            if extras.status == Status::Unset {
                extras.status = Status::error("panicked");
            }
        }
    }
}

impl fmt::Debug for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Span")
            .field("context", &self.ctx)
            .field("recording", &self.is_recording())
            .finish()
    }
}

impl Default for Span {
    fn default() -> Self {
        Span::none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_and_builders_can_move_to_other_threads() {
        fn send<T: Send>() {}
        send::<Span>();
        send::<SpanBuilder>();
    }

    /// The size `benches/span.rs` explains its by-value rows with (64-bit targets).
    #[cfg(target_pointer_width = "64")]
    #[test]
    fn a_span_is_104_bytes() {
        assert_eq!(std::mem::size_of::<Span>(), 104);
    }

    #[test]
    fn a_span_that_never_started_records_nothing() {
        let span = Span::none();
        span.set_attribute("k", 1_i64);
        span.set_status(Status::error("x"));
        assert!(!span.is_recording());
        assert!(!span.context().is_valid());
    }
}
