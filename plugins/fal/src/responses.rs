//! Parsing fal's successful responses: an app's output, a queue submit and a job status.

use voxgate_plugin_sdk::serde_json::{self, Value};
use voxgate_plugin_sdk::{ProviderError, sanitize};

use crate::catalog::Family;
use crate::error_response::describe_body;
use crate::urls::CheckedUrl;

/// A queued job, from the submit response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    /// fal's request id, for messages.
    pub request_id: String,
    /// Polled for the job's status.
    pub status_url: String,
    /// Fetched for the app's output once the job completed.
    pub response_url: String,
    /// Sent a `PUT` when the plugin gives up on the job.
    pub cancel_url: String,
}

/// A job's state, from a status response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobStatus {
    /// Waiting for a runner (`IN_QUEUE`) or running (`IN_PROGRESS`).
    Pending,
    /// Finished (`COMPLETED`). A failed job also completes, with `error` and `error_type`.
    Completed {
        /// fal's error text, when the job failed.
        error: Option<String>,
        /// fal's error code, such as `request_timeout`, when the job failed.
        error_type: Option<String>,
    },
    /// Cancelled by someone else, or a state this plugin does not know.
    Other(String),
}

/// Reads the submit response `{request_id, status_url, response_url, cancel_url, ...}` and
/// checks that the three URLs are on `queue_origin`, since they are sent the API key.
pub fn parse_job(body: &[u8], queue_origin: &str) -> Result<Job, ProviderError> {
    let value = parse_json(body, "the queue's submit response")?;
    let text = |name: &str| {
        value.get(name).and_then(Value::as_str).ok_or_else(|| {
            ProviderError::InvalidResponse(format!(
                "fal's queue returned a submit response without a `{name}` string: {}",
                describe_body(body)
            ))
        })
    };

    let request_id = sanitize(text("request_id")?, 100);
    let mut urls = Vec::new();
    for name in ["status_url", "response_url", "cancel_url"] {
        let url = CheckedUrl::parse(text(name)?).map_err(|reason| {
            ProviderError::InvalidResponse(format!(
                "fal's queue returned an invalid `{name}` for request {request_id}: {reason}"
            ))
        })?;
        if url.origin != queue_origin {
            return Err(ProviderError::InvalidResponse(format!(
                "fal's queue returned a `{name}` on {}, not on the queue origin {queue_origin}; \
                 the plugin sends the API key only to the queue",
                url.origin
            )));
        }
        urls.push(url.url);
    }

    let [status_url, response_url, cancel_url] = <[String; 3]>::try_from(urls).map_err(|_| {
        ProviderError::InvalidResponse("fal's queue URLs are incomplete".to_string())
    })?;
    Ok(Job {
        request_id,
        status_url,
        response_url,
        cancel_url,
    })
}

/// Reads a status response `{"status": "IN_QUEUE" | "IN_PROGRESS" | "COMPLETED", ...}`.
pub fn parse_status(body: &[u8]) -> Result<JobStatus, ProviderError> {
    let value = parse_json(body, "the job's status")?;
    let Some(status) = value.get("status").and_then(Value::as_str) else {
        return Err(ProviderError::InvalidResponse(format!(
            "fal's queue returned a status response without a `status` string: {}",
            describe_body(body)
        )));
    };

    let text = |name: &str| {
        value
            .get(name)
            .and_then(Value::as_str)
            .map(|text| sanitize(text, 300))
            .filter(|text| !text.is_empty())
    };
    Ok(match status {
        "IN_QUEUE" | "IN_PROGRESS" => JobStatus::Pending,
        "COMPLETED" => JobStatus::Completed {
            error: text("error"),
            error_type: text("error_type"),
        },
        other => JobStatus::Other(sanitize(other, 40)),
    })
}

/// Reads the audio file URL from an app's output: `audio.url` for Kokoro and ElevenLabs on
/// fal, `audio_url.url` for F5-TTS, whose `audio_url` is an object despite its name.
pub fn audio_url(family: Family, body: &[u8]) -> Result<String, ProviderError> {
    let value = parse_json(body, "the app's output")?;
    let field = match family {
        Family::F5 => "audio_url",
        Family::Kokoro | Family::ElevenLabs => "audio",
    };

    let url = match value.get(field) {
        Some(Value::Object(file)) => file.get("url").and_then(Value::as_str),
        // NOTE: fal's types give an object for every app here. A bare string is accepted in
        // case an app version ever returns one.
        Some(Value::String(url)) => Some(url.as_str()),
        _ => None,
    };
    url.map(str::to_string).ok_or_else(|| {
        ProviderError::InvalidResponse(format!(
            "fal's output has no `{field}.url` string: {}",
            describe_body(body)
        ))
    })
}

fn parse_json(body: &[u8], what: &str) -> Result<Value, ProviderError> {
    serde_json::from_slice(body).map_err(|_| {
        ProviderError::InvalidResponse(format!("{what} is not JSON: {}", describe_body(body)))
    })
}

#[cfg(test)]
mod tests {
    use voxgate_plugin_sdk::serde_json::json;

    use super::*;

    const QUEUE: &str = "https://queue.fal.run";

    fn submit_body(status_url: &str) -> Vec<u8> {
        json!({
            "request_id": "764cabcf-b745",
            "status_url": status_url,
            "response_url": "https://queue.fal.run/fal-ai/kokoro/requests/764cabcf-b745",
            "cancel_url": "https://queue.fal.run/fal-ai/kokoro/requests/764cabcf-b745/cancel",
            "queue_position": 0,
        })
        .to_string()
        .into_bytes()
    }

    fn invalid_response(result: Result<impl std::fmt::Debug, ProviderError>) -> String {
        match result {
            Err(ProviderError::InvalidResponse(message)) => message,
            other => panic!("expected invalid-response, got {other:?}"),
        }
    }

    #[test]
    fn job_urls_are_taken_as_sent() {
        let status = "https://queue.fal.run/fal-ai/kokoro/requests/764cabcf-b745/status";

        let job = parse_job(&submit_body(status), QUEUE).unwrap();

        assert_eq!(
            job,
            Job {
                request_id: "764cabcf-b745".to_string(),
                status_url: status.to_string(),
                response_url: "https://queue.fal.run/fal-ai/kokoro/requests/764cabcf-b745"
                    .to_string(),
                cancel_url: "https://queue.fal.run/fal-ai/kokoro/requests/764cabcf-b745/cancel"
                    .to_string(),
            }
        );
    }

    #[test]
    fn job_url_off_queue_is_rejected() {
        let cases = [
            "https://v3.fal.media/fal-ai/kokoro/requests/1/status",
            "http://queue.fal.run/fal-ai/kokoro/requests/1/status",
            "https://queue.fal.run:8443/fal-ai/kokoro/requests/1/status",
            "https://queue.fal.run.evil.test/x",
        ];

        for url in cases {
            let message = invalid_response(parse_job(&submit_body(url), QUEUE));

            assert!(
                message.contains("not on the queue origin"),
                "{url}: {message}"
            );
        }
    }

    #[test]
    fn job_with_bad_fields_is_rejected() {
        let cases = [
            (b"not json".to_vec(), "not JSON"),
            (b"{}".to_vec(), "without a `request_id`"),
            (submit_body("relative/status"), "invalid `status_url`"),
            (
                json!({"request_id": 1, "status_url": "x"})
                    .to_string()
                    .into_bytes(),
                "`request_id`",
            ),
        ];

        for (body, fragment) in cases {
            let message = invalid_response(parse_job(&body, QUEUE));

            assert!(message.contains(fragment), "{message}");
        }
    }

    #[test]
    fn status_values_are_read() {
        let cases = [
            (
                json!({"status": "IN_QUEUE", "queue_position": 2}),
                JobStatus::Pending,
            ),
            (
                json!({"status": "IN_PROGRESS", "logs": null}),
                JobStatus::Pending,
            ),
            (
                json!({"status": "COMPLETED", "metrics": {"inference_time": 0.4}}),
                JobStatus::Completed {
                    error: None,
                    error_type: None,
                },
            ),
            (
                json!({"status": "COMPLETED", "error": "Runner died", "error_type": "runner_disconnected"}),
                JobStatus::Completed {
                    error: Some("Runner died".to_string()),
                    error_type: Some("runner_disconnected".to_string()),
                },
            ),
            (
                json!({"status": "CANCELLED"}),
                JobStatus::Other("CANCELLED".to_string()),
            ),
        ];

        for (body, expected) in cases {
            assert_eq!(
                parse_status(body.to_string().as_bytes()).unwrap(),
                expected,
                "{body}"
            );
        }
    }

    #[test]
    fn status_without_status_is_rejected() {
        let message = invalid_response(parse_status(br#"{"state": "done"}"#));

        assert!(message.contains("without a `status` string"), "{message}");
    }

    #[test]
    fn audio_url_per_family() {
        let kokoro =
            json!({"audio": {"url": "https://v3.fal.media/a.wav", "content_type": "audio/wav"}});
        let f5 = json!({"audio_url": {"url": "https://v3.fal.media/b.wav", "file_size": 10}});

        assert_eq!(
            audio_url(Family::Kokoro, kokoro.to_string().as_bytes()).unwrap(),
            "https://v3.fal.media/a.wav"
        );
        assert_eq!(
            audio_url(Family::F5, f5.to_string().as_bytes()).unwrap(),
            "https://v3.fal.media/b.wav"
        );
        assert_eq!(
            audio_url(
                Family::F5,
                br#"{"audio_url": "https://v3.fal.media/c.wav"}"#
            )
            .unwrap(),
            "https://v3.fal.media/c.wav"
        );
    }

    #[test]
    fn audio_url_missing_is_named() {
        let f5_shape = json!({"audio_url": {"url": "https://v3.fal.media/b.wav"}}).to_string();

        let message = invalid_response(audio_url(Family::ElevenLabs, f5_shape.as_bytes()));

        assert!(message.contains("no `audio.url` string"), "{message}");
    }
}
