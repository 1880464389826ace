//! The [`Resource`] every exported span carries: who produced it.
//!
//! Precedence, lowest first: detected attributes (`host.name`, `process.pid`,
//! `process.executable.name`, `os.type`), then `OTEL_RESOURCE_ATTRIBUTES`, then attributes set in
//! code. Two exceptions, both from the OpenTelemetry specification: `service.name` belongs to the
//! deployment (`OTEL_SERVICE_NAME`, then `service.name` in `OTEL_RESOURCE_ATTRIBUTES`, then the code,
//! then `unknown_service:<executable>`), and `telemetry.sdk.*` always describe tracewire itself.

use opentelemetry::{Key, KeyValue, Value};
use opentelemetry_sdk::Resource;

use super::Layer;

const SERVICE_NAME: &str = "service.name";
const SERVICE_VERSION: &str = "service.version";

/// Builds the resource from the code and environment layers.
pub(crate) fn build(code: &Layer, env: &Layer) -> Resource {
    let executable = executable_name();
    // Later entries win over earlier ones with the same key.
    let mut attributes = detected(executable.as_deref());
    attributes.extend(env.resource_attributes.iter().cloned());
    attributes.extend(code.resource_attributes.iter().cloned());
    if let Some(version) = &code.service_version {
        attributes.push(KeyValue::new(SERVICE_VERSION, version.clone()));
    }
    attributes.push(KeyValue::new(
        SERVICE_NAME,
        service_name(code, env, executable.as_deref()),
    ));
    attributes.extend(telemetry_sdk());
    Resource::builder_empty()
        .with_attributes(attributes)
        .build()
}

/// `service.name`: the deployment's choice first, then the code's, then `unknown_service:<exe>`.
fn service_name(code: &Layer, env: &Layer, executable: Option<&str>) -> Value {
    let key = Key::from_static_str(SERVICE_NAME);
    let last = |attributes: &[KeyValue]| {
        attributes
            .iter()
            .rev()
            .find(|kv| kv.key == key)
            .map(|kv| kv.value.clone())
    };
    env.service_name
        .clone()
        .map(Value::from)
        .or_else(|| last(&env.resource_attributes))
        .or_else(|| code.service_name.clone().map(Value::from))
        .or_else(|| last(&code.resource_attributes))
        .unwrap_or_else(|| match executable {
            Some(exe) => Value::from(format!("unknown_service:{exe}")),
            None => Value::from("unknown_service"),
        })
}

/// The attributes that describe tracewire; nothing overrides them.
fn telemetry_sdk() -> [KeyValue; 3] {
    [
        KeyValue::new("telemetry.sdk.name", "tracewire"),
        KeyValue::new("telemetry.sdk.language", "rust"),
        KeyValue::new("telemetry.sdk.version", env!("CARGO_PKG_VERSION")),
    ]
}

/// What tracewire finds out about the host and process; the environment and code override it.
fn detected(executable: Option<&str>) -> Vec<KeyValue> {
    let mut attributes = vec![
        KeyValue::new("process.pid", i64::from(std::process::id())),
        KeyValue::new("os.type", os_type(std::env::consts::OS)),
    ];
    let host = gethostname::gethostname().to_string_lossy().into_owned();
    if !host.is_empty() {
        attributes.push(KeyValue::new("host.name", host));
    }
    if let Some(exe) = executable {
        attributes.push(KeyValue::new("process.executable.name", exe.to_owned()));
    }
    attributes
}

/// The file name of the running executable.
fn executable_name() -> Option<String> {
    let path = std::env::current_exe().ok()?;
    let name = path.file_name()?.to_string_lossy().into_owned();
    (!name.is_empty()).then_some(name)
}

/// Maps Rust's `std::env::consts::OS` to the semantic-conventions values of `os.type`.
fn os_type(os: &'static str) -> &'static str {
    match os {
        "macos" | "ios" | "tvos" | "watchos" | "visionos" => "darwin",
        "android" => "linux",
        "dragonfly" => "dragonflybsd",
        "illumos" => "solaris",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(resource: &Resource, key: &'static str) -> Option<String> {
        resource
            .get(&Key::from_static_str(key))
            .map(|v| v.to_string())
    }

    fn kv(key: &'static str, value: &'static str) -> KeyValue {
        KeyValue::new(key, value)
    }

    fn env_layer(vars: &[(&str, &str)]) -> Layer {
        let map: std::collections::HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        super::super::env::read(|name| map.get(name).cloned())
            .unwrap()
            .0
    }

    #[test]
    fn otel_service_name_beats_resource_attributes_and_code() {
        let env = env_layer(&[
            ("OTEL_SERVICE_NAME", "from-env"),
            ("OTEL_RESOURCE_ATTRIBUTES", "service.name=from-attributes"),
        ]);
        let code = Layer {
            service_name: Some("from-code".into()),
            ..Layer::default()
        };
        assert_eq!(
            get(&build(&code, &env), SERVICE_NAME).as_deref(),
            Some("from-env")
        );
    }

    #[test]
    fn resource_attribute_service_name_beats_code() {
        let env = env_layer(&[("OTEL_RESOURCE_ATTRIBUTES", "service.name=from-attributes")]);
        let code = Layer {
            service_name: Some("from-code".into()),
            ..Layer::default()
        };
        assert_eq!(
            get(&build(&code, &env), SERVICE_NAME).as_deref(),
            Some("from-attributes")
        );
    }

    #[test]
    fn code_service_name_is_used_when_the_environment_says_nothing() {
        let code = Layer {
            service_name: Some("from-code".into()),
            ..Layer::default()
        };
        assert_eq!(
            get(&build(&code, &Layer::default()), SERVICE_NAME).as_deref(),
            Some("from-code")
        );
        let code = Layer {
            resource_attributes: vec![kv(SERVICE_NAME, "attr")],
            ..Layer::default()
        };
        assert_eq!(
            get(&build(&code, &Layer::default()), SERVICE_NAME).as_deref(),
            Some("attr")
        );
    }

    #[test]
    fn service_name_defaults_to_unknown_service_with_the_executable() {
        let resource = build(&Layer::default(), &Layer::default());
        let name = get(&resource, SERVICE_NAME).unwrap();
        let exe = executable_name().unwrap();
        assert_eq!(name, format!("unknown_service:{exe}"));
        assert_eq!(get(&resource, "process.executable.name"), Some(exe));
    }

    #[test]
    fn service_version_comes_from_code_else_from_the_environment() {
        let env = env_layer(&[("OTEL_RESOURCE_ATTRIBUTES", "service.version=1.0")]);
        assert_eq!(
            get(&build(&Layer::default(), &env), SERVICE_VERSION).as_deref(),
            Some("1.0")
        );
        let code = Layer {
            service_version: Some("2.0".into()),
            ..Layer::default()
        };
        assert_eq!(
            get(&build(&code, &env), SERVICE_VERSION).as_deref(),
            Some("2.0")
        );
        assert_eq!(
            get(
                &build(&Layer::default(), &Layer::default()),
                SERVICE_VERSION
            ),
            None
        );
    }

    #[test]
    fn code_attributes_override_environment_attributes() {
        let env = env_layer(&[("OTEL_RESOURCE_ATTRIBUTES", "team=env,region=eu")]);
        let code = Layer {
            resource_attributes: vec![kv("team", "code")],
            ..Layer::default()
        };
        let resource = build(&code, &env);
        assert_eq!(get(&resource, "team").as_deref(), Some("code"));
        assert_eq!(get(&resource, "region").as_deref(), Some("eu"));
    }

    #[test]
    fn later_code_attributes_win_over_earlier_ones() {
        let code = Layer {
            resource_attributes: vec![kv("a", "1"), kv("a", "2")],
            ..Layer::default()
        };
        assert_eq!(
            get(&build(&code, &Layer::default()), "a").as_deref(),
            Some("2")
        );
    }

    #[test]
    fn detected_attributes_are_present_and_can_be_overridden() {
        let resource = build(&Layer::default(), &Layer::default());
        assert_eq!(
            resource.get(&Key::from_static_str("process.pid")),
            Some(Value::I64(i64::from(std::process::id())))
        );
        assert_eq!(
            get(&resource, "os.type").as_deref(),
            Some(os_type(std::env::consts::OS))
        );
        assert!(get(&resource, "host.name").is_some_and(|h| !h.is_empty()));

        let env = env_layer(&[(
            "OTEL_RESOURCE_ATTRIBUTES",
            "host.name=env-host,os.type=plan9",
        )]);
        let code = Layer {
            resource_attributes: vec![kv("host.name", "code-host")],
            ..Layer::default()
        };
        let resource = build(&code, &env);
        assert_eq!(get(&resource, "host.name").as_deref(), Some("code-host"));
        assert_eq!(get(&resource, "os.type").as_deref(), Some("plan9"));
    }

    #[test]
    fn telemetry_sdk_attributes_cannot_be_overridden() {
        let env = env_layer(&[("OTEL_RESOURCE_ATTRIBUTES", "telemetry.sdk.name=other")]);
        let code = Layer {
            resource_attributes: vec![kv("telemetry.sdk.language", "cobol")],
            ..Layer::default()
        };
        let resource = build(&code, &env);
        assert_eq!(
            get(&resource, "telemetry.sdk.name").as_deref(),
            Some("tracewire")
        );
        assert_eq!(
            get(&resource, "telemetry.sdk.language").as_deref(),
            Some("rust")
        );
        assert_eq!(
            get(&resource, "telemetry.sdk.version").as_deref(),
            Some(env!("CARGO_PKG_VERSION"))
        );
    }

    #[test]
    fn resource_attribute_values_are_percent_decoded() {
        let env = env_layer(&[("OTEL_RESOURCE_ATTRIBUTES", "k=a%20b%2Cc, other = x%3Dy ")]);
        let resource = build(&Layer::default(), &env);
        assert_eq!(get(&resource, "k").as_deref(), Some("a b,c"));
        assert_eq!(get(&resource, "other").as_deref(), Some("x=y"));
    }

    #[test]
    fn os_type_uses_semantic_convention_names() {
        assert_eq!(os_type("macos"), "darwin");
        assert_eq!(os_type("linux"), "linux");
        assert_eq!(os_type("windows"), "windows");
        assert_eq!(os_type("freebsd"), "freebsd");
        assert_eq!(os_type("dragonfly"), "dragonflybsd");
    }
}
