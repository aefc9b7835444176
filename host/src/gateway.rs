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
    /// `model`, `provider:model`, or `None` for the first provider's default.
    pub model: Option<String>,
    pub voice: Option<String>,
    pub text: String,
    pub format: AudioFormat,
    pub speed: Option<f32>,
    pub language: Option<String>,
    pub instructions: Option<String>,
    pub timestamps: bool,
    /// Provider-specific options, a JSON object.
    pub options: Option<serde_json::Map<String, serde_json::Value>>,
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
        let engine = PluginEngine::new(&config.engine)?;
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
        let (plugin, model) = resolve_model(&set, request.model.as_deref())?;
        let synthesis = validate(&plugin, &model, request)?;
        let slot = self
            .instance_slots
            .clone()
            .acquire_owned()
            .await
            .expect("the instance semaphore is never closed");
        Ok(synthesize(&self.engine, &self.upstream, plugin, synthesis, slot).await?)
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

/// Finds the plugin and model for `provider:model`, a bare model id, or nothing (the first
/// configured provider's default model).
fn resolve_model(
    set: &PluginSet,
    model: Option<&str>,
) -> Result<(Arc<LoadedPlugin>, String), InvalidRequest> {
    let Some(model) = model else {
        let plugin = set
            .plugins
            .values()
            .find(|plugin| is_configured(plugin))
            .or_else(|| set.plugins.values().next())
            .ok_or_else(|| InvalidRequest::new(Some("model"), "model_not_found", "no provider is loaded"))?;
        return Ok((plugin.clone(), plugin.info.default_model.clone()));
    };

    if let Some((provider, model_id)) = model.split_once(':') {
        let plugin = set.plugins.get(provider).ok_or_else(|| {
            InvalidRequest::new(
                Some("model"),
                "model_not_found",
                format!(
                    "provider `{}` is not loaded; loaded providers: {}",
                    quote(provider),
                    join_or_none(set.plugins.keys().map(String::as_str))
                ),
            )
        })?;
        let model_id = if model_id.is_empty() { plugin.info.default_model.as_str() } else { model_id };
        if find_model(plugin, model_id).is_none() {
            return Err(unknown_model(model, &[plugin.clone()]));
        }
        return Ok((plugin.clone(), model_id.to_string()));
    }

    // A bare model id: prefer a provider whose secrets are set, so a model offered by
    // several providers goes to one that can serve it.
    let offering: Vec<Arc<LoadedPlugin>> = set
        .plugins
        .values()
        .filter(|plugin| find_model(plugin, model).is_some())
        .cloned()
        .collect();
    let plugin = offering
        .iter()
        .find(|plugin| is_configured(plugin))
        .or(offering.first())
        .ok_or_else(|| unknown_model(model, &set.plugins.values().cloned().collect::<Vec<_>>()))?;
    Ok((plugin.clone(), model.to_string()))
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
    request: SpeechRequest,
) -> Result<SynthesisRequest, InvalidRequest> {
    let model = find_model(plugin, model_id).expect("resolve_model returned a declared model");

    if request.text.trim().is_empty() {
        return Err(InvalidRequest::new(
            Some("input"),
            "empty_input",
            "input is empty; provide the text to speak",
        ));
    }
    let characters = request.text.chars().count();
    if characters > model.max_characters as usize {
        return Err(InvalidRequest::new(
            Some("input"),
            "string_above_max_length",
            format!(
                "input is {characters} characters long; model `{}` of provider `{}` accepts at most {}",
                model.id,
                plugin.id(),
                model.max_characters
            ),
        ));
    }

    let voice = request.voice.unwrap_or_else(|| plugin.info.default_voice.clone());
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

    let options = match request.options {
        Some(map) if !map.is_empty() => serde_json::Value::Object(map).to_string(),
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
