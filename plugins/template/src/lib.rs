//! A complete voxgate provider plugin for a small example API, "Example TTS", to copy when you
//! write your own. `docs/plugins.md` walks through it.
//!
//! The example API has one endpoint:
//!
//! ```text
//! POST {base-url}/v1/speech
//! Authorization: Bearer <api key>
//! Content-Type: application/json
//!
//! {"text": "Hello.", "voice": "ada", "model": "example-1", "format": "mp3", "speed": 1.0}
//! ```
//!
//! It answers with the audio (`200`, `audio/mpeg`, `audio/wav` or `audio/pcm`), or with an error
//! status and `{"error": {"code": "...", "message": "..."}}`.
//!
//! The plugin is a pure translator. [`speech::synthesize`] turns a synthesis request into one
//! `stream` step, and [`errors::classify`] turns a response that was not audio into a typed
//! error. The host sends the request, fills in the API key and streams the audio.

pub mod catalog;
pub mod config;
pub mod errors;
pub mod speech;

use voxgate_plugin_sdk::{
    Guest, HttpResponse, ProviderError, ProviderInfo, Setting, SettingsError, Step,
    SynthesisRequest,
};

/// The Example TTS provider.
pub struct Example;

impl Guest for Example {
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
        // The only step this plugin returns is `stream`, so the host calls `resume` only with
        // a response that was not audio: an error to classify.
        Err(errors::classify(&response))
    }
}

voxgate_plugin_sdk::export!(Example);
