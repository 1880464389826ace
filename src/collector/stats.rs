//! [`Stats`]: the counters returned by [`stats`](crate::stats).

use std::sync::atomic::Ordering;

use super::{GlobalCounters, ThreadCounters};

/// What tracewire has done since [`init`](crate::init).
///
/// Every span that ends is, at any moment, exported, rejected by the collector, dropped for one
/// counted reason, or queued:
///
/// ```text
/// spans_ended == spans_exported + spans_rejected
///              + dropped_buffer_full + dropped_export_failed + dropped_shutdown + queued
/// ```
///
/// `queued` is the background thread's last look at its queue and the thread buffers, so the
/// equation is exact when that thread is idle: right after [`force_flush`](crate::force_flush)
/// returns while no other thread ends spans. Spans still open are counted in `spans_started` only.
///
/// # Examples
///
/// ```
/// # fn main() -> Result<(), tracewire::InitError> {
/// let _guard = tracewire::Config::default().with_exporter_kind(tracewire::ExporterKind::None).init()?;
/// for _ in 0..3 {
///     tracewire::span("unit of work").end();
/// }
/// tracewire::force_flush().ok();
/// let stats = tracewire::stats();
/// assert_eq!((stats.spans_ended, stats.spans_exported, stats.queued), (3, 3, 0));
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Sampled spans started.
    pub spans_started: u64,
    /// Spans started but not sampled: they carried context and recorded nothing.
    pub spans_not_sampled: u64,
    /// Sampled spans ended.
    pub spans_ended: u64,
    /// Spans the exporter accepted.
    pub spans_exported: u64,
    /// Spans dropped because a thread buffer or the export queue (`OTEL_BSP_MAX_QUEUE_SIZE`) was
    /// full: the exporter could not keep up. This includes the spans left in the buffers of exited
    /// threads, discarded while the export queue was full.
    pub dropped_buffer_full: u64,
    /// Spans in batches given up (see `export_errors`), or that could not be sent because the
    /// collector was unreachable and the queue full.
    pub dropped_export_failed: u64,
    /// Spans still queued when the shutdown deadline passed, ended after shutdown, or held by the
    /// background thread when it stopped (see `worker_stopped`).
    pub dropped_shutdown: u64,
    /// Batches sent: each counts once, however many times it was sent (re-sends are in
    /// `export_retries`).
    pub export_requests: u64,
    /// Batches given up: refused for good by the collector, out of retries, lost with the
    /// collector unreachable at shutdown, or failed in a user's exporter (or a panic in it or in
    /// encoding). A request that succeeded on a retry is not an error.
    pub export_errors: u64,
    /// Re-sends of a batch after a retryable failure (every attempt after the first): HTTP
    /// 429/502/503/504, gRPC `UNAVAILABLE` or `RESOURCE_EXHAUSTED` with `RetryInfo`, or a collector
    /// that could not be reached.
    pub export_retries: u64,
    /// Answers that asked the exporter to slow down: HTTP 429, HTTP 502/503/504 with
    /// `Retry-After`, gRPC `RESOURCE_EXHAUSTED`/`UNAVAILABLE` with `RetryInfo`.
    pub export_throttled: u64,
    /// Spans the collector refused through `partial_success.rejected_spans`: counted here, not in
    /// `spans_exported`. Its message goes to the diagnostics.
    pub spans_rejected: u64,
    /// Spans ended but neither exported nor dropped yet.
    pub queued: u64,
    /// The last export error, if any.
    pub last_export_error: Option<String>,
    /// Attribute values (of spans, events and links) replaced by `"REDACTED"` by the
    /// [`Profile`](crate::Profile)'s [`redact_attribute`](crate::Profile::redact_attribute) rules.
    pub attributes_redacted: u64,
    /// Span names whose ids the [`Profile`](crate::Profile)'s
    /// [`normalize_span_names`](crate::Profile::normalize_span_names) replaced by `{id}`.
    pub span_names_normalized: u64,
    /// tracewire's own diagnostic lines dropped, not written to standard error, because it was too
    /// slow (a full pipe) to take them.
    pub diagnostics_dropped: u64,
    /// `Some(reason)` if the background thread stopped without a shutdown (a panic escaped it).
    /// Recording is then switched off until the next [`init`](crate::init): spans take the
    /// disabled path, and what the thread held is counted in `dropped_shutdown`. `None` otherwise.
    pub worker_stopped: Option<String>,
}

impl Stats {
    pub(crate) const ZERO: Stats = Stats {
        spans_started: 0,
        spans_not_sampled: 0,
        spans_ended: 0,
        spans_exported: 0,
        dropped_buffer_full: 0,
        dropped_export_failed: 0,
        dropped_shutdown: 0,
        export_requests: 0,
        export_errors: 0,
        export_retries: 0,
        export_throttled: 0,
        spans_rejected: 0,
        queued: 0,
        last_export_error: None,
        attributes_redacted: 0,
        span_names_normalized: 0,
        diagnostics_dropped: 0,
        worker_stopped: None,
    };

    /// All spans dropped, whatever the reason.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(tracewire::stats().dropped(), 0);
    /// ```
    pub fn dropped(&self) -> u64 {
        self.dropped_buffer_full + self.dropped_export_failed + self.dropped_shutdown
    }

    /// Spans ended and not yet settled by any outcome of the invariant: what `queued` should be.
    pub(crate) fn unsettled(&self) -> u64 {
        self.spans_ended
            .saturating_sub(self.spans_exported + self.spans_rejected + self.dropped())
    }

    pub(crate) fn add_thread(&mut self, counters: &ThreadCounters) {
        self.spans_started += counters.started.load(Ordering::Relaxed);
        self.spans_not_sampled += counters.not_sampled.load(Ordering::Relaxed);
        self.spans_ended += counters.ended.load(Ordering::Relaxed);
        self.dropped_buffer_full += counters.dropped_full.load(Ordering::Relaxed);
    }

    pub(crate) fn add_global(&mut self, global: &GlobalCounters) {
        self.spans_ended += global.ended_unbuffered.load(Ordering::Relaxed);
        self.spans_exported += global.exported.load(Ordering::Relaxed);
        self.dropped_buffer_full += global.dropped_unbuffered.load(Ordering::Relaxed);
        self.dropped_buffer_full += global.dropped_reclaimed.load(Ordering::Relaxed);
        self.dropped_export_failed += global.dropped_export_failed.load(Ordering::Relaxed);
        self.dropped_shutdown += global.dropped_shutdown.load(Ordering::Relaxed);
        self.export_requests += global.export_requests.load(Ordering::Relaxed);
        self.export_errors += global.export_errors.load(Ordering::Relaxed);
        self.export_retries += global.export_retries.load(Ordering::Relaxed);
        self.export_throttled += global.export_throttled.load(Ordering::Relaxed);
        self.spans_rejected += global.spans_rejected.load(Ordering::Relaxed);
        self.attributes_redacted += global.attributes_redacted.load(Ordering::Relaxed);
        self.span_names_normalized += global.span_names_normalized.load(Ordering::Relaxed);
        self.diagnostics_dropped += crate::diag::dropped_lines();
    }

    /// The counts since `baseline`.
    pub(crate) fn since(&self, baseline: &Stats) -> Stats {
        Stats {
            spans_started: self.spans_started.wrapping_sub(baseline.spans_started),
            spans_not_sampled: self
                .spans_not_sampled
                .wrapping_sub(baseline.spans_not_sampled),
            spans_ended: self.spans_ended.wrapping_sub(baseline.spans_ended),
            spans_exported: self.spans_exported.wrapping_sub(baseline.spans_exported),
            dropped_buffer_full: self
                .dropped_buffer_full
                .wrapping_sub(baseline.dropped_buffer_full),
            dropped_export_failed: self
                .dropped_export_failed
                .wrapping_sub(baseline.dropped_export_failed),
            dropped_shutdown: self
                .dropped_shutdown
                .wrapping_sub(baseline.dropped_shutdown),
            export_requests: self.export_requests.wrapping_sub(baseline.export_requests),
            export_errors: self.export_errors.wrapping_sub(baseline.export_errors),
            export_retries: self.export_retries.wrapping_sub(baseline.export_retries),
            export_throttled: self
                .export_throttled
                .wrapping_sub(baseline.export_throttled),
            spans_rejected: self.spans_rejected.wrapping_sub(baseline.spans_rejected),
            queued: 0,
            last_export_error: None,
            attributes_redacted: self
                .attributes_redacted
                .wrapping_sub(baseline.attributes_redacted),
            span_names_normalized: self
                .span_names_normalized
                .wrapping_sub(baseline.span_names_normalized),
            diagnostics_dropped: self
                .diagnostics_dropped
                .wrapping_sub(baseline.diagnostics_dropped),
            worker_stopped: None,
        }
    }
}
