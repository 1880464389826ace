//! The span context (ids, flags, trace state) and the current span of each thread.
//!
//! Each thread has one *current* span context. [`Span::enter`](crate::Span::enter) makes a span
//! current until its guard drops; new spans started with [`span`](crate::span) become children of
//! the current one. Nothing here locks or allocates (a trace state is shared, not copied).

mod carried;
mod sampler;

pub use carried::{Context, ContextGuard};
pub use sampler::Sampler;
pub(crate) use sampler::SamplerRule;

use std::cell::RefCell;
use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use opentelemetry::trace::{SpanId, TraceFlags, TraceId};

/// The vendor-specific part of a trace context (the W3C `tracestate` header), shared between a span
/// and its children without copying.
///
/// The members are kept as received, in order. (They are not stored as an OpenTelemetry
/// `TraceState`, whose key check refuses some keys the W3C grammar allows, such as a 14-character
/// system id in `tenant@system`.)
///
/// # Examples
///
/// ```
/// let state = tracewire::TraceState::from_header("vendor=abc,other=1").unwrap();
/// assert_eq!(state.get("vendor"), Some("abc"));
/// assert_eq!(state.header(), "vendor=abc,other=1");
/// assert!(tracewire::TraceState::default().is_empty());
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct TraceState(Option<Arc<[(String, String)]>>);

impl TraceState {
    /// Parses a `tracestate` header value.
    ///
    /// # Errors
    ///
    /// The header is not a valid W3C list of `key=value` members; the message says why.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(tracewire::TraceState::from_header("no equals sign").is_err());
    /// ```
    pub fn from_header(header: &str) -> Result<TraceState, String> {
        let header = header.trim();
        if header.is_empty() {
            return Ok(TraceState::default());
        }
        header
            .parse::<opentelemetry::trace::TraceState>()
            .map(TraceState::from_otel)
            .map_err(|e| format!("tracestate {header:?}: {e}"))
    }

    /// The value for `key`, if any.
    ///
    /// # Examples
    ///
    /// ```
    /// let state = tracewire::TraceState::from_header("k=v").unwrap();
    /// assert_eq!(state.get("k"), Some("v"));
    /// assert_eq!(state.get("missing"), None);
    /// ```
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .as_deref()?
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The `tracestate` header value (empty when there is none).
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(tracewire::TraceState::default().header(), "");
    /// ```
    pub fn header(&self) -> String {
        let members = self.0.as_deref().unwrap_or_default();
        let mut header =
            String::with_capacity(members.iter().map(|(k, v)| k.len() + v.len() + 2).sum());
        for (i, (key, value)) in members.iter().enumerate() {
            if i > 0 {
                header.push(',');
            }
            header.push_str(key);
            header.push('=');
            header.push_str(value);
        }
        header
    }

    /// Whether there are no members.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(tracewire::TraceState::default().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.0.is_none()
    }

    /// Wraps an OpenTelemetry trace state.
    ///
    /// # Examples
    ///
    /// ```
    /// let otel = tracewire::opentelemetry::trace::TraceState::from_key_value([("k", "v")]).unwrap();
    /// assert_eq!(tracewire::TraceState::from_otel(otel).get("k"), Some("v"));
    /// ```
    pub fn from_otel(state: opentelemetry::trace::TraceState) -> TraceState {
        let header = state.header();
        // OpenTelemetry's keys and values contain neither `,` nor `=`.
        TraceState::from_members(
            header
                .split(',')
                .filter_map(|member| member.split_once('='))
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
        )
    }

    /// A trace state of members already checked against the W3C grammar (by the propagators).
    pub(crate) fn from_members(members: Vec<(String, String)>) -> TraceState {
        if members.is_empty() {
            TraceState(None)
        } else {
            TraceState(Some(members.into()))
        }
    }

    /// The OpenTelemetry form of this trace state. A member whose key OpenTelemetry refuses (see
    /// the type's docs) is left out.
    ///
    /// # Examples
    ///
    /// ```
    /// let state = tracewire::TraceState::from_header("k=v").unwrap();
    /// assert_eq!(state.to_otel().get("k"), Some("v"));
    /// ```
    pub fn to_otel(&self) -> opentelemetry::trace::TraceState {
        use opentelemetry::trace::TraceState as Otel;
        let members = self.0.as_deref().unwrap_or_default();
        Otel::from_key_value(members.iter().map(|(k, v)| (k, v))).unwrap_or_else(|_| {
            Otel::from_key_value(
                members
                    .iter()
                    .filter(|(k, v)| Otel::from_key_value([(k, v)]).is_ok())
                    .map(|(k, v)| (k, v)),
            )
            .unwrap_or_default()
        })
    }
}

impl fmt::Debug for TraceState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TraceState({:?})", self.header())
    }
}

/// What identifies a span across threads and processes: trace id, span id, trace flags (sampled or
/// not), whether it came from another process, and the trace state.
///
/// Read it for log correlation or to pass a parent to another thread or service.
///
/// # Examples
///
/// ```
/// # fn main() -> Result<(), tracewire::InitError> {
/// let _guard = tracewire::Config::default().with_exporter_kind(tracewire::ExporterKind::None).init()?;
/// let span = tracewire::span("request");
/// let ctx = span.context();
/// assert!(ctx.is_valid() && ctx.is_sampled() && !ctx.is_remote());
/// println!("trace_id={} span_id={}", ctx.trace_id(), ctx.span_id());
/// # Ok(())
/// # }
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct SpanContext {
    /// The trace id as its high and low halves: the context stays 8-byte aligned and 40 bytes (a
    /// `u128` field makes it 16-byte aligned and 48), and the hot path never converts it.
    trace_id: [u64; 2],
    span_id: SpanId,
    flags: TraceFlags,
    remote: bool,
    state: TraceState,
}

impl SpanContext {
    /// The invalid context: no trace. Spans started under it are roots.
    pub const NONE: SpanContext = SpanContext {
        trace_id: [0, 0],
        span_id: SpanId::INVALID,
        flags: TraceFlags::NOT_SAMPLED,
        remote: false,
        state: TraceState(None),
    };

    /// A context from its parts, for example one extracted from an incoming request.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracewire::{SpanContext, SpanId, TraceFlags, TraceId, TraceState};
    /// let parent = SpanContext::new(
    ///     TraceId::from(0x4bf92f3577b34da6a3ce929d0e0e4736_u128),
    ///     SpanId::from(0x00f067aa0ba902b7_u64),
    ///     TraceFlags::SAMPLED,
    ///     true,
    ///     TraceState::default(),
    /// );
    /// assert!(parent.is_valid() && parent.is_remote());
    /// ```
    pub fn new(
        trace_id: TraceId,
        span_id: SpanId,
        flags: TraceFlags,
        remote: bool,
        state: TraceState,
    ) -> SpanContext {
        SpanContext {
            trace_id: split(trace_id),
            span_id,
            flags,
            remote,
            state,
        }
    }

    /// The trace id (all zeros when invalid).
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(tracewire::SpanContext::NONE.trace_id(), tracewire::TraceId::INVALID);
    /// ```
    pub fn trace_id(&self) -> TraceId {
        TraceId::from((u128::from(self.trace_id[0]) << 64) | u128::from(self.trace_id[1]))
    }

    /// The span id (all zeros when invalid).
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(tracewire::SpanContext::NONE.span_id(), tracewire::SpanId::INVALID);
    /// ```
    pub fn span_id(&self) -> SpanId {
        self.span_id
    }

    /// The W3C trace flags.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!tracewire::SpanContext::NONE.trace_flags().is_sampled());
    /// ```
    pub fn trace_flags(&self) -> TraceFlags {
        self.flags
    }

    /// Whether the trace is recorded.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!tracewire::SpanContext::NONE.is_sampled());
    /// ```
    pub fn is_sampled(&self) -> bool {
        self.flags.is_sampled()
    }

    /// Whether this context came from another process.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!tracewire::SpanContext::NONE.is_remote());
    /// ```
    pub fn is_remote(&self) -> bool {
        self.remote
    }

    /// Whether both ids are non-zero.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!tracewire::SpanContext::NONE.is_valid());
    /// ```
    pub fn is_valid(&self) -> bool {
        self.trace_id != [0, 0] && self.span_id != SpanId::INVALID
    }

    /// The trace state.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(tracewire::SpanContext::NONE.trace_state().is_empty());
    /// ```
    pub fn trace_state(&self) -> &TraceState {
        &self.state
    }

    /// The OpenTelemetry form of this context.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!tracewire::SpanContext::NONE.to_otel().is_valid());
    /// ```
    pub fn to_otel(&self) -> opentelemetry::trace::SpanContext {
        opentelemetry::trace::SpanContext::new(
            self.trace_id(),
            self.span_id,
            self.flags,
            self.remote,
            self.state.to_otel(),
        )
    }

    /// A context from its OpenTelemetry form.
    ///
    /// # Examples
    ///
    /// ```
    /// let otel = tracewire::opentelemetry::trace::SpanContext::empty_context();
    /// assert!(!tracewire::SpanContext::from_otel(&otel).is_valid());
    /// ```
    pub fn from_otel(ctx: &opentelemetry::trace::SpanContext) -> SpanContext {
        SpanContext {
            trace_id: split(ctx.trace_id()),
            span_id: ctx.span_id(),
            flags: ctx.trace_flags(),
            remote: ctx.is_remote(),
            state: TraceState::from_otel(ctx.trace_state().clone()),
        }
    }

    /// Makes this context current on this thread until the guard drops, so that spans started
    /// meanwhile become its children. Use it for a context that has no local [`Span`](crate::Span),
    /// such as one extracted from an incoming request or carried to another thread.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), tracewire::InitError> {
    /// let _guard = tracewire::Config::default().with_exporter_kind(tracewire::ExporterKind::None).init()?;
    /// let parent = tracewire::span("parent");
    /// let ctx = parent.context().clone();
    /// std::thread::spawn(move || {
    ///     let _entered = ctx.enter();
    ///     let child = tracewire::span("child on another thread");
    ///     assert_eq!(child.context().trace_id(), ctx.trace_id());
    /// })
    /// .join()
    /// .unwrap();
    /// # Ok(())
    /// # }
    /// ```
    pub fn enter(&self) -> Entered<'_> {
        Entered::new(self.clone())
    }

    pub(crate) fn new_local(
        trace_id: [u64; 2],
        span_id: SpanId,
        flags: TraceFlags,
        state: TraceState,
    ) -> Self {
        SpanContext {
            trace_id,
            span_id,
            flags,
            remote: false,
            state,
        }
    }
}

/// The trace id's high and low halves.
#[inline]
fn split(trace_id: TraceId) -> [u64; 2] {
    let id = u128::from_be_bytes(trace_id.to_bytes());
    [(id >> 64) as u64, id as u64]
}

impl SpanContext {
    /// The trace state, without cloning it.
    #[inline]
    pub(crate) fn into_trace_state(self) -> TraceState {
        self.state
    }

    /// The trace id's high and low halves, as the hot path keeps them.
    #[inline]
    pub(crate) fn trace_id_halves(&self) -> [u64; 2] {
        self.trace_id
    }
}

impl Default for SpanContext {
    fn default() -> Self {
        SpanContext::NONE
    }
}

impl fmt::Debug for SpanContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SpanContext")
            .field("trace_id", &format_args!("{}", self.trace_id()))
            .field("span_id", &format_args!("{}", self.span_id))
            .field("sampled", &self.is_sampled())
            .field("remote", &self.remote)
            .field("trace_state", &self.state)
            .finish()
    }
}

thread_local! {
    static CURRENT: RefCell<SpanContext> = const { RefCell::new(SpanContext::NONE) };
}

/// The current span context of this thread ([`SpanContext::NONE`] outside any span).
///
/// # Examples
///
/// ```
/// # fn main() -> Result<(), tracewire::InitError> {
/// let _guard = tracewire::Config::default().with_exporter_kind(tracewire::ExporterKind::None).init()?;
/// assert!(!tracewire::current_span_context().is_valid());
/// let span = tracewire::span("work");
/// let _entered = span.enter();
/// assert_eq!(tracewire::current_span_context().span_id(), span.context().span_id());
/// # Ok(())
/// # }
/// ```
pub fn current_span_context() -> SpanContext {
    CURRENT
        .try_with(|current| current.try_borrow().map(|c| c.clone()).unwrap_or_default())
        .unwrap_or_default()
}

/// Keeps a span context current on this thread; dropping it restores the one before.
///
/// It is `!Send`: a guard must be dropped on the thread that created it, so it cannot be held
/// across an `.await` in a future that moves between threads. For async code, wrap the future
/// instead.
///
/// ```compile_fail
/// fn needs_send<T: Send>(_: T) {}
/// let span = tracewire::span("work");
/// needs_send(span.enter()); // error: `*const ()` cannot be sent between threads safely
/// ```
#[must_use = "the context is current only while the guard lives"]
pub struct Entered<'a> {
    previous: Option<SpanContext>,
    _lifetime: PhantomData<&'a ()>,
    _not_send: PhantomData<*const ()>,
}

impl Entered<'_> {
    pub(crate) fn new(ctx: SpanContext) -> Self {
        let previous = CURRENT
            .try_with(|current| {
                current
                    .try_borrow_mut()
                    .ok()
                    .map(|mut c| std::mem::replace(&mut *c, ctx))
            })
            .ok()
            .flatten();
        Entered {
            previous,
            _lifetime: PhantomData,
            _not_send: PhantomData,
        }
    }
}

impl Drop for Entered<'_> {
    fn drop(&mut self) {
        if let Some(previous) = self.previous.take() {
            let _ = CURRENT.try_with(|current| {
                if let Ok(mut c) = current.try_borrow_mut() {
                    *c = previous;
                }
            });
        }
    }
}

impl fmt::Debug for Entered<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Entered").finish_non_exhaustive()
    }
}
