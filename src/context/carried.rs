//! [`Context`]: what travels with a unit of work (the current span context and the baggage), so
//! that it can be carried to another thread, task, closure or service.

use std::cell::RefCell;
use std::fmt;
use std::marker::PhantomData;
use std::sync::{Arc, OnceLock};

use opentelemetry::baggage::Baggage;

use super::{Entered, SpanContext, current_span_context};

thread_local! {
    /// The current baggage of this thread. Only [`Context::attach`] touches it: spans never do.
    static BAGGAGE: RefCell<Option<Arc<Baggage>>> = const { RefCell::new(None) };
}

/// The span context and the W3C baggage of a unit of work.
///
/// [`Context::current`] captures what is current on this thread; [`Context::attach`] makes a
/// context current somewhere else (another thread, a blocking task, a rayon closure, the consumer
/// of a channel message), so that spans started there keep their parent instead of starting a new
/// trace. Cloning is cheap: the trace state and the baggage are shared, not copied.
///
/// # Examples
///
/// ```
/// # fn main() -> Result<(), tracewire::InitError> {
/// let _guard = tracewire::Config::default().with_exporter_kind(tracewire::ExporterKind::None).init()?;
/// let parent = tracewire::span("parent");
/// let _entered = parent.enter();
/// let cx = tracewire::Context::current();
/// std::thread::spawn(cx.wrap(|| {
///     let child = tracewire::span("child on another thread");
///     assert_eq!(child.context().trace_id(), tracewire::current_span_context().trace_id());
/// }))
/// .join()
/// .unwrap();
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Default)]
pub struct Context {
    span: SpanContext,
    baggage: Option<Arc<Baggage>>,
}

impl Context {
    /// The context current on this thread: the current span context and baggage.
    ///
    /// # Examples
    ///
    /// ```
    /// let cx = tracewire::Context::current();
    /// assert!(!cx.span_context().is_valid()); // no span is current
    /// assert!(cx.baggage().is_empty());
    /// ```
    pub fn current() -> Context {
        let baggage = BAGGAGE
            .try_with(|b| b.try_borrow().ok().and_then(|b| b.clone()))
            .ok()
            .flatten();
        Context {
            span: current_span_context(),
            baggage,
        }
    }

    /// A context holding only a span context (no baggage).
    ///
    /// # Examples
    ///
    /// ```
    /// let cx = tracewire::Context::from_span_context(tracewire::SpanContext::NONE);
    /// assert!(!cx.span_context().is_valid());
    /// ```
    pub fn from_span_context(span: SpanContext) -> Context {
        Context {
            span,
            baggage: None,
        }
    }

    /// This context with another span context (the baggage is kept).
    ///
    /// # Examples
    ///
    /// ```
    /// let cx = tracewire::Context::current().with_span_context(tracewire::SpanContext::NONE);
    /// assert!(!cx.span_context().is_valid());
    /// ```
    pub fn with_span_context(mut self, span: SpanContext) -> Context {
        self.span = span;
        self
    }

    /// This context with other baggage (the span context is kept).
    ///
    /// # Examples
    ///
    /// ```
    /// use tracewire::{Baggage, Context, KeyValue};
    /// let baggage = Baggage::from_iter([KeyValue::new("tenant", "acme")]);
    /// let cx = Context::current().with_baggage(baggage);
    /// assert_eq!(cx.baggage().get("tenant").map(|v| v.as_str()), Some("acme"));
    /// ```
    pub fn with_baggage(mut self, baggage: Baggage) -> Context {
        self.baggage = if baggage.is_empty() {
            None
        } else {
            Some(Arc::new(baggage))
        };
        self
    }

    /// The span context (invalid when no span is current).
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!tracewire::Context::default().span_context().is_valid());
    /// ```
    pub fn span_context(&self) -> &SpanContext {
        &self.span
    }

    /// The baggage (empty when there is none).
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(tracewire::Context::default().baggage().is_empty());
    /// ```
    pub fn baggage(&self) -> &Baggage {
        static EMPTY: OnceLock<Baggage> = OnceLock::new();
        match &self.baggage {
            Some(baggage) => baggage,
            None => EMPTY.get_or_init(Baggage::new),
        }
    }

    /// Makes this context current on this thread until the guard drops: spans started meanwhile
    /// become children of its span context, and [`Context::current`] returns its baggage.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracewire::{Baggage, Context, KeyValue};
    /// let cx = Context::default().with_baggage(Baggage::from_iter([KeyValue::new("k", "v")]));
    /// {
    ///     let _attached = cx.attach();
    ///     assert_eq!(Context::current().baggage().get("k").map(|v| v.as_str()), Some("v"));
    /// }
    /// assert!(Context::current().baggage().is_empty());
    /// ```
    pub fn attach(&self) -> ContextGuard {
        let previous_baggage = BAGGAGE
            .try_with(|b| {
                b.try_borrow_mut()
                    .ok()
                    .map(|mut b| std::mem::replace(&mut *b, self.baggage.clone()))
            })
            .ok()
            .flatten();
        ContextGuard {
            _span: Entered::new(self.span.clone()),
            previous_baggage,
            _not_send: PhantomData,
        }
    }

    /// Runs `f` with this context attached.
    ///
    /// # Examples
    ///
    /// ```
    /// let cx = tracewire::Context::default();
    /// assert_eq!(cx.in_scope(|| 40 + 2), 42);
    /// ```
    pub fn in_scope<R>(&self, f: impl FnOnce() -> R) -> R {
        let _attached = self.attach();
        f()
    }

    /// Wraps a closure so that it runs with this context attached, wherever it is called: pass the
    /// result to `std::thread::spawn`, `tokio::task::spawn_blocking`, a rayon closure or a channel
    /// message.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), tracewire::InitError> {
    /// let _guard = tracewire::Config::default().with_exporter_kind(tracewire::ExporterKind::None).init()?;
    /// let parent = tracewire::span("parent");
    /// let job = tracewire::Context::from_span_context(parent.context().clone())
    ///     .wrap(|| tracewire::span("job").context().trace_id());
    /// let trace_id = std::thread::spawn(job).join().unwrap();
    /// assert_eq!(trace_id, parent.context().trace_id());
    /// # Ok(())
    /// # }
    /// ```
    pub fn wrap<F, R>(self, f: F) -> impl FnOnce() -> R + Send + 'static
    where
        F: FnOnce() -> R + Send + 'static,
    {
        move || self.in_scope(f)
    }
}

impl From<SpanContext> for Context {
    fn from(span: SpanContext) -> Context {
        Context::from_span_context(span)
    }
}

impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("span", &self.span)
            .field("baggage", &self.baggage().len())
            .finish()
    }
}

/// Keeps a [`Context`] current on this thread; dropping it restores what was current before.
///
/// It is `!Send`, like [`Entered`]:
///
/// ```compile_fail
/// fn needs_send<T: Send>(_: T) {}
/// needs_send(tracewire::Context::default().attach());
/// ```
#[must_use = "the context is current only while the guard lives"]
pub struct ContextGuard {
    _span: Entered<'static>,
    previous_baggage: Option<Option<Arc<Baggage>>>,
    _not_send: PhantomData<*const ()>,
}

impl Drop for ContextGuard {
    fn drop(&mut self) {
        if let Some(previous) = self.previous_baggage.take() {
            let _ = BAGGAGE.try_with(|b| {
                if let Ok(mut b) = b.try_borrow_mut() {
                    *b = previous;
                }
            });
        }
    }
}

impl fmt::Debug for ContextGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ContextGuard").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::KeyValue;

    #[test]
    fn attach_restores_span_and_baggage_in_nesting_order() {
        let outer = Context::default().with_baggage(Baggage::from_iter([KeyValue::new("a", "1")]));
        let inner = Context::default().with_baggage(Baggage::from_iter([KeyValue::new("b", "2")]));
        let g1 = outer.attach();
        {
            let _g2 = inner.attach();
            assert!(Context::current().baggage().get("a").is_none());
            assert!(Context::current().baggage().get("b").is_some());
        }
        assert!(Context::current().baggage().get("a").is_some());
        drop(g1);
        assert!(Context::current().baggage().is_empty());
    }

    #[test]
    fn empty_baggage_is_stored_as_none() {
        let cx = Context::default().with_baggage(Baggage::new());
        assert!(cx.baggage.is_none());
    }
}
