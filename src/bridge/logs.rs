//! Log correlation: the current trace and span ids, and (feature `tracing`) `tracing_subscriber::fmt`
//! layers whose lines carry them.
//!
//! A line written inside a span ends with ` trace_id=<32 hex> span_id=<16 hex>` (plain text) or
//! starts with `"trace_id":"…","span_id":"…"` (JSON); outside any span it has no ids. The ids are
//! those of the event's explicit `parent:` when it has one, and otherwise of tracewire's current
//! span context ([`current_span_context`]): the innermost `tracing` span recorded by
//! [`tracing_layer`](crate::tracing_layer), tracewire span or OpenTelemetry API span.
//!
//! Records of the `log` crate go through the same lines once `tracing-log`'s `LogTracer` forwards
//! them to `tracing`; `SubscriberInitExt::init` of tracing-subscriber (as tracewire enables it)
//! installs it.

use opentelemetry::trace::{SpanId, TraceId};

use crate::context::current_span_context;

/// The trace id of the current span, or `None` outside any span.
///
/// The id is given for spans that are not sampled too (they are not exported, but the id still
/// ties the lines of one request together across services).
///
/// # Examples
///
/// ```
/// # fn main() -> Result<(), tracewire::InitError> {
/// let _guard = tracewire::Config::default().with_exporter_kind(tracewire::ExporterKind::None).init()?;
/// assert_eq!(tracewire::current_trace_id(), None);
/// tracewire::in_span("request", |span| {
///     assert_eq!(tracewire::current_trace_id(), Some(span.context().trace_id()));
/// });
/// # Ok(())
/// # }
/// ```
pub fn current_trace_id() -> Option<TraceId> {
    let current = current_span_context();
    current.is_valid().then(|| current.trace_id())
}

/// The span id of the current span, or `None` outside any span.
///
/// # Examples
///
/// ```
/// # fn main() -> Result<(), tracewire::InitError> {
/// let _guard = tracewire::Config::default().with_exporter_kind(tracewire::ExporterKind::None).init()?;
/// assert_eq!(tracewire::current_span_id(), None);
/// tracewire::in_span("request", |span| {
///     assert_eq!(tracewire::current_span_id(), Some(span.context().span_id()));
/// });
/// # Ok(())
/// # }
/// ```
pub fn current_span_id() -> Option<SpanId> {
    let current = current_span_context();
    current.is_valid().then(|| current.span_id())
}

#[cfg(feature = "tracing-json")]
pub use fmt_format::json_fmt_layer;
#[cfg(feature = "tracing")]
pub use fmt_format::{TraceIdFormat, fmt_layer};

#[cfg(feature = "tracing")]
mod fmt_format {
    use std::fmt::{self, Write as _};

    use tracing::{Event, Subscriber};
    use tracing_subscriber::fmt::format::{DefaultFields, Format, Full, Writer};
    use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
    use tracing_subscriber::registry::LookupSpan;

    use crate::context::{SpanContext, current_span_context};

    /// A `tracing_subscriber::fmt` event format that adds the trace and span ids to the lines
    /// another format writes.
    ///
    /// [`fmt_layer`] (and `json_fmt_layer`, feature `tracing-json`) are ready-made; wrap your own
    /// format with [`TraceIdFormat::text`] or [`TraceIdFormat::json`]. The wrapped format writes
    /// into a buffer, so its ANSI colours are off.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracing_subscriber::prelude::*;
    ///
    /// let compact = tracing_subscriber::fmt::format().compact().without_time();
    /// let logs = tracing_subscriber::fmt::layer().event_format(tracewire::TraceIdFormat::text(compact));
    /// let subscriber = tracing_subscriber::registry().with(tracewire::tracing_layer()).with(logs);
    /// # drop(subscriber);
    /// ```
    #[derive(Clone, Debug)]
    pub struct TraceIdFormat<F> {
        inner: F,
        json: bool,
    }

    impl<F> TraceIdFormat<F> {
        /// Appends ` trace_id=… span_id=…` to each line that `inner` writes inside a span.
        ///
        /// # Examples
        ///
        /// ```
        /// let format = tracewire::TraceIdFormat::text(tracing_subscriber::fmt::format());
        /// # drop(format);
        /// ```
        pub fn text(inner: F) -> Self {
            TraceIdFormat { inner, json: false }
        }

        /// Adds `"trace_id"` and `"span_id"` keys to each JSON object that `inner` writes inside a
        /// span (`inner` must write one JSON object per line, as tracing-subscriber's `json`
        /// format does).
        ///
        /// # Examples
        ///
        /// ```
        /// let format = tracewire::TraceIdFormat::json(tracing_subscriber::fmt::format());
        /// # drop(format);
        /// ```
        pub fn json(inner: F) -> Self {
            TraceIdFormat { inner, json: true }
        }
    }

    /// The context whose ids an event's line carries.
    fn event_context<S, N>(ctx: &FmtContext<'_, S, N>, event: &Event<'_>) -> SpanContext
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
        N: for<'a> FormatFields<'a> + 'static,
    {
        if event.is_root() {
            return SpanContext::NONE;
        }
        if !event.is_contextual()
            && let Some(found) = ctx.event_scope().and_then(|scope| {
                scope
                    .into_iter()
                    .find_map(|span| super::super::layer::recorded_context(&span))
            })
        {
            return found;
        }
        current_span_context()
    }

    impl<S, N, F> FormatEvent<S, N> for TraceIdFormat<F>
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
        N: for<'a> FormatFields<'a> + 'static,
        F: FormatEvent<S, N>,
    {
        fn format_event(
            &self,
            ctx: &FmtContext<'_, S, N>,
            mut writer: Writer<'_>,
            event: &Event<'_>,
        ) -> fmt::Result {
            let span = event_context(ctx, event);
            if !span.is_valid() {
                return self.inner.format_event(ctx, writer, event);
            }
            let mut line = String::with_capacity(256);
            self.inner
                .format_event(ctx, Writer::new(&mut line), event)?;
            let ids = (span.trace_id(), span.span_id());
            if self.json {
                splice_json(&mut line, ids)?;
            } else {
                let end = line.trim_end_matches('\n').len();
                line.truncate(end);
                write!(line, " trace_id={} span_id={}", ids.0, ids.1)?;
                line.push('\n');
            }
            writer.write_str(&line)
        }
    }

    /// Inserts the ids as the first keys of the JSON object in `line`.
    fn splice_json(
        line: &mut String,
        (trace_id, span_id): (opentelemetry::trace::TraceId, opentelemetry::trace::SpanId),
    ) -> fmt::Result {
        let Some(open) = line.find('{') else {
            return Ok(()); // not an object: leave the line as it is
        };
        let empty = line[open + 1..].trim_start().starts_with('}');
        let mut keys = String::with_capacity(64);
        write!(
            keys,
            "\"trace_id\":\"{trace_id}\",\"span_id\":\"{span_id}\""
        )?;
        if !empty {
            keys.push(',');
        }
        line.insert_str(open + 1, &keys);
        Ok(())
    }

    /// A `tracing_subscriber::fmt` layer (tracing-subscriber's full format, to standard output) whose
    /// lines end with the trace and span ids inside a span:
    ///
    /// ```text
    /// 2026-11-27T11:32:07.519211Z  INFO checkout: shop: charging card amount=42 trace_id=4bf92f3577b34da6a3ce929d0e0e4736 span_id=00f067aa0ba902b7
    /// ```
    ///
    /// Change it like any fmt layer (`.with_writer(..)`, `.with_target(false)`, …); for another
    /// format, wrap it in [`TraceIdFormat`].
    ///
    /// # Examples
    ///
    /// ```
    /// use tracing_subscriber::prelude::*;
    ///
    /// # fn main() -> Result<(), tracewire::InitError> {
    /// let _guard = tracewire::Config::default().with_exporter_kind(tracewire::ExporterKind::None).init()?;
    /// tracing_subscriber::registry()
    ///     .with(tracing_subscriber::EnvFilter::new("info"))
    ///     .with(tracewire::tracing_layer())
    ///     .with(tracewire::fmt_layer())
    ///     .init(); // also forwards the `log` crate's records (tracing-log's LogTracer)
    /// tracing::info_span!("checkout").in_scope(|| tracing::info!(amount = 42, "charging card"));
    /// # Ok(())
    /// # }
    /// ```
    pub fn fmt_layer<S>()
    -> tracing_subscriber::fmt::Layer<S, DefaultFields, TraceIdFormat<Format<Full>>>
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        tracing_subscriber::fmt::layer()
            .event_format(TraceIdFormat::text(tracing_subscriber::fmt::format()))
    }

    /// A `tracing_subscriber::fmt` layer writing one JSON object per line (tracing-subscriber's
    /// `json` format, to standard output), with `"trace_id"` and `"span_id"` inside a span:
    ///
    /// ```text
    /// {"trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"00f067aa0ba902b7","timestamp":"2026-11-27T11:32:07.519211Z","level":"INFO","fields":{"message":"charging card","amount":42},"target":"shop","span":{"name":"checkout"},"spans":[{"name":"checkout"}]}
    /// ```
    ///
    /// # Examples
    ///
    /// ```
    /// use tracing_subscriber::prelude::*;
    ///
    /// let subscriber = tracing_subscriber::registry()
    ///     .with(tracewire::tracing_layer())
    ///     .with(tracewire::json_fmt_layer());
    /// # drop(subscriber);
    /// ```
    #[cfg(feature = "tracing-json")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tracing-json")))]
    pub fn json_fmt_layer<S>() -> tracing_subscriber::fmt::Layer<
        S,
        tracing_subscriber::fmt::format::JsonFields,
        TraceIdFormat<Format<tracing_subscriber::fmt::format::Json>>,
    >
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        tracing_subscriber::fmt::layer()
            .fmt_fields(tracing_subscriber::fmt::format::JsonFields::new())
            .event_format(TraceIdFormat::json(
                tracing_subscriber::fmt::format().json(),
            ))
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use opentelemetry::trace::{SpanId, TraceId};

        #[test]
        fn ids_become_the_first_keys_of_the_object() {
            let ids = (TraceId::from(1_u128), SpanId::from(2_u64));
            let mut line = String::from("{\"level\":\"INFO\"}\n");
            splice_json(&mut line, ids).unwrap();
            assert_eq!(
                line,
                "{\"trace_id\":\"00000000000000000000000000000001\",\"span_id\":\"0000000000000002\",\"level\":\"INFO\"}\n"
            );
            let mut empty = String::from("{}");
            splice_json(&mut empty, ids).unwrap();
            assert!(empty.ends_with("\"0000000000000002\"}"), "{empty}");
        }
    }
}
