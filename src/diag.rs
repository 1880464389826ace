//! tracewire's own diagnostics: rate-limited lines on standard error that users can silence.
//!
//! Internal trouble (an export that failed, spans dropped because a buffer was full) is reported
//! here rather than through `tracing`, so that a service that bridges `tracing` into tracewire does
//! not feed tracewire's complaints back into its own pipeline.

use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

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
            eprintln!(
                "tracewire {tag}: {} ({held_back} similar messages suppressed)",
                message()
            );
        } else {
            eprintln!("tracewire {tag}: {}", message());
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
