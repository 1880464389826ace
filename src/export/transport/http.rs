//! OTLP/HTTP with reqwest: `POST` of the encoded request as `application/x-protobuf`.

use std::io::Write;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;

use super::{Outcome, Tls, error_chain, redact_in};
use crate::error::InitError;
use crate::export::settings::{Compression, OtlpSettings};

/// One HTTP destination: a pooled client (cheap to clone), the URL and the headers.
#[derive(Debug, Clone)]
pub(crate) struct HttpTransport {
    client: reqwest::Client,
    url: String,
    headers: HeaderMap,
    gzip: bool,
}

impl HttpTransport {
    pub(crate) fn new(settings: &OtlpSettings, tls: Tls) -> Result<HttpTransport, InitError> {
        let failed = |reason: String| InitError::Exporter {
            exporter: "OTLP/HTTP",
            reason,
        };
        let mut headers = HeaderMap::new();
        headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-protobuf"),
        );
        for (name, value) in &settings.headers {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|e| failed(format!("header name {name:?}: {e}")))?;
            // Never the value in the message: it is often a secret.
            let value = HeaderValue::from_str(value)
                .map_err(|e| failed(format!("header {name:?}: invalid value: {e}")))?;
            headers.insert(name, value);
        }
        let gzip = settings.compression == Compression::Gzip;
        if gzip {
            headers.insert(
                http::header::CONTENT_ENCODING,
                HeaderValue::from_static("gzip"),
            );
        }
        #[cfg(feature = "tls")]
        let client = match &tls {
            Some(tls) => tls.http_client(settings.timeout)?,
            None => crate::export::tls::TlsMaterial::clear_text_client(settings.timeout)?,
        };
        #[cfg(not(feature = "tls"))]
        let client = {
            let _ = tls;
            reqwest::Client::builder()
                .timeout(settings.timeout)
                .build()
                .map_err(|e| failed(format!("HTTP client: {e}")))?
        };
        Ok(HttpTransport {
            client,
            url: settings.endpoint.clone(),
            headers,
            gzip,
        })
    }

    pub(crate) async fn send(&self, body: Bytes) -> Outcome {
        let body = if self.gzip {
            match gzip(&body) {
                Ok(body) => body,
                Err(e) => {
                    return Outcome::Failed {
                        reason: format!("gzip: {e}"),
                    };
                }
            }
        } else {
            body
        };
        let sent = self
            .client
            .post(&self.url)
            .headers(self.headers.clone())
            .body(body)
            .send()
            .await;
        let response = match sent {
            Ok(response) => response,
            Err(e) => {
                // reqwest's messages quote the URL: without its credentials.
                let reason = redact_in(error_chain(&e), &self.url);
                crate::diag::diag!(
                    Error,
                    "OTLP/HTTP request to {} failed: {reason}",
                    super::shown(&self.url)
                );
                return Outcome::Unreachable {
                    reason: format!("HTTP request failed: {reason}"),
                };
            }
        };
        let status = response.status();
        let retry_after = retry_after(response.headers(), SystemTime::now());
        let body = response.bytes().await.unwrap_or_default();
        if status.is_success() {
            return match <ExportTraceServiceResponse as prost::Message>::decode(body) {
                Ok(decoded) => super::accepted(&decoded),
                // Some collectors answer 200 with an empty or non-protobuf body: still success.
                Err(_) => Outcome::Accepted {
                    rejected: 0,
                    message: String::new(),
                },
            };
        }
        let reason = format!("HTTP status {status}{}", message(&body));
        match status {
            StatusCode::TOO_MANY_REQUESTS => Outcome::Retryable {
                delay: retry_after,
                throttled: true,
                reason,
            },
            StatusCode::BAD_GATEWAY
            | StatusCode::SERVICE_UNAVAILABLE
            | StatusCode::GATEWAY_TIMEOUT => Outcome::Retryable {
                delay: retry_after,
                throttled: retry_after.is_some(),
                reason,
            },
            _ => Outcome::Failed { reason },
        }
    }
}

fn gzip(body: &[u8]) -> std::io::Result<Bytes> {
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(body.len() / 4 + 64),
        flate2::Compression::fast(),
    );
    encoder.write_all(body)?;
    encoder.finish().map(Bytes::from)
}

/// The collector's explanation: the `google.rpc.Status` message of an OTLP error body, else
/// nothing (a body that is not protobuf is not quoted).
fn message(body: &[u8]) -> String {
    match <tonic_status::Status as prost::Message>::decode(body) {
        Ok(status) if !status.message.is_empty() => {
            let text: String = status.message.chars().take(200).collect();
            format!(": {text}")
        }
        _ => String::new(),
    }
}

/// `google.rpc.Status` as OTLP/HTTP error bodies carry it (only the fields read here).
mod tonic_status {
    #[derive(Clone, PartialEq, prost::Message)]
    pub(super) struct Status {
        #[prost(int32, tag = "1")]
        pub(super) code: i32,
        #[prost(string, tag = "2")]
        pub(super) message: String,
    }
}

/// `Retry-After` as a delay from `now`: seconds, or an HTTP-date (a date in the past is no delay).
fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let value = headers
        .get(http::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            http::header::RETRY_AFTER,
            HeaderValue::from_str(value).unwrap(),
        );
        headers
    }

    #[test]
    fn retry_after_takes_seconds_and_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
        assert_eq!(
            retry_after(&headers("3"), now),
            Some(Duration::from_secs(3))
        );
        let later = httpdate::fmt_http_date(now + Duration::from_secs(7));
        assert_eq!(
            retry_after(&headers(&later), now),
            Some(Duration::from_secs(7))
        );
        let earlier = httpdate::fmt_http_date(now - Duration::from_secs(7));
        assert_eq!(retry_after(&headers(&earlier), now), Some(Duration::ZERO));
        assert_eq!(retry_after(&headers("soon"), now), None);
        assert_eq!(retry_after(&HeaderMap::new(), now), None);
    }
}
