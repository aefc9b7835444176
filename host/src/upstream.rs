//! The pooled HTTP client that sends plugins' requests to providers.
//!
//! Plugins describe requests; this module turns one into a real request after checking its
//! host against the plugin's allowed hosts and filling in secret references, then sends it
//! with connect, first-byte, idle and total timeouts.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::header::{HeaderName, HeaderValue};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tokio::time::Instant;

use crate::allowed_hosts::HostDenied;
use crate::config::UpstreamConfig;
use crate::plugin::LoadedPlugin;
use crate::plugin::wit::{HeaderValue as WitHeaderValue, HttpRequest, HttpResponse, Method};
use crate::secrets::SecretLookupError;

/// Headers the host sets or that would let a plugin tamper with the connection.
pub const FORBIDDEN_HEADERS: &[&str] = &[
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "te",
    "trailer",
    "upgrade",
    "proxy-authorization",
    "proxy-connection",
];

/// The largest body a plugin may send upstream. Speech requests carry text and options, a
/// few KiB; 8 MiB leaves room for a reference clip in base64 and stops a plugin from
/// flooding a provider.
const MAX_UPLOAD_BYTES: usize = 8 * 1024 * 1024;

const USER_AGENT: &str = concat!("voxgate/", env!("CARGO_PKG_VERSION"));

/// Why an upstream exchange failed.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// The plugin asked for something the host does not permit. The plugin's fault.
    #[error("request refused: {0}")]
    Denied(#[from] HostDenied),
    #[error("request refused: {0}")]
    InvalidRequest(String),
    /// A secret the request needs has no value. The operator's configuration.
    #[error("{0}")]
    Secret(#[from] SecretLookupError),
    #[error("connecting to {host} failed: {reason}")]
    Connect { host: String, reason: String },
    #[error("{host} did not {phase} within {limit_ms} ms")]
    Timeout { host: String, phase: &'static str, limit_ms: u128 },
    #[error("{host} sent a response body larger than {limit} bytes (upstream.max_response_bytes)")]
    TooLarge { host: String, limit: usize },
    #[error("reading the response from {host} failed: {reason}")]
    Body { host: String, reason: String },
}

/// A request ready to send, with the host it goes to for messages.
pub struct PreparedRequest {
    pub request: http::Request<Full<Bytes>>,
    pub host: String,
}

/// The shared client. Cloning is cheap and shares the connection pool.
#[derive(Clone)]
pub struct UpstreamClient {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    config: UpstreamConfig,
}

impl UpstreamClient {
    pub fn new(config: &UpstreamConfig) -> anyhow::Result<Self> {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_connect_timeout(Some(config.connect_timeout()));
        http.set_nodelay(true);
        // The crypto provider is named explicitly: when dependencies enable more than one
        // rustls provider, rustls cannot pick a process-wide default by itself and panics.
        let https = HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(rustls::crypto::aws_lc_rs::default_provider())
            .map_err(|error| anyhow::anyhow!("TLS setup failed: {error}"))?
            .https_or_http()
            .enable_http1()
            .enable_http2()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(90))
            .build(https);
        Ok(Self { client, config: config.clone() })
    }

    pub fn config(&self) -> &UpstreamConfig {
        &self.config
    }

    /// Checks a plugin's request and builds the real one.
    pub fn prepare(
        &self,
        plugin: &LoadedPlugin,
        request: &HttpRequest,
    ) -> Result<PreparedRequest, UpstreamError> {
        let url = plugin.hosts.check(&request.url)?;
        let host = match url.port() {
            Some(port) => format!("{}:{port}", url.host_str().unwrap_or_default()),
            None => url.host_str().unwrap_or_default().to_string(),
        };

        let method = match request.method {
            Method::Get => http::Method::GET,
            Method::Post => http::Method::POST,
            Method::Put => http::Method::PUT,
            Method::Delete => http::Method::DELETE,
        };
        let mut builder = http::Request::builder().method(method).uri(url.as_str());
        let mut has_user_agent = false;

        for header in &request.headers {
            let name = HeaderName::from_bytes(header.name.as_bytes()).map_err(|_| {
                UpstreamError::InvalidRequest(format!(
                    "header name `{}` is invalid",
                    header.name.escape_default()
                ))
            })?;
            if FORBIDDEN_HEADERS.contains(&name.as_str()) {
                return Err(UpstreamError::InvalidRequest(format!(
                    "header `{name}` is set by the host and may not be set by a plugin"
                )));
            }
            has_user_agent |= name == http::header::USER_AGENT;
            let value = match &header.value {
                WitHeaderValue::Text(text) => HeaderValue::from_str(text).map_err(|_| {
                    UpstreamError::InvalidRequest(format!("header `{name}` has an invalid value"))
                })?,
                WitHeaderValue::Secret(reference) => {
                    let secret = plugin.secrets.get(&reference.name)?;
                    let text = format!("{}{}{}", reference.prefix, secret.expose(), reference.suffix);
                    let mut value = HeaderValue::from_str(&text).map_err(|_| {
                        // Never quote the value: it contains the secret.
                        UpstreamError::InvalidRequest(format!(
                            "header `{name}` with secret `{}` is not a valid header value",
                            reference.name
                        ))
                    })?;
                    value.set_sensitive(true);
                    value
                }
            };
            builder = builder.header(name, value);
        }
        if !has_user_agent {
            builder = builder.header(http::header::USER_AGENT, USER_AGENT);
        }

        if request.body.len() > MAX_UPLOAD_BYTES {
            return Err(UpstreamError::InvalidRequest(format!(
                "the request body is {} bytes, over the limit of {MAX_UPLOAD_BYTES} for a plugin's request",
                request.body.len()
            )));
        }
        let request = builder
            .body(Full::new(Bytes::copy_from_slice(&request.body)))
            .map_err(|error| UpstreamError::InvalidRequest(format!("request is invalid: {error}")))?;
        Ok(PreparedRequest { request, host })
    }

    /// Sends a request and waits for the response headers.
    pub async fn send(
        &self,
        prepared: PreparedRequest,
        deadline: Instant,
    ) -> Result<http::Response<Incoming>, UpstreamError> {
        let PreparedRequest { request, host } = prepared;
        let first_byte = Instant::now() + self.config.first_byte_timeout();
        let (limit, phase) = if first_byte < deadline {
            (first_byte, "send response headers")
        } else {
            (deadline, "finish")
        };
        match tokio::time::timeout_at(limit, self.client.request(request)).await {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(error)) => Err(UpstreamError::Connect { host, reason: describe_error(&error) }),
            Err(_) => Err(UpstreamError::Timeout {
                host,
                phase,
                limit_ms: self.limit_ms(phase),
            }),
        }
    }

    fn limit_ms(&self, phase: &str) -> u128 {
        if phase == "finish" {
            self.config.total_timeout().as_millis()
        } else {
            self.config.first_byte_timeout().as_millis()
        }
    }

    /// Reads a whole response body, up to `upstream.max_response_bytes`.
    pub async fn read_response(
        &self,
        host: &str,
        response: http::Response<Incoming>,
        deadline: Instant,
    ) -> Result<HttpResponse, UpstreamError> {
        let (parts, mut body) = response.into_parts();
        let limit = self.config.max_response_bytes;
        let mut buffer = BytesMut::new();
        loop {
            let frame = match tokio::time::timeout_at(deadline, body.frame()).await {
                Err(_) => {
                    return Err(UpstreamError::Timeout {
                        host: host.to_string(),
                        phase: "finish",
                        limit_ms: self.config.total_timeout().as_millis(),
                    });
                }
                Ok(None) => break,
                Ok(Some(Err(error))) => {
                    return Err(UpstreamError::Body {
                        host: host.to_string(),
                        reason: describe_error(&error),
                    });
                }
                Ok(Some(Ok(frame))) => frame,
            };
            if let Ok(data) = frame.into_data() {
                if buffer.len() + data.len() > limit {
                    return Err(UpstreamError::TooLarge { host: host.to_string(), limit });
                }
                buffer.extend_from_slice(&data);
            }
        }

        let headers = parts
            .headers
            .iter()
            .map(|(name, value)| {
                (name.as_str().to_string(), String::from_utf8_lossy(value.as_bytes()).into_owned())
            })
            .collect();
        Ok(HttpResponse { status: parts.status.as_u16(), headers, body: buffer.to_vec() })
    }
}

/// The error and its sources on one line. hyper's top-level messages ("client error
/// (Connect)") hide the useful part in the source chain.
pub fn describe_error(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}
