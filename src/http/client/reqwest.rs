//! [`TracingMiddleware`]: client spans for reqwest, through `reqwest-middleware`.

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;

use http::Extensions;
use pin_project_lite::pin_project;
use reqwest::{Request, Response};
use reqwest_middleware::{Middleware, Next};

use super::Target;
use crate::Context;
use crate::http::{
    Hooks, NoHooks, RequestInfo, ResendCount, ResponseInfo, record_failure, record_response,
    redact_url,
};

/// A `reqwest-middleware` middleware that records a client span for every request and writes
/// its trace context into the request headers (feature `reqwest`).
///
/// The span is a child of the current context (the span current where the request is awaited),
/// is named `{method}`, carries the attributes listed in [`semconv`](crate::http::semconv), and
/// ends when the response head arrives or the request fails. Put it after a retry middleware, so
/// that each attempt has its own span and resends get `http.request.resend_count`.
///
/// # Examples
///
/// ```
/// use reqwest_middleware::ClientBuilder;
/// use tracewire::http::{SpanName, TracingMiddleware};
///
/// // With tracewire's `tls` feature, reqwest has no crypto provider of its own: `init` installs
/// // ring, and a client built before `init` (as here) needs one installed first.
/// # #[cfg(feature = "tls")]
/// # let _ = rustls::crypto::ring::default_provider().install_default();
/// let client = ClientBuilder::new(reqwest::Client::new())
///     .with(TracingMiddleware::new())
///     .build();
/// // Per request: rename its span.
/// let request = client
///     .get("http://127.0.0.1:9/users/42")
///     .with_extension(SpanName("get user".into()));
/// # drop(request);
/// ```
pub struct TracingMiddleware<H = NoHooks> {
    hooks: Arc<H>,
}

impl TracingMiddleware {
    /// A middleware without hooks.
    ///
    /// # Examples
    ///
    /// ```
    /// let middleware = tracewire::http::TracingMiddleware::new();
    /// # drop(middleware);
    /// ```
    pub fn new() -> Self {
        TracingMiddleware {
            hooks: Arc::new(NoHooks),
        }
    }
}

impl Default for TracingMiddleware {
    fn default() -> Self {
        TracingMiddleware::new()
    }
}

impl<H> TracingMiddleware<H> {
    /// The same middleware with `hooks` run at each step of each request.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracewire::http::{Hooks, ResponseInfo, TracingMiddleware};
    ///
    /// struct Served;
    /// impl Hooks for Served {
    ///     fn on_response(&self, span: &tracewire::Span, response: &ResponseInfo<'_>) {
    ///         if let Some(server) = response.headers.get("server").and_then(|v| v.to_str().ok()) {
    ///             span.set_attribute("http.response.header.server", server.to_owned());
    ///         }
    ///     }
    /// }
    /// let middleware = TracingMiddleware::new().with_hooks(Served);
    /// # drop(middleware);
    /// ```
    pub fn with_hooks<H2: Hooks>(self, hooks: H2) -> TracingMiddleware<H2> {
        TracingMiddleware {
            hooks: Arc::new(hooks),
        }
    }
}

impl<H> Clone for TracingMiddleware<H> {
    fn clone(&self) -> Self {
        TracingMiddleware {
            hooks: Arc::clone(&self.hooks),
        }
    }
}

impl<H> fmt::Debug for TracingMiddleware<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TracingMiddleware").finish_non_exhaustive()
    }
}

/// Set in the extensions by the first pass of a request through the middleware: a later pass with
/// the same extensions is a resend.
#[derive(Clone, Copy)]
struct Sent;

#[async_trait::async_trait]
impl<H: Hooks> Middleware for TracingMiddleware<H> {
    async fn handle(
        &self,
        mut request: Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<Response> {
        if extensions.insert(Sent).is_some() {
            let count = extensions.get::<ResendCount>().map_or(0, |c| c.0);
            extensions.insert(ResendCount(count.saturating_add(1)));
        }
        let (span, context) = super::start(request.method(), extensions, || {
            let url = request.url();
            Target {
                url_full: Some(redact_url(url.as_str())),
                host: url.host_str(),
                port: url.port_or_known_default(),
            }
        });
        super::inject(&context, extensions, request.headers_mut());
        self.hooks.on_request(
            span.span(),
            &RequestInfo {
                method: request.method(),
                headers: request.headers(),
                extensions,
            },
        );

        let result = WithContext::new(context, next.run(request, extensions)).await;

        match &result {
            Ok(response) => {
                record_response(span.span(), response.status(), response.version(), 400);
                self.hooks.on_response(
                    span.span(),
                    &ResponseInfo {
                        status: response.status(),
                        version: response.version(),
                        headers: response.headers(),
                    },
                );
            }
            Err(error) => {
                let error_type = match error {
                    reqwest_middleware::Error::Reqwest(e) if e.is_timeout() => "timeout",
                    reqwest_middleware::Error::Reqwest(_) => "reqwest::Error",
                    reqwest_middleware::Error::Middleware(_) => "reqwest_middleware::Error",
                };
                let mut message = error_chain(error);
                // reqwest's messages name the URL: redact it like `url.full`.
                if let Some(url) = error.url()
                    && let Cow::Owned(redacted) = redact_url(url.as_str())
                {
                    message = message.replace(url.as_str(), &redacted);
                }
                record_failure(span.span(), error_type, message);
                self.hooks.on_error(span.span(), error);
            }
        }
        span.finish();
        result
    }
}

/// The message of an error followed by those of its sources.
fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    // Bounded: a cyclic chain must not loop forever.
    for _ in 0..8 {
        let Some(cause) = source else { break };
        let text = cause.to_string();
        if !message.ends_with(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    message
}

pin_project! {
    /// A future polled with a context attached, so that spans started inside are its children.
    struct WithContext<F> {
        context: Context,
        #[pin]
        inner: F,
    }
}

impl<F> WithContext<F> {
    fn new(context: Context, inner: F) -> Self {
        WithContext { context, inner }
    }
}

impl<F: Future> Future for WithContext<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let _attached = this.context.attach();
        this.inner.poll(cx)
    }
}
