//! The HTTP client and server layers record spans that follow the OpenTelemetry HTTP semantic
//! conventions (every attribute checked with its type), carry the context across the wire (also
//! when the trace is not sampled), and mark errors, timeouts and cancellations as the conventions
//! say. Everything runs on 127.0.0.1.
#![cfg(all(
    feature = "reqwest",
    feature = "tower",
    feature = "axum",
    feature = "testing"
))]

mod http_support;
mod support;

use std::time::Duration;

use axum::body::Bytes;
use http::{Method, Request, Response};
use http_body_util::{BodyExt, Full};
use http_support::*;
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware, Middleware, Next};
use tower::{Layer, ServiceBuilder, ServiceExt};
use tracewire::http::semconv::*;
use tracewire::http::{
    ClientLayer, Hooks, NoPropagation, RequestInfo, ResponseInfo, ServerLayer, SpanName,
    TracingMiddleware,
};
use tracewire::{Sampler, SpanId, SpanKind, Status, TraceId};

const USER_AGENT: &str = "tracewire-tests/1";

fn reqwest_client() -> ClientWithMiddleware {
    let client = reqwest::Client::builder()
        .user_agent(USER_AGENT)
        .build()
        .expect("client");
    ClientBuilder::new(client)
        .with(TracingMiddleware::new())
        .build()
}

/// Sends a GET through the traced reqwest client, reads the body, returns the status.
async fn fetch(url: &str) -> u16 {
    let response = reqwest_client().get(url).send().await.expect("sent");
    let status = response.status().as_u16();
    response.bytes().await.expect("body");
    status
}

/// The test app behind the server layer.
async fn traced_app() -> (std::net::SocketAddr, Seen) {
    let seen = Seen::default();
    let address = serve(app(seen.clone()).layer(ServerLayer::new())).await;
    (address, seen)
}

// ------------------------------------------------------------------------------------------------
// reqwest client + axum server, end to end

#[test]
fn a_200_gives_a_client_span_and_its_server_child_with_every_attribute() {
    run(async {
        let (_guard, memory) = init(Sampler::AlwaysOn);
        let (address, _) = traced_app().await;
        let url = format!("http://{address}/users/7?q=1");

        assert_eq!(fetch(&url).await, 200);

        let spans = take_spans(&memory, 2).await;
        let client = only(&spans, SpanKind::Client);
        assert_eq!(client.name, "GET");
        assert_eq!(str_attr(client, HTTP_REQUEST_METHOD), "GET");
        assert_eq!(str_attr(client, SERVER_ADDRESS), "127.0.0.1");
        assert_eq!(int_attr(client, SERVER_PORT), i64::from(address.port()));
        assert_eq!(str_attr(client, URL_FULL), url);
        assert_eq!(int_attr(client, HTTP_RESPONSE_STATUS_CODE), 200);
        assert_eq!(str_attr(client, NETWORK_PROTOCOL_VERSION), "1.1");
        assert_absent(client, &[ERROR_TYPE, HTTP_REQUEST_RESEND_COUNT, CANCELLED]);
        assert_eq!(client.status, Status::Unset);
        assert_eq!(client.parent_span_id, SpanId::INVALID);

        let server = only(&spans, SpanKind::Server);
        assert_eq!(server.name, "GET /users/{id}");
        assert_eq!(str_attr(server, HTTP_REQUEST_METHOD), "GET");
        assert_eq!(str_attr(server, URL_PATH), "/users/7");
        assert_eq!(str_attr(server, URL_QUERY), "q=1");
        assert_eq!(str_attr(server, URL_SCHEME), "http");
        assert_eq!(str_attr(server, HTTP_ROUTE), "/users/{id}");
        assert_eq!(str_attr(server, SERVER_ADDRESS), "127.0.0.1");
        assert_eq!(int_attr(server, SERVER_PORT), i64::from(address.port()));
        assert_eq!(str_attr(server, CLIENT_ADDRESS), "127.0.0.1");
        assert_eq!(str_attr(server, USER_AGENT_ORIGINAL), USER_AGENT);
        assert_eq!(str_attr(server, NETWORK_PROTOCOL_VERSION), "1.1");
        assert_eq!(int_attr(server, HTTP_RESPONSE_STATUS_CODE), 200);
        assert_absent(server, &[ERROR_TYPE, CANCELLED]);
        assert_eq!(server.status, Status::Unset);

        // One trace: the server span is the remote child of the client span.
        assert_eq!(
            server.span_context.trace_id(),
            client.span_context.trace_id()
        );
        assert_eq!(server.parent_span_id, client.span_context.span_id());
        assert!(server.parent_span_is_remote);
    })
}

#[test]
fn a_404_is_a_client_error_but_not_a_server_error() {
    run(async {
        let (_guard, memory) = init(Sampler::AlwaysOn);
        let (address, _) = traced_app().await;

        assert_eq!(fetch(&format!("http://{address}/missing")).await, 404);

        let spans = take_spans(&memory, 2).await;
        let client = only(&spans, SpanKind::Client);
        assert_eq!(int_attr(client, HTTP_RESPONSE_STATUS_CODE), 404);
        assert_eq!(str_attr(client, ERROR_TYPE), "404");
        assert!(is_error(client), "{:?}", client.status);

        let server = only(&spans, SpanKind::Server);
        assert_eq!(server.name, "GET", "no route matched: no route in the name");
        assert_absent(server, &[HTTP_ROUTE, ERROR_TYPE]);
        assert_eq!(int_attr(server, HTTP_RESPONSE_STATUS_CODE), 404);
        assert_eq!(server.status, Status::Unset);
    })
}

#[test]
fn a_500_is_an_error_on_both_sides() {
    run(async {
        let (_guard, memory) = init(Sampler::AlwaysOn);
        let (address, _) = traced_app().await;

        assert_eq!(fetch(&format!("http://{address}/fail")).await, 500);

        let spans = take_spans(&memory, 2).await;
        for span in [
            only(&spans, SpanKind::Client),
            only(&spans, SpanKind::Server),
        ] {
            assert_eq!(int_attr(span, HTTP_RESPONSE_STATUS_CODE), 500);
            assert_eq!(str_attr(span, ERROR_TYPE), "500");
            assert!(is_error(span), "{}: {:?}", span.name, span.status);
        }
    })
}

#[test]
fn a_refused_connection_is_an_error_with_its_type() {
    run(async {
        let (_guard, memory) = init(Sampler::AlwaysOn);
        let port = support::unused_port();

        let sent = reqwest_client()
            .get(format!("http://127.0.0.1:{port}/"))
            .send()
            .await;
        assert!(sent.is_err());

        let spans = take_spans(&memory, 1).await;
        let client = only(&spans, SpanKind::Client);
        assert_eq!(str_attr(client, ERROR_TYPE), "reqwest::Error");
        assert_eq!(int_attr(client, SERVER_PORT), i64::from(port));
        assert_absent(client, &[HTTP_RESPONSE_STATUS_CODE, CANCELLED]);
        assert!(is_error(client), "{:?}", client.status);
        let event = client
            .events
            .iter()
            .find(|e| e.name == "exception")
            .expect("an exception event");
        assert!(
            event
                .attributes
                .iter()
                .any(|kv| kv.key.as_str() == "exception.message"),
            "{event:?}"
        );
    })
}

#[test]
fn a_timeout_is_an_error_of_type_timeout() {
    run(async {
        let (_guard, memory) = init(Sampler::AlwaysOn);
        let (address, _) = traced_app().await;

        let sent = reqwest_client()
            .get(format!("http://{address}/slow"))
            .timeout(Duration::from_millis(200))
            .send()
            .await;
        assert!(sent.is_err());

        let spans = take_spans(&memory, 1).await;
        let client = only(&spans, SpanKind::Client);
        assert_eq!(str_attr(client, ERROR_TYPE), "timeout");
        assert!(is_error(client), "{:?}", client.status);
        assert_absent(client, &[HTTP_RESPONSE_STATUS_CODE, CANCELLED]);
    })
}

#[test]
fn a_request_dropped_by_its_caller_is_cancelled_not_failed() {
    run(async {
        let (_guard, memory) = init(Sampler::AlwaysOn);
        let (address, _) = traced_app().await;

        let client = reqwest_client();
        let request = client.get(format!("http://{address}/slow")).send();
        let waited = tokio::time::timeout(Duration::from_millis(200), request).await;
        assert!(waited.is_err(), "the caller gave up");

        let spans = take_spans(&memory, 1).await;
        let client = only(&spans, SpanKind::Client);
        assert!(bool_attr(client, CANCELLED));
        assert_eq!(client.status, Status::Unset);
        assert_absent(client, &[ERROR_TYPE, HTTP_RESPONSE_STATUS_CODE]);
    })
}

#[test]
fn the_context_is_injected_even_when_the_trace_is_not_sampled() {
    run(async {
        let (_guard, memory) = init(Sampler::AlwaysOff);
        let (address, seen) = traced_app().await;

        reqwest_client()
            .get(format!("http://{address}/echo"))
            .send()
            .await
            .expect("sent");

        let traceparent = seen.get().pop().flatten().expect("a traceparent was sent");
        let parts: Vec<&str> = traceparent.split('-').collect();
        assert_eq!(parts.len(), 4, "{traceparent}");
        assert!(!sampled_flag(parts[3]), "not sampled: {traceparent}");
        assert_ne!(TraceId::from_hex(parts[1]).unwrap(), TraceId::INVALID);
        assert_ne!(SpanId::from_hex(parts[2]).unwrap(), SpanId::INVALID);
        tracewire::force_flush().expect("flush");
        assert!(
            memory.spans().is_empty(),
            "nothing sampled, nothing exported"
        );
    })
}

#[test]
fn extensions_override_the_span_name_and_propagation_per_request() {
    run(async {
        let (_guard, memory) = init(Sampler::AlwaysOn);
        let (address, seen) = traced_app().await;
        let client = reqwest_client();

        client
            .get(format!("http://{address}/echo"))
            .with_extension(SpanName("echo call".into()))
            .with_extension(NoPropagation)
            .send()
            .await
            .expect("sent");
        assert_eq!(seen.get(), [None], "no traceparent with NoPropagation");

        let spans = take_spans(&memory, 2).await;
        let client = only(&spans, SpanKind::Client);
        assert_eq!(client.name, "echo call");
        let server = only(&spans, SpanKind::Server);
        assert_ne!(
            server.span_context.trace_id(),
            client.span_context.trace_id(),
            "not propagated: the server started its own trace"
        );
    })
}

/// Sends a request again once when it gets a 500: a retry middleware placed before tracewire's.
struct RetryOnce;

#[async_trait::async_trait]
impl Middleware for RetryOnce {
    async fn handle(
        &self,
        request: reqwest::Request,
        extensions: &mut http::Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<reqwest::Response> {
        let copy = request.try_clone().expect("a cloneable request");
        let first = next.clone().run(request, extensions).await?;
        if first.status() == 500 {
            return next.run(copy, extensions).await;
        }
        Ok(first)
    }
}

#[test]
fn a_resend_carries_its_resend_count() {
    run(async {
        let (_guard, memory) = init(Sampler::AlwaysOn);
        let (address, _) = traced_app().await;
        let client = ClientBuilder::new(reqwest::Client::new())
            .with(RetryOnce)
            .with(TracingMiddleware::new())
            .build();

        let response = client
            .post(format!("http://{address}/retry"))
            .send()
            .await
            .expect("sent");
        assert_eq!(response.status(), 200);

        let spans = take_spans(&memory, 4).await;
        let mut clients: Vec<_> = spans
            .iter()
            .filter(|s| s.span_kind == SpanKind::Client)
            .collect();
        clients.sort_by_key(|s| s.start_time);
        assert_eq!(clients.len(), 2);
        assert_eq!(int_attr(clients[0], HTTP_RESPONSE_STATUS_CODE), 500);
        assert_absent(clients[0], &[HTTP_REQUEST_RESEND_COUNT]);
        assert_eq!(int_attr(clients[1], HTTP_RESPONSE_STATUS_CODE), 200);
        assert_eq!(int_attr(clients[1], HTTP_REQUEST_RESEND_COUNT), 1);
    })
}

#[test]
fn an_unknown_method_is_other_with_the_original_kept() {
    run(async {
        let (_guard, memory) = init(Sampler::AlwaysOn);
        let (address, _) = traced_app().await;
        let purge = Method::from_bytes(b"PURGE").unwrap();

        reqwest_client()
            .request(purge, format!("http://{address}/echo"))
            .send()
            .await
            .expect("sent");

        let spans = take_spans(&memory, 2).await;
        let client = only(&spans, SpanKind::Client);
        let server = only(&spans, SpanKind::Server);
        assert_eq!(client.name, "HTTP");
        assert_eq!(server.name, "HTTP /echo");
        for span in [client, server] {
            assert_eq!(str_attr(span, HTTP_REQUEST_METHOD), "_OTHER");
            assert_eq!(str_attr(span, HTTP_REQUEST_METHOD_ORIGINAL), "PURGE");
        }
    })
}

#[test]
fn credentials_and_signatures_never_reach_url_full() {
    run(async {
        let (_guard, memory) = init(Sampler::AlwaysOn);
        let (address, _) = traced_app().await;
        let port = address.port();

        reqwest_client()
            .get(format!(
                "http://user:secret@127.0.0.1:{port}/ok?sig=abc&page=2&X-Amz-Signature=s&x-amz-credential=c"
            ))
            .send()
            .await
            .expect("sent");

        let spans = take_spans(&memory, 2).await;
        let client = only(&spans, SpanKind::Client);
        // reqwest moves the credentials into an `Authorization` header before middlewares run.
        assert_eq!(
            str_attr(client, URL_FULL),
            format!(
                "http://127.0.0.1:{port}/ok?sig=REDACTED&page=2&X-Amz-Signature=REDACTED\
                 &x-amz-credential=REDACTED"
            )
        );
        let server = only(&spans, SpanKind::Server);
        assert_eq!(
            str_attr(server, URL_QUERY),
            "sig=REDACTED&page=2&X-Amz-Signature=REDACTED&x-amz-credential=REDACTED"
        );

        // A tower client sends the URI as it is: the credentials are redacted.
        let url = format!("http://user:secret@127.0.0.1:{port}/ok?X-Goog-Signature=abc");
        ServiceBuilder::new()
            .layer(ClientLayer::new())
            .service(hyper_client())
            .oneshot(get(&url))
            .await
            .expect("sent");
        let spans = take_spans(&memory, 2).await;
        let client = only(&spans, SpanKind::Client);
        assert_eq!(
            str_attr(client, URL_FULL),
            format!("http://REDACTED:REDACTED@127.0.0.1:{port}/ok?X-Goog-Signature=REDACTED")
        );
    })
}

/// Hooks that leave a trace of each call on the span.
struct Tag;

impl Hooks for Tag {
    fn on_request(&self, span: &tracewire::Span, request: &RequestInfo<'_>) {
        span.set_attribute("test.on_request", request.method.as_str().to_owned());
    }

    fn on_response(&self, span: &tracewire::Span, response: &ResponseInfo<'_>) {
        span.set_attribute("test.on_response", i64::from(response.status.as_u16()));
    }

    fn on_error(&self, span: &tracewire::Span, error: &dyn std::fmt::Display) {
        span.set_attribute("test.on_error", !error.to_string().is_empty());
    }
}

#[test]
fn hooks_run_at_each_step_on_both_sides() {
    run(async {
        let (_guard, memory) = init(Sampler::AlwaysOn);
        let address = serve(app(Seen::default()).layer(ServerLayer::new().with_hooks(Tag))).await;
        let client = ClientBuilder::new(reqwest::Client::new())
            .with(TracingMiddleware::new().with_hooks(Tag))
            .build();

        let response = client
            .get(format!("http://{address}/ok"))
            .send()
            .await
            .expect("sent");
        response.bytes().await.expect("body");
        let spans = take_spans(&memory, 2).await;
        for span in [
            only(&spans, SpanKind::Client),
            only(&spans, SpanKind::Server),
        ] {
            assert_eq!(str_attr(span, "test.on_request"), "GET");
            assert_eq!(int_attr(span, "test.on_response"), 200);
            assert_absent(span, &["test.on_error"]);
        }

        let refused = format!("http://127.0.0.1:{}/", support::unused_port());
        assert!(client.get(refused).send().await.is_err());
        let spans = take_spans(&memory, 1).await;
        let span = only(&spans, SpanKind::Client);
        assert!(bool_attr(span, "test.on_error"));
        assert_absent(span, &["test.on_response"]);
    })
}

// ------------------------------------------------------------------------------------------------
// The server layer alone

#[test]
fn the_server_span_continues_an_incoming_trace_and_ignores_a_malformed_one() {
    run(async {
        let (_guard, memory) = init(Sampler::AlwaysOn);
        let (address, _) = traced_app().await;
        let plain = reqwest::Client::new();

        for (traceparent, continued) in [(traceparent("01"), true), ("00-xyz-01".to_owned(), false)]
        {
            plain
                .get(format!("http://{address}/ok"))
                .header("traceparent", &traceparent)
                .header("x-forwarded-for", "203.0.113.7, 10.0.0.1")
                .send()
                .await
                .expect("sent");
            let spans = take_spans(&memory, 1).await;
            let server = only(&spans, SpanKind::Server);
            assert_eq!(str_attr(server, CLIENT_ADDRESS), "203.0.113.7");
            if continued {
                assert_eq!(server.span_context.trace_id().to_string(), TRACE_ID);
                assert_eq!(server.parent_span_id.to_string(), PARENT_ID);
                assert!(server.parent_span_is_remote);
            } else {
                assert_ne!(server.span_context.trace_id().to_string(), TRACE_ID);
                assert_eq!(
                    server.parent_span_id,
                    SpanId::INVALID,
                    "{traceparent}: a root"
                );
            }
        }
    })
}

#[test]
fn the_server_span_ends_after_its_body() {
    run(async {
        let (_guard, memory) = init(Sampler::AlwaysOn);
        let (address, _) = traced_app().await;

        let body = reqwest::get(format!("http://{address}/chunks"))
            .await
            .expect("sent")
            .text()
            .await
            .expect("body");
        assert_eq!(body, "chunkchunk");

        let spans = take_spans(&memory, 3).await;
        let server = only(&spans, SpanKind::Server);
        let chunks: Vec<_> = spans.iter().filter(|s| s.name == "chunk").collect();
        assert_eq!(chunks.len(), 2);
        for chunk in chunks {
            assert_eq!(chunk.parent_span_id, server.span_context.span_id());
            assert!(
                server.end_time >= chunk.end_time,
                "the server span ended before its body was produced"
            );
        }
    })
}

#[test]
fn a_failing_tower_service_gives_an_error_server_span() {
    run(async {
        let (_guard, memory) = init(Sampler::AlwaysOn);
        let service = ServerLayer::new().layer(tower::service_fn(|_: Request<()>| async {
            Err::<Response<Full<Bytes>>, _>(std::io::Error::other("disk on fire"))
        }));

        let request = Request::get("/upload").body(()).unwrap();
        assert!(service.oneshot(request).await.is_err());

        let spans = take_spans(&memory, 1).await;
        let server = only(&spans, SpanKind::Server);
        assert_eq!(server.name, "GET");
        assert_eq!(str_attr(server, ERROR_TYPE), "std::io::error::Error");
        assert_eq!(str_attr(server, URL_PATH), "/upload");
        assert_eq!(
            server.status,
            Status::Error {
                description: "disk on fire".into()
            }
        );
        assert_absent(server, &[HTTP_RESPONSE_STATUS_CODE, CANCELLED]);
    })
}

// ------------------------------------------------------------------------------------------------
// A tower client: hyper-util's legacy client under the client layer

type HyperClient = hyper_util::client::legacy::Client<
    hyper_util::client::legacy::connect::HttpConnector,
    Full<Bytes>,
>;

fn hyper_client() -> HyperClient {
    hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build_http()
}

fn get(url: &str) -> Request<Full<Bytes>> {
    Request::get(url).body(Full::default()).unwrap()
}

#[test]
fn the_tower_client_layer_records_200_404_and_500() {
    run(async {
        let (_guard, memory) = init(Sampler::AlwaysOn);
        let (address, _) = traced_app().await;
        let client = ServiceBuilder::new()
            .layer(ClientLayer::new())
            .service(hyper_client());

        for (path, code) in [("/users/7", 200), ("/missing", 404), ("/fail", 500)] {
            let url = format!("http://{address}{path}");
            let response = client.clone().oneshot(get(&url)).await.expect("sent");
            assert_eq!(response.status(), code);
            response.into_body().collect().await.expect("body");

            let spans = take_spans(&memory, 2).await;
            let span = only(&spans, SpanKind::Client);
            assert_eq!(span.name, "GET");
            assert_eq!(str_attr(span, HTTP_REQUEST_METHOD), "GET");
            assert_eq!(str_attr(span, SERVER_ADDRESS), "127.0.0.1");
            assert_eq!(int_attr(span, SERVER_PORT), i64::from(address.port()));
            assert_eq!(str_attr(span, URL_FULL), url);
            assert_eq!(int_attr(span, HTTP_RESPONSE_STATUS_CODE), i64::from(code));
            assert_eq!(str_attr(span, NETWORK_PROTOCOL_VERSION), "1.1");
            if code >= 400 {
                assert_eq!(str_attr(span, ERROR_TYPE), code.to_string());
                assert!(is_error(span), "{path}: {:?}", span.status);
            } else {
                assert_absent(span, &[ERROR_TYPE]);
                assert_eq!(span.status, Status::Unset);
            }
            let server = only(&spans, SpanKind::Server);
            assert_eq!(server.parent_span_id, span.span_context.span_id());
        }
    })
}

#[test]
fn the_tower_client_layer_records_refused_connections_and_timeouts() {
    run(async {
        let (_guard, memory) = init(Sampler::AlwaysOn);
        let (address, _) = traced_app().await;

        // Refused: the client's own error type.
        let refused = format!("http://127.0.0.1:{}/", support::unused_port());
        let sent = ServiceBuilder::new()
            .layer(ClientLayer::new())
            .service(hyper_client())
            .oneshot(get(&refused))
            .await;
        assert!(sent.is_err());
        let spans = take_spans(&memory, 1).await;
        let span = only(&spans, SpanKind::Client);
        assert_eq!(
            str_attr(span, ERROR_TYPE),
            std::any::type_name::<hyper_util::client::legacy::Error>()
        );
        assert!(is_error(span), "{:?}", span.status);
        assert_absent(span, &[HTTP_RESPONSE_STATUS_CODE, CANCELLED]);

        // A timeout layer inside the client layer: a boxed error, `_OTHER`.
        let sent = ServiceBuilder::new()
            .layer(ClientLayer::new())
            .timeout(Duration::from_millis(200))
            .service(hyper_client())
            .oneshot(get(&format!("http://{address}/slow")))
            .await;
        assert!(sent.is_err());
        let spans = take_spans(&memory, 1).await;
        let span = only(&spans, SpanKind::Client);
        assert_eq!(str_attr(span, ERROR_TYPE), "_OTHER");
        assert!(is_error(span), "{:?}", span.status);

        // A timeout layer outside: the request future is dropped, a cancellation.
        let sent = ServiceBuilder::new()
            .timeout(Duration::from_millis(200))
            .layer(ClientLayer::new())
            .service(hyper_client())
            .oneshot(get(&format!("http://{address}/slow")))
            .await;
        assert!(sent.is_err());
        let spans = take_spans(&memory, 1).await;
        let span = only(&spans, SpanKind::Client);
        assert!(bool_attr(span, CANCELLED));
        assert_eq!(span.status, Status::Unset);
    })
}

#[test]
fn the_tower_client_layer_takes_the_host_header_for_an_origin_form_uri() {
    run(async {
        let (_guard, memory) = init(Sampler::AlwaysOn);
        let inner = tower::service_fn(|request: Request<()>| async move {
            let traceparent = request.headers().get("traceparent").cloned();
            Ok::<_, std::io::Error>(Response::new(traceparent))
        });
        let request = Request::get("/v1/items?page=2")
            .header("host", "api.example:8443")
            .body(())
            .unwrap();

        let response = ClientLayer::new()
            .layer(inner)
            .oneshot(request)
            .await
            .expect("answered");
        let injected = response.into_body().expect("traceparent injected");

        let spans = take_spans(&memory, 1).await;
        let span = only(&spans, SpanKind::Client);
        assert_eq!(
            str_attr(span, URL_FULL),
            "http://api.example:8443/v1/items?page=2"
        );
        assert_eq!(str_attr(span, SERVER_ADDRESS), "api.example");
        assert_eq!(int_attr(span, SERVER_PORT), 8443);
        assert_eq!(int_attr(span, HTTP_RESPONSE_STATUS_CODE), 200);
        assert_absent(span, &[ERROR_TYPE]);
        let injected: Vec<&str> = injected.to_str().unwrap().split('-').collect();
        assert_eq!(injected[1], span.span_context.trace_id().to_string());
        assert_eq!(injected[2], span.span_context.span_id().to_string());
        assert!(sampled_flag(injected[3]));
    })
}
