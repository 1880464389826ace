//! Carriers: where propagators read and write their fields (HTTP headers, message headers, maps).

use std::collections::HashMap;
use std::hash::BuildHasher;

use http::{HeaderMap, HeaderName, HeaderValue};

/// Somewhere a propagator can write its fields: HTTP request headers, message headers, a map.
///
/// Names are lowercase ASCII (`traceparent`, `x-b3-traceid`, ...); values are visible ASCII.
///
/// # Examples
///
/// A carrier for the headers of a message queue:
///
/// ```
/// use tracewire::propagation::{Injector, Propagators};
///
/// #[derive(Default)]
/// struct MessageHeaders(Vec<(String, Vec<u8>)>);
///
/// impl Injector for MessageHeaders {
///     fn set(&mut self, name: &'static str, value: String) {
///         self.0.retain(|(n, _)| n != name);
///         self.0.push((name.to_owned(), value.into_bytes()));
///     }
/// }
///
/// let cx = tracewire::Context::default(); // nothing to send: no header is written
/// let mut headers = MessageHeaders::default();
/// Propagators::default().inject_context(&cx, &mut headers);
/// assert!(headers.0.is_empty());
/// ```
pub trait Injector {
    /// Sets `name` to `value`, replacing any value it had.
    fn set(&mut self, name: &'static str, value: String);
}

/// Somewhere a propagator can read its fields from.
///
/// Names are looked up in lowercase. Values are bytes, so that carriers whose values are not text
/// (Kafka headers, HTTP `obs-text`) need no conversion: anything that is not valid for a field's
/// grammar is ignored.
///
/// # Examples
///
/// ```
/// use tracewire::propagation::{Extractor, Propagators};
///
/// struct MessageHeaders(Vec<(String, Vec<u8>)>);
///
/// impl Extractor for MessageHeaders {
///     fn get(&self, name: &str) -> Option<&[u8]> {
///         self.0.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_slice())
///     }
/// }
///
/// let headers = MessageHeaders(vec![(
///     "traceparent".into(),
///     b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_vec(),
/// )]);
/// let cx = Propagators::default().extract(&headers);
/// assert!(cx.span_context().is_remote() && cx.span_context().is_sampled());
/// ```
pub trait Extractor {
    /// The first value of `name`, if present.
    fn get(&self, name: &str) -> Option<&[u8]>;

    /// Every value of `name`, in order (a field sent on several header lines). The default
    /// returns the one value of [`Extractor::get`].
    fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.get(name).into_iter()
    }
}

/// The header names tracewire writes, as constants: no parsing and no allocation per request.
const KNOWN_NAMES: [HeaderName; 10] = [
    HeaderName::from_static("traceparent"),
    HeaderName::from_static("tracestate"),
    HeaderName::from_static("baggage"),
    HeaderName::from_static("b3"),
    HeaderName::from_static("x-b3-traceid"),
    HeaderName::from_static("x-b3-spanid"),
    HeaderName::from_static("x-b3-sampled"),
    HeaderName::from_static("x-b3-flags"),
    HeaderName::from_static("x-b3-parentspanid"),
    HeaderName::from_static("uber-trace-id"),
];

fn header_name(name: &str) -> Option<HeaderName> {
    KNOWN_NAMES
        .iter()
        .find(|known| known.as_str() == name)
        .cloned()
        .or_else(|| HeaderName::from_bytes(name.as_bytes()).ok())
}

impl Injector for HeaderMap {
    fn set(&mut self, name: &'static str, value: String) {
        // Values come from our own formatting; a value HTTP cannot carry is skipped, not sent.
        if let (Some(name), Ok(value)) = (header_name(name), HeaderValue::try_from(value)) {
            self.insert(name, value);
        }
    }
}

impl Extractor for HeaderMap {
    fn get(&self, name: &str) -> Option<&[u8]> {
        HeaderMap::get(self, name).map(HeaderValue::as_bytes)
    }

    fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        HeaderMap::get_all(self, name)
            .into_iter()
            .map(HeaderValue::as_bytes)
    }
}

impl<S: BuildHasher> Injector for HashMap<String, String, S> {
    fn set(&mut self, name: &'static str, value: String) {
        self.insert(name.to_owned(), value);
    }
}

impl<S: BuildHasher> Extractor for HashMap<String, String, S> {
    fn get(&self, name: &str) -> Option<&[u8]> {
        HashMap::get(self, name).map(String::as_bytes)
    }
}

/// An OpenTelemetry [`Injector`](opentelemetry::propagation::Injector) used as a tracewire one.
///
/// # Examples
///
/// ```
/// use std::collections::HashMap;
/// use tracewire::propagation::{OtelInjector, Propagators};
///
/// let mut map: HashMap<String, String> = HashMap::new();
/// let injector: &mut dyn tracewire::opentelemetry::propagation::Injector = &mut map;
/// Propagators::default().inject_context(&tracewire::Context::default(), &mut OtelInjector(injector));
/// ```
pub struct OtelInjector<'a>(pub &'a mut dyn opentelemetry::propagation::Injector);

impl Injector for OtelInjector<'_> {
    fn set(&mut self, name: &'static str, value: String) {
        self.0.set(name, value);
    }
}

/// An OpenTelemetry [`Extractor`](opentelemetry::propagation::Extractor) used as a tracewire one.
///
/// # Examples
///
/// ```
/// use std::collections::HashMap;
/// use tracewire::propagation::{OtelExtractor, Propagators};
///
/// let map: HashMap<String, String> = HashMap::new();
/// let cx = Propagators::default().extract(&OtelExtractor(&map));
/// assert!(!cx.span_context().is_valid());
/// ```
pub struct OtelExtractor<'a>(pub &'a dyn opentelemetry::propagation::Extractor);

impl Extractor for OtelExtractor<'_> {
    fn get(&self, name: &str) -> Option<&[u8]> {
        self.0.get(name).map(str::as_bytes)
    }

    fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.0
            .get_all(name)
            .unwrap_or_default()
            .into_iter()
            .map(str::as_bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_names_are_the_ones_propagators_write() {
        for propagator in super::super::Propagator::ALL {
            for field in propagator.fields() {
                assert!(
                    KNOWN_NAMES.iter().any(|n| n.as_str() == *field),
                    "{field} is not a constant header name"
                );
            }
        }
    }

    #[test]
    fn header_map_reads_every_line_in_order() {
        let mut headers = HeaderMap::new();
        headers.append("tracestate", HeaderValue::from_static("a=1"));
        headers.append("TraceState", HeaderValue::from_static("b=2"));
        let values: Vec<&[u8]> = Extractor::get_all(&headers, "tracestate").collect();
        assert_eq!(values, [b"a=1".as_slice(), b"b=2".as_slice()]);
    }

    #[test]
    fn unsendable_values_and_names_are_skipped() {
        let mut headers = HeaderMap::new();
        Injector::set(&mut headers, "traceparent", "a\nb".into());
        Injector::set(&mut headers, "bad name", "v".into());
        assert!(headers.is_empty());
    }
}
