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

/// Returns `text` with each control character written as an escape such as `\n`, so a name
/// read from the file system prints on one line and cannot forge another log line.
pub fn escape_controls(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() {
            escaped.extend(c.escape_default());
        } else {
            escaped.push(c);
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::{escape_controls, excerpt};

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

    #[test]
    fn escape_controls_cases() {
        for (text, expected) in [
            ("openai.wasm", "openai.wasm"),
            ("evil\nINFO fake.wasm", "evil\\nINFO fake.wasm"),
            ("tab\there\r", "tab\\there\\r"),
            ("bell\u{7}", "bell\\u{7}"),
            ("stimme-für-anna.wasm", "stimme-für-anna.wasm"),
        ] {
            assert_eq!(escape_controls(text), expected, "{text:?}");
        }
    }
}
