//! Server spans as a tower middleware, split the tower-http way: [`ServerLayer`] makes a
//! [`ServerService`], whose [`ServerFuture`] resolves to a response whose body is a
//! [`ServerBody`]; the span ends when that body ends.
//!
//! When things happen, for each request:
//! 1. [`ServerService::call`]: the incoming context is extracted from the headers, the server span
//!    starts as its child with the request attributes, [`Hooks::on_request`](super::Hooks) runs,
//!    and the inner service is called with the span current.
//! 2. [`ServerFuture`] polls the inner future with the span current. When the response head is
//!    ready it records the status code (a 5xx is an error) and runs `on_response`; on a service
//!    error it records the error, runs `on_error` and ends the span.
//! 3. [`ServerBody`] passes the body's frames on, with the span current; the span ends with the
//!    last frame, on a body error (recorded), or when the body is dropped before its end
//!    (cancelled). An empty body ends the span at once.

mod body;
mod future;
mod layer;
mod service;

pub use body::ServerBody;
pub use future::ServerFuture;
pub use layer::ServerLayer;
pub use service::ServerService;
