//! One word to phones: the dictionary first, then the dictionary with a suffix or a
//! compound split, then letter-to-sound rules. Every path gives some phones, so no word
//! is ever silent.

use super::arpabet::{self, Phone};
use super::dictionary::Dictionary;
use super::letters;

/// Suffixes read as the base word plus a sound: (suffix, what the base may end in to be
/// restored, phones). "making" is "make" + IH0 NG; "tokenizer" is "token" + AY2 Z ER0.
const SUFFIXES: [(&str, &str, &str); 14] = [
    ("'s", "", "Z"),
    ("s", "", "Z"),
    ("es", "", "IH0 Z"),
    ("ed", "", "D"),
    ("ed", "e", "D"),
    ("ing", "", "IH0 NG"),
    ("ing", "e", "IH0 NG"),
    ("er", "", "ER0"),
    ("ers", "", "ER0 Z"),
    ("ly", "", "L IY0"),
    ("ness", "", "N AH0 S"),
    ("izer", "", "AY2 Z ER0"),
    ("ize", "", "AY2 Z"),
    ("able", "", "AH0 B AH0 L"),
];

/// Shortest part of a compound split: shorter dictionary entries ("a", "us", "ex") would
/// split almost any word.
const MIN_COMPOUND_PART: usize = 3;

/// The longest word without vowel letters that is spelled ("mp", "http"). Longer ones are
/// sounded out by rule.
const MAX_SPELLED_LENGTH: usize = 4;

/// The source of a word's phones, for tests and diagnostics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The word is a headword.
    Dictionary,
    /// A headword plus a suffix.
    Suffix,
    /// Two headwords written together.
    Compound,
    /// Spelled letter by letter.
    Spelled,
    /// Letter-to-sound rules.
    Rules,
}

/// Finds phones for a lower-case ASCII word (apostrophes allowed).
pub fn phones(dictionary: &Dictionary<'_>, word: &str) -> (Vec<Phone>, Source) {
    if let Some(found) = dictionary.lookup(word) {
        return (arpabet::parse(found), Source::Dictionary);
    }
    if let Some(found) = with_suffix(dictionary, word) {
        return (found, Source::Suffix);
    }
    if let Some(found) = compound(dictionary, word) {
        return (found, Source::Compound);
    }

    let has_vowel = word.bytes().any(|letter| b"aeiouy".contains(&letter));
    if !has_vowel && word.len() <= MAX_SPELLED_LENGTH {
        return (spell(word), Source::Spelled);
    }
    (letters::sound_out(word), Source::Rules)
}

/// Letter names, with secondary stress on each letter and primary on the last, as in
/// "F B I".
pub fn spell(letters_to_say: &str) -> Vec<Phone> {
    let names: Vec<Vec<Phone>> = letters_to_say
        .chars()
        .filter_map(letters::letter_name)
        .map(arpabet::parse)
        .collect();
    let count = names.len();

    let mut phones = Vec::new();
    for (index, name) in names.into_iter().enumerate() {
        let stress = if index + 1 == count { 1 } else { 2 };
        phones.extend(name.into_iter().map(|phone| match phone.stress {
            Some(1) => Phone {
                stress: Some(stress),
                ..phone
            },
            _ => phone,
        }));
    }
    phones
}

fn with_suffix(dictionary: &Dictionary<'_>, word: &str) -> Option<Vec<Phone>> {
    for (suffix, restore, ending) in SUFFIXES {
        let Some(stem) = word.strip_suffix(suffix) else {
            continue;
        };
        if stem.len() < 2 {
            continue;
        }
        let base = format!("{stem}{restore}");
        // "running" is "run" with its final consonant doubled.
        let undoubled = stem
            .as_bytes()
            .ends_with(&[stem.as_bytes()[stem.len() - 1]; 2])
            .then(|| &stem[..stem.len() - 1]);
        let found = dictionary.lookup(&base).or_else(|| {
            undoubled
                .filter(|_| restore.is_empty())
                .and_then(|stem| dictionary.lookup(stem))
        });
        if let Some(found) = found {
            let mut phones = arpabet::parse(found);
            phones.extend(adjust_ending(&phones, suffix, ending));
            return Some(phones);
        }
    }
    None
}

/// English voicing rules for the plural and past endings: "cats" ends in S, "wanted" in
/// IH0 D, "jumped" in T.
fn adjust_ending(base: &[Phone], suffix: &str, ending: &str) -> Vec<Phone> {
    let last = base.last().map(|phone| phone.base).unwrap_or("");
    let voiceless = matches!(last, "P" | "T" | "K" | "F" | "TH");
    let ending = match suffix {
        "s" | "'s" if matches!(last, "S" | "Z" | "SH" | "ZH" | "CH" | "JH") => "IH0 Z",
        "s" | "'s" if voiceless => "S",
        "ed" if matches!(last, "T" | "D") => "IH0 D",
        "ed" if voiceless || matches!(last, "S" | "SH" | "CH") => "T",
        _ => ending,
    };
    arpabet::parse(ending)
}

/// Two dictionary words written as one ("webassembly", "runtime"). The split whose
/// shorter part is longest wins, which prefers "run|time" over "runt|ime".
fn compound(dictionary: &Dictionary<'_>, word: &str) -> Option<Vec<Phone>> {
    if !word.is_ascii() || word.len() < 2 * MIN_COMPOUND_PART {
        return None;
    }

    let mut best: Option<(usize, Vec<Phone>)> = None;
    for split in MIN_COMPOUND_PART..=word.len() - MIN_COMPOUND_PART {
        let (head, tail) = word.split_at(split);
        let shorter = head.len().min(tail.len());
        if best.as_ref().is_some_and(|(length, _)| *length >= shorter) {
            continue;
        }
        let Some(head_phones) = dictionary.lookup(head) else {
            continue;
        };
        let tail_phones = match dictionary.lookup(tail) {
            Some(found) => arpabet::parse(found),
            None => match with_suffix(dictionary, tail) {
                Some(found) => found,
                None => continue,
            },
        };

        let mut phones = arpabet::parse(head_phones);
        // The first part of an English compound carries the main stress.
        phones.extend(tail_phones.into_iter().map(|phone| match phone.stress {
            Some(1) => Phone {
                stress: Some(2),
                ..phone
            },
            _ => phone,
        }));
        best = Some((shorter, phones));
    }
    best.map(|(_, phones)| phones)
}

#[cfg(test)]
mod tests {
    use super::super::dictionary::tests::SAMPLE;
    use super::*;

    fn ipa(word: &str) -> (String, Source) {
        let dictionary = Dictionary::new(SAMPLE.as_bytes());
        let (phones, source) = phones(&dictionary, word);
        (arpabet::to_ipa(&phones), source)
    }

    #[test]
    fn dictionary_words() {
        assert_eq!(ipa("hello"), ("həlˈoʊ".to_string(), Source::Dictionary));
        assert_eq!(ipa("don't"), ("dˈoʊnt".to_string(), Source::Dictionary));
    }

    #[test]
    fn suffixes_follow_voicing() {
        assert_eq!(ipa("cats"), ("kˈæts".to_string(), Source::Suffix));
        assert_eq!(ipa("papers"), ("pˈeɪpɚz".to_string(), Source::Suffix));
        assert_eq!(ipa("runs"), ("ɹˈʌnz".to_string(), Source::Suffix));
        assert_eq!(ipa("timed"), ("tˈaɪmd".to_string(), Source::Suffix));
        assert_eq!(ipa("running"), ("ɹˈʌnɪŋ".to_string(), Source::Suffix));
        assert_eq!(ipa("timing"), ("tˈaɪmɪŋ".to_string(), Source::Suffix));
        assert_eq!(ipa("world's"), ("wˈɜːldz".to_string(), Source::Suffix));
    }

    #[test]
    fn compounds_split_into_words() {
        assert_eq!(ipa("runtime"), ("ɹˈʌntˌaɪm".to_string(), Source::Compound));
        assert_eq!(
            ipa("webpapers"),
            ("wˈɛbpˌeɪpɚz".to_string(), Source::Compound)
        );
    }

    #[test]
    fn unknown_words_are_never_empty() {
        for word in ["kubernetes", "zork", "mp", "http", "xkcd", "q"] {
            let (sounds, source) = ipa(word);
            assert!(!sounds.is_empty(), "{word} via {source:?}");
        }
        assert_eq!(ipa("mp").1, Source::Spelled);
        assert_eq!(ipa("kubernetes").1, Source::Rules);
    }

    #[test]
    fn spelling_stresses_the_last_letter() {
        let spelled = arpabet::to_ipa(&spell("FBI"));
        assert_eq!(spelled, "ˌɛfbˌiːˈaɪ");
    }
}
