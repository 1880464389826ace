//! [`conformance`]: the spans of a closure checked against a profile's policies.

use std::fmt;

use opentelemetry::trace::SpanKind;
use opentelemetry_sdk::trace::SpanData;

use crate::Profile;
use crate::collector::capture;
use crate::collector::policy::{Finding, Place, kind_name};

/// Runs `f`, captures the spans it records (as [`capture`](super::capture) does: on this thread
/// and wherever it hands its context) and checks each against `profile`'s policies, as recorded,
/// before the export thread would fix anything.
///
/// A clean report means the export thread would change nothing and find nothing missing. The
/// profile's required resource attributes are not checked here: [`init`](crate::init) checks them.
///
/// # Examples
///
/// ```
/// use tracewire::{Profile, SpanKind};
///
/// let profile = Profile::new("acme")
///     .redact_attribute("authorization")
///     .normalize_span_names()
///     .require_span_attribute(SpanKind::Server, "http.route");
///
/// let report = tracewire::testing::conformance(&profile, || {
///     let span = tracewire::span_builder("GET /users/{id}")
///         .with_kind(SpanKind::Server)
///         .with_attribute("http.route", "/users/{id}")
///         .start();
///     span.end();
/// });
/// assert!(report.is_clean(), "{report}");
///
/// let report = tracewire::testing::conformance(&profile, || {
///     let span = tracewire::span("GET /users/12345");
///     span.set_attribute("authorization", "Bearer abc");
/// });
/// assert_eq!(report.violations().len(), 2);
/// assert!(report.to_string().contains("redact_attribute(\"authorization\")"));
/// assert!(!report.to_string().contains("Bearer abc"));
/// ```
pub fn conformance<R>(profile: &Profile, f: impl FnOnce() -> R) -> ConformanceReport {
    let (_, mut records, dropped) = capture::run(f);
    let policy = profile.policy();
    let mut violations = Vec::new();
    for record in &mut records {
        let span_name = record.rec.name.to_string();
        let span_kind = record.rec.kind.clone();
        for finding in policy.inspect(record) {
            violations.push(Violation::new(
                span_name.clone(),
                span_kind.clone(),
                finding,
            ));
        }
    }
    ConformanceReport {
        profile: profile.name().to_owned(),
        violations,
        spans: capture::to_span_data(records),
        dropped,
    }
}

/// What [`conformance`] found: each rule a captured span breaks. `Display` lists them, one line
/// each, naming the span, the rule and the attribute key (never a value).
#[derive(Debug, Clone)]
pub struct ConformanceReport {
    profile: String,
    violations: Vec<Violation>,
    spans: Vec<SpanData>,
    dropped: u64,
}

impl ConformanceReport {
    /// Whether no captured span breaks a rule.
    ///
    /// # Examples
    ///
    /// ```
    /// let report = tracewire::testing::conformance(&tracewire::Profile::new("acme"), || ());
    /// assert!(report.is_clean());
    /// ```
    pub fn is_clean(&self) -> bool {
        self.violations.is_empty()
    }

    /// Every violation, span by span in the order the spans ended.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracewire::testing::{Rule, conformance};
    ///
    /// let profile = tracewire::Profile::new("acme").normalize_span_names();
    /// let report = conformance(&profile, || tracewire::in_span("GET /users/12345", |_| ()));
    /// let violation = &report.violations()[0];
    /// assert_eq!(violation.span_name, "GET /users/12345");
    /// assert_eq!(violation.rule, Rule::NormalizeSpanNames { normalized: "GET /users/{id}".into() });
    /// ```
    pub fn violations(&self) -> &[Violation] {
        &self.violations
    }

    /// The spans that were checked, as recorded (nothing redacted or renamed).
    ///
    /// # Examples
    ///
    /// ```
    /// let report = tracewire::testing::conformance(&tracewire::Profile::new("acme"), || {
    ///     tracewire::in_span("work", |_| ())
    /// });
    /// assert_eq!(report.spans()[0].name, "work");
    /// ```
    pub fn spans(&self) -> &[SpanData] {
        &self.spans
    }
}

impl fmt::Display for ConformanceReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let checked = self.spans.len();
        let spans = if checked == 1 { "span" } else { "spans" };
        if self.is_clean() {
            write!(
                f,
                "profile {:?}: {checked} {spans} checked, no violations",
                self.profile
            )?;
        } else {
            let count = self.violations.len();
            let plural = if count == 1 {
                "violation"
            } else {
                "violations"
            };
            write!(
                f,
                "profile {:?}: {count} {plural} in {checked} {spans} checked",
                self.profile
            )?;
            for violation in &self.violations {
                write!(f, "\n  - {violation}")?;
            }
        }
        if self.dropped > 0 {
            write!(f, "\n  ({} more spans were not kept)", self.dropped)?;
        }
        Ok(())
    }
}

/// One rule one span breaks.
///
/// # Examples
///
/// ```
/// use tracewire::testing::{Location, Rule, conformance};
///
/// let profile = tracewire::Profile::new("acme").redact_attribute("*token*");
/// let report = conformance(&profile, || {
///     let span = tracewire::span("refresh");
///     span.add_event("issued", vec![tracewire::KeyValue::new("access_token", "t")]);
/// });
/// let violation = &report.violations()[0];
/// assert_eq!(violation.span_name, "refresh");
/// assert_eq!(violation.rule, Rule::RedactAttribute { pattern: "*token*".into() });
/// assert_eq!(violation.key.as_deref(), Some("access_token"));
/// assert_eq!(violation.location, Location::Event("issued".into()));
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Violation {
    /// The span's name, as recorded.
    pub span_name: String,
    /// The span's kind.
    pub span_kind: SpanKind,
    /// The rule.
    pub rule: Rule,
    /// The attribute at fault (none for a span name).
    pub key: Option<String>,
    /// Where that attribute is: on the span, on one of its events, or on one of its links.
    pub location: Location,
}

/// The profile rule a [`Violation`] breaks.
///
/// # Examples
///
/// ```
/// use tracewire::testing::{Rule, conformance};
///
/// let profile = tracewire::Profile::new("acme").max_attribute_value_length(4);
/// let report = conformance(&profile, || {
///     tracewire::in_span("upload", |span| span.set_attribute("file.name", "holiday.jpg"));
/// });
/// assert_eq!(report.violations()[0].rule, Rule::MaxAttributeValueLength { max: 4, length: 11 });
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Rule {
    /// [`Profile::redact_attribute`]: the attribute's value would be exported as `"REDACTED"`.
    /// Fix it at the source: do not record it.
    RedactAttribute {
        /// The pattern that matched the key.
        pattern: String,
    },
    /// [`Profile::max_attribute_value_length`]: the value would be truncated.
    MaxAttributeValueLength {
        /// The cap, in bytes.
        max: usize,
        /// The value's length, in bytes (the longest string of an array).
        length: usize,
    },
    /// [`Profile::normalize_span_names`]: the name contains ids.
    NormalizeSpanNames {
        /// The name as it would be exported.
        normalized: String,
    },
    /// [`Profile::require_span_attribute`]: a span of this kind lacks the attribute.
    RequireSpanAttribute {
        /// The kind the rule applies to.
        kind: SpanKind,
    },
}

/// Where the attribute of a [`Violation`] sits.
///
/// # Examples
///
/// ```
/// use tracewire::testing::{Location, conformance};
///
/// let profile = tracewire::Profile::new("acme").redact_attribute("authorization");
/// let report = conformance(&profile, || {
///     let cause = tracewire::span("cause").context().clone();
///     let attributes = vec![tracewire::KeyValue::new("authorization", "x")];
///     tracewire::span_builder("effect").with_link(&cause, attributes).start().end();
/// });
/// assert_eq!(report.violations()[0].location, Location::Link(0));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Location {
    /// On the span itself (or the span's name).
    Span,
    /// On the span's event of this name.
    Event(String),
    /// On the span's link at this index.
    Link(usize),
}

impl Violation {
    fn new(span_name: String, span_kind: SpanKind, finding: Finding) -> Violation {
        let location = |place: Place| match place {
            Place::Span => Location::Span,
            Place::Event(name) => Location::Event(name),
            Place::Link(i) => Location::Link(i),
        };
        let (rule, key, location) = match finding {
            Finding::Redacted {
                place,
                key,
                pattern,
            } => (
                Rule::RedactAttribute { pattern },
                Some(key),
                location(place),
            ),
            Finding::TooLong {
                place,
                key,
                length,
                max,
            } => (
                Rule::MaxAttributeValueLength { max, length },
                Some(key),
                location(place),
            ),
            Finding::Renamed { to } => (
                Rule::NormalizeSpanNames { normalized: to },
                None,
                Location::Span,
            ),
            Finding::Missing { kind, key } => (
                Rule::RequireSpanAttribute { kind },
                Some(key),
                Location::Span,
            ),
        };
        Violation {
            span_name,
            span_kind,
            rule,
            key,
            location,
        }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "span {:?} ({}): ",
            self.span_name,
            kind_name(&self.span_kind)
        )?;
        let key = self.key.as_deref().unwrap_or("");
        let attribute = match &self.location {
            Location::Span => format!("attribute {key:?}"),
            Location::Event(event) => format!("attribute {key:?} of event {event:?}"),
            Location::Link(i) => format!("attribute {key:?} of link {i}"),
        };
        match &self.rule {
            Rule::RedactAttribute { pattern } => write!(
                f,
                "{attribute} breaks redact_attribute({pattern:?}): it would be exported as \
                 \"REDACTED\"; stop recording it"
            ),
            Rule::MaxAttributeValueLength { max, length } => write!(
                f,
                "{attribute} breaks max_attribute_value_length({max}): {length} bytes would be \
                 truncated to {max}"
            ),
            Rule::NormalizeSpanNames { normalized } => write!(
                f,
                "name breaks normalize_span_names: it contains ids and would be exported as \
                 {normalized:?}"
            ),
            Rule::RequireSpanAttribute { kind } => write!(
                f,
                "breaks require_span_attribute({}, {key:?}): the attribute is missing",
                kind_name(kind)
            ),
        }
    }
}
