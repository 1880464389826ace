//! Acme's telemetry: [`tracewire`] with Acme's conventions built in.
//!
//! This is the crate a platform team publishes once. Every Acme service depends on it (and on
//! nothing else for tracing) and starts tracing with one call:
//!
//! ```no_run
//! fn main() -> Result<(), acme_telemetry::InitError> {
//!     let _guard = acme_telemetry::init()?;
//!     // ...
//!     Ok(())
//! }
//! ```
//!
//! The profile requires `service.namespace` and `deployment.environment.name` (set them in
//! `OTEL_RESOURCE_ATTRIBUTES`), redacts passwords and credentials, caps values at 1 KiB, turns
//! ids in span names into `{id}`, wants `http.route` on server spans, sends to the node's agent
//! unless told otherwise, and samples 10 % of production traces. A service can add rules with
//! [`Config::with_profile`]; it cannot remove Acme's.
//!
//! Everything tracewire offers is re-exported, so `#[acme_telemetry::traced(crate =
//! acme_telemetry)]` and `acme_telemetry::span(..)` work without a direct tracewire dependency.

pub use tracewire::*;

/// Acme's conventions.
///
/// # Examples
///
/// ```
/// let report = acme_telemetry::testing::conformance(&acme_telemetry::profile(), || {
///     acme_telemetry::in_span("load catalogue", |_| ());
/// });
/// assert!(report.is_clean(), "{report}");
/// ```
pub fn profile() -> Profile {
    Profile::new("acme")
        .require_resource_attribute("service.namespace")
        .require_resource_attribute("deployment.environment.name")
        .redact_attribute("*password*")
        .redact_attribute("*secret*")
        .redact_attribute("authorization")
        .redact_attribute("http.request.header.cookie")
        .max_attribute_value_length(1024)
        .normalize_span_names()
        .require_span_attribute(SpanKind::Server, "http.route")
        .with_default_endpoint("http://otel-agent.acme.internal:4318")
        .with_sampler_for_environment("production", Sampler::TraceIdRatio(0.1))
}

/// The configuration every Acme service starts from: the `OTEL_*` environment and Acme's profile.
/// Add the service's own settings (code wins over the environment and the profile's defaults).
///
/// # Errors
///
/// An `OTEL_*` variable holds a value that cannot be used.
///
/// # Examples
///
/// ```
/// # fn main() -> Result<(), acme_telemetry::InitError> {
/// let config = acme_telemetry::config()?.with_service_name("checkout");
/// # drop(config);
/// # Ok(())
/// # }
/// ```
pub fn config() -> Result<Config, InitError> {
    Ok(Config::from_env()?.with_profile(profile()))
}

/// Starts tracing the Acme way: [`config`], then [`Config::init`].
///
/// # Errors
///
/// A bad `OTEL_*` variable, or a required resource attribute that is missing: the message says
/// which and how to set it.
///
/// # Examples
///
/// ```no_run
/// let _guard = acme_telemetry::init().expect("tracing starts");
/// ```
pub fn init() -> Result<Guard, InitError> {
    config()?.init()
}
