//! voxgate provider plugin for OpenAI's text-to-speech API, `POST /v1/audio/speech`.
//!
//! A pure translator, built as a `wasm32-wasip2` component: `synthesize` turns a synthesis
//! request into one streamed `POST` with `Authorization: Bearer <api-key>` (a secret
//! reference that the host fills in), and `resume` classifies any response that was not audio.
//!
//! Models `tts-1`, `tts-1-hd` and `gpt-4o-mini-tts`, with OpenAI's 13 listed voices. Settings:
//! `base-url` (see [`endpoint`] for how it becomes the speech URL), `organization`,
//! `project`, and the SDK's `aig-*` settings for Cloudflare AI Gateway. Secret: `api-key`,
//! usually from `OPENAI_API_KEY`, and `aig-token` for an authenticated AI Gateway.

mod catalog;
mod config;
pub mod endpoint;
mod error_response;
mod speech;

use voxgate_plugin_sdk::{
    Guest, HttpResponse, ProviderError, ProviderInfo, Setting, SettingsError, Step,
    SynthesisRequest,
};

/// The OpenAI provider.
pub struct OpenAi;

impl Guest for OpenAi {
    fn describe(settings: Vec<Setting>) -> Result<ProviderInfo, SettingsError> {
        catalog::describe(&settings)
    }

    fn synthesize(
        request: SynthesisRequest,
        settings: Vec<Setting>,
    ) -> Result<Step, ProviderError> {
        speech::synthesize(&request, &settings)
    }

    fn resume(response: HttpResponse) -> Result<Step, ProviderError> {
        // The only step this plugin returns is `stream`, so `resume` only ever gets a
        // response that was not audio.
        Err(error_response::classify(&response))
    }
}

voxgate_plugin_sdk::export!(OpenAi);
