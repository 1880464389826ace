//! `tracewire::describe()` gives the effective configuration: each setting with its source (code,
//! the variable that set it, the profile, or the default), the profile's rules, and no secret
//! (header values and credentials in URLs are redacted). Before `init` and after the guard is
//! dropped it says that tracing is not running. `OTEL_LOG_LEVEL=debug` writes it to standard
//! error at `init` (checked in a child process, this test binary run again).

mod support;

use std::collections::HashMap;
use std::time::Duration;

use tracewire::{Config, KeyValue, Profile, Sampler, SpanKind};

#[test]
fn every_setting_names_its_source_and_no_secret_is_shown() {
    let _serial = support::serial();
    assert!(tracewire::describe().starts_with("tracewire is not running"));

    let port = support::unused_port();
    let vars = HashMap::from([
        ("OTEL_SERVICE_NAME", "checkout".to_owned()),
        (
            "OTEL_RESOURCE_ATTRIBUTES",
            "service.namespace=shop,deployment.environment.name=production".to_owned(),
        ),
        (
            "OTEL_EXPORTER_OTLP_HEADERS",
            "authorization=Bearer%20hdr-s3cret".to_owned(),
        ),
        ("OTEL_BSP_MAX_QUEUE_SIZE", "100".to_owned()),
        (
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
            "http/protobuf".to_owned(),
        ),
    ]);
    let profile = Profile::new("acme")
        .require_resource_attribute("service.namespace")
        .redact_attribute("*password*")
        .max_attribute_value_length(1024)
        .normalize_span_names()
        .require_span_attribute(SpanKind::Server, "http.route")
        .with_default_endpoint(format!("http://agent:url-pa55@127.0.0.1:{port}"))
        .with_sampler_for_environment("production", Sampler::TraceIdRatio(0.1));
    let guard = Config::from_lookup(|name| vars.get(name).cloned())
        .expect("environment")
        .with_schedule_delay(Duration::from_millis(50))
        .with_header("x-api-key", "code-s3cret")
        .with_resource_attribute(KeyValue::new("team", "payments"))
        .with_diagnostics(tracewire::DiagLevel::None)
        .with_profile(profile)
        .init()
        .expect("init");
    let text = tracewire::describe();
    drop(guard);
    eprintln!("{text}");

    for line in [
        "tracewire configuration (profile \"acme\")",
        "  enabled: true (default)",
        "  service.name: checkout (OTEL_SERVICE_NAME)",
        "  sampler: TraceIdRatio(0.1) (profile \"acme\", for deployment.environment.name=production)",
        "  exporter: otlp (default)",
        "  protocol: http/protobuf (OTEL_EXPORTER_OTLP_TRACES_PROTOCOL)",
        &format!(
            "  endpoint: http://REDACTED:REDACTED@127.0.0.1:{port}/v1/traces (profile \"acme\")"
        ),
        "  headers: authorization=REDACTED,x-api-key=REDACTED (code and OTEL_EXPORTER_OTLP_HEADERS)",
        "  max_queue_size: 100 (OTEL_BSP_MAX_QUEUE_SIZE)",
        "  max_export_batch_size: 100 (default, capped at max_queue_size)",
        "  timeout: 10s (default)",
        "  schedule_delay: 50ms (code)",
        "  diagnostics: None (code)",
        "    service.namespace=shop (OTEL_RESOURCE_ATTRIBUTES)",
        "    team=payments (code)",
        "  profile \"acme\" rules (always applied):",
        "    require_resource_attribute(\"service.namespace\"): present",
        "    redact_attribute(\"*password*\")",
        "    max_attribute_value_length(1024)",
        "    normalize_span_names",
        "    require_span_attribute(server, \"http.route\")",
        "    with_sampler_for_environment(\"production\", TraceIdRatio(0.1))",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing line {line:?} in:\n{text}"
        );
    }
    for secret in ["hdr-s3cret", "Bearer", "code-s3cret", "url-pa55"] {
        assert!(!text.contains(secret), "{secret:?} leaked:\n{text}");
    }
    assert!(tracewire::describe().starts_with("tracewire is not running (no guard is alive)"));
}

#[test]
fn without_a_profile_the_defaults_and_the_code_are_named() {
    let _serial = support::serial();
    let guard = Config::default()
        .with_exporter_kind(tracewire::ExporterKind::Console)
        .with_sampler(Sampler::AlwaysOff)
        .init()
        .expect("init");
    let text = tracewire::describe();
    drop(guard);
    assert!(text.starts_with("tracewire configuration\n"), "{text}");
    for line in [
        "  exporter: console (code)",
        "  sampler: AlwaysOff (code)",
        "  propagators: tracecontext,baggage (default)",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing line {line:?} in:\n{text}"
        );
    }
    assert!(!text.contains("rules"));
}

/// Set in the child process of [`debug_level_prints_the_description_at_init`].
const CHILD: &str = "TRACEWIRE_TEST_DESCRIBE_CHILD";

fn stderr_of_init_with(level: &str) -> String {
    let output = std::process::Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "--exact",
            "debug_level_prints_the_description_at_init",
            "--nocapture",
        ])
        .env(CHILD, "1")
        .env("OTEL_LOG_LEVEL", level)
        .env("OTEL_TRACES_EXPORTER", "none")
        .env("OTEL_EXPORTER_OTLP_HEADERS", "authorization=child-s3cret")
        .output()
        .expect("run the child");
    assert!(output.status.success(), "{output:?}");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn debug_level_prints_the_description_at_init() {
    if std::env::var_os(CHILD).is_some() {
        let guard = Config::from_env()
            .expect("environment")
            .with_profile(Profile::new("acme").redact_attribute("*password*"))
            .init()
            .expect("init");
        drop(guard);
        return;
    }
    let debug = stderr_of_init_with("debug");
    assert!(
        debug.contains("tracewire debug: tracewire configuration (profile \"acme\")"),
        "{debug}"
    );
    assert!(
        debug.contains("  diagnostics: Debug (OTEL_LOG_LEVEL)"),
        "{debug}"
    );
    assert!(
        debug.contains("    redact_attribute(\"*password*\")"),
        "{debug}"
    );
    assert!(!debug.contains("child-s3cret"), "{debug}");
    let info = stderr_of_init_with("info");
    assert!(!info.contains("tracewire configuration"), "{info}");
}
