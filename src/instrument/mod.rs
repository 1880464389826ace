//! Instrumenting futures, streams and spawned work: [`FutureExt`], [`StreamExt`] (feature
//! `futures`), [`spawn`] and [`spawn_blocking`] (feature `tokio`), and the `#[traced]` macro's
//! run-time half ([`private`], hidden).
//!
//! When things happen:
//! - **every poll** of an [`Instrumented`] future makes its span current for that poll only, so a
//!   task that moves between threads takes its span along and leaves nothing behind on the thread;
//! - **completion** ends the span (a stream's span ends when the stream returns `None`);
//! - **drop before completion** ends the span with [`CANCELLED_KEY`] = `true` (not an error), the
//!   span being current while the inner future is dropped;
//! - **a panic in a poll** records an `exception` event and an error status, ends the span, and the
//!   panic goes on unwinding.
//!
//! Why not [`Span::enter`](crate::Span::enter) in async code: its guard is `!Send` and, held across
//! an `.await`, would leave the span current on a thread that has moved on to other tasks. Wrapping
//! the future makes the span current exactly while the future runs.

mod future;
#[doc(hidden)]
pub mod private;
#[cfg(feature = "tokio")]
mod spawn;

pub use future::{CANCELLED_KEY, Instrumented, WithContext};
#[cfg(feature = "tokio")]
pub use spawn::{spawn, spawn_blocking};

use std::future::Future;

use crate::context::Context;
use crate::span::Span;

/// Runs futures inside a span or a [`Context`]. Implemented for every future.
///
/// # Examples
///
/// ```
/// use tracewire::FutureExt as _;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), tracewire::InitError> {
/// # let _guard = tracewire::Config::default().with_exporter_kind(tracewire::ExporterKind::None).init()?;
/// async fn fetch(id: u64) -> u64 {
///     id * 2
/// }
/// let value = fetch(21).in_span(tracewire::span("fetch")).await;
/// assert_eq!(value, 42);
/// # Ok(())
/// # }
/// ```
pub trait FutureExt: Future + Sized {
    /// Runs this future inside `span`: current during every poll and while the future is dropped,
    /// ended when the future completes, marked cancelled ([`CANCELLED_KEY`]) if it is dropped first.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracewire::FutureExt as _;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), tracewire::InitError> {
    /// # let _guard = tracewire::Config::default().with_exporter_kind(tracewire::ExporterKind::None).init()?;
    /// let span = tracewire::span_builder("poll queue").with_kind(tracewire::SpanKind::Consumer).start();
    /// let messages = async { vec!["a", "b"] }.in_span(span).await;
    /// assert_eq!(messages.len(), 2);
    /// # Ok(())
    /// # }
    /// ```
    fn in_span(self, span: Span) -> Instrumented<Self> {
        Instrumented::new(self, span)
    }

    /// Runs this future with the context current *now* (span context and baggage) attached during
    /// every poll: spans it starts are children of the span current here, wherever it is polled.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracewire::FutureExt as _;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), tracewire::InitError> {
    /// # let _guard = tracewire::Config::default().with_exporter_kind(tracewire::ExporterKind::None).init()?;
    /// let request = tracewire::span("request");
    /// let job = {
    ///     let _entered = request.enter();
    ///     async { tracewire::span("background step").context().trace_id() }.in_current_span()
    /// };
    /// // polled later, with nothing current, its spans still join the request's trace
    /// assert_eq!(job.await, request.context().trace_id());
    /// # Ok(())
    /// # }
    /// ```
    fn in_current_span(self) -> WithContext<Self> {
        WithContext::new(self, Context::current())
    }

    /// Runs this future with `cx` attached during every poll and while it is dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracewire::{Baggage, Context, FutureExt as _, KeyValue};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let cx = Context::default().with_baggage(Baggage::from_iter([KeyValue::new("tenant", "acme")]));
    /// let tenant = async { Context::current().baggage().get("tenant").map(|v| v.to_string()) }
    ///     .with_context(cx)
    ///     .await;
    /// assert_eq!(tenant.as_deref(), Some("acme"));
    /// # }
    /// ```
    fn with_context(self, cx: Context) -> WithContext<Self> {
        WithContext::new(self, cx)
    }
}

impl<F: Future> FutureExt for F {}

/// Runs streams inside a span or a [`Context`], like [`FutureExt`] does for futures: the span is
/// current during every `poll_next` and ends when the stream ends (returns `None`), or is marked
/// cancelled when the stream is dropped first. Implemented for every `futures_core::Stream`.
///
/// # Examples
///
/// ```
/// use tracewire::StreamExt as _;
/// use futures_core::Stream;
/// use std::pin::Pin;
/// use std::task::{Context, Poll};
///
/// /// Counts down to zero.
/// struct Countdown(u32);
/// impl Stream for Countdown {
///     type Item = u32;
///     fn poll_next(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<u32>> {
///         let current = self.0;
///         self.0 = current.saturating_sub(1);
///         Poll::Ready((current > 0).then_some(current))
///     }
/// }
///
/// let stream = Countdown(3).in_span(tracewire::span("countdown"));
/// # drop(stream);
/// ```
#[cfg(feature = "futures")]
#[cfg_attr(docsrs, doc(cfg(feature = "futures")))]
pub trait StreamExt: futures_core::Stream + Sized {
    /// Runs this stream inside `span`, ended when the stream ends.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracewire::StreamExt as _;
    /// # fn items() -> impl futures_core::Stream<Item = u8> {
    /// #     struct Empty;
    /// #     impl futures_core::Stream for Empty {
    /// #         type Item = u8;
    /// #         fn poll_next(
    /// #             self: std::pin::Pin<&mut Self>,
    /// #             _: &mut std::task::Context<'_>,
    /// #         ) -> std::task::Poll<Option<u8>> {
    /// #             std::task::Poll::Ready(None)
    /// #         }
    /// #     }
    /// #     Empty
    /// # }
    /// let stream = items().in_span(tracewire::span("read items"));
    /// # drop(stream);
    /// ```
    fn in_span(self, span: Span) -> Instrumented<Self> {
        Instrumented::new(self, span)
    }

    /// Runs this stream with the context current now attached during every `poll_next`.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracewire::StreamExt as _;
    /// # fn items() -> impl futures_core::Stream<Item = u8> {
    /// #     struct Empty;
    /// #     impl futures_core::Stream for Empty {
    /// #         type Item = u8;
    /// #         fn poll_next(
    /// #             self: std::pin::Pin<&mut Self>,
    /// #             _: &mut std::task::Context<'_>,
    /// #         ) -> std::task::Poll<Option<u8>> {
    /// #             std::task::Poll::Ready(None)
    /// #         }
    /// #     }
    /// #     Empty
    /// # }
    /// let stream = items().in_current_span();
    /// # drop(stream);
    /// ```
    fn in_current_span(self) -> WithContext<Self> {
        WithContext::new(self, Context::current())
    }

    /// Runs this stream with `cx` attached during every `poll_next`.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracewire::StreamExt as _;
    /// # fn items() -> impl futures_core::Stream<Item = u8> {
    /// #     struct Empty;
    /// #     impl futures_core::Stream for Empty {
    /// #         type Item = u8;
    /// #         fn poll_next(
    /// #             self: std::pin::Pin<&mut Self>,
    /// #             _: &mut std::task::Context<'_>,
    /// #         ) -> std::task::Poll<Option<u8>> {
    /// #             std::task::Poll::Ready(None)
    /// #         }
    /// #     }
    /// #     Empty
    /// # }
    /// let stream = items().with_context(tracewire::Context::current());
    /// # drop(stream);
    /// ```
    fn with_context(self, cx: Context) -> WithContext<Self> {
        WithContext::new(self, cx)
    }
}

#[cfg(feature = "futures")]
impl<S: futures_core::Stream> StreamExt for S {}
