//! One plugin instance, created for one synthesis and dropped after it.

use std::time::Duration;

use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use wasmtime::{Store, Trap, UpdateDeadline};

use super::bindings::PluginState;
use super::bindings::wit::{
    HttpResponse, Plugin, PluginPre, ProviderError, ProviderInfo, Setting, SettingsError, Step,
    SynthesisRequest,
};
use crate::config::PluginLimits;
use crate::engine::{LiveInstance, PluginEngine, deadline_ticks};

/// A plugin failed in a way that is its own fault, not the provider's: it trapped, ran past
/// its time budget, ran out of memory, or could not be instantiated.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{reason}")]
pub struct PluginFault {
    pub reason: String,
}

/// A fresh store and instance.
///
/// Calls come in two forms. The async ones (`*_async`), which the request path uses, run on
/// the caller's tokio task and yield at every epoch tick ([`crate::engine::EPOCH_TICK`]).
/// A slow plugin therefore shares the worker threads instead of holding one. The blocking ones run
/// to completion on the calling thread, for plugin loading and the conformance kit.
/// Either way a call is interrupted once it has run for its budget of ticks.
pub struct PluginInstance {
    store: Store<PluginState>,
    plugin: Plugin,
    deadline_ticks: u64,
    call_timeout: Duration,
    memory_limit_mib: u64,
    /// Keeps the epoch ticker running while this instance exists.
    _live: LiveInstance,
}

impl PluginInstance {
    /// Creates a store and instantiates the plugin in it, yielding like a call does.
    pub async fn new_async(engine: &PluginEngine, limits: &PluginLimits, pre: &PluginPre<PluginState>) -> Result<Self, PluginFault> {
        Self::create(engine, limits, pre, true).await
    }

    /// Creates the instance like [`PluginInstance::new_async`], on the calling thread.
    pub fn new(engine: &PluginEngine, limits: &PluginLimits, pre: &PluginPre<PluginState>) -> Result<Self, PluginFault> {
        block_on(Self::create(engine, limits, pre, false))
    }

    async fn create(engine: &PluginEngine, limits: &PluginLimits, pre: &PluginPre<PluginState>, yields: bool) -> Result<Self, PluginFault> {
        let live = engine.instances.enter();
        let deadline_ticks = deadline_ticks(limits.call_timeout());
        let mut store = Store::new(&engine.engine, PluginState::new(limits.memory_limit_bytes()));
        store.limiter(|state| state.limiter());
        store.epoch_deadline_callback(|mut context| {
            let state = context.data_mut();
            if state.ticks_left == 0 {
                return Ok(UpdateDeadline::Interrupt);
            }
            state.ticks_left -= 1;
            Ok(if state.yields { UpdateDeadline::Yield(1) } else { UpdateDeadline::Continue(1) })
        });
        start_call(&mut store, deadline_ticks, yields);

        let plugin = pre.instantiate_async(&mut store).await.map_err(|error| PluginFault {
            reason: format!("instantiation failed: {error:#}"),
        })?;
        Ok(Self {
            store,
            plugin,
            deadline_ticks,
            call_timeout: limits.call_timeout(),
            memory_limit_mib: limits.memory_limit_mib,
            _live: live,
        })
    }

    pub async fn describe_async(
        &mut self,
        settings: &[Setting],
        yields: bool,
    ) -> Result<Result<ProviderInfo, SettingsError>, PluginFault> {
        start_call(&mut self.store, self.deadline_ticks, yields);
        let result = self.plugin.voxgate_provider_provider().call_describe(&mut self.store, settings).await;
        result.map_err(|error| self.fault(error))
    }

    pub async fn synthesize_async(
        &mut self,
        request: &SynthesisRequest,
        settings: &[Setting],
        yields: bool,
    ) -> Result<Result<Step, ProviderError>, PluginFault> {
        start_call(&mut self.store, self.deadline_ticks, yields);
        let result = self.plugin.voxgate_provider_provider().call_synthesize(&mut self.store, request, settings).await;
        result.map_err(|error| self.fault(error))
    }

    pub async fn resume_async(
        &mut self,
        response: &HttpResponse,
        yields: bool,
    ) -> Result<Result<Step, ProviderError>, PluginFault> {
        start_call(&mut self.store, self.deadline_ticks, yields);
        let result = self.plugin.voxgate_provider_provider().call_resume(&mut self.store, response).await;
        result.map_err(|error| self.fault(error))
    }

    /// Calls `describe` on the calling thread.
    pub fn describe(&mut self, settings: &[Setting]) -> Result<Result<ProviderInfo, SettingsError>, PluginFault> {
        block_on(self.describe_async(settings, false))
    }

    /// Calls `synthesize` on the calling thread.
    pub fn synthesize(
        &mut self,
        request: &SynthesisRequest,
        settings: &[Setting],
    ) -> Result<Result<Step, ProviderError>, PluginFault> {
        block_on(self.synthesize_async(request, settings, false))
    }

    /// Calls `resume` on the calling thread.
    pub fn resume(&mut self, response: &HttpResponse) -> Result<Result<Step, ProviderError>, PluginFault> {
        block_on(self.resume_async(response, false))
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

/// Arms the call budget: the epoch callback counts `deadline_ticks` ticks down, one per
/// tick, and interrupts the call at zero.
fn start_call(store: &mut Store<PluginState>, deadline_ticks: u64, yields: bool) {
    let state = store.data_mut();
    state.ticks_left = deadline_ticks;
    state.yields = yields;
    store.set_epoch_deadline(1);
}

/// Runs a plugin call's future on the calling thread. A blocking call never yields at an
/// epoch tick, and the WASI functions a plugin may import have nothing to wait for in its
/// empty context, so the future is usually ready after its first poll. Parking covers any
/// other case.
fn block_on<F: Future>(future: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut context = Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        match future.as_mut().poll(&mut context) {
            Poll::Ready(output) => return output,
            Poll::Pending => std::thread::park(),
        }
    }
}
