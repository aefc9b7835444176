//! Lookups in the CMU Pronouncing Dictionary, in place in the embedded bytes.
//!
//! The build's preparation step (`prepare/prepare_voice.py`) writes one `word PHONES` line
//! per headword, lower case, sorted by bytes. A binary search over those bytes needs no
//! index and no parsing when an instance starts, so the 3.3 MB file costs nothing until a
//! word is looked up (about 17 probes per word).

/// A sorted pronouncing dictionary borrowed from bytes.
#[derive(Debug, Clone, Copy)]
pub struct Dictionary<'a> {
    bytes: &'a [u8],
}

impl<'a> Dictionary<'a> {
    /// Wraps dictionary bytes: `word PHONES` lines sorted by bytes, each ending in `\n`.
    pub fn new(bytes: &'a [u8]) -> Self {
        Self { bytes }
    }

    /// Returns the ARPAbet phones of `word` (lower case), such as `HH AH0 L OW1`, or `None`.
    pub fn lookup(&self, word: &str) -> Option<&'a str> {
        let target = word.as_bytes();
        let mut low = 0;
        let mut high = self.bytes.len();

        // Invariant: every line that starts before `low` sorts before `target`, and every
        // line that starts at or after `high` sorts after it.
        while low < high {
            let middle = low + (high - low) / 2;
            let start = self.line_start(middle).max(low);
            let end = self.line_end(start);
            let (headword, phones) = split_line(&self.bytes[start..end]);
            match headword.cmp(target) {
                std::cmp::Ordering::Equal => return std::str::from_utf8(phones).ok(),
                std::cmp::Ordering::Less => low = end + 1,
                std::cmp::Ordering::Greater => high = start,
            }
        }
        None
    }

    /// Returns whether `word` is a headword.
    pub fn contains(&self, word: &str) -> bool {
        self.lookup(word).is_some()
    }

    fn line_start(&self, position: usize) -> usize {
        self.bytes[..position]
            .iter()
            .rposition(|&byte| byte == b'\n')
            .map_or(0, |newline| newline + 1)
    }

    fn line_end(&self, start: usize) -> usize {
        self.bytes[start..]
            .iter()
            .position(|&byte| byte == b'\n')
            .map_or(self.bytes.len(), |offset| start + offset)
    }
}

fn split_line(line: &[u8]) -> (&[u8], &[u8]) {
    match line.iter().position(|&byte| byte == b' ') {
        Some(space) => (&line[..space], &line[space + 1..]),
        None => (line, &[]),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A few words in the prepared format, for tests that must not need the real file.
    /// Pronunciations follow CMUdict's conventions.
    pub const SAMPLE: &str = "\
a AH0
and AH0 N D
cat K AE1 T
don't D OW1 N T
hello HH AH0 L OW1
paper P EY1 P ER0
run R AH1 N
the DH AH0
time T AY1 M
water W AO1 T ER0
web W EH1 B
world W ER1 L D
";

    #[test]
    fn finds_every_word() {
        let dictionary = Dictionary::new(SAMPLE.as_bytes());
        for line in SAMPLE.lines() {
            let (word, phones) = line.split_once(' ').unwrap();
            assert_eq!(dictionary.lookup(word), Some(phones), "{word}");
        }
    }

    #[test]
    fn misses_are_none() {
        let dictionary = Dictionary::new(SAMPLE.as_bytes());
        for word in ["", "aa", "b", "cats", "zzz", "hell", "worlds", "0"] {
            assert_eq!(dictionary.lookup(word), None, "{word}");
        }
        assert!(Dictionary::new(b"").lookup("a").is_none());
    }

    #[test]
    fn works_without_final_newline() {
        let dictionary = Dictionary::new(b"a AH0\nb B IY1");
        assert_eq!(dictionary.lookup("b"), Some("B IY1"));
        assert!(dictionary.contains("a"));
    }
}
