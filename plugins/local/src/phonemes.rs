//! Words to phonemes, without espeak: CMUdict, weak forms of function words, suffix and
//! compound rules and letter-to-sound rules, written in the IPA that Piper voices read.

pub mod arpabet;
pub mod dictionary;
pub mod ids;
pub mod letters;
mod weak_forms;
pub mod words;

use crate::text::Token;
use arpabet::Phone;
use dictionary::Dictionary;

/// A phonemized piece of a sentence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// One word's phonemes in IPA, such as `həlˈoʊ`.
    Word(String),
    /// Clause or sentence punctuation, passed to the voice as it was trained.
    Punctuation(char),
}

/// Turns normalised tokens into phonemes.
#[derive(Debug, Clone, Copy)]
pub struct Phonemizer<'a> {
    dictionary: Dictionary<'a>,
}

impl<'a> Phonemizer<'a> {
    /// Creates a phonemizer that looks words up in `dictionary`.
    pub fn new(dictionary: Dictionary<'a>) -> Self {
        Self { dictionary }
    }

    /// Phonemizes one sentence (or any run of tokens). Every word and every spelled
    /// letter gives a non-empty [`Piece::Word`].
    pub fn phonemize(&self, tokens: &[Token]) -> Vec<Piece> {
        let phones: Vec<Option<Vec<Phone>>> =
            tokens.iter().map(|token| self.citation(token)).collect();

        let mut pieces = Vec::with_capacity(tokens.len());
        for (index, token) in tokens.iter().enumerate() {
            let piece = match (token, &phones[index]) {
                (Token::Punctuation(mark), _) => Piece::Punctuation(*mark),
                (Token::Word(word), Some(citation)) => {
                    let next_vowel =
                        starts_with_vowel(phones.get(index + 1).and_then(Option::as_ref));
                    let weak = weak_forms::weak_form(word, next_vowel);
                    Piece::Word(arpabet::to_ipa(weak.as_deref().unwrap_or(citation)))
                }
                (_, Some(citation)) => Piece::Word(arpabet::to_ipa(citation)),
                (_, None) => continue,
            };
            pieces.push(piece);
        }
        pieces
    }

    /// Returns a word's dictionary or rule phones, or a spelled word's letter names.
    fn citation(&self, token: &Token) -> Option<Vec<Phone>> {
        match token {
            Token::Word(word) => Some(words::phones(&self.dictionary, word).0),
            Token::Spell(letters) => Some(words::spell(letters)),
            Token::Punctuation(_) => None,
        }
    }
}

fn starts_with_vowel(phones: Option<&Vec<Phone>>) -> bool {
    phones
        .and_then(|phones| phones.first())
        .is_some_and(Phone::is_vowel)
}

#[cfg(test)]
mod tests {
    use super::dictionary::tests::SAMPLE;
    use super::*;
    use crate::text::normalize;

    fn phonemize(text: &str) -> Vec<Piece> {
        let phonemizer = Phonemizer::new(Dictionary::new(SAMPLE.as_bytes()));
        phonemizer.phonemize(&normalize(text).unwrap())
    }

    fn word(ipa: &str) -> Piece {
        Piece::Word(ipa.to_string())
    }

    #[test]
    fn sentence_with_weak_forms_and_punctuation() {
        assert_eq!(
            phonemize("Hello, the world."),
            vec![
                word("həlˈoʊ"),
                Piece::Punctuation(','),
                word("ðə"),
                word("wˈɜːld"),
                Piece::Punctuation('.'),
            ]
        );
    }

    #[test]
    fn phonemize_the_before_vowel() {
        assert_eq!(phonemize("the FBI")[0], word("ði"));
    }

    #[test]
    fn no_word_is_dropped() {
        let text = "Zyxwv 42 glorpington FBI $3 hello";
        let words = normalize(text)
            .unwrap()
            .iter()
            .filter(|token| !matches!(token, Token::Punctuation(_)))
            .count();
        let pieces = phonemize(text);

        assert_eq!(pieces.len(), words);
        assert!(
            pieces
                .iter()
                .all(|piece| matches!(piece, Piece::Word(ipa) if !ipa.is_empty()))
        );
    }
}
