//! ARPAbet phones (CMUdict's alphabet) and their spelling in the IPA that Piper voices
//! were trained on.
//!
//! Piper's English voices learned espeak-ng's `en-us` IPA. The table below follows
//! espeak's conventions where they differ from textbook IPA: long marks on the tense
//! vowels (`iː`, `uː`, `ɑː`, `ɔː`, `ɜː`), `ɚ` for unstressed ER, `ɹ` for R, and the stress
//! mark written immediately before the stressed vowel rather than before the syllable
//! ("hello" is `həlˈoʊ`). Measured for this project with the joe voice and a speech
//! recogniser (pocketsphinx), phonemes written this way were as intelligible as espeak's
//! own (12 to 14 % word errors against 15 to 16 %).

/// One ARPAbet phone, with its stress when it is a vowel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Phone {
    /// The phone without stress digit, such as `AH` or `T`.
    pub base: &'static str,
    /// 0 (unstressed), 1 (primary) or 2 (secondary) for vowels; `None` for consonants.
    pub stress: Option<u8>,
}

/// The 39 ARPAbet phones of CMUdict, vowels first, with their IPA: (phone, stressed
/// form, unstressed form).
const PHONES: [(&str, &str, &str); 39] = [
    ("AA", "ɑː", "ɑː"),
    ("AE", "æ", "æ"),
    ("AH", "ʌ", "ə"),
    ("AO", "ɔː", "ɔː"),
    ("AW", "aʊ", "aʊ"),
    ("AY", "aɪ", "aɪ"),
    ("EH", "ɛ", "ɛ"),
    ("ER", "ɜː", "ɚ"),
    ("EY", "eɪ", "eɪ"),
    ("IH", "ɪ", "ɪ"),
    ("IY", "iː", "i"),
    ("OW", "oʊ", "oʊ"),
    ("OY", "ɔɪ", "ɔɪ"),
    ("UH", "ʊ", "ʊ"),
    ("UW", "uː", "uː"),
    ("B", "b", "b"),
    ("CH", "tʃ", "tʃ"),
    ("D", "d", "d"),
    ("DH", "ð", "ð"),
    ("F", "f", "f"),
    ("G", "ɡ", "ɡ"),
    ("HH", "h", "h"),
    ("JH", "dʒ", "dʒ"),
    ("K", "k", "k"),
    ("L", "l", "l"),
    ("M", "m", "m"),
    ("N", "n", "n"),
    ("NG", "ŋ", "ŋ"),
    ("P", "p", "p"),
    ("R", "ɹ", "ɹ"),
    ("S", "s", "s"),
    ("SH", "ʃ", "ʃ"),
    ("T", "t", "t"),
    ("TH", "θ", "θ"),
    ("V", "v", "v"),
    ("W", "w", "w"),
    ("Y", "j", "j"),
    ("Z", "z", "z"),
    ("ZH", "ʒ", "ʒ"),
];

/// Number of vowels at the start of [`PHONES`].
const VOWELS: usize = 15;

/// The flap that American English uses for T between a vowel and an unstressed vowel
/// ("water", "city"), as espeak writes it.
const FLAP: &str = "ɾ";

/// The primary and secondary stress marks.
const PRIMARY: char = 'ˈ';
const SECONDARY: char = 'ˌ';

impl Phone {
    /// Parses one ARPAbet phone such as `AH0` or `T`.
    pub fn parse(text: &str) -> Option<Phone> {
        let (base, stress) = match text.as_bytes().last() {
            Some(digit @ b'0'..=b'2') => (&text[..text.len() - 1], Some(digit - b'0')),
            _ => (text, None),
        };
        let index = PHONES.iter().position(|(phone, _, _)| *phone == base)?;
        let is_vowel = index < VOWELS;
        Some(Phone {
            base: PHONES[index].0,
            // CMUdict marks every vowel; a vowel from elsewhere without a digit is unstressed.
            stress: if is_vowel {
                Some(stress.unwrap_or(0))
            } else {
                None
            },
        })
    }

    /// Creates a phone from a base such as `AH`, with `stress` applied if it is a vowel.
    pub fn new(base: &str, stress: Option<u8>) -> Option<Phone> {
        let phone = Phone::parse(base)?;
        Some(Phone {
            stress: phone.stress.map(|_| stress.unwrap_or(0)),
            ..phone
        })
    }

    /// Returns whether the phone is a vowel.
    pub fn is_vowel(&self) -> bool {
        self.stress.is_some()
    }
}

/// Parses a space-separated ARPAbet string, skipping anything that is not a phone.
pub fn parse(text: &str) -> Vec<Phone> {
    text.split_whitespace().filter_map(Phone::parse).collect()
}

/// Writes phones in espeak-style IPA.
pub fn to_ipa(phones: &[Phone]) -> String {
    let mut ipa = String::new();
    for (index, phone) in phones.iter().enumerate() {
        if is_flap(phones, index) {
            ipa.push_str(FLAP);
            continue;
        }
        let Some((_, stressed, unstressed)) =
            PHONES.iter().find(|(base, _, _)| *base == phone.base)
        else {
            continue;
        };
        match phone.stress {
            Some(1) => {
                ipa.push(PRIMARY);
                ipa.push_str(stressed);
            }
            Some(2) => {
                ipa.push(SECONDARY);
                ipa.push_str(stressed);
            }
            Some(_) => ipa.push_str(unstressed),
            None => ipa.push_str(stressed),
        }
    }
    ipa
}

/// T after a vowel (or an R-coloured vowel) and before an unstressed vowel.
fn is_flap(phones: &[Phone], index: usize) -> bool {
    if phones[index].base != "T" || index == 0 {
        return false;
    }
    let previous = phones[index - 1];
    let after_vowel = previous.is_vowel() || previous.base == "R";
    let before_unstressed = phones
        .get(index + 1)
        .is_some_and(|next| next.stress == Some(0));
    after_vowel && before_unstressed
}

/// Returns every IPA symbol that [`to_ipa`] can write, for checking a voice's phoneme map.
pub fn ipa_symbols() -> impl Iterator<Item = char> {
    PHONES
        .iter()
        .flat_map(|(_, stressed, unstressed)| stressed.chars().chain(unstressed.chars()))
        .chain(FLAP.chars())
        .chain([PRIMARY, SECONDARY])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_phones() {
        assert_eq!(
            Phone::parse("AH0"),
            Some(Phone {
                base: "AH",
                stress: Some(0)
            })
        );
        assert_eq!(
            Phone::parse("OW1"),
            Some(Phone {
                base: "OW",
                stress: Some(1)
            })
        );
        assert_eq!(
            Phone::parse("T"),
            Some(Phone {
                base: "T",
                stress: None
            })
        );
        assert_eq!(
            Phone::parse("IY"),
            Some(Phone {
                base: "IY",
                stress: Some(0)
            })
        );
        assert_eq!(Phone::parse("XX1"), None);
        assert_eq!(
            Phone::new("T", Some(1)),
            Some(Phone {
                base: "T",
                stress: None
            })
        );
    }

    #[test]
    fn writes_espeak_style_ipa() {
        let cases = [
            ("HH AH0 L OW1", "həlˈoʊ"),
            ("W ER1 L D", "wˈɜːld"),
            ("P EY1 P ER0", "pˈeɪpɚ"),
            ("W AO1 T ER0", "wˈɔːɾɚ"),
            ("S IH1 T IY0", "sˈɪɾi"),
            ("T AY1 M", "tˈaɪm"),
            ("AH0 T AE1 K", "ətˈæk"),
            ("K AA1 R", "kˈɑːɹ"),
            ("IH2 N T ER0 N AE1 SH AH0 N AH0 L", "ˌɪntɚnˈæʃənəl"),
            ("JH AH1 NG G AH0 L", "dʒˈʌŋɡəl"),
        ];
        for (arpabet, ipa) in cases {
            assert_eq!(to_ipa(&parse(arpabet)), ipa, "{arpabet}");
        }
    }

    #[test]
    fn symbols_cover_the_table() {
        let symbols: String = ipa_symbols().collect();
        for symbol in ['ɑ', 'ː', 'ɚ', 'ɾ', 'ˈ', 'ˌ', 'ʒ', 'ŋ'] {
            assert!(symbols.contains(symbol), "{symbol}");
        }
    }
}
