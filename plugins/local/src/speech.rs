//! `synthesize`: checks the request, plans the utterances, runs the voice on each and
//! returns the finished audio in one `audio` step.

use voxgate_plugin_sdk::{
    Audio, AudioContainer, AudioFormat, ProviderError, Step, SynthesisRequest,
};

use crate::phonemes::dictionary::Dictionary;
use crate::plan::{Plan, plan};
use crate::request::check;
use crate::resample::resample;
use crate::voice::{DICTIONARY, EmbeddedVoice, Voice, voices};
use crate::wav;

/// Silence between sentences, in seconds: Piper's default `sentence_silence`.
#[cfg_attr(not(feature = "inference"), allow(dead_code))]
const SENTENCE_SILENCE_S: f32 = 0.2;

/// Speaks `request` and returns the `audio` step.
pub fn synthesize(request: &SynthesisRequest) -> Result<Step, ProviderError> {
    let voices = voices();
    let parsed: Vec<Voice> = voices.iter().map(|(voice, _)| voice.clone()).collect();
    let checked = check(request, &parsed)?;
    let (voice, embedded) = &voices[checked.voice];
    let plan = plan(
        checked.text,
        voice,
        Dictionary::new(DICTIONARY),
        checked.speed,
    )?;

    let pcm = speak(&plan, voice, embedded, checked.speed)?;

    let (data, sample_rate) = match checked.container {
        AudioContainer::Wav => (wav::wav_bytes(&pcm, voice.sample_rate), voice.sample_rate),
        _ => {
            let rate = request.format.sample_rate.unwrap_or(voice.sample_rate);
            (
                wav::pcm_bytes(&resample(&pcm, voice.sample_rate, rate)),
                rate,
            )
        }
    };
    Ok(Step::Audio(Audio {
        format: AudioFormat {
            container: checked.container,
            sample_rate: Some(sample_rate),
            bitrate: None,
        },
        data,
        alignment: None,
        billed_characters: None,
    }))
}

#[cfg(feature = "inference")]
fn speak(
    plan: &Plan,
    voice: &Voice,
    embedded: &EmbeddedVoice,
    speed: f32,
) -> Result<Vec<i16>, ProviderError> {
    use crate::piper::model::{Synthesizer, scales};

    // A failure here is the plugin's or its voice's, not the caller's, and it would fail
    // the same way again: `invalid-response` sends the host to the next provider without
    // retrying, where `unavailable` would retry.
    let synthesizer = Synthesizer::load(embedded)
        .map_err(|error| ProviderError::InvalidResponse(error.to_string()))?;
    let scales = scales(voice, speed);

    let mut pcm = Vec::new();
    for (index, sentence) in plan.sentences.iter().enumerate() {
        if index > 0 {
            wav::silence(SENTENCE_SILENCE_S, voice.sample_rate, &mut pcm);
        }
        for ids in sentence {
            let samples = synthesizer
                .speak(ids, scales)
                .map_err(|error| ProviderError::InvalidResponse(error.to_string()))?;
            wav::to_pcm16(&samples, &mut pcm);
        }
    }
    Ok(pcm)
}

#[cfg(not(feature = "inference"))]
fn speak(
    _plan: &Plan,
    _voice: &Voice,
    _embedded: &EmbeddedVoice,
    _speed: f32,
) -> Result<Vec<i16>, ProviderError> {
    Err(ProviderError::Unavailable(
        "this build of the local plugin has no inference (built without the `inference` feature)"
            .to_string(),
    ))
}
