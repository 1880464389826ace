//! Merging the code and environment layers of a [`Config`] into the settings the pipeline runs with.

use std::time::Duration;

use opentelemetry_sdk::Resource;

use super::env::{check_endpoint, check_header, endpoint_expected};
use super::{
    Compression, Config, DEFAULT_BATCH_EXPORT_TIMEOUT, DEFAULT_GRPC_ENDPOINT,
    DEFAULT_HTTP_ENDPOINT, DEFAULT_MAX_EXPORT_BATCH_SIZE, DEFAULT_MAX_QUEUE_SIZE,
    DEFAULT_OTLP_TIMEOUT, DEFAULT_SCHEDULE_DELAY, DEFAULT_SHUTDOWN_TIMEOUT,
    DEFAULT_THREAD_BUFFER_SIZE, ExporterKind, ExporterSettings, Layer, MAX_EXPORT_BATCH_SIZE,
    MAX_QUEUE_SIZE, MAX_SHUTDOWN_TIMEOUT, MAX_THREAD_BUFFER_SIZE, OtlpSettings, Protocol,
    SpanLimits,
};
use crate::context::Sampler;
use crate::diag::DiagLevel;
use crate::error::InitError;

/// Everything the pipeline needs, validated.
pub(crate) struct Resolved {
    pub(crate) disabled: bool,
    pub(crate) sampler: Sampler,
    pub(crate) resource: Resource,
    pub(crate) exporter: ExporterSettings,
    pub(crate) max_queue_size: usize,
    pub(crate) schedule_delay: Duration,
    pub(crate) max_export_batch_size: usize,
    pub(crate) batch_export_timeout: Duration,
    pub(crate) max_concurrent_exports: usize,
    pub(crate) span_limits: SpanLimits,
    pub(crate) shutdown_timeout: Duration,
    pub(crate) thread_buffer_size: usize,
    pub(crate) diagnostics: DiagLevel,
    pub(crate) propagators: crate::propagation::Propagators,
    /// The profile, whose policies the export thread applies.
    pub(crate) profile: Option<super::Profile>,
    /// What `init` warns about once diagnostics are set up (a warn-only profile's requirements).
    pub(crate) warnings: Vec<String>,
}

impl Config {
    /// Merges the two layers and checks every value.
    ///
    /// Code wins over the environment setting by setting, then the defaults of the module apply; the
    /// resource follows its own rules (see `resource.rs`).
    pub(crate) fn resolve(self) -> Result<Resolved, InitError> {
        let Config {
            code,
            env,
            custom_exporter,
            profile,
            ..
        } = self;
        let resource = super::resource::build(&code, &env);
        let disabled = code.disabled.or(env.disabled).unwrap_or(false);
        let mut warnings = Vec::new();
        if let Some(profile) = &profile {
            super::profile::validate(profile)?;
            // A disabled SDK exports nothing, so nothing is required of its resource.
            if !disabled && let Some(warning) = profile.check(&resource)? {
                warnings.push(warning);
            }
        }

        let sampler = match &code.sampler {
            Some(sampler) => {
                check_sampler(sampler).map_err(|expected| InitError::InvalidConfig {
                    setting: "Config::with_sampler",
                    value: format!("{sampler:?}"),
                    expected,
                })?;
                sampler.clone()
            }
            None => env
                .sampler
                .clone()
                .or_else(|| {
                    let profile = profile.as_ref()?;
                    profile.sampler_for(&resource).map(|(_, s)| s.clone())
                })
                .unwrap_or_default(),
        };

        let (max_queue_size, max_export_batch_size) = batch_sizes(&code, &env)?;

        let max_concurrent_exports = concurrent_exports(&code, &env)?;
        let thread_buffer_size = match code.thread_buffer_size {
            Some(0) => return Err(positive("Config::with_thread_buffer_size", 0)),
            Some(size) if size > MAX_THREAD_BUFFER_SIZE => {
                return Err(too_large(
                    "Config::with_thread_buffer_size",
                    size,
                    MAX_THREAD_BUFFER_SIZE,
                ));
            }
            Some(size) => size.max(MIN_THREAD_BUFFER_SIZE),
            None => DEFAULT_THREAD_BUFFER_SIZE,
        };
        let shutdown_timeout = code.shutdown_timeout.unwrap_or(DEFAULT_SHUTDOWN_TIMEOUT);
        if shutdown_timeout > MAX_SHUTDOWN_TIMEOUT {
            return Err(InitError::InvalidConfig {
                setting: "Config::with_shutdown_timeout",
                value: format!("{shutdown_timeout:?}"),
                expected: format!("expected at most {MAX_SHUTDOWN_TIMEOUT:?}"),
            });
        }

        // Code values are checked whether or not the OTLP exporter ends up used: a bad value is a bug
        // either way. Environment values were checked when they were read.
        for (setting, endpoint) in [
            ("Config::with_endpoint", &code.endpoint),
            ("Config::with_traces_endpoint", &code.traces_endpoint),
        ] {
            if let Some(endpoint) = endpoint {
                check_endpoint(endpoint).map_err(|why| InitError::InvalidConfig {
                    setting,
                    value: crate::redact::redact_url(endpoint).into_owned(),
                    expected: endpoint_expected(why),
                })?;
            }
        }
        for (name, value) in &code.headers {
            check_header(name, value).map_err(|why| InitError::InvalidConfig {
                setting: "Config::with_header",
                // The value may be a secret: name the header, not its value.
                value: name.clone(),
                expected: format!("expected a valid header: {why}"),
            })?;
        }

        let exporter = match custom_exporter {
            // Taken last, once nothing else can fail, so a configuration error leaves it in place.
            Some(slot) => {
                let taken = slot
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .take();
                ExporterSettings::Custom(taken.ok_or_else(|| InitError::InvalidConfig {
                    setting: "Config::with_exporter",
                    value: "an exporter already used by an earlier init".to_owned(),
                    expected: "an exporter can be used by one init only".to_owned(),
                })?)
            }
            None => match code.exporter.or(env.exporter).unwrap_or(ExporterKind::Otlp) {
                ExporterKind::Otlp => ExporterSettings::Otlp(otlp_settings(
                    &code,
                    &env,
                    profile.as_ref().and_then(|p| p.default_endpoint.as_deref()),
                )?),
                ExporterKind::Console => ExporterSettings::Console,
                ExporterKind::None => ExporterSettings::None,
            },
        };

        Ok(Resolved {
            disabled,
            sampler,
            resource,
            exporter,
            max_queue_size,
            schedule_delay: code
                .schedule_delay
                .or(env.schedule_delay)
                .unwrap_or(DEFAULT_SCHEDULE_DELAY),
            max_export_batch_size,
            batch_export_timeout: code
                .batch_export_timeout
                .or(env.batch_export_timeout)
                .unwrap_or(DEFAULT_BATCH_EXPORT_TIMEOUT),
            max_concurrent_exports,
            span_limits: code.span_limits.or(env.span_limits).unwrap_or_default(),
            shutdown_timeout,
            thread_buffer_size,
            diagnostics: code
                .diagnostics
                .or(env.diagnostics)
                .unwrap_or(DiagLevel::Warn),
            propagators: code.propagators.or(env.propagators).unwrap_or_default(),
            profile,
            warnings,
        })
    }
}

/// Thread buffers smaller than this are rounded up to it.
const MIN_THREAD_BUFFER_SIZE: usize = 16;

fn too_large(setting: &'static str, value: usize, max: usize) -> InitError {
    InitError::InvalidConfig {
        setting,
        value: value.to_string(),
        expected: format!("expected at most {max}"),
    }
}

/// Requests in flight at once: code > env > default, from 1 to `MAX_CONCURRENT_EXPORTS`.
fn concurrent_exports(code: &Layer, env: &Layer) -> Result<usize, InitError> {
    const SETTING: &str = "Config::with_max_concurrent_exports";
    const VARIABLE: &str = "OTEL_BSP_MAX_CONCURRENT_EXPORTS";
    if code.max_concurrent_exports == Some(0) {
        return Err(positive(SETTING, 0));
    }
    let (value, source) = pick(
        code.max_concurrent_exports,
        env.max_concurrent_exports,
        super::DEFAULT_MAX_CONCURRENT_EXPORTS,
    );
    if value > super::MAX_CONCURRENT_EXPORTS {
        let origin = match source {
            Source::Env => VARIABLE,
            Source::Code | Source::Default => SETTING,
        };
        return Err(crate::error::invalid(
            origin,
            value.to_string(),
            format!("expected at most {}", super::MAX_CONCURRENT_EXPORTS),
        ));
    }
    Ok(value)
}

fn positive(setting: &'static str, value: usize) -> InitError {
    InitError::InvalidConfig {
        setting,
        value: value.to_string(),
        expected: "expected a positive size".to_owned(),
    }
}

/// A ratio anywhere in the sampler must be in [0, 1].
fn check_sampler(sampler: &Sampler) -> Result<(), String> {
    match sampler {
        Sampler::TraceIdRatio(ratio) if !(0.0..=1.0).contains(ratio) => {
            Err(format!("expected a ratio in [0, 1], not {ratio}"))
        }
        Sampler::ParentBased(root) => check_sampler(root),
        _ => Ok(()),
    }
}

/// Where a value came from, to name it in an error.
#[derive(Clone, Copy)]
enum Source {
    Code,
    Env,
    Default,
}

/// A setting resolved code > environment > default, remembering which one supplied it.
fn pick<T>(code: Option<T>, env: Option<T>, default: T) -> (T, Source) {
    match (code, env) {
        (Some(value), _) => (value, Source::Code),
        (None, Some(value)) => (value, Source::Env),
        (None, None) => (default, Source::Default),
    }
}

/// The queue and batch sizes; the batch must fit in the queue.
///
/// When the batch size was not set anywhere, its default shrinks to a smaller queue instead of
/// failing: only sizes someone chose can conflict.
fn batch_sizes(code: &Layer, env: &Layer) -> Result<(usize, usize), InitError> {
    if code.max_queue_size == Some(0) {
        return Err(positive("Config::with_max_queue_size", 0));
    }
    if code.max_export_batch_size == Some(0) {
        return Err(positive("Config::with_max_export_batch_size", 0));
    }
    let (queue, queue_source) = pick(
        code.max_queue_size,
        env.max_queue_size,
        DEFAULT_MAX_QUEUE_SIZE,
    );
    let (batch, batch_source) = pick(
        code.max_export_batch_size,
        env.max_export_batch_size,
        DEFAULT_MAX_EXPORT_BATCH_SIZE,
    );
    for (value, source, max, setting, variable) in [
        (
            queue,
            queue_source,
            MAX_QUEUE_SIZE,
            "Config::with_max_queue_size",
            "OTEL_BSP_MAX_QUEUE_SIZE",
        ),
        (
            batch,
            batch_source,
            MAX_EXPORT_BATCH_SIZE,
            "Config::with_max_export_batch_size",
            "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
        ),
    ] {
        if value > max {
            let origin = match source {
                Source::Env => variable,
                Source::Code | Source::Default => setting,
            };
            return Err(crate::error::invalid(
                origin,
                value.to_string(),
                format!("expected at most {max}"),
            ));
        }
    }
    if batch <= queue {
        return Ok((queue, batch));
    }
    let queue_origin = match queue_source {
        Source::Code => "Config::with_max_queue_size",
        Source::Env => "OTEL_BSP_MAX_QUEUE_SIZE",
        Source::Default => "the default",
    };
    let expected = format!("expected at most the max queue size ({queue}, from {queue_origin})");
    match batch_source {
        Source::Code => Err(InitError::InvalidConfig {
            setting: "Config::with_max_export_batch_size",
            value: batch.to_string(),
            expected,
        }),
        Source::Env => Err(InitError::InvalidEnv {
            name: "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
            value: batch.to_string(),
            expected,
        }),
        Source::Default => Ok((queue, queue)),
    }
}

/// The protocol used when neither the code nor the environment chooses one: `http/protobuf`, the
/// default the OpenTelemetry specification recommends, unless this build has no OTLP/HTTP.
fn default_protocol() -> Protocol {
    if cfg!(feature = "otlp-http") {
        Protocol::HttpProtobuf
    } else {
        Protocol::Grpc
    }
}

fn otlp_settings(
    code: &Layer,
    env: &Layer,
    profile_endpoint: Option<&str>,
) -> Result<OtlpSettings, InitError> {
    let (protocol, source) = pick(code.protocol, env.protocol, default_protocol());
    let (feature, enabled, keyword, variant) = match protocol {
        Protocol::Grpc => (
            "otlp-grpc",
            cfg!(feature = "otlp-grpc"),
            "grpc",
            "Protocol::Grpc",
        ),
        Protocol::HttpProtobuf => (
            "otlp-http",
            cfg!(feature = "otlp-http"),
            "http/protobuf",
            "Protocol::HttpProtobuf",
        ),
    };
    if !enabled {
        let what = match source {
            Source::Code => variant.to_owned(),
            Source::Env => format!("OTEL_EXPORTER_OTLP_PROTOCOL={keyword:?}"),
            Source::Default => {
                "the OTLP exporter (OTEL_TRACES_EXPORTER=otlp, the default)".to_owned()
            }
        };
        return Err(InitError::FeatureDisabled { what, feature });
    }

    let insecure = code.insecure.or(env.insecure).unwrap_or(false);
    let (endpoint, origin) = traces_url(protocol, code, env, profile_endpoint, insecure)?;
    let tls = super::tls::files(code, env)?;
    super::tls::check(&endpoint, origin, &tls, cfg!(feature = "tls"))?;

    Ok(OtlpSettings {
        protocol,
        endpoint,
        headers: merge_headers(&env.headers, &code.headers),
        timeout: code
            .otlp_timeout
            .or(env.otlp_timeout)
            .unwrap_or(DEFAULT_OTLP_TIMEOUT),
        compression: code
            .compression
            .or(env.compression)
            .unwrap_or(Compression::None),
        tls,
    })
}

/// The URL requests go to. Code wins over the environment, so the first of these that is set is used:
/// the traces endpoint from code (as given), the base endpoint from code, the traces endpoint from
/// the environment (as given), the base endpoint from the environment, the profile's default
/// endpoint, the protocol's default. For OTLP/HTTP, `/v1/traces` is appended to a base endpoint.
///
/// An endpoint without a scheme gets one from `insecure` (gRPC only, see `tls::with_scheme`). Also
/// returns the setting the URL came from, to name it in errors.
fn traces_url(
    protocol: Protocol,
    code: &Layer,
    env: &Layer,
    profile_endpoint: Option<&str>,
    insecure: bool,
) -> Result<(String, &'static str), InitError> {
    let default = match protocol {
        Protocol::Grpc => DEFAULT_GRPC_ENDPOINT,
        Protocol::HttpProtobuf => DEFAULT_HTTP_ENDPOINT,
    };
    let (given, origin, is_base) = if let Some(url) = &code.traces_endpoint {
        (url.as_str(), "Config::with_traces_endpoint", false)
    } else if let Some(base) = &code.endpoint {
        (base.as_str(), "Config::with_endpoint", true)
    } else if let Some(url) = &env.traces_endpoint {
        (url.as_str(), "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", false)
    } else if let Some(base) = &env.endpoint {
        (base.as_str(), "OTEL_EXPORTER_OTLP_ENDPOINT", true)
    } else if let Some(base) = profile_endpoint {
        (base, "Profile::with_default_endpoint", true)
    } else {
        (default, "the default endpoint", true)
    };
    let url = super::tls::with_scheme(protocol, given.to_owned(), origin, insecure)?;
    let url = match protocol {
        Protocol::HttpProtobuf if is_base => format!("{}/v1/traces", url.trim_end_matches('/')),
        _ => url,
    };
    Ok((url, origin))
}

/// Environment headers then code headers, names lower-cased; a later header replaces the value of an
/// earlier one with the same name, which keeps its position.
fn merge_headers(env: &[(String, String)], code: &[(String, String)]) -> Vec<(String, String)> {
    let mut merged: Vec<(String, String)> = Vec::with_capacity(env.len() + code.len());
    for (name, value) in env.iter().chain(code) {
        let name = name.to_ascii_lowercase();
        match merged.iter_mut().find(|(seen, _)| *seen == name) {
            Some(entry) => entry.1 = value.clone(),
            None => merged.push((name, value.clone())),
        }
    }
    merged
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use opentelemetry::Key;

    use super::*;
    use crate::export::NoneExporter;

    fn with_env(vars: &[(&str, &str)]) -> Config {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        match Config::from_lookup(|name| map.get(name).cloned()) {
            Ok(config) => config,
            Err(err) => panic!("{vars:?}: {err}"),
        }
    }

    fn resolve(config: Config) -> Resolved {
        match config.resolve() {
            Ok(resolved) => resolved,
            Err(err) => panic!("should resolve: {err}"),
        }
    }

    #[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
    fn otlp(config: Config) -> OtlpSettings {
        match resolve(config).exporter {
            ExporterSettings::Otlp(settings) => settings,
            _ => panic!("expected the OTLP exporter"),
        }
    }

    fn invalid_config(config: Config) -> (&'static str, String, String) {
        match config.resolve() {
            Err(InitError::InvalidConfig {
                setting,
                value,
                expected,
            }) => (setting, value, expected),
            Err(other) => panic!("unexpected error: {other}"),
            Ok(_) => panic!("should be rejected"),
        }
    }

    fn service_name(resolved: &Resolved) -> Option<String> {
        resolved
            .resource
            .get(&Key::from_static_str("service.name"))
            .map(|v| v.to_string())
    }

    #[test]
    #[cfg(feature = "otlp-http")]
    fn defaults_apply_when_nothing_is_set() {
        let resolved = resolve(Config::default());
        assert!(!resolved.disabled);
        assert_eq!(resolved.sampler, Sampler::default());
        assert_eq!(resolved.max_queue_size, DEFAULT_MAX_QUEUE_SIZE);
        assert_eq!(
            resolved.max_export_batch_size,
            DEFAULT_MAX_EXPORT_BATCH_SIZE
        );
        assert_eq!(resolved.schedule_delay, DEFAULT_SCHEDULE_DELAY);
        assert_eq!(resolved.batch_export_timeout, DEFAULT_BATCH_EXPORT_TIMEOUT);
        assert_eq!(resolved.span_limits, SpanLimits::default());
        assert_eq!(resolved.shutdown_timeout, DEFAULT_SHUTDOWN_TIMEOUT);
        assert_eq!(resolved.thread_buffer_size, DEFAULT_THREAD_BUFFER_SIZE);
        assert_eq!(resolved.diagnostics, DiagLevel::Warn);
        let ExporterSettings::Otlp(otlp) = resolved.exporter else {
            panic!("expected OTLP")
        };
        assert_eq!(
            otlp,
            OtlpSettings {
                protocol: Protocol::HttpProtobuf,
                endpoint: format!("{DEFAULT_HTTP_ENDPOINT}/v1/traces"),
                headers: vec![],
                timeout: DEFAULT_OTLP_TIMEOUT,
                compression: Compression::None,
                tls: Default::default(),
            }
        );
    }

    #[test]
    fn environment_applies_when_code_is_silent() {
        let resolved = resolve(with_env(&[
            ("OTEL_SDK_DISABLED", "true"),
            ("OTEL_TRACES_SAMPLER", "always_off"),
            ("OTEL_TRACES_EXPORTER", "console"),
            ("OTEL_BSP_MAX_QUEUE_SIZE", "100"),
            ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "10"),
            ("OTEL_BSP_SCHEDULE_DELAY", "7"),
            ("OTEL_BSP_EXPORT_TIMEOUT", "8"),
            ("OTEL_SPAN_LINK_COUNT_LIMIT", "2"),
            ("OTEL_LOG_LEVEL", "debug"),
        ]));
        assert!(resolved.disabled);
        assert_eq!(resolved.sampler, Sampler::AlwaysOff);
        assert!(matches!(resolved.exporter, ExporterSettings::Console));
        assert_eq!(
            (resolved.max_queue_size, resolved.max_export_batch_size),
            (100, 10)
        );
        assert_eq!(resolved.schedule_delay, Duration::from_millis(7));
        assert_eq!(resolved.batch_export_timeout, Duration::from_millis(8));
        assert_eq!(resolved.span_limits.max_links, 2);
        assert_eq!(resolved.diagnostics, DiagLevel::Debug);
    }

    #[test]
    fn propagators_default_then_environment_then_code() {
        use crate::propagation::{Propagator, Propagators};
        assert_eq!(resolve(Config::default()).propagators, Propagators::W3C);
        let env = || with_env(&[("OTEL_PROPAGATORS", "jaeger")]);
        assert_eq!(
            resolve(env()).propagators,
            Propagators::new([Propagator::Jaeger])
        );
        assert_eq!(
            resolve(env().with_propagators(Propagators::NONE)).propagators,
            Propagators::NONE
        );
    }

    #[test]
    fn code_beats_environment_for_every_setting() {
        let config = with_env(&[
            ("OTEL_SDK_DISABLED", "true"),
            ("OTEL_TRACES_SAMPLER", "always_off"),
            ("OTEL_TRACES_EXPORTER", "otlp"),
            ("OTEL_BSP_MAX_QUEUE_SIZE", "100"),
            ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "10"),
            ("OTEL_BSP_SCHEDULE_DELAY", "7"),
            ("OTEL_BSP_EXPORT_TIMEOUT", "8"),
            ("OTEL_SPAN_LINK_COUNT_LIMIT", "2"),
            ("OTEL_LOG_LEVEL", "debug"),
        ])
        .with_disabled(false)
        .with_sampler(Sampler::TraceIdRatio(0.5))
        .with_exporter_kind(ExporterKind::None)
        .with_max_queue_size(50)
        .with_max_export_batch_size(5)
        .with_schedule_delay(Duration::from_millis(70))
        .with_batch_export_timeout(Duration::from_millis(80))
        .with_span_limits(SpanLimits {
            max_links: 20,
            ..SpanLimits::default()
        })
        .with_diagnostics(DiagLevel::Error)
        .with_shutdown_timeout(Duration::from_millis(90))
        .with_thread_buffer_size(64);
        let resolved = resolve(config);
        assert!(!resolved.disabled);
        assert_eq!(resolved.sampler, Sampler::TraceIdRatio(0.5));
        assert!(matches!(resolved.exporter, ExporterSettings::None));
        assert_eq!(
            (resolved.max_queue_size, resolved.max_export_batch_size),
            (50, 5)
        );
        assert_eq!(resolved.schedule_delay, Duration::from_millis(70));
        assert_eq!(resolved.batch_export_timeout, Duration::from_millis(80));
        assert_eq!(resolved.span_limits.max_links, 20);
        assert_eq!(resolved.diagnostics, DiagLevel::Error);
        assert_eq!(resolved.shutdown_timeout, Duration::from_millis(90));
        assert_eq!(resolved.thread_buffer_size, 64);
    }

    #[test]
    #[cfg(all(feature = "otlp-grpc", feature = "otlp-http"))]
    fn code_beats_environment_for_otlp_settings() {
        let env = [
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://env:4317"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "a=env,b=env"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "1000"),
            ("OTEL_EXPORTER_OTLP_COMPRESSION", "none"),
        ];
        let settings = otlp(
            with_env(&env)
                .with_protocol(Protocol::HttpProtobuf)
                .with_endpoint("http://code:4318")
                .with_header("B", "code")
                .with_export_timeout(Duration::from_millis(2000))
                .with_compression(Compression::Gzip),
        );
        assert_eq!(
            settings,
            OtlpSettings {
                protocol: Protocol::HttpProtobuf,
                endpoint: "http://code:4318/v1/traces".to_owned(),
                headers: vec![("a".into(), "env".into()), ("b".into(), "code".into())],
                timeout: Duration::from_millis(2000),
                compression: Compression::Gzip,
                tls: Default::default(),
            }
        );
        let settings = otlp(with_env(&env));
        assert_eq!(settings.protocol, Protocol::Grpc);
        assert_eq!(settings.endpoint, "http://env:4317");
        assert_eq!(settings.timeout, Duration::from_millis(1000));
    }

    /// Each step of the endpoint order, for `protocol`: code traces endpoint, code base endpoint,
    /// environment traces endpoint, environment base endpoint, default. `path` is what a base
    /// endpoint gets appended.
    #[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
    fn check_endpoint_order(protocol: Protocol, path: &str, default: &str) {
        fn code_traces(config: Config) -> Config {
            config.with_traces_endpoint("http://code/traces")
        }
        fn code_base(config: Config) -> Config {
            config.with_endpoint("http://code:1")
        }
        fn both(config: Config) -> Config {
            code_base(code_traces(config))
        }
        fn silent(config: Config) -> Config {
            config
        }

        let keyword = match protocol {
            Protocol::Grpc => "grpc",
            Protocol::HttpProtobuf => "http/protobuf",
        };
        let mut env = vec![("OTEL_EXPORTER_OTLP_PROTOCOL", keyword)];
        let url =
            |env: &[(&str, &str)], code: fn(Config) -> Config| otlp(code(with_env(env))).endpoint;
        // Nothing set: the protocol's default.
        assert_eq!(url(&env, silent), format!("{default}{path}"));
        // The environment's base endpoint.
        env.push(("OTEL_EXPORTER_OTLP_ENDPOINT", "http://env:2"));
        assert_eq!(url(&env, silent), format!("http://env:2{path}"));
        // The environment's traces endpoint beats its base endpoint, used as given.
        env.push(("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://env/traces"));
        assert_eq!(url(&env, silent), "http://env/traces");
        // A base endpoint from code beats both environment endpoints.
        assert_eq!(url(&env, code_base), format!("http://code:1{path}"));
        // A traces endpoint from code beats everything, used as given.
        assert_eq!(url(&env, code_traces), "http://code/traces");
        assert_eq!(url(&env, both), "http://code/traces");
    }

    #[test]
    #[cfg(feature = "otlp-http")]
    fn http_endpoint_order_is_code_then_environment_then_default() {
        check_endpoint_order(Protocol::HttpProtobuf, "/v1/traces", DEFAULT_HTTP_ENDPOINT);
    }

    #[test]
    #[cfg(feature = "otlp-grpc")]
    fn grpc_endpoint_order_is_code_then_environment_then_default() {
        check_endpoint_order(Protocol::Grpc, "", DEFAULT_GRPC_ENDPOINT);
    }

    #[test]
    fn service_name_from_the_environment_beats_code() {
        let config = with_env(&[("OTEL_SERVICE_NAME", "env")]).with_service_name("code");
        let resolved = resolve(config.with_exporter_kind(ExporterKind::None));
        assert_eq!(service_name(&resolved).as_deref(), Some("env"));
        let config = Config::default().with_service_name("code");
        let resolved = resolve(config.with_exporter_kind(ExporterKind::None));
        assert_eq!(service_name(&resolved).as_deref(), Some("code"));
    }

    #[test]
    #[cfg(feature = "otlp-http")]
    fn http_endpoints_get_the_traces_path() {
        let http = |base: &str| {
            otlp(
                Config::default()
                    .with_protocol(Protocol::HttpProtobuf)
                    .with_endpoint(base),
            )
            .endpoint
        };
        assert_eq!(http("http://h:4318"), "http://h:4318/v1/traces");
        assert_eq!(http("http://h:4318/"), "http://h:4318/v1/traces");
        assert_eq!(http("http://h/prefix"), "http://h/prefix/v1/traces");
        assert_eq!(http("http://h/prefix/"), "http://h/prefix/v1/traces");
        let default = otlp(Config::default().with_protocol(Protocol::HttpProtobuf)).endpoint;
        assert_eq!(default, format!("{DEFAULT_HTTP_ENDPOINT}/v1/traces"));
        // The traces endpoint is used exactly as given.
        let exact = Config::default()
            .with_protocol(Protocol::HttpProtobuf)
            .with_endpoint("http://ignored:1")
            .with_traces_endpoint("http://h:4318/custom/");
        assert_eq!(otlp(exact).endpoint, "http://h:4318/custom/");
    }

    #[test]
    #[cfg(feature = "otlp-grpc")]
    fn grpc_endpoints_are_used_as_given() {
        let config = Config::default()
            .with_protocol(Protocol::Grpc)
            .with_endpoint("http://h:4317/");
        assert_eq!(otlp(config).endpoint, "http://h:4317/");
    }

    #[test]
    fn headers_merge_lower_cased_in_first_seen_order() {
        let env = [("OTEL_EXPORTER_OTLP_HEADERS", "X-One=1,x-two=2,X-ONE=3")];
        let merged = merge_headers(
            &with_env(&env).env.headers,
            &[
                ("X-Two".into(), "code".into()),
                ("x-three".into(), "3".into()),
            ],
        );
        let expected = [("x-one", "3"), ("x-two", "code"), ("x-three", "3")];
        assert_eq!(merged, expected.map(|(k, v)| (k.to_owned(), v.to_owned())));
    }

    #[test]
    fn zero_sizes_are_rejected() {
        let (setting, value, _) = invalid_config(Config::default().with_max_queue_size(0));
        assert_eq!(
            (setting, value.as_str()),
            ("Config::with_max_queue_size", "0")
        );
        let (setting, _, _) = invalid_config(Config::default().with_max_export_batch_size(0));
        assert_eq!(setting, "Config::with_max_export_batch_size");
        let (setting, _, _) = invalid_config(Config::default().with_thread_buffer_size(0));
        assert_eq!(setting, "Config::with_thread_buffer_size");
        let (setting, value, _) = invalid_config(Config::default().with_max_concurrent_exports(0));
        assert_eq!(
            (setting, value.as_str()),
            ("Config::with_max_concurrent_exports", "0")
        );
        let (setting, value, expected) =
            invalid_config(Config::default().with_max_concurrent_exports(65));
        assert_eq!(
            (setting, value.as_str(), expected.as_str()),
            (
                "Config::with_max_concurrent_exports",
                "65",
                "expected at most 64"
            )
        );
    }

    #[test]
    fn concurrent_exports_resolve_code_then_env_then_default() {
        let none = Config::default().with_exporter_kind(ExporterKind::None);
        assert_eq!(
            resolve(none.clone()).max_concurrent_exports,
            crate::config::DEFAULT_MAX_CONCURRENT_EXPORTS
        );
        let env = Config::from_lookup(|name| {
            (name == "OTEL_BSP_MAX_CONCURRENT_EXPORTS").then(|| "7".to_owned())
        })
        .expect("env")
        .with_exporter_kind(ExporterKind::None);
        assert_eq!(resolve(env.clone()).max_concurrent_exports, 7);
        assert_eq!(
            resolve(env.with_max_concurrent_exports(3)).max_concurrent_exports,
            3
        );
    }

    #[test]
    fn small_thread_buffers_are_rounded_up() {
        let config = Config::default().with_exporter_kind(ExporterKind::None);
        assert_eq!(
            resolve(config.clone().with_thread_buffer_size(1)).thread_buffer_size,
            16
        );
        assert_eq!(
            resolve(config.with_thread_buffer_size(17)).thread_buffer_size,
            17
        );
    }

    #[test]
    fn batch_larger_than_queue_is_rejected_naming_both() {
        let config = Config::default()
            .with_max_queue_size(100)
            .with_max_export_batch_size(200);
        let (setting, value, expected) = invalid_config(config);
        assert_eq!(
            (setting, value.as_str()),
            ("Config::with_max_export_batch_size", "200")
        );
        assert!(
            expected.contains("100, from Config::with_max_queue_size"),
            "{expected}"
        );

        let config =
            with_env(&[("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "300")]).with_max_queue_size(100);
        let err = config
            .resolve()
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert_eq!(
            err,
            r#"OTEL_BSP_MAX_EXPORT_BATCH_SIZE="300": expected at most the max queue size (100, from Config::with_max_queue_size)"#
        );

        let config = with_env(&[("OTEL_BSP_MAX_QUEUE_SIZE", "10")]).with_max_export_batch_size(20);
        let (_, _, expected) = invalid_config(config);
        assert!(
            expected.contains("10, from OTEL_BSP_MAX_QUEUE_SIZE"),
            "{expected}"
        );
    }

    #[test]
    fn the_default_batch_size_shrinks_to_a_small_queue() {
        let config = Config::default()
            .with_exporter_kind(ExporterKind::None)
            .with_max_queue_size(100);
        let resolved = resolve(config);
        assert_eq!(
            (resolved.max_queue_size, resolved.max_export_batch_size),
            (100, 100)
        );
    }

    #[test]
    fn ratios_outside_zero_to_one_are_rejected() {
        for ratio in [-0.1, 1.5, f64::NAN, f64::INFINITY] {
            for sampler in [
                Sampler::TraceIdRatio(ratio),
                Sampler::ParentBased(Box::new(Sampler::TraceIdRatio(ratio))),
            ] {
                let (setting, value, expected) =
                    invalid_config(Config::default().with_sampler(sampler));
                assert_eq!(setting, "Config::with_sampler");
                assert!(value.contains("TraceIdRatio"), "{value}");
                assert!(expected.contains("[0, 1]"), "{expected}");
            }
        }
    }

    #[test]
    fn bad_headers_are_rejected_without_showing_the_value() {
        let (setting, value, expected) =
            invalid_config(Config::default().with_header("bad name", "v"));
        assert_eq!(
            (setting, value.as_str()),
            ("Config::with_header", "bad name")
        );
        assert!(expected.contains("header name"), "{expected}");
        let config = Config::default().with_header("authorization", "Bearer s3cret\n");
        let (setting, value, expected) = invalid_config(config);
        assert_eq!(
            (setting, value.as_str()),
            ("Config::with_header", "authorization")
        );
        assert!(
            expected.contains("header value") && !expected.contains("s3cret"),
            "{expected}"
        );
    }

    #[test]
    fn bad_endpoints_are_rejected() {
        let (setting, value, expected) =
            invalid_config(Config::default().with_endpoint("localhost:4317"));
        assert_eq!(
            (setting, value.as_str()),
            ("Config::with_endpoint", "localhost:4317")
        );
        assert!(expected.contains("http://"), "{expected}");
        // Checked even when the OTLP exporter is not used.
        let config = Config::default()
            .with_exporter_kind(ExporterKind::Console)
            .with_traces_endpoint("http://h:port");
        let (setting, _, expected) = invalid_config(config);
        assert_eq!(setting, "Config::with_traces_endpoint");
        assert!(expected.contains("port"), "{expected}");
    }

    #[test]
    fn a_custom_exporter_wins_and_serves_one_init() {
        let config = with_env(&[("OTEL_TRACES_EXPORTER", "console")]).with_exporter(NoneExporter);
        let copy = config.clone();
        assert!(matches!(
            resolve(config).exporter,
            ExporterSettings::Custom(_)
        ));
        let (setting, _, expected) = invalid_config(copy);
        assert_eq!(setting, "Config::with_exporter");
        assert!(expected.contains("one init only"), "{expected}");
    }

    #[test]
    fn a_configuration_error_leaves_the_custom_exporter_in_place() {
        let config = Config::default().with_exporter(NoneExporter);
        let _ = invalid_config(config.clone().with_max_queue_size(0));
        assert!(matches!(
            resolve(config).exporter,
            ExporterSettings::Custom(_)
        ));
    }

    #[test]
    #[cfg(not(feature = "otlp-grpc"))]
    fn grpc_without_its_feature_is_refused() {
        let err = Config::default()
            .with_protocol(Protocol::Grpc)
            .resolve()
            .err();
        assert!(matches!(
            err,
            Some(InitError::FeatureDisabled { feature: "otlp-grpc", ref what }) if what == "Protocol::Grpc"
        ));
        let err = with_env(&[("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")])
            .resolve()
            .err();
        assert!(matches!(
            err,
            Some(InitError::FeatureDisabled { feature: "otlp-grpc", ref what })
                if what == r#"OTEL_EXPORTER_OTLP_PROTOCOL="grpc""#
        ));
    }

    #[test]
    #[cfg(not(feature = "otlp-http"))]
    fn http_without_its_feature_is_refused() {
        let err = Config::default()
            .with_protocol(Protocol::HttpProtobuf)
            .resolve()
            .err();
        assert!(matches!(
            err,
            Some(InitError::FeatureDisabled {
                feature: "otlp-http",
                ..
            })
        ));
    }

    #[test]
    #[cfg(feature = "otlp-http")]
    fn the_default_protocol_is_http_protobuf_as_the_specification_recommends() {
        let settings = otlp(Config::default());
        assert_eq!(settings.protocol, Protocol::HttpProtobuf);
        assert_eq!(settings.endpoint, "http://localhost:4318/v1/traces");
    }

    #[test]
    #[cfg(all(feature = "otlp-grpc", not(feature = "otlp-http")))]
    fn a_grpc_only_build_defaults_to_grpc() {
        let settings = otlp(Config::default());
        assert_eq!(settings.protocol, Protocol::Grpc);
        assert_eq!(settings.endpoint, "http://localhost:4317");
    }

    #[test]
    #[cfg(not(any(feature = "otlp-grpc", feature = "otlp-http")))]
    fn a_build_without_otlp_refuses_the_default_exporter_but_not_others() {
        let err = Config::default().resolve().err();
        assert!(matches!(err, Some(InitError::FeatureDisabled { .. })));
        let config = Config::default().with_exporter_kind(ExporterKind::Console);
        assert!(config.resolve().is_ok());
    }
}
