//! The stored form of a cache entry: a self-describing header, then the audio.
//!
//! Every backend stores the same bytes, so an entry can move between a folder and a
//! bucket unchanged. Layout, version 1, all integers big-endian:
//!
//! ```text
//! offset  size  field
//!      0     8  magic "VOXAUDIO"
//!      8     2  format version (1)
//!     10     4  header length in bytes, from offset 0 to the first audio byte
//!     14     8  created, Unix seconds
//!     22     8  expires, Unix seconds
//!     30     1  1 when billed characters follow the flag, else 0
//!     31     4  billed characters (0 when the flag is 0)
//!     35     8  audio length in bytes
//!     43    32  SHA-256 of the audio
//!     75     2  content type length n, then n bytes of UTF-8
//!   77+n     2  container length m, then m bytes of UTF-8
//! ```
//!
//! A reader skips header bytes past the fields it reads, so a later version 1 writer may
//! append fields. A change to existing fields needs version 2.

use bytes::{BufMut, Bytes, BytesMut};
use sha2::{Digest, Sha256};

use crate::audio::duration::duration_ms;
use crate::audio::parse_container;
use crate::plugin::wit::{AudioContainer, AudioFormat};

const MAGIC: &[u8; 8] = b"VOXAUDIO";
const VERSION: u16 = 1;
/// Bytes before the two variable-length strings.
const FIXED_HEADER_LEN: usize = 75;
/// The maximum header length a reader accepts. Two short strings fit in far less, and the
/// cap keeps a corrupt length from causing a large read.
pub(crate) const MAX_HEADER_LEN: usize = 4096;
/// The largest stored entry, header included, that a backend writes or reads into memory.
/// The default longest text (`long_text.max_characters`, 100,000 characters, about two hours
/// of speech) is about 115 MB as 128 kbit/s mp3, and 256 MiB leaves room for larger formats.
/// A larger file or object is treated as corrupt instead of being read.
pub(crate) const MAX_ENTRY_BYTES: u64 = 256 * 1024 * 1024;

/// Audio as the cache stores and returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedAudio {
    /// The `Content-Type` of the response, such as `audio/mpeg`.
    pub content_type: String,
    /// Lowercase container name, such as `mp3`.
    pub container: String,
    pub data: Bytes,
    /// When the audio was stored, Unix seconds.
    pub created_unix: u64,
    /// When the entry stops being served, Unix seconds.
    pub expires_unix: u64,
    /// Characters the provider billed for the original synthesis, for accounting of hits.
    pub billed_characters: Option<u32>,
    /// Playing time in milliseconds, read from the audio once so that hits need not read it
    /// again. `None` when unknown: for a headerless container read back from storage, the
    /// sample rate is only in the request.
    pub audio_ms: Option<u64>,
}

impl CachedAudio {
    /// Wraps finished audio as an entry created at `now_unix` that lives for `ttl_seconds`.
    pub fn new(
        content_type: impl Into<String>,
        container: impl Into<String>,
        data: Bytes,
        billed_characters: Option<u32>,
        now_unix: u64,
        ttl_seconds: u64,
    ) -> Self {
        Self {
            content_type: content_type.into(),
            container: container.into(),
            data,
            created_unix: now_unix,
            expires_unix: now_unix.saturating_add(ttl_seconds),
            billed_characters,
            audio_ms: None,
        }
    }

    /// Sets the playing time, when the caller has already read it.
    pub fn with_audio_ms(mut self, audio_ms: Option<u64>) -> Self {
        self.audio_ms = audio_ms;
        self
    }
}

/// Reads the playing time of a container that carries its own timing (mp3, wav, opus).
fn self_timed_duration(container: &str, data: &[u8]) -> Option<u64> {
    let container = parse_container(container)?;
    let self_timed = matches!(container, AudioContainer::Mp3 | AudioContainer::Wav | AudioContainer::Opus);
    let format = AudioFormat { container, sample_rate: None, bitrate: None };
    if self_timed { duration_ms(&format, data) } else { None }
}

/// A reason that stored bytes are not a valid entry. Each case means the entry must not be
/// served.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EntryError {
    #[error("it is {0} bytes long, shorter than a header")]
    TooShort(usize),
    #[error("its magic bytes are not VOXAUDIO")]
    BadMagic,
    #[error("its format version {0} is not 1")]
    UnknownVersion(u16),
    #[error("its header length {0} is invalid")]
    BadHeaderLength(usize),
    #[error("its {0} is not UTF-8")]
    NotUtf8(&'static str),
    #[error("it holds {actual} audio bytes where its header says {expected}")]
    LengthMismatch { expected: u64, actual: u64 },
    #[error("its audio does not match the SHA-256 in its header")]
    ChecksumMismatch,
}

/// The fields of an entry's header, without the audio.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EntryHeader {
    pub header_len: usize,
    pub content_type: String,
    pub container: String,
    pub created_unix: u64,
    pub expires_unix: u64,
    pub billed_characters: Option<u32>,
    pub audio_len: u64,
    pub audio_sha256: [u8; 32],
}

/// Encodes the header for `audio`; the stored entry is this header followed by the audio.
pub(crate) fn encode_header(audio: &CachedAudio) -> Bytes {
    let content_type = truncate_utf8(&audio.content_type, 1024);
    let container = truncate_utf8(&audio.container, 64);
    let header_len = FIXED_HEADER_LEN + 2 + content_type.len() + 2 + container.len();

    let mut header = BytesMut::with_capacity(header_len);
    header.put_slice(MAGIC);
    header.put_u16(VERSION);
    header.put_u32(header_len as u32);
    header.put_u64(audio.created_unix);
    header.put_u64(audio.expires_unix);
    header.put_u8(u8::from(audio.billed_characters.is_some()));
    header.put_u32(audio.billed_characters.unwrap_or(0));
    header.put_u64(audio.data.len() as u64);
    header.put_slice(&Sha256::digest(&audio.data));
    header.put_u16(content_type.len() as u16);
    header.put_slice(content_type.as_bytes());
    header.put_u16(container.len() as u16);
    header.put_slice(container.as_bytes());
    header.freeze()
}

/// Parses a header from the start of `bytes`, which may hold more than the header.
pub(crate) fn decode_header(bytes: &[u8]) -> Result<EntryHeader, EntryError> {
    if bytes.len() < FIXED_HEADER_LEN + 4 {
        return Err(EntryError::TooShort(bytes.len()));
    }
    let mut reader = Reader { bytes, at: 0 };

    if reader.take(8)? != MAGIC {
        return Err(EntryError::BadMagic);
    }
    let version = reader.u16()?;
    if version != VERSION {
        return Err(EntryError::UnknownVersion(version));
    }
    let header_len = reader.u32()? as usize;
    if !(FIXED_HEADER_LEN + 4..=MAX_HEADER_LEN).contains(&header_len) {
        return Err(EntryError::BadHeaderLength(header_len));
    }
    if bytes.len() < header_len {
        return Err(EntryError::TooShort(bytes.len()));
    }
    // Fields must stay inside the declared header, not run into the audio.
    reader.bytes = &bytes[..header_len];

    let created_unix = reader.u64()?;
    let expires_unix = reader.u64()?;
    let has_billed = reader.u8()? != 0;
    let billed = reader.u32()?;
    let audio_len = reader.u64()?;
    let mut audio_sha256 = [0u8; 32];
    audio_sha256.copy_from_slice(reader.take(32)?);
    let content_type = reader.string("content type")?;
    let container = reader.string("container")?;

    Ok(EntryHeader {
        header_len,
        content_type,
        container,
        created_unix,
        expires_unix,
        billed_characters: has_billed.then_some(billed),
        audio_len,
        audio_sha256,
    })
}

/// Parses and verifies a whole stored entry. The audio is a slice of `bytes`, not a copy.
pub(crate) fn decode_entry(bytes: Bytes) -> Result<CachedAudio, EntryError> {
    let header = decode_header(&bytes)?;

    let actual = (bytes.len() - header.header_len) as u64;
    if actual != header.audio_len {
        return Err(EntryError::LengthMismatch { expected: header.audio_len, actual });
    }
    let data = bytes.slice(header.header_len..);
    if Sha256::digest(&data).as_slice() != header.audio_sha256 {
        return Err(EntryError::ChecksumMismatch);
    }

    let audio_ms = self_timed_duration(&header.container, &data);
    Ok(CachedAudio {
        content_type: header.content_type,
        container: header.container,
        data,
        created_unix: header.created_unix,
        expires_unix: header.expires_unix,
        billed_characters: header.billed_characters,
        audio_ms,
    })
}

/// A checked cursor: every read past the end is an error, never a panic.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, len: usize) -> Result<&'a [u8], EntryError> {
        let end = self.at.checked_add(len).filter(|end| *end <= self.bytes.len());
        let Some(end) = end else {
            return Err(EntryError::BadHeaderLength(self.bytes.len()));
        };
        let slice = &self.bytes[self.at..end];
        self.at = end;
        Ok(slice)
    }

    fn u8(&mut self) -> Result<u8, EntryError> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<u16, EntryError> {
        let mut raw = [0u8; 2];
        raw.copy_from_slice(self.take(2)?);
        Ok(u16::from_be_bytes(raw))
    }

    fn u32(&mut self) -> Result<u32, EntryError> {
        let mut raw = [0u8; 4];
        raw.copy_from_slice(self.take(4)?);
        Ok(u32::from_be_bytes(raw))
    }

    fn u64(&mut self) -> Result<u64, EntryError> {
        let mut raw = [0u8; 8];
        raw.copy_from_slice(self.take(8)?);
        Ok(u64::from_be_bytes(raw))
    }

    fn string(&mut self, field: &'static str) -> Result<String, EntryError> {
        let len = self.u16()? as usize;
        let raw = self.take(len)?;
        String::from_utf8(raw.to_vec()).map_err(|_| EntryError::NotUtf8(field))
    }
}

/// Returns the longest prefix of `text` of at most `max` bytes that ends on a character
/// boundary.
fn truncate_utf8(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn audio() -> CachedAudio {
        CachedAudio::new("audio/mpeg", "mp3", Bytes::from_static(b"ID3 fake mp3 frames"), Some(13), 1_000, 60)
    }

    fn stored(audio: &CachedAudio) -> Bytes {
        let mut bytes = BytesMut::from(&encode_header(audio)[..]);
        bytes.extend_from_slice(&audio.data);
        bytes.freeze()
    }

    #[test]
    fn round_trip() {
        let original = audio();
        let decoded = decode_entry(stored(&original)).unwrap();
        assert_eq!(decoded, original);
        assert_eq!(decoded.expires_unix, 1_060);
    }

    #[test]
    fn round_trip_without_billing_and_audio() {
        let original = CachedAudio::new("audio/wav", "wav", Bytes::new(), None, 5, 5);
        assert_eq!(decode_entry(stored(&original)).unwrap(), original);
    }

    #[test]
    fn decoding_reads_the_playing_time() {
        // 100 MPEG-1 layer III frames at 128 kbit/s and 44.1 kHz: 417 bytes and 1,152 samples each.
        let mut frame = vec![0u8; 417];
        frame[..4].copy_from_slice(&[0xFF, 0xFB, 0x90, 0x00]);
        let mp3 = CachedAudio::new("audio/mpeg", "mp3", Bytes::from(frame.repeat(100)), None, 5, 5);
        let pcm = CachedAudio::new("audio/pcm", "pcm", Bytes::from(vec![0u8; 48_000]), None, 5, 5);

        assert_eq!(decode_entry(stored(&mp3)).unwrap().audio_ms, Some(100 * 1152 * 1000 / 44_100));
        assert_eq!(decode_entry(stored(&pcm)).unwrap().audio_ms, None, "pcm has no rate in its bytes");
    }

    #[test]
    fn header_reads_from_a_prefix() {
        let bytes = stored(&audio());
        let header = decode_header(&bytes[..200.min(bytes.len())]).unwrap();
        assert_eq!(header.content_type, "audio/mpeg");
        assert_eq!(header.audio_len, audio().data.len() as u64);
    }

    #[test]
    fn every_truncation_is_rejected() {
        let bytes = stored(&audio());
        for len in 0..bytes.len() {
            let result = decode_entry(bytes.slice(..len));
            assert!(result.is_err(), "a {len}-byte prefix decoded");
        }
    }

    #[test]
    fn every_flipped_audio_byte_is_rejected() {
        let bytes = stored(&audio());
        let header_len = encode_header(&audio()).len();
        for at in header_len..bytes.len() {
            let mut corrupt = bytes.to_vec();
            corrupt[at] ^= 0x40;
            let result = decode_entry(Bytes::from(corrupt));
            assert_eq!(result, Err(EntryError::ChecksumMismatch), "flipping byte {at}");
        }
    }

    #[test]
    fn appended_bytes_are_rejected() {
        let mut bytes = stored(&audio()).to_vec();
        bytes.push(0);
        let result = decode_entry(Bytes::from(bytes));
        assert!(matches!(result, Err(EntryError::LengthMismatch { .. })), "{result:?}");
    }

    #[test]
    fn bad_magic_and_version() {
        let mut bytes = stored(&audio()).to_vec();
        bytes[0] = b'X';
        assert_eq!(decode_entry(Bytes::from(bytes)), Err(EntryError::BadMagic));

        let mut bytes = stored(&audio()).to_vec();
        bytes[9] = 2;
        assert_eq!(decode_entry(Bytes::from(bytes)), Err(EntryError::UnknownVersion(2)));
    }

    #[test]
    fn huge_header_length_is_rejected() {
        let mut bytes = stored(&audio()).to_vec();
        bytes[10..14].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(matches!(decode_entry(Bytes::from(bytes)), Err(EntryError::BadHeaderLength(_))));
    }

    #[test]
    fn string_length_past_header_is_rejected() {
        let mut bytes = stored(&audio()).to_vec();
        // The content type's length field sits right after the fixed part.
        bytes[FIXED_HEADER_LEN..FIXED_HEADER_LEN + 2].copy_from_slice(&1000u16.to_be_bytes());
        assert!(decode_entry(Bytes::from(bytes)).is_err());
    }

    #[test]
    fn long_strings_are_cut_on_char_boundary() {
        let long = "é".repeat(600);
        let original = CachedAudio::new(long, "mp3", Bytes::from_static(b"x"), None, 0, 1);
        let decoded = decode_entry(stored(&original)).unwrap();
        assert_eq!(decoded.content_type.len(), 1024);
    }
}
