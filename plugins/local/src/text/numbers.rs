//! Numbers as English words: cardinals, ordinals, years, decimals and digit strings.
//!
//! Every function returns plain lower-case words separated by spaces (hyphens join the
//! tens and units, as in "twenty-one"), ready for the phonemizer.

const ONES: [&str; 20] = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
];

const TENS: [&str; 10] = [
    "", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety",
];

/// Scale words for each power of a thousand, from the largest down.
const SCALES: [(u64, &str); 4] = [
    (1_000_000_000_000, "trillion"),
    (1_000_000_000, "billion"),
    (1_000_000, "million"),
    (1_000, "thousand"),
];

/// The largest number read as a whole; longer digit strings are read digit by digit,
/// the way people read account or serial numbers.
pub const MAX_CARDINAL: u64 = 999_999_999_999_999;

/// Reads `number` as a cardinal: 1234 is "one thousand two hundred thirty-four".
///
/// Numbers above [`MAX_CARDINAL`] are read digit by digit.
pub fn cardinal(number: u64) -> String {
    if number > MAX_CARDINAL {
        return digits(&number.to_string());
    }
    if number == 0 {
        return ONES[0].to_string();
    }

    let mut words: Vec<String> = Vec::new();
    let mut rest = number;
    for (scale, name) in SCALES {
        if rest >= scale {
            words.push(below_thousand(rest / scale));
            words.push(name.to_string());
            rest %= scale;
        }
    }
    if rest > 0 {
        words.push(below_thousand(rest));
    }

    words.join(" ")
}

/// Reads 1 to 999.
fn below_thousand(number: u64) -> String {
    let hundreds = number / 100;
    let rest = number % 100;
    let mut words = Vec::new();
    if hundreds > 0 {
        words.push(format!("{} hundred", ONES[hundreds as usize]));
    }
    if rest > 0 {
        words.push(below_hundred(rest));
    }
    words.join(" ")
}

/// Reads 1 to 99.
fn below_hundred(number: u64) -> String {
    if number < 20 {
        return ONES[number as usize].to_string();
    }
    let tens = TENS[(number / 10) as usize];
    match number % 10 {
        0 => tens.to_string(),
        units => format!("{tens}-{}", ONES[units as usize]),
    }
}

/// Reads `number` as an ordinal: 21 is "twenty-first".
pub fn ordinal(number: u64) -> String {
    let words = cardinal(number);

    // Only the last word changes: "one hundred twenty-three" ends in "third".
    let split = words.rfind([' ', '-']).map(|index| index + 1).unwrap_or(0);
    let (head, last) = words.split_at(split);
    let last = match last {
        "one" => "first".to_string(),
        "two" => "second".to_string(),
        "three" => "third".to_string(),
        "five" => "fifth".to_string(),
        "eight" => "eighth".to_string(),
        "nine" => "ninth".to_string(),
        "twelve" => "twelfth".to_string(),
        word if word.ends_with('y') => format!("{}ieth", &word[..word.len() - 1]),
        word => format!("{word}th"),
    };

    format!("{head}{last}")
}

/// Reads `year` the way English speakers read years: 1984 is "nineteen eighty-four", 2005
/// is "two thousand five", 2024 is "twenty twenty-four", 1900 is "nineteen hundred".
pub fn year(year: u64) -> String {
    let century = year / 100;
    let rest = year % 100;
    let is_spoken_in_pairs = (1100..=9999).contains(&year) && !(2000..=2009).contains(&year);
    if !is_spoken_in_pairs {
        return cardinal(year);
    }

    let head = below_hundred(century);
    match rest {
        0 => format!("{head} hundred"),
        1..=9 => format!("{head} oh {}", ONES[rest as usize]),
        _ => format!("{head} {}", below_hundred(rest)),
    }
}

/// Reads a string of ASCII digits one digit at a time: "0042" is "zero zero four two".
pub fn digits(text: &str) -> String {
    text.chars()
        .filter_map(|digit| digit.to_digit(10))
        .map(|digit| ONES[digit as usize])
        .collect::<Vec<_>>()
        .join(" ")
}

/// Reads a decimal number given as its integer and fraction digits: ("3", "14") is
/// "three point one four". The fraction is read digit by digit, as people read it.
pub fn decimal(integer: &str, fraction: &str) -> String {
    let whole = integer_words(integer);
    if fraction.is_empty() {
        return whole;
    }
    format!("{whole} point {}", digits(fraction))
}

/// Reads a string of ASCII digits as a cardinal, or digit by digit when it is too long
/// or has leading zeros that matter ("007").
pub fn integer_words(text: &str) -> String {
    let is_padded = text.len() > 1 && text.starts_with('0');
    match text.parse::<u64>() {
        Ok(number) if !is_padded => cardinal(number),
        _ => digits(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cardinals() {
        let cases = [
            (0, "zero"),
            (7, "seven"),
            (13, "thirteen"),
            (20, "twenty"),
            (42, "forty-two"),
            (100, "one hundred"),
            (101, "one hundred one"),
            (999, "nine hundred ninety-nine"),
            (1_000, "one thousand"),
            (1_234, "one thousand two hundred thirty-four"),
            (20_000, "twenty thousand"),
            (1_000_001, "one million one"),
            (3_000_500_000, "three billion five hundred thousand"),
        ];
        for (number, words) in cases {
            assert_eq!(cardinal(number), words, "{number}");
        }
    }

    #[test]
    fn huge_numbers_are_read_digit_by_digit() {
        assert_eq!(
            cardinal(1_000_000_000_000_000),
            "one zero zero zero zero zero zero zero zero zero zero zero zero zero zero zero"
        );
    }

    #[test]
    fn ordinals() {
        let cases = [
            (1, "first"),
            (2, "second"),
            (3, "third"),
            (4, "fourth"),
            (5, "fifth"),
            (8, "eighth"),
            (9, "ninth"),
            (12, "twelfth"),
            (20, "twentieth"),
            (21, "twenty-first"),
            (100, "one hundredth"),
            (123, "one hundred twenty-third"),
        ];
        for (number, words) in cases {
            assert_eq!(ordinal(number), words, "{number}");
        }
    }

    #[test]
    fn years() {
        let cases = [
            (1984, "nineteen eighty-four"),
            (1900, "nineteen hundred"),
            (1905, "nineteen oh five"),
            (2000, "two thousand"),
            (2005, "two thousand five"),
            (2010, "twenty ten"),
            (2024, "twenty twenty-four"),
            (800, "eight hundred"),
        ];
        for (number, words) in cases {
            assert_eq!(year(number), words, "{number}");
        }
    }

    #[test]
    fn decimals_and_digits() {
        assert_eq!(decimal("3", "14"), "three point one four");
        assert_eq!(decimal("0", "5"), "zero point five");
        assert_eq!(decimal("12", ""), "twelve");
        assert_eq!(digits("0042"), "zero zero four two");
        assert_eq!(integer_words("007"), "zero zero seven");
        assert_eq!(integer_words("0"), "zero");
        assert_eq!(
            integer_words("99999999999999999999"),
            digits("99999999999999999999")
        );
    }
}
