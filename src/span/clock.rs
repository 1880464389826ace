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

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// Whether ticks are TSC cycles (decided once, at `init`).
static USE_TSC: AtomicBool = AtomicBool::new(false);
/// The origin of monotonic ticks when the TSC is not used.
static MONO_BASE: OnceLock<Instant> = OnceLock::new();

/// A point in time, in ticks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Ticks(pub(crate) u64);

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

impl Anchor {
    fn take() -> Anchor {
        let mono = Instant::now();
        let ticks = now().0;
        let unix_nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX));
        Anchor {
            ticks,
            unix_nanos,
            mono,
        }
    }
}

impl Converter {
    pub(crate) fn new() -> Converter {
        let first = Anchor::take();
        Converter {
            tsc: USE_TSC.load(Ordering::Relaxed),
            first,
            latest: first,
            nanos_per_tick: 1.0,
        }
    }

    /// Takes a new anchor and refines the tick rate; call before converting a batch.
    pub(crate) fn refresh(&mut self) {
        let latest = Anchor::take();
        if self.tsc {
            let elapsed = latest.mono.duration_since(self.first.mono).as_nanos() as f64;
            let ticks = latest.ticks.wrapping_sub(self.first.ticks) as f64;
            // Under a millisecond the measurement is mostly noise; keep the previous rate (or the
            // nominal 1 tick/ns, off by the clock speed, for the very first spans).
            if elapsed >= 1_000_000.0 && ticks > 0.0 {
                self.nanos_per_tick = elapsed / ticks;
            }
        }
        self.latest = latest;
    }

    /// The Unix time of `ticks`.
    pub(crate) fn to_system_time(&self, ticks: Ticks) -> SystemTime {
        // Spans are recent, so the difference fits an i64 and the float keeps nanosecond precision.
        let delta_ticks = ticks.0.wrapping_sub(self.latest.ticks) as i64;
        let delta_nanos = (delta_ticks as f64 * self.nanos_per_tick) as i64;
        let unix = self.latest.unix_nanos.saturating_add(delta_nanos).max(0);
        UNIX_EPOCH + std::time::Duration::from_nanos(unix as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_convert_to_the_wall_clock() {
        select_source();
        let mut converter = Converter::new();
        std::thread::sleep(std::time::Duration::from_millis(3));
        let before = SystemTime::now();
        let ticks = now();
        let after = SystemTime::now();
        converter.refresh();
        let converted = converter.to_system_time(ticks);
        // Within a millisecond of the wall clock read around it: a correctness bound, not a benchmark.
        let slack = std::time::Duration::from_millis(1);
        assert!(converted + slack >= before, "{converted:?} < {before:?}");
        assert!(converted <= after + slack, "{converted:?} > {after:?}");
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
