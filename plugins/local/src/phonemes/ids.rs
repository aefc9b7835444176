//! Phonemes to the integer ids a Piper voice takes, with the voice's `phoneme_id_map`.
//!
//! Piper's scheme (piper-tts 1.8, `phoneme_ids.py`): the beginning-of-sentence id (`^`),
//! the pad id (`_`), then each code point of the phoneme string followed by the pad id,
//! then the end-of-sentence id (`$`). The pad between symbols gives the duration
//! predictor room for transitions.

use std::collections::BTreeMap;

use voxgate_plugin_sdk::serde_json::Value;

/// The pad symbol, written between every two phonemes.
const PAD: char = '_';
/// The beginning-of-sentence symbol.
const BOS: char = '^';
/// The end-of-sentence symbol.
const EOS: char = '$';

/// A voice's map from phoneme symbols (single code points) to ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhonemeIdMap {
    ids: BTreeMap<char, Vec<i64>>,
}

impl PhonemeIdMap {
    /// Reads a Piper `phoneme_id_map`: an object from a one-code-point string to a list of
    /// ids.
    ///
    /// # Errors
    ///
    /// Returns a message naming the entry when the map is malformed or lacks `_`, `^` or
    /// `$`.
    pub fn from_json(value: &Value) -> Result<Self, String> {
        let object = value
            .as_object()
            .ok_or_else(|| "phoneme_id_map is not an object".to_string())?;

        let mut ids = BTreeMap::new();
        for (symbol, list) in object {
            let mut characters = symbol.chars();
            let (Some(character), None) = (characters.next(), characters.next()) else {
                return Err(format!(
                    "phoneme_id_map key {symbol:?} is not one code point"
                ));
            };
            let list = list
                .as_array()
                .and_then(|items| {
                    items
                        .iter()
                        .map(Value::as_i64)
                        .collect::<Option<Vec<i64>>>()
                })
                .filter(|items| !items.is_empty())
                .ok_or_else(|| {
                    format!("phoneme_id_map entry {symbol:?} is not a list of integers")
                })?;
            ids.insert(character, list);
        }

        for required in [PAD, BOS, EOS] {
            if !ids.contains_key(&required) {
                return Err(format!("phoneme_id_map has no {required:?} entry"));
            }
        }
        Ok(Self { ids })
    }

    /// Returns the ids for a phoneme string. Symbols the voice does not know are skipped, as
    /// Piper does; [`PhonemeIdMap::missing`] lists them so tests can prove none occur.
    pub fn ids(&self, phonemes: &str) -> Vec<i64> {
        let pad = self.get(PAD);
        let mut ids = Vec::with_capacity(id_count(phonemes));
        ids.extend_from_slice(self.get(BOS));
        ids.extend_from_slice(pad);
        for symbol in phonemes.chars() {
            if let Some(symbol_ids) = self.ids.get(&symbol) {
                ids.extend_from_slice(symbol_ids);
                ids.extend_from_slice(pad);
            }
        }
        ids.extend_from_slice(self.get(EOS));
        ids
    }

    /// Returns the symbols in `symbols` that the voice has no id for.
    pub fn missing(&self, symbols: impl IntoIterator<Item = char>) -> Vec<char> {
        let mut missing: Vec<char> = symbols
            .into_iter()
            .filter(|symbol| !self.ids.contains_key(symbol))
            .collect();
        missing.sort_unstable();
        missing.dedup();
        missing
    }

    fn get(&self, symbol: char) -> &[i64] {
        // `from_json` guarantees the pad, start and end symbols.
        self.ids.get(&symbol).map(Vec::as_slice).unwrap_or(&[])
    }
}

/// Returns how many ids a phoneme string becomes when every symbol is known: start, pad, two
/// per symbol, end.
pub fn id_count(phonemes: &str) -> usize {
    3 + 2 * phonemes.chars().count()
}

#[cfg(test)]
mod tests {
    use voxgate_plugin_sdk::serde_json::json;

    use super::*;

    fn sample_map() -> PhonemeIdMap {
        // Ids chosen for the test, not those of any voice.
        PhonemeIdMap::from_json(&json!({
            "_": [0], "^": [1], "$": [2], " ": [3], ",": [4], ".": [5],
            "h": [10], "ə": [11], "l": [12], "ˈ": [13], "o": [14], "ʊ": [15],
        }))
        .unwrap()
    }

    #[test]
    fn piper_layout() {
        let ids = sample_map().ids("həlˈoʊ.");

        assert_eq!(
            ids,
            vec![1, 0, 10, 0, 11, 0, 12, 0, 13, 0, 14, 0, 15, 0, 5, 0, 2]
        );
        assert_eq!(ids.len(), id_count("həlˈoʊ."));
    }

    #[test]
    fn unknown_symbols_are_skipped_and_reported() {
        let map = sample_map();

        assert_eq!(map.ids("hx"), vec![1, 0, 10, 0, 2]);
        assert_eq!(map.missing("hxqx".chars()), vec!['q', 'x']);
    }

    #[test]
    fn malformed_maps_are_refused() {
        let cases = [
            (json!([]), "not an object"),
            (json!({"ab": [1]}), "not one code point"),
            (json!({"_": []}), "not a list of integers"),
            (json!({"_": ["x"]}), "not a list of integers"),
            (json!({"_": [0], "^": [1]}), "no '$' entry"),
        ];
        for (value, expected) in cases {
            let error = PhonemeIdMap::from_json(&value).unwrap_err();
            assert!(error.contains(expected), "{value}: {error}");
        }
    }
}
