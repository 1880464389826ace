//! Catching panics on the background thread, so that one bad batch (a panicking exporter or
//! encoder) is counted as failed and the thread goes on.

use std::future::Future;
use std::panic::AssertUnwindSafe;

use futures_util::FutureExt;

/// Runs `f` to completion; a panic inside it becomes `Err(message)`.
///
/// Unwind safety is asserted: whatever `f` borrowed is only used afterwards to count the batch as
/// failed, never trusted for its contents.
pub(crate) async fn catch_panic<F: Future>(f: F) -> Result<F::Output, String> {
    AssertUnwindSafe(f).catch_unwind().await.map_err(message)
}

/// Runs `f`; a panic inside it becomes `Err(message)`.
pub(crate) fn catch_panic_sync<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    std::panic::catch_unwind(AssertUnwindSafe(f)).map_err(message)
}

/// The panic's message, when it is a string.
fn message(payload: Box<dyn std::any::Any + Send>) -> String {
    if let Some(text) = payload.downcast_ref::<&'static str>() {
        (*text).to_owned()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "a panic with a non-string payload".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_its_message() {
        let result = futures_executor_free(catch_panic(async { panic!("boom {}", 1) }));
        assert_eq!(result, Err("boom 1".to_owned()));
        let ok = futures_executor_free(catch_panic(async { 7 }));
        assert_eq!(ok, Ok(7));
        assert_eq!(
            catch_panic_sync(|| -> u8 { panic!("sync") }),
            Err("sync".into())
        );
    }

    fn futures_executor_free<F: Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime")
            .block_on(f)
    }
}
