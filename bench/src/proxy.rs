//! The floor under the gateway's pass-through figures: a reverse proxy that does only the two
//! HTTP exchanges a gateway cannot avoid. It reads the client's request, sends it to the
//! upstream over a pooled keep-alive connection with the upstream's key in place of the
//! client's, and streams the response back. No authentication, parsing, plugin, cache or
//! accounting: what voxgate adds over this proxy is what its own code costs.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use bytes::Bytes;
use http::{Request, Response, StatusCode, Uri, header};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;

#[derive(clap::Args)]
pub struct Options {
    /// Address to listen on; port 0 lets the system choose. Loopback only.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// The upstream's base URL, such as `http://127.0.0.1:9000`. Loopback only.
    #[arg(long)]
    upstream: Uri,
    /// The key sent upstream as `Authorization: Bearer KEY`.
    #[arg(long)]
    api_key: String,
    /// Tokio worker threads.
    #[arg(long, default_value_t = 2)]
    pub threads: usize,
    /// Seconds after which the proxy exits by itself, in case its driver never stops it.
    #[arg(long, default_value = "1800", value_parser = crate::seconds)]
    max_lifetime: Duration,
}

type ProxyBody = BoxBody<Bytes, hyper::Error>;

struct Proxy {
    client: Client<HttpConnector, Incoming>,
    upstream: Uri,
    authorization: String,
}

/// Serves until `max_lifetime` passes or the process is killed.
pub async fn serve(options: Options) -> anyhow::Result<()> {
    crate::require_loopback(options.listen)?;
    let upstream_address = upstream_address(&options.upstream)?;
    crate::require_loopback(upstream_address)?;
    let proxy = Arc::new(Proxy {
        client: Client::builder(TokioExecutor::new()).build(HttpConnector::new()),
        upstream: options.upstream.clone(),
        authorization: format!("Bearer {}", options.api_key),
    });
    let listener = TcpListener::bind(options.listen).await.with_context(|| format!("cannot listen on {}", options.listen))?;
    println!("listening on http://{}", listener.local_addr()?);

    let accept = async {
        loop {
            let Ok((stream, _)) = listener.accept().await else { continue };
            let _ = stream.set_nodelay(true);
            let proxy = proxy.clone();
            tokio::spawn(async move {
                let service = service_fn(move |request| {
                    let proxy = proxy.clone();
                    async move { Ok::<_, Infallible>(proxy.forward(request).await) }
                });
                let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
            });
        }
    };
    tokio::select! {
        () = accept => Ok(()),
        () = tokio::time::sleep(options.max_lifetime) => Ok(()),
    }
}

impl Proxy {
    async fn forward(&self, request: Request<Incoming>) -> Response<ProxyBody> {
        let (mut parts, body) = request.into_parts();
        let path = parts.uri.path_and_query().map_or("/", |path| path.as_str());
        let target = format!("{}{}", self.upstream.to_string().trim_end_matches('/'), path);
        parts.uri = match target.parse() {
            Ok(uri) => uri,
            Err(_) => return failure(StatusCode::BAD_REQUEST),
        };
        parts.headers.remove(header::HOST);
        match self.authorization.parse() {
            Ok(value) => parts.headers.insert(header::AUTHORIZATION, value),
            Err(_) => return failure(StatusCode::INTERNAL_SERVER_ERROR),
        };
        match self.client.request(Request::from_parts(parts, body)).await {
            Ok(response) => response.map(BodyExt::boxed),
            Err(_) => failure(StatusCode::BAD_GATEWAY),
        }
    }
}

fn failure(status: StatusCode) -> Response<ProxyBody> {
    let mut response = Response::new(Full::new(Bytes::new()).map_err(|never| match never {}).boxed());
    *response.status_mut() = status;
    response
}

fn upstream_address(upstream: &Uri) -> anyhow::Result<SocketAddr> {
    let authority = upstream.authority().context("the upstream URL has no host and port")?;
    authority.as_str().parse().with_context(|| format!("the upstream URL must name an IP address and port, not `{authority}`"))
}
