//! `OTEL_PROPAGATORS` chooses the formats that `inject`/`extract` use, `Config::with_propagators`
//! wins over it, an unknown name is an `InitError` naming the variable and value, and without
//! `init` the default (`tracecontext,baggage`) applies.

mod support;

use http::HeaderMap;
use tracewire::propagation::{Propagator, Propagators};
use tracewire::{
    Config, Context, ExporterKind, InitError, SpanContext, SpanId, TraceFlags, TraceId, TraceState,
};

fn sent() -> Context {
    Context::from(SpanContext::new(
        TraceId::from(0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736_u128),
        SpanId::from(0x00f0_67aa_0ba9_02b7_u64),
        TraceFlags::SAMPLED,
        true,
        TraceState::default(),
    ))
    .with_baggage(tracewire::Baggage::from_iter([tracewire::KeyValue::new(
        "k", "v",
    )]))
}

/// The header names `inject` writes right now, sorted.
fn injected() -> Vec<String> {
    let mut headers = HeaderMap::new();
    tracewire::propagation::inject_context(&sent(), &mut headers);
    let mut names: Vec<String> = headers.keys().map(|k| k.as_str().to_owned()).collect();
    names.sort();
    names
}

fn init_with(
    env: &[(&str, &str)],
    code: Option<Propagators>,
) -> Result<tracewire::Guard, InitError> {
    let env: std::collections::HashMap<String, String> = env
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let mut config =
        Config::from_lookup(|name| env.get(name).cloned())?.with_exporter_kind(ExporterKind::None);
    if let Some(code) = code {
        config = config.with_propagators(code);
    }
    config.init()
}

/// Environment, code setting, header names `inject` must write.
type Case = (
    &'static [(&'static str, &'static str)],
    Option<Propagators>,
    &'static [&'static str],
);

#[test]
fn the_environment_chooses_and_code_wins() {
    let _serial = support::serial();
    let cases: [Case; 6] = [
        (&[], None, &["baggage", "traceparent"]),
        (
            &[("OTEL_PROPAGATORS", "b3multi")],
            None,
            &["x-b3-sampled", "x-b3-spanid", "x-b3-traceid"],
        ),
        (
            &[("OTEL_PROPAGATORS", "jaeger,b3, baggage")],
            None,
            &["b3", "baggage", "uber-trace-id"],
        ),
        (&[("OTEL_PROPAGATORS", "none")], None, &[]),
        (
            &[("OTEL_PROPAGATORS", "none")],
            Some(Propagators::new([Propagator::B3])),
            &["b3"],
        ),
        (&[("OTEL_PROPAGATORS", "b3")], Some(Propagators::NONE), &[]),
    ];
    for (env, code, expected) in cases {
        let guard = init_with(env, code).expect("init");
        assert_eq!(injected(), expected, "env {env:?}, code {code:?}");
        // Extraction uses the same list.
        let mut headers = HeaderMap::new();
        Propagators::new(Propagator::ALL).inject_context(&sent(), &mut headers);
        let got = tracewire::propagation::extract(&headers);
        let traces = Propagators::global()
            .iter()
            .any(|p| p != Propagator::Baggage);
        assert_eq!(
            got.span_context().is_valid(),
            traces,
            "env {env:?}, code {code:?}"
        );
        drop(guard);
    }
}

#[test]
fn unknown_names_are_init_errors_naming_the_variable() {
    for value in ["w3c", "tracecontext,xray", "none,b3", "b3,,zipkin"] {
        let err = init_with(&[("OTEL_PROPAGATORS", value)], None).err();
        match err {
            Some(InitError::InvalidEnv {
                name,
                value: got,
                expected,
            }) => {
                assert_eq!((name, got.as_str()), ("OTEL_PROPAGATORS", value));
                assert!(expected.contains("tracecontext, baggage, b3"), "{expected}");
            }
            other => panic!("{value}: expected InvalidEnv, got {other:?}"),
        }
    }
}

#[test]
fn the_process_environment_is_read_by_init() {
    let _serial = support::serial();
    // SAFETY: tests touching the environment hold the serial lock and this binary's other tests do
    // not read the process environment.
    unsafe { std::env::set_var("OTEL_PROPAGATORS", "jaeger") };
    unsafe { std::env::set_var("OTEL_TRACES_EXPORTER", "none") };
    let guard = tracewire::init();
    unsafe { std::env::remove_var("OTEL_PROPAGATORS") };
    unsafe { std::env::remove_var("OTEL_TRACES_EXPORTER") };
    let _guard = guard.expect("init");
    assert_eq!(injected(), ["uber-trace-id"]);
}
