//! Table tests of the normaliser: each case is a text and how it reads, with `|` for a
//! pause or sentence mark and capitals for letters to spell.

use super::*;

/// Renders tokens as one line: words as they are, spelled letters in capitals inside
/// `<>`, punctuation as itself.
fn render(text: &str) -> String {
    normalize(text)
        .unwrap()
        .iter()
        .map(|token| match token {
            Token::Word(word) => word.clone(),
            Token::Spell(letters) => format!("<{letters}>"),
            Token::Punctuation(mark) => mark.to_string(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn check(cases: &[(&str, &str)]) {
    for (text, expected) in cases {
        assert_eq!(render(text), *expected, "{text}");
    }
}

#[test]
fn plain_words_are_lower_case() {
    check(&[
        ("Hello, World!", "hello , world !"),
        ("Don't panic.", "don't panic ."),
        ("well-known facts", "well known facts"),
        ("Café au lait", "cafe au lait"),
    ]);
}

#[test]
fn numbers_read_as_words() {
    check(&[
        ("I have 3 cats", "i have three cats"),
        (
            "It costs 1,234 points",
            "it costs one thousand two hundred thirty four points",
        ),
        ("pi is 3.14", "pi is three point one four"),
        ("It is -5 outside", "it is minus five outside"),
        ("Call 007", "call zero zero seven"),
        ("pages 10-20", "pages ten to twenty"),
    ]);
}

#[test]
fn ordinals_and_years() {
    check(&[
        ("the 21st century", "the twenty first century"),
        ("my 3rd try", "my third try"),
        (
            "in 1984 and 2024",
            "in nineteen eighty four and twenty twenty four",
        ),
        (
            "from 1990-1995",
            "from nineteen ninety to nineteen ninety five",
        ),
        ("about 5000 people", "about five thousand people"),
    ]);
}

#[test]
fn money() {
    check(&[
        ("$5", "five dollars"),
        ("$1", "one dollar"),
        ("$5.50", "five dollars and fifty cents"),
        ("$0.99", "ninety nine cents"),
        ("$1.01", "one dollar and one cent"),
        ("$2 million", "two million dollars"),
        ("€3.5 billion", "three point five billion euros"),
        ("£20", "twenty pounds"),
    ]);
}

#[test]
fn percents_and_units() {
    check(&[
        ("50% off", "fifty percent off"),
        ("2.5 % more", "two point five percent more"),
        ("5km away", "five kilometers away"),
        ("1 kg", "one kilogram"),
        ("16 GB of memory", "sixteen gigabytes of memory"),
        ("300 ms", "three hundred milliseconds"),
    ]);
}

#[test]
fn dates_and_times() {
    check(&[
        ("on 2024-03-15", "on march fifteenth , twenty twenty four"),
        ("on 3/15/2024", "on march fifteenth , twenty twenty four"),
        ("March 15, 2024", "march fifteenth twenty twenty four"),
        ("Jan. 1", "january first"),
        ("at 10:30", "at ten thirty"),
        ("at 9:05 pm", "at nine oh five <PM>"),
        ("at 7:00", "at seven o'clock"),
        ("at 7:00 AM", "at seven <AM>"),
        ("you may 5 times", "you may five times"),
    ]);
}

#[test]
fn abbreviations() {
    check(&[
        ("Dr. Smith is here.", "doctor smith is here ."),
        ("Mr Jones", "mister jones"),
        ("St. Louis", "saint louis"),
        ("on Main St.", "on main street ."),
        ("apples, pears, etc. We", "apples , pears , et cetera . we"),
        ("fruit, e.g. apples", "fruit , for example apples"),
        ("a fig tree", "a fig tree"),
        ("Fig. 3", "figure three"),
        ("Acme Inc. makes it", "acme incorporated makes it"),
    ]);
}

#[test]
fn acronyms_are_spelled() {
    check(&[
        ("The FBI and the CIA", "the <FBI> and the <CIA>"),
        ("three APIs", "three <APIS>"),
        ("NASA launched", "nasa launched"),
        ("the U.S.A. team", "the <USA> team"),
        ("I am here", "i am here"),
        (
            "THIS IS A VERY LOUD SENTENCE",
            "this is a very loud sentence",
        ),
    ]);
}

#[test]
fn symbols_are_words_or_silent() {
    check(&[
        ("salt & pepper", "salt and pepper"),
        ("2 + 2 = 4", "two plus two equals four"),
        ("see example.com", "see example dot com"),
        ("ticket #5", "ticket number five"),
        ("\"quoted\" words 😀", "quoted words"),
        ("wait - what", "wait , what"),
        ("one (two) three", "one , two , three"),
        ("Really?!", "really !"),
    ]);
}

#[test]
fn leading_punctuation_is_dropped() {
    check(&[(". , hello", "hello")]);
}
