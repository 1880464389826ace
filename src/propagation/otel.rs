//! tracewire's propagators as an OpenTelemetry [`TextMapPropagator`], for libraries that take one.

use opentelemetry::baggage::{Baggage, BaggageExt as _};
use opentelemetry::propagation::text_map_propagator::FieldIter;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::TraceContextExt as _;

use super::carrier::{OtelExtractor, OtelInjector};
use super::{Propagator, Propagators};
use crate::{Context, SpanContext};

/// A [`Propagators`] list usable wherever OpenTelemetry wants a [`TextMapPropagator`] (made by
/// [`Propagators::to_otel`]).
///
/// # Examples
///
/// ```
/// use std::collections::HashMap;
/// use tracewire::opentelemetry::propagation::TextMapPropagator as _;
/// use tracewire::opentelemetry::trace::TraceContextExt as _;
///
/// let propagator = tracewire::propagation::Propagators::default().to_otel();
/// let mut carrier = HashMap::new();
/// carrier.insert(
///     "traceparent".to_string(),
///     "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_string(),
/// );
/// let cx = propagator.extract(&carrier);
/// assert!(cx.span().span_context().is_remote());
/// ```
#[derive(Debug, Clone)]
pub struct OtelPropagator {
    propagators: Propagators,
    fields: Vec<String>,
}

impl OtelPropagator {
    pub(super) fn new(propagators: Propagators) -> OtelPropagator {
        let fields = propagators
            .iter()
            .flat_map(Propagator::fields)
            .map(|f| (*f).to_owned())
            .collect();
        OtelPropagator {
            propagators,
            fields,
        }
    }
}

/// `Baggage` is not `Clone`: a copy, entry by entry.
fn copy(baggage: &Baggage) -> Baggage {
    baggage
        .iter()
        .map(|(k, (v, m))| (k.clone(), (v.clone(), m.clone())))
        .collect()
}

impl TextMapPropagator for OtelPropagator {
    fn inject_context(&self, cx: &opentelemetry::Context, injector: &mut dyn Injector) {
        let ours = Context::default()
            .with_span_context(SpanContext::from_otel(cx.span().span_context()))
            .with_baggage(copy(cx.baggage()));
        self.propagators
            .inject_context(&ours, &mut OtelInjector(injector));
    }

    fn extract_with_context(
        &self,
        cx: &opentelemetry::Context,
        extractor: &dyn Extractor,
    ) -> opentelemetry::Context {
        let ours = self.propagators.extract(&OtelExtractor(extractor));
        let mut out = cx.clone();
        if ours.span_context().is_valid() {
            out = out.with_remote_span_context(ours.span_context().to_otel());
        }
        if !ours.baggage().is_empty() {
            out = out.with_baggage(copy(ours.baggage()));
        }
        out
    }

    fn fields(&self) -> FieldIter<'_> {
        FieldIter::new(&self.fields)
    }
}
