use std::future::Future;
use std::time::{Duration, Instant};

use backon::{ExponentialBuilder, Retryable};

use super::{ApiStats, ProviderError};

/// Bounded, jittered exponential backoff for transient provider errors; a 429's Retry-After (or a
/// 5xx's) replaces the computed delay, up to `max_retry_after` — a longer demand fails the call
/// rather than sleeping past the Lambda's deadline.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    pub max_retries: usize,
    pub min_delay: Duration,
    pub max_delay: Duration,
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 6,
            min_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(120),
        }
    }
}

/// Runs `attempt` until it succeeds, fails permanently, or the retry budget is spent. Each attempt
/// counts as an API call; each retry and each 429 are counted too. A wait that would end past
/// the stats' deadline ([`ApiStats::until`]) is not taken: the last error is returned at once.
pub async fn with_retry<T, F, Fut>(
    policy: &RetryPolicy,
    stats: &ApiStats,
    mut attempt: F,
) -> Result<T, ProviderError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ProviderError>>,
{
    let backoff = ExponentialBuilder::default()
        .with_min_delay(policy.min_delay)
        .with_max_delay(policy.max_delay)
        .with_max_times(policy.max_retries)
        .with_jitter();
    let max_retry_after = policy.max_retry_after;
    (|| {
        stats.call();
        let fut = attempt();
        async move {
            let r = fut.await;
            if let Err(ProviderError::RateLimited { .. }) = &r {
                stats.throttled();
            }
            r
        }
    })
    .retry(backoff)
    .when(move |e: &ProviderError| {
        e.is_transient() && e.retry_after().is_none_or(|d| d <= max_retry_after)
    })
    .adjust(|e: &ProviderError, computed| {
        let wait = match (e.retry_after(), computed) {
            // backoff exhausted: stop even if the provider named a wait
            (_, None) => None,
            (Some(wait), Some(_)) => Some(wait),
            (None, computed) => computed,
        };
        wait.filter(|w| {
            let fits = stats.deadline().is_none_or(|d| Instant::now() + *w < d);
            if !fits {
                stats.give_up_wait();
                tracing::warn!(error = %e, wait_ms = w.as_millis() as u64, "not retrying: the wait would end past the invocation's deadline");
            }
            fits
        })
    })
    .notify(|e: &ProviderError, wait: Duration| {
        stats.retry();
        tracing::warn!(error = %e, wait_ms = wait.as_millis() as u64, "retrying provider call");
    })
    .await
}

/// `Retry-After` as delta-seconds (what Box and Dropbox send). An HTTP-date is not used by either.
pub fn retry_after_from_headers(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(Duration::from_secs_f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::ErrorCode;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn fast() -> RetryPolicy {
        RetryPolicy {
            max_retries: 3,
            min_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(2),
            max_retry_after: Duration::from_secs(1),
        }
    }

    fn server_error() -> ProviderError {
        ProviderError::Server {
            provider: "test",
            status: 500,
            code: ErrorCode::Other("internal_server_error".into()),
            request_id: None,
            retry_after: None,
        }
    }

    #[tokio::test]
    async fn retries_transient_errors_then_succeeds_and_counts() {
        let stats = ApiStats::default();
        let n = AtomicUsize::new(0);
        let r = with_retry(&fast(), &stats, || async {
            match n.fetch_add(1, Ordering::SeqCst) {
                0 => Err(server_error()),
                1 => Err(ProviderError::RateLimited {
                    provider: "test",
                    retry_after: Some(Duration::from_millis(5)),
                    request_id: None,
                }),
                _ => Ok(42),
            }
        })
        .await;
        assert_eq!(r.unwrap(), 42);
        let s = stats.snapshot();
        assert_eq!((s.api_calls, s.retries, s.throttled), (3, 2, 1));
    }

    #[tokio::test]
    async fn gives_up_after_budget_and_never_retries_permanent_errors() {
        let stats = ApiStats::default();
        let r: Result<(), _> = with_retry(&fast(), &stats, || async { Err(server_error()) }).await;
        assert!(matches!(r, Err(ProviderError::Server { status: 500, .. })));
        assert_eq!(stats.snapshot().api_calls, 4, "1 try + 3 retries");

        let stats = ApiStats::default();
        let r: Result<(), _> = with_retry(&fast(), &stats, || async {
            Err(ProviderError::Api {
                provider: "test",
                status: 404,
                code: ErrorCode::NotFound,
                message: "gone".into(),
                request_id: None,
            })
        })
        .await;
        assert!(r.is_err());
        assert_eq!(stats.snapshot().api_calls, 1);
    }

    #[tokio::test]
    async fn a_retry_after_beyond_the_cap_fails_at_once() {
        let stats = ApiStats::default();
        let r: Result<(), _> = with_retry(&fast(), &stats, || async {
            Err(ProviderError::RateLimited {
                provider: "test",
                retry_after: Some(Duration::from_secs(3600)),
                request_id: None,
            })
        })
        .await;
        assert!(matches!(r, Err(ProviderError::RateLimited { .. })));
        assert_eq!(stats.snapshot().api_calls, 1);
    }

    #[tokio::test]
    async fn a_wait_past_the_deadline_is_not_taken() {
        // Retry-After 1 s (within the cap) but only 100 ms left: one call, no sleep
        let stats = ApiStats::until(Some(Instant::now() + Duration::from_millis(100)));
        let r: Result<(), _> = with_retry(&fast(), &stats, || async {
            Err(ProviderError::RateLimited {
                provider: "test",
                retry_after: Some(Duration::from_secs(1)),
                request_id: None,
            })
        })
        .await;
        assert!(matches!(r, Err(ProviderError::RateLimited { .. })));
        let s = stats.snapshot();
        assert_eq!((s.api_calls, s.retries, s.throttled), (1, 0, 1));
        // a short backoff still fits
        let stats = ApiStats::until(Some(Instant::now() + Duration::from_secs(60)));
        let n = AtomicUsize::new(0);
        let r = with_retry(&fast(), &stats, || async {
            match n.fetch_add(1, Ordering::SeqCst) {
                0 => Err(server_error()),
                _ => Ok(7),
            }
        })
        .await;
        assert_eq!(r.unwrap(), 7);
    }

    #[test]
    fn parses_retry_after_seconds() {
        let mut h = reqwest::header::HeaderMap::new();
        h.insert("retry-after", "7".parse().unwrap());
        assert_eq!(retry_after_from_headers(&h), Some(Duration::from_secs(7)));
        h.insert("retry-after", "soon".parse().unwrap());
        assert_eq!(retry_after_from_headers(&h), None);
    }
}
