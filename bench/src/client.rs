//! Parts shared by the client commands: the target, HTTP/1.1 connections, the speech request,
//! and a tally of failures by kind.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Duration;

use anyhow::Context as _;
use bytes::Bytes;
use http::{Method, Request, Uri, header};
use http_body_util::Full;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

#[derive(clap::Args, Clone)]
pub struct TargetOptions {
    /// Speech URL, such as http://127.0.0.1:8787/v1/audio/speech. The host must be a loopback
    /// IP address.
    #[arg(long)]
    url: String,
    /// Key sent as `Authorization: Bearer KEY`; none when absent.
    #[arg(long)]
    api_key: Option<String>,
    /// JSON request body.
    #[arg(long, default_value = r#"{"model":"tts-1","input":"The quick brown fox jumps over the lazy dog.","voice":"alloy","response_format":"mp3"}"#)]
    body: String,
    /// Seconds one request may take, from sending it to the end of its response.
    #[arg(long, default_value = "30", value_parser = crate::seconds)]
    pub request_timeout: Duration,
}

/// A parsed target: where to connect and what to send.
#[derive(Clone)]
pub struct Target {
    pub address: SocketAddr,
    uri: Uri,
    authorization: Option<String>,
    body: Bytes,
}

impl Target {
    pub fn new(options: &TargetOptions) -> anyhow::Result<Self> {
        let uri: Uri = options.url.parse().with_context(|| format!("--url `{}` is not a URL", options.url))?;
        if uri.scheme_str() != Some("http") {
            anyhow::bail!("--url `{}` must start with http://", options.url);
        }
        let authority = uri.authority().map(|authority| authority.as_str()).unwrap_or_default();
        let address: SocketAddr = authority.parse().with_context(|| {
            format!("--url `{}` must name an IP address and a port, such as 127.0.0.1:8787", options.url)
        })?;
        crate::require_loopback(address)?;

        Ok(Self {
            address,
            uri,
            authorization: options.api_key.as_ref().map(|key| format!("Bearer {key}")),
            body: Bytes::from(options.body.clone()),
        })
    }

    /// Opens one HTTP/1.1 connection, which stays open for consecutive requests.
    pub async fn connect(&self) -> anyhow::Result<SendRequest<Full<Bytes>>> {
        let stream = TcpStream::connect(self.address)
            .await
            .with_context(|| format!("cannot connect to {}", self.address))?;
        stream.set_nodelay(true)?;
        let (sender, connection) = http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            // The connection ends with an error when the server closes it; the request that
            // was using it reports that error.
            let _ = connection.await;
        });
        Ok(sender)
    }

    /// Builds the speech `POST`.
    pub fn speech_request(&self) -> Request<Full<Bytes>> {
        let mut request = Request::builder()
            .method(Method::POST)
            .uri(self.uri.path_and_query().map_or("/", |path| path.as_str()))
            .header(header::HOST, self.address.to_string())
            .header(header::CONTENT_TYPE, "application/json");
        if let Some(authorization) = &self.authorization {
            request = request.header(header::AUTHORIZATION, authorization);
        }
        request.body(Full::new(self.body.clone())).expect("the request parts were checked in Target::new")
    }
}

/// Failures counted by a short description, such as `HTTP 503` or `timed out`.
#[derive(Default)]
pub struct Failures {
    counts: Mutex<BTreeMap<String, u64>>,
}

impl Failures {
    pub fn record(&self, kind: impl Into<String>) {
        let mut counts = self.counts.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        *counts.entry(kind.into()).or_default() += 1;
    }

    pub fn total(&self) -> u64 {
        self.counts.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).values().sum()
    }

    pub fn to_json(&self) -> serde_json::Value {
        let counts = self.counts.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        serde_json::json!(*counts)
    }
}

/// Prints one JSON object as a line on stdout and flushes it, so that a driver reading a pipe
/// receives the line at once.
pub fn emit(value: &serde_json::Value) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{value}");
    let _ = stdout.flush();
}
