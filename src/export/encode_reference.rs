//! A reference encoder with the interface of `crate::export::encode::Encoder`: each record goes
//! through [`Conversion`](crate::collector::convert::Conversion) to `SpanData`, then through
//! opentelemetry-proto's transform to a prost `Span`; `finish` encodes the request with prost.
//!
//! It is what opentelemetry-otlp's exporter does, span by span, and stands in until the fast
//! encoder (which writes protobuf straight from the records) replaces it.

use opentelemetry::InstrumentationScope;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::InstrumentationScope as ProtoScope;
use opentelemetry_proto::tonic::resource::v1::Resource as ProtoResource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
use opentelemetry_sdk::Resource;
use prost::Message;

use crate::collector::convert::Conversion;
use crate::span::clock::Converter;
use crate::span::limits::SpanLimits;
use crate::span::record::{Extras, SpanRecord};

/// Builds one `ExportTraceServiceRequest` at a time; resource and scope are converted once.
pub(crate) struct Encoder {
    conversion: Conversion,
    resource: ProtoResource,
    resource_schema: String,
    scope: ProtoScope,
    scope_schema: String,
    spans: Vec<Span>,
    /// The encoded size of `spans` with their field headers.
    len: usize,
}

impl Encoder {
    pub(crate) fn new(
        resource: &Resource,
        scope: &InstrumentationScope,
        limits: SpanLimits,
    ) -> Encoder {
        let attributes = ResourceAttributesWithSchema::from(resource);
        Encoder {
            conversion: Conversion {
                clock: Converter::new(),
                limits,
                scope: scope.clone(),
            },
            resource: ProtoResource {
                attributes: attributes.attributes.0,
                dropped_attributes_count: 0,
                entity_refs: Vec::new(),
            },
            resource_schema: attributes.schema_url.unwrap_or_default(),
            scope: (scope.clone(), None).into(),
            scope_schema: scope.schema_url().unwrap_or_default().to_owned(),
            spans: Vec::new(),
            len: 0,
        }
    }

    /// Appends one finished span; returns its extras box, emptied, for reuse.
    pub(crate) fn push(&mut self, record: SpanRecord, clock: &Converter) -> Option<Box<Extras>> {
        let (data, extras) = self.conversion.convert_with(record, clock);
        let span = Span::from(data);
        let len = span.encoded_len();
        // The field tag (1 byte) and the length prefix.
        self.len += 1 + prost::length_delimiter_len(len) + len;
        self.spans.push(span);
        extras
    }

    /// Spans in the request being built.
    pub(crate) fn spans(&self) -> usize {
        self.spans.len()
    }

    /// The encoded size of the request's spans so far, in bytes.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The finished request; starts a new one.
    pub(crate) fn finish(&mut self) -> bytes::Bytes {
        let request = ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: Some(self.resource.clone()),
                scope_spans: vec![ScopeSpans {
                    scope: Some(self.scope.clone()),
                    spans: std::mem::take(&mut self.spans),
                    schema_url: self.scope_schema.clone(),
                }],
                schema_url: self.resource_schema.clone(),
            }],
        };
        self.len = 0;
        bytes::Bytes::from(request.encode_to_vec())
    }
}
