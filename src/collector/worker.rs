//! The background thread: drains the thread buffers, batches, exports, answers flush and shutdown.
//!
//! # When things happen
//!
//! - Every 100 ms, or sooner when a thread's buffer passes half full, the thread moves finished spans
//!   from the thread buffers into its queue (at most `OTEL_BSP_MAX_QUEUE_SIZE`; what does not fit
//!   waits in the thread buffers, and when those are full the spans are dropped and counted).
//! - A batch is exported as soon as `OTEL_BSP_MAX_EXPORT_BATCH_SIZE` spans are queued, else when
//!   `OTEL_BSP_SCHEDULE_DELAY` has passed since the last export. One export runs at a time; it is
//!   abandoned after `OTEL_BSP_EXPORT_TIMEOUT` and its spans counted as failed. The OTLP exporters
//!   retry retryable errors (`UNAVAILABLE`, HTTP 429/502/503/504) with backoff within their own
//!   timeout.
//! - A flush exports everything that was queued or buffered when it arrived, then answers.
//! - Shutdown flushes, shuts the exporter down and ends the thread; at its deadline, whatever is
//!   left is counted as `dropped_shutdown`.
//!
//! # Why a runtime of our own
//!
//! The thread runs a current-thread tokio runtime that only it drives. The exporters (tonic,
//! reqwest) need a reactor; owning one means export works whether the application has no runtime, a
//! current-thread runtime (where blocking on the application's runtime would deadlock) or a
//! multi-thread one, and a slow collector never takes the application's worker threads.

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{RecvTimeoutError, SyncSender, sync_channel};
use std::thread::JoinHandle;
use std::time::Duration;

use opentelemetry::InstrumentationScope;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};
use tokio::time::Instant;

use super::convert::Conversion;
use super::queue::BatchQueue;
use super::supervise::{panic_message, supervise};
use super::{GLOBAL, LAST_EXPORT_ERROR, RingPair, WAKE};
use crate::diag::diag;
use crate::error::{FlushError, InitError};
use crate::export::DynExporter;
use crate::export::settings::ExporterSettings;
use crate::span::clock::Converter;
use crate::span::limits::SpanLimits;

/// The longest a finished span waits in a thread buffer when nothing wakes the thread sooner.
/// Producers wake it when their buffer passes half full, and flush and shutdown wake it at once, so
/// this only bounds how stale `stats().queued` gets; an idle service sees ten wake-ups a second.
const DRAIN_INTERVAL: Duration = Duration::from_millis(100);
/// How long `init` waits for the thread to build its runtime and exporter.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// Extra time a shutdown caller waits past the deadline for the thread's answer.
const SHUTDOWN_GRACE: Duration = Duration::from_millis(250);

type Reply = SyncSender<Result<(), String>>;

pub(crate) enum Control {
    Flush(Reply),
    Shutdown {
        deadline: std::time::Instant,
        reply: Reply,
    },
}

/// The batching settings and what conversion needs.
pub(crate) struct Settings {
    pub(crate) max_queue_size: usize,
    pub(crate) schedule_delay: Duration,
    pub(crate) max_export_batch_size: usize,
    pub(crate) export_timeout: Duration,
    pub(crate) limits: SpanLimits,
    pub(crate) resource: Resource,
    /// The profile's policies, applied to each record between draining and encoding.
    pub(crate) policy: Option<super::policy::Policy>,
}

/// The running background thread.
pub(crate) struct Handle {
    control: UnboundedSender<Control>,
    thread: Option<JoinHandle<()>>,
    /// Says when the thread is about to end, so that joining it never waits past a deadline.
    finished: std::sync::mpsc::Receiver<()>,
    /// Set before a shutdown is asked for: a thread that ends after it did not stop on its own.
    stopping: Arc<AtomicBool>,
}

/// `now + delay`, or a day from now when that overflows the clock (`Duration::MAX`).
fn later(now: Instant, delay: Duration) -> Instant {
    now.checked_add(delay)
        .unwrap_or_else(|| now + Duration::from_secs(86_400))
}

/// Starts the thread and waits until its exporter is built.
pub(crate) fn spawn(settings: Settings, exporter: ExporterSettings) -> Result<Handle, InitError> {
    let (ready_tx, ready_rx) = sync_channel::<Result<(), InitError>>(1);
    let (control_tx, control_rx) = unbounded_channel();
    let (finished_tx, finished) = sync_channel::<()>(1);
    let stopping = Arc::new(AtomicBool::new(false));
    let stopping_seen = Arc::clone(&stopping);
    let thread = std::thread::Builder::new()
        .name("tracewire-export".into())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime,
                Err(e) => {
                    let _ = ready_tx.send(Err(InitError::Thread(e)));
                    return;
                }
            };
            // A user's exporter may panic in `set_resource`: that is an init error, not a panic.
            let started = catch_unwind(AssertUnwindSafe(|| {
                // Built inside the runtime: tonic's channel needs a reactor when it is created.
                let mut exporter = runtime.block_on(async { build_exporter(exporter) })?;
                exporter.set_resource_boxed(&settings.resource);
                Ok(exporter)
            }));
            let exporter = match started {
                Ok(Ok(exporter)) => exporter,
                Ok(Err(e)) => {
                    let _ = ready_tx.send(Err(e));
                    return;
                }
                Err(panic) => {
                    let message = format!(
                        "the exporter panicked while starting: {}",
                        panic_message(panic)
                    );
                    let _ = ready_tx.send(Err(InitError::Thread(std::io::Error::other(message))));
                    return;
                }
            };
            let _ = ready_tx.send(Ok(()));
            supervise(&stopping_seen, || {
                runtime.block_on(Worker::new(settings).run(exporter, control_rx));
            });
            // Dropping the runtime would wait for its blocking pool without limit (a DNS lookup
            // that hangs, say): leave those threads behind instead. The shutdown answer was sent.
            runtime.shutdown_background();
            let _ = finished_tx.try_send(());
        })
        .map_err(InitError::Thread)?;
    match ready_rx.recv_timeout(START_TIMEOUT) {
        Ok(Ok(())) => Ok(Handle {
            control: control_tx,
            thread: Some(thread),
            finished,
            stopping,
        }),
        Ok(Err(e)) => {
            let _ = thread.join();
            Err(e)
        }
        Err(_) => Err(InitError::StartTimeout(START_TIMEOUT)),
    }
}

fn build_exporter(settings: ExporterSettings) -> Result<Box<dyn DynExporter>, InitError> {
    Ok(match settings {
        #[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
        ExporterSettings::Otlp(otlp) => crate::export::otlp::build(&otlp)?,
        #[cfg(not(any(feature = "otlp-grpc", feature = "otlp-http")))]
        ExporterSettings::Otlp(_) => {
            return Err(InitError::FeatureDisabled {
                what: "the OTLP exporter".into(),
                feature: "otlp-grpc",
            });
        }
        ExporterSettings::Console => Box::new(crate::export::console::ConsoleExporter::default()),
        ExporterSettings::None => Box::new(crate::export::NoneExporter),
        ExporterSettings::Custom(exporter) => exporter,
    })
}

impl Handle {
    /// A sender for flush requests that does not hold any lock while waiting.
    pub(crate) fn sender(&self) -> UnboundedSender<Control> {
        self.control.clone()
    }

    /// Flushes, shuts the exporter down and ends the thread, within `timeout` (plus a short grace
    /// for the thread's answer): every wait below is bounded by that deadline.
    pub(crate) fn shutdown(mut self, timeout: Duration) -> Result<(), FlushError> {
        let (reply, answer) = sync_channel(1);
        self.stopping.store(true, Ordering::Release);
        let started = std::time::Instant::now();
        // Checked: `Config` bounds the timeout, but a deadline must never panic.
        let deadline = started
            .checked_add(timeout)
            .or_else(|| started.checked_add(super::MAX_SHUTDOWN_TIMEOUT))
            .unwrap_or(started);
        if self
            .control
            .send(Control::Shutdown { deadline, reply })
            .is_err()
        {
            return Err(FlushError::NotRunning);
        }
        let result = match answer.recv_timeout(timeout.saturating_add(SHUTDOWN_GRACE)) {
            Ok(result) => result.map_err(FlushError::Export),
            Err(RecvTimeoutError::Timeout) => {
                // The thread is stuck in an exporter that ignores its deadline; leave it behind.
                diag!(
                    Error,
                    "the export thread did not stop within {timeout:?}; leaving it behind"
                );
                return Err(FlushError::Timeout(timeout));
            }
            Err(RecvTimeoutError::Disconnected) => Err(FlushError::NotRunning),
        };
        // The thread still drops the exporter and its runtime: wait for that only until the
        // deadline (and its grace), then leave the thread behind.
        let left = deadline
            .checked_add(SHUTDOWN_GRACE)
            .unwrap_or(deadline)
            .saturating_duration_since(std::time::Instant::now());
        match self.finished.recv_timeout(left) {
            Ok(()) | Err(RecvTimeoutError::Disconnected) => {
                if let Some(thread) = self.thread.take() {
                    let _ = thread.join();
                }
            }
            Err(RecvTimeoutError::Timeout) => {
                diag!(
                    Error,
                    "the export thread did not finish within {timeout:?} after its last export; \
                     leaving it behind"
                );
            }
        }
        result
    }
}

/// Asks the thread behind `control` to flush and waits up to `timeout`.
pub(crate) fn flush(
    control: &UnboundedSender<Control>,
    timeout: Duration,
) -> Result<(), FlushError> {
    let (reply, answer) = sync_channel(1);
    control
        .send(Control::Flush(reply))
        .map_err(|_| FlushError::NotRunning)?;
    match answer.recv_timeout(timeout) {
        Ok(result) => result.map_err(FlushError::Export),
        Err(RecvTimeoutError::Timeout) => Err(FlushError::Timeout(timeout)),
        Err(RecvTimeoutError::Disconnected) => Err(FlushError::NotRunning),
    }
}

type ExportFuture<'a> =
    Pin<Box<dyn Future<Output = Result<OTelSdkResult, tokio::time::error::Elapsed>> + Send + 'a>>;

struct InFlight<'a> {
    export: ExportFuture<'a>,
    spans: usize,
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

struct Worker {
    settings: Settings,
    conversion: Conversion,
    rings: Vec<RingPair>,
    queue: BatchQueue,
    /// Spans taken from thread buffers so far.
    taken: u64,
    /// Failed exports so far, and the last one's message.
    failures: u64,
    last_failure: String,
}

impl Worker {
    fn new(settings: Settings) -> Worker {
        let scope = InstrumentationScope::builder("tracewire")
            .with_version(env!("CARGO_PKG_VERSION"))
            .build();
        let conversion = Conversion {
            clock: Converter::new(),
            limits: settings.limits,
            scope,
        };
        let queue = BatchQueue::new(settings.max_export_batch_size);
        Worker {
            settings,
            conversion,
            rings: Vec::new(),
            queue,
            taken: 0,
            failures: 0,
            last_failure: String::new(),
        }
    }

    async fn run(
        mut self,
        mut exporter: Box<dyn DynExporter>,
        control: UnboundedReceiver<Control>,
    ) {
        let (reply, result, deadline) = self.serve(&*exporter, control).await;
        // Whatever time the shutdown deadline leaves, and no more.
        let left = deadline.saturating_duration_since(Instant::now());
        if let Err(e) = exporter.shutdown_boxed(left.min(self.settings.export_timeout)) {
            diag!(Warn, "the exporter reported an error on shutdown: {e}");
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
    fn is_done(&self, waiter: &mut Waiter, completed: u64) -> bool {
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
        waiter.taken.is_some_and(|taken| completed >= taken)
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

    /// Moves finished spans from the thread buffers into the queue, as far as it has room.
    fn drain(&mut self) {
        super::take_pending(&mut self.rings);
        if self.rings.is_empty() {
            return;
        }
        self.conversion.clock.refresh();
        let room = self
            .settings
            .max_queue_size
            .saturating_sub(self.queue.len());
        if room > 0 {
            super::wake_served();
        }
        let mut moved = 0;
        for ring in &mut self.rings {
            while moved < room {
                let Ok(mut record) = ring.records.pop() else {
                    break;
                };
                ring.popped += 1;
                if let Some(policy) = &self.settings.policy {
                    policy.enforce(&mut record);
                }
                let (data, extras) = self.conversion.convert(record);
                self.queue.push(data);
                // Back to its thread for reuse; if that ring is full (or the thread gone), freed.
                if let Some(extras) = extras {
                    let _ = ring.free.push(extras);
                }
                moved += 1;
            }
        }
        self.taken += moved as u64;
        // Forget the rings of threads that have exited: drained, or discarded if the queue is full.
        super::reclaim_abandoned(&mut self.rings, moved == room);
        // Start with another thread next time, so that a busy thread cannot starve the others.
        if moved == room && self.rings.len() > 1 {
            self.rings.rotate_left(1);
        }
    }

    async fn serve(
        &mut self,
        exporter: &dyn DynExporter,
        mut control: UnboundedReceiver<Control>,
    ) -> (Option<Reply>, Result<(), String>, Instant) {
        let mut in_flight: Option<InFlight<'_>> = None;
        let mut waiters: Vec<Waiter> = Vec::new();
        let mut shutdown: Option<(Instant, Waiter)> = None;
        // Once the control channel is closed, `recv` is always ready: stop polling it.
        let mut closed = false;
        let mut next_export = later(Instant::now(), self.settings.schedule_delay);
        loop {
            self.drain();
            let now = Instant::now();
            let flushing = !waiters.is_empty() || shutdown.is_some();
            if in_flight.is_none()
                && (self.queue.has_full_batch()
                    || (!self.queue.is_empty() && (now >= next_export || flushing)))
                && let Some(batch) = self.queue.pop_batch()
            {
                let count = batch.len();
                GLOBAL.export_requests.fetch_add(1, Ordering::Relaxed);
                let export = tokio::time::timeout(
                    self.settings.export_timeout,
                    super::supervise::export(exporter, batch),
                );
                in_flight = Some(InFlight {
                    export: Box::pin(export),
                    spans: count,
                });
            }
            let exporting = in_flight.as_ref().map_or(0, |f| f.spans) as u64;
            let queued = self.queue.len() as u64 + exporting;
            GLOBAL
                .queued
                .store(queued + self.buffered(), Ordering::Relaxed);

            // Answer the flushes whose spans have all been exported (or have failed).
            let completed = self.taken - queued;
            waiters.retain_mut(|waiter| {
                let done = self.is_done(waiter, completed);
                if done {
                    let _ = waiter.reply.try_send(self.answer(waiter));
                }
                !done
            });
            if let Some((deadline, mut waiter)) = shutdown.take() {
                if in_flight.is_none() && self.is_done(&mut waiter, completed) {
                    let answer = self.answer(&waiter);
                    return (Some(waiter.reply), answer, deadline);
                }
                shutdown = Some((deadline, waiter));
            }

            let wake_at = if in_flight.is_some() || self.queue.is_empty() {
                now + DRAIN_INTERVAL
            } else {
                next_export.min(now + DRAIN_INTERVAL)
            };
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
                result = async {
                    match in_flight.as_mut() {
                        Some(flight) => flight.export.as_mut().await,
                        None => std::future::pending().await,
                    }
                }, if in_flight.is_some() => {
                    let spans = in_flight.take().map_or(0, |flight| flight.spans);
                    self.finish_export(result, spans);
                    next_export = later(Instant::now(), self.settings.schedule_delay);
                }
                () = tokio::time::sleep_until(deadline.unwrap_or(now)), if deadline.is_some() => {
                    let abandoned = in_flight.take().map_or(0, |flight| flight.spans as u64);
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

    /// Counts the result of one export; a failure is remembered for the flushes waiting.
    fn finish_export(
        &mut self,
        result: Result<OTelSdkResult, tokio::time::error::Elapsed>,
        spans: usize,
    ) {
        let message = match result {
            Ok(Ok(())) => {
                GLOBAL.exported.fetch_add(spans as u64, Ordering::Relaxed);
                return;
            }
            Ok(Err(e)) => e.to_string(),
            Err(_) => format!("export timed out after {:?}", self.settings.export_timeout),
        };
        GLOBAL.export_errors.fetch_add(1, Ordering::Relaxed);
        GLOBAL
            .dropped_export_failed
            .fetch_add(spans as u64, Ordering::Relaxed);
        diag!(Error, "export of {spans} spans failed: {message}");
        if let Ok(mut last) = LAST_EXPORT_ERROR.lock() {
            *last = Some(message.clone());
        }
        self.failures += 1;
        self.last_failure = message;
    }

    /// Drops and counts everything still queued or buffered, plus `in_flight` spans of an abandoned
    /// export; returns how many.
    fn abandon(&mut self, in_flight: u64) -> u64 {
        let buffered: u64 = self.rings.iter_mut().map(RingPair::discard_buffered).sum();
        let left = in_flight + self.queue.clear() as u64 + buffered;
        GLOBAL.dropped_shutdown.fetch_add(left, Ordering::Relaxed);
        left
    }
}
