//! Turning a case's request into synthesis requests, with the gaps filled from `describe`.

use crate::audio::{container_name, parse_container};
use crate::plugin::wit::{AudioContainer, AudioFormat, ModelInfo, ProviderInfo, SynthesisRequest, VoiceInfo};

use super::case::{CaseFile, Each, RequestSpec, TextLength};

/// The text spoken when a case names none.
pub const DEFAULT_TEXT: &str = "Hello from the voxgate conformance kit.";

/// One concrete run of a case: a label for the matrix value, when there is one, and the
/// request.
#[derive(Debug, Clone)]
pub struct Variant {
    /// Such as `tts-1 mp3`, or empty for a case without `each`.
    pub label: String,
    pub request: SynthesisRequest,
}

/// Builds every variant of `case` for the provider `info`. A request the case cannot build
/// (an unknown format name, a text length for an unknown model) is an error naming the field.
pub fn variants(case: &CaseFile, info: &ProviderInfo) -> Result<Vec<Variant>, String> {
    let spec = &case.request;
    let mut variants = Vec::new();

    match case.each {
        None => {
            let model = pick_model(spec, info)?;
            let container = pick_container(spec, model)?;
            variants.push(Variant { label: String::new(), request: build(spec, info, model, container)? });
        }
        Some(Each::Model) => {
            for model in &info.models {
                let container = pick_container(spec, model)?;
                variants.push(Variant { label: model.id.clone(), request: build(spec, info, model, container)? });
            }
        }
        Some(Each::ModelFormat) => {
            for model in &info.models {
                for container in &model.formats {
                    variants.push(Variant {
                        label: format!("{} {}", model.id, container_name(*container)),
                        request: build(spec, info, model, *container)?,
                    });
                }
            }
        }
    }
    Ok(variants)
}

fn pick_model<'a>(spec: &RequestSpec, info: &'a ProviderInfo) -> Result<&'a ModelInfo, String> {
    let id = spec.model.as_deref().unwrap_or(&info.default_model);
    info.models
        .iter()
        .find(|model| model.id == id)
        .ok_or_else(|| format!("request.model `{id}` is not among the plugin's models"))
}

/// The case's format, else mp3 when the model offers it, else the model's first format.
fn pick_container(spec: &RequestSpec, model: &ModelInfo) -> Result<AudioContainer, String> {
    if let Some(name) = &spec.format {
        return parse_container(name).ok_or_else(|| {
            format!("request.format `{name}` is not one of mp3, opus, aac, flac, wav, pcm, ulaw, alaw")
        });
    }
    if model.formats.contains(&AudioContainer::Mp3) {
        return Ok(AudioContainer::Mp3);
    }
    model
        .formats
        .first()
        .copied()
        .ok_or_else(|| format!("model `{}` declares no formats", model.id))
}

/// A voice for `model`: the case's, else the default voice when it offers the model, else
/// the first voice that does.
fn pick_voice(spec: &RequestSpec, info: &ProviderInfo, model: &ModelInfo) -> String {
    if let Some(voice) = &spec.voice {
        return voice.clone();
    }
    let offers = |voice: &VoiceInfo| voice.models.is_empty() || voice.models.contains(&model.id);
    let default = info.voices.iter().find(|voice| voice.id == info.default_voice && offers(voice));
    default
        .or_else(|| info.voices.iter().find(|voice| offers(voice)))
        .map(|voice| voice.id.clone())
        .unwrap_or_else(|| info.default_voice.clone())
}

fn build(
    spec: &RequestSpec,
    info: &ProviderInfo,
    model: &ModelInfo,
    container: AudioContainer,
) -> Result<SynthesisRequest, String> {
    Ok(SynthesisRequest {
        text: text(spec, model)?,
        model: model.id.clone(),
        voice: pick_voice(spec, info, model),
        format: AudioFormat { container, sample_rate: spec.sample_rate, bitrate: spec.bitrate },
        speed: spec.speed,
        language: spec.language.clone(),
        instructions: spec.instructions.clone(),
        timestamps: spec.timestamps,
        options: spec.options.clone().unwrap_or_default(),
    })
}

fn text(spec: &RequestSpec, model: &ModelInfo) -> Result<String, String> {
    let Some(length) = &spec.text_length else {
        return Ok(spec.text.clone().unwrap_or_else(|| DEFAULT_TEXT.to_string()));
    };
    let characters = match length {
        TextLength::Characters(count) => *count,
        TextLength::Named(name) if name == "max" => model.max_characters,
        TextLength::Named(name) if name == "over-max" => model.max_characters.saturating_add(1),
        TextLength::Named(name) => {
            return Err(format!("request.text_length `{name}` is not a number, `max` or `over-max`"));
        }
    };
    let pattern = spec.text_pattern.as_deref().unwrap_or("a");
    if pattern.is_empty() {
        return Err("request.text_pattern is empty".to_string());
    }
    Ok(pattern.chars().cycle().take(characters as usize).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conformance::case::Expect;

    fn model(id: &str, formats: &[AudioContainer], max: u32) -> ModelInfo {
        ModelInfo {
            id: id.to_string(),
            name: id.to_string(),
            languages: Vec::new(),
            price_per_million_characters: 1.0,
            max_characters: max,
            formats: formats.to_vec(),
            streaming: true,
            instructions: false,
        }
    }

    fn voice(id: &str, models: &[&str]) -> VoiceInfo {
        VoiceInfo {
            id: id.to_string(),
            name: id.to_string(),
            languages: Vec::new(),
            models: models.iter().map(|m| m.to_string()).collect(),
        }
    }

    fn info() -> ProviderInfo {
        ProviderInfo {
            id: "p".to_string(),
            name: "P".to_string(),
            version: "1.0.0".to_string(),
            models: vec![
                model("a", &[AudioContainer::Wav, AudioContainer::Mp3], 10),
                model("b", &[AudioContainer::Pcm], 3),
            ],
            voices: vec![voice("only-a", &["a"]), voice("only-b", &["b"])],
            default_model: "a".to_string(),
            default_voice: "only-a".to_string(),
            hosts: Vec::new(),
            secrets: Vec::new(),
            settings: Vec::new(),
        }
    }

    fn case(each: Option<Each>, request: RequestSpec) -> CaseFile {
        CaseFile {
            description: String::new(),
            kind: Default::default(),
            each,
            needs_request: false,
            runs: 1,
            settings: Default::default(),
            request,
            upstream: Vec::new(),
            repeat_last_response: false,
            expect: Expect::default(),
        }
    }

    #[test]
    fn defaults_prefer_mp3() {
        let variants = variants(&case(None, RequestSpec::default()), &info()).unwrap();

        assert_eq!(variants.len(), 1);
        assert_eq!(variants[0].request.model, "a");
        assert_eq!(variants[0].request.format.container, AudioContainer::Mp3);
        assert_eq!(variants[0].request.text, DEFAULT_TEXT);
    }

    #[test]
    fn model_format_matrix_picks_voices() {
        let variants = variants(&case(Some(Each::ModelFormat), RequestSpec::default()), &info()).unwrap();

        let labels: Vec<&str> = variants.iter().map(|v| v.label.as_str()).collect();
        assert_eq!(labels, vec!["a wav", "a mp3", "b pcm"]);
        assert_eq!(variants[2].request.voice, "only-b");
    }

    #[test]
    fn text_length_counts_characters() {
        let spec = RequestSpec {
            text_length: Some(TextLength::Named("over-max".to_string())),
            text_pattern: Some("é".to_string()),
            ..Default::default()
        };

        let variants = variants(&case(Some(Each::Model), spec), &info()).unwrap();

        assert_eq!(variants[0].request.text.chars().count(), 11);
        assert_eq!(variants[1].request.text, "éééé");
    }

    #[test]
    fn unknown_format_is_an_error() {
        let spec = RequestSpec { format: Some("mp4".to_string()), ..Default::default() };

        let error = variants(&case(None, spec), &info()).unwrap_err();

        assert!(error.contains("mp4"), "{error}");
    }
}
