//! [`spawn`] and [`spawn_blocking`]: tokio's, with the caller's context carried into the task, so
//! spans started there are children of the span current at the spawn instead of new roots.

use std::future::Future;

use tokio::task::JoinHandle;

use super::FutureExt as _;
use crate::context::Context;

/// [`tokio::spawn`], with the current context (span and baggage) attached to the task during every
/// poll: spans started in the task keep the spawning span as their parent.
///
/// # Panics
///
/// Like [`tokio::spawn`], when called outside a tokio runtime.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), tracewire::InitError> {
/// # let _guard = tracewire::Config::default().with_exporter_kind(tracewire::ExporterKind::None).init()?;
/// let request = tracewire::span("request");
/// let task = {
///     let _entered = request.enter();
///     tracewire::spawn(async { tracewire::span("in the task").context().trace_id() })
/// };
/// assert_eq!(task.await.unwrap(), request.context().trace_id());
/// # Ok(())
/// # }
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
#[track_caller]
pub fn spawn<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    tokio::spawn(future.in_current_span())
}

/// [`tokio::task::spawn_blocking`], with the current context attached while `f` runs.
///
/// # Panics
///
/// Like [`tokio::task::spawn_blocking`], when called outside a tokio runtime.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), tracewire::InitError> {
/// # let _guard = tracewire::Config::default().with_exporter_kind(tracewire::ExporterKind::None).init()?;
/// let request = tracewire::span("request");
/// let hashed = {
///     let _entered = request.enter(); // never hold a guard across an `.await`
///     tracewire::spawn_blocking(|| {
///         tracewire::in_span("hash password", |_| tracewire::current_span_context().trace_id())
///     })
/// };
/// assert_eq!(hashed.await.unwrap(), request.context().trace_id());
/// # Ok(())
/// # }
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
#[track_caller]
pub fn spawn_blocking<F, R>(f: F) -> JoinHandle<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    tokio::task::spawn_blocking(Context::current().wrap(f))
}
