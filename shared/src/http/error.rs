use std::time::Duration;

use thiserror::Error;

/// What went wrong talking to a provider. Carries the provider's own error code and request id
/// (for support tickets), never a token or secret.
#[derive(Debug, Error, Clone)]
pub enum ProviderError {
    /// 429: the provider asked us to slow down.
    #[error("{provider} rate limit (HTTP 429){}", fmt_retry(.retry_after))]
    RateLimited {
        provider: &'static str,
        retry_after: Option<Duration>,
        request_id: Option<String>,
    },
    /// 5xx from the provider.
    #[error("{provider} server error HTTP {status} {code}{}", fmt_request_id(.request_id))]
    Server {
        provider: &'static str,
        status: u16,
        code: String,
        request_id: Option<String>,
        retry_after: Option<Duration>,
    },
    /// Timeout, connection reset, DNS: nothing came back.
    #[error("{provider} network error: {message}")]
    Network {
        provider: &'static str,
        message: String,
    },
    /// The response did not parse (truncated page, wrong shape).
    #[error("{provider} returned a malformed response from {endpoint}: {message}")]
    Malformed {
        provider: &'static str,
        endpoint: String,
        message: String,
    },
    /// 401: the access token is not (or no longer) valid.
    #[error("{provider} rejected the access token (HTTP 401)")]
    Unauthorized { provider: &'static str },
    /// The token endpoint refused our credentials.
    #[error("{provider} authentication failed: {code}: {description}")]
    Auth {
        provider: &'static str,
        code: String,
        description: String,
    },
    /// A non-idempotent write whose outcome is unknown (5xx, cut connection): it may have
    /// happened. Never retried blindly; the caller re-reads state before trying again.
    #[error(
        "{provider} {endpoint}: outcome unknown ({cause}); state must be re-read before retrying"
    )]
    Indeterminate {
        provider: &'static str,
        endpoint: String,
        cause: String,
    },
    /// Any other error envelope (4xx): permanent for this request.
    #[error("{provider} API error HTTP {status} {code}: {message}{}", fmt_request_id(.request_id))]
    Api {
        provider: &'static str,
        status: u16,
        code: String,
        message: String,
        request_id: Option<String>,
    },
}

fn fmt_retry(d: &Option<Duration>) -> String {
    d.map(|d| format!(", retry after {}s", d.as_secs()))
        .unwrap_or_default()
}

fn fmt_request_id(r: &Option<String>) -> String {
    r.as_ref()
        .map(|r| format!(" (request_id {r})"))
        .unwrap_or_default()
}

impl ProviderError {
    /// Worth retrying with backoff: 429, 5xx, network trouble and malformed bodies (a truncated
    /// page is usually a cut connection).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::RateLimited { .. }
                | Self::Server { .. }
                | Self::Network { .. }
                | Self::Malformed { .. }
        )
    }

    /// The wait the provider asked for, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::RateLimited { retry_after, .. } | Self::Server { retry_after, .. } => {
                *retry_after
            }
            _ => None,
        }
    }

    pub fn request_id(&self) -> Option<&str> {
        match self {
            Self::RateLimited { request_id, .. }
            | Self::Server { request_id, .. }
            | Self::Api { request_id, .. } => request_id.as_deref(),
            _ => None,
        }
    }

    /// The provider's error code (`not_found`, `rate_limit_exceeded`, `invalid_client`, …).
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Server { code, .. } | Self::Api { code, .. } | Self::Auth { code, .. } => {
                Some(code)
            }
            Self::RateLimited { .. } => Some("rate_limit_exceeded"),
            _ => None,
        }
    }

    /// For a non-idempotent write: an error after which the write may have happened becomes
    /// [`ProviderError::Indeterminate`] (so it is not retried); 429 and 401 mean it did not.
    pub fn for_write(self, endpoint: &str) -> Self {
        match self {
            Self::Server { provider, .. }
            | Self::Network { provider, .. }
            | Self::Malformed { provider, .. } => Self::Indeterminate {
                provider,
                endpoint: endpoint.to_owned(),
                cause: self.to_string(),
            },
            other => other,
        }
    }

    pub fn from_reqwest(provider: &'static str, e: &reqwest::Error) -> Self {
        // reqwest's Display includes the URL; our URLs never carry secrets (tokens go in headers).
        Self::Network {
            provider,
            message: if e.is_timeout() {
                format!("timed out: {e}")
            } else {
                e.to_string()
            },
        }
    }
}
