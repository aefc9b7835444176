//! Audio formats: names, content types, and recognising a container from its first bytes.

pub mod duration;
pub mod join;

use crate::plugin::wit::AudioContainer;

/// Bytes needed to recognise every container that has a signature.
pub const SIGNATURE_LEN: usize = 12;

/// The name used in APIs and configuration (`response_format` in OpenAI's API).
pub fn container_name(container: AudioContainer) -> &'static str {
    match container {
        AudioContainer::Mp3 => "mp3",
        AudioContainer::Opus => "opus",
        AudioContainer::Aac => "aac",
        AudioContainer::Flac => "flac",
        AudioContainer::Wav => "wav",
        AudioContainer::Pcm => "pcm",
        AudioContainer::Ulaw => "ulaw",
        AudioContainer::Alaw => "alaw",
    }
}

pub fn parse_container(name: &str) -> Option<AudioContainer> {
    Some(match name {
        "mp3" => AudioContainer::Mp3,
        "opus" => AudioContainer::Opus,
        "aac" => AudioContainer::Aac,
        "flac" => AudioContainer::Flac,
        "wav" => AudioContainer::Wav,
        "pcm" => AudioContainer::Pcm,
        "ulaw" => AudioContainer::Ulaw,
        "alaw" => AudioContainer::Alaw,
        _ => return None,
    })
}

/// The content type voxgate sends for a container. OpenAI's API responds with these for the
/// formats it offers; the G.711 ones follow RFC 3551's registered names.
pub fn content_type(container: AudioContainer) -> &'static str {
    match container {
        AudioContainer::Mp3 => "audio/mpeg",
        AudioContainer::Opus => "audio/opus",
        AudioContainer::Aac => "audio/aac",
        AudioContainer::Flac => "audio/flac",
        AudioContainer::Wav => "audio/wav",
        AudioContainer::Pcm => "audio/pcm",
        AudioContainer::Ulaw => "audio/basic",
        AudioContainer::Alaw => "audio/x-alaw-basic",
    }
}

/// Whether an upstream content type can carry audio. A JSON, text or HTML response never is,
/// even with a 2xx status: it goes to the plugin to classify.
pub fn may_be_audio(content_type: Option<&str>) -> bool {
    let Some(content_type) = content_type else {
        return true;
    };
    let essence = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    !(essence.starts_with("text/")
        || essence.contains("json")
        || essence.contains("xml")
        || essence.contains("html"))
}

/// Checks that `prefix`, the first bytes of a body (up to [`SIGNATURE_LEN`]), starts like the
/// container. Headerless containers have no signature and always pass.
pub fn check_signature(container: AudioContainer, prefix: &[u8]) -> Result<(), String> {
    let matches = match container {
        AudioContainer::Mp3 => prefix.starts_with(b"ID3") || is_mpeg_frame_sync(prefix),
        AudioContainer::Opus => prefix.starts_with(b"OggS"),
        AudioContainer::Aac => {
            is_adts_sync(prefix) || prefix.starts_with(b"ID3") || prefix.get(4..8) == Some(b"ftyp")
        }
        AudioContainer::Flac => prefix.starts_with(b"fLaC"),
        AudioContainer::Wav => prefix.starts_with(b"RIFF") && prefix.get(8..12) == Some(b"WAVE"),
        AudioContainer::Pcm | AudioContainer::Ulaw | AudioContainer::Alaw => true,
    };
    if matches {
        return Ok(());
    }
    Err(format!(
        "the audio does not start like {}: its first bytes are {}",
        container_name(container),
        describe_prefix(prefix)
    ))
}

fn is_mpeg_frame_sync(prefix: &[u8]) -> bool {
    matches!(prefix, [0xFF, second, ..] if second & 0xE0 == 0xE0)
}

fn is_adts_sync(prefix: &[u8]) -> bool {
    matches!(prefix, [0xFF, second, ..] if second & 0xF6 == 0xF0)
}

/// Shows the first bytes as text when they are printable (an HTML or JSON body), else as hex.
fn describe_prefix(prefix: &[u8]) -> String {
    if prefix.is_empty() {
        return "empty".to_string();
    }
    if prefix.iter().all(|byte| byte.is_ascii_graphic() || *byte == b' ') {
        return format!("`{}`", String::from_utf8_lossy(prefix));
    }
    hex::encode(prefix)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_table() {
        let cases: &[(AudioContainer, &[u8], bool)] = &[
            (AudioContainer::Mp3, b"ID3\x04\x00", true),
            (AudioContainer::Mp3, &[0xFF, 0xF3, 0x64, 0xC4], true),
            (AudioContainer::Mp3, &[0xFF, 0xFB, 0x90, 0x00], true),
            (AudioContainer::Mp3, b"<html><body>", false),
            (AudioContainer::Opus, b"OggS\x00\x02", true),
            (AudioContainer::Opus, b"{\"error\":1}", false),
            (AudioContainer::Aac, &[0xFF, 0xF1, 0x50, 0x80], true),
            (AudioContainer::Aac, b"\x00\x00\x00\x20ftypM4A ", true),
            (AudioContainer::Flac, b"fLaC\x00\x00", true),
            (AudioContainer::Wav, b"RIFF\x24\x00\x00\x00WAVE", true),
            (AudioContainer::Wav, b"RIFF\x24\x00\x00\x00AVI ", false),
            (AudioContainer::Pcm, b"anything", true),
            (AudioContainer::Mp3, b"", false),
        ];
        for (container, prefix, expected) in cases {
            let result = check_signature(*container, prefix);
            assert_eq!(result.is_ok(), *expected, "{container:?} {prefix:?}: {result:?}");
        }
    }

    #[test]
    fn signature_error_quotes_text() {
        let error = check_signature(AudioContainer::Mp3, b"<html>oops").unwrap_err();
        assert!(error.contains("`<html>oops`"), "{error}");
    }

    #[test]
    fn content_type_table() {
        assert!(may_be_audio(Some("audio/mpeg")));
        assert!(may_be_audio(Some("application/octet-stream")));
        assert!(may_be_audio(None));
        assert!(!may_be_audio(Some("application/json; charset=utf-8")));
        assert!(!may_be_audio(Some("text/html")));
        assert!(!may_be_audio(Some("application/problem+json")));
    }
}
