//! The speech URL for a given `base-url`.
//!
//! OpenAI serves its API under `/v1`: speech is `https://api.openai.com/v1/audio/speech`.
//! Proxies differ in which part of that path the operator's base URL already contains, so
//! the rule is:
//!
//! 1. A base URL whose path ends in the segment `v1` (`http://localhost:8000/v1`, an
//!    OpenAI-compatible server) already is the API root: speech is `{base-url}/audio/speech`.
//! 2. A base URL on Cloudflare AI Gateway (host `gateway.ai.cloudflare.com`, path
//!    `/v1/ACCOUNT/GATEWAY/openai`) is also the API root, because AI Gateway's `openai`
//!    segment stands for `https://api.openai.com/v1`: speech is `{base-url}/audio/speech`.
//!    The same holds on any host for a path of AI Gateway's shape,
//!    `/v1/{account}/{gateway}/openai`, so that a gateway emulator on loopback is addressed
//!    like the real one.
//! 3. Any other base URL is an origin, with or without a path prefix where a proxy mounts
//!    the whole API (`https://proxy.internal/openai`): speech is
//!    `{base-url}/v1/audio/speech`.

use voxgate_plugin_sdk::BaseUrl;

/// The host name of Cloudflare AI Gateway.
const AI_GATEWAY_HOST: &str = "gateway.ai.cloudflare.com";

/// Builds the URL of `POST /v1/audio/speech` under `base_url`.
pub fn speech_url(base_url: &BaseUrl) -> String {
    if is_api_root(base_url) {
        base_url.join("/audio/speech")
    } else {
        base_url.join("/v1/audio/speech")
    }
}

/// Checks whether `base_url` already includes OpenAI's `/v1`.
fn is_api_root(base_url: &BaseUrl) -> bool {
    let last_segment = base_url.path().rsplit('/').next().unwrap_or("");

    let gateway_route = base_url
        .ai_gateway_path()
        .is_some_and(|path| path.provider == "openai");

    last_segment.eq_ignore_ascii_case("v1")
        || base_url.host_name() == AI_GATEWAY_HOST
        || gateway_route
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn speech_url_follows_rule() {
        // (base-url, speech URL)
        let cases = [
            (
                "https://api.openai.com",
                "https://api.openai.com/v1/audio/speech",
            ),
            (
                "https://api.openai.com/",
                "https://api.openai.com/v1/audio/speech",
            ),
            (
                "https://api.openai.com/v1",
                "https://api.openai.com/v1/audio/speech",
            ),
            (
                "https://api.openai.com/v1/",
                "https://api.openai.com/v1/audio/speech",
            ),
            (
                "http://127.0.0.1:18001",
                "http://127.0.0.1:18001/v1/audio/speech",
            ),
            (
                "http://localhost:8000/V1",
                "http://localhost:8000/V1/audio/speech",
            ),
            (
                "https://gateway.ai.cloudflare.com/v1/ACCOUNT/GATEWAY/openai",
                "https://gateway.ai.cloudflare.com/v1/ACCOUNT/GATEWAY/openai/audio/speech",
            ),
            (
                "https://gateway.ai.cloudflare.com/v1/ACCOUNT/GATEWAY/openai/",
                "https://gateway.ai.cloudflare.com/v1/ACCOUNT/GATEWAY/openai/audio/speech",
            ),
            (
                "https://proxy.internal/openai",
                "https://proxy.internal/openai/v1/audio/speech",
            ),
            (
                "https://proxy.internal/v1x",
                "https://proxy.internal/v1x/v1/audio/speech",
            ),
            (
                "https://proxy.internal/v1/tts",
                "https://proxy.internal/v1/tts/v1/audio/speech",
            ),
            (
                "http://127.0.0.1:18003/v1/acc/gw/openai",
                "http://127.0.0.1:18003/v1/acc/gw/openai/audio/speech",
            ),
            (
                "http://127.0.0.1:18003/v1/acc/gw/workers-ai",
                "http://127.0.0.1:18003/v1/acc/gw/workers-ai/v1/audio/speech",
            ),
        ];

        for (base, expected) in cases {
            let base_url = BaseUrl::parse("base-url", base).unwrap();

            assert_eq!(speech_url(&base_url), expected, "base-url {base}");
        }
    }
}
