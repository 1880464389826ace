//! A trace exported by tracewire arrives at a real OTLP receiver, over gRPC and over HTTP/protobuf,
//! with and without gzip, with everything intact: ids and parentage, names, kinds, typed attribute
//! values, events, links, statuses, the recorded error, the resource, the scope and the configured
//! headers. Spans that make more than one request are split over several, each of a size that
//! collectors accept.

mod support;

use std::fmt;
use std::time::Duration;

use support::{
    FlatSpan, ProtoSpanKind, ProtoStatusCode, Receiver, Transport, any_value, array_attr,
    bool_attr, double_attr, find, int_attr, str_attr,
};
use tracewire::{Compression, KeyValue, SpanKind, Status, Value};

const WAIT: Duration = Duration::from_secs(15);

/// An error type of our own, so `exception.type` has a known name.
#[derive(Debug)]
struct InventoryError {
    sku: u32,
}

impl fmt::Display for InventoryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sku {} is out of stock", self.sku)
    }
}

impl std::error::Error for InventoryError {}

/// The ids of what the test recorded, to compare with what arrived.
struct Sent {
    trace_id: [u8; 16],
    root: [u8; 8],
    child: [u8; 8],
    grandchild: [u8; 8],
    linked_trace: [u8; 16],
    linked_span: [u8; 8],
}

/// Records the test trace: root (server) > child (internal) > grandchild (client), plus an
/// unrelated root that the grandchild links to.
fn record_trace() -> Sent {
    let linked = tracewire::span_builder("linked-root").root().start();
    let linked_ctx = linked.context().clone();
    linked.end();

    let root = tracewire::span_builder("GET /orders/{id}")
        .with_kind(SpanKind::Server)
        .with_attribute("http.request.method", "GET")
        .start();
    root.set_attribute("attr.str", "hello");
    root.set_attribute("attr.string", String::from("owned"));
    root.set_attribute("attr.bool", true);
    root.set_attribute("attr.i64", -42_i64);
    root.set_attribute("attr.f64", 2.5_f64);
    root.set_attribute(
        "attr.str_array",
        Value::Array(vec![tracewire::StringValue::from("a"), "b".into()].into()),
    );
    root.set_attribute("attr.bool_array", Value::Array(vec![true, false].into()));
    root.set_attribute("attr.i64_array", Value::Array(vec![1_i64, -2, 3].into()));
    root.set_attribute("attr.f64_array", Value::Array(vec![0.5_f64, 1.5].into()));
    root.set_status(Status::Ok);
    let root_ctx = root.context().clone();

    let (child_ctx, grandchild_ctx) = {
        let _in_root = root.enter();
        let child = tracewire::span("load order");
        child.add_event(
            "cache.miss",
            vec![
                KeyValue::new("cache.key", "order:7"),
                KeyValue::new("cache.attempt", 2_i64),
            ],
        );
        child.set_status(Status::error("order store unavailable"));
        let child_ctx = child.context().clone();
        let grandchild_ctx = {
            let _in_child = child.enter();
            let grandchild = tracewire::span_builder("SELECT orders")
                .with_kind(SpanKind::Client)
                .with_link(&linked_ctx, vec![KeyValue::new("link.reason", "retry of")])
                .start();
            grandchild.record_error(&InventoryError { sku: 1234 });
            let ctx = grandchild.context().clone();
            grandchild.end();
            ctx
        };
        child.end();
        (child_ctx, grandchild_ctx)
    };
    root.end();

    for ctx in [&root_ctx, &child_ctx, &grandchild_ctx, &linked_ctx] {
        assert!(ctx.is_valid() && ctx.is_sampled(), "{ctx:?}");
    }
    Sent {
        trace_id: root_ctx.trace_id().to_bytes(),
        root: root_ctx.span_id().to_bytes(),
        child: child_ctx.span_id().to_bytes(),
        grandchild: grandchild_ctx.span_id().to_bytes(),
        linked_trace: linked_ctx.trace_id().to_bytes(),
        linked_span: linked_ctx.span_id().to_bytes(),
    }
}

fn export_and_check(transport: Transport, gzip: bool) {
    let _serial = support::serial();
    let receiver = Receiver::start(transport);
    let mut config = support::config_for(&receiver)
        .with_service_name("checkout")
        .with_service_version("9.8.7")
        .with_resource_attribute(KeyValue::new("deployment.environment.name", "test"))
        .with_header("x-api-key", "k1")
        .with_header("X-Tenant", "acme");
    if gzip {
        config = config.with_compression(Compression::Gzip);
    }
    let guard = config.init().expect("init");

    let sent = record_trace();
    tracewire::force_flush().expect("force_flush");
    let spans = receiver.wait_for_spans(4, WAIT);
    let stats = tracewire::stats();
    drop(guard);

    assert_eq!(spans.len(), 4, "spans received: {spans:#?}");
    assert_eq!(stats.spans_exported, 4, "{stats:#?}");
    assert_eq!(stats.export_errors, 0, "{stats:#?}");

    // Transport details: headers and compression reached the receiver on every request.
    let requests = receiver.requests();
    assert!(!requests.is_empty());
    for request in &requests {
        assert_eq!(
            request.header("x-api-key"),
            Some("k1"),
            "{:?}",
            request.headers
        );
        assert_eq!(
            request.header("x-tenant"),
            Some("acme"),
            "{:?}",
            request.headers
        );
        assert_eq!(request.gzipped(), gzip, "{:?}", request.headers);
        if transport == Transport::Http {
            assert_eq!(
                request.header("content-type"),
                Some("application/x-protobuf")
            );
        }
    }

    let root = find(&spans, "GET /orders/{id}");
    let child = find(&spans, "load order");
    let grandchild = find(&spans, "SELECT orders");
    let linked = find(&spans, "linked-root");

    // Ids and parentage.
    for span in [root, child, grandchild] {
        assert_eq!(
            span.span.trace_id,
            sent.trace_id,
            "trace id of {}",
            span.name()
        );
        assert!(span.span.start_time_unix_nano > 0, "{}", span.name());
        assert!(
            span.span.start_time_unix_nano <= span.span.end_time_unix_nano,
            "{}: start after end",
            span.name()
        );
        // Sampled and (W3C Level 2) random trace id, and the "is remote" bit says "known, local".
        assert_eq!(span.span.flags & 0xff, 0x03, "{}", span.name());
        assert_eq!(span.span.flags & 0x300, 0x100, "{}", span.name());
    }
    assert_eq!(root.span.span_id, sent.root);
    assert_eq!(child.span.span_id, sent.child);
    assert_eq!(grandchild.span.span_id, sent.grandchild);
    assert!(root.span.parent_span_id.is_empty(), "root has a parent");
    assert_eq!(child.span.parent_span_id, sent.root);
    assert_eq!(grandchild.span.parent_span_id, sent.child);
    assert_eq!(linked.span.trace_id, sent.linked_trace);
    assert_ne!(
        sent.linked_trace, sent.trace_id,
        "root() must start a new trace"
    );
    assert!(linked.span.parent_span_id.is_empty());

    // Nesting in time: children run within their parents.
    assert!(root.span.start_time_unix_nano <= child.span.start_time_unix_nano);
    assert!(child.span.start_time_unix_nano <= grandchild.span.start_time_unix_nano);
    assert!(grandchild.span.end_time_unix_nano <= child.span.end_time_unix_nano);
    assert!(child.span.end_time_unix_nano <= root.span.end_time_unix_nano);

    // Kinds.
    assert_eq!(root.kind(), ProtoSpanKind::Server);
    assert_eq!(child.kind(), ProtoSpanKind::Internal);
    assert_eq!(grandchild.kind(), ProtoSpanKind::Client);

    // Typed attributes keep their type.
    assert_eq!(str_attr(root, "http.request.method"), Some("GET"));
    assert_eq!(str_attr(root, "attr.str"), Some("hello"));
    assert_eq!(str_attr(root, "attr.string"), Some("owned"));
    assert_eq!(bool_attr(root, "attr.bool"), Some(true));
    assert_eq!(int_attr(root, "attr.i64"), Some(-42));
    assert_eq!(double_attr(root, "attr.f64"), Some(2.5));
    assert_eq!(
        array_attr(root, "attr.str_array"),
        Some(vec![
            &any_value::Value::StringValue("a".into()),
            &any_value::Value::StringValue("b".into())
        ])
    );
    assert_eq!(
        array_attr(root, "attr.bool_array"),
        Some(vec![
            &any_value::Value::BoolValue(true),
            &any_value::Value::BoolValue(false)
        ])
    );
    assert_eq!(
        array_attr(root, "attr.i64_array"),
        Some(vec![
            &any_value::Value::IntValue(1),
            &any_value::Value::IntValue(-2),
            &any_value::Value::IntValue(3)
        ])
    );
    assert_eq!(
        array_attr(root, "attr.f64_array"),
        Some(vec![
            &any_value::Value::DoubleValue(0.5),
            &any_value::Value::DoubleValue(1.5)
        ])
    );
    assert_eq!(root.span.dropped_attributes_count, 0);

    // Events.
    assert_eq!(child.span.events.len(), 1, "{:?}", child.span.events);
    let miss = child.event("cache.miss").expect("cache.miss event");
    assert_eq!(str_attr(miss, "cache.key"), Some("order:7"));
    assert_eq!(int_attr(miss, "cache.attempt"), Some(2));
    assert!(miss.time_unix_nano >= child.span.start_time_unix_nano);
    assert!(miss.time_unix_nano <= child.span.end_time_unix_nano);

    // Statuses.
    assert_eq!(root.status_code(), ProtoStatusCode::Ok);
    assert_eq!(root.status_message(), "");
    assert_eq!(child.status_code(), ProtoStatusCode::Error);
    assert_eq!(child.status_message(), "order store unavailable");
    assert_eq!(linked.status_code(), ProtoStatusCode::Unset);

    // record_error: an exception event and an error status.
    let exception = grandchild.event("exception").expect("exception event");
    assert_eq!(
        str_attr(exception, "exception.message"),
        Some("sku 1234 is out of stock")
    );
    let exception_type = str_attr(exception, "exception.type").expect("exception.type");
    assert!(
        exception_type.ends_with("InventoryError"),
        "exception.type = {exception_type:?}"
    );
    assert_eq!(grandchild.status_code(), ProtoStatusCode::Error);
    assert_eq!(grandchild.status_message(), "sku 1234 is out of stock");

    // Links.
    assert_eq!(grandchild.span.links.len(), 1);
    let link = &grandchild.span.links[0];
    assert_eq!(link.trace_id, sent.linked_trace);
    assert_eq!(link.span_id, sent.linked_span);
    assert_eq!(str_attr(link, "link.reason"), Some("retry of"));

    // Resource and scope, identical on every span.
    for span in &spans {
        check_resource_and_scope(span);
    }
}

fn check_resource_and_scope(span: &FlatSpan) {
    let resource = &span.resource;
    assert_eq!(str_attr(resource, "service.name"), Some("checkout"));
    assert_eq!(str_attr(resource, "service.version"), Some("9.8.7"));
    assert_eq!(
        str_attr(resource, "deployment.environment.name"),
        Some("test")
    );
    assert_eq!(str_attr(resource, "telemetry.sdk.name"), Some("tracewire"));
    assert_eq!(str_attr(resource, "telemetry.sdk.language"), Some("rust"));
    assert!(
        str_attr(resource, "host.name").is_some_and(|h| !h.is_empty()),
        "host.name missing: {resource:?}"
    );
    assert_eq!(
        int_attr(resource, "process.pid"),
        Some(i64::from(std::process::id()))
    );
    assert_eq!(span.scope.name, "tracewire");
    assert_eq!(span.scope.version, env!("CARGO_PKG_VERSION"));
}

#[test]
fn grpc_export_arrives_intact() {
    export_and_check(Transport::Grpc, false);
}

#[test]
fn grpc_gzip_export_arrives_intact() {
    export_and_check(Transport::Grpc, true);
}

#[test]
fn http_export_arrives_intact() {
    export_and_check(Transport::Http, false);
}

#[test]
fn http_gzip_export_arrives_intact() {
    export_and_check(Transport::Http, true);
}

/// `with_traces_endpoint` is used exactly as given (no `/v1/traces` appended twice).
#[test]
fn http_traces_endpoint_is_used_as_given() {
    let _serial = support::serial();
    let receiver = Receiver::http();
    let guard = support::config_for(&receiver)
        .with_endpoint("http://127.0.0.1:1") // overridden by the traces endpoint
        .with_traces_endpoint(receiver.traces_url())
        .init()
        .expect("init");
    tracewire::span("via traces endpoint").end();
    tracewire::force_flush().expect("force_flush");
    let spans = receiver.wait_for_spans(1, WAIT);
    drop(guard);
    assert_eq!(spans.len(), 1);
    assert_eq!(spans[0].name(), "via traces endpoint");
}

// ---------------------------------------------------------------------------------------------------
// Only the configured headers and compression go on the wire

/// Set in the child process: the receiver to export to.
const CHILD_ENDPOINT: &str = "TRACEWIRE_TEST_CHILD_ENDPOINT";
/// Set in the child process: `grpc` or `http`.
const CHILD_TRANSPORT: &str = "TRACEWIRE_TEST_CHILD_TRANSPORT";

/// Runs in a child process (see `process_environment_does_not_leak`): exports one span with a
/// `Config::default()`, which must not read the process environment.
#[test]
#[ignore = "run in a child process by the process_environment_does_not_leak tests"]
fn child_exports_with_config_default() {
    let Ok(endpoint) = std::env::var(CHILD_ENDPOINT) else {
        return;
    };
    let transport = match std::env::var(CHILD_TRANSPORT).as_deref() {
        Ok("http") => Transport::Http,
        _ => Transport::Grpc,
    };
    let guard = support::config_to(transport, endpoint)
        .init()
        .expect("init");
    tracewire::span("from the child").end();
    tracewire::force_flush().expect("force_flush");
    drop(guard);
}

/// `Config::default()` does not read the environment, so the `OTEL_EXPORTER_OTLP_*HEADERS` of the
/// process must not reach the wire (they would, since the OTLP exporter underneath reads them
/// itself, if tracewire did not remove them). Checked in a child process, so this process's
/// environment is never modified.
///
/// `OTEL_EXPORTER_OTLP_COMPRESSION` is not checked: opentelemetry-otlp 0.33 reads it whenever gzip
/// is not asked for, and its builder cannot say "none" (a documented limitation, see
/// `src/export/otlp.rs`).
fn process_environment_headers_do_not_leak(transport: Transport) {
    let _serial = support::serial();
    let receiver = Receiver::start(transport);
    let mut child = std::process::Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "--ignored",
            "--exact",
            "child_exports_with_config_default",
            "--test-threads=1",
        ])
        .env(CHILD_ENDPOINT, receiver.endpoint())
        .env(
            CHILD_TRANSPORT,
            match transport {
                Transport::Grpc => "grpc",
                Transport::Http => "http",
            },
        )
        .env("OTEL_EXPORTER_OTLP_HEADERS", "x-leaked=from-env")
        .env(
            "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
            "x-leaked-traces=from-env",
        )
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("spawn the child test");
    // Bounded wait for the child: 60 s in 100 ms steps, then kill it.
    let status = support::poll_until(Duration::from_secs(60), Duration::from_millis(100), || {
        child.try_wait().expect("child status")
    });
    let Some(status) = status else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("the child test did not finish within 60 s");
    };
    assert!(status.success(), "the child test failed: {status}");

    let requests = receiver.wait_for_requests(1, WAIT);
    assert!(!requests.is_empty(), "the child exported nothing");
    assert_eq!(
        requests.iter().map(|r| r.spans().len()).sum::<usize>(),
        1,
        "one span from the child"
    );
    for request in &requests {
        assert_eq!(
            request.header("x-leaked"),
            None,
            "OTEL_EXPORTER_OTLP_HEADERS leaked into Config::default()"
        );
        assert_eq!(
            request.header("x-leaked-traces"),
            None,
            "OTEL_EXPORTER_OTLP_TRACES_HEADERS leaked into Config::default()"
        );
    }
}

#[test]
fn grpc_process_environment_headers_do_not_leak() {
    process_environment_headers_do_not_leak(Transport::Grpc);
}

#[test]
fn http_process_environment_headers_do_not_leak() {
    process_environment_headers_do_not_leak(Transport::Http);
}

/// Spans that make more than one request's worth of bytes (3 MiB), fewer than a batch of them: the
/// export thread seals a request when it reaches that size, in the middle of what it takes from the
/// thread's buffer at once, and the rest go in the next requests. Every span arrives once, and no
/// request is above the 4 MiB that collectors (and tonic's receiver) accept by default.
fn large_spans_split_into_requests(transport: Transport) {
    let _serial = support::serial();
    let receiver = Receiver::start(transport);
    let guard = support::config_for(&receiver).init().expect("init");
    let payload = "x".repeat(64 * 1024);
    const SPANS: i64 = 100;
    for index in 0..SPANS {
        let span = tracewire::span("large");
        span.set_attribute("payload", payload.clone());
        span.set_attribute("index", index);
        span.end();
    }
    tracewire::force_flush().expect("force_flush");
    let spans = receiver.wait_for_spans(SPANS as usize, WAIT);
    let requests = receiver.requests();
    let stats = tracewire::stats();
    drop(guard);
    let mut indexes: Vec<i64> = spans
        .iter()
        .map(|span| int_attr(span, "index").expect("an index"))
        .collect();
    indexes.sort_unstable();
    assert_eq!(indexes, (0..SPANS).collect::<Vec<_>>(), "every span once");
    assert!(
        requests.len() >= 2,
        "6.4 MiB of spans in {} request(s)",
        requests.len()
    );
    for request in &requests {
        assert!(
            request.body.len() <= 4 << 20,
            "a request of {} bytes",
            request.body.len()
        );
    }
    assert_eq!(stats.dropped(), 0, "{stats:?}");
}

#[test]
fn grpc_large_spans_split_into_requests() {
    large_spans_split_into_requests(Transport::Grpc);
}

#[test]
fn http_large_spans_split_into_requests() {
    large_spans_split_into_requests(Transport::Http);
}
