//! The gateway core shared by the HTTP server and the CLI: loaded plugins, the upstream
//! client, and the path from an API-neutral speech request to audio.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use tokio::sync::Semaphore;

use crate::audio::container_name;
use crate::config::Config;
use crate::engine::PluginEngine;
use crate::plugin::wit::{AudioFormat, ModelInfo, SynthesisRequest};
use crate::plugin::{LoadReport, LoadedPlugin, Rejection, load_dir};
use crate::synthesis::{SynthesisError, Synthesized, synthesize};
use crate::upstream::UpstreamClient;

/// A request to speak, in no particular API's terms.
#[derive(Debug, Clone)]
pub struct SpeechRequest {
    /// `model`, `provider:model`, or `None` for the default model of the provider chosen by
    /// the voice, or of the first provider.
    pub model: Option<String>,
    /// `voice`, `provider:voice`, or `None` for the provider's default voice.
    pub voice: Option<String>,
    pub text: String,
    pub format: AudioFormat,
    pub speed: Option<f32>,
    pub language: Option<String>,
    pub instructions: Option<String>,
    pub timestamps: bool,
    /// Provider-specific options, a JSON object.
    pub options: Option<serde_json::Map<String, serde_json::Value>>,
    /// The provider the options are meant for, when the API that received them is one
    /// provider's own. Another provider gets no options, since its plugin would reject keys
    /// it does not know.
    pub options_provider: Option<&'static str>,
}

/// A request the gateway rejects before any provider sees it. The fields map onto each
/// API's error shape (OpenAI's `param` and `code`).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct InvalidRequest {
    pub message: String,
    /// The request field at fault, in the called API's naming.
    pub param: Option<&'static str>,
    pub code: &'static str,
}

impl InvalidRequest {
    pub fn new(param: Option<&'static str>, code: &'static str, message: impl Into<String>) -> Self {
        Self { message: message.into(), param, code }
    }
}

/// Why a speech request failed.
#[derive(Debug, thiserror::Error)]
pub enum SpeakError {
    #[error(transparent)]
    Invalid(#[from] InvalidRequest),
    #[error(transparent)]
    Synthesis(#[from] SynthesisError),
}

/// The loaded plugins, replaced as a whole when plugins are reloaded.
pub struct PluginSet {
    pub plugins: BTreeMap<String, Arc<LoadedPlugin>>,
    pub rejected: Vec<Rejection>,
    pub disabled: Vec<String>,
}

impl From<LoadReport> for PluginSet {
    fn from(report: LoadReport) -> Self {
        let plugins = report
            .loaded
            .into_iter()
            .map(|plugin| (plugin.id().to_string(), Arc::new(plugin)))
            .collect();
        Self { plugins, rejected: report.rejected, disabled: report.disabled }
    }
}

pub struct Gateway {
    pub engine: PluginEngine,
    pub upstream: UpstreamClient,
    plugins: RwLock<Arc<PluginSet>>,
    /// One permit per plugin instance the engine can hold at once.
    instance_slots: Arc<Semaphore>,
}

impl Gateway {
    /// Builds the engine and client and loads the plugin folder, logging each plugin.
    pub fn start(config: &Config) -> anyhow::Result<Self> {
        let engine = PluginEngine::new(&config.engine, config.largest_memory_limit_mib())?;
        tracing::info!(pooling = engine.pooling, "WebAssembly engine ready");
        let upstream = UpstreamClient::new(&config.upstream)?;
        let report = load_dir(&engine, config)?;
        let set = PluginSet::from(report);
        log_plugin_set(&set, config);
        let slots = usize::try_from(config.engine.max_instances).unwrap_or(usize::MAX);
        Ok(Self {
            engine,
            upstream,
            plugins: RwLock::new(Arc::new(set)),
            instance_slots: Arc::new(Semaphore::new(slots)),
        })
    }

    pub fn plugins(&self) -> Arc<PluginSet> {
        self.plugins.read().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }

    /// Resolves, validates and runs a speech request.
    pub async fn speak(&self, request: SpeechRequest) -> Result<Synthesized, SpeakError> {
        let set = self.plugins();
        let (plugin, model, voice) = resolve(&set, request.model.as_deref(), request.voice.as_deref())?;
        let synthesis = validate(&plugin, &model, voice, request)?;
        // The plugin's own concurrency limit first, so a busy plugin does not hold engine
        // slots that other plugins could use.
        let plugin_permit = match &plugin.concurrency {
            Some(semaphore) => Some(semaphore.clone().acquire_owned().await.expect("plugin semaphores are never closed")),
            None => None,
        };
        let slot = self
            .instance_slots
            .clone()
            .acquire_owned()
            .await
            .expect("the instance semaphore is never closed");
        Ok(synthesize(&self.engine, &self.upstream, plugin, synthesis, (slot, plugin_permit)).await?)
    }
}

fn log_plugin_set(set: &PluginSet, config: &Config) {
    for plugin in set.plugins.values() {
        let models: Vec<&str> = plugin.info.models.iter().map(|model| model.id.as_str()).collect();
        tracing::info!(
            provider = %plugin.id(),
            version = %plugin.info.version,
            file = %plugin.file.display(),
            models = %models.join(","),
            voices = plugin.info.voices.len(),
            compiled = ?plugin.source,
            "loaded plugin"
        );
        for (name, why) in plugin.secrets.missing() {
            tracing::warn!(
                provider = %plugin.id(),
                secret = %name,
                "secret has no value ({why}); requests to this provider will fail until it is set"
            );
        }
    }
    for rejection in &set.rejected {
        tracing::error!(
            file = %rejection.file.display(),
            reason = %rejection.reason,
            "rejected plugin"
        );
    }
    for id in &set.disabled {
        tracing::info!(provider = %id, "plugin disabled by configuration");
    }
    if set.plugins.is_empty() {
        tracing::warn!(dir = %config.plugins.dir.display(), "no plugin loaded; every request will fail");
    }
}

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
fn resolve(
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

fn offers_voice(plugin: &LoadedPlugin, voice: &str) -> bool {
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

fn is_configured(plugin: &LoadedPlugin) -> bool {
    plugin.secrets.missing().next().is_none()
}

fn unknown_model(model: &str, plugins: &[Arc<LoadedPlugin>]) -> InvalidRequest {
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

fn find_model<'a>(plugin: &'a LoadedPlugin, model: &str) -> Option<&'a ModelInfo> {
    plugin.info.models.iter().find(|candidate| candidate.id == model)
}

/// Checks a request against what the plugin declared and builds the contract's request.
fn validate(
    plugin: &LoadedPlugin,
    model_id: &str,
    voice: Option<String>,
    request: SpeechRequest,
) -> Result<SynthesisRequest, InvalidRequest> {
    let Some(model) = find_model(plugin, model_id) else {
        return Err(unknown_model(model_id, &[]));
    };

    if request.text.trim().is_empty() {
        return Err(InvalidRequest::new(
            Some("input"),
            "empty_input",
            "the text to speak is empty",
        ));
    }
    let characters = request.text.chars().count();
    if characters > model.max_characters as usize {
        return Err(InvalidRequest::new(
            Some("input"),
            "string_above_max_length",
            format!(
                "the text is {characters} characters long; model `{}` of provider `{}` accepts at most {}",
                model.id,
                plugin.id(),
                model.max_characters
            ),
        ));
    }

    let voice = voice.unwrap_or_else(|| plugin.info.default_voice.clone());
    let Some(voice_info) = plugin.info.voices.iter().find(|candidate| candidate.id == voice) else {
        let known: Vec<&str> = plugin.info.voices.iter().map(|voice| voice.id.as_str()).collect();
        return Err(InvalidRequest::new(
            Some("voice"),
            "voice_not_found",
            format!(
                "voice `{}` is not offered by provider `{}`; available voices: {}",
                quote(&voice),
                plugin.id(),
                known.join(", ")
            ),
        ));
    };
    if !voice_info.models.is_empty() && !voice_info.models.iter().any(|m| m == model_id) {
        return Err(InvalidRequest::new(
            Some("voice"),
            "voice_not_found",
            format!(
                "voice `{voice}` is not offered with model `{model_id}`; it is offered with: {}",
                voice_info.models.join(", ")
            ),
        ));
    }

    if !model.formats.contains(&request.format.container) {
        let offered: Vec<&str> = model.formats.iter().map(|format| container_name(*format)).collect();
        return Err(InvalidRequest::new(
            Some("response_format"),
            "unsupported_format",
            format!(
                "model `{model_id}` of provider `{}` cannot produce {}; it offers: {}",
                plugin.id(),
                container_name(request.format.container),
                offered.join(", ")
            ),
        ));
    }
    if request.instructions.is_some() && !model.instructions {
        return Err(InvalidRequest::new(
            Some("instructions"),
            "unsupported_parameter",
            format!("model `{model_id}` does not accept instructions"),
        ));
    }

    let meant_for_this_provider = request.options_provider.is_none_or(|id| id == plugin.id());
    let options = match request.options {
        Some(map) if !map.is_empty() && meant_for_this_provider => serde_json::Value::Object(map).to_string(),
        _ => String::new(),
    };
    Ok(SynthesisRequest {
        text: request.text,
        model: model_id.to_string(),
        voice,
        format: request.format,
        speed: request.speed,
        language: request.language,
        instructions: request.instructions,
        timestamps: request.timestamps,
        options,
    })
}

/// Client text quoted in an error message: bounded and without control characters.
pub fn quote(text: &str) -> String {
    let mut quoted: String = text.chars().filter(|c| !c.is_control()).take(100).collect();
    if text.chars().count() > 100 {
        quoted.push('…');
    }
    quoted
}

fn join_or_none(items: impl Iterator<Item = impl AsRef<str>>) -> String {
    let items: Vec<String> = items.map(|item| item.as_ref().to_string()).collect();
    if items.is_empty() { "none".to_string() } else { items.join(", ") }
}
