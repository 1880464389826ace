//! Carrying the trace context (and baggage) across process boundaries: in HTTP headers, message
//! headers, or any map of strings.
//!
//! [`inject`] writes the current [`Context`] into outgoing headers; [`extract`] reads the context
//! of an incoming request, to make the server span its child. Both use the process-wide
//! [`Propagators`]: by default W3C Trace Context and W3C Baggage, or what `OTEL_PROPAGATORS` or
//! [`Config::with_propagators`](crate::Config::with_propagators) chose when [`init`](crate::init)
//! ran (code wins over the environment). Without `init` the default applies, so injecting and
//! extracting work in tests and tools that never start tracing.
//!
//! | format | `OTEL_PROPAGATORS` | fields |
//! |---|---|---|
//! | [W3C Trace Context](https://www.w3.org/TR/trace-context/) | `tracecontext` | `traceparent`, `tracestate` |
//! | [W3C Baggage](https://www.w3.org/TR/baggage/) | `baggage` | `baggage` |
//! | [B3](https://github.com/openzipkin/b3-propagation) single header | `b3` | `b3` |
//! | B3 multiple headers | `b3multi` | `x-b3-traceid`, `x-b3-spanid`, `x-b3-sampled` (`x-b3-flags`, `x-b3-parentspanid` read) |
//! | [Jaeger](https://www.jaegertracing.io/docs/1.21/client-libraries/#propagation-format) | `jaeger` | `uber-trace-id` |
//! | nothing | `none` | |
//!
//! Injecting writes every listed format. Extracting runs them in order; a later format that finds a
//! valid context wins over an earlier one.
//!
//! Malformed input of any kind is ignored, never an error and never a panic: a header that breaks
//! its format's grammar gives no parent (a new trace starts), exactly as if it were absent. The W3C
//! rules, from the specification and its test suite:
//! - `traceparent` version `00` is exactly `00-{32 hex}-{16 hex}-{2 hex}`, lowercase, ids not all
//!   zeros; a higher version (except the invalid `ff`) is read by the same layout and may continue
//!   only after a `-`. Two `traceparent` fields are invalid.
//! - Of the trace flags, sampled (`01`) and Level 2's random trace id (`02`) are kept and
//!   forwarded; the reserved bits are dropped. tracewire's own root spans set the random flag,
//!   because their trace ids are 128 random bits (see [`RANDOM_TRACE_ID`]).
//! - `tracestate` is read only with a valid `traceparent`. Its fields are combined in order; empty
//!   members are skipped; a key or value outside the grammar, or more than 32 members, discard the
//!   whole `tracestate`, and the `traceparent` is still used. A key is
//!   `( lcalpha / DIGIT ) 0*255( keychar )` with `keychar` a lowercase letter, a digit or one of
//!   `_ - * / @` (the specification no longer splits `tenant@system`: `foo@` and `foo@@bar` are
//!   keys, `@foo` is not). A key that appears twice keeps the `tracestate`: the first member with
//!   it is sent on, the later ones are dropped.
//!
//! # Examples
//!
//! ```
//! # fn main() -> Result<(), tracewire::InitError> {
//! let _guard = tracewire::Config::default().with_exporter_kind(tracewire::ExporterKind::None).init()?;
//! // Client side: send the current context with the request.
//! let span = tracewire::span("GET");
//! let _entered = span.enter();
//! let mut headers = http::HeaderMap::new();
//! tracewire::propagation::inject(&mut headers);
//! assert!(headers.contains_key("traceparent"));
//!
//! // Server side: continue the caller's trace.
//! let parent = tracewire::propagation::extract(&headers);
//! let _attached = parent.attach();
//! let server = tracewire::span("GET /orders");
//! assert_eq!(server.context().trace_id(), span.context().trace_id());
//! # Ok(())
//! # }
//! ```

mod b3;
mod baggage;
mod carrier;
mod hex;
mod jaeger;
mod otel;
pub(crate) mod w3c;

pub use carrier::{Extractor, Injector, OtelExtractor, OtelInjector};
pub use otel::OtelPropagator;
pub use w3c::{format_traceparent, parse_traceparent};

use std::fmt;
use std::sync::atomic::{AtomicU32, Ordering};

use http::HeaderMap;
use opentelemetry::trace::TraceFlags;

use crate::Context;

/// The W3C Trace Context Level 2 flag that says the trace id's right-most 7 bytes are random.
///
/// tracewire sets it on the traces it starts (its trace ids are 128 bits from a per-thread wyrand
/// generator) and keeps it, as received, on traces that come from elsewhere.
///
/// # Examples
///
/// ```
/// # fn main() -> Result<(), tracewire::InitError> {
/// use tracewire::propagation::RANDOM_TRACE_ID;
/// let _guard = tracewire::Config::default().with_exporter_kind(tracewire::ExporterKind::None).init()?;
/// let root = tracewire::span("root");
/// assert_eq!(root.context().trace_flags() & RANDOM_TRACE_ID, RANDOM_TRACE_ID);
/// # Ok(())
/// # }
/// ```
pub const RANDOM_TRACE_ID: TraceFlags = TraceFlags::new(crate::span::RANDOM_FLAG);

/// One propagation format.
///
/// # Examples
///
/// ```
/// use tracewire::propagation::Propagator;
///
/// let mut headers = http::HeaderMap::new();
/// headers.insert("b3", "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1".parse().unwrap());
/// let cx = Propagator::B3.extract_with_context(tracewire::Context::default(), &headers);
/// assert!(cx.span_context().is_sampled());
///
/// let mut out = http::HeaderMap::new();
/// Propagator::Jaeger.inject_context(&cx, &mut out);
/// assert_eq!(out["uber-trace-id"], "80f198ee56343ba864fe8b2a57d3eff7:e457b5a2e4d86bd1:0:1");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Propagator {
    /// W3C Trace Context: `traceparent` and `tracestate` (`tracecontext`).
    TraceContext,
    /// W3C Baggage: `baggage` (`baggage`).
    Baggage,
    /// B3 single header: `b3` (`b3`).
    B3,
    /// B3 multiple headers: `x-b3-*` (`b3multi`).
    B3Multi,
    /// Jaeger: `uber-trace-id` (`jaeger`).
    Jaeger,
}

impl Propagator {
    /// Every format, in the order of this enum.
    pub const ALL: [Propagator; 5] = [
        Propagator::TraceContext,
        Propagator::Baggage,
        Propagator::B3,
        Propagator::B3Multi,
        Propagator::Jaeger,
    ];

    /// Its name in `OTEL_PROPAGATORS`.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(tracewire::propagation::Propagator::B3Multi.name(), "b3multi");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            Propagator::TraceContext => "tracecontext",
            Propagator::Baggage => "baggage",
            Propagator::B3 => "b3",
            Propagator::B3Multi => "b3multi",
            Propagator::Jaeger => "jaeger",
        }
    }

    /// The format named `name` in `OTEL_PROPAGATORS` (case-insensitive).
    ///
    /// # Examples
    ///
    /// ```
    /// use tracewire::propagation::Propagator;
    /// assert_eq!(Propagator::from_name("TraceContext"), Some(Propagator::TraceContext));
    /// assert_eq!(Propagator::from_name("xray"), None);
    /// ```
    pub fn from_name(name: &str) -> Option<Propagator> {
        Propagator::ALL
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(name))
    }

    /// The header names it writes (lowercase).
    ///
    /// # Examples
    ///
    /// ```
    /// use tracewire::propagation::Propagator;
    /// assert_eq!(Propagator::TraceContext.fields(), ["traceparent", "tracestate"]);
    /// ```
    pub fn fields(self) -> &'static [&'static str] {
        match self {
            Propagator::TraceContext => &[w3c::TRACEPARENT, w3c::TRACESTATE],
            Propagator::Baggage => &[baggage::BAGGAGE],
            Propagator::B3 => &[b3::SINGLE],
            Propagator::B3Multi => &[b3::TRACE_ID, b3::SPAN_ID, b3::SAMPLED],
            Propagator::Jaeger => &[jaeger::UBER_TRACE_ID],
        }
    }

    /// Writes `cx` into `carrier` in this format. An invalid span context (or empty baggage, for
    /// [`Propagator::Baggage`]) writes nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracewire::propagation::Propagator;
    /// use tracewire::{Baggage, Context, KeyValue};
    ///
    /// let cx = Context::default().with_baggage(Baggage::from_iter([KeyValue::new("tenant", "a b")]));
    /// let mut headers = http::HeaderMap::new();
    /// Propagator::Baggage.inject_context(&cx, &mut headers);
    /// assert_eq!(headers["baggage"], "tenant=a%20b");
    /// ```
    pub fn inject_context(self, cx: &Context, carrier: &mut impl Injector) {
        let span = cx.span_context();
        match self {
            Propagator::TraceContext => w3c::inject(span, carrier),
            Propagator::Baggage => baggage::inject(cx.baggage(), carrier),
            Propagator::B3 => b3::inject_single(span, carrier),
            Propagator::B3Multi => b3::inject_multi(span, carrier),
            Propagator::Jaeger => jaeger::inject(span, carrier),
        }
    }

    /// Reads this format from `carrier` into `cx`: a valid span context found replaces the one of
    /// `cx`, baggage found replaces its baggage; otherwise `cx` is returned unchanged.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracewire::propagation::Propagator;
    ///
    /// let mut headers = http::HeaderMap::new();
    /// headers.insert("traceparent", "00-00000000000000000000000000000000-00f067aa0ba902b7-01".parse().unwrap());
    /// let cx = Propagator::TraceContext.extract_with_context(tracewire::Context::default(), &headers);
    /// assert!(!cx.span_context().is_valid()); // all-zero trace id: ignored
    /// ```
    pub fn extract_with_context(self, cx: Context, carrier: &impl Extractor) -> Context {
        let span = match self {
            Propagator::Baggage => {
                return match baggage::extract(carrier) {
                    Some(found) => cx.with_baggage(found),
                    None => cx,
                };
            }
            Propagator::TraceContext => w3c::extract(carrier),
            Propagator::B3 => b3::extract_single(carrier),
            Propagator::B3Multi => b3::extract_multi(carrier),
            Propagator::Jaeger => jaeger::extract(carrier),
        };
        match span {
            Some(span) => cx.with_span_context(span),
            None => cx,
        }
    }

    /// 1-based, so that 0 ends a packed list.
    fn code(self) -> u32 {
        match self {
            Propagator::TraceContext => 1,
            Propagator::Baggage => 2,
            Propagator::B3 => 3,
            Propagator::B3Multi => 4,
            Propagator::Jaeger => 5,
        }
    }

    fn from_code(code: u32) -> Option<Propagator> {
        Propagator::ALL.into_iter().find(|p| p.code() == code)
    }
}

/// Bits per packed format.
const BITS: u32 = 3;

/// An ordered list of formats, each at most once: what `OTEL_PROPAGATORS` says. The default is
/// W3C Trace Context then W3C Baggage.
///
/// It is a small `Copy` value (the list is packed in an integer), so the process-wide choice is
/// read with one atomic load, without a lock.
///
/// # Examples
///
/// ```
/// use tracewire::propagation::{Propagator, Propagators};
///
/// let both = Propagators::new([Propagator::TraceContext, Propagator::B3Multi]);
/// let mut headers = http::HeaderMap::new();
/// let cx = tracewire::propagation::extract(&{
///     let mut h = http::HeaderMap::new();
///     h.insert("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".parse().unwrap());
///     h
/// });
/// both.inject_context(&cx, &mut headers);
/// assert!(headers.contains_key("traceparent") && headers.contains_key("x-b3-traceid"));
/// assert_eq!(both.to_string(), "tracecontext,b3multi");
/// assert_eq!(Propagators::default().to_string(), "tracecontext,baggage");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Propagators(u32);

impl Propagators {
    /// No format: nothing is injected or extracted (`OTEL_PROPAGATORS=none`).
    pub const NONE: Propagators = Propagators(0);

    /// W3C Trace Context and W3C Baggage, the default (`tracecontext,baggage`).
    pub const W3C: Propagators = Propagators(1 | (2 << BITS));

    /// The formats of `list` in order; a repeated format counts once, where it first appears.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracewire::propagation::{Propagator, Propagators};
    /// let list = Propagators::new([Propagator::B3, Propagator::B3, Propagator::Baggage]);
    /// assert_eq!(list.iter().collect::<Vec<_>>(), [Propagator::B3, Propagator::Baggage]);
    /// ```
    pub fn new(list: impl IntoIterator<Item = Propagator>) -> Propagators {
        let mut packed = Propagators::NONE;
        let mut len = 0;
        for propagator in list {
            if !packed.contains(propagator) {
                packed.0 |= propagator.code() << (BITS * len);
                len += 1;
            }
        }
        packed
    }

    /// The formats, in order.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracewire::propagation::{Propagator, Propagators};
    /// assert_eq!(Propagators::NONE.iter().count(), 0);
    /// assert_eq!(Propagators::default().iter().next(), Some(Propagator::TraceContext));
    /// ```
    pub fn iter(self) -> impl Iterator<Item = Propagator> {
        let mut rest = self.0;
        std::iter::from_fn(move || {
            let propagator = Propagator::from_code(rest & ((1 << BITS) - 1))?;
            rest >>= BITS;
            Some(propagator)
        })
    }

    /// Whether `propagator` is in the list.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracewire::propagation::{Propagator, Propagators};
    /// assert!(Propagators::default().contains(Propagator::Baggage));
    /// ```
    pub fn contains(self, propagator: Propagator) -> bool {
        self.iter().any(|p| p == propagator)
    }

    /// Whether the list is empty (`none`).
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(tracewire::propagation::Propagators::NONE.is_empty());
    /// ```
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The process-wide list that [`inject`] and [`extract`] use: the one `init` installed, or the
    /// default before any `init`.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), tracewire::InitError> {
    /// use tracewire::propagation::{Propagator, Propagators};
    /// let _guard = tracewire::Config::default()
    ///     .with_exporter_kind(tracewire::ExporterKind::None)
    ///     .with_propagators(Propagators::new([Propagator::B3]))
    ///     .init()?;
    /// assert_eq!(Propagators::global(), Propagators::new([Propagator::B3]));
    /// # Ok(())
    /// # }
    /// ```
    pub fn global() -> Propagators {
        Propagators(GLOBAL.load(Ordering::Relaxed))
    }

    /// Writes the current context into `carrier` in every listed format.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut map = std::collections::HashMap::new();
    /// tracewire::propagation::Propagators::default().inject(&mut map);
    /// assert!(map.is_empty()); // no current span
    /// ```
    pub fn inject(self, carrier: &mut impl Injector) {
        self.inject_context(&Context::current(), carrier);
    }

    /// Writes `cx` into `carrier` in every listed format.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::collections::HashMap;
    /// use tracewire::propagation::Propagators;
    ///
    /// let incoming = HashMap::from([(
    ///     "traceparent".to_string(),
    ///     "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_string(),
    /// )]);
    /// let cx = Propagators::default().extract(&incoming);
    /// let mut outgoing = HashMap::new();
    /// Propagators::default().inject_context(&cx, &mut outgoing);
    /// assert_eq!(outgoing, incoming);
    /// ```
    pub fn inject_context(self, cx: &Context, carrier: &mut impl Injector) {
        for propagator in self.iter() {
            propagator.inject_context(cx, carrier);
        }
    }

    /// Reads a context from `carrier`: every listed format in order, a later one that finds a span
    /// context winning. Without any, the span context is invalid (spans started under it are roots).
    ///
    /// # Examples
    ///
    /// ```
    /// let map = std::collections::HashMap::from([("traceparent".to_string(), "garbage".to_string())]);
    /// let cx = tracewire::propagation::Propagators::default().extract(&map);
    /// assert!(!cx.span_context().is_valid());
    /// ```
    pub fn extract(self, carrier: &impl Extractor) -> Context {
        self.extract_with_context(Context::default(), carrier)
    }

    /// Like [`Propagators::extract`], starting from `cx` rather than an empty context.
    ///
    /// # Examples
    ///
    /// ```
    /// let map = std::collections::HashMap::<String, String>::new();
    /// let cx = tracewire::propagation::Propagators::NONE.extract_with_context(tracewire::Context::current(), &map);
    /// assert!(!cx.span_context().is_valid());
    /// ```
    pub fn extract_with_context(self, cx: Context, carrier: &impl Extractor) -> Context {
        self.iter().fold(cx, |cx, propagator| {
            propagator.extract_with_context(cx, carrier)
        })
    }

    /// This list as an OpenTelemetry `TextMapPropagator`.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracewire::opentelemetry::propagation::TextMapPropagator as _;
    /// let otel = tracewire::propagation::Propagators::default().to_otel();
    /// assert_eq!(otel.fields().collect::<Vec<_>>(), ["traceparent", "tracestate", "baggage"]);
    /// ```
    pub fn to_otel(self) -> OtelPropagator {
        OtelPropagator::new(self)
    }

    /// Parses an `OTEL_PROPAGATORS` value; `Err` is what would have been accepted.
    pub(crate) fn parse_env(value: &str) -> Result<Propagators, String> {
        const EXPECTED: &str = "expected a comma-separated list of tracecontext, baggage, b3, \
                                b3multi, jaeger, or none alone";
        let names: Vec<&str> = value
            .split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .collect();
        if names.iter().any(|n| n.eq_ignore_ascii_case("none")) {
            return match names.len() {
                1 => Ok(Propagators::NONE),
                _ => Err(format!("{EXPECTED}: none cannot be combined with a format")),
            };
        }
        let mut list = Vec::with_capacity(names.len());
        for name in names {
            match Propagator::from_name(name) {
                Some(propagator) => list.push(propagator),
                None if ["xray", "ottrace"]
                    .iter()
                    .any(|n| n.eq_ignore_ascii_case(name)) =>
                {
                    return Err(format!("{EXPECTED}: {name} is not supported by tracewire"));
                }
                None => return Err(format!("{EXPECTED}: {name} is not a propagator")),
            }
        }
        Ok(Propagators::new(list))
    }
}

impl Default for Propagators {
    fn default() -> Self {
        Propagators::W3C
    }
}

impl fmt::Display for Propagators {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("none");
        }
        for (i, propagator) in self.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            f.write_str(propagator.name())?;
        }
        Ok(())
    }
}

impl fmt::Debug for Propagators {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Propagators({self})")
    }
}

impl FromIterator<Propagator> for Propagators {
    fn from_iter<I: IntoIterator<Item = Propagator>>(iter: I) -> Self {
        Propagators::new(iter)
    }
}

static GLOBAL: AtomicU32 = AtomicU32::new(Propagators::W3C.0);

/// Installs the process-wide list (called by `init`).
pub(crate) fn set_global(propagators: Propagators) {
    GLOBAL.store(propagators.0, Ordering::Relaxed);
}

/// Writes the current context into `headers`, in the process-wide formats ([`Propagators::global`]).
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

/// Writes `cx` into `headers`, in the process-wide formats ([`Propagators::global`]).
///
/// # Examples
///
/// ```
/// let mut headers = http::HeaderMap::new();
/// tracewire::propagation::inject_context(&tracewire::Context::default(), &mut headers);
/// assert!(headers.is_empty());
/// ```
pub fn inject_context(cx: &Context, headers: &mut HeaderMap) {
    Propagators::global().inject_context(cx, headers);
}

/// Reads a context from `headers`, in the process-wide formats ([`Propagators::global`]); missing
/// or malformed headers give an invalid span context, so that spans started under it are roots.
///
/// # Examples
///
/// ```
/// let headers = http::HeaderMap::new();
/// assert!(!tracewire::propagation::extract(&headers).span_context().is_valid());
/// ```
pub fn extract(headers: &HeaderMap) -> Context {
    Propagators::global().extract(headers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packing_keeps_order_and_fits_every_format() {
        let all = Propagators::new(Propagator::ALL.into_iter().rev());
        assert_eq!(all.iter().count(), Propagator::ALL.len());
        assert_eq!(all.to_string(), "jaeger,b3multi,b3,baggage,tracecontext");
        assert_eq!(
            Propagators::W3C,
            Propagators::new([Propagator::TraceContext, Propagator::Baggage])
        );
    }

    #[test]
    fn env_values() {
        let ok = |v: &str| Propagators::parse_env(v).map(|p| p.to_string());
        assert_eq!(
            ok("tracecontext,baggage").as_deref(),
            Ok("tracecontext,baggage")
        );
        assert_eq!(ok(" B3 , jaeger,,b3 ").as_deref(), Ok("b3,jaeger"));
        assert_eq!(ok("none").as_deref(), Ok("none"));
        assert!(ok("none,b3").unwrap_err().contains("cannot be combined"));
        assert!(ok("xray").unwrap_err().contains("not supported"));
        assert!(ok("w3c").unwrap_err().contains("w3c is not a propagator"));
    }
}
