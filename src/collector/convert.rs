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
    /// the panic guard cost the worker a quarter of its time (`perf`). The `SpanData` is written in
    /// place, field by field, at the end of `batch`: it is 352 bytes, and returning it by value
    /// through the panic guard copied it three times.
    pub(crate) fn convert_into(
        &self,
        record: &mut SpanRecord,
        batch: &mut Vec<SpanData>,
    ) -> Option<Box<Extras>> {
        let SpanRecord { ctx, rec, end } = record;
        // The trace state first: the context is then made from values in registers (made with
        // the state's call in the middle, it was assembled on the stack and copied).
        let state = ctx.trace_state().to_otel();
        batch.reserve(1);
        let len = batch.len();
        // Never `None` after the `reserve`.
        let slot = batch.spare_capacity_mut().first_mut()?.as_mut_ptr();
        // Each field is written where it lies in the batch. A `SpanData` built first and then
        // pushed was 352 bytes made on the stack in pieces and copied whole, and the copy's wide
        // loads stalled on those narrow stores (`perf`: a fifth of the export thread's time).
        //
        // SAFETY: `slot` points to the batch's first spare element (the `reserve` above makes
        // one): valid for writes, aligned, and not aliased, since nothing else touches `batch`
        // until `set_len`. Every field of `SpanData` is written before `set_len` makes the
        // element part of the vector; `every_field_is_written` below fails to compile if
        // `SpanData` gains a field this list lacks. If a write panics, the element stays outside
        // the vector, and what was written leaks (never read, never dropped twice).
        unsafe {
            use std::ptr::addr_of_mut;
            addr_of_mut!((*slot).span_context).write(ctx.to_otel_with(state));
            addr_of_mut!((*slot).parent_span_id).write(rec.parent_span_id);
            addr_of_mut!((*slot).parent_span_is_remote).write(rec.parent_remote);
            addr_of_mut!((*slot).span_kind).write(rec.kind.clone());
            addr_of_mut!((*slot).name).write(std::mem::take(&mut rec.name));
            addr_of_mut!((*slot).start_time).write(self.clock.to_system_time(rec.start));
            addr_of_mut!((*slot).end_time).write(self.clock.to_system_time(*end));
            addr_of_mut!((*slot).attributes).write(Vec::new());
            addr_of_mut!((*slot).dropped_attributes_count).write(0);
            addr_of_mut!((*slot).events).write(SpanEvents::default());
            addr_of_mut!((*slot).links).write(SpanLinks::default());
            addr_of_mut!((*slot).status).write(Status::Unset);
            addr_of_mut!((*slot).instrumentation_scope).write(self.scope.get());
            batch.set_len(len + 1);
        }
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

/// Names every field of `SpanData`, with no `..`: a field added by a new `opentelemetry_sdk`
/// stops the build here, until `Conversion::convert_into` writes it too.
#[allow(dead_code)]
fn every_field_is_written(data: SpanData) {
    let SpanData {
        span_context: _,
        parent_span_id: _,
        parent_span_is_remote: _,
        span_kind: _,
        name: _,
        start_time: _,
        end_time: _,
        attributes: _,
        dropped_attributes_count: _,
        events: _,
        links: _,
        status: _,
        instrumentation_scope: _,
    } = data;
}

/// The longest prefix of at most `max` bytes that ends on a character boundary.
fn truncated(value: &StringValue, max: usize) -> StringValue {
    StringValue::from(crate::span::limits::cut(value.as_str(), max).to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::span::clock::{Converter, Ticks};
    use crate::span::record::{EventRecord, Recording};
    use opentelemetry::trace::{SpanId, SpanKind};

    fn record(name: &str, extras: Option<Box<Extras>>) -> SpanRecord {
        SpanRecord {
            ctx: crate::context::SpanContext::default(),
            rec: Recording {
                name: name.to_owned().into(),
                kind: SpanKind::Client,
                parent_span_id: SpanId::from(7_u64),
                parent_remote: true,
                start: Ticks(1),
                extras,
            },
            end: Ticks(2),
        }
    }

    /// The `unsafe` writes of `convert_into`, under miri too (`.ci/run` runs this module with
    /// `cargo +nightly miri test`): spans with and without extras, into a batch that grows, then
    /// read back and dropped. Miri reports a field left unwritten, a write out of bounds, a
    /// double drop or a leak.
    #[test]
    fn convert_into_writes_every_field_in_place() {
        let conversion = Conversion {
            clock: Converter::new(),
            limits: SpanLimits::default(),
            scope: Scope::Tracewire,
        };
        let mut batch = Vec::new();
        let mut returned = 0;
        for i in 0..5_u32 {
            let extras = (i % 2 == 1).then(|| {
                let mut extras = Box::new(Extras::blank());
                extras.push_attribute(KeyValue::new("n", i64::from(i)));
                extras.push_attribute(KeyValue::new("owned", format!("value {i}")));
                extras.push_event(EventRecord {
                    name: format!("event {i}").into(),
                    at: Ticks(1),
                    attributes: vec![KeyValue::new("k", "v")],
                });
                extras.status = Status::error("failed");
                extras
            });
            let mut record = record(&format!("span {i}"), extras);
            if let Some(extras) = conversion.convert_into(&mut record, &mut batch) {
                assert!(extras.attributes.is_empty() && extras.events.is_empty());
                returned += 1;
            }
            // What the conversion left in the record is dropped here, as its ring slot would be.
            assert!(record.rec.name.is_empty() && record.rec.extras.is_none());
        }
        assert_eq!((batch.len(), returned), (5, 2));
        for (i, data) in batch.iter().enumerate() {
            assert_eq!(data.name, format!("span {i}"));
            assert_eq!(data.parent_span_id, SpanId::from(7_u64));
            assert!(data.parent_span_is_remote);
            assert_eq!(data.span_kind, SpanKind::Client);
            assert!(data.start_time <= data.end_time);
            assert_eq!(data.instrumentation_scope.name(), "tracewire");
            if i % 2 == 1 {
                assert_eq!(data.attributes.len(), 2);
                assert_eq!(data.attributes[1].value.as_str(), format!("value {i}"));
                assert_eq!(data.events.events[0].name, format!("event {i}"));
                assert_eq!(data.events.events[0].attributes.len(), 1);
                assert_eq!(data.status, Status::error("failed"));
            } else {
                assert!(data.attributes.is_empty() && data.events.events.is_empty());
                assert_eq!(data.status, Status::Unset);
            }
        }
    }

    #[test]
    fn truncation_respects_character_boundaries() {
        assert_eq!(truncated(&StringValue::from("héllo"), 2).as_str(), "h");
        assert_eq!(truncated(&StringValue::from("héllo"), 3).as_str(), "hé");
        assert_eq!(truncated(&StringValue::from("abc"), 10).as_str(), "abc");
    }
}
