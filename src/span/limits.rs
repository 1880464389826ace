//! The limits on what one span may hold; `config` sets them, the export side applies them.

/// Limits that keep one span from growing without bound (`OTEL_SPAN_*_LIMIT`).
///
/// What goes past a limit is dropped and counted in the span's `dropped_*_count` fields of OTLP.
///
/// # Examples
///
/// ```
/// let limits = tracewire::SpanLimits { max_attributes: 32, ..Default::default() };
/// let config = tracewire::Config::default().with_span_limits(limits);
/// # drop(config);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpanLimits {
    /// Attributes per span (`OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT`, default 128).
    pub max_attributes: u32,
    /// Events per span (`OTEL_SPAN_EVENT_COUNT_LIMIT`, default 128).
    pub max_events: u32,
    /// Links per span (`OTEL_SPAN_LINK_COUNT_LIMIT`, default 128).
    pub max_links: u32,
    /// Attributes per event (`OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT`, default 128).
    pub max_attributes_per_event: u32,
    /// Attributes per link (`OTEL_LINK_ATTRIBUTE_COUNT_LIMIT`, default 128).
    pub max_attributes_per_link: u32,
    /// Longest string attribute value in bytes, longer ones are truncated on a character boundary
    /// (`OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT`, default: no limit).
    pub max_attribute_value_length: Option<u32>,
}

impl Default for SpanLimits {
    fn default() -> Self {
        SpanLimits {
            max_attributes: 128,
            max_events: 128,
            max_links: 128,
            max_attributes_per_event: 128,
            max_attributes_per_link: 128,
            max_attribute_value_length: None,
        }
    }
}

/// The longest prefix of `s` of at most `max` bytes that ends on a character boundary: how every
/// length limit and cap cuts a string.
#[inline]
pub(crate) fn cut(s: &str, max: usize) -> &str {
    &s[..s.floor_char_boundary(max)]
}
