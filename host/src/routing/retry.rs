//! Backoff between retries, and the gateway-wide retry budget that keeps retries from
//! multiplying the load on a failing provider.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::config::ResilienceConfig;

/// The wait before retry number `retry` (1 for the first retry): a random time between
/// zero and `base * 2^(retry-1)`, capped at `max` ("full jitter", which spreads retries of
/// many clients instead of synchronising them).
pub fn backoff(config: &ResilienceConfig, retry: u32) -> Duration {
    let exponent = retry.saturating_sub(1).min(20);
    let ceiling = config.retry_base_ms.saturating_mul(1 << exponent).min(config.retry_max_ms);
    Duration::from_millis(rand::random_range(0..=ceiling))
}

/// A token bucket: every request deposits `ratio` tokens, every retry withdraws one, and a
/// floor of `min_per_second` retries per second is always available.
pub struct RetryBudget {
    ratio: f64,
    min_per_second: f64,
    inner: Mutex<BudgetInner>,
}

struct BudgetInner {
    tokens: f64,
    refilled_at: Instant,
}

/// The maximum tokens in the bucket, so a long quiet spell cannot bank a retry storm.
const MAX_TOKENS: f64 = 100.0;

impl RetryBudget {
    pub fn new(config: &ResilienceConfig) -> Self {
        Self {
            ratio: config.retry_budget_ratio,
            min_per_second: f64::from(config.retry_budget_min_per_second),
            inner: Mutex::new(BudgetInner { tokens: f64::from(config.retry_budget_min_per_second), refilled_at: Instant::now() }),
        }
    }

    /// Records a request's first attempt.
    pub fn deposit(&self) {
        let mut inner = self.lock();
        inner.tokens = (inner.tokens + self.ratio).min(MAX_TOKENS);
    }

    /// Takes a token for a retry; false when the budget is spent.
    pub fn try_withdraw(&self) -> bool {
        let mut inner = self.lock();
        let now = Instant::now();
        let elapsed = now.duration_since(inner.refilled_at).as_secs_f64();
        inner.refilled_at = now;
        // The floor refills over time, up to one second's worth above what requests deposit.
        let floor_cap = self.min_per_second.max(inner.tokens);
        inner.tokens = (inner.tokens + elapsed * self.min_per_second).min(floor_cap).min(MAX_TOKENS);
        if inner.tokens >= 1.0 {
            inner.tokens -= 1.0;
            return true;
        }
        false
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BudgetInner> {
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_stays_under_cap() {
        let config = ResilienceConfig { retry_base_ms: 100, retry_max_ms: 300, ..ResilienceConfig::default() };
        for retry in 1..10 {
            assert!(backoff(&config, retry) <= Duration::from_millis(300));
        }
    }

    #[test]
    fn budget_runs_out_without_requests() {
        let config = ResilienceConfig { retry_budget_ratio: 0.2, retry_budget_min_per_second: 2, ..ResilienceConfig::default() };
        let budget = RetryBudget::new(&config);
        assert!(budget.try_withdraw());
        assert!(budget.try_withdraw());
        assert!(!budget.try_withdraw(), "the floor allows two retries at once");
    }

    #[test]
    fn requests_earn_retries() {
        let config = ResilienceConfig { retry_budget_ratio: 0.5, retry_budget_min_per_second: 0, ..ResilienceConfig::default() };
        let budget = RetryBudget::new(&config);
        assert!(!budget.try_withdraw());
        budget.deposit();
        budget.deposit();
        assert!(budget.try_withdraw(), "two requests at 0.5 earn one retry");
        assert!(!budget.try_withdraw());
    }
}
