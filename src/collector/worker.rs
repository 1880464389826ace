//! The background thread: starts the export pipeline ([`pipeline`](super::pipeline)) on a runtime
//! of its own, answers flush and shutdown.
//!
//! # When things happen
//!
//! - Every 100 ms, or sooner when a thread's buffer passes half full, the thread drains the thread
//!   buffers: each record goes through the profile's policy stage, then is encoded at once into the
//!   OTLP request being built (for console, none or a user's `SpanExporter`: converted to
//!   `SpanData`). Spans held this way (being encoded, queued, waiting for a retry) are at most
//!   `OTEL_BSP_MAX_QUEUE_SIZE`, plus those in flight, and requests queued or in flight at most
//!   64 MiB; what does not fit waits in the thread buffers, and when those are full the spans are
//!   dropped and counted.
//! - A request is sealed when it holds `OTEL_BSP_MAX_EXPORT_BATCH_SIZE` spans (or 3 MiB), else when
//!   `OTEL_BSP_SCHEDULE_DELAY` has passed since the last one was sealed, or at a flush. Up to
//!   `OTEL_BSP_MAX_CONCURRENT_EXPORTS` requests are in flight at once, while the rings keep being
//!   drained; each attempt ends at `OTEL_BSP_EXPORT_TIMEOUT`.
//! - OTLP outcomes are the worker's to act on: HTTP 429/502/503/504, gRPC `UNAVAILABLE` (and
//!   `RESOURCE_EXHAUSTED` with `RetryInfo`) are retried after an exponential backoff with jitter, or
//!   after the collector's `Retry-After`/`RetryInfo` delay, which holds back every request; a batch
//!   is given up after four attempts. Three unreachable outcomes in a row (refused, reset, timed
//!   out) open a circuit breaker: one probe at a time, at most every 5 s, and each failed probe
//!   costs every waiting batch an attempt. Other answers fail the batch at once.
//! - A flush exports everything that was queued or buffered when it arrived, then answers (an error
//!   if a batch failed meanwhile).
//! - Shutdown flushes, shuts the exporter down and ends the thread; with the breaker open it makes
//!   one last short attempt and gives the rest up; at its deadline, whatever is left is counted as
//!   `dropped_shutdown`.
//!
//! # Why a runtime of our own
//!
//! The thread runs a current-thread tokio runtime that only it drives. The transports (tonic,
//! reqwest) need a reactor; owning one means export works whether the application has no runtime, a
//! current-thread runtime (where blocking on the application's runtime would deadlock) or a
//! multi-thread one, and a slow collector never takes the application's worker threads.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{RecvTimeoutError, SyncSender, sync_channel};
use std::thread::JoinHandle;
use std::time::Duration;

use opentelemetry_sdk::Resource;
use tokio::sync::mpsc::{UnboundedSender, unbounded_channel};

use super::supervise::{panic_message, supervise};
use crate::diag::diag;
use crate::error::{FlushError, InitError};
use crate::export::DynExporter;
use crate::export::settings::ExporterSettings;
use crate::span::limits::SpanLimits;

/// How long `init` waits for the thread to build its runtime and exporter.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// Extra time a shutdown caller waits past the deadline for the thread's answer.
const SHUTDOWN_GRACE: Duration = Duration::from_millis(250);

pub(crate) type Reply = SyncSender<Result<(), String>>;

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
    /// Export requests that may be in flight at once.
    pub(crate) max_concurrent_exports: usize,
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
                let mut sink = runtime.block_on(async { build_sink(exporter) })?;
                #[allow(irrefutable_let_patterns)] // without OTLP, `Spans` is the only sink
                if let Sink::Spans(exporter) = &mut sink {
                    exporter.set_resource_boxed(&settings.resource);
                }
                Ok(sink)
            }));
            let sink = match started {
                Ok(Ok(sink)) => sink,
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
                runtime
                    .block_on(super::pipeline::Worker::new(settings, &sink).run(sink, control_rx));
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

/// Where batches go: tracewire's own OTLP transport (fed encoded requests), or a `SpanExporter`.
pub(crate) enum Sink {
    #[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
    Otlp(crate::export::transport::Transport),
    Spans(Box<dyn DynExporter>),
}

fn build_sink(settings: ExporterSettings) -> Result<Sink, InitError> {
    Ok(Sink::Spans(match settings {
        #[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
        ExporterSettings::Otlp(otlp) => {
            return Ok(Sink::Otlp(crate::export::transport::Transport::build(
                &otlp,
            )?));
        }
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
    }))
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
