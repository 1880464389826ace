//! [`ServerFuture`]: the inner service's response future, polled with the server span current.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Poll, ready};

use http::Response;
use pin_project_lite::pin_project;

use super::ServerBody;
use crate::Context;
use crate::http::{
    Hooks, HttpSpan, InFlight, NoHooks, ResponseInfo, error_type_name, record_failure,
    record_response,
};

pin_project! {
    /// The response future of [`ServerService`](super::ServerService): records the response head
    /// (a 5xx status is an error) and hands the span to the [`ServerBody`], or records the
    /// service's error and ends the span. Dropped before it completes, it ends the span as
    /// cancelled.
    #[must_use = "futures do nothing unless polled"]
    pub struct ServerFuture<F, H = NoHooks> {
        #[pin]
        inner: F,
        state: Option<InFlight<H>>,
    }
}

impl<F, H> ServerFuture<F, H> {
    pub(crate) fn new(inner: F, span: HttpSpan, context: Context, hooks: Arc<H>) -> Self {
        ServerFuture {
            inner,
            state: Some(InFlight {
                span,
                context,
                hooks,
            }),
        }
    }
}

impl<F, H> fmt::Debug for ServerFuture<F, H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerFuture").finish_non_exhaustive()
    }
}

impl<F, H, B, E> Future for ServerFuture<F, H>
where
    F: Future<Output = Result<Response<B>, E>>,
    B: http_body::Body,
    E: fmt::Display,
    H: Hooks,
{
    type Output = Result<Response<ServerBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = {
            let _attached = this.state.as_ref().map(|s| s.context.attach());
            ready!(this.inner.poll(cx))
        };
        let Some(InFlight {
            span,
            context,
            hooks,
        }) = this.state.take()
        else {
            // Polled again after completion: nothing left to record.
            return Poll::Ready(result.map(|r| r.map(ServerBody::finished)));
        };
        match result {
            Ok(response) => {
                record_response(span.span(), response.status(), response.version(), 500);
                hooks.on_response(
                    span.span(),
                    &ResponseInfo {
                        status: response.status(),
                        version: response.version(),
                        headers: response.headers(),
                    },
                );
                Poll::Ready(Ok(response.map(|body| ServerBody::new(body, span, context))))
            }
            Err(error) => {
                record_failure(span.span(), error_type_name::<E>(), error.to_string());
                hooks.on_error(span.span(), &error);
                span.finish();
                Poll::Ready(Err(error))
            }
        }
    }
}
