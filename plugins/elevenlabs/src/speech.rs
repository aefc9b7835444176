//! `synthesize`: checks a synthesis request against what ElevenLabs offers and translates it
//! into the request for one of its text-to-speech endpoints.
//!
//! | request | endpoint | step |
//! | --- | --- | --- |
//! | mp3, pcm, ulaw, alaw, opus | `POST /v1/text-to-speech/{voice_id}/stream` | `stream` |
//! | wav | `POST /v1/text-to-speech/{voice_id}` | `stream` of the whole clip |
//! | timestamps | `POST /v1/text-to-speech/{voice_id}/with-timestamps` | `fetch`, then `audio` |
//!
//! ElevenLabs offers `wav_*` only on the endpoints that return the whole clip. The host
//! still relays that response as it arrives, without buffering it or passing it through the
//! plugin, so a `stream` step serves WAV better than a `fetch`.

use voxgate_plugin_sdk::serde_json::{Map, Value};
use voxgate_plugin_sdk::{
    HttpRequest, Method, ProviderError, RequestHeader, Setting, Step, StreamRequest,
    SynthesisRequest, header, json_body, secret, secret_header,
};

use crate::catalog::{self, API_KEY, Model};
use crate::config::Config;
use crate::options;
use crate::output_format::{self, OutputFormat};
use crate::voice_path::encode_voice_id;

/// The response header in which ElevenLabs states the characters it billed, already
/// discounted for Flash and Turbo (request-stitching guide, and real responses quoted in
/// `elevenlabs/elevenlabs-js#407`).
pub const BILLED_CHARACTERS_HEADER: &str = "character-cost";

/// The request that `resume` receives the response to.
#[derive(Debug, Clone, PartialEq)]
pub enum Pending {
    /// A `stream` step. Its response reaches `resume` only when it is an error.
    Stream,
    /// A `fetch` of `/with-timestamps`, whose JSON response becomes audio in this format.
    Timestamps(OutputFormat),
}

/// Starts a synthesis: returns the first step and what `resume` should expect.
pub fn synthesize(
    request: &SynthesisRequest,
    settings: &[Setting],
) -> Result<(Step, Pending), ProviderError> {
    let config = Config::from_settings(settings).map_err(ProviderError::Misconfigured)?;
    let checked = check(request)?;

    let path = endpoint_path(&checked);
    let url = format!(
        "{}/{}{path}?output_format={}",
        config.text_to_speech_url, checked.voice_segment, checked.output.name
    );
    let http_request = HttpRequest {
        method: Method::Post,
        url,
        headers: headers(&checked),
        body: json_body(&body(request, &checked)),
    };

    if request.timestamps {
        let pending = Pending::Timestamps(checked.output.clone());
        return Ok((Step::Fetch(http_request), pending));
    }

    let step = Step::Stream(StreamRequest {
        request: http_request,
        format: checked.output.format,
        billed_characters_header: Some(BILLED_CHARACTERS_HEADER.to_string()),
    });
    Ok((step, Pending::Stream))
}

/// The parts of a request that [`check`] resolved.
struct Checked {
    model: &'static Model,
    output: OutputFormat,
    voice_segment: String,
    fields: Map<String, Value>,
    timestamps: bool,
}

/// Checks `request` against what ElevenLabs accepts.
///
/// What ElevenLabs cannot serve (model, format) is `unsupported` and is checked first, so
/// the host can fall back to another provider. Values wrong for any provider (an empty
/// text, a text over the model's limit, a bad voice id or option) are `invalid-request`.
fn check(request: &SynthesisRequest) -> Result<Checked, ProviderError> {
    let model = catalog::model(&request.model).ok_or_else(|| {
        ProviderError::Unsupported(format!(
            "ElevenLabs offers no text-to-speech model `{}`",
            request.model
        ))
    })?;
    let output = output_format::choose(&request.format)?;
    if request
        .instructions
        .as_deref()
        .is_some_and(|text| !text.is_empty())
    {
        return Err(ProviderError::Unsupported(
            "ElevenLabs' text-to-speech API takes no instructions".to_string(),
        ));
    }

    let fields = options::body_fields(request, model)?;
    check_text(&request.text, model)?;
    let voice_segment = encode_voice_id(&request.voice)?;

    Ok(Checked {
        model,
        output,
        voice_segment,
        fields,
        timestamps: request.timestamps,
    })
}

fn check_text(text: &str, model: &Model) -> Result<(), ProviderError> {
    if text.trim().is_empty() {
        return Err(ProviderError::InvalidRequest(
            "the text is empty".to_string(),
        ));
    }

    // ElevenLabs counts characters, so a multi-byte letter counts once.
    let characters = text.chars().count();
    if characters > model.max_characters as usize {
        return Err(ProviderError::InvalidRequest(format!(
            "the text has {characters} characters; the model `{}` accepts at most {}",
            model.id, model.max_characters
        )));
    }

    Ok(())
}

/// Returns the path after the voice id.
fn endpoint_path(checked: &Checked) -> &'static str {
    if checked.timestamps {
        "/with-timestamps"
    } else if checked.output.streams() {
        "/stream"
    } else {
        ""
    }
}

/// Builds the headers. The API key is a secret reference, which the host fills in.
fn headers(checked: &Checked) -> Vec<RequestHeader> {
    let accept = if checked.timestamps {
        "application/json"
    } else {
        // ElevenLabs' spec lists only `audio/mpeg` for its audio responses, whatever the
        // format, so any type is accepted.
        "*/*"
    };

    vec![
        secret_header("xi-api-key", secret(API_KEY)),
        header("content-type", "application/json"),
        header("accept", accept),
    ]
}

/// Builds the JSON body: `text`, `model_id`, then the optional fields.
fn body(request: &SynthesisRequest, checked: &Checked) -> Value {
    let mut body = checked.fields.clone();
    body.insert("text".to_string(), Value::from(request.text.as_str()));
    // ElevenLabs defaults `model_id` on its side; sending it keeps the model explicit.
    body.insert("model_id".to_string(), Value::from(checked.model.id));

    Value::Object(body)
}
