//! Span timestamps: one cheap tick read on the hot path, converted to Unix time off it.
//!
//! # Why not `SystemTime::now()`
//!
//! A span needs two timestamps, and reading the wall clock costs 20 ns or more each (a system call
//! on some virtual machines). On x86-64 machines whose kernel itself times with the TSC (so it is
//! invariant and synchronised across cores), a span reads the TSC instead, about a nanosecond or two.
//! The background thread keeps anchors, pairs of (ticks, Unix nanoseconds) taken at once, and turns
//! ticks into Unix time with the rate it measures between the first anchor and the newest one; the
//! longer the process runs, the more exact the rate. Elsewhere, ticks are nanoseconds of the
//! monotonic clock since the first anchor, and the conversion is an addition.
//!
//! # When the rate is known
//!
//! With the TSC, the background thread calibrates before `init` returns: it takes an anchor, sleeps
//! about [`CALIBRATION`] (2 ms), and takes a second one, so that even the first spans are converted
//! with a measured rate rather than a guess. This adds about 2 ms to `init`; every later batch then
//! refines the rate. Without the TSC there is nothing to calibrate and `init` does not wait.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Whether ticks are TSC cycles (decided once, at `init`).
static USE_TSC: AtomicBool = AtomicBool::new(false);
/// The origin of monotonic ticks when the TSC is not used.
static MONO_BASE: OnceLock<Instant> = OnceLock::new();

/// A point in time, in ticks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Ticks(pub(crate) u64);

/// Marks a [`Ticks`] that holds Unix nanoseconds given by the caller rather than a clock reading.
///
/// # Why a flag bit
///
/// The OpenTelemetry API lets a caller give a span's start and end times as `SystemTime`s. Turning
/// those into ticks on the caller's thread would need the background thread's anchors; instead the
/// time travels as Unix nanoseconds with the top bit set, and the background thread, which converts
/// every timestamp anyway, reads it back. Clock readings never have that bit (2^63 TSC cycles or
/// nanoseconds are decades of uptime), so the normal path neither changes nor pays anything, and
/// a given time is exported exactly as given.
const EXPLICIT: u64 = 1 << 63;

impl Ticks {
    /// A time given by the caller (clamped to the Unix epoch and to the year 2262).
    pub(crate) fn from_system_time(time: SystemTime) -> Ticks {
        let nanos = time
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
        Ticks(EXPLICIT | nanos.min(EXPLICIT - 1))
    }
}

/// Reads the clock.
#[inline]
pub(crate) fn now() -> Ticks {
    #[cfg(target_arch = "x86_64")]
    if USE_TSC.load(Ordering::Relaxed) {
        // SAFETY: `rdtsc` has no preconditions on x86-64.
        #[allow(unused_unsafe)]
        return Ticks(unsafe { core::arch::x86_64::_rdtsc() });
    }
    mono_now()
}

fn mono_now() -> Ticks {
    let base = MONO_BASE.get_or_init(Instant::now);
    Ticks(u64::try_from(base.elapsed().as_nanos()).unwrap_or(u64::MAX))
}

/// Picks the tick source; called by `init` before any span records.
pub(crate) fn select_source() {
    MONO_BASE.get_or_init(Instant::now);
    USE_TSC.store(tsc_is_trustworthy(), Ordering::Relaxed);
}

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
fn tsc_is_trustworthy() -> bool {
    // The kernel only keeps `tsc` as its clocksource when the TSC is stable and synchronised.
    let kernel_uses_tsc =
        std::fs::read_to_string("/sys/devices/system/clocksource/clocksource0/current_clocksource")
            .is_ok_and(|s| s.trim() == "tsc");
    // CPUID 0x8000_0007 EDX bit 8: invariant TSC (constant rate across power states).
    // SAFETY: `cpuid` is available on every x86-64 processor.
    #[allow(unused_unsafe)]
    let max_ext = unsafe { core::arch::x86_64::__cpuid(0x8000_0000) }.eax;
    #[allow(unused_unsafe)]
    let invariant = max_ext >= 0x8000_0007
        && unsafe { core::arch::x86_64::__cpuid(0x8000_0007) }.edx & (1 << 8) != 0;
    kernel_uses_tsc && invariant
}

#[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
fn tsc_is_trustworthy() -> bool {
    false
}

/// Converts ticks to Unix time; owned by the background thread.
#[derive(Debug)]
pub(crate) struct Converter {
    tsc: bool,
    first: Anchor,
    latest: Anchor,
    nanos_per_tick: f64,
}

#[derive(Debug, Clone, Copy)]
struct Anchor {
    ticks: u64,
    unix_nanos: i64,
    mono: Instant,
}

/// How long `Converter::new` measures the TSC rate for, when the TSC is used.
const CALIBRATION: Duration = Duration::from_millis(2);

impl Anchor {
    /// Reads the three clocks as close together as it can: of a few tries, keeps the one that the
    /// thread was not preempted in (the shortest), so that a single anchor cannot skew the rate.
    fn take() -> Anchor {
        let (mut shortest, mut best) = Anchor::try_take();
        for _ in 0..3 {
            if shortest < Duration::from_micros(2) {
                break;
            }
            let (spread, anchor) = Anchor::try_take();
            if spread < shortest {
                (shortest, best) = (spread, anchor);
            }
        }
        best
    }

    /// One anchor, and how long reading it took.
    fn try_take() -> (Duration, Anchor) {
        let mono = Instant::now();
        let ticks = now().0;
        let unix_nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX));
        let anchor = Anchor {
            ticks,
            unix_nanos,
            mono,
        };
        (mono.elapsed(), anchor)
    }
}

impl Converter {
    /// Takes the first anchor and, with the TSC, calibrates: sleeps about [`CALIBRATION`] and
    /// measures the rate against a second anchor, so that no span is ever converted at a guessed
    /// rate. Runs on the background thread before `init` returns.
    pub(crate) fn new() -> Converter {
        let first = Anchor::take();
        let mut converter = Converter {
            tsc: USE_TSC.load(Ordering::Relaxed),
            first,
            latest: first,
            nanos_per_tick: 1.0,
        };
        if converter.tsc {
            // `sleep` may wake early on some platforms; the rate needs the full interval.
            while first.mono.elapsed() < CALIBRATION {
                std::thread::sleep(CALIBRATION.saturating_sub(first.mono.elapsed()));
            }
            converter.refresh();
        }
        converter
    }

    /// Takes a new anchor and refines the tick rate; call before converting a batch.
    pub(crate) fn refresh(&mut self) {
        let latest = Anchor::take();
        if self.tsc {
            let elapsed = latest.mono.duration_since(self.first.mono).as_nanos() as f64;
            let ticks = latest.ticks.wrapping_sub(self.first.ticks) as f64;
            // Calibration in `new` spans at least `CALIBRATION`, so this holds from the start; the
            // guard only keeps a degenerate measurement (ticks not advancing) from being used.
            if elapsed >= CALIBRATION.as_nanos() as f64 && ticks > 0.0 {
                self.nanos_per_tick = elapsed / ticks;
            }
        }
        self.latest = latest;
    }

    /// The Unix time of `ticks`.
    pub(crate) fn to_system_time(&self, ticks: Ticks) -> SystemTime {
        UNIX_EPOCH + Duration::from_nanos(self.to_unix_nanos(ticks))
    }

    /// The Unix time of `ticks` in nanoseconds, as OTLP carries it: the same instant as
    /// [`to_system_time`](Self::to_system_time), without building a `SystemTime`.
    #[cfg_attr(
        not(any(feature = "otlp-grpc", feature = "otlp-http")),
        allow(dead_code, reason = "only the OTLP encoder reads nanoseconds directly")
    )]
    pub(crate) fn to_unix_nanos(&self, ticks: Ticks) -> u64 {
        if ticks.0 & EXPLICIT != 0 {
            return ticks.0 & !EXPLICIT;
        }
        // Spans are recent, so the difference fits an i64 and the float keeps nanosecond precision.
        let delta_ticks = ticks.0.wrapping_sub(self.latest.ticks) as i64;
        let delta_nanos = (delta_ticks as f64 * self.nanos_per_tick) as i64;
        let unix = self.latest.unix_nanos.saturating_add(delta_nanos).max(0);
        unix as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_convert_to_the_wall_clock_right_after_new() {
        select_source();
        let mut converter = Converter::new();
        // No sleep: the first spans after `init` must already be converted at a measured rate.
        let before = SystemTime::now();
        let ticks = now();
        let after = SystemTime::now();
        // Let time pass after the read, so the conversion reaches back over it at the tick rate.
        let spin = Instant::now();
        while spin.elapsed() < Duration::from_micros(500) {
            std::hint::spin_loop();
        }
        converter.refresh();
        let converted = converter.to_system_time(ticks);
        // A correctness bound, not a benchmark: at a guessed 1 tick/ns the 500 µs are off by as much.
        let slack = Duration::from_micros(250);
        assert!(converted + slack >= before, "{converted:?} < {before:?}");
        assert!(converted <= after + slack, "{converted:?} > {after:?}");
    }

    #[test]
    fn a_short_span_right_after_new_has_its_real_duration() {
        select_source();
        let mut converter = Converter::new();
        let started = Instant::now();
        let start = now();
        while started.elapsed() < Duration::from_micros(300) {
            std::hint::spin_loop();
        }
        let end = now();
        let measured = started.elapsed();
        converter.refresh();
        let converted = converter
            .to_system_time(end)
            .duration_since(converter.to_system_time(start))
            .expect("the end is after the start");
        // Generous (15 %): an uncalibrated TSC is off by the clock speed, i.e. twice or more.
        let error = converted.as_secs_f64() / measured.as_secs_f64() - 1.0;
        assert!(
            error.abs() < 0.15,
            "converted {converted:?}, measured {measured:?}"
        );
    }

    #[test]
    fn a_time_given_by_the_caller_converts_back_exactly() {
        select_source();
        let converter = Converter::new();
        let given = UNIX_EPOCH + Duration::from_nanos(1_700_000_000_123_456_789);
        assert_eq!(
            converter.to_system_time(Ticks::from_system_time(given)),
            given
        );
        assert_eq!(
            converter.to_system_time(Ticks::from_system_time(UNIX_EPOCH - Duration::from_secs(1))),
            UNIX_EPOCH
        );
        assert_eq!(now().0 & EXPLICIT, 0, "a clock reading never has the flag");
    }

    #[test]
    fn ticks_never_go_backwards_on_one_thread() {
        select_source();
        let mut last = now();
        for _ in 0..10_000 {
            let next = now();
            assert!(next >= last);
            last = next;
        }
    }
}
