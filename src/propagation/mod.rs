//! Carrying the trace context across process boundaries in HTTP headers.
//!
//! PLACEHOLDER (replaced by the propagators of issue 4 before it lands): only `traceparent`
//! version 00 is handled here, so that the HTTP layers can be built against the final signatures.

use http::{HeaderMap, HeaderValue};
use opentelemetry::trace::{SpanId, TraceFlags, TraceId};

use crate::{Context, SpanContext, TraceState};

/// Writes the current context into `headers`.
///
/// # Examples
///
/// ```
/// let mut headers = http::HeaderMap::new();
/// tracewire::propagation::inject(&mut headers);
/// ```
pub fn inject(headers: &mut HeaderMap) {
    inject_context(&Context::current(), headers);
}

/// Writes `cx` into `headers`.
///
/// # Examples
///
/// ```
/// let mut headers = http::HeaderMap::new();
/// tracewire::propagation::inject_context(&tracewire::Context::default(), &mut headers);
/// assert!(headers.is_empty());
/// ```
pub fn inject_context(cx: &Context, headers: &mut HeaderMap) {
    let span = cx.span_context();
    if !span.is_valid() {
        return;
    }
    let value = format!(
        "00-{}-{}-{:02x}",
        span.trace_id(),
        span.span_id(),
        span.trace_flags().to_u8()
    );
    if let Ok(value) = HeaderValue::from_str(&value) {
        headers.insert("traceparent", value);
    }
}

/// Reads a context from `headers`; malformed or missing headers give an empty context.
///
/// # Examples
///
/// ```
/// let headers = http::HeaderMap::new();
/// assert!(!tracewire::propagation::extract(&headers).span_context().is_valid());
/// ```
pub fn extract(headers: &HeaderMap) -> Context {
    let Some(value) = headers.get("traceparent").and_then(|v| v.to_str().ok()) else {
        return Context::default();
    };
    let parts: Vec<&str> = value.split('-').collect();
    if parts.len() != 4 || parts[0] != "00" {
        return Context::default();
    }
    let (Ok(trace_id), Ok(span_id), Ok(flags)) = (
        TraceId::from_hex(parts[1]),
        SpanId::from_hex(parts[2]),
        u8::from_str_radix(parts[3], 16),
    ) else {
        return Context::default();
    };
    Context::from_span_context(SpanContext::new(
        trace_id,
        span_id,
        TraceFlags::new(flags),
        true,
        TraceState::default(),
    ))
}
