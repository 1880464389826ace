//! What the server layer reads from axum (feature `axum`): the matched route and the peer address.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, MatchedPath};
use http::Extensions;

/// The route template axum matched (`/users/{id}`); present when the layer runs inside the router
/// (`Router::layer`).
pub(crate) fn matched_route(extensions: &Extensions) -> Option<&str> {
    extensions.get::<MatchedPath>().map(MatchedPath::as_str)
}

/// The peer's IP address, when the app is served with `into_make_service_with_connect_info`.
pub(crate) fn peer_address(extensions: &Extensions) -> Option<String> {
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0.ip().to_string())
}
