//! Reading the response of `/with-timestamps` into audio with character timing.
//!
//! The response is `AudioWithTimestampsResponseModel` in ElevenLabs' OpenAPI spec:
//! `{"audio_base64": string, "alignment": {...} | null, "normalized_alignment": {...} | null}`,
//! where an alignment is `{"characters": [string], "character_start_times_seconds": [number],
//! "character_end_times_seconds": [number]}`. `alignment` follows the text as sent and
//! `normalized_alignment` the text after ElevenLabs expanded numbers and abbreviations, so
//! `alignment` is preferred because the caller knows that text.

use voxgate_plugin_sdk::serde_json::{self, Value};
use voxgate_plugin_sdk::{
    Alignment, Audio, HttpResponse, ProviderError, body_excerpt, response_header,
};

use crate::base64;
use crate::output_format::OutputFormat;
use crate::speech::BILLED_CHARACTERS_HEADER;

/// The maximum start or end time of a character, in seconds. ElevenLabs' longest request
/// (40,000 characters) is about 40 minutes of speech, so a day leaves room and keeps
/// milliseconds within `u32`.
const MAX_SECONDS: f64 = 86_400.0;

/// Turns a successful `/with-timestamps` response into finished audio.
///
/// # Errors
///
/// `invalid-response` when the body is not the documented JSON, the audio is not base64 or
/// is empty, or the alignment's lists differ in length or contain times that are not
/// non-negative numbers.
pub fn audio_from_response(
    response: &HttpResponse,
    output: &OutputFormat,
) -> Result<Audio, ProviderError> {
    let value: Value = serde_json::from_slice(&response.body).map_err(|error| {
        invalid(format!(
            "the timestamps response is not JSON ({error}); it starts with \"{}\"",
            body_excerpt(&response.body)
        ))
    })?;

    let Some(audio_base64) = value.get("audio_base64").and_then(Value::as_str) else {
        return Err(invalid(
            "the timestamps response has no `audio_base64` string".to_string(),
        ));
    };
    let data = base64::decode(audio_base64)
        .map_err(|error| invalid(format!("`audio_base64` cannot be decoded: {error}")))?;
    if data.is_empty() {
        return Err(invalid("`audio_base64` contains no audio".to_string()));
    }

    let alignment = match ["alignment", "normalized_alignment"]
        .iter()
        .find_map(|key| {
            value
                .get(*key)
                .filter(|value| !value.is_null())
                .map(|v| (*key, v))
        }) {
        Some((key, alignment)) => Some(read_alignment(key, alignment)?),
        None => None,
    };

    Ok(Audio {
        format: output.format,
        data,
        alignment,
        billed_characters: billed_characters(response),
    })
}

/// Reads the `character-cost` header, when it is a whole number.
pub fn billed_characters(response: &HttpResponse) -> Option<u32> {
    response_header(&response.headers, BILLED_CHARACTERS_HEADER)
        .and_then(|value| value.trim().parse().ok())
}

/// Converts one alignment object to milliseconds.
fn read_alignment(key: &str, value: &Value) -> Result<Alignment, ProviderError> {
    let list = |field: &str| {
        value
            .get(field)
            .and_then(Value::as_array)
            .ok_or_else(|| invalid(format!("`{key}.{field}` is not a list")))
    };
    let characters = list("characters")?;
    let starts = list("character_start_times_seconds")?;
    let ends = list("character_end_times_seconds")?;

    if starts.len() != characters.len() || ends.len() != characters.len() {
        return Err(invalid(format!(
            "`{key}` has {} characters but {} start and {} end times",
            characters.len(),
            starts.len(),
            ends.len()
        )));
    }

    let characters = characters
        .iter()
        .map(|character| {
            character
                .as_str()
                .map(str::to_string)
                .ok_or_else(|| invalid(format!("`{key}.characters` contains a non-string")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let start_ms = to_milliseconds(key, "character_start_times_seconds", starts)?;
    let end_ms = to_milliseconds(key, "character_end_times_seconds", ends)?;

    Ok(Alignment {
        characters,
        start_ms,
        end_ms,
    })
}

fn to_milliseconds(key: &str, field: &str, seconds: &[Value]) -> Result<Vec<u32>, ProviderError> {
    seconds
        .iter()
        .map(|value| match value.as_f64() {
            Some(seconds) if (0.0..=MAX_SECONDS).contains(&seconds) => {
                // Within range, so the rounded value fits `u32` (86,400,000 at most).
                Ok((seconds * 1000.0).round() as u32)
            }
            _ => Err(invalid(format!(
                "`{key}.{field}` contains {value}, not a time from 0 to 86400 seconds"
            ))),
        })
        .collect()
}

fn invalid(message: String) -> ProviderError {
    ProviderError::InvalidResponse(format!("ElevenLabs: {message}"))
}

#[cfg(test)]
mod tests {
    use voxgate_plugin_sdk::serde_json::json;
    use voxgate_plugin_sdk::{AudioContainer, AudioFormat};

    use super::*;

    fn output() -> OutputFormat {
        OutputFormat {
            name: "mp3_44100_128".to_string(),
            format: AudioFormat {
                container: AudioContainer::Mp3,
                sample_rate: Some(44_100),
                bitrate: Some(128_000),
            },
        }
    }

    fn response(body: &Value, headers: &[(&str, &str)]) -> HttpResponse {
        HttpResponse {
            status: 200,
            headers: headers
                .iter()
                .map(|(name, value)| (name.to_string(), value.to_string()))
                .collect(),
            body: body.to_string().into_bytes(),
        }
    }

    fn alignment(characters: &[&str], starts: &[f64], ends: &[f64]) -> Value {
        json!({
            "characters": characters,
            "character_start_times_seconds": starts,
            "character_end_times_seconds": ends,
        })
    }

    #[test]
    fn audio_and_alignment_are_read() {
        let body = json!({
            "audio_base64": "//79",
            "alignment": alignment(&["H", "i", "!"], &[0.0, 0.1234, 0.25], &[0.1234, 0.25, 0.3996]),
            "normalized_alignment": alignment(&["x"], &[0.0], &[1.0]),
        });

        let audio =
            audio_from_response(&response(&body, &[("character-cost", "3")]), &output()).unwrap();

        assert_eq!(audio.data, vec![0xff, 0xfe, 0xfd]);
        assert_eq!(audio.format, output().format);
        assert_eq!(audio.billed_characters, Some(3));
        assert_eq!(
            audio.alignment,
            Some(Alignment {
                characters: vec!["H".to_string(), "i".to_string(), "!".to_string()],
                start_ms: vec![0, 123, 250],
                end_ms: vec![123, 250, 400],
            })
        );
    }

    #[test]
    fn normalized_alignment_is_the_fallback() {
        let body = json!({
            "audio_base64": "AAAA",
            "alignment": null,
            "normalized_alignment": alignment(&["a"], &[0.5], &[0.75]),
        });

        let audio = audio_from_response(&response(&body, &[]), &output()).unwrap();

        assert_eq!(audio.alignment.map(|a| a.start_ms), Some(vec![500]));
        assert_eq!(audio.billed_characters, None);
    }

    #[test]
    fn alignment_may_be_absent() {
        let body = json!({"audio_base64": "AAAA"});

        let audio = audio_from_response(&response(&body, &[]), &output()).unwrap();

        assert_eq!(audio.alignment, None);
    }

    #[test]
    fn malformed_response_is_invalid() {
        // (body, a fragment the message must contain)
        let cases = [
            (json!([1, 2]), "no `audio_base64`"),
            (json!({"audio_base64": 7}), "no `audio_base64`"),
            (json!({"audio_base64": "@@@@"}), "cannot be decoded"),
            (json!({"audio_base64": ""}), "contains no audio"),
            (
                json!({"audio_base64": "AAAA", "alignment": {"characters": ["a"]}}),
                "`alignment.character_start_times_seconds` is not a list",
            ),
            (
                json!({"audio_base64": "AAAA", "alignment": alignment(&["a", "b"], &[0.0], &[0.1])}),
                "2 characters but 1 start and 1 end times",
            ),
            (
                json!({"audio_base64": "AAAA", "alignment": alignment(&["a"], &[-1.0], &[0.1])}),
                "contains -1.0",
            ),
            (
                json!({"audio_base64": "AAAA", "alignment": {
                    "characters": [1],
                    "character_start_times_seconds": [0.0],
                    "character_end_times_seconds": [0.1],
                }}),
                "contains a non-string",
            ),
        ];

        for (body, fragment) in cases {
            let error = audio_from_response(&response(&body, &[]), &output()).unwrap_err();

            let ProviderError::InvalidResponse(message) = error else {
                panic!("{body}: expected invalid-response, got {error:?}");
            };
            assert!(message.contains(fragment), "{body}: {message}");
        }
    }

    #[test]
    fn non_json_body_is_quoted_briefly() {
        let mut response = response(&json!({}), &[]);
        response.body = format!("<html>{}</html>", "x".repeat(5000)).into_bytes();

        let error = audio_from_response(&response, &output()).unwrap_err();

        let ProviderError::InvalidResponse(message) = error else {
            panic!("expected invalid-response, got {error:?}");
        };
        assert!(message.contains("<html>xxx"), "{message}");
        assert!(message.len() < 400, "{message}");
    }

    #[test]
    fn billed_characters_need_a_number() {
        for (value, expected) in [
            ("42", Some(42)),
            (" 7 ", Some(7)),
            ("n/a", None),
            ("-1", None),
        ] {
            let response = response(&json!({}), &[("Character-Cost", value)]);

            assert_eq!(billed_characters(&response), expected, "{value}");
        }
    }
}
