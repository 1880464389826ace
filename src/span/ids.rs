//! Trace and span ids from a per-thread generator: no lock, no system call.

use std::cell::Cell;
use std::hash::{BuildHasher, Hasher};

use opentelemetry::trace::SpanId;

thread_local! {
    /// wyrand state; 0 means "not seeded yet".
    static STATE: Cell<u64> = const { Cell::new(0) };
}

/// A seed unique to this thread and moment: std's per-process random keys, mixed with the thread
/// id and the time.
#[cold]
fn seed() -> u64 {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(std::process::id().into());
    std::hash::Hash::hash(&std::thread::current().id(), &mut hasher);
    if let Ok(d) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        hasher.write_u128(d.as_nanos());
    }
    hasher.finish() | 1
}

/// The next 64 random bits (wyrand: fast, passes BigCrush, not cryptographic, which trace ids need
/// not be).
#[inline]
fn next_u64() -> u64 {
    STATE
        .try_with(|state| {
            let mut s = state.get();
            if s == 0 {
                s = seed();
            }
            s = s.wrapping_add(0xa076_1d64_78bd_642f);
            state.set(s);
            let t = u128::from(s) * u128::from(s ^ 0xe703_7ed1_a0b4_28db);
            ((t >> 64) as u64) ^ (t as u64)
        })
        // During thread teardown the generator is gone: fall back to a fresh seed each time.
        .unwrap_or_else(|_| seed())
}

/// A new, valid (non-zero) span id.
#[inline]
pub(crate) fn span_id() -> SpanId {
    let mut id = next_u64();
    if id == 0 {
        id = 1;
    }
    SpanId::from(id)
}

/// The W3C Trace Context Level 2 "random trace id" flag (0x02). Every trace id from [`trace_id`]
/// is 128 bits of the generator (the right-most 7 bytes the flag speaks of included), so the root
/// spans tracewire starts set it; a child keeps its parent's.
pub(crate) const RANDOM_FLAG: u8 = 0x02;

/// A new, valid (non-zero) trace id, as its high and low halves.
#[inline]
pub(crate) fn trace_id() -> [u64; 2] {
    let (high, low) = (next_u64(), next_u64());
    [high, if high == 0 && low == 0 { 1 } else { low }]
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn ids_are_valid_and_distinct() {
        let mut seen = HashSet::new();
        for _ in 0..10_000 {
            let id = span_id();
            assert_ne!(id, SpanId::INVALID);
            assert!(seen.insert(id));
        }
        assert_ne!(trace_id(), [0, 0]);
    }

    #[test]
    fn threads_get_different_sequences() {
        let a = std::thread::spawn(trace_id).join().unwrap();
        let b = std::thread::spawn(trace_id).join().unwrap();
        assert_ne!(a, b);
    }
}
