//! What the reqwest middleware and the tower client layer share: starting the client span of a
//! request and writing its context into the headers.

#[cfg(feature = "reqwest")]
pub(crate) mod reqwest;
#[cfg(feature = "tower")]
pub(crate) mod tower;

use std::borrow::Cow;

use http::{Extensions, HeaderMap, Method};
use opentelemetry::trace::SpanKind;

use super::{
    HttpSpan, NoPropagation, ResendCount, SpanName, capped_owned, method_name, semconv, set_method,
};
use crate::Context;

/// Where a request goes, as the attributes of its span want it.
pub(crate) struct Target<'a> {
    /// `url.full`, already redacted.
    pub(crate) url_full: Option<Cow<'a, str>>,
    pub(crate) host: Option<&'a str>,
    pub(crate) port: Option<u16>,
}

/// Starts the client span of a request, a child of the current context, and returns it with the
/// context to inject and to keep current while the request is sent. `target` is only computed when
/// the span records.
pub(crate) fn start<'a>(
    method: &Method,
    extensions: &Extensions,
    target: impl FnOnce() -> Target<'a>,
) -> (HttpSpan, Context) {
    let parent = Context::current();
    let name = match extensions.get::<SpanName>() {
        Some(SpanName(name)) => name.clone(),
        None => Cow::Borrowed(method_name(method)),
    };
    let span = crate::span_builder(name)
        .with_kind(SpanKind::Client)
        .with_parent(parent.span_context())
        .start();
    if span.is_recording() {
        set_method(&span, method);
        let target = target();
        if let Some(host) = target.host {
            // An IPv6 literal is written without its brackets.
            let host = host.trim_start_matches('[').trim_end_matches(']');
            span.set_attribute(semconv::SERVER_ADDRESS, capped_owned(host));
        }
        if let Some(port) = target.port {
            span.set_attribute(semconv::SERVER_PORT, i64::from(port));
        }
        if let Some(url) = target.url_full {
            let url = if url.len() > super::MAX_REQUEST_VALUE_LENGTH {
                capped_owned(&url)
            } else {
                url.into_owned()
            };
            span.set_attribute(semconv::URL_FULL, url);
        }
        if let Some(ResendCount(count)) = extensions.get::<ResendCount>()
            && *count > 0
        {
            span.set_attribute(semconv::HTTP_REQUEST_RESEND_COUNT, i64::from(*count));
        }
    }
    let span = HttpSpan::new(span);
    let context = span.context_under(parent);
    (span, context)
}

/// Writes `context` into `headers`, unless the request carries [`NoPropagation`].
pub(crate) fn inject(context: &Context, extensions: &Extensions, headers: &mut HeaderMap) {
    if extensions.get::<NoPropagation>().is_none() {
        crate::propagation::inject_context(context, headers);
    }
}
