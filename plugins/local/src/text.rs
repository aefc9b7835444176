//! The text front end: from what a caller wrote to words a phonemizer can read.
//!
//! [`normalize`] expands numbers, money, dates, times, units, abbreviations and acronyms
//! into [`Token`]s, and [`sentences`] groups them so that the voice speaks one sentence at
//! a time. A word the dictionary lacks is still a word. Text mostly in another script is
//! an error (another provider should speak it); a few such words in English text are
//! skipped.

mod abbreviations;
mod latin;
mod normalize;
pub mod numbers;
mod scan;

pub use normalize::normalize;

/// One unit of normalised text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token {
    /// A word in lower-case ASCII letters, possibly with apostrophes ("don't").
    Word(String),
    /// Capital letters to say one at a time, such as an acronym ("FBI").
    Spell(String),
    /// Clause or sentence punctuation that Piper voices were trained with: `, ; : . ? !`.
    Punctuation(char),
}

/// An error reading text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TextError {
    /// A letter of a script the English phonemizer cannot read.
    UnsupportedScript(char),
}

impl std::fmt::Display for TextError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TextError::UnsupportedScript(character) => write!(
                formatter,
                "the local voice reads English only and cannot read the letter '{character}' (U+{:04X})",
                u32::from(*character)
            ),
        }
    }
}

impl std::error::Error for TextError {}

/// Splits tokens into sentences, each ending with its `.`, `?` or `!` when it had one.
pub fn sentences(tokens: Vec<Token>) -> Vec<Vec<Token>> {
    let mut sentences = Vec::new();
    let mut current = Vec::new();
    for token in tokens {
        let ends_sentence = matches!(token, Token::Punctuation('.' | '?' | '!'));
        current.push(token);
        if ends_sentence {
            sentences.push(std::mem::take(&mut current));
        }
    }

    let has_words = current
        .iter()
        .any(|token| !matches!(token, Token::Punctuation(_)));
    if has_words {
        sentences.push(current);
    }
    sentences
}

#[cfg(test)]
mod tests {
    use super::*;

    fn word(text: &str) -> Token {
        Token::Word(text.to_string())
    }

    #[test]
    fn sentences_keep_their_end_marks() {
        let tokens = normalize("Hi there. Is it 5? Yes").unwrap();

        let split = sentences(tokens);

        assert_eq!(
            split,
            vec![
                vec![word("hi"), word("there"), Token::Punctuation('.')],
                vec![
                    word("is"),
                    word("it"),
                    word("five"),
                    Token::Punctuation('?')
                ],
                vec![word("yes")],
            ]
        );
    }

    #[test]
    fn punctuation_alone_is_no_sentence() {
        assert!(sentences(normalize("...").unwrap()).is_empty());
        assert!(sentences(normalize("   ").unwrap()).is_empty());
    }

    #[test]
    fn error_names_the_letter() {
        let message = TextError::UnsupportedScript('ж').to_string();
        assert!(message.contains("'ж' (U+0436)"), "{message}");
    }
}
