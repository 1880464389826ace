//! HTTP spans that follow the OpenTelemetry HTTP semantic conventions, and carry the trace context
//! across the wire.
//!
//! - Client spans (kind client, named `{method}`): [`TracingMiddleware`] for reqwest through
//!   `reqwest-middleware` (feature `reqwest`), [`ClientLayer`] for any tower client such as
//!   hyper-util's (feature `tower`). Each injects the context of its span into the request headers
//!   with [`propagation::inject_context`](crate::propagation::inject_context), also when the trace
//!   is not sampled, so that the next service makes the same decision.
//! - Server spans (kind server, named `{method} {http.route}` or `{method}`): [`ServerLayer`] for
//!   axum and hyper (feature `tower`). It extracts the incoming context, so the server span is its
//!   child, and keeps the server span current while the inner service runs. With feature `axum`,
//!   the route axum matched becomes `http.route` and the peer's address `client.address`.
//!
//! The attributes are listed in [`semconv`]. Values taken from the request (its path and query,
//! the user agent, the host and client addresses, an unknown method, error messages) are cut to
//! [`MAX_REQUEST_VALUE_LENGTH`] bytes, on a character boundary, when they are recorded: a client
//! cannot make a span hold more than that per value. Failure marks the span as an error: a transport
//! error or a status of 400 and above on the client, a service error or a status of 500 and above
//! on the server. A request the caller stops waiting for (its future dropped) is not an error: its
//! span ends with [`semconv::CANCELLED`] set to `true`.
//!
//! # When each span ends
//!
//! A client span ends when the response head arrives (or the request fails). A server span ends
//! when the response body has been handed over in full, when producing it fails, or when the body
//! is dropped before its end (a client that went away: cancelled).
//!
//! # Per-request overrides
//!
//! Markers in the request's extensions change what one request does: [`SpanName`] renames its
//! span, [`NoPropagation`] keeps its headers untouched, [`ResendCount`] says which retry it is.
//! With reqwest, pass them to `reqwest_middleware::RequestBuilder::with_extension`; with tower, put
//! them in `http::Request::extensions_mut`.
//!
//! # Examples
//!
//! ```
//! use tracewire::http::{SpanName, NoPropagation};
//!
//! let mut request = http::Request::get("http://127.0.0.1:9/health").body(()).unwrap();
//! request.extensions_mut().insert(SpanName("health check".into()));
//! request.extensions_mut().insert(NoPropagation);
//! ```

#[cfg(feature = "axum")]
mod axum;
mod client;
pub mod semconv;
#[cfg(feature = "tower")]
mod server;

use std::borrow::Cow;
use std::fmt;

use http::{Extensions, HeaderMap, Method, StatusCode, Version};
use opentelemetry::{KeyValue, Value};

use crate::{Context, Span, Status};

#[cfg(feature = "reqwest")]
pub use client::reqwest::TracingMiddleware;
#[cfg(feature = "tower")]
pub use client::tower::{ClientFuture, ClientLayer, ClientService};
#[cfg(feature = "tower")]
pub use server::{ServerBody, ServerFuture, ServerLayer, ServerService};

/// A request extension that names the span of this request, instead of `{method}` (client) or
/// `{method} {http.route}` (server). Keep names low-cardinality: no ids, no full URLs.
///
/// # Examples
///
/// ```
/// let mut request = http::Request::get("http://127.0.0.1:9/").body(()).unwrap();
/// request.extensions_mut().insert(tracewire::http::SpanName("fetch price list".into()));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpanName(pub Cow<'static, str>);

/// A request extension that stops a client layer from writing the trace context into this
/// request's headers (for a third-party service that must not see your trace ids). The span is
/// still recorded.
///
/// # Examples
///
/// ```
/// let mut request = http::Request::get("http://127.0.0.1:9/").body(()).unwrap();
/// request.extensions_mut().insert(tracewire::http::NoPropagation);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NoPropagation;

/// A request extension that says which resend this request is: 1 for the first retry. The client
/// span then gets `http.request.resend_count`.
///
/// [`TracingMiddleware`] keeps it up to date by itself when a retry middleware sits before it (each
/// attempt runs it again with the same extensions). Under a tower retry layer, set it in the retry
/// policy's `clone_request`.
///
/// # Examples
///
/// ```
/// let mut request = http::Request::get("http://127.0.0.1:9/").body(()).unwrap();
/// request.extensions_mut().insert(tracewire::http::ResendCount(1));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ResendCount(pub u32);

/// What a [`Hooks`] implementation sees of a request.
///
/// # Examples
///
/// ```
/// use tracewire::http::{Hooks, RequestInfo};
///
/// struct TenantHook;
/// impl Hooks for TenantHook {
///     fn on_request(&self, span: &tracewire::Span, request: &RequestInfo<'_>) {
///         if let Some(tenant) = request.headers.get("x-tenant").and_then(|v| v.to_str().ok()) {
///             span.set_attribute("tenant", tenant.to_owned());
///         }
///     }
/// }
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub struct RequestInfo<'a> {
    /// The method.
    pub method: &'a Method,
    /// The headers (on the client, after the trace context was injected).
    pub headers: &'a HeaderMap,
    /// The extensions (with reqwest, those of the middleware chain).
    pub extensions: &'a Extensions,
}

/// What a [`Hooks`] implementation sees of a response head.
///
/// # Examples
///
/// ```
/// use tracewire::http::{Hooks, ResponseInfo};
///
/// struct CacheHook;
/// impl Hooks for CacheHook {
///     fn on_response(&self, span: &tracewire::Span, response: &ResponseInfo<'_>) {
///         span.set_attribute("cache.hit", response.headers.contains_key("x-cache-hit"));
///     }
/// }
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub struct ResponseInfo<'a> {
    /// The status code.
    pub status: StatusCode,
    /// The HTTP version.
    pub version: Version,
    /// The headers.
    pub headers: &'a HeaderMap,
}

/// Code run by the HTTP layers at fixed points of each request, to add attributes or rename the
/// span. Every method has a default that does nothing; implement the ones you need.
///
/// The hooks run after tracewire's own attributes are set, so an attribute set here with the same
/// key wins. They run for unsampled spans too (setting attributes on them does nothing).
///
/// # Examples
///
/// ```
/// use tracewire::http::{Hooks, RequestInfo, ServerLayer};
///
/// struct RequestId;
/// impl Hooks for RequestId {
///     fn on_request(&self, span: &tracewire::Span, request: &RequestInfo<'_>) {
///         if let Some(id) = request.headers.get("x-request-id").and_then(|v| v.to_str().ok()) {
///             span.set_attribute("request.id", id.to_owned());
///         }
///     }
/// }
/// let layer = ServerLayer::new().with_hooks(RequestId);
/// # drop(layer);
/// ```
pub trait Hooks: Send + Sync + 'static {
    /// Runs when the span has started, before the request is sent (client) or handled (server).
    fn on_request(&self, span: &Span, request: &RequestInfo<'_>) {
        let _ = (span, request);
    }

    /// Runs when the response head is there (received by the client, produced by the server).
    fn on_response(&self, span: &Span, response: &ResponseInfo<'_>) {
        let _ = (span, response);
    }

    /// Runs when the request fails without a response (client), or the inner service fails
    /// (server), after the error was recorded. (A response body that fails is recorded on the
    /// server span without a hook: the span has been handed to the body by then.)
    fn on_error(&self, span: &Span, error: &dyn fmt::Display) {
        let _ = (span, error);
    }
}

/// The [`Hooks`] that do nothing: the default of every layer.
///
/// # Examples
///
/// ```
/// let layer = tracewire::http::ServerLayer::new().with_hooks(tracewire::http::NoHooks);
/// # drop(layer);
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct NoHooks;

impl Hooks for NoHooks {}

/// The longest value, in bytes, that the HTTP layers record for an attribute taken from the request
/// or its error: `url.full`, `url.path`, `url.query`, `user_agent.original`, `server.address`,
/// `client.address`, `http.request.method_original`, and the message of a failure (its
/// `exception.message` and status description). A longer value is cut on a character boundary when
/// it is recorded, before it reaches the thread's buffer, so that the memory a span holds does not
/// depend on what a client sends. 2 KiB keeps real user agents and queries whole; values set by
/// [`Hooks`] are the hook's own and are not cut.
///
/// # Examples
///
/// ```
/// assert_eq!(tracewire::http::MAX_REQUEST_VALUE_LENGTH, 2048);
/// ```
pub const MAX_REQUEST_VALUE_LENGTH: usize = 2048;

/// `value` cut to [`MAX_REQUEST_VALUE_LENGTH`] bytes on a character boundary.
pub(crate) fn capped(value: &str) -> &str {
    crate::span::limits::cut(value, MAX_REQUEST_VALUE_LENGTH)
}

/// `value` capped, owned: what a request-controlled attribute records.
pub(crate) fn capped_owned(value: &str) -> String {
    capped(value).to_owned()
}

// ------------------------------------------------------------------------------------------------
// Shared by the client and server layers

/// A span that is marked cancelled when dropped before [`HttpSpan::finish`].
pub(crate) struct HttpSpan {
    span: Span,
    finished: bool,
}

impl HttpSpan {
    pub(crate) fn new(span: Span) -> Self {
        HttpSpan {
            span,
            finished: false,
        }
    }

    pub(crate) fn span(&self) -> &Span {
        &self.span
    }

    /// Ends the span normally (whatever its status).
    pub(crate) fn finish(mut self) {
        self.finished = true;
    }

    /// The context to make current and to inject: `parent` with this span's context, or `parent`
    /// alone when this span has none (tracing is off), so that the incoming context still flows.
    pub(crate) fn context_under(&self, parent: Context) -> Context {
        if self.span.context().is_valid() {
            parent.with_span_context(self.span.context().clone())
        } else {
            parent
        }
    }
}

impl Drop for HttpSpan {
    fn drop(&mut self) {
        if !self.finished {
            self.span.set_attribute(semconv::CANCELLED, true);
        }
    }
}

/// What a tower future keeps of its request while it is in flight.
#[cfg(feature = "tower")]
pub(crate) struct InFlight<H> {
    pub(crate) span: HttpSpan,
    /// Attached while the inner future is polled.
    pub(crate) context: Context,
    pub(crate) hooks: std::sync::Arc<H>,
}

/// The semantic-conventions value of a method: itself when known, else `None` (`_OTHER`).
pub(crate) fn known_method(method: &Method) -> Option<&'static str> {
    Some(match method.as_str() {
        "GET" => "GET",
        "HEAD" => "HEAD",
        "POST" => "POST",
        "PUT" => "PUT",
        "DELETE" => "DELETE",
        "CONNECT" => "CONNECT",
        "OPTIONS" => "OPTIONS",
        "TRACE" => "TRACE",
        "PATCH" => "PATCH",
        _ => return None,
    })
}

/// `{method}`, or `HTTP` for a method outside the known set (as the conventions require).
pub(crate) fn method_name(method: &Method) -> &'static str {
    known_method(method).unwrap_or("HTTP")
}

/// Sets `http.request.method` (and `http.request.method_original` for an unknown method).
pub(crate) fn set_method(span: &Span, method: &Method) {
    match known_method(method) {
        Some(known) => span.set_attribute(semconv::HTTP_REQUEST_METHOD, known),
        None => {
            span.set_attribute(semconv::HTTP_REQUEST_METHOD, semconv::OTHER_METHOD);
            span.set_attribute(
                semconv::HTTP_REQUEST_METHOD_ORIGINAL,
                capped_owned(method.as_str()),
            );
        }
    }
}

/// `network.protocol.version` for a version.
pub(crate) fn protocol_version(version: Version) -> Option<&'static str> {
    Some(match version {
        Version::HTTP_09 => "0.9",
        Version::HTTP_10 => "1.0",
        Version::HTTP_11 => "1.1",
        Version::HTTP_2 => "2",
        Version::HTTP_3 => "3",
        _ => return None,
    })
}

/// Records a response head: status code, protocol version, and the error status and `error.type`
/// when the code is `error_from` or above.
pub(crate) fn record_response(span: &Span, status: StatusCode, version: Version, error_from: u16) {
    span.set_attribute(
        semconv::HTTP_RESPONSE_STATUS_CODE,
        i64::from(status.as_u16()),
    );
    if let Some(version) = protocol_version(version) {
        span.set_attribute(semconv::NETWORK_PROTOCOL_VERSION, version);
    }
    if status.as_u16() >= error_from {
        span.set_attribute(semconv::ERROR_TYPE, status.as_str().to_owned());
        // The code says it all: the conventions leave the description empty.
        span.set_status(Status::error(""));
    }
}

/// Records a failure without a response: `error.type`, an `exception` event and the error status.
pub(crate) fn record_failure(span: &Span, error_type: impl Into<Value>, message: String) {
    if !span.is_recording() {
        return;
    }
    let message = if message.len() > MAX_REQUEST_VALUE_LENGTH {
        capped_owned(&message)
    } else {
        message
    };
    span.set_attribute(semconv::ERROR_TYPE, error_type);
    span.add_event(
        "exception",
        vec![KeyValue::new("exception.message", message.clone())],
    );
    span.set_status(Status::error(message));
}

/// `error.type` for an error of type `E`: its type name, or `_OTHER` for a boxed `dyn Error`,
/// whose name says nothing.
#[cfg(feature = "tower")]
pub(crate) fn error_type_name<E: ?Sized>() -> &'static str {
    let name = std::any::type_name::<E>();
    if name.contains("<dyn ") || name.starts_with("dyn ") {
        semconv::OTHER_ERROR
    } else {
        name
    }
}

/// A `Host` header (or an authority) split into host and port; an IPv6 literal keeps no brackets.
#[cfg(feature = "tower")]
pub(crate) fn split_host_port(authority: &str) -> (&str, Option<u16>) {
    if let Some(rest) = authority.strip_prefix('[') {
        return match rest.split_once(']') {
            Some((host, port)) => (host, port.strip_prefix(':').and_then(|p| p.parse().ok())),
            None => (authority, None),
        };
    }
    match authority.rsplit_once(':') {
        Some((host, port)) => match port.parse() {
            Ok(port) => (host, Some(port)),
            Err(_) => (authority, None),
        },
        None => (authority, None),
    }
}

#[cfg(feature = "tower")]
pub(crate) use crate::redact::redact_query;
pub(crate) use crate::redact::redact_url;

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(feature = "tower")]
    #[test]
    fn hosts_split_from_ports() {
        assert_eq!(split_host_port("example.com"), ("example.com", None));
        assert_eq!(split_host_port("127.0.0.1:8080"), ("127.0.0.1", Some(8080)));
        assert_eq!(split_host_port("[::1]:443"), ("::1", Some(443)));
        assert_eq!(split_host_port("[::1]"), ("::1", None));
        assert_eq!(split_host_port("h:notaport"), ("h:notaport", None));
    }

    #[test]
    fn long_values_are_cut_on_a_character_boundary() {
        let short = "a".repeat(MAX_REQUEST_VALUE_LENGTH);
        assert_eq!(capped(&short), short);
        // 'é' is two bytes: the cut falls inside the last one and moves back before it.
        let long = format!("{}é", "a".repeat(MAX_REQUEST_VALUE_LENGTH - 1));
        assert_eq!(capped(&long).len(), MAX_REQUEST_VALUE_LENGTH - 1);
        let huge = "€".repeat(MAX_REQUEST_VALUE_LENGTH);
        let cut = capped(&huge);
        assert!(cut.len() <= MAX_REQUEST_VALUE_LENGTH && cut.len() > MAX_REQUEST_VALUE_LENGTH - 3);
        assert!(cut.chars().all(|c| c == '€'));
    }

    #[test]
    fn unknown_methods_are_other() {
        assert_eq!(known_method(&Method::GET), Some("GET"));
        let lower = Method::from_bytes(b"get").unwrap();
        assert_eq!(known_method(&lower), None);
        assert_eq!(method_name(&lower), "HTTP");
    }

    #[cfg(feature = "tower")]
    #[test]
    fn boxed_errors_have_no_type_name() {
        assert_eq!(
            error_type_name::<Box<dyn std::error::Error + Send + Sync>>(),
            "_OTHER"
        );
        assert_eq!(error_type_name::<std::io::Error>(), "std::io::error::Error");
    }
}
