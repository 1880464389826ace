//! A profile's defaults resolve below the code and the environment (code, then `OTEL_*`, then the
//! profile, then tracewire's defaults), its sampler follows the resource's
//! `deployment.environment.name`, and its required resource attributes are checked by `init`:
//! an error naming the profile, every missing attribute and how to set them, or a warning for a
//! warn-only profile.

mod support;

use std::collections::HashMap;
use std::time::Duration;

use support::{Receiver, Transport};
use tracewire::{Config, ExporterKind, InitError, KeyValue, Profile, Protocol, Sampler};

const WAIT: Duration = Duration::from_secs(15);

fn env(vars: &[(&str, &str)]) -> Config {
    let map: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    Config::from_lookup(|name| map.get(name).cloned()).expect("valid environment")
}

/// OTLP/HTTP to wherever the layers say, quickly, quietly.
fn otlp(config: Config) -> Config {
    config
        .with_exporter_kind(ExporterKind::Otlp)
        .with_protocol(Protocol::HttpProtobuf)
        .with_diagnostics(tracewire::DiagLevel::None)
        .with_schedule_delay(Duration::from_millis(50))
        .with_export_timeout(Duration::from_secs(2))
}

/// Records one span and says whether `receiver` got it.
fn arrives(config: Config, receiver: &Receiver) -> bool {
    let guard = config.init().expect("init");
    tracewire::span("probe").end();
    // The flush returns once the export succeeded or failed (within the 2 s export timeout).
    let wait = match tracewire::force_flush() {
        Ok(()) => WAIT,
        Err(_) => Duration::from_millis(200),
    };
    let arrived = !receiver.wait_for_spans(1, wait).is_empty();
    drop(guard);
    receiver.clear();
    arrived
}

#[test]
fn the_profile_endpoint_applies_only_when_code_and_environment_are_silent() {
    let _serial = support::serial();
    let receiver = Receiver::start(Transport::Http);
    let dead = support::dead_endpoint();
    let profile = |endpoint: &str| Profile::new("acme").with_default_endpoint(endpoint);

    // Profile default, nothing else set.
    assert!(arrives(
        otlp(env(&[])).with_profile(profile(&receiver.endpoint())),
        &receiver
    ));
    // The environment beats the profile.
    assert!(arrives(
        otlp(env(&[(
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            &receiver.endpoint()
        )]))
        .with_profile(profile(&dead)),
        &receiver
    ));
    // The code beats the environment and the profile.
    assert!(arrives(
        otlp(env(&[("OTEL_EXPORTER_OTLP_ENDPOINT", &dead)]))
            .with_endpoint(receiver.endpoint())
            .with_profile(profile(&dead)),
        &receiver
    ));
    // And the profile is really used when it points elsewhere (the check above can fail).
    assert!(!arrives(
        otlp(env(&[])).with_profile(profile(&dead)),
        &receiver
    ));
}

fn sampled_in(environment: &str, config: Config) -> bool {
    let guard = config
        .with_exporter_kind(ExporterKind::None)
        .with_resource_attribute(KeyValue::new(
            "deployment.environment.name",
            environment.to_owned(),
        ))
        .with_profile(
            Profile::new("acme").with_sampler_for_environment("production", Sampler::AlwaysOff),
        )
        .init()
        .expect("init");
    let sampled = tracewire::span("probe").context().is_sampled();
    drop(guard);
    sampled
}

#[test]
fn the_profile_sampler_follows_the_deployment_environment() {
    let _serial = support::serial();
    assert!(!sampled_in("production", env(&[])));
    assert!(
        sampled_in("staging", env(&[])),
        "other environments keep the default"
    );
    assert!(
        sampled_in("production", env(&[("OTEL_TRACES_SAMPLER", "always_on")])),
        "the environment beats the profile"
    );
    assert!(
        sampled_in(
            "production",
            env(&[("OTEL_TRACES_SAMPLER", "always_off")]).with_sampler(Sampler::AlwaysOn)
        ),
        "the code beats the environment"
    );
}

fn required() -> Profile {
    Profile::new("acme")
        .require_resource_attribute("service.namespace")
        .require_resource_attribute("deployment.environment.name")
}

#[test]
fn missing_required_attributes_fail_init_with_the_profile_the_names_and_the_fix() {
    let _serial = support::serial();
    let err = env(&[])
        .with_exporter_kind(ExporterKind::None)
        .with_profile(required())
        .init()
        .expect_err("must refuse");
    let InitError::MissingResourceAttributes { profile, missing } = &err else {
        panic!("unexpected error: {err}");
    };
    assert_eq!(profile, "acme");
    assert_eq!(
        missing,
        &["service.namespace", "deployment.environment.name"]
    );
    let message = err.to_string();
    for part in [
        "profile \"acme\"",
        "service.namespace, deployment.environment.name",
        "OTEL_RESOURCE_ATTRIBUTES=service.namespace=...,deployment.environment.name=...",
        "Config::with_resource_attribute",
    ] {
        assert!(message.contains(part), "{part:?} not in {message:?}");
    }

    // Only what is still missing is named.
    let err = env(&[("OTEL_RESOURCE_ATTRIBUTES", "service.namespace=shop")])
        .with_exporter_kind(ExporterKind::None)
        .with_profile(required())
        .init()
        .expect_err("must refuse");
    assert!(
        matches!(&err, InitError::MissingResourceAttributes { missing, .. } if missing == &["deployment.environment.name"]),
        "{err}"
    );
}

#[test]
fn requirements_are_met_from_the_environment_or_the_code() {
    let _serial = support::serial();
    let guard = env(&[(
        "OTEL_RESOURCE_ATTRIBUTES",
        "service.namespace=shop,deployment.environment.name=prod",
    )])
    .with_exporter_kind(ExporterKind::None)
    .with_profile(required())
    .init()
    .expect("met by the environment");
    drop(guard);
    let guard = env(&[("OTEL_RESOURCE_ATTRIBUTES", "service.namespace=shop")])
        .with_exporter_kind(ExporterKind::None)
        .with_resource_attribute(KeyValue::new("deployment.environment.name", "prod"))
        .with_profile(required())
        .init()
        .expect("met by the environment and the code");
    drop(guard);
}

#[test]
fn a_warn_only_profile_starts_anyway_and_a_disabled_sdk_needs_nothing() {
    let _serial = support::serial();
    let guard = env(&[])
        .with_exporter_kind(ExporterKind::None)
        .with_diagnostics(tracewire::DiagLevel::None)
        .with_profile(required().warn_only())
        .init()
        .expect("warn-only starts");
    assert!(tracewire::span("x").is_recording());
    drop(guard);
    let guard = env(&[("OTEL_SDK_DISABLED", "true")])
        .with_profile(required())
        .init()
        .expect("disabled needs no resource");
    drop(guard);
}

#[test]
fn a_service_cannot_soften_the_requirements_with_a_second_profile() {
    let _serial = support::serial();
    let err = env(&[])
        .with_exporter_kind(ExporterKind::None)
        .with_profile(required())
        .with_profile(Profile::new("mine").warn_only())
        .init()
        .expect_err("still required");
    assert!(
        matches!(err, InitError::MissingResourceAttributes { .. }),
        "{err}"
    );
}

#[test]
fn a_bad_profile_default_is_an_error_naming_the_profile_method() {
    let _serial = support::serial();
    let err = env(&[])
        .with_profile(Profile::new("acme").with_default_endpoint("otel-agent:4318"))
        .init()
        .expect_err("not a URL");
    assert!(
        err.to_string()
            .starts_with("Profile::with_default_endpoint = \"otel-agent:4318\""),
        "{err}"
    );
    let err = env(&[])
        .with_profile(
            Profile::new("acme").with_sampler_for_environment("prod", Sampler::TraceIdRatio(2.0)),
        )
        .init()
        .expect_err("not a ratio");
    assert!(
        err.to_string()
            .contains("Profile::with_sampler_for_environment"),
        "{err}"
    );
}
