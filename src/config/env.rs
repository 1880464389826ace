//! Reading the `OTEL_*` environment variables into a [`Layer`], as the OpenTelemetry SDK
//! environment-variable specification describes them.
//!
//! Values are trimmed, and an empty value counts as unset. Keywords (`always_on`, `grpc`, `true`, ...)
//! are case-insensitive. A value that cannot be used is an [`InitError::InvalidEnv`] naming the
//! variable and its raw value. Two kinds of variable are deliberately not read, as the specification
//! has it: a generic variable that a signal-specific one overrides (`OTEL_EXPORTER_OTLP_PROTOCOL` when
//! `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL` is set; the generic one may be meant for other signals or
//! other SDKs in the same deployment), and `OTEL_TRACES_SAMPLER_ARG` when the sampler takes no
//! argument.

use std::cell::RefCell;
use std::time::Duration;

use opentelemetry::KeyValue;

use super::{Compression, ExporterKind, Layer, Protocol, SpanLimits};
use crate::context::Sampler;
use crate::diag::DiagLevel;
use crate::error::InitError;

/// The accepted names of `OTEL_TRACES_SAMPLER`.
const SAMPLERS: &str = "always_on, always_off, traceidratio, parentbased_always_on, \
                        parentbased_always_off, parentbased_traceidratio";

/// Reads every variable of the table in the [module docs](super) through `get`. Also returns the
/// names of the variables that were set and read, in the order read: what
/// [`describe`](crate::describe) names as the source of a setting.
///
/// # Errors
///
/// [`InitError::InvalidEnv`] for the first variable (in table order) whose value cannot be used.
pub(crate) fn read(
    get: impl Fn(&str) -> Option<String>,
) -> Result<(Layer, Vec<&'static str>), InitError> {
    let env = Env {
        get: &get,
        set: RefCell::new(Vec::new()),
    };
    let layer = Layer {
        disabled: env.parse("OTEL_SDK_DISABLED", parse_bool)?,
        service_name: env.var("OTEL_SERVICE_NAME").map(|v| v.trimmed().to_owned()),
        resource_attributes: env
            .parse("OTEL_RESOURCE_ATTRIBUTES", parse_resource_attributes)?
            .unwrap_or_default(),
        sampler: read_sampler(&env)?,
        exporter: env.parse("OTEL_TRACES_EXPORTER", parse_exporter)?,
        protocol: env.parse_either(
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
            "OTEL_EXPORTER_OTLP_PROTOCOL",
            parse_protocol,
        )?,
        endpoint: env.parse("OTEL_EXPORTER_OTLP_ENDPOINT", parse_endpoint)?,
        traces_endpoint: env.parse("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", parse_endpoint)?,
        headers: env
            .parse_either(
                "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
                "OTEL_EXPORTER_OTLP_HEADERS",
                parse_headers,
            )?
            .unwrap_or_default(),
        otlp_timeout: env.parse_either(
            "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
            "OTEL_EXPORTER_OTLP_TIMEOUT",
            parse_millis,
        )?,
        compression: env.parse_either(
            "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION",
            "OTEL_EXPORTER_OTLP_COMPRESSION",
            parse_compression,
        )?,
        max_queue_size: env.parse("OTEL_BSP_MAX_QUEUE_SIZE", parse_positive)?,
        schedule_delay: env.parse("OTEL_BSP_SCHEDULE_DELAY", parse_millis)?,
        max_export_batch_size: env.parse("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", parse_positive)?,
        batch_export_timeout: env.parse("OTEL_BSP_EXPORT_TIMEOUT", parse_millis)?,
        max_concurrent_exports: env.parse("OTEL_BSP_MAX_CONCURRENT_EXPORTS", parse_positive)?,
        span_limits: read_span_limits(&env)?,
        diagnostics: env.parse("OTEL_LOG_LEVEL", parse_log_level)?,
        propagators: env.parse("OTEL_PROPAGATORS", parse_propagators)?,
        certificate: env.parse_either(
            "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE",
            "OTEL_EXPORTER_OTLP_CERTIFICATE",
            parse_path,
        )?,
        client_certificate: env.parse_either(
            "OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE",
            "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
            parse_path,
        )?,
        client_key: env.parse_either(
            "OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY",
            "OTEL_EXPORTER_OTLP_CLIENT_KEY",
            parse_path,
        )?,
        insecure: env.parse_either(
            "OTEL_EXPORTER_OTLP_TRACES_INSECURE",
            "OTEL_EXPORTER_OTLP_INSECURE",
            parse_bool,
        )?,
        ..Layer::default()
    };
    Ok((layer, env.set.into_inner()))
}

/// A file path (`OTEL_EXPORTER_OTLP_CERTIFICATE` and the like), with the variable that named it; the
/// file is read by `init`.
fn parse_path(var: &Var) -> Result<(&'static str, std::path::PathBuf), InitError> {
    Ok((var.name, var.trimmed().into()))
}

/// The lookup, with empty values filtered out.
struct Env<'a, G> {
    get: &'a G,
    /// The variables read that were set.
    set: RefCell<Vec<&'static str>>,
}

/// A set, non-empty variable.
struct Var {
    name: &'static str,
    raw: String,
}

impl Var {
    fn trimmed(&self) -> &str {
        self.raw.trim()
    }

    fn invalid(&self, expected: impl Into<String>) -> InitError {
        InitError::InvalidEnv {
            name: self.name,
            value: self.raw.clone(),
            expected: expected.into(),
        }
    }
}

impl<G: Fn(&str) -> Option<String>> Env<'_, G> {
    fn var(&self, name: &'static str) -> Option<Var> {
        let var = (self.get)(name)
            .filter(|raw| !raw.trim().is_empty())
            .map(|raw| Var { name, raw });
        if var.is_some() {
            self.set.borrow_mut().push(name);
        }
        var
    }

    fn parse<T>(
        &self,
        name: &'static str,
        parse: impl Fn(&Var) -> Result<T, InitError>,
    ) -> Result<Option<T>, InitError> {
        self.var(name).map(|var| parse(&var)).transpose()
    }

    /// `specific` if set, else `generic` (which is then not even read).
    fn parse_either<T>(
        &self,
        specific: &'static str,
        generic: &'static str,
        parse: impl Fn(&Var) -> Result<T, InitError>,
    ) -> Result<Option<T>, InitError> {
        match self.var(specific) {
            Some(var) => parse(&var).map(Some),
            None => self.parse(generic, parse),
        }
    }
}

/// Finds `value` in `table`, case-insensitively.
fn lookup<T: Clone>(value: &str, table: &[(&str, T)]) -> Option<T> {
    table
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(value))
        .map(|(_, t)| t.clone())
}

/// Finds the variable's value in `table`, or fails with `expected`.
fn keyword<T: Clone>(var: &Var, table: &[(&str, T)], expected: &str) -> Result<T, InitError> {
    lookup(var.trimmed(), table).ok_or_else(|| var.invalid(expected))
}

fn parse_bool(var: &Var) -> Result<bool, InitError> {
    keyword(
        var,
        &[("true", true), ("false", false)],
        "expected true or false",
    )
}

fn parse_positive(var: &Var) -> Result<usize, InitError> {
    match var.trimmed().parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(var.invalid("expected a positive integer")),
    }
}

fn parse_count(var: &Var) -> Result<u32, InitError> {
    var.trimmed()
        .parse::<u32>()
        .map_err(|_| var.invalid(format!("expected an integer from 0 to {}", u32::MAX)))
}

fn parse_millis(var: &Var) -> Result<Duration, InitError> {
    var.trimmed()
        .parse::<u64>()
        .map(Duration::from_millis)
        .map_err(|_| var.invalid("expected a non-negative integer number of milliseconds"))
}

fn read_sampler<G: Fn(&str) -> Option<String>>(
    env: &Env<'_, G>,
) -> Result<Option<Sampler>, InitError> {
    let Some(var) = env.var("OTEL_TRACES_SAMPLER") else {
        // Without a sampler, OTEL_TRACES_SAMPLER_ARG has nothing to configure.
        return Ok(None);
    };
    let expected = format!("expected one of {SAMPLERS}");
    let (parent_based, root) = match var.trimmed().to_ascii_lowercase().as_str() {
        "always_on" => (false, Some(Sampler::AlwaysOn)),
        "always_off" => (false, Some(Sampler::AlwaysOff)),
        "traceidratio" => (false, None),
        "parentbased_always_on" => (true, Some(Sampler::AlwaysOn)),
        "parentbased_always_off" => (true, Some(Sampler::AlwaysOff)),
        "parentbased_traceidratio" => (true, None),
        _ => return Err(var.invalid(expected)),
    };
    // A ratio sampler reads its argument; the others ignore it, as the specification says.
    let root = match root {
        Some(root) => root,
        None => Sampler::TraceIdRatio(
            env.parse("OTEL_TRACES_SAMPLER_ARG", parse_ratio)?
                .unwrap_or(1.0),
        ),
    };
    Ok(Some(if parent_based {
        Sampler::ParentBased(Box::new(root))
    } else {
        root
    }))
}

fn parse_ratio(var: &Var) -> Result<f64, InitError> {
    match var.trimmed().parse::<f64>() {
        Ok(ratio) if (0.0..=1.0).contains(&ratio) => Ok(ratio),
        _ => Err(var.invalid("expected a number in [0, 1]")),
    }
}

fn parse_exporter(var: &Var) -> Result<ExporterKind, InitError> {
    const KINDS: [(&str, ExporterKind); 3] = [
        ("otlp", ExporterKind::Otlp),
        ("console", ExporterKind::Console),
        ("none", ExporterKind::None),
    ];
    let names: Vec<&str> = var
        .trimmed()
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .collect();
    if names.len() > 1 {
        return Err(var.invalid(
            "expected a single exporter (otlp, console or none): tracewire exports to one exporter",
        ));
    }
    names
        .first()
        .and_then(|name| lookup(name, &KINDS))
        .ok_or_else(|| var.invalid("expected one of otlp, console, none"))
}

fn parse_protocol(var: &Var) -> Result<Protocol, InitError> {
    if var.trimmed().eq_ignore_ascii_case("http/json") {
        return Err(var.invalid("expected grpc or http/protobuf: http/json is not supported"));
    }
    keyword(
        var,
        &[
            ("grpc", Protocol::Grpc),
            ("http/protobuf", Protocol::HttpProtobuf),
        ],
        "expected grpc or http/protobuf",
    )
}

fn parse_compression(var: &Var) -> Result<Compression, InitError> {
    keyword(
        var,
        &[("gzip", Compression::Gzip), ("none", Compression::None)],
        "expected gzip or none",
    )
}

fn parse_log_level(var: &Var) -> Result<DiagLevel, InitError> {
    keyword(
        var,
        &[
            ("none", DiagLevel::None),
            ("off", DiagLevel::None),
            ("error", DiagLevel::Error),
            ("warn", DiagLevel::Warn),
            ("warning", DiagLevel::Warn),
            ("info", DiagLevel::Info),
            ("debug", DiagLevel::Debug),
            ("trace", DiagLevel::Debug),
        ],
        "expected one of none, error, warn, info, debug",
    )
}

fn parse_propagators(var: &Var) -> Result<crate::propagation::Propagators, InitError> {
    crate::propagation::Propagators::parse_env(var.trimmed())
        .map_err(|expected| var.invalid(expected))
}

fn parse_endpoint(var: &Var) -> Result<String, InitError> {
    let endpoint = var.trimmed();
    check_endpoint(endpoint).map_err(|why| InitError::InvalidEnv {
        name: var.name,
        // Credentials in the URL are never shown.
        value: crate::redact::redact_url(&var.raw).into_owned(),
        expected: endpoint_expected(why),
    })?;
    Ok(endpoint.to_owned())
}

/// The `expected` text for an endpoint that [`check_endpoint`] rejected.
pub(crate) fn endpoint_expected(why: &str) -> String {
    format!(
        "expected an absolute http:// or https:// URL such as http://localhost:4317, or host:port \
         for OTLP/gRPC ({why})"
    )
}

/// Checks that `url` is an absolute `http://` or `https://` URL with a host and, if any, a numeric
/// port, or such a URL without its scheme (`host:port`, which only OTLP/gRPC accepts; resolving
/// says so); `Err` says what is wrong.
pub(crate) fn check_endpoint(url: &str) -> Result<(), &'static str> {
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("it contains whitespace or a control character");
    }
    if !url.contains("://") {
        return check_endpoint(&format!("http://{url}"));
    }
    let rest = ["http://", "https://"]
        .iter()
        .find_map(|scheme| {
            url.get(..scheme.len())
                .filter(|s| s.eq_ignore_ascii_case(scheme))
                .map(|_| &url[scheme.len()..])
        })
        .ok_or("the scheme is not http:// or https://")?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    // Credentials (`user:pass@`) may precede the host.
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, hp)| hp);
    let (host, port) = if let Some(bracketed) = host_port.strip_prefix('[') {
        let (ipv6, after) = bracketed
            .split_once(']')
            .ok_or("an IPv6 host lacks its `]`")?;
        if ipv6.is_empty()
            || !ipv6
                .chars()
                .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.')
        {
            return Err("the IPv6 host is not valid");
        }
        match after {
            "" => (ipv6, None),
            _ => (
                ipv6,
                Some(
                    after
                        .strip_prefix(':')
                        .ok_or("junk follows the IPv6 host")?,
                ),
            ),
        }
    } else {
        let (host, port) = match host_port.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (host_port, None),
        };
        if !host
            .chars()
            .all(|c| c.is_alphanumeric() || "-._~%".contains(c))
        {
            return Err("the host contains characters a host name cannot have");
        }
        (host, port)
    };
    if host.is_empty() {
        return Err("the host is missing");
    }
    if let Some(port) = port
        && (port.is_empty()
            || !port.bytes().all(|b| b.is_ascii_digit())
            || port.parse::<u16>().is_err())
    {
        return Err("the port is not a number from 0 to 65535");
    }
    Ok(())
}

/// Splits a W3C-baggage-like `k1=v1,k2=v2` list into trimmed pairs; empty items are skipped.
fn split_pairs(list: &str) -> Result<Vec<(&str, &str)>, String> {
    list.split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(|item| {
            let (key, value) = item
                .split_once('=')
                .ok_or_else(|| format!("{item:?} has no `=`"))?;
            let key = key.trim();
            if key.is_empty() {
                return Err(format!("{item:?} has an empty key"));
            }
            Ok((key, value.trim()))
        })
        .collect()
}

/// Decodes `%XX` escapes; `None` if an escape is malformed or the result is not UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let digit = |j: usize| bytes.get(j).and_then(|b| char::from(*b).to_digit(16));
            let (high, low) = (digit(i + 1)?, digit(i + 2)?);
            out.push(u8::try_from(high * 16 + low).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn decode(s: &str) -> Result<String, String> {
    percent_decode(s).ok_or_else(|| format!("{s:?} has invalid percent-encoding"))
}

fn parse_headers(var: &Var) -> Result<Vec<(String, String)>, InitError> {
    // Header values are often credentials: the error shows the names, never the values.
    let fail = |why: String| InitError::InvalidEnv {
        name: var.name,
        value: redact_header_values(&var.raw),
        expected: format!("expected a list of name=value headers: {why}"),
    };
    let mut headers = Vec::new();
    for (key, value) in split_pairs(var.trimmed())
        .map_err(|_| fail("an item has no `=` or an empty name".into()))?
    {
        let name = decode(key).map_err(fail)?;
        let value = decode(value).map_err(|_| {
            fail(format!(
                "the value of header {name:?} has invalid percent-encoding"
            ))
        })?;
        check_header(&name, &value).map_err(|why| fail(why.to_owned()))?;
        headers.push((name, value));
    }
    Ok(headers)
}

/// `a=secret, b` becomes `a=<redacted>, b`: what an operator needs to find the bad item, without the
/// credentials next to it.
fn redact_header_values(raw: &str) -> String {
    raw.split(',')
        .map(|item| match item.split_once('=') {
            Some((name, _)) => format!("{name}=<redacted>"),
            None => item.to_owned(),
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// Checks that `name` is an HTTP header name (a token) and `value` a header value that both HTTP and
/// gRPC metadata accept (visible ASCII, spaces and tabs); `Err` says which one is wrong.
pub(crate) fn check_header(name: &str, value: &str) -> Result<(), &'static str> {
    let tchar = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    if name.is_empty() || !name.bytes().all(tchar) {
        return Err("a header name must be letters, digits and !#$%&'*+-.^_`|~");
    }
    if !value
        .bytes()
        .all(|b| b == b'\t' || (b' '..=b'~').contains(&b))
    {
        return Err("a header value must be visible ASCII, spaces and tabs");
    }
    Ok(())
}

fn parse_resource_attributes(var: &Var) -> Result<Vec<KeyValue>, InitError> {
    let fail = |why: String| {
        var.invalid(format!(
            "expected a list of key=value pairs with percent-encoded values: {why}"
        ))
    };
    split_pairs(var.trimmed())
        .map_err(fail)?
        .into_iter()
        .map(|(key, value)| Ok(KeyValue::new(key.to_owned(), decode(value).map_err(fail)?)))
        .collect()
}

fn read_span_limits<G: Fn(&str) -> Option<String>>(
    env: &Env<'_, G>,
) -> Result<Option<SpanLimits>, InitError> {
    let span_attributes = env.parse("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", parse_count)?;
    let events = env.parse("OTEL_SPAN_EVENT_COUNT_LIMIT", parse_count)?;
    let links = env.parse("OTEL_SPAN_LINK_COUNT_LIMIT", parse_count)?;
    let event_attributes = env.parse("OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT", parse_count)?;
    let link_attributes = env.parse("OTEL_LINK_ATTRIBUTE_COUNT_LIMIT", parse_count)?;
    let value_length = env.parse_either(
        "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT",
        "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT",
        parse_count,
    )?;
    // The generic count limit stands in for the three attribute counts; read it only if one is unset.
    let generic =
        if span_attributes.is_none() || event_attributes.is_none() || link_attributes.is_none() {
            env.parse("OTEL_ATTRIBUTE_COUNT_LIMIT", parse_count)?
        } else {
            None
        };
    let span_attributes = span_attributes.or(generic);
    let event_attributes = event_attributes.or(generic);
    let link_attributes = link_attributes.or(generic);

    let any = [
        span_attributes,
        events,
        links,
        event_attributes,
        link_attributes,
        value_length,
    ]
    .iter()
    .any(Option::is_some);
    if !any {
        return Ok(None);
    }
    let d = SpanLimits::default();
    Ok(Some(SpanLimits {
        max_attributes: span_attributes.unwrap_or(d.max_attributes),
        max_events: events.unwrap_or(d.max_events),
        max_links: links.unwrap_or(d.max_links),
        max_attributes_per_event: event_attributes.unwrap_or(d.max_attributes_per_event),
        max_attributes_per_link: link_attributes.unwrap_or(d.max_attributes_per_link),
        max_attribute_value_length: value_length.or(d.max_attribute_value_length),
    }))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn read_vars(vars: &[(&str, &str)]) -> Result<Layer, InitError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        read(|name| map.get(name).cloned()).map(|(layer, _)| layer)
    }

    fn ok(vars: &[(&str, &str)]) -> Layer {
        match read_vars(vars) {
            Ok(layer) => layer,
            Err(err) => panic!("{vars:?} should be accepted, got: {err}"),
        }
    }

    /// Asserts the error names `name` with the raw `value` and mentions `needle`.
    fn bad(vars: &[(&str, &str)], name: &str, value: &str, needle: &str) {
        match read_vars(vars) {
            Err(InitError::InvalidEnv {
                name: n,
                value: v,
                expected,
            }) => {
                assert_eq!((n, v.as_str()), (name, value), "{vars:?}");
                assert!(
                    expected.contains(needle),
                    "{expected:?} should mention {needle:?}"
                );
            }
            Err(other) => panic!("{vars:?}: unexpected error {other}"),
            Ok(_) => panic!("{vars:?} should be rejected"),
        }
    }

    #[test]
    fn nothing_set_gives_an_empty_layer() {
        let layer = ok(&[]);
        assert!(layer.disabled.is_none() && layer.sampler.is_none() && layer.exporter.is_none());
        assert!(layer.headers.is_empty() && layer.resource_attributes.is_empty());
        assert!(layer.span_limits.is_none() && layer.diagnostics.is_none());
    }

    #[test]
    fn empty_and_blank_values_are_unset() {
        let layer = ok(&[
            ("OTEL_SDK_DISABLED", ""),
            ("OTEL_TRACES_SAMPLER", "   "),
            ("OTEL_BSP_MAX_QUEUE_SIZE", "\t"),
            ("OTEL_SERVICE_NAME", " "),
        ]);
        assert!(layer.disabled.is_none() && layer.sampler.is_none());
        assert!(layer.max_queue_size.is_none() && layer.service_name.is_none());
    }

    #[test]
    fn sdk_disabled() {
        assert_eq!(ok(&[("OTEL_SDK_DISABLED", "true")]).disabled, Some(true));
        assert_eq!(
            ok(&[("OTEL_SDK_DISABLED", " FALSE ")]).disabled,
            Some(false)
        );
        assert_eq!(ok(&[("OTEL_SDK_DISABLED", "True")]).disabled, Some(true));
        bad(
            &[("OTEL_SDK_DISABLED", "yes")],
            "OTEL_SDK_DISABLED",
            "yes",
            "true or false",
        );
        bad(
            &[("OTEL_SDK_DISABLED", "1")],
            "OTEL_SDK_DISABLED",
            "1",
            "true or false",
        );
    }

    #[test]
    fn service_name_is_trimmed() {
        assert_eq!(
            ok(&[("OTEL_SERVICE_NAME", " checkout ")])
                .service_name
                .as_deref(),
            Some("checkout")
        );
    }

    #[test]
    fn resource_attributes() {
        let layer = ok(&[("OTEL_RESOURCE_ATTRIBUTES", " a=1 , b = x%20y%2Cz ,c=k=v,")]);
        let pairs: Vec<(String, String)> = layer
            .resource_attributes
            .iter()
            .map(|kv| (kv.key.to_string(), kv.value.to_string()))
            .collect();
        let expected = [("a", "1"), ("b", "x y,z"), ("c", "k=v")];
        assert_eq!(pairs, expected.map(|(k, v)| (k.to_owned(), v.to_owned())));
        let name = "OTEL_RESOURCE_ATTRIBUTES";
        bad(&[(name, "a=1,b")], name, "a=1,b", "has no `=`");
        bad(&[(name, "=1")], name, "=1", "empty key");
        bad(&[(name, "a=%zz")], name, "a=%zz", "percent-encoding");
        bad(&[(name, "a=%2")], name, "a=%2", "percent-encoding");
        bad(&[(name, "a=%ff")], name, "a=%ff", "percent-encoding");
    }

    #[test]
    fn sampler_names() {
        let cases = [
            ("always_on", Sampler::AlwaysOn),
            ("ALWAYS_OFF", Sampler::AlwaysOff),
            ("traceidratio", Sampler::TraceIdRatio(1.0)),
            (
                "parentbased_always_on",
                Sampler::ParentBased(Box::new(Sampler::AlwaysOn)),
            ),
            (
                "parentbased_always_off",
                Sampler::ParentBased(Box::new(Sampler::AlwaysOff)),
            ),
            (
                "parentbased_traceidratio",
                Sampler::ParentBased(Box::new(Sampler::TraceIdRatio(1.0))),
            ),
        ];
        for (name, sampler) in cases {
            assert_eq!(
                ok(&[("OTEL_TRACES_SAMPLER", name)]).sampler,
                Some(sampler),
                "{name}"
            );
        }
        for unknown in [
            "jaeger_remote",
            "parentbased_jaeger_remote",
            "xray",
            "sometimes",
        ] {
            bad(
                &[("OTEL_TRACES_SAMPLER", unknown)],
                "OTEL_TRACES_SAMPLER",
                unknown,
                SAMPLERS,
            );
        }
    }

    #[test]
    fn sampler_arg() {
        let ratio = |sampler: &str, arg: &str| {
            ok(&[
                ("OTEL_TRACES_SAMPLER", sampler),
                ("OTEL_TRACES_SAMPLER_ARG", arg),
            ])
            .sampler
        };
        assert_eq!(
            ratio("traceidratio", " 0.25 "),
            Some(Sampler::TraceIdRatio(0.25))
        );
        assert_eq!(ratio("traceidratio", "0"), Some(Sampler::TraceIdRatio(0.0)));
        assert_eq!(
            ratio("parentbased_traceidratio", "1"),
            Some(Sampler::ParentBased(Box::new(Sampler::TraceIdRatio(1.0))))
        );
        // A sampler without an argument ignores it, even a bad one; so does an unset sampler.
        assert_eq!(ratio("always_on", "abc"), Some(Sampler::AlwaysOn));
        assert_eq!(ok(&[("OTEL_TRACES_SAMPLER_ARG", "abc")]).sampler, None);
        let arg = "OTEL_TRACES_SAMPLER_ARG";
        for value in ["abc", "1.5", "-0.1", "NaN", "inf"] {
            bad(
                &[("OTEL_TRACES_SAMPLER", "traceidratio"), (arg, value)],
                arg,
                value,
                "[0, 1]",
            );
        }
        let err = read_vars(&[("OTEL_TRACES_SAMPLER", "traceidratio"), (arg, "abc")]).err();
        assert_eq!(
            err.map(|e| e.to_string()).as_deref(),
            Some(r#"OTEL_TRACES_SAMPLER_ARG="abc": expected a number in [0, 1]"#)
        );
    }

    #[test]
    fn traces_exporter() {
        let kind = |v: &str| ok(&[("OTEL_TRACES_EXPORTER", v)]).exporter;
        assert_eq!(kind("otlp"), Some(ExporterKind::Otlp));
        assert_eq!(kind("Console"), Some(ExporterKind::Console));
        assert_eq!(kind(" none "), Some(ExporterKind::None));
        assert_eq!(kind("otlp,"), Some(ExporterKind::Otlp));
        let name = "OTEL_TRACES_EXPORTER";
        bad(
            &[(name, "otlp,console")],
            name,
            "otlp,console",
            "tracewire exports to one exporter",
        );
        bad(&[(name, "zipkin")], name, "zipkin", "otlp, console, none");
        bad(&[(name, "logging")], name, "logging", "otlp, console, none");
    }

    #[test]
    fn protocol_signal_specific_wins() {
        let generic = "OTEL_EXPORTER_OTLP_PROTOCOL";
        let traces = "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL";
        assert_eq!(ok(&[(generic, "grpc")]).protocol, Some(Protocol::Grpc));
        assert_eq!(
            ok(&[(generic, "HTTP/protobuf")]).protocol,
            Some(Protocol::HttpProtobuf)
        );
        assert_eq!(
            ok(&[(generic, "grpc"), (traces, "http/protobuf")]).protocol,
            Some(Protocol::HttpProtobuf)
        );
        // The generic one is not read when the traces one overrides it.
        assert_eq!(
            ok(&[(generic, "http/json"), (traces, "grpc")]).protocol,
            Some(Protocol::Grpc)
        );
        bad(
            &[(generic, "http/json")],
            generic,
            "http/json",
            "http/json is not supported",
        );
        bad(
            &[(traces, "http/json")],
            traces,
            "http/json",
            "grpc or http/protobuf",
        );
        bad(
            &[(generic, "thrift")],
            generic,
            "thrift",
            "grpc or http/protobuf",
        );
    }

    #[test]
    fn endpoints() {
        let base = "OTEL_EXPORTER_OTLP_ENDPOINT";
        let traces = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT";
        for good in [
            "http://localhost:4317",
            "https://collector.example.com",
            "http://10.0.0.1:4318/",
            "http://h/prefix",
            "http://[::1]:4317",
            "HTTPS://user:pw@host:443/x?y#z",
            "localhost:4317",
        ] {
            assert_eq!(ok(&[(base, good)]).endpoint.as_deref(), Some(good));
            assert_eq!(ok(&[(traces, good)]).traces_endpoint.as_deref(), Some(good));
        }
        assert_eq!(
            ok(&[(base, " http://h:1 ")]).endpoint.as_deref(),
            Some("http://h:1")
        );
        for (value, why) in [
            ("grpc://localhost:4317", "scheme"),
            ("http://", "host is missing"),
            ("http:///path", "host is missing"),
            ("http://:4317", "host is missing"),
            ("http://h:99999", "port"),
            ("http://h:", "port"),
            ("http://h:12ab", "port"),
            ("http://h:1:2", "port"),
            ("http://a b", "whitespace"),
            ("http://h$t", "host"),
            ("http://[::1", "IPv6"),
            ("http://[zz]:1", "IPv6"),
            ("http://[::1]x", "IPv6"),
        ] {
            bad(&[(base, value)], base, value, why);
            bad(&[(traces, value)], traces, value, why);
        }
    }

    #[test]
    fn tls_variables_signal_specific_wins() {
        let layer = ok(&[
            ("OTEL_EXPORTER_OTLP_CERTIFICATE", "/generic/ca.pem"),
            ("OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE", " /traces/ca.pem "),
            ("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", "/c.pem"),
            ("OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY", "/k.pem"),
            ("OTEL_EXPORTER_OTLP_INSECURE", "TRUE"),
            ("OTEL_EXPORTER_OTLP_TRACES_INSECURE", "false"),
        ]);
        assert_eq!(
            layer.certificate,
            Some((
                "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE",
                "/traces/ca.pem".into()
            ))
        );
        assert_eq!(
            layer.client_certificate,
            Some(("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", "/c.pem".into()))
        );
        assert_eq!(
            layer.client_key,
            Some(("OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY", "/k.pem".into()))
        );
        assert_eq!(layer.insecure, Some(false));
        bad(
            &[("OTEL_EXPORTER_OTLP_INSECURE", "yes")],
            "OTEL_EXPORTER_OTLP_INSECURE",
            "yes",
            "true or false",
        );
    }

    #[test]
    fn endpoint_errors_never_show_credentials() {
        let name = "OTEL_EXPORTER_OTLP_ENDPOINT";
        let Err(err) = read_vars(&[(name, "https://user:secret@h:99999")]) else {
            panic!("should be refused")
        };
        let err = err.to_string();
        assert!(
            err.starts_with(r#"OTEL_EXPORTER_OTLP_ENDPOINT="https://REDACTED:REDACTED@h:99999""#),
            "{err}"
        );
        assert!(!err.contains("secret"), "{err}");
    }

    #[test]
    fn headers() {
        let generic = "OTEL_EXPORTER_OTLP_HEADERS";
        let traces = "OTEL_EXPORTER_OTLP_TRACES_HEADERS";
        let pairs = |v: &[(&str, &str)]| -> Vec<(String, String)> {
            v.iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect()
        };
        assert_eq!(
            ok(&[(generic, " api-key = s%3Dcr%2Cet , X-Tenant=a b,")]).headers,
            pairs(&[("api-key", "s=cr,et"), ("X-Tenant", "a b")])
        );
        assert_eq!(
            ok(&[(generic, "my%2Dkey=1")]).headers,
            pairs(&[("my-key", "1")])
        );
        // The traces list replaces the generic one entirely.
        assert_eq!(
            ok(&[(generic, "a=1,b=2"), (traces, "c=3")]).headers,
            pairs(&[("c", "3")])
        );
        for name in [generic, traces] {
            // Values are redacted in the message; names and malformed items stay visible.
            bad(&[(name, "a=1,b")], name, "a=<redacted>,b", "has no `=`");
            bad(&[(name, " =1")], name, " =<redacted>", "empty name");
            bad(&[(name, "a b=1")], name, "a b=<redacted>", "header name");
            bad(
                &[(name, "a%20b=1")],
                name,
                "a%20b=<redacted>",
                "header name",
            );
            bad(&[(name, "a=x%0Ay")], name, "a=<redacted>", "header value");
            bad(
                &[(name, "a=caf%C3%A9")],
                name,
                "a=<redacted>",
                "header value",
            );
            bad(&[(name, "a=%G0")], name, "a=<redacted>", "percent-encoding");
            let Err(err) = read_vars(&[(name, "api-key=s3cret,oops")]) else {
                panic!("a list with an item without `=` must be rejected");
            };
            assert!(!err.to_string().contains("s3cret"), "{err}");
        }
    }

    #[test]
    fn otlp_timeout_signal_specific_wins() {
        let generic = "OTEL_EXPORTER_OTLP_TIMEOUT";
        let traces = "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT";
        assert_eq!(
            ok(&[(generic, "2500")]).otlp_timeout,
            Some(Duration::from_millis(2500))
        );
        assert_eq!(
            ok(&[(generic, "1"), (traces, "2")]).otlp_timeout,
            Some(Duration::from_millis(2))
        );
        for name in [generic, traces] {
            for value in ["-1", "1.5", "10s", "ten"] {
                bad(&[(name, value)], name, value, "milliseconds");
            }
        }
    }

    #[test]
    fn compression_signal_specific_wins() {
        let generic = "OTEL_EXPORTER_OTLP_COMPRESSION";
        let traces = "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION";
        assert_eq!(
            ok(&[(generic, "GZIP")]).compression,
            Some(Compression::Gzip)
        );
        assert_eq!(
            ok(&[(generic, "gzip"), (traces, "none")]).compression,
            Some(Compression::None)
        );
        bad(&[(generic, "zstd")], generic, "zstd", "gzip or none");
        bad(&[(traces, "br")], traces, "br", "gzip or none");
    }

    #[test]
    fn batch_sizes_are_positive() {
        for (name, get) in [
            (
                "OTEL_BSP_MAX_QUEUE_SIZE",
                (|l: &Layer| l.max_queue_size) as fn(&Layer) -> Option<usize>,
            ),
            ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", |l: &Layer| {
                l.max_export_batch_size
            }),
        ] {
            assert_eq!(get(&ok(&[(name, " 100 ")])), Some(100));
            for value in ["0", "-5", "lots", "1e3"] {
                bad(&[(name, value)], name, value, "a positive integer");
            }
        }
        let err = read_vars(&[("OTEL_BSP_MAX_QUEUE_SIZE", "lots")]).err();
        assert_eq!(
            err.map(|e| e.to_string()).as_deref(),
            Some(r#"OTEL_BSP_MAX_QUEUE_SIZE="lots": expected a positive integer"#)
        );
    }

    #[test]
    fn batch_durations_are_milliseconds() {
        let layer = ok(&[
            ("OTEL_BSP_SCHEDULE_DELAY", "250"),
            ("OTEL_BSP_EXPORT_TIMEOUT", "0"),
        ]);
        assert_eq!(layer.schedule_delay, Some(Duration::from_millis(250)));
        assert_eq!(layer.batch_export_timeout, Some(Duration::ZERO));
        for name in ["OTEL_BSP_SCHEDULE_DELAY", "OTEL_BSP_EXPORT_TIMEOUT"] {
            for value in ["-1", "5s", "2.5"] {
                bad(&[(name, value)], name, value, "milliseconds");
            }
        }
    }

    #[test]
    fn span_limits_fill_defaults_and_fall_back_to_generic_limits() {
        let layer = ok(&[("OTEL_SPAN_EVENT_COUNT_LIMIT", "5")]);
        assert_eq!(
            layer.span_limits,
            Some(SpanLimits {
                max_events: 5,
                ..SpanLimits::default()
            })
        );

        let layer = ok(&[
            ("OTEL_ATTRIBUTE_COUNT_LIMIT", "7"),
            ("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "9"),
            ("OTEL_SPAN_LINK_COUNT_LIMIT", "3"),
            ("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "64"),
        ]);
        let expected = SpanLimits {
            max_attributes: 9,
            max_events: 128,
            max_links: 3,
            max_attributes_per_event: 7,
            max_attributes_per_link: 7,
            max_attribute_value_length: Some(64),
        };
        assert_eq!(layer.span_limits, Some(expected));

        let layer = ok(&[
            ("OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", "10"),
            ("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "20"),
            ("OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT", "0"),
        ]);
        let limits = layer.span_limits.unwrap_or_default();
        assert_eq!(limits.max_attribute_value_length, Some(10));
        assert_eq!(limits.max_attributes_per_event, 0);
        assert_eq!(limits.max_attributes, 128);

        for name in [
            "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT",
            "OTEL_ATTRIBUTE_COUNT_LIMIT",
            "OTEL_SPAN_EVENT_COUNT_LIMIT",
            "OTEL_SPAN_LINK_COUNT_LIMIT",
            "OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT",
            "OTEL_LINK_ATTRIBUTE_COUNT_LIMIT",
            "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT",
            "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT",
        ] {
            for value in ["-1", "many", "4294967296"] {
                bad(&[(name, value)], name, value, "an integer from 0 to");
            }
        }
    }

    #[test]
    fn log_level() {
        let level = |v: &str| ok(&[("OTEL_LOG_LEVEL", v)]).diagnostics;
        assert_eq!(level("none"), Some(DiagLevel::None));
        assert_eq!(level("OFF"), Some(DiagLevel::None));
        assert_eq!(level("error"), Some(DiagLevel::Error));
        assert_eq!(level("Warn"), Some(DiagLevel::Warn));
        assert_eq!(level("warning"), Some(DiagLevel::Warn));
        assert_eq!(level("info"), Some(DiagLevel::Info));
        assert_eq!(level("debug"), Some(DiagLevel::Debug));
        assert_eq!(level("trace"), Some(DiagLevel::Debug));
        bad(
            &[("OTEL_LOG_LEVEL", "verbose")],
            "OTEL_LOG_LEVEL",
            "verbose",
            "none, error, warn",
        );
    }

    #[test]
    fn propagators() {
        let name = "OTEL_PROPAGATORS";
        let list = |v: &str| ok(&[(name, v)]).propagators.map(|p| p.to_string());
        assert_eq!(
            list("tracecontext,baggage").as_deref(),
            Some("tracecontext,baggage")
        );
        assert_eq!(list("b3multi, Jaeger").as_deref(), Some("b3multi,jaeger"));
        assert_eq!(list("none").as_deref(), Some("none"));
        bad(&[(name, "w3c")], name, "w3c", "w3c is not a propagator");
        bad(
            &[(name, "tracecontext,xray")],
            name,
            "tracecontext,xray",
            "not supported",
        );
        bad(&[(name, "none,b3")], name, "none,b3", "cannot be combined");
    }

    #[test]
    fn errors_keep_the_raw_untrimmed_value() {
        bad(
            &[("OTEL_LOG_LEVEL", " loud ")],
            "OTEL_LOG_LEVEL",
            " loud ",
            "none",
        );
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("a%20b%2cc").as_deref(), Some("a b,c"));
        assert_eq!(percent_decode("caf%C3%A9").as_deref(), Some("café"));
        assert_eq!(percent_decode("100%"), None);
        assert_eq!(percent_decode("%+1"), None);
        assert_eq!(percent_decode("%C3"), None);
    }
}
