//! The export pipeline on the background thread: drain the rings, apply the policy stage, encode,
//! queue sealed requests, send several at once, classify what came back (retry, throttle, breaker,
//! partial success), answer flush and shutdown.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::mpsc::sync_channel;
use std::time::Duration;

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use opentelemetry_sdk::trace::SpanData;
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::time::Instant;

use super::convert::{Conversion, Scope};
use super::queue::{Batch, BatchQueue, Payload};
use super::retry::{Delivery, MAX_ATTEMPTS};
use super::supervise::{catch_panic, catch_panic_sync};
use super::worker::{Control, Reply, Settings, Sink};
use super::{GLOBAL, LAST_EXPORT_ERROR, RingPair, WAKE};
use crate::diag::diag;
use crate::export::Outcome;
use crate::span::clock::Converter;

/// The longest a finished span waits in a thread buffer when nothing wakes the thread sooner.
/// Producers wake it when their buffer passes half full, and flush and shutdown wake it at once, so
/// this only bounds how stale `stats().queued` gets; an idle service sees ten wake-ups a second.
const DRAIN_INTERVAL: Duration = Duration::from_millis(100);
/// The most encoded bytes the queue holds (sealed requests waiting or in flight), whatever
/// `max_queue_size` allows: what does not fit waits in the thread buffers.
pub(crate) const MAX_QUEUE_BYTES: usize = 64 << 20;
/// A request is sealed when its encoded spans reach this size, even below
/// `max_export_batch_size` spans (collectors refuse requests above 4 MiB by default).
#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
const MAX_REQUEST_BYTES: usize = 3 << 20;
/// Records taken from a ring at a time. They are read where they lie and their slots handed back
/// to the thread at once: one release store per chunk instead of one per record, and no copy of
/// each record out of the ring and through the panic guard. Small enough that the thread gets its
/// slots back long before it could fill the rest of its ring.
const DRAIN_CHUNK: usize = 64;
/// The shutdown's last attempt when the breaker is open.
const LAST_ATTEMPT: Duration = Duration::from_millis(500);

/// One request, answered.
struct Done {
    batch: Batch,
    outcome: Outcome,
}

type Flight<'a> = Pin<Box<dyn Future<Output = Done> + Send + 'a>>;

/// The batch being filled: encoded as records are drained, or `SpanData` for a `SpanExporter`.
// One per worker: the size difference costs nothing.
#[allow(clippy::large_enum_variant)]
enum Filling {
    #[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
    Encoder(crate::export::encode::Encoder),
    Spans(Vec<SpanData>),
}

/// A flush or shutdown waiting for the spans buffered or queued when it arrived.
///
/// It is exact under load: it waits for the records that were in each ring when it arrived (not
/// for any records, which could be other threads' newer ones), then for every span taken up to
/// that point to be exported, which the FIFO queue makes a single number.
struct Waiter {
    reply: Reply,
    /// `(ring id, pop count)`: rings still to be drained up to that count.
    rings: Vec<(u64, u64)>,
    /// Once `rings` is empty: the spans taken so far, all of which must be exported.
    taken: Option<u64>,
    /// Failed exports when it arrived; more by the time it is answered make the answer an error.
    failures: u64,
}

pub(crate) struct Worker {
    settings: Settings,
    conversion: Conversion,
    rings: Vec<RingPair>,
    filling: Filling,
    queue: BatchQueue,
    delivery: Delivery,
    /// Spans (and encoded bytes) of the requests in flight.
    in_flight: usize,
    in_flight_bytes: usize,
    /// Spans taken from thread buffers so far, and those whose fate is settled (exported,
    /// rejected, failed).
    taken: u64,
    settled: u64,
    /// Failed exports so far, and the last one's message.
    failures: u64,
    last_failure: String,
}

impl Worker {
    pub(crate) fn new(settings: Settings, sink: &Sink) -> Worker {
        let scope = Scope::Tracewire;
        let filling = match sink {
            #[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
            Sink::Otlp(_) => Filling::Encoder(crate::export::encode::Encoder::new(
                &settings.resource,
                &scope.get(),
                settings.limits,
            )),
            Sink::Spans(_) => Filling::Spans(Vec::new()),
        };
        let conversion = Conversion {
            clock: Converter::new(),
            limits: settings.limits,
            scope,
        };
        Worker {
            settings,
            conversion,
            rings: Vec::new(),
            filling,
            queue: BatchQueue::default(),
            delivery: Delivery::default(),
            in_flight: 0,
            in_flight_bytes: 0,
            taken: 0,
            settled: 0,
            failures: 0,
            last_failure: String::new(),
        }
    }

    pub(crate) async fn run(mut self, mut sink: Sink, control: UnboundedReceiver<Control>) {
        let (reply, result, deadline) = self.serve(&sink, control).await;
        // Whatever time the shutdown deadline leaves, and no more.
        let left = deadline.saturating_duration_since(Instant::now());
        #[allow(irrefutable_let_patterns)] // without OTLP, `Spans` is the only sink
        if let Sink::Spans(exporter) = &mut sink {
            let timeout = left.min(self.settings.export_timeout);
            match catch_panic_sync(|| exporter.shutdown_boxed(timeout)) {
                Ok(Ok(())) => {}
                Ok(Err(e)) => diag!(Warn, "the exporter reported an error on shutdown: {e}"),
                Err(panic) => diag!(Error, "the exporter panicked on shutdown: {panic}"),
            }
        }
        // Spans that ended during shutdown, after the last drain, are counted here.
        self.abandon(0);
        GLOBAL.queued.store(0, Ordering::Relaxed);
        super::return_rings(std::mem::take(&mut self.rings));
        if let Some(reply) = reply {
            let _ = reply.try_send(result);
        }
    }

    /// A waiter for what is buffered or queued now.
    fn waiter(&self, reply: Reply) -> Waiter {
        let rings = self
            .rings
            .iter()
            .filter(|ring| ring.records.slots() > 0)
            .map(|ring| (ring.id, ring.popped + ring.records.slots() as u64))
            .collect();
        Waiter {
            reply,
            rings,
            taken: None,
            failures: self.failures,
        }
    }

    /// Notes which of the waiter's rings have been drained far enough; true when every span it
    /// waits for is exported (or failed).
    fn is_done(&self, waiter: &mut Waiter) -> bool {
        if waiter.taken.is_none() {
            waiter.rings.retain(|(id, target)| {
                // A ring that is gone was drained to its end.
                self.rings
                    .iter()
                    .any(|ring| ring.id == *id && ring.popped < *target)
            });
            if waiter.rings.is_empty() {
                waiter.taken = Some(self.taken);
            }
        }
        waiter.taken.is_some_and(|taken| self.settled >= taken)
    }

    /// The answer for a waiter: an error if an export failed since it arrived.
    fn answer(&self, waiter: &Waiter) -> Result<(), String> {
        if self.failures > waiter.failures {
            Err(self.last_failure.clone())
        } else {
            Ok(())
        }
    }

    /// Spans in thread buffers now.
    fn buffered(&self) -> u64 {
        self.rings
            .iter()
            .map(|ring| ring.records.slots() as u64)
            .sum()
    }

    fn filling_spans(&self) -> usize {
        match &self.filling {
            #[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
            Filling::Encoder(encoder) => encoder.spans(),
            Filling::Spans(spans) => spans.len(),
        }
    }

    /// Spans taken from the rings and not settled: being encoded, queued or in flight.
    fn held(&self) -> usize {
        self.filling_spans() + self.queue.len() + self.in_flight
    }

    /// Seals the batch being filled, if it has spans, into the queue.
    fn seal(&mut self) {
        let spans = self.filling_spans();
        if spans == 0 {
            return;
        }
        let payload = match &mut self.filling {
            #[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
            Filling::Encoder(encoder) => match catch_panic_sync(|| encoder.finish()) {
                Ok(body) => Payload::Encoded(body),
                Err(panic) => {
                    // The encoder's state is unknown: start a fresh one.
                    *encoder = crate::export::encode::Encoder::new(
                        &self.settings.resource,
                        &self.conversion.scope.get(),
                        self.settings.limits,
                    );
                    self.fail(spans, format!("encoding panicked: {panic}"));
                    return;
                }
            },
            Filling::Spans(batch) => Payload::Spans(std::mem::take(batch)),
        };
        self.queue.push(Batch {
            payload,
            spans,
            attempts: 0,
            sent: false,
        });
    }

    /// Moves finished spans from the thread buffers through the policy stage into the batch being
    /// filled, sealing it whenever it is full, as far as the queue has room.
    fn drain(&mut self) {
        super::take_pending(&mut self.rings);
        if self.rings.is_empty() {
            return;
        }
        self.conversion.clock.refresh();
        let batch_size = self.settings.max_export_batch_size.max(1);
        // In flight requests are out of the queue (as one batch in flight was before several
        // were): they are bounded by `max_concurrent_exports × max_export_batch_size`.
        let mut room = self
            .settings
            .max_queue_size
            .saturating_sub(self.filling_spans() + self.queue.len());
        if self.queue.bytes() + self.in_flight_bytes >= MAX_QUEUE_BYTES {
            room = 0;
        }
        if room > 0 {
            super::wake_served();
        }
        let full = room;
        let mut moved = 0;
        for i in 0..self.rings.len() {
            while moved < room {
                let space = batch_size.saturating_sub(self.filling_spans()).max(1);
                let n = (room - moved)
                    .min(DRAIN_CHUNK)
                    .min(space)
                    .min(self.rings[i].records.slots());
                if n == 0 {
                    break;
                }
                let taken = take_chunk(
                    &mut self.rings[i],
                    n,
                    &mut self.filling,
                    &self.conversion,
                    self.settings.policy.as_ref(),
                    batch_size,
                );
                // A record whose encoding panicked is taken, and failed: it holds no room.
                moved += taken.records - taken.panics.len();
                room -= taken.panics.len();
                for panic in taken.panics {
                    self.taken += 1;
                    self.fail(1, format!("encoding panicked: {panic}"));
                }
                if taken.full {
                    self.seal();
                }
            }
        }
        self.taken += moved as u64;
        // Forget the rings of threads that have exited: drained, or discarded if the queue is full.
        super::reclaim_abandoned(&mut self.rings, moved == room);
        // Start with another thread next time, so that a busy thread cannot starve the others.
        if moved == full && self.rings.len() > 1 {
            self.rings.rotate_left(1);
        }
    }

    /// Starts sending `batch`, each attempt bounded by `timeout`.
    fn launch<'s>(&mut self, sink: &'s Sink, mut batch: Batch, timeout: Duration) -> Flight<'s> {
        if batch.sent {
            GLOBAL.export_retries.fetch_add(1, Ordering::Relaxed);
        } else {
            GLOBAL.export_requests.fetch_add(1, Ordering::Relaxed);
        }
        batch.sent = true;
        batch.attempts += 1;
        self.in_flight += batch.spans;
        self.in_flight_bytes += batch.bytes();
        match (sink, &mut batch.payload) {
            #[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
            (Sink::Otlp(transport), Payload::Encoded(body)) => {
                let body = body.clone();
                Box::pin(async move {
                    let outcome = match tokio::time::timeout(
                        timeout,
                        catch_panic(transport.send(body)),
                    )
                    .await
                    {
                        Ok(Ok(outcome)) => outcome,
                        Ok(Err(panic)) => Outcome::Failed {
                            reason: format!("the exporter panicked: {panic}"),
                        },
                        Err(_) => Outcome::Unreachable {
                            reason: format!("export timed out after {timeout:?}"),
                        },
                    };
                    Done { batch, outcome }
                })
            }
            (Sink::Spans(exporter), Payload::Spans(spans)) => {
                let spans = std::mem::take(spans);
                Box::pin(async move {
                    // Inside the guarded future: a `SpanExporter` may panic before returning one.
                    let export = catch_panic(async move { exporter.export_boxed(spans).await });
                    let outcome = match tokio::time::timeout(timeout, export).await {
                        Ok(Ok(Ok(()))) => Outcome::Accepted {
                            rejected: 0,
                            message: String::new(),
                        },
                        Ok(Ok(Err(e))) => Outcome::Failed {
                            reason: e.to_string(),
                        },
                        Ok(Err(panic)) => Outcome::Failed {
                            reason: format!("the exporter panicked: {panic}"),
                        },
                        Err(_) => Outcome::Failed {
                            reason: format!("export timed out after {timeout:?}"),
                        },
                    };
                    Done { batch, outcome }
                })
            }
            #[allow(unreachable_patterns)]
            _ => Box::pin(async move {
                Done {
                    batch,
                    outcome: Outcome::Failed {
                        reason: "internal error: a batch for another exporter".to_owned(),
                    },
                }
            }),
        }
    }

    pub(crate) async fn serve(
        &mut self,
        sink: &Sink,
        mut control: UnboundedReceiver<Control>,
    ) -> (Option<Reply>, Result<(), String>, Instant) {
        let mut flights: FuturesUnordered<Flight<'_>> = FuturesUnordered::new();
        let mut waiters: Vec<Waiter> = Vec::new();
        let mut shutdown: Option<(Instant, Waiter)> = None;
        // Shutdown with the breaker open: the last attempt is made (or being made).
        let mut last_attempt = false;
        // Once the control channel is closed, `recv` is always ready: stop polling it.
        let mut closed = false;
        let mut next_export = later(Instant::now(), self.settings.schedule_delay);
        let max_in_flight = self.settings.max_concurrent_exports.max(1);
        loop {
            self.drain();
            let now = Instant::now();
            let flushing = !waiters.is_empty() || shutdown.is_some();
            if self.filling_spans() > 0 && (now >= next_export || flushing) {
                self.seal();
                next_export = later(now, self.settings.schedule_delay);
            }
            if shutdown.is_some() && self.delivery.is_open() {
                if !last_attempt {
                    // One last, short attempt: if the collector is still away, give up the rest.
                    last_attempt = true;
                    self.delivery.release();
                } else if flights.is_empty() {
                    // The last attempt failed: what is drained now is given up at once.
                    self.fail_everything("the collector cannot be reached at shutdown");
                }
            }
            // While the breaker is open, one request at a time probes the endpoint.
            let limit = if self.delivery.is_open() {
                1
            } else {
                max_in_flight
            };
            while flights.len() < limit && self.delivery.may_send(now) {
                let Some(batch) = self.queue.pop() else { break };
                let timeout = match &shutdown {
                    Some((deadline, _)) if last_attempt => deadline
                        .saturating_duration_since(now)
                        .min(LAST_ATTEMPT)
                        .min(self.settings.export_timeout),
                    _ => self.settings.export_timeout,
                };
                flights.push(self.launch(sink, batch, timeout));
            }
            let queued = self.held() as u64;
            GLOBAL
                .queued
                .store(queued + self.buffered(), Ordering::Relaxed);

            // Answer the flushes whose spans have all been exported (or have failed).
            waiters.retain_mut(|waiter| {
                let done = self.is_done(waiter);
                if done {
                    let _ = waiter.reply.try_send(self.answer(waiter));
                }
                !done
            });
            if let Some((deadline, mut waiter)) = shutdown.take() {
                if flights.is_empty() && self.is_done(&mut waiter) {
                    let answer = self.answer(&waiter);
                    return (Some(waiter.reply), answer, deadline);
                }
                shutdown = Some((deadline, waiter));
            }

            let mut wake_at = now + DRAIN_INTERVAL;
            if self.filling_spans() > 0 {
                wake_at = wake_at.min(next_export);
            }
            if !self.queue.is_empty()
                && let Some(until) = self.delivery.held_until(now)
            {
                wake_at = wake_at.min(until);
            }
            let deadline = shutdown.as_ref().map(|(deadline, _)| *deadline);
            tokio::select! {
                biased;
                message = control.recv(), if !closed => match message {
                    Some(Control::Flush(reply)) => waiters.push(self.waiter(reply)),
                    Some(Control::Shutdown { deadline, reply }) => {
                        shutdown = Some((Instant::from_std(deadline), self.waiter(reply)));
                    }
                    None => {
                        closed = true;
                        // The handle is gone without a shutdown: finish what is there, quickly.
                        if shutdown.is_none() {
                            let (reply, _) = sync_channel(1);
                            shutdown = Some((now + Duration::from_secs(1), self.waiter(reply)));
                        }
                    }
                },
                Some(done) = flights.next(), if !flights.is_empty() => {
                    self.finish_export(done, last_attempt);
                }
                () = tokio::time::sleep_until(deadline.unwrap_or(now)), if deadline.is_some() => {
                    let abandoned = self.in_flight as u64;
                    self.in_flight = 0;
                    self.in_flight_bytes = 0;
                    drop(std::mem::take(&mut flights));
                    let left = self.abandon(abandoned);
                    let message = format!("shutdown deadline passed with {left} spans not exported");
                    diag!(Warn, "{message}");
                    for waiter in waiters.drain(..) {
                        let _ = waiter.reply.try_send(Err(message.clone()));
                    }
                    let (deadline, waiter) = match shutdown.take() {
                        Some((deadline, waiter)) => (deadline, Some(waiter.reply)),
                        None => (now, None),
                    };
                    return (waiter, Err(message), deadline);
                }
                () = WAKE.notified() => {}
                () = tokio::time::sleep_until(wake_at) => {}
            }
        }
    }

    /// Counts the outcome of one request: exported, rejected, retried later, or failed.
    fn finish_export(&mut self, done: Done, last_attempt: bool) {
        let Done { batch, outcome } = done;
        self.in_flight -= batch.spans;
        self.in_flight_bytes -= batch.bytes();
        let now = Instant::now();
        let spans = batch.spans;
        match outcome {
            Outcome::Accepted { rejected, message } => {
                self.delivery.answered();
                let rejected = rejected.min(spans as u64);
                GLOBAL
                    .exported
                    .fetch_add(spans as u64 - rejected, Ordering::Relaxed);
                if rejected > 0 {
                    GLOBAL.spans_rejected.fetch_add(rejected, Ordering::Relaxed);
                }
                if rejected > 0 || !message.is_empty() {
                    diag!(
                        Warn,
                        "the collector rejected {rejected} of {spans} spans: {}",
                        if message.is_empty() {
                            "(no message)"
                        } else {
                            &message
                        }
                    );
                }
                self.settled += spans as u64;
            }
            Outcome::Retryable {
                delay,
                throttled,
                reason,
            } => {
                if throttled {
                    GLOBAL.export_throttled.fetch_add(1, Ordering::Relaxed);
                }
                self.delivery.retry_later(now, batch.attempts, delay);
                self.retry_or_fail(batch, reason, last_attempt);
            }
            Outcome::Unreachable { reason } => {
                let was_open = self.delivery.is_open();
                if was_open {
                    // A failed probe stands for every waiting batch: the oldest run out of
                    // attempts and are given up, so a dead collector does not hold them forever.
                    for expired in self.queue.expire(MAX_ATTEMPTS) {
                        let message =
                            format!("{reason} (collector unreachable, {MAX_ATTEMPTS} probes)");
                        if expired.sent {
                            self.fail(expired.spans, message);
                        } else {
                            self.give_up(expired.spans, message);
                        }
                    }
                }
                if self.delivery.unreachable(now, batch.attempts) {
                    diag!(
                        Warn,
                        "the collector cannot be reached ({reason}): probing it every few seconds \
                         until it answers; spans wait in the queue"
                    );
                }
                self.remember(&reason);
                self.retry_or_fail(batch, reason, last_attempt);
                if last_attempt && self.delivery.is_open() {
                    // The last attempt failed: give up everything queued.
                    self.fail_everything("the collector cannot be reached at shutdown");
                }
            }
            Outcome::Failed { reason } => {
                self.delivery.answered();
                self.fail(spans, reason);
            }
        }
    }

    /// Queues a batch for another attempt, or gives it up when its attempts ran out.
    fn retry_or_fail(&mut self, batch: Batch, reason: String, last_attempt: bool) {
        if batch.attempts >= MAX_ATTEMPTS || last_attempt && self.delivery.is_open() {
            self.fail(
                batch.spans,
                format!("{reason} (after {} attempts)", batch.attempts),
            );
        } else {
            diag!(
                Debug,
                "export of {} spans will be retried: {reason}",
                batch.spans
            );
            self.queue.push_front(batch);
        }
    }

    /// Counts every queued batch, and the one being filled, as failed (an export error for each
    /// batch that was ever sent).
    fn fail_everything(&mut self, reason: &str) {
        self.seal();
        let mut unsent = 0;
        while let Some(batch) = self.queue.pop() {
            if batch.sent {
                self.fail(batch.spans, reason.to_owned());
            } else {
                unsent += batch.spans;
            }
        }
        if unsent > 0 {
            self.give_up(unsent, reason.to_owned());
        }
    }

    fn remember(&mut self, message: &str) {
        if let Ok(mut last) = LAST_EXPORT_ERROR.lock() {
            *last = Some(message.to_owned());
        }
    }

    /// Counts `spans` of a batch that was sent as failed (an export error); the failure is
    /// remembered for the flushes waiting.
    fn fail(&mut self, spans: usize, message: String) {
        GLOBAL.export_errors.fetch_add(1, Ordering::Relaxed);
        self.give_up(spans, message);
    }

    /// Counts `spans` as failed without an export error (they were never sent: the collector
    /// stayed unreachable); the failure is remembered for the flushes waiting.
    fn give_up(&mut self, spans: usize, message: String) {
        GLOBAL
            .dropped_export_failed
            .fetch_add(spans as u64, Ordering::Relaxed);
        self.settled += spans as u64;
        diag!(Error, "export of {spans} spans failed: {message}");
        self.remember(&message);
        self.failures += 1;
        self.last_failure = message;
    }

    /// Drops and counts everything still queued, being filled or buffered, plus `in_flight` spans
    /// of abandoned requests; returns how many.
    fn abandon(&mut self, in_flight: u64) -> u64 {
        let buffered: u64 = self.rings.iter_mut().map(RingPair::discard_buffered).sum();
        self.seal();
        let left = in_flight + self.queue.clear() as u64 + buffered;
        self.settled += left - buffered;
        GLOBAL.dropped_shutdown.fetch_add(left, Ordering::Relaxed);
        left
    }
}

/// What [`take_chunk`] did.
struct Taken {
    /// Records taken from the ring, those whose encoding panicked included.
    records: usize,
    /// The panic messages of the records whose encoding panicked.
    panics: Vec<String>,
    /// The batch being filled is full: seal it before taking more.
    full: bool,
}

/// Takes up to `n` (at least one, at most the ring's filled slots) records from `ring`, in place,
/// through the policy stage into the batch being filled; stops early when the batch is full.
/// Emptied extras go back to the ring's thread.
fn take_chunk(
    ring: &mut RingPair,
    n: usize,
    filling: &mut Filling,
    conversion: &Conversion,
    policy: Option<&super::policy::Policy>,
    batch_size: usize,
) -> Taken {
    let mut taken = Taken {
        records: 0,
        panics: Vec::new(),
        full: false,
    };
    let waiting = ring.records.slots();
    let Ok(mut chunk) = ring.records.read_chunk(n) else {
        return taken;
    };
    if let Filling::Spans(batch) = filling
        && batch.capacity() - batch.len() < n
    {
        // Room for what this ring holds now, up to a batch, at once: growing by doubling from
        // empty copied every span about twice more.
        batch.reserve(waiting.min(batch_size.saturating_sub(batch.len())).max(n));
    }
    let (first, second) = chunk.as_mut_slices();
    for record in first.iter_mut().chain(second.iter_mut()) {
        taken.records += 1;
        if let Some(policy) = policy {
            policy.enforce(record);
        }
        let pushed = match filling {
            #[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
            Filling::Encoder(encoder) => {
                let clock = &conversion.clock;
                catch_panic_sync(|| encoder.push(record, clock)).map(|extras| {
                    (
                        extras,
                        encoder.spans() >= batch_size || encoder.len() >= MAX_REQUEST_BYTES,
                    )
                })
            }
            Filling::Spans(batch) => catch_panic_sync(|| conversion.convert_into(record, batch))
                .map(|extras| (extras, batch.len() >= batch_size)),
        };
        match pushed {
            Ok((extras, full)) => {
                // Back to its thread for reuse; if that ring is full (or gone), freed.
                if let Some(extras) = extras {
                    let _ = ring.free.push(extras);
                }
                if full {
                    taken.full = true;
                    break;
                }
            }
            Err(panic) => taken.panics.push(panic),
        }
    }
    // Drops what is left of the taken records (a name, a trace state) and frees their slots.
    chunk.commit(taken.records);
    ring.popped += taken.records as u64;
    taken
}

/// `now + delay`, or a day from now when that overflows the clock (`Duration::MAX`).
fn later(now: Instant, delay: Duration) -> Instant {
    now.checked_add(delay)
        .unwrap_or_else(|| now + Duration::from_secs(86_400))
}
