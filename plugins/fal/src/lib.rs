//! voxgate provider plugin for fal.ai's text-to-speech apps.
//!
//! A pure translator, built as a `wasm32-wasip2` component. fal responds to a request with
//! JSON that names an audio file, so a synthesis takes several steps, which [`flow`] drives:
//!
//! - **queue mode** (the default): submit `POST {queue-url}/{app}`, poll the job's
//!   `status_url` with `fetch-after` steps, fetch its `response_url`, then the audio file;
//! - **sync mode**: `POST {base-url}/{app}`, then the audio file.
//!
//! Apps: the nine Kokoro language apps (`fal-ai/kokoro/american-english` and others, WAV),
//! `fal-ai/f5-tts` (WAV, a voice cloned from the `ref_audio_url` and `ref_text` options) and
//! `fal-ai/elevenlabs/tts/multilingual-v2` and `turbo-v2.5` (MP3). Each app returns one
//! container, and the plugin checks the audio bytes against it, because the host does not
//! transcode. The secret `api-key` (usually `FAL_KEY`) is sent as `Authorization: Key <key>`
//! to the sync and queue hosts only; audio files are fetched from the `media-hosts` without it.
//!
//! The host creates one instance per synthesis, so the synthesis in progress lives in a
//! thread-local of that instance between `synthesize` and the `resume` calls.

mod catalog;
mod config;
mod error_response;
mod flow;
mod input;
mod responses;
mod sniff;
mod urls;

#[cfg(test)]
mod flow_tests;

use std::cell::RefCell;

use voxgate_plugin_sdk::{
    Guest, HttpResponse, ProviderError, ProviderInfo, Setting, SettingsError, Step,
    SynthesisRequest,
};

use crate::flow::Synthesis;

thread_local! {
    /// The synthesis this instance runs, from `synthesize` until its last `resume`.
    static SYNTHESIS: RefCell<Option<Synthesis>> = const { RefCell::new(None) };
}

/// The fal provider.
pub struct Fal;

impl Guest for Fal {
    fn describe(settings: Vec<Setting>) -> Result<ProviderInfo, SettingsError> {
        catalog::describe(&settings)
    }

    fn synthesize(
        request: SynthesisRequest,
        settings: Vec<Setting>,
    ) -> Result<Step, ProviderError> {
        let started = Synthesis::start(&request, &settings);

        SYNTHESIS.with(|slot| {
            let (synthesis, step) = started?;
            *slot.borrow_mut() = Some(synthesis);
            Ok(step)
        })
    }

    fn resume(response: HttpResponse) -> Result<Step, ProviderError> {
        SYNTHESIS.with(|slot| {
            let mut slot = slot.borrow_mut();
            let Some(synthesis) = slot.as_mut() else {
                return Err(ProviderError::Unavailable(
                    "the fal plugin was resumed without a synthesis in progress".to_string(),
                ));
            };

            let result = synthesis.resume(response);
            // Audio and errors end the synthesis, so its state goes too.
            if !matches!(result, Ok(Step::Fetch(_) | Step::FetchAfter(_))) {
                *slot = None;
            }
            result
        })
    }
}

voxgate_plugin_sdk::export!(Fal);
