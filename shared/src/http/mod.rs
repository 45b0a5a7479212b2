//! Provider HTTP machinery shared by every provider client: the one place for retry and backoff,
//! Retry-After, call accounting, paging and access-token caching.
mod authorized;
mod error;
mod oauth;
mod pagination;
mod retry;

mod token_cache;

pub use crate::domain::stats::{ApiStats, ApiStatsSnapshot};
pub use authorized::{call_authorized, fresh_token};
pub use error::{ErrorCode, ProviderError};
pub use oauth::{send_oauth, token_error, AsOAuthError};
pub use pagination::{pages, resumable_pages, PageStep};
pub use retry::{retry_after_from_headers, with_retry, RetryPolicy};
pub use token_cache::{AccessToken, TokenCache};

use std::time::Duration;

/// The HTTP client every provider uses: rustls, no redirects (a provider API never redirects, and
/// following one could send a bearer token elsewhere), bounded timeouts.
pub fn build_http_client(timeout: Duration) -> Result<reqwest::Client, ProviderError> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout)
        .connect_timeout(Duration::from_secs(10))
        .user_agent(concat!("seatkeeper/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| ProviderError::Network {
            provider: "http",
            message: format!("cannot build HTTP client: {e}"),
        })
}
