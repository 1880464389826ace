//! [`Config`]: every knob of tracewire, from code and from the `OTEL_*` environment variables.
//!
//! A `Config` holds two layers: what the code set with the `with_*` methods and what
//! [`Config::from_env`] read from the environment (or [`Config::from_lookup`] from a map). They are
//! merged when [`Config::init`] runs, so the order of calls does not matter. Code wins over the
//! environment for every setting, with one exception the OpenTelemetry specification makes: the
//! service name, which the deployment owns (`OTEL_SERVICE_NAME`, then `service.name` in
//! `OTEL_RESOURCE_ATTRIBUTES`, then [`Config::with_service_name`], then
//! `unknown_service:<executable>`).
//!
//! A [`Profile`] ([`Config::with_profile`]) adds a third layer below those two: its defaults (the
//! endpoint, a sampler per `deployment.environment.name`) apply only where neither the code nor
//! the environment sets a value, and its policies always apply. [`describe`](crate::describe)
//! shows which layer each setting came from.
//!
//! | variable | setting | default |
//! |---|---|---|
//! | `OTEL_SDK_DISABLED` | [`Config::with_disabled`] | `false` |
//! | `OTEL_SERVICE_NAME` | [`Config::with_service_name`] (env wins) | `unknown_service:<exe>` |
//! | `OTEL_RESOURCE_ATTRIBUTES` | [`Config::with_resource_attribute`] | none |
//! | `OTEL_TRACES_SAMPLER`, `OTEL_TRACES_SAMPLER_ARG` | [`Config::with_sampler`] | `parentbased_always_on` |
//! | `OTEL_TRACES_EXPORTER` | [`Config::with_exporter_kind`], [`Config::with_exporter`] | `otlp` |
//! | `OTEL_EXPORTER_OTLP_PROTOCOL`, `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL` | [`Config::with_protocol`] | `http/protobuf` (`grpc` if the `otlp-http` feature is off) |
//! | `OTEL_EXPORTER_OTLP_ENDPOINT` | [`Config::with_endpoint`] | `http://localhost:4318` (HTTP, `/v1/traces` appended), `http://localhost:4317` (gRPC) |
//! | `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` | [`Config::with_traces_endpoint`] | derived from the endpoint |
//! | `OTEL_EXPORTER_OTLP_HEADERS`, `OTEL_EXPORTER_OTLP_TRACES_HEADERS` | [`Config::with_header`] | none |
//! | `OTEL_EXPORTER_OTLP_TIMEOUT`, `OTEL_EXPORTER_OTLP_TRACES_TIMEOUT` | [`Config::with_export_timeout`] | 10 s |
//! | `OTEL_EXPORTER_OTLP_COMPRESSION`, `OTEL_EXPORTER_OTLP_TRACES_COMPRESSION` | [`Config::with_compression`] | none |
//! | `OTEL_BSP_MAX_QUEUE_SIZE` | [`Config::with_max_queue_size`] | 2048 |
//! | `OTEL_BSP_SCHEDULE_DELAY` | [`Config::with_schedule_delay`] | 5000 ms |
//! | `OTEL_BSP_MAX_EXPORT_BATCH_SIZE` | [`Config::with_max_export_batch_size`] | 512 |
//! | `OTEL_BSP_EXPORT_TIMEOUT` | [`Config::with_batch_export_timeout`] | 30000 ms |
//! | `OTEL_BSP_MAX_CONCURRENT_EXPORTS` | [`Config::with_max_concurrent_exports`] | 4 |
//! | `OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT`, `OTEL_ATTRIBUTE_COUNT_LIMIT` | [`Config::with_span_limits`] | 128 |
//! | `OTEL_SPAN_EVENT_COUNT_LIMIT`, `OTEL_SPAN_LINK_COUNT_LIMIT` | [`Config::with_span_limits`] | 128 |
//! | `OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT`, `OTEL_LINK_ATTRIBUTE_COUNT_LIMIT` | [`Config::with_span_limits`] | 128 |
//! | `OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT`, `OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT` | [`Config::with_span_limits`] | no limit |
//! | `OTEL_LOG_LEVEL` | [`Config::with_diagnostics`] | `warn` |
//! | `OTEL_PROPAGATORS` | [`Config::with_propagators`] | `tracecontext,baggage` |
//! | `OTEL_EXPORTER_OTLP_CERTIFICATE`, `OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE` | [`Config::with_certificate`] (feature `tls`) | the platform's roots |
//! | `OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE`, `OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE` | [`Config::with_client_certificate`] (feature `tls`) | none |
//! | `OTEL_EXPORTER_OTLP_CLIENT_KEY`, `OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY` | [`Config::with_client_key`] (feature `tls`) | none |
//! | `OTEL_EXPORTER_OTLP_INSECURE`, `OTEL_EXPORTER_OTLP_TRACES_INSECURE` | [`Config::with_insecure`] | `false` |
//! | (none) | [`Config::with_shutdown_timeout`] | 5 s (at most 1 hour) |
//! | (none) | [`Config::with_thread_buffer_size`] | 1024 (16 to 1,048,576) |
//!
//! The queue holds at most [`MAX_QUEUE_SIZE`] spans and a batch at most [`MAX_EXPORT_BATCH_SIZE`];
//! a larger value, from code or from the environment, is an error naming it.
//!
//! The URL spans go to is the first of these that is set, so code wins here too: the traces
//! endpoint from code, the endpoint from code, `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`,
//! `OTEL_EXPORTER_OTLP_ENDPOINT`, the default of the protocol. A traces endpoint is used as given; for
//! OTLP/HTTP, `/v1/traces` is appended to the others.

pub(crate) mod describe;
mod env;
pub(crate) mod profile;
mod resolve;
mod resource;
mod tls;

pub use profile::Profile;

pub use crate::export::settings::{Compression, Protocol};
pub(crate) use crate::export::settings::{ExporterSettings, OtlpSettings, PemFile, TlsFiles};
pub use crate::span::limits::SpanLimits;
pub(crate) use resolve::Resolved;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use opentelemetry::KeyValue;

use crate::context::Sampler;
use crate::diag::DiagLevel;
use crate::error::InitError;
use crate::export::DynExporter;

/// Default for [`Config::with_max_queue_size`] (`OTEL_BSP_MAX_QUEUE_SIZE`).
pub const DEFAULT_MAX_QUEUE_SIZE: usize = 2048;
/// Default for [`Config::with_schedule_delay`] (`OTEL_BSP_SCHEDULE_DELAY`).
pub const DEFAULT_SCHEDULE_DELAY: Duration = Duration::from_millis(5000);
/// Default for [`Config::with_max_export_batch_size`] (`OTEL_BSP_MAX_EXPORT_BATCH_SIZE`).
pub const DEFAULT_MAX_EXPORT_BATCH_SIZE: usize = 512;
/// Default for [`Config::with_batch_export_timeout`] (`OTEL_BSP_EXPORT_TIMEOUT`).
pub const DEFAULT_BATCH_EXPORT_TIMEOUT: Duration = Duration::from_millis(30_000);
/// Default for [`Config::with_max_concurrent_exports`] (`OTEL_BSP_MAX_CONCURRENT_EXPORTS`).
pub const DEFAULT_MAX_CONCURRENT_EXPORTS: usize = 4;
/// The largest [`Config::with_max_concurrent_exports`] (`OTEL_BSP_MAX_CONCURRENT_EXPORTS`): 64.
pub const MAX_CONCURRENT_EXPORTS: usize = 64;
/// Default for [`Config::with_export_timeout`] (`OTEL_EXPORTER_OTLP_TIMEOUT`).
pub const DEFAULT_OTLP_TIMEOUT: Duration = Duration::from_millis(10_000);
/// Default for [`Config::with_shutdown_timeout`].
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);
pub use crate::collector::DEFAULT_THREAD_BUFFER_SIZE;
/// The largest [`Config::with_max_queue_size`] (`OTEL_BSP_MAX_QUEUE_SIZE`): 4,194,304 spans.
pub const MAX_QUEUE_SIZE: usize = 1 << 22;
/// The largest [`Config::with_max_export_batch_size`] (`OTEL_BSP_MAX_EXPORT_BATCH_SIZE`): 65,536
/// spans (a batch is one request; collectors refuse much larger ones).
pub const MAX_EXPORT_BATCH_SIZE: usize = 1 << 16;
/// The largest [`Config::with_thread_buffer_size`]: 1,048,576 spans per thread.
pub const MAX_THREAD_BUFFER_SIZE: usize = 1 << 20;
pub use crate::collector::MAX_SHUTDOWN_TIMEOUT;
/// Default OTLP/gRPC endpoint.
pub const DEFAULT_GRPC_ENDPOINT: &str = "http://localhost:4317";
/// Default OTLP/HTTP endpoint (the `/v1/traces` path is appended).
pub const DEFAULT_HTTP_ENDPOINT: &str = "http://localhost:4318";

/// Which exporter the background thread sends finished spans to (`OTEL_TRACES_EXPORTER`).
///
/// # Examples
///
/// ```
/// use tracewire::{Config, ExporterKind};
///
/// # fn main() -> Result<(), tracewire::InitError> {
/// let _guard = Config::default().with_exporter_kind(ExporterKind::None).init()?;
/// tracewire::span("work").end();
/// tracewire::force_flush().ok();
/// // The `none` exporter accepts the span and discards it: it counts as exported.
/// assert_eq!(tracewire::stats().spans_exported, 1);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExporterKind {
    /// OTLP over the [`Protocol`] configured (`otlp`, the default).
    Otlp,
    /// Human-readable trees on standard output (`console`).
    Console,
    /// An exporter that accepts every batch and discards it (`none`): spans are sampled, batched
    /// and counted in [`Stats::spans_exported`](crate::Stats::spans_exported), but sent nowhere.
    None,
}

/// One layer of settings: all `None` means "not said here".
#[derive(Default, Clone)]
pub(crate) struct Layer {
    pub(crate) disabled: Option<bool>,
    pub(crate) service_name: Option<String>,
    pub(crate) service_version: Option<String>,
    /// Resource attributes in the order given; later keys win over earlier ones.
    pub(crate) resource_attributes: Vec<KeyValue>,
    pub(crate) sampler: Option<Sampler>,
    pub(crate) exporter: Option<ExporterKind>,
    pub(crate) protocol: Option<Protocol>,
    /// The base endpoint (`OTEL_EXPORTER_OTLP_ENDPOINT`); for HTTP, `/v1/traces` is appended.
    pub(crate) endpoint: Option<String>,
    /// The traces endpoint (`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`), used exactly as given.
    pub(crate) traces_endpoint: Option<String>,
    /// Headers in the order given; a later header with the same (case-insensitive) name wins.
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) otlp_timeout: Option<Duration>,
    pub(crate) compression: Option<Compression>,
    pub(crate) max_queue_size: Option<usize>,
    pub(crate) schedule_delay: Option<Duration>,
    pub(crate) max_export_batch_size: Option<usize>,
    pub(crate) batch_export_timeout: Option<Duration>,
    pub(crate) max_concurrent_exports: Option<usize>,
    pub(crate) span_limits: Option<SpanLimits>,
    pub(crate) shutdown_timeout: Option<Duration>,
    pub(crate) thread_buffer_size: Option<usize>,
    pub(crate) diagnostics: Option<DiagLevel>,
    pub(crate) propagators: Option<crate::propagation::Propagators>,
    /// TLS files, each with the setting that named it (for errors).
    pub(crate) certificate: Option<(&'static str, std::path::PathBuf)>,
    pub(crate) client_certificate: Option<(&'static str, std::path::PathBuf)>,
    pub(crate) client_key: Option<(&'static str, std::path::PathBuf)>,
    pub(crate) insecure: Option<bool>,
}

/// How tracewire is set up: start from [`Config::default`] or [`Config::from_env`], adjust with the
/// `with_*` methods, then call [`Config::init`].
///
/// [`tracewire::init()`](crate::init) is `Config::from_env()?.init()`.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// # fn main() -> Result<(), tracewire::InitError> {
/// let _guard = tracewire::Config::from_env()?
///     .with_service_name("checkout")
///     .with_service_version("1.4.2")
///     .with_exporter_kind(tracewire::ExporterKind::None)
///     .with_shutdown_timeout(Duration::from_secs(2))
///     .init()?;
/// # Ok(())
/// # }
/// ```
#[must_use = "a Config does nothing until `.init()` is called"]
#[derive(Default, Clone)]
pub struct Config {
    pub(crate) code: Layer,
    pub(crate) env: Layer,
    pub(crate) custom_exporter: Option<SharedExporter>,
    /// `Some(false)`: `init` leaves OpenTelemetry's global tracer provider alone.
    pub(crate) global_tracer_provider: Option<bool>,
    /// The platform team's profile: defaults below the environment, policies always applied.
    pub(crate) profile: Option<Profile>,
    /// The `OTEL_*` variables that were set and read when the environment was read, for `describe()`.
    pub(crate) env_vars: Vec<&'static str>,
}

/// An exporter given in code, taken out by the first `init` that uses the `Config` (or a clone).
pub(crate) type SharedExporter = Arc<std::sync::Mutex<Option<Box<dyn DynExporter>>>>;

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("custom_exporter", &self.custom_exporter.is_some())
            .finish_non_exhaustive()
    }
}

impl Config {
    /// A configuration that reads every `OTEL_*` variable listed in the [module docs](crate::config).
    ///
    /// Settings made in code afterwards still win over the environment (except the service name).
    ///
    /// # Errors
    ///
    /// An [`InitError::InvalidEnv`] naming the first variable whose value cannot be used.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), tracewire::InitError> {
    /// let config = tracewire::Config::from_env()?.with_service_name("billing");
    /// # drop(config);
    /// # Ok(())
    /// # }
    /// ```
    pub fn from_env() -> Result<Config, InitError> {
        Config::from_lookup(|name| std::env::var(name).ok())
    }

    /// Like [`Config::from_env`], but the `OTEL_*` variables are looked up with `lookup` instead of in
    /// the process environment: feed settings from a map, a file or a secret store, or test a
    /// configuration without touching the (process-global) environment.
    ///
    /// `lookup` receives a variable name such as `OTEL_TRACES_SAMPLER` and returns its value, or `None`
    /// when it is unset. The same rules apply as for the environment: values are trimmed, an empty
    /// value counts as unset, and code settings made afterwards still win (except the service name).
    ///
    /// # Errors
    ///
    /// An [`InitError::InvalidEnv`] naming the first variable whose value cannot be used.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::collections::HashMap;
    ///
    /// # fn main() -> Result<(), tracewire::InitError> {
    /// let settings = HashMap::from([
    ///     ("OTEL_SERVICE_NAME", "checkout"),
    ///     ("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"),
    ///     ("OTEL_TRACES_SAMPLER_ARG", "0.25"),
    /// ]);
    /// let config = tracewire::Config::from_lookup(|name| settings.get(name).map(|v| v.to_string()))?;
    /// # drop(config);
    ///
    /// // Errors name the variable and quote its value.
    /// let bad = HashMap::from([
    ///     ("OTEL_TRACES_SAMPLER", "traceidratio"),
    ///     ("OTEL_TRACES_SAMPLER_ARG", "abc"),
    /// ]);
    /// let err = tracewire::Config::from_lookup(|name| bad.get(name).map(|v| v.to_string()))
    ///     .unwrap_err();
    /// assert_eq!(err.to_string(), r#"OTEL_TRACES_SAMPLER_ARG="abc": expected a number in [0, 1]"#);
    /// # Ok(())
    /// # }
    /// ```
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, InitError> {
        let (env, env_vars) = env::read(lookup)?;
        Ok(Config {
            env,
            env_vars,
            ..Config::default()
        })
    }

    /// Starts tracing with this configuration; keep the returned [`Guard`](crate::Guard) alive.
    ///
    /// # Errors
    ///
    /// An [`InitError`] naming the setting at fault, or [`InitError::AlreadyInitialized`].
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), tracewire::InitError> {
    /// let guard = tracewire::Config::default()
    ///     .with_exporter_kind(tracewire::ExporterKind::None)
    ///     .init()?;
    /// drop(guard); // flushes and stops the export thread
    /// # Ok(())
    /// # }
    /// ```
    pub fn init(self) -> Result<crate::Guard, InitError> {
        crate::init::install(self)
    }

    /// Turns tracing off: spans cost one atomic load and record nothing (`OTEL_SDK_DISABLED`).
    ///
    /// # Examples
    ///
    /// ```
    /// let config = tracewire::Config::default().with_disabled(true);
    /// # drop(config);
    /// ```
    pub fn with_disabled(mut self, disabled: bool) -> Self {
        self.code.disabled = Some(disabled);
        self
    }

    /// The `service.name` resource attribute, used when the environment does not name the service.
    ///
    /// `OTEL_SERVICE_NAME` and `service.name` in `OTEL_RESOURCE_ATTRIBUTES` take precedence, as the
    /// OpenTelemetry specification has it: the deployment names the service.
    ///
    /// # Examples
    ///
    /// ```
    /// let config = tracewire::Config::default().with_service_name("checkout");
    /// # drop(config);
    /// ```
    pub fn with_service_name(mut self, name: impl Into<String>) -> Self {
        self.code.service_name = Some(name.into());
        self
    }

    /// The `service.version` resource attribute.
    ///
    /// # Examples
    ///
    /// ```
    /// let config = tracewire::Config::default().with_service_version(env!("CARGO_PKG_VERSION"));
    /// # drop(config);
    /// ```
    pub fn with_service_version(mut self, version: impl Into<String>) -> Self {
        self.code.service_version = Some(version.into());
        self
    }

    /// Adds a resource attribute; it wins over the same key in `OTEL_RESOURCE_ATTRIBUTES`.
    ///
    /// # Examples
    ///
    /// ```
    /// let config = tracewire::Config::default()
    ///     .with_resource_attribute(tracewire::KeyValue::new("deployment.environment.name", "prod"));
    /// # drop(config);
    /// ```
    pub fn with_resource_attribute(mut self, attribute: KeyValue) -> Self {
        self.code.resource_attributes.push(attribute);
        self
    }

    /// How root spans are sampled (`OTEL_TRACES_SAMPLER`, `OTEL_TRACES_SAMPLER_ARG`).
    ///
    /// # Examples
    ///
    /// ```
    /// use tracewire::Sampler;
    /// let config = tracewire::Config::default()
    ///     .with_sampler(Sampler::ParentBased(Box::new(Sampler::TraceIdRatio(0.1))));
    /// # drop(config);
    /// ```
    pub fn with_sampler(mut self, sampler: crate::Sampler) -> Self {
        self.code.sampler = Some(sampler);
        self
    }

    /// Which built-in exporter to use (`OTEL_TRACES_EXPORTER`).
    ///
    /// # Examples
    ///
    /// ```
    /// let config = tracewire::Config::default().with_exporter_kind(tracewire::ExporterKind::Console);
    /// # drop(config);
    /// ```
    pub fn with_exporter_kind(mut self, kind: ExporterKind) -> Self {
        self.code.exporter = Some(kind);
        self
    }

    /// Sends finished spans to `exporter` instead of a built-in one; `OTEL_TRACES_EXPORTER` is then
    /// ignored. Any [`opentelemetry_sdk::trace::SpanExporter`] works; it is called from tracewire's
    /// own thread, inside a current-thread tokio runtime that tracewire owns.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "testing")] {
    /// let memory = tracewire::testing::InMemoryExporter::default();
    /// let config = tracewire::Config::default().with_exporter(memory.clone());
    /// # drop(config);
    /// # }
    /// ```
    pub fn with_exporter<E>(mut self, exporter: E) -> Self
    where
        E: opentelemetry_sdk::trace::SpanExporter + 'static,
    {
        let boxed: Box<dyn DynExporter> = Box::new(exporter);
        self.custom_exporter = Some(Arc::new(std::sync::Mutex::new(Some(boxed))));
        self
    }

    /// The OTLP transport (`OTEL_EXPORTER_OTLP_PROTOCOL`).
    ///
    /// # Examples
    ///
    /// ```
    /// let config = tracewire::Config::default().with_protocol(tracewire::Protocol::HttpProtobuf);
    /// # drop(config);
    /// ```
    pub fn with_protocol(mut self, protocol: Protocol) -> Self {
        self.code.protocol = Some(protocol);
        self
    }

    /// The collector's base URL (`OTEL_EXPORTER_OTLP_ENDPOINT`); for OTLP/HTTP, `/v1/traces` is
    /// appended.
    ///
    /// # Examples
    ///
    /// ```
    /// let config = tracewire::Config::default().with_endpoint("http://otel-collector:4318");
    /// # drop(config);
    /// ```
    pub fn with_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.code.endpoint = Some(endpoint.into());
        self
    }

    /// The full URL traces are sent to (`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`), used as given.
    ///
    /// # Examples
    ///
    /// ```
    /// let config = tracewire::Config::default()
    ///     .with_protocol(tracewire::Protocol::HttpProtobuf)
    ///     .with_traces_endpoint("http://tempo:4318/v1/traces");
    /// # drop(config);
    /// ```
    pub fn with_traces_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.code.traces_endpoint = Some(endpoint.into());
        self
    }

    /// Adds a header (gRPC metadata) to every export request (`OTEL_EXPORTER_OTLP_HEADERS`); it wins
    /// over a header of the same name from the environment.
    ///
    /// # Examples
    ///
    /// ```
    /// let config = tracewire::Config::default().with_header("x-api-key", "secret");
    /// # drop(config);
    /// ```
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.code.headers.push((name.into(), value.into()));
        self
    }

    /// How long one OTLP request (one attempt) may take, connecting included
    /// (`OTEL_EXPORTER_OTLP_TIMEOUT`); retries are the background thread's, each bounded again.
    ///
    /// # Examples
    ///
    /// ```
    /// let config = tracewire::Config::default().with_export_timeout(std::time::Duration::from_secs(3));
    /// # drop(config);
    /// ```
    pub fn with_export_timeout(mut self, timeout: Duration) -> Self {
        self.code.otlp_timeout = Some(timeout);
        self
    }

    /// Compression of OTLP requests (`OTEL_EXPORTER_OTLP_COMPRESSION`).
    ///
    /// # Examples
    ///
    /// ```
    /// let config = tracewire::Config::default().with_compression(tracewire::Compression::Gzip);
    /// # drop(config);
    /// ```
    pub fn with_compression(mut self, compression: Compression) -> Self {
        self.code.compression = Some(compression);
        self
    }

    /// A PEM file of the CA certificates to trust for the collector (`OTEL_EXPORTER_OTLP_CERTIFICATE`);
    /// needs the `tls` feature and an `https://` endpoint.
    ///
    /// The file **replaces** the platform's root store rather than adding to it: a private CA then
    /// vouches for the collector alone, and no public CA can stand in for it. To trust both, put the
    /// platform bundle and the CA in one file (`cat /etc/ssl/certs/ca-certificates.crt ca.pem`).
    /// The file is read once, by [`init`](Config::init); an unreadable file, or one without a PEM
    /// certificate, is an [`InitError`] naming this method and the path.
    ///
    /// # Examples
    ///
    /// ```
    /// let config = tracewire::Config::default()
    ///     .with_endpoint("https://otel-collector:4318")
    ///     .with_certificate("/etc/otel/ca.pem");
    /// # drop(config);
    /// ```
    pub fn with_certificate(mut self, path: impl Into<std::path::PathBuf>) -> Self {
        self.code.certificate = Some(("Config::with_certificate", path.into()));
        self
    }

    /// A PEM file with the client certificate chain shown to the collector, for mTLS
    /// (`OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE`); goes with [`Config::with_client_key`]. Needs the
    /// `tls` feature.
    ///
    /// # Examples
    ///
    /// ```
    /// let config = tracewire::Config::default()
    ///     .with_endpoint("https://otel-collector:4317")
    ///     .with_protocol(tracewire::Protocol::Grpc)
    ///     .with_client_certificate("/var/run/secrets/tls.crt")
    ///     .with_client_key("/var/run/secrets/tls.key");
    /// # drop(config);
    /// ```
    pub fn with_client_certificate(mut self, path: impl Into<std::path::PathBuf>) -> Self {
        self.code.client_certificate = Some(("Config::with_client_certificate", path.into()));
        self
    }

    /// A PEM file with the private key of the client certificate (PKCS#8, PKCS#1 or SEC1), for mTLS
    /// (`OTEL_EXPORTER_OTLP_CLIENT_KEY`); goes with [`Config::with_client_certificate`]. Needs the
    /// `tls` feature. Errors name the path, never what the file holds.
    ///
    /// # Examples
    ///
    /// ```
    /// let config = tracewire::Config::default()
    ///     .with_client_certificate("/var/run/secrets/tls.crt")
    ///     .with_client_key("/var/run/secrets/tls.key");
    /// # drop(config);
    /// ```
    pub fn with_client_key(mut self, path: impl Into<std::path::PathBuf>) -> Self {
        self.code.client_key = Some(("Config::with_client_key", path.into()));
        self
    }

    /// For an OTLP/gRPC endpoint given without a scheme (`otel-collector:4317`): `true` sends in
    /// clear text (`http://`), `false`, the default, uses TLS (`https://`)
    /// (`OTEL_EXPORTER_OTLP_INSECURE`). An endpoint with a scheme keeps it.
    ///
    /// # Examples
    ///
    /// ```
    /// let config = tracewire::Config::default()
    ///     .with_protocol(tracewire::Protocol::Grpc)
    ///     .with_endpoint("otel-collector:4317")
    ///     .with_insecure(true);
    /// # drop(config);
    /// ```
    pub fn with_insecure(mut self, insecure: bool) -> Self {
        self.code.insecure = Some(insecure);
        self
    }

    /// The most finished spans held for export (`OTEL_BSP_MAX_QUEUE_SIZE`); past it, spans are dropped
    /// and counted in [`Stats::dropped_buffer_full`](crate::Stats::dropped_buffer_full). From 1 to
    /// [`MAX_QUEUE_SIZE`].
    ///
    /// # Examples
    ///
    /// ```
    /// let config = tracewire::Config::default().with_max_queue_size(8192);
    /// # drop(config);
    /// ```
    pub fn with_max_queue_size(mut self, size: usize) -> Self {
        self.code.max_queue_size = Some(size);
        self
    }

    /// The longest time between two exports when fewer than a full batch is queued
    /// (`OTEL_BSP_SCHEDULE_DELAY`).
    ///
    /// # Examples
    ///
    /// ```
    /// let config = tracewire::Config::default().with_schedule_delay(std::time::Duration::from_secs(1));
    /// # drop(config);
    /// ```
    pub fn with_schedule_delay(mut self, delay: Duration) -> Self {
        self.code.schedule_delay = Some(delay);
        self
    }

    /// The most spans in one export request (`OTEL_BSP_MAX_EXPORT_BATCH_SIZE`); a full batch is sent
    /// at once, without waiting for the schedule delay. From 1 to [`MAX_EXPORT_BATCH_SIZE`], and
    /// not above the queue size.
    ///
    /// Exactly: an OTLP request holds at most this many spans, and fewer when its encoded spans
    /// reach 3 MiB first (collectors refuse requests above 4 MiB by default) or when the schedule
    /// delay, a flush or shutdown seals it early. Every request holds at least one span.
    ///
    /// # Examples
    ///
    /// ```
    /// let config = tracewire::Config::default().with_max_export_batch_size(256);
    /// # drop(config);
    /// ```
    pub fn with_max_export_batch_size(mut self, size: usize) -> Self {
        self.code.max_export_batch_size = Some(size);
        self
    }

    /// How long one export attempt may take (`OTEL_BSP_EXPORT_TIMEOUT`); for OTLP a timed-out
    /// attempt counts as "unreachable" and is retried (see [`Stats::export_retries`](crate::Stats));
    /// for other exporters the batch is counted as dropped. Also the default deadline of
    /// [`force_flush`](crate::force_flush).
    ///
    /// # Examples
    ///
    /// ```
    /// let config = tracewire::Config::default()
    ///     .with_batch_export_timeout(std::time::Duration::from_secs(10));
    /// # drop(config);
    /// ```
    pub fn with_batch_export_timeout(mut self, timeout: Duration) -> Self {
        self.code.batch_export_timeout = Some(timeout);
        self
    }

    /// How many export requests may be in flight at once (`OTEL_BSP_MAX_CONCURRENT_EXPORTS`, the
    /// name opentelemetry-rust's SDK uses). From 1 to [`MAX_CONCURRENT_EXPORTS`]; 4 by default.
    ///
    /// More requests in flight hide the collector's latency; while the collector asks to slow
    /// down or cannot be reached, none (or one probe) is sent, whatever this says.
    ///
    /// # Examples
    ///
    /// ```
    /// let config = tracewire::Config::default().with_max_concurrent_exports(2);
    /// # drop(config);
    /// ```
    pub fn with_max_concurrent_exports(mut self, requests: usize) -> Self {
        self.code.max_concurrent_exports = Some(requests);
        self
    }

    /// Limits on attributes, events and links per span.
    ///
    /// # Examples
    ///
    /// ```
    /// let config = tracewire::Config::default().with_span_limits(tracewire::SpanLimits::default());
    /// # drop(config);
    /// ```
    pub fn with_span_limits(mut self, limits: SpanLimits) -> Self {
        self.code.span_limits = Some(limits);
        self
    }

    /// How long dropping the [`Guard`](crate::Guard) may take to flush and shut down; after it, the
    /// drop returns and what was not exported is counted as dropped. At most
    /// [`MAX_SHUTDOWN_TIMEOUT`] (one hour); a longer one is an [`InitError`] naming the value.
    ///
    /// # Examples
    ///
    /// ```
    /// let config = tracewire::Config::default().with_shutdown_timeout(std::time::Duration::from_secs(1));
    /// # drop(config);
    /// ```
    pub fn with_shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.code.shutdown_timeout = Some(timeout);
        self
    }

    /// Spans each thread can hold before the background thread collects them (rounded to at least
    /// 16). Finished spans held at once are at most `max_queue_size + threads × thread_buffer_size`,
    /// plus the batch being exported (at most `max_export_batch_size`); each thread also keeps up to
    /// `thread_buffer_size` emptied attribute boxes for reuse. A thread's ring starts at 64 slots
    /// and doubles up to this size only when the thread fills it, so threads that end few spans stay
    /// small. At most [`MAX_THREAD_BUFFER_SIZE`]; a larger value is an [`InitError`] naming it.
    ///
    /// # Examples
    ///
    /// ```
    /// let config = tracewire::Config::default().with_thread_buffer_size(4096);
    /// # drop(config);
    /// ```
    pub fn with_thread_buffer_size(mut self, size: usize) -> Self {
        self.code.thread_buffer_size = Some(size);
        self
    }

    /// Whether [`init`](Config::init) makes tracewire OpenTelemetry's global tracer provider
    /// (`opentelemetry::global::set_tracer_provider` with [`otel::TracerProvider`](crate::otel::TracerProvider)),
    /// so that code written against the `opentelemetry` API records into tracewire. On by default;
    /// turn it off when the service sets its own global provider.
    ///
    /// # Examples
    ///
    /// ```
    /// let config = tracewire::Config::default().with_global_tracer_provider(false);
    /// # drop(config);
    /// ```
    pub fn with_global_tracer_provider(mut self, enabled: bool) -> Self {
        self.global_tracer_provider = Some(enabled);
        self
    }

    /// Which of tracewire's own diagnostics (export failures, dropped spans) are written to standard
    /// error (`OTEL_LOG_LEVEL`). They are rate-limited; [`DiagLevel::None`]
    /// silences them.
    ///
    /// # Examples
    ///
    /// ```
    /// let config = tracewire::Config::default().with_diagnostics(tracewire::DiagLevel::Error);
    /// # drop(config);
    /// ```
    pub fn with_diagnostics(mut self, level: DiagLevel) -> Self {
        self.code.diagnostics = Some(level);
        self
    }

    /// The formats [`propagation::inject`](crate::propagation::inject) and
    /// [`propagation::extract`](crate::propagation::extract) use (`OTEL_PROPAGATORS`); see the
    /// [`propagation`](crate::propagation) module.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracewire::propagation::{Propagator, Propagators};
    /// // Talk W3C and B3 to a mixed fleet.
    /// let config = tracewire::Config::default().with_propagators(Propagators::new([
    ///     Propagator::TraceContext,
    ///     Propagator::Baggage,
    ///     Propagator::B3Multi,
    /// ]));
    /// # drop(config);
    /// ```
    pub fn with_propagators(mut self, propagators: crate::propagation::Propagators) -> Self {
        self.code.propagators = Some(propagators);
        self
    }

    /// Follows a platform team's [`Profile`]. Its defaults (endpoint, sampler per environment)
    /// apply where neither this code nor the environment sets a value; its policies (required
    /// attributes, redaction, value caps, span-name normalisation) always apply. Called again,
    /// the second profile's rules are added to the first's: a service can add rules, never drop
    /// one.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracewire::{Config, Profile};
    ///
    /// # fn main() -> Result<(), tracewire::InitError> {
    /// let platform = Profile::new("acme").redact_attribute("authorization");
    /// let ours = Profile::new("checkout").redact_attribute("card.number");
    /// let _guard = Config::default()
    ///     .with_exporter_kind(tracewire::ExporterKind::None)
    ///     .with_profile(platform)
    ///     .with_profile(ours) // both rules apply
    ///     .init()?;
    /// assert!(tracewire::describe().contains("redact_attribute(\"card.number\")"));
    /// # Ok(())
    /// # }
    /// ```
    pub fn with_profile(mut self, profile: Profile) -> Self {
        self.profile = Some(match self.profile.take() {
            Some(first) => first.merged(profile),
            None => profile,
        });
        self
    }
}
