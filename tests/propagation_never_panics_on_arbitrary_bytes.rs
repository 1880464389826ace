//! Extraction never panics, whatever bytes arrive in whichever field, and whatever it accepts
//! survives a second trip: re-injecting an extracted context and extracting it again gives the same
//! context (so a malformed header can never turn into a different, "fixed" parent downstream).

use http::{HeaderMap, HeaderValue};
use proptest::prelude::*;
use tracewire::propagation::{Extractor, Propagator, Propagators, parse_traceparent};

/// Every field any format reads.
const FIELDS: [&str; 12] = [
    "traceparent",
    "tracestate",
    "baggage",
    "b3",
    "x-b3-traceid",
    "x-b3-spanid",
    "x-b3-sampled",
    "x-b3-flags",
    "x-b3-parentspanid",
    "uber-trace-id",
    "TRACEPARENT",
    "other",
];

/// Raw message headers: any bytes, repeated names allowed.
struct Raw(Vec<(String, Vec<u8>)>);

impl Extractor for Raw {
    fn get(&self, name: &str) -> Option<&[u8]> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
    }

    fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.0
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
    }
}

/// Bytes near the grammars: pieces of valid headers, separators and a few arbitrary bytes.
fn near_valid() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        Just(b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_vec()),
        Just(b"4bf92f3577b34da6a3ce929d0e0e4736".to_vec()),
        Just(b"00f067aa0ba902b7".to_vec()),
        Just(b"k=v".to_vec()),
        Just(b"a@b=c".to_vec()),
        Just(b"%3A".to_vec()),
        Just(b"%".to_vec()),
        prop::sample::select(vec![
            b'-', b':', b',', b'=', b';', b' ', b'\t', b'0', b'f', b'F', b'@', 0xff
        ])
        .prop_map(|b| vec![b]),
        prop::collection::vec(any::<u8>(), 0..4),
    ];
    prop::collection::vec(piece, 0..8).prop_map(|pieces| pieces.concat())
}

/// `traceparent`-shaped values: any version, ids of any digits (some zero, some uppercase), any
/// flags, sometimes a suffix, sometimes padded with whitespace.
fn traceparent_like() -> impl Strategy<Value = Vec<u8>> {
    let version = prop_oneof![Just(0u8), Just(0xcc), Just(0xff), any::<u8>()];
    let trace = prop_oneof![Just(0u128), any::<u128>()];
    let span = prop_oneof![Just(0u64), any::<u64>()];
    let suffix = prop_oneof![
        Just(String::new()),
        Just("-x".to_owned()),
        Just(".x".to_owned()),
        "[-a-z0-9.]{0,6}"
    ];
    let pad = prop_oneof![Just(""), Just(" "), Just("\t")];
    (
        version,
        trace,
        span,
        any::<u8>(),
        any::<bool>(),
        suffix,
        pad,
    )
        .prop_map(|(version, trace, span, flags, upper, suffix, pad)| {
            let mut v =
                format!("{pad}{version:02x}-{trace:032x}-{span:016x}-{flags:02x}{suffix}{pad}");
            if upper {
                v = v.to_uppercase();
            }
            v.into_bytes()
        })
}

fn value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..80),
        near_valid(),
        traceparent_like()
    ]
}

fn headers() -> impl Strategy<Value = Vec<(String, Vec<u8>)>> {
    prop::collection::vec(
        (
            prop::sample::select(FIELDS.to_vec()).prop_map(str::to_owned),
            value(),
        ),
        0..6,
    )
}

fn check(carrier: &impl Extractor) {
    let all = Propagators::new(Propagator::ALL);
    let _ = Propagators::default().extract(carrier);
    for propagator in Propagator::ALL {
        let only = Propagators::new([propagator]);
        let first = only.extract(carrier);
        let mut map = std::collections::HashMap::new();
        only.inject_context(&first, &mut map);
        let second = only.extract(&map);
        assert_eq!(
            first.span_context(),
            second.span_context(),
            "{propagator:?}"
        );
        assert_eq!(
            first.baggage().len(),
            second.baggage().len(),
            "{propagator:?}"
        );
        if first.span_context().is_valid() {
            assert!(first.span_context().is_remote());
            assert_eq!(first.span_context().trace_flags().to_u8() & !0x03, 0);
        }
    }
    let _ = all.extract(carrier);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_message_headers(raw in headers()) {
        check(&Raw(raw));
    }

    #[test]
    fn arbitrary_http_headers(raw in headers()) {
        let mut map = HeaderMap::new();
        for (name, value) in &raw {
            if let (Ok(name), Ok(value)) = (name.parse::<http::HeaderName>(), HeaderValue::from_bytes(value)) {
                map.append(name, value);
            }
        }
        check(&map);
    }

    #[test]
    fn arbitrary_traceparent(bytes in value()) {
        if let Some(cx) = parse_traceparent(&bytes) {
            prop_assert!(cx.is_valid() && cx.is_remote());
            prop_assert_eq!(cx.trace_flags().to_u8() & !0x03, 0, "reserved flags dropped");
            let again = tracewire::propagation::format_traceparent(&cx).expect("valid");
            prop_assert_eq!(parse_traceparent(&again), Some(cx));
        }
    }
}
