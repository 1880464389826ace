//! OTLP over TLS and mTLS, against TLS receivers on 127.0.0.1 (both transports), with certificates
//! made by rcgen: the collector is verified, a failure is counted and says why, and every bad TLS
//! setting is an init error that names the setting and the path, never a file's contents.
#![cfg(all(feature = "tls", feature = "otlp-grpc", feature = "otlp-http"))]

mod support;

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use support::tls::{Pki, ServerTls};
use support::{Receiver, Transport};

const WAIT: Duration = Duration::from_secs(10);
const BOTH: [Transport; 2] = [Transport::Grpc, Transport::Http];

fn lookup(vars: &[(&str, String)]) -> tracewire::Config {
    let map: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect();
    tracewire::Config::from_lookup(|name| map.get(name).cloned()).expect("valid variables")
}

fn path(p: &Path) -> String {
    p.display().to_string()
}

/// Inits with `config`, ends three spans, flushes, and returns the stats and the flush result.
fn export_three(
    config: tracewire::Config,
) -> (tracewire::Stats, Result<(), tracewire::FlushError>) {
    let guard = config
        .with_export_timeout(Duration::from_secs(3))
        .init()
        .expect("init");
    for name in ["a", "b", "c"] {
        tracewire::span(name).end();
    }
    let flushed = tracewire::force_flush_timeout(WAIT);
    let stats = tracewire::stats();
    drop(guard);
    (stats, flushed)
}

/// Asserts that the three spans arrived.
#[track_caller]
fn delivered(receiver: &Receiver, config: tracewire::Config) {
    let (stats, flushed) = export_three(config);
    assert_eq!(flushed, Ok(()), "{stats:#?}");
    assert_eq!(stats.spans_exported, 3, "{stats:#?}");
    assert_eq!(receiver.wait_for_spans(3, WAIT).len(), 3);
}

/// Asserts that the export failed, was counted, and that the error says `reason`.
#[track_caller]
fn refused(config: tracewire::Config, reason: &str) -> String {
    let (stats, flushed) = export_three(config);
    assert!(flushed.is_err(), "{stats:#?}");
    assert_eq!(stats.dropped_export_failed, 3, "{stats:#?}");
    assert_eq!(stats.spans_exported, 0, "{stats:#?}");
    support::assert_accounted(&stats);
    let error = stats.last_export_error.clone().unwrap_or_default();
    assert!(error.contains(reason), "{reason:?} not in {error:?}");
    assert!(
        !error.contains("network error") || error.len() > "network error".len() + 40,
        "{error}"
    );
    error
}

fn start(transport: Transport, tls: ServerTls) -> Receiver {
    Receiver::start_tls(transport, tls)
}

#[test]
fn a_custom_ca_from_the_variable_verifies_the_collector() {
    let _serial = support::serial();
    let pki = Pki::new();
    for transport in BOTH {
        let receiver = start(transport, pki.server(false));
        // The traces variable wins over the generic one.
        let config = lookup(&[
            ("OTEL_EXPORTER_OTLP_CERTIFICATE", path(&pki.other_ca)),
            ("OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE", path(&pki.ca)),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint()),
        ]);
        delivered(
            &receiver,
            support::configure(config, transport, receiver.endpoint()),
        );
    }
}

#[test]
fn a_custom_ca_from_code_verifies_the_collector() {
    let _serial = support::serial();
    let pki = Pki::new();
    for transport in BOTH {
        let receiver = start(transport, pki.server(false));
        // Code wins over the variable.
        let config = lookup(&[("OTEL_EXPORTER_OTLP_CERTIFICATE", path(&pki.other_ca))])
            .with_certificate(&pki.ca);
        delivered(
            &receiver,
            support::configure(config, transport, receiver.endpoint()),
        );
    }
}

#[test]
fn mtls_is_accepted_with_the_right_identity() {
    let _serial = support::serial();
    let pki = Pki::new();
    for transport in BOTH {
        let receiver = start(transport, pki.server(true));
        let config = lookup(&[
            ("OTEL_EXPORTER_OTLP_CERTIFICATE", path(&pki.ca)),
            (
                "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
                path(&pki.client_cert),
            ),
            ("OTEL_EXPORTER_OTLP_CLIENT_KEY", path(&pki.client_key)),
        ]);
        delivered(
            &receiver,
            support::configure(config, transport, receiver.endpoint()),
        );
        receiver.clear();
        let config = support::config_for(&receiver)
            .with_certificate(&pki.ca)
            .with_client_certificate(&pki.client_cert)
            .with_client_key(&pki.client_key);
        delivered(&receiver, config);
    }
}

#[test]
fn mtls_is_refused_without_an_identity() {
    let _serial = support::serial();
    let pki = Pki::new();
    for transport in BOTH {
        let receiver = start(transport, pki.server(true));
        let config = support::config_for(&receiver).with_certificate(&pki.ca);
        let error = refused(config, "");
        println!("{transport:?}, no client certificate: last_export_error = {error}");
        // The server's alert says why; under TLS 1.3 the client may write its request before the
        // alert arrives, and then sees the connection closed, reset or its pipe broken instead
        // (hyper reports the first as "connection closed" and tonic as Cancelled).
        assert!(
            [
                "CertificateRequired",
                "broken pipe",
                "connection reset",
                "connection closed",
            ]
            .iter()
            .any(|reason| error.contains(reason)),
            "{transport:?}: the reason should be the refused handshake: {error}"
        );
        assert_eq!(receiver.span_count(), 0);
    }
}

#[test]
fn a_wrong_ca_is_refused_and_says_so() {
    let _serial = support::serial();
    let pki = Pki::new();
    for transport in BOTH {
        let receiver = start(transport, pki.server(false));
        let config = support::config_for(&receiver).with_certificate(&pki.other_ca);
        let error = refused(config, "invalid peer certificate: UnknownIssuer");
        println!("{transport:?}, wrong CA: last_export_error = {error}");
        assert_eq!(receiver.requests_received(), 0);
    }
}

#[test]
fn the_platform_roots_do_not_trust_a_private_ca() {
    let _serial = support::serial();
    let pki = Pki::new();
    for transport in BOTH {
        let receiver = start(transport, pki.server(false));
        refused(
            support::config_for(&receiver),
            "invalid peer certificate: UnknownIssuer",
        );
    }
}

#[test]
fn a_host_name_mismatch_is_refused_and_says_so() {
    let _serial = support::serial();
    let pki = Pki::new();
    for transport in BOTH {
        let receiver = start(transport, pki.server_for_another_host());
        let config = support::config_for(&receiver).with_certificate(&pki.ca);
        refused(
            config,
            "invalid peer certificate: certificate not valid for name",
        );
    }
}

#[test]
fn an_expired_certificate_is_refused_and_says_so() {
    let _serial = support::serial();
    let pki = Pki::new();
    for transport in BOTH {
        let receiver = start(transport, pki.expired_server());
        let config = support::config_for(&receiver).with_certificate(&pki.ca);
        refused(config, "invalid peer certificate: certificate expired");
    }
}

#[test]
fn credentials_in_the_endpoint_are_never_shown() {
    let _serial = support::serial();
    let pki = Pki::new();
    for transport in BOTH {
        let receiver = start(transport, pki.server(false));
        let endpoint = receiver
            .endpoint()
            .replace("https://", "https://user:s3cret@");
        let config = support::config_to(transport, endpoint).with_certificate(&pki.other_ca);
        assert!(!format!("{config:?}").contains("s3cret"));
        let (stats, _) = export_three(config);
        let error = stats.last_export_error.unwrap_or_default();
        assert!(!error.is_empty() && !error.contains("s3cret"), "{error}");
    }
}

/// `init` with `config` must fail; returns the message.
#[track_caller]
fn init_error(config: tracewire::Config) -> String {
    match config.init() {
        Ok(_) => panic!("init should fail"),
        Err(err) => err.to_string(),
    }
}

#[test]
fn bad_tls_files_are_init_errors_naming_the_setting_and_the_path() {
    let _serial = support::serial();
    let pki = Pki::new();
    let missing = pki.dir.join("missing.pem");
    let secret_key = pki.file(
        "key-only.pem",
        &std::fs::read_to_string(&pki.client_key).unwrap(),
    );
    for transport in BOTH {
        let base = || support::config_to(transport, "https://127.0.0.1:1".into());

        let err = init_error(base().with_certificate(&missing));
        println!("{transport:?}, unreadable CA: {err}");
        assert!(
            err.starts_with(&format!(
                "Config::with_certificate = {:?}: expected a readable PEM file",
                path(&missing)
            )),
            "{err}"
        );

        let err = init_error(base().with_certificate(&pki.not_pem));
        assert!(
            err.contains("expected at least one PEM certificate"),
            "{err}"
        );
        assert!(
            !err.contains("this is not a certificate"),
            "no contents: {err}"
        );

        // A key is no certificate, and its contents never show.
        let err = init_error(base().with_certificate(&secret_key));
        assert!(
            err.contains(&path(&secret_key)) && err.contains("PEM certificate"),
            "{err}"
        );
        assert!(!err.contains("PRIVATE KEY-----\n"), "{err}");

        let env = lookup(&[(
            "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
            path(&pki.client_cert),
        )]);
        let err = init_error(support::configure(
            env,
            transport,
            "https://127.0.0.1:1".into(),
        ));
        println!("{transport:?}, missing key: {err}");
        assert!(err.starts_with(&format!("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE={:?}: expected OTEL_EXPORTER_OTLP_CLIENT_KEY", path(&pki.client_cert))), "{err}");

        let err = init_error(base().with_client_key(&pki.client_key));
        assert!(err.starts_with("Config::with_client_key = "), "{err}");
        assert!(err.contains("a client key needs its certificate"), "{err}");

        let err = init_error(
            base()
                .with_client_certificate(&pki.client_cert)
                .with_client_key(&pki.not_pem),
        );
        assert!(err.contains("expected a PEM private key"), "{err}");
        assert!(!err.contains("this is not a certificate"), "{err}");

        let err = init_error(
            base()
                .with_client_certificate(&pki.client_cert)
                .with_client_key(&missing),
        );
        assert!(
            err.starts_with(&format!(
                "Config::with_client_key = {:?}: expected a readable PEM file",
                path(&missing)
            )),
            "{err}"
        );

        // A key that belongs to another certificate.
        let (_, other_key) = pki.issue(&[], true, false);
        let other_key = pki.file("other-key.pem", &other_key);
        let err = init_error(
            base()
                .with_client_certificate(&pki.client_cert)
                .with_client_key(&other_key),
        );
        assert!(
            err.contains("expected the private key of the client certificate"),
            "{err}"
        );

        // TLS files with a clear-text endpoint would send spans in clear text.
        let err = init_error(
            support::config_to(transport, "http://127.0.0.1:1".into()).with_certificate(&pki.ca),
        );
        assert!(err.contains("expected an https:// endpoint"), "{err}");
    }
}

#[test]
fn scheme_less_grpc_endpoints_use_tls_unless_insecure() {
    let _serial = support::serial();
    let pki = Pki::new();
    let receiver = start(Transport::Grpc, pki.server(false));
    let bare = receiver.endpoint().replace("https://", "");
    delivered(
        &receiver,
        support::config_to(Transport::Grpc, bare.clone()).with_certificate(&pki.ca),
    );
    let plain = Receiver::grpc();
    let plain_bare = plain.endpoint().replace("http://", "");
    let config = lookup(&[("OTEL_EXPORTER_OTLP_INSECURE", "true".into())]);
    delivered(
        &plain,
        support::configure(config, Transport::Grpc, plain_bare),
    );
    // OTLP/HTTP needs a scheme.
    let err = init_error(support::config_to(Transport::Http, bare));
    assert!(
        err.contains("only OTLP/gRPC endpoints may leave the scheme out"),
        "{err}"
    );
}

/// The README's "Collectors over TLS" example, run against a TLS receiver.
#[test]
fn the_readme_example_exports_over_tls() {
    let _serial = support::serial();
    let pki = Pki::new();
    let receiver = start(Transport::Http, pki.server(true));
    let vars = [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint()),
        ("OTEL_EXPORTER_OTLP_CERTIFICATE", path(&pki.ca)),
        (
            "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
            path(&pki.client_cert),
        ),
        ("OTEL_EXPORTER_OTLP_CLIENT_KEY", path(&pki.client_key)),
    ];
    let config = lookup(&vars).with_service_name("checkout");
    let guard = config.init().expect("init");
    tracewire::span("charge card").end();
    tracewire::force_flush().expect("flushed over mTLS");
    let stats = tracewire::stats();
    println!(
        "exported {} span(s) to {}",
        stats.spans_exported,
        receiver.endpoint()
    );
    drop(guard);
    assert_eq!(stats.spans_exported, 1);
    assert_eq!(receiver.wait_for_spans(1, WAIT).len(), 1);
}

const CHILD: &str = "TRACEWIRE_TLS_DIAG_CHILD";

/// tracewire's own diagnostic line (on standard error) gives the TLS reason too. The export runs
/// in a child process (this test, run again) so that its standard error can be read.
#[test]
fn the_diagnostic_gives_the_tls_reason() {
    if std::env::var_os(CHILD).is_some() {
        let pki = Pki::new();
        for transport in BOTH {
            let receiver = start(transport, pki.server(false));
            let config = support::config_for(&receiver)
                .with_certificate(&pki.other_ca)
                .with_diagnostics(tracewire::DiagLevel::Error);
            let _ = export_three(config);
        }
        return;
    }
    let exe = std::env::current_exe().expect("the test binary");
    let output = support::bounded("the child", Duration::from_secs(60), move || {
        std::process::Command::new(exe)
            .args([
                "--exact",
                "the_diagnostic_gives_the_tls_reason",
                "--nocapture",
            ])
            .env(CHILD, "1")
            .stdin(std::process::Stdio::null())
            .output()
            .expect("run the child")
    });
    assert!(output.status.success(), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|line| line.starts_with("tracewire error: "))
        .collect();
    println!("{}", lines.join("\n"));
    // Rate-limited per kind of line: the gRPC export's failure, then the HTTP request's.
    for kind in ["export of 3 spans failed: ", "OTLP/HTTP request to "] {
        assert!(
            lines.iter().any(|line| line.contains(kind)
                && line.contains("invalid peer certificate: UnknownIssuer")),
            "no {kind:?} line with the TLS reason in:\n{stderr}"
        );
    }
}

#[test]
fn describe_names_the_tls_files_and_their_sources_never_their_contents() {
    let _serial = support::serial();
    let pki = Pki::new();
    let receiver = start(Transport::Http, pki.server(true));
    let config = lookup(&[
        ("OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE", path(&pki.ca)),
        (
            "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
            path(&pki.client_cert),
        ),
    ])
    .with_client_key(&pki.client_key);
    let guard = support::configure(config, Transport::Http, receiver.endpoint())
        .init()
        .expect("init");
    let text = tracewire::describe();
    drop(guard);
    eprintln!("{text}");
    for line in [
        format!(
            "certificate (CAs): {} (OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE)",
            path(&pki.ca)
        ),
        format!(
            "client certificate: {} (OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE)",
            path(&pki.client_cert)
        ),
        format!(
            "client key: {} (code (Config::with_client_key))",
            path(&pki.client_key)
        ),
        "insecure: false (default)".to_owned(),
    ] {
        assert!(text.contains(&line), "{line:?} not in:\n{text}");
    }
    let key = std::fs::read_to_string(&pki.client_key).expect("key file");
    let key_body = key.lines().nth(1).expect("a PEM body line");
    assert!(
        !text.contains(key_body),
        "the key's contents are shown:\n{text}"
    );
    assert!(!text.contains("PRIVATE KEY"), "{text}");
}
