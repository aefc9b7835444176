//! Letter-to-sound rules for words the dictionary lacks, and letter names for spelling.
//!
//! The rules are deliberately small: English spelling cannot be read by rule alone, but
//! any reading is better than silence, and the dictionary already covers 126,000 words.
//! They read the common graphemes (digraphs, a silent final e that lengthens the vowel
//! before it, soft c and g), stress the first vowel and reduce the other short vowels.

use super::arpabet::Phone;

/// Grapheme rules, longest first: (letters, phones). A phone string may be empty for a
/// silent grapheme. Position-dependent cases are handled in [`sound_out`].
const GRAPHEMES: [(&str, &str); 56] = [
    ("eigh", "EY"),
    ("tion", "SH AH N"),
    ("sion", "ZH AH N"),
    ("ture", "CH ER"),
    ("ough", "OW"),
    ("augh", "AO"),
    ("igh", "AY"),
    ("tch", "CH"),
    ("dge", "JH"),
    ("sch", "S K"),
    ("que", "K"),
    ("ch", "CH"),
    ("sh", "SH"),
    ("th", "TH"),
    ("ph", "F"),
    ("wh", "W"),
    ("ck", "K"),
    ("ng", "NG"),
    ("qu", "K W"),
    ("gh", "G"),
    ("ee", "IY"),
    ("ea", "IY"),
    ("oo", "UW"),
    ("ai", "EY"),
    ("ay", "EY"),
    ("oa", "OW"),
    ("ou", "AW"),
    ("oi", "OY"),
    ("oy", "OY"),
    ("au", "AO"),
    ("aw", "AO"),
    ("ew", "UW"),
    ("ei", "EY"),
    ("ey", "IY"),
    ("ie", "IY"),
    ("ue", "UW"),
    ("ui", "UW"),
    ("eu", "Y UW"),
    ("ar", "AA R"),
    ("er", "ER"),
    ("ir", "ER"),
    ("ur", "ER"),
    ("or", "AO R"),
    ("a", "AE"),
    ("e", "EH"),
    ("i", "IH"),
    ("o", "AA"),
    ("u", "AH"),
    ("j", "JH"),
    ("q", "K"),
    ("x", "K S"),
    ("c", "K"),
    ("g", "G"),
    ("y", "IH"),
    ("w", "W"),
    ("h", "HH"),
];

/// Returns the long vowel that a silent final e gives the vowel before it ("make", "time").
fn long_vowel(vowel: u8) -> Option<&'static str> {
    match vowel {
        b'a' => Some("EY"),
        b'e' => Some("IY"),
        b'i' | b'y' => Some("AY"),
        b'o' => Some("OW"),
        b'u' => Some("UW"),
        _ => None,
    }
}

fn is_vowel_letter(letter: u8) -> bool {
    matches!(letter, b'a' | b'e' | b'i' | b'o' | b'u' | b'y')
}

/// Sounds out a lower-case ASCII word by rule. Letters outside a-z are skipped.
pub fn sound_out(word: &str) -> Vec<Phone> {
    let letters: Vec<u8> = word.bytes().filter(u8::is_ascii_lowercase).collect();
    let silent_e = silent_final_e(&letters);
    let mut bases: Vec<&'static str> = Vec::new();
    let mut index = 0;

    while index < letters.len() {
        if silent_e == Some(index) {
            index += 1;
            continue;
        }
        let (phones, used) = grapheme(&letters, index, silent_e);
        bases.extend(phones.split_whitespace());
        index += used;
    }

    stress(&bases)
}

/// Returns the index of a final e that is silent: after a consonant, in a word with another
/// vowel before it ("make", but not "be" or "the").
fn silent_final_e(letters: &[u8]) -> Option<usize> {
    let last = letters.len().checked_sub(1)?;
    let is_final_e = letters[last] == b'e' && last >= 2 && !is_vowel_letter(letters[last - 1]);
    let has_other_vowel = letters[..last - usize::from(last > 0)]
        .iter()
        .any(|&letter| is_vowel_letter(letter) && letter != b'y');
    (is_final_e && has_other_vowel).then_some(last)
}

/// Returns the phones for the grapheme at `index` and how many letters it used.
fn grapheme(letters: &[u8], index: usize, silent_e: Option<usize>) -> (&'static str, usize) {
    let letter = letters[index];
    let next = letters.get(index + 1).copied();
    let is_first = index == 0;

    // Position-dependent consonants.
    match (letter, next) {
        (b'k' | b'g', Some(b'n')) if is_first => return ("N", 2),
        (b'w', Some(b'r')) if is_first => return ("R", 2),
        (b'p', Some(b's')) if is_first => return ("S", 2),
        (b'c' | b'g', Some(b'e' | b'i' | b'y')) => {
            return (if letter == b'c' { "S" } else { "JH" }, 1);
        }
        (b'x', _) if is_first => return ("Z", 1),
        (b'y', _) if is_first && next.is_some_and(is_vowel_letter) => return ("Y", 1),
        (b's', _)
            if index > 0
                && is_vowel_letter(letters[index - 1])
                && next.is_some_and(is_vowel_letter) =>
        {
            return ("Z", 1);
        }
        _ => {}
    }

    // A doubled consonant sounds once.
    if next == Some(letter) && !is_vowel_letter(letter) {
        return (single_consonant(letter), 2);
    }

    // A vowel, one consonant, then the silent e: the vowel is long.
    if let Some(e) = silent_e
        && index + 2 == e
        && is_vowel_letter(letter)
        && let Some(long) = long_vowel(letter)
    {
        return (long, 1);
    }

    // A final y after a consonant: "happy", or "my" in a short word.
    if letter == b'y' && index + 1 == letters.len() && index > 0 {
        return (if letters.len() <= 3 { "AY" } else { "IY" }, 1);
    }

    let rest = &letters[index..];
    for (graphemes, phones) in GRAPHEMES {
        if rest.starts_with(graphemes.as_bytes()) {
            return (phones, graphemes.len());
        }
    }
    (single_consonant(letter), 1)
}

/// Consonants that sound as their own ARPAbet phone.
fn single_consonant(letter: u8) -> &'static str {
    match letter {
        b'b' => "B",
        b'd' => "D",
        b'f' => "F",
        b'h' => "HH",
        b'k' | b'c' | b'q' => "K",
        b'l' => "L",
        b'm' => "M",
        b'n' => "N",
        b'p' => "P",
        b'r' => "R",
        b's' => "S",
        b't' => "T",
        b'v' => "V",
        b'w' => "W",
        b'x' => "K S",
        b'z' => "Z",
        b'g' => "G",
        b'j' => "JH",
        _ => "",
    }
}

/// Gives the first vowel primary stress; later short vowels become the reduced AH0, as
/// unstressed syllables in English mostly are.
fn stress(bases: &[&'static str]) -> Vec<Phone> {
    let mut phones = Vec::with_capacity(bases.len());
    let mut seen_vowel = false;
    for base in bases {
        let Some(phone) = Phone::new(base, None) else {
            continue;
        };
        if !phone.is_vowel() {
            phones.push(phone);
            continue;
        }
        let phone = if !seen_vowel {
            Phone {
                stress: Some(1),
                ..phone
            }
        } else if matches!(phone.base, "AE" | "EH" | "AA" | "AH") {
            Phone {
                base: "AH",
                stress: Some(0),
            }
        } else {
            phone
        };
        seen_vowel = true;
        phones.push(phone);
    }
    phones
}

/// Returns the name of a letter in ARPAbet, as read when spelling ("B" is "bee").
pub fn letter_name(letter: char) -> Option<&'static str> {
    let name = match letter.to_ascii_uppercase() {
        'A' => "EY1",
        'B' => "B IY1",
        'C' => "S IY1",
        'D' => "D IY1",
        'E' => "IY1",
        'F' => "EH1 F",
        'G' => "JH IY1",
        'H' => "EY1 CH",
        'I' => "AY1",
        'J' => "JH EY1",
        'K' => "K EY1",
        'L' => "EH1 L",
        'M' => "EH1 M",
        'N' => "EH1 N",
        'O' => "OW1",
        'P' => "P IY1",
        'Q' => "K Y UW1",
        'R' => "AA1 R",
        'S' => "EH1 S",
        'T' => "T IY1",
        'U' => "Y UW1",
        'V' => "V IY1",
        'W' => "D AH1 B AH0 L Y UW0",
        'X' => "EH1 K S",
        'Y' => "W AY1",
        'Z' => "Z IY1",
        _ => return None,
    };
    Some(name)
}

#[cfg(test)]
mod tests {
    use super::super::arpabet::to_ipa;
    use super::*;

    fn ipa(word: &str) -> String {
        to_ipa(&sound_out(word))
    }

    #[test]
    fn reads_common_patterns() {
        let cases = [
            ("cat", "kˈæt"),
            ("make", "mˈeɪk"),
            ("time", "tˈaɪm"),
            ("ship", "ʃˈɪp"),
            ("knight", "nˈaɪt"),
            ("city", "sˈɪɾi"),
            ("gem", "dʒˈɛm"),
            ("nation", "nˈæʃən"),
            ("boat", "bˈoʊt"),
            ("my", "mˈaɪ"),
            ("rose", "ɹˈoʊz"),
            ("yes", "jˈɛs"),
            ("kitten", "kˈɪɾən"),
        ];
        for (word, expected) in cases {
            assert_eq!(ipa(word), expected, "{word}");
        }
    }

    #[test]
    fn every_word_gets_sounds() {
        for word in [
            "kubernetes",
            "wasmtime",
            "json",
            "zyx",
            "qwrtp",
            "aeiou",
            "x",
            "e",
        ] {
            assert!(!sound_out(word).is_empty(), "{word}");
        }
    }

    #[test]
    fn one_primary_stress() {
        let phones = sound_out("kubernetes");
        let primary = phones
            .iter()
            .filter(|phone| phone.stress == Some(1))
            .count();
        assert_eq!(primary, 1);
    }

    #[test]
    fn letter_names_parse() {
        for letter in 'A'..='Z' {
            let name = letter_name(letter).unwrap();
            assert!(super::super::arpabet::parse(name).len() >= 1, "{letter}");
        }
        assert_eq!(letter_name('1'), None);
    }
}
