//! One synthesis through fal, as a state machine over the host's steps.
//!
//! Sync mode: `POST {base-url}/{app}` returns the app's output, then the audio file is
//! fetched. Queue mode: `POST {queue-url}/{app}` returns a job. Its `status_url` is polled
//! with `fetch-after` steps, and returns 202 while `IN_QUEUE` or `IN_PROGRESS` and 200 once
//! `COMPLETED`. Then its `response_url` returns the output, and the audio file is fetched.
//! A job still pending after `max-polls` polls gets a `PUT` to its `cancel_url`, and the
//! synthesis fails as `unavailable`.
//!
//! Requests to the sync and queue hosts carry the API key as `Authorization: Key <key>`. The
//! audio file request carries no key, because the file is on a media host.

use voxgate_plugin_sdk::{
    AudioFormat, DelayedRequest, HttpRequest, HttpResponse, Method, ProviderError, RequestHeader,
    SecretRef, Setting, Step, SynthesisRequest, header, json_body, secret_header,
};

use crate::catalog::{self, API_KEY, App};
use crate::config::{Config, Mode};
use crate::error_response::{self, Phase};
use crate::input;
use crate::responses::{self, Job, JobStatus};
use crate::sniff::{Sniffed, sniff};
use crate::urls::CheckedUrl;

/// The progress of a synthesis, which decides how the next `resume` reads its response.
#[derive(Debug, Clone, PartialEq)]
enum Stage {
    /// The sync request was sent.
    Running,
    /// The queue submit was sent.
    Submitted,
    /// Status poll number `polls` of the job was sent.
    Polling { job: Job, polls: u32 },
    /// The job completed and its result was requested. `error` is fal's text when the
    /// completed status reported a failure without an `error_type`.
    FetchingResult { job: Job, error: Option<String> },
    /// The job did not finish within `polls` polls and its cancel was sent.
    Cancelling { job: Job, polls: u32 },
    /// The audio file was requested from the media host `host`.
    FetchingAudio { host: String },
    /// The synthesis returned audio or an error.
    Finished,
}

/// One synthesis in progress.
#[derive(Debug)]
pub struct Synthesis {
    app: &'static App,
    config: Config,
    stage: Stage,
}

impl Synthesis {
    /// Checks `request` and returns the synthesis with its first step.
    ///
    /// # Errors
    ///
    /// Settings that `describe` would reject are `misconfigured`; a model, voice or format
    /// the app does not offer is `unsupported`; wrong input is `invalid-request`.
    pub fn start(
        request: &SynthesisRequest,
        settings: &[Setting],
    ) -> Result<(Self, Step), ProviderError> {
        let config = Config::from_settings(settings).map_err(ProviderError::Misconfigured)?;
        let app = catalog::app(&request.model).ok_or_else(|| {
            ProviderError::Unsupported(format!(
                "the fal plugin offers no app `{}`",
                voxgate_plugin_sdk::sanitize(&request.model, 100)
            ))
        })?;
        let body = json_body(&input::app_input(app, request)?);

        // The path is the catalog's endpoint id, never text from the request.
        let (stage, origin) = match config.mode {
            Mode::Sync => (Stage::Running, &config.base_url),
            Mode::Queue => (Stage::Submitted, &config.queue_url),
        };
        let step = Step::Fetch(HttpRequest {
            method: Method::Post,
            url: origin.join(&format!("/{}", app.id)),
            headers: vec![
                secret_header("authorization", fal_key()),
                header("content-type", "application/json"),
                header("accept", "application/json"),
            ],
            body,
        });

        Ok((Synthesis { app, config, stage }, step))
    }

    /// Continues with the response to the last step.
    ///
    /// # Errors
    ///
    /// fal's errors as [`error_response::classify`] maps them, `invalid-response` for responses
    /// the plugin cannot use (an audio file off the media hosts, audio in another container),
    /// and `unavailable` for a job that failed or did not finish in time.
    pub fn resume(&mut self, response: HttpResponse) -> Result<Step, ProviderError> {
        let stage = std::mem::replace(&mut self.stage, Stage::Finished);

        let (next, step) = match stage {
            Stage::Running => self.on_output(&response, Phase::Submit, None)?,
            Stage::Submitted => self.on_submit(&response)?,
            Stage::Polling { job, polls } => self.on_status(&response, job, polls)?,
            Stage::FetchingResult { error, .. } => self.on_output(&response, Phase::Job, error)?,
            Stage::Cancelling { job, polls } => return Err(self.timed_out(&job, polls, &response)),
            Stage::FetchingAudio { host } => (Stage::Finished, self.on_audio(response, &host)?),
            Stage::Finished => {
                return Err(ProviderError::Unavailable(
                    "the fal plugin was resumed after its synthesis finished".to_string(),
                ));
            }
        };

        self.stage = next;
        Ok(step)
    }

    fn on_submit(&self, response: &HttpResponse) -> Result<(Stage, Step), ProviderError> {
        if !is_success(response) {
            return Err(error_response::classify(
                response,
                Phase::Submit,
                self.app.id,
            ));
        }

        // The URLs come from the response and are never rebuilt, because fal drops the app's
        // sub-path from them (`fal-ai/kokoro/requests/...`).
        let origin = format!(
            "{}://{}",
            self.config.queue_url.scheme(),
            self.config.queue_url.host()
        );
        let job = responses::parse_job(&response.body, &origin)?;
        Ok(self.poll(job, 1))
    }

    fn on_status(
        &self,
        response: &HttpResponse,
        job: Job,
        polls: u32,
    ) -> Result<(Stage, Step), ProviderError> {
        // fal's JS client retries status polls on 429, 500, 502, 503 and 504, so these count
        // as one more poll rather than a failed job.
        let transient = matches!(response.status, 429 | 500 | 502 | 503 | 504);
        if !is_success(response) && !transient {
            return Err(error_response::classify(response, Phase::Job, self.app.id));
        }

        let status = if transient {
            JobStatus::Pending
        } else {
            responses::parse_status(&response.body)?
        };
        match status {
            JobStatus::Pending if polls >= self.config.max_polls => Ok(self.cancel(job, polls)),
            JobStatus::Pending => Ok(self.poll(job, polls + 1)),
            JobStatus::Completed {
                error_type: Some(code),
                error,
            } => Err(ProviderError::Unavailable(format!(
                "fal's job {} for {} failed ({code}): {}",
                job.request_id,
                self.app.id,
                error.as_deref().unwrap_or("no error text")
            ))),
            JobStatus::Completed { error, .. } => Ok(self.fetch_result(job, error)),
            JobStatus::Other(state) => Err(ProviderError::Unavailable(format!(
                "fal's job {} for {} ended as {state}",
                job.request_id, self.app.id
            ))),
        }
    }

    /// Reads the app's output, from the sync response or the job's result, and requests the
    /// audio file it names.
    fn on_output(
        &self,
        response: &HttpResponse,
        phase: Phase,
        job_error: Option<String>,
    ) -> Result<(Stage, Step), ProviderError> {
        if !is_success(response) {
            return Err(error_response::classify(response, phase, self.app.id));
        }

        let url = match responses::audio_url(self.app.family, &response.body) {
            Ok(url) => url,
            Err(_) if job_error.is_some() => {
                return Err(ProviderError::Unavailable(format!(
                    "fal's job for {} completed with an error: {}",
                    self.app.id,
                    job_error.unwrap_or_default()
                )));
            }
            Err(error) => return Err(error),
        };
        self.fetch_audio(&url)
    }

    /// Checks the audio file's bytes and returns them. The body is moved, not copied, because
    /// a long clip can be a large share of the instance's memory limit.
    fn on_audio(&self, response: HttpResponse, host: &str) -> Result<Step, ProviderError> {
        let status = response.status;
        if !is_success(&response) {
            let message = format!(
                "fal's media host {host} returned HTTP {status} for the audio file of {}",
                self.app.id
            );
            return Err(match status {
                429 | 500..=599 => ProviderError::Unavailable(message),
                _ => ProviderError::InvalidResponse(message),
            });
        }

        let sniffed = sniff(&response.body);
        let Sniffed::Audio {
            container,
            sample_rate,
        } = sniffed
        else {
            return Err(self.unexpected_audio(sniffed));
        };
        if container != self.app.format {
            return Err(self.unexpected_audio(sniffed));
        }

        Ok(Step::Audio(voxgate_plugin_sdk::Audio {
            format: AudioFormat {
                container,
                sample_rate,
                bitrate: None,
            },
            data: response.body,
            alignment: None,
            billed_characters: None,
        }))
    }

    fn unexpected_audio(&self, sniffed: Sniffed) -> ProviderError {
        ProviderError::InvalidResponse(format!(
            "fal's {} app returned a file with {} where {} audio was expected",
            self.app.id,
            sniffed.describe(),
            self.app.format.name()
        ))
    }

    fn poll(&self, job: Job, polls: u32) -> (Stage, Step) {
        let step = Step::FetchAfter(DelayedRequest {
            delay_ms: self.config.poll_interval_ms,
            request: job_request(Method::Get, &job.status_url),
        });
        (Stage::Polling { job, polls }, step)
    }

    fn fetch_result(&self, job: Job, error: Option<String>) -> (Stage, Step) {
        let step = Step::Fetch(job_request(Method::Get, &job.response_url));
        (Stage::FetchingResult { job, error }, step)
    }

    fn cancel(&self, job: Job, polls: u32) -> (Stage, Step) {
        let step = Step::Fetch(job_request(Method::Put, &job.cancel_url));
        (Stage::Cancelling { job, polls }, step)
    }

    /// Checks the audio URL against the media hosts and requests the file without a key.
    fn fetch_audio(&self, url: &str) -> Result<(Stage, Step), ProviderError> {
        let url = CheckedUrl::parse(url).map_err(|reason| {
            ProviderError::InvalidResponse(format!(
                "fal's {} app returned an invalid audio file URL: {reason}",
                self.app.id
            ))
        })?;
        if !self
            .config
            .media_hosts
            .iter()
            .any(|pattern| pattern.matches(&url))
        {
            let allowed: Vec<String> = self
                .config
                .media_hosts
                .iter()
                .map(ToString::to_string)
                .collect();
            return Err(ProviderError::InvalidResponse(format!(
                "fal's {} app returned an audio file on {}, which is not a media host ({}); \
                 add it to the `media-hosts` setting if fal serves files from it",
                self.app.id,
                url.host,
                allowed.join(", ")
            )));
        }

        let step = Step::Fetch(HttpRequest {
            method: Method::Get,
            url: url.url,
            headers: vec![header("accept", "*/*")],
            body: Vec::new(),
        });
        Ok((Stage::FetchingAudio { host: url.host }, step))
    }

    fn timed_out(&self, job: &Job, polls: u32, cancel: &HttpResponse) -> ProviderError {
        let waited_ms = u64::from(polls) * u64::from(self.config.poll_interval_ms);
        ProviderError::Unavailable(format!(
            "fal's job {} for {} timed out: it had not finished after {polls} status polls \
             (about {waited_ms} ms), so the plugin asked fal to cancel it (HTTP {})",
            job.request_id, self.app.id, cancel.status
        ))
    }
}

/// Builds a request to one of the job's queue URLs, with the API key.
fn job_request(method: Method, url: &str) -> HttpRequest {
    let mut headers: Vec<RequestHeader> = vec![secret_header("authorization", fal_key())];
    if method == Method::Get {
        headers.push(header("accept", "application/json"));
    }

    HttpRequest {
        method,
        url: url.to_string(),
        headers,
        body: Vec::new(),
    }
}

/// fal's credential header value, `Key <api-key>` (fal's JS client, `request.ts`).
fn fal_key() -> SecretRef {
    SecretRef {
        name: API_KEY.to_string(),
        prefix: "Key ".to_string(),
        suffix: String::new(),
    }
}

fn is_success(response: &HttpResponse) -> bool {
    (200..300).contains(&response.status)
}
