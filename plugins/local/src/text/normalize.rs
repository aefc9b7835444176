//! Turns raw tokens into words a phonemizer can read: numbers, ordinals, money, percents,
//! units, dates, times, abbreviations and acronyms become words or letters to spell.

use super::abbreviations::{self, currency, month_name, month_number};
use super::numbers::{self, decimal, integer_words, ordinal};
use super::scan::{Raw, Scanned, scan};
use super::{TextError, Token, latin};

/// Words that scale an amount of money: "$5 million" is "five million dollars".
const MONEY_SCALES: [&str; 4] = ["thousand", "million", "billion", "trillion"];

/// Normalises `text` into words, letters to spell and clause punctuation.
///
/// # Errors
///
/// Returns [`TextError::UnsupportedScript`] when the text has letters outside the Latin
/// script.
pub fn normalize(text: &str) -> Result<Vec<Token>, TextError> {
    let tokens = scan(text)?;
    let mut reader = Reader {
        tokens: &tokens,
        index: 0,
        shouting: is_shouting(&tokens),
        output: Vec::new(),
    };

    while reader.index < tokens.len() {
        reader.step();
    }

    Ok(reader.output)
}

/// Returns whether most words are in capitals, in which case capitals do not mark acronyms.
fn is_shouting(tokens: &[Scanned]) -> bool {
    let words: Vec<&str> = tokens
        .iter()
        .filter_map(|token| match &token.raw {
            Raw::Word(word) if word.chars().count() > 1 => Some(word.as_str()),
            _ => None,
        })
        .collect();
    let capitals = words.iter().filter(|word| is_all_capitals(word)).count();
    capitals >= 3 && capitals * 2 > words.len()
}

fn is_all_capitals(word: &str) -> bool {
    word.chars().all(|character| character.is_ascii_uppercase())
}

fn is_capitalised(word: &str) -> bool {
    word.chars().next().is_some_and(char::is_uppercase)
}

struct Reader<'a> {
    tokens: &'a [Scanned],
    index: usize,
    shouting: bool,
    output: Vec<Token>,
}

impl Reader<'_> {
    fn peek(&self, offset: usize) -> Option<&Scanned> {
        self.tokens.get(self.index + offset)
    }

    fn peek_raw(&self, offset: usize) -> Option<&Raw> {
        self.peek(offset).map(|token| &token.raw)
    }

    /// Pushes each word of `text`; spaces and hyphens separate words.
    fn say(&mut self, text: &str) {
        for word in text.split([' ', '-']).filter(|word| !word.is_empty()) {
            self.output.push(Token::Word(word.to_string()));
        }
    }

    /// Pushes clause punctuation, once, and never at the start.
    fn pause(&mut self, mark: char) {
        match self.output.last_mut() {
            None => {}
            Some(Token::Punctuation(last)) => {
                // A stronger mark wins: "word,." ends the sentence.
                if matches!(mark, '.' | '?' | '!') {
                    *last = mark;
                }
            }
            Some(_) => self.output.push(Token::Punctuation(mark)),
        }
    }

    fn step(&mut self) {
        let token = &self.tokens[self.index];
        self.index += 1;
        match &token.raw {
            Raw::Word(word) => self.word(word),
            Raw::Number {
                integer,
                fraction,
                grouped,
            } => self.number(integer, fraction, *grouped),
            Raw::Ordinal(value) => self.say(&ordinal(*value)),
            Raw::Time { hour, minute } => self.time(*hour, *minute),
            Raw::Date { year, month, day } => self.date(*year, *month, *day),
            Raw::Symbol(symbol) => self.symbol(*symbol, token.spaced),
        }
    }

    fn word(&mut self, word: &str) {
        if self.dotted_initials(word) || self.abbreviation(word) || self.month_and_day(word) {
            return;
        }

        let folded = latin::fold_word(word);
        if is_acronym(&folded) && !self.shouting && !abbreviations::is_spoken_acronym(&folded) {
            self.output.push(Token::Spell(folded));
            return;
        }
        // "APIs": the capitals are spelled, the plural "s" too.
        if let Some(stem) = folded.strip_suffix('s')
            && is_acronym(stem)
            && !self.shouting
        {
            self.output.push(Token::Spell(format!("{stem}S")));
            return;
        }

        self.say(&folded.to_ascii_lowercase());
    }

    /// "e.g.", "i.e.", "a.m." and initialisms written with periods ("U.S.A.").
    fn dotted_initials(&mut self, word: &str) -> bool {
        let mut letters = String::new();
        let mut offset = 0;
        let mut current = word;
        loop {
            let single_letter = current.chars().count() == 1;
            let dotted = matches!(
                self.peek(offset),
                Some(Scanned {
                    raw: Raw::Symbol('.'),
                    spaced: false
                })
            );
            if !single_letter || !dotted {
                break;
            }
            letters.push_str(current);
            offset += 1;
            match self.peek(offset) {
                Some(Scanned {
                    raw: Raw::Word(next),
                    spaced: false,
                }) => {
                    current = next;
                    offset += 1;
                }
                _ => break,
            }
        }
        if letters.chars().count() < 2 {
            return false;
        }

        self.index += offset;
        match letters.to_ascii_lowercase().as_str() {
            "eg" => self.say("for example"),
            "ie" => self.say("that is"),
            _ => self.output.push(Token::Spell(letters.to_ascii_uppercase())),
        }
        if self.peek(0).is_none() {
            self.pause('.');
        }
        true
    }

    fn abbreviation(&mut self, word: &str) -> bool {
        let Some(reading) = abbreviations::expand(word) else {
            return false;
        };
        let has_period = matches!(
            self.peek(0),
            Some(Scanned {
                raw: Raw::Symbol('.'),
                spaced: false
            })
        );
        let period_optional = matches!(
            word.to_ascii_lowercase().as_str(),
            "mr" | "mrs" | "dr" | "vs" | "etc"
        );
        if !has_period && !period_optional {
            return false;
        }

        let reading = self.street_or_saint(word, reading);
        self.say(reading);
        if has_period {
            self.index += 1;
            let next_is_capitalised =
                matches!(self.peek_raw(0), Some(Raw::Word(next)) if is_capitalised(next));
            let may_end =
                abbreviations::may_end_sentence(word) || matches!(reading, "street" | "drive");
            if self.peek_raw(0).is_none() || (may_end && next_is_capitalised) {
                self.pause('.');
            }
        }
        true
    }

    /// "St." and "Dr." after a name are the street words: "Main St." is Main Street.
    fn street_or_saint(&self, word: &str, reading: &'static str) -> &'static str {
        let lower = word.to_ascii_lowercase();
        if lower != "st" && lower != "dr" {
            return reading;
        }
        let after_name = self.index >= 2
            && matches!(&self.tokens[self.index - 2].raw, Raw::Word(previous) if is_capitalised(previous));
        let before_name =
            match self.peek_raw(usize::from(self.peek_raw(0) == Some(&Raw::Symbol('.')))) {
                Some(Raw::Word(next)) => is_capitalised(next),
                _ => false,
            };
        match (lower.as_str(), after_name && !before_name) {
            ("st", true) => "street",
            ("dr", true) => "drive",
            _ => reading,
        }
    }

    /// "March 15" and "March 15, 2024": the day is an ordinal and the year a year.
    fn month_and_day(&mut self, word: &str) -> bool {
        let Some(month) = month_number(word) else {
            return false;
        };
        // "may" is also a verb; only the capitalised month counts.
        if !is_capitalised(word) {
            return false;
        }
        let skip_period = usize::from(self.peek_raw(0) == Some(&Raw::Symbol('.')));
        let Some(Raw::Number {
            integer, fraction, ..
        }) = self.peek_raw(skip_period)
        else {
            return false;
        };
        let day = integer.parse::<u64>().unwrap_or(0);
        if !fraction.is_empty() || !(1..=31).contains(&day) {
            return false;
        }

        self.index += skip_period + 1;
        self.say(month_name(month).unwrap_or(word));
        self.say(&ordinal(day));
        let year = match (self.peek_raw(0), self.peek_raw(1)) {
            (
                Some(Raw::Symbol(',')),
                Some(Raw::Number {
                    integer, fraction, ..
                }),
            ) if integer.len() == 4 && fraction.is_empty() => integer.parse::<u64>().ok(),
            _ => None,
        };
        if let Some(year) = year {
            self.index += 2;
            self.say(&numbers::year(year));
        }
        true
    }

    fn number(&mut self, integer: &str, fraction: &str, grouped: bool) {
        let next = self.peek(0).cloned();
        let after = self.peek(1).cloned();

        if let Some(Scanned {
            raw: Raw::Symbol('%'),
            ..
        }) = next
        {
            self.index += 1;
            self.say(&decimal(integer, fraction));
            self.say("percent");
            return;
        }
        if let Some(Scanned {
            raw: Raw::Word(unit),
            ..
        }) = &next
        {
            let is_one = integer == "1" && fraction.is_empty();
            if let Some(reading) = abbreviations::unit(unit, is_one) {
                self.index += 1;
                self.say(&decimal(integer, fraction));
                self.say(reading);
                return;
            }
        }
        // "1990-1995" and "10-20" are ranges.
        if let (
            Some(Scanned {
                raw: Raw::Symbol('-' | '–'),
                spaced: false,
            }),
            Some(Scanned {
                raw:
                    Raw::Number {
                        integer: end,
                        fraction: end_fraction,
                        grouped: end_grouped,
                    },
                spaced: false,
            }),
        ) = (&next, &after)
        {
            self.index += 2;
            self.say(&plain_number(integer, fraction, grouped));
            self.say("to");
            self.say(&plain_number(end, end_fraction, *end_grouped));
            return;
        }

        self.say(&plain_number(integer, fraction, grouped));
    }

    fn time(&mut self, hour: u32, minute: u32) {
        self.say(&numbers::cardinal(u64::from(hour)));
        let meridiem = match self.peek_raw(0) {
            Some(Raw::Word(word)) if matches!(word.to_ascii_lowercase().as_str(), "am" | "pm") => {
                Some(word.to_ascii_uppercase())
            }
            _ => None,
        };
        match minute {
            0 if meridiem.is_none() => self.say("o'clock"),
            0 => {}
            1..=9 => {
                self.say("oh");
                self.say(&numbers::cardinal(u64::from(minute)));
            }
            _ => self.say(&numbers::cardinal(u64::from(minute))),
        }
        if let Some(meridiem) = meridiem {
            self.index += 1;
            self.output.push(Token::Spell(meridiem));
        }
    }

    fn date(&mut self, year: u32, month: u32, day: u32) {
        if let Some(name) = month_name(month) {
            self.say(name);
        }
        self.say(&ordinal(u64::from(day)));
        self.pause(',');
        self.say(&numbers::year(u64::from(year)));
    }

    fn symbol(&mut self, symbol: char, spaced: bool) {
        if let Some(names) = currency(symbol)
            && let Some(Raw::Number {
                integer, fraction, ..
            }) = self.peek_raw(0).cloned()
        {
            self.index += 1;
            self.money(&integer, &fraction, names);
            return;
        }

        let next_joined_number = matches!(
            self.peek(0),
            Some(Scanned {
                raw: Raw::Number { .. },
                spaced: false
            })
        );
        match symbol {
            '-' | '−' if spaced && next_joined_number => self.say("minus"),
            '#' if next_joined_number => self.say("number"),
            '.' if self.between_joined_words() => self.say("dot"),
            '.' | '!' | '?' => self.pause(symbol),
            ',' | ';' | ':' => self.pause(symbol),
            '…' => self.pause('.'),
            // Dashes and brackets set off a phrase, as commas do.
            '-' | '–' | '—' | '(' | ')' | '[' | ']' if spaced || symbol != '-' => {
                self.pause(',')
            }
            _ => {
                if let Some(reading) = abbreviations::symbol(symbol) {
                    self.say(reading);
                }
                // Anything else (quotes, hyphens inside words, emoji) is silent.
            }
        }
    }

    /// "example.com": a period between two words with no spaces.
    fn between_joined_words(&self) -> bool {
        let previous_is_word =
            self.index >= 2 && matches!(self.tokens[self.index - 2].raw, Raw::Word(_));
        let next_is_joined_word = matches!(
            self.peek(0),
            Some(Scanned {
                raw: Raw::Word(_),
                spaced: false
            })
        );
        previous_is_word && next_is_joined_word
    }

    /// "$5.50" is "five dollars and fifty cents"; "$2 million" is "two million dollars".
    fn money(&mut self, integer: &str, fraction: &str, names: (&str, &str, &str, &str)) {
        let (one, many, cent, cents) = names;
        if let Some(Raw::Word(scale)) = self.peek_raw(0).cloned() {
            let scale = scale.to_ascii_lowercase();
            if MONEY_SCALES.contains(&scale.as_str()) {
                self.index += 1;
                self.say(&decimal(integer, fraction));
                self.say(&scale);
                self.say(many);
                return;
            }
        }
        if fraction.len() > 2 {
            self.say(&decimal(integer, fraction));
            self.say(many);
            return;
        }

        let whole = integer.parse::<u64>().ok();
        let hundredths = format!("{fraction:0<2}").parse::<u64>().unwrap_or(0);
        match whole {
            Some(0) if hundredths > 0 => {}
            Some(1) => self.say(&format!("one {one}")),
            _ => {
                self.say(&integer_words(integer));
                self.say(many);
            }
        }
        if hundredths > 0 {
            if whole != Some(0) {
                self.say("and");
            }
            self.say(&numbers::cardinal(hundredths));
            self.say(if hundredths == 1 { cent } else { cents });
        }
    }
}

fn is_acronym(word: &str) -> bool {
    word.len() >= 2 && is_all_capitals(word)
}

/// Reads a number with no context. Four-digit numbers from 1100 to 2099 written without a
/// comma are read as years.
fn plain_number(integer: &str, fraction: &str, grouped: bool) -> String {
    let is_year_like = !grouped
        && fraction.is_empty()
        && integer.len() == 4
        && integer
            .parse::<u64>()
            .is_ok_and(|value| (1100..=2099).contains(&value));
    if is_year_like && let Ok(value) = integer.parse::<u64>() {
        return numbers::year(value);
    }
    decimal(integer, fraction)
}

#[cfg(test)]
mod tests;
