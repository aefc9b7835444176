//! The conformance case file: one synthesis request, the upstream responses to play back,
//! and the expected outcome.
//!
//! A case is one TOML (`.toml`) or JSON (`.json`) file with the fields below; every field
//! but `description` and `expect` is optional. `docs/plugins.md` documents the format with
//! examples, and `tests/conformance/generic/` contains the cases that apply to every plugin.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The kind of check a case runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CaseKind {
    /// Calls `synthesize`, plays back the upstream responses through `resume`, and checks
    /// every step and the outcome.
    #[default]
    Synthesis,
    /// Checks what `describe` returns, beyond the loader's checks.
    Describe,
}

/// The values a case is repeated for, one run per value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Each {
    /// Every declared model, in its first declared format.
    Model,
    /// Every declared model in every format it declares.
    ModelFormat,
}

/// One case file, as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseFile {
    /// One line: what the case checks and why it matters.
    pub description: String,
    #[serde(default)]
    pub kind: CaseKind,
    /// Repeats the case for each model, or each model and format.
    pub each: Option<Each>,
    /// Skip the case for a plugin whose first step is `audio`: its upstream responses
    /// cannot be played back to a plugin that sends no request.
    #[serde(default)]
    pub needs_request: bool,
    /// How many times the synthesis runs, each in a fresh instance. With 2 or more, every run
    /// must produce the same steps and outcome.
    #[serde(default = "one")]
    pub runs: u32,
    /// Settings passed to `describe` and `synthesize`, over the operator's settings for the
    /// provider from the configuration file.
    #[serde(default)]
    pub settings: BTreeMap<String, String>,
    #[serde(default)]
    pub request: RequestSpec,
    /// The responses to play back, in order, one per request step.
    #[serde(default)]
    pub upstream: Vec<ResponseSpec>,
    /// Replays the last response for every request past the end of `upstream`, for plugins
    /// that poll. Without it, such a request ends the run as `unanswered`.
    #[serde(default)]
    pub repeat_last_response: bool,
    pub expect: Expect,
}

fn one() -> u32 {
    1
}

/// The synthesis request. Absent fields come from `describe`: the default model, a voice
/// that the model offers, and the model's first format.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestSpec {
    /// The text. Defaults to a short English sentence.
    pub text: Option<String>,
    /// Generates the text instead: `text_pattern` repeated to this many characters.
    pub text_length: Option<TextLength>,
    /// The pattern `text_length` repeats; `a` by default.
    pub text_pattern: Option<String>,
    pub model: Option<String>,
    pub voice: Option<String>,
    /// A container name: mp3, opus, aac, flac, wav, pcm, ulaw or alaw.
    pub format: Option<String>,
    pub sample_rate: Option<u32>,
    pub bitrate: Option<u32>,
    pub speed: Option<f32>,
    pub language: Option<String>,
    pub instructions: Option<String>,
    #[serde(default)]
    pub timestamps: bool,
    /// Provider options, a JSON object as text.
    pub options: Option<String>,
}

/// A generated text's length in characters (Unicode scalar values).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum TextLength {
    Characters(u32),
    /// `max` for the model's `max-characters`, `over-max` for one more.
    Named(String),
}

/// One upstream response to play back.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResponseSpec {
    pub status: u16,
    /// Header names and values. Names are lower-cased as the host does.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// The body as UTF-8 text.
    pub body: Option<String>,
    /// The body as standard base64.
    pub body_base64: Option<String>,
    /// A generated body of this many bytes (`body_fill` repeated), or
    /// `"max-response-bytes"` for the largest body the host passes to a plugin.
    pub body_size: Option<BodySize>,
    /// The text that `body_size` repeats; `x` by default.
    pub body_fill: Option<String>,
    /// A short body that starts like the audio container of the step it responds to, with that
    /// container's content type unless `headers` sets one.
    #[serde(default)]
    pub body_audio: bool,
}

/// The size of a generated body.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum BodySize {
    Bytes(u64),
    /// `max-response-bytes`.
    Named(String),
}

/// One value or a list of accepted values.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany<T> {
    One(T),
    Many(Vec<T>),
}

impl<T: Clone> OneOrMany<T> {
    /// Returns the accepted values as a list.
    pub fn to_vec(&self) -> Vec<T> {
        match self {
            OneOrMany::One(value) => vec![value.clone()],
            OneOrMany::Many(values) => values.clone(),
        }
    }
}

/// The way a synthesis run ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OutcomeKind {
    /// The plugin sent a request that the case has no response for.
    Unanswered,
    /// A `stream` step got a 2xx audio response, which the host streams to the caller.
    Streamed,
    /// The plugin returned an `audio` step.
    Audio,
    /// The plugin returned a provider error.
    Error,
    /// The plugin returned a step that the host refuses to carry out.
    Refused,
}

/// The expected result of a run.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// The accepted outcomes. Defaults to `error` when `error` is set, and otherwise to any
    /// outcome but `refused`.
    pub outcome: Option<OneOrMany<OutcomeKind>>,
    /// The accepted error kinds, such as `rate-limited` (the WIT case names).
    pub error: Option<OneOrMany<String>>,
    /// For `rate-limited`: the delay the plugin must report. `none` is written as `-1`.
    pub retry_after_ms: Option<i64>,
    /// Text the error message must contain.
    pub message_contains: Option<String>,
    /// Texts the error message must not contain, such as part of a key that a provider
    /// echoed.
    #[serde(default)]
    pub message_excludes: Vec<String>,
    /// The steps, in order. With `exact_steps` (the default) the run has no further steps.
    #[serde(default)]
    pub steps: Vec<StepSpec>,
    pub exact_steps: Option<bool>,
    /// The request text must reach the first request unchanged: in its body, raw or as a
    /// JSON string, or in its URL query.
    #[serde(default)]
    pub text_in_request: bool,
}

/// The expected shape of one step. Every field is optional.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepSpec {
    /// Accepted step kinds: `fetch`, `fetch-after`, `stream`, `audio`.
    pub kind: Option<OneOrMany<String>>,
    /// `get`, `post`, `put` or `delete`.
    pub method: Option<String>,
    /// A glob (`*` and `?`) over the URL's host, with `:port` when the URL has one.
    pub host: Option<String>,
    /// A glob over the URL's path.
    pub path: Option<String>,
    /// Query parameters the URL must have, with their exact values.
    #[serde(default)]
    pub query: BTreeMap<String, String>,
    /// Header names that must be present.
    #[serde(default)]
    pub headers: Vec<String>,
    /// Header names whose value must be a secret reference, as `name` or `name=secret`.
    #[serde(default)]
    pub secret_headers: Vec<String>,
    /// Header names that must be absent.
    #[serde(default)]
    pub absent_headers: Vec<String>,
    /// Literal header values that must match exactly.
    #[serde(default)]
    pub header_values: BTreeMap<String, String>,
    /// A JSON value that the body must contain: every key of an object, recursively, with
    /// equal values.
    pub body_json: Option<serde_json::Value>,
    /// Top-level JSON keys the body must not have.
    #[serde(default)]
    pub body_absent_keys: Vec<String>,
    /// For `stream` and `audio`: the container.
    pub format: Option<String>,
    /// For `stream` and `audio`: the sample rate.
    pub sample_rate: Option<u32>,
}

/// A case file that was read, with where it came from.
#[derive(Debug, Clone)]
pub struct LoadedCase {
    /// `source/relative/path` without the extension, such as `generic/http-errors/429`.
    pub name: String,
    /// The folder's label: `generic`, or the folder name.
    pub source: String,
    pub file: PathBuf,
    pub case: CaseFile,
}

/// A case file that could not be read or parsed.
#[derive(Debug, Clone, thiserror::Error)]
#[error("conformance case {file}: {reason}")]
pub struct CaseError {
    pub file: String,
    pub reason: String,
}

/// Reads and parses one case file by its extension.
pub fn read_case(file: &Path) -> Result<CaseFile, CaseError> {
    let error = |reason: String| CaseError { file: file.display().to_string(), reason };
    let text = std::fs::read_to_string(file).map_err(|io| error(format!("cannot be read: {io}")))?;
    let case: CaseFile = match file.extension().and_then(|ext| ext.to_str()) {
        Some("toml") => toml::from_str(&text).map_err(|parse| error(format!("invalid TOML: {parse}")))?,
        Some("json") => {
            serde_json::from_str(&text).map_err(|parse| error(format!("invalid JSON: {parse}")))?
        }
        _ => return Err(error("has neither a .toml nor a .json extension".to_string())),
    };
    if case.runs == 0 {
        return Err(error("runs must be at least 1".to_string()));
    }
    for (index, response) in case.upstream.iter().enumerate() {
        let bodies = [response.body.is_some(), response.body_base64.is_some(), response.body_size.is_some(), response.body_audio]
            .iter()
            .filter(|set| **set)
            .count();
        if bodies > 1 {
            return Err(error(format!(
                "upstream[{index}] sets more than one of body, body_base64, body_size and body_audio"
            )));
        }
    }
    Ok(case)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_case_parses() {
        let text = r#"
            description = "429 with Retry-After"
            needs_request = true
            [[upstream]]
            status = 429
            headers = { retry-after = "7" }
            body = "slow down"
            [expect]
            error = "rate-limited"
            retry_after_ms = 7000
        "#;

        let case: CaseFile = toml::from_str(text).unwrap();

        assert_eq!(case.upstream[0].status, 429);
        assert_eq!(case.expect.retry_after_ms, Some(7000));
        assert_eq!(case.runs, 1);
        assert!(case.needs_request);
    }

    #[test]
    fn unknown_field_is_rejected() {
        let text = "description = \"x\"\nexpekt = 1\n[expect]\n";

        let error = toml::from_str::<CaseFile>(text).unwrap_err();

        assert!(error.to_string().contains("expekt"), "{error}");
    }

    #[test]
    fn json_case_parses() {
        let text = r#"{"description": "x", "request": {"text_length": "max"}, "expect": {"outcome": ["audio", "streamed"]}}"#;

        let case: CaseFile = serde_json::from_str(text).unwrap();

        assert!(matches!(case.request.text_length, Some(TextLength::Named(ref name)) if name == "max"));
        assert_eq!(case.expect.outcome.unwrap().to_vec(), vec![OutcomeKind::Audio, OutcomeKind::Streamed]);
    }
}
