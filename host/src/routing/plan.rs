//! The providers a request may go to, in order: a direct `provider:model`, a named route,
//! a quality tier, or the cheapest candidate.

use std::sync::Arc;

use crate::plugin::LoadedPlugin;
use crate::plugin::wit::ModelInfo;
use crate::speech::{InvalidRequest, join_or_none, quote};
use crate::config::Config;
use crate::gateway::PluginSet;
use crate::plugin::wit::AudioFormat;

/// A `provider:name` reference, or a bare name.
struct Qualified<'a> {
    provider: Option<&'a str>,
    name: &'a str,
}

/// Splits `provider:name` when the prefix is a loaded provider's id. Other colons stay part
/// of the name, since some providers' ids contain them.
fn qualify<'a>(set: &PluginSet, text: &'a str) -> Qualified<'a> {
    match text.split_once(':') {
        Some((provider, name)) if set.plugins.contains_key(provider) => {
            Qualified { provider: Some(provider), name }
        }
        _ => Qualified { provider: None, name: text },
    }
}

/// Finds the plugin, model and voice for a request's `model` and `voice`, each of which may
/// be `provider:name`, a bare name, or absent.
///
/// An explicit provider wins; otherwise a bare model picks a provider that offers it (and
/// the voice, when one is named), and a bare voice alone picks a provider that offers the
/// voice. Providers whose secrets are set are preferred, so a name offered by several goes
/// to one that can serve it.
pub fn resolve(
    set: &PluginSet,
    model: Option<&str>,
    voice: Option<&str>,
) -> Result<(Arc<LoadedPlugin>, String, Option<String>), InvalidRequest> {
    let model = model.map(|text| qualify(set, text));
    let voice = voice.map(|text| qualify(set, text));
    let voice_name = voice.as_ref().map(|voice| voice.name.to_string());

    if let Some(Qualified { provider: Some(provider), name }) = model {
        let plugin = set.plugins[provider].clone();
        if let Some(Qualified { provider: Some(voice_provider), name: voice_name }) = voice
            && voice_provider != provider
        {
            return Err(voice_elsewhere(voice_name, voice_provider, provider));
        }
        let model_id = if name.is_empty() { plugin.info.default_model.clone() } else { name.to_string() };
        if find_model(&plugin, &model_id).is_none() {
            return Err(unknown_model(&format!("{provider}:{name}"), &[plugin.clone()]));
        }
        return Ok((plugin, model_id, voice_name));
    }

    if let Some(Qualified { provider: Some(provider), .. }) = voice {
        let plugin = set.plugins[provider].clone();
        let model_id = match &model {
            Some(model) => model.name.to_string(),
            None => plugin.info.default_model.clone(),
        };
        if find_model(&plugin, &model_id).is_none() {
            return Err(unknown_model(&model_id, &[plugin.clone()]));
        }
        return Ok((plugin, model_id, voice_name));
    }

    let candidates: Vec<&Arc<LoadedPlugin>> = match &model {
        Some(model) => {
            let offering: Vec<_> =
                set.plugins.values().filter(|plugin| find_model(plugin, model.name).is_some()).collect();
            if offering.is_empty() {
                return Err(unknown_model(model.name, &set.plugins.values().cloned().collect::<Vec<_>>()));
            }
            offering
        }
        None => set.plugins.values().collect(),
    };
    let offers_voice =
        |plugin: &LoadedPlugin| voice_name.as_deref().is_none_or(|voice| offers_voice(plugin, voice));
    if model.is_none()
        && let Some(voice) = voice_name.as_deref()
        && !candidates.iter().any(|plugin| offers_voice(plugin))
    {
        // Without a model nothing narrows the providers, so blaming one of them would mislead.
        let providers = join_or_none(candidates.iter().map(|plugin| plugin.id().to_string()));
        return Err(InvalidRequest::new(
            Some("voice"),
            "voice_not_found",
            format!("voice `{}` is not offered by any loaded provider ({providers}); GET /v1/voices lists the voices", quote(voice)),
        ));
    }
    let plugin = candidates
        .iter()
        .find(|plugin| offers_voice(plugin) && is_configured(plugin))
        .or_else(|| candidates.iter().find(|plugin| offers_voice(plugin)))
        .or_else(|| candidates.iter().find(|plugin| is_configured(plugin)))
        .or(candidates.first())
        .map(|plugin| (*plugin).clone())
        .ok_or_else(|| InvalidRequest::new(Some("model"), "model_not_found", "no provider is loaded"))?;
    let model_id = match &model {
        Some(model) => model.name.to_string(),
        None => plugin.info.default_model.clone(),
    };
    Ok((plugin, model_id, voice_name))
}

pub fn offers_voice(plugin: &LoadedPlugin, voice: &str) -> bool {
    plugin.info.voices.iter().any(|candidate| candidate.id == voice)
}

fn voice_elsewhere(voice: &str, voice_provider: &str, model_provider: &str) -> InvalidRequest {
    InvalidRequest::new(
        Some("voice"),
        "voice_not_found",
        format!(
            "voice `{}` belongs to provider `{voice_provider}`, but the model is provider `{model_provider}`'s",
            quote(voice)
        ),
    )
}

/// Whether every secret the plugin requires has a value; optional secrets may be unset.
pub fn is_configured(plugin: &LoadedPlugin) -> bool {
    plugin.missing_required_secrets().next().is_none()
}

pub fn unknown_model(model: &str, plugins: &[Arc<LoadedPlugin>]) -> InvalidRequest {
    let known = plugins
        .iter()
        .flat_map(|plugin| plugin.info.models.iter().map(move |m| format!("{}:{}", plugin.id(), m.id)));
    InvalidRequest::new(
        Some("model"),
        "model_not_found",
        format!(
            "model `{}` does not exist; available models: {}",
            quote(model),
            join_or_none(known)
        ),
    )
}

pub fn find_model<'a>(plugin: &'a LoadedPlugin, model: &str) -> Option<&'a ModelInfo> {
    plugin.info.models.iter().find(|candidate| candidate.id == model)
}

/// One provider, model and voice to try.
#[derive(Clone)]
pub struct Candidate {
    pub plugin: Arc<LoadedPlugin>,
    pub model: String,
    /// The provider's voice id, or `None` for its default voice.
    pub voice: Option<String>,
}

impl Candidate {
    pub fn label(&self) -> String {
        format!("{}:{}", self.plugin.id(), self.model)
    }
}

/// The candidates for a request, in the order to try them.
pub struct Plan {
    pub candidates: Vec<Candidate>,
    /// Candidates left out before any attempt, with the reason, for logs and error messages.
    pub skipped: Vec<String>,
    /// Whether the request named one provider and model directly. A direct request's
    /// validation errors go to the client as they are; a route's only skip the candidate.
    pub direct: bool,
}

/// Builds the plan for a request's `model` (a route, a tier, `cheapest`, or a model) and
/// `voice` (a voice alias, `provider:voice`, a voice, or none).
pub fn plan(
    set: &PluginSet,
    config: &Config,
    model: Option<&str>,
    voice: Option<&str>,
    format: &AudioFormat,
    language: Option<&str>,
) -> Result<Plan, InvalidRequest> {
    let alias = voice.and_then(|name| config.voices.get(name).map(|mapping| (name, mapping)));

    let route = model.and_then(|name| {
        config
            .routes
            .get(name)
            .map(|route| route.candidates.clone())
            .or_else(|| config.tiers.candidates(name))
    });
    if let Some(entries) = route {
        return Ok(plan_route(set, &entries, voice, alias));
    }
    if model == Some("cheapest") {
        return Ok(plan_cheapest(set, voice, alias, format, language));
    }

    // A direct request. A voice alias is mapped once the provider is known.
    let (plugin, model_id, resolved_voice) = resolve(set, model, if alias.is_some() { None } else { voice })?;
    let voice = match alias {
        Some((name, mapping)) => Some(mapping.get(plugin.id()).cloned().ok_or_else(|| {
            InvalidRequest::new(
                Some("voice"),
                "voice_not_found",
                format!("voice alias `{name}` has no voice for provider `{}`; add one under [voices.{name}]", plugin.id()),
            )
        })?),
        None => resolved_voice,
    };
    Ok(Plan { candidates: vec![Candidate { plugin, model: model_id, voice }], skipped: Vec::new(), direct: true })
}

type Alias<'a> = Option<(&'a str, &'a std::collections::BTreeMap<String, String>)>;

/// A route or tier entry, `provider[:model[:voice]]`; an empty part counts as absent.
pub struct RouteEntry<'a> {
    pub provider: &'a str,
    pub model: Option<&'a str>,
    pub voice: Option<&'a str>,
}

impl<'a> RouteEntry<'a> {
    pub fn parse(entry: &'a str) -> Self {
        let mut parts = entry.splitn(3, ':');
        let provider = parts.next().unwrap_or_default();
        let model = parts.next().filter(|model| !model.is_empty());
        let voice = parts.next().filter(|voice| !voice.is_empty());
        Self { provider, model, voice }
    }
}

fn plan_route(set: &PluginSet, entries: &[String], voice: Option<&str>, alias: Alias<'_>) -> Plan {
    let mut plan = Plan { candidates: Vec::new(), skipped: Vec::new(), direct: false };
    for entry in entries {
        let RouteEntry { provider, model, voice: fixed_voice } = RouteEntry::parse(entry);

        let Some(plugin) = set.plugins.get(provider) else {
            plan.skipped.push(format!("{entry}: provider `{provider}` is not loaded"));
            continue;
        };
        let model = model.map(str::to_string).unwrap_or_else(|| plugin.info.default_model.clone());
        if find_model(plugin, &model).is_none() {
            plan.skipped.push(format!("{entry}: provider `{provider}` has no model `{model}`"));
            continue;
        }
        if !is_configured(plugin) {
            plan.skipped.push(format!("{entry}: provider `{provider}` is missing a secret"));
            continue;
        }
        match candidate_voice(plugin, fixed_voice, voice, alias) {
            Ok(voice) => plan.candidates.push(Candidate { plugin: plugin.clone(), model, voice }),
            Err(reason) => plan.skipped.push(format!("{entry}: {reason}")),
        }
    }
    plan
}

/// Every configured provider's models that can produce the format (and speak the language,
/// when the request names one), cheapest first.
fn plan_cheapest(set: &PluginSet, voice: Option<&str>, alias: Alias<'_>, format: &AudioFormat, language: Option<&str>) -> Plan {
    let mut priced: Vec<(f64, Candidate)> = Vec::new();
    let mut skipped = Vec::new();
    for plugin in set.plugins.values().filter(|plugin| is_configured(plugin)) {
        for model in &plugin.info.models {
            if !model.formats.contains(&format.container) {
                continue;
            }
            if let Some(language) = language
                && !speaks(&model.languages, language)
            {
                continue;
            }
            match candidate_voice(plugin, None, voice, alias) {
                Ok(voice) => priced.push((
                    model.price_per_million_characters,
                    Candidate { plugin: plugin.clone(), model: model.id.clone(), voice },
                )),
                Err(reason) => skipped.push(format!("{}:{}: {reason}", plugin.id(), model.id)),
            }
        }
    }
    priced.sort_by(|a, b| a.0.total_cmp(&b.0));
    Plan { candidates: priced.into_iter().map(|(_, candidate)| candidate).collect(), skipped, direct: false }
}

/// Whether a model's languages include `language`; `en` matches `en-US` and the reverse. An
/// empty list means the languages are unknown, which is taken as a match.
fn speaks(languages: &[String], language: &str) -> bool {
    let wanted = language.split('-').next().unwrap_or(language).to_ascii_lowercase();
    languages.is_empty()
        || languages.iter().any(|offered| offered.split('-').next().unwrap_or(offered).eq_ignore_ascii_case(&wanted))
}

/// The voice to send to one candidate: its fixed voice, the alias's voice for its provider,
/// the requested voice when the provider offers it, or its default when none was requested.
fn candidate_voice(
    plugin: &LoadedPlugin,
    fixed: Option<&str>,
    requested: Option<&str>,
    alias: Alias<'_>,
) -> Result<Option<String>, String> {
    if let Some(fixed) = fixed {
        return Ok(Some(fixed.to_string()));
    }
    if let Some((name, mapping)) = alias {
        return mapping
            .get(plugin.id())
            .map(|voice| Some(voice.clone()))
            .ok_or_else(|| format!("voice alias `{name}` has no voice for provider `{}`", plugin.id()));
    }
    match requested {
        None => Ok(None),
        Some(voice) => {
            let voice = voice.strip_prefix(&format!("{}:", plugin.id())).unwrap_or(voice);
            if offers_voice(plugin, voice) {
                Ok(Some(voice.to_string()))
            } else {
                Err(format!("provider `{}` does not offer voice `{}`", plugin.id(), quote(voice)))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::speaks;

    #[test]
    fn language_match_table() {
        let languages = vec!["en-US".to_string(), "pt".to_string()];
        assert!(speaks(&languages, "en"));
        assert!(speaks(&languages, "EN-gb"));
        assert!(speaks(&languages, "pt-BR"));
        assert!(!speaks(&languages, "de"));
        assert!(speaks(&[], "de"));
    }
}
