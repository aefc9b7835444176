//! One plugin instance, created for one synthesis and dropped after it.

use std::time::Duration;

use wasmtime::{Store, Trap};

use super::bindings::PluginState;
use super::bindings::wit::{
    HttpResponse, Plugin, PluginPre, ProviderError, ProviderInfo, Setting, SettingsError, Step,
    SynthesisRequest,
};
use crate::config::PluginLimits;
use crate::engine::{PluginEngine, deadline_ticks};

/// A plugin failed in a way that is its own fault, not the provider's: it trapped, ran past
/// its time budget, ran out of memory, or could not be instantiated.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{reason}")]
pub struct PluginFault {
    pub reason: String,
}

/// A fresh store and instance. Calls are synchronous and may run for up to the engine's call
/// budget, so async callers run them on a blocking thread.
pub struct PluginInstance {
    store: Store<PluginState>,
    plugin: Plugin,
    deadline_ticks: u64,
    call_timeout: Duration,
    memory_limit_mib: u64,
}

impl PluginInstance {
    pub fn new(engine: &PluginEngine, limits: &PluginLimits, pre: &PluginPre<PluginState>) -> Result<Self, PluginFault> {
        let deadline_ticks = deadline_ticks(limits.call_timeout());
        let mut store = Store::new(&engine.engine, PluginState::new(limits.memory_limit_bytes()));
        store.limiter(|state| state.limiter());
        store.epoch_deadline_trap();
        store.set_epoch_deadline(deadline_ticks);

        let plugin = pre.instantiate(&mut store).map_err(|error| PluginFault {
            reason: format!("instantiation failed: {error:#}"),
        })?;
        Ok(Self {
            store,
            plugin,
            deadline_ticks,
            call_timeout: limits.call_timeout(),
            memory_limit_mib: limits.memory_limit_mib,
        })
    }

    pub fn describe(
        &mut self,
        settings: &[Setting],
    ) -> Result<Result<ProviderInfo, SettingsError>, PluginFault> {
        self.store.set_epoch_deadline(self.deadline_ticks);
        let result = self.plugin.voxgate_provider_provider().call_describe(&mut self.store, settings);
        result.map_err(|error| self.fault(error))
    }

    pub fn synthesize(
        &mut self,
        request: &SynthesisRequest,
        settings: &[Setting],
    ) -> Result<Result<Step, ProviderError>, PluginFault> {
        self.store.set_epoch_deadline(self.deadline_ticks);
        let result = self
            .plugin
            .voxgate_provider_provider()
            .call_synthesize(&mut self.store, request, settings);
        result.map_err(|error| self.fault(error))
    }

    pub fn resume(
        &mut self,
        response: &HttpResponse,
    ) -> Result<Result<Step, ProviderError>, PluginFault> {
        self.store.set_epoch_deadline(self.deadline_ticks);
        let result = self.plugin.voxgate_provider_provider().call_resume(&mut self.store, response);
        result.map_err(|error| self.fault(error))
    }

    /// Explains a failed call in the operator's terms.
    fn fault(&self, error: wasmtime::Error) -> PluginFault {
        let reason = if self.store.data().memory_denied() {
            format!(
                "ran out of memory: it asked for more than its limit of {} MiB (engine.memory_limit_mib, or the provider's limits.memory_limit_mib)",
                self.memory_limit_mib
            )
        } else {
            match error.downcast_ref::<Trap>() {
                Some(Trap::Interrupt) => format!(
                    "did not return within its time budget of {} ms (engine.call_timeout_ms, or the provider's limits.call_timeout_ms)",
                    self.call_timeout.as_millis()
                ),
                Some(Trap::UnreachableCodeReached) => {
                    "trapped: it reached an unreachable instruction, usually a panic or abort in the plugin"
                        .to_string()
                }
                Some(trap) => format!("trapped: {trap}"),
                None => format!("failed: {error:#}"),
            }
        };
        PluginFault { reason }
    }
}
