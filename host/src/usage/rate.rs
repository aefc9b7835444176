//! Per-minute request counters for client-key rate limits, kept in this process.
//!
//! Both backends count in fixed windows of one UTC minute (`now / 60`): simple, the same
//! in memory and in Redis, and a client can burst to twice the limit across a minute
//! boundary at most.

use std::collections::HashMap;
use std::sync::Mutex;

/// The outcome of taking one request from a client key's per-minute budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateDecision {
    /// The request may go ahead; `remaining` more fit in this minute.
    Allowed { remaining: u32 },
    /// The budget for this minute is spent; the next minute starts in
    /// `retry_after_seconds` (1 to 60), suitable for a `Retry-After` header.
    Denied { retry_after_seconds: u64 },
}

/// Returns the minute window that contains `now_unix`.
pub fn window(now_unix: u64) -> u64 {
    now_unix / 60
}

/// Decides from the count of requests in this window, the current one included. A limit
/// of 0 denies every request.
pub fn decide(count: u64, limit_per_minute: u32, now_unix: u64) -> RateDecision {
    if count > u64::from(limit_per_minute) {
        return RateDecision::Denied { retry_after_seconds: 60 - now_unix % 60 };
    }
    RateDecision::Allowed { remaining: (u64::from(limit_per_minute) - count) as u32 }
}

/// Counters for one process, used by the embedded backend.
#[derive(Debug, Default)]
pub struct MemoryRateLimiter {
    /// Per client key: the window and the requests counted in it.
    windows: Mutex<HashMap<String, (u64, u64)>>,
}

/// Above this many client keys, counters of past windows are dropped on the next call, so
/// memory stays bounded by the keys active in the current minute.
const PRUNE_ABOVE: usize = 1024;

impl MemoryRateLimiter {
    pub fn take(&self, client_key: &str, limit_per_minute: u32, now_unix: u64) -> RateDecision {
        let current = window(now_unix);
        let mut windows = self.windows.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if windows.len() > PRUNE_ABOVE {
            windows.retain(|_, (window, _)| *window >= current);
        }

        let counter = windows.entry(client_key.to_string()).or_insert((current, 0));
        if counter.0 != current {
            *counter = (current, 0);
        }
        // Denied requests count too, as they do in Redis; with fixed windows that only
        // affects a window whose budget is already spent.
        counter.1 = counter.1.saturating_add(1);
        decide(counter.1, limit_per_minute, now_unix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_holds_within_minute() {
        let limiter = MemoryRateLimiter::default();
        let minute = 1_700_000_020; // 40 s into a minute
        assert_eq!(limiter.take("a", 2, minute), RateDecision::Allowed { remaining: 1 });
        assert_eq!(limiter.take("a", 2, minute + 5), RateDecision::Allowed { remaining: 0 });
        assert_eq!(limiter.take("a", 2, minute + 10), RateDecision::Denied { retry_after_seconds: 10 });
        // Another key has its own budget.
        assert_eq!(limiter.take("b", 2, minute + 10), RateDecision::Allowed { remaining: 1 });
    }

    #[test]
    fn next_minute_resets() {
        let limiter = MemoryRateLimiter::default();
        let start = 1_700_000_020;
        assert!(matches!(limiter.take("a", 1, start), RateDecision::Allowed { .. }));
        assert!(matches!(limiter.take("a", 1, start + 19), RateDecision::Denied { .. }));
        assert_eq!(limiter.take("a", 1, start + 20), RateDecision::Allowed { remaining: 0 });
    }

    #[test]
    fn zero_limit_denies() {
        let limiter = MemoryRateLimiter::default();
        assert_eq!(limiter.take("a", 0, 60), RateDecision::Denied { retry_after_seconds: 60 });
    }

    #[test]
    fn old_windows_are_pruned() {
        let limiter = MemoryRateLimiter::default();
        for i in 0..=PRUNE_ABOVE {
            limiter.take(&format!("key {i}"), 5, 0);
        }
        limiter.take("late", 5, 120);
        assert_eq!(limiter.windows.lock().unwrap().len(), 1);
    }
}
