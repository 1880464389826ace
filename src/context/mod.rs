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

use std::cell::{Cell, RefCell};
use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use opentelemetry::trace::{SpanId, TraceFlags, TraceId};

/// The vendor-specific part of a trace context (the W3C `tracestate` header), shared between a span
/// and its children without copying.
///
/// The members are kept as received, in order. (They are not stored as an OpenTelemetry
/// `TraceState`, whose key check refuses some keys the W3C grammar allows, such as `foo@` or a
/// key with more than 13 characters after an `@`.)
///
/// # Examples
///
/// ```
/// let state = tracewire::TraceState::from_header("vendor=abc,other=1").unwrap();
/// assert_eq!(state.get("vendor"), Some("abc"));
/// assert_eq!(state.header(), "vendor=abc,other=1");
/// assert!(tracewire::TraceState::default().is_empty());
/// ```
// `Arc<Vec<..>>`, not `Arc<[..]>`: a thin pointer keeps `SpanContext` at 40 bytes (a fat one made
// it 48 and every span, recorded or not, 8 bytes larger); the extra hop is paid only when reading.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct TraceState(Option<Arc<Vec<(String, String)>>>);

impl TraceState {
    /// Parses a `tracestate` header value.
    ///
    /// # Errors
    ///
    /// The header breaks the W3C `tracestate` rules (the same ones the propagators apply): a member
    /// that is not `key=value` in the key and value grammar, or more than 32 members. The message
    /// says which.
    ///
    /// A key is `( lcalpha / DIGIT ) 0*255( keychar )`, where `keychar` is a lowercase letter, a
    /// digit, or one of `_ - * / @`: 1 to 256 characters, `@` anywhere but first. A key that
    /// appears again is not an error: the first member with it is kept, the later ones dropped (the
    /// specification lets a vendor discard duplicate keys it did not generate).
    ///
    /// # Examples
    ///
    /// ```
    /// use tracewire::TraceState;
    /// assert!(TraceState::from_header("no equals sign").is_err());
    /// assert!(TraceState::from_header("Upper=1").is_err()); // keys are lowercase
    /// assert!(TraceState::from_header("@foo=1").is_err()); // a key cannot start with `@`
    /// assert!(TraceState::from_header(&format!("{}=1", "z".repeat(257))).is_err());
    /// assert!(TraceState::from_header(&format!("{}=1", "z".repeat(256))).is_ok());
    /// assert_eq!(TraceState::from_header("foo@=1,foo@@bar=2").unwrap().get("foo@@bar"), Some("2"));
    /// assert_eq!(TraceState::from_header("a=1,b=2,a=3").unwrap().header(), "a=1,b=2");
    /// assert!(TraceState::from_header("tenant@system=1, ,b=2").is_ok()); // empty members skipped
    /// ```
    pub fn from_header(header: &str) -> Result<TraceState, String> {
        use crate::propagation::w3c::{Invalid, parse_tracestate};
        parse_tracestate(std::iter::once(header.as_bytes())).map_err(|invalid| {
            let why = match invalid {
                Invalid::Member => "a member is not `key=value` in the W3C grammar",
                Invalid::TooMany => "more than 32 members",
            };
            format!("tracestate {header:?}: {why}")
        })
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
        let members = self.0.as_deref().map_or(&[][..], Vec::as_slice);
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
            TraceState(Some(Arc::new(members)))
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
        let Some(members) = self.0.as_deref() else {
            // Most spans: no parsing, no allocation (the conversion of every span pays this).
            return Otel::NONE;
        };
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
// `repr(C)`: the two pairs at offsets 0 and 16, each written with one 16-byte store (see
// `Pair`), and the trace state after them.
#[derive(Clone)]
#[repr(C)]
pub struct SpanContext {
    /// The trace id as its high and low halves: the context stays 8-byte aligned and 40 bytes (a
    /// `u128` field makes it 16-byte aligned and 48), and the hot path never converts it.
    trace_id: Pair,
    /// The span id, then the trace flags (bits 0–7), whether the context came from another
    /// process (bit 8) and the `testing::capture` its spans belong to (bits 32–63, 0: none).
    ///
    /// Flags, remote bit and capture are one word, and that word and the span id one pair, so a
    /// span writes them with one store. Copying a context (or a span holding one) reads it 16
    /// bytes at a time; narrower stores could not be forwarded to those loads, and the stall had a
    /// quarter of an unsampled span's `perf` samples (about 1.3 of 12 ns, measured). The capture is inherited by children and
    /// carried with the context to other threads and tasks, and never propagated to other
    /// processes.
    ids: Pair,
    state: TraceState,
}

const REMOTE_BIT: u64 = 1 << 8;
const CAPTURE_SHIFT: u32 = 32;

/// What a [`Pair`] holds: on x86-64 an SSE2 register's type, so that the compiler keeps the pair
/// whole and writes it with one 16-byte store, which a later 16-byte load of it (a copy of the
/// context) is forwarded from. As `[u64; 2]`, the compiler split it into two 8-byte stores again.
#[cfg(target_arch = "x86_64")]
type Lanes = core::arch::x86_64::__m128i;
#[cfg(not(target_arch = "x86_64"))]
type Lanes = [u64; 2];

/// Two words stored as one 16-byte value, 8-byte aligned (`packed(8)`: the context stays 40
/// bytes; an aligned `__m128i` would make it 48). Only read by value, never by reference.
#[derive(Clone, Copy)]
#[repr(C, packed(8))]
struct Pair(Lanes);

impl Pair {
    // SAFETY: `Lanes` is 16 bytes of plain integers either way; all zeros is a valid value.
    const ZERO: Pair = Pair(unsafe { std::mem::transmute::<[u64; 2], Lanes>([0, 0]) });

    #[inline(always)]
    fn new(first: u64, second: u64) -> Pair {
        #[cfg(target_arch = "x86_64")]
        {
            // SAFETY: `_mm_set_epi64x` only needs SSE2, which every x86-64 processor has (it is
            // part of the target's baseline); it reads no memory.
            Pair(unsafe { core::arch::x86_64::_mm_set_epi64x(second as i64, first as i64) })
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            Pair([first, second])
        }
    }

    /// The pair as one number, the first word high: a trace id. On x86-64 the halves are swapped
    /// in the register, so that the id stays one 16-byte value on its way into an OpenTelemetry
    /// context (built in pieces, its copy stalled the export thread: `perf`, a tenth of its time).
    #[inline(always)]
    fn high_first(self) -> u128 {
        #[cfg(target_arch = "x86_64")]
        {
            // SAFETY: `_mm_shuffle_epi32` only needs SSE2, part of the x86-64 baseline; it reads
            // no memory. 0b01_00_11_10 takes 32-bit lanes 2, 3, 0, 1: the two words swapped.
            let swapped = unsafe { core::arch::x86_64::_mm_shuffle_epi32::<0b01_00_11_10>(self.0) };
            bytemuck::cast(swapped)
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            let [high, low] = self.get();
            (u128::from(high) << 64) | u128::from(low)
        }
    }

    #[inline(always)]
    fn get(self) -> [u64; 2] {
        let lanes = self.0;
        #[cfg(target_arch = "x86_64")]
        {
            bytemuck::cast(lanes)
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            lanes
        }
    }
}

/// A span id as the word the context keeps.
#[inline(always)]
fn id_word(id: SpanId) -> u64 {
    u64::from_be_bytes(id.to_bytes())
}

/// The packed word of a context's flags, remote bit and capture.
#[inline]
fn meta(flags: TraceFlags, remote: bool, capture: u32) -> u64 {
    u64::from(flags.to_u8())
        | if remote { REMOTE_BIT } else { 0 }
        | u64::from(capture) << CAPTURE_SHIFT
}

/// The capture a context belongs to is bookkeeping, not identity: it is left out.
impl PartialEq for SpanContext {
    fn eq(&self, other: &Self) -> bool {
        self.trace_id.get() == other.trace_id.get()
            && self.ids.get()[0] == other.ids.get()[0]
            && self.trace_flags() == other.trace_flags()
            && self.is_remote() == other.is_remote()
            && self.state == other.state
    }
}

impl Eq for SpanContext {}

impl SpanContext {
    /// The invalid context: no trace. Spans started under it are roots.
    pub const NONE: SpanContext = SpanContext {
        // No span id; not sampled (flags 0), not remote, no capture.
        trace_id: Pair::ZERO,
        ids: Pair::ZERO,
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
            ids: Pair::new(id_word(span_id), meta(flags, remote, 0)),
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
        TraceId::from(self.trace_id.high_first())
    }

    /// The span id (all zeros when invalid).
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(tracewire::SpanContext::NONE.span_id(), tracewire::SpanId::INVALID);
    /// ```
    pub fn span_id(&self) -> SpanId {
        SpanId::from(self.ids.get()[0])
    }

    /// The W3C trace flags.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!tracewire::SpanContext::NONE.trace_flags().is_sampled());
    /// ```
    pub fn trace_flags(&self) -> TraceFlags {
        TraceFlags::new(self.ids.get()[1] as u8)
    }

    /// Whether the trace is recorded.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!tracewire::SpanContext::NONE.is_sampled());
    /// ```
    pub fn is_sampled(&self) -> bool {
        self.trace_flags().is_sampled()
    }

    /// Whether this context came from another process.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!tracewire::SpanContext::NONE.is_remote());
    /// ```
    pub fn is_remote(&self) -> bool {
        self.ids.get()[1] & REMOTE_BIT != 0
    }

    /// Whether both ids are non-zero.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!tracewire::SpanContext::NONE.is_valid());
    /// ```
    pub fn is_valid(&self) -> bool {
        self.trace_id.get() != [0, 0] && self.ids.get()[0] != 0
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
        self.to_otel_with(self.state.to_otel())
    }

    /// [`to_otel`](Self::to_otel) with the trace state already converted: the export thread
    /// converts it first, so that the context is then made from values in registers (see
    /// `Conversion::convert_into`).
    #[inline]
    pub(crate) fn to_otel_with(
        &self,
        state: opentelemetry::trace::TraceState,
    ) -> opentelemetry::trace::SpanContext {
        opentelemetry::trace::SpanContext::new(
            self.trace_id(),
            self.span_id(),
            self.trace_flags(),
            self.is_remote(),
            state,
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
            ids: Pair::new(
                id_word(ctx.span_id()),
                meta(ctx.trace_flags(), ctx.is_remote(), 0),
            ),
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

    /// A context started here: not remote, its spans recorded into capture `capture` (0: none).
    #[inline]
    pub(crate) fn new_local(
        trace_id: [u64; 2],
        span_id: SpanId,
        flags: TraceFlags,
        capture: u32,
        state: TraceState,
    ) -> Self {
        SpanContext {
            trace_id: Pair::new(trace_id[0], trace_id[1]),
            ids: Pair::new(id_word(span_id), meta(flags, false, capture)),
            state,
        }
    }
}

/// The trace id's high and low halves.
#[inline]
fn split(trace_id: TraceId) -> Pair {
    let id = u128::from_be_bytes(trace_id.to_bytes());
    Pair::new((id >> 64) as u64, id as u64)
}

impl SpanContext {
    /// This context for the record of a span that ends: a copy when it has no trace state (the
    /// usual case: nothing to share, nothing written back), else taken, leaving
    /// [`SpanContext::NONE`].
    #[inline]
    pub(crate) fn take_for_record(&mut self) -> SpanContext {
        if self.state.is_empty() {
            self.clone()
        } else {
            std::mem::take(self)
        }
    }

    /// The trace state, without cloning it.
    #[inline]
    pub(crate) fn into_trace_state(self) -> TraceState {
        self.state
    }

    /// The trace id's high and low halves, as the hot path keeps them.
    #[inline]
    pub(crate) fn trace_id_halves(&self) -> [u64; 2] {
        self.trace_id.get()
    }

    /// The capture this context's spans are recorded into (0: none).
    #[inline]
    pub(crate) fn capture(&self) -> u32 {
        (self.ids.get()[1] >> CAPTURE_SHIFT) as u32
    }

    /// This context, with its spans recorded into capture `id`.
    #[cfg(any(test, feature = "testing"))]
    #[inline]
    pub(crate) fn with_capture(mut self, id: u32) -> SpanContext {
        self.ids = Pair::new(
            self.ids.get()[0],
            meta(self.trace_flags(), self.is_remote(), id),
        );
        self
    }
}

/// The capture of the thread's current context (0: none); read only while a capture is active.
#[cold]
#[inline(never)]
pub(crate) fn current_capture() -> u32 {
    CURRENT
        .try_with(|current| current.try_borrow().map_or(0, |c| c.capture()))
        .unwrap_or(0)
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
            .field("span_id", &format_args!("{}", self.span_id()))
            .field("sampled", &self.is_sampled())
            .field("remote", &self.is_remote())
            .field("trace_state", &self.state)
            .finish()
    }
}

thread_local! {
    static CURRENT: RefCell<SpanContext> = const { RefCell::new(SpanContext::NONE) };
    /// The span id current in OpenTelemetry's own context when `CURRENT` was last set. Read and
    /// written only while the OpenTelemetry API bridge is in use (see [`otel_api_in_use`]).
    static OTEL_SEEN: Cell<SpanId> = const { Cell::new(SpanId::INVALID) };
    /// `tracing` spans the bridge entered on this thread, innermost last (see `enter_bridged`).
    #[cfg(feature = "tracing")]
    static BRIDGED: RefCell<Vec<Frame>> = const { RefCell::new(Vec::new()) };
}

/// Set, once and for good, when tracewire's OpenTelemetry `TracerProvider` hands out a tracer.
///
/// On cache lines of its own: every span start reads it, and a neighbour written by another
/// thread (a counter of the background thread, say) would make each read a cache miss.
static OTEL_API_IN_USE: Isolated = Isolated(AtomicBool::new(false));

#[repr(align(128))]
struct Isolated(AtomicBool);

/// Says that spans may be made current through OpenTelemetry's own context (`Context::attach`), so
/// that from now on tracewire looks there too.
pub(crate) fn use_otel_api() {
    OTEL_API_IN_USE.0.store(true, Ordering::Relaxed);
}

/// Whether the OpenTelemetry API bridge is in use: one relaxed load of a flag that is written once,
/// all that the hot path pays for the bridge while it is unused.
#[inline(always)]
pub(crate) fn otel_api_in_use() -> bool {
    OTEL_API_IN_USE.0.load(Ordering::Relaxed)
}

/// The current span context of this thread ([`SpanContext::NONE`] outside any span).
///
/// Spans made current with [`Span::enter`](crate::Span::enter), by the `tracing` bridge, and (once
/// tracewire's OpenTelemetry `TracerProvider` is in use) through OpenTelemetry's
/// `Context::attach` all count: the innermost one is returned.
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
#[inline(always)]
pub fn current_span_context() -> SpanContext {
    // The check comes first and the usual path is the plain read, returned in place.
    if otel_api_in_use() {
        return current_with_otel();
    }
    tracewire_current()
}

#[cold]
#[inline(never)]
fn current_with_otel() -> SpanContext {
    innermost_with_otel(tracewire_current())
}

/// The context current in tracewire's own thread-local, OpenTelemetry's aside: what
/// [`current_span_context`] returns while the OpenTelemetry API bridge is unused.
#[inline(always)]
pub(crate) fn tracewire_current() -> SpanContext {
    CURRENT
        .try_with(|current| current.try_borrow().map(|c| c.clone()).unwrap_or_default())
        .unwrap_or_default()
}

/// [`current_span_context`], cloned into `out` (left as it is when the thread-local is unusable).
///
/// Written in place rather than returned: returning the context from `try_with` copies it out of a
/// `Result` whose tag shares a byte with the context, and reading that copy back stalls on store
/// forwarding (what `#[traced]` async fns paid at every call, capturing their parent).
#[inline]
pub(crate) fn clone_current_into(out: &mut SpanContext) {
    if otel_api_in_use() {
        *out = current_with_otel();
        return;
    }
    let _ = CURRENT.try_with(|current| {
        if let Ok(current) = current.try_borrow() {
            out.clone_from(&current);
        }
    });
}

/// The innermost of tracewire's current context and OpenTelemetry's.
///
/// # Why this works
///
/// Both are stacks on the same thread, but neither tells the other when it changes. When tracewire
/// makes a context current it notes the OpenTelemetry span current at that moment (`otel_seen`). If
/// OpenTelemetry's current span is still that one (or is tracewire's own), nothing was attached
/// since, so tracewire's context is the inner one; otherwise a span was attached inside it, and
/// that span is the inner one.
fn innermost_with_otel(ctx: SpanContext) -> SpanContext {
    let seen = OTEL_SEEN.try_with(Cell::get).unwrap_or(SpanId::INVALID);
    let attached_inside = with_otel_current(None, |cx| {
        use opentelemetry::trace::TraceContextExt as _;
        if !cx.has_active_span() {
            return None;
        }
        let span = cx.span();
        let otel = span.span_context();
        if !otel.is_valid() || otel.span_id() == seen || otel.span_id() == ctx.span_id() {
            None
        } else {
            Some(SpanContext::from_otel(otel))
        }
    });
    attached_inside.unwrap_or(ctx)
}

/// Reads OpenTelemetry's current context without letting it panic into the host: its
/// `Context::map_current` panics when its thread-local is gone (a span started from a thread-local
/// destructor) or is being changed (a span started while a context is attached or detached). Then
/// `fallback` is returned, and tracewire's own context decides.
fn with_otel_current<T>(fallback: T, f: impl FnOnce(&opentelemetry::Context) -> T) -> T {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        opentelemetry::Context::map_current(f)
    }))
    .unwrap_or(fallback)
}

/// Notes OpenTelemetry's current span as the one seen with the context being made current, and
/// returns the previous note; nothing while the bridge is unused.
#[inline]
fn swap_seen() -> SpanId {
    if !otel_api_in_use() {
        return SpanId::INVALID;
    }
    swap_seen_slow()
}

#[cold]
#[inline(never)]
fn swap_seen_slow() -> SpanId {
    use opentelemetry::trace::TraceContextExt as _;
    let now = with_otel_current(SpanId::INVALID, |cx| {
        if cx.has_active_span() {
            cx.span().span_context().span_id()
        } else {
            SpanId::INVALID
        }
    });
    OTEL_SEEN
        .try_with(|seen| seen.replace(now))
        .unwrap_or(SpanId::INVALID)
}

/// Undoes [`swap_seen`]; nothing while the bridge is unused (the note is then never written).
#[inline]
fn restore_seen(previous: SpanId) {
    if otel_api_in_use() {
        let _ = OTEL_SEEN.try_with(|seen| seen.set(previous));
    }
}

/// Makes `ctx` current and returns what was (None when the thread-local is unusable).
#[inline]
fn swap_current(ctx: SpanContext) -> Option<SpanContext> {
    CURRENT
        .try_with(|current| {
            current
                .try_borrow_mut()
                .ok()
                .map(|mut c| std::mem::replace(&mut *c, ctx))
        })
        .ok()
        .flatten()
}

#[inline]
fn restore_current(previous: SpanContext) {
    let _ = CURRENT.try_with(|current| {
        if let Ok(mut c) = current.try_borrow_mut() {
            *c = previous;
        }
    });
}

/// One `tracing` span entered on this thread by the bridge.
#[cfg(feature = "tracing")]
struct Frame {
    /// The `tracing` span id (`tracing::span::Id::into_u64`).
    id: u64,
    /// What to restore when it exits.
    previous: SpanContext,
    previous_seen: SpanId,
}

/// Makes `ctx` current for the `tracing` span `id`, until [`exit_bridged`] with the same id.
///
/// `tracing` enters and exits spans in separate callbacks, so there is no guard to hold: the
/// previous context waits in a per-thread stack. A span entered several times (or on several
/// threads) has one frame per entry on each thread.
#[cfg(feature = "tracing")]
pub(crate) fn enter_bridged(id: u64, ctx: SpanContext) {
    let previous_seen = swap_seen();
    let Some(previous) = swap_current(ctx) else {
        restore_seen(previous_seen);
        return;
    };
    let frame = Frame {
        id,
        previous,
        previous_seen,
    };
    let pushed = BRIDGED
        .try_with(|frames| {
            frames
                .try_borrow_mut()
                .map(|mut frames| frames.push(frame))
                .is_ok()
        })
        .unwrap_or(false);
    if !pushed {
        crate::diag::diag!(
            Warn,
            "a tracing span could not be made current on this thread"
        );
    }
}

/// Undoes [`enter_bridged`] for the `tracing` span `id`.
///
/// Spans usually exit innermost first; when one exits while a span entered after it is still
/// entered, it leaves the stack and the later span, when it exits, restores what this one would
/// have (so the context never falls back to a span that has exited).
#[cfg(feature = "tracing")]
pub(crate) fn exit_bridged(id: u64) {
    let restore = BRIDGED
        .try_with(|frames| {
            let mut frames = frames.try_borrow_mut().ok()?;
            let at = frames.iter().rposition(|frame| frame.id == id)?;
            let frame = frames.remove(at);
            match frames.get_mut(at) {
                // Out of order: the frame above inherits what this one would have restored.
                Some(above) => {
                    above.previous = frame.previous;
                    above.previous_seen = frame.previous_seen;
                    None
                }
                None => Some((frame.previous, frame.previous_seen)),
            }
        })
        .ok()
        .flatten();
    if let Some((previous, previous_seen)) = restore {
        restore_current(previous);
        restore_seen(previous_seen);
    }
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
    previous_seen: SpanId,
    _lifetime: PhantomData<&'a ()>,
    _not_send: PhantomData<*const ()>,
}

impl Entered<'_> {
    pub(crate) fn new(ctx: SpanContext) -> Self {
        let previous_seen = swap_seen();
        Entered {
            previous: swap_current(ctx),
            previous_seen,
            _lifetime: PhantomData,
            _not_send: PhantomData,
        }
    }
}

impl Drop for Entered<'_> {
    fn drop(&mut self) {
        if let Some(previous) = self.previous.take() {
            restore_current(previous);
        }
        restore_seen(self.previous_seen);
    }
}

impl fmt::Debug for Entered<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Entered").finish_non_exhaustive()
    }
}

#[cfg(all(test, feature = "tracing"))]
mod tests {
    use super::*;

    fn ctx(span: u64) -> SpanContext {
        SpanContext::new_local(
            [1, 1],
            SpanId::from(span),
            TraceFlags::SAMPLED,
            0,
            TraceState::default(),
        )
    }

    fn current_span() -> u64 {
        u64::from_be_bytes(current_span_context().span_id().to_bytes())
    }

    #[test]
    fn bridged_spans_exit_in_any_order() {
        enter_bridged(1, ctx(10));
        enter_bridged(2, ctx(20));
        assert_eq!(current_span(), 20);
        exit_bridged(1); // out of order: span 2 stays current
        assert_eq!(current_span(), 20);
        exit_bridged(2); // and restores what span 1 would have: nothing
        assert_eq!(current_span(), 0);
        exit_bridged(3); // never entered: ignored
        assert_eq!(current_span(), 0);
    }

    #[test]
    fn a_span_entered_twice_exits_twice() {
        enter_bridged(1, ctx(10));
        enter_bridged(1, ctx(10));
        exit_bridged(1);
        assert_eq!(current_span(), 10);
        exit_bridged(1);
        assert_eq!(current_span(), 0);
    }

    #[test]
    fn each_thread_has_its_own_frames() {
        enter_bridged(1, ctx(10));
        let other = std::thread::spawn(|| {
            assert_eq!(current_span(), 0);
            enter_bridged(1, ctx(10));
            let inside = current_span();
            exit_bridged(1);
            (inside, current_span())
        })
        .join()
        .unwrap();
        assert_eq!(other, (10, 0));
        assert_eq!(current_span(), 10);
        exit_bridged(1);
        assert_eq!(current_span(), 0);
    }

    #[test]
    fn tracewire_guards_nest_inside_bridged_spans() {
        enter_bridged(1, ctx(10));
        {
            let _entered = Entered::new(ctx(30));
            assert_eq!(current_span(), 30);
        }
        assert_eq!(current_span(), 10);
        exit_bridged(1);
        assert_eq!(current_span(), 0);
    }
}

#[cfg(test)]
mod size_tests {
    /// Every span carries a context, recorded or not: keep it at five words.
    #[test]
    fn span_context_stays_40_bytes() {
        assert_eq!(std::mem::size_of::<super::SpanContext>(), 40);
    }

    /// The flags, the remote bit and the capture share one word: none of them leaks into another.
    #[test]
    fn flags_remote_and_capture_are_kept_apart() {
        use super::{SpanContext, SpanId, TraceFlags, TraceId, TraceState};
        for flags in [0x00_u8, 0x01, 0x02, 0x03, 0xff] {
            for remote in [false, true] {
                for capture in [0_u32, 1, 0x8000_0000, u32::MAX] {
                    let ctx = SpanContext::new(
                        TraceId::from(1_u128),
                        SpanId::from(2_u64),
                        TraceFlags::new(flags),
                        remote,
                        TraceState::default(),
                    )
                    .with_capture(capture);
                    assert_eq!(ctx.trace_flags(), TraceFlags::new(flags));
                    assert_eq!(ctx.is_sampled(), flags & 1 == 1);
                    assert_eq!(ctx.is_remote(), remote);
                    assert_eq!(ctx.capture(), capture);
                    let moved = ctx.clone().with_capture(7);
                    assert_eq!(moved.capture(), 7);
                    assert_eq!(moved.trace_flags(), TraceFlags::new(flags));
                    assert_eq!(moved.is_remote(), remote);
                    assert_eq!(moved, ctx, "the capture is not part of identity");
                }
            }
        }
    }
}

/// The `unsafe` of [`Pair`] (the SSE2 intrinsic and the constant's transmute), also under miri
/// (`.ci/run` runs this module with `cargo +nightly miri test`).
#[cfg(test)]
mod pair {
    use super::{Pair, SpanContext, SpanId, TraceFlags, TraceId, TraceState};

    #[test]
    fn pairs_keep_both_words_in_order() {
        assert_eq!((Pair::ZERO.get(), Pair::ZERO.high_first()), ([0, 0], 0));
        for (first, second) in [(1, 2), (u64::MAX, 0), (0, u64::MAX), (0x0123_4567, 1 << 63)] {
            assert_eq!(Pair::new(first, second).get(), [first, second]);
            let number = (u128::from(first) << 64) | u128::from(second);
            assert_eq!(Pair::new(first, second).high_first(), number);
        }
        let pairs = [Pair::new(5, 6), Pair::new(7, 8)];
        assert_eq!(pairs.map(Pair::get), [[5, 6], [7, 8]]);
    }

    #[test]
    fn a_context_reads_back_what_it_was_made_of() {
        let trace_id = TraceId::from(0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736_u128);
        let span_id = SpanId::from(0x00f0_67aa_0ba9_02b7_u64);
        let ctx = SpanContext::new(
            trace_id,
            span_id,
            TraceFlags::SAMPLED,
            true,
            TraceState::default(),
        );
        let copy = ctx.clone();
        assert_eq!(copy.trace_id(), trace_id);
        assert_eq!(copy.span_id(), span_id);
        assert!(copy.is_sampled() && copy.is_remote() && copy.is_valid());
        assert_eq!(
            copy.trace_id_halves(),
            [0x4bf9_2f35_77b3_4da6, 0xa3ce_929d_0e0e_4736]
        );
        assert!(copy == ctx && SpanContext::NONE != ctx && !SpanContext::NONE.is_valid());
        let local = SpanContext::new_local(
            copy.trace_id_halves(),
            span_id,
            TraceFlags::SAMPLED,
            9,
            TraceState::default(),
        );
        assert_eq!((local.capture(), local.is_remote()), (9, false));
        assert_eq!(local.with_capture(3).capture(), 3);
    }
}
