//! Without `init`, `inject` and `extract` use W3C Trace Context and W3C Baggage, so tools and tests
//! that never start tracing still carry context. (Its own binary: no `init` may ever run in it.)

use http::HeaderMap;
use tracewire::propagation::Propagators;

#[test]
fn w3c_trace_context_and_baggage_without_init() {
    assert_eq!(Propagators::global(), Propagators::default());
    let mut incoming = HeaderMap::new();
    incoming.insert(
        "traceparent",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
            .parse()
            .unwrap(),
    );
    incoming.insert("tracestate", "congo=t61rcWkgMzE".parse().unwrap());
    incoming.insert("baggage", "tenant=acme".parse().unwrap());
    let cx = tracewire::propagation::extract(&incoming);
    assert!(cx.span_context().is_remote());
    let mut outgoing = HeaderMap::new();
    tracewire::propagation::inject_context(&cx, &mut outgoing);
    assert_eq!(outgoing, incoming);
}
