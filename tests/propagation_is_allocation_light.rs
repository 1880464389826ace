//! Propagation stays cheap on every request: extracting a `traceparent` (the common case, no
//! `tracestate`) allocates nothing, and injecting one into a reused `HeaderMap` allocates only the
//! header value itself (moved into the map without a copy). Malformed input allocates nothing.

mod counting_allocator;

use counting_allocator::allocations_in;
use http::HeaderMap;
use tracewire::propagation::{Propagator, Propagators};

const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

#[test]
fn extract_and_inject_allocation_counts() {
    let mut incoming = HeaderMap::new();
    incoming.insert("traceparent", TRACEPARENT.parse().unwrap());
    incoming.insert("user-agent", "test".parse().unwrap());

    let mut cx = None;
    let n = allocations_in(|| cx = Some(tracewire::propagation::extract(&incoming)));
    let cx = cx.expect("ran");
    assert!(cx.span_context().is_valid());
    assert_eq!(n, 0, "extracting a traceparent allocated");

    let mut malformed = HeaderMap::new();
    malformed.insert("traceparent", "00-zz-yy-01".parse().unwrap());
    malformed.insert("b3", "not-b3".parse().unwrap());
    malformed.insert("uber-trace-id", "a:b".parse().unwrap());
    let all = Propagators::new(Propagator::ALL);
    let mut cx = None;
    let n = allocations_in(|| cx = Some(all.extract(&malformed)));
    let cx = cx.expect("ran");
    assert!(!cx.span_context().is_valid());
    assert_eq!(n, 0, "ignoring malformed headers allocated");

    let mut outgoing = HeaderMap::with_capacity(8);
    tracewire::propagation::inject_context(&cx, &mut outgoing); // nothing to send
    let cx = tracewire::propagation::extract(&incoming);
    tracewire::propagation::inject_context(&cx, &mut outgoing); // warm the map
    for propagator in [Propagator::TraceContext, Propagator::B3, Propagator::Jaeger] {
        let only = Propagators::new([propagator]);
        outgoing.clear();
        let n = allocations_in(|| only.inject_context(&cx, &mut outgoing));
        assert_eq!(n, 1, "{propagator:?}: one allocation, the header value");
    }
}
