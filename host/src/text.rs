//! Quoting untrusted text (client input, plugin output, provider messages) in messages
//! and logs.

/// Returns at most `max_chars` characters of `text` with control characters removed, and
/// `…` when something was cut, so a quoted value can neither flood a message nor forge a
/// log line.
pub fn excerpt(text: &str, max_chars: usize) -> String {
    let mut visible = text.chars().filter(|c| !c.is_control());
    let mut shown: String = visible.by_ref().take(max_chars).collect();
    if visible.next().is_some() {
        shown.push('…');
    }
    shown
}

#[cfg(test)]
mod tests {
    use super::excerpt;

    #[test]
    fn excerpt_cases() {
        for (text, max_chars, expected) in [
            ("short", 10, "short"),
            ("exactly10!", 10, "exactly10!"),
            ("eleven chars", 10, "eleven cha…"),
            ("line\nbreak\r\n", 20, "linebreak"),
            ("a\u{7}b\u{1b}[31mc", 3, "ab[…"),
            ("ééééé", 2, "éé…"),
            ("", 5, ""),
        ] {
            assert_eq!(excerpt(text, max_chars), expected, "{text:?} cut to {max_chars}");
        }
    }
}
