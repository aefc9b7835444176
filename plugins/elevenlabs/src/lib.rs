//! voxgate provider plugin for ElevenLabs' text-to-speech API,
//! `POST /v1/text-to-speech/{voice_id}` and its `/stream` and `/with-timestamps` variants.
//!
//! A pure translator, built as a `wasm32-wasip2` component. `synthesize` turns a synthesis
//! request into one `POST` with `xi-api-key: <api-key>` (a secret reference that the host
//! fills in) and the audio format as the `output_format` query parameter. The request
//! streams audio, or fetches `/with-timestamps` when the caller wants character timing, and
//! `resume` then decodes that JSON into audio. `resume` also classifies every response that
//! was not audio by ElevenLabs' `detail.status`.
//!
//! Models from `eleven_v3` to the legacy v1 models, ElevenLabs' premade voices, and the
//! operator's account voices from the `voices` setting. Settings: `base-url`, `voices`.
//! Secret: `api-key`, usually from `ELEVENLABS_API_KEY`. Provider options (a JSON object):
//! `voice_settings`, `seed`, `previous_text`, `next_text`, `previous_request_ids`,
//! `next_request_ids`, `apply_text_normalization`, `language_code`.

mod base64;
mod catalog;
mod config;
mod error_response;
mod options;
mod output_format;
mod speech;
mod timestamps;
mod voice_path;

use std::cell::RefCell;

use voxgate_plugin_sdk::{
    Guest, HttpResponse, ProviderError, ProviderInfo, Setting, SettingsError, Step,
    SynthesisRequest,
};

use crate::speech::Pending;

thread_local! {
    /// The kind of request this instance's synthesis sent last. The host creates one
    /// instance per synthesis and calls it from one thread, so this is the synthesis's own
    /// state. Per thread rather than global, so that unit tests running in parallel do not
    /// share it.
    static PENDING: RefCell<Option<Pending>> = const { RefCell::new(None) };
}

/// The ElevenLabs provider.
pub struct ElevenLabs;

impl Guest for ElevenLabs {
    fn describe(settings: Vec<Setting>) -> Result<ProviderInfo, SettingsError> {
        catalog::describe(&settings)
    }

    fn synthesize(
        request: SynthesisRequest,
        settings: Vec<Setting>,
    ) -> Result<Step, ProviderError> {
        let (step, pending) = speech::synthesize(&request, &settings)?;
        set_pending(Some(pending));
        Ok(step)
    }

    fn resume(response: HttpResponse) -> Result<Step, ProviderError> {
        resume(&response, take_pending())
    }
}

/// Continues a synthesis with the response to its last step.
fn resume(response: &HttpResponse, pending: Option<Pending>) -> Result<Step, ProviderError> {
    match pending {
        Some(Pending::Timestamps(output)) if (200..300).contains(&response.status) => {
            let audio = timestamps::audio_from_response(response, &output)?;
            Ok(Step::Audio(audio))
        }
        // The response to a stream step reaches `resume` only when it was not audio.
        Some(_) => Err(error_response::classify(response)),
        None => Err(ProviderError::InvalidResponse(
            "the ElevenLabs plugin received a response to a request it did not send".to_string(),
        )),
    }
}

fn set_pending(pending: Option<Pending>) {
    PENDING.with(|slot| *slot.borrow_mut() = pending);
}

fn take_pending() -> Option<Pending> {
    PENDING.with(|slot| slot.borrow_mut().take())
}

voxgate_plugin_sdk::export!(ElevenLabs);

#[cfg(test)]
mod tests;
