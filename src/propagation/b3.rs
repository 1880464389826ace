//! B3 (Zipkin), single header (`b3`) and multiple headers (`x-b3-*`), as
//! <https://github.com/openzipkin/b3-propagation> describes them.
//!
//! Trace ids are 16 or 32 lowercase hex digits (a 16-digit id is the low half), span ids 16.
//! Sampling `1` or debug (`d`, `x-b3-flags: 1`) is sampled; `0` is not; a missing sampling state
//! (deferred) extracts as not sampled, as OpenTelemetry's B3 propagators do. A sampling-only header
//! (`b3: 0`) carries no ids and extracts nothing. B3 has no trace state.

use opentelemetry::trace::{SpanId, TraceFlags, TraceId};

use super::carrier::{Extractor, Injector};
use super::hex::{self, Case};
use super::w3c::trim_ows;
use crate::{SpanContext, TraceState};

pub(super) const SINGLE: &str = "b3";
pub(super) const TRACE_ID: &str = "x-b3-traceid";
pub(super) const SPAN_ID: &str = "x-b3-spanid";
pub(super) const SAMPLED: &str = "x-b3-sampled";
pub(super) const FLAGS: &str = "x-b3-flags";
pub(super) const PARENT_SPAN_ID: &str = "x-b3-parentspanid";

fn trace_id(s: &[u8]) -> Option<u128> {
    if s.len() != 16 && s.len() != 32 {
        return None;
    }
    hex::parse_u128(s, Case::Lower).filter(|id| *id != 0)
}

fn span_id(s: &[u8]) -> Option<u64> {
    if s.len() != 16 {
        return None;
    }
    hex::parse_u64(s, Case::Lower).filter(|id| *id != 0)
}

fn context(trace: u128, span: u64, sampled: bool) -> SpanContext {
    let flags = if sampled {
        TraceFlags::SAMPLED
    } else {
        TraceFlags::NOT_SAMPLED
    };
    SpanContext::new(
        TraceId::from(trace),
        SpanId::from(span),
        flags,
        true,
        TraceState::default(),
    )
}

/// The ids of `cx` as B3 writes them: 32 and 16 lowercase hex digits.
fn ids(cx: &SpanContext) -> ([u8; 32], [u8; 16]) {
    let (mut trace, mut span) = ([0u8; 32], [0u8; 16]);
    hex::write(&mut trace, u128::from_be_bytes(cx.trace_id().to_bytes()));
    hex::write(
        &mut span,
        u128::from(u64::from_be_bytes(cx.span_id().to_bytes())),
    );
    (trace, span)
}

fn ascii(bytes: &[u8]) -> &str {
    // Only called on hex digits written by `hex::write`.
    std::str::from_utf8(bytes).unwrap_or_default()
}

/// `{trace}-{span}[-{sampling}[-{parent}]]`
pub(super) fn extract_single(carrier: &impl Extractor) -> Option<SpanContext> {
    let value = trim_ows(carrier.get(SINGLE)?);
    let mut parts = value.split(|&b| b == b'-');
    let trace = trace_id(parts.next()?)?;
    let span = span_id(parts.next()?)?;
    let sampled = match parts.next() {
        None => false,
        Some(b"1" | b"d") => true,
        Some(b"0") => false,
        Some(_) => return None,
    };
    if let Some(parent) = parts.next() {
        span_id(parent)?;
    }
    if parts.next().is_some() {
        return None;
    }
    Some(context(trace, span, sampled))
}

pub(super) fn inject_single(cx: &SpanContext, carrier: &mut impl Injector) {
    if !cx.is_valid() {
        return;
    }
    let (trace, span) = ids(cx);
    let mut out = [b'-'; 51];
    out[..32].copy_from_slice(&trace);
    out[33..49].copy_from_slice(&span);
    out[50] = if cx.is_sampled() { b'1' } else { b'0' };
    carrier.set(SINGLE, ascii(&out).to_owned());
}

pub(super) fn extract_multi(carrier: &impl Extractor) -> Option<SpanContext> {
    let trace = trace_id(trim_ows(carrier.get(TRACE_ID)?))?;
    let span = span_id(trim_ows(carrier.get(SPAN_ID)?))?;
    let debug = carrier.get(FLAGS).map(trim_ows) == Some(b"1");
    let sampled = match carrier.get(SAMPLED).map(trim_ows) {
        None => false,
        Some(b"1" | b"true" | b"d") => true,
        Some(b"0" | b"false") => false,
        Some(_) => return None,
    };
    if let Some(parent) = carrier.get(PARENT_SPAN_ID) {
        span_id(trim_ows(parent))?;
    }
    Some(context(trace, span, sampled || debug))
}

pub(super) fn inject_multi(cx: &SpanContext, carrier: &mut impl Injector) {
    if !cx.is_valid() {
        return;
    }
    let (trace, span) = ids(cx);
    carrier.set(TRACE_ID, ascii(&trace).to_owned());
    carrier.set(SPAN_ID, ascii(&span).to_owned());
    let sampled = if cx.is_sampled() { "1" } else { "0" };
    carrier.set(SAMPLED, sampled.to_owned());
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn single(value: &str) -> Option<SpanContext> {
        extract_single(&HashMap::from([(SINGLE.to_owned(), value.to_owned())]))
    }

    #[test]
    fn single_header_grammar() {
        let t = "80f198ee56343ba864fe8b2a57d3eff7";
        let s = "e457b5a2e4d86bd1";
        let p = "05e3ac9a4f6e3b90";
        assert!(single(&format!("{t}-{s}-1-{p}")).unwrap().is_sampled());
        assert!(single(&format!("{t}-{s}-d")).unwrap().is_sampled());
        assert!(!single(&format!("{t}-{s}-0")).unwrap().is_sampled());
        assert!(!single(&format!("{t}-{s}")).unwrap().is_sampled());
        let short = single(&format!("64fe8b2a57d3eff7-{s}-1")).unwrap();
        assert_eq!(
            short.trace_id().to_string(),
            "000000000000000064fe8b2a57d3eff7"
        );
        for bad in [
            "0",
            "1",
            "d",
            "",
            &format!("{t}-{s}-2"),
            &format!("{t}-{s}-1-{p}-x"),
            &format!("{t}-{s}-1-xyz"),
            &format!("{}-{s}-1", t.to_uppercase()),
            &format!("{}-{s}-1", &t[1..]),
            &format!("{}-{s}-1", "0".repeat(32)),
            &format!("{t}-0000000000000000-1"),
        ] {
            assert!(single(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn multi_header_sampling_states() {
        let headers = |sampled: Option<&str>, flags: Option<&str>| {
            let mut map = HashMap::from([
                (
                    TRACE_ID.to_owned(),
                    "80f198ee56343ba864fe8b2a57d3eff7".to_owned(),
                ),
                (SPAN_ID.to_owned(), "e457b5a2e4d86bd1".to_owned()),
            ]);
            if let Some(s) = sampled {
                map.insert(SAMPLED.to_owned(), s.to_owned());
            }
            if let Some(f) = flags {
                map.insert(FLAGS.to_owned(), f.to_owned());
            }
            extract_multi(&map).map(|cx| cx.is_sampled())
        };
        assert_eq!(headers(Some("1"), None), Some(true));
        assert_eq!(headers(Some("true"), None), Some(true));
        assert_eq!(headers(Some("0"), None), Some(false));
        assert_eq!(headers(None, None), Some(false));
        assert_eq!(headers(None, Some("1")), Some(true));
        assert_eq!(headers(Some("yes"), None), None);
    }
}
