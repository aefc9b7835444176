//! Decoding standard base64 (RFC 4648 §4), as ElevenLabs sends `audio_base64`.
//!
//! Written here rather than taken from a crate: a decoder is a few lines, and every
//! dependency adds to the component that the host compiles and instantiates.

/// The reason a base64 text could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// A byte outside the base64 alphabet, at this offset.
    InvalidByte(usize),
    /// The length or padding is wrong.
    InvalidLength,
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DecodeError::InvalidByte(offset) => {
                write!(f, "a byte at offset {offset} is not base64")
            }
            DecodeError::InvalidLength => f.write_str("the base64 text is truncated"),
        }
    }
}

/// Decodes `text`. Padding (`=`) is optional; whitespace is not allowed.
///
/// # Errors
///
/// [`DecodeError`] for a byte outside the alphabet or a length that cannot be base64.
pub fn decode(text: &str) -> Result<Vec<u8>, DecodeError> {
    let bytes = text.as_bytes();
    let unpadded = bytes
        .strip_suffix(b"==")
        .or_else(|| bytes.strip_suffix(b"="))
        .unwrap_or(bytes);
    if bytes.len() != unpadded.len() && bytes.len() % 4 != 0 {
        return Err(DecodeError::InvalidLength);
    }
    if unpadded.len() % 4 == 1 {
        return Err(DecodeError::InvalidLength);
    }

    let mut decoded = Vec::with_capacity(unpadded.len() / 4 * 3 + 2);
    let mut buffer: u32 = 0;
    let mut bits = 0;

    for (offset, &byte) in unpadded.iter().enumerate() {
        let value = sextet(byte).ok_or(DecodeError::InvalidByte(offset))?;
        buffer = (buffer << 6) | u32::from(value);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            // The shift leaves the next whole byte in the low 8 bits.
            decoded.push(((buffer >> bits) & 0xff) as u8);
        }
    }

    Ok(decoded)
}

fn sextet(byte: u8) -> Option<u8> {
    match byte {
        b'A'..=b'Z' => Some(byte - b'A'),
        b'a'..=b'z' => Some(byte - b'a' + 26),
        b'0'..=b'9' => Some(byte - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_rfc_4648_vectors() {
        // RFC 4648 §10 test vectors.
        let cases: [(&str, &[u8]); 7] = [
            ("", b""),
            ("Zg==", b"f"),
            ("Zm8=", b"fo"),
            ("Zm9v", b"foo"),
            ("Zm9vYg==", b"foob"),
            ("Zm9vYmE=", b"fooba"),
            ("Zm9vYmFy", b"foobar"),
        ];

        for (text, expected) in cases {
            assert_eq!(decode(text).as_deref(), Ok(expected), "{text}");
        }
    }

    #[test]
    fn padding_is_optional() {
        assert_eq!(decode("Zg").as_deref(), Ok(&b"f"[..]));
        assert_eq!(decode("Zm8").as_deref(), Ok(&b"fo"[..]));
    }

    #[test]
    fn binary_round_trip() {
        assert_eq!(
            decode("//79AA==").as_deref(),
            Ok(&[0xff, 0xfe, 0xfd, 0x00][..])
        );
        assert_eq!(decode("+/+/").as_deref(), Ok(&[0xfb, 0xff, 0xbf][..]));
    }

    #[test]
    fn rejects_malformed_text() {
        assert_eq!(decode("Zm9!"), Err(DecodeError::InvalidByte(3)));
        assert_eq!(decode("Zm 9"), Err(DecodeError::InvalidByte(2)));
        assert_eq!(decode("Z"), Err(DecodeError::InvalidLength));
        assert_eq!(decode("Zm9=="), Err(DecodeError::InvalidLength));
        assert_eq!(decode("Zg=a"), Err(DecodeError::InvalidByte(2)));
    }
}
