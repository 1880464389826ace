//! The policy stage: a profile's redaction, value caps, span-name normalisation and span
//! requirements, applied to finished span records on the export thread.
//!
//! It is one self-contained step between draining the thread buffers and encoding:
//! [`Policy::enforce`] takes a record and leaves it as it must be exported, counting what it
//! changed ([`Stats::attributes_redacted`](crate::Stats::attributes_redacted),
//! [`Stats::span_names_normalized`](crate::Stats::span_names_normalized)) and reporting each kind of
//! rule broken with a rate-limited diagnostic that names the rule and the span, never the value.
//! Nothing here runs on the thread that recorded the span.
//!
//! [`Policy::inspect`] walks the same rules without changing anything, for the conformance check.

use std::borrow::Cow;
use std::sync::atomic::Ordering;

use opentelemetry::trace::SpanKind;
use opentelemetry::{Array, KeyValue, StringValue, Value};

use super::GLOBAL;
use crate::diag::diag;
use crate::span::record::{SpanRecord, keep_last_of_each_key};

/// The value a redacted attribute is exported with.
pub(crate) const REDACTED: &str = "REDACTED";

/// Where an attribute sits in a span.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Place {
    Span,
    Event(String),
    Link(usize),
}

/// One rule a span breaks (or, on export, broke and had fixed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Finding {
    Redacted {
        place: Place,
        key: String,
        pattern: String,
    },
    TooLong {
        place: Place,
        key: String,
        length: usize,
        max: usize,
    },
    Renamed {
        to: String,
    },
    Missing {
        kind: SpanKind,
        key: String,
    },
}

/// A profile's policies, compiled for the export thread.
#[derive(Debug, Clone)]
pub(crate) struct Policy {
    pub(crate) profile: String,
    /// `(pattern as written, pattern lowercased)`.
    redact: Vec<(String, Vec<u8>)>,
    max_value_length: Option<usize>,
    normalize_names: bool,
    required: Vec<(SpanKind, String)>,
}

impl Policy {
    pub(crate) fn new(
        profile: String,
        redact: &[String],
        max_value_length: Option<usize>,
        normalize_names: bool,
        required: Vec<(SpanKind, String)>,
    ) -> Policy {
        Policy {
            profile,
            redact: redact
                .iter()
                .map(|p| (p.clone(), p.to_ascii_lowercase().into_bytes()))
                .collect(),
            max_value_length,
            normalize_names,
            required,
        }
    }

    /// Applies the policies to a record about to be encoded, counts what changed and reports
    /// each kind of rule broken (rate-limited; the rule and the span's name, never a value).
    pub(crate) fn enforce(&self, record: &mut SpanRecord) {
        let mut redacted = 0_u64;
        let mut normalized = 0_u64;
        let profile = &self.profile;
        self.walk(record, true, &mut |name, finding| {
            // One rate limit per kind of rule: each diag! line has its own.
            match &finding {
                Finding::Redacted { .. } => {
                    redacted += 1;
                    diag!(Warn, "{}", diagnostic(profile, name, &finding));
                }
                Finding::TooLong { .. } => diag!(Warn, "{}", diagnostic(profile, name, &finding)),
                Finding::Renamed { .. } => {
                    normalized += 1;
                    diag!(Warn, "{}", diagnostic(profile, name, &finding));
                }
                Finding::Missing { .. } => diag!(Warn, "{}", diagnostic(profile, name, &finding)),
            }
        });
        if redacted > 0 {
            GLOBAL
                .attributes_redacted
                .fetch_add(redacted, Ordering::Relaxed);
        }
        if normalized > 0 {
            GLOBAL
                .span_names_normalized
                .fetch_add(normalized, Ordering::Relaxed);
        }
    }

    /// Every rule `record` breaks, with the span's name as recorded; the record is not changed.
    #[cfg(any(test, feature = "testing"))]
    pub(crate) fn inspect(&self, record: &mut SpanRecord) -> Vec<Finding> {
        let mut findings = Vec::new();
        self.walk(record, false, &mut |_, finding| findings.push(finding));
        findings
    }

    /// Visits every rule on `record`, fixing what breaks one when `fix` is set. `found` gets the
    /// span's name as recorded and the finding.
    fn walk(&self, record: &mut SpanRecord, fix: bool, found: &mut dyn FnMut(&str, Finding)) {
        // Taken out (not cloned) while the rules look at it, and put back at the end.
        let mut name = std::mem::take(&mut record.rec.name);
        let kind = record.rec.kind.clone();
        if let Some(extras) = record.rec.extras.as_mut() {
            let kept = keep_last_of_each_key(&mut extras.attributes);
            extras.attributes.truncate(kept);
            self.attributes(&mut extras.attributes, &Place::Span, &name, fix, found);
            for event in &mut extras.events {
                let place = Place::Event(event.name.to_string());
                self.attributes(&mut event.attributes, &place, &name, fix, found);
            }
            for (i, link) in extras.links.iter_mut().enumerate() {
                self.attributes(&mut link.attributes, &Place::Link(i), &name, fix, found);
            }
        }
        for (required_kind, key) in &self.required {
            if *required_kind != kind {
                continue;
            }
            let has = record
                .rec
                .extras
                .as_ref()
                .is_some_and(|extras| extras.attributes.iter().any(|a| a.key.as_str() == key));
            if !has {
                let finding = Finding::Missing {
                    kind: kind.clone(),
                    key: key.clone(),
                };
                found(&name, finding);
            }
        }
        if self.normalize_names
            && let Some(to) = normalized_name(&name)
        {
            found(&name, Finding::Renamed { to: to.clone() });
            if fix {
                name = Cow::Owned(to);
            }
        }
        record.rec.name = name;
    }

    fn attributes(
        &self,
        attributes: &mut [KeyValue],
        place: &Place,
        name: &str,
        fix: bool,
        found: &mut dyn FnMut(&str, Finding),
    ) {
        for attribute in attributes {
            let key = attribute.key.as_str();
            if let Some((pattern, _)) = self
                .redact
                .iter()
                .find(|(_, lower)| matches(lower, key.as_bytes()))
            {
                let finding = Finding::Redacted {
                    place: place.clone(),
                    key: key.to_owned(),
                    pattern: pattern.clone(),
                };
                if fix {
                    attribute.value = Value::String(StringValue::from(REDACTED));
                }
                found(name, finding);
                continue;
            }
            let Some(max) = self.max_value_length else {
                continue;
            };
            let length = longest_string(&attribute.value);
            if length > max {
                let finding = Finding::TooLong {
                    place: place.clone(),
                    key: key.to_owned(),
                    length,
                    max,
                };
                if fix {
                    truncate_value(&mut attribute.value, max);
                }
                found(name, finding);
            }
        }
    }
}

/// The diagnostic for a rule that span `name` broke: the rule and the span, never a value.
fn diagnostic(profile: &str, name: &str, finding: &Finding) -> String {
    match finding {
        Finding::Redacted {
            place,
            key,
            pattern,
        } => format!(
            "profile {profile:?}: span {name:?} has {}, which rule redact_attribute({pattern:?}) \
             redacts on export; stop recording it",
            attribute(place, key)
        ),
        Finding::TooLong {
            place,
            key,
            length,
            max,
        } => format!(
            "profile {profile:?}: span {name:?} has {} of {length} bytes, over \
             max_attribute_value_length({max}); it is truncated on export",
            attribute(place, key)
        ),
        Finding::Renamed { to } => format!(
            "profile {profile:?}: span name {name:?} contains ids; rule normalize_span_names \
             exports it as {to:?} (name spans after their route or operation)"
        ),
        Finding::Missing { kind, key } => format!(
            "profile {profile:?}: span {name:?} ({}) lacks attribute {key:?}, which rule \
             require_span_attribute({}, {key:?}) requires",
            kind_name(kind),
            kind_name(kind)
        ),
    }
}

/// `attribute "k"`, `attribute "k" of event "e"`, `attribute "k" of link 0`.
pub(crate) fn attribute(place: &Place, key: &str) -> String {
    match place {
        Place::Span => format!("attribute {key:?}"),
        Place::Event(event) => format!("attribute {key:?} of event {event:?}"),
        Place::Link(i) => format!("attribute {key:?} of link {i}"),
    }
}

/// `client`, `server`... as the OTLP kinds are usually written.
pub(crate) fn kind_name(kind: &SpanKind) -> &'static str {
    match kind {
        SpanKind::Client => "client",
        SpanKind::Server => "server",
        SpanKind::Producer => "producer",
        SpanKind::Consumer => "consumer",
        SpanKind::Internal => "internal",
    }
}

/// Whether `key` matches the lowercased `pattern` as a whole; `*` matches any run of bytes and
/// letters compare ASCII case-insensitively.
fn matches(pattern: &[u8], key: &[u8]) -> bool {
    let (mut p, mut k) = (0, 0);
    // The last `*` seen, and where in the key its match currently ends.
    let mut star: Option<(usize, usize)> = None;
    while k < key.len() {
        if p < pattern.len() && pattern[p] == b'*' {
            star = Some((p, k));
            p += 1;
        } else if p < pattern.len() && pattern[p] == key[k].to_ascii_lowercase() {
            p += 1;
            k += 1;
        } else if let Some((star_at, matched_to)) = star {
            // Let the `*` take one more byte and try again after it.
            p = star_at + 1;
            k = matched_to + 1;
            star = Some((star_at, k));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&b| b == b'*')
}

/// The length of a string value, or of the longest string of a string array (0 for others).
fn longest_string(value: &Value) -> usize {
    match value {
        Value::String(s) => s.as_str().len(),
        Value::Array(Array::String(items)) => {
            items.iter().map(|s| s.as_str().len()).max().unwrap_or(0)
        }
        _ => 0,
    }
}

fn truncate_value(value: &mut Value, max: usize) {
    match value {
        Value::String(s) if s.as_str().len() > max => *s = truncated(s.as_str(), max),
        Value::Array(Array::String(items)) => {
            for s in items.iter_mut().filter(|s| s.as_str().len() > max) {
                *s = truncated(s.as_str(), max);
            }
        }
        _ => {}
    }
}

/// The longest prefix of at most `max` bytes that ends on a character boundary.
fn truncated(s: &str, max: usize) -> StringValue {
    StringValue::from(crate::span::limits::cut(s, max).to_owned())
}

/// Where span names are split into words and path segments.
fn is_separator(c: char) -> bool {
    c.is_ascii_whitespace() || matches!(c, '/' | '?' | '&' | '=')
}

/// `name` with every word or path segment that is an id replaced by `{id}`, or `None` when it has
/// none.
pub(crate) fn normalized_name(name: &str) -> Option<String> {
    if !name.split(is_separator).any(is_id) {
        return None;
    }
    let mut out = String::with_capacity(name.len());
    let mut rest = name;
    loop {
        let end = rest.find(is_separator).unwrap_or(rest.len());
        let (token, after) = rest.split_at(end);
        out.push_str(if is_id(token) { "{id}" } else { token });
        let mut chars = after.chars();
        match chars.next() {
            Some(separator) => out.push(separator),
            None => return Some(out),
        }
        rest = chars.as_str();
    }
}

/// A number, a UUID, or a hex id of 8 characters or more.
fn is_id(token: &str) -> bool {
    let bytes = token.as_bytes();
    if bytes.is_empty() {
        return false;
    }
    if bytes.iter().all(u8::is_ascii_digit) {
        return true;
    }
    if bytes.len() >= 8 && bytes.iter().all(u8::is_ascii_hexdigit) {
        return true;
    }
    is_uuid(bytes)
}

fn is_uuid(bytes: &[u8]) -> bool {
    bytes.len() == 36
        && bytes.iter().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => *b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_whole_keys_with_wildcards_ignoring_ascii_case() {
        let m = |p: &str, k: &str| matches(p.to_ascii_lowercase().as_bytes(), k.as_bytes());
        assert!(m("authorization", "Authorization"));
        assert!(!m("authorization", "authorization.scheme"));
        assert!(m("*password*", "user.PASSWORD_hash"));
        assert!(m("*password*", "password"));
        assert!(m("http.request.header.*", "http.request.header.cookie"));
        assert!(!m("http.request.header.*", "http.response.header.cookie"));
        assert!(m("*.token", "a.b.token"));
        assert!(!m("*.token", "token"));
        assert!(m("a*b*c", "aXXbYYc"));
        assert!(!m("a*b*c", "aXXcYYb"));
        assert!(m("*", ""));
    }

    #[test]
    fn ids_in_names_become_placeholders() {
        let n = |name: &str| normalized_name(name);
        assert_eq!(n("GET /users/12345").as_deref(), Some("GET /users/{id}"));
        assert_eq!(
            n("GET /orders/550e8400-e29b-41d4-a716-446655440000/items").as_deref(),
            Some("GET /orders/{id}/items")
        );
        assert_eq!(n("load deadbeef00").as_deref(), Some("load {id}"));
        assert_eq!(
            n("GET /search?page=2").as_deref(),
            Some("GET /search?page={id}")
        );
        assert_eq!(n("GET /users/{id}"), None);
        assert_eq!(n("GET /v2/users"), None);
        assert_eq!(n("cafe babe"), None, "short hex words stay");
        assert_eq!(n("checkout"), None);
        assert_eq!(n("GET  /a//7/").as_deref(), Some("GET  /a//{id}/"));
    }

    #[test]
    fn diagnostics_name_the_rule_and_the_span_never_the_value() {
        use crate::context::SpanContext;
        use crate::span::clock::Ticks;
        use crate::span::record::{Extras, Recording};
        let mut extras = Box::new(Extras::blank());
        extras.push_attribute(KeyValue::new("user.password", "s3cr3t"));
        extras.push_attribute(KeyValue::new("body", "y".repeat(30)));
        let mut record = SpanRecord {
            ctx: SpanContext::NONE,
            rec: Recording {
                name: "GET /users/12345".into(),
                kind: SpanKind::Server,
                parent_span_id: opentelemetry::trace::SpanId::INVALID,
                parent_remote: false,
                start: Ticks(0),
                extras: Some(extras),
            },
            end: Ticks(1),
        };
        let policy = Policy::new(
            "acme".into(),
            &["*password*".into()],
            Some(10),
            true,
            vec![(SpanKind::Server, "http.route".into())],
        );
        let findings = policy.inspect(&mut record);
        assert_eq!(findings.len(), 4);
        for finding in &findings {
            let line = diagnostic("acme", "GET /users/12345", finding);
            assert!(line.contains("\"GET /users/12345\""), "{line}");
            assert!(
                !line.contains("s3cr3t") && !line.contains("yyyyyyyyyyy"),
                "{line}"
            );
        }
        let lines: Vec<_> = findings
            .iter()
            .map(|f| diagnostic("acme", "GET /users/12345", f))
            .collect();
        assert!(lines[0].contains("redact_attribute(\"*password*\")"));
        assert!(lines[1].contains("max_attribute_value_length(10)"));
        assert!(lines[2].contains("require_span_attribute(server, \"http.route\")"));
        assert!(lines[3].contains("normalize_span_names"));
        // Enforcing fixes what inspecting only found.
        policy.enforce(&mut record);
        assert_eq!(record.rec.name, "GET /users/{id}");
        let attributes = &record.rec.extras.as_ref().unwrap().attributes;
        assert_eq!(attributes[0].value, Value::from(REDACTED));
        assert_eq!(attributes[1].value, Value::from("y".repeat(10)));
    }

    #[test]
    fn values_are_cut_at_a_character_boundary() {
        let mut value = Value::from("héllo wörld");
        truncate_value(&mut value, 2);
        assert_eq!(value, Value::from("h"));
        let mut array = Value::Array(Array::String(vec!["ééé".into(), "ok".into()]));
        truncate_value(&mut array, 3);
        assert_eq!(
            array,
            Value::Array(Array::String(vec!["é".into(), "ok".into()]))
        );
    }
}
