//! The gateway core shared by the HTTP server and the CLI: loaded plugins, the upstream
//! client, and the path from an API-neutral speech request to audio.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::api::errors::synthesis_error;
use crate::audio::{container_name, parse_container};
use crate::auth::{Authenticator, Client};
use crate::cache::{CacheKey, CachedAudio, TieredCache};
use crate::delivery::{CacheStatus, Delivery, DeliverySink, FlightGuard, Flights, Join, now_unix, wait};
use crate::metrics::{AttemptLabels, CacheLabels, Metrics, provider as provider_label};
use crate::plugin::wit::AudioFormat;
use crate::usage::{RateDecision, UsageError, UsageStore, UsageWriter, month_bounds};
use crate::config::Config;
use crate::engine::PluginEngine;
use crate::plugin::wit::SynthesisRequest;
use crate::plugin::{LoadReport, LoadedPlugin, Rejection, load_dir};
use crate::audio::join::{can_join, join};
use crate::plugin::wit::{ProviderError, RateLimit};
use crate::routing::{
    Admission, BreakerState, Candidate, CircuitBreaker, Disposition, ProviderCapacity, RetryBudget, RouteEntry, backoff,
    disposition, find_model, is_unhealthy, offers_voice, plan, split_text,
};
use crate::synthesis::AudioBody;
use crate::upstream::UpstreamError;
use futures_util::StreamExt;
use crate::speech::{InvalidRequest, SpeakError, SpeechRequest, validate};
use crate::synthesis::{Permits, SynthesisError, Synthesized, synthesize};
use crate::text::escape_controls;
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
    auth: Authenticator,
    sink: Arc<DeliverySink>,
}

/// Per-provider state, by provider id.
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
        let usage = Arc::new(open_usage(config)?);
        Ok(Self {
            engine,
            config: Arc::new(config.clone()),
            plugins: RwLock::new(Arc::new(set)),
            instance_slots: Arc::new(Semaphore::new(slots)),
            providers: Mutex::new(BTreeMap::new()),
            retry_budget: RetryBudget::new(&config.resilience),
            auth: Authenticator::new(config),
            sink: Arc::new(DeliverySink {
                cache: TieredCache::open_if_enabled(&config.cache)?.map(Arc::new),
                usage_writer: UsageWriter::start(usage.clone()),
                usage,
                metrics: Arc::new(Metrics::new()),
                flights: Arc::new(Flights::default()),
            }),
        })
    }

    pub fn plugins(&self) -> Arc<PluginSet> {
        self.plugins.read().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }

    /// Replaces the loaded plugins in one step. Requests in flight keep the plugins they
    /// hold.
    pub fn replace_plugins(&self, set: PluginSet) {
        *self.plugins.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(set);
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn auth(&self) -> &Authenticator {
        &self.auth
    }

    /// Where finished responses are accounted for.
    pub fn sink(&self) -> &Arc<DeliverySink> {
        &self.sink
    }

    pub fn metrics(&self) -> &Metrics {
        &self.sink.metrics
    }

    pub fn usage(&self) -> &UsageStore {
        &self.sink.usage
    }

    /// Waits until the usage of every response finished so far is in the usage store.
    pub async fn flush_usage(&self) {
        self.sink.usage_writer.flush().await;
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
    pub async fn speak(&self, request: SpeechRequest, client: &Client) -> Result<Synthesized, SpeakError> {
        self.check_client_limits(client).await?;
        let set = self.plugins();
        if let Some(model) = request.model.as_deref()
            && self.is_route(model)
            && !client.may_use_route(model)
        {
            return Err(SpeakError::Forbidden(format!("client key `{}` may not use route `{model}`", client.name())));
        }
        let mut plan = plan(
            &set,
            &self.config,
            request.model.as_deref(),
            request.voice.as_deref(),
            &request.format,
            request.language.as_deref(),
        )?;
        let (allowed, denied): (Vec<_>, Vec<_>) =
            plan.candidates.into_iter().partition(|candidate| client.may_use_provider(candidate.plugin.id()));
        plan.candidates = allowed;
        for candidate in denied {
            let reason = format!("{}: client key `{}` may not use provider `{}`", candidate.label(), client.name(), candidate.plugin.id());
            if plan.direct {
                return Err(SpeakError::Forbidden(reason));
            }
            plan.skipped.push(reason);
        }
        for reason in &plan.skipped {
            tracing::info!(%reason, "route candidate skipped");
        }
        self.retry_budget.deposit();

        let resilience = &self.config.resilience;
        let characters = request.text.chars().count();
        let max_characters = self.config.long_text.max_characters;
        if characters > max_characters {
            return Err(InvalidRequest::new(
                Some("input"),
                "string_above_max_length",
                format!("the text is {characters} characters long; the gateway accepts at most {max_characters} (long_text.max_characters)"),
            )
            .into());
        }
        let mut attempts = 0;
        let mut last_error: Option<SpeakError> = None;

        'candidates: for candidate in &plan.candidates {
            let parts = match self.prepare_parts(candidate, &request) {
                Ok(parts) => parts,
                Err(invalid) if plan.direct => return Err(invalid.into()),
                Err(invalid) => {
                    tracing::info!(candidate = %candidate.label(), reason = %invalid.message, "route candidate skipped");
                    last_error = Some(invalid.into());
                    continue;
                }
            };
            let runtime = self.provider(candidate.plugin.id()).map_err(|error| SpeakError::Internal(format!("{error:#}")))?;

            let cache_key = self.cache_key(candidate, &parts, &request);
            let mut flight = None;
            if let Some(key) = &cache_key {
                match self.lookup(candidate, key, &request, client).await {
                    Lookup::Served(synthesized) => return Ok(*synthesized),
                    Lookup::Lead(guard) => flight = Some(guard),
                    Lookup::Miss => {}
                }
            }

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
                // A text in parts takes capacity part by part, in `attempt_parts`.
                let single = parts.len() == 1;
                let capacity = if single { runtime.capacity.acquire(characters).await } else { Ok(None) };
                let upstream_permit = match capacity {
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
                let result = if single {
                    self.attempt(candidate, &runtime, parts[0].clone(), upstream_permit).await
                } else {
                    self.attempt_parts(candidate, &runtime, &parts).await
                };
                let error = match result {
                    Ok(mut synthesized) => {
                        runtime.breaker.record_success();
                        self.count_attempt(candidate, "success", &runtime);
                        synthesized.attempts = attempts;
                        let cache_status = if cache_key.is_some() {
                            CacheStatus::Miss
                        } else {
                            CacheStatus::Bypass
                        };
                        synthesized.delivery = Some(Delivery {
                            client: client.name().to_string(),
                            provider: synthesized.provider.clone(),
                            model: synthesized.model.clone(),
                            format: synthesized.format,
                            characters: synthesized.billed_characters.map_or(characters as u64, u64::from),
                            price_per_million: price(candidate),
                            cache_status,
                            cache_key,
                            ttl_seconds: request.cache.ttl_seconds.unwrap_or(self.config.cache.ttl_seconds),
                            flight,
                            audio_ms: None,
                        });
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
                self.count_attempt(candidate, synthesis_error(&error).code, &runtime);
                if matches!(error, SynthesisError::Plugin { .. }) {
                    self.metrics().plugin_faults.get_or_create(&provider_label(candidate.plugin.id())).inc();
                }

                match disposition(&error) {
                    Disposition::Fatal => return Err(error.into()),
                    Disposition::NextCandidate { .. } => {
                        last_error = Some(error.into());
                        self.metrics().fallbacks.get_or_create(&provider_label(candidate.plugin.id())).inc();
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
                        self.metrics().retries.get_or_create(&provider_label(candidate.plugin.id())).inc();
                        let wait = backoff(resilience, attempt).max(retry_after.unwrap_or_default());
                        tracing::info!(candidate = %candidate.label(), wait_ms = wait.as_millis() as u64, "retrying");
                        tokio::time::sleep(wait).await;
                    }
                }
            }
        }

        Err(last_error.unwrap_or(SpeakError::NoCandidate { skipped: plan.skipped }))
    }

    /// Refuses a client over its rate limit or monthly budget. A failing usage store lets
    /// the request through: accounting must not take the gateway down.
    async fn check_client_limits(&self, client: &Client) -> Result<(), SpeakError> {
        let Client::Key(key) = client else {
            return Ok(());
        };
        let now = now_unix();
        if let Some(limit) = key.requests_per_minute {
            match self.usage().take_rate(&key.name, limit, now).await {
                Ok(RateDecision::Denied { retry_after_seconds }) => {
                    return Err(SpeakError::ClientLimit {
                        message: format!("client key `{}` is over its limit of {limit} requests per minute", key.name),
                        retry_after_seconds,
                    });
                }
                Ok(RateDecision::Allowed { .. }) => {}
                Err(error) => tracing::warn!(error = %error, "checking a client rate limit failed; letting the request through"),
            }
        }
        if let Some(budget) = key.monthly_budget_usd {
            match self.usage().month_cost_micro_usd(&key.name, now).await {
                Ok(spent) if spent as f64 >= budget * 1_000_000.0 => {
                    return Err(SpeakError::ClientLimit {
                        message: format!(
                            "client key `{}` has used its monthly budget of ${budget:.2} (estimated spend ${:.2})",
                            key.name,
                            spent as f64 / 1_000_000.0
                        ),
                        retry_after_seconds: seconds_to_next_month(now),
                    });
                }
                Ok(_) => {}
                Err(error) => tracing::warn!(error = %error, "checking a client budget failed; letting the request through"),
            }
        }
        Ok(())
    }

    /// The cache key for a candidate, or `None` when this request may not use the cache.
    fn cache_key(&self, candidate: &Candidate, parts: &[SynthesisRequest], request: &SpeechRequest) -> Option<CacheKey> {
        if self.sink.cache.is_none() || request.cache.bypass || request.timestamps {
            return None;
        }
        let first = parts.first()?;
        Some(CacheKey {
            provider: candidate.plugin.id().to_string(),
            model: first.model.clone(),
            voice: first.voice.clone(),
            container: container_name(first.format.container).to_string(),
            sample_rate: first.format.sample_rate,
            bitrate: first.format.bitrate,
            speed: first.speed,
            language: first.language.clone(),
            instructions: first.instructions.clone(),
            // Long-text parts carry neighbour text in their options; the whole text is the key.
            options: if parts.len() == 1 { first.options.clone() } else { String::new() },
            text: request.text.clone(),
        })
    }

    /// Looks a key up in the cache, then joins or leads a flight of identical requests.
    async fn lookup(&self, candidate: &Candidate, key: &CacheKey, request: &SpeechRequest, client: &Client) -> Lookup {
        let cache = self.sink.cache.as_ref().expect("a cache key implies a cache");
        // Only a miss needs the digest, to join a flight: a hit is served without it.
        let mut digest = None;
        loop {
            match cache.get(key).await {
                Ok(Some(hit)) => {
                    self.metrics().cache_lookups.get_or_create(&CacheLabels { result: "hit".into() }).inc();
                    self.metrics().cache_bytes_served.inc_by(hit.data.len() as u64);
                    return Lookup::Served(Box::new(self.from_cache(candidate, &hit, request, client, CacheStatus::Hit)));
                }
                Ok(None) => {}
                Err(error) => {
                    tracing::warn!(error = %error, "audio cache lookup failed; synthesizing");
                    return Lookup::Miss;
                }
            }
            let digest = digest.get_or_insert_with(|| key.digest());
            match self.sink.flights.join(digest) {
                Join::Leader(guard) => {
                    self.metrics().cache_lookups.get_or_create(&CacheLabels { result: "miss".into() }).inc();
                    return Lookup::Lead(guard);
                }
                Join::Follower(receiver) => {
                    if let Some(audio) = wait(receiver).await {
                        // Served without a provider call, as a hit is.
                        tracing::info!(candidate = %candidate.label(), "served by an identical request in flight");
                        self.metrics().cache_lookups.get_or_create(&CacheLabels { result: "coalesced".into() }).inc();
                        return Lookup::Served(Box::new(self.from_cache(candidate, &audio, request, client, CacheStatus::Hit)));
                    }
                    // The leader failed: look again, and lead when no other request does.
                }
            }
        }
    }

    /// A response made from stored audio.
    fn from_cache(&self, candidate: &Candidate, audio: &CachedAudio, request: &SpeechRequest, client: &Client, status: CacheStatus) -> Synthesized {
        let format = AudioFormat {
            container: parse_container(&audio.container).unwrap_or(request.format.container),
            sample_rate: request.format.sample_rate,
            bitrate: request.format.bitrate,
        };
        Synthesized {
            provider: candidate.plugin.id().to_string(),
            model: candidate.model.clone(),
            format,
            body: AudioBody::Complete(audio.data.clone()),
            billed_characters: audio.billed_characters,
            alignment: None,
            attempts: 0,
            delivery: Some(Delivery {
                client: client.name().to_string(),
                provider: candidate.plugin.id().to_string(),
                model: candidate.model.clone(),
                format,
                characters: audio.billed_characters.map_or(0, u64::from),
                price_per_million: price(candidate),
                cache_status: status,
                cache_key: None,
                ttl_seconds: 0,
                flight: None,
                audio_ms: audio.audio_ms,
            }),
        }
    }

    fn count_attempt(&self, candidate: &Candidate, outcome: &str, runtime: &ProviderRuntime) {
        let provider = candidate.plugin.id();
        self.metrics()
            .attempts
            .get_or_create(&AttemptLabels { provider: provider.to_string(), outcome: outcome.to_string() })
            .inc();
        let state = match runtime.breaker.state() {
            BreakerState::Closed => 0,
            BreakerState::Open => 1,
            BreakerState::HalfOpen => 2,
        };
        self.metrics().breaker_state.get_or_create(&provider_label(provider)).set(state);
    }

    /// Whether a model name refers to a named route or a tier.
    fn is_route(&self, model: &str) -> bool {
        self.config.routes.contains_key(model) || self.config.tiers.candidates(model).is_some() || model == "cheapest"
    }

    /// Validates the request for one candidate, split into parts when the text is longer than
    /// the candidate's model accepts and `[long_text] split` allows it.
    fn prepare_parts(&self, candidate: &Candidate, request: &SpeechRequest) -> Result<Vec<SynthesisRequest>, InvalidRequest> {
        let limit = find_model(&candidate.plugin, &candidate.model).map_or(usize::MAX, |model| model.max_characters as usize);
        let long_text = &self.config.long_text;
        let too_long = request.text.chars().count() > limit;
        if !too_long || !long_text.split || !can_join(request.format.container) {
            // `validate` rejects an over-long text with a message that names the limit.
            return Ok(vec![validate(&candidate.plugin, &candidate.model, candidate.voice.clone(), request.clone())?]);
        }

        let texts = split_text(&request.text, limit);
        tracing::info!(candidate = %candidate.label(), parts = texts.len(), limit, "splitting long text");
        let mut parts = Vec::with_capacity(texts.len());
        for (index, text) in texts.iter().enumerate() {
            let mut part = request.clone();
            part.text = text.clone();
            let mut synthesis = validate(&candidate.plugin, &candidate.model, candidate.voice.clone(), part)?;
            if candidate.plugin.id() == ELEVENLABS {
                let previous = index.checked_sub(1).map(|previous| texts[previous].as_str());
                synthesis.options = with_neighbours(&synthesis.options, previous, texts.get(index + 1).map(String::as_str));
            }
            parts.push(synthesis);
        }
        Ok(parts)
    }

    /// One attempt at a text in parts: the parts run `[long_text] parallelism` at a time,
    /// each taking the provider's capacity, and their audio is joined in order.
    async fn attempt_parts(
        &self,
        candidate: &Candidate,
        runtime: &ProviderRuntime,
        parts: &[SynthesisRequest],
    ) -> Result<Synthesized, SynthesisError> {
        let provider = candidate.plugin.id().to_string();
        let outcomes: Vec<Result<(Vec<u8>, Synthesized), SynthesisError>> = futures_util::stream::iter(parts.iter().cloned())
            .map(|part| async {
                let characters = part.text.chars().count();
                let permit = runtime.capacity.acquire(characters).await.map_err(|full| SynthesisError::Provider {
                    provider: provider.clone(),
                    error: ProviderError::RateLimited(RateLimit {
                        message: full.to_string(),
                        retry_after_ms: Some(full.retry_after().as_millis() as u64),
                    }),
                })?;
                let mut synthesized = self.attempt(candidate, runtime, part, permit).await?;
                let body = std::mem::replace(&mut synthesized.body, AudioBody::Complete(Default::default()));
                let audio = match body {
                    AudioBody::Complete(bytes) => bytes.to_vec(),
                    AudioBody::Stream(stream) => stream.collect().await.map_err(|error| SynthesisError::Upstream {
                        provider: provider.clone(),
                        error: UpstreamError::Body { host: error.host, reason: error.reason },
                    })?.to_vec(),
                };
                Ok((audio, synthesized))
            })
            .buffered(self.config.long_text.parallelism)
            .collect()
            .await;

        let mut clips = Vec::with_capacity(outcomes.len());
        let mut first: Option<Synthesized> = None;
        let mut billed: Option<u32> = Some(0);
        for outcome in outcomes {
            let (audio, synthesized) = outcome?;
            billed = billed.zip(synthesized.billed_characters).map(|(total, part)| total + part);
            clips.push(audio);
            first.get_or_insert(synthesized);
        }
        let mut synthesized = first.expect("a long text has at least two parts");
        let audio = join(synthesized.format.container, &clips)
            .map_err(|reason| SynthesisError::InvalidAudio { provider: provider.clone(), reason })?;
        synthesized.body = AudioBody::Complete(audio.into());
        synthesized.billed_characters = billed;
        synthesized.alignment = None;
        Ok(synthesized)
    }

    /// Makes one attempt at one candidate.
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
        synthesize(&self.engine, &runtime.upstream, plugin, synthesis, permits, &self.sink.metrics).await
    }
}

fn log_plugin_set(set: &PluginSet, config: &Config) {
    for plugin in set.plugins.values() {
        let models: Vec<&str> = plugin.info.models.iter().map(|model| model.id.as_str()).collect();
        tracing::info!(
            provider = %plugin.id(),
            version = %plugin.info.version,
            file = %escape_controls(&plugin.file.display().to_string()),
            models = %models.join(","),
            voices = plugin.info.voices.len(),
            compiled = ?plugin.source,
            "loaded plugin"
        );
        for (name, why) in plugin.missing_required_secrets() {
            tracing::warn!(
                provider = %plugin.id(),
                secret = %name,
                "secret has no value ({why}); requests to this provider will fail until it is set"
            );
        }
    }
    for rejection in &set.rejected {
        tracing::error!(
            file = %escape_controls(&rejection.file.display().to_string()),
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
    for problem in routing_problems(set, config) {
        tracing::warn!(%problem, "routing configuration names a provider, model or voice that is not loaded; requests skip it");
    }
}

/// Lists the route and tier entries and voice aliases that name a provider, model or voice
/// that is not loaded. Requests skip such entries, so the start log is where an operator
/// learns of them.
fn routing_problems(set: &PluginSet, config: &Config) -> Vec<String> {
    let mut problems = Vec::new();
    let tiers = [("fast", &config.tiers.fast), ("standard", &config.tiers.standard), ("premium", &config.tiers.premium)];
    let configured_tiers = tiers.iter().filter_map(|(name, entries)| entries.as_ref().map(|entries| (format!("tiers.{name}"), entries)));
    let routes = config.routes.iter().map(|(name, route)| (format!("routes.{name}"), &route.candidates));
    for (table, entries) in routes.chain(configured_tiers) {
        for entry in entries {
            let RouteEntry { provider, model, .. } = RouteEntry::parse(entry);
            match set.plugins.get(provider) {
                None => problems.push(format!("[{table}] entry `{entry}`: provider `{provider}` is not loaded")),
                Some(plugin) => {
                    if let Some(model) = model
                        && find_model(plugin, model).is_none()
                    {
                        problems.push(format!("[{table}] entry `{entry}`: provider `{provider}` has no model `{model}`"));
                    }
                }
            }
        }
    }
    for (alias, voices) in &config.voices {
        for (provider, voice) in voices {
            match set.plugins.get(provider) {
                None => problems.push(format!("[voices.{alias}]: provider `{provider}` is not loaded")),
                Some(plugin) if !offers_voice(plugin, voice) => {
                    problems.push(format!("[voices.{alias}]: provider `{provider}` has no voice `{voice}`"));
                }
                Some(_) => {}
            }
        }
    }
    problems
}


/// The plugin id that takes `previous_text` and `next_text`, which keep the prosody of a
/// text spoken in parts continuous (ElevenLabs' request stitching).
const ELEVENLABS: &str = "elevenlabs";

/// Adds `previous_text` and `next_text` to a plugin's JSON options.
fn with_neighbours(options: &str, previous: Option<&str>, next: Option<&str>) -> String {
    let mut map: serde_json::Map<String, serde_json::Value> = serde_json::from_str(options).unwrap_or_default();
    if let Some(previous) = previous {
        map.insert("previous_text".to_string(), previous.into());
    }
    if let Some(next) = next {
        map.insert("next_text".to_string(), next.into());
    }
    serde_json::Value::Object(map).to_string()
}

/// The result of a cache lookup.
enum Lookup {
    /// The audio, from the cache or from an identical request.
    Served(Box<Synthesized>),
    /// Nothing stored: this request synthesizes and its guard wakes the identical ones.
    Lead(FlightGuard),
    /// The cache failed; synthesize without it.
    Miss,
}

/// The candidate model's declared price, US dollars per million characters.
fn price(candidate: &Candidate) -> f64 {
    find_model(&candidate.plugin, &candidate.model).map_or(0.0, |model| model.price_per_million_characters)
}

/// Seconds until the next calendar month starts, UTC, for a budget's `Retry-After`.
fn seconds_to_next_month(now: u64) -> u64 {
    let (_, end) = month_bounds(now);
    end.saturating_sub(now).max(1)
}

/// Opens the usage store. The embedded store is one file that one process may open at a
/// time. When another gateway (or a running server, for `voxgate say`) has it open, this
/// process records its usage in a private file instead, and says so.
fn open_usage(config: &Config) -> anyhow::Result<UsageStore> {
    match UsageStore::open(&config.usage) {
        Ok(store) => Ok(store),
        Err(UsageError::DatabaseInUse { .. }) => {
            let mut private = config.usage.clone();
            private.path = std::env::temp_dir().join(format!("voxgate-usage-{}.redb", std::process::id()));
            tracing::warn!(
                path = %config.usage.path.display(),
                fallback = %private.path.display(),
                "the usage store is open in another voxgate process; this process records usage in a private file. Give each instance its own usage.path, or use the redis backend to share totals"
            );
            Ok(UsageStore::open(&private)?)
        }
        Err(error) => Err(error.into()),
    }
}
