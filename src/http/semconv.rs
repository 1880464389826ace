//! The attribute keys of HTTP spans, from the stable OpenTelemetry HTTP semantic conventions
//! (<https://opentelemetry.io/docs/specs/semconv/http/http-spans/>), plus [`CANCELLED`], tracewire's
//! own.
//!
//! Use them to read spans in tests or to add attributes from [`Hooks`](super::Hooks).
//!
//! # Examples
//!
//! ```
//! use tracewire::http::semconv;
//! assert_eq!(semconv::HTTP_RESPONSE_STATUS_CODE, "http.response.status_code");
//! ```

/// The request method, one of the nine methods of RFC 9110 and RFC 5789 in upper case, or
/// [`OTHER_METHOD`] (string).
pub const HTTP_REQUEST_METHOD: &str = "http.request.method";
/// The method as sent, when `http.request.method` is [`OTHER_METHOD`] (string).
pub const HTTP_REQUEST_METHOD_ORIGINAL: &str = "http.request.method_original";
/// The value of [`HTTP_REQUEST_METHOD`] for a method outside the known set.
pub const OTHER_METHOD: &str = "_OTHER";
/// The response status code (int).
pub const HTTP_RESPONSE_STATUS_CODE: &str = "http.response.status_code";
/// The ordinal of this attempt when a request is sent again: 1 for the first retry (int; absent on
/// the first attempt).
pub const HTTP_REQUEST_RESEND_COUNT: &str = "http.request.resend_count";
/// The matched route template, such as `/users/{id}` (string; server spans).
pub const HTTP_ROUTE: &str = "http.route";
/// The host the client connects to, or the `Host` the server was asked for (string).
pub const SERVER_ADDRESS: &str = "server.address";
/// The port the client connects to, or the server's port (int).
pub const SERVER_PORT: &str = "server.port";
/// The address of the client, from `Forwarded` / `X-Forwarded-For` or the peer (string; server
/// spans).
pub const CLIENT_ADDRESS: &str = "client.address";
/// The absolute URL, with credentials replaced by `REDACTED:REDACTED` and the values of signature
/// query parameters by `REDACTED` (string; client spans).
pub const URL_FULL: &str = "url.full";
/// The path of the request target (string; server spans).
pub const URL_PATH: &str = "url.path";
/// The query of the request target, without `?` (string; server spans, only when there is one).
pub const URL_QUERY: &str = "url.query";
/// The scheme: `http` or `https` (string; server spans).
pub const URL_SCHEME: &str = "url.scheme";
/// The `User-Agent` header (string; server spans).
pub const USER_AGENT_ORIGINAL: &str = "user_agent.original";
/// The HTTP version: `1.0`, `1.1`, `2` or `3` (string).
pub const NETWORK_PROTOCOL_VERSION: &str = "network.protocol.version";
/// Why the request failed: the status code as a string (`"404"`) for an error status, `timeout`,
/// or the type of the error (string; only on failure).
pub const ERROR_TYPE: &str = "error.type";
/// The value of [`ERROR_TYPE`] for an error whose type says nothing (a boxed `dyn Error`).
pub const OTHER_ERROR: &str = "_OTHER";
/// tracewire's own: `true` when the caller dropped the request (client) or the response
/// (server) before it completed. A cancellation is not an error: the status stays unset (bool).
pub const CANCELLED: &str = "tracewire.cancelled";
