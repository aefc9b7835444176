//! Driving one synthesis through a plugin with played-back upstream responses.
//!
//! This is the host's step loop (`synthesis.rs`) with the network replaced by the case's
//! responses: the same instance limits, the same step budget, the same refusal of requests
//! to undeclared hosts. Plugin calls run on the current thread. The engine's epoch deadline
//! stops a plugin that loops, so a call never blocks the kit for longer than the call budget.

use sha2::{Digest, Sha256};

use crate::allowed_hosts::AllowedHosts;
use crate::audio::{check_signature, container_name, may_be_audio};
use crate::engine::PluginEngine;
use crate::plugin::wit::{
    Alignment, AudioFormat, HeaderValue, HttpRequest, Method, ProviderError, ProviderInfo, Setting, Step,
    SynthesisRequest,
};
use crate::plugin::{LoadedPlugin, PluginInstance};
pub use crate::text::excerpt;

use super::case::{CaseFile, OutcomeKind};
use super::{playback, policy};

/// The plugin under test, with the limits its instances run under.
pub struct Subject {
    pub engine: PluginEngine,
    pub plugin: LoadedPlugin,
    /// `engine.max_steps` from the configuration.
    pub max_steps: u32,
    /// `upstream.max_response_bytes` from the configuration.
    pub max_response_bytes: usize,
}

/// The kind of a step, as case files name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepKind {
    Fetch,
    FetchAfter,
    Stream,
    Audio,
}

impl StepKind {
    pub fn name(self) -> &'static str {
        match self {
            StepKind::Fetch => "fetch",
            StepKind::FetchAfter => "fetch-after",
            StepKind::Stream => "stream",
            StepKind::Audio => "audio",
        }
    }
}

/// One step the plugin returned.
#[derive(Debug, Clone)]
pub struct TraceStep {
    pub kind: StepKind,
    /// The request, for every kind but `audio`.
    pub request: Option<HttpRequest>,
    /// For `stream` and `audio`.
    pub format: Option<AudioFormat>,
    /// For `fetch-after`.
    pub delay_ms: Option<u32>,
    /// For `audio`: the size and SHA-256 of the data, and the alignment.
    pub audio_bytes: usize,
    pub audio_sha256: String,
    pub alignment: Option<Alignment>,
}

/// The way a run ended.
#[derive(Debug, Clone)]
pub enum Outcome {
    Unanswered,
    Streamed,
    Audio,
    Error(ProviderError),
    /// The host would refuse the last step, for this reason.
    Refused(String),
    /// The plugin trapped, ran out of time or memory, or never finished.
    Fault(String),
    /// The case itself is unusable (for example an invalid base64 body).
    CaseError(String),
}

impl Outcome {
    /// Returns the case-file name of the outcome, or `None` for a fault or a case error, which no
    /// case may expect.
    pub fn kind(&self) -> Option<OutcomeKind> {
        match self {
            Outcome::Unanswered => Some(OutcomeKind::Unanswered),
            Outcome::Streamed => Some(OutcomeKind::Streamed),
            Outcome::Audio => Some(OutcomeKind::Audio),
            Outcome::Error(_) => Some(OutcomeKind::Error),
            Outcome::Refused(_) => Some(OutcomeKind::Refused),
            Outcome::Fault(_) | Outcome::CaseError(_) => None,
        }
    }
}

/// Everything one run produced.
#[derive(Debug, Clone)]
pub struct Run {
    pub steps: Vec<TraceStep>,
    pub outcome: Outcome,
    /// Rules broken along the way that did not stop the run.
    pub violations: Vec<String>,
}

/// Runs `request` through a fresh instance of the plugin and responds to its requests from
/// `case.upstream`. `info` is what `describe` returned for `settings`.
pub fn run(
    subject: &Subject,
    info: &ProviderInfo,
    settings: &[Setting],
    case: &CaseFile,
    request: &SynthesisRequest,
) -> Run {
    let mut run = Run { steps: Vec::new(), outcome: Outcome::Unanswered, violations: Vec::new() };
    let hosts = match AllowedHosts::new(&info.hosts, None) {
        Ok(hosts) => hosts,
        Err(error) => {
            run.outcome = Outcome::Refused(format!("describe's host list is invalid: {error}"));
            return run;
        }
    };

    let plugin = &subject.plugin;
    let mut instance = match PluginInstance::new(&subject.engine, &plugin.limits, &plugin.pre) {
        Ok(instance) => instance,
        Err(fault) => {
            run.outcome = Outcome::Fault(format!("cannot be instantiated: {fault}"));
            return run;
        }
    };
    let mut result = instance.synthesize(request, settings);
    let mut answered = 0;

    for _ in 0..subject.max_steps {
        let step = match result {
            Err(fault) => {
                run.outcome = Outcome::Fault(fault.reason);
                return run;
            }
            Ok(Err(error)) => {
                run.violations.extend(policy::check_error(&error));
                run.outcome = Outcome::Error(error);
                return run;
            }
            Ok(Ok(step)) => step,
        };

        let (kind, http_request, format, delay_ms) = match step {
            Step::Audio(audio) => {
                run.violations.extend(policy::check_audio(&request.format, &audio));
                run.steps.push(TraceStep {
                    kind: StepKind::Audio,
                    request: None,
                    format: Some(audio.format),
                    delay_ms: None,
                    audio_bytes: audio.data.len(),
                    audio_sha256: hex::encode(Sha256::digest(&audio.data)),
                    alignment: audio.alignment,
                });
                run.outcome = Outcome::Audio;
                return run;
            }
            Step::Fetch(http_request) => (StepKind::Fetch, http_request, None, None),
            Step::FetchAfter(delayed) => (StepKind::FetchAfter, delayed.request, None, Some(delayed.delay_ms)),
            Step::Stream(stream) => (StepKind::Stream, stream.request, Some(stream.format), None),
        };

        let check = policy::check_request(info, &hosts, &http_request, &request.text);
        run.violations.extend(check.violations);
        if let Some(format) = &format {
            run.violations.extend(policy::check_format(&request.format, format));
        }
        run.steps.push(TraceStep {
            kind,
            request: Some(http_request),
            format,
            delay_ms,
            audio_bytes: 0,
            audio_sha256: String::new(),
            alignment: None,
        });
        if let Some(reason) = check.refused {
            run.outcome = Outcome::Refused(reason);
            return run;
        }

        let spec = match case.upstream.get(answered) {
            Some(spec) => spec,
            None if case.repeat_last_response && !case.upstream.is_empty() => &case.upstream[case.upstream.len() - 1],
            None => {
                run.outcome = Outcome::Unanswered;
                return run;
            }
        };
        let container = format.map_or(request.format.container, |format| format.container);
        let response = match playback::response(spec, container, subject.max_response_bytes) {
            Ok(response) => response,
            Err(reason) => {
                run.outcome = Outcome::CaseError(format!("upstream[{answered}]: {reason}"));
                return run;
            }
        };
        answered += 1;

        let content_type = response
            .headers
            .iter()
            .find(|(name, _)| name == "content-type")
            .map(|(_, value)| value.as_str());
        let success = (200..300).contains(&response.status);
        if kind == StepKind::Stream && success && may_be_audio(content_type) {
            // The host streams this body to the caller after checking how it starts.
            if let Err(reason) = check_signature(container, &response.body) {
                run.outcome = Outcome::CaseError(format!(
                    "upstream[{}] answers a {} stream with 2xx audio, but {reason}; fix the case's body",
                    answered - 1,
                    container_name(container)
                ));
                return run;
            }
            run.outcome = Outcome::Streamed;
            return run;
        }

        result = instance.resume(&response);
    }

    run.outcome = Outcome::Fault(format!(
        "did not finish within {} steps (engine.max_steps)",
        subject.max_steps
    ));
    run
}

/// A fingerprint of a run's steps and outcome, equal for equal runs.
pub fn fingerprint(run: &Run) -> String {
    let mut text = String::new();
    for step in &run.steps {
        text.push_str(&describe_step(step));
        if let Some(request) = &step.request {
            text.push_str(&hex::encode(Sha256::digest(&request.body)));
        }
        text.push_str(&step.audio_sha256);
        text.push_str(&format!("{:?}\n", step.alignment));
    }
    text.push_str(&describe_outcome(&run.outcome));
    text
}

/// One line for a step, as reports show it. Secret references show the secret's name only.
pub fn describe_step(step: &TraceStep) -> String {
    let mut line = step.kind.name().to_string();
    if let Some(request) = &step.request {
        let method = match request.method {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
        };
        line.push_str(&format!(" {method} {}", excerpt(&request.url, 300)));
        let headers: Vec<String> = request
            .headers
            .iter()
            .map(|header| match &header.value {
                HeaderValue::Text(_) => header.name.clone(),
                HeaderValue::Secret(reference) => format!("{}=<secret {}>", header.name, reference.name),
            })
            .collect();
        line.push_str(&format!(" [{}]", headers.join(", ")));
        if !request.body.is_empty() {
            line.push_str(&format!(
                " body {} bytes: {}",
                request.body.len(),
                excerpt(&String::from_utf8_lossy(&request.body[..request.body.len().min(400)]), 120)
            ));
        }
    }
    if let Some(delay) = step.delay_ms {
        line.push_str(&format!(" after {delay} ms"));
    }
    if let Some(format) = &step.format {
        line.push_str(&format!(" as {}", container_name(format.container)));
        if let Some(rate) = format.sample_rate {
            line.push_str(&format!(" {rate} Hz"));
        }
    }
    if step.kind == StepKind::Audio {
        line.push_str(&format!(" {} bytes", step.audio_bytes));
    }
    line
}

/// One line for an outcome.
pub fn describe_outcome(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Unanswered => "unanswered: the plugin sent a request the case has no response for".to_string(),
        Outcome::Streamed => "streamed: the host would stream the audio answer to the caller".to_string(),
        Outcome::Audio => "audio: the plugin returned finished audio".to_string(),
        Outcome::Error(error) => {
            format!("error {}: {}", error_kind(error), excerpt(&crate::synthesis::describe_provider_error(error), 300))
        }
        Outcome::Refused(reason) => format!("refused: the host would not send the request: {reason}"),
        Outcome::Fault(reason) => format!("plugin fault: the plugin {reason}"),
        Outcome::CaseError(reason) => format!("case error: {reason}"),
    }
}

/// The WIT case name of an error kind.
pub fn error_kind(error: &ProviderError) -> &'static str {
    match error {
        ProviderError::InvalidRequest(_) => "invalid-request",
        ProviderError::Unauthorized(_) => "unauthorized",
        ProviderError::QuotaExceeded(_) => "quota-exceeded",
        ProviderError::RateLimited(_) => "rate-limited",
        ProviderError::Unavailable(_) => "unavailable",
        ProviderError::Unsupported(_) => "unsupported",
        ProviderError::InvalidResponse(_) => "invalid-response",
        ProviderError::Misconfigured(_) => "misconfigured",
    }
}

