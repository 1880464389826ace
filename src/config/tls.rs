//! Resolving the TLS settings of the OTLP exporter: which files, from which setting, and the scheme
//! of an endpoint given without one.
//!
//! This part is compiled in every build, so that a build without the `tls` feature can refuse TLS
//! settings with an error naming the feature instead of sending spans in clear text. The files are
//! only named here; `export::tls` reads them when the exporter is built (still inside `init`).

use std::path::PathBuf;

use super::{Layer, PemFile, Protocol, TlsFiles};
use crate::error::{InitError, invalid};

fn pem(setting: &Option<(&'static str, PathBuf)>) -> Option<PemFile> {
    setting.as_ref().map(|(origin, path)| PemFile {
        origin,
        path: path.clone(),
    })
}

/// The files named by the two layers; a certificate without its key (or the reverse) is an error.
pub(crate) fn files(code: &Layer, env: &Layer) -> Result<TlsFiles, InitError> {
    let ca = pem(&code.certificate).or_else(|| pem(&env.certificate));
    let cert = pem(&code.client_certificate).or_else(|| pem(&env.client_certificate));
    let key = pem(&code.client_key).or_else(|| pem(&env.client_key));
    let client = match (cert, key) {
        (Some(cert), Some(key)) => Some((cert, key)),
        (None, None) => None,
        (Some(cert), None) => {
            return Err(cert.error(
                "expected OTEL_EXPORTER_OTLP_CLIENT_KEY (or Config::with_client_key) to be set \
                 too: a client certificate needs its private key",
            ));
        }
        (None, Some(key)) => {
            return Err(key.error(
                "expected OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE (or Config::with_client_certificate) \
                 to be set too: a client key needs its certificate",
            ));
        }
    };
    Ok(TlsFiles { ca, client })
}

/// Whether `url` starts with `scheme` (ASCII case-insensitive).
fn has_scheme(url: &str, scheme: &str) -> bool {
    url.get(..scheme.len())
        .is_some_and(|s| s.eq_ignore_ascii_case(scheme))
}

/// Gives a scheme-less endpoint its scheme: for gRPC, `http://` when insecure
/// (`OTEL_EXPORTER_OTLP_INSECURE=true`) and `https://` otherwise, as the specification says; for
/// OTLP/HTTP a scheme is required. `origin` names the setting the endpoint came from.
pub(crate) fn with_scheme(
    protocol: Protocol,
    url: String,
    origin: &'static str,
    insecure: bool,
) -> Result<String, InitError> {
    if has_scheme(&url, "http://") || has_scheme(&url, "https://") {
        return Ok(url);
    }
    match protocol {
        Protocol::Grpc if insecure => Ok(format!("http://{url}")),
        Protocol::Grpc => Ok(format!("https://{url}")),
        Protocol::HttpProtobuf => Err(invalid(
            origin,
            crate::redact::redact_url(&url).into_owned(),
            "expected an http:// or https:// URL: only OTLP/gRPC endpoints may leave the scheme out \
             (OTEL_EXPORTER_OTLP_INSECURE then chooses it)"
                .to_owned(),
        )),
    }
}

/// Checks that the endpoint and the TLS files agree, and that this build can do TLS if asked to.
///
/// `tls_enabled` is `cfg!(feature = "tls")`, a parameter so that the message of a build without
/// the feature is tested in every build.
pub(crate) fn check(
    url: &str,
    origin: &'static str,
    files: &TlsFiles,
    tls_enabled: bool,
) -> Result<(), InitError> {
    let https = has_scheme(url, "https://");
    if !tls_enabled {
        if https {
            return Err(InitError::FeatureDisabled {
                what: format!(
                    "the https:// endpoint {} (from {origin})",
                    crate::redact::redact_url(url)
                ),
                feature: "tls",
            });
        }
        if let Some(file) = files.first() {
            return Err(InitError::FeatureDisabled {
                what: format!("{}={:?}", file.origin, file.path.display().to_string()),
                feature: "tls",
            });
        }
    }
    if !https && let Some(file) = files.first() {
        return Err(file.error(format!(
            "expected an https:// endpoint: spans would go in clear text to {} (from {origin}); \
             use https://, or unset this setting",
            crate::redact::redact_url(url)
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer(f: impl FnOnce(&mut Layer)) -> Layer {
        let mut layer = Layer::default();
        f(&mut layer);
        layer
    }

    #[test]
    fn a_certificate_needs_its_key_and_a_key_its_certificate() {
        let env = layer(|l| {
            l.client_certificate = Some(("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", "/c.pem".into()));
        });
        let err = files(&Layer::default(), &env).unwrap_err().to_string();
        assert_eq!(
            err,
            "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE=\"/c.pem\": expected OTEL_EXPORTER_OTLP_CLIENT_KEY \
             (or Config::with_client_key) to be set too: a client certificate needs its private key"
        );
        let code = layer(|l| l.client_key = Some(("Config::with_client_key", "/k.pem".into())));
        let err = files(&code, &Layer::default()).unwrap_err().to_string();
        assert!(
            err.starts_with("Config::with_client_key = \"/k.pem\": expected"),
            "{err}"
        );
        // Code and environment complete each other, setting by setting.
        let both = files(&code, &env).unwrap();
        assert!(both.client.is_some());
    }

    #[test]
    fn scheme_less_grpc_endpoints_follow_insecure() {
        let origin = "OTEL_EXPORTER_OTLP_ENDPOINT";
        let url = |insecure| with_scheme(Protocol::Grpc, "h:4317".into(), origin, insecure);
        assert_eq!(url(false).unwrap(), "https://h:4317");
        assert_eq!(url(true).unwrap(), "http://h:4317");
        // A scheme wins over the variable.
        let given = with_scheme(Protocol::Grpc, "HTTP://h:1".into(), origin, false).unwrap();
        assert_eq!(given, "HTTP://h:1");
        let err = with_scheme(
            Protocol::HttpProtobuf,
            "u:secret@h:4318".into(),
            origin,
            true,
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.starts_with("OTEL_EXPORTER_OTLP_ENDPOINT=\"REDACTED:REDACTED@h:4318\""),
            "{err}"
        );
        assert!(!err.contains("secret"), "{err}");
    }

    #[test]
    fn a_build_without_tls_names_the_feature() {
        let origin = "OTEL_EXPORTER_OTLP_ENDPOINT";
        let none = TlsFiles::default();
        let err = check("https://user:secret@h:4318", origin, &none, false)
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "the https:// endpoint https://REDACTED:REDACTED@h:4318 (from OTEL_EXPORTER_OTLP_ENDPOINT) \
             needs the cargo feature `tls` of tracewire, which this build does not enable"
        );
        let ca = TlsFiles {
            ca: Some(PemFile {
                origin: "OTEL_EXPORTER_OTLP_CERTIFICATE",
                path: "/ca.pem".into(),
            }),
            client: None,
        };
        let err = check("http://h:4318", origin, &ca, false)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(
                "OTEL_EXPORTER_OTLP_CERTIFICATE=\"/ca.pem\" needs the cargo feature `tls`"
            ),
            "{err}"
        );
        assert!(check("http://h:4318", origin, &none, false).is_ok());
        assert!(check("https://h:4318", origin, &none, true).is_ok());
    }

    #[test]
    fn tls_files_with_a_clear_text_endpoint_are_refused() {
        let ca = TlsFiles {
            ca: Some(PemFile {
                origin: "Config::with_certificate",
                path: "/ca.pem".into(),
            }),
            client: None,
        };
        let err = check("http://h:4318", "Config::with_endpoint", &ca, true)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(
                "Config::with_certificate = \"/ca.pem\": expected an https:// endpoint"
            ),
            "{err}"
        );
    }
}
