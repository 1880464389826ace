//! A profile's policies run on the export thread before encoding: what reaches a real OTLP
//! receiver is redacted (span, event and link attributes), capped at a character boundary and
//! normalised, the secrets' bytes appear in no request body, and `stats()` counts what changed.
//! A service adds rules; it cannot take the profile's away. Span requirements are reported, not
//! enforced by dropping.

mod support;

use std::time::Duration;

use support::{Receiver, Transport, any_value, array_attr, find, str_attr};
use tracewire::{Array, KeyValue, Profile, SpanKind, Value};

const WAIT: Duration = Duration::from_secs(15);
const PASSWORD: &str = "hunter2-very-secret-password";
const TOKEN: &str = "Bearer tok_4f9a1c2e8b7d6a5f";
const EVENT_SECRET: &str = "event-secret-e3b0c442";
const LINK_SECRET: &str = "link-secret-98fc1c14";
const CARD: &str = "4111111111111111";

fn acme() -> Profile {
    Profile::new("acme")
        .redact_attribute("*password*")
        .redact_attribute("authorization")
        .max_attribute_value_length(8)
        .normalize_span_names()
        .require_span_attribute(SpanKind::Server, "http.route")
}

fn record() {
    let linked = tracewire::span("linked");
    let linked_ctx = linked.context().clone();
    linked.end();
    let span = tracewire::span_builder("GET /users/12345")
        .with_kind(SpanKind::Server)
        .with_link(
            &linked_ctx,
            vec![KeyValue::new("link.Password", LINK_SECRET)],
        )
        .start();
    span.set_attribute("user.password", PASSWORD);
    span.set_attribute("Authorization", TOKEN);
    span.set_attribute("password.length", 28_i64); // redacted whatever its type
    span.set_attribute("note", "héllo wörld"); // 12 bytes: cut to 8 at a boundary
    span.set_attribute(
        "tags",
        Value::Array(Array::String(vec!["x".into(), "ééééé".into()])), // 10 bytes: 8 kept
    );
    span.set_attribute("card.number", CARD);
    span.add_event(
        "login",
        vec![
            KeyValue::new("password", EVENT_SECRET),
            KeyValue::new("ok", true),
        ],
    );
    span.end();
}

fn export_through(transport: Transport) {
    let _serial = support::serial();
    let receiver = Receiver::start(transport);
    let guard = support::config_for(&receiver)
        .with_profile(acme())
        // The service adds a rule of its own, and tries a looser cap: the profile's stays.
        .with_profile(
            Profile::new("checkout")
                .redact_attribute("card.*")
                .max_attribute_value_length(4096),
        )
        .init()
        .expect("init");
    record();
    tracewire::force_flush().expect("flush");
    let spans = receiver.wait_for_spans(2, WAIT);
    let stats = tracewire::stats();
    drop(guard);

    let server = find(&spans, "GET /users/{id}");
    assert_eq!(str_attr(server, "user.password"), Some("REDACTED"));
    assert_eq!(str_attr(server, "Authorization"), Some("REDACTED"));
    assert_eq!(str_attr(server, "password.length"), Some("REDACTED"));
    assert_eq!(str_attr(server, "card.number"), Some("REDACTED"));
    assert_eq!(str_attr(server, "note"), Some("héllo w"));
    let tags = array_attr(server, "tags").expect("tags");
    let strings: Vec<_> = tags
        .iter()
        .map(|v| match v {
            any_value::Value::StringValue(s) => s.as_str(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(strings, ["x", "éééé"]);
    let login = server.event("login").expect("event");
    assert_eq!(str_attr(login, "password"), Some("REDACTED"));
    assert_eq!(server.span.links.len(), 1);
    assert_eq!(
        str_attr(&server.span.links[0], "link.Password"),
        Some("REDACTED")
    );
    assert_eq!(stats.attributes_redacted, 6, "{stats:#?}");
    assert_eq!(stats.span_names_normalized, 1, "{stats:#?}");
    assert_eq!(stats.spans_exported, 2, "{stats:#?}");

    // Redaction happened before encoding: no request carried any secret's bytes.
    let requests = receiver.requests();
    assert!(!requests.is_empty());
    for request in &requests {
        for secret in [PASSWORD, TOKEN, EVENT_SECRET, LINK_SECRET, CARD, "12345"] {
            assert!(
                !contains(&request.body, secret.as_bytes()),
                "{secret:?} is in a {transport:?} request body"
            );
        }
        assert!(
            contains(&request.body, b"REDACTED"),
            "sanity: the body is the protobuf"
        );
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn secrets_never_reach_an_http_receiver() {
    export_through(Transport::Http);
}

#[test]
fn secrets_never_reach_a_grpc_receiver() {
    export_through(Transport::Grpc);
}

#[test]
fn without_a_profile_nothing_is_changed_or_counted() {
    let _serial = support::serial();
    let receiver = Receiver::start(Transport::Http);
    let guard = support::config_for(&receiver).init().expect("init");
    record();
    tracewire::force_flush().expect("flush");
    let spans = receiver.wait_for_spans(2, WAIT);
    let stats = tracewire::stats();
    drop(guard);
    let server = find(&spans, "GET /users/12345");
    assert_eq!(str_attr(server, "user.password"), Some(PASSWORD));
    assert_eq!(
        (stats.attributes_redacted, stats.span_names_normalized),
        (0, 0)
    );
    let bodies: Vec<u8> = receiver
        .requests()
        .into_iter()
        .flat_map(|r| r.body)
        .collect();
    assert!(
        contains(&bodies, PASSWORD.as_bytes()),
        "the check above can fail"
    );
}

#[test]
fn a_span_missing_a_required_attribute_is_still_exported() {
    let _serial = support::serial();
    let receiver = Receiver::start(Transport::Http);
    let guard = support::config_for(&receiver)
        .with_profile(acme())
        .init()
        .expect("init");
    tracewire::span_builder("GET /health")
        .with_kind(SpanKind::Server)
        .start()
        .end();
    tracewire::force_flush().expect("flush");
    let spans = receiver.wait_for_spans(1, WAIT);
    drop(guard);
    assert_eq!(find(&spans, "GET /health").span.attributes.len(), 0);
}
