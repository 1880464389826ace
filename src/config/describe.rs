//! [`describe`]: the configuration `init` resolved, each setting with where it came from.

use std::fmt::Write as _;
use std::sync::Mutex;

use opentelemetry::KeyValue;

use super::{ExporterSettings, Resolved};
use super::{Layer, Profile};
use crate::collector::policy::kind_name;
use crate::redact::redact_url;

/// What `describe` needs from a `Config` before `resolve` consumes it.
pub(crate) struct Sources {
    code: Layer,
    env: Layer,
    env_vars: Vec<&'static str>,
    custom_exporter: bool,
}

impl Sources {
    pub(crate) fn of(config: &super::Config) -> Sources {
        Sources {
            code: config.code.clone(),
            env: config.env.clone(),
            env_vars: config.env_vars.clone(),
            custom_exporter: config.custom_exporter.is_some(),
        }
    }

    /// The first of `vars` that was set, else the last (the one every setting has).
    fn var(&self, vars: &[&'static str]) -> String {
        vars.iter()
            .find(|v| self.env_vars.contains(v))
            .or(vars.last())
            .map_or_else(String::new, |v| (*v).to_owned())
    }

    /// `code`, the variable, or `default`, for a setting read from `code` and `env`.
    fn of_setting<T>(&self, code: &Option<T>, env: &Option<T>, vars: &[&'static str]) -> String {
        if code.is_some() {
            "code".to_owned()
        } else if env.is_some() {
            self.var(vars)
        } else {
            "default".to_owned()
        }
    }
}

static DESCRIPTION: Mutex<Option<String>> = Mutex::new(None);

/// Keeps the description of the configuration `init` starts with.
pub(crate) fn store(text: String) {
    let mut slot = DESCRIPTION.lock().unwrap_or_else(|e| e.into_inner());
    *slot = Some(text);
}

/// The effective configuration of the running tracewire: every setting with its value and its
/// source (`code`, the `OTEL_*` variable that set it, `profile "<name>"`, or `default`), then the
/// profile's rules. Header values and credentials in URLs are shown as `REDACTED`.
///
/// It answers "why are my spans not arriving?" without reading source code. With
/// `OTEL_LOG_LEVEL=debug`, [`init`](crate::init) writes it to standard error.
///
/// # Examples
///
/// ```
/// # fn main() -> Result<(), tracewire::InitError> {
/// let _guard = tracewire::Config::default()
///     .with_exporter_kind(tracewire::ExporterKind::None)
///     .with_header("authorization", "Bearer s3cr3t")
///     .init()?;
/// let text = tracewire::describe();
/// assert!(text.contains("exporter: none (code)"));
/// assert!(!text.contains("s3cr3t"));
/// # Ok(())
/// # }
/// ```
pub fn describe() -> String {
    let text = DESCRIPTION.lock().map(|d| d.clone()).unwrap_or(None);
    match text {
        Some(text) if crate::init::is_installed() => text,
        Some(text) => {
            format!("tracewire is not running (no guard is alive); the last init resolved:\n{text}")
        }
        None => "tracewire is not running: no init has succeeded, so no span is recorded or \
                 exported"
            .to_owned(),
    }
}

/// The description of `resolved`.
pub(crate) fn render(sources: &Sources, resolved: &Resolved) -> String {
    let (code, env) = (&sources.code, &sources.env);
    let profile = resolved.profile.as_ref();
    let mut out = String::from("tracewire configuration");
    if let Some(profile) = profile {
        let _ = write!(out, " (profile {:?})", profile.name);
    }
    out.push('\n');
    let mut line = |name: &str, value: &dyn std::fmt::Display, source: &str| {
        let _ = writeln!(out, "  {name}: {value} ({source})");
    };
    line(
        "enabled",
        &!resolved.disabled,
        &sources.of_setting(&code.disabled, &env.disabled, &["OTEL_SDK_DISABLED"]),
    );
    let service = resolved
        .resource
        .get(&opentelemetry::Key::from_static_str("service.name"))
        .map(|v| v.to_string())
        .unwrap_or_default();
    let service_source = if env.service_name.is_some() {
        "OTEL_SERVICE_NAME".to_owned()
    } else if has_key(&env.resource_attributes, "service.name") {
        "OTEL_RESOURCE_ATTRIBUTES".to_owned()
    } else if code.service_name.is_some() || has_key(&code.resource_attributes, "service.name") {
        "code".to_owned()
    } else {
        "default".to_owned()
    };
    line("service.name", &service, &service_source);
    let sampler_source = if code.sampler.is_some() || env.sampler.is_some() {
        sources.of_setting(&code.sampler, &env.sampler, &["OTEL_TRACES_SAMPLER"])
    } else if let Some((environment, _)) = profile.and_then(|p| p.sampler_for(&resolved.resource)) {
        format!(
            "profile {:?}, for deployment.environment.name={environment}",
            profile.map_or("", |p| p.name.as_str())
        )
    } else {
        "default".to_owned()
    };
    line(
        "sampler",
        &format_args!("{:?}", resolved.sampler),
        &sampler_source,
    );
    let (exporter, exporter_source) = match &resolved.exporter {
        ExporterSettings::Custom(_) if sources.custom_exporter => {
            ("custom (Config::with_exporter)", "code".to_owned())
        }
        other => (
            match other {
                ExporterSettings::Otlp(_) => "otlp",
                ExporterSettings::Console => "console",
                ExporterSettings::None => "none",
                ExporterSettings::Custom(_) => "custom",
            },
            sources.of_setting(&code.exporter, &env.exporter, &["OTEL_TRACES_EXPORTER"]),
        ),
    };
    line("exporter", &exporter, &exporter_source);
    #[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
    if let ExporterSettings::Otlp(otlp) = &resolved.exporter {
        otlp_lines(&mut line, sources, otlp, profile);
    }
    let batch = [
        (
            "max_queue_size",
            resolved.max_queue_size.to_string(),
            sources.of_setting(
                &code.max_queue_size,
                &env.max_queue_size,
                &["OTEL_BSP_MAX_QUEUE_SIZE"],
            ),
        ),
        (
            "max_export_batch_size",
            resolved.max_export_batch_size.to_string(),
            match sources.of_setting(
                &code.max_export_batch_size,
                &env.max_export_batch_size,
                &["OTEL_BSP_MAX_EXPORT_BATCH_SIZE"],
            ) {
                source
                    if source == "default"
                        && resolved.max_export_batch_size
                            != super::DEFAULT_MAX_EXPORT_BATCH_SIZE =>
                {
                    "default, capped at max_queue_size".to_owned()
                }
                source => source,
            },
        ),
        (
            "schedule_delay",
            format!("{:?}", resolved.schedule_delay),
            sources.of_setting(
                &code.schedule_delay,
                &env.schedule_delay,
                &["OTEL_BSP_SCHEDULE_DELAY"],
            ),
        ),
        (
            "batch_export_timeout",
            format!("{:?}", resolved.batch_export_timeout),
            sources.of_setting(
                &code.batch_export_timeout,
                &env.batch_export_timeout,
                &["OTEL_BSP_EXPORT_TIMEOUT"],
            ),
        ),
        (
            "max_concurrent_exports",
            resolved.max_concurrent_exports.to_string(),
            sources.of_setting(
                &code.max_concurrent_exports,
                &env.max_concurrent_exports,
                &["OTEL_BSP_MAX_CONCURRENT_EXPORTS"],
            ),
        ),
        (
            "span_limits",
            format!("{:?}", resolved.span_limits),
            sources.of_setting(
                &code.span_limits,
                &env.span_limits,
                &[
                    "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT",
                    "OTEL_ATTRIBUTE_COUNT_LIMIT",
                    "OTEL_SPAN_EVENT_COUNT_LIMIT",
                    "OTEL_SPAN_LINK_COUNT_LIMIT",
                    "OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT",
                    "OTEL_LINK_ATTRIBUTE_COUNT_LIMIT",
                    "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT",
                    "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT",
                ],
            ),
        ),
        (
            "shutdown_timeout",
            format!("{:?}", resolved.shutdown_timeout),
            sources.of_setting(&code.shutdown_timeout, &None, &[]),
        ),
        (
            "thread_buffer_size",
            resolved.thread_buffer_size.to_string(),
            sources.of_setting(&code.thread_buffer_size, &None, &[]),
        ),
        (
            "diagnostics",
            format!("{:?}", resolved.diagnostics),
            sources.of_setting(&code.diagnostics, &env.diagnostics, &["OTEL_LOG_LEVEL"]),
        ),
        (
            "propagators",
            resolved.propagators.to_string(),
            sources.of_setting(&code.propagators, &env.propagators, &["OTEL_PROPAGATORS"]),
        ),
    ];
    for (name, value, source) in &batch {
        line(name, value, source);
    }
    resource_lines(&mut out, sources, resolved);
    if let Some(profile) = profile {
        rule_lines(&mut out, profile, resolved);
    }
    out
}

#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
fn otlp_lines(
    line: &mut dyn FnMut(&str, &dyn std::fmt::Display, &str),
    sources: &Sources,
    otlp: &super::OtlpSettings,
    profile: Option<&Profile>,
) {
    use super::{Compression, Protocol};
    let (code, env) = (&sources.code, &sources.env);
    let protocol = match otlp.protocol {
        Protocol::Grpc => "grpc",
        Protocol::HttpProtobuf => "http/protobuf",
    };
    let protocol_source = sources.of_setting(
        &code.protocol,
        &env.protocol,
        &[
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
            "OTEL_EXPORTER_OTLP_PROTOCOL",
        ],
    );
    line("protocol", &protocol, &protocol_source);
    let endpoint_source = if code.traces_endpoint.is_some() {
        "code (Config::with_traces_endpoint)".to_owned()
    } else if code.endpoint.is_some() {
        "code (Config::with_endpoint)".to_owned()
    } else if env.traces_endpoint.is_some() {
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT".to_owned()
    } else if env.endpoint.is_some() {
        "OTEL_EXPORTER_OTLP_ENDPOINT".to_owned()
    } else if let Some(profile) = profile.filter(|p| p.default_endpoint.is_some()) {
        format!("profile {:?}", profile.name)
    } else {
        "default".to_owned()
    };
    line("endpoint", &redact_url(&otlp.endpoint), &endpoint_source);
    let headers = if otlp.headers.is_empty() {
        "none".to_owned()
    } else {
        let names: Vec<String> = otlp
            .headers
            .iter()
            .map(|(name, _)| format!("{name}=REDACTED"))
            .collect();
        names.join(",")
    };
    let headers_source = match (code.headers.is_empty(), env.headers.is_empty()) {
        (true, true) => "default".to_owned(),
        (false, true) => "code".to_owned(),
        (true, false) => sources.var(&[
            "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
            "OTEL_EXPORTER_OTLP_HEADERS",
        ]),
        (false, false) => format!(
            "code and {}",
            sources.var(&[
                "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
                "OTEL_EXPORTER_OTLP_HEADERS",
            ])
        ),
    };
    line("headers", &headers, &headers_source);
    let timeout_source = sources.of_setting(
        &code.otlp_timeout,
        &env.otlp_timeout,
        &[
            "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
            "OTEL_EXPORTER_OTLP_TIMEOUT",
        ],
    );
    line(
        "timeout",
        &format_args!("{:?}", otlp.timeout),
        &timeout_source,
    );
    let compression = match otlp.compression {
        Compression::None => "none",
        Compression::Gzip => "gzip",
    };
    let compression_source = sources.of_setting(
        &code.compression,
        &env.compression,
        &[
            "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION",
            "OTEL_EXPORTER_OTLP_COMPRESSION",
        ],
    );
    line("compression", &compression, &compression_source);
    tls_lines(line, sources, otlp);
}

/// The TLS files (their paths, never what they hold) and `insecure`, with where each came from.
#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
fn tls_lines(
    line: &mut dyn FnMut(&str, &dyn std::fmt::Display, &str),
    sources: &Sources,
    otlp: &super::OtlpSettings,
) {
    let source = |origin: &str| {
        if origin.starts_with("Config::") {
            format!("code ({origin})")
        } else {
            origin.to_owned()
        }
    };
    let mut file = |name: &str, pem: Option<&super::PemFile>| match pem {
        Some(pem) => line(name, &pem.path.display(), &source(pem.origin)),
        None => line(name, &"none", "default"),
    };
    file("certificate (CAs)", otlp.tls.ca.as_ref());
    file(
        "client certificate",
        otlp.tls.client.as_ref().map(|(cert, _)| cert),
    );
    file("client key", otlp.tls.client.as_ref().map(|(_, key)| key));
    let insecure = sources.of_setting(
        &sources.code.insecure,
        &sources.env.insecure,
        &[
            "OTEL_EXPORTER_OTLP_TRACES_INSECURE",
            "OTEL_EXPORTER_OTLP_INSECURE",
        ],
    );
    line(
        "insecure",
        &sources
            .code
            .insecure
            .or(sources.env.insecure)
            .unwrap_or(false),
        &insecure,
    );
}

fn has_key(attributes: &[KeyValue], key: &str) -> bool {
    attributes.iter().any(|kv| kv.key.as_str() == key)
}

fn resource_lines(out: &mut String, sources: &Sources, resolved: &Resolved) {
    out.push_str("  resource:\n");
    let mut attributes: Vec<(String, String)> = resolved
        .resource
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    attributes.sort();
    for (key, value) in attributes {
        let source = if has_key(&sources.code.resource_attributes, &key) {
            "code"
        } else if has_key(&sources.env.resource_attributes, &key) {
            "OTEL_RESOURCE_ATTRIBUTES"
        } else if key == "service.name" || key == "service.version" {
            "see service.name"
        } else if key.starts_with("telemetry.sdk.") {
            "tracewire"
        } else {
            "detected"
        };
        let _ = writeln!(out, "    {key}={value} ({source})");
    }
}

fn rule_lines(out: &mut String, profile: &Profile, resolved: &Resolved) {
    let _ = writeln!(out, "  profile {:?} rules (always applied):", profile.name);
    let missing = profile.missing_in(&resolved.resource);
    for key in &profile.required_resource {
        let state = if missing.contains(key) {
            "MISSING"
        } else {
            "present"
        };
        let _ = writeln!(out, "    require_resource_attribute({key:?}): {state}");
    }
    if profile.warn_only {
        out.push_str("    warn_only: missing resource attributes warn instead of failing init\n");
    }
    for pattern in &profile.redact {
        let _ = writeln!(out, "    redact_attribute({pattern:?})");
    }
    if let Some(max) = profile.max_value_length {
        let _ = writeln!(out, "    max_attribute_value_length({max})");
    }
    if profile.normalize_names {
        out.push_str("    normalize_span_names\n");
    }
    for (kind, key) in &profile.required_span {
        let _ = writeln!(
            out,
            "    require_span_attribute({}, {key:?})",
            kind_name(kind)
        );
    }
    if let Some(endpoint) = &profile.default_endpoint {
        let _ = writeln!(out, "    with_default_endpoint({:?})", redact_url(endpoint));
    }
    for (environment, sampler) in &profile.samplers {
        let _ = writeln!(
            out,
            "    with_sampler_for_environment({environment:?}, {sampler:?})"
        );
    }
}
