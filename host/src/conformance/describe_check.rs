//! Checks of `describe` beyond the loader's: what a catalog must look like to be useful to
//! routing, pricing and operators.

use std::collections::BTreeSet;

use crate::allowed_hosts::AllowedHosts;
use crate::plugin::check_provider_info;
use crate::plugin::wit::ProviderInfo;

/// The highest price the kit accepts, in US dollars per million characters. The dearest
/// speech models listed today cost a few hundred; a larger number is a unit mistake (per
/// character, or in cents).
pub const MAX_PRICE_PER_MILLION: f64 = 10_000.0;

/// The maximum characters per request that a model may declare. Provider limits are in the thousands to tens
/// of thousands; a larger number is a placeholder such as `u32::MAX`.
pub const MAX_CHARACTERS: u32 = 1_000_000;

/// Returns every problem with `info`, each naming the field.
pub fn check(info: &ProviderInfo) -> Vec<String> {
    let mut problems = check_provider_info(info);

    if info.name.trim().is_empty() {
        problems.push("name is empty; operators see it in listings".to_string());
    }
    if !is_semver(&info.version) {
        problems.push(format!("version `{}` is not MAJOR.MINOR.PATCH with numbers", info.version));
    }

    for model in &info.models {
        if model.name.trim().is_empty() {
            problems.push(format!("model `{}` has an empty name", model.id));
        }
        let price = model.price_per_million_characters;
        if price.is_finite() && price > MAX_PRICE_PER_MILLION {
            problems.push(format!(
                "model `{}` costs {price} USD per million characters, more than {MAX_PRICE_PER_MILLION}; the price is per million characters, in dollars",
                model.id
            ));
        }
        if model.max_characters > MAX_CHARACTERS {
            problems.push(format!(
                "model `{}` declares max-characters {}, more than {MAX_CHARACTERS}; declare the provider's real limit",
                model.id, model.max_characters
            ));
        }
        let mut formats = BTreeSet::new();
        for format in &model.formats {
            if !formats.insert(format!("{format:?}")) {
                problems.push(format!("model `{}` lists format {format:?} twice", model.id));
            }
        }
        problems.extend(check_languages(&format!("model `{}`", model.id), &model.languages));
    }

    for voice in &info.voices {
        if voice.name.trim().is_empty() {
            problems.push(format!("voice `{}` has an empty name", voice.id));
        }
        problems.extend(check_languages(&format!("voice `{}`", voice.id), &voice.languages));
    }
    let default_voice = info.voices.iter().find(|voice| voice.id == info.default_voice);
    if let Some(voice) = default_voice
        && !voice.models.is_empty()
        && !voice.models.contains(&info.default_model)
    {
        problems.push(format!(
            "default-voice `{}` does not offer default-model `{}`, so a request that names neither fails",
            voice.id, info.default_model
        ));
    }

    if let Err(error) = AllowedHosts::new(&info.hosts, None) {
        problems.push(format!("hosts: {error}"));
    }
    let mut hosts = BTreeSet::new();
    for host in &info.hosts {
        if !hosts.insert(host.to_ascii_lowercase()) {
            problems.push(format!("host `{host}` is listed twice"));
        }
    }

    for secret in &info.secrets {
        if secret.name.is_empty() || !secret.name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-') {
            problems.push(format!("secret name `{}` must be lower-case letters, digits and `-`", secret.name));
        }
        if secret.description.trim().is_empty() {
            problems.push(format!("secret `{}` has no description; operators need to know what to set", secret.name));
        }
        if let Some(env) = &secret.env
            && (env.is_empty() || !env.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
        {
            problems.push(format!("secret `{}` names environment variable `{env}`, which is not UPPER_SNAKE_CASE", secret.name));
        }
    }

    let mut settings = BTreeSet::new();
    for setting in &info.settings {
        if setting.name.is_empty() {
            problems.push("a setting has an empty name".to_string());
        }
        if !settings.insert(setting.name.as_str()) {
            problems.push(format!("setting `{}` is listed twice", setting.name));
        }
        if setting.description.trim().is_empty() {
            problems.push(format!("setting `{}` has no description", setting.name));
        }
    }
    problems
}

fn is_semver(version: &str) -> bool {
    let core = version.split(['-', '+']).next().unwrap_or_default();
    let parts: Vec<&str> = core.split('.').collect();
    parts.len() == 3 && parts.iter().all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()))
}

/// Checks language tags loosely against BCP 47: subtags of 1 to 8 letters or digits joined by `-`, the first of 2
/// to 8 letters. It catches `en_US`, `English` and empty tags, not every invalid tag.
fn check_languages(owner: &str, languages: &[String]) -> Vec<String> {
    languages
        .iter()
        .filter(|tag| !is_language_tag(tag))
        .map(|tag| format!("{owner} lists language `{tag}`, which is not a BCP 47 tag such as `en` or `pt-BR`"))
        .collect()
}

fn is_language_tag(tag: &str) -> bool {
    let mut subtags = tag.split('-');
    let first = subtags.next().unwrap_or_default();
    let first_ok = (2..=8).contains(&first.len()) && first.chars().all(|c| c.is_ascii_alphabetic());
    first_ok && subtags.all(|subtag| (1..=8).contains(&subtag.len()) && subtag.chars().all(|c| c.is_ascii_alphanumeric()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn semver_table() {
        for (version, expected) in [("0.1.0", true), ("1.2.3-beta.1", true), ("1.2", false), ("a.b.c", false), ("1..2", false)] {
            assert_eq!(is_semver(version), expected, "{version}");
        }
    }

    #[test]
    fn language_tag_table() {
        for (tag, expected) in [("en", true), ("pt-BR", true), ("zh-Hans-CN", true), ("en_US", false), ("", false), ("e", false)] {
            assert_eq!(is_language_tag(tag), expected, "{tag}");
        }
    }
}
