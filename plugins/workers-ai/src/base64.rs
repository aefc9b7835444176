//! Decoding the base64 audio in MeloTTS's JSON response (RFC 4648).
//!
//! Written here rather than taken from a crate because decoding is all the plugin needs and
//! every dependency adds to the component that the host loads per synthesis.

/// The reason a base64 text could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Base64Error {
    /// A byte outside the alphabet, at this offset.
    InvalidByte(usize),
    /// Text after the `=` padding, at this offset.
    DataAfterPadding(usize),
    /// The text ends with a single leftover character, which cannot encode a whole byte.
    Truncated,
}

impl std::fmt::Display for Base64Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Base64Error::InvalidByte(offset) => {
                write!(f, "a character at offset {offset} is not base64")
            }
            Base64Error::DataAfterPadding(offset) => {
                write!(f, "data follows the `=` padding at offset {offset}")
            }
            Base64Error::Truncated => f.write_str("the text ends in the middle of a byte"),
        }
    }
}

/// Decodes standard or URL-safe base64. Padding is optional and ASCII whitespace (line breaks
/// that some encoders insert) is skipped.
pub fn decode(text: &[u8]) -> Result<Vec<u8>, Base64Error> {
    let mut bytes = Vec::with_capacity(text.len() / 4 * 3);
    let mut buffer: u32 = 0;
    let mut bits = 0u32;
    let mut sextets = 0usize;
    let mut padding_at = None;

    for (offset, &byte) in text.iter().enumerate() {
        if byte.is_ascii_whitespace() {
            continue;
        }
        if byte == b'=' {
            padding_at.get_or_insert(offset);
            continue;
        }
        if padding_at.is_some() {
            return Err(Base64Error::DataAfterPadding(offset));
        }

        let value = sextet(byte).ok_or(Base64Error::InvalidByte(offset))?;
        buffer = (buffer << 6) | u32::from(value);
        bits += 6;
        sextets += 1;
        if bits >= 8 {
            bits -= 8;
            bytes.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }

    // Four characters carry three bytes; one character alone carries only six bits.
    if sextets % 4 == 1 {
        return Err(Base64Error::Truncated);
    }

    Ok(bytes)
}

fn sextet(byte: u8) -> Option<u8> {
    match byte {
        b'A'..=b'Z' => Some(byte - b'A'),
        b'a'..=b'z' => Some(byte - b'a' + 26),
        b'0'..=b'9' => Some(byte - b'0' + 52),
        b'+' | b'-' => Some(62),
        b'/' | b'_' => Some(63),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_rfc_4648_vectors() {
        let cases: [(&str, &str); 7] = [
            ("", ""),
            ("Zg==", "f"),
            ("Zm8=", "fo"),
            ("Zm9v", "foo"),
            ("Zm9vYg==", "foob"),
            ("Zm9vYmE=", "fooba"),
            ("Zm9vYmFy", "foobar"),
        ];

        for (encoded, decoded) in cases {
            assert_eq!(
                decode(encoded.as_bytes()).unwrap(),
                decoded.as_bytes(),
                "{encoded}"
            );
        }
    }

    #[test]
    fn padding_is_optional_and_whitespace_skipped() {
        assert_eq!(decode(b"Zm9vYg").unwrap(), b"foob");
        assert_eq!(decode(b"Zm9v\r\nYmFy\n").unwrap(), b"foobar");
    }

    #[test]
    fn both_alphabets_decode() {
        assert_eq!(decode(b"+/8=").unwrap(), vec![0xfb, 0xff]);
        assert_eq!(decode(b"-_8=").unwrap(), vec![0xfb, 0xff]);
    }

    #[test]
    fn decodes_binary() {
        let all: Vec<u8> = (0..=255).collect();
        // Encoded with Python's base64.b64encode(bytes(range(256))), first 16 bytes.
        let encoded = b"AAECAwQFBgcICQoLDA0ODw==";

        assert_eq!(decode(encoded).unwrap(), all[..16].to_vec());
    }

    #[test]
    fn rejects_malformed_text() {
        assert_eq!(decode(b"Zm9v!"), Err(Base64Error::InvalidByte(4)));
        assert_eq!(decode(b"Zg==Zg=="), Err(Base64Error::DataAfterPadding(4)));
        assert_eq!(decode(b"Zm9vY"), Err(Base64Error::Truncated));
        assert_eq!(decode("Zm9v€".as_bytes()), Err(Base64Error::InvalidByte(4)));
    }
}
