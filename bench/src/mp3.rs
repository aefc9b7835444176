//! The clip the benchmark upstream serves: MPEG audio frames, so that the gateway's format
//! check and its duration count treat it as real MP3.

use bytes::Bytes;

/// An MPEG-2 Layer III frame header: 160 kbit/s, 24 kHz, mono, no CRC.
const FRAME_HEADER: [u8; 4] = [0xFF, 0xF3, 0xE4, 0xC0];

/// The length of one such frame: 576 samples / 8 × 160,000 bit/s / 24,000 Hz.
const FRAME_BYTES: usize = 480;

/// Builds a clip of exactly `size` bytes: whole frames with zero payload, the last one cut
/// short when `size` is not a multiple of the frame length. One frame plays for 24 ms.
pub fn clip(size: usize) -> Bytes {
    let mut frame = vec![0u8; FRAME_BYTES];
    frame[..FRAME_HEADER.len()].copy_from_slice(&FRAME_HEADER);

    let mut clip = Vec::with_capacity(size);
    while clip.len() < size {
        let take = FRAME_BYTES.min(size - clip.len());
        clip.extend_from_slice(&frame[..take]);
    }
    Bytes::from(clip)
}

/// Splits `clip` into `count` chunks of nearly equal length; the first chunks take the
/// remainder. A count of zero or one gives the clip whole.
pub fn chunks(clip: &Bytes, count: usize) -> Vec<Bytes> {
    let count = count.clamp(1, clip.len().max(1));
    let base = clip.len() / count;
    let remainder = clip.len() % count;

    let mut chunks = Vec::with_capacity(count);
    let mut start = 0;
    for index in 0..count {
        let length = base + usize::from(index < remainder);
        chunks.push(clip.slice(start..start + length));
        start += length;
    }
    chunks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clip_has_exact_size() {
        for size in [1, 479, 480, 481, 51_200] {
            assert_eq!(clip(size).len(), size);
        }
    }

    #[test]
    fn clip_starts_each_frame_with_header() {
        let clip = clip(FRAME_BYTES * 3);
        for frame in clip.chunks(FRAME_BYTES) {
            assert_eq!(frame[..4], FRAME_HEADER);
        }
    }

    #[test]
    fn chunks_cover_clip_in_order() {
        let clip = clip(51_200);
        let chunks = chunks(&clip, 13);
        assert_eq!(chunks.len(), 13);
        assert_eq!(chunks.concat(), clip.to_vec());
        let longest = chunks.iter().map(Bytes::len).max().unwrap();
        let shortest = chunks.iter().map(Bytes::len).min().unwrap();
        assert!(longest - shortest <= 1, "chunk lengths {shortest}..{longest}");
    }

    #[test]
    fn chunks_of_zero_gives_whole_clip() {
        let clip = clip(1000);
        assert_eq!(chunks(&clip, 0), vec![clip.clone()]);
    }
}
