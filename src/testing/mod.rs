//! Helpers for testing instrumented code: [`capture`] the spans of one closure, check them against
//! a [`Profile`](crate::Profile) with [`conformance`], or export through an [`InMemoryExporter`].
//!
//! # Why capture instead of a global exporter
//!
//! [`capture`] and [`conformance`] need no [`init`](crate::init) and see only the spans of the code
//! they run: those started on the calling thread while the closure runs, and those started in the
//! threads and tasks that code hands its context to ([`Context::wrap`](crate::Context::wrap),
//! [`spawn`](crate::spawn), [`in_current_span`](crate::FutureExt::in_current_span), a span's
//! context entered elsewhere). Tests in the same binary can run in parallel, with or without
//! another test's `init`: spans of other code are never captured, and captured spans are never
//! exported. A span is captured when it ends, so join the threads and tasks the closure starts
//! before it returns.
//!
//! Every captured span is recorded, whatever the sampler (a remote parent that is not sampled
//! still wins), and none is counted in [`stats`](crate::stats). A span whose parent comes only
//! through OpenTelemetry's context on a thread the capture's context never reached is not
//! captured. When no capture is active, spans cost what they always cost: the capture is a
//! number carried in the span context, looked at only when a span has no parent.

mod conformance;

pub use crate::export::memory::InMemoryExporter;
pub use conformance::{ConformanceReport, Location, Rule, Violation, conformance};

use opentelemetry::trace::SpanId;
use opentelemetry_sdk::trace::SpanData;

use crate::collector::capture;

/// Runs `f` and returns its value with the spans it recorded, for assertions on span trees.
///
/// # Examples
///
/// ```
/// use tracewire::testing::capture;
///
/// let (total, spans) = capture(|| {
///     tracewire::in_span("checkout", |span| {
///         span.set_attribute("cart.items", 3_i64);
///         let cx = tracewire::Context::current();
///         std::thread::spawn(cx.wrap(|| tracewire::in_span("charge card", |_| 42)))
///             .join()
///             .unwrap()
///     })
/// });
/// assert_eq!(total, 42);
/// let checkout = spans.span_named("checkout").expect("captured");
/// let children: Vec<_> = spans.children_of(checkout).map(|s| s.name.as_ref()).collect();
/// assert_eq!(children, ["charge card"]);
/// assert_eq!(spans.roots().count(), 1);
/// ```
pub fn capture<R>(f: impl FnOnce() -> R) -> (R, Captured) {
    let (value, records, dropped) = capture::run(f);
    let spans = capture::to_span_data(records);
    (value, Captured { spans, dropped })
}

/// The spans a [`capture`] recorded, in the order they ended.
#[derive(Debug, Clone)]
pub struct Captured {
    spans: Vec<SpanData>,
    dropped: u64,
}

impl Captured {
    /// Every captured span, in the order they ended.
    ///
    /// # Examples
    ///
    /// ```
    /// let ((), spans) = tracewire::testing::capture(|| tracewire::in_span("a", |_| ()));
    /// assert_eq!(spans.spans().len(), 1);
    /// ```
    pub fn spans(&self) -> &[SpanData] {
        &self.spans
    }

    /// The captured spans, owned.
    ///
    /// # Examples
    ///
    /// ```
    /// let ((), spans) = tracewire::testing::capture(|| tracewire::in_span("a", |_| ()));
    /// let owned: Vec<_> = spans.into_spans();
    /// assert_eq!(owned[0].name, "a");
    /// ```
    pub fn into_spans(self) -> Vec<SpanData> {
        self.spans
    }

    /// The names of the captured spans, in the order they ended.
    ///
    /// # Examples
    ///
    /// ```
    /// let ((), spans) = tracewire::testing::capture(|| {
    ///     tracewire::in_span("parent", |_| tracewire::in_span("child", |_| ()))
    /// });
    /// assert_eq!(spans.names(), ["child", "parent"]);
    /// ```
    pub fn names(&self) -> Vec<&str> {
        self.spans.iter().map(|s| s.name.as_ref()).collect()
    }

    /// The first captured span named `name`.
    ///
    /// # Examples
    ///
    /// ```
    /// let ((), spans) = tracewire::testing::capture(|| tracewire::in_span("a", |_| ()));
    /// assert!(spans.span_named("a").is_some() && spans.span_named("b").is_none());
    /// ```
    pub fn span_named(&self, name: &str) -> Option<&SpanData> {
        self.spans.iter().find(|s| s.name == name)
    }

    /// The captured spans whose parent is `parent`, in the order they ended.
    ///
    /// # Examples
    ///
    /// ```
    /// let ((), spans) = tracewire::testing::capture(|| {
    ///     tracewire::in_span("parent", |_| tracewire::in_span("child", |_| ()))
    /// });
    /// let parent = spans.span_named("parent").unwrap();
    /// assert_eq!(spans.children_of(parent).count(), 1);
    /// ```
    pub fn children_of<'a>(&'a self, parent: &'a SpanData) -> impl Iterator<Item = &'a SpanData> {
        let id = parent.span_context.span_id();
        let trace = parent.span_context.trace_id();
        self.spans
            .iter()
            .filter(move |s| s.parent_span_id == id && s.span_context.trace_id() == trace)
    }

    /// The captured spans without a parent.
    ///
    /// # Examples
    ///
    /// ```
    /// let ((), spans) = tracewire::testing::capture(|| {
    ///     tracewire::in_span("one", |_| ());
    ///     tracewire::in_span("two", |_| ());
    /// });
    /// assert_eq!(spans.roots().count(), 2);
    /// ```
    pub fn roots(&self) -> impl Iterator<Item = &SpanData> {
        self.spans
            .iter()
            .filter(|s| s.parent_span_id == SpanId::INVALID)
    }

    /// Spans ended in the capture beyond the 100 000 it keeps (they were dropped).
    ///
    /// # Examples
    ///
    /// ```
    /// let ((), spans) = tracewire::testing::capture(|| ());
    /// assert_eq!(spans.dropped(), 0);
    /// ```
    pub fn dropped(&self) -> u64 {
        self.dropped
    }
}
