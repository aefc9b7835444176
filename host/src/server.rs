//! The HTTP server: routes, request bodies under a size cap, and audio responses streamed to
//! the client as they arrive from the provider.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body::Frame;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use serde_json::json;
use tokio::net::TcpListener;
use tracing::Instrument;

use crate::api::openai::{self, ErrorResponse, StreamFormat};
use crate::audio::content_type;
use crate::config::ServerConfig;
use crate::gateway::Gateway;
use crate::synthesis::{AudioBody, AudioStream, Synthesized};

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type Body = UnsyncBoxBody<Bytes, BoxError>;

/// Binds the listener, prints `listening on http://ADDR` on stdout (tests and scripts read
/// it to learn a port chosen by the system), and serves until SIGINT or SIGTERM.
pub async fn serve(gateway: Arc<Gateway>, config: &ServerConfig) -> anyhow::Result<()> {
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|error| anyhow::anyhow!("cannot listen on {} (server.listen): {error}", config.listen))?;
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

    tracing::info!("shutting down: waiting for requests in flight");
    graceful.shutdown().await;
    tracing::info!("gateway stopped");
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
        provider = tracing::field::Empty,
        model = tracing::field::Empty,
    );
    let started = Instant::now();
    async move {
        let mut response = route(&gateway, request, max_request_bytes, &request_id, started).await;
        if let Ok(value) = HeaderValue::from_str(&request_id) {
            response.headers_mut().insert("x-request-id", value);
        }
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
    match (request.method(), path.as_str()) {
        (&Method::POST, "/v1/audio/speech") => {
            speech(gateway, request, max_request_bytes, request_id, started).await
        }
        (&Method::GET, "/v1/providers") => json_response(StatusCode::OK, providers_json(gateway)),
        (&Method::GET, "/healthz") => {
            let set = gateway.plugins();
            json_response(StatusCode::OK, json!({ "status": "ok", "providers": set.plugins.len() }))
        }
        (_, "/v1/audio/speech" | "/v1/providers" | "/healthz") => openai_error(openai::error_response(
            405,
            "invalid_request_error",
            "method_not_allowed",
            None,
            &format!("method {} is not allowed on {path}", request.method()),
        )),
        _ => openai_error(openai::error_response(
            404,
            "invalid_request_error",
            "not_found",
            None,
            &format!("no route for {} {}", request.method(), crate::gateway::quote(&path)),
        )),
    }
}

async fn speech(
    gateway: &Gateway,
    request: Request<Incoming>,
    max_request_bytes: usize,
    request_id: &str,
    started: Instant,
) -> Response<Body> {
    let body = match read_body(request, max_request_bytes).await {
        Ok(body) => body,
        Err(response) => return openai_error(response),
    };
    let speech = match openai::parse_speech_request(&body) {
        Ok(speech) => speech,
        Err(invalid) => {
            tracing::info!(code = invalid.code, error = %invalid.message, "invalid request");
            return openai_error(openai::speak_error_response(&invalid.into()));
        }
    };

    match gateway.speak(speech.request).await {
        Ok(synthesized) => {
            let span = tracing::Span::current();
            span.record("provider", synthesized.provider.as_str());
            span.record("model", synthesized.model.as_str());
            audio_response(synthesized, speech.stream_format, request_id, started)
        }
        Err(error) => {
            tracing::warn!(error = %error, "speech request failed");
            openai_error(openai::speak_error_response(&error))
        }
    }
}

/// Reads a request body, rejecting one over the cap before reading it where the client
/// declared its length.
async fn read_body(request: Request<Incoming>, max_bytes: usize) -> Result<Bytes, ErrorResponse> {
    let too_large = || {
        openai::error_response(
            413,
            "invalid_request_error",
            "request_too_large",
            None,
            &format!("request body is larger than {max_bytes} bytes (server.max_request_bytes)"),
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
        Err(error) => Err(openai::error_response(
            400,
            "invalid_request_error",
            "invalid_body",
            None,
            &format!("reading the request body failed: {error}"),
        )),
    }
}

/// Chunk size for server-sent events made from a complete clip.
const SSE_CHUNK_BYTES: usize = 16 * 1024;

fn audio_response(
    synthesized: Synthesized,
    stream_format: StreamFormat,
    request_id: &str,
    started: Instant,
) -> Response<Body> {
    let Synthesized { provider, model, format, body, billed_characters } = synthesized;
    let response_type = match stream_format {
        StreamFormat::Audio => content_type(format.container),
        StreamFormat::Sse => "text/event-stream",
    };
    let mut builder = Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, response_type)
        .header("x-voxgate-provider", provider.as_str())
        .header("x-voxgate-model", model.as_str());
    if let Some(characters) = billed_characters {
        builder = builder.header("x-voxgate-billed-characters", characters);
    }
    let response = match body {
        AudioBody::Complete(bytes) => {
            tracing::info!(bytes = bytes.len(), "audio complete");
            let bytes = match stream_format {
                StreamFormat::Audio => bytes,
                StreamFormat::Sse => {
                    let mut events = bytes::BytesMut::new();
                    for chunk in bytes.chunks(SSE_CHUNK_BYTES) {
                        events.extend_from_slice(&openai::sse_delta(chunk));
                    }
                    events.extend_from_slice(&openai::sse_done());
                    events.freeze()
                }
            };
            builder.body(Full::new(bytes).map_err(|never| match never {}).boxed_unsync())
        }
        AudioBody::Stream(stream) => {
            let body = LoggedStream {
                stream,
                stream_format,
                bytes: 0,
                started,
                request_id: request_id.to_string(),
                span: tracing::Span::current(),
                done: false,
            };
            builder.extension(Streaming).body(UnsyncBoxBody::new(body))
        }
    };
    response.unwrap_or_else(|error| {
        tracing::error!(%error, "building the audio response failed");
        openai_error(openai::error_response(500, "server_error", "internal_error", None, "internal error"))
    })
}

/// Marks a response whose body logs its own completion.
#[derive(Clone, Copy)]
struct Streaming;

/// Streams provider audio to the client and logs how the stream ended. An upstream failure
/// mid-stream becomes a body error, so hyper aborts the response (no final chunk on
/// HTTP/1.1, a reset on HTTP/2) and the client sees a broken transfer, never a truncated
/// clip that looks complete.
struct LoggedStream {
    stream: AudioStream,
    stream_format: StreamFormat,
    /// Audio bytes sent, before any event framing.
    bytes: u64,
    started: Instant,
    request_id: String,
    span: tracing::Span,
    done: bool,
}

impl http_body::Body for LoggedStream {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        match this.stream.poll_chunk(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Some(Ok(chunk))) => {
                this.bytes += chunk.len() as u64;
                let data = match this.stream_format {
                    StreamFormat::Audio => chunk,
                    StreamFormat::Sse => openai::sse_delta(&chunk),
                };
                Poll::Ready(Some(Ok(Frame::data(data))))
            }
            Poll::Ready(Some(Err(error))) => {
                this.done = true;
                this.span.in_scope(|| {
                    tracing::warn!(
                        id = %this.request_id,
                        bytes = this.bytes,
                        error = %error,
                        "audio stream failed after the response started; aborting it"
                    )
                });
                Poll::Ready(Some(Err(Box::new(error))))
            }
            Poll::Ready(None) => {
                if this.done {
                    return Poll::Ready(None);
                }
                this.done = true;
                this.span.in_scope(|| {
                    tracing::info!(
                        status = 200,
                        bytes = this.bytes,
                        duration_ms = this.started.elapsed().as_millis() as u64,
                        "request finished"
                    )
                });
                match this.stream_format {
                    StreamFormat::Audio => Poll::Ready(None),
                    StreamFormat::Sse => Poll::Ready(Some(Ok(Frame::data(openai::sse_done())))),
                }
            }
        }
    }
}

impl Drop for LoggedStream {
    fn drop(&mut self) {
        if !self.done {
            self.span.in_scope(|| {
                tracing::info!(bytes = self.bytes, "client went away before the audio ended")
            });
        }
    }
}

fn providers_json(gateway: &Gateway) -> serde_json::Value {
    let set = gateway.plugins();
    let providers: Vec<serde_json::Value> = set
        .plugins
        .values()
        .map(|plugin| {
            let info = &plugin.info;
            let models: Vec<serde_json::Value> = info
                .models
                .iter()
                .map(|model| {
                    json!({
                        "id": model.id,
                        "name": model.name,
                        "languages": model.languages,
                        "price_per_million_characters": model.price_per_million_characters,
                        "max_characters": model.max_characters,
                        "formats": model.formats.iter().map(|f| crate::audio::container_name(*f)).collect::<Vec<_>>(),
                        "streaming": model.streaming,
                        "instructions": model.instructions,
                    })
                })
                .collect();
            let voices: Vec<serde_json::Value> = info
                .voices
                .iter()
                .map(|voice| json!({ "id": voice.id, "name": voice.name, "languages": voice.languages, "models": voice.models }))
                .collect();
            let missing: Vec<&str> = plugin.secrets.missing().map(|(name, _)| name).collect();
            json!({
                "id": info.id,
                "name": info.name,
                "version": info.version,
                "digest": plugin.digest,
                "default_model": info.default_model,
                "default_voice": info.default_voice,
                "configured": missing.is_empty(),
                "missing_secrets": missing,
                "models": models,
                "voices": voices,
            })
        })
        .collect();
    let rejected: Vec<serde_json::Value> = set
        .rejected
        .iter()
        .map(|rejection| {
            json!({
                "file": rejection.file.file_name().map(|name| name.to_string_lossy().into_owned()),
                "reason": rejection.reason,
            })
        })
        .collect();
    json!({ "providers": providers, "rejected": rejected })
}

fn json_response(status: StatusCode, value: serde_json::Value) -> Response<Body> {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(value.to_string())).map_err(|never| match never {}).boxed_unsync())
        .expect("a JSON response with static headers is valid")
}

fn openai_error(error: ErrorResponse) -> Response<Body> {
    let status = StatusCode::from_u16(error.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = json_response(status, error.body);
    if let Some(seconds) = error.retry_after {
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

/// A request id: `req_` and 16 random hex digits.
fn new_request_id() -> String {
    format!("req_{:016x}", rand::random::<u64>())
}
