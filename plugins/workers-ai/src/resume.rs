//! `resume`: turns the response to a run request into audio or an error.
//!
//! MeloTTS responds 200 with `{"result": {"audio": "<base64>"}, "success": true, ...}`.
//! The container is read from the decoded bytes, never assumed: Cloudflare documents MP3,
//! but two independent public reports decoded the bytes as WAV. The host streams Aura's
//! audio, so an Aura response reaches `resume` only when it was not audio.

use voxgate_plugin_sdk::serde_json::{self, Value};
use voxgate_plugin_sdk::{
    Audio, AudioContainer, AudioFormat, HttpResponse, ProviderError, Step, body_excerpt,
    response_header,
};

use crate::base64;
use crate::error_response::classify;
use crate::sniff::detect;
use crate::speech::Pending;

/// Continues the synthesis that `pending` describes with `response`.
pub fn resume(pending: Option<Pending>, response: &HttpResponse) -> Result<Step, ProviderError> {
    let Some(pending) = pending else {
        return Err(ProviderError::InvalidResponse(
            "the host resumed a synthesis that this plugin instance never started".to_string(),
        ));
    };
    if !(200..300).contains(&response.status) {
        return Err(classify(response));
    }

    match pending {
        // A 2xx response that the host did not stream carries no audio (JSON, text or HTML).
        Pending::Aura => Err(classify(response)),
        Pending::MeloTts { requested } => melotts_audio(response, requested),
    }
}

/// Decodes MeloTTS's response and checks that it is the container the caller requested.
fn melotts_audio(
    response: &HttpResponse,
    requested: AudioContainer,
) -> Result<Step, ProviderError> {
    let data = audio_bytes(response)?;
    let Some(found) = detect(&data) else {
        return Err(ProviderError::InvalidResponse(format!(
            "MeloTTS returned {} bytes of audio in no container the plugin recognises \
             (the first bytes are {})",
            data.len(),
            hex_prefix(&data)
        )));
    };
    if found.container != requested {
        // Another provider may produce the requested container, so the host should fall back.
        return Err(ProviderError::Unsupported(format!(
            "MeloTTS returned {} audio, not the {} that was requested",
            found.container.name(),
            requested.name()
        )));
    }

    Ok(Step::Audio(Audio {
        format: AudioFormat {
            container: found.container,
            sample_rate: found.sample_rate,
            bitrate: None,
        },
        data,
        alignment: None,
        billed_characters: None,
    }))
}

/// Returns the audio of a 2xx response: the base64 `result.audio` of a JSON envelope, or the
/// body itself when it is not JSON (the schema also allows binary `audio/mpeg`).
fn audio_bytes(response: &HttpResponse) -> Result<Vec<u8>, ProviderError> {
    let content_type = response_header(&response.headers, "content-type").unwrap_or("");
    let looks_binary = !content_type.contains("json") && !response.body.starts_with(b"{");
    if looks_binary {
        return Ok(response.body.clone());
    }

    let value: Value = serde_json::from_slice(&response.body).map_err(|error| {
        ProviderError::InvalidResponse(format!(
            "MeloTTS returned HTTP {} with JSON that does not parse ({error}): the body starts \
             with \"{}\"",
            response.status,
            body_excerpt(&response.body)
        ))
    })?;
    if value.get("success") == Some(&Value::Bool(false)) {
        return Err(classify(response));
    }

    let encoded = value
        .get("result")
        .and_then(|result| result.get("audio"))
        .or_else(|| value.get("audio"))
        .and_then(Value::as_str)
        .ok_or_else(|| {
            ProviderError::InvalidResponse(format!(
                "MeloTTS returned HTTP {} without `result.audio`: the body starts with \"{}\"",
                response.status,
                body_excerpt(&response.body)
            ))
        })?;

    let data = base64::decode(encoded.as_bytes()).map_err(|error| {
        ProviderError::InvalidResponse(format!("MeloTTS's `result.audio` is not base64: {error}"))
    })?;
    if data.is_empty() {
        return Err(ProviderError::InvalidResponse(
            "MeloTTS returned empty audio".to_string(),
        ));
    }

    Ok(data)
}

fn hex_prefix(data: &[u8]) -> String {
    let hex: Vec<String> = data.iter().take(8).map(|b| format!("{b:02x}")).collect();
    if hex.is_empty() {
        return "none".to_string();
    }
    hex.join(" ")
}

#[cfg(test)]
mod tests {
    use voxgate_plugin_sdk::serde_json::json;

    use super::*;
    use crate::sniff::tests::wav;

    const MELO_WAV: Pending = Pending::MeloTts {
        requested: AudioContainer::Wav,
    };

    fn response(status: u16, content_type: &str, body: Vec<u8>) -> HttpResponse {
        HttpResponse {
            status,
            headers: vec![("content-type".to_string(), content_type.to_string())],
            body,
        }
    }

    fn encode(data: &[u8]) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut text = String::new();
        for chunk in data.chunks(3) {
            let bytes = [
                chunk[0],
                *chunk.get(1).unwrap_or(&0),
                *chunk.get(2).unwrap_or(&0),
            ];
            let group =
                (u32::from(bytes[0]) << 16) | (u32::from(bytes[1]) << 8) | u32::from(bytes[2]);
            for index in 0..4 {
                if index <= chunk.len() {
                    text.push(ALPHABET[((group >> (18 - 6 * index)) & 63) as usize] as char);
                } else {
                    text.push('=');
                }
            }
        }
        text
    }

    fn envelope(audio: &[u8]) -> Vec<u8> {
        json!({
            "result": {"audio": encode(audio)},
            "success": true,
            "errors": [],
            "messages": [],
        })
        .to_string()
        .into_bytes()
    }

    #[test]
    fn wav_envelope_becomes_audio() {
        let audio = wav(44_100);

        let step = resume(
            Some(MELO_WAV),
            &response(200, "application/json", envelope(&audio)),
        );

        assert_eq!(
            step,
            Ok(Step::Audio(Audio {
                format: AudioFormat {
                    container: AudioContainer::Wav,
                    sample_rate: Some(44_100),
                    bitrate: None,
                },
                data: audio,
                alignment: None,
                billed_characters: None,
            }))
        );
    }

    #[test]
    fn mp3_bytes_for_wav_request_are_unsupported() {
        let mp3 = vec![0xff, 0xfb, 0x90, 0x64, 0, 0, 0, 0];

        let error = resume(
            Some(MELO_WAV),
            &response(200, "application/json", envelope(&mp3)),
        )
        .unwrap_err();

        assert_eq!(
            error,
            ProviderError::Unsupported(
                "MeloTTS returned mp3 audio, not the wav that was requested".to_string()
            )
        );
    }

    #[test]
    fn binary_body_is_sniffed() {
        let step = resume(Some(MELO_WAV), &response(200, "audio/mpeg", wav(24_000))).unwrap();

        let Step::Audio(audio) = step else {
            panic!("expected audio, got {step:?}");
        };
        assert_eq!(audio.format.sample_rate, Some(24_000));
    }

    #[test]
    fn top_level_audio_is_tolerated() {
        let body = json!({"audio": encode(&wav(16_000))})
            .to_string()
            .into_bytes();

        let step = resume(Some(MELO_WAV), &response(200, "application/json", body));

        assert!(matches!(step, Ok(Step::Audio(_))), "{step:?}");
    }

    #[test]
    fn malformed_bodies_are_invalid_responses() {
        // (body, a fragment the message must contain)
        let cases: [(Vec<u8>, &str); 6] = [
            (b"{\"result\":{\"aud".to_vec(), "does not parse"),
            (
                br#"{"result":{},"success":true}"#.to_vec(),
                "without `result.audio`",
            ),
            (
                br#"{"result":{"audio":42}}"#.to_vec(),
                "without `result.audio`",
            ),
            (br#"{"result":{"audio":"!!!!"}}"#.to_vec(), "is not base64"),
            (br#"{"result":{"audio":""}}"#.to_vec(), "empty audio"),
            (
                envelope(b"plain text, not audio"),
                "no container the plugin recognises",
            ),
        ];

        for (body, fragment) in cases {
            let error =
                resume(Some(MELO_WAV), &response(200, "application/json", body)).unwrap_err();

            let ProviderError::InvalidResponse(message) = error else {
                panic!("expected invalid-response, got {error:?}");
            };
            assert!(message.contains(fragment), "{message}");
        }
    }

    #[test]
    fn unknown_bytes_are_shown_as_hex() {
        let error = resume(
            Some(MELO_WAV),
            &response(200, "application/json", envelope(b"\x00\x01abc")),
        )
        .unwrap_err();

        let ProviderError::InvalidResponse(message) = error else {
            panic!("expected invalid-response, got {error:?}");
        };
        assert!(message.contains("00 01 61 62 63"), "{message}");
    }

    #[test]
    fn failed_envelope_is_classified() {
        let body = br#"{"success":false,"errors":[{"code":3040,"message":"busy"}]}"#.to_vec();

        for status in [200, 429] {
            let error = resume(
                Some(MELO_WAV),
                &response(status, "application/json", body.clone()),
            )
            .unwrap_err();

            assert!(
                matches!(error, ProviderError::Unavailable(_)),
                "{status}: {error:?}"
            );
        }
    }

    #[test]
    fn aura_response_without_audio_is_classified() {
        let html = response(200, "text/html", b"<html>oops</html>".to_vec());
        let unauthorized = response(
            401,
            "application/json",
            br#"{"success":false,"errors":[{"code":10000,"message":"Authentication error"}]}"#
                .to_vec(),
        );

        assert!(matches!(
            resume(Some(Pending::Aura), &html),
            Err(ProviderError::InvalidResponse(_))
        ));
        assert!(matches!(
            resume(Some(Pending::Aura), &unauthorized),
            Err(ProviderError::Unauthorized(_))
        ));
    }

    #[test]
    fn resume_without_synthesis_is_invalid_response() {
        let error = resume(
            None,
            &response(200, "application/json", envelope(&wav(8000))),
        )
        .unwrap_err();

        assert!(
            matches!(error, ProviderError::InvalidResponse(_)),
            "{error:?}"
        );
    }
}
