//! The voice id as one path segment of the request URL.
//!
//! The voice id comes from the caller. The host checks it against `describe`, but the plugin
//! must be safe on its own. Whatever the id contains (`/`, `?`, `#`, `%`, a line break, a
//! `..`), the URL's path stays `.../text-to-speech/{one segment}/...`, and its query stays
//! the plugin's own.

use voxgate_plugin_sdk::{ProviderError, sanitize};

/// The maximum length of a voice id the plugin sends, in bytes. ElevenLabs' voice ids are 20
/// characters, and the bound keeps a hostile id from making a URL that proxies reject or cut.
pub const MAX_VOICE_ID_BYTES: usize = 128;

/// Checks `voice` and percent-encodes it as one path segment.
///
/// Every byte but ASCII letters, digits, `-`, `_` and `~` (RFC 3986's unreserved set, less
/// `.`) is written as `%XX`, so the segment contains no `/`, `?`, `#`, `%` of its own, no
/// space and no control character.
///
/// # Errors
///
/// `invalid-request` for an empty id, one longer than [`MAX_VOICE_ID_BYTES`], or one made of
/// dots only. URL parsers that follow the WHATWG URL standard (the host's among them) read
/// `%2E%2E` as `..` and remove the segment before it, so encoding cannot make those safe.
pub fn encode_voice_id(voice: &str) -> Result<String, ProviderError> {
    if voice.is_empty() {
        return Err(ProviderError::InvalidRequest(
            "the voice id is empty".to_string(),
        ));
    }
    if voice.len() > MAX_VOICE_ID_BYTES {
        return Err(ProviderError::InvalidRequest(format!(
            "the voice id is {} bytes long; ElevenLabs voice ids are 20 characters, and the \
             plugin sends at most {MAX_VOICE_ID_BYTES}",
            voice.len()
        )));
    }
    if voice.bytes().all(|b| b == b'.') {
        return Err(ProviderError::InvalidRequest(format!(
            "the voice id `{}` is not a voice id",
            sanitize(voice, 20)
        )));
    }

    let mut segment = String::with_capacity(voice.len() * 3);
    for byte in voice.bytes() {
        let unreserved = byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'~');
        if unreserved {
            segment.push(char::from(byte));
        } else {
            segment.push('%');
            segment.push(hex_digit(byte >> 4));
            segment.push(hex_digit(byte & 0x0f));
        }
    }

    Ok(segment)
}

fn hex_digit(nibble: u8) -> char {
    char::from(b"0123456789ABCDEF"[usize::from(nibble & 0x0f)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_id_is_unchanged() {
        assert_eq!(
            encode_voice_id("21m00Tcm4TlvDq8ikWAM"),
            Ok("21m00Tcm4TlvDq8ikWAM".to_string())
        );
        assert_eq!(encode_voice_id("a-b_c~d"), Ok("a-b_c~d".to_string()));
    }

    #[test]
    fn special_bytes_are_encoded() {
        // (voice id, segment)
        let cases = [
            ("../v1/user", "%2E%2E%2Fv1%2Fuser"),
            ("a?b=1#c", "a%3Fb%3D1%23c"),
            ("x\r\nxi-api-key: stolen", "x%0D%0Axi-api-key%3A%20stolen"),
            ("50%", "50%25"),
            ("a.b", "a%2Eb"),
            ("é", "%C3%A9"),
            ("\0\t\\", "%00%09%5C"),
        ];

        for (voice, segment) in cases {
            assert_eq!(encode_voice_id(voice), Ok(segment.to_string()), "{voice:?}");
        }
    }

    #[test]
    fn dot_segments_are_rejected() {
        for voice in [".", "..", "...."] {
            let error = encode_voice_id(voice).unwrap_err();

            assert!(
                matches!(error, ProviderError::InvalidRequest(_)),
                "{voice:?}: {error:?}"
            );
        }
    }

    #[test]
    fn empty_and_long_ids_are_rejected() {
        let long = "a".repeat(MAX_VOICE_ID_BYTES + 1);

        for voice in ["", long.as_str()] {
            let error = encode_voice_id(voice).unwrap_err();

            assert!(
                matches!(error, ProviderError::InvalidRequest(_)),
                "{error:?}"
            );
        }
        assert!(encode_voice_id(&"a".repeat(MAX_VOICE_ID_BYTES)).is_ok());
    }

    #[test]
    fn long_id_message_is_short() {
        let error = encode_voice_id(&"x".repeat(100 * 1024)).unwrap_err();

        let ProviderError::InvalidRequest(message) = error else {
            panic!("expected invalid-request, got {error:?}");
        };
        assert!(message.len() < 200, "{message}");
    }
}
