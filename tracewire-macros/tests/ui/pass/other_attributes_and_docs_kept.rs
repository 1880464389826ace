#![deny(missing_docs, unused)]
//! Attributes and doc comments around `#[traced]` are kept.

/// Doubles a number.
#[tracewire::traced]
#[inline]
#[must_use]
pub fn double(n: u32) -> u32 {
    n * 2
}

/// Only on this target.
#[cfg(all())]
#[tracewire::traced(name = "renamed")]
#[allow(clippy::needless_return)]
pub fn kept() -> bool {
    return true;
}

/// Never compiled: `cfg` still removes the function.
#[cfg(any())]
#[tracewire::traced]
pub fn removed() -> u32 {
    compile_error!("not compiled")
}

fn main() {
    assert_eq!(double(2), 4);
    assert!(kept());
}
