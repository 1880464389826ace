//! Captures: finished spans of one piece of code, kept for that code's test instead of being
//! exported.
//!
//! A capture has an id. The calling thread's current context is replaced, while the capture runs,
//! by an invalid context that carries the id; every span started under it (a root on that thread,
//! a child anywhere, a span on a thread or task the context was handed to) carries the id in its
//! [`SpanContext`](crate::SpanContext), and [`submit`](super::submit) sends it here when it ends.
//! Spans of other code, on other threads, never carry the id, so parallel tests stay apart, and
//! no `init` is needed: the [`CAPTURING`](super::CAPTURING) bit lets spans start while a capture
//! is active, and only spans that belong to one record unless tracing also runs.
//!
//! The hot path pays nothing for this when no capture is active: the id is copied with the
//! context, and only a span whose parent has none looks at the state bits.

#[cfg(feature = "testing")]
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, MutexGuard};

#[cfg(feature = "testing")]
use super::CAPTURING;
use crate::span::record::SpanRecord;

/// The most spans one capture keeps; later ones are counted in [`Sink::dropped`] instead.
pub(crate) const MAX_CAPTURED_SPANS: usize = 100_000;

/// The spans of one active capture.
struct Sink {
    id: u32,
    records: Vec<SpanRecord>,
    dropped: u64,
}

static SINKS: Mutex<Vec<Sink>> = Mutex::new(Vec::new());
#[cfg(feature = "testing")]
static NEXT_ID: AtomicU32 = AtomicU32::new(1);

fn sinks() -> MutexGuard<'static, Vec<Sink>> {
    SINKS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// An active capture: spans carrying its id are kept until [`Active::finish`] (or drop).
#[cfg(feature = "testing")]
pub(crate) struct Active {
    id: u32,
    finished: bool,
}

#[cfg(feature = "testing")]
impl Active {
    /// Starts a capture and switches on recording for its spans.
    pub(crate) fn start() -> Active {
        let id = loop {
            let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
            if id != 0 {
                break id;
            }
        };
        let mut sinks = sinks();
        sinks.push(Sink {
            id,
            records: Vec::new(),
            dropped: 0,
        });
        super::set_bit(CAPTURING, true);
        Active {
            id,
            finished: false,
        }
    }

    pub(crate) fn id(&self) -> u32 {
        self.id
    }

    /// Ends the capture: the spans that ended so far, and how many were dropped past the limit.
    pub(crate) fn finish(mut self) -> (Vec<SpanRecord>, u64) {
        self.finished = true;
        self.remove()
    }

    fn remove(&self) -> (Vec<SpanRecord>, u64) {
        let mut sinks = sinks();
        let taken = match sinks.iter().position(|sink| sink.id == self.id) {
            Some(at) => {
                let sink = sinks.swap_remove(at);
                (sink.records, sink.dropped)
            }
            None => (Vec::new(), 0),
        };
        if sinks.is_empty() {
            super::set_bit(CAPTURING, false);
        }
        taken
    }
}

#[cfg(feature = "testing")]
impl Drop for Active {
    fn drop(&mut self) {
        // A closure that panicked: forget the capture so it keeps nothing alive.
        if !self.finished {
            drop(self.remove());
        }
    }
}

/// Keeps a finished span of a capture; a span whose capture has ended is dropped.
pub(crate) fn submit(record: SpanRecord) {
    let id = record.ctx.capture();
    let mut sinks = sinks();
    if let Some(sink) = sinks.iter_mut().find(|sink| sink.id == id) {
        if sink.records.len() < MAX_CAPTURED_SPANS {
            sink.records.push(record);
        } else {
            sink.dropped += 1;
        }
    }
}

/// Runs `f` with a new capture current on this thread: its value, the spans that ended before it
/// returned (in the order they ended), and how many were dropped past [`MAX_CAPTURED_SPANS`].
#[cfg(feature = "testing")]
pub(crate) fn run<R>(f: impl FnOnce() -> R) -> (R, Vec<SpanRecord>, u64) {
    // Idempotent, and what `init` does: ticks read during the capture convert with the same source.
    crate::span::clock::select_source();
    let active = Active::start();
    let value = {
        let root = crate::SpanContext::NONE.with_capture(active.id());
        let _entered = root.enter();
        f()
    };
    let (records, dropped) = active.finish();
    (value, records, dropped)
}

/// Converts captured records as the export thread would (default span limits, tracewire's scope).
#[cfg(feature = "testing")]
pub(crate) fn to_span_data(records: Vec<SpanRecord>) -> Vec<opentelemetry_sdk::trace::SpanData> {
    let conversion = super::convert::Conversion {
        clock: crate::span::clock::Converter::new(),
        limits: crate::span::limits::SpanLimits::default(),
        scope: super::convert::Scope::Tracewire,
    };
    let mut batch = Vec::with_capacity(records.len());
    for mut record in records {
        conversion.convert_into(&mut record, &mut batch);
    }
    batch
}
