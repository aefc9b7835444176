//! How much traffic one provider takes: concurrent upstream requests with a bounded queue,
//! and requests and characters per minute.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::config::CapacityConfig;

/// Requests that may wait for a slot when the operator sets a concurrency limit but no
/// queue size.
const DEFAULT_QUEUE: u32 = 100;

/// A reason a request cannot go to the provider now.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CapacityError {
    #[error("provider {provider} is at its limit of {limit} concurrent requests and {queued} are already waiting")]
    QueueFull { provider: String, limit: u32, queued: usize },
    #[error("provider {provider} is over its limit of {limit} {unit} per minute")]
    RateLimited { provider: String, limit: u32, unit: &'static str, retry_after: Duration },
}

impl CapacityError {
    pub fn retry_after(&self) -> Duration {
        match self {
            CapacityError::QueueFull { .. } => Duration::from_secs(1),
            CapacityError::RateLimited { retry_after, .. } => *retry_after,
        }
    }
}

/// One provider's capacity.
pub struct ProviderCapacity {
    provider: String,
    concurrency: Option<(Arc<Semaphore>, u32)>,
    queue_limit: usize,
    waiting: AtomicUsize,
    requests: Option<Mutex<Bucket>>,
    characters: Option<Mutex<Bucket>>,
}

impl ProviderCapacity {
    pub fn new(provider: &str, config: &CapacityConfig) -> Self {
        let concurrency = config
            .max_concurrent_requests
            .map(|limit| (Arc::new(Semaphore::new(usize::try_from(limit).unwrap_or(usize::MAX))), limit));
        Self {
            provider: provider.to_string(),
            concurrency,
            queue_limit: usize::try_from(config.max_queued_requests.unwrap_or(DEFAULT_QUEUE)).unwrap_or(usize::MAX),
            waiting: AtomicUsize::new(0),
            requests: config.requests_per_minute.map(|limit| Mutex::new(Bucket::per_minute(limit))),
            characters: config.characters_per_minute.map(|limit| Mutex::new(Bucket::per_minute(limit))),
        }
    }

    /// Takes the rate budget for one request of `characters` and waits for a concurrency
    /// slot, unless the queue is full. The returned permit, when there is one, must live as
    /// long as the upstream request, streamed body included.
    pub async fn acquire(&self, characters: usize) -> Result<Option<OwnedSemaphorePermit>, CapacityError> {
        if let Some(bucket) = &self.requests {
            take(bucket, 1.0, &self.provider, "requests")?;
        }
        if let Some(bucket) = &self.characters {
            take(bucket, characters as f64, &self.provider, "characters")?;
        }

        let Some((semaphore, limit)) = &self.concurrency else {
            return Ok(None);
        };
        if let Ok(permit) = semaphore.clone().try_acquire_owned() {
            return Ok(Some(permit));
        }
        let queued = self.waiting.fetch_add(1, Ordering::SeqCst);
        if queued >= self.queue_limit {
            self.waiting.fetch_sub(1, Ordering::SeqCst);
            return Err(CapacityError::QueueFull { provider: self.provider.clone(), limit: *limit, queued });
        }
        let permit = semaphore.clone().acquire_owned().await;
        self.waiting.fetch_sub(1, Ordering::SeqCst);
        Ok(Some(permit.expect("capacity semaphores are never closed")))
    }
}

fn take(bucket: &Mutex<Bucket>, amount: f64, provider: &str, unit: &'static str) -> Result<(), CapacityError> {
    let mut bucket = bucket.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    bucket.take(amount).map_err(|retry_after| CapacityError::RateLimited {
        provider: provider.to_string(),
        limit: bucket.capacity as u32,
        unit,
        retry_after,
    })
}

/// A token bucket that refills `capacity` tokens per minute.
struct Bucket {
    capacity: f64,
    tokens: f64,
    refilled_at: Instant,
}

impl Bucket {
    fn per_minute(limit: u32) -> Self {
        Self { capacity: f64::from(limit), tokens: f64::from(limit), refilled_at: Instant::now() }
    }

    /// Takes `amount` tokens, or returns how long until there are enough. A request larger than
    /// the whole bucket passes when the bucket is full, so it is slowed, never refused forever.
    fn take(&mut self, amount: f64) -> Result<(), Duration> {
        let now = Instant::now();
        let per_second = self.capacity / 60.0;
        self.tokens = (self.tokens + now.duration_since(self.refilled_at).as_secs_f64() * per_second).min(self.capacity);
        self.refilled_at = now;
        let needed = amount.min(self.capacity);
        if self.tokens >= needed {
            self.tokens -= needed;
            return Ok(());
        }
        let missing = needed - self.tokens;
        Err(Duration::from_secs_f64((missing / per_second).max(0.001)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_refuses_then_says_when() {
        let mut bucket = Bucket::per_minute(2);
        assert!(bucket.take(1.0).is_ok());
        assert!(bucket.take(1.0).is_ok());
        let wait = bucket.take(1.0).unwrap_err();
        assert!(wait > Duration::from_secs(25) && wait <= Duration::from_secs(30), "{wait:?}");
    }

    #[tokio::test]
    async fn full_queue_is_refused() {
        let config = CapacityConfig { max_concurrent_requests: Some(1), max_queued_requests: Some(0), ..CapacityConfig::default() };
        let capacity = ProviderCapacity::new("p", &config);
        let held = capacity.acquire(1).await.unwrap();
        assert!(held.is_some());
        let refused = capacity.acquire(1).await.unwrap_err();
        assert!(matches!(refused, CapacityError::QueueFull { .. }), "{refused:?}");
    }
}
