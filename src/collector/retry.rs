//! When to send again: exponential backoff with jitter, the collector's own delays, and the
//! circuit breaker that stops a dead endpoint from being sent every batch.
//!
//! All of it holds back the whole exporter, not one batch: a collector that asked for a delay
//! (`Retry-After`, `RetryInfo`) or that cannot be reached receives no request, of any batch, until
//! the hold has passed.

use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

use tokio::time::Instant;

/// Requests made with one batch before it is given up (counted in `dropped_export_failed`): the
/// first and three retries, as in opentelemetry-otlp's policy.
pub(crate) const MAX_ATTEMPTS: u32 = 4;
/// The first retry's delay; each further one doubles it, up to [`MAX_BACKOFF`].
const BASE_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// Consecutive unreachable outcomes (refused, reset, timed out) that open the breaker.
const BREAKER_THRESHOLD: u32 = 3;
/// The first probe's delay once the breaker is open; it doubles after each failed probe.
const FIRST_PROBE: Duration = Duration::from_millis(500);
/// The longest wait between two probes of a dead endpoint.
pub(crate) const MAX_PROBE: Duration = Duration::from_secs(5);

/// A random delay in `[delay / 2, delay]` ("equal jitter"), so that many processes retrying the
/// same collector do not send in step.
fn jittered(delay: Duration) -> Duration {
    // std's per-call random keys: a fresh value each time, no dependency.
    let random = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    let half = delay / 2;
    let nanos = u64::try_from(half.as_nanos()).unwrap_or(u64::MAX);
    half + Duration::from_nanos(if nanos == 0 { 0 } else { random % (nanos + 1) })
}

/// The delay before attempt `attempt + 1` after `attempt` failed ones.
pub(crate) fn backoff(attempt: u32) -> Duration {
    let exp = attempt.saturating_sub(1).min(16);
    jittered(BASE_BACKOFF.saturating_mul(1 << exp).min(MAX_BACKOFF))
}

/// The exporter-wide state of delivery: the hold and the breaker.
#[derive(Debug)]
pub(crate) struct Delivery {
    /// No request starts before this moment.
    hold_until: Option<Instant>,
    /// Unreachable outcomes in a row.
    unreachable: u32,
    /// The breaker is open: one probe at a time, spaced by `probe`.
    open: bool,
    probe: Duration,
}

impl Default for Delivery {
    fn default() -> Delivery {
        Delivery {
            hold_until: None,
            unreachable: 0,
            open: false,
            probe: FIRST_PROBE,
        }
    }
}

impl Delivery {
    /// Whether a request may start now.
    pub(crate) fn may_send(&self, now: Instant) -> bool {
        self.hold_until.is_none_or(|until| now >= until)
    }

    /// When the hold ends, if one is on.
    pub(crate) fn held_until(&self, now: Instant) -> Option<Instant> {
        self.hold_until.filter(|until| *until > now)
    }

    pub(crate) fn is_open(&self) -> bool {
        self.open
    }

    /// Drops the hold (the shutdown's last attempt).
    pub(crate) fn release(&mut self) {
        self.hold_until = None;
    }

    fn hold(&mut self, now: Instant, delay: Duration) {
        let until = now + delay;
        self.hold_until = Some(self.hold_until.map_or(until, |held| held.max(until)));
    }

    /// The collector answered (whatever it said): it is reachable.
    pub(crate) fn answered(&mut self) {
        self.unreachable = 0;
        self.open = false;
        self.probe = FIRST_PROBE;
    }

    /// A retryable answer after `attempts` requests of a batch: the collector's delay, else a
    /// backoff.
    pub(crate) fn retry_later(&mut self, now: Instant, attempts: u32, delay: Option<Duration>) {
        self.answered();
        self.hold(now, delay.unwrap_or_else(|| backoff(attempts)));
    }

    /// Nothing answered. Returns true when this opened the breaker.
    pub(crate) fn unreachable(&mut self, now: Instant, attempts: u32) -> bool {
        self.unreachable = self.unreachable.saturating_add(1);
        if self.open {
            self.probe = (self.probe * 2).min(MAX_PROBE);
            self.hold(now, jittered(self.probe));
            return false;
        }
        if self.unreachable >= BREAKER_THRESHOLD {
            self.open = true;
            self.probe = FIRST_PROBE;
            self.hold(now, jittered(self.probe));
            return true;
        }
        self.hold(now, backoff(attempts));
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_and_is_capped() {
        for attempt in 1..10 {
            let full = BASE_BACKOFF
                .saturating_mul(1 << (attempt - 1))
                .min(MAX_BACKOFF);
            let delay = backoff(attempt);
            assert!(delay >= full / 2 && delay <= full, "{attempt}: {delay:?}");
        }
        assert!(backoff(100) <= MAX_BACKOFF);
    }

    #[test]
    fn the_breaker_opens_after_consecutive_failures_and_closes_on_an_answer() {
        let now = Instant::now();
        let mut delivery = Delivery::default();
        assert!(delivery.may_send(now));
        assert!(!delivery.unreachable(now, 1));
        assert!(!delivery.unreachable(now, 2));
        assert!(!delivery.may_send(now));
        assert!(delivery.unreachable(now, 3));
        assert!(delivery.is_open());
        assert!(delivery.held_until(now).is_some());
        for _ in 0..10 {
            delivery.unreachable(now, 1);
        }
        let held = delivery.held_until(now).unwrap() - now;
        assert!(held <= MAX_PROBE, "{held:?}");
        delivery.answered();
        assert!(!delivery.is_open());
    }

    #[test]
    fn a_collector_delay_holds_everything() {
        let now = Instant::now();
        let mut delivery = Delivery::default();
        delivery.retry_later(now, 1, Some(Duration::from_secs(3)));
        assert!(!delivery.may_send(now + Duration::from_secs(2)));
        assert!(delivery.may_send(now + Duration::from_secs(3)));
    }
}
