//! A circuit breaker per provider: after a run of failures the provider is skipped for a
//! cool-down, then one probe request decides whether it is healthy again.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A breaker's state, as `GET /v1/providers` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    /// Requests flow.
    Closed,
    /// Requests are skipped until the cool-down ends.
    Open,
    /// One probe request is in flight; the rest are skipped until it ends.
    HalfOpen,
}

impl BreakerState {
    pub fn name(self) -> &'static str {
        match self {
            BreakerState::Closed => "closed",
            BreakerState::Open => "open",
            BreakerState::HalfOpen => "half-open",
        }
    }
}

/// Whether a request may go to the provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    Allowed,
    /// The request is the probe of a half-open breaker; its outcome closes or reopens it.
    Probe,
    Rejected,
}

struct Inner {
    state: BreakerState,
    consecutive_failures: u32,
    opened_at: Option<Instant>,
}

/// One provider's breaker.
pub struct CircuitBreaker {
    provider: String,
    failure_threshold: u32,
    cooldown: Duration,
    inner: Mutex<Inner>,
}

impl CircuitBreaker {
    pub fn new(provider: &str, failure_threshold: u32, cooldown: Duration) -> Self {
        Self {
            provider: provider.to_string(),
            failure_threshold,
            cooldown,
            inner: Mutex::new(Inner { state: BreakerState::Closed, consecutive_failures: 0, opened_at: None }),
        }
    }

    pub fn state(&self) -> BreakerState {
        self.lock().state
    }

    /// Decides whether a request may go to the provider now.
    pub fn admit(&self) -> Admission {
        let mut inner = self.lock();
        match inner.state {
            BreakerState::Closed => Admission::Allowed,
            BreakerState::HalfOpen => Admission::Rejected,
            BreakerState::Open => {
                let cooled = inner.opened_at.is_none_or(|opened| opened.elapsed() >= self.cooldown);
                if !cooled {
                    return Admission::Rejected;
                }
                inner.state = BreakerState::HalfOpen;
                tracing::info!(provider = %self.provider, state = "half-open", "circuit breaker lets one probe through");
                Admission::Probe
            }
        }
    }

    /// Records a request that reached the provider and succeeded.
    pub fn record_success(&self) {
        let mut inner = self.lock();
        inner.consecutive_failures = 0;
        if inner.state != BreakerState::Closed {
            inner.state = BreakerState::Closed;
            inner.opened_at = None;
            tracing::info!(provider = %self.provider, state = "closed", "circuit breaker closed: the provider responded");
        }
    }

    /// Records a failure that reflects the provider's health (unavailable,
    /// timed out, unreachable), not about the request.
    pub fn record_failure(&self) {
        let mut inner = self.lock();
        inner.consecutive_failures = inner.consecutive_failures.saturating_add(1);
        let trips = match inner.state {
            BreakerState::HalfOpen => true,
            BreakerState::Closed => inner.consecutive_failures >= self.failure_threshold,
            BreakerState::Open => false,
        };
        if trips {
            inner.state = BreakerState::Open;
            inner.opened_at = Some(Instant::now());
            tracing::warn!(
                provider = %self.provider,
                state = "open",
                failures = inner.consecutive_failures,
                cooldown_ms = self.cooldown.as_millis() as u64,
                "circuit breaker opened: the provider is skipped until the cool-down ends"
            );
        }
    }

    /// Ends a probe that neither succeeded nor failed in a way that reflects health (for
    /// example the request itself was invalid), so the next request can probe.
    pub fn release_probe(&self) {
        let mut inner = self.lock();
        if inner.state == BreakerState::HalfOpen {
            inner.state = BreakerState::Open;
            inner.opened_at = Some(Instant::now() - self.cooldown);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_threshold() {
        let breaker = CircuitBreaker::new("p", 3, Duration::from_secs(60));
        breaker.record_failure();
        breaker.record_failure();
        assert_eq!(breaker.state(), BreakerState::Closed);
        breaker.record_failure();
        assert_eq!(breaker.state(), BreakerState::Open);
        assert_eq!(breaker.admit(), Admission::Rejected);
    }

    #[test]
    fn success_resets_count() {
        let breaker = CircuitBreaker::new("p", 2, Duration::from_secs(60));
        breaker.record_failure();
        breaker.record_success();
        breaker.record_failure();
        assert_eq!(breaker.state(), BreakerState::Closed);
    }

    #[test]
    fn probe_after_cooldown_closes() {
        let breaker = CircuitBreaker::new("p", 1, Duration::ZERO);
        breaker.record_failure();
        assert_eq!(breaker.admit(), Admission::Probe);
        assert_eq!(breaker.state(), BreakerState::HalfOpen);
        assert_eq!(breaker.admit(), Admission::Rejected, "only one probe at a time");
        breaker.record_success();
        assert_eq!(breaker.state(), BreakerState::Closed);
    }

    #[test]
    fn failed_probe_reopens() {
        let breaker = CircuitBreaker::new("p", 1, Duration::ZERO);
        breaker.record_failure();
        assert_eq!(breaker.admit(), Admission::Probe);
        breaker.record_failure();
        assert_eq!(breaker.state(), BreakerState::Open);
    }
}
