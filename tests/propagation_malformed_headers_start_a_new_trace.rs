//! Malformed trace context headers are ignored: the server span starts a new trace, exactly as if
//! the headers were absent, and nothing panics. Valid ones (including the tolerated variants:
//! header-name casing, optional whitespace, future versions) are continued with their trace state.
//!
//! The table follows the cases of the W3C Trace Context test suite (`w3c/trace-context`,
//! `test/test.py`, strict level 2) and the examples of the specification, one row per request the
//! harness sends.

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
    /// Continue trace `TRACE` as a child of `PARENT`, with this trace state header ("" for none).
    Continue(&'static str),
    /// Start a new trace.
    NewTrace,
}
use Expect::{Continue, NewTrace};

/// A `'static` copy, for the rows whose expected trace state is built at run time.
fn leak(s: &str) -> &'static str {
    Box::leak(s.to_owned().into_boxed_str())
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

/// (test-suite case, headers, expectation).
fn table() -> Vec<(&'static str, Headers, Expect)> {
    let tp = |v: &str| ("traceparent", v.to_owned());
    let ts = |v: &str| ("tracestate", v.to_owned());
    let with_state = |state: &str| vec![tp(TP00), ts(state)];
    let all_key = "abcdefghijklmnopqrstuvwxyz0123456789_-*/";
    let all_value: String = (0x20u8..=0x7e)
        .filter(|b| *b != b',' && *b != b'=')
        .map(char::from)
        .collect();
    let v = |s: &str| s.to_owned();
    let all = format!("{all_key}={all_value}");
    let all_tenant = format!("{all_key}@a-z0-9_-*/={all_value}");
    vec![
        // traceparent
        ("both missing", vec![], NewTrace),
        ("traceparent only", vec![tp(TP)], Continue("")),
        (
            "spec example, sampled",
            vec![tp(
                "00-12345678901234567890123456789012-1234567890123456-01",
            )],
            Continue(""),
        ),
        (
            "duplicated",
            vec![tp(&format!("00-{}1-{PARENT}-01", &TRACE[..31])), tp(TP)],
            NewTrace,
        ),
        (
            "header name trace-parent",
            vec![("trace-parent", v(TP))],
            NewTrace,
        ),
        (
            "header name trace.parent",
            vec![("trace.parent", v(TP))],
            NewTrace,
        ),
        (
            "header name TraceParent",
            vec![("TraceParent", v(TP))],
            Continue(""),
        ),
        (
            "header name TRACEPARENT",
            vec![("TRACEPARENT", v(TP))],
            Continue(""),
        ),
        (
            "version 00 trailing dot",
            vec![tp(&format!("{TP}."))],
            NewTrace,
        ),
        (
            "version 00 trailing fields",
            vec![tp(&format!("{TP}-what-the-future-will-be-like"))],
            NewTrace,
        ),
        (
            "version cc",
            vec![tp(&format!("cc-{TRACE}-{PARENT}-01"))],
            Continue(""),
        ),
        (
            "version cc with fields",
            vec![tp(&format!(
                "cc-{TRACE}-{PARENT}-01-what-the-future-will-be-like"
            ))],
            Continue(""),
        ),
        (
            "version cc dot after flags",
            vec![tp(&format!(
                "cc-{TRACE}-{PARENT}-01.what-the-future-will-be-like"
            ))],
            NewTrace,
        ),
        (
            "version ff",
            vec![tp(&format!("ff-{TRACE}-{PARENT}-01"))],
            NewTrace,
        ),
        (
            "version .0",
            vec![tp(&format!(".0-{TRACE}-{PARENT}-01"))],
            NewTrace,
        ),
        (
            "version 0.",
            vec![tp(&format!("0.-{TRACE}-{PARENT}-01"))],
            NewTrace,
        ),
        (
            "version 000",
            vec![tp(&format!("000-{TRACE}-{PARENT}-01"))],
            NewTrace,
        ),
        (
            "version 0000",
            vec![tp(&format!("0000-{TRACE}-{PARENT}-01"))],
            NewTrace,
        ),
        (
            "version 0",
            vec![tp(&format!("0-{TRACE}-{PARENT}-01"))],
            NewTrace,
        ),
        (
            "version uppercase",
            vec![tp(&format!("0A-{TRACE}-{PARENT}-01"))],
            NewTrace,
        ),
        (
            "trace id all zero",
            vec![tp(&format!("00-{}-{PARENT}-01", long('0', 32)))],
            NewTrace,
        ),
        (
            "trace id leading dot",
            vec![tp(&format!("00-.{}-{PARENT}-01", &TRACE[1..]))],
            NewTrace,
        ),
        (
            "trace id trailing dot",
            vec![tp(&format!("00-{}.-{PARENT}-01", &TRACE[..31]))],
            NewTrace,
        ),
        (
            "trace id uppercase",
            vec![tp(
                "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            )],
            NewTrace,
        ),
        (
            "trace id too long",
            vec![tp(&format!("00-{TRACE}3-{PARENT}-01"))],
            NewTrace,
        ),
        (
            "trace id too short",
            vec![tp(&format!("00-{}-{PARENT}-01", &TRACE[..31]))],
            NewTrace,
        ),
        (
            "parent id all zero",
            vec![tp(&format!("00-{TRACE}-{}-01", long('0', 16)))],
            NewTrace,
        ),
        (
            "parent id leading dot",
            vec![tp(&format!("00-{TRACE}-.{}-01", &PARENT[1..]))],
            NewTrace,
        ),
        (
            "parent id trailing dot",
            vec![tp(&format!("00-{TRACE}-{}.-01", &PARENT[..15]))],
            NewTrace,
        ),
        (
            "parent id uppercase",
            vec![tp(&format!("00-{TRACE}-00F067AA0BA902B7-01"))],
            NewTrace,
        ),
        (
            "parent id too long",
            vec![tp(&format!("00-{TRACE}-{PARENT}7-01"))],
            NewTrace,
        ),
        (
            "parent id too short",
            vec![tp(&format!("00-{TRACE}-{}-01", &PARENT[..15]))],
            NewTrace,
        ),
        (
            "flags .0",
            vec![tp(&format!("00-{TRACE}-{PARENT}-.0"))],
            NewTrace,
        ),
        (
            "flags 0.",
            vec![tp(&format!("00-{TRACE}-{PARENT}-0."))],
            NewTrace,
        ),
        (
            "flags too long",
            vec![tp(&format!("00-{TRACE}-{PARENT}-001"))],
            NewTrace,
        ),
        (
            "flags too short",
            vec![tp(&format!("00-{TRACE}-{PARENT}-1"))],
            NewTrace,
        ),
        (
            "flags uppercase",
            vec![tp(&format!("00-{TRACE}-{PARENT}-0F"))],
            NewTrace,
        ),
        (
            "wrong separator",
            vec![tp(&format!("00_{TRACE}_{PARENT}_01"))],
            NewTrace,
        ),
        ("empty", vec![tp("")], NewTrace),
        (
            "OWS leading space",
            vec![tp(&format!(" {TP}"))],
            Continue(""),
        ),
        (
            "OWS leading tab",
            vec![tp(&format!("\t{TP}"))],
            Continue(""),
        ),
        (
            "OWS trailing space",
            vec![tp(&format!("{TP} "))],
            Continue(""),
        ),
        (
            "OWS trailing tab",
            vec![tp(&format!("{TP}\t"))],
            Continue(""),
        ),
        ("OWS both", vec![tp(&format!("\t {TP} \t"))], Continue("")),
        (
            "obs-text",
            vec![("traceparent", format!("{TP}\u{e9}"))],
            NewTrace,
        ),
        // tracestate
        (
            "tracestate without traceparent",
            vec![ts("foo=1,bar=2")],
            NewTrace,
        ),
        (
            "tracestate inherited",
            with_state("foo=1,bar=2"),
            Continue("foo=1,bar=2"),
        ),
        (
            "header name trace-state",
            vec![tp(TP00), ("trace-state", v("foo=1"))],
            Continue(""),
        ),
        (
            "header name TrAcEsTaTe",
            vec![tp(TP00), ("TrAcEsTaTe", v("foo=1"))],
            Continue("foo=1"),
        ),
        ("empty tracestate", with_state(""), Continue("")),
        (
            "empty then member",
            vec![tp(TP00), ts(""), ts("foo=1")],
            Continue("foo=1"),
        ),
        (
            "member then empty",
            vec![tp(TP00), ts("foo=1"), ts("")],
            Continue("foo=1"),
        ),
        (
            "multiple headers, different keys",
            vec![
                tp(TP00),
                ts("foo=1,bar=2"),
                ts("rojo=1,congo=2"),
                ts("baz=3"),
            ],
            Continue("foo=1,bar=2,rojo=1,congo=2,baz=3"),
        ),
        (
            "duplicated key in one header",
            with_state("foo=1,foo=1"),
            Continue(""),
        ),
        (
            "duplicated key, different values",
            with_state("foo=1,foo=2"),
            Continue(""),
        ),
        (
            "duplicated key across headers",
            vec![tp(TP00), ts("foo=1"), ts("foo=1")],
            Continue(""),
        ),
        (
            "all allowed characters",
            with_state(&all),
            Continue(leak(&all)),
        ),
        (
            "all allowed characters, multi-tenant",
            with_state(&all_tenant),
            Continue(leak(&all_tenant)),
        ),
        (
            "OWS around members",
            with_state("foo=1 \t , \t bar=2, \t baz=3"),
            Continue("foo=1,bar=2,baz=3"),
        ),
        (
            "OWS tabs and spaces",
            with_state("foo=1\t \t,\t \tbar=2,\t \tbaz=3"),
            Continue("foo=1,bar=2,baz=3"),
        ),
        ("OWS leading", with_state(" foo=1"), Continue("foo=1")),
        ("OWS trailing tab", with_state("foo=1\t"), Continue("foo=1")),
        (
            "empty members",
            with_state(",, foo=1 ,\t,"),
            Continue("foo=1"),
        ),
        ("key with space", with_state("foo =1"), Continue("")),
        ("key uppercase", with_state("FOO=1"), Continue("")),
        ("key with dot", with_state("foo.bar=1"), Continue("")),
        ("vendor empty", with_state("foo@=1,bar=2"), Continue("")),
        ("tenant empty", with_state("@foo=1,bar=2"), Continue("")),
        ("two at signs", with_state("foo@@bar=1,bar=2"), Continue("")),
        (
            "two vendors",
            with_state("foo@bar@baz=1,bar=2"),
            Continue(""),
        ),
        (
            "32 members",
            vec![
                tp(TP00),
                ts(&members(1..=10)),
                ts(&members(11..=20)),
                ts(&members(21..=30)),
                ts(&members(31..=32)),
            ],
            Continue("*32"),
        ),
        (
            "33 members",
            vec![
                tp(TP00),
                ts(&members(1..=10)),
                ts(&members(11..=20)),
                ts(&members(21..=30)),
                ts(&members(31..=33)),
            ],
            Continue(""),
        ),
        (
            "key of 256",
            vec![tp(TP00), ts("foo=1"), ts(&format!("{}=1", long('z', 256)))],
            Continue("*2"),
        ),
        (
            "key of 257",
            vec![tp(TP00), ts("foo=1"), ts(&format!("{}=1", long('z', 257)))],
            Continue(""),
        ),
        (
            "tenant 241, vendor 14",
            vec![
                tp(TP00),
                ts("foo=1"),
                ts(&format!("{}@{}=1", long('t', 241), long('v', 14))),
            ],
            Continue("*2"),
        ),
        (
            "tenant 242",
            vec![
                tp(TP00),
                ts("foo=1"),
                ts(&format!("{}@v=1", long('t', 242))),
            ],
            Continue(""),
        ),
        (
            "vendor 15",
            vec![tp(TP00), ts("foo=1"), ts(&format!("t@{}=1", long('v', 15)))],
            Continue(""),
        ),
        ("value with =", with_state("foo=bar=baz"), Continue("")),
        ("empty value", with_state("foo=,bar=3"), Continue("")),
        (
            "value of 257",
            with_state(&format!("foo={}", long('v', 257))),
            Continue(""),
        ),
        ("member without =", with_state("foo"), Continue("")),
        (
            "spec example",
            with_state("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"),
            Continue("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"),
        ),
        (
            "multi-tenant key",
            with_state("fw529a3039@dt=ffffffff"),
            Continue("fw529a3039@dt=ffffffff"),
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

#[test]
fn the_w3c_test_suite_table() {
    let _serial = support::serial();
    let _guard = Config::default()
        .with_exporter_kind(ExporterKind::None)
        .init()
        .expect("init");
    let mut failures = Vec::new();
    for (case, row, expect) in table() {
        let Some(map) = headers(&row) else {
            panic!("{case}: the row is not valid HTTP");
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
                "{case}: expected {expect:?}, server span {} with tracestate {state:?} (headers {row:?})",
                cx.trace_id()
            ));
        }
        // What the server sends on: version 00, its own span id, the trace state it received.
        let mut outgoing = HeaderMap::new();
        tracewire::propagation::inject_context(
            &tracewire::Context::from(cx.clone()),
            &mut outgoing,
        );
        let traceparent = outgoing["traceparent"].to_str().unwrap_or_default();
        assert!(
            traceparent.starts_with("00-") && traceparent.len() == 55,
            "{case}: {traceparent}"
        );
    }
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
