//! [`Instrumented`] and [`WithContext`]: futures (and streams) that keep a span or a [`Context`]
//! current during every poll and while the inner future is dropped.

use std::any::Any;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::pin::Pin;
use std::task::{self, Poll};

use pin_project::{pin_project, pinned_drop};

use crate::context::{Context, Entered};
use crate::diag::diag;
use crate::span::Span;

/// The attribute set on a span whose future or stream was dropped before it completed
/// (`true`). A cancelled span keeps an unset status: cancellation is not an error.
pub const CANCELLED_KEY: &str = "tracewire.cancelled";

/// A future or stream with a span: the span is current during every poll and while the inner
/// future is dropped, and it ends when the future completes (the stream ends). Made by
/// [`FutureExt::in_span`](crate::FutureExt::in_span) and by `#[traced]` on an `async fn`.
///
/// Dropped before completion, the span ends with the attribute [`CANCELLED_KEY`] = `true`. A panic
/// inside a poll records an `exception` event (`exception.type` = `panic`, the panic message) and an
/// error status on the span, which then ends; the panic goes on unwinding.
///
/// It is `Send` when the inner future is (a [`Span`] is `Send`).
///
/// # Examples
///
/// ```
/// use tracewire::FutureExt as _;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), tracewire::InitError> {
/// # let _guard = tracewire::Config::default().with_exporter_kind(tracewire::ExporterKind::None).init()?;
/// let span = tracewire::span("load user");
/// let span_id = span.context().span_id();
/// let seen = async { tracewire::current_span_context().span_id() }.in_span(span).await;
/// assert_eq!(seen, span_id); // the span was current while the future ran
/// # Ok(())
/// # }
/// ```
#[pin_project(PinnedDrop)]
#[must_use = "futures do nothing unless polled or awaited"]
pub struct Instrumented<F> {
    /// `None` once the future completed (it is dropped then, with the span current).
    #[pin]
    inner: Option<F>,
    /// `None` once the span ended (or was handed back by [`KeepSpan`]).
    span: Option<Span>,
}

impl<F> Instrumented<F> {
    pub(crate) fn new(inner: F, span: Span) -> Self {
        Instrumented {
            inner: Some(inner),
            span: Some(span),
        }
    }

    /// The span, until it ends.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracewire::FutureExt as _;
    /// let future = async {}.in_span(tracewire::span("work"));
    /// assert!(future.span().is_some());
    /// ```
    pub fn span(&self) -> Option<&Span> {
        self.span.as_ref()
    }

    /// The inner future, pinned, until it completes.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracewire::FutureExt as _;
    /// let mut future = Box::pin(async {}.in_span(tracewire::span("work")));
    /// assert!(future.as_mut().inner_pin_mut().is_some());
    /// ```
    pub fn inner_pin_mut(self: Pin<&mut Self>) -> Option<Pin<&mut F>> {
        self.project().inner.as_pin_mut()
    }

    /// The inner future (`None` once it completed); the span ends now, not marked cancelled.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracewire::FutureExt as _;
    /// let future = std::future::ready(7).in_span(tracewire::span("work"));
    /// let inner = future.into_inner().expect("not polled yet");
    /// # drop(inner);
    /// ```
    pub fn into_inner(mut self) -> Option<F> {
        self.inner.take()
    }

    /// Polls the inner value with the span current. When `poll` says the inner value is done, it
    /// is dropped (span still current); the span itself is left for the caller to end or keep.
    fn poll_with<T>(
        self: Pin<&mut Self>,
        poll: impl FnOnce(Pin<&mut F>) -> Poll<T>,
        is_last: impl FnOnce(&T) -> bool,
    ) -> Poll<T> {
        let mut this = self.project();
        let _entered = this.span.as_ref().and_then(enter);
        if !this.span.as_ref().is_some_and(Span::is_recording) {
            return poll_inner(this.inner, poll, is_last);
        }
        match catch_unwind(AssertUnwindSafe(|| {
            poll_inner(this.inner.as_mut(), poll, is_last)
        })) {
            Ok(polled) => polled,
            Err(payload) => {
                if let Some(span) = this.span.take() {
                    record_panic(&span, &*payload);
                    this.inner.set(None); // dropped with the span current
                    drop(span);
                }
                resume_unwind(payload)
            }
        }
    }

    /// The span, taken out (ended by the caller, or handed back).
    fn take_span(self: Pin<&mut Self>) -> Span {
        self.project().span.take().unwrap_or_default()
    }
}

impl<F: Future> Future for Instrumented<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut task::Context<'_>) -> Poll<F::Output> {
        let output = std::task::ready!(self.as_mut().poll_with(|f| f.poll(cx), |_| true));
        drop(self.take_span());
        Poll::Ready(output)
    }
}

#[cfg(feature = "futures")]
impl<S: futures_core::Stream> futures_core::Stream for Instrumented<S> {
    type Item = S::Item;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut task::Context<'_>) -> Poll<Option<S::Item>> {
        let item = std::task::ready!(
            self.as_mut()
                .poll_with(|s| s.poll_next(cx), Option::is_none)
        );
        if item.is_none() {
            drop(self.take_span());
        }
        Poll::Ready(item)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.as_ref().map_or((0, Some(0)), |s| s.size_hint())
    }
}

#[pinned_drop]
impl<F> PinnedDrop for Instrumented<F> {
    fn drop(self: Pin<&mut Self>) {
        let mut this = self.project();
        if this.inner.is_none() {
            return;
        }
        // Dropped before completion: the span is current while the inner future is dropped.
        let _entered = this.span.as_ref().and_then(enter);
        if let Some(span) = this.span.as_ref() {
            span.set_attribute(CANCELLED_KEY, true);
        }
        this.inner.set(None);
    }
}

impl<F> std::fmt::Debug for Instrumented<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Instrumented")
            .field("span", &self.span)
            .field("completed", &self.inner.is_none())
            .finish()
    }
}

/// Like [`Instrumented`], but completes with the output *and* the span (not ended), for
/// `#[traced(err)]`/`#[traced(ret)]` to record the output first.
#[doc(hidden)]
#[pin_project]
#[must_use = "futures do nothing unless polled or awaited"]
pub struct KeepSpan<F>(#[pin] pub(crate) Instrumented<F>);

impl<F: Future> Future for KeepSpan<F> {
    type Output = (F::Output, Span);

    fn poll(self: Pin<&mut Self>, cx: &mut task::Context<'_>) -> Poll<Self::Output> {
        let mut inner = self.project().0;
        let output = std::task::ready!(inner.as_mut().poll_with(|f| f.poll(cx), |_| true));
        Poll::Ready((output, inner.take_span()))
    }
}

/// A future or stream that runs with a [`Context`] attached during every poll and while it is
/// dropped. Made by [`FutureExt::with_context`](crate::FutureExt::with_context) and
/// [`FutureExt::in_current_span`](crate::FutureExt::in_current_span); it is what
/// [`spawn`](crate::spawn) wraps a task in, so spans started in the task keep their parent.
///
/// # Examples
///
/// ```
/// use tracewire::FutureExt as _;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), tracewire::InitError> {
/// # let _guard = tracewire::Config::default().with_exporter_kind(tracewire::ExporterKind::None).init()?;
/// let parent = tracewire::span("request");
/// let cx = tracewire::Context::from_span_context(parent.context().clone());
/// let child_trace = async { tracewire::span("step").context().trace_id() }
///     .with_context(cx)
///     .await;
/// assert_eq!(child_trace, parent.context().trace_id());
/// # Ok(())
/// # }
/// ```
#[pin_project(PinnedDrop)]
#[must_use = "futures do nothing unless polled or awaited"]
pub struct WithContext<F> {
    #[pin]
    inner: Option<F>,
    cx: Context,
}

impl<F> WithContext<F> {
    pub(crate) fn new(inner: F, cx: Context) -> Self {
        WithContext {
            inner: Some(inner),
            cx,
        }
    }

    /// The context attached during polls.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracewire::FutureExt as _;
    /// let future = async {}.with_context(tracewire::Context::default());
    /// assert!(!future.context().span_context().is_valid());
    /// ```
    pub fn context(&self) -> &Context {
        &self.cx
    }

    /// The inner future, pinned, until it completes.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracewire::FutureExt as _;
    /// let mut future = Box::pin(async {}.in_current_span());
    /// assert!(future.as_mut().inner_pin_mut().is_some());
    /// ```
    pub fn inner_pin_mut(self: Pin<&mut Self>) -> Option<Pin<&mut F>> {
        self.project().inner.as_pin_mut()
    }

    /// The inner future (`None` once it completed).
    ///
    /// # Examples
    ///
    /// ```
    /// use tracewire::FutureExt as _;
    /// let future = std::future::ready(7).in_current_span();
    /// assert!(future.into_inner().is_some());
    /// ```
    pub fn into_inner(mut self) -> Option<F> {
        self.inner.take()
    }

    fn poll_with<T>(
        self: Pin<&mut Self>,
        poll: impl FnOnce(Pin<&mut F>) -> Poll<T>,
        is_last: impl FnOnce(&T) -> bool,
    ) -> Poll<T> {
        let this = self.project();
        let _attached = this.cx.attach();
        poll_inner(this.inner, poll, is_last)
    }
}

impl<F: Future> Future for WithContext<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut task::Context<'_>) -> Poll<F::Output> {
        self.poll_with(|f| f.poll(cx), |_| true)
    }
}

#[cfg(feature = "futures")]
impl<S: futures_core::Stream> futures_core::Stream for WithContext<S> {
    type Item = S::Item;

    fn poll_next(self: Pin<&mut Self>, cx: &mut task::Context<'_>) -> Poll<Option<S::Item>> {
        self.poll_with(|s| s.poll_next(cx), Option::is_none)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.as_ref().map_or((0, Some(0)), |s| s.size_hint())
    }
}

#[pinned_drop]
impl<F> PinnedDrop for WithContext<F> {
    fn drop(self: Pin<&mut Self>) {
        let mut this = self.project();
        if this.inner.is_some() {
            let _attached = this.cx.attach();
            this.inner.set(None);
        }
    }
}

impl<F> std::fmt::Debug for WithContext<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WithContext")
            .field("cx", &self.cx)
            .field("completed", &self.inner.is_none())
            .finish()
    }
}

/// Polls the inner value, if it is still there; drops it (in place) once `is_last` says it is done.
fn poll_inner<F, T>(
    mut inner: Pin<&mut Option<F>>,
    poll: impl FnOnce(Pin<&mut F>) -> Poll<T>,
    is_last: impl FnOnce(&T) -> bool,
) -> Poll<T> {
    let Some(pinned) = inner.as_mut().as_pin_mut() else {
        polled_after_completion();
        return Poll::Pending;
    };
    let polled = poll(pinned);
    if let Poll::Ready(value) = &polled
        && is_last(value)
    {
        inner.set(None);
    }
    polled
}

/// Makes the span's context current, unless it has none (tracing off): then nothing is touched.
#[inline]
pub(crate) fn enter(span: &Span) -> Option<Entered<'static>> {
    let ctx = span.context();
    ctx.is_valid().then(|| Entered::new(ctx.clone()))
}

/// Records a panic caught while `span` was current: an `exception` event with the panic message
/// and an error status.
pub(crate) fn record_panic(span: &Span, payload: &(dyn Any + Send)) {
    let message = if let Some(message) = payload.downcast_ref::<&'static str>() {
        (*message).to_owned()
    } else if let Some(message) = payload.downcast_ref::<String>() {
        message.clone()
    } else {
        "panic with a non-string payload".to_owned()
    };
    span.record_exception("panic", message);
}

#[cold]
fn polled_after_completion() {
    diag!(
        Warn,
        "a tracewire-instrumented future or stream was polled after it completed; it stays pending"
    );
}
