//! The HTTP server: the listener, routing to each API's handlers, request bodies under a
//! size cap, and errors in the shape of the API that was called.

mod admin_routes;
mod audio_response;
mod elevenlabs_routes;
mod openai_routes;

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use serde_json::json;
use tokio::net::TcpListener;
use tracing::Instrument;

use crate::api::errors::{ApiError, Blame};
use crate::api::{elevenlabs, openai};
use crate::config::ServerConfig;
use crate::gateway::Gateway;
use crate::metrics::{RequestLabels, RouteLabels};
use crate::speech::quote;

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type Body = UnsyncBoxBody<Bytes, BoxError>;

/// Binds the listener, prints `listening on http://ADDR` on stdout (tests and scripts read
/// it to learn a port chosen by the system), and serves until SIGINT or SIGTERM.
pub async fn serve(gateway: Arc<Gateway>, config: &ServerConfig) -> anyhow::Result<()> {
    let mut listen = config.listen;
    if gateway.auth().is_open() && !listen.ip().is_loopback() {
        tracing::warn!(
            requested = %listen,
            "no client keys are configured, so the gateway is open to anyone who reaches it; listening on loopback only. Add [[keys]] to listen on other addresses"
        );
        listen.set_ip(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST));
    } else if gateway.auth().is_open() {
        tracing::info!("no client keys are configured: the gateway accepts every request on its loopback address");
    }
    let listener = TcpListener::bind(listen)
        .await
        .map_err(|error| anyhow::anyhow!("cannot listen on {listen} (server.listen): {error}"))?;
    let address = listener.local_addr()?;
    println!("listening on http://{address}");
    tracing::info!(%address, "gateway listening");

    let max_request_bytes = config.max_request_bytes;
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown_signal());

    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::warn!(%error, "accepting a connection failed");
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let gateway = gateway.clone();
        let service = service_fn(move |request| {
            let gateway = gateway.clone();
            async move { Ok::<_, Infallible>(handle(gateway, request, max_request_bytes).await) }
        });
        let connection = auto::Builder::new(TokioExecutor::new())
            .serve_connection(TokioIo::new(stream), service)
            .into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%peer, error = %error, "connection ended with an error");
            }
        });
    }

    let limit = std::time::Duration::from_millis(config.shutdown_timeout_ms);
    tracing::info!(timeout_ms = config.shutdown_timeout_ms, "shutting down: no new connections; waiting for requests in flight");
    match tokio::time::timeout(limit, graceful.shutdown()).await {
        Ok(()) => tracing::info!("gateway stopped"),
        Err(_) => tracing::warn!(
            timeout_ms = config.shutdown_timeout_ms,
            "gateway stopped with requests still in flight after server.shutdown_timeout_ms; they were cut off"
        ),
    }
    gateway.flush_usage().await;
    Ok(())
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
}

async fn handle(gateway: Arc<Gateway>, request: Request<Incoming>, max_request_bytes: usize) -> Response<Body> {
    let request_id = new_request_id();
    let span = tracing::info_span!(
        "request",
        id = %request_id,
        method = %request.method(),
        path = %request.uri().path(),
        client = tracing::field::Empty,
        provider = tracing::field::Empty,
        model = tracing::field::Empty,
    );
    let started = Instant::now();
    let route_name = route_name(request.uri().path());
    async move {
        let mut response = route(&gateway, request, max_request_bytes, &request_id, started).await;
        if let Ok(value) = HeaderValue::from_str(&request_id) {
            response.headers_mut().insert("x-request-id", value);
        }
        count_request(&gateway, &route_name, &response, started);
        // Streamed bodies log when they end; everything else is complete here.
        if response.extensions().get::<Streaming>().is_none() {
            tracing::info!(
                status = response.status().as_u16(),
                duration_ms = started.elapsed().as_millis() as u64,
                "request finished"
            );
        }
        response
    }
    .instrument(span)
    .await
}

async fn route(
    gateway: &Gateway,
    request: Request<Incoming>,
    max_request_bytes: usize,
    request_id: &str,
    started: Instant,
) -> Response<Body> {
    let path = request.uri().path().to_string();
    let method = request.method().clone();
    let api = if path.starts_with("/v1/text-to-speech/") || path.ends_with("/voices") { Api::ElevenLabs } else { Api::OpenAi };

    if path == "/healthz" {
        if method != Method::GET {
            return method_not_allowed(api, &method, &path, Method::GET);
        }
        let set = gateway.plugins();
        return json_response(StatusCode::OK, json!({ "status": "ok", "providers": set.plugins.len() }));
    }

    if path == "/metrics" || path == "/v1/usage" {
        if let Err(error) = gateway.auth().admin(request.headers()) {
            tracing::info!(error = %error, "admin request rejected");
            return error_response(Api::OpenAi, &ApiError::from(&error));
        }
        if method != Method::GET {
            return method_not_allowed(Api::OpenAi, &method, &path, Method::GET);
        }
        if path == "/metrics" {
            return Response::builder()
                .status(StatusCode::OK)
                .header(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")
                .body(Full::new(Bytes::from(gateway.metrics().render())).map_err(|never| match never {}).boxed_unsync())
                .expect("a metrics response with static headers is valid");
        }
        return admin_routes::usage(gateway, request.uri().query()).await;
    }

    if let Some(admin_path) = path.strip_prefix("/admin/") {
        if let Err(error) = gateway.auth().admin(request.headers()) {
            tracing::info!(error = %error, "admin request rejected");
            return error_response(Api::OpenAi, &ApiError::from(&error));
        }
        return admin_routes::route(gateway, &method, admin_path).await;
    }

    let client = match gateway.auth().client(request.headers()) {
        Ok(client) => client,
        Err(error) => {
            tracing::info!(error = %error, "request rejected");
            return error_response(api, &ApiError::from(&error));
        }
    };
    tracing::Span::current().record("client", client.name());

    if let Some(rest) = path.strip_prefix("/v1/text-to-speech/") {
        if method != Method::POST {
            return method_not_allowed(Api::ElevenLabs, &method, &path, Method::POST);
        }
        return elevenlabs_routes::speech(gateway, &client, request, rest, max_request_bytes, request_id, started).await;
    }

    match (&method, path.as_str()) {
        (&Method::POST, "/v1/audio/speech") => {
            openai_routes::speech(gateway, &client, request, max_request_bytes, request_id, started).await
        }
        (&Method::GET, "/v1/models") => {
            if wants_openai_shape(&request) {
                openai_routes::models(gateway)
            } else {
                elevenlabs_routes::models(gateway)
            }
        }
        (&Method::GET, "/v1/voices") => elevenlabs_routes::voices(gateway),
        (&Method::GET, "/v2/voices") => elevenlabs_routes::voices_page(gateway),
        (&Method::GET, "/v1/providers") => openai_routes::providers(gateway),
        (_, "/v1/audio/speech") => method_not_allowed(Api::OpenAi, &method, &path, Method::POST),
        (_, "/v1/models" | "/v1/providers") => method_not_allowed(Api::OpenAi, &method, &path, Method::GET),
        (_, "/v1/voices" | "/v2/voices") => method_not_allowed(Api::ElevenLabs, &method, &path, Method::GET),
        _ => error_response(
            Api::OpenAi,
            &ApiError::new(404, Blame::Client, "not_found", format!("no route for {method} {}", quote(&path))),
        ),
    }
}

/// A route's name for metrics: a fixed set, so a client cannot create label values.
fn route_name(path: &str) -> String {
    let name = if path.starts_with("/v1/text-to-speech/") {
        "elevenlabs_speech"
    } else {
        match path {
            "/v1/audio/speech" => "openai_speech",
            "/v1/models" => "models",
            "/v1/voices" | "/v2/voices" => "voices",
            "/v1/providers" => "providers",
            "/v1/usage" => "usage",
            "/metrics" => "metrics",
            "/healthz" => "healthz",
            _ if path.starts_with("/admin/") => "admin",
            _ => "other",
        }
    };
    name.to_string()
}

/// Counts a request once its response headers are ready; `request_duration_seconds` is the
/// time to that point, which for a stream is its time to first byte.
fn count_request(gateway: &Gateway, route: &str, response: &Response<Body>, started: Instant) {
    let header = |name: &str| {
        response.headers().get(name).and_then(|value| value.to_str().ok()).unwrap_or_default().to_string()
    };
    let labels = RequestLabels {
        route: route.to_string(),
        provider: header("x-tts-provider"),
        model: header("x-voxgate-model"),
        status: response.status().as_u16(),
    };
    let metrics = gateway.metrics();
    metrics.requests.get_or_create(&labels).inc();
    metrics
        .request_duration
        .get_or_create(&RouteLabels { route: route.to_string() })
        .observe(started.elapsed().as_secs_f64());
}

/// `GET /v1/models` exists in both APIs with different shapes. OpenAI's SDK always sends
/// `Authorization`; ElevenLabs' sends `xi-api-key` or nothing.
fn wants_openai_shape(request: &Request<Incoming>) -> bool {
    let headers = request.headers();
    headers.contains_key(header::AUTHORIZATION) && !headers.contains_key("xi-api-key")
}

/// A 405 with the `Allow` header that HTTP requires, naming the one method the path takes.
fn method_not_allowed(api: Api, method: &Method, path: &str, allow: Method) -> Response<Body> {
    let error = ApiError::new(
        405,
        Blame::Client,
        "method_not_allowed",
        format!("method {method} is not allowed on {}; use {allow}", quote(path)),
    );
    let mut response = error_response(api, &error);
    if let Ok(value) = HeaderValue::from_str(allow.as_str()) {
        response.headers_mut().insert(header::ALLOW, value);
    }
    response
}

/// Reads a request body, rejecting one over the cap before reading it where the client
/// declared its length.
async fn read_body(request: Request<Incoming>, max_bytes: usize) -> Result<Bytes, ApiError> {
    let too_large = || {
        ApiError::new(
            413,
            Blame::Client,
            "request_too_large",
            format!("request body is larger than {max_bytes} bytes (server.max_request_bytes)"),
        )
    };
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared.is_some_and(|length| length > max_bytes as u64) {
        return Err(too_large());
    }
    match Limited::new(request.into_body(), max_bytes).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.is::<http_body_util::LengthLimitError>() => Err(too_large()),
        Err(error) => Err(ApiError::new(
            400,
            Blame::Client,
            "invalid_body",
            format!("reading the request body failed: {error}"),
        )),
    }
}

/// The client API whose error shape a response uses.
#[derive(Debug, Clone, Copy)]
enum Api {
    OpenAi,
    ElevenLabs,
}

fn error_response(api: Api, error: &ApiError) -> Response<Body> {
    let (status, body) = match api {
        Api::OpenAi => (error.status, openai::error_body(error)),
        Api::ElevenLabs => elevenlabs::error_body(error),
    };
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = json_response(status, body);
    if let Some(seconds) = error.retry_after {
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

/// A bodiless response, for the rare failure to build a proper one.
fn plain_error(status: StatusCode) -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::new()).map_err(|never| match never {}).boxed_unsync());
    *response.status_mut() = status;
    response
}

fn json_response(status: StatusCode, value: serde_json::Value) -> Response<Body> {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(value.to_string())).map_err(|never| match never {}).boxed_unsync())
        .expect("a JSON response with static headers is valid")
}

/// Marks a response whose body logs its own completion.
#[derive(Clone, Copy)]
struct Streaming;

/// A request id: `req_` and 16 random hex digits.
fn new_request_id() -> String {
    format!("req_{:016x}", rand::random::<u64>())
}
