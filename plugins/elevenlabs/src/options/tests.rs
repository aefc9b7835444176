//! The provider options, the request's speed and language, and how they combine.

use voxgate_plugin_sdk::serde_json::json;
use voxgate_plugin_sdk::{AudioContainer, AudioFormat};

use super::*;
use crate::catalog;

fn request(options: Value) -> SynthesisRequest {
    SynthesisRequest {
        text: "Hello.".to_string(),
        model: "eleven_multilingual_v2".to_string(),
        voice: "21m00Tcm4TlvDq8ikWAM".to_string(),
        format: AudioFormat {
            container: AudioContainer::Mp3,
            sample_rate: None,
            bitrate: None,
        },
        speed: None,
        language: None,
        instructions: None,
        timestamps: false,
        options: if options.is_null() {
            String::new()
        } else {
            options.to_string()
        },
    }
}

fn model(id: &str) -> &'static Model {
    catalog::model(id).expect("a catalog model")
}

fn fields(request: &SynthesisRequest, model_id: &str) -> Result<Value, ProviderError> {
    body_fields(request, model(model_id)).map(Value::Object)
}

fn expect_invalid(request: &SynthesisRequest, model_id: &str, fragment: &str) {
    match fields(request, model_id) {
        Err(ProviderError::InvalidRequest(message)) => {
            assert!(message.contains(fragment), "{message}");
        }
        other => panic!("expected invalid-request with {fragment:?}, got {other:?}"),
    }
}

fn expect_unsupported(request: &SynthesisRequest, model_id: &str, fragment: &str) {
    match fields(request, model_id) {
        Err(ProviderError::Unsupported(message)) => {
            assert!(message.contains(fragment), "{message}");
        }
        other => panic!("expected unsupported with {fragment:?}, got {other:?}"),
    }
}

#[test]
fn no_options_add_nothing() {
    for options in [Value::Null, json!({})] {
        assert_eq!(fields(&request(options), "eleven_v3"), Ok(json!({})));
    }
}

#[test]
fn null_options_are_dropped() {
    let request = request(json!({"seed": null, "voice_settings": {"style": null}}));

    assert_eq!(fields(&request, "eleven_v3"), Ok(json!({})));
}

#[test]
fn every_option_passes_through() {
    let options = json!({
        "voice_settings": {"stability": 1, "similarity_boost": 0.0, "style": 0.5, "use_speaker_boost": false, "speed": 0.7},
        "seed": 4_294_967_295_u64,
        "previous_text": "",
        "next_text": "Then.",
        "previous_request_ids": ["r1", "r2", "r3"],
        "next_request_ids": [],
        "apply_text_normalization": "auto",
        "language_code": "DE",
    });

    let value = fields(&request(options.clone()), "eleven_flash_v2_5").unwrap();

    let mut expected = options;
    expected["language_code"] = json!("de");
    assert_eq!(value, expected);
}

#[test]
fn unknown_option_is_named() {
    expect_invalid(
        &request(json!({"stability": 0.5})),
        "eleven_v3",
        "unknown provider option `stability`",
    );
    expect_invalid(
        &request(json!({"voice_settings": {"pitch": 2}})),
        "eleven_v3",
        "unknown voice setting `voice_settings.pitch`",
    );
}

#[test]
fn out_of_range_options_are_invalid() {
    // (options, a fragment the message must contain)
    let cases = [
        (
            json!({"voice_settings": {"stability": 1.5}}),
            "voice_settings.stability is 1.5",
        ),
        (
            json!({"voice_settings": {"similarity_boost": -0.1}}),
            "similarity_boost is -0.1",
        ),
        (
            json!({"voice_settings": {"style": "high"}}),
            "style must be a number",
        ),
        (
            json!({"voice_settings": {"speed": 1.3}}),
            "speed is 1.3, out of range",
        ),
        (json!({"voice_settings": {"speed": 0.5}}), "0.7 to 1.2"),
        (
            json!({"voice_settings": {"use_speaker_boost": 1}}),
            "true or false",
        ),
        (json!({"voice_settings": [0.5]}), "must be a JSON object"),
        (json!({"seed": -1}), "seed must be an integer"),
        (json!({"seed": 4_294_967_296_u64}), "from 0 to 4294967295"),
        (json!({"seed": 1.5}), "seed must be an integer"),
        (
            json!({"previous_text": 3}),
            "previous_text must be a string",
        ),
        (
            json!({"next_request_ids": ["a", "b", "c", "d"]}),
            "at most 3 request ids",
        ),
        (
            json!({"previous_request_ids": "a"}),
            "previous_request_ids must be a list",
        ),
        (
            json!({"previous_request_ids": [1]}),
            "previous_request_ids must be a list",
        ),
        (
            json!({"apply_text_normalization": "maybe"}),
            "\"auto\", \"on\" or \"off\"",
        ),
        (json!({"language_code": "english"}), "not an ISO 639-1 code"),
        (json!({"language_code": 7}), "must be a string"),
    ];

    for (options, fragment) in cases {
        expect_invalid(&request(options), "eleven_turbo_v2_5", fragment);
    }
}

#[test]
fn options_must_be_an_object() {
    let mut request = request(Value::Null);
    request.options = "[1]".to_string();

    expect_invalid(&request, "eleven_v3", "must be a JSON object");
}

#[test]
fn request_speed_becomes_voice_speed() {
    for (speed, written) in [(0.7_f32, "0.7"), (1.0, "1.0"), (1.1, "1.1"), (1.2, "1.2")] {
        let mut request = request(Value::Null);
        request.speed = Some(speed);

        let value = fields(&request, "eleven_multilingual_v2").unwrap();

        assert_eq!(value["voice_settings"]["speed"].to_string(), written);
    }
}

#[test]
fn request_speed_merges_with_voice_settings() {
    let mut request = request(json!({"voice_settings": {"stability": 0.3, "speed": 0.9}}));
    request.speed = Some(0.9);

    let value = fields(&request, "eleven_flash_v2").unwrap();

    assert_eq!(
        value,
        json!({"voice_settings": {"stability": 0.3, "speed": 0.9}})
    );
}

#[test]
fn conflicting_speeds_are_invalid() {
    let mut request = request(json!({"voice_settings": {"speed": 0.9}}));
    request.speed = Some(1.1);

    expect_invalid(
        &request,
        "eleven_v3",
        "speed 1.1 and the option voice_settings.speed 0.9",
    );
}

#[test]
fn unreachable_speed_is_unsupported() {
    for speed in [0.25_f32, 0.69, 1.21, 2.0, 4.0] {
        let mut request = request(Value::Null);
        request.speed = Some(speed);

        expect_unsupported(&request, "eleven_multilingual_v2", "speed 0.7 to 1.2");
    }
}

#[test]
fn non_finite_speed_is_invalid() {
    let mut request = request(Value::Null);
    request.speed = Some(f32::NAN);

    expect_invalid(&request, "eleven_v3", "not a finite number");
}

#[test]
fn legacy_models_take_no_speed() {
    let mut from_request = request(Value::Null);
    from_request.speed = Some(1.0);
    let from_options = request(json!({"voice_settings": {"speed": 1.0}}));

    for request in [from_request, from_options] {
        expect_unsupported(&request, "eleven_monolingual_v1", "takes no voice speed");
    }
}

#[test]
fn request_language_is_sent_where_enforced() {
    // (model, language, expected language_code)
    let cases = [
        ("eleven_turbo_v2_5", "pt-BR", Some("pt")),
        ("eleven_flash_v2_5", "EN_us", Some("en")),
        ("eleven_v3", "fil", Some("fil")),
        ("eleven_multilingual_v2", "de", None),
        ("eleven_turbo_v2", "en", None),
    ];

    for (model_id, language, expected) in cases {
        let mut request = request(Value::Null);
        request.language = Some(language.to_string());

        let value = fields(&request, model_id).unwrap();

        assert_eq!(
            value.get("language_code").and_then(Value::as_str),
            expected,
            "{model_id}"
        );
    }
}

#[test]
fn invalid_request_language_is_invalid() {
    for language in ["e", "english", "1a", "en US"] {
        let mut request = request(Value::Null);
        request.language = Some(language.to_string());

        expect_invalid(&request, "eleven_v3", "not a BCP 47 tag");
    }
}

#[test]
fn language_code_option_needs_enforcement() {
    expect_unsupported(
        &request(json!({"language_code": "de"})),
        "eleven_multilingual_v2",
        "cannot enforce a language_code",
    );
}

#[test]
fn conflicting_languages_are_invalid() {
    let mut request = request(json!({"language_code": "de"}));
    request.language = Some("fr-CA".to_string());

    expect_invalid(
        &request,
        "eleven_v3",
        "language `fr` and the option language_code `de`",
    );

    request.language = Some("de-AT".to_string());
    let value = fields(&request, "eleven_v3").unwrap();
    assert_eq!(value, json!({"language_code": "de"}));
}
