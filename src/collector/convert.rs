//! Turning a finished span's record into OTLP-ready [`SpanData`], on the background thread.

use opentelemetry::trace::{Event, Link, Status};
use opentelemetry::{Array, InstrumentationScope, KeyValue, StringValue, Value};
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanLinks};

use crate::span::clock::Converter;
use crate::span::limits::SpanLimits;
use crate::span::record::{Extras, SpanRecord, keep_last_of_each_key};

/// Everything conversion needs besides the record.
pub(crate) struct Conversion {
    pub(crate) clock: Converter,
    pub(crate) limits: SpanLimits,
    pub(crate) scope: Scope,
}

/// The instrumentation scope every converted span carries.
pub(crate) enum Scope {
    /// tracewire's own (what the worker and captures use): made afresh for each span, which
    /// compiles to a few constant stores. Cloning a scope calls `Vec::clone` for its attributes,
    /// and reading that result back stalled the worker for 40 % of its conversion time (`perf`,
    /// store forwarding).
    Tracewire,
    /// Any other scope, cloned for each span (the encoder's differential tests use one).
    #[cfg_attr(
        not(all(test, any(feature = "otlp-grpc", feature = "otlp-http"))),
        allow(dead_code)
    )]
    Other(InstrumentationScope),
}

impl Scope {
    /// The scope, for one span or for an encoder.
    #[inline]
    pub(crate) fn get(&self) -> InstrumentationScope {
        match self {
            Scope::Tracewire => InstrumentationScope::builder("tracewire")
                .with_version(env!("CARGO_PKG_VERSION"))
                .build(),
            Scope::Other(scope) => scope.clone(),
        }
    }
}

impl Conversion {
    /// Converts a record onto the end of `batch`; its extras box, emptied, comes back for reuse.
    ///
    /// The record is read where it lies (in the ring, for the worker) and left with an empty name
    /// and no extras, for its slot to drop: copying 104-byte records out of the ring and through
    /// the panic guard cost the worker a quarter of its time (`perf`). The `SpanData` is pushed in
    /// place and filled there: it is 352 bytes, and returning it by value through the panic guard
    /// copied it three times.
    pub(crate) fn convert_into(
        &self,
        record: &mut SpanRecord,
        batch: &mut Vec<SpanData>,
    ) -> Option<Box<Extras>> {
        let SpanRecord { ctx, rec, end } = record;
        batch.push(SpanData {
            span_context: ctx.to_otel(),
            parent_span_id: rec.parent_span_id,
            parent_span_is_remote: rec.parent_remote,
            span_kind: rec.kind.clone(),
            name: std::mem::take(&mut rec.name),
            start_time: self.clock.to_system_time(rec.start),
            end_time: self.clock.to_system_time(*end),
            attributes: Vec::new(),
            dropped_attributes_count: 0,
            events: SpanEvents::default(),
            links: SpanLinks::default(),
            status: Status::Unset,
            instrumentation_scope: self.scope.get(),
        });
        let mut extras = rec.extras.take()?;
        let data = batch.last_mut()?;
        let kept = keep_last_of_each_key(&mut extras.attributes);
        extras.attributes.truncate(kept);
        let mut attributes: Vec<KeyValue> = extras.attributes.drain(..).collect();
        self.truncate_values(&mut attributes);
        data.attributes = attributes;
        data.dropped_attributes_count = std::mem::take(&mut extras.dropped_attributes);

        data.events.dropped_count = std::mem::take(&mut extras.dropped_events);
        data.events.events = extras
            .events
            .drain(..)
            .map(|event| {
                let mut attributes = event.attributes;
                let dropped = self.cap(&mut attributes, self.limits.max_attributes_per_event);
                Event::new(
                    event.name,
                    self.clock.to_system_time(event.at),
                    attributes,
                    dropped,
                )
            })
            .collect();

        data.links.dropped_count = std::mem::take(&mut extras.dropped_links);
        data.links.links = std::mem::take(&mut extras.links)
            .into_iter()
            .map(|mut link: Link| {
                let dropped = self.cap(&mut link.attributes, self.limits.max_attributes_per_link);
                link.dropped_attributes_count =
                    link.dropped_attributes_count.saturating_add(dropped);
                link
            })
            .collect();
        data.status = std::mem::replace(&mut extras.status, Status::Unset);
        Some(extras)
    }

    /// Keeps the first `max` attributes (truncating their values) and returns how many were dropped.
    fn cap(&self, attributes: &mut Vec<KeyValue>, max: u32) -> u32 {
        let max = max as usize;
        let dropped = attributes.len().saturating_sub(max);
        attributes.truncate(max);
        self.truncate_values(attributes);
        u32::try_from(dropped).unwrap_or(u32::MAX)
    }

    fn truncate_values(&self, attributes: &mut [KeyValue]) {
        let Some(max) = self.limits.max_attribute_value_length else {
            return;
        };
        let max = max as usize;
        for attribute in attributes {
            match &mut attribute.value {
                Value::String(s) if s.as_str().len() > max => *s = truncated(s, max),
                Value::Array(Array::String(items)) => {
                    for s in items.iter_mut().filter(|s| s.as_str().len() > max) {
                        *s = truncated(s, max);
                    }
                }
                _ => {}
            }
        }
    }
}

/// The longest prefix of at most `max` bytes that ends on a character boundary.
fn truncated(value: &StringValue, max: usize) -> StringValue {
    StringValue::from(crate::span::limits::cut(value.as_str(), max).to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_respects_character_boundaries() {
        assert_eq!(truncated(&StringValue::from("héllo"), 2).as_str(), "h");
        assert_eq!(truncated(&StringValue::from("héllo"), 3).as_str(), "hé");
        assert_eq!(truncated(&StringValue::from("abc"), 10).as_str(), "abc");
    }
}
