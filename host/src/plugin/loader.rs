//! Loading every provider component in the plugin folder.
//!
//! Each file is checked on its own: a bad file is rejected with a reason that names it, and
//! the others keep loading.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::sync::Semaphore;

use wasmtime::component::Linker;

use super::bindings::PluginState;
use super::bindings::wit::{PluginPre, ProviderInfo, Setting};
use super::imports::{check_imports, describe_contract_mismatch};
use super::instance::PluginInstance;
use super::validate::check_provider_info;
use crate::allowed_hosts::AllowedHosts;
use crate::config::{Config, PluginLimits, ProviderConfig};
use crate::engine::{CompileCache, CompileSource, PluginEngine};
use crate::secrets::SecretStore;
use crate::text::escape_controls;

/// A plugin that passed every check, ready to run syntheses.
pub struct LoadedPlugin {
    pub file: PathBuf,
    /// SHA-256 of the component file, hex.
    pub digest: String,
    pub info: ProviderInfo,
    pub pre: PluginPre<PluginState>,
    /// The operator's settings, passed to every call.
    pub settings: Vec<Setting>,
    pub secrets: SecretStore,
    pub hosts: AllowedHosts,
    pub source: CompileSource,
    /// Limits for this plugin's instances.
    pub limits: PluginLimits,
    /// Permits for `limits.max_concurrency`, when the operator set one.
    pub concurrency: Option<Arc<Semaphore>>,
}

impl LoadedPlugin {
    pub fn id(&self) -> &str {
        &self.info.id
    }

    /// Required secrets that have no value, with the reason.
    pub fn missing_required_secrets(&self) -> impl Iterator<Item = (&str, &crate::secrets::MissingSecret)> {
        self.secrets
            .missing()
            .filter(|(name, _)| self.info.secrets.iter().any(|secret| secret.required && secret.name == *name))
    }
}

/// A file that was not loaded, and why.
#[derive(Debug, Clone)]
pub struct Rejection {
    pub file: PathBuf,
    pub reason: String,
}

/// What loading a plugin folder found.
#[derive(Default)]
pub struct LoadReport {
    pub loaded: Vec<LoadedPlugin>,
    pub rejected: Vec<Rejection>,
    /// Plugins the operator disabled, by id.
    pub disabled: Vec<String>,
}

/// Builds the linker every plugin is instantiated with: WASI with an empty context. The
/// async form, because plugin calls run on tokio's worker threads, where the synchronous
/// WASI functions (a panic message written to stderr, say) would try to start a runtime.
pub fn plugin_linker(engine: &PluginEngine) -> anyhow::Result<Linker<PluginState>> {
    let mut linker = Linker::new(&engine.engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    Ok(linker)
}

/// Loads every `*.wasm` file in the configured plugin folder, in file-name order.
pub fn load_dir(engine: &PluginEngine, config: &Config) -> anyhow::Result<LoadReport> {
    let dir = &config.plugins.dir;
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|error| anyhow::anyhow!("cannot read plugin folder {}: {error}", dir.display()))?
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "wasm") && path.is_file())
        .collect();
    files.sort();

    let linker = plugin_linker(engine)?;
    let cache = CompileCache::new(config.plugins.cache_dir.clone());
    let mut report = LoadReport::default();

    for file in files {
        match load_file(engine, &linker, &cache, config, &file) {
            Ok(Loaded::Plugin(plugin)) => {
                if report.loaded.iter().any(|other| other.id() == plugin.id()) {
                    report.rejected.push(Rejection {
                        reason: format!(
                            "another file already provides plugin id `{}`; remove one of them",
                            plugin.id()
                        ),
                        file,
                    });
                    continue;
                }
                report.loaded.push(*plugin);
            }
            Ok(Loaded::Disabled(id)) => report.disabled.push(id),
            Err(reason) => report.rejected.push(Rejection { file, reason }),
        }
    }

    for id in config.providers.keys() {
        let known = report.loaded.iter().any(|plugin| plugin.id() == id)
            || report.disabled.contains(id);
        if !known {
            tracing::warn!(
                provider = %id,
                dir = %dir.display(),
                "configuration has a [providers.{id}] section, but no plugin with that id was loaded"
            );
        }
    }
    crate::engine::release_free_memory();
    Ok(report)
}

/// Loads one component file through every check that [`load_dir`] applies (imports,
/// linking, `describe` with the operator's settings, host and secret declarations), for tools
/// such as the conformance kit that test a single plugin. Returns the reason on rejection.
pub fn load_file_checked(engine: &PluginEngine, config: &Config, file: &Path) -> Result<LoadedPlugin, String> {
    let linker = plugin_linker(engine).map_err(|error| format!("cannot build the linker: {error:#}"))?;
    let cache = CompileCache::new(config.plugins.cache_dir.clone());
    match load_file(engine, &linker, &cache, config, file)? {
        Loaded::Plugin(plugin) => Ok(*plugin),
        Loaded::Disabled(id) => Err(format!(
            "plugin `{id}` is disabled in the configuration (providers.{id}.enabled = false)"
        )),
    }
}

enum Loaded {
    Plugin(Box<LoadedPlugin>),
    Disabled(String),
}

fn load_file(
    engine: &PluginEngine,
    linker: &Linker<PluginState>,
    cache: &CompileCache,
    config: &Config,
    file: &Path,
) -> Result<Loaded, String> {
    let bytes = std::fs::read(file).map_err(|error| format!("cannot read the file: {error}"))?;
    check_header(&bytes)?;
    let name = escape_controls(&file.file_name().unwrap_or_default().to_string_lossy());
    let (component, source, digest) = cache
        .load(engine, &name, &bytes)
        .map_err(|error| format!("not a valid WebAssembly component: {error:#}"))?;

    let forbidden = check_imports(&engine.engine, &component);
    if !forbidden.is_empty() {
        return Err(format!(
            "imports {}, which provider plugins may not use; a plugin may import only wasi:cli, wasi:io, wasi:clocks and wasi:random",
            forbidden.join(", ")
        ));
    }

    let pre = linker
        .instantiate_pre(&component)
        .map_err(|error| format!("cannot be linked: {error:#}"))?;
    let pre = PluginPre::new(pre).map_err(|error| {
        format!("{} ({error:#})", describe_contract_mismatch(&engine.engine, &component))
    })?;

    // Describe runs before the plugin's own limits are known, so it gets the largest memory
    // any plugin may have: a plugin that embeds a model needs it just to instantiate.
    let describe_limits = PluginLimits {
        memory_limit_mib: config.largest_memory_limit_mib(),
        call_timeout_ms: config.engine.call_timeout_ms,
        max_concurrency: None,
    };

    // Learn the id with default settings, so the operator's section can be found by it.
    let id = describe(engine, &describe_limits, &pre, &[])
        .map(|info| info.id)
        .unwrap_or_else(|_| file_stem(file));
    let provider_config = config.providers.get(&id).cloned().unwrap_or_default();
    if !provider_config.is_enabled() {
        return Ok(Loaded::Disabled(id));
    }

    let settings: Vec<Setting> = provider_config
        .settings
        .iter()
        .map(|(name, value)| Setting { name: name.clone(), value: value.clone() })
        .collect();
    let info = describe(engine, &describe_limits, &pre, &settings)?;
    if info.id != id {
        return Err(format!(
            "describe returned id `{}` with the operator's settings but `{id}` without them; the id must not depend on settings",
            info.id
        ));
    }

    let problems = check_provider_info(&info);
    if !problems.is_empty() {
        return Err(format!("describe returned an unusable provider: {}", problems.join("; ")));
    }
    check_setting_names(&info, &provider_config)?;

    let secrets = SecretStore::resolve(
        info.secrets.iter().map(|secret| (secret.name.as_str(), secret.env.as_deref())),
        &provider_config.secrets,
    );
    for name in provider_config.secrets.keys() {
        if !info.secrets.iter().any(|secret| &secret.name == name) {
            return Err(format!(
                "providers.{id}.secrets.{name} is not a secret of this plugin; it declares: {}",
                list_or_none(info.secrets.iter().map(|secret| secret.name.as_str()))
            ));
        }
    }

    let hosts = AllowedHosts::new(&info.hosts, provider_config.allowed_hosts.as_deref())
        .map_err(|error| format!("host list is invalid: {error}"))?;

    let limits = config.limits_for(&id);
    let concurrency = limits
        .max_concurrency
        .map(|permits| Arc::new(Semaphore::new(usize::try_from(permits).unwrap_or(usize::MAX))));
    Ok(Loaded::Plugin(Box::new(LoadedPlugin {
        file: file.to_path_buf(),
        digest,
        info,
        pre,
        settings,
        secrets,
        hosts,
        source,
        limits,
        concurrency,
    })))
}

fn describe(
    engine: &PluginEngine,
    limits: &PluginLimits,
    pre: &PluginPre<PluginState>,
    settings: &[Setting],
) -> Result<ProviderInfo, String> {
    let mut instance = PluginInstance::new(engine, limits, pre)
        .map_err(|fault| format!("cannot be instantiated: {fault}"))?;
    match instance.describe(settings) {
        Ok(Ok(info)) => Ok(info),
        Ok(Err(error)) => Err(format!(
            "rejected setting `{}`: {}",
            error.name, error.message
        )),
        Err(fault) => Err(format!("describe {fault}")),
    }
}

fn check_setting_names(info: &ProviderInfo, config: &ProviderConfig) -> Result<(), String> {
    for name in config.settings.keys() {
        if !info.settings.iter().any(|setting| &setting.name == name) {
            return Err(format!(
                "providers.{}.settings.{name} is not a setting of this plugin; it accepts: {}",
                info.id,
                list_or_none(info.settings.iter().map(|setting| setting.name.as_str()))
            ));
        }
    }
    Ok(())
}

fn list_or_none<'a>(names: impl Iterator<Item = &'a str>) -> String {
    let names: Vec<&str> = names.collect();
    if names.is_empty() { "none".to_string() } else { names.join(", ") }
}

/// Rejects a file that is not a component by its first 8 bytes, with a one-line reason.
/// The compiler's own message for a wrong header prints both headers as multi-line arrays.
fn check_header(bytes: &[u8]) -> Result<(), String> {
    if !bytes.starts_with(b"\0asm") {
        return Err("not a WebAssembly component: the file does not start with the WebAssembly magic bytes `\\0asm`".to_string());
    }
    let Some(version) = bytes.get(4..8) else {
        return Err("not a WebAssembly component: the file ends inside the 8-byte WebAssembly header".to_string());
    };
    if version == [1, 0, 0, 0] {
        return Err(
            "not a WebAssembly component: it is a core WebAssembly module; build the plugin as a component (for Rust, the wasm32-wasip2 target)"
                .to_string(),
        );
    }
    if version != [0x0d, 0, 1, 0] {
        return Err(format!(
            "not a WebAssembly component: its version and layer bytes are {version:02x?}, where this host reads components with [0d, 00, 01, 00]"
        ));
    }
    Ok(())
}

fn file_stem(file: &Path) -> String {
    file.file_stem().map(|stem| stem.to_string_lossy().into_owned()).unwrap_or_default()
}
