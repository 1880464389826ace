//! [`InMemoryExporter`]: keeps exported spans in memory, for tests of instrumented code.
//!
//! Spans reach it the way they reach any exporter: when a batch is exported by the background
//! thread. In a test, call [`force_flush`](crate::force_flush) (or drop the guard) before reading,
//! so every span that ended has been exported.

use std::sync::{Arc, Mutex, MutexGuard};

use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};

/// An exporter that appends every exported span to a shared list.
///
/// Clones share the same list, so keep one clone and hand the other to
/// [`Config::with_exporter`](crate::Config::with_exporter). Spans stay readable after the guard is
/// dropped (shutdown keeps them).
///
/// # Examples
///
/// ```
/// use tracewire::testing::InMemoryExporter;
///
/// # fn main() -> Result<(), tracewire::InitError> {
/// let memory = InMemoryExporter::default();
/// let guard = tracewire::Config::default().with_exporter(memory.clone()).init()?;
///
/// tracewire::in_span("checkout", |span| span.set_attribute("items", 3_i64));
///
/// drop(guard); // flushes: every span that ended is exported
/// let span = memory.span_named("checkout").expect("exported");
/// assert_eq!(span.attributes[0].key.as_str(), "items");
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug, Default)]
pub struct InMemoryExporter {
    shared: Arc<Shared>,
}

#[derive(Debug, Default)]
struct Shared {
    spans: Mutex<Vec<SpanData>>,
    resource: Mutex<Option<Resource>>,
}

/// Locks without ever panicking: a panic in another test thread must not hide the spans.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl InMemoryExporter {
    /// A copy of every span exported so far, in export order.
    ///
    /// A span is exported with its batch, not when it ends: after [`force_flush`](crate::force_flush),
    /// once the schedule delay (`OTEL_BSP_SCHEDULE_DELAY`) has passed or a batch is full, or at shutdown
    /// (dropping the guard). A span that ended a moment ago is usually not here yet.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), tracewire::InitError> {
    /// let memory = tracewire::testing::InMemoryExporter::default();
    /// let _guard = tracewire::Config::default().with_exporter(memory.clone()).init()?;
    ///
    /// tracewire::in_span("parent", |_| tracewire::in_span("child", |_| ()));
    /// tracewire::force_flush().expect("flushed");
    ///
    /// let names: Vec<_> = memory.spans().iter().map(|s| s.name.to_string()).collect();
    /// assert_eq!(names, ["child", "parent"]);
    /// # Ok(())
    /// # }
    /// ```
    #[must_use]
    pub fn spans(&self) -> Vec<SpanData> {
        lock(&self.shared.spans).clone()
    }

    /// Removes and returns every span exported so far, so the next read starts empty.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), tracewire::InitError> {
    /// let memory = tracewire::testing::InMemoryExporter::default();
    /// let _guard = tracewire::Config::default().with_exporter(memory.clone()).init()?;
    ///
    /// tracewire::in_span("first request", |_| ());
    /// tracewire::force_flush().expect("flushed");
    /// assert_eq!(memory.take().len(), 1);
    /// assert!(memory.spans().is_empty());
    /// # Ok(())
    /// # }
    /// ```
    #[must_use]
    pub fn take(&self) -> Vec<SpanData> {
        std::mem::take(&mut *lock(&self.shared.spans))
    }

    /// Forgets every span exported so far.
    ///
    /// # Examples
    ///
    /// ```
    /// let memory = tracewire::testing::InMemoryExporter::default();
    /// memory.clear();
    /// assert!(memory.spans().is_empty());
    /// ```
    pub fn clear(&self) {
        lock(&self.shared.spans).clear();
    }

    /// The first exported span with this name, if any.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), tracewire::InitError> {
    /// let memory = tracewire::testing::InMemoryExporter::default();
    /// let _guard = tracewire::Config::default().with_exporter(memory.clone()).init()?;
    ///
    /// tracewire::in_span("parent", |_| tracewire::in_span("child", |_| ()));
    /// tracewire::force_flush().expect("flushed");
    ///
    /// let parent = memory.span_named("parent").unwrap();
    /// let child = memory.span_named("child").unwrap();
    /// assert_eq!(child.parent_span_id, parent.span_context.span_id());
    /// assert!(memory.span_named("missing").is_none());
    /// # Ok(())
    /// # }
    /// ```
    #[must_use]
    pub fn span_named(&self, name: &str) -> Option<SpanData> {
        lock(&self.shared.spans)
            .iter()
            .find(|s| s.name == name)
            .cloned()
    }

    /// The resource tracewire gave the exporter at start-up (service name and the rest), once
    /// [`init`](crate::Config::init) has run.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracewire::Key;
    ///
    /// # fn main() -> Result<(), tracewire::InitError> {
    /// let memory = tracewire::testing::InMemoryExporter::default();
    /// assert!(memory.resource().is_none());
    ///
    /// let _guard = tracewire::Config::default()
    ///     .with_service_name("billing")
    ///     .with_exporter(memory.clone())
    ///     .init()?;
    /// tracewire::force_flush().expect("flushed");
    ///
    /// let resource = memory.resource().expect("set at init");
    /// // "billing", unless OTEL_SERVICE_NAME says otherwise: the deployment owns the name.
    /// assert!(resource.get(&Key::from_static_str("service.name")).is_some());
    /// # Ok(())
    /// # }
    /// ```
    #[must_use]
    pub fn resource(&self) -> Option<Resource> {
        lock(&self.shared.resource).clone()
    }
}

impl SpanExporter for InMemoryExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        lock(&self.shared.spans).extend(batch);
        Ok(())
    }

    fn set_resource(&mut self, resource: &Resource) {
        *lock(&self.shared.resource) = Some(resource.clone());
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;
    use std::time::SystemTime;

    use opentelemetry::InstrumentationScope;
    use opentelemetry::trace::{SpanContext, SpanId, SpanKind, Status};
    use opentelemetry_sdk::Resource;
    use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanExporter, SpanLinks};

    use super::InMemoryExporter;

    fn span(name: &'static str) -> SpanData {
        SpanData {
            span_context: SpanContext::empty_context(),
            parent_span_id: SpanId::INVALID,
            parent_span_is_remote: false,
            span_kind: SpanKind::Internal,
            name: Cow::Borrowed(name),
            start_time: SystemTime::UNIX_EPOCH,
            end_time: SystemTime::UNIX_EPOCH,
            attributes: Vec::new(),
            dropped_attributes_count: 0,
            events: SpanEvents::default(),
            links: SpanLinks::default(),
            status: Status::Unset,
            instrumentation_scope: InstrumentationScope::builder("test").build(),
        }
    }

    fn export(exporter: &InMemoryExporter, batch: Vec<SpanData>) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        assert!(runtime.block_on(exporter.export(batch)).is_ok());
    }

    #[test]
    fn clones_share_spans_and_resource() {
        let memory = InMemoryExporter::default();
        let mut handed_over = memory.clone();
        handed_over.set_resource(&Resource::builder_empty().with_service_name("shop").build());
        export(&handed_over, vec![span("a"), span("b")]);
        export(&handed_over, vec![span("c")]);

        let names: Vec<_> = memory.spans().into_iter().map(|s| s.name).collect();
        assert_eq!(names, ["a", "b", "c"]);
        assert_eq!(memory.span_named("b").map(|s| s.name), Some("b".into()));
        assert!(memory.span_named("d").is_none());
        assert!(memory.resource().is_some());
    }

    #[test]
    fn take_empties_and_clear_forgets() {
        let memory = InMemoryExporter::default();
        export(&memory, vec![span("a"), span("b")]);
        assert_eq!(memory.take().len(), 2);
        assert!(memory.spans().is_empty());
        export(&memory, vec![span("c")]);
        memory.clear();
        assert!(memory.spans().is_empty());
    }

    #[test]
    fn spans_survive_shutdown() {
        let memory = InMemoryExporter::default();
        export(&memory, vec![span("a")]);
        assert!(memory.shutdown().is_ok());
        assert_eq!(memory.spans().len(), 1);
    }

    #[test]
    fn poisoned_lock_never_panics() {
        let memory = InMemoryExporter::default();
        export(&memory, vec![span("a")]);
        let poisoner = memory.clone();
        let _ = std::thread::spawn(move || {
            let _held = poisoner.shared.spans.lock().unwrap();
            panic!("poison the lock");
        })
        .join();
        assert!(memory.shared.spans.is_poisoned());
        export(&memory, vec![span("b")]);
        assert_eq!(memory.spans().len(), 2);
        assert_eq!(memory.take().len(), 2);
        memory.clear();
        assert!(memory.span_named("a").is_none());
    }
}
