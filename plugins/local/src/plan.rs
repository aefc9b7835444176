//! Plans the speech of a request: text to sentences to utterances to phoneme ids.

use voxgate_plugin_sdk::ProviderError;

use crate::phonemes::Phonemizer;
use crate::phonemes::dictionary::Dictionary;
use crate::text::{normalize, sentences};
use crate::utterance::utterances;
use crate::voice::Voice;

/// Phoneme ids per utterance at normal speed.
///
/// The decoder's memory grows with the audio frames of one utterance. Measured in the
/// gateway with joe: a 239-id utterance (6.0 s of speech) needs more than 256 MiB of linear
/// memory and fits in 320 MiB, leaving headroom under the host's 384 MiB for `local`; a
/// 289-id one (7 s) came close to 384 MiB. At slower speeds the same ids take more frames,
/// so the limit is scaled by the speed.
pub const MAX_UTTERANCE_IDS: usize = 240;

/// Phoneme ids per request. Normalisation can make text longer ("$1,234,567.89" is 13
/// characters and 16 words), so the character limit alone does not bound the work.
/// Ordinary English is about 1.8 ids per character, so 2,000 characters are about 3,600
/// ids. 4,500 ids leave room for numbers and are about 150 s of speech, which take about
/// 60 s of CPU at the measured RTF of 0.4, half the host's 120 s call budget.
pub const MAX_TOTAL_IDS: usize = 4_500;

/// The speech of a request: for each sentence, the phoneme ids of each utterance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Sentences in order; each is one or more utterances of ids.
    pub sentences: Vec<Vec<Vec<i64>>>,
}

impl Plan {
    /// Returns the number of ids in the whole plan.
    pub fn id_count(&self) -> usize {
        self.sentences.iter().flatten().map(Vec::len).sum()
    }
}

/// Plans `text` for `voice` at `speed`.
///
/// # Errors
///
/// `unsupported` when the text has letters the English phonemizer cannot read (another
/// provider may), `invalid-request` when it has no words or expands to too many ids.
pub fn plan(
    text: &str,
    voice: &Voice,
    dictionary: Dictionary<'_>,
    speed: f32,
) -> Result<Plan, ProviderError> {
    let tokens = normalize(text).map_err(|error| ProviderError::Unsupported(error.to_string()))?;
    let phonemizer = Phonemizer::new(dictionary);
    let max_ids = ((MAX_UTTERANCE_IDS as f32) * speed.min(1.0)) as usize;

    let mut planned = Vec::new();
    for sentence in sentences(tokens) {
        let pieces = phonemizer.phonemize(&sentence);
        let ids: Vec<Vec<i64>> = utterances(&pieces, max_ids)
            .iter()
            .map(|phonemes| voice.phoneme_ids.ids(phonemes))
            .collect();
        if !ids.is_empty() {
            planned.push(ids);
        }
    }
    let plan = Plan { sentences: planned };

    if plan.sentences.is_empty() {
        return Err(ProviderError::InvalidRequest(
            "the text has no words, numbers or letters to speak".to_string(),
        ));
    }
    let count = plan.id_count();
    if count > MAX_TOTAL_IDS {
        return Err(ProviderError::InvalidRequest(format!(
            "the text expands to {count} phoneme ids, more than the {MAX_TOTAL_IDS} the local provider speaks per request; send less text"
        )));
    }
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use voxgate_plugin_sdk::serde_json::json;

    use super::*;
    use crate::phonemes::arpabet;
    use crate::phonemes::dictionary::tests::SAMPLE;
    use crate::phonemes::ids::PhonemeIdMap;

    /// Builds a voice whose map has every symbol the phonemizer writes, with ids of its own.
    fn voice() -> Voice {
        let mut map = json!({"_": [0], "^": [1], "$": [2], " ": [3], ",": [4], ".": [5], "?": [6], "!": [7], ";": [8], ":": [9]});
        for (index, symbol) in arpabet::ipa_symbols().enumerate() {
            map[symbol.to_string()] = json!([100 + index]);
        }
        let mut voice = crate::voice::Voice::parse(crate::voice::tests::SAMPLE_CONFIG).unwrap();
        voice.phoneme_ids = PhonemeIdMap::from_json(&map).unwrap();
        voice
    }

    fn plan_text(text: &str, speed: f32) -> Result<Plan, ProviderError> {
        plan(text, &voice(), Dictionary::new(SAMPLE.as_bytes()), speed)
    }

    #[test]
    fn one_sentence_one_utterance() {
        let plan = plan_text("Hello world.", 1.0).unwrap();

        assert_eq!(plan.sentences.len(), 1);
        assert_eq!(plan.sentences[0].len(), 1);
        let ids = &plan.sentences[0][0];
        assert_eq!((ids[0], ids[1], *ids.last().unwrap()), (1, 0, 2));
        assert!(ids.contains(&5), "the period is spoken");
    }

    #[test]
    fn sentences_are_separate() {
        assert_eq!(
            plan_text("Hello. World? Yes!", 1.0)
                .unwrap()
                .sentences
                .len(),
            3
        );
    }

    #[test]
    fn numbers_and_unknown_words_add_speech() {
        let plain = plan_text("The cat ran.", 1.0).unwrap().id_count();
        let richer = plan_text("The cat ran 42 blorpfs for $3.50.", 1.0)
            .unwrap()
            .id_count();
        assert!(richer > plain + 40, "{plain} vs {richer}");
    }

    #[test]
    fn long_sentences_split_and_slow_speech_splits_more() {
        let text = "hello world ".repeat(40);
        let normal = plan_text(&text, 1.0).unwrap();
        let slow = plan_text(&text, 0.5).unwrap();

        assert!(
            normal.sentences[0]
                .iter()
                .all(|ids| ids.len() <= MAX_UTTERANCE_IDS)
        );
        assert!(
            slow.sentences[0]
                .iter()
                .all(|ids| ids.len() <= MAX_UTTERANCE_IDS / 2)
        );
        assert!(slow.sentences[0].len() > normal.sentences[0].len());
    }

    #[test]
    fn nothing_to_say_is_invalid() {
        assert!(matches!(
            plan_text("... !!", 1.0),
            Err(ProviderError::InvalidRequest(_))
        ));
    }

    #[test]
    fn other_scripts_are_unsupported() {
        assert!(matches!(
            plan_text("Привет", 1.0),
            Err(ProviderError::Unsupported(_))
        ));
    }

    #[test]
    fn too_much_speech_is_invalid() {
        let text = "9".repeat(14) + " ";
        let error = plan_text(&text.repeat(120), 1.0).unwrap_err();
        assert!(
            matches!(error, ProviderError::InvalidRequest(message) if message.contains("phoneme ids"))
        );
    }
}
