//! Helpers on the generated audio types.

use crate::AudioContainer;

impl AudioContainer {
    /// Returns the container's name in the WIT contract, such as `mp3` or `ulaw`, for messages and
    /// for providers whose format parameter uses the same words.
    pub fn name(self) -> &'static str {
        match self {
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_wit() {
        assert_eq!(AudioContainer::Mp3.name(), "mp3");
        assert_eq!(AudioContainer::Pcm.name(), "pcm");
        assert_eq!(AudioContainer::Alaw.name(), "alaw");
    }
}
