//! `testing::conformance` reports every rule of a profile a span breaks (a key that would be
//! redacted, on the span, an event or a link; a value over the cap; a name with ids; a missing
//! required span attribute), names the span, the rule and the key, never a value, and is clean for
//! code that follows the profile. It needs no `init` and sees spans on threads given the context.
#![cfg(feature = "testing")]

use tracewire::testing::{Location, Rule, conformance};
use tracewire::{Context, KeyValue, Profile, SpanKind};

const SECRET: &str = "s3cr3t-value-never-printed";

fn acme() -> Profile {
    Profile::new("acme")
        .require_resource_attribute("service.namespace")
        .redact_attribute("*password*")
        .redact_attribute("authorization")
        .max_attribute_value_length(16)
        .normalize_span_names()
        .require_span_attribute(SpanKind::Server, "http.route")
}

/// One server span that breaks every rule.
fn bad_handler() {
    let cause = tracewire::span("cause").context().clone();
    let span = tracewire::span_builder("GET /users/12345")
        .with_kind(SpanKind::Server)
        .with_link(&cause, vec![KeyValue::new("authorization", SECRET)])
        .start();
    span.set_attribute("user.password", SECRET);
    span.set_attribute("request.body", "x".repeat(40));
    span.add_event("login", vec![KeyValue::new("Password", SECRET)]);
    span.end();
}

#[test]
fn a_span_that_breaks_every_rule_is_reported_rule_by_rule() {
    let report = conformance(&acme(), bad_handler);
    let text = report.to_string();
    eprintln!("{text}");
    assert!(!report.is_clean());
    assert!(
        !text.contains(SECRET),
        "a value leaked into the report: {text}"
    );
    assert!(
        !text.contains(&"x".repeat(17)),
        "a value leaked into the report: {text}"
    );

    let rules: Vec<_> = report
        .violations()
        .iter()
        .map(|v| {
            (
                v.span_name.as_str(),
                v.rule.clone(),
                v.key.clone(),
                v.location.clone(),
            )
        })
        .collect();
    let span = "GET /users/12345";
    let redact = |pattern: &str| Rule::RedactAttribute {
        pattern: pattern.into(),
    };
    assert_eq!(
        rules,
        vec![
            (
                span,
                redact("*password*"),
                Some("user.password".into()),
                Location::Span
            ),
            (
                span,
                Rule::MaxAttributeValueLength {
                    max: 16,
                    length: 40
                },
                Some("request.body".into()),
                Location::Span
            ),
            (
                span,
                redact("*password*"),
                Some("Password".into()),
                Location::Event("login".into())
            ),
            (
                span,
                redact("authorization"),
                Some("authorization".into()),
                Location::Link(0)
            ),
            (
                span,
                Rule::RequireSpanAttribute {
                    kind: SpanKind::Server
                },
                Some("http.route".into()),
                Location::Span
            ),
            (
                span,
                Rule::NormalizeSpanNames {
                    normalized: "GET /users/{id}".into()
                },
                None,
                Location::Span
            ),
        ]
    );
    assert!(text.starts_with("profile \"acme\": 6 violations in 2 spans checked"));
    for part in [
        "span \"GET /users/12345\" (server): attribute \"user.password\" breaks redact_attribute(\"*password*\")",
        "attribute \"Password\" of event \"login\"",
        "attribute \"authorization\" of link 0",
        "breaks max_attribute_value_length(16): 40 bytes",
        "breaks require_span_attribute(server, \"http.route\")",
        "would be exported as \"GET /users/{id}\"",
    ] {
        assert!(text.contains(part), "{part:?} not in:\n{text}");
    }
    // The report keeps the spans as recorded: conformance changes nothing.
    let recorded = report
        .spans()
        .iter()
        .find(|s| s.name == span)
        .expect("the span as recorded");
    assert!(
        recorded
            .attributes
            .iter()
            .any(|kv| kv.value.as_str() == SECRET)
    );
}

#[test]
fn code_that_follows_the_profile_is_clean_even_across_threads() {
    let report = conformance(&acme(), || {
        let span = tracewire::span_builder("GET /users/{id}")
            .with_kind(SpanKind::Server)
            .with_attribute("http.route", "/users/{id}")
            .start();
        let _entered = span.enter();
        let cx = Context::current();
        std::thread::spawn(
            cx.wrap(|| tracewire::in_span("SELECT users", |s| s.set_attribute("db.rows", 1_i64))),
        )
        .join()
        .unwrap();
    });
    assert!(report.is_clean(), "{report}");
    assert_eq!(report.spans().len(), 2);
    assert_eq!(
        report.to_string(),
        "profile \"acme\": 2 spans checked, no violations"
    );
}

#[test]
fn a_violation_on_another_thread_is_found() {
    let report =
        conformance(&acme(), || {
            tracewire::in_span("job", |_| {
                let cx = Context::current();
                std::thread::spawn(cx.wrap(|| {
                    tracewire::in_span("worker", |s| s.set_attribute("db.password", SECRET))
                }))
                .join()
                .unwrap();
            })
        });
    assert_eq!(report.violations().len(), 1, "{report}");
    assert_eq!(report.violations()[0].span_name, "worker");
}
