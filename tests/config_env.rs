//! Every `OTEL_*` variable with an unusable value is refused with a message that names the variable
//! and quotes its value, so an operator can fix the deployment from the log line alone.

use std::collections::HashMap;

use tracewire::{Config, InitError};

fn from_map(vars: &[(&str, &str)]) -> Result<Config, InitError> {
    let map: HashMap<&str, &str> = vars.iter().copied().collect();
    Config::from_lookup(|name| map.get(name).map(|v| (*v).to_owned()))
}

/// Asserts that `vars` are refused with an error naming `name` and its raw `value`.
fn refused(vars: &[(&str, &str)], name: &str, value: &str) -> String {
    let message = match from_map(vars) {
        Err(err @ InitError::InvalidEnv { .. }) => err.to_string(),
        Err(other) => panic!("{vars:?}: expected InvalidEnv, got {other:?}"),
        Ok(_) => panic!("{vars:?} should be refused"),
    };
    let quoted = format!("{name}={value:?}: expected");
    assert!(
        message.starts_with(&quoted),
        "{message:?} should start with {quoted:?}"
    );
    message
}

#[test]
fn every_variable_names_itself_and_its_value() {
    let cases: &[(&str, &str)] = &[
        ("OTEL_SDK_DISABLED", "maybe"),
        ("OTEL_RESOURCE_ATTRIBUTES", "team"),
        ("OTEL_TRACES_EXPORTER", "zipkin"),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
        ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "udp"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "grpc://collector:4317"),
        (
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            "http://collector:http",
        ),
        ("OTEL_EXPORTER_OTLP_HEADERS", "api-key"),
        ("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "bad name"),
        ("OTEL_EXPORTER_OTLP_INSECURE", "yes"),
        ("OTEL_EXPORTER_OTLP_TRACES_INSECURE", "1"),
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "10s"),
        ("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "-1"),
        ("OTEL_EXPORTER_OTLP_COMPRESSION", "zstd"),
        ("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "br"),
        ("OTEL_BSP_MAX_QUEUE_SIZE", "0"),
        ("OTEL_BSP_SCHEDULE_DELAY", "soon"),
        ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "-3"),
        ("OTEL_BSP_EXPORT_TIMEOUT", "1.5"),
        ("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "many"),
        ("OTEL_ATTRIBUTE_COUNT_LIMIT", "-1"),
        ("OTEL_SPAN_EVENT_COUNT_LIMIT", "x"),
        ("OTEL_SPAN_LINK_COUNT_LIMIT", "4294967296"),
        ("OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT", "1e3"),
        ("OTEL_LINK_ATTRIBUTE_COUNT_LIMIT", "lots"),
        ("OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", "long"),
        ("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "-10"),
        ("OTEL_LOG_LEVEL", "chatty"),
    ];
    for &(name, value) in cases {
        refused(&[(name, value)], name, value);
    }
}

#[test]
fn sampler_and_its_argument() {
    let message = refused(
        &[("OTEL_TRACES_SAMPLER", "xray")],
        "OTEL_TRACES_SAMPLER",
        "xray",
    );
    assert!(message.contains("parentbased_traceidratio"), "{message}");
    let vars = [
        ("OTEL_TRACES_SAMPLER", "traceidratio"),
        ("OTEL_TRACES_SAMPLER_ARG", "abc"),
    ];
    assert_eq!(
        refused(&vars, "OTEL_TRACES_SAMPLER_ARG", "abc"),
        r#"OTEL_TRACES_SAMPLER_ARG="abc": expected a number in [0, 1]"#
    );
}

#[test]
fn one_exporter_only() {
    let message = refused(
        &[("OTEL_TRACES_EXPORTER", "otlp,console")],
        "OTEL_TRACES_EXPORTER",
        "otlp,console",
    );
    assert!(
        message.contains("tracewire exports to one exporter"),
        "{message}"
    );
}

#[test]
fn the_raw_value_is_quoted_untrimmed() {
    refused(
        &[("OTEL_LOG_LEVEL", "  loud ")],
        "OTEL_LOG_LEVEL",
        "  loud ",
    );
}

#[test]
fn good_values_are_accepted() {
    let vars = [
        ("OTEL_SDK_DISABLED", "FALSE"),
        ("OTEL_SERVICE_NAME", "checkout"),
        ("OTEL_RESOURCE_ATTRIBUTES", "team=payments,note=a%20b"),
        ("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"),
        ("OTEL_TRACES_SAMPLER_ARG", "0.5"),
        ("OTEL_TRACES_EXPORTER", "none"),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
        (
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            "https://collector.example.com:4318/",
        ),
        ("OTEL_EXPORTER_OTLP_HEADERS", "api-key=abc%3D"),
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "2000"),
        ("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip"),
        ("OTEL_BSP_MAX_QUEUE_SIZE", "4096"),
        ("OTEL_BSP_SCHEDULE_DELAY", "1000"),
        ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "1024"),
        ("OTEL_BSP_EXPORT_TIMEOUT", "5000"),
        ("OTEL_ATTRIBUTE_COUNT_LIMIT", "64"),
        ("OTEL_LOG_LEVEL", "error"),
        ("OTEL_UNRELATED", "whatever"),
    ];
    if let Err(err) = from_map(&vars) {
        panic!("should be accepted: {err}");
    }
}

/// The only test here that touches the process environment (tests run in parallel threads).
#[test]
fn init_reports_a_bad_sampler_from_the_process_environment() {
    // SAFETY: no other test in this binary reads or writes the process environment.
    unsafe { std::env::set_var("OTEL_TRACES_SAMPLER", "sometimes") };
    let result = tracewire::init();
    unsafe { std::env::remove_var("OTEL_TRACES_SAMPLER") };
    match result {
        Err(err) => {
            let message = err.to_string();
            assert!(
                message.starts_with(r#"OTEL_TRACES_SAMPLER="sometimes": expected"#),
                "{message}"
            );
        }
        Ok(_guard) => panic!("a bad OTEL_TRACES_SAMPLER should stop init"),
    }
}

#[test]
fn header_errors_never_print_header_values() {
    let message = refused(
        &[(
            "OTEL_EXPORTER_OTLP_HEADERS",
            "authorization=Bearer%20t0ken,bad name=1",
        )],
        "OTEL_EXPORTER_OTLP_HEADERS",
        "authorization=<redacted>,bad name=<redacted>",
    );
    assert!(!message.contains("t0ken"), "{message}");
    assert!(message.contains("header name"), "{message}");
}
