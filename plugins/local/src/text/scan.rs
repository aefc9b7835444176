//! Splits text into raw tokens (words, numbers, dates, times, symbols) for normalisation.
//!
//! The scanner recognises the shapes of written numbers, so that "1,234.5", "3rd",
//! "10:30", "2024-03-15" and "3/15/2024" each arrive as one token, and the normaliser only
//! decides how to read them.

use super::TextError;

/// A piece of the input text.
#[derive(Debug, Clone, PartialEq)]
pub enum Raw {
    /// Letters and inner apostrophes, as written.
    Word(String),
    /// A number, with grouping commas removed: integer digits, fraction digits (empty
    /// when there is no decimal point), and whether commas grouped the thousands
    /// ("1,234" is never a year).
    Number {
        integer: String,
        fraction: String,
        grouped: bool,
    },
    /// A number with an ordinal suffix, such as "21st".
    Ordinal(u64),
    /// A clock time such as "9:05".
    Time { hour: u32, minute: u32 },
    /// A calendar date such as "2024-03-15" or "3/15/2024".
    Date { year: u32, month: u32, day: u32 },
    /// Any other visible character.
    Symbol(char),
}

/// A raw token and whether whitespace came before it.
#[derive(Debug, Clone, PartialEq)]
pub struct Scanned {
    pub raw: Raw,
    /// True when the token follows whitespace or starts the text.
    pub spaced: bool,
}

/// Splits `text` into raw tokens.
///
/// Letters of other scripts than Latin are skipped when most letters are Latin, so that a
/// foreign name in English text does not cost the whole clip.
///
/// # Errors
///
/// Returns [`TextError::UnsupportedScript`] when at least half of the letters are outside
/// the Latin script: that text is not English, and another provider should speak it.
// NOTE: the skipped words are silent. Reading them needs a phonemizer for their language.
pub fn scan(text: &str) -> Result<Vec<Scanned>, TextError> {
    let chars: Vec<char> = text.chars().collect();
    let foreign: Vec<char> = chars
        .iter()
        .copied()
        .filter(|&character| character.is_alphabetic() && !is_letter(character))
        .collect();
    let latin = chars
        .iter()
        .filter(|&&character| is_letter(character))
        .count();
    if let Some(&first) = foreign.first()
        && foreign.len() >= latin
    {
        return Err(TextError::UnsupportedScript(first));
    }

    let mut tokens = Vec::new();
    let mut index = 0;
    let mut spaced = true;

    while index < chars.len() {
        let character = chars[index];
        if character.is_whitespace() {
            spaced = true;
            index += 1;
            continue;
        }

        let (raw, next) = if character.is_ascii_digit() {
            number(&chars, index)
        } else if is_letter(character) {
            word(&chars, index)
        } else if character.is_alphabetic() {
            spaced = true;
            index += 1;
            continue;
        } else {
            (Raw::Symbol(character), index + 1)
        };

        tokens.push(Scanned { raw, spaced });
        spaced = false;
        index = next;
    }

    Ok(tokens)
}

/// Returns whether the phonemizer reads `character`: ASCII letters, and Latin letters with
/// diacritics, which [`super::normalize`] folds to ASCII.
fn is_letter(character: char) -> bool {
    character.is_ascii_alphabetic() || super::latin::fold(character).is_some()
}

fn word(chars: &[char], start: usize) -> (Raw, usize) {
    let mut end = start;
    while end < chars.len() {
        let character = chars[end];
        let inner_apostrophe =
            matches!(character, '\'' | '’') && end + 1 < chars.len() && is_letter(chars[end + 1]);
        if is_letter(character) || inner_apostrophe {
            end += 1;
        } else {
            break;
        }
    }

    let text = chars[start..end]
        .iter()
        .map(|&character| if character == '’' { '\'' } else { character })
        .collect();
    (Raw::Word(text), end)
}

/// Reads the number starting at `start`, trying the most specific shapes first.
fn number(chars: &[char], start: usize) -> (Raw, usize) {
    if let Some(found) = iso_date(chars, start)
        .or_else(|| slash_date(chars, start))
        .or_else(|| time(chars, start))
    {
        return found;
    }

    let (integer, mut end) = grouped_digits(chars, start);
    let grouped = chars[start..end].contains(&',');
    let mut fraction = String::new();
    if end + 1 < chars.len() && chars[end] == '.' && chars[end + 1].is_ascii_digit() {
        let (digits, after) = digit_run(chars, end + 1);
        fraction = digits;
        end = after;
    }

    if fraction.is_empty()
        && let Some(after) = ordinal_suffix(chars, end, &integer)
        && let Ok(value) = integer.parse::<u64>()
    {
        return (Raw::Ordinal(value), after);
    }

    (
        Raw::Number {
            integer,
            fraction,
            grouped,
        },
        end,
    )
}

fn digit_run(chars: &[char], start: usize) -> (String, usize) {
    let mut end = start;
    while end < chars.len() && chars[end].is_ascii_digit() {
        end += 1;
    }
    (chars[start..end].iter().collect(), end)
}

/// Digits with optional thousands commas ("1,234,567"). A comma not followed by exactly
/// three digits ends the number, so "1,2" stays two numbers.
fn grouped_digits(chars: &[char], start: usize) -> (String, usize) {
    let (mut digits, mut end) = digit_run(chars, start);
    if digits.len() > 3 {
        return (digits, end);
    }
    loop {
        let group_fits = end + 3 < chars.len()
            && chars[end] == ','
            && chars[end + 1..end + 4].iter().all(char::is_ascii_digit)
            && chars.get(end + 4).is_none_or(|next| !next.is_ascii_digit());
        if !group_fits {
            return (digits, end);
        }
        digits.extend(&chars[end + 1..end + 4]);
        end += 4;
    }
}

/// Returns the end of an ordinal suffix that matches the number ("1st", "22nd", "13th").
fn ordinal_suffix(chars: &[char], end: usize, digits: &str) -> Option<usize> {
    let suffix: String = chars
        .get(end..end + 2)?
        .iter()
        .collect::<String>()
        .to_lowercase();
    let followed_by_letter = chars.get(end + 2).is_some_and(|next| next.is_alphabetic());
    if followed_by_letter {
        return None;
    }

    let last_two = digits.len().checked_sub(2).map(|from| &digits[from..]);
    let teen = last_two.is_some_and(|pair| pair.starts_with('1'));
    let expected = match (teen, digits.chars().last()?) {
        (false, '1') => "st",
        (false, '2') => "nd",
        (false, '3') => "rd",
        _ => "th",
    };
    (suffix == expected).then_some(end + 2)
}

fn fixed_digits(chars: &[char], start: usize, count: usize) -> Option<u32> {
    let slice = chars.get(start..start + count)?;
    if !slice.iter().all(char::is_ascii_digit) {
        return None;
    }
    slice.iter().collect::<String>().parse().ok()
}

fn ends_number(chars: &[char], end: usize) -> bool {
    chars
        .get(end)
        .is_none_or(|next| !next.is_ascii_alphanumeric())
}

/// `YYYY-MM-DD`.
fn iso_date(chars: &[char], start: usize) -> Option<(Raw, usize)> {
    let year = fixed_digits(chars, start, 4)?;
    (chars.get(start + 4) == Some(&'-')).then_some(())?;
    let month = fixed_digits(chars, start + 5, 2)?;
    (chars.get(start + 7) == Some(&'-')).then_some(())?;
    let day = fixed_digits(chars, start + 8, 2)?;
    let end = start + 10;
    let valid = (1..=12).contains(&month) && (1..=31).contains(&day) && ends_number(chars, end);
    valid.then_some((Raw::Date { year, month, day }, end))
}

/// `M/D/YYYY`, the order used in the United States, which the voices speak.
fn slash_date(chars: &[char], start: usize) -> Option<(Raw, usize)> {
    let (month, after_month) = digit_run(chars, start);
    (chars.get(after_month) == Some(&'/')).then_some(())?;
    let (day, after_day) = digit_run(chars, after_month + 1);
    (chars.get(after_day) == Some(&'/')).then_some(())?;
    let (year, end) = digit_run(chars, after_day + 1);

    let month: u32 = month.parse().ok()?;
    let day: u32 = day.parse().ok()?;
    let year_digits = year.len();
    let mut year: u32 = year.parse().ok()?;
    if year_digits == 2 {
        year += 2000;
    }
    let valid = (1..=12).contains(&month)
        && (1..=31).contains(&day)
        && matches!(year_digits, 2 | 4)
        && ends_number(chars, end);
    valid.then_some((Raw::Date { year, month, day }, end))
}

/// `H:MM` or `HH:MM`.
fn time(chars: &[char], start: usize) -> Option<(Raw, usize)> {
    let (hour, after_hour) = digit_run(chars, start);
    if hour.len() > 2 || chars.get(after_hour) != Some(&':') {
        return None;
    }
    let minute = fixed_digits(chars, after_hour + 1, 2)?;
    let end = after_hour + 3;
    let hour: u32 = hour.parse().ok()?;
    let valid =
        hour <= 23 && minute <= 59 && chars.get(end).is_none_or(|next| !next.is_ascii_digit());
    valid.then_some((Raw::Time { hour, minute }, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raws(text: &str) -> Vec<Raw> {
        scan(text)
            .unwrap()
            .into_iter()
            .map(|token| token.raw)
            .collect()
    }

    fn number(integer: &str, fraction: &str) -> Raw {
        Raw::Number {
            integer: integer.to_string(),
            fraction: fraction.to_string(),
            grouped: false,
        }
    }

    #[test]
    fn words_and_symbols() {
        assert_eq!(
            raws("Don't stop, O’Brien!"),
            vec![
                Raw::Word("Don't".to_string()),
                Raw::Word("stop".to_string()),
                Raw::Symbol(','),
                Raw::Word("O'Brien".to_string()),
                Raw::Symbol('!'),
            ]
        );
    }

    #[test]
    fn numbers() {
        assert_eq!(
            raws("1,234,567"),
            vec![Raw::Number {
                integer: "1234567".to_string(),
                fraction: String::new(),
                grouped: true
            }]
        );
        assert_eq!(raws("3.14"), vec![number("3", "14")]);
        assert_eq!(
            raws("1,2"),
            vec![number("1", ""), Raw::Symbol(','), number("2", "")]
        );
        assert_eq!(
            raws("12345,678"),
            vec![number("12345", ""), Raw::Symbol(','), number("678", "")]
        );
        assert_eq!(raws("5."), vec![number("5", ""), Raw::Symbol('.')]);
    }

    #[test]
    fn ordinals_must_match_their_number() {
        assert_eq!(raws("21st"), vec![Raw::Ordinal(21)]);
        assert_eq!(raws("12th"), vec![Raw::Ordinal(12)]);
        assert_eq!(raws("3rd"), vec![Raw::Ordinal(3)]);
        assert_eq!(
            raws("3th"),
            vec![number("3", ""), Raw::Word("th".to_string())]
        );
        assert_eq!(
            raws("4the"),
            vec![number("4", ""), Raw::Word("the".to_string())]
        );
    }

    #[test]
    fn dates_and_times() {
        assert_eq!(
            raws("2024-03-15"),
            vec![Raw::Date {
                year: 2024,
                month: 3,
                day: 15
            }]
        );
        assert_eq!(
            raws("3/15/2024"),
            vec![Raw::Date {
                year: 2024,
                month: 3,
                day: 15
            }]
        );
        assert_eq!(
            raws("12/25/99"),
            vec![Raw::Date {
                year: 2099,
                month: 12,
                day: 25
            }]
        );
        assert_eq!(raws("9:05"), vec![Raw::Time { hour: 9, minute: 5 }]);
        assert_eq!(raws("25:00")[0], number("25", ""));
        assert_eq!(raws("2024-13-01")[0], number("2024", ""));
    }

    #[test]
    fn spacing_is_recorded() {
        let tokens = scan("mp3 x").unwrap();
        let spaced: Vec<bool> = tokens.iter().map(|token| token.spaced).collect();
        assert_eq!(spaced, vec![true, false, true]);
    }

    #[test]
    fn other_scripts_are_refused() {
        assert_eq!(scan("hi 你好"), Err(TextError::UnsupportedScript('你')));
        assert_eq!(scan("Привет"), Err(TextError::UnsupportedScript('П')));
        assert!(scan("café").is_ok());
    }

    #[test]
    fn a_few_foreign_letters_are_skipped() {
        assert_eq!(
            raws("hello 你好 world"),
            vec![
                Raw::Word("hello".to_string()),
                Raw::Word("world".to_string())
            ]
        );
    }
}
