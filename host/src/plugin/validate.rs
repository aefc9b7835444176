//! Checks of what a plugin's `describe` returns, before the host relies on it.

use std::collections::BTreeSet;

use super::bindings::wit::ProviderInfo;

/// Returns every problem with `info`, each naming the field; empty when it is usable.
pub fn check_provider_info(info: &ProviderInfo) -> Vec<String> {
    let mut problems = Vec::new();

    if !is_plugin_id(&info.id) {
        problems.push(format!(
            "id `{}` must be 1 to 64 lower-case letters, digits or `-`, starting with a letter",
            truncate(&info.id)
        ));
    }
    if info.version.split('.').count() < 3 {
        problems.push(format!("version `{}` is not a semantic version", truncate(&info.version)));
    }

    if info.models.is_empty() {
        problems.push("models is empty; a provider must offer at least one model".to_string());
    }
    let mut model_ids = BTreeSet::new();
    for model in &info.models {
        if model.id.is_empty() || model.id.chars().any(char::is_control) {
            problems.push(format!("model id `{}` is empty or has control characters", truncate(&model.id)));
        }
        if !model_ids.insert(model.id.as_str()) {
            problems.push(format!("model `{}` is listed twice", truncate(&model.id)));
        }
        if model.max_characters == 0 {
            problems.push(format!("model `{}` has max-characters 0", truncate(&model.id)));
        }
        if model.formats.is_empty() {
            problems.push(format!("model `{}` lists no formats", truncate(&model.id)));
        }
        let price = model.price_per_million_characters;
        if !price.is_finite() || price < 0.0 {
            problems.push(format!("model `{}` has an invalid price {price}", truncate(&model.id)));
        }
    }

    if info.voices.is_empty() {
        problems.push("voices is empty; a provider must offer at least one voice".to_string());
    }
    let mut voice_ids = BTreeSet::new();
    for voice in &info.voices {
        if voice.id.is_empty() || voice.id.chars().any(char::is_control) {
            problems.push(format!("voice id `{}` is empty or has control characters", truncate(&voice.id)));
        }
        if !voice_ids.insert(voice.id.as_str()) {
            problems.push(format!("voice `{}` is listed twice", truncate(&voice.id)));
        }
        for model in &voice.models {
            if !model_ids.contains(model.as_str()) {
                problems.push(format!(
                    "voice `{}` names model `{}`, which is not in models",
                    truncate(&voice.id),
                    truncate(model)
                ));
            }
        }
    }

    if !model_ids.contains(info.default_model.as_str()) {
        problems.push(format!("default-model `{}` is not in models", truncate(&info.default_model)));
    }
    if !voice_ids.contains(info.default_voice.as_str()) {
        problems.push(format!("default-voice `{}` is not in voices", truncate(&info.default_voice)));
    }

    let mut secret_names = BTreeSet::new();
    for secret in &info.secrets {
        if !secret_names.insert(secret.name.as_str()) {
            problems.push(format!("secret `{}` is listed twice", truncate(&secret.name)));
        }
    }
    problems
}

/// A plugin id is used in configuration keys, metric labels and `provider:model` names.
fn is_plugin_id(id: &str) -> bool {
    let mut chars = id.chars();
    let starts_with_letter = chars.next().is_some_and(|c| c.is_ascii_lowercase());
    starts_with_letter
        && id.len() <= 64
        && id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// Plugin output is untrusted: quote at most 80 characters of it in a message.
fn truncate(text: &str) -> String {
    crate::text::excerpt(text, 80)
}

#[cfg(test)]
mod tests {
    use super::is_plugin_id;

    #[test]
    fn plugin_id_table() {
        for (id, expected) in [
            ("openai", true),
            ("workers-ai", true),
            ("test-2", true),
            ("", false),
            ("OpenAI", false),
            ("2fast", false),
            ("a:b", false),
            ("a b", false),
        ] {
            assert_eq!(is_plugin_id(id), expected, "{id}");
        }
    }
}
