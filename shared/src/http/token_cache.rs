use std::collections::HashMap;
use std::future::Future;
use std::time::{Duration, Instant};

use secrecy::SecretString;
use tokio::sync::Mutex;

/// An access token and when it stops being usable.
#[derive(Clone)]
pub struct AccessToken {
    pub secret: SecretString,
    pub expires_at: Instant,
}

impl std::fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessToken")
            .field("secret", &"[REDACTED]")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// Access tokens per credential set, kept across warm Lambda invocations and renewed a margin
/// before they expire. The lock is held while fetching so concurrent callers share one renewal.
/// A token that lives less than twice the margin is renewed at half its lifetime instead, so a
/// short-lived token is not fetched again before every call.
#[derive(Debug)]
pub struct TokenCache {
    margin: Duration,
    /// key → (token, the renewal margin for that token)
    tokens: Mutex<HashMap<String, (AccessToken, Duration)>>,
}

impl TokenCache {
    pub fn new(margin: Duration) -> Self {
        Self {
            margin,
            tokens: Mutex::new(HashMap::new()),
        }
    }

    /// The cached token for `key` if it is still good for `margin`, else a fresh one from `fetch`.
    /// Returns whether a fetch happened.
    pub async fn get_or_fetch<E, F, Fut>(
        &self,
        key: &str,
        fetch: F,
    ) -> Result<(AccessToken, bool), E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<AccessToken, E>>,
    {
        let mut tokens = self.tokens.lock().await;
        if let Some((t, margin)) = tokens.get(key) {
            if t.expires_at > Instant::now() + *margin {
                return Ok((t.clone(), false));
            }
        }
        let fresh = fetch().await?;
        let lifetime = fresh.expires_at.saturating_duration_since(Instant::now());
        let margin = self.margin.min(lifetime / 2);
        tokens.insert(key.to_owned(), (fresh.clone(), margin));
        Ok((fresh, true))
    }

    /// Forget `key`'s token (after a 401), so the next call fetches a new one.
    pub async fn invalidate(&self, key: &str) {
        self.tokens.lock().await.remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    fn token(s: &str, ttl: Duration) -> AccessToken {
        AccessToken {
            secret: SecretString::from(s.to_owned()),
            expires_at: Instant::now() + ttl,
        }
    }

    #[tokio::test]
    async fn reuses_until_margin_then_refetches() {
        let cache = TokenCache::new(Duration::from_secs(60));
        let (t, fetched) = cache
            .get_or_fetch("k", || async {
                Ok::<_, ()>(token("a", Duration::from_secs(3600)))
            })
            .await
            .unwrap();
        assert!(fetched);
        assert_eq!(t.secret.expose_secret(), "a");
        let (t, fetched) = cache
            .get_or_fetch("k", || async {
                Ok::<_, ()>(token("b", Duration::from_secs(3600)))
            })
            .await
            .unwrap();
        assert!(!fetched);
        assert_eq!(t.secret.expose_secret(), "a");

        // a token that lives less than the margin is used for half its lifetime, not
        // fetched again before every call
        cache.invalidate("k").await;
        cache
            .get_or_fetch("k", || async {
                Ok::<_, ()>(token("c", Duration::from_secs(30)))
            })
            .await
            .unwrap();
        let (t, fetched) = cache
            .get_or_fetch("k", || async {
                Ok::<_, ()>(token("x", Duration::from_secs(3600)))
            })
            .await
            .unwrap();
        assert!(!fetched);
        assert_eq!(t.secret.expose_secret(), "c");

        // a token past its renewal point is replaced
        cache.invalidate("k").await;
        cache
            .get_or_fetch("k", || async { Ok::<_, ()>(token("e", Duration::ZERO)) })
            .await
            .unwrap();
        let (t, fetched) = cache
            .get_or_fetch("k", || async {
                Ok::<_, ()>(token("d", Duration::from_secs(3600)))
            })
            .await
            .unwrap();
        assert!(fetched);
        assert_eq!(t.secret.expose_secret(), "d");
        assert!(format!("{t:?}").contains("REDACTED"));
    }
}
