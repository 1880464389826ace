//! Finished span records straight to OTLP protobuf: one `ExportTraceServiceRequest` per batch,
//! written into reused buffers.
//!
//! # Why tracewire encodes its own requests
//!
//! The SDK's path turns every record into a `SpanData` (a copy of every string, a `SystemTime` per
//! timestamp), then opentelemetry-otlp's transform turns that into opentelemetry-proto's messages
//! (another copy, a `HashMap` lookup per span to group spans by scope), and prost encodes those.
//! tracewire has one resource and one scope, so a request is always one `ResourceSpans` holding one
//! `ScopeSpans`: both are encoded once, in [`Encoder::new`], and copied as bytes into each request.
//! Each span is written from its record directly, with the same limits `Conversion` applies (last
//! value of a duplicate key, per-event and per-link attribute caps, value truncation on character
//! boundaries), into a buffer that is kept from one span and one request to the next. A trace state
//! is rendered once and reused while the following spans carry the same one (the spans of a trace
//! usually do).
//!
//! # Layout
//!
//! A request is `ExportTraceServiceRequest { resource_spans: [ResourceSpans { resource, scope_spans:
//! [ScopeSpans { scope, spans, schema_url }], schema_url }] }`. The two enclosing lengths are only
//! known once the last span is in, so spans are written after a gap large enough for the longest
//! header; [`Encoder::finish`] writes the header at the end of that gap and hands out the bytes
//! from there, without moving the spans.
//!
//! The differential test (`encode/tests.rs`) checks that the bytes are exactly those of the SDK's
//! path (`Conversion` + opentelemetry-proto's transform + prost) for the same records.

#![cfg_attr(
    not(test),
    allow(
        dead_code,
        reason = "the worker's export path (issue 10, pipeline) calls it"
    )
)]

mod wire;

use bytes::{Buf, Bytes, BytesMut};
use opentelemetry::InstrumentationScope;
use opentelemetry::trace::{SpanId, SpanKind, Status};
use opentelemetry_sdk::Resource;

use self::wire::{
    attributes_len, fixed32_len, fixed64_len, len_field, put_attributes, put_bytes, put_fixed32,
    put_fixed64, put_len, put_str, put_u32, str_len, u32_len,
};
use crate::context::TraceState;
use crate::span::clock::Converter;
use crate::span::limits::SpanLimits;
use crate::span::record::{Extras, Recording, SpanRecord, keep_last_of_each_key};

/// `SpanFlags.SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE_MASK`: whether the parent is remote is known.
const HAS_IS_REMOTE: u32 = 0x100;
/// `SpanFlags.SPAN_FLAGS_CONTEXT_IS_REMOTE_MASK`: the parent (or linked span) is remote.
const IS_REMOTE: u32 = 0x200;
/// The capacity a new encoder's buffer starts with; it then follows the requests' sizes.
const INITIAL_CAPACITY: usize = 64 * 1024;
/// The longest key and length of a `ScopeSpans.spans` field.
const SPAN_HEAD: usize = 1 + 10;

/// Builds OTLP export requests from finished span records.
pub(crate) struct Encoder {
    /// The request being built: a gap of `headroom` bytes, then the spans (each a `ScopeSpans.spans`
    /// field).
    buf: BytesMut,
    headroom: usize,
    /// Spans in `buf`.
    spans: usize,
    /// What the next request's buffer reserves: the size of the last one.
    capacity: usize,
    /// `ResourceSpans.resource` (the whole field), `ResourceSpans.schema_url`.
    resource: Vec<u8>,
    resource_schema: Vec<u8>,
    /// `ScopeSpans.scope` (the whole field), `ScopeSpans.schema_url`.
    scope: Vec<u8>,
    scope_schema: Vec<u8>,
    /// Where `finish` assembles a request's header before putting it in the gap.
    head: Vec<u8>,
    /// The limits, as `usize`: value length (`usize::MAX` for none), attributes per event and link.
    max_value: usize,
    max_event_attributes: usize,
    max_link_attributes: usize,
    /// The last span's trace state and its rendering.
    state: TraceState,
    state_text: String,
    /// The last link's trace state and its rendering.
    link_state: opentelemetry::trace::TraceState,
    link_state_text: String,
    /// Per span: the body lengths of its events, then of its links; its links' trace states, end
    /// to end, and where each ends.
    lens: Vec<usize>,
    link_states: String,
    link_state_ends: Vec<usize>,
}

impl std::fmt::Debug for Encoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Encoder")
            .field("spans", &self.spans)
            .field("len", &self.len())
            .finish_non_exhaustive()
    }
}

impl Encoder {
    /// Resource and scope are encoded once, here.
    pub(crate) fn new(
        resource: &Resource,
        scope: &InstrumentationScope,
        limits: SpanLimits,
    ) -> Encoder {
        let no_limit = usize::MAX;
        // Resource { attributes = 1 }, as a ResourceSpans.resource (1) field.
        let attributes: Vec<opentelemetry::KeyValue> = resource
            .iter()
            .map(|(k, v)| opentelemetry::KeyValue::new(k.clone(), v.clone()))
            .collect();
        let mut resource_field = Vec::new();
        put_len(
            1,
            attributes_len(1, &attributes, no_limit),
            &mut resource_field,
        );
        put_attributes(1, &attributes, no_limit, &mut resource_field);
        let mut resource_schema = Vec::new();
        put_str(
            3,
            resource.schema_url().unwrap_or_default(),
            &mut resource_schema,
        );

        // InstrumentationScope { name = 1, version = 2, attributes = 3 }, as ScopeSpans.scope (1).
        let name = scope.name();
        let version = scope.version().unwrap_or_default();
        let attributes: Vec<opentelemetry::KeyValue> = scope.attributes().cloned().collect();
        let body =
            str_len(1, name) + str_len(2, version) + attributes_len(3, &attributes, no_limit);
        let mut scope_field = Vec::new();
        put_len(1, body, &mut scope_field);
        put_str(1, name, &mut scope_field);
        put_str(2, version, &mut scope_field);
        put_attributes(3, &attributes, no_limit, &mut scope_field);
        let mut scope_schema = Vec::new();
        put_str(3, scope.schema_url().unwrap_or_default(), &mut scope_schema);

        // The longest header: two keys, two 10-byte lengths, the resource and the scope.
        let headroom = 2 * (1 + 10) + resource_field.len() + scope_field.len();
        let mut encoder = Encoder {
            buf: BytesMut::new(),
            headroom,
            spans: 0,
            capacity: INITIAL_CAPACITY.max(headroom * 2),
            resource: resource_field,
            resource_schema,
            scope: scope_field,
            scope_schema,
            head: Vec::with_capacity(headroom),
            max_value: limits
                .max_attribute_value_length
                .map_or(no_limit, |max| max as usize),
            max_event_attributes: limits.max_attributes_per_event as usize,
            max_link_attributes: limits.max_attributes_per_link as usize,
            state: TraceState::default(),
            state_text: String::new(),
            link_state: opentelemetry::trace::TraceState::default(),
            link_state_text: String::new(),
            lens: Vec::new(),
            link_states: String::new(),
            link_state_ends: Vec::new(),
        };
        encoder.begin();
        encoder
    }

    /// Spans in the request being built.
    pub(crate) fn spans(&self) -> usize {
        self.spans
    }

    /// The encoded size of the request being built, in bytes (what [`finish`](Self::finish) would
    /// return now).
    pub(crate) fn len(&self) -> usize {
        let spans = self.buf.len() - self.headroom;
        let (resource_spans, _) = self.frame(spans);
        len_field(1, resource_spans)
    }

    /// The finished `ExportTraceServiceRequest` protobuf; starts a new request, reusing buffers.
    pub(crate) fn finish(&mut self) -> Bytes {
        let spans = self.buf.len() - self.headroom;
        let (resource_spans, scope_spans) = self.frame(spans);
        self.head.clear();
        put_len(1, resource_spans, &mut self.head);
        self.head.extend_from_slice(&self.resource);
        if let Some(scope_spans) = scope_spans {
            put_len(2, scope_spans, &mut self.head);
            self.head.extend_from_slice(&self.scope);
            self.buf.extend_from_slice(&self.scope_schema);
        }
        self.buf.extend_from_slice(&self.resource_schema);
        let start = self.headroom - self.head.len();
        self.buf[start..self.headroom].copy_from_slice(&self.head);
        self.capacity = self.buf.len();
        let mut request = self.buf.split();
        request.advance(start);
        self.spans = 0;
        self.begin();
        request.freeze()
    }

    /// The body lengths of the `ResourceSpans` and (when there are spans) of its `ScopeSpans`, for
    /// `spans` bytes of spans. Without spans the request has no `ScopeSpans`, as the SDK's has none.
    fn frame(&self, spans: usize) -> (usize, Option<usize>) {
        if self.spans == 0 {
            return (self.resource.len() + self.resource_schema.len(), None);
        }
        let scope_spans = self.scope.len() + spans + self.scope_schema.len();
        let resource_spans =
            self.resource.len() + len_field(2, scope_spans) + self.resource_schema.len();
        (resource_spans, Some(scope_spans))
    }

    /// Starts a request: the gap for the header. Once the last request's bytes have been dropped,
    /// `reserve` takes their memory back instead of allocating.
    fn begin(&mut self) {
        self.buf.reserve(self.capacity.max(self.headroom));
        self.buf.resize(self.headroom, 0);
    }

    /// Appends one finished span (after the policy stage) to the request being built; returns the
    /// record's extras box, emptied, for reuse (as `Conversion::convert_into` does). The record is
    /// read where it lies and left without its extras.
    pub(crate) fn push(
        &mut self,
        record: &mut SpanRecord,
        clock: &Converter,
    ) -> Option<Box<Extras>> {
        let SpanRecord { ctx, rec, end } = record;
        let Recording {
            name,
            kind,
            parent_span_id,
            parent_remote,
            start,
            extras,
        } = rec;
        let (parent_span_id, parent_remote, start, end) =
            (*parent_span_id, *parent_remote, *start, *end);
        let mut extras = extras.take();
        if ctx.trace_state() != &self.state {
            self.state_text = ctx.trace_state().to_otel().header();
            self.state = ctx.trace_state().clone();
        }
        let kept = extras
            .as_deref_mut()
            .map_or(0, |extras| keep_last_of_each_key(&mut extras.attributes));
        let start = clock.to_unix_nanos(start);
        let end = clock.to_unix_nanos(end);
        let flags = u32::from(ctx.trace_flags().to_u8())
            | HAS_IS_REMOTE
            | if parent_remote { IS_REMOTE } else { 0 };
        let kind: u32 = match kind {
            SpanKind::Internal => 1,
            SpanKind::Server => 2,
            SpanKind::Client => 3,
            SpanKind::Producer => 4,
            SpanKind::Consumer => 5,
        };
        let has_parent = parent_span_id != SpanId::INVALID;

        // Span { trace_id = 1, span_id = 2, trace_state = 3, parent_span_id = 4, name = 5,
        // kind = 6, start = 7, end = 8, attributes = 9, dropped_attributes_count = 10, events = 11,
        // dropped_events_count = 12, links = 13, dropped_links_count = 14, status = 15,
        // flags = 16 }, as a `ScopeSpans.spans` field. Its length is known once it is written:
        // the body goes after a gap for the longest key and length, then moves up to the real
        // ones (measured: faster than a first pass over the span for its length).
        if let Some(extras) = extras.as_deref() {
            self.measure_events_and_links(extras, clock);
        }
        let at = self.buf.len();
        self.buf.resize(at + SPAN_HEAD, 0);
        let buf = &mut self.buf;
        put_bytes(1, &ctx.trace_id().to_bytes(), buf);
        put_bytes(2, &ctx.span_id().to_bytes(), buf);
        put_str(3, &self.state_text, buf);
        if has_parent {
            put_bytes(4, &parent_span_id.to_bytes(), buf);
        }
        put_str(5, name, buf);
        put_u32(6, kind, buf);
        put_fixed64(7, start, buf);
        put_fixed64(8, end, buf);
        match extras.as_deref_mut() {
            Some(extras) => {
                self.put_extras(extras, kept, clock);
                put_len(15, status_len(&extras.status), &mut self.buf);
                put_status(&extras.status, &mut self.buf);
                empty(extras);
            }
            None => put_len(15, 0, &mut self.buf),
        }
        put_fixed32(16, flags, &mut self.buf);
        let body = self.buf.len() - at - SPAN_HEAD;
        let mut head = [0_u8; SPAN_HEAD];
        let mut free = &mut head[..];
        put_len(2, body, &mut free);
        let head_len = SPAN_HEAD - free.len();
        self.buf.copy_within(at + SPAN_HEAD.., at + head_len);
        self.buf.truncate(at + head_len + body);
        self.buf[at..at + head_len].copy_from_slice(&head[..head_len]);
        self.spans += 1;
        extras
    }

    /// Keeps the body lengths of the events and links, and the links' trace states, for
    /// `put_extras`.
    fn measure_events_and_links(&mut self, extras: &Extras, clock: &Converter) {
        let max = self.max_value;
        self.lens.clear();
        // Event { time_unix_nano = 1, name = 2, attributes = 3, dropped_attributes_count = 4 }.
        for event in &extras.events {
            let (attributes, dropped) = capped(&event.attributes, self.max_event_attributes);
            let body = fixed64_len(1, clock.to_unix_nanos(event.at))
                + str_len(2, &event.name)
                + attributes_len(3, attributes, max)
                + u32_len(4, dropped);
            self.lens.push(body);
        }
        // Link { trace_id = 1, span_id = 2, trace_state = 3, attributes = 4,
        // dropped_attributes_count = 5, flags = 6 }.
        self.link_states.clear();
        self.link_state_ends.clear();
        for link in &extras.links {
            let state = link.span_context.trace_state();
            if *state != self.link_state {
                self.link_state_text = state.header();
                self.link_state = state.clone();
            }
            self.link_states.push_str(&self.link_state_text);
            self.link_state_ends.push(self.link_states.len());
            let (attributes, dropped) = capped(&link.attributes, self.max_link_attributes);
            let body = len_field(1, 16)
                + len_field(2, 8)
                + str_len(3, &self.link_state_text)
                + attributes_len(4, attributes, max)
                + u32_len(5, link.dropped_attributes_count.saturating_add(dropped))
                + fixed32_len(6, link_flags(link));
            self.lens.push(body);
        }
    }

    /// Writes the fields from the extras: attributes, events, links and their dropped counts.
    fn put_extras(&mut self, extras: &Extras, kept: usize, clock: &Converter) {
        let max = self.max_value;
        let buf = &mut self.buf;
        put_attributes(9, &extras.attributes[..kept], max, buf);
        put_u32(10, extras.dropped_attributes, buf);
        let mut lens = self.lens.iter().copied();
        for event in &extras.events {
            let (attributes, dropped) = capped(&event.attributes, self.max_event_attributes);
            put_len(11, lens.next().unwrap_or_default(), buf);
            put_fixed64(1, clock.to_unix_nanos(event.at), buf);
            put_str(2, &event.name, buf);
            put_attributes(3, attributes, max, buf);
            put_u32(4, dropped, buf);
        }
        put_u32(12, extras.dropped_events, buf);
        let mut state_start = 0;
        for (link, &state_end) in extras.links.iter().zip(&self.link_state_ends) {
            let (attributes, dropped) = capped(&link.attributes, self.max_link_attributes);
            put_len(13, lens.next().unwrap_or_default(), buf);
            put_bytes(1, &link.span_context.trace_id().to_bytes(), buf);
            put_bytes(2, &link.span_context.span_id().to_bytes(), buf);
            put_str(3, &self.link_states[state_start..state_end], buf);
            state_start = state_end;
            put_attributes(4, attributes, max, buf);
            put_u32(
                5,
                link.dropped_attributes_count.saturating_add(dropped),
                buf,
            );
            put_fixed32(6, link_flags(link), buf);
        }
        put_u32(14, extras.dropped_links, buf);
    }
}

/// The first `max` attributes, and how many more there were (dropped).
fn capped(attributes: &[opentelemetry::KeyValue], max: usize) -> (&[opentelemetry::KeyValue], u32) {
    let kept = attributes.len().min(max);
    let dropped = u32::try_from(attributes.len() - kept).unwrap_or(u32::MAX);
    (&attributes[..kept], dropped)
}

/// A link's flags: its trace flags, and whether the linked span is remote.
fn link_flags(link: &opentelemetry::trace::Link) -> u32 {
    let context = &link.span_context;
    u32::from(context.trace_flags().to_u8())
        | HAS_IS_REMOTE
        | if context.is_remote() { IS_REMOTE } else { 0 }
}

/// Status { message = 2, code = 3 }.
fn status_parts(status: &Status) -> (&str, u32) {
    match status {
        Status::Unset => ("", 0),
        Status::Ok => ("", 1),
        Status::Error { description } => (description, 2),
    }
}

fn status_len(status: &Status) -> usize {
    let (message, code) = status_parts(status);
    str_len(2, message) + u32_len(3, code)
}

fn put_status(status: &Status, buf: &mut BytesMut) {
    let (message, code) = status_parts(status);
    put_str(2, message, buf);
    put_u32(3, code, buf);
}

/// Empties an extras box as `Conversion::convert_into` leaves it: attribute and event storage kept,
/// links freed, counts zero, status unset.
fn empty(extras: &mut Extras) {
    extras.attributes.clear();
    extras.dropped_attributes = 0;
    extras.events.clear();
    extras.dropped_events = 0;
    extras.links = Vec::new();
    extras.dropped_links = 0;
    extras.status = Status::Unset;
}

#[cfg(test)]
mod tests;
