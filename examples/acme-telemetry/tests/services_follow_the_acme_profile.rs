//! The test every Acme service copies: its handlers, run under `conformance`, follow the profile.
//! (A handler that does not is reported rule by rule, so the check can fail.)

use acme_telemetry::testing::{Rule, conformance};
use acme_telemetry::{Context, SpanKind};

/// A handler written the Acme way.
fn get_user(id: u64) -> String {
    let span = acme_telemetry::span_builder("GET /users/{id}")
        .with_kind(SpanKind::Server)
        .with_attribute("http.route", "/users/{id}")
        .with_attribute("user.id", id as i64)
        .start();
    let _entered = span.enter();
    let cx = Context::current();
    std::thread::spawn(cx.wrap(move || {
        acme_telemetry::in_span("SELECT users", |query| {
            query.set_attribute("db.system.name", "postgresql");
            format!("user-{id}")
        })
    }))
    .join()
    .unwrap_or_default()
}

/// The same handler with the usual mistakes.
fn get_user_sloppily(id: u64, password: &str) {
    let span = acme_telemetry::span_builder(format!("GET /users/{id}"))
        .with_kind(SpanKind::Server)
        .start();
    span.set_attribute("db.password", password.to_owned());
}

#[test]
fn the_handlers_follow_the_acme_profile() {
    let report = conformance(&acme_telemetry::profile(), || get_user(12345));
    assert!(report.is_clean(), "{report}");
    assert_eq!(report.spans().len(), 2);
}

#[test]
fn a_sloppy_handler_is_reported() {
    let report = conformance(&acme_telemetry::profile(), || {
        get_user_sloppily(12345, "hunter2")
    });
    assert!(!report.to_string().contains("hunter2"));
    let rules: Vec<_> = report.violations().iter().map(|v| v.rule.clone()).collect();
    assert_eq!(
        rules,
        [
            Rule::RedactAttribute {
                pattern: "*password*".into()
            },
            Rule::RequireSpanAttribute {
                kind: SpanKind::Server
            },
            Rule::NormalizeSpanNames {
                normalized: "GET /users/{id}".into()
            },
        ]
    );
}
