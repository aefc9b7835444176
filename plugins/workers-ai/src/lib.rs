//! voxgate provider plugin for Cloudflare Workers AI text-to-speech, through the REST API
//! (`POST {base-url}/accounts/{account-id}/ai/run/{model}`) or through Cloudflare AI Gateway.
//!
//! A pure translator, built as a `wasm32-wasip2` component. Models:
//!
//! - `@cf/deepgram/aura-2-en` and `@cf/deepgram/aura-1`: `synthesize` returns a `stream`
//!   step whose response is raw audio in the encoding that [`aura_format`] picks for the
//!   requested format. The models' speakers are the voices.
//! - `@cf/myshell-ai/melotts`: `synthesize` returns a `fetch` step, and `resume` decodes the
//!   base64 audio from the JSON envelope and reports the container the bytes really are.
//!
//! Settings: `base-url`, `account-id` (needed for the REST API only; see [`config`]) and the
//! SDK's `aig-*` settings for AI Gateway. Secret: `api-token`, usually from
//! `CLOUDFLARE_API_TOKEN`, sent as `Authorization: Bearer`.

pub mod aura_format;
mod base64;
mod catalog;
pub mod config;
mod error_response;
mod request_check;
mod resume;
mod sniff;
mod speech;

use std::cell::Cell;

use voxgate_plugin_sdk::{
    Guest, HttpResponse, ProviderError, ProviderInfo, Setting, SettingsError, Step,
    SynthesisRequest,
};

use crate::speech::Pending;

thread_local! {
    /// The request state of the last `synthesize` in this instance. The host creates one
    /// instance per synthesis and calls it from one thread, so this is the synthesis's own state.
    static PENDING: Cell<Option<Pending>> = const { Cell::new(None) };
}

/// The Cloudflare Workers AI provider.
pub struct WorkersAi;

impl Guest for WorkersAi {
    fn describe(settings: Vec<Setting>) -> Result<ProviderInfo, SettingsError> {
        catalog::describe(&settings)
    }

    fn synthesize(
        request: SynthesisRequest,
        settings: Vec<Setting>,
    ) -> Result<Step, ProviderError> {
        PENDING.set(None);
        let (step, pending) = speech::synthesize(&request, &settings)?;
        PENDING.set(Some(pending));
        Ok(step)
    }

    fn resume(response: HttpResponse) -> Result<Step, ProviderError> {
        resume::resume(PENDING.get(), &response)
    }
}

voxgate_plugin_sdk::export!(WorkersAi);
