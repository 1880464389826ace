//! Supervision of the background thread: panics in the code it runs for others (exporters,
//! encoding) are caught and counted, and if the thread ever stops without a shutdown, recording is
//! switched off and [`stats`](crate::stats) says why.
//!
//! # Two levels
//!
//! - [`catch_panic`] wraps one export (or encoding) step: a panic there fails that batch only, and
//!   the worker goes on with the next one.
//! - [`supervise`] wraps the whole thread body. Anything that still escapes (a bug of tracewire's
//!   own, say) ends the worker: [`super::worker_stopped`] then switches recording off, so that spans
//!   take the disabled path instead of filling rings nobody drains, counts what the worker held as
//!   dropped, and records the reason for `stats().worker_stopped`.

use std::any::Any;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

/// Runs `f` to completion; a panic while it is polled, or while it is dropped, becomes
/// `Err(message)` (the panic's `&str` or `String` payload, or a generic text) instead of unwinding
/// into the caller.
///
/// A future that panicked is not polled again. A future dropped before completion (an export that
/// timed out, say) is dropped under the same guard, so a `Drop` that panics cannot end the worker.
pub(crate) async fn catch_panic<F: Future>(f: F) -> Result<F::Output, String> {
    CatchPanic {
        inner: Some(Box::pin(f)),
    }
    .await
}

/// Runs `f`; a panic inside it (or in dropping what it returns on the way out) becomes
/// `Err(message)` instead of unwinding into the caller.
pub(crate) fn catch_panic_sync<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    catch_unwind(AssertUnwindSafe(f)).map_err(panic_message)
}

/// The future behind [`catch_panic`]. The inner future is boxed so that it can be dropped early,
/// under `catch_unwind`, without unsafe pin projection.
struct CatchPanic<F> {
    inner: Option<Pin<Box<F>>>,
}

impl<F: Future> Future for CatchPanic<F> {
    type Output = Result<F::Output, String>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let Some(inner) = self.inner.as_mut() else {
            return Poll::Ready(Err("polled after it panicked".to_owned()));
        };
        match catch_unwind(AssertUnwindSafe(|| inner.as_mut().poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(output)) => {
                drop_guarded(self.inner.take());
                Poll::Ready(Ok(output))
            }
            Err(payload) => {
                let message = panic_message(payload);
                // Half-run state: drop it now, under the guard, and never poll it again.
                drop_guarded(self.inner.take());
                Poll::Ready(Err(message))
            }
        }
    }
}

impl<F> Drop for CatchPanic<F> {
    fn drop(&mut self) {
        drop_guarded(self.inner.take());
    }
}

/// Drops `value`; a panic in its `Drop` is swallowed (its payload leaked if dropping that panics
/// too), so that it never reaches the worker.
fn drop_guarded<T>(value: T) {
    if let Err(payload) = catch_unwind(AssertUnwindSafe(move || drop(value))) {
        crate::diag::diag!(
            Error,
            "a panic while dropping an export was caught: {}",
            panic_message(payload)
        );
    }
}

/// The text of a panic payload: its `&str` or `String`, or a generic text. The payload is dropped
/// under a guard of its own, since a payload whose `Drop` panics would otherwise unwind from here.
pub(crate) fn panic_message(payload: Box<dyn Any + Send>) -> String {
    let message = if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_owned()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "a panic with a payload that is not a string".to_owned()
    };
    if let Err(again) = catch_unwind(AssertUnwindSafe(move || drop(payload))) {
        // Dropping this one could panic again: leak it.
        std::mem::forget(again);
    }
    message
}

/// Runs the background thread's `body`. If it panics, the worker is gone: unless a shutdown was
/// asked for (`stopping`), recording is switched off and the reason kept for `stats()`; either way
/// what the worker held is counted as dropped.
pub(crate) fn supervise(stopping: &AtomicBool, body: impl FnOnce()) {
    let Err(payload) = catch_unwind(AssertUnwindSafe(body)) else {
        return;
    };
    let message = panic_message(payload);
    if stopping.load(Ordering::Acquire) {
        crate::diag::diag!(
            Error,
            "the export thread panicked while shutting down: {message}"
        );
        super::worker_lost(None);
    } else {
        super::worker_lost(Some(format!("the export thread panicked: {message}")));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block_on<F: Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn a_panic_becomes_its_message() {
        assert_eq!(block_on(catch_panic(async { 7 })), Ok(7));
        let caught = block_on(catch_panic(async { panic!("exporter bug") }));
        assert_eq!(caught, Err::<(), _>("exporter bug".to_owned()));
        let formatted = block_on(catch_panic(async { panic!("bad {}", 42) }));
        assert_eq!(formatted, Err::<(), _>("bad 42".to_owned()));
        let other = block_on(catch_panic(async { std::panic::panic_any(3_u8) }));
        assert!(other.unwrap_err().contains("not a string"));
    }

    struct PanicsOnDrop;
    impl Drop for PanicsOnDrop {
        fn drop(&mut self) {
            panic!("drop panicked");
        }
    }

    #[test]
    fn a_drop_that_panics_is_caught_too() {
        // A future dropped unfinished (an export that timed out) whose state panics in `Drop`.
        let pending = catch_panic(async {
            let _state = PanicsOnDrop;
            std::future::pending::<()>().await;
        });
        let timed_out = block_on(async {
            tokio::time::timeout(std::time::Duration::from_millis(1), pending).await
        });
        assert!(timed_out.is_err());
        // A panic whose payload panics when dropped.
        let caught = block_on(catch_panic(async { std::panic::panic_any(PanicsOnDrop) }));
        assert!(caught.is_err());
    }

    #[test]
    fn a_sync_panic_becomes_its_message() {
        assert_eq!(catch_panic_sync(|| 7), Ok(7));
        assert_eq!(
            catch_panic_sync(|| -> u8 { panic!("sync {}", 1) }),
            Err("sync 1".to_owned())
        );
    }
}
