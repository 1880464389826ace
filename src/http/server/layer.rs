//! [`ServerLayer`]: the tower layer that records server spans.

use std::fmt;
use std::sync::Arc;

use tower_layer::Layer;

use super::ServerService;
use crate::http::{Hooks, NoHooks};

/// A tower layer that records a server span for every request the wrapped service handles
/// (feature `tower`), for axum and hyper.
///
/// The span is a child of the context extracted from the request headers (a new trace when there
/// is none or it is malformed), is named `{method} {http.route}` when the route is known, else
/// `{method}`, carries the attributes listed in [`semconv`](crate::http::semconv), is current while
/// the inner service and the response body run, and ends when the response body has been handed
/// over in full (see the [module docs](crate::http) for the details).
///
/// With axum, add it with `Router::layer`, so that it runs after routing: with feature `axum` it
/// then reads the matched route (`http.route`) and the peer address from `ConnectInfo`
/// (`client.address`, when no `Forwarded` / `X-Forwarded-For` header names the client). Around
/// the whole router it runs before routing, and the span is named `{method}`.
///
/// # Examples
///
/// ```
/// use axum::{Router, routing::get};
/// use tracewire::http::ServerLayer;
///
/// let app: Router = Router::new()
///     .route("/users/{id}", get(|| async { "a user" }))
///     .layer(ServerLayer::new()); // spans named "GET /users/{id}"
/// # drop(app);
/// ```
///
/// With hyper, wrap the service with the layer and hand it to hyper through
/// `hyper_util::service::TowerToHyperService`.
pub struct ServerLayer<H = NoHooks> {
    hooks: Arc<H>,
}

impl ServerLayer {
    /// A layer without hooks.
    ///
    /// # Examples
    ///
    /// ```
    /// let layer = tracewire::http::ServerLayer::new();
    /// # drop(layer);
    /// ```
    pub fn new() -> Self {
        ServerLayer {
            hooks: Arc::new(NoHooks),
        }
    }
}

impl Default for ServerLayer {
    fn default() -> Self {
        ServerLayer::new()
    }
}

impl<H> ServerLayer<H> {
    /// The same layer with `hooks` run at each step of each request.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracewire::http::{Hooks, RequestInfo, ServerLayer};
    ///
    /// struct Tenant;
    /// impl Hooks for Tenant {
    ///     fn on_request(&self, span: &tracewire::Span, request: &RequestInfo<'_>) {
    ///         if let Some(t) = request.headers.get("x-tenant").and_then(|v| v.to_str().ok()) {
    ///             span.set_attribute("tenant", t.to_owned());
    ///         }
    ///     }
    /// }
    /// let layer = ServerLayer::new().with_hooks(Tenant);
    /// # drop(layer);
    /// ```
    pub fn with_hooks<H2: Hooks>(self, hooks: H2) -> ServerLayer<H2> {
        ServerLayer {
            hooks: Arc::new(hooks),
        }
    }
}

impl<H> Clone for ServerLayer<H> {
    fn clone(&self) -> Self {
        ServerLayer {
            hooks: Arc::clone(&self.hooks),
        }
    }
}

impl<H> fmt::Debug for ServerLayer<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerLayer").finish_non_exhaustive()
    }
}

impl<S, H> Layer<S> for ServerLayer<H> {
    type Service = ServerService<S, H>;

    fn layer(&self, inner: S) -> Self::Service {
        ServerService::new(inner, Arc::clone(&self.hooks))
    }
}
