//! Per-thread span buffers, the counters behind [`stats`], and the switches the hot path reads.
//!
//! Each thread that ends a span gets a bounded single-producer ring on first use and registers it
//! (one lock, once per ring). Ending a span pushes into the ring: no lock, no system call; a full
//! ring drops the span and counts it. The background [`worker`] drains every ring, encodes the
//! records into OTLP requests (or `SpanData` for other exporters) and exports them in batches.
//!
//! # Memory
//!
//! A thread's first ring has [`FIRST_RING_SIZE`] slots; when it fills up, the thread moves on to a
//! ring twice as large, up to the configured thread buffer size, and the worker drains the old one
//! and forgets it. A thread that ends a few spans therefore holds a few KiB, not a full buffer. The
//! rings of exited threads are forgotten by the worker on every drain: drained while the export
//! queue has room, otherwise discarded and counted in `dropped_buffer_full`, so that threads that
//! come and go while the collector is stuck cannot pile up rings.
//!
//! # Waking the worker
//!
//! Every quarter ring a producer looks at its fill level; past half full it asks the worker to
//! drain. Only the first such request after the worker last drained with room in its queue pays
//! for the wake-up (a mutex and a futex or eventfd write): [`WAKE_REQUESTED`] says one is pending,
//! so the others cost one relaxed load.
//!
//! # The invariant
//!
//! With `dropped = dropped_buffer_full + dropped_export_failed + dropped_shutdown`,
//! `spans_ended == spans_exported + spans_rejected + dropped + queued` holds whenever the background
//! thread is idle:
//! right after [`force_flush`](crate::force_flush) returns, if no other thread ends spans meanwhile.

pub(crate) mod capture;
pub(crate) mod convert;
mod pipeline;
pub(crate) mod policy;
mod queue;
mod retry;
mod stats;
pub(crate) mod supervise;
pub(crate) mod worker;

pub use stats::Stats;

use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

use rtrb::{Consumer, Producer, RingBuffer};
use tokio::sync::Notify;

use crate::context::{SamplerRule, SpanContext};
use crate::span::clock::Ticks;
use crate::span::record::{Extras, Recording, SpanRecord};

/// Default for [`Config::with_thread_buffer_size`](crate::Config::with_thread_buffer_size): finished
/// spans each thread buffers for the background thread.
pub const DEFAULT_THREAD_BUFFER_SIZE: usize = 1024;
/// Slots of a thread's first ring; it doubles, up to the thread buffer size, as the thread fills it.
pub(crate) const FIRST_RING_SIZE: usize = 64;
/// Outgrown recycle rings a thread keeps taking boxes from (a ring grows at most 4 times).
const MAX_OUTGROWN: usize = 4;
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
/// Set by the producer that notifies [`WAKE`], cleared by the worker when it drains with room in its
/// queue: while it is set, a wake-up is pending (or pointless) and producers skip the notify.
static WAKE_REQUESTED: AtomicBool = AtomicBool::new(false);
/// Notifications of [`WAKE`] by producers (for the test that shows the flag works).
static WAKE_NOTIFIES: AtomicU64 = AtomicU64::new(0);

/// Asks the worker to drain soon. Only the first caller since the worker's last drain notifies.
#[inline]
fn request_wake() {
    // A load first: while a wake-up is pending, no read-modify-write bounces the cache line.
    if !WAKE_REQUESTED.load(Ordering::Relaxed) && !WAKE_REQUESTED.swap(true, Ordering::AcqRel) {
        notify_worker();
    }
}

#[cold]
#[inline(never)]
fn notify_worker() {
    WAKE_NOTIFIES.fetch_add(1, Ordering::Relaxed);
    WAKE.notify_one();
}

/// Called by the worker before it drains, when its queue has room: the next producer past half full
/// notifies again. (With the queue full, the flag stays set: waking the worker could not help.)
pub(crate) fn wake_served() {
    WAKE_REQUESTED.store(false, Ordering::Release);
}

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
    WAKE_REQUESTED.store(false, Ordering::Relaxed);
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
    /// Re-sends of a batch after a retryable failure.
    pub(crate) export_retries: AtomicU64,
    /// Answers that asked the exporter to slow down.
    pub(crate) export_throttled: AtomicU64,
    /// Spans the collector refused through `partial_success`.
    pub(crate) spans_rejected: AtomicU64,
    /// Spans ended where no thread buffer could take them (thread teardown).
    pub(crate) ended_unbuffered: AtomicU64,
    /// Spans discarded from the rings of exited threads while the export queue was full.
    pub(crate) dropped_reclaimed: AtomicU64,
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
    export_retries: AtomicU64::new(0),
    export_throttled: AtomicU64::new(0),
    spans_rejected: AtomicU64::new(0),
    ended_unbuffered: AtomicU64::new(0),
    dropped_reclaimed: AtomicU64::new(0),
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
    /// The counters of the threads that have a buffer now.
    threads: Vec<&'static ThreadCounters>,
    /// Counters of exited threads, zeroed, for the next threads: at most as many exist as threads
    /// ever had a buffer at the same time, however many come and go.
    free: Vec<&'static ThreadCounters>,
    /// Totals of threads that have exited.
    retired: Stats,
    /// The totals when the current `init` ran: `stats()` counts from there.
    baseline: Stats,
}

static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
    pending: Vec::new(),
    threads: Vec::new(),
    free: Vec::new(),
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
    counters: &'static ThreadCounters,
    producer: Option<Producer<SpanRecord>>,
    /// Emptied extras coming back from the background thread.
    free: Option<Consumer<Box<Extras>>>,
    /// The recycle rings of the rings this thread outgrew: the worker still returns the extras of
    /// their spans there, and they are taken before any new box is allocated. Forgotten once the
    /// worker has forgotten the ring and they are empty; at most [`MAX_OUTGROWN`].
    outgrown: Vec<Consumer<Box<Extras>>>,
    /// The extras of the last span dropped for want of room, kept for the next span.
    spare: Option<Box<Extras>>,
    generation: u64,
    /// Slots of the current ring.
    capacity: usize,
    /// The thread buffer size when the ring was made: the ring grows up to it.
    max_capacity: usize,
    /// Pushes since the ring's fill level was last checked.
    since_check: usize,
}

impl ThreadBuffer {
    #[cold]
    fn register() -> ThreadBuffer {
        let counters = {
            let mut registry = registry();
            let counters = match registry.free.pop() {
                Some(counters) => counters,
                None => Box::leak(Box::default()),
            };
            registry.threads.push(counters);
            counters
        };
        let _ = COUNTERS.try_with(|cell| cell.set(Some(counters)));
        ThreadBuffer {
            counters,
            producer: None,
            free: None,
            outgrown: Vec::new(),
            spare: None,
            generation: u64::MAX,
            capacity: 0,
            max_capacity: 0,
            since_check: 0,
        }
    }

    /// A first ring after `init` (or a new buffer size): small, it grows as the thread fills it.
    #[cold]
    fn first_ring(&mut self) {
        let max_capacity = THREAD_BUFFER_SIZE.load(Ordering::Relaxed);
        self.max_capacity = max_capacity;
        self.new_ring(FIRST_RING_SIZE.min(max_capacity));
        self.generation = GENERATION.load(Ordering::Relaxed);
    }

    /// Moves on to a fresh ring of `capacity` slots. The old one, if any, is left to the worker,
    /// which drains it and forgets it (its producer, dropped here, marks it abandoned).
    #[cold]
    fn new_ring(&mut self, capacity: usize) {
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
        self.outgrown
            .retain(|old| !(old.is_abandoned() && old.is_empty()));
        if let Some(old) = self.free.replace(recycled) {
            if self.outgrown.len() >= MAX_OUTGROWN {
                // Each `init` starts a ring too: keep the newest, free the boxes of the oldest.
                self.outgrown.remove(0);
            }
            self.outgrown.push(old);
        }
        self.capacity = capacity;
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
        self.take_outgrown()
    }

    /// An empty extras box from an outgrown recycle ring, else a new one.
    #[cold]
    #[inline(never)]
    fn take_outgrown(&mut self) -> Box<Extras> {
        for old in &mut self.outgrown {
            if let Ok(extras) = old.pop() {
                return extras;
            }
        }
        Box::new(Extras::blank())
    }

    #[cfg(test)]
    fn push(&mut self, record: SpanRecord) {
        let SpanRecord { mut ctx, rec, end } = record;
        self.push_from(&mut ctx, &mut Some(rec), end);
    }

    /// Pushes the record of a span that ends (see [`submit_in_place`]); takes `rec`.
    #[inline]
    fn push_from(&mut self, ctx: &mut SpanContext, rec: &mut Option<Recording>, end: Ticks) {
        let Some(taken) = rec.take() else { return };
        bump(&self.counters.ended);
        if self.generation != GENERATION.load(Ordering::Relaxed) {
            self.first_ring();
        }
        let Some(producer) = self.producer.as_mut() else {
            bump(&self.counters.dropped_full);
            return;
        };
        let record = SpanRecord {
            ctx: ctx.take_for_record(),
            rec: taken,
            end,
        };
        if producer.is_full() {
            self.push_full(record);
            return;
        }
        // Not full a moment ago, and only this thread pushes: the push succeeds.
        let _ = producer.push(record);
        self.check_fill();
    }

    /// The ring is full: a larger one takes the record, or it is dropped and counted.
    #[cold]
    #[inline(never)]
    fn push_full(&mut self, mut record: SpanRecord) {
        if self.capacity < self.max_capacity {
            // Full but below its size: a larger ring takes this span and the next ones, and the
            // worker drains the old one.
            self.new_ring((self.capacity * 2).min(self.max_capacity));
            request_wake();
            if let Some(producer) = self.producer.as_mut() {
                match producer.push(record) {
                    Ok(()) => return,
                    Err(rtrb::PushError::Full(back)) => record = back,
                }
            }
        }
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
        self.check_fill();
    }

    /// Every quarter ring, asks for a drain if the ring is more than half full.
    #[inline]
    fn check_fill(&mut self) {
        self.since_check += 1;
        if self.since_check >= self.capacity / 4 {
            self.since_check = 0;
            if let Some(producer) = &self.producer
                && producer.slots() < self.capacity / 2
            {
                request_wake();
            }
        }
    }
}

impl Drop for ThreadBuffer {
    /// The thread exits: its totals move to the retired ones and its counters to the free list,
    /// in one step under the registry's lock, so that `stats()` sees every span once.
    fn drop(&mut self) {
        // Spans that end later in this thread's teardown are counted as unbuffered.
        let _ = COUNTERS.try_with(|cell| cell.set(None));
        let mut registry = registry();
        let counters = self.counters;
        registry.retired.add_thread(counters);
        for counter in [
            &counters.started,
            &counters.not_sampled,
            &counters.ended,
            &counters.dropped_full,
        ] {
            counter.store(0, Ordering::Relaxed);
        }
        registry.threads.retain(|c| !std::ptr::eq(*c, counters));
        registry.free.push(counters);
    }
}

thread_local! {
    static BUFFER: RefCell<Option<ThreadBuffer>> = const { RefCell::new(None) };
    /// The thread's counters while it has a buffer: a `Cell` without a destructor, so counting a
    /// span that starts is one thread-local load and no borrow (reaching them through [`BUFFER`]
    /// cost a child span 10–20 %, measured).
    static COUNTERS: Cell<Option<&'static ThreadCounters>> = const { Cell::new(None) };
}

/// Runs `f` on the thread's counters, registering its buffer first if need be.
#[inline(always)]
fn with_counters(f: impl FnOnce(&ThreadCounters)) {
    match COUNTERS.try_with(Cell::get) {
        Ok(Some(counters)) => f(counters),
        _ => {
            with_buffer(|buffer| f(buffer.counters));
        }
    }
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
    with_counters(|counters| bump(&counters.started));
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
    with_counters(|counters| bump(&counters.not_sampled));
}

/// Hands a span that ends to the background thread, or drops and counts it. Its record is built
/// from `ctx` and `rec` where it is pushed (the ring's slot), not moved through every call on the
/// way (a record is 104 bytes; `perf` saw the copies cost more than the push). `rec` is `None`
/// afterwards; `ctx` is left as it was when its trace state is empty (a bitwise copy goes into
/// the record), else emptied.
#[inline(always)]
pub(crate) fn submit_in_place(ctx: &mut SpanContext, rec: &mut Option<Recording>, end: Ticks) {
    if ctx.capture() != 0 {
        if let Some(rec) = rec.take() {
            capture::submit(SpanRecord {
                ctx: ctx.take_for_record(),
                rec,
                end,
            });
        }
        return;
    }
    if !exporting() {
        if rec.take().is_some() {
            GLOBAL.ended_unbuffered.fetch_add(1, Ordering::Relaxed);
            GLOBAL.dropped_shutdown.fetch_add(1, Ordering::Relaxed);
        }
        return;
    }
    with_buffer(|buffer| buffer.push_from(ctx, rec, end));
    if rec.take().is_some() {
        // Thread teardown (or a span ended from inside the buffer's own code): nowhere to put it.
        GLOBAL.ended_unbuffered.fetch_add(1, Ordering::Relaxed);
        GLOBAL.dropped_unbuffered.fetch_add(1, Ordering::Relaxed);
    }
}

/// Moves newly registered rings to the worker.
pub(crate) fn take_pending(into: &mut Vec<RingPair>) {
    into.append(&mut registry().pending);
}

/// Forgets the rings of threads that have exited (or moved on to a larger ring). One that still holds
/// spans is kept while the export queue has room (`queue_full` false: the worker drains it next
/// time); with the queue full its spans are discarded and counted in `dropped_buffer_full`, so that
/// threads that come and go while the collector is stuck leave no rings behind. Returns how many
/// spans were discarded.
///
/// Called by the worker after each drain; `queue_full` says that the drain stopped for want of room.
pub(crate) fn reclaim_abandoned(rings: &mut Vec<RingPair>, queue_full: bool) -> u64 {
    let mut discarded = 0;
    rings.retain_mut(|ring| {
        if !ring.records.is_abandoned() {
            return true;
        }
        if ring.records.is_empty() {
            return false;
        }
        if !queue_full {
            return true;
        }
        discarded += ring.discard_buffered();
        // The producer is gone: nothing can have been pushed since.
        !ring.records.is_empty()
    });
    if discarded > 0 {
        GLOBAL
            .dropped_reclaimed
            .fetch_add(discarded, Ordering::Relaxed);
    }
    discarded
}

/// The background thread is gone (see [`supervise`]): switches recording off, so that spans take
/// the disabled path instead of filling rings nobody drains, and counts what the worker held (its
/// queue, its export in flight, the rings it had taken) in `dropped_shutdown`, so that the
/// invariant still holds. `reason`, when the thread stopped without a shutdown, is kept for
/// [`Stats::worker_stopped`] and said once by the diagnostics.
pub(crate) fn worker_lost(reason: Option<String>) {
    set_enabled(false);
    // Spans that passed the `exporting()` check just before are pushed within this pause.
    std::thread::sleep(std::time::Duration::from_millis(10));
    sweep_pending();
    let lost = {
        let registry = registry();
        raw_stats(&registry).since(&registry.baseline).unsettled()
    };
    GLOBAL.dropped_shutdown.fetch_add(lost, Ordering::Relaxed);
    GLOBAL.queued.store(0, Ordering::Relaxed);
    if let Some(reason) = reason {
        crate::diag::diag!(
            Error,
            "{reason}; tracing is switched off until the next init ({lost} spans it held are \
             counted as dropped at shutdown; stats().worker_stopped says why)"
        );
        *worker_stopped() = Some(reason);
    }
}

/// Why the background thread stopped without a shutdown, for [`Stats::worker_stopped`].
static WORKER_STOPPED: Mutex<Option<String>> = Mutex::new(None);

fn worker_stopped() -> MutexGuard<'static, Option<String>> {
    WORKER_STOPPED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
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
    *worker_stopped() = None;
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
    stats.worker_stopped = worker_stopped().clone();
    stats
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::{SpanId, SpanKind};

    /// Serialises the tests that use the process-wide rings, switches and counters.
    fn serial() -> MutexGuard<'static, ()> {
        static LOCK: Mutex<()> = Mutex::new(());
        LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn record() -> SpanRecord {
        SpanRecord {
            ctx: crate::context::SpanContext::default(),
            rec: crate::span::record::Recording {
                name: "test".into(),
                kind: SpanKind::Internal,
                parent_span_id: SpanId::INVALID,
                parent_remote: false,
                start: Ticks(0),
                extras: None,
            },
            end: Ticks(1),
        }
    }

    /// Ends `count` spans on a thread of their own (a fresh thread buffer) straight into its rings.
    fn push_on_new_thread(count: usize) {
        std::thread::spawn(move || {
            for _ in 0..count {
                assert!(with_buffer(|buffer| buffer.push(record())));
            }
        })
        .join()
        .unwrap();
    }

    #[test]
    fn only_the_first_producer_after_a_drain_notifies() {
        let _serial = serial();
        wake_served();
        let before = WAKE_NOTIFIES.load(Ordering::Relaxed);
        // Nothing drains: the ring passes half full, grows, fills again... and the worker is
        // asked once.
        push_on_new_thread(2_000);
        push_on_new_thread(2_000);
        assert_eq!(WAKE_NOTIFIES.load(Ordering::Relaxed) - before, 1);
        // The worker drained with room in its queue: the next producer past half full asks again.
        wake_served();
        push_on_new_thread(2_000);
        assert_eq!(WAKE_NOTIFIES.load(Ordering::Relaxed) - before, 2);
        sweep_pending();
    }

    #[test]
    fn exited_threads_leave_their_totals_and_their_counters_for_the_next() {
        let _serial = serial();
        let totals = |registry: &Registry| raw_stats(registry).spans_ended;
        let before = totals(&registry());
        for _ in 0..200 {
            push_on_new_thread(3);
        }
        let registry = registry();
        assert_eq!(totals(&registry) - before, 600);
        // One thread at a time: a handful of counters, reused, not one per thread.
        assert!(
            registry.threads.len() + registry.free.len() < 64,
            "{} live, {} free",
            registry.threads.len(),
            registry.free.len()
        );
        assert!(
            registry
                .free
                .iter()
                .all(|c| c.ended.load(Ordering::Relaxed) == 0)
        );
        drop(registry);
        sweep_pending();
    }

    /// The worker's rings with what earlier tests left behind taken and forgotten.
    fn rings_after_earlier_tests() -> Vec<RingPair> {
        let mut rings = Vec::new();
        take_pending(&mut rings);
        reclaim_abandoned(&mut rings, true);
        rings
    }

    #[test]
    fn a_ring_that_grows_keeps_taking_the_recycled_extras_of_the_old_one() {
        let _serial = serial();
        let mut rings = rings_after_earlier_tests();
        let (returned, taken) = std::thread::spawn(move || {
            let with_extras = || {
                let mut record = record();
                record.rec.extras = Some(Box::new(Extras::blank()));
                record
            };
            // Fill the first ring, then one more span: the thread moves on to a larger ring.
            for _ in 0..=FIRST_RING_SIZE {
                assert!(with_buffer(|buffer| buffer.push(with_extras())));
            }
            // The worker's part: drain the outgrown ring, hand its emptied extras back.
            take_pending(&mut rings);
            let mut returned = Vec::new();
            for ring in &mut rings {
                while let Ok(mut record) = ring.records.pop() {
                    if let Some(extras) = record.rec.extras.take() {
                        returned.push(&*extras as *const Extras as usize);
                        let _ = ring.free.push(extras);
                    }
                }
            }
            let mut taken = Vec::new();
            with_buffer(|buffer| {
                for _ in 0..returned.len() {
                    taken.push(buffer.take_extras());
                }
            });
            let taken: Vec<usize> = taken
                .iter()
                .map(|b| &**b as *const Extras as usize)
                .collect();
            drop(rings);
            (returned, taken)
        })
        .join()
        .unwrap();
        assert_eq!(returned.len(), FIRST_RING_SIZE + 1);
        let returned: std::collections::HashSet<usize> = returned.into_iter().collect();
        assert!(
            taken.iter().all(|t| returned.contains(t)),
            "a new box was allocated while recycled ones waited"
        );
        sweep_pending();
    }

    #[test]
    fn rings_start_small_and_grow_to_the_thread_buffer_size() {
        let _serial = serial();
        let max = THREAD_BUFFER_SIZE.load(Ordering::Relaxed);
        let capacities = std::thread::spawn(|| {
            let mut seen = Vec::new();
            for _ in 0..3 * DEFAULT_THREAD_BUFFER_SIZE {
                with_buffer(|buffer| {
                    buffer.push(record());
                    if seen.last() != Some(&buffer.capacity) {
                        seen.push(buffer.capacity);
                    }
                });
            }
            seen
        })
        .join()
        .unwrap();
        assert_eq!(capacities[0], FIRST_RING_SIZE.min(max));
        assert_eq!(capacities.last(), Some(&max));
        assert!(capacities.windows(2).all(|w| w[1] == (w[0] * 2).min(max)));
        sweep_pending();
    }

    #[test]
    fn abandoned_rings_are_drained_while_there_is_room_and_discarded_when_full() {
        let _serial = serial();
        let mut rings = rings_after_earlier_tests();
        assert!(rings.is_empty());
        push_on_new_thread(10);
        take_pending(&mut rings);
        assert_eq!(rings.len(), 1);
        // Room in the queue: the exited thread's ring waits to be drained.
        assert_eq!(reclaim_abandoned(&mut rings, false), 0);
        assert_eq!(rings.len(), 1);
        let before = GLOBAL.dropped_reclaimed.load(Ordering::Relaxed);
        // The queue is full: its spans are discarded, counted, and the ring forgotten.
        assert_eq!(reclaim_abandoned(&mut rings, true), 10);
        assert!(rings.is_empty());
        assert_eq!(
            GLOBAL.dropped_reclaimed.load(Ordering::Relaxed) - before,
            10
        );
    }

    #[test]
    fn a_worker_that_dies_switches_recording_off_and_says_why() {
        let _serial = serial();
        reset_stats();
        set_enabled(true);
        push_on_new_thread(10);
        let stopping = AtomicBool::new(false);
        // A worker holds the rings it drains; a panic that escapes it drops them with it.
        supervise::supervise(&stopping, || {
            let mut rings = Vec::new();
            take_pending(&mut rings);
            panic!("a bug in the worker");
        });
        assert!(!exporting());
        assert!(!crate::span("after").is_recording());
        let seen = super::stats();
        assert_eq!(
            seen.worker_stopped.as_deref(),
            Some("the export thread panicked: a bug in the worker")
        );
        assert_eq!((seen.spans_ended, seen.dropped_shutdown), (10, 10));
        assert_eq!(seen.spans_ended, seen.dropped() + seen.queued);
        // A panic while shutting down is no stop "without a shutdown".
        reset_stats();
        set_enabled(true);
        push_on_new_thread(3);
        stopping.store(true, Ordering::Relaxed);
        supervise::supervise(&stopping, || panic!("late"));
        let seen = super::stats();
        assert_eq!(seen.worker_stopped, None);
        assert_eq!((seen.spans_ended, seen.dropped_shutdown), (3, 3));
    }

    /// The sizes the README's worst case is computed from (64-bit targets).
    #[cfg(target_pointer_width = "64")]
    #[test]
    fn record_sizes_are_what_the_readme_says() {
        use std::mem::size_of;
        let sizes = (
            size_of::<SpanRecord>(),
            size_of::<Extras>(),
            size_of::<opentelemetry::KeyValue>(),
            size_of::<opentelemetry_sdk::trace::SpanData>(),
        );
        println!("SpanRecord, Extras, KeyValue, SpanData: {sizes:?} bytes");
        assert_eq!(sizes, (104, 360, 56, 352));
    }
}
