//! TLS for the test receivers: certificates made with rcgen, and serving either transport over
//! rustls (ring).
//!
//! [`Pki::new`] makes a CA, a server certificate for `127.0.0.1` and `localhost`, a client
//! certificate, and a second, unrelated CA; it writes them as PEM files in a fresh directory that is
//! removed on drop. [`super::Receiver::start_tls`] serves OTLP over TLS with a [`ServerTls`].

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// What a TLS receiver presents, and whom it lets in.
#[derive(Clone)]
pub struct ServerTls {
    /// The server's certificate chain, PEM.
    pub cert_pem: String,
    /// The server's private key, PEM.
    pub key_pem: String,
    /// When set, clients must show a certificate signed by this CA (PEM): mTLS.
    pub client_ca_pem: Option<String>,
}

/// A test PKI on disk.
pub struct Pki {
    pub dir: PathBuf,
    /// The CA that signed the server and client certificates.
    pub ca: PathBuf,
    /// A CA that signed nothing here.
    pub other_ca: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
    /// A file with no PEM block in it.
    pub not_pem: PathBuf,
    ca_pem: String,
    ca_params: CertificateParams,
    ca_key: KeyPair,
}

static NEXT_DIR: AtomicU64 = AtomicU64::new(0);

fn write(dir: &Path, name: &str, contents: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, contents).expect("write a test PEM file");
    path
}

fn ca(name: &str) -> (CertificateParams, KeyPair, String) {
    let key = KeyPair::generate().expect("CA key");
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let cert = params.self_signed(&key).expect("self-signed CA");
    (params, key, cert.pem())
}

impl Pki {
    pub fn new() -> Pki {
        let dir = std::env::temp_dir().join(format!(
            "tracewire-tls-{}-{}",
            std::process::id(),
            NEXT_DIR.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).expect("create the PKI directory");
        let (ca_params, ca_key, ca_pem) = ca("tracewire test CA");
        let (_, _, other_pem) = ca("an unrelated CA");
        let mut pki = Pki {
            ca: write(&dir, "ca.pem", &ca_pem),
            other_ca: write(&dir, "other-ca.pem", &other_pem),
            client_cert: PathBuf::new(),
            client_key: PathBuf::new(),
            not_pem: write(&dir, "not-pem.txt", "this is not a certificate\n"),
            dir,
            ca_pem,
            ca_params,
            ca_key,
        };
        let (cert, key) = pki.issue(&[], true, false);
        pki.client_cert = write(&pki.dir, "client.pem", &cert);
        pki.client_key = write(&pki.dir, "client-key.pem", &key);
        pki
    }

    /// A certificate and key (PEM) signed by the CA: a server certificate for `names` (host names
    /// or IP addresses), or a client certificate; `expired` makes one that ended in 2000.
    pub fn issue(&self, names: &[&str], client: bool, expired: bool) -> (String, String) {
        let key = KeyPair::generate().expect("leaf key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("leaf params");
        params.distinguished_name.push(
            DnType::CommonName,
            if client {
                "tracewire client"
            } else {
                "collector"
            },
        );
        for name in names {
            params.subject_alt_names.push(match name.parse::<IpAddr>() {
                Ok(ip) => SanType::IpAddress(ip),
                Err(_) => SanType::DnsName((*name).try_into().expect("a DNS name")),
            });
        }
        params.extended_key_usages = vec![if client {
            ExtendedKeyUsagePurpose::ClientAuth
        } else {
            ExtendedKeyUsagePurpose::ServerAuth
        }];
        if expired {
            params.not_before = rcgen::date_time_ymd(1999, 1, 1);
            params.not_after = rcgen::date_time_ymd(2000, 1, 1);
        }
        let issuer = Issuer::from_params(&self.ca_params, &self.ca_key);
        let cert = params.signed_by(&key, &issuer).expect("sign a leaf");
        (cert.pem(), key.serialize_pem())
    }

    /// A server for 127.0.0.1 and localhost, signed by the CA; mTLS when `require_client` is set.
    pub fn server(&self, require_client: bool) -> ServerTls {
        let (cert_pem, key_pem) = self.issue(&["127.0.0.1", "localhost"], false, false);
        ServerTls {
            cert_pem,
            key_pem,
            client_ca_pem: require_client.then(|| self.ca_pem.clone()),
        }
    }

    /// A server whose certificate names another host only.
    pub fn server_for_another_host(&self) -> ServerTls {
        let (cert_pem, key_pem) = self.issue(&["collector.example"], false, false);
        ServerTls {
            cert_pem,
            key_pem,
            client_ca_pem: None,
        }
    }

    /// A server whose certificate has expired.
    pub fn expired_server(&self) -> ServerTls {
        let (cert_pem, key_pem) = self.issue(&["127.0.0.1"], false, true);
        ServerTls {
            cert_pem,
            key_pem,
            client_ca_pem: None,
        }
    }

    /// Writes `contents` to a new file of the PKI directory.
    pub fn file(&self, name: &str, contents: &str) -> PathBuf {
        write(&self.dir, name, contents)
    }
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The rustls configuration of an HTTP receiver.
pub(super) fn server_config(tls: &ServerTls) -> Result<Arc<rustls::ServerConfig>, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let certs = CertificateDer::pem_slice_iter(tls.cert_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("server certificate: {e}"))?;
    let key = PrivateKeyDer::from_pem_slice(tls.key_pem.as_bytes())
        .map_err(|e| format!("server key: {e}"))?;
    let builder = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?;
    let builder = match &tls.client_ca_pem {
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            for cert in CertificateDer::pem_slice_iter(ca.as_bytes()) {
                roots
                    .add(cert.map_err(|e| e.to_string())?)
                    .map_err(|e| e.to_string())?;
            }
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider,
            )
            .build()
            .map_err(|e| e.to_string())?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let mut config = builder
        .with_single_cert(certs, key)
        .map_err(|e| e.to_string())?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Serves `app` over TLS on `listener` until `stop`; each connection's handshake and requests run
/// in their own task, so a failed handshake only ends that connection.
pub(super) async fn serve_https(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    config: Arc<rustls::ServerConfig>,
    mut stop: tokio::sync::oneshot::Receiver<()>,
) -> Result<(), String> {
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((tcp, _)) = accepted else { continue };
                let acceptor = acceptor.clone();
                let app = app.clone();
                tokio::spawn(async move {
                    let Ok(stream) = acceptor.accept(tcp).await else { return };
                    let service = hyper_util::service::TowerToHyperService::new(app);
                    let _ = hyper_util::server::conn::auto::Builder::new(
                        hyper_util::rt::TokioExecutor::new(),
                    )
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
                });
            }
            _ = &mut stop => return Ok(()),
        }
    }
}

/// The tonic TLS configuration of a gRPC receiver.
pub(super) fn grpc_config(tls: &ServerTls) -> tonic::transport::ServerTlsConfig {
    use tonic::transport::{Certificate, Identity, ServerTlsConfig};
    let config = ServerTlsConfig::new().identity(Identity::from_pem(&tls.cert_pem, &tls.key_pem));
    match &tls.client_ca_pem {
        Some(ca) => config.client_ca_root(Certificate::from_pem(ca)),
        None => config,
    }
}
