//! The cost of carrying context in HTTP headers: tracewire next to opentelemetry_sdk's W3C
//! propagators (through opentelemetry-http's `HeaderInjector` / `HeaderExtractor`), in one run.
//!
//! ```text
//! cargo bench --bench propagation
//! cargo bench --bench propagation -- extract     # one group
//! ```
//!
//! Groups:
//! - `traceparent_parse`: one `traceparent` value to a span context (tracewire's parser alone, and
//!   both libraries' W3C extraction from a `HeaderMap` holding only `traceparent`).
//! - `traceparent_format`: a span context to a `traceparent` value (tracewire's formatter alone, and
//!   both libraries' W3C injection into a `HeaderMap`).
//! - `inject` / `extract`: the default propagators (`tracecontext,baggage`) with a two-member
//!   `tracestate` and two baggage entries, into and out of a `HeaderMap`.
//!
//! Injection reuses one `HeaderMap`, cleared before each call (its capacity stays), for both.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use http::HeaderMap;
use opentelemetry::baggage::BaggageExt as _;
use opentelemetry::propagation::{TextMapCompositePropagator, TextMapPropagator};
use opentelemetry::trace::TraceContextExt as _;
use opentelemetry_http::{HeaderExtractor, HeaderInjector};
use opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};
use tracewire::Context;
use tracewire::propagation::{Propagator, Propagators, format_traceparent, parse_traceparent};

const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
const TRACESTATE: &str = "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE";
const BAGGAGE: &str = "tenant=acme,user.id=42";

fn incoming(full: bool) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert("traceparent", TRACEPARENT.parse().expect("valid"));
    if full {
        headers.insert("tracestate", TRACESTATE.parse().expect("valid"));
        headers.insert("baggage", BAGGAGE.parse().expect("valid"));
    }
    headers
}

fn otel_w3c() -> TextMapCompositePropagator {
    TextMapCompositePropagator::new(vec![
        Box::new(TraceContextPropagator::new()),
        Box::new(BaggagePropagator::new()),
    ])
}

/// The same context for both libraries.
fn contexts(full: bool) -> (Context, opentelemetry::Context) {
    let headers = incoming(full);
    let ours = Propagators::default().extract(&headers);
    let theirs = otel_w3c().extract(&HeaderExtractor(&headers));
    assert_eq!(
        theirs.span().span_context().trace_id(),
        ours.span_context().trace_id()
    );
    (ours, theirs)
}

fn traceparent_parse(c: &mut Criterion) {
    let mut group = c.benchmark_group("traceparent_parse");
    let headers = incoming(false);
    let only_w3c = Propagators::new([Propagator::TraceContext]);
    let otel = TraceContextPropagator::new();
    group.bench_function("tracewire/parse_traceparent", |b| {
        b.iter(|| parse_traceparent(black_box(TRACEPARENT)))
    });
    group.bench_function("tracewire/extract", |b| {
        b.iter(|| only_w3c.extract(black_box(&headers)))
    });
    group.bench_function("opentelemetry_sdk/extract", |b| {
        b.iter(|| otel.extract(&HeaderExtractor(black_box(&headers))))
    });
    group.finish();
}

fn traceparent_format(c: &mut Criterion) {
    let mut group = c.benchmark_group("traceparent_format");
    let (ours, theirs) = contexts(false);
    let only_w3c = Propagators::new([Propagator::TraceContext]);
    let otel = TraceContextPropagator::new();
    let mut headers = HeaderMap::with_capacity(4);
    group.bench_function("tracewire/format_traceparent", |b| {
        b.iter(|| format_traceparent(black_box(ours.span_context())))
    });
    group.bench_function("tracewire/inject", |b| {
        b.iter(|| {
            headers.clear();
            only_w3c.inject_context(black_box(&ours), &mut headers);
        })
    });
    group.bench_function("opentelemetry_sdk/inject", |b| {
        b.iter(|| {
            headers.clear();
            otel.inject_context(black_box(&theirs), &mut HeaderInjector(&mut headers));
        })
    });
    group.finish();
}

fn inject(c: &mut Criterion) {
    let mut group = c.benchmark_group("inject");
    let (ours, theirs) = contexts(true);
    assert_eq!(theirs.baggage().len(), 2);
    let otel = otel_w3c();
    let mut headers = HeaderMap::with_capacity(4);
    group.bench_function("tracewire", |b| {
        b.iter(|| {
            headers.clear();
            tracewire::propagation::inject_context(black_box(&ours), &mut headers);
        })
    });
    group.bench_function("opentelemetry_sdk", |b| {
        b.iter(|| {
            headers.clear();
            otel.inject_context(black_box(&theirs), &mut HeaderInjector(&mut headers));
        })
    });
    group.finish();
}

fn extract(c: &mut Criterion) {
    let mut group = c.benchmark_group("extract");
    let headers = incoming(true);
    let otel = otel_w3c();
    group.bench_function("tracewire", |b| {
        b.iter(|| tracewire::propagation::extract(black_box(&headers)))
    });
    group.bench_function("opentelemetry_sdk", |b| {
        b.iter(|| otel.extract(&HeaderExtractor(black_box(&headers))))
    });
    group.finish();
}

criterion_group!(
    benches,
    traceparent_parse,
    traceparent_format,
    inject,
    extract
);
criterion_main!(benches);
