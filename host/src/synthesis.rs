//! Driving one synthesis through a plugin: the step loop of the sans-IO contract.
//!
//! The plugin returns steps, and the host carries them out. A `fetch` is sent and its whole
//! response goes back to the plugin. A `stream` is sent and, when the response is audio, its
//! body goes to the caller as it arrives, without passing through WebAssembly. An `audio` step
//! ends the synthesis with finished audio.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http_body::Body as _;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use tokio::sync::OwnedSemaphorePermit;
use tokio::time::Instant;

use crate::audio::{SIGNATURE_LEN, check_signature, container_name, may_be_audio};
use crate::plugin::wit::{Alignment, AudioContainer, AudioFormat, HttpRequest, HttpResponse, ProviderError, Step, SynthesisRequest};
use crate::plugin::{LoadedPlugin, PluginFault, PluginInstance};
use crate::secrets::scrub;
use crate::upstream::{UpstreamClient, UpstreamError, describe_error};
use crate::delivery::Delivery;
use crate::engine::PluginEngine;
use crate::metrics::Metrics;

/// The longest pause a `fetch-after` step gets, whatever the plugin requests.
const MAX_FETCH_DELAY: Duration = Duration::from_secs(10);

/// A reason a synthesis through one provider failed.
#[derive(Debug, thiserror::Error)]
pub enum SynthesisError {
    /// The provider returned an error, classified by the plugin.
    #[error("provider {provider} returned an error: {}", describe_provider_error(error))]
    Provider { provider: String, error: ProviderError },
    /// The plugin itself failed: a trap, its time budget, its memory limit.
    #[error("plugin {provider} {fault}")]
    Plugin { provider: String, fault: PluginFault },
    /// The plugin asked for something the host does not permit.
    #[error("plugin {provider} made a request the host refused: {reason}")]
    Policy { provider: String, reason: String },
    /// The operator has not configured what the provider needs, such as its API key.
    #[error("provider {provider} is not configured: {reason}")]
    NotConfigured { provider: String, reason: String },
    /// The exchange with the provider failed below HTTP semantics.
    #[error("provider {provider}: {error}")]
    Upstream { provider: String, error: UpstreamError },
    /// The provider or plugin produced audio that is not what was promised.
    #[error("provider {provider} returned invalid audio: {reason}")]
    InvalidAudio { provider: String, reason: String },
}

/// The error's kind and message on one line, such as `rate limited (retry after 2000 ms): slow down`.
pub fn describe_provider_error(error: &ProviderError) -> String {
    match error {
        ProviderError::InvalidRequest(message) => format!("invalid request: {message}"),
        ProviderError::Unauthorized(message) => format!("unauthorized: {message}"),
        ProviderError::QuotaExceeded(message) => format!("quota exceeded: {message}"),
        ProviderError::RateLimited(limit) => match limit.retry_after_ms {
            Some(ms) => format!("rate limited (retry after {ms} ms): {}", limit.message),
            None => format!("rate limited: {}", limit.message),
        },
        ProviderError::Unavailable(message) => format!("unavailable: {message}"),
        ProviderError::Unsupported(message) => format!("unsupported: {message}"),
        ProviderError::InvalidResponse(message) => format!("invalid response: {message}"),
        ProviderError::Misconfigured(error) => {
            format!("misconfigured: setting `{}`: {}", error.name, error.message)
        }
    }
}

/// Audio on its way to the caller.
pub enum AudioBody {
    /// The whole clip.
    Complete(Bytes),
    /// A provider's response, streamed as it arrives.
    Stream(AudioStream),
}

/// A successful synthesis.
pub struct Synthesized {
    pub provider: String,
    pub model: String,
    pub format: AudioFormat,
    pub body: AudioBody,
    pub billed_characters: Option<u32>,
    /// Character timing, when the request asked for it and the provider returned it.
    pub alignment: Option<Alignment>,
    /// Upstream attempts the request took, across retries and fallbacks.
    pub attempts: u32,
    /// How to account for the response once it is sent; set by the gateway.
    pub delivery: Option<Delivery>,
}

/// The permits a synthesis keeps while it runs.
pub struct Permits {
    /// Engine and plugin instance slots, released once the plugin is no longer needed.
    pub instance: Vec<OwnedSemaphorePermit>,
    /// The provider's concurrency slot, held until the upstream answer has been read in full,
    /// streamed audio included.
    pub upstream: Option<OwnedSemaphorePermit>,
}

/// Runs `request` through `plugin` to the first byte of audio.
pub async fn synthesize(
    engine: &PluginEngine,
    upstream: &UpstreamClient,
    plugin: Arc<LoadedPlugin>,
    request: SynthesisRequest,
    permits: Permits,
    metrics: &Metrics,
) -> Result<Synthesized, SynthesisError> {
    let Permits { instance: slot, upstream: upstream_permit } = permits;
    let provider = plugin.id().to_string();
    let model = request.model.clone();
    let requested = request.format;
    let deadline = Instant::now() + upstream.config().total_timeout();

    let missing: Vec<String> = plugin
        .missing_required_secrets()
        .map(|(name, why)| format!("secret `{name}`: {why}"))
        .collect();
    if !missing.is_empty() {
        return Err(SynthesisError::NotConfigured { provider, reason: missing.join("; ") });
    }

    let plugin_fault = |fault| SynthesisError::Plugin { provider: provider.clone(), fault };
    let started = std::time::Instant::now();
    let mut instance = PluginInstance::new_async(engine, &plugin.limits, &plugin.pre).await.map_err(plugin_fault)?;
    metrics.plugin_instantiation.get_or_create(&crate::metrics::provider(&provider)).observe(started.elapsed().as_secs_f64());
    let first = instance.synthesize_async(&request, &plugin.settings, true).await.map_err(plugin_fault)?;

    let mut step = first.map_err(|error| provider_error(&plugin, error))?;
    for _ in 0..engine.limits.max_steps {
        let response = match step {
            Step::Audio(audio) => {
                check_audio_format(&provider, requested, &audio.format)?;
                if let Err(reason) = check_signature(audio.format.container, &audio.data) {
                    return Err(SynthesisError::InvalidAudio { provider, reason });
                }
                drop(slot);
                return Ok(Synthesized {
                    provider,
                    model,
                    format: audio.format,
                    body: AudioBody::Complete(Bytes::from(audio.data)),
                    billed_characters: audio.billed_characters,
                    alignment: audio.alignment,
                    attempts: 1,
                    delivery: None,
                });
            }
            Step::FetchAfter(delayed) => {
                let pause = Duration::from_millis(u64::from(delayed.delay_ms)).min(MAX_FETCH_DELAY);
                tokio::time::sleep_until((Instant::now() + pause).min(deadline)).await;
                fetch_whole(upstream, &plugin, &delayed.request, deadline).await?
            }
            Step::Fetch(request) => fetch_whole(upstream, &plugin, &request, deadline).await?,
            Step::Stream(stream) => {
                check_audio_format(&provider, requested, &stream.format)?;
                let prepared = prepare(upstream, &plugin, &stream.request)?;
                let host = prepared.host.clone();
                let answer = upstream.send(prepared, deadline).await.map_err(upstream_error(&provider))?;
                let content_type = answer
                    .headers()
                    .get(http::header::CONTENT_TYPE)
                    .and_then(|value| value.to_str().ok());
                if answer.status().is_success() && may_be_audio(content_type) {
                    let billed_characters = stream
                        .billed_characters_header
                        .as_deref()
                        .and_then(|name| answer.headers().get(name))
                        .and_then(|value| value.to_str().ok())
                        .and_then(|value| value.trim().parse().ok());
                    drop(instance);
                    drop(slot);
                    let mut audio = AudioStream::start(upstream, host, answer.into_body(), deadline, &provider, stream.format)
                        .await?;
                    audio._upstream_permit = upstream_permit;
                    return Ok(Synthesized {
                        provider,
                        model,
                        format: stream.format,
                        body: AudioBody::Stream(audio),
                        billed_characters,
                        alignment: None,
                        attempts: 1,
                        delivery: None,
                    });
                }
                upstream
                    .read_response(&host, answer, deadline)
                    .await
                    .map_err(upstream_error(&provider))?
            }
        };

        let next = instance.resume_async(&response, true).await.map_err(plugin_fault)?;
        step = next.map_err(|error| provider_error(&plugin, error))?;
    }

    Err(SynthesisError::Plugin {
        provider,
        fault: PluginFault {
            reason: format!(
                "did not finish within {} steps (engine.max_steps)",
                engine.limits.max_steps
            ),
        },
    })
}

fn prepare(
    upstream: &UpstreamClient,
    plugin: &LoadedPlugin,
    request: &HttpRequest,
) -> Result<crate::upstream::PreparedRequest, SynthesisError> {
    let provider = plugin.id().to_string();
    upstream.prepare(plugin, request).map_err(|error| match error {
        UpstreamError::Secret(error) => {
            SynthesisError::NotConfigured { provider, reason: error.to_string() }
        }
        other => SynthesisError::Policy { provider, reason: other.to_string() },
    })
}

/// Sends a request and reads its whole answer for the plugin.
async fn fetch_whole(
    upstream: &UpstreamClient,
    plugin: &LoadedPlugin,
    request: &HttpRequest,
    deadline: Instant,
) -> Result<HttpResponse, SynthesisError> {
    let provider = plugin.id();
    let prepared = prepare(upstream, plugin, request)?;
    let host = prepared.host.clone();
    let answer = upstream.send(prepared, deadline).await.map_err(upstream_error(provider))?;
    upstream.read_response(&host, answer, deadline).await.map_err(upstream_error(provider))
}

fn upstream_error(provider: &str) -> impl Fn(UpstreamError) -> SynthesisError + '_ {
    move |error| SynthesisError::Upstream { provider: provider.to_string(), error }
}

/// Wraps a plugin's provider error, scrubbing any secret a provider echoed into its message.
fn provider_error(plugin: &LoadedPlugin, error: ProviderError) -> SynthesisError {
    // A plugin's message reaches logs and clients, so it is scrubbed of secrets and bounded.
    let scrub_text = |text: String| bounded(scrub(&text, plugin.secrets.values()));
    let error = match error {
        ProviderError::InvalidRequest(m) => ProviderError::InvalidRequest(scrub_text(m)),
        ProviderError::Unauthorized(m) => ProviderError::Unauthorized(scrub_text(m)),
        ProviderError::QuotaExceeded(m) => ProviderError::QuotaExceeded(scrub_text(m)),
        ProviderError::RateLimited(mut limit) => {
            limit.message = scrub_text(limit.message);
            ProviderError::RateLimited(limit)
        }
        ProviderError::Unavailable(m) => ProviderError::Unavailable(scrub_text(m)),
        ProviderError::Unsupported(m) => ProviderError::Unsupported(scrub_text(m)),
        ProviderError::InvalidResponse(m) => ProviderError::InvalidResponse(scrub_text(m)),
        ProviderError::Misconfigured(mut error) => {
            error.message = scrub_text(error.message);
            ProviderError::Misconfigured(error)
        }
    };
    SynthesisError::Provider { provider: plugin.id().to_string(), error }
}

/// The maximum length of a plugin error message passed on, in characters. Provider messages are a
/// sentence or two; a longer one is a plugin echoing a whole body.
const MAX_ERROR_MESSAGE_CHARS: usize = 1_000;

fn bounded(text: String) -> String {
    crate::text::excerpt(&text, MAX_ERROR_MESSAGE_CHARS)
}

/// A plugin must produce the container the caller asked for: the host does not transcode.
/// For headerless containers the sample rate must match too, since nothing in the bytes
/// would tell a player the rate.
fn check_audio_format(
    provider: &str,
    requested: AudioFormat,
    produced: &AudioFormat,
) -> Result<(), SynthesisError> {
    let invalid = |reason: String| SynthesisError::InvalidAudio { provider: provider.to_string(), reason };
    if requested.container != produced.container {
        return Err(invalid(format!(
            "{} was requested but the plugin produced {}",
            container_name(requested.container),
            container_name(produced.container)
        )));
    }
    let headerless = matches!(
        requested.container,
        AudioContainer::Pcm | AudioContainer::Ulaw | AudioContainer::Alaw
    );
    if let (true, Some(wanted), Some(got)) = (headerless, requested.sample_rate, produced.sample_rate)
        && wanted != got
    {
        return Err(invalid(format!(
            "{} at {wanted} Hz was requested but the plugin produced {got} Hz",
            container_name(requested.container)
        )));
    }
    Ok(())
}

/// A reason a stream of audio stopped before its end.
#[derive(Debug, thiserror::Error)]
#[error("audio stream from {host} failed: {reason}")]
pub struct StreamError {
    pub host: String,
    pub reason: String,
}

/// A provider's audio answer, read as it arrives, with idle and total deadlines.
///
/// The first bytes are read before the caller is answered, so that an upstream that fails
/// before sending any audio still gets a proper error status, and so that the container's
/// signature can be checked.
pub struct AudioStream {
    head: Option<Bytes>,
    body: Incoming,
    host: String,
    deadline: Instant,
    idle_timeout: std::time::Duration,
    idle: Pin<Box<tokio::time::Sleep>>,
    finished: bool,
    /// The provider's concurrency slot, released when the stream is dropped.
    _upstream_permit: Option<OwnedSemaphorePermit>,
}

impl AudioStream {
    async fn start(
        upstream: &UpstreamClient,
        host: String,
        mut body: Incoming,
        deadline: Instant,
        provider: &str,
        format: AudioFormat,
    ) -> Result<Self, SynthesisError> {
        let idle_timeout = upstream.config().idle_timeout();
        // The first frame usually contains the whole signature and is kept as it is.
        // Smaller frames are joined until the signature is complete.
        let mut head = Bytes::new();
        let mut finished = false;
        while head.len() < SIGNATURE_LEN {
            let limit = deadline.min(Instant::now() + idle_timeout);
            match tokio::time::timeout_at(limit, body.frame()).await {
                Err(_) => {
                    return Err(SynthesisError::Upstream {
                        provider: provider.to_string(),
                        error: UpstreamError::Timeout {
                            host,
                            phase: "send audio",
                            limit_ms: idle_timeout.as_millis(),
                        },
                    });
                }
                Ok(None) => {
                    finished = true;
                    break;
                }
                Ok(Some(Err(error))) => {
                    return Err(SynthesisError::Upstream {
                        provider: provider.to_string(),
                        error: UpstreamError::Body { host, reason: describe_error(&error) },
                    });
                }
                Ok(Some(Ok(frame))) => {
                    if let Ok(data) = frame.into_data() {
                        head = if head.is_empty() {
                            data
                        } else {
                            let mut joined = BytesMut::with_capacity(head.len() + data.len());
                            joined.extend_from_slice(&head);
                            joined.extend_from_slice(&data);
                            joined.freeze()
                        };
                    }
                }
            }
        }
        if head.is_empty() {
            return Err(SynthesisError::InvalidAudio {
                provider: provider.to_string(),
                reason: "the provider answered with an empty body".to_string(),
            });
        }
        if let Err(reason) = check_signature(format.container, &head) {
            return Err(SynthesisError::InvalidAudio { provider: provider.to_string(), reason });
        }
        Ok(Self {
            head: Some(head),
            body,
            host,
            deadline,
            idle_timeout,
            idle: Box::pin(tokio::time::sleep_until((Instant::now() + idle_timeout).min(deadline))),
            finished,
            _upstream_permit: None,
        })
    }

    /// Reads the whole stream into memory, for callers that need the complete clip.
    pub async fn collect(mut self) -> Result<Bytes, StreamError> {
        let mut buffer = BytesMut::new();
        while let Some(chunk) = std::future::poll_fn(|cx| self.poll_chunk(cx)).await {
            buffer.extend_from_slice(&chunk?);
        }
        Ok(buffer.freeze())
    }

    /// Polls for the next chunk of audio; `None` at the clean end of the stream.
    pub fn poll_chunk(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, StreamError>>> {
        if let Some(head) = self.head.take() {
            return Poll::Ready(Some(Ok(head)));
        }
        if self.finished {
            return Poll::Ready(None);
        }
        if Instant::now() >= self.deadline {
            self.finished = true;
            return Poll::Ready(Some(Err(self.error("the total time limit (upstream.total_timeout_ms) ran out"))));
        }
        loop {
            match Pin::new(&mut self.body).poll_frame(cx) {
                Poll::Ready(None) => {
                    self.finished = true;
                    return Poll::Ready(None);
                }
                Poll::Ready(Some(Err(error))) => {
                    self.finished = true;
                    let reason = describe_error(&error);
                    return Poll::Ready(Some(Err(self.error(&reason))));
                }
                Poll::Ready(Some(Ok(frame))) => {
                    let Ok(data) = frame.into_data() else { continue };
                    let next_idle = (Instant::now() + self.idle_timeout).min(self.deadline);
                    self.idle.as_mut().reset(next_idle);
                    return Poll::Ready(Some(Ok(data)));
                }
                Poll::Pending => break,
            }
        }
        if self.idle.as_mut().poll(cx).is_ready() {
            self.finished = true;
            let reason = if Instant::now() >= self.deadline {
                "the total time limit (upstream.total_timeout_ms) ran out".to_string()
            } else {
                format!("no data for {} ms (upstream.idle_timeout_ms)", self.idle_timeout.as_millis())
            };
            return Poll::Ready(Some(Err(self.error(&reason))));
        }
        Poll::Pending
    }

    fn error(&self, reason: &str) -> StreamError {
        StreamError { host: self.host.clone(), reason: reason.to_string() }
    }
}
