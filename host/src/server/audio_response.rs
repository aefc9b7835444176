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
use crate::synthesis::{AudioBody, AudioStream, Synthesized};

/// How audio bytes are wrapped on the way to the client.
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

/// Builds the response for a successful synthesis.
pub fn audio_response(synthesized: Synthesized, framing: Framing, request_id: &str, started: Instant) -> Response<Body> {
    let Synthesized { provider, model, format, body, billed_characters, alignment, attempts } = synthesized;
    let mut builder = Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, framing.content_type(content_type(format.container)));
    builder = with_outcome_headers(builder, &provider, &model, attempts);
    if let Some(characters) = billed_characters {
        builder = builder.header("x-voxgate-billed-characters", characters);
    }

    let response = match body {
        AudioBody::Complete(bytes) => {
            tracing::info!(bytes = bytes.len(), "audio complete");
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
                Poll::Ready(Some(Ok(Frame::data(this.framing.frame(chunk)))))
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
                Poll::Ready(this.framing.trailer().map(|trailer| Ok(Frame::data(trailer))))
            }
        }
    }
}

impl Drop for LoggedStream {
    fn drop(&mut self) {
        if !self.done {
            self.span.in_scope(|| tracing::info!(bytes = self.bytes, "client went away before the audio ended"));
        }
    }
}
