//! What a client sends cannot make a span big: the HTTP layers cut request-controlled values
//! (`url.query`, `url.path`, `user_agent.original`, `server.address`, `client.address`, an unknown
//! method, `url.full` on the client) to `tracewire::http::MAX_REQUEST_VALUE_LENGTH` bytes when they
//! record them. No export-time limit is configured here
//! (`OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT` is unset), so the cut seen in the exported span is the
//! layer's, made before the span reached its thread's buffer.
#![cfg(all(feature = "tower", feature = "testing"))]

mod http_support;
mod support;

use std::convert::Infallible;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Empty};
use http_support::*;
use tower::{Layer, ServiceExt};
use tracewire::http::semconv::*;
use tracewire::http::{ClientLayer, MAX_REQUEST_VALUE_LENGTH, ServerLayer};
use tracewire::{Sampler, SpanKind};

/// A value far over the cap: `a`s up to it, `b`s past it. (URIs, methods and the headers the
/// layers read are ASCII; the cut on a character boundary is checked by the crate's unit tests.)
fn huge(prefix: &str) -> String {
    let mut value = prefix.to_owned();
    while value.len() < MAX_REQUEST_VALUE_LENGTH {
        value.push('a');
    }
    value.push_str(&"b".repeat(8 * 1024));
    value
}

fn assert_capped(value: &str, prefix: &str) {
    assert!(
        value.len() == MAX_REQUEST_VALUE_LENGTH,
        "{} bytes recorded, cap {MAX_REQUEST_VALUE_LENGTH}",
        value.len()
    );
    assert!(value.starts_with(prefix), "{:?}", &value[..32]);
    assert!(!value.contains('b'), "the part past the cap was kept");
}

#[test]
fn a_huge_request_is_recorded_with_capped_values() {
    run(async {
        let (guard, memory) = init(Sampler::AlwaysOn);
        let service = ServerLayer::new().layer(tower::service_fn(|_: Request<()>| async {
            Ok::<_, Infallible>(Response::new(Empty::<Bytes>::new()))
        }));
        let query = huge("q=1&");
        let path = huge("/p/");
        let request = Request::get(format!("http://{}{path}?{query}", huge("h")))
            .header("user-agent", huge("agent/"))
            .header("x-forwarded-for", huge("203.0.113."))
            .body(())
            .expect("request");
        let response = service.oneshot(request).await.expect("served");
        response.into_body().collect().await.expect("body");
        let spans = take_spans(&memory, 1).await;
        let server = only(&spans, SpanKind::Server);
        assert_capped(str_attr(server, URL_QUERY), "q=1&");
        assert_capped(str_attr(server, URL_PATH), "/p/");
        assert_capped(str_attr(server, USER_AGENT_ORIGINAL), "agent/");
        assert_capped(str_attr(server, SERVER_ADDRESS), "h");
        assert_capped(str_attr(server, CLIENT_ADDRESS), "203.0.113.");
        drop(guard);
    });
}

#[test]
fn a_huge_url_and_method_are_capped_on_the_client() {
    run(async {
        let (guard, memory) = init(Sampler::AlwaysOn);
        let client = ClientLayer::new().layer(tower::service_fn(|_: Request<()>| async {
            Ok::<_, Infallible>(Response::new(()))
        }));
        let method = http::Method::from_bytes(huge("M").as_bytes()).expect("an extension method");
        let request = Request::builder()
            .method(method)
            .uri(format!("http://127.0.0.1:9/?{}", huge("x=")))
            .body(())
            .expect("request");
        client.oneshot(request).await.expect("sent");
        let spans = take_spans(&memory, 1).await;
        let span = only(&spans, SpanKind::Client);
        assert_capped(str_attr(span, URL_FULL), "http://127.0.0.1:9/?x=");
        assert_capped(str_attr(span, HTTP_REQUEST_METHOD_ORIGINAL), "M");
        drop(guard);
    });
}
