//! Phonemized sentences to utterances: the phoneme strings the voice speaks in one
//! inference each.
//!
//! The voice's memory grows with the length of what it speaks at once (the decoder's
//! activations scale with the number of audio frames), so a sentence longer than the
//! limit is split at its clause punctuation, and a clause longer than the limit between
//! words. Piper itself speaks one sentence per inference for the same reason.

use crate::phonemes::Piece;

/// Splits one sentence's pieces into phoneme strings of at most `max_ids` ids each (see
/// [`crate::phonemes::ids::id_count`]). A single word longer than the limit is cut between symbols.
pub fn utterances(pieces: &[Piece], max_ids: usize) -> Vec<String> {
    // The budget in phoneme symbols: `id_count` is 3 + 2 per symbol.
    let max_symbols = (max_ids.saturating_sub(3) / 2).max(1);
    let mut utterances = Vec::new();
    let mut current = String::new();

    for clause in clauses(pieces) {
        let clause_text = render(clause);
        if fits(&current, &clause_text, max_symbols) {
            append(&mut current, &clause_text);
            continue;
        }
        flush(&mut current, &mut utterances);
        if symbol_count(&clause_text) <= max_symbols {
            current = clause_text;
            continue;
        }

        // The clause alone is too long: split between words.
        for piece in clause {
            let text = render(std::slice::from_ref(piece));
            if fits(&current, &text, max_symbols) {
                append(&mut current, &text);
                continue;
            }
            flush(&mut current, &mut utterances);
            for part in cut(&text, max_symbols) {
                if fits(&current, &part, max_symbols) {
                    append(&mut current, &part);
                } else {
                    flush(&mut current, &mut utterances);
                    current = part;
                }
            }
        }
    }
    flush(&mut current, &mut utterances);
    utterances
}

/// Runs of pieces that each end with punctuation (or the end of the sentence).
fn clauses(pieces: &[Piece]) -> impl Iterator<Item = &[Piece]> {
    pieces.split_inclusive(|piece| matches!(piece, Piece::Punctuation(_)))
}

/// Writes pieces the way espeak's phonemizer does: words separated by spaces, and
/// punctuation attached to the word before it ("həlˈoʊ, wˈɜːld.").
pub fn render(pieces: &[Piece]) -> String {
    let mut text = String::new();
    for piece in pieces {
        match piece {
            Piece::Word(ipa) => {
                if !text.is_empty() {
                    text.push(' ');
                }
                text.push_str(ipa);
            }
            Piece::Punctuation(mark) => text.push(*mark),
        }
    }
    text
}

fn symbol_count(text: &str) -> usize {
    text.chars().count()
}

fn fits(current: &str, addition: &str, max_symbols: usize) -> bool {
    let separator = usize::from(!current.is_empty() && !starts_with_punctuation(addition));
    symbol_count(current) + separator + symbol_count(addition) <= max_symbols
}

fn append(current: &mut String, addition: &str) {
    if !current.is_empty() && !starts_with_punctuation(addition) {
        current.push(' ');
    }
    current.push_str(addition);
}

fn starts_with_punctuation(text: &str) -> bool {
    text.starts_with([',', ';', ':', '.', '?', '!'])
}

fn flush(current: &mut String, utterances: &mut Vec<String>) {
    let has_speech = current
        .chars()
        .any(|symbol| !symbol.is_ascii_punctuation() && symbol != ' ');
    if has_speech {
        utterances.push(std::mem::take(current));
    } else {
        current.clear();
    }
}

/// Cuts text into parts of at most `max_symbols` code points.
fn cut(text: &str, max_symbols: usize) -> Vec<String> {
    let symbols: Vec<char> = text.chars().collect();
    symbols
        .chunks(max_symbols)
        .map(|part| part.iter().collect())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::phonemes::ids::id_count;

    fn word(ipa: &str) -> Piece {
        Piece::Word(ipa.to_string())
    }

    fn sentence() -> Vec<Piece> {
        vec![
            word("həlˈoʊ"),
            Piece::Punctuation(','),
            word("ðə"),
            word("wˈɜːld"),
            Piece::Punctuation('.'),
        ]
    }

    #[test]
    fn renders_like_espeak() {
        assert_eq!(render(&sentence()), "həlˈoʊ, ðə wˈɜːld.");
    }

    #[test]
    fn short_sentence_is_one_utterance() {
        assert_eq!(
            utterances(&sentence(), 400),
            vec!["həlˈoʊ, ðə wˈɜːld.".to_string()]
        );
    }

    #[test]
    fn long_sentence_splits_at_the_clause() {
        // "həlˈoʊ," is 7 symbols, " ðə wˈɜːld." 11 more: a 12-symbol limit splits them.
        let split = utterances(&sentence(), id_count("ðə wˈɜːld."));

        assert_eq!(split, vec!["həlˈoʊ,".to_string(), "ðə wˈɜːld.".to_string()]);
    }

    #[test]
    fn long_clause_splits_between_words() {
        let split = utterances(&sentence(), id_count("wˈɜːld."));

        assert_eq!(
            split,
            vec![
                "həlˈoʊ,".to_string(),
                "ðə".to_string(),
                "wˈɜːld.".to_string()
            ]
        );
    }

    #[test]
    fn every_utterance_fits_and_nothing_is_lost() {
        let pieces: Vec<Piece> = (0..50)
            .map(|index| word(&"ab".repeat(index % 7 + 1)))
            .collect();
        for max_ids in [9, 21, 51, 101] {
            let split = utterances(&pieces, max_ids);
            assert!(
                split.iter().all(|text| id_count(text) <= max_ids),
                "{max_ids}"
            );
            let joined: String = split
                .concat()
                .chars()
                .filter(|symbol| *symbol != ' ')
                .collect();
            let expected: String = render(&pieces)
                .chars()
                .filter(|symbol| *symbol != ' ')
                .collect();
            assert_eq!(joined, expected, "{max_ids}");
        }
    }

    #[test]
    fn punctuation_alone_is_not_spoken() {
        assert!(utterances(&[Piece::Punctuation('.')], 100).is_empty());
    }
}
