//! The gateway core shared by the HTTP server and the CLI: loaded plugins, the upstream
//! client, and the path from an API-neutral speech request to audio.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::config::Config;
use crate::engine::PluginEngine;
use crate::plugin::wit::SynthesisRequest;
use crate::plugin::{LoadReport, LoadedPlugin, Rejection, load_dir};
use crate::routing::{
    Admission, BreakerState, Candidate, CircuitBreaker, Disposition, ProviderCapacity, RetryBudget, backoff,
    disposition, is_unhealthy, plan,
};
use crate::speech::{SpeakError, SpeechRequest, validate};
use crate::synthesis::{Permits, SynthesisError, Synthesized, synthesize};
use crate::upstream::UpstreamClient;

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
    config: Arc<Config>,
    plugins: RwLock<Arc<PluginSet>>,
    /// One permit per plugin instance the engine can hold at once.
    instance_slots: Arc<Semaphore>,
    /// Per-provider state that outlives one plugin version: breaker, capacity, client.
    providers: Mutex<BTreeMap<String, Arc<ProviderRuntime>>>,
    retry_budget: RetryBudget,
}

/// What the gateway keeps per provider id.
pub struct ProviderRuntime {
    pub breaker: CircuitBreaker,
    pub capacity: ProviderCapacity,
    pub upstream: UpstreamClient,
}

impl Gateway {
    /// Builds the engine and loads the plugin folder, logging each plugin.
    pub fn start(config: &Config) -> anyhow::Result<Self> {
        let engine = PluginEngine::new(&config.engine, config.largest_memory_limit_mib())?;
        tracing::info!(pooling = engine.pooling, "WebAssembly engine ready");
        let report = load_dir(&engine, config)?;
        let set = PluginSet::from(report);
        log_plugin_set(&set, config);
        let slots = usize::try_from(config.engine.max_instances).unwrap_or(usize::MAX);
        Ok(Self {
            engine,
            config: Arc::new(config.clone()),
            plugins: RwLock::new(Arc::new(set)),
            instance_slots: Arc::new(Semaphore::new(slots)),
            providers: Mutex::new(BTreeMap::new()),
            retry_budget: RetryBudget::new(&config.resilience),
        })
    }

    pub fn plugins(&self) -> Arc<PluginSet> {
        self.plugins.read().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }

    /// The runtime state of one provider, created on first use.
    pub fn provider(&self, id: &str) -> anyhow::Result<Arc<ProviderRuntime>> {
        let mut providers = self.providers.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(runtime) = providers.get(id) {
            return Ok(runtime.clone());
        }
        let provider_config = self.config.providers.get(id).cloned().unwrap_or_default();
        let resilience = &self.config.resilience;
        let runtime = Arc::new(ProviderRuntime {
            breaker: CircuitBreaker::new(id, resilience.breaker_failures, resilience.breaker_cooldown()),
            capacity: ProviderCapacity::new(id, &provider_config.capacity),
            upstream: UpstreamClient::new(&self.config.upstream.with_overrides(&provider_config.timeouts))?,
        });
        providers.insert(id.to_string(), runtime.clone());
        Ok(runtime)
    }

    /// The breaker state of a provider that has served or failed a request, if any.
    pub fn breaker_state(&self, id: &str) -> Option<BreakerState> {
        let providers = self.providers.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        providers.get(id).map(|runtime| runtime.breaker.state())
    }

    /// Plans, validates and runs a speech request, retrying and falling back by the kind of
    /// each failure.
    pub async fn speak(&self, request: SpeechRequest) -> Result<Synthesized, SpeakError> {
        let set = self.plugins();
        let plan = plan(
            &set,
            &self.config,
            request.model.as_deref(),
            request.voice.as_deref(),
            &request.format,
            request.language.as_deref(),
        )?;
        for reason in &plan.skipped {
            tracing::info!(%reason, "route candidate skipped");
        }
        self.retry_budget.deposit();

        let resilience = &self.config.resilience;
        let characters = request.text.chars().count();
        let mut attempts = 0;
        let mut last_error: Option<SpeakError> = None;

        'candidates: for candidate in &plan.candidates {
            let synthesis = match validate(&candidate.plugin, &candidate.model, candidate.voice.clone(), request.clone()) {
                Ok(synthesis) => synthesis,
                Err(invalid) if plan.direct => return Err(invalid.into()),
                Err(invalid) => {
                    tracing::info!(candidate = %candidate.label(), reason = %invalid.message, "route candidate skipped");
                    last_error = Some(invalid.into());
                    continue;
                }
            };
            let runtime = self.provider(candidate.plugin.id()).map_err(|error| SpeakError::Internal(format!("{error:#}")))?;

            for attempt in 1..=resilience.max_attempts {
                if attempts >= resilience.max_total_attempts {
                    tracing::warn!(attempts, "request reached resilience.max_total_attempts");
                    break 'candidates;
                }
                let admission = runtime.breaker.admit();
                if admission == Admission::Rejected {
                    tracing::info!(candidate = %candidate.label(), "circuit breaker open; trying the next candidate");
                    last_error = Some(SpeakError::CircuitOpen { provider: candidate.plugin.id().to_string() });
                    continue 'candidates;
                }
                let upstream_permit = match runtime.capacity.acquire(characters).await {
                    Ok(permit) => permit,
                    Err(full) => {
                        if admission == Admission::Probe {
                            runtime.breaker.release_probe();
                        }
                        tracing::info!(candidate = %candidate.label(), reason = %full, "provider at capacity; trying the next candidate");
                        last_error = Some(SpeakError::Capacity(full));
                        continue 'candidates;
                    }
                };

                attempts += 1;
                let result = self.attempt(candidate, &runtime, synthesis.clone(), upstream_permit).await;
                let error = match result {
                    Ok(mut synthesized) => {
                        runtime.breaker.record_success();
                        synthesized.attempts = attempts;
                        return Ok(synthesized);
                    }
                    Err(error) => error,
                };
                tracing::warn!(candidate = %candidate.label(), attempt, error = %error, "attempt failed");
                if is_unhealthy(&error) {
                    runtime.breaker.record_failure();
                } else if admission == Admission::Probe {
                    runtime.breaker.release_probe();
                }

                match disposition(&error) {
                    Disposition::Fatal => return Err(error.into()),
                    Disposition::NextCandidate { .. } => {
                        last_error = Some(error.into());
                        continue 'candidates;
                    }
                    Disposition::Retry { retry_after } => {
                        last_error = Some(error.into());
                        if attempt == resilience.max_attempts {
                            continue 'candidates;
                        }
                        let cap = Duration::from_millis(resilience.retry_after_cap_ms);
                        if retry_after.is_some_and(|wait| wait > cap) {
                            tracing::info!(candidate = %candidate.label(), "Retry-After is longer than resilience.retry_after_cap_ms; trying the next candidate");
                            continue 'candidates;
                        }
                        if !self.retry_budget.try_withdraw() {
                            tracing::warn!(candidate = %candidate.label(), "retry budget spent; trying the next candidate");
                            continue 'candidates;
                        }
                        let wait = backoff(resilience, attempt).max(retry_after.unwrap_or_default());
                        tracing::info!(candidate = %candidate.label(), wait_ms = wait.as_millis() as u64, "retrying");
                        tokio::time::sleep(wait).await;
                    }
                }
            }
        }

        Err(last_error.unwrap_or(SpeakError::NoCandidate { skipped: plan.skipped }))
    }

    /// One attempt at one candidate.
    async fn attempt(
        &self,
        candidate: &Candidate,
        runtime: &ProviderRuntime,
        synthesis: SynthesisRequest,
        upstream_permit: Option<OwnedSemaphorePermit>,
    ) -> Result<Synthesized, SynthesisError> {
        let plugin = candidate.plugin.clone();
        // The plugin's own concurrency limit first, so a busy plugin does not hold engine
        // slots that other plugins could use.
        let mut instance_permits = Vec::new();
        if let Some(semaphore) = &plugin.concurrency {
            instance_permits.push(semaphore.clone().acquire_owned().await.expect("plugin semaphores are never closed"));
        }
        instance_permits.push(
            self.instance_slots.clone().acquire_owned().await.expect("the instance semaphore is never closed"),
        );
        let permits = Permits { instance: instance_permits, upstream: upstream_permit };
        synthesize(&self.engine, &runtime.upstream, plugin, synthesis, permits).await
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

