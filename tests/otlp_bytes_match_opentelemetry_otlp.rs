//! The differential test of the OTLP encoding: the same instrumented workload, exported once by
//! tracewire's own OTLP export and once through `Config::with_exporter(opentelemetry_otlp's
//! SpanExporter)`, reaches the same kind of receiver as the same `ExportTraceServiceRequest`, up to
//! ordering, over gRPC and HTTP, with and without gzip.
//!
//! The workload covers typed attributes of every kind and arrays of each, events and links with
//! attributes, error and ok statuses, a recorded error, a remote parent with a tracestate, resource
//! attributes, and span limits set low so that every `dropped_*_count` and a truncated value are
//! non-zero. Two runs have different ids and timestamps: ids are mapped to the names of the spans
//! they belong to (unique in the workload), timestamps are checked to lie in the run's window with
//! `end >= start`, then blanked. Everything else must be equal.

mod support;

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use opentelemetry_otlp::{WithExportConfig as _, WithHttpConfig as _, WithTonicConfig as _};
use support::{ExportTraceServiceRequest, ProtoKeyValue, ProtoSpan, Receiver, Transport, hex};
use tracewire::{
    Compression, KeyValue, SpanContext, SpanId, SpanKind, SpanLimits, Status, TraceFlags, TraceId,
    TraceState, Value,
};

const WAIT: Duration = Duration::from_secs(15);
const SCENARIO_BOUND: Duration = Duration::from_secs(60);
/// Spans the workload ends.
const SPANS: usize = 5;

/// Limits low enough that the workload goes past each of them.
const LIMITS: SpanLimits = SpanLimits {
    max_attributes: 10,
    max_events: 2,
    max_links: 1,
    max_attributes_per_event: 1,
    max_attributes_per_link: 1,
    max_attribute_value_length: Some(8),
};

#[derive(Debug)]
struct StockError;

impl std::fmt::Display for StockError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("sku 1234 is out of stock")
    }
}

impl std::error::Error for StockError {}

/// The instrumented workload: the same calls in both runs. Span names are unique.
fn workload() {
    let remote = SpanContext::new(
        TraceId::from_bytes([0x4b; 16]),
        SpanId::from_bytes([0x0f; 8]),
        TraceFlags::SAMPLED,
        true,
        TraceState::from_header("vendor=abc,congo=t61rcWkgMzE").expect("a valid tracestate"),
    );
    let linked = tracewire::span_builder("linked root").root().start();
    let linked_ctx = linked.context().clone();
    linked.set_attribute("linked.only", 1_i64);
    linked.end();

    let server = tracewire::span_builder("GET /orders/{id}")
        .with_kind(SpanKind::Server)
        .with_parent(&remote)
        .with_attribute("http.request.method", "GET")
        .start();
    server.set_attribute("attr.str", "hello");
    server.set_attribute(
        "attr.string",
        String::from("a value longer than eight bytes"),
    );
    server.set_attribute("attr.bool", true);
    server.set_attribute("attr.i64", -42_i64);
    server.set_attribute("attr.f64", 2.5_f64);
    server.set_attribute(
        "attr.str_array",
        Value::Array(vec![tracewire::StringValue::from("a"), "bcdefghijkl".into()].into()),
    );
    server.set_attribute("attr.bool_array", Value::Array(vec![true, false].into()));
    server.set_attribute("attr.i64_array", Value::Array(vec![1_i64, -2, 3].into()));
    server.set_attribute("attr.f64_array", Value::Array(vec![0.5_f64, 1.5].into()));
    // Past max_attributes (10 with the method): dropped and counted.
    server.set_attribute("attr.extra1", 1_i64);
    server.set_attribute("attr.extra2", 2_i64);
    server.set_status(Status::Ok);
    {
        let _in_server = server.enter();
        let child = tracewire::span_builder("load order")
            .with_kind(SpanKind::Internal)
            .with_link(
                &linked_ctx,
                vec![
                    KeyValue::new("link.reason", "retry of"),
                    KeyValue::new("link.extra", true),
                ],
            )
            .start();
        child.add_link(&linked_ctx, vec![KeyValue::new("link.second", 2_i64)]);
        child.add_event(
            "cache.miss",
            vec![
                KeyValue::new("cache.key", "order:7"),
                KeyValue::new("cache.attempt", 2_i64),
            ],
        );
        child.add_event("cache.fill", vec![KeyValue::new("cache.bytes", 512_i64)]);
        child.add_event("cache.dropped", vec![]);
        child.set_status(Status::error("order store unavailable"));
        {
            let _in_child = child.enter();
            let client = tracewire::span_builder("SELECT orders")
                .with_kind(SpanKind::Client)
                .with_attribute("db.system", "postgresql")
                .start();
            client.record_error(&StockError);
            client.end();
        }
        child.end();
        let producer = tracewire::span_builder("publish order")
            .with_kind(SpanKind::Producer)
            .start();
        producer.update_name("publish order.created");
        producer.end();
    }
    server.end();
}

/// Settings both runs share: the resource, the limits, one batch per flush.
fn shared(config: tracewire::Config) -> tracewire::Config {
    config
        .with_service_name("tracewire-diff")
        .with_service_version("1.2.3")
        .with_resource_attribute(KeyValue::new("deployment.environment.name", "test"))
        .with_resource_attribute(KeyValue::new("host.cores", 2_i64))
        .with_span_limits(LIMITS)
        .with_diagnostics(tracewire::DiagLevel::None)
        .with_schedule_delay(Duration::from_secs(60))
        .with_max_export_batch_size(512)
}

/// Runs the workload with `config`, flushes once, and returns the one request the receiver got and
/// the run's time window (Unix nanoseconds).
fn run(receiver: &Receiver, config: tracewire::Config) -> (ExportTraceServiceRequest, u64, u64) {
    let started = unix_nanos();
    let flush = support::bounded("differential run", SCENARIO_BOUND, move || {
        let guard = config.init().expect("init");
        workload();
        let flush = tracewire::force_flush();
        drop(guard);
        flush
    });
    let ended = unix_nanos();
    assert_eq!(flush, Ok(()), "the run's flush");
    let requests = receiver.wait_for_requests(1, WAIT);
    assert_eq!(requests.len(), 1, "one request per run");
    let recorded = requests.into_iter().next().expect("one request");
    (recorded.request, started, ended)
}

fn unix_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_nanos() as u64
}

/// The reference: opentelemetry-otlp's exporter for `receiver`, with `gzip` or not.
///
/// The gRPC exporter is built inside `runtime` (tonic's channel spawns its worker there; the
/// runtime must outlive the run). The HTTP exporter gets an explicit async reqwest client: it runs
/// inside tracewire's export thread, which drives it on its own tokio runtime.
fn reference_exporter(
    receiver: &Receiver,
    gzip: bool,
    runtime: &tokio::runtime::Runtime,
) -> opentelemetry_otlp::SpanExporter {
    let compression = opentelemetry_otlp::Compression::Gzip;
    match receiver.transport() {
        Transport::Grpc => {
            let _entered = runtime.enter();
            let mut builder = opentelemetry_otlp::SpanExporter::builder()
                .with_tonic()
                .with_endpoint(receiver.endpoint())
                .with_timeout(Duration::from_secs(5));
            if gzip {
                builder = builder.with_compression(compression);
            }
            builder.build().expect("build the OTLP/gRPC exporter")
        }
        Transport::Http => {
            let mut builder = opentelemetry_otlp::SpanExporter::builder()
                .with_http()
                .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
                .with_endpoint(receiver.traces_url())
                .with_timeout(Duration::from_secs(5))
                .with_http_client(support::faults::http_client());
            if gzip {
                builder = builder.with_compression(compression);
            }
            builder.build().expect("build the OTLP/HTTP exporter")
        }
    }
}

// ---------------------------------------------------------------------------------------------------
// Normalising

/// Ids mapped to names: a span id to its span's name, a trace id to the sorted names of its spans.
struct Names {
    spans: BTreeMap<Vec<u8>, String>,
    traces: BTreeMap<Vec<u8>, String>,
}

impl Names {
    fn of(request: &ExportTraceServiceRequest) -> Names {
        let mut spans = BTreeMap::new();
        let mut by_trace: BTreeMap<Vec<u8>, Vec<String>> = BTreeMap::new();
        for span in all_spans(request) {
            let previous = spans.insert(span.span_id.clone(), span.name.clone());
            assert!(previous.is_none(), "span id {} twice", hex(&span.span_id));
            by_trace
                .entry(span.trace_id.clone())
                .or_default()
                .push(span.name.clone());
        }
        let traces = by_trace
            .into_iter()
            .map(|(id, mut names)| {
                names.sort();
                (id, format!("trace of {}", names.join(" + ")))
            })
            .collect();
        Names { spans, traces }
    }

    /// A span id as the name of its span; an id from outside the run (the remote parent, the same
    /// in both runs) or an empty one stays as it is.
    fn span(&self, id: &[u8]) -> Vec<u8> {
        match self.spans.get(id) {
            Some(name) => format!("span {name}").into_bytes(),
            None => id.to_vec(),
        }
    }

    fn trace(&self, id: &[u8]) -> Vec<u8> {
        match self.traces.get(id) {
            Some(name) => name.clone().into_bytes(),
            None => id.to_vec(),
        }
    }
}

fn all_spans(request: &ExportTraceServiceRequest) -> impl Iterator<Item = &ProtoSpan> {
    request
        .resource_spans
        .iter()
        .flat_map(|rs| &rs.scope_spans)
        .flat_map(|ss| &ss.spans)
}

fn sort_attributes(attributes: &mut [ProtoKeyValue]) {
    attributes.sort_by(|a, b| a.key.cmp(&b.key));
}

#[track_caller]
fn blank_time(what: &str, nanos: &mut u64, window: (u64, u64)) {
    assert!(
        (window.0..=window.1).contains(nanos),
        "{what}: {nanos} is outside the run's window {window:?}"
    );
    *nanos = 0;
}

/// `request` with ids mapped to names, timestamps checked and blanked, and everything sorted.
fn normalised(
    mut request: ExportTraceServiceRequest,
    window: (u64, u64),
) -> ExportTraceServiceRequest {
    let names = Names::of(&request);
    for rs in &mut request.resource_spans {
        if let Some(resource) = &mut rs.resource {
            sort_attributes(&mut resource.attributes);
        }
        for ss in &mut rs.scope_spans {
            if let Some(scope) = &mut ss.scope {
                sort_attributes(&mut scope.attributes);
            }
            for span in &mut ss.spans {
                let name = span.name.clone();
                assert!(
                    span.end_time_unix_nano >= span.start_time_unix_nano,
                    "span {name:?} ends before it starts"
                );
                blank_time(&name, &mut span.start_time_unix_nano, window);
                blank_time(&name, &mut span.end_time_unix_nano, window);
                span.trace_id = names.trace(&span.trace_id);
                span.span_id = names.span(&span.span_id);
                span.parent_span_id = names.span(&span.parent_span_id);
                sort_attributes(&mut span.attributes);
                for event in &mut span.events {
                    blank_time(&format!("{name} event"), &mut event.time_unix_nano, window);
                    sort_attributes(&mut event.attributes);
                }
                span.events.sort_by(|a, b| a.name.cmp(&b.name));
                for link in &mut span.links {
                    link.trace_id = names.trace(&link.trace_id);
                    link.span_id = names.span(&link.span_id);
                    sort_attributes(&mut link.attributes);
                }
                span.links.sort_by(|a, b| {
                    (
                        &a.trace_id,
                        &a.span_id,
                        &a.attributes.first().map(|kv| &kv.key),
                    )
                        .cmp(&(
                            &b.trace_id,
                            &b.span_id,
                            &b.attributes.first().map(|kv| &kv.key),
                        ))
                });
            }
            ss.spans.sort_by(|a, b| a.name.cmp(&b.name));
        }
        rs.scope_spans.sort_by(|a, b| {
            let key = |ss: &opentelemetry_proto::tonic::trace::v1::ScopeSpans| {
                ss.scope
                    .as_ref()
                    .map(|s| (s.name.clone(), s.version.clone()))
            };
            key(a).cmp(&key(b))
        });
    }
    request
        .resource_spans
        .sort_by_key(|rs| format!("{:?}", rs.resource));
    request
}

/// Compares span by span first, so that a difference is reported where it is; then the whole
/// request.
#[track_caller]
fn assert_same(ours: &ExportTraceServiceRequest, reference: &ExportTraceServiceRequest) {
    let theirs: BTreeMap<&str, &ProtoSpan> =
        all_spans(reference).map(|s| (s.name.as_str(), s)).collect();
    let mine: BTreeMap<&str, &ProtoSpan> = all_spans(ours).map(|s| (s.name.as_str(), s)).collect();
    assert_eq!(
        mine.keys().collect::<Vec<_>>(),
        theirs.keys().collect::<Vec<_>>(),
        "the same spans"
    );
    for (name, span) in &mine {
        assert_eq!(
            *span, theirs[name],
            "span {name:?} differs (left: tracewire, right: opentelemetry-otlp)"
        );
    }
    for (i, (a, b)) in ours
        .resource_spans
        .iter()
        .zip(&reference.resource_spans)
        .enumerate()
    {
        assert_eq!(a.resource, b.resource, "resource {i} differs");
        assert_eq!(
            a.schema_url, b.schema_url,
            "resource {i}'s schema URL differs"
        );
        for (j, (x, y)) in a.scope_spans.iter().zip(&b.scope_spans).enumerate() {
            assert_eq!(x.scope, y.scope, "scope {i}.{j} differs");
            assert_eq!(
                x.schema_url, y.schema_url,
                "scope {i}.{j}'s schema URL differs"
            );
        }
    }
    assert_eq!(ours, reference, "the normalised requests differ");
}

/// Checks that the workload really went past each limit, so the comparison covers the counts.
fn assert_limits_reached(request: &ExportTraceServiceRequest) {
    let spans: BTreeMap<&str, &ProtoSpan> =
        all_spans(request).map(|s| (s.name.as_str(), s)).collect();
    assert_eq!(spans.len(), SPANS, "{:?}", spans.keys().collect::<Vec<_>>());
    let server = spans["GET /orders/{id}"];
    let child = spans["load order"];
    assert!(server.dropped_attributes_count > 0, "{server:?}");
    assert!(!server.trace_state.is_empty(), "{server:?}");
    assert!(child.dropped_events_count > 0, "{child:?}");
    assert!(child.dropped_links_count > 0, "{child:?}");
    assert!(
        child.events.iter().any(|e| e.dropped_attributes_count > 0),
        "{child:?}"
    );
    assert!(
        child.links.iter().any(|l| l.dropped_attributes_count > 0),
        "{child:?}"
    );
}

fn same_request_as_opentelemetry_otlp(transport: Transport, gzip: bool) {
    let _serial = support::serial();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a runtime for the reference exporter's channel");

    let receiver = Receiver::start(transport);
    let mut config = shared(support::config_for(&receiver));
    if gzip {
        config = config.with_compression(Compression::Gzip);
    }
    let (ours, started, ended) = run(&receiver, config);
    assert_eq!(
        receiver.requests()[0].gzipped(),
        gzip,
        "tracewire's request compression"
    );
    assert_limits_reached(&ours);

    let reference = Receiver::start(transport);
    let config = shared(tracewire::Config::default())
        .with_exporter(reference_exporter(&reference, gzip, &runtime));
    let (theirs, ref_started, ref_ended) = run(&reference, config);
    assert_eq!(
        reference.requests()[0].gzipped(),
        gzip,
        "opentelemetry-otlp's request compression"
    );

    let ours = normalised(ours, (started, ended));
    let theirs = normalised(theirs, (ref_started, ref_ended));
    assert_same(&ours, &theirs);
    drop(reference);
    runtime.shutdown_timeout(Duration::from_secs(1));
}

#[test]
fn grpc_request_matches_opentelemetry_otlp() {
    same_request_as_opentelemetry_otlp(Transport::Grpc, false);
}

#[test]
fn grpc_gzip_request_matches_opentelemetry_otlp() {
    same_request_as_opentelemetry_otlp(Transport::Grpc, true);
}

#[test]
fn http_request_matches_opentelemetry_otlp() {
    same_request_as_opentelemetry_otlp(Transport::Http, false);
}

#[test]
fn http_gzip_request_matches_opentelemetry_otlp() {
    same_request_as_opentelemetry_otlp(Transport::Http, true);
}
