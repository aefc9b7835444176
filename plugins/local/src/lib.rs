//! voxgate provider plugin `local`: speech with no key and no network.
//!
//! A Piper VITS voice runs inside the component with tract. `synthesize` returns the
//! finished audio as an `audio` step, so the host never fetches anything for this
//! provider; `resume` is never called.
//!
//! The path from text to audio, one module each:
//!
//! 1. [`request`] checks what was asked against what the voice can do;
//! 2. [`text`] normalises numbers, money, dates, abbreviations and acronyms into words;
//! 3. [`phonemes`] turns words into the voice's IPA (CMUdict, weak forms, rules) and ids;
//! 4. [`utterance`] and [`plan`] bound each inference so memory stays bounded;
//! 5. [`piper`] runs the two halves of the voice's graph, one utterance at a time;
//! 6. [`wav`] writes WAV at the voice's sample rate, or 16-bit PCM at the requested rate
//!    ([`resample`]), since raw PCM cannot state its rate.
//!
//! The voices and the dictionary are embedded at build time from what
//! `prepare/prepare_voice.py` wrote (see `build.rs`).

pub mod catalog;
#[cfg(all(target_arch = "wasm32", feature = "inference"))]
mod no_files;
pub mod phonemes;
pub mod piper;
pub mod plan;
pub mod request;
pub mod resample;
mod speech;
pub mod text;
pub mod utterance;
pub mod voice;
pub mod wav;

use voxgate_plugin_sdk::{
    Guest, HttpResponse, ProviderError, ProviderInfo, Setting, SettingsError, Step,
    SynthesisRequest,
};

/// The offline provider.
pub struct Local;

impl Guest for Local {
    fn describe(_settings: Vec<Setting>) -> Result<ProviderInfo, SettingsError> {
        let voices: Vec<voice::Voice> = voice::voices()
            .into_iter()
            .map(|(voice, _)| voice)
            .collect();
        catalog::describe(&voices)
    }

    fn synthesize(
        request: SynthesisRequest,
        _settings: Vec<Setting>,
    ) -> Result<Step, ProviderError> {
        speech::synthesize(&request)
    }

    fn resume(_response: HttpResponse) -> Result<Step, ProviderError> {
        Err(ProviderError::InvalidResponse(
            "the local provider sends no requests, so it has no response to resume".to_string(),
        ))
    }
}

voxgate_plugin_sdk::export!(Local);
