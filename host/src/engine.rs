//! The wasmtime engine shared by every plugin, and the on-disk cache of compiled components.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use anyhow::Context;
use sha2::{Digest, Sha256};
use wasmtime::component::Component;
use wasmtime::{Config, Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use crate::config::EngineConfig;

mod child;
pub use child::{CompileArgs, compile_command, compile_in_child_processes};

/// How often the epoch advances. A call's deadline is a number of these ticks, so a looping
/// plugin is stopped within one tick of its budget.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Core instances, memories and tables that one provider component may use. A Rust
/// component built for wasm32-wasip2 has a handful of core instances (the program, the shim
/// and fixup modules that `wasm-component-ld` adds) with one memory and a few tables.
const CORE_INSTANCES_PER_COMPONENT: u32 = 16;
const MEMORIES_PER_COMPONENT: u32 = 2;
const TABLES_PER_COMPONENT: u32 = 8;

/// Memory kept mapped in a pooling slot between uses, so the next instance neither faults in
/// fresh pages nor makes the kernel flush other cores' TLBs, as releasing pages with
/// `madvise` does. With the `PAGEMAP_SCAN` ioctl (Linux 6.7 and later) wasmtime resets only
/// the pages an instance dirtied, so a slot keeps only what a plugin touched, up to this
/// bound. Measured on 2 cores: 8,500 pass-through requests per second against
/// 4,700 with 64 KiB kept and `madvise` for the rest.
const KEEP_RESIDENT_BYTES: usize = 1024 * 1024;
/// Without `PAGEMAP_SCAN` the whole kept region is cleared with `memset` at every release
/// and stays resident in every slot ever used, so less is kept.
const KEEP_RESIDENT_BYTES_WITHOUT_SCAN: usize = 64 * 1024;
const TABLE_KEEP_RESIDENT_BYTES: usize = 64 * 1024;

/// The engine, with what the host needs to run plugins under limits.
#[derive(Clone)]
pub struct PluginEngine {
    pub engine: Engine,
    pub limits: Arc<EngineConfig>,
    /// Whether instances come from the pooling allocator.
    pub pooling: bool,
    /// The size of each memory slot in the pool, in MiB: the largest memory any plugin may have.
    pub largest_memory_mib: u64,
    /// Plugin instances alive, which the epoch ticker waits for while there are none.
    pub instances: Arc<LiveInstances>,
}

/// Epoch ticks that make up a call budget.
pub fn deadline_ticks(call_timeout: Duration) -> u64 {
    let ticks = call_timeout.as_millis() / EPOCH_TICK.as_millis();
    u64::try_from(ticks).unwrap_or(u64::MAX).max(1)
}

impl PluginEngine {
    /// Builds the engine with the pooling allocator, or with on-demand allocation when the
    /// machine cannot reserve the pool (a low `ulimit -v`, for example), and starts the epoch
    /// ticker. `largest_memory_mib` sizes each slot of the memory pool.
    pub fn new(limits: &EngineConfig, largest_memory_mib: u64) -> anyhow::Result<Self> {
        let (engine, pooling) = match Engine::new(&engine_config(limits, largest_memory_mib, true)) {
            Ok(engine) => (engine, true),
            Err(error) => {
                tracing::warn!(
                    error = %format!("{error:#}"),
                    "pooling allocator unavailable, falling back to on-demand allocation"
                );
                let engine = Engine::new(&engine_config(limits, largest_memory_mib, false)).map_err(|error| {
                    anyhow::anyhow!("failed to create the WebAssembly engine: {error:#}")
                })?;
                (engine, false)
            }
        };
        let instances = Arc::new(LiveInstances::default());
        start_epoch_ticker(&engine, instances.clone());
        Ok(Self { engine, limits: Arc::new(limits.clone()), pooling, largest_memory_mib, instances })
    }
}

fn engine_config(limits: &EngineConfig, largest_memory_mib: u64, pooling: bool) -> Config {
    let largest_memory = usize::try_from(largest_memory_mib.saturating_mul(1024 * 1024)).unwrap_or(usize::MAX);
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.epoch_interruption(true);
    if pooling {
        let instances = limits.max_instances;
        let keep_resident = if PoolingAllocationConfig::is_pagemap_scan_available() {
            KEEP_RESIDENT_BYTES
        } else {
            KEEP_RESIDENT_BYTES_WITHOUT_SCAN
        };
        let mut pool = PoolingAllocationConfig::default();
        pool.total_component_instances(instances)
            .total_core_instances(instances.saturating_mul(CORE_INSTANCES_PER_COMPONENT))
            .total_memories(instances.saturating_mul(MEMORIES_PER_COMPONENT))
            .total_tables(instances.saturating_mul(TABLES_PER_COMPONENT))
            // Each instance runs its calls on a fiber stack of its own.
            .total_stacks(instances)
            .max_core_instances_per_component(CORE_INSTANCES_PER_COMPONENT)
            .max_memories_per_component(MEMORIES_PER_COMPONENT)
            .max_tables_per_component(TABLES_PER_COMPONENT)
            .max_memory_size(largest_memory)
            .linear_memory_keep_resident(keep_resident.min(limits.memory_limit_bytes()))
            .table_keep_resident(TABLE_KEEP_RESIDENT_BYTES)
            .pagemap_scan(Enabled::Auto);
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    }
    config
}

/// How long an idle epoch ticker sleeps before it checks whether the engine still exists.
const IDLE_TICKER_CHECK: Duration = Duration::from_secs(1);

/// Counts the plugin instances alive, so that the epoch ticker runs only while plugin code may
/// run. An idle gateway then has no thread waking up 100 times a second.
#[derive(Default)]
pub struct LiveInstances {
    count: AtomicUsize,
    ticker: OnceLock<std::thread::Thread>,
}

/// One live instance, counted until dropped.
pub struct LiveInstance(Arc<LiveInstances>);

impl LiveInstances {
    /// Counts a new instance, waking the ticker when it is the only one.
    pub fn enter(self: &Arc<Self>) -> LiveInstance {
        if self.count.fetch_add(1, Ordering::SeqCst) == 0
            && let Some(ticker) = self.ticker.get()
        {
            ticker.unpark();
        }
        LiveInstance(self.clone())
    }

    fn any_alive(&self) -> bool {
        self.count.load(Ordering::SeqCst) > 0
    }
}

impl Drop for LiveInstance {
    fn drop(&mut self) {
        self.0.count.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Advances the engine's epoch every tick while an instance is alive, for as long as the
/// engine lives. With no instance alive the thread parks until [`LiveInstances::enter`]
/// wakes it. An unpark that comes before the park is kept, so no wakeup is lost.
fn start_epoch_ticker(engine: &Engine, instances: Arc<LiveInstances>) {
    let weak = engine.weak();
    let handle = std::thread::Builder::new()
        .name("voxgate-epoch".to_string())
        .spawn({
            let instances = instances.clone();
            move || {
                while let Some(engine) = weak.upgrade() {
                    let busy = instances.any_alive();
                    if busy {
                        engine.increment_epoch();
                    }
                    drop(engine);
                    if busy {
                        std::thread::sleep(EPOCH_TICK);
                    } else {
                        std::thread::park_timeout(IDLE_TICKER_CHECK);
                    }
                }
            }
        })
        .expect("failed to spawn the epoch ticker thread");
    let _ = instances.ticker.set(handle.thread().clone());
}

/// Compiles components, reusing earlier compilations stored on disk.
///
/// A cache entry's name is the SHA-256 of the component file and a hash of the engine's
/// compatibility settings, so a changed file or a different wasmtime build never loads a
/// stale entry.
pub struct CompileCache {
    dir: Option<PathBuf>,
}

/// Where a component came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompileSource {
    Compiled,
    Cached,
}

impl CompileCache {
    pub fn new(dir: Option<PathBuf>) -> Self {
        Self { dir }
    }

    /// Loads a component from its bytes, from the cache when possible. `name` names the
    /// component in log lines, such as its file name.
    pub fn load(
        &self,
        plugin_engine: &PluginEngine,
        name: &str,
        bytes: &[u8],
    ) -> anyhow::Result<(Component, CompileSource, String)> {
        let engine = &plugin_engine.engine;
        let digest = hex::encode(Sha256::digest(bytes));
        let Some(dir) = &self.dir else {
            let component = Component::new(engine, bytes)?;
            return Ok((component, CompileSource::Compiled, digest));
        };

        let entry = dir.join(format!("{digest}-{}.cwasm", compatibility_hash(engine)));
        if entry.is_file() {
            // SAFETY: the entry was written by `precompile_component` of an engine with the
            // same compatibility hash, into a folder the operator owns. Deserializing
            // arbitrary bytes is unsafe, so the cache folder must not be writable by others.
            match unsafe { Component::deserialize_file(engine, &entry) } {
                Ok(component) => return Ok((component, CompileSource::Cached, digest)),
                Err(error) => tracing::warn!(
                    entry = %entry.display(),
                    error = %format!("{error:#}"),
                    "ignoring unusable compiled-component cache entry"
                ),
            }
        }

        // Compiling in a child process leaves none of the compiler's memory in this one. A
        // cache folder that cannot be created leaves the child nowhere to store its output, so
        // then the component is compiled here. The loader has already checked the header, so
        // invalid bytes reach the child only when the damage is past the header.
        let mut child_failure = None;
        let child = child::compiler().filter(|_| std::fs::create_dir_all(dir).is_ok());
        if let Some(executable) = child {
            match child::compile(executable, plugin_engine, bytes, &entry) {
                // SAFETY: the child wrote the entry with an engine whose compatibility hash
                // it checked against this engine's, and deserializing checks it again.
                Ok(()) => match unsafe { Component::deserialize_file(engine, &entry) } {
                    Ok(component) => return Ok((component, CompileSource::Compiled, digest)),
                    Err(error) => child_failure = Some(format!("its output did not load: {error:#}")),
                },
                Err(error) => child_failure = Some(format!("{error:#}")),
            }
        }
        let compiled = engine.precompile_component(bytes)?;

        let component = match write_atomically(dir, &entry, &compiled) {
            Ok(()) => {
                drop(compiled);
                // Mapped from the file, the code is paged in as it runs, instead of all of
                // it staying resident as an in-memory copy (115 MB for the local voice).
                // SAFETY: the entry was written from this engine's output a moment ago.
                let component = unsafe { Component::deserialize_file(engine, &entry)? };
                if let Some(reason) = child_failure {
                    tracing::warn!(
                        file = %name,
                        error = %reason,
                        "compiling in a child process failed, so the component was compiled in the gateway, which keeps more memory resident"
                    );
                }
                component
            }
            Err(error) => {
                tracing::warn!(
                    file = %name,
                    dir = %dir.display(),
                    error = %format!("{error:#}"),
                    "failed to store a compiled component, so it was compiled in the gateway, which keeps more memory resident, and the next start compiles it again; check plugins.cache_dir"
                );
                // SAFETY: `compiled` was produced by this engine a moment ago.
                unsafe { Component::deserialize(engine, &compiled)? }
            }
        };
        Ok((component, CompileSource::Compiled, digest))
    }
}

fn compatibility_hash(engine: &Engine) -> String {
    let mut hasher = DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut hasher);
    format!("{:016x}", hasher.finish())
}

/// Writes `bytes` to `path` through a temporary file and a rename, so a reader never sees a
/// partly written entry.
fn write_atomically(dir: &Path, path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("failed to create {}", dir.display()))?;
    let temporary = dir.join(format!(".tmp-{}-{}", std::process::id(), rand::random::<u64>()));
    std::fs::write(&temporary, bytes)
        .with_context(|| format!("failed to write {}", temporary.display()))?;
    std::fs::rename(&temporary, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&temporary);
    })?;
    Ok(())
}

/// Returns the heap that compiling left free to the operating system. Cranelift allocates
/// hundreds of megabytes of small blocks for a large component, and glibc keeps freed
/// blocks in its arenas until asked, so an idle gateway would otherwise keep them resident.
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only gives unused pages of the heap back; it has no preconditions.
    unsafe {
        libc::malloc_trim(0);
    }
}
