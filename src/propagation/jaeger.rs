//! Jaeger's `uber-trace-id` header: `{trace-id}:{span-id}:{parent-span-id}:{flags}`.
//!
//! Ids are 1 to 32 (trace) and 1 to 16 (span) hex digits of either case, left-padded with zeros;
//! the parent span id is deprecated and ignored once checked; flags are hex, bit 1 sampled and
//! bit 2 debug (also sampled). A URL-encoded value (`%3A` for `:`) is accepted. Jaeger baggage
//! (`uberctx-*` headers) is not read: use W3C baggage alongside.

use opentelemetry::trace::{SpanId, TraceFlags, TraceId};

use super::carrier::{Extractor, Injector};
use super::hex::{self, Case};
use super::w3c::trim_ows;
use crate::{SpanContext, TraceState};

pub(super) const UBER_TRACE_ID: &str = "uber-trace-id";

fn parse(value: &[u8]) -> Option<SpanContext> {
    let mut parts = value.split(|&b| b == b':');
    let (trace, span, parent, flags) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || flags.len() > 2 {
        return None;
    }
    let trace = hex::parse_u128(trace, Case::Any).filter(|id| *id != 0)?;
    let span = hex::parse_u64(span, Case::Any).filter(|id| *id != 0)?;
    hex::parse_u64(parent, Case::Any)?;
    let flags = hex::parse_u64(flags, Case::Any)?;
    let sampled = flags & 0x03 != 0;
    Some(SpanContext::new(
        TraceId::from(trace),
        SpanId::from(span),
        if sampled {
            TraceFlags::SAMPLED
        } else {
            TraceFlags::NOT_SAMPLED
        },
        true,
        TraceState::default(),
    ))
}

pub(super) fn extract(carrier: &impl Extractor) -> Option<SpanContext> {
    let value = trim_ows(carrier.get(UBER_TRACE_ID)?);
    if !value.contains(&b'%') {
        return parse(value);
    }
    // URL-encoded by some clients: only `%3A` (`:`) can occur in a valid value.
    let mut decoded = Vec::with_capacity(value.len());
    let mut rest = value;
    while let Some((&b, tail)) = rest.split_first() {
        match (b, tail) {
            (b'%', [b'3', b'a' | b'A', after @ ..]) => {
                decoded.push(b':');
                rest = after;
            }
            _ => {
                decoded.push(b);
                rest = tail;
            }
        }
    }
    parse(&decoded)
}

pub(super) fn inject(cx: &SpanContext, carrier: &mut impl Injector) {
    if !cx.is_valid() {
        return;
    }
    let mut out = *b"________________________________:________________:0:_";
    hex::write(
        &mut out[..32],
        u128::from_be_bytes(cx.trace_id().to_bytes()),
    );
    hex::write(
        &mut out[33..49],
        u128::from(u64::from_be_bytes(cx.span_id().to_bytes())),
    );
    out[52] = if cx.is_sampled() { b'1' } else { b'0' };
    if let Ok(value) = std::str::from_utf8(&out) {
        carrier.set(UBER_TRACE_ID, value.to_owned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grammar() {
        let cx = parse(b"4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7:0:1").unwrap();
        assert!(cx.is_sampled() && cx.is_remote());
        let short = parse(b"ABC:1:0:0").unwrap();
        assert_eq!(
            short.trace_id().to_string(),
            "00000000000000000000000000000abc"
        );
        assert!(!short.is_sampled());
        assert!(parse(b"abc:1:0:2").unwrap().is_sampled());
        for bad in [
            &b""[..],
            b"abc:1:0",
            b"abc:1:0:1:x",
            b"0:1:0:1",
            b"abc:0:0:1",
            b"abc:1::1",
            b"abc:1:0:",
            b"abc:1:0:100",
            b"xyz:1:0:1",
            b"abc:12345678901234567:0:1",
        ] {
            assert!(parse(bad).is_none(), "{}", String::from_utf8_lossy(bad));
        }
    }
}
