//! tracewire's own diagnostics: rate-limited lines on standard error that users can silence.
//!
//! Internal trouble (an export that failed, spans dropped because a buffer was full) is reported
//! here rather than through `tracing`, so that a service that bridges `tracing` into tracewire does
//! not feed tracewire's complaints back into its own pipeline.
//!
//! # Why a writer thread
//!
//! Some diagnostics are raised on the application's threads (inside `Span::drop`, for one). Writing
//! there with `eprintln!` would panic when standard error is a closed pipe and block for as long as
//! it is a full one (a log shipper that stalls). Instead, a line is handed to a bounded queue with a
//! non-blocking `try_send`, and the `tracewire-diag` thread writes it, ignoring write errors. When
//! the queue is full, or the thread cannot be started, the line is dropped and counted
//! ([`Stats::diagnostics_dropped`](crate::Stats::diagnostics_dropped)); the next line written says
//! how many were lost. Shutting down waits (briefly, within its deadline) for the queue to empty.

use std::io::Write as _;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How much of tracewire's own trouble is written to standard error (`OTEL_LOG_LEVEL`).
///
/// Each kind of message is written at most once every ten seconds, with a count of the occurrences
/// that were held back.
///
/// # Examples
///
/// ```
/// let config = tracewire::Config::default().with_diagnostics(tracewire::DiagLevel::None);
/// # drop(config);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
#[non_exhaustive]
pub enum DiagLevel {
    /// Nothing is written (`none`).
    None = 0,
    /// Only errors, such as a failed export (`error`).
    Error = 1,
    /// Errors and warnings, such as spans dropped because a buffer was full (`warn`, the default).
    #[default]
    Warn = 2,
    /// Also start-up and shut-down summaries (`info`).
    Info = 3,
    /// Everything (`debug`).
    Debug = 4,
}

static LEVEL: AtomicU8 = AtomicU8::new(DiagLevel::Warn as u8);

/// The interval between two lines of the same kind.
const RATE_LIMIT_SECS: u64 = 10;

pub(crate) fn set_level(level: DiagLevel) {
    LEVEL.store(level as u8, Ordering::Relaxed);
}

pub(crate) fn enabled(level: DiagLevel) -> bool {
    level as u8 <= LEVEL.load(Ordering::Relaxed) && level != DiagLevel::None
}

/// Lines that may wait for the writer thread; more are dropped and counted.
const QUEUE_LINES: usize = 64;

/// The writer thread's queue; `None` if the thread could not be started.
static SINK: OnceLock<Option<SyncSender<String>>> = OnceLock::new();
/// Lines queued and not yet written.
static PENDING: AtomicUsize = AtomicUsize::new(0);
/// Lines dropped since the writer last said so.
static DROPPED_UNTOLD: AtomicU64 = AtomicU64::new(0);
/// Lines dropped since the process started.
static DROPPED_TOTAL: AtomicU64 = AtomicU64::new(0);

/// Starts the writer thread, if it is not running (`init` calls it, so that the first line from a
/// hot path does not pay for the thread's start).
pub(crate) fn start() {
    let _ = sink();
}

fn sink() -> Option<&'static SyncSender<String>> {
    SINK.get_or_init(|| {
        let (sender, receiver) = sync_channel(QUEUE_LINES);
        std::thread::Builder::new()
            .name("tracewire-diag".into())
            .spawn(move || write_lines(&receiver))
            .ok()
            .map(|_| sender)
    })
    .as_ref()
}

/// The writer thread: writes each line to standard error, errors ignored. It may block in a write
/// (a full pipe): only it waits, and the queue in front of it overflows into the dropped count.
fn write_lines(receiver: &Receiver<String>) {
    for line in receiver {
        let mut err = std::io::stderr().lock();
        let lost = DROPPED_UNTOLD.swap(0, Ordering::Relaxed);
        if lost > 0 {
            let _ = writeln!(
                err,
                "tracewire warn: {lost} diagnostic lines were dropped (standard error was slow)"
            );
        }
        let _ = writeln!(err, "{line}");
        let _ = err.flush();
        drop(err);
        PENDING.fetch_sub(1, Ordering::Release);
    }
}

/// Hands `line` to the writer thread without blocking; when it cannot take it, counts it.
fn write(line: String) {
    PENDING.fetch_add(1, Ordering::Relaxed);
    let sent = match sink() {
        Some(sender) => match sender.try_send(line) {
            Ok(()) => true,
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => false,
        },
        None => false,
    };
    if !sent {
        PENDING.fetch_sub(1, Ordering::Relaxed);
        DROPPED_UNTOLD.fetch_add(1, Ordering::Relaxed);
        DROPPED_TOTAL.fetch_add(1, Ordering::Relaxed);
    }
}

/// Lines dropped since the process started.
pub(crate) fn dropped_lines() -> u64 {
    DROPPED_TOTAL.load(Ordering::Relaxed)
}

/// Waits until every queued line is written, or `timeout` passes (a full pipe): bounded.
pub(crate) fn flush(timeout: Duration) {
    let deadline = Instant::now() + timeout.min(Duration::from_secs(1));
    // At most timeout / 1 ms + 1 turns.
    while PENDING.load(Ordering::Acquire) > 0 {
        if Instant::now() >= deadline {
            return;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// One kind of message, with its own rate limit.
pub(crate) struct Limiter {
    /// Unix second of the last line written, 0 before the first.
    last: AtomicU64,
    /// Occurrences held back since the last line.
    suppressed: AtomicU64,
}

impl Limiter {
    pub(crate) const fn new() -> Self {
        Limiter {
            last: AtomicU64::new(0),
            suppressed: AtomicU64::new(0),
        }
    }

    /// Writes the message (built only when it will be written) unless one of this kind was written
    /// in the last ten seconds.
    pub(crate) fn emit(&self, level: DiagLevel, message: impl FnOnce() -> String) {
        if !enabled(level) {
            return;
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let last = self.last.load(Ordering::Relaxed);
        if last != 0 && now < last + RATE_LIMIT_SECS
            || self
                .last
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
        {
            self.suppressed.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let held_back = self.suppressed.swap(0, Ordering::Relaxed);
        let tag = match level {
            DiagLevel::Error => "error",
            DiagLevel::Warn => "warn",
            DiagLevel::Info => "info",
            DiagLevel::Debug | DiagLevel::None => "debug",
        };
        if held_back > 0 {
            write(format!(
                "tracewire {tag}: {} ({held_back} similar messages suppressed)",
                message()
            ));
        } else {
            write(format!("tracewire {tag}: {}", message()));
        }
    }
}

/// Writes a rate-limited diagnostic: `diag!(Warn, "spans dropped: {}", n)`.
macro_rules! diag {
    ($level:ident, $($arg:tt)+) => {{
        static LIMITER: $crate::diag::Limiter = $crate::diag::Limiter::new();
        LIMITER.emit($crate::diag::DiagLevel::$level, || format!($($arg)+));
    }};
}
pub(crate) use diag;
