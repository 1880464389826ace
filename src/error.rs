//! Errors returned by [`init`](crate::init) and [`Config`](crate::Config).

use std::time::Duration;

/// Why [`init`](crate::init) (or [`Config::init`](crate::Config::init)) refused to start tracing.
///
/// Every message names the input at fault, so an operator can fix a deployment from the log line alone:
///
/// ```
/// # #[allow(unused_unsafe)]
/// # unsafe { std::env::set_var("OTEL_BSP_MAX_QUEUE_SIZE", "lots") };
/// let err = tracewire::Config::from_env().unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     r#"OTEL_BSP_MAX_QUEUE_SIZE="lots": expected a positive integer"#
/// );
/// ```
///
/// The variants are the same under every feature set; the enum is `#[non_exhaustive]` so that new
/// checks can be added without a breaking change.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InitError {
    /// An environment variable holds a value that cannot be used.
    #[error("{name}={value:?}: {expected}")]
    InvalidEnv {
        /// The variable, e.g. `OTEL_TRACES_SAMPLER`.
        name: &'static str,
        /// The value as it was found.
        value: String,
        /// What would have been accepted.
        expected: String,
    },
    /// A value given in code cannot be used.
    #[error("{setting} = {value:?}: {expected}")]
    InvalidConfig {
        /// The builder method or setting, e.g. `Config::with_endpoint`.
        setting: &'static str,
        /// The value as it was given.
        value: String,
        /// What would have been accepted.
        expected: String,
    },
    /// The configuration asks for something this build of tracewire was compiled without.
    #[error(
        "{what} needs the cargo feature `{feature}` of tracewire, which this build does not enable"
    )]
    FeatureDisabled {
        /// What was asked for, e.g. `OTEL_EXPORTER_OTLP_PROTOCOL="grpc"`.
        what: String,
        /// The cargo feature that provides it.
        feature: &'static str,
    },
    /// The exporter could not be built (for example an endpoint the transport rejects).
    #[error("cannot build the {exporter} exporter: {reason}")]
    Exporter {
        /// Which exporter, e.g. `OTLP/gRPC`.
        exporter: &'static str,
        /// The transport's own explanation.
        reason: String,
    },
    /// A [`Profile`](crate::Profile) requires resource attributes that are not set. The message
    /// names the profile, every missing attribute, and how to set them.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracewire::{Config, InitError, Profile};
    /// let profile = Profile::new("acme").require_resource_attribute("service.namespace");
    /// match Config::default().with_profile(profile).init() {
    ///     Err(InitError::MissingResourceAttributes { profile, missing }) => {
    ///         assert_eq!((profile.as_str(), missing), ("acme", vec!["service.namespace".to_owned()]));
    ///     }
    ///     other => panic!("{other:?}"),
    /// }
    /// ```
    #[error(
        "profile {profile:?} requires resource attributes that are not set: {}; {}",
        missing.join(", "),
        how_to_set(missing)
    )]
    MissingResourceAttributes {
        /// The profile's name.
        profile: String,
        /// The required attributes the resource lacks.
        missing: Vec<String>,
    },
    /// Tracing is already initialised in this process; drop the first [`Guard`](crate::Guard) before
    /// calling `init` again.
    #[error("tracewire is already initialised in this process; drop the existing Guard first")]
    AlreadyInitialized,
    /// The background export thread could not be started.
    #[error("cannot start the tracewire export thread: {0}")]
    Thread(#[source] std::io::Error),
    /// The background export thread did not report ready within the given time.
    #[error("the tracewire export thread did not start within {0:?}")]
    StartTimeout(Duration),
}

/// Why [`force_flush`](crate::force_flush) or [`Guard::shutdown`](crate::Guard::shutdown) did not
/// confirm that every queued span was exported.
///
/// # Examples
///
/// ```
/// // Without `init`, there is nothing to flush.
/// assert!(matches!(tracewire::force_flush(), Err(tracewire::FlushError::NotRunning)));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FlushError {
    /// Tracing is not running: `init` was not called, the guard was dropped, or it is disabled.
    #[error("tracewire is not running (no init, disabled, or already shut down)")]
    NotRunning,
    /// The deadline passed before the background thread confirmed; it goes on exporting.
    #[error("flush did not finish within {0:?}")]
    Timeout(Duration),
    /// At least one export during the flush failed; its spans are counted as dropped.
    #[error("an export failed during the flush: {0}")]
    Export(String),
}

/// How to set the missing attributes, for [`InitError::MissingResourceAttributes`]'s message.
pub(crate) fn how_to_set(missing: &[String]) -> String {
    let pairs: Vec<String> = missing.iter().map(|key| format!("{key}=...")).collect();
    format!(
        "set them in the environment (OTEL_RESOURCE_ATTRIBUTES={}) or in code \
         (Config::with_resource_attribute(KeyValue::new(\"{}\", ...)))",
        pairs.join(","),
        missing.first().map_or("", String::as_str)
    )
}

/// `InvalidConfig` for a `Config` or `Profile` method, `InvalidEnv` for a variable.
pub(crate) fn invalid(origin: &'static str, value: String, expected: String) -> InitError {
    if origin.starts_with("Config::") || origin.starts_with("Profile::") {
        InitError::InvalidConfig {
            setting: origin,
            value,
            expected,
        }
    } else {
        InitError::InvalidEnv {
            name: origin,
            value,
            expected,
        }
    }
}
