//! Two services on loopback, one trace: an axum "frontend" that calls an axum "backend" with
//! reqwest.
//!
//! One request to the frontend makes one trace:
//!
//! ```text
//! GET /checkout/{cart}        server  (frontend)
//! └── GET                     client  (frontend → backend, traceparent injected)
//!     └── GET /price/{cart}   server  (backend, context extracted)
//!         └── compute price   internal
//! ```
//!
//! ```text
//! cargo run --example two_services --features reqwest,axum
//! OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 cargo run --example two_services --features reqwest,axum
//! ```
//!
//! The first prints the spans on the console; the second sends them to the collector there (any
//! `OTEL_*` variable applies).

use std::net::SocketAddr;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware};
use tokio::net::TcpListener;
use tracewire::http::{ServerLayer, TracingMiddleware};

/// The backend: `GET /price/{cart}` answers a price.
pub fn backend() -> Router {
    Router::new()
        .route("/price/{cart}", get(price))
        .layer(ServerLayer::new())
}

async fn price(Path(cart): Path<String>) -> String {
    tracewire::in_span("compute price", |span| {
        span.set_attribute("cart.id", cart.clone());
        let total = cart.bytes().map(u64::from).sum::<u64>() % 100;
        total.to_string()
    })
}

/// The frontend: `GET /checkout/{cart}` asks the backend at `backend_url` for the price.
pub fn frontend(backend_url: String) -> Router {
    let client = ClientBuilder::new(reqwest::Client::new())
        .with(TracingMiddleware::new())
        .build();
    Router::new()
        .route("/checkout/{cart}", get(checkout))
        .with_state((client, backend_url))
        .layer(ServerLayer::new())
}

async fn checkout(
    State((client, backend_url)): State<(ClientWithMiddleware, String)>,
    Path(cart): Path<String>,
) -> Result<String, StatusCode> {
    let response = client
        .get(format!("{backend_url}/price/{cart}"))
        .send()
        .await
        .map_err(|_| StatusCode::BAD_GATEWAY)?;
    let price = response.text().await.map_err(|_| StatusCode::BAD_GATEWAY)?;
    Ok(format!("cart {cart}: total {price}"))
}

/// Serves `app` on an ephemeral port of 127.0.0.1 in a background task, with the peer address
/// available to the server layer (`client.address`).
pub async fn serve(app: Router) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    tokio::spawn(async move {
        let service = app.into_make_service_with_connect_info::<SocketAddr>();
        if let Err(error) = axum::serve(listener, service).await {
            eprintln!("server on {address}: {error}");
        }
    });
    Ok(address)
}

/// Starts both services; returns the frontend's base URL.
pub async fn start() -> std::io::Result<String> {
    let backend = serve(backend()).await?;
    let frontend = serve(frontend(format!("http://{backend}"))).await?;
    Ok(format!("http://{frontend}"))
}

/// tracewire's settings: from the environment, with the console exporter unless an exporter or
/// an OTLP endpoint is configured there.
fn config() -> Result<tracewire::Config, tracewire::InitError> {
    let config = tracewire::Config::from_env()?.with_service_name("two-services");
    let configured = ["OTEL_TRACES_EXPORTER", "OTEL_EXPORTER_OTLP_ENDPOINT"]
        .iter()
        .any(|name| std::env::var_os(name).is_some());
    Ok(if configured {
        config
    } else {
        config.with_exporter_kind(tracewire::ExporterKind::Console)
    })
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let guard = config()?.init()?;
    let frontend = start().await?;
    // A plain client, as a browser would be: the trace starts at the frontend.
    let answer = reqwest::get(format!("{frontend}/checkout/cart-7"))
        .await?
        .text()
        .await?;
    println!("{answer}");
    guard.shutdown()?; // flushes: the trace is printed (or sent) before the process exits
    Ok(())
}
