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

/// Doubles a number, later.
#[tracewire::traced]
#[inline]
#[must_use = "the future does nothing unless awaited"]
#[allow(clippy::unused_async)]
#[deprecated(note = "kept, so using it warns")]
pub async fn double_later(n: u32) -> u32 {
    n * 2
}

/// Never compiled: `cfg` still removes the function.
#[cfg(any())]
#[tracewire::traced]
pub fn removed() -> u32 {
    compile_error!("not compiled")
}

fn main() {
    assert_eq!(double(2), 4);
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    #[allow(deprecated)]
    let doubled = runtime.block_on(double_later(3));
    assert_eq!(doubled, 6);
    assert!(kept());
}
