//! [`ServerBody`]: the response body, which ends the server span when it ends.

use std::fmt;
use std::pin::Pin;
use std::task::{Poll, ready};

use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;

use crate::Context;
use crate::http::{HttpSpan, error_type_name, record_failure};

pin_project! {
    /// The response body of [`ServerService`](super::ServerService). It passes the inner body's
    /// frames on unchanged, with the server span current while the inner body produces them, and
    /// ends the span after the last frame, on an error (recorded on the span), or when dropped
    /// before its end (the client went away: cancelled).
    ///
    /// # Examples
    ///
    /// ```
    /// // A `ServerBody` is what the server layer's responses carry; it is a plain `http_body::Body`.
    /// fn is_body<B: http_body::Body>() {}
    /// is_body::<tracewire::http::ServerBody<http_body_util::Full<bytes::Bytes>>>();
    /// ```
    pub struct ServerBody<B> {
        #[pin]
        inner: B,
        state: Option<(HttpSpan, Context)>,
    }
}

impl<B: Body> ServerBody<B> {
    pub(crate) fn new(inner: B, span: HttpSpan, context: Context) -> Self {
        if inner.is_end_stream() {
            // Nothing to send: the server may never poll it.
            span.finish();
            return ServerBody::finished(inner);
        }
        ServerBody {
            inner,
            state: Some((span, context)),
        }
    }
}

impl<B> ServerBody<B> {
    /// A body whose span has already ended.
    pub(crate) fn finished(inner: B) -> Self {
        ServerBody { inner, state: None }
    }

    /// The wrapped body.
    ///
    /// # Examples
    ///
    /// ```
    /// # use tower::{Layer, ServiceExt};
    /// # let service = tracewire::http::ServerLayer::new().layer(tower::service_fn(
    /// #     |_: http::Request<()>| async {
    /// #         Ok::<_, std::convert::Infallible>(http::Response::new(http_body_util::Full::new(bytes::Bytes::from("hi"))))
    /// #     },
    /// # ));
    /// # let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    /// let response = rt.block_on(service.oneshot(http::Request::new(()))).unwrap();
    /// let body: http_body_util::Full<bytes::Bytes> = response.into_body().into_inner();
    /// # drop(body);
    /// ```
    pub fn into_inner(self) -> B {
        self.inner
    }
}

impl<B: fmt::Debug> fmt::Debug for ServerBody<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerBody")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl<B> Body for ServerBody<B>
where
    B: Body,
    B::Error: fmt::Display,
{
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let mut this = self.project();
        let frame = {
            let _attached = this.state.as_ref().map(|(_, context)| context.attach());
            ready!(this.inner.as_mut().poll_frame(cx))
        };
        let ended = match &frame {
            None => true,
            Some(Ok(_)) => this.inner.is_end_stream(),
            Some(Err(error)) => {
                if let Some((span, _)) = this.state.as_ref() {
                    record_failure(
                        span.span(),
                        error_type_name::<B::Error>(),
                        error.to_string(),
                    );
                }
                true
            }
        };
        if ended && let Some((span, _)) = this.state.take() {
            span.finish();
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
