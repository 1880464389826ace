//! In a build without the `tls` feature, an `https://` endpoint or a TLS file is an init error that
//! names the feature, instead of spans sent in clear text or failing one by one.
//!
//! Compiled only without `tls`: CI runs it with
//! `cargo test --no-default-features --features otlp-grpc,otlp-http --test https_needs_the_tls_feature`.
#![cfg(all(not(feature = "tls"), feature = "otlp-grpc", feature = "otlp-http"))]

mod support;

use std::collections::HashMap;

use support::Transport;

fn init_error(config: tracewire::Config) -> String {
    match config.init() {
        Ok(_) => panic!("init should fail"),
        Err(err) => err.to_string(),
    }
}

#[test]
fn an_https_endpoint_names_the_feature() {
    let _serial = support::serial();
    for transport in [Transport::Grpc, Transport::Http] {
        let vars = HashMap::from([(
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            "https://user:s3cret@127.0.0.1:4318",
        )]);
        let config = tracewire::Config::from_lookup(|name| vars.get(name).map(|v| v.to_string()))
            .expect("valid variables")
            .with_protocol(support::protocol(transport));
        let err = init_error(config);
        println!("{transport:?}: {err}");
        // The URL as sent: OTLP/HTTP appends /v1/traces.
        assert!(
            err.starts_with("the https:// endpoint https://REDACTED:REDACTED@127.0.0.1:4318"),
            "{err}"
        );
        assert!(
            err.ends_with(
                "(from OTEL_EXPORTER_OTLP_ENDPOINT) needs the cargo feature `tls` of tracewire, \
                 which this build does not enable"
            ),
            "{err}"
        );
        assert!(!err.contains("s3cret"), "{err}");
    }
}

#[test]
fn a_tls_file_names_the_feature() {
    let _serial = support::serial();
    let vars = HashMap::from([("OTEL_EXPORTER_OTLP_CERTIFICATE", "/etc/otel/ca.pem")]);
    let config = tracewire::Config::from_lookup(|name| vars.get(name).map(|v| v.to_string()))
        .expect("valid variables");
    let err = init_error(support::configure(
        config,
        Transport::Http,
        "http://127.0.0.1:4318".into(),
    ));
    assert_eq!(
        err,
        "OTEL_EXPORTER_OTLP_CERTIFICATE=\"/etc/otel/ca.pem\" needs the cargo feature `tls` of \
         tracewire, which this build does not enable"
    );
    // A scheme-less gRPC endpoint means TLS unless OTEL_EXPORTER_OTLP_INSECURE=true.
    let err = init_error(support::config_to(Transport::Grpc, "127.0.0.1:4317".into()));
    assert!(err.contains("needs the cargo feature `tls`"), "{err}");
}
