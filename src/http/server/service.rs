//! [`ServerService`]: starts the server span of each request and calls the inner service under it.

use std::fmt;
use std::sync::Arc;
use std::task::Poll;

use http::{HeaderMap, Request, Response, header};
use opentelemetry::trace::SpanKind;
use tower_service::Service;

use super::{ServerBody, ServerFuture};
use crate::Span;
use crate::http::{
    Hooks, HttpSpan, NoHooks, RequestInfo, SpanName, capped, capped_owned, method_name,
    protocol_version, redact_query, semconv, set_method, split_host_port,
};

/// The service made by [`ServerLayer`](super::ServerLayer).
///
/// # Examples
///
/// ```
/// use tower::Layer;
/// let service = tracewire::http::ServerLayer::new().layer(tower::service_fn(
///     |_: http::Request<()>| async {
///         Ok::<_, std::convert::Infallible>(http::Response::new(http_body_util::Empty::<bytes::Bytes>::new()))
///     },
/// ));
/// # drop(service);
/// ```
pub struct ServerService<S, H = NoHooks> {
    inner: S,
    hooks: Arc<H>,
}

impl<S, H> ServerService<S, H> {
    pub(crate) fn new(inner: S, hooks: Arc<H>) -> Self {
        ServerService { inner, hooks }
    }
}

impl<S: Clone, H> Clone for ServerService<S, H> {
    fn clone(&self) -> Self {
        ServerService {
            inner: self.inner.clone(),
            hooks: Arc::clone(&self.hooks),
        }
    }
}

impl<S: fmt::Debug, H> fmt::Debug for ServerService<S, H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerService")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl<S, H, B, ResB> Service<Request<B>> for ServerService<S, H>
where
    S: Service<Request<B>, Response = Response<ResB>>,
    S::Error: fmt::Display,
    ResB: http_body::Body,
    H: Hooks,
{
    type Response = Response<ServerBody<ResB>>;
    type Error = S::Error;
    type Future = ServerFuture<S::Future, H>;

    fn poll_ready(&mut self, cx: &mut std::task::Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let parent = crate::propagation::extract(request.headers());
        let method = request.method();
        let span = crate::span_builder(method_name(method))
            .with_kind(SpanKind::Server)
            .with_parent(parent.span_context())
            .start();
        if span.is_recording() {
            record_request(&span, &request);
        }
        let span = HttpSpan::new(span);
        let context = span.context_under(parent);
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
        ServerFuture::new(inner, span, context, Arc::clone(&self.hooks))
    }
}

/// The matched route, when a router put it in the extensions.
fn route(extensions: &http::Extensions) -> Option<&str> {
    #[cfg(feature = "axum")]
    {
        crate::http::axum::matched_route(extensions)
    }
    #[cfg(not(feature = "axum"))]
    {
        let _ = extensions;
        None
    }
}

/// Names the span and sets the request attributes (only for a span that records).
fn record_request<B>(span: &Span, request: &Request<B>) {
    let method = request.method();
    let uri = request.uri();
    let extensions = request.extensions();
    let route = route(extensions);
    if let Some(SpanName(name)) = extensions.get::<SpanName>() {
        span.update_name(name.clone());
    } else if let Some(route) = route {
        span.update_name(format!("{} {route}", method_name(method)));
    }
    set_method(span, method);
    span.set_attribute(semconv::URL_PATH, capped_owned(uri.path()));
    if let Some(query) = uri.query() {
        // Cut before redacting too, so that a huge query costs no more than a capped one.
        let redacted = redact_query(capped(query));
        span.set_attribute(semconv::URL_QUERY, capped_owned(&redacted));
    }
    let scheme = uri.scheme_str().unwrap_or("http");
    span.set_attribute(semconv::URL_SCHEME, scheme.to_owned());
    if let Some(route) = route {
        span.set_attribute(semconv::HTTP_ROUTE, route.to_owned());
    }
    let headers = request.headers();
    let authority = uri
        .authority()
        .map(|a| a.as_str())
        .or_else(|| header_str(headers, header::HOST));
    if let Some(authority) = authority {
        let (host, port) = split_host_port(authority);
        span.set_attribute(semconv::SERVER_ADDRESS, capped_owned(host));
        let default_port = if scheme == "https" { 443 } else { 80 };
        span.set_attribute(
            semconv::SERVER_PORT,
            i64::from(port.unwrap_or(default_port)),
        );
    }
    if let Some(client) = client_address(headers, extensions) {
        span.set_attribute(semconv::CLIENT_ADDRESS, capped_owned(&client));
    }
    if let Some(agent) = header_str(headers, header::USER_AGENT) {
        span.set_attribute(semconv::USER_AGENT_ORIGINAL, capped_owned(agent));
    }
    if let Some(version) = protocol_version(request.version()) {
        span.set_attribute(semconv::NETWORK_PROTOCOL_VERSION, version);
    }
}

fn header_str(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The client's address: the first `for=` of `Forwarded`, else the first entry of
/// `X-Forwarded-For`, else the peer's address (axum's `ConnectInfo`).
fn client_address(headers: &HeaderMap, extensions: &http::Extensions) -> Option<String> {
    if let Some(forwarded) = header_str(headers, header::FORWARDED) {
        let first = forwarded.split(',').next().unwrap_or_default();
        let for_value = first.split(';').find_map(|pair| {
            let (key, value) = pair.trim().split_once('=')?;
            key.eq_ignore_ascii_case("for").then_some(value)
        });
        if let Some(value) = for_value {
            let value = value.trim_matches('"');
            let host = if value.starts_with('[') {
                split_host_port(value).0
            } else {
                value.split(':').next().unwrap_or(value)
            };
            if !host.is_empty() {
                return Some(host.to_owned());
            }
        }
    }
    if let Some(list) = header_str(headers, header::HeaderName::from_static("x-forwarded-for")) {
        let first = list.split(',').next().unwrap_or_default().trim();
        if !first.is_empty() {
            return Some(first.to_owned());
        }
    }
    peer_address(extensions)
}

fn peer_address(extensions: &http::Extensions) -> Option<String> {
    #[cfg(feature = "axum")]
    {
        crate::http::axum::peer_address(extensions)
    }
    #[cfg(not(feature = "axum"))]
    {
        let _ = extensions;
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_address_comes_from_forwarded_headers_first() {
        let mut headers = HeaderMap::new();
        let ext = http::Extensions::new();
        assert_eq!(client_address(&headers, &ext), None);
        headers.insert("x-forwarded-for", "203.0.113.7, 10.0.0.1".parse().unwrap());
        assert_eq!(
            client_address(&headers, &ext).as_deref(),
            Some("203.0.113.7")
        );
        headers.insert(
            "forwarded",
            "for=\"[2001:db8:cafe::17]:4711\";proto=http, for=198.51.100.1"
                .parse()
                .unwrap(),
        );
        assert_eq!(
            client_address(&headers, &ext).as_deref(),
            Some("2001:db8:cafe::17")
        );
        headers.insert("forwarded", "For=192.0.2.60:80;by=x".parse().unwrap());
        assert_eq!(
            client_address(&headers, &ext).as_deref(),
            Some("192.0.2.60")
        );
    }
}
