//! Malformed trace context headers are ignored: the server span starts a new trace, exactly as if
//! the headers were absent, and nothing panics. Valid ones (including the tolerated variants:
//! header-name casing, optional whitespace, future versions, duplicate `tracestate` keys) are
//! continued with their trace state.
//!
//! [`harness_table`] has one row per request that the W3C Trace Context test harness sends
//! (`w3c/trace-context` at commit acab820, "Fix tracestate key grammar tests", `test/test.py` at
//! `STRICT_LEVEL=2`), in the harness's order and named after its test: 80 single requests and the 3
//! requests of `AdvancedTest` that ask for three callbacks each, 83 rows. Each row checks what the
//! harness asserts, made exact (the harness accepts either of two behaviours for duplicate keys;
//! the row says which one tracewire has). [`spec_examples`] adds cases of the specification's text
//! that the harness does not send. `scripts/w3c-harness.sh` runs the harness itself against
//! `examples/w3c_test_service`.

mod support;

use http::{HeaderMap, HeaderName, HeaderValue};
use tracewire::propagation::{Propagator, Propagators};
use tracewire::{Config, ExporterKind};

const TRACE: &str = "12345678901234567890123456789012";
const PARENT: &str = "1234567890123456";
const TP: &str = "00-12345678901234567890123456789012-1234567890123456-01";
const TP00: &str = "00-12345678901234567890123456789012-1234567890123456-00";

/// What the server span must do with a row's headers.
#[derive(Debug)]
enum Expect {
    /// Continue trace `TRACE` as a child of `PARENT`, with this trace state header ("" for none;
    /// `*N` for N members).
    Continue(&'static str),
    /// Start a new trace.
    NewTrace,
}
use Expect::{Continue, NewTrace};

/// A `'static` copy, for the rows whose expected trace state is built at run time.
fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

fn long(c: char, n: usize) -> String {
    std::iter::repeat_n(c, n).collect()
}

fn members(range: std::ops::RangeInclusive<u32>) -> String {
    range
        .map(|i| format!("bar{i:02}={i:02}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// Header lines in order: (name, value).
type Headers = Vec<(&'static str, String)>;

/// One request: the harness test that sends it, its headers, what must happen, and how many
/// callbacks (outgoing requests, each with its own client span) the service makes.
struct Row {
    test: &'static str,
    headers: Headers,
    expect: Expect,
    callbacks: usize,
}

fn row(test: &'static str, headers: Headers, expect: Expect) -> Row {
    Row {
        test,
        headers,
        expect,
        callbacks: 1,
    }
}

fn tp(value: &str) -> (&'static str, String) {
    ("traceparent", value.to_owned())
}

fn ts(value: &str) -> (&'static str, String) {
    ("tracestate", value.to_owned())
}

/// The harness's `traceparent` with trace flags `00`, then these `tracestate` lines.
fn with_states(states: &[&str]) -> Headers {
    std::iter::once(tp(TP00))
        .chain(states.iter().map(|s| ts(s)))
        .collect()
}

/// The rows of `test/test.py`, in its order.
fn harness_table() -> Vec<Row> {
    let name = |name: &'static str, value: &str| vec![(name, value.to_owned())];
    let tp_only = |value: &str| vec![tp(value)];
    let t = |rest: &str| tp_only(&format!("00-{TRACE}-{PARENT}-{rest}"));
    let key_plain = "abcdefghijklmnopqrstuvwxyz0123456789_-*/";
    let key_vendor = format!("{key_plain}@a-z0-9_-*/");
    let value: String = (0x20u8..=0x7e)
        .filter(|b| *b != b',' && *b != b'=')
        .map(char::from)
        .collect();
    let all_plain = format!("{key_plain}={value}");
    let all_vendor = format!("{key_vendor}={value}");
    let key_256 = long('z', 256);
    let key_241_14 = format!("{}@{}", long('t', 241), long('v', 14));
    let key_242_1 = format!("{}@v", long('t', 242));
    let key_1_15 = format!("t@{}", long('v', 15));
    let foo_and = |key: &str| leak(format!("foo=1,{key}=1"));
    let count_limit = |last: std::ops::RangeInclusive<u32>| {
        let groups = [
            members(1..=10),
            members(11..=20),
            members(21..=30),
            members(last),
        ];
        with_states(&groups.iter().map(String::as_str).collect::<Vec<_>>())
    };
    let tracestate_only = |value: &str| vec![ts(value)];
    vec![
        // TraceContextTest
        row(
            "test_both_traceparent_and_tracestate_missing",
            vec![],
            NewTrace,
        ),
        row(
            "test_traceparent_included_tracestate_missing",
            tp_only(TP),
            Continue(""),
        ),
        row(
            "test_traceparent_duplicated",
            vec![tp(&format!("00-{}1-{PARENT}-01", &TRACE[..31])), tp(TP)],
            NewTrace,
        ),
        row(
            "test_traceparent_header_name",
            name("trace-parent", TP),
            NewTrace,
        ),
        row(
            "test_traceparent_header_name",
            name("trace.parent", TP),
            NewTrace,
        ),
        row(
            "test_traceparent_header_name_valid_casing",
            name("TraceParent", TP),
            Continue(""),
        ),
        row(
            "test_traceparent_header_name_valid_casing",
            name("TrAcEpArEnT", TP),
            Continue(""),
        ),
        row(
            "test_traceparent_header_name_valid_casing",
            name("TRACEPARENT", TP),
            Continue(""),
        ),
        row(
            "test_traceparent_version_0x00",
            tp_only(&format!("{TP}.")),
            NewTrace,
        ),
        row(
            "test_traceparent_version_0x00",
            tp_only(&format!("{TP}-what-the-future-will-be-like")),
            NewTrace,
        ),
        row(
            "test_traceparent_version_0xcc",
            tp_only(&format!("cc-{TRACE}-{PARENT}-01")),
            Continue(""),
        ),
        row(
            "test_traceparent_version_0xcc",
            tp_only(&format!(
                "cc-{TRACE}-{PARENT}-01-what-the-future-will-be-like"
            )),
            Continue(""),
        ),
        row(
            "test_traceparent_version_0xcc",
            tp_only(&format!(
                "cc-{TRACE}-{PARENT}-01.what-the-future-will-be-like"
            )),
            NewTrace,
        ),
        row(
            "test_traceparent_version_0xff",
            tp_only(&format!("ff-{TRACE}-{PARENT}-01")),
            NewTrace,
        ),
        row(
            "test_traceparent_version_illegal_characters",
            tp_only(&format!(".0-{TRACE}-{PARENT}-01")),
            NewTrace,
        ),
        row(
            "test_traceparent_version_illegal_characters",
            tp_only(&format!("0.-{TRACE}-{PARENT}-01")),
            NewTrace,
        ),
        row(
            "test_traceparent_version_too_long",
            tp_only(&format!("000-{TRACE}-{PARENT}-01")),
            NewTrace,
        ),
        row(
            "test_traceparent_version_too_long",
            tp_only(&format!("0000-{TRACE}-{PARENT}-01")),
            NewTrace,
        ),
        row(
            "test_traceparent_version_too_short",
            tp_only(&format!("0-{TRACE}-{PARENT}-01")),
            NewTrace,
        ),
        row(
            "test_traceparent_trace_id_all_zero",
            tp_only(&format!("00-{}-{PARENT}-01", long('0', 32))),
            NewTrace,
        ),
        row(
            "test_traceparent_trace_id_illegal_characters",
            tp_only(&format!("00-.{}-{PARENT}-01", &TRACE[1..])),
            NewTrace,
        ),
        row(
            "test_traceparent_trace_id_illegal_characters",
            tp_only(&format!("00-{}.-{PARENT}-01", &TRACE[..31])),
            NewTrace,
        ),
        row(
            "test_traceparent_trace_id_too_long",
            tp_only(&format!("00-{TRACE}3-{PARENT}-01")),
            NewTrace,
        ),
        row(
            "test_traceparent_trace_id_too_short",
            tp_only(&format!("00-{}-{PARENT}-01", &TRACE[..31])),
            NewTrace,
        ),
        row(
            "test_traceparent_parent_id_all_zero",
            tp_only(&format!("00-{TRACE}-{}-01", long('0', 16))),
            NewTrace,
        ),
        row(
            "test_traceparent_parent_id_illegal_characters",
            tp_only(&format!("00-{TRACE}-.{}-01", &PARENT[1..])),
            NewTrace,
        ),
        row(
            "test_traceparent_parent_id_illegal_characters",
            tp_only(&format!("00-{TRACE}-{}.-01", &PARENT[..15])),
            NewTrace,
        ),
        row(
            "test_traceparent_parent_id_too_long",
            tp_only(&format!("00-{TRACE}-{PARENT}7-01")),
            NewTrace,
        ),
        row(
            "test_traceparent_parent_id_too_short",
            tp_only(&format!("00-{TRACE}-{}-01", &PARENT[..15])),
            NewTrace,
        ),
        row(
            "test_traceparent_trace_flags_illegal_characters",
            t(".0"),
            NewTrace,
        ),
        row(
            "test_traceparent_trace_flags_illegal_characters",
            t("0."),
            NewTrace,
        ),
        row("test_traceparent_trace_flags_too_long", t("001"), NewTrace),
        row("test_traceparent_trace_flags_too_short", t("1"), NewTrace),
        row(
            "test_traceparent_ows_handling",
            tp_only(&format!(" {TP}")),
            Continue(""),
        ),
        row(
            "test_traceparent_ows_handling",
            tp_only(&format!("\t{TP}")),
            Continue(""),
        ),
        row(
            "test_traceparent_ows_handling",
            tp_only(&format!("{TP} ")),
            Continue(""),
        ),
        row(
            "test_traceparent_ows_handling",
            tp_only(&format!("{TP}\t")),
            Continue(""),
        ),
        row(
            "test_traceparent_ows_handling",
            tp_only(&format!("\t {TP} \t")),
            Continue(""),
        ),
        row(
            "test_tracestate_included_traceparent_missing",
            tracestate_only("foo=1"),
            NewTrace,
        ),
        row(
            "test_tracestate_included_traceparent_missing",
            tracestate_only("foo=1,bar=2"),
            NewTrace,
        ),
        row(
            "test_tracestate_included_traceparent_included",
            with_states(&["foo=1,bar=2"]),
            Continue("foo=1,bar=2"),
        ),
        row(
            "test_tracestate_header_name",
            vec![tp(TP00), ("trace-state", "foo=1".to_owned())],
            Continue(""),
        ),
        row(
            "test_tracestate_header_name",
            vec![tp(TP00), ("trace.state", "foo=1".to_owned())],
            Continue(""),
        ),
        row(
            "test_tracestate_header_name_valid_casing",
            vec![tp(TP00), ("TraceState", "foo=1".to_owned())],
            Continue("foo=1"),
        ),
        row(
            "test_tracestate_header_name_valid_casing",
            vec![tp(TP00), ("TrAcEsTaTe", "foo=1".to_owned())],
            Continue("foo=1"),
        ),
        row(
            "test_tracestate_header_name_valid_casing",
            vec![tp(TP00), ("TRACESTATE", "foo=1".to_owned())],
            Continue("foo=1"),
        ),
        row(
            "test_tracestate_empty_header",
            with_states(&[""]),
            Continue(""),
        ),
        row(
            "test_tracestate_empty_header",
            with_states(&["foo=1", ""]),
            Continue("foo=1"),
        ),
        row(
            "test_tracestate_empty_header",
            with_states(&["", "foo=1"]),
            Continue("foo=1"),
        ),
        row(
            "test_tracestate_multiple_headers_different_keys",
            with_states(&["foo=1,bar=2", "rojo=1,congo=2", "baz=3"]),
            Continue("foo=1,bar=2,rojo=1,congo=2,baz=3"),
        ),
        // Duplicate keys keep the tracestate; tracewire sends on the first member with the key.
        row(
            "test_tracestate_duplicated_keys",
            with_states(&["foo=1,foo=1"]),
            Continue("foo=1"),
        ),
        row(
            "test_tracestate_duplicated_keys",
            with_states(&["foo=1,foo=2"]),
            Continue("foo=1"),
        ),
        row(
            "test_tracestate_duplicated_keys",
            with_states(&["foo=1", "foo=1"]),
            Continue("foo=1"),
        ),
        row(
            "test_tracestate_duplicated_keys",
            with_states(&["foo=1", "foo=2"]),
            Continue("foo=1"),
        ),
        row(
            "test_tracestate_all_allowed_characters",
            with_states(&[&all_plain]),
            Continue(leak(all_plain.clone())),
        ),
        row(
            "test_tracestate_all_allowed_characters",
            with_states(&[&all_vendor]),
            Continue(leak(all_vendor.clone())),
        ),
        row(
            "test_tracestate_ows_handling",
            with_states(&["foo=1 \t , \t bar=2, \t baz=3"]),
            Continue("foo=1,bar=2,baz=3"),
        ),
        row(
            "test_tracestate_ows_handling",
            with_states(&["foo=1\t \t,\t \tbar=2,\t \tbaz=3"]),
            Continue("foo=1,bar=2,baz=3"),
        ),
        row(
            "test_tracestate_ows_handling",
            with_states(&[" foo=1"]),
            Continue("foo=1"),
        ),
        row(
            "test_tracestate_ows_handling",
            with_states(&["\tfoo=1"]),
            Continue("foo=1"),
        ),
        row(
            "test_tracestate_ows_handling",
            with_states(&["foo=1 "]),
            Continue("foo=1"),
        ),
        row(
            "test_tracestate_ows_handling",
            with_states(&["foo=1\t"]),
            Continue("foo=1"),
        ),
        row(
            "test_tracestate_ows_handling",
            with_states(&["\t foo=1 \t"]),
            Continue("foo=1"),
        ),
        row(
            "test_tracestate_key_illegal_characters",
            with_states(&["foo =1"]),
            Continue(""),
        ),
        row(
            "test_tracestate_key_illegal_characters",
            with_states(&["FOO=1"]),
            Continue(""),
        ),
        row(
            "test_tracestate_key_illegal_characters",
            with_states(&["foo.bar=1"]),
            Continue(""),
        ),
        // The current key grammar: `@` is a key character, anywhere but first.
        row(
            "test_tracestate_key_illegal_vendor_format",
            with_states(&["foo@=1,bar=2"]),
            Continue("foo@=1,bar=2"),
        ),
        row(
            "test_tracestate_key_illegal_vendor_format",
            with_states(&["@foo=1,bar=2"]),
            Continue(""),
        ),
        row(
            "test_tracestate_key_illegal_vendor_format",
            with_states(&["foo@@bar=1,bar=2"]),
            Continue("foo@@bar=1,bar=2"),
        ),
        row(
            "test_tracestate_key_illegal_vendor_format",
            with_states(&["foo@bar@baz=1,bar=2"]),
            Continue("foo@bar@baz=1,bar=2"),
        ),
        row(
            "test_tracestate_member_count_limit",
            count_limit(31..=32),
            Continue("*32"),
        ),
        row(
            "test_tracestate_member_count_limit",
            count_limit(31..=33),
            Continue(""),
        ),
        row(
            "test_tracestate_key_length_limit",
            with_states(&["foo=1", &format!("{key_256}=1")]),
            Continue(foo_and(&key_256)),
        ),
        row(
            "test_tracestate_key_length_limit",
            with_states(&["foo=1", &format!("{}=1", long('z', 257))]),
            Continue(""),
        ),
        row(
            "test_tracestate_key_length_limit",
            with_states(&["foo=1", &format!("{key_241_14}=1")]),
            Continue(foo_and(&key_241_14)),
        ),
        row(
            "test_tracestate_key_length_limit",
            with_states(&["foo=1", &format!("{key_242_1}=1")]),
            Continue(foo_and(&key_242_1)),
        ),
        row(
            "test_tracestate_key_length_limit",
            with_states(&["foo=1", &format!("{key_1_15}=1")]),
            Continue(foo_and(&key_1_15)),
        ),
        row(
            "test_tracestate_value_illegal_characters",
            with_states(&["foo=bar=baz"]),
            Continue(""),
        ),
        row(
            "test_tracestate_value_illegal_characters",
            with_states(&["foo=,bar=3"]),
            Continue(""),
        ),
        // AdvancedTest: three callbacks each
        Row {
            callbacks: 3,
            ..row(
                "test_multiple_requests_with_valid_traceparent",
                tp_only(TP),
                Continue(""),
            )
        },
        Row {
            callbacks: 3,
            ..row(
                "test_multiple_requests_without_traceparent",
                vec![],
                NewTrace,
            )
        },
        Row {
            callbacks: 3,
            ..row(
                "test_multiple_requests_with_illegal_traceparent",
                tp_only(&format!("00-{}-{PARENT}-01", long('0', 32))),
                NewTrace,
            )
        },
        // TraceContext2Test
        row("test_propagates_random_flag", t("02"), Continue("")),
    ]
}

/// Cases from the specification's text that the harness does not send.
fn spec_examples() -> Vec<Row> {
    vec![
        row(
            "spec: obs-text after traceparent",
            vec![tp(&format!("{TP}\u{e9}"))],
            NewTrace,
        ),
        row(
            "spec: tracestate example",
            with_states(&["rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"]),
            Continue("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"),
        ),
        row(
            "spec: key with an at sign",
            with_states(&["fw529a3039@dt=ffffffff"]),
            Continue("fw529a3039@dt=ffffffff"),
        ),
        row(
            "spec: key starting with a digit",
            with_states(&["0abc=1"]),
            Continue("0abc=1"),
        ),
        row(
            "spec: duplicate later in the list",
            with_states(&["foo=1,bar=2,foo=3"]),
            Continue("foo=1,bar=2"),
        ),
        row(
            "spec: value of 256",
            with_states(&[&format!("foo={}", long('v', 256))]),
            Continue("*1"),
        ),
        row(
            "spec: value of 257",
            with_states(&[&format!("foo={}", long('v', 257))]),
            Continue(""),
        ),
        row("spec: empty value", with_states(&["foo="]), Continue("")),
        row(
            "spec: member without =",
            with_states(&["foo"]),
            Continue(""),
        ),
    ]
}

fn headers(row: &[(&'static str, String)]) -> Option<HeaderMap> {
    let mut map = HeaderMap::new();
    for (name, value) in row {
        let name = HeaderName::from_bytes(name.as_bytes()).ok()?;
        map.append(name, HeaderValue::from_bytes(value.as_bytes()).ok()?);
    }
    Some(map)
}

/// Sends each row through extraction, a server span, and `callbacks` client spans that inject
/// the headers they would send on; returns the rows that went wrong.
fn failures(rows: Vec<Row>) -> Vec<String> {
    let mut failures = Vec::new();
    for (i, row) in rows.into_iter().enumerate() {
        let Row {
            test,
            headers: lines,
            expect,
            callbacks,
        } = row;
        let case = format!("row {} ({test})", i + 1);
        let Some(map) = headers(&lines) else {
            failures.push(format!("{case}: the row is not valid HTTP"));
            continue;
        };
        let incoming = tracewire::propagation::extract(&map);
        let server = incoming.in_scope(|| tracewire::span("server"));
        let cx = server.context();
        let state = cx.trace_state().header();
        let ok = match expect {
            NewTrace => {
                !incoming.span_context().is_valid()
                    && cx.is_valid()
                    && cx.trace_id().to_string() != TRACE
                    && cx.trace_state().is_empty()
            }
            Continue(expected_state) => {
                let state_ok = match expected_state.strip_prefix('*') {
                    Some(count) => state.split(',').count().to_string() == count,
                    None => state == expected_state,
                };
                cx.trace_id().to_string() == TRACE
                    && incoming.span_context().span_id().to_string() == PARENT
                    && incoming.span_context().is_remote()
                    && cx.span_id().to_string() != PARENT
                    && state_ok
            }
        };
        if !ok {
            failures.push(format!(
                "{case}: expected {expect:?}, server span {} with tracestate {state:?} (headers {lines:?})",
                cx.trace_id()
            ));
        }
        // What the service sends on for each callback: version 00, the trace id, a span id of
        // its own each time, the sampled and random flags it received, the trace state.
        let _entered = server.enter();
        let mut sent = Vec::new();
        for _ in 0..callbacks {
            let client = tracewire::span("callback");
            let _entered = client.enter();
            let mut outgoing = HeaderMap::new();
            tracewire::propagation::inject(&mut outgoing);
            let traceparent = outgoing["traceparent"]
                .to_str()
                .unwrap_or_default()
                .to_owned();
            let tracestate = outgoing
                .get("tracestate")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            let flags = if incoming.span_context().is_valid() {
                incoming.span_context().trace_flags().to_u8() & 0x03
            } else {
                0x03 // tracewire's own roots: sampled (the default sampler) and random
            };
            let expected = format!(
                "00-{}-{}-{flags:02x}",
                cx.trace_id(),
                client.context().span_id()
            );
            if traceparent != expected || tracestate != state {
                failures.push(format!(
                    "{case}: sent traceparent {traceparent:?} and tracestate {tracestate:?}, expected {expected:?} and {state:?}"
                ));
            }
            sent.push(client.context().span_id());
        }
        sent.sort_unstable_by_key(|id| id.to_string());
        sent.dedup();
        if sent.len() != callbacks {
            failures.push(format!(
                "{case}: {callbacks} callbacks sent only {} span ids",
                sent.len()
            ));
        }
    }
    failures
}

#[test]
fn the_w3c_harness_table() {
    let _serial = support::serial();
    let _guard = Config::default()
        .with_exporter_kind(ExporterKind::None)
        .init()
        .expect("init");
    let rows = harness_table();
    assert_eq!(
        rows.len(),
        83,
        "one row per request of the harness's test.py"
    );
    let failures = failures(rows);
    assert!(
        failures.is_empty(),
        "{} rows failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn the_specification_examples() {
    let _serial = support::serial();
    let _guard = Config::default()
        .with_exporter_kind(ExporterKind::None)
        .init()
        .expect("init");
    let failures = failures(spec_examples());
    assert!(
        failures.is_empty(),
        "{} rows failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn unsampled_and_sampled_parents_are_followed_and_the_flag_is_sent_on() {
    let _serial = support::serial();
    let _guard = Config::default()
        .with_exporter_kind(ExporterKind::None)
        .init()
        .expect("init");
    for (flags, sent) in [
        ("00", "00"),
        ("01", "01"),
        ("02", "02"),
        ("03", "03"),
        ("ff", "03"),
    ] {
        let mut map = HeaderMap::new();
        map.insert(
            "traceparent",
            format!("00-{TRACE}-{PARENT}-{flags}").parse().unwrap(),
        );
        let server = tracewire::propagation::extract(&map).in_scope(|| tracewire::span("server"));
        let mut outgoing = HeaderMap::new();
        let _entered = server.enter();
        tracewire::propagation::inject(&mut outgoing);
        let traceparent = outgoing["traceparent"].to_str().unwrap();
        assert!(
            traceparent.starts_with(&format!("00-{TRACE}-")),
            "{traceparent}"
        );
        assert!(
            traceparent.ends_with(&format!("-{sent}")),
            "flags {flags}: sent {traceparent}"
        );
    }
}

#[test]
fn every_trace_format_ignores_garbage() {
    let garbage = [
        "",
        "-",
        ":::",
        "0",
        "1",
        "d",
        "zz",
        "\t",
        "00-00-00-00",
        "g:h:i:j",
        "1:1:0",
    ];
    for propagator in Propagator::ALL {
        let only = Propagators::new([propagator]);
        for field in propagator.fields() {
            for value in garbage {
                let mut map = HeaderMap::new();
                map.insert(*field, value.parse().unwrap());
                let cx = only.extract(&map);
                assert!(
                    !cx.span_context().is_valid(),
                    "{propagator:?} {field}: {value:?}"
                );
            }
        }
    }
}
