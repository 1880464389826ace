//! [`init`], the [`Guard`] that keeps tracing running, and [`force_flush`].

use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use crate::collector::{self, worker};
use crate::config::{Config, Resolved};
use crate::context::SamplerRule;
use crate::error::{FlushError, InitError};
use crate::span::{clock, record};

/// What `init` installed.
enum Installed {
    /// `OTEL_SDK_DISABLED=true`: nothing runs, but a second `init` is still refused.
    Disabled,
    Running {
        handle: worker::Handle,
        flush_timeout: Duration,
    },
}

static INSTALLED: Mutex<Option<Installed>> = Mutex::new(None);

fn installed() -> MutexGuard<'static, Option<Installed>> {
    INSTALLED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Starts tracing, configured from the `OTEL_*` environment variables (see
/// [`Config`] for the list), and returns the [`Guard`] that keeps it running.
///
/// Equivalent to `Config::from_env()?.init()`; use [`Config`] to set things in code. It starts
/// tracewire's export thread and waits until its exporter is built (and, on machines where spans are
/// timed with the TSC, until the clock rate is calibrated: about 2 ms).
///
/// # Errors
///
/// An [`InitError`] naming the variable and value at fault, or
/// [`InitError::AlreadyInitialized`] if a guard is alive.
///
/// # Examples
///
/// ```
/// fn main() -> Result<(), tracewire::InitError> {
///     # unsafe { std::env::set_var("OTEL_TRACES_EXPORTER", "none") };
///     let _guard = tracewire::init()?;
///     let span = tracewire::span("checkout");
///     span.set_attribute("cart.items", 3_i64);
///     Ok(())
/// } // the guard drops: queued spans are flushed, with a deadline
/// ```
pub fn init() -> Result<Guard, InitError> {
    Config::from_env()?.init()
}

pub(crate) fn install(config: Config) -> Result<Guard, InitError> {
    let set_global_tracer_provider = config.global_tracer_provider != Some(false);
    let sources = crate::config::describe::Sources::of(&config);
    let resolved = config.resolve()?;
    let mut slot = installed();
    if slot.is_some() {
        return Err(InitError::AlreadyInitialized);
    }
    crate::diag::set_level(resolved.diagnostics);
    crate::diag::start();
    #[cfg(feature = "tls")]
    crate::export::tls::install_default_provider();
    profile_start(&sources, &resolved);
    crate::propagation::set_global(resolved.propagators);
    let shutdown_timeout = resolved.shutdown_timeout;
    if resolved.disabled {
        collector::set_enabled(false);
        *slot = Some(Installed::Disabled);
        return Ok(Guard {
            shutdown_timeout,
            shut_down: false,
        });
    }
    let Resolved {
        sampler,
        resource,
        exporter,
        max_queue_size,
        schedule_delay,
        max_export_batch_size,
        batch_export_timeout,
        max_concurrent_exports,
        span_limits,
        thread_buffer_size,
        profile,
        ..
    } = resolved;
    clock::select_source();
    record::MAX_ATTRIBUTES.store(
        span_limits.max_attributes,
        std::sync::atomic::Ordering::Relaxed,
    );
    record::MAX_EVENTS.store(span_limits.max_events, std::sync::atomic::Ordering::Relaxed);
    record::MAX_LINKS.store(span_limits.max_links, std::sync::atomic::Ordering::Relaxed);
    collector::configure(SamplerRule::from_sampler(&sampler), thread_buffer_size);
    let settings = worker::Settings {
        max_queue_size,
        schedule_delay,
        max_export_batch_size,
        export_timeout: batch_export_timeout,
        max_concurrent_exports,
        limits: span_limits,
        resource,
        policy: profile.as_ref().map(crate::Profile::policy),
    };
    // Spans that ended during the previous shutdown, after its last look, belong to that session.
    collector::sweep_pending();
    let handle = worker::spawn(settings, exporter)?;
    collector::reset_stats();
    collector::set_enabled(true);
    if set_global_tracer_provider {
        opentelemetry::global::set_tracer_provider(crate::otel::TracerProvider::default());
    }
    *slot = Some(Installed::Running {
        handle,
        flush_timeout: batch_export_timeout,
    });
    Ok(Guard {
        shutdown_timeout,
        shut_down: false,
    })
}

/// Keeps tracing running; dropping it flushes what is queued and stops the background thread,
/// within the shutdown timeout ([`Config::with_shutdown_timeout`], 5 s by default), even when the
/// collector is unreachable. Spans started afterwards record nothing.
///
/// # Examples
///
/// ```
/// # fn main() -> Result<(), tracewire::InitError> {
/// let guard = tracewire::Config::default().with_exporter_kind(tracewire::ExporterKind::None).init()?;
/// tracewire::span("work").end();
/// guard.shutdown().expect("flushed"); // or just let it drop
/// # Ok(())
/// # }
/// ```
#[must_use = "tracing stops when the Guard is dropped: bind it with `let _guard = ...`"]
#[derive(Debug)]
pub struct Guard {
    shutdown_timeout: Duration,
    shut_down: bool,
}

impl Guard {
    /// Flushes and stops now, and says whether every span was exported.
    ///
    /// # Errors
    ///
    /// [`FlushError::Timeout`] when the deadline passed, [`FlushError::Export`] when an export
    /// failed; the spans concerned are counted in [`stats`](crate::stats).
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), tracewire::InitError> {
    /// let guard = tracewire::Config::default().with_exporter_kind(tracewire::ExporterKind::None).init()?;
    /// assert!(guard.shutdown().is_ok());
    /// # Ok(())
    /// # }
    /// ```
    pub fn shutdown(mut self) -> Result<(), FlushError> {
        self.shut_down = true;
        shutdown(self.shutdown_timeout)
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if !self.shut_down {
            // Failures are counted in `stats()` and reported by the diagnostics.
            let _ = shutdown(self.shutdown_timeout);
        }
    }
}

fn shutdown(timeout: Duration) -> Result<(), FlushError> {
    let started = std::time::Instant::now();
    // No new spans; spans that end from now on are counted as dropped at shutdown, so that none can
    // stay behind in a buffer uncounted. Everything that ended before is flushed.
    collector::set_enabled(false);
    let taken = installed().take();
    let result = match taken {
        Some(Installed::Running { handle, .. }) => handle.shutdown(timeout),
        Some(Installed::Disabled) => Ok(()),
        None => Err(FlushError::NotRunning),
    };
    // Let the last diagnostics reach standard error before the process may exit: briefly, and
    // only as long as the deadline leaves (a little at least, for the line that says it passed).
    let left = timeout.saturating_sub(started.elapsed());
    crate::diag::flush(left.clamp(Duration::from_millis(20), Duration::from_millis(200)));
    result
}

/// Exports every span that has ended so far and waits until that is done, or until the batch
/// export timeout (`OTEL_BSP_EXPORT_TIMEOUT`, 30 s by default) passes.
///
/// It blocks the calling thread, never an async runtime's reactor: the export runs on tracewire's
/// own thread.
///
/// # Errors
///
/// [`FlushError::NotRunning`] without `init`; [`FlushError::Timeout`]; [`FlushError::Export`] when
/// an export failed (its spans are counted as dropped).
///
/// # Examples
///
/// ```
/// # fn main() -> Result<(), tracewire::InitError> {
/// let _guard = tracewire::Config::default().with_exporter_kind(tracewire::ExporterKind::None).init()?;
/// tracewire::span("work").end();
/// tracewire::force_flush().expect("exported");
/// assert_eq!(tracewire::stats().spans_exported, 1);
/// # Ok(())
/// # }
/// ```
pub fn force_flush() -> Result<(), FlushError> {
    let timeout = match &*installed() {
        Some(Installed::Running { flush_timeout, .. }) => *flush_timeout,
        _ => return Err(FlushError::NotRunning),
    };
    force_flush_timeout(timeout)
}

/// Like [`force_flush`], with a deadline of `timeout`.
///
/// # Errors
///
/// As [`force_flush`].
///
/// # Examples
///
/// ```
/// # fn main() -> Result<(), tracewire::InitError> {
/// let _guard = tracewire::Config::default().with_exporter_kind(tracewire::ExporterKind::None).init()?;
/// tracewire::force_flush_timeout(std::time::Duration::from_secs(1)).expect("exported");
/// # Ok(())
/// # }
/// ```
pub fn force_flush_timeout(timeout: Duration) -> Result<(), FlushError> {
    // Take a sender and release the lock before waiting, so a slow flush blocks nobody else.
    let sender = match &*installed() {
        Some(Installed::Running { handle, .. }) => handle.sender(),
        _ => return Err(FlushError::NotRunning),
    };
    worker::flush(&sender, timeout)
}

/// What `init` reports before starting: the description (kept for `describe()`, written at
/// `OTEL_LOG_LEVEL=debug`) and a warn-only profile's missing requirements.
fn profile_start(sources: &crate::config::describe::Sources, resolved: &Resolved) {
    let text = crate::config::describe::render(sources, resolved);
    crate::diag::diag!(Debug, "{}", text.trim_end());
    crate::config::describe::store(text);
    for warning in &resolved.warnings {
        crate::diag::diag!(Warn, "{warning}");
    }
}

/// Whether an `init` is in effect (running or disabled) and its guard not yet dropped.
pub(crate) fn is_installed() -> bool {
    installed().is_some()
}
