//! The per-request cost of tracewire's HTTP layers, next to the same request without them, in one
//! run: a GET on 127.0.0.1 to an axum server, answered with a 2-byte body.
//!
//! ```text
//! cargo bench --bench http --features reqwest,tower,axum
//! ```
//!
//! - `reqwest`: a reqwest client, with and without [`TracingMiddleware`], against an axum app with and
//!   without [`ServerLayer`] (plain/plain is the baseline; the differences are the layers' cost).
//! - `tower client`: hyper-util's client, with and without [`ClientLayer`], against the plain app.
//! - `in process`: the layers alone around a service that answers at once (no network, so far
//!   less noise): the bare service, under [`ServerLayer`] (with an incoming `traceparent`), under
//!   [`ClientLayer`].
//!
//! tracewire records every span (always-on sampler) into an exporter that discards them, so the
//! background thread's work competes for the CPU as it would in a service. Client and server share
//! the machine, so each figure is the cost on both sides of one request.

use std::hint::black_box;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::routing::get;
use criterion::{Criterion, criterion_group, criterion_main};
use http_body_util::{BodyExt, Full};
use reqwest_middleware::ClientBuilder;
use tokio::runtime::Runtime;
use tower::{Layer, ServiceBuilder, ServiceExt};
use tracewire::http::{ClientLayer, ServerLayer, TracingMiddleware};
use tracewire::{Config, DiagLevel, ExporterKind, Sampler};

fn app() -> Router {
    Router::new().route("/ok", get(|| async { "ok" }))
}

fn serve(rt: &Runtime, app: Router) -> SocketAddr {
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let address = listener.local_addr().expect("address");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        address
    })
}

fn http(c: &mut Criterion) {
    let _guard = Config::default()
        .with_exporter_kind(ExporterKind::None)
        .with_sampler(Sampler::AlwaysOn)
        .with_diagnostics(DiagLevel::None)
        .init()
        .expect("init");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let plain_server = serve(&rt, app());
    let traced_server = serve(&rt, app().layer(ServerLayer::new()));

    let plain = ClientBuilder::new(reqwest::Client::new()).build();
    let traced = ClientBuilder::new(reqwest::Client::new())
        .with(TracingMiddleware::new())
        .build();
    let mut group = c.benchmark_group("reqwest");
    for (name, client, server) in [
        ("plain client, plain server", &plain, plain_server),
        ("traced client, plain server", &traced, plain_server),
        ("plain client, traced server", &plain, traced_server),
        ("traced client, traced server", &traced, traced_server),
    ] {
        let url = format!("http://{server}/ok");
        group.bench_function(name, |b| {
            b.iter(|| {
                rt.block_on(async {
                    let response = client.get(&url).send().await.expect("sent");
                    black_box(response.bytes().await.expect("body"))
                })
            })
        });
    }
    group.finish();

    let hyper = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<Full<Bytes>>();
    let hyper_traced = ServiceBuilder::new()
        .layer(ClientLayer::new())
        .service(hyper.clone());
    let url = format!("http://{plain_server}/ok");
    let request = || {
        http::Request::get(&url)
            .body(Full::default())
            .expect("request")
    };
    let mut group = c.benchmark_group("tower client");
    group.bench_function("hyper-util", |b| {
        b.iter(|| {
            rt.block_on(async {
                let response = hyper.request(request()).await.expect("sent");
                black_box(response.into_body().collect().await.expect("body"))
            })
        })
    });
    group.bench_function("hyper-util + ClientLayer", |b| {
        b.iter(|| {
            rt.block_on(async {
                let response = hyper_traced.clone().oneshot(request()).await.expect("sent");
                black_box(response.into_body().collect().await.expect("body"))
            })
        })
    });
    group.finish();

    // The layers alone, around a service that answers at once: no network, far less noise.
    let answer = || {
        tower::service_fn(|_: http::Request<Full<Bytes>>| async {
            Ok::<_, std::convert::Infallible>(http::Response::new(Full::new(Bytes::from_static(
                b"ok",
            ))))
        })
    };
    let request = || {
        http::Request::get("http://127.0.0.1:8080/users/7?q=1")
            .header("user-agent", "bench")
            .header(
                "traceparent",
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            )
            .body(Full::default())
            .expect("request")
    };
    let bare = answer();
    let server = ServerLayer::new().layer(answer());
    let client = ClientLayer::new().layer(answer());
    let mut group = c.benchmark_group("in process");
    group.bench_function("no layer", |b| {
        b.iter(|| {
            rt.block_on(async {
                let response = bare.oneshot(request()).await.expect("answer");
                black_box(response.into_body().collect().await.expect("body"))
            })
        })
    });
    group.bench_function("ServerLayer", |b| {
        b.iter(|| {
            rt.block_on(async {
                let response = server.clone().oneshot(request()).await.expect("answer");
                black_box(response.into_body().collect().await.expect("body"))
            })
        })
    });
    group.bench_function("ClientLayer", |b| {
        b.iter(|| {
            rt.block_on(async {
                let response = client.clone().oneshot(request()).await.expect("answer");
                black_box(response.into_body().collect().await.expect("body"))
            })
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1));
    targets = http
}
criterion_main!(benches);
