//! Per-thread span buffers, the counters behind [`stats`], and the switches the hot path reads.
//!
//! Each thread that ends a span gets a bounded single-producer ring on first use and registers it
//! (one lock, once per thread). Ending a span pushes into the ring: no lock, no system call; a full
//! ring drops the span and counts it. The background [`worker`] drains every ring, converts the
//! records to OTLP span data and exports them in batches.
//!
//! # The invariant
//!
//! With `dropped = dropped_buffer_full + dropped_export_failed + dropped_shutdown`,
//! `spans_ended == spans_exported + dropped + queued` holds whenever the background thread is idle:
//! right after [`force_flush`](crate::force_flush) returns, if no other thread ends spans meanwhile.

pub(crate) mod capture;
pub(crate) mod convert;
pub(crate) mod policy;
mod queue;
mod stats;
pub(crate) mod worker;

pub use stats::Stats;

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use rtrb::{Consumer, Producer, RingBuffer};
use tokio::sync::Notify;

use crate::context::SamplerRule;
use crate::span::record::{Extras, SpanRecord};

/// Default for [`Config::with_thread_buffer_size`](crate::Config::with_thread_buffer_size): finished
/// spans each thread buffers for the background thread.
pub const DEFAULT_THREAD_BUFFER_SIZE: usize = 1024;
/// The longest [`Config::with_shutdown_timeout`](crate::Config::with_shutdown_timeout): one hour.
pub const MAX_SHUTDOWN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3600);

/// What records spans now, one bit each: [`EXPORTING`] while a background thread runs (from `init`
/// until the guard drops: finished spans are buffered for it only then), [`CAPTURING`] while a
/// [`capture`] is active. Zero is "off", which the hot path checks with one relaxed load.
static STATE: AtomicU8 = AtomicU8::new(0);
pub(crate) const EXPORTING: u8 = 1;
pub(crate) const CAPTURING: u8 = 2;
static SAMPLER_PARENT_BASED: AtomicBool = AtomicBool::new(true);
static SAMPLER_ROOT_BOUND: AtomicU64 = AtomicU64::new(u64::MAX);
static THREAD_BUFFER_SIZE: AtomicUsize = AtomicUsize::new(DEFAULT_THREAD_BUFFER_SIZE);
/// Bumped by each `init`, so threads pick up a new buffer size.
static GENERATION: AtomicU64 = AtomicU64::new(0);

/// Wakes the background thread early when a ring fills up.
pub(crate) static WAKE: Notify = Notify::const_new();

/// Whether spans may record now: one relaxed load, the whole cost of a span when tracing is off.
#[inline]
pub(crate) fn is_enabled() -> bool {
    STATE.load(Ordering::Relaxed) != 0
}

/// The [`STATE`] bits, for a span that starts: is the pipeline running, is a capture active.
#[inline]
pub(crate) fn state() -> u8 {
    STATE.load(Ordering::Relaxed)
}

/// Whether the background thread runs (finished spans are buffered for it).
#[inline]
fn exporting() -> bool {
    STATE.load(Ordering::Acquire) & EXPORTING != 0
}

#[inline]
pub(crate) fn sampler() -> SamplerRule {
    SamplerRule {
        parent_based: SAMPLER_PARENT_BASED.load(Ordering::Relaxed),
        root_bound: SAMPLER_ROOT_BOUND.load(Ordering::Relaxed),
    }
}

pub(crate) fn configure(rule: SamplerRule, thread_buffer_size: usize) {
    SAMPLER_PARENT_BASED.store(rule.parent_based, Ordering::Relaxed);
    SAMPLER_ROOT_BOUND.store(rule.root_bound, Ordering::Relaxed);
    THREAD_BUFFER_SIZE.store(thread_buffer_size.max(16), Ordering::Relaxed);
    GENERATION.fetch_add(1, Ordering::Relaxed);
}

pub(crate) fn set_enabled(enabled: bool) {
    set_bit(EXPORTING, enabled);
}

pub(crate) fn set_bit(bit: u8, on: bool) {
    if on {
        STATE.fetch_or(bit, Ordering::Release);
    } else {
        STATE.fetch_and(!bit, Ordering::Release);
    }
}

/// Counters written by one thread only (so a relaxed load and store, no read-modify-write).
///
/// Aligned to two cache lines so that no other data shares them: a neighbour written by another
/// thread would make every count a cache miss (false sharing).
#[derive(Debug, Default)]
#[repr(align(128))]
pub(crate) struct ThreadCounters {
    started: AtomicU64,
    not_sampled: AtomicU64,
    ended: AtomicU64,
    dropped_full: AtomicU64,
}

#[inline]
fn bump(counter: &AtomicU64) {
    counter.store(
        counter.load(Ordering::Relaxed).wrapping_add(1),
        Ordering::Relaxed,
    );
}

/// Counters of the background thread and of rare paths, shared by all threads.
#[derive(Debug, Default)]
pub(crate) struct GlobalCounters {
    pub(crate) exported: AtomicU64,
    /// Spans dropped because no thread buffer could take them (thread teardown).
    pub(crate) dropped_unbuffered: AtomicU64,
    pub(crate) dropped_export_failed: AtomicU64,
    pub(crate) dropped_shutdown: AtomicU64,
    pub(crate) export_requests: AtomicU64,
    pub(crate) export_errors: AtomicU64,
    /// Spans ended where no thread buffer could take them (thread teardown).
    pub(crate) ended_unbuffered: AtomicU64,
    /// Finished spans held by the background thread or in rings, as last seen by it.
    pub(crate) queued: AtomicU64,
    /// Attribute values replaced by the profile's redaction rules.
    pub(crate) attributes_redacted: AtomicU64,
    /// Span names changed by the profile's name normalisation.
    pub(crate) span_names_normalized: AtomicU64,
}

pub(crate) static GLOBAL: GlobalCounters = GlobalCounters {
    exported: AtomicU64::new(0),
    dropped_unbuffered: AtomicU64::new(0),
    dropped_export_failed: AtomicU64::new(0),
    dropped_shutdown: AtomicU64::new(0),
    export_requests: AtomicU64::new(0),
    export_errors: AtomicU64::new(0),
    ended_unbuffered: AtomicU64::new(0),
    queued: AtomicU64::new(0),
    attributes_redacted: AtomicU64::new(0),
    span_names_normalized: AtomicU64::new(0),
};

pub(crate) static LAST_EXPORT_ERROR: Mutex<Option<String>> = Mutex::new(None);

/// The background thread's ends of one thread's two rings.
pub(crate) struct RingPair {
    /// Unique per ring, so a flush can name the rings it waits for.
    pub(crate) id: u64,
    /// Records taken from `records` so far.
    pub(crate) popped: u64,
    /// Finished spans, from the thread.
    pub(crate) records: Consumer<SpanRecord>,
    /// Emptied extras, back to the thread for its next spans.
    pub(crate) free: Producer<Box<Extras>>,
}

static NEXT_RING_ID: AtomicU64 = AtomicU64::new(0);

impl RingPair {
    /// Discards the finished spans buffered now (not those pushed meanwhile) and returns how many.
    pub(crate) fn discard_buffered(&mut self) -> u64 {
        let mut discarded = 0;
        for _ in 0..self.records.slots() {
            if self.records.pop().is_err() {
                break;
            }
            discarded += 1;
        }
        self.popped += discarded;
        discarded
    }
}

/// Rings waiting to be picked up by the background thread, and every thread's counters.
struct Registry {
    pending: Vec<RingPair>,
    threads: Vec<Arc<ThreadCounters>>,
    /// Totals of threads that have exited.
    retired: Stats,
    /// The totals when the current `init` ran: `stats()` counts from there.
    baseline: Stats,
}

static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
    pending: Vec::new(),
    threads: Vec::new(),
    retired: Stats::ZERO,
    baseline: Stats::ZERO,
});

fn registry() -> MutexGuard<'static, Registry> {
    REGISTRY
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The calling thread's rings and counters.
struct ThreadBuffer {
    counters: Arc<ThreadCounters>,
    producer: Option<Producer<SpanRecord>>,
    /// Emptied extras coming back from the background thread.
    free: Option<Consumer<Box<Extras>>>,
    /// The extras of the last span dropped for want of room, kept for the next span.
    spare: Option<Box<Extras>>,
    generation: u64,
    capacity: usize,
    /// Pushes since the ring's fill level was last checked.
    since_check: usize,
}

impl ThreadBuffer {
    #[cold]
    fn register() -> ThreadBuffer {
        let counters = Arc::new(ThreadCounters::default());
        registry().threads.push(Arc::clone(&counters));
        ThreadBuffer {
            counters,
            producer: None,
            free: None,
            spare: None,
            generation: u64::MAX,
            capacity: 0,
            since_check: 0,
        }
    }

    #[cold]
    fn new_ring(&mut self) {
        let capacity = THREAD_BUFFER_SIZE.load(Ordering::Relaxed);
        let (producer, records) = RingBuffer::new(capacity);
        let (free, recycled) = RingBuffer::new(capacity);
        let id = NEXT_RING_ID.fetch_add(1, Ordering::Relaxed);
        registry().pending.push(RingPair {
            id,
            popped: 0,
            records,
            free,
        });
        // Dropping the old producer, if any, lets the worker drain and forget its ring.
        self.producer = Some(producer);
        self.free = Some(recycled);
        self.capacity = capacity;
        self.generation = GENERATION.load(Ordering::Relaxed);
        self.since_check = 0;
    }

    /// An empty extras box: a recycled one when the background thread has returned some.
    #[inline]
    fn take_extras(&mut self) -> Box<Extras> {
        if let Some(extras) = self.spare.take() {
            return extras;
        }
        if let Some(extras) = self.free.as_mut().and_then(|free| free.pop().ok()) {
            return extras;
        }
        Box::new(Extras::blank())
    }

    #[inline]
    fn push(&mut self, record: SpanRecord) {
        bump(&self.counters.ended);
        if self.generation != GENERATION.load(Ordering::Relaxed) {
            self.new_ring();
        }
        let Some(producer) = self.producer.as_mut() else {
            bump(&self.counters.dropped_full);
            return;
        };
        if let Err(rtrb::PushError::Full(record)) = producer.push(record) {
            bump(&self.counters.dropped_full);
            // Keep the extras for the next span, emptied here since the worker will not see them.
            if let Some(mut extras) = record.rec.extras {
                *extras = Extras::blank();
                self.spare = Some(extras);
            }
            // Look at the clock (for the rate limit) only once per 4096 drops.
            if self.counters.dropped_full.load(Ordering::Relaxed) % 4096 == 1 {
                crate::diag::diag!(
                    Warn,
                    "a thread's span buffer ({} spans) is full: spans are dropped; the exporter is \
                     not keeping up (raise Config::with_thread_buffer_size or OTEL_BSP_MAX_QUEUE_SIZE)",
                    self.capacity
                );
            }
        }
        // Every quarter ring, wake the background thread if the ring is more than half full.
        self.since_check += 1;
        if self.since_check >= self.capacity / 4 {
            self.since_check = 0;
            if producer.slots() < self.capacity / 2 {
                WAKE.notify_one();
            }
        }
    }
}

thread_local! {
    static BUFFER: RefCell<Option<ThreadBuffer>> = const { RefCell::new(None) };
}

#[inline]
fn with_buffer(f: impl FnOnce(&mut ThreadBuffer)) -> bool {
    BUFFER
        .try_with(|cell| match cell.try_borrow_mut() {
            Ok(mut slot) => {
                f(slot.get_or_insert_with(ThreadBuffer::register));
                true
            }
            Err(_) => false,
        })
        .unwrap_or(false)
}

/// Counts a sampled span.
#[inline]
pub(crate) fn count_started() {
    with_buffer(|buffer| bump(&buffer.counters.started));
}

/// An empty box for a span's attributes, events, links and status.
#[inline]
pub(crate) fn take_extras() -> Box<Extras> {
    let mut extras = None;
    with_buffer(|buffer| extras = Some(buffer.take_extras()));
    extras.unwrap_or_else(|| Box::new(Extras::blank()))
}

#[inline]
pub(crate) fn count_not_sampled() {
    with_buffer(|buffer| bump(&buffer.counters.not_sampled));
}

/// Hands a finished span to the background thread, or drops and counts it.
#[inline(always)]
pub(crate) fn submit(record: SpanRecord) {
    if record.ctx.capture() != 0 {
        capture::submit(record);
        return;
    }
    if !exporting() {
        GLOBAL.ended_unbuffered.fetch_add(1, Ordering::Relaxed);
        GLOBAL.dropped_shutdown.fetch_add(1, Ordering::Relaxed);
        return;
    }
    // If the closure cannot run, the record is dropped with it and counted below.
    let pushed = with_buffer(move |buffer| buffer.push(record));
    if !pushed {
        // Thread teardown (or a span ended from inside the buffer's own code): nowhere to put it.
        GLOBAL.ended_unbuffered.fetch_add(1, Ordering::Relaxed);
        GLOBAL.dropped_unbuffered.fetch_add(1, Ordering::Relaxed);
    }
}

/// Moves newly registered rings to the worker and folds the counters of exited threads.
pub(crate) fn take_pending(into: &mut Vec<RingPair>) {
    let mut registry = registry();
    into.append(&mut registry.pending);
    let Registry {
        threads, retired, ..
    } = &mut *registry;
    threads.retain(|counters| {
        if Arc::strong_count(counters) > 1 {
            return true;
        }
        retired.add_thread(counters);
        false
    });
}

/// Gives rings back when a worker stops, for the next `init`.
pub(crate) fn return_rings(rings: Vec<RingPair>) {
    registry().pending.extend(rings);
}

/// Counts as dropped at shutdown, and discards, what was pushed into rings that no background thread
/// drains: spans that ended while tracing shut down, after its last look. Called when no worker runs,
/// so that they are counted in this session and never exported by the next one.
pub(crate) fn sweep_pending() {
    let swept: u64 = registry()
        .pending
        .iter_mut()
        .map(RingPair::discard_buffered)
        .sum();
    GLOBAL.dropped_shutdown.fetch_add(swept, Ordering::Relaxed);
}

fn raw_stats(registry: &Registry) -> Stats {
    let mut total = registry.retired.clone();
    for counters in &registry.threads {
        total.add_thread(counters);
    }
    total.add_global(&GLOBAL);
    total
}

/// Counts from here on (called by `init`).
pub(crate) fn reset_stats() {
    let mut registry = registry();
    registry.baseline = raw_stats(&registry);
    if let Ok(mut last) = LAST_EXPORT_ERROR.lock() {
        *last = None;
    }
}

/// What tracewire has done since [`init`](crate::init): spans started, ended, exported, dropped
/// and why, export requests and errors. See [`Stats`] for the invariant that ties them together.
///
/// # Examples
///
/// ```
/// # fn main() -> Result<(), tracewire::InitError> {
/// let _guard = tracewire::Config::default().with_exporter_kind(tracewire::ExporterKind::None).init()?;
/// tracewire::span("work").end();
/// tracewire::force_flush().ok();
/// let stats = tracewire::stats();
/// assert_eq!(stats.spans_started, 1);
/// assert_eq!(stats.spans_ended, stats.spans_exported + stats.dropped() + stats.queued);
/// # Ok(())
/// # }
/// ```
pub fn stats() -> Stats {
    if !exporting() {
        sweep_pending();
    }
    let registry = registry();
    let mut stats = raw_stats(&registry).since(&registry.baseline);
    stats.queued = GLOBAL.queued.load(Ordering::Relaxed);
    stats.last_export_error = LAST_EXPORT_ERROR.lock().ok().and_then(|last| last.clone());
    stats
}
