use std::future::Future;

use super::{with_retry, AccessToken, ApiStats, ProviderError, RetryPolicy, TokenCache};

/// Calls a provider API with a cached access token: transient errors are retried under `policy`,
/// and a rejected token (401) is dropped from the cache and renewed once. Every provider client
/// goes through here, so retry and token handling exist in one place.
pub async fn call_authorized<T, G, GFut, A, AFut>(
    tokens: &TokenCache,
    key: &str,
    policy: &RetryPolicy,
    stats: &ApiStats,
    grant: G,
    attempt: A,
) -> Result<T, ProviderError>
where
    G: Fn() -> GFut,
    GFut: Future<Output = Result<AccessToken, ProviderError>>,
    A: Fn(AccessToken) -> AFut,
    AFut: Future<Output = Result<T, ProviderError>>,
{
    let mut renewed = false;
    loop {
        let (token, _) = fresh_token(tokens, key, policy, stats, &grant).await?;
        match with_retry(policy, stats, || attempt(token.clone())).await {
            Err(ProviderError::Unauthorized { provider }) if !renewed => {
                tracing::info!(provider, "access token rejected; renewing once");
                tokens.invalidate(key).await;
                renewed = true;
            }
            other => return other,
        }
    }
}

/// The cached token for `key`, or a new one from `grant` (itself retried on transient errors).
/// Returns whether a grant happened.
pub async fn fresh_token<G, GFut>(
    tokens: &TokenCache,
    key: &str,
    policy: &RetryPolicy,
    stats: &ApiStats,
    grant: &G,
) -> Result<(AccessToken, bool), ProviderError>
where
    G: Fn() -> GFut,
    GFut: Future<Output = Result<AccessToken, ProviderError>>,
{
    tokens
        .get_or_fetch(key, || with_retry(policy, stats, grant))
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::{ExposeSecret, SecretString};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::{Duration, Instant};

    #[tokio::test]
    async fn renews_once_on_401_then_gives_up() {
        let cache = TokenCache::new(Duration::from_secs(1));
        let grants = AtomicUsize::new(0);
        let grant = || async {
            let n = grants.fetch_add(1, Ordering::SeqCst);
            Ok(AccessToken {
                secret: SecretString::from(format!("t{n}")),
                expires_at: Instant::now() + Duration::from_secs(3600),
            })
        };
        let policy = RetryPolicy::default();
        let stats = ApiStats::default();
        // the first token is rejected, the renewed one works
        let r = call_authorized(&cache, "k", &policy, &stats, grant, |t| async move {
            if t.secret.expose_secret() == "t0" {
                Err(ProviderError::Unauthorized { provider: "test" })
            } else {
                Ok(t.secret.expose_secret().to_owned())
            }
        })
        .await;
        assert_eq!(r.unwrap(), "t1");
        // always rejected: one renewal, then the 401 is returned
        let r: Result<(), _> = call_authorized(&cache, "k", &policy, &stats, grant, |_| async {
            Err(ProviderError::Unauthorized { provider: "test" })
        })
        .await;
        assert!(matches!(r, Err(ProviderError::Unauthorized { .. })));
        assert_eq!(grants.load(Ordering::SeqCst), 3);
    }
}
