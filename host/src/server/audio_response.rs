//! Audio responses: the clip or the provider's stream, framed as the called API expects
//! (raw bytes, OpenAI's server-sent events, or ElevenLabs' newline-delimited JSON), with the
//! end of a stream logged when it happens.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use http::{Response, StatusCode, header};
use http_body::Frame;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full};

use super::{Body, BoxError, Streaming};
use crate::api::{elevenlabs, openai};
use crate::audio::content_type;
use std::sync::Arc;

use crate::delivery::{CacheStatus, Delivery, DeliverySink};
use crate::synthesis::{AudioBody, AudioStream, Synthesized};

/// The wrapping of audio bytes on the way to the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// The audio bytes as they are.
    Raw,
    /// OpenAI's `speech.audio.delta` events, then `speech.audio.done`.
    OpenAiEvents,
    /// ElevenLabs' `/stream/with-timestamps`: one JSON object per line.
    ElevenLabsLines,
}

impl Framing {
    fn content_type(self, audio_type: &'static str) -> &'static str {
        match self {
            Framing::Raw => audio_type,
            Framing::OpenAiEvents => "text/event-stream",
            Framing::ElevenLabsLines => "application/x-ndjson",
        }
    }

    fn frame(self, chunk: Bytes) -> Bytes {
        match self {
            Framing::Raw => chunk,
            Framing::OpenAiEvents => openai::sse_delta(&chunk),
            Framing::ElevenLabsLines => elevenlabs::timestamps_line(&chunk, None),
        }
    }

    /// What follows the last chunk, if anything.
    fn trailer(self) -> Option<Bytes> {
        match self {
            Framing::OpenAiEvents => Some(openai::sse_done()),
            Framing::Raw | Framing::ElevenLabsLines => None,
        }
    }
}

/// Chunk size for framed events made from a complete clip.
const EVENT_CHUNK_BYTES: usize = 16 * 1024;

/// The maximum audio a stream keeps a copy of for the cache and for usage. A longer stream is
/// still sent in full, but neither cached nor timed.
const MAX_TEE_BYTES: usize = 64 * 1024 * 1024;

/// Builds the response for a successful synthesis. `sink` accounts for it once the audio has
/// been sent, or has failed to be.
pub fn audio_response(
    synthesized: Synthesized,
    framing: Framing,
    request_id: &str,
    started: Instant,
    sink: &Arc<DeliverySink>,
) -> Response<Body> {
    let Synthesized { provider, model, format, body, billed_characters, alignment, attempts, delivery } = synthesized;
    let cache_status = delivery.as_ref().map_or(CacheStatus::Bypass, |delivery| delivery.cache_status);
    let mut builder = Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, framing.content_type(content_type(format.container)))
        .header("x-cache", cache_status.name());
    builder = with_outcome_headers(builder, &provider, &model, attempts);
    sink.metrics
        .time_to_first_byte
        .get_or_create(&crate::metrics::provider(&provider))
        .observe(started.elapsed().as_secs_f64());
    if let Some(characters) = billed_characters {
        builder = builder.header("x-voxgate-billed-characters", characters);
    }

    let response = match body {
        AudioBody::Complete(bytes) => {
            tracing::debug!(bytes = bytes.len(), "audio complete");
            if let Some(delivery) = delivery {
                sink.finish(delivery, Some(bytes.clone()));
            }
            let bytes = match framing {
                Framing::Raw => bytes,
                // A complete clip with its alignment is one line, as ElevenLabs sends it.
                Framing::ElevenLabsLines => elevenlabs::timestamps_line(&bytes, alignment.as_ref()),
                Framing::OpenAiEvents => {
                    let mut events = BytesMut::new();
                    for chunk in bytes.chunks(EVENT_CHUNK_BYTES) {
                        events.extend_from_slice(&framing.frame(Bytes::copy_from_slice(chunk)));
                    }
                    if let Some(trailer) = framing.trailer() {
                        events.extend_from_slice(&trailer);
                    }
                    events.freeze()
                }
            };
            builder.body(Full::new(bytes).map_err(|never| match never {}).boxed_unsync())
        }
        AudioBody::Stream(stream) => {
            let body = LoggedStream {
                stream,
                framing,
                bytes: 0,
                started,
                request_id: request_id.to_string(),
                span: tracing::Span::current(),
                done: false,
                tee: Some(Tee::default()),
                delivery: delivery.map(|delivery| (sink.clone(), delivery)),
            };
            builder.extension(Streaming).body(UnsyncBoxBody::new(body))
        }
    };
    response.unwrap_or_else(|error| {
        tracing::error!(%error, "building the audio response failed");
        super::plain_error(StatusCode::INTERNAL_SERVER_ERROR)
    })
}

/// Adds the headers that tell the client what served it: `x-tts-provider` (also sent as
/// `x-voxgate-provider`), `x-voxgate-model` and `x-voxgate-attempts`.
pub fn with_outcome_headers(builder: http::response::Builder, provider: &str, model: &str, attempts: u32) -> http::response::Builder {
    builder
        .header("x-tts-provider", provider)
        .header("x-voxgate-provider", provider)
        .header("x-voxgate-model", model)
        .header("x-voxgate-attempts", attempts)
}

/// Streams provider audio to the client and logs how the stream ended. An upstream failure
/// mid-stream becomes a body error, so hyper aborts the response (no final chunk on
/// HTTP/1.1, a reset on HTTP/2) and the client sees a broken transfer, never a truncated
/// clip that looks complete.
struct LoggedStream {
    stream: AudioStream,
    framing: Framing,
    /// Audio bytes sent, before any framing.
    bytes: u64,
    started: Instant,
    request_id: String,
    span: tracing::Span,
    done: bool,
    /// The audio's chunks for the cache and usage, dropped past `MAX_TEE_BYTES`.
    tee: Option<Tee>,
    delivery: Option<(Arc<DeliverySink>, Delivery)>,
}

/// The chunks of a stream, kept by reference (a `Bytes` clone shares the buffer), and
/// joined once when the stream has ended.
#[derive(Default)]
struct Tee {
    chunks: Vec<Bytes>,
    bytes: usize,
}

impl Tee {
    fn keep(&mut self, chunk: Bytes) {
        self.bytes += chunk.len();
        self.chunks.push(chunk);
    }

    fn into_clip(mut self) -> Bytes {
        if self.chunks.len() == 1 {
            return self.chunks.pop().unwrap_or_default();
        }
        let mut clip = BytesMut::with_capacity(self.bytes);
        for chunk in &self.chunks {
            clip.extend_from_slice(chunk);
        }
        clip.freeze()
    }
}

impl LoggedStream {
    /// Accounts for the response: with the whole audio when it ended cleanly.
    fn finish(&mut self, completed: bool) {
        let Some((sink, mut delivery)) = self.delivery.take() else {
            return;
        };
        let audio = match (completed, self.tee.take()) {
            (true, Some(tee)) => Some(tee.into_clip()),
            (true, None) => {
                // Too long to keep: count it, but neither cache nor time it.
                delivery.cache_key = None;
                Some(Bytes::new())
            }
            (false, _) => None,
        };
        sink.finish(delivery, audio);
    }
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
                if let Some(tee) = &mut this.tee {
                    if tee.bytes + chunk.len() > MAX_TEE_BYTES {
                        this.tee = None;
                    } else {
                        tee.keep(chunk.clone());
                    }
                }
                Poll::Ready(Some(Ok(Frame::data(this.framing.frame(chunk)))))
            }
            Poll::Ready(Some(Err(error))) => {
                this.done = true;
                this.finish(false);
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
                this.finish(true);
                this.span.in_scope(|| {
                    tracing::info!(
                        status = 200,
                        bytes = this.bytes,
                        duration_ms = this.started.elapsed().as_millis() as u64,
                        "request finished"
                    )
                });
                Poll::Ready(this.framing.trailer().map(|trailer| Ok(Frame::data(trailer))))
            }
        }
    }
}

impl Drop for LoggedStream {
    fn drop(&mut self) {
        self.finish(false);
        if !self.done {
            self.span.in_scope(|| tracing::info!(bytes = self.bytes, "client went away before the audio ended"));
        }
    }
}
