//! [`ClientLayer`] / [`ClientService`] / [`ClientFuture`]: client spans for any tower HTTP client
//! (hyper-util's legacy client, a `tower::ServiceBuilder` stack over hyper, ...).

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Poll, ready};

use http::{Request, Response};
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use super::Target;
use crate::http::{
    Hooks, InFlight, NoHooks, RequestInfo, ResponseInfo, error_type_name, record_failure,
    record_response, redact_url,
};

/// A tower layer that records a client span for every request sent through the service it wraps
/// and writes its trace context into the request headers (feature `tower`).
///
/// The span is a child of the current context, is named `{method}`, carries the attributes listed
/// in [`semconv`](crate::http::semconv), and ends when the response head arrives or the request
/// fails. `url.full` is the request URI when it is absolute (as hyper-util's client wants it), else
/// built from the `Host` header.
///
/// # Examples
///
/// ```
/// use tower::ServiceBuilder;
/// use tracewire::http::ClientLayer;
///
/// let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
///     .build_http::<http_body_util::Full<bytes::Bytes>>();
/// let traced = ServiceBuilder::new().layer(ClientLayer::new()).service(client);
/// # drop(traced);
/// ```
pub struct ClientLayer<H = NoHooks> {
    hooks: Arc<H>,
}

impl ClientLayer {
    /// A layer without hooks.
    ///
    /// # Examples
    ///
    /// ```
    /// let layer = tracewire::http::ClientLayer::new();
    /// # drop(layer);
    /// ```
    pub fn new() -> Self {
        ClientLayer {
            hooks: Arc::new(NoHooks),
        }
    }
}

impl Default for ClientLayer {
    fn default() -> Self {
        ClientLayer::new()
    }
}

impl<H> ClientLayer<H> {
    /// The same layer with `hooks` run at each step of each request.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracewire::http::{ClientLayer, Hooks};
    ///
    /// struct Peer;
    /// impl Hooks for Peer {
    ///     fn on_request(&self, span: &tracewire::Span, _: &tracewire::http::RequestInfo<'_>) {
    ///         span.set_attribute("peer.service", "billing");
    ///     }
    /// }
    /// let layer = ClientLayer::new().with_hooks(Peer);
    /// # drop(layer);
    /// ```
    pub fn with_hooks<H2: Hooks>(self, hooks: H2) -> ClientLayer<H2> {
        ClientLayer {
            hooks: Arc::new(hooks),
        }
    }
}

impl<H> Clone for ClientLayer<H> {
    fn clone(&self) -> Self {
        ClientLayer {
            hooks: Arc::clone(&self.hooks),
        }
    }
}

impl<H> fmt::Debug for ClientLayer<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientLayer").finish_non_exhaustive()
    }
}

impl<S, H> Layer<S> for ClientLayer<H> {
    type Service = ClientService<S, H>;

    fn layer(&self, inner: S) -> Self::Service {
        ClientService {
            inner,
            hooks: Arc::clone(&self.hooks),
        }
    }
}

/// The service made by [`ClientLayer`].
///
/// # Examples
///
/// ```
/// use tower::Layer;
/// let service = tracewire::http::ClientLayer::new().layer(tower::service_fn(
///     |_: http::Request<()>| async { Ok::<_, std::convert::Infallible>(http::Response::new(())) },
/// ));
/// # drop(service);
/// ```
pub struct ClientService<S, H = NoHooks> {
    inner: S,
    hooks: Arc<H>,
}

impl<S: Clone, H> Clone for ClientService<S, H> {
    fn clone(&self) -> Self {
        ClientService {
            inner: self.inner.clone(),
            hooks: Arc::clone(&self.hooks),
        }
    }
}

impl<S: fmt::Debug, H> fmt::Debug for ClientService<S, H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientService")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

/// The parts of a request target: `url.full`, `server.address`, `server.port`. An absolute URI
/// gives them all; an origin-form URI (`/path`) takes the host from the `Host` header.
fn target<B>(request: &Request<B>) -> Target<'_> {
    let uri = request.uri();
    let default_port = if uri.scheme() == Some(&http::uri::Scheme::HTTPS) {
        443
    } else {
        80
    };
    if let Some(host) = uri.host() {
        return Target {
            url_full: Some(redacted(&uri.to_string())),
            host: Some(host),
            port: Some(uri.port_u16().unwrap_or(default_port)),
        };
    }
    let Some(authority) = request
        .headers()
        .get(http::header::HOST)
        .and_then(|v| v.to_str().ok())
    else {
        return Target {
            url_full: None,
            host: None,
            port: None,
        };
    };
    let (host, port) = crate::http::split_host_port(authority);
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    Target {
        url_full: Some(redacted(&format!("http://{authority}{path}"))),
        host: Some(host),
        port: Some(port.unwrap_or(default_port)),
    }
}

/// `url` redacted, owned.
fn redacted(url: &str) -> Cow<'static, str> {
    Cow::Owned(redact_url(url).into_owned())
}

impl<S, H, B, ResB> Service<Request<B>> for ClientService<S, H>
where
    S: Service<Request<B>, Response = Response<ResB>>,
    S::Error: fmt::Display,
    H: Hooks,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = ClientFuture<S::Future, H>;

    fn poll_ready(&mut self, cx: &mut std::task::Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let (span, context) =
            super::start(request.method(), request.extensions(), || target(&request));
        let (mut parts, body) = request.into_parts();
        super::inject(&context, &parts.extensions, &mut parts.headers);
        let request = Request::from_parts(parts, body);
        self.hooks.on_request(
            span.span(),
            &RequestInfo {
                method: request.method(),
                headers: request.headers(),
                extensions: request.extensions(),
            },
        );
        let inner = {
            let _attached = context.attach();
            self.inner.call(request)
        };
        ClientFuture {
            inner,
            state: Some(InFlight {
                span,
                context,
                hooks: Arc::clone(&self.hooks),
            }),
        }
    }
}

pin_project! {
    /// The response future of [`ClientService`]: ends the client span when the response head
    /// arrives or the request fails, and marks it cancelled when dropped before.
    #[must_use = "futures do nothing unless polled"]
    pub struct ClientFuture<F, H = NoHooks> {
        #[pin]
        inner: F,
        state: Option<InFlight<H>>,
    }
}

impl<F, H> fmt::Debug for ClientFuture<F, H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientFuture").finish_non_exhaustive()
    }
}

impl<F, H, ResB, E> Future for ClientFuture<F, H>
where
    F: Future<Output = Result<Response<ResB>, E>>,
    E: fmt::Display,
    H: Hooks,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = {
            let _attached = this.state.as_ref().map(|s| s.context.attach());
            ready!(this.inner.poll(cx))
        };
        let Some(InFlight { span, hooks, .. }) = this.state.take() else {
            return Poll::Ready(result);
        };
        match &result {
            Ok(response) => {
                record_response(span.span(), response.status(), response.version(), 400);
                hooks.on_response(
                    span.span(),
                    &ResponseInfo {
                        status: response.status(),
                        version: response.version(),
                        headers: response.headers(),
                    },
                );
            }
            Err(error) => {
                record_failure(span.span(), error_type_name::<E>(), error.to_string());
                hooks.on_error(span.span(), error);
            }
        }
        span.finish();
        Poll::Ready(result)
    }
}
