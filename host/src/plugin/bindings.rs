//! Host bindings generated from `wit/provider.wit`, and the store state a plugin runs in.

use wasmtime::component::ResourceTable;
use wasmtime::{ResourceLimiter, StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

mod generated {
    // Exports are async so that a call can yield to tokio at every epoch tick instead of
    // holding a worker thread. The contract imports no host functions of its own.
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "plugin",
        exports: { default: async },
    });
}

/// The contract's types and the generated entry points, under one short path.
pub mod wit {
    pub use super::generated::voxgate::provider::types::*;
    pub use super::generated::{Plugin, PluginPre};
}

/// What a plugin's store holds: an empty WASI context (no environment, arguments, files,
/// sockets or inherited stdio) and the memory limit.
pub struct PluginState {
    wasi: WasiCtx,
    table: ResourceTable,
    limits: RecordingLimits,
    /// Epoch ticks the running call may still take before it is interrupted.
    pub ticks_left: u64,
    /// Whether the running call yields to its executor at each tick (an async call) or
    /// keeps the thread (a blocking one).
    pub yields: bool,
}

impl PluginState {
    pub fn new(memory_limit_bytes: usize) -> Self {
        Self {
            wasi: WasiCtx::builder().build(),
            table: ResourceTable::new(),
            limits: RecordingLimits {
                inner: StoreLimitsBuilder::new().memory_size(memory_limit_bytes).build(),
                memory_denied: false,
            },
            ticks_left: 0,
            yields: false,
        }
    }

    pub fn limiter(&mut self) -> &mut dyn ResourceLimiter {
        &mut self.limits
    }

    /// Whether the plugin asked for more memory than its limit at some point.
    pub fn memory_denied(&self) -> bool {
        self.limits.memory_denied
    }
}

impl WasiView for PluginState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

/// `StoreLimits` that remembers a denied memory growth, so that the trap which usually
/// follows (Rust aborts when an allocation fails) can be reported as "out of memory".
struct RecordingLimits {
    inner: StoreLimits,
    memory_denied: bool,
}

impl ResourceLimiter for RecordingLimits {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let allowed = self.inner.memory_growing(current, desired, maximum)?;
        if !allowed {
            self.memory_denied = true;
        }
        Ok(allowed)
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.inner.table_growing(current, desired, maximum)
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::super::imports::SUPPORTED_CONTRACTS;

    fn wit_dir() -> &'static Path {
        Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../wit"))
    }

    /// The version in `package voxgate:provider@VERSION;`.
    fn package_version(text: &str) -> String {
        let line = text.lines().find(|line| line.starts_with("package voxgate:provider@")).expect("a package line");
        line.trim_start_matches("package voxgate:provider@").trim_end_matches(';').to_string()
    }

    #[test]
    fn released_contract_is_frozen() {
        let current = std::fs::read_to_string(wit_dir().join("provider.wit")).unwrap();
        let version = package_version(&current);
        let frozen_path = wit_dir().join("frozen").join(&version).join("provider.wit");
        let frozen = std::fs::read_to_string(&frozen_path)
            .unwrap_or_else(|_| panic!("version {version} has no frozen copy at {}", frozen_path.display()));
        assert_eq!(current, frozen, "wit/provider.wit changed but still says version {version}; bump the version and freeze the old text");
    }

    #[test]
    fn every_supported_version_is_frozen() {
        for version in SUPPORTED_CONTRACTS {
            let path = wit_dir().join("frozen").join(version).join("provider.wit");
            let text = std::fs::read_to_string(&path).unwrap_or_else(|_| panic!("missing {}", path.display()));
            assert_eq!(&package_version(&text), version);
        }
    }
}
