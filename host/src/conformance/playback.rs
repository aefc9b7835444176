//! Upstream responses played back to a plugin in place of a provider.

use base64::Engine as _;

use crate::audio::content_type;
use crate::plugin::wit::{AudioContainer, HttpResponse};

use super::case::{BodySize, ResponseSpec};

/// Builds the response for `spec`. `container` is the audio container of the step being
/// answered, for `body_audio`; `max_response_bytes` is the host's cap on buffered bodies.
pub fn response(
    spec: &ResponseSpec,
    container: AudioContainer,
    max_response_bytes: usize,
) -> Result<HttpResponse, String> {
    let mut headers: Vec<(String, String)> = spec
        .headers
        .iter()
        .map(|(name, value)| (name.to_ascii_lowercase(), value.clone()))
        .collect();

    let body = if let Some(text) = &spec.body {
        text.as_bytes().to_vec()
    } else if let Some(encoded) = &spec.body_base64 {
        base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .map_err(|error| format!("body_base64 is not valid base64: {error}"))?
    } else if let Some(size) = &spec.body_size {
        generated(size, spec.body_fill.as_deref().unwrap_or("x"), max_response_bytes)?
    } else if spec.body_audio {
        if !headers.iter().any(|(name, _)| name == "content-type") {
            headers.push(("content-type".to_string(), content_type(container).to_string()));
        }
        audio_body(container)
    } else {
        Vec::new()
    };

    Ok(HttpResponse { status: spec.status, headers, body })
}

fn generated(size: &BodySize, fill: &str, max_response_bytes: usize) -> Result<Vec<u8>, String> {
    let bytes = match size {
        BodySize::Bytes(bytes) => usize::try_from(*bytes).unwrap_or(usize::MAX),
        BodySize::Named(name) if name == "max-response-bytes" => max_response_bytes,
        BodySize::Named(name) => {
            return Err(format!("body_size `{name}` is not a number or `max-response-bytes`"));
        }
    };
    if bytes > max_response_bytes {
        // The host would fail the synthesis itself and never pass such a body on.
        return Err(format!(
            "body_size {bytes} is larger than upstream.max_response_bytes ({max_response_bytes}); the host never passes such a body to a plugin"
        ));
    }
    if fill.is_empty() {
        return Err("body_fill is empty".to_string());
    }
    Ok(fill.bytes().cycle().take(bytes).collect())
}

/// A short body that passes the host's signature check for `container`: the container's
/// magic bytes, then silence-like filler. It is not playable audio, and need not be: the
/// host only checks how a streamed body starts.
pub fn audio_body(container: AudioContainer) -> Vec<u8> {
    let mut body: Vec<u8> = match container {
        AudioContainer::Mp3 => b"ID3\x04\x00\x00\x00\x00\x00\x00".to_vec(),
        AudioContainer::Opus => b"OggS\x00\x02".to_vec(),
        AudioContainer::Aac => vec![0xFF, 0xF1, 0x50, 0x80],
        AudioContainer::Flac => b"fLaC\x00\x00\x00\x22".to_vec(),
        AudioContainer::Wav => b"RIFF\x24\x00\x00\x00WAVEfmt ".to_vec(),
        AudioContainer::Pcm | AudioContainer::Ulaw | AudioContainer::Alaw => Vec::new(),
    };
    body.resize(1024, 0);
    body
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::audio::check_signature;

    fn spec() -> ResponseSpec {
        ResponseSpec {
            status: 200,
            headers: BTreeMap::new(),
            body: None,
            body_base64: None,
            body_size: None,
            body_fill: None,
            body_audio: false,
        }
    }

    #[test]
    fn audio_bodies_pass_signature_check() {
        for container in [
            AudioContainer::Mp3,
            AudioContainer::Opus,
            AudioContainer::Aac,
            AudioContainer::Flac,
            AudioContainer::Wav,
            AudioContainer::Pcm,
        ] {
            assert!(check_signature(container, &audio_body(container)).is_ok(), "{container:?}");
        }
    }

    #[test]
    fn audio_body_sets_content_type() {
        let spec = ResponseSpec { body_audio: true, ..spec() };

        let response = response(&spec, AudioContainer::Opus, 100).unwrap();

        assert_eq!(response.headers, vec![("content-type".to_string(), "audio/opus".to_string())]);
    }

    #[test]
    fn generated_body_has_exact_size() {
        let spec = ResponseSpec {
            body_size: Some(BodySize::Named("max-response-bytes".to_string())),
            body_fill: Some("ab".to_string()),
            ..spec()
        };

        let response = response(&spec, AudioContainer::Mp3, 5).unwrap();

        assert_eq!(response.body, b"ababa");
    }

    #[test]
    fn body_over_host_cap_is_an_error() {
        let spec = ResponseSpec { body_size: Some(BodySize::Bytes(6)), ..spec() };

        assert!(response(&spec, AudioContainer::Mp3, 5).is_err());
    }
}
