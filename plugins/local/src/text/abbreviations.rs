//! Written abbreviations, units, month names and acronyms that are words, with how to
//! read them.

/// Abbreviations read as full words, matched case-insensitively, with or without their
/// period. Only forms that are not also common words are listed ("no" and "us" are not).
const ABBREVIATIONS: [(&str, &str); 30] = [
    ("mr", "mister"),
    ("mrs", "missus"),
    ("ms", "miz"),
    ("dr", "doctor"),
    ("prof", "professor"),
    ("jr", "junior"),
    ("sr", "senior"),
    ("st", "saint"),
    ("mt", "mount"),
    ("ave", "avenue"),
    ("blvd", "boulevard"),
    ("rd", "road"),
    ("vs", "versus"),
    ("etc", "et cetera"),
    ("approx", "approximately"),
    ("dept", "department"),
    ("est", "established"),
    ("fig", "figure"),
    ("inc", "incorporated"),
    ("ltd", "limited"),
    ("corp", "corporation"),
    ("govt", "government"),
    ("hr", "hour"),
    ("hrs", "hours"),
    ("min", "minute"),
    ("mins", "minutes"),
    ("sec", "second"),
    ("secs", "seconds"),
    ("yr", "year"),
    ("yrs", "years"),
];

/// Abbreviations that end a sentence as often as not. After one of these, a period
/// followed by a capital letter or the end of the text also ends the sentence.
const MAY_END_SENTENCE: [&str; 5] = ["etc", "inc", "ltd", "corp", "jr"];

/// Units read after a number, as (written, singular, plural). Matched exactly, because
/// case matters: "mb" and "Mb" are both read megabytes, but "m" alone is not a unit here.
const UNITS: [(&str, &str, &str); 24] = [
    ("km", "kilometer", "kilometers"),
    ("m", "meter", "meters"),
    ("cm", "centimeter", "centimeters"),
    ("mm", "millimeter", "millimeters"),
    ("kg", "kilogram", "kilograms"),
    ("g", "gram", "grams"),
    ("mg", "milligram", "milligrams"),
    ("lb", "pound", "pounds"),
    ("lbs", "pounds", "pounds"),
    ("oz", "ounce", "ounces"),
    ("ml", "milliliter", "milliliters"),
    ("mph", "mile per hour", "miles per hour"),
    ("kph", "kilometer per hour", "kilometers per hour"),
    ("ms", "millisecond", "milliseconds"),
    ("s", "second", "seconds"),
    ("h", "hour", "hours"),
    ("kb", "kilobyte", "kilobytes"),
    ("mb", "megabyte", "megabytes"),
    ("gb", "gigabyte", "gigabytes"),
    ("tb", "terabyte", "terabytes"),
    ("hz", "hertz", "hertz"),
    ("khz", "kilohertz", "kilohertz"),
    ("mhz", "megahertz", "megahertz"),
    ("ghz", "gigahertz", "gigahertz"),
];

/// Month names and their abbreviations, January first.
const MONTHS: [(&str, &str); 12] = [
    ("january", "jan"),
    ("february", "feb"),
    ("march", "mar"),
    ("april", "apr"),
    ("may", "may"),
    ("june", "jun"),
    ("july", "jul"),
    ("august", "aug"),
    ("september", "sep"),
    ("october", "oct"),
    ("november", "nov"),
    ("december", "dec"),
];

/// All-capital words that are read as words, not letter by letter.
const SPOKEN_ACRONYMS: [&str; 24] = [
    "AIDS", "ASAP", "AWOL", "COVID", "FAQ", "FIFA", "GIF", "JPEG", "LASER", "LOL", "NASA", "NATO",
    "NASDAQ", "OPEC", "PIN", "RADAR", "SCUBA", "SIM", "SONAR", "UNESCO", "UNICEF", "WASM", "YOLO",
    "OK",
];

/// Returns the reading of an abbreviation, for a word as written (any case).
pub fn expand(word: &str) -> Option<&'static str> {
    let lower = word.to_ascii_lowercase();
    ABBREVIATIONS
        .iter()
        .find(|(written, _)| *written == lower)
        .map(|(_, spoken)| *spoken)
}

/// Returns whether a period after this abbreviation may also end the sentence.
pub fn may_end_sentence(word: &str) -> bool {
    MAY_END_SENTENCE.contains(&word.to_ascii_lowercase().as_str())
}

/// Returns the reading of a unit after a number, singular when `count_is_one`.
pub fn unit(word: &str, count_is_one: bool) -> Option<&'static str> {
    let lower = word.to_ascii_lowercase();
    // "S" and "H" in capitals are more often initials than units.
    if matches!(word, "S" | "H" | "M" | "G") {
        return None;
    }
    UNITS
        .iter()
        .find(|(written, _, _)| *written == lower)
        .map(|(_, one, many)| if count_is_one { *one } else { *many })
}

/// Returns the month number (1 to 12) for a month name or abbreviation.
pub fn month_number(word: &str) -> Option<u32> {
    let lower = word.to_ascii_lowercase();
    let position = MONTHS
        .iter()
        .position(|(name, short)| *name == lower || *short == lower)?;
    u32::try_from(position + 1).ok()
}

/// Returns the name of month `number` (1 to 12).
pub fn month_name(number: u32) -> Option<&'static str> {
    let index = usize::try_from(number.checked_sub(1)?).ok()?;
    MONTHS.get(index).map(|(name, _)| *name)
}

/// Returns whether an all-capital word is read as a word rather than spelled.
pub fn is_spoken_acronym(word: &str) -> bool {
    SPOKEN_ACRONYMS.contains(&word)
}

/// Returns a symbol's reading between words, or `None` when it is silent.
pub fn symbol(character: char) -> Option<&'static str> {
    let word = match character {
        '&' => "and",
        '+' => "plus",
        '=' => "equals",
        '@' => "at",
        '%' => "percent",
        '°' => "degrees",
        '×' => "times",
        '<' => "less than",
        '>' => "greater than",
        '~' => "about",
        _ => return None,
    };
    Some(word)
}

/// Returns a currency symbol's unit as (singular, plural, cent singular, cent plural).
pub fn currency(
    character: char,
) -> Option<(&'static str, &'static str, &'static str, &'static str)> {
    let names = match character {
        '$' => ("dollar", "dollars", "cent", "cents"),
        '€' => ("euro", "euros", "cent", "cents"),
        '£' => ("pound", "pounds", "penny", "pence"),
        '¥' => ("yen", "yen", "sen", "sen"),
        _ => return None,
    };
    Some(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_consistent() {
        assert_eq!(expand("Dr"), Some("doctor"));
        assert_eq!(expand("ETC"), Some("et cetera"));
        assert_eq!(expand("dog"), None);
        assert!(may_end_sentence("Inc"));
        assert_eq!(unit("km", true), Some("kilometer"));
        assert_eq!(unit("GB", false), Some("gigabytes"));
        assert_eq!(unit("S", false), None);
        assert_eq!(month_number("Sep"), Some(9));
        assert_eq!(month_number("december"), Some(12));
        assert_eq!(month_name(3), Some("march"));
        assert_eq!(month_name(0), None);
        assert_eq!(month_name(13), None);
        assert!(is_spoken_acronym("NASA"));
        assert!(!is_spoken_acronym("FBI"));
        assert_eq!(currency('£'), Some(("pound", "pounds", "penny", "pence")));
    }
}
