//! Everything a Rust author needs to write a voxgate text-to-speech provider plugin.
//!
//! A plugin is a WebAssembly component (`wasm32-wasip2`, `crate-type = ["cdylib"]`) that
//! implements [`Guest`] and exports it with [`export!`]. It is a pure translator: it never
//! performs I/O. [`Guest::synthesize`] turns a [`SynthesisRequest`] into a [`Step`] (an HTTP
//! request for the host to send, or finished audio), and [`Guest::resume`] turns the
//! provider's [`HttpResponse`] into the next step or a [`ProviderError`]. The plugin refers to
//! API keys by name with a [`SecretRef`], and the host fills in the value only for a request
//! to a host listed in [`ProviderInfo::hosts`].
//!
//! This crate generates the bindings for `wit/provider.wit` (package
//! `voxgate:provider@0.1.0`, world `plugin`) once and re-exports its types. Its helpers cover
//! the parts every plugin writes:
//!
//! - headers and secret references: [`header`], [`secret_header`], [`bearer`];
//! - settings: [`setting_or`], [`header_setting`], [`BaseUrl`];
//! - JSON bodies and provider options: [`json_body`], [`parse_options`];
//! - error classification: [`error_for_status`], [`retry_after_ms`], [`body_excerpt`];
//! - Cloudflare AI Gateway: [`AiGatewayHeaders`] adds the `cf-aig-*` headers the operator
//!   configures, and [`BaseUrl::ai_gateway_path`] recognises a gateway base URL.
//!
//! # Example
//!
//! A provider that posts JSON to `{base-url}/speak` and streams the MP3 it returns:
//!
//! ```no_run
//! use voxgate_plugin_sdk::serde_json::json;
//! use voxgate_plugin_sdk::*;
//!
//! const DEFAULT_BASE_URL: &str = "https://tts.example.com";
//!
//! fn base_url(settings: &[Setting]) -> Result<BaseUrl, SettingsError> {
//!     BaseUrl::parse("base-url", setting_or(settings, "base-url", DEFAULT_BASE_URL))
//! }
//!
//! struct Example;
//!
//! impl Guest for Example {
//!     fn describe(settings: Vec<Setting>) -> Result<ProviderInfo, SettingsError> {
//!         let base_url = base_url(&settings)?;
//!
//!         Ok(ProviderInfo {
//!             id: "example".to_string(),
//!             name: "Example TTS".to_string(),
//!             version: "0.1.0".to_string(),
//!             models: vec![ModelInfo {
//!                 id: "standard".to_string(),
//!                 name: "Standard".to_string(),
//!                 languages: vec!["en".to_string()],
//!                 price_per_million_characters: 10.0,
//!                 max_characters: 5000,
//!                 formats: vec![AudioContainer::Mp3],
//!                 streaming: true,
//!                 instructions: false,
//!             }],
//!             voices: vec![VoiceInfo {
//!                 id: "anna".to_string(),
//!                 name: "Anna".to_string(),
//!                 languages: vec!["en".to_string()],
//!                 models: Vec::new(),
//!             }],
//!             default_model: "standard".to_string(),
//!             default_voice: "anna".to_string(),
//!             // Derived from the setting, so pointing base-url at an emulator or a proxy
//!             // also moves the host that the plugin may address.
//!             hosts: vec![base_url.host()],
//!             secrets: vec![SecretInfo {
//!                 name: "api-key".to_string(),
//!                 description: "Example TTS API key".to_string(),
//!                 env: Some("EXAMPLE_API_KEY".to_string()),
//!                 required: true,
//!             }],
//!             settings: vec![SettingInfo {
//!                 name: "base-url".to_string(),
//!                 description: "Origin of the Example TTS API".to_string(),
//!                 default: Some(DEFAULT_BASE_URL.to_string()),
//!             }],
//!         })
//!     }
//!
//!     fn synthesize(
//!         request: SynthesisRequest,
//!         settings: Vec<Setting>,
//!     ) -> Result<Step, ProviderError> {
//!         let base_url = base_url(&settings)
//!             .map_err(|error| ProviderError::Unavailable(error.message))?;
//!         parse_options(&request.options, &[])?;
//!
//!         let body = json!({
//!             "text": request.text,
//!             "voice": request.voice,
//!             "model": request.model,
//!         });
//!         let http_request = HttpRequest {
//!             method: Method::Post,
//!             url: base_url.join("/speak"),
//!             headers: vec![
//!                 // The host fills in `Bearer <api-key>` when it sends the request.
//!                 secret_header("authorization", bearer("api-key")),
//!                 header("content-type", "application/json"),
//!             ],
//!             body: json_body(&body),
//!         };
//!
//!         Ok(Step::Stream(StreamRequest {
//!             request: http_request,
//!             format: AudioFormat {
//!                 container: AudioContainer::Mp3,
//!                 sample_rate: None,
//!                 bitrate: None,
//!             },
//!             billed_characters_header: None,
//!         }))
//!     }
//!
//!     fn resume(response: HttpResponse) -> Result<Step, ProviderError> {
//!         let excerpt = body_excerpt(&response.body);
//!         let message = format!("Example TTS returned HTTP {}: {excerpt}", response.status);
//!         Err(error_for_status(&response, message))
//!     }
//! }
//!
//! voxgate_plugin_sdk::export!(Example);
//! ```
//!
//! # Building and testing
//!
//! Keep plugins in a cargo workspace of their own whose `.cargo/config.toml` sets
//! `[build] target = "wasm32-wasip2"`; `cargo build --release` there writes one component per
//! plugin to `target/wasm32-wasip2/release/`. Unit tests call the [`Guest`] functions
//! directly and run natively with `cargo test --target x86_64-unknown-linux-gnu`, because a
//! test build does not link the `cdylib`.

mod ai_gateway;
mod ai_gateway_path;
mod audio;
mod base_url;
mod body;
mod headers;
mod http_error;
mod settings;

#[doc(hidden)]
pub mod bindings;

pub use bindings::export;
pub use bindings::exports::voxgate::provider::provider::Guest;
pub use bindings::voxgate::provider::types::*;

pub use ai_gateway::{
    AIG_AUTHENTICATED, AIG_CACHE_TTL, AIG_METADATA, AIG_SKIP_CACHE, AIG_TOKEN, AIG_TOKEN_ENV,
    AiGatewayHeaders,
};
pub use ai_gateway_path::AiGatewayPath;
pub use base_url::BaseUrl;
pub use body::{json_body, parse_options};
pub use headers::{bearer, header, secret, secret_header};
pub use http_error::{
    BODY_EXCERPT_CHARS, body_excerpt, error_for_status, response_header, retry_after_ms, sanitize,
};
pub use settings::{header_setting, setting, setting_or};

/// The `serde_json` version this crate builds bodies with, so that plugins use the same one.
pub use serde_json;
