//! The benchmark upstream: OpenAI's `POST /v1/audio/speech` reduced to what a gateway
//! benchmark needs. It checks `Authorization: Bearer KEY`, reads the request body, and responds
//! with the same MP3-framed clip every time, either whole with a `content-length`, or chunked
//! with a pause between chunks, as a provider streams audio while it synthesizes.
//!
//! `GET /bench/stats` returns the counters as JSON, so the driver can check that requests
//! reached the upstream (a pass-through run) or did not (a cache-hit run).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use anyhow::Context as _;
use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body::{Body, Frame};
use http_body_util::{BodyExt, Either, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::time::Sleep;

use crate::mp3;

#[derive(clap::Args)]
pub struct Options {
    /// Address to listen on; port 0 lets the system choose. Loopback only.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// The key that requests must send as `Authorization: Bearer KEY`.
    #[arg(long)]
    api_key: String,
    /// Length of the clip in bytes.
    #[arg(long, default_value_t = 51_200)]
    body_bytes: usize,
    /// Chunks the clip is sent in; 1 sends it whole with a `content-length`, more send it
    /// with chunked transfer encoding.
    #[arg(long, default_value_t = 1)]
    chunks: usize,
    /// Pause before each chunk after the first, in milliseconds.
    #[arg(long, default_value_t = 0)]
    chunk_delay_ms: u64,
    /// Tokio worker threads.
    #[arg(long, default_value_t = 2)]
    pub threads: usize,
    /// Seconds after which the server exits by itself, in case its driver never stops it.
    #[arg(long, default_value = "1800", value_parser = crate::seconds)]
    max_lifetime: Duration,
}

/// State shared by every connection: the response and the counters.
struct Upstream {
    authorization: String,
    clip: Bytes,
    chunks: Arc<[Bytes]>,
    chunk_delay: Duration,
    speech_requests: AtomicU64,
    unauthorized: AtomicU64,
    request_bytes: AtomicU64,
}

type ResponseBody = Either<Full<Bytes>, PacedBody>;

/// Serves until `max_lifetime` passes or the process is killed.
pub async fn serve(options: Options) -> anyhow::Result<()> {
    crate::require_loopback(options.listen)?;
    let clip = mp3::clip(options.body_bytes);
    let upstream = Arc::new(Upstream {
        authorization: format!("Bearer {}", options.api_key),
        chunks: mp3::chunks(&clip, options.chunks).into(),
        clip,
        chunk_delay: Duration::from_millis(options.chunk_delay_ms),
        speech_requests: AtomicU64::new(0),
        unauthorized: AtomicU64::new(0),
        request_bytes: AtomicU64::new(0),
    });

    let listener = TcpListener::bind(options.listen)
        .await
        .with_context(|| format!("cannot listen on {}", options.listen))?;
    // The driver reads this line to learn the port.
    println!("listening on http://{}", listener.local_addr()?);

    let lifetime = tokio::time::sleep(options.max_lifetime);
    tokio::pin!(lifetime);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    eprintln!("accepting a connection failed: {error}");
                    continue;
                }
            },
            () = &mut lifetime => {
                eprintln!("exiting after --max-lifetime {} s", options.max_lifetime.as_secs());
                return Ok(());
            }
        };
        let _ = stream.set_nodelay(true);
        let upstream = upstream.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let upstream = upstream.clone();
                async move { Ok::<_, Infallible>(upstream.handle(request).await) }
            });
            // A client that goes away mid-response is normal under load; nothing to report.
            let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
        });
    }
}

impl Upstream {
    async fn handle(&self, request: Request<Incoming>) -> Response<ResponseBody> {
        match (request.method(), request.uri().path()) {
            (&Method::POST, "/v1/audio/speech") => self.speech(request).await,
            (&Method::GET, "/bench/stats") => self.stats(),
            _ => error(StatusCode::NOT_FOUND, "not_found", "voxgate-bench serves POST /v1/audio/speech and GET /bench/stats"),
        }
    }

    async fn speech(&self, request: Request<Incoming>) -> Response<ResponseBody> {
        let authorized = request
            .headers()
            .get(header::AUTHORIZATION)
            .is_some_and(|value| value.as_bytes() == self.authorization.as_bytes());

        // Read the whole request, as a provider does, before responding.
        let body = match request.into_body().collect().await {
            Ok(body) => body.to_bytes(),
            Err(_) => return error(StatusCode::BAD_REQUEST, "invalid_request_error", "the request body could not be read"),
        };
        self.request_bytes.fetch_add(body.len() as u64, Ordering::Relaxed);

        if !authorized {
            self.unauthorized.fetch_add(1, Ordering::Relaxed);
            return error(StatusCode::UNAUTHORIZED, "invalid_api_key", "missing or incorrect API key in Authorization: Bearer");
        }
        self.speech_requests.fetch_add(1, Ordering::Relaxed);

        let response = Response::builder().status(StatusCode::OK).header(header::CONTENT_TYPE, "audio/mpeg");
        let body = if self.chunks.len() == 1 {
            Either::Left(Full::new(self.clip.clone()))
        } else {
            Either::Right(PacedBody::new(self.chunks.clone(), self.chunk_delay))
        };
        response.body(body).expect("a static status and header make a valid response")
    }

    fn stats(&self) -> Response<ResponseBody> {
        let stats = serde_json::json!({
            "speech_requests": self.speech_requests.load(Ordering::Relaxed),
            "unauthorized": self.unauthorized.load(Ordering::Relaxed),
            "request_bytes": self.request_bytes.load(Ordering::Relaxed),
        });
        json_response(StatusCode::OK, &stats)
    }
}

/// Builds an error response in OpenAI's shape, `{"error": {"message", "type", "code"}}`.
fn error(status: StatusCode, code: &str, message: &str) -> Response<ResponseBody> {
    let body = serde_json::json!({
        "error": { "message": message, "type": "invalid_request_error", "param": null, "code": code }
    });
    json_response(status, &body)
}

fn json_response(status: StatusCode, value: &serde_json::Value) -> Response<ResponseBody> {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Either::Left(Full::new(Bytes::from(value.to_string()))))
        .expect("a static status and header make a valid response")
}

/// A body that yields its chunks with a pause before each one after the first. It reports
/// no length, so hyper sends it with chunked transfer encoding.
pub struct PacedBody {
    chunks: Arc<[Bytes]>,
    next: usize,
    delay: Duration,
    pause: Option<Pin<Box<Sleep>>>,
}

impl PacedBody {
    fn new(chunks: Arc<[Bytes]>, delay: Duration) -> Self {
        Self { chunks, next: 0, delay, pause: None }
    }
}

impl Body for PacedBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let this = &mut *self;
        if this.next == this.chunks.len() {
            return Poll::Ready(None);
        }

        // The pause starts when hyper polls for the next chunk, which is once the previous
        // chunk has been written to the connection.
        if this.next > 0 {
            let delay = this.delay;
            let pause = this.pause.get_or_insert_with(|| Box::pin(tokio::time::sleep(delay)));
            ready!(pause.as_mut().poll(cx));
            this.pause = None;
        }

        let chunk = this.chunks[this.next].clone();
        this.next += 1;
        Poll::Ready(Some(Ok(Frame::data(chunk))))
    }

    fn is_end_stream(&self) -> bool {
        self.next == self.chunks.len()
    }
}
