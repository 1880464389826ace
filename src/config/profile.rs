//! [`Profile`]: the conventions a platform team writes once, in its own crate, for every service.
//!
//! A profile has two kinds of content:
//!
//! - **Defaults** ([`with_default_endpoint`](Profile::with_default_endpoint),
//!   [`with_sampler_for_environment`](Profile::with_sampler_for_environment)) resolve below the
//!   service's code and its environment: code, then the `OTEL_*` variables, then the profile, then
//!   tracewire's defaults.
//! - **Policies** (required resource and span attributes, redaction, value caps, span-name
//!   normalisation) always apply. A service cannot switch them off; it can add rules of its own,
//!   with the same builder methods or a second [`Config::with_profile`](crate::Config::with_profile).
//!
//! Required resource attributes are checked when [`init`](crate::init) runs. The other policies run
//! on tracewire's export thread, between draining the thread buffers and encoding, never on the
//! thread that records the span; [`testing::conformance`](crate::testing) checks code against them
//! in a test.

use opentelemetry::Key;
use opentelemetry::trace::SpanKind;
use opentelemetry_sdk::Resource;

use crate::collector::policy::Policy;
use crate::context::Sampler;
use crate::error::InitError;

/// The resource attribute a sampler's environment is read from.
pub(crate) const ENVIRONMENT_ATTRIBUTE: &str = "deployment.environment.name";

/// The conventions of an organisation: what every service must set, what must never leave it, and
/// the defaults it runs with. Built once by a platform team, handed to
/// [`Config::with_profile`](crate::Config::with_profile) by every service.
///
/// Every rule method adds a rule: nothing removes one. A value cap set twice keeps the smaller.
///
/// # Examples
///
/// ```
/// use tracewire::{Config, Profile, Sampler, SpanKind};
///
/// pub fn profile() -> Profile {
///     Profile::new("acme")
///         .require_resource_attribute("service.namespace")
///         .redact_attribute("*password*")
///         .redact_attribute("authorization")
///         .max_attribute_value_length(1024)
///         .normalize_span_names()
///         .require_span_attribute(SpanKind::Server, "http.route")
///         .with_default_endpoint("http://otel-agent.acme.internal:4318")
///         .with_sampler_for_environment("production", Sampler::TraceIdRatio(0.1))
/// }
///
/// let config = Config::default().with_profile(profile());
/// # drop(config);
/// ```
#[derive(Debug, Clone, PartialEq)]
#[must_use]
pub struct Profile {
    pub(crate) name: String,
    pub(crate) required_resource: Vec<String>,
    pub(crate) warn_only: bool,
    pub(crate) redact: Vec<String>,
    pub(crate) max_value_length: Option<usize>,
    pub(crate) normalize_names: bool,
    pub(crate) required_span: Vec<(SpanKind, String)>,
    pub(crate) default_endpoint: Option<String>,
    pub(crate) samplers: Vec<(String, Sampler)>,
}

impl Profile {
    /// An empty profile named `name` (the name appears in errors, diagnostics and reports).
    ///
    /// # Examples
    ///
    /// ```
    /// let profile = tracewire::Profile::new("acme");
    /// assert_eq!(profile.name(), "acme");
    /// ```
    pub fn new(name: impl Into<String>) -> Profile {
        Profile {
            name: name.into(),
            required_resource: Vec::new(),
            warn_only: false,
            redact: Vec::new(),
            max_value_length: None,
            normalize_names: false,
            required_span: Vec::new(),
            default_endpoint: None,
            samplers: Vec::new(),
        }
    }

    /// The profile's name.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(tracewire::Profile::new("acme").name(), "acme");
    /// ```
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Requires a resource attribute (`service.namespace`, `deployment.environment.name`...):
    /// [`init`](crate::init) fails with [`InitError::MissingResourceAttributes`] when it is not set
    /// in `OTEL_RESOURCE_ATTRIBUTES` or with
    /// [`Config::with_resource_attribute`](crate::Config::with_resource_attribute).
    ///
    /// # Examples
    ///
    /// ```
    /// use tracewire::{Config, InitError, Profile};
    ///
    /// let profile = Profile::new("acme").require_resource_attribute("service.namespace");
    /// let err = Config::default().with_profile(profile).init().unwrap_err();
    /// assert!(matches!(err, InitError::MissingResourceAttributes { .. }));
    /// assert!(err.to_string().contains("OTEL_RESOURCE_ATTRIBUTES=service.namespace=..."));
    /// ```
    pub fn require_resource_attribute(mut self, key: impl Into<String>) -> Profile {
        let key = key.into();
        if !self.required_resource.contains(&key) {
            self.required_resource.push(key);
        }
        self
    }

    /// Makes missing required resource attributes a warning (a diagnostic at `init`) instead of an
    /// error: for development environments.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), tracewire::InitError> {
    /// let profile = tracewire::Profile::new("acme-dev")
    ///     .require_resource_attribute("service.namespace")
    ///     .warn_only();
    /// let guard = tracewire::Config::default()
    ///     .with_exporter_kind(tracewire::ExporterKind::None)
    ///     .with_profile(profile)
    ///     .init()?; // warns on standard error, starts anyway
    /// # drop(guard);
    /// # Ok(())
    /// # }
    /// ```
    pub fn warn_only(mut self) -> Profile {
        self.warn_only = true;
        self
    }

    /// Redacts the attributes whose key matches `pattern`: the key stays, the value is exported
    /// as the string `"REDACTED"`. Applies to span, event and link attributes. `*` matches any
    /// run of characters; matching is ASCII case-insensitive and covers the whole key
    /// (`"*password*"` matches `user.Password_hash`, `"authorization"` only `authorization`).
    ///
    /// # Examples
    ///
    /// ```
    /// let profile = tracewire::Profile::new("acme")
    ///     .redact_attribute("*password*")
    ///     .redact_attribute("http.request.header.authorization");
    /// # drop(profile);
    /// ```
    pub fn redact_attribute(mut self, pattern: impl Into<String>) -> Profile {
        let pattern = pattern.into();
        if !self.redact.contains(&pattern) {
            self.redact.push(pattern);
        }
        self
    }

    /// Caps string values (and each string of a string array) at `max` bytes, cut at a character
    /// boundary. Set twice, the smaller cap applies.
    ///
    /// # Examples
    ///
    /// ```
    /// let profile = tracewire::Profile::new("acme").max_attribute_value_length(1024);
    /// # drop(profile);
    /// ```
    pub fn max_attribute_value_length(mut self, max: usize) -> Profile {
        self.max_value_length = Some(self.max_value_length.map_or(max, |set| set.min(max)));
        self
    }

    /// Replaces ids in span names with `{id}`: each word or path segment (split at spaces, `/`,
    /// `?`, `&` and `=`) that is a number, a UUID, or a hex id of 8 characters or more.
    /// `GET /users/12345` is exported as `GET /users/{id}`.
    ///
    /// # Examples
    ///
    /// ```
    /// let profile = tracewire::Profile::new("acme").normalize_span_names();
    /// # drop(profile);
    /// ```
    pub fn normalize_span_names(mut self) -> Profile {
        self.normalize_names = true;
        self
    }

    /// Requires every span of `kind` to have attribute `key` (for example `http.route` on server
    /// spans). A span without it is still exported; the export thread reports it with a
    /// rate-limited diagnostic, and [`testing::conformance`](crate::testing) lists it.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracewire::SpanKind;
    /// let profile = tracewire::Profile::new("acme").require_span_attribute(SpanKind::Server, "http.route");
    /// # drop(profile);
    /// ```
    pub fn require_span_attribute(mut self, kind: SpanKind, key: impl Into<String>) -> Profile {
        let rule = (kind, key.into());
        if !self.required_span.contains(&rule) {
            self.required_span.push(rule);
        }
        self
    }

    /// The OTLP endpoint when neither the code nor `OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT` sets
    /// one (called twice, the last endpoint is kept). It is a base URL, like [`Config::with_endpoint`](crate::Config::with_endpoint)'s: for
    /// OTLP/HTTP, `/v1/traces` is appended.
    ///
    /// # Examples
    ///
    /// ```
    /// let profile = tracewire::Profile::new("acme").with_default_endpoint("http://otel-agent:4318");
    /// # drop(profile);
    /// ```
    pub fn with_default_endpoint(mut self, endpoint: impl Into<String>) -> Profile {
        self.default_endpoint = Some(endpoint.into());
        self
    }

    /// The sampler of services whose resource says `deployment.environment.name=<environment>`,
    /// when neither the code nor `OTEL_TRACES_SAMPLER` chooses one (called twice for one
    /// environment, the last sampler is kept).
    ///
    /// # Examples
    ///
    /// ```
    /// use tracewire::Sampler;
    /// let profile = tracewire::Profile::new("acme")
    ///     .with_sampler_for_environment("production", Sampler::TraceIdRatio(0.1))
    ///     .with_sampler_for_environment("staging", Sampler::AlwaysOn);
    /// # drop(profile);
    /// ```
    pub fn with_sampler_for_environment(
        mut self,
        environment: impl Into<String>,
        sampler: Sampler,
    ) -> Profile {
        let environment = environment.into();
        match self
            .samplers
            .iter_mut()
            .find(|(env, _)| *env == environment)
        {
            Some(set) => set.1 = sampler,
            None => self.samplers.push((environment, sampler)),
        }
        self
    }

    /// This profile with `other`'s rules added; `other`'s defaults fill only what this one
    /// leaves unset.
    pub(crate) fn merged(mut self, other: Profile) -> Profile {
        for key in other.required_resource {
            self = self.require_resource_attribute(key);
        }
        for pattern in other.redact {
            self = self.redact_attribute(pattern);
        }
        if let Some(max) = other.max_value_length {
            self = self.max_attribute_value_length(max);
        }
        self.normalize_names |= other.normalize_names;
        for (kind, key) in other.required_span {
            self = self.require_span_attribute(kind, key);
        }
        if self.default_endpoint.is_none() {
            self.default_endpoint = other.default_endpoint;
        }
        for (environment, sampler) in other.samplers {
            if !self.samplers.iter().any(|(env, _)| *env == environment) {
                self.samplers.push((environment, sampler));
            }
        }
        // Warn-only only if both say so: an added profile cannot soften the requirements.
        self.warn_only &= other.warn_only;
        self
    }

    /// The sampler for the environment `resource` names, if the profile has one.
    pub(crate) fn sampler_for(&self, resource: &Resource) -> Option<(&str, &Sampler)> {
        let environment = resource.get(&Key::from_static_str(ENVIRONMENT_ATTRIBUTE))?;
        let environment = environment.as_str();
        self.samplers
            .iter()
            .find(|(env, _)| *env == environment)
            .map(|(env, sampler)| (env.as_str(), sampler))
    }

    /// The required resource attributes that `resource` lacks.
    pub(crate) fn missing_in(&self, resource: &Resource) -> Vec<String> {
        self.required_resource
            .iter()
            .filter(|key| resource.get(&Key::from((*key).clone())).is_none())
            .cloned()
            .collect()
    }

    /// Checks the requirements against the resource: an error, or (warn-only) the warning to give.
    pub(crate) fn check(&self, resource: &Resource) -> Result<Option<String>, InitError> {
        let missing = self.missing_in(resource);
        if missing.is_empty() {
            return Ok(None);
        }
        let error = InitError::MissingResourceAttributes {
            profile: self.name.clone(),
            missing,
        };
        if self.warn_only {
            Ok(Some(error.to_string()))
        } else {
            Err(error)
        }
    }

    /// The policies the export thread applies.
    pub(crate) fn policy(&self) -> Policy {
        Policy::new(
            self.name.clone(),
            &self.redact,
            self.max_value_length,
            self.normalize_names,
            self.required_span.clone(),
        )
    }
}

/// Rejects a profile whose defaults or caps cannot be used, naming the method and the value.
pub(crate) fn validate(profile: &Profile) -> Result<(), InitError> {
    if let Some(endpoint) = &profile.default_endpoint {
        super::env::check_endpoint(endpoint).map_err(|why| InitError::InvalidConfig {
            setting: "Profile::with_default_endpoint",
            value: endpoint.clone(),
            expected: super::env::endpoint_expected(why),
        })?;
    }
    if profile.max_value_length == Some(0) {
        return Err(InitError::InvalidConfig {
            setting: "Profile::max_attribute_value_length",
            value: "0".to_owned(),
            expected: "expected a positive length".to_owned(),
        });
    }
    for (_, sampler) in &profile.samplers {
        let mut inner = sampler;
        while let Sampler::ParentBased(root) = inner {
            inner = root;
        }
        if let Sampler::TraceIdRatio(ratio) = inner
            && !(0.0..=1.0).contains(ratio)
        {
            return Err(InitError::InvalidConfig {
                setting: "Profile::with_sampler_for_environment",
                value: format!("{sampler:?}"),
                expected: format!("expected a ratio in [0, 1], not {ratio}"),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::KeyValue;

    fn resource(attributes: &[(&'static str, &'static str)]) -> Resource {
        Resource::builder_empty()
            .with_attributes(attributes.iter().map(|(k, v)| KeyValue::new(*k, *v)))
            .build()
    }

    #[test]
    fn rules_only_add_up_and_the_smaller_cap_wins() {
        let base = Profile::new("acme")
            .redact_attribute("a")
            .max_attribute_value_length(100)
            .require_resource_attribute("x");
        let merged = base.clone().merged(
            Profile::new("svc")
                .redact_attribute("b")
                .max_attribute_value_length(500)
                .warn_only(),
        );
        assert_eq!(merged.name, "acme");
        assert_eq!(merged.redact, ["a", "b"]);
        assert_eq!(merged.max_value_length, Some(100));
        assert!(
            !merged.warn_only,
            "an added profile cannot soften requirements"
        );
        assert_eq!(
            base.max_attribute_value_length(10).max_value_length,
            Some(10)
        );
    }

    #[test]
    fn defaults_set_twice_keep_the_last_but_a_merged_profile_only_fills_gaps() {
        let profile = Profile::new("acme")
            .with_default_endpoint("http://a:4318")
            .with_default_endpoint("http://b:4318")
            .with_sampler_for_environment("prod", Sampler::AlwaysOff)
            .with_sampler_for_environment("prod", Sampler::AlwaysOn);
        assert_eq!(profile.default_endpoint.as_deref(), Some("http://b:4318"));
        assert_eq!(profile.samplers, [("prod".to_owned(), Sampler::AlwaysOn)]);
        let merged = profile.merged(
            Profile::new("svc")
                .with_default_endpoint("http://c:4318")
                .with_sampler_for_environment("prod", Sampler::AlwaysOff)
                .with_sampler_for_environment("dev", Sampler::AlwaysOff),
        );
        assert_eq!(merged.default_endpoint.as_deref(), Some("http://b:4318"));
        assert_eq!(merged.samplers.len(), 2);
        assert_eq!(merged.samplers[0].1, Sampler::AlwaysOn);
    }

    #[test]
    fn the_sampler_follows_the_resource_environment() {
        let profile = Profile::new("acme")
            .with_sampler_for_environment("production", Sampler::TraceIdRatio(0.1));
        let production = resource(&[(ENVIRONMENT_ATTRIBUTE, "production")]);
        assert_eq!(
            profile.sampler_for(&production),
            Some(("production", &Sampler::TraceIdRatio(0.1)))
        );
        assert_eq!(profile.sampler_for(&resource(&[])), None);
        let dev = resource(&[(ENVIRONMENT_ATTRIBUTE, "dev")]);
        assert_eq!(profile.sampler_for(&dev), None);
    }

    #[test]
    fn missing_requirements_are_an_error_or_a_warning() {
        let profile = Profile::new("acme")
            .require_resource_attribute("service.namespace")
            .require_resource_attribute("team");
        let present = resource(&[("team", "payments")]);
        let err = profile.check(&present).unwrap_err().to_string();
        assert!(err.contains("\"acme\"") && err.contains("service.namespace"));
        assert!(!err.contains("team,"), "{err}");
        let warning = profile.warn_only().check(&present).unwrap();
        assert!(warning.is_some_and(|w| w.contains("service.namespace")));
    }
}
