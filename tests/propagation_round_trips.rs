//! What one service injects, the next extracts unchanged: for every format, alone and combined,
//! sampled or not, through an `http::HeaderMap`, a `HashMap` (message headers) and OpenTelemetry's
//! `TextMapPropagator` interface; and tracewire agrees with opentelemetry_sdk's own W3C
//! propagators in both directions.

mod support;

use std::collections::HashMap;

use http::HeaderMap;
use opentelemetry::baggage::BaggageExt as _;
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::TraceContextExt as _;
use opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};
use tracewire::propagation::{Propagator, Propagators, RANDOM_TRACE_ID};
use tracewire::{
    Baggage, Config, Context, ExporterKind, KeyValue, SpanContext, SpanId, TraceFlags, TraceId,
    TraceState,
};

fn span_context(flags: u8, state: &str) -> SpanContext {
    SpanContext::new(
        TraceId::from(0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736_u128),
        SpanId::from(0x00f0_67aa_0ba9_02b7_u64),
        TraceFlags::new(flags),
        true,
        TraceState::from_header(state).expect("valid trace state"),
    )
}

fn baggage() -> Baggage {
    Baggage::from_iter([
        KeyValue::new("tenant", "acme corp"),
        KeyValue::new("odd", "a,b;c=d%é"),
    ])
}

/// What `propagator` carries of `sent`.
fn assert_carried(propagator: Propagator, sent: &Context, got: &Context) {
    let (s, g) = (sent.span_context(), got.span_context());
    if propagator == Propagator::Baggage {
        assert!(!g.is_valid(), "baggage carries no span context");
    } else {
        assert_eq!(g.trace_id(), s.trace_id(), "{propagator:?}");
        assert_eq!(g.span_id(), s.span_id(), "{propagator:?}");
        assert_eq!(g.is_sampled(), s.is_sampled(), "{propagator:?}");
        assert!(g.is_remote(), "{propagator:?}");
    }
    if propagator == Propagator::TraceContext {
        assert_eq!(g.trace_flags(), s.trace_flags(), "random flag kept");
        assert_eq!(g.trace_state(), s.trace_state());
    }
    if propagator == Propagator::Baggage {
        for (key, (value, _)) in sent.baggage() {
            assert_eq!(got.baggage().get(key.as_str()), Some(value), "{key}");
        }
        assert_eq!(got.baggage().len(), sent.baggage().len());
    } else {
        assert!(
            got.baggage().is_empty(),
            "{propagator:?} carries no baggage"
        );
    }
}

fn contexts() -> Vec<Context> {
    [
        (0x01, "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"),
        (0x00, ""),
        (0x03, "k@v=1"),
        (0x02, ""),
    ]
    .into_iter()
    .map(|(flags, state)| Context::from(span_context(flags, state)).with_baggage(baggage()))
    .collect()
}

#[test]
fn every_format_round_trips_through_header_maps_and_hash_maps() {
    for propagator in Propagator::ALL {
        for sent in contexts() {
            let only = Propagators::new([propagator]);
            let mut headers = HeaderMap::new();
            only.inject_context(&sent, &mut headers);
            assert!(!headers.is_empty(), "{propagator:?} wrote nothing");
            for name in headers.keys() {
                assert!(
                    propagator.fields().contains(&name.as_str()),
                    "{propagator:?} wrote {name}"
                );
            }
            assert_carried(propagator, &sent, &only.extract(&headers));

            let mut map: HashMap<String, String> = HashMap::new();
            only.inject_context(&sent, &mut map);
            assert_eq!(map.len(), headers.len());
            assert_carried(propagator, &sent, &only.extract(&map));
        }
    }
}

#[test]
fn all_formats_together_round_trip_and_later_formats_win() {
    let all = Propagators::new(Propagator::ALL);
    for sent in contexts() {
        let mut headers = HeaderMap::new();
        all.inject_context(&sent, &mut headers);
        let got = all.extract(&headers);
        assert_eq!(
            got.span_context().trace_id(),
            sent.span_context().trace_id()
        );
        assert_eq!(got.baggage().len(), 2);
    }
    // Two formats disagree: the later one in the list wins.
    let mut headers = HeaderMap::new();
    Propagator::TraceContext.inject_context(&Context::from(span_context(1, "")), &mut headers);
    headers.insert(
        "b3",
        "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-0"
            .parse()
            .unwrap(),
    );
    let w3c_then_b3 =
        Propagators::new([Propagator::TraceContext, Propagator::B3]).extract(&headers);
    assert_eq!(
        w3c_then_b3.span_context().trace_id().to_string(),
        "80f198ee56343ba864fe8b2a57d3eff7"
    );
    let b3_then_w3c =
        Propagators::new([Propagator::B3, Propagator::TraceContext]).extract(&headers);
    assert_eq!(
        b3_then_w3c.span_context().trace_id(),
        span_context(1, "").trace_id()
    );
}

#[test]
fn invalid_contexts_and_empty_baggage_write_nothing() {
    for propagator in Propagator::ALL {
        let mut headers = HeaderMap::new();
        Propagators::new([propagator]).inject_context(&Context::default(), &mut headers);
        assert!(headers.is_empty(), "{propagator:?}: {headers:?}");
    }
}

#[test]
fn tracewire_and_opentelemetry_sdk_understand_each_other() {
    let otel = TraceContextPropagator::new();
    let otel_baggage = BaggagePropagator::new();
    for sent in contexts() {
        // tracewire -> opentelemetry_sdk
        let mut map: HashMap<String, String> = HashMap::new();
        Propagators::default().inject_context(&sent, &mut map);
        let cx = otel.extract(&map);
        let got = cx.span().span_context().clone();
        assert_eq!(got.trace_id(), sent.span_context().trace_id());
        assert_eq!(got.span_id(), sent.span_context().span_id());
        assert_eq!(got.is_sampled(), sent.span_context().is_sampled());
        assert_eq!(
            got.trace_state().header(),
            sent.span_context().trace_state().header()
        );
        let cx = otel_baggage.extract(&map);
        assert_eq!(
            cx.baggage().get("odd").map(|v| v.as_str()),
            Some("a,b;c=d%é")
        );

        // opentelemetry_sdk -> tracewire
        let otel_cx = opentelemetry::Context::new()
            .with_remote_span_context(sent.span_context().to_otel())
            .with_baggage(baggage());
        let mut map: HashMap<String, String> = HashMap::new();
        otel.inject_context(&otel_cx, &mut map);
        otel_baggage.inject_context(&otel_cx, &mut map);
        let got = Propagators::default().extract(&map);
        assert_eq!(
            got.span_context().trace_id(),
            sent.span_context().trace_id()
        );
        assert_eq!(
            got.span_context().is_sampled(),
            sent.span_context().is_sampled()
        );
        assert_eq!(
            got.span_context().trace_state(),
            sent.span_context().trace_state()
        );
        assert_eq!(
            got.baggage().get("tenant").map(|v| v.as_str()),
            Some("acme corp")
        );
    }
}

#[test]
fn tracewire_works_as_an_opentelemetry_text_map_propagator() {
    let propagator = Propagators::new(Propagator::ALL).to_otel();
    for sent in contexts() {
        let otel_cx = opentelemetry::Context::new()
            .with_remote_span_context(sent.span_context().to_otel())
            .with_baggage(baggage());
        let mut map: HashMap<String, String> = HashMap::new();
        propagator.inject_context(&otel_cx, &mut map);
        let fields: Vec<&str> = propagator.fields().collect();
        assert!(map.keys().all(|k| fields.contains(&k.as_str())), "{map:?}");
        let back = propagator.extract(&map);
        assert_eq!(
            back.span().span_context().trace_id(),
            sent.span_context().trace_id()
        );
        assert_eq!(
            back.baggage().get("tenant").map(|v| v.as_str()),
            Some("acme corp")
        );
    }
}

#[test]
fn roots_set_the_random_flag_and_children_keep_what_they_received() {
    let _serial = support::serial();
    let _guard = Config::default()
        .with_exporter_kind(ExporterKind::None)
        .init()
        .expect("init");
    let root = tracewire::span("root");
    assert_eq!(
        root.context().trace_flags(),
        TraceFlags::SAMPLED | RANDOM_TRACE_ID
    );
    let child = {
        let _entered = root.enter();
        tracewire::span("child")
    };
    assert_eq!(child.context().trace_flags(), root.context().trace_flags());
    for flags in [0x00, 0x01, 0x02, 0x03] {
        let remote = Context::from(span_context(flags, ""));
        let child = remote.in_scope(|| tracewire::span("server"));
        assert_eq!(
            child.context().trace_flags().to_u8() & RANDOM_TRACE_ID.to_u8(),
            flags & RANDOM_TRACE_ID.to_u8(),
            "parent flags {flags:02x}"
        );
        // The default sampler follows the parent.
        assert_eq!(child.context().is_sampled(), flags & 1 == 1);
    }
    // On the wire: `03` for a sampled root.
    let mut headers = HeaderMap::new();
    {
        let _entered = root.enter();
        tracewire::propagation::inject(&mut headers);
    }
    assert!(headers["traceparent"].to_str().unwrap().ends_with("-03"));
}
