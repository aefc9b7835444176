//! Splitting a text longer than a model accepts into parts that each fit, at the most
//! natural boundary available: sentences, then clauses, then words.

/// Splits `text` into parts of at most `max_characters` characters each. Parts keep their
/// own punctuation and trailing spaces are trimmed; no character other than whitespace
/// between parts is lost.
pub fn split_text(text: &str, max_characters: usize) -> Vec<String> {
    let max_characters = max_characters.max(1);
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut current_len = 0;

    for piece in pieces(text, max_characters) {
        let piece_len = piece.chars().count();
        // Trailing whitespace is trimmed from a part, so it does not count against the limit.
        let visible_len = piece.trim_end().chars().count();
        if current_len + visible_len > max_characters && !current.trim().is_empty() {
            parts.push(current.trim().to_string());
            current.clear();
            current_len = 0;
        }
        current.push_str(&piece);
        current_len += piece_len;
    }
    if !current.trim().is_empty() {
        parts.push(current.trim().to_string());
    }
    parts
}

/// Breaks text into pieces no longer than `max` characters: sentences where they fit,
/// else clauses, else words, else hard cuts.
fn pieces(text: &str, max: usize) -> Vec<String> {
    let mut result = Vec::new();
    for sentence in split_after(text, is_sentence_end) {
        if sentence.chars().count() <= max {
            result.push(sentence);
            continue;
        }
        for clause in split_after(&sentence, is_clause_end) {
            if clause.chars().count() <= max {
                result.push(clause);
                continue;
            }
            for word in split_after(&clause, char::is_whitespace) {
                if word.chars().count() <= max {
                    result.push(word);
                    continue;
                }
                let characters: Vec<char> = word.chars().collect();
                result.extend(characters.chunks(max).map(|chunk| chunk.iter().collect()));
            }
        }
    }
    result
}

fn is_sentence_end(character: char) -> bool {
    matches!(character, '.' | '!' | '?' | '\n' | '。' | '！' | '？')
}

fn is_clause_end(character: char) -> bool {
    matches!(character, ',' | ';' | ':' | '—' | '，' | '；')
}

/// Splits after each boundary character (and the whitespace that follows it), keeping
/// every character.
fn split_after(text: &str, is_boundary: impl Fn(char) -> bool) -> Vec<String> {
    let mut pieces = Vec::new();
    let mut current = String::new();
    let mut after_boundary = false;
    for character in text.chars() {
        if after_boundary && !character.is_whitespace() && !is_boundary(character) {
            pieces.push(std::mem::take(&mut current));
            after_boundary = false;
        }
        current.push(character);
        if is_boundary(character) {
            after_boundary = true;
        }
    }
    if !current.is_empty() {
        pieces.push(current);
    }
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_one_part() {
        assert_eq!(split_text("Hello there.", 100), vec!["Hello there."]);
    }

    #[test]
    fn splits_at_sentences() {
        let parts = split_text("One two. Three four. Five six.", 20);
        assert_eq!(parts, vec!["One two. Three four.", "Five six."]);
    }

    #[test]
    fn falls_back_to_clauses_then_words() {
        let parts = split_text("alpha beta, gamma delta epsilon zeta", 12);
        assert!(parts.iter().all(|part| part.chars().count() <= 12), "{parts:?}");
        assert_eq!(parts.join(" ").split_whitespace().count(), 6, "{parts:?}");
    }

    #[test]
    fn hard_cuts_a_long_word() {
        let parts = split_text(&"x".repeat(25), 10);
        assert_eq!(parts.iter().map(|part| part.len()).collect::<Vec<_>>(), vec![10, 10, 5]);
    }

    #[test]
    fn keeps_every_word_of_long_text() {
        let text = "The quick brown fox jumps over the lazy dog. ".repeat(500);
        let parts = split_text(&text, 4096);
        assert!(parts.iter().all(|part| part.chars().count() <= 4096));
        let words: usize = parts.iter().map(|part| part.split_whitespace().count()).sum();
        assert_eq!(words, text.split_whitespace().count());
    }

    #[test]
    fn counts_characters_not_bytes() {
        let parts = split_text(&"é".repeat(30), 10);
        assert_eq!(parts.len(), 3);
    }
}
