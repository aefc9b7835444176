//! Reading operator settings from the `list<setting>` that the host passes to every call.

use crate::{Setting, SettingsError};

/// Returns the value of the setting `name`, or `None` when it is absent or empty.
///
/// An empty value counts as unset because configuration files often write an unset
/// value as `""`.
pub fn setting<'a>(settings: &'a [Setting], name: &str) -> Option<&'a str> {
    settings
        .iter()
        .find(|setting| setting.name == name)
        .map(|setting| setting.value.as_str())
        .filter(|value| !value.is_empty())
}

/// Returns the value of the setting `name`, or `default` when it is absent or empty.
pub fn setting_or<'a>(settings: &'a [Setting], name: &str, default: &'a str) -> &'a str {
    setting(settings, name).unwrap_or(default)
}

/// Returns the value of the setting `name` for use as an HTTP header value, or `None` when
/// it is absent or empty.
///
/// # Errors
///
/// A value with characters that a header value cannot carry (control characters such as a
/// line break, or non-ASCII text) is a [`SettingsError`] naming the setting. Checking here
/// stops a setting from smuggling extra header lines into a request.
pub fn header_setting<'a>(
    settings: &'a [Setting],
    name: &str,
) -> Result<Option<&'a str>, SettingsError> {
    let Some(value) = setting(settings, name) else {
        return Ok(None);
    };

    let printable = value.chars().all(|c| c == ' ' || c.is_ascii_graphic());
    if !printable {
        return Err(SettingsError {
            name: name.to_string(),
            message: "the value must be printable ASCII text, without line breaks or other \
                      control characters, because it is sent as an HTTP header"
                .to_string(),
        });
    }

    Ok(Some(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> Vec<Setting> {
        pairs
            .iter()
            .map(|(name, value)| Setting {
                name: name.to_string(),
                value: value.to_string(),
            })
            .collect()
    }

    #[test]
    fn setting_finds_value() {
        let list = settings(&[("base-url", "http://127.0.0.1:1"), ("project", "p")]);

        assert_eq!(setting(&list, "project"), Some("p"));
        assert_eq!(setting(&list, "base-url"), Some("http://127.0.0.1:1"));
    }

    #[test]
    fn setting_absent_or_empty_is_none() {
        let list = settings(&[("project", "")]);

        assert_eq!(setting(&list, "project"), None);
        assert_eq!(setting(&list, "organization"), None);
    }

    #[test]
    fn setting_or_falls_back_to_default() {
        let list = settings(&[("project", ""), ("organization", "org-1")]);

        assert_eq!(setting_or(&list, "project", "default"), "default");
        assert_eq!(setting_or(&list, "missing", "default"), "default");
        assert_eq!(setting_or(&list, "organization", "default"), "org-1");
    }

    #[test]
    fn header_setting_accepts_printable_text() {
        let list = settings(&[("organization", "org-123 abc")]);

        assert_eq!(
            header_setting(&list, "organization"),
            Ok(Some("org-123 abc"))
        );
        assert_eq!(header_setting(&list, "project"), Ok(None));
    }

    #[test]
    fn header_setting_rejects_line_breaks() {
        for value in ["org\r\nx-injected: 1", "org\n", "tab\there", "café"] {
            let list = settings(&[("organization", value)]);

            let error = header_setting(&list, "organization").unwrap_err();

            assert_eq!(error.name, "organization", "value {value:?}");
            assert!(!error.message.contains(value), "value {value:?} echoed");
        }
    }
}
