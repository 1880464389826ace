//! The two HTTP examples keep one trace across services: the W3C test service calls back a fake
//! harness, in order and before it answers, each call carrying the incoming trace (sampled or not),
//! and the two-service example makes one connected trace server → client → server.
#![cfg(all(feature = "reqwest", feature = "axum", feature = "testing"))]

#[path = "../examples/w3c_test_service.rs"]
#[allow(dead_code)]
mod w3c_test_service;

#[path = "../examples/two_services.rs"]
#[allow(dead_code)]
mod two_services;

mod http_support;
mod support;

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::routing::post;
use http_support::*;
use tracewire::{Sampler, SpanId, SpanKind};

/// One call the fake harness received.
#[derive(Clone, Debug)]
struct Call {
    id: String,
    traceparent: Option<String>,
    tracestate: Option<String>,
    body: String,
}

type Calls = Arc<Mutex<Vec<Call>>>;

/// A stand-in for the harness's receiver: records every `POST /callback/{id}`.
fn harness(calls: Calls) -> Router {
    Router::new()
        .route(
            "/callback/{id}",
            post(
                |State(calls): State<Calls>,
                 Path(id): Path<String>,
                 headers: HeaderMap,
                 body: Bytes| async move {
                    let header = |name: &str| {
                        headers
                            .get(name)
                            .and_then(|v| v.to_str().ok())
                            .map(str::to_owned)
                    };
                    let (traceparent, tracestate) = (header("traceparent"), header("tracestate"));
                    let body = String::from_utf8_lossy(&body).into_owned();
                    calls.lock().unwrap_or_else(|e| e.into_inner()).push(Call {
                        id,
                        traceparent,
                        tracestate,
                        body,
                    });
                },
            ),
        )
        .with_state(calls)
}

/// Sends one harness request to the service with `traceparent`, and returns the calls the harness
/// had received when the service answered.
async fn run_case(traceparent: &str) -> Vec<Call> {
    let calls = Calls::default();
    let harness = serve(harness(calls.clone())).await;
    let service = serve(w3c_test_service::app(w3c_test_service::client())).await;
    let instructions = format!(
        r#"[{{"url": "http://{harness}/callback/1", "arguments": [1, "a", {{"b": null}}]}},
           {{"url": "http://{harness}/callback/2", "arguments": []}}]"#
    );
    let response = reqwest::Client::new()
        .post(format!("http://{service}/test"))
        .header("traceparent", traceparent)
        .header("tracestate", TRACESTATE)
        .header("content-type", "application/json")
        .body(instructions)
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 200);
    calls.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

/// The `tracestate` every harness request carries; the service must pass it on unchanged.
const TRACESTATE: &str = "foo=1,bar@tenant=x";

/// The parts of a `traceparent` header.
fn parts(header: &Option<String>) -> Vec<String> {
    let header = header.as_deref().expect("a traceparent was sent");
    let parts: Vec<String> = header.split('-').map(str::to_owned).collect();
    assert_eq!(parts.len(), 4, "{header}");
    parts
}

#[test]
fn the_w3c_test_service_calls_back_in_order_with_the_incoming_trace() {
    run(async {
        let (_guard, memory) = init(Sampler::default());

        for flags in ["01", "00"] {
            let calls = run_case(&traceparent(flags)).await;
            let ids: Vec<&str> = calls.iter().map(|c| c.id.as_str()).collect();
            assert_eq!(ids, ["1", "2"], "every call, in order, before the answer");
            assert_eq!(calls[0].body, r#"[1,"a",{"b":null}]"#);
            assert_eq!(calls[1].body, "[]");
            let first = parts(&calls[0].traceparent);
            let second = parts(&calls[1].traceparent);
            for p in [&first, &second] {
                assert_eq!(p[0], "00");
                assert_eq!(p[1], TRACE_ID, "the incoming trace continues");
                assert_ne!(p[2], PARENT_ID, "each call from a new span");
                assert_eq!(
                    sampled_flag(&p[3]),
                    sampled_flag(flags),
                    "the sampled flag is kept"
                );
            }
            assert_ne!(first[2], second[2], "one client span per call");
            for call in &calls {
                assert_eq!(
                    call.tracestate.as_deref(),
                    Some(TRACESTATE),
                    "tracestate kept"
                );
            }
        }

        // Sampled: the server span is the incoming context's child, the client spans its children.
        let spans = take_spans(&memory, 3).await;
        assert_eq!(spans.len(), 3, "the unsampled case records nothing");
        let server = only(&spans, SpanKind::Server);
        assert_eq!(server.name, "POST /test");
        assert_eq!(server.parent_span_id.to_string(), PARENT_ID);
        for client in spans.iter().filter(|s| s.span_kind == SpanKind::Client) {
            assert_eq!(client.parent_span_id, server.span_context.span_id());
            assert_eq!(client.span_context.trace_id().to_string(), TRACE_ID);
        }
    })
}

#[test]
fn the_w3c_test_service_starts_a_new_trace_on_a_malformed_traceparent() {
    run(async {
        let (_guard, _memory) = init(Sampler::default());

        let calls = run_case(&format!("00-{TRACE_ID}-{PARENT_ID}-0x")).await;
        assert_eq!(calls.len(), 2);
        let first = parts(&calls[0].traceparent);
        let second = parts(&calls[1].traceparent);
        assert_ne!(first[1], TRACE_ID);
        assert_eq!(first[1], second[1], "both calls in the one new trace");
        for call in &calls {
            assert_eq!(
                call.tracestate, None,
                "a new trace drops the old tracestate"
            );
        }
    })
}

#[test]
fn with_tracing_off_the_incoming_context_passes_through_unchanged() {
    run(async {
        // No tracewire::init: spans are off, but the context still flows.
        let incoming = traceparent("01");
        let calls = run_case(&incoming).await;
        assert_eq!(calls.len(), 2);
        for call in &calls {
            assert_eq!(call.traceparent.as_deref(), Some(incoming.as_str()));
            assert_eq!(call.tracestate.as_deref(), Some(TRACESTATE));
        }
    })
}

#[test]
fn a_request_through_the_two_services_is_one_connected_trace() {
    run(async {
        let (_guard, memory) = init(Sampler::default());

        let frontend = two_services::start().await.expect("services started");
        let answer = reqwest::get(format!("{frontend}/checkout/cart-7"))
            .await
            .expect("sent")
            .text()
            .await
            .expect("body");
        assert!(answer.starts_with("cart cart-7: total "), "{answer}");

        let spans = take_spans(&memory, 4).await;
        assert_eq!(spans.len(), 4, "{spans:#?}");
        let named = |name: &str| {
            spans
                .iter()
                .find(|s| s.name == name)
                .unwrap_or_else(|| panic!("no span {name:?} in {spans:#?}"))
        };
        let front = named("GET /checkout/{cart}");
        let call = named("GET");
        let back = named("GET /price/{cart}");
        let work = named("compute price");
        assert_eq!(front.span_kind, SpanKind::Server);
        assert_eq!(call.span_kind, SpanKind::Client);
        assert_eq!(back.span_kind, SpanKind::Server);
        assert_eq!(
            front.parent_span_id,
            SpanId::INVALID,
            "the trace starts here"
        );
        assert_eq!(call.parent_span_id, front.span_context.span_id());
        assert_eq!(back.parent_span_id, call.span_context.span_id());
        assert!(back.parent_span_is_remote);
        assert_eq!(work.parent_span_id, back.span_context.span_id());
        let trace_id = front.span_context.trace_id();
        assert!(spans.iter().all(|s| s.span_context.trace_id() == trace_id));
    })
}
