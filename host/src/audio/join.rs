//! Joining clips of one format into one valid file, for text synthesised in parts.

use crate::plugin::wit::AudioContainer;

/// Whether clips of this container can be joined.
pub fn can_join(container: AudioContainer) -> bool {
    matches!(
        container,
        AudioContainer::Mp3 | AudioContainer::Wav | AudioContainer::Pcm | AudioContainer::Ulaw | AudioContainer::Alaw | AudioContainer::Aac
    )
}

/// Joins clips in order. MP3 and ADTS AAC are streams of self-contained frames, so they
/// concatenate (ID3 tags after the first clip are dropped); headerless PCM and G.711
/// append; WAV gets one header rewritten for the total length.
pub fn join(container: AudioContainer, clips: &[Vec<u8>]) -> Result<Vec<u8>, String> {
    match container {
        AudioContainer::Pcm | AudioContainer::Ulaw | AudioContainer::Alaw => Ok(clips.concat()),
        AudioContainer::Mp3 | AudioContainer::Aac => {
            if container == AudioContainer::Aac && clips.iter().any(|clip| clip.get(4..8) == Some(b"ftyp")) {
                return Err("AAC in an MP4 container cannot be joined; ADTS can".to_string());
            }
            let mut joined = Vec::new();
            for (index, clip) in clips.iter().enumerate() {
                let clip = if index == 0 { clip.as_slice() } else { strip_id3(clip) };
                joined.extend_from_slice(clip);
            }
            Ok(joined)
        }
        AudioContainer::Wav => join_wav(clips),
        AudioContainer::Opus | AudioContainer::Flac => {
            Err("opus and flac clips cannot be joined; use mp3, wav or pcm for long text".to_string())
        }
    }
}

/// Skips an ID3v2 tag at the start of an MP3 clip. Its size is four 7-bit bytes
/// (syncsafe), after a 10-byte header (ID3v2.4 specification, section 3.1).
fn strip_id3(clip: &[u8]) -> &[u8] {
    if clip.len() < 10 || !clip.starts_with(b"ID3") {
        return clip;
    }
    let size = clip[6..10].iter().fold(0usize, |size, byte| (size << 7) | usize::from(byte & 0x7F));
    let footer = if clip[5] & 0x10 != 0 { 10 } else { 0 };
    clip.get(10 + size + footer..).unwrap_or_default()
}

/// The `fmt ` chunk and the sample data of a WAV clip.
struct Wav<'a> {
    format: &'a [u8],
    data: &'a [u8],
}

fn parse_wav(clip: &[u8]) -> Result<Wav<'_>, String> {
    if clip.len() < 12 || &clip[0..4] != b"RIFF" || &clip[8..12] != b"WAVE" {
        return Err("a clip is not a RIFF WAVE file".to_string());
    }
    let mut format = None;
    let mut offset = 12;
    while offset + 8 <= clip.len() {
        let id = &clip[offset..offset + 4];
        let size = u32::from_le_bytes(clip[offset + 4..offset + 8].try_into().expect("four bytes")) as usize;
        let body_start = offset + 8;
        // A streamed WAV may carry a placeholder size: the data chunk then runs to the end.
        let body_end = body_start.saturating_add(size).min(clip.len());
        match id {
            b"fmt " => format = Some(&clip[body_start..body_end]),
            b"data" => {
                let format = format.ok_or("a WAV clip has its data before its fmt chunk")?;
                return Ok(Wav { format, data: &clip[body_start..body_end] });
            }
            _ => {}
        }
        // Chunks are padded to an even size.
        offset = body_start.saturating_add(size).saturating_add(size & 1);
    }
    Err("a WAV clip has no data chunk".to_string())
}

fn join_wav(clips: &[Vec<u8>]) -> Result<Vec<u8>, String> {
    let parsed = clips.iter().map(|clip| parse_wav(clip)).collect::<Result<Vec<_>, _>>()?;
    let Some(first) = parsed.first() else {
        return Err("there are no clips to join".to_string());
    };
    if parsed.iter().any(|wav| wav.format != first.format) {
        return Err("the WAV clips have different sample formats".to_string());
    }
    let data_len: usize = parsed.iter().map(|wav| wav.data.len()).sum();
    let data_size = u32::try_from(data_len).map_err(|_| "the joined WAV would exceed 4 GiB".to_string())?;
    let format_size = u32::try_from(first.format.len()).map_err(|_| "fmt chunk too large".to_string())?;
    let riff_size = 4 + (8 + format_size) + (format_size & 1) + (8 + data_size);

    let mut joined = Vec::with_capacity(data_len + 64);
    joined.extend_from_slice(b"RIFF");
    joined.extend_from_slice(&riff_size.to_le_bytes());
    joined.extend_from_slice(b"WAVE");
    joined.extend_from_slice(b"fmt ");
    joined.extend_from_slice(&format_size.to_le_bytes());
    joined.extend_from_slice(first.format);
    if format_size & 1 == 1 {
        joined.push(0);
    }
    joined.extend_from_slice(b"data");
    joined.extend_from_slice(&data_size.to_le_bytes());
    for wav in &parsed {
        joined.extend_from_slice(wav.data);
    }
    Ok(joined)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wav(samples: &[i16]) -> Vec<u8> {
        let data: Vec<u8> = samples.iter().flat_map(|sample| sample.to_le_bytes()).collect();
        let mut clip = Vec::new();
        clip.extend_from_slice(b"RIFF");
        clip.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
        clip.extend_from_slice(b"WAVEfmt ");
        clip.extend_from_slice(&16u32.to_le_bytes());
        clip.extend_from_slice(&[1, 0, 1, 0]);
        clip.extend_from_slice(&24_000u32.to_le_bytes());
        clip.extend_from_slice(&48_000u32.to_le_bytes());
        clip.extend_from_slice(&[2, 0, 16, 0]);
        clip.extend_from_slice(b"data");
        clip.extend_from_slice(&(data.len() as u32).to_le_bytes());
        clip.extend_from_slice(&data);
        clip
    }

    #[test]
    fn wav_header_covers_all_samples() {
        let joined = join(AudioContainer::Wav, &[wav(&[1, 2]), wav(&[3, 4, 5])]).unwrap();
        assert_eq!(joined, wav(&[1, 2, 3, 4, 5]));
    }

    #[test]
    fn wav_formats_must_match() {
        let mut other = wav(&[1]);
        other[24] = 0x80; // a different sample rate
        assert!(join(AudioContainer::Wav, &[wav(&[1]), other]).is_err());
    }

    #[test]
    fn mp3_drops_later_id3_tags() {
        let tagged = [b"ID3\x04\x00\x00\x00\x00\x00\x02ab".as_slice(), &[0xFF, 0xFB, 1]].concat();
        let joined = join(AudioContainer::Mp3, &[tagged.clone(), tagged]).unwrap();
        assert_eq!(joined.len(), 15 + 3);
        assert_eq!(&joined[15..], &[0xFF, 0xFB, 1]);
    }

    #[test]
    fn pcm_appends() {
        assert_eq!(join(AudioContainer::Pcm, &[vec![1, 2], vec![3]]).unwrap(), vec![1, 2, 3]);
    }

    #[test]
    fn opus_is_refused() {
        assert!(join(AudioContainer::Opus, &[vec![], vec![]]).is_err());
    }
}
