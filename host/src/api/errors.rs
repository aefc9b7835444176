//! One classification of every failure, shared by the client APIs: the HTTP status, a
//! stable machine-readable code and a message. Each API then writes it in its own shape.

use crate::auth::AuthError;
use crate::speech::{InvalidRequest, SpeakError};
use crate::plugin::wit::ProviderError;
use crate::synthesis::SynthesisError;
use crate::upstream::UpstreamError;

/// Who is to blame, which OpenAI's error `type` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Blame {
    /// The client's request.
    Client,
    /// Too many requests, upstream or here.
    RateLimit,
    /// A provider or the network to it.
    Upstream,
    /// The gateway, its configuration or a plugin.
    Gateway,
}

/// A failure ready to be written in an API's error shape.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: u16,
    pub blame: Blame,
    /// A stable code, such as `voice_not_found` or `provider_unavailable`.
    pub code: &'static str,
    /// The request field at fault, when there is one.
    pub param: Option<&'static str>,
    pub message: String,
    /// Seconds for a `Retry-After` header.
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: u16, blame: Blame, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, blame, code, param: None, message: message.into(), retry_after: None }
    }
}

impl From<&AuthError> for ApiError {
    fn from(error: &AuthError) -> Self {
        match error {
            AuthError::Missing | AuthError::Invalid => ApiError::new(401, Blame::Client, "invalid_api_key", error.to_string()),
            AuthError::AdminRequired => ApiError::new(401, Blame::Client, "invalid_admin_key", error.to_string()),
            AuthError::AdminDisabled => ApiError::new(403, Blame::Client, "admin_disabled", error.to_string()),
        }
    }
}

impl From<&InvalidRequest> for ApiError {
    fn from(invalid: &InvalidRequest) -> Self {
        let status = if invalid.code == "request_too_large" { 413 } else { 400 };
        Self {
            status,
            blame: Blame::Client,
            code: invalid.code,
            param: invalid.param,
            message: invalid.message.clone(),
            retry_after: None,
        }
    }
}

impl From<&SpeakError> for ApiError {
    fn from(error: &SpeakError) -> Self {
        match error {
            SpeakError::Invalid(invalid) => invalid.into(),
            SpeakError::Synthesis(error) => synthesis_error(error),
            SpeakError::Capacity(full) => {
                let mut api_error = ApiError::new(429, Blame::RateLimit, "provider_capacity_exceeded", full.to_string());
                api_error.retry_after = Some(full.retry_after().as_secs().max(1));
                api_error
            }
            SpeakError::CircuitOpen { .. } => {
                ApiError::new(503, Blame::Upstream, "provider_circuit_open", error.to_string())
            }
            SpeakError::NoCandidate { .. } => {
                ApiError::new(503, Blame::Gateway, "no_provider_available", error.to_string())
            }
            SpeakError::Internal(_) => ApiError::new(500, Blame::Gateway, "internal_error", error.to_string()),
            SpeakError::Forbidden(_) => ApiError::new(403, Blame::Client, "permission_denied", error.to_string()),
            SpeakError::ClientLimit { retry_after_seconds, .. } => {
                let mut api_error = ApiError::new(429, Blame::RateLimit, "client_limit_exceeded", error.to_string());
                api_error.retry_after = Some(*retry_after_seconds);
                api_error
            }
        }
    }
}

/// Classifies one failed attempt as the client would see it.
pub fn synthesis_error(error: &SynthesisError) -> ApiError {
    let message = error.to_string();
    match error {
        SynthesisError::Provider { provider, error } => provider_error(provider, error),
        SynthesisError::Plugin { .. } => ApiError::new(500, Blame::Gateway, "plugin_failed", message),
        SynthesisError::Policy { .. } => {
            ApiError::new(500, Blame::Gateway, "plugin_policy_violation", message)
        }
        SynthesisError::NotConfigured { .. } => {
            ApiError::new(503, Blame::Gateway, "provider_not_configured", message)
        }
        SynthesisError::InvalidAudio { .. } => {
            ApiError::new(502, Blame::Upstream, "invalid_upstream_response", message)
        }
        SynthesisError::Upstream { error, .. } => match error {
            UpstreamError::Timeout { .. } => ApiError::new(504, Blame::Upstream, "upstream_timeout", message),
            UpstreamError::Connect { .. } => {
                ApiError::new(503, Blame::Upstream, "provider_unavailable", message)
            }
            UpstreamError::TooLarge { .. } => {
                ApiError::new(502, Blame::Upstream, "invalid_upstream_response", message)
            }
            UpstreamError::Body { .. } => {
                ApiError::new(502, Blame::Upstream, "upstream_connection_failed", message)
            }
            UpstreamError::Denied(_) | UpstreamError::InvalidRequest(_) | UpstreamError::Secret(_) => {
                ApiError::new(500, Blame::Gateway, "plugin_policy_violation", message)
            }
        },
    }
}

fn provider_error(provider: &str, error: &ProviderError) -> ApiError {
    match error {
        ProviderError::InvalidRequest(message) => ApiError::new(
            400,
            Blame::Client,
            "provider_rejected_request",
            format!("provider {provider} rejected the request: {message}"),
        ),
        ProviderError::Unsupported(message) => ApiError::new(
            400,
            Blame::Client,
            "unsupported_by_provider",
            format!("provider {provider} does not support the request: {message}"),
        ),
        ProviderError::Unauthorized(message) => ApiError::new(
            502,
            Blame::Upstream,
            "provider_unauthorized",
            format!("provider {provider} rejected the gateway's credentials: {message}"),
        ),
        ProviderError::QuotaExceeded(message) => ApiError::new(
            502,
            Blame::Upstream,
            "provider_quota_exceeded",
            format!("provider {provider} reports the account's quota is exhausted: {message}"),
        ),
        ProviderError::RateLimited(limit) => {
            let mut error = ApiError::new(
                429,
                Blame::RateLimit,
                "rate_limited",
                format!("provider {provider} is rate limiting requests: {}", limit.message),
            );
            // Whole seconds, rounded up, as Retry-After requires.
            error.retry_after = limit.retry_after_ms.map(|ms| ms.div_ceil(1000).max(1));
            error
        }
        ProviderError::Unavailable(message) => ApiError::new(
            503,
            Blame::Upstream,
            "provider_unavailable",
            format!("provider {provider} is unavailable: {message}"),
        ),
        ProviderError::InvalidResponse(message) => ApiError::new(
            502,
            Blame::Upstream,
            "invalid_upstream_response",
            format!("provider {provider} returned a response the plugin could not read: {message}"),
        ),
        ProviderError::Misconfigured(error) => ApiError::new(
            503,
            Blame::Gateway,
            "provider_not_configured",
            format!(
                "provider {provider} is not configured correctly: setting `{}`: {}",
                error.name, error.message
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugin::wit::RateLimit;

    #[test]
    fn rate_limit_rounds_retry_after_up() {
        let error = ProviderError::RateLimited(RateLimit {
            message: "slow down".to_string(),
            retry_after_ms: Some(1500),
        });
        let api_error = provider_error("openai", &error);
        assert_eq!(api_error.status, 429);
        assert_eq!(api_error.retry_after, Some(2));
    }

    #[test]
    fn provider_error_status_table() {
        let cases = [
            (ProviderError::InvalidRequest("x".into()), 400, "provider_rejected_request"),
            (ProviderError::Unsupported("x".into()), 400, "unsupported_by_provider"),
            (ProviderError::Unauthorized("x".into()), 502, "provider_unauthorized"),
            (ProviderError::QuotaExceeded("x".into()), 502, "provider_quota_exceeded"),
            (ProviderError::Unavailable("x".into()), 503, "provider_unavailable"),
            (ProviderError::InvalidResponse("x".into()), 502, "invalid_upstream_response"),
        ];
        for (error, status, code) in cases {
            let api_error = provider_error("p", &error);
            assert_eq!((api_error.status, api_error.code), (status, code), "{error:?}");
        }
    }
}
