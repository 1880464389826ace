//! The TLS material of the OTLP exporters (feature `tls`), built once per `init` from the files the
//! configuration names.
//!
//! [`TlsMaterial`] holds a rustls `ClientConfig` (ring provider) and, for gRPC, a tonic
//! `ClientTlsConfig`; [`TlsMaterial::http_client`] turns the former into the `reqwest::Client` of
//! OTLP/HTTP. Neither depends on opentelemetry-otlp, so a transport of tracewire's own can reuse
//! them.
//!
//! # Why the platform's root store
//!
//! Without `OTEL_EXPORTER_OTLP_CERTIFICATE`, the collector is verified against the platform's
//! store (rustls-native-certs: `/etc/ssl/certs` and `SSL_CERT_FILE`/`SSL_CERT_DIR` on Linux), not a
//! list compiled into the binary (webpki-roots): that is where operators install their private CAs
//! and where security updates land without rebuilding the service. To trust a fixed bundle instead
//! (Mozilla's, say, on a host without a store), point `OTEL_EXPORTER_OTLP_CERTIFICATE` or
//! `SSL_CERT_FILE` at it. A configured CA file replaces the platform's roots (see
//! [`Config::with_certificate`](crate::Config::with_certificate)).
//!
//! opentelemetry-otlp's own default `ClientTlsConfig` trusts no root at all; tracewire always sets
//! the roots explicitly.

// With `tls` alone (no OTLP transport), nothing builds the material yet.
#![cfg_attr(
    not(any(feature = "otlp-grpc", feature = "otlp-http")),
    allow(dead_code)
)]

use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::error::InitError;
use crate::export::settings::{PemFile, TlsFiles};

/// TLS for one OTLP destination, built once.
pub(crate) struct TlsMaterial {
    /// The rustls client configuration: roots, client identity, ring provider.
    #[cfg_attr(not(feature = "otlp-http"), allow(dead_code))]
    pub(crate) rustls: Arc<rustls::ClientConfig>,
    /// The same, for tonic (which builds its own rustls configuration from PEM).
    #[cfg(feature = "otlp-grpc")]
    pub(crate) tonic: tonic::transport::ClientTlsConfig,
}

impl std::fmt::Debug for TlsMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsMaterial").finish_non_exhaustive()
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Makes ring rustls's process-wide default provider, unless one is installed already.
///
/// With the `tls` feature, reqwest is built without a provider of its own (its default would be
/// aws-lc, which needs cmake): a `reqwest::Client` built without one panics. Installing ring here
/// keeps every client built after `init` working, the application's included.
pub(crate) fn install_default_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Another thread may have won the race: its provider stays, which is as good.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

/// The file's bytes; the error names the setting, the path and the system's reason.
fn read(file: &PemFile) -> Result<Vec<u8>, InitError> {
    std::fs::read(&file.path).map_err(|e| file.error(format!("expected a readable PEM file: {e}")))
}

/// Every certificate of a PEM file, at least one.
fn certificates(file: &PemFile, bytes: &[u8]) -> Result<Vec<CertificateDer<'static>>, InitError> {
    // The PEM parser's errors can quote a line of the file: say what is wrong without them.
    let certs = CertificateDer::pem_slice_iter(bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| file.error("expected PEM certificates: the file is not valid PEM"))?;
    if certs.is_empty() {
        return Err(file.error(
            "expected at least one PEM certificate (-----BEGIN CERTIFICATE-----); the file has none",
        ));
    }
    Ok(certs)
}

fn private_key(file: &PemFile, bytes: &[u8]) -> Result<PrivateKeyDer<'static>, InitError> {
    PrivateKeyDer::from_pem_slice(bytes).map_err(|_| {
        file.error(
            "expected a PEM private key (-----BEGIN PRIVATE KEY-----, RSA PRIVATE KEY or EC \
             PRIVATE KEY); the file has none",
        )
    })
}

impl TlsMaterial {
    /// Reads the files and builds both configurations.
    ///
    /// # Errors
    ///
    /// An error naming the setting and the path when a file cannot be read, holds no certificate or
    /// key, or when the key does not belong to the certificate; an exporter error when the platform
    /// has no usable root certificate and no CA file was given.
    pub(crate) fn load(files: &TlsFiles) -> Result<TlsMaterial, InitError> {
        let mut roots = rustls::RootCertStore::empty();
        let ca_pem = match &files.ca {
            Some(file) => {
                let bytes = read(file)?;
                for (i, cert) in certificates(file, &bytes)?.into_iter().enumerate() {
                    roots.add(cert).map_err(|e| {
                        file.error(format!(
                            "expected CA certificates: certificate {} cannot be a trust anchor: {e}",
                            i + 1
                        ))
                    })?;
                }
                Some(bytes)
            }
            None => {
                let found = rustls_native_certs::load_native_certs();
                let (added, _) = roots.add_parsable_certificates(found.certs);
                if added == 0 {
                    return Err(InitError::Exporter {
                        exporter: "OTLP",
                        reason: format!(
                            "the platform's root store has no usable CA certificate ({} errors \
                             loading it): set OTEL_EXPORTER_OTLP_CERTIFICATE (or \
                             Config::with_certificate) to a PEM bundle, or SSL_CERT_FILE",
                            found.errors.len()
                        ),
                    });
                }
                None
            }
        };
        let builder = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| InitError::Exporter {
                exporter: "OTLP",
                reason: format!("TLS: {e}"),
            })?
            .with_root_certificates(roots);
        let mut identity_pem = None;
        let config = match &files.client {
            Some((cert_file, key_file)) => {
                let cert_bytes = read(cert_file)?;
                let key_bytes = read(key_file)?;
                let chain = certificates(cert_file, &cert_bytes)?;
                let key = private_key(key_file, &key_bytes)?;
                let config = builder.with_client_auth_cert(chain, key).map_err(|e| {
                    key_file.error(format!(
                        "expected the private key of the client certificate {:?}: {e}",
                        cert_file.path.display().to_string()
                    ))
                })?;
                identity_pem = Some((cert_bytes, key_bytes));
                config
            }
            None => builder.with_no_client_auth(),
        };
        #[cfg(feature = "otlp-grpc")]
        let tonic = {
            use tonic::transport::{Certificate, ClientTlsConfig, Identity};
            let mut tonic = match ca_pem {
                Some(pem) => ClientTlsConfig::new().ca_certificate(Certificate::from_pem(pem)),
                None => ClientTlsConfig::new().with_native_roots(),
            };
            if let Some((cert, key)) = identity_pem {
                tonic = tonic.identity(Identity::from_pem(cert, key));
            }
            tonic
        };
        #[cfg(not(feature = "otlp-grpc"))]
        let _ = (ca_pem, identity_pem);
        Ok(TlsMaterial {
            rustls: Arc::new(config),
            #[cfg(feature = "otlp-grpc")]
            tonic,
        })
    }

    /// A reqwest client that speaks TLS with this material, each request bounded by `timeout`.
    #[cfg(feature = "otlp-http")]
    pub(crate) fn http_client(
        &self,
        timeout: std::time::Duration,
    ) -> Result<reqwest::Client, InitError> {
        reqwest::Client::builder()
            .timeout(timeout)
            .tls_backend_preconfigured((*self.rustls).clone())
            .build()
            .map_err(|e| InitError::Exporter {
                exporter: "OTLP/HTTP",
                reason: format!("HTTP client: {e}"),
            })
    }

    /// A client for `http://` endpoints in a build with `tls`: reqwest still wants a TLS
    /// configuration (it has no provider of its own), one that trusts nothing is enough.
    #[cfg(feature = "otlp-http")]
    pub(crate) fn clear_text_client(
        timeout: std::time::Duration,
    ) -> Result<reqwest::Client, InitError> {
        let config = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| InitError::Exporter {
                exporter: "OTLP/HTTP",
                reason: format!("TLS: {e}"),
            })?
            .with_root_certificates(rustls::RootCertStore::empty())
            .with_no_client_auth();
        reqwest::Client::builder()
            .timeout(timeout)
            .tls_backend_preconfigured(config)
            .build()
            .map_err(|e| InitError::Exporter {
                exporter: "OTLP/HTTP",
                reason: format!("HTTP client: {e}"),
            })
    }
}
