//! Routing and resilience: which providers a request may go to, and how failures move it
//! to a retry or the next candidate.

mod breaker;
mod capacity;
mod long_text;
mod plan;
mod retry;

use std::time::Duration;

pub use breaker::{Admission, BreakerState, CircuitBreaker};
pub use capacity::{CapacityError, ProviderCapacity};
pub use plan::{Candidate, RouteEntry, find_model, offers_voice, plan};
pub use long_text::split_text;
pub use retry::{RetryBudget, backoff};

use crate::plugin::wit::ProviderError;
use crate::synthesis::SynthesisError;
use crate::upstream::UpstreamError;

/// The consequence of a failed attempt for the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// The request itself is wrong; another provider would reject it too.
    Fatal,
    /// This provider cannot serve the request; try the next candidate. `unhealthy` is
    /// whether the failure counts against the provider's circuit breaker.
    NextCandidate { unhealthy: bool },
    /// A passing fault: retry this provider after a backoff, at least `retry_after`.
    Retry { retry_after: Option<Duration> },
}

/// Classifies a failed attempt by its typed error.
pub fn disposition(error: &SynthesisError) -> Disposition {
    match error {
        SynthesisError::Provider { error, .. } => match error {
            ProviderError::InvalidRequest(_) => Disposition::Fatal,
            ProviderError::Unauthorized(_)
            | ProviderError::QuotaExceeded(_)
            | ProviderError::Unsupported(_)
            | ProviderError::Misconfigured(_) => Disposition::NextCandidate { unhealthy: false },
            ProviderError::RateLimited(limit) => {
                Disposition::Retry { retry_after: limit.retry_after_ms.map(Duration::from_millis) }
            }
            ProviderError::Unavailable(_) => Disposition::Retry { retry_after: None },
            ProviderError::InvalidResponse(_) => Disposition::NextCandidate { unhealthy: true },
        },
        SynthesisError::Plugin { .. } | SynthesisError::Policy { .. } | SynthesisError::NotConfigured { .. } => {
            Disposition::NextCandidate { unhealthy: false }
        }
        SynthesisError::InvalidAudio { .. } => Disposition::Retry { retry_after: None },
        SynthesisError::Upstream { error, .. } => match error {
            UpstreamError::Timeout { .. } | UpstreamError::Connect { .. } | UpstreamError::Body { .. } => {
                Disposition::Retry { retry_after: None }
            }
            UpstreamError::TooLarge { .. } => Disposition::NextCandidate { unhealthy: true },
            UpstreamError::Denied(_) | UpstreamError::InvalidRequest(_) | UpstreamError::Secret(_) => {
                Disposition::NextCandidate { unhealthy: false }
            }
        },
    }
}

/// Whether the failure counts against the provider's circuit breaker.
pub fn is_unhealthy(error: &SynthesisError) -> bool {
    match disposition(error) {
        Disposition::Fatal => false,
        Disposition::NextCandidate { unhealthy } => unhealthy,
        // A rate limit means the provider is busy, not broken.
        Disposition::Retry { .. } => !matches!(
            error,
            SynthesisError::Provider { error: ProviderError::RateLimited(_), .. }
        ),
    }
}
