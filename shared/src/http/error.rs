use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};
use thiserror::Error;

/// A provider's error code, parsed once from its error envelope (Box `ClientError.code`, Dropbox
/// `error[".tag"]`) by the provider module that read it, so nothing downstream branches on a
/// string. Only the codes the product acts on have a variant; any other code is kept verbatim in
/// [`ErrorCode::Other`]. Displays as the provider's own code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorCode {
    /// Box `not_found`: the user (or item) does not exist.
    NotFound,
    /// Dropbox `user_not_in_team`: the member is not (any longer) in the team.
    UserNotInTeam,
    /// Dropbox `user_not_found`: no member with this id on the team.
    UserNotFound,
    /// Dropbox `transfer_in_progress`: a removal with transfer of this member is still running.
    TransferInProgress,
    /// Dropbox `invalid_async_job_id`: the job is unknown (expired).
    InvalidAsyncJobId,
    /// Dropbox team_log `reset`: the cursor is stale; restart `get_events` from `at` (the time
    /// Dropbox names, when it names one).
    Reset { at: Option<DateTime<Utc>> },
    /// Dropbox team_log `bad_cursor`.
    BadCursor,
    /// Dropbox `missing_scope`: the app lacks `required_scope`.
    MissingScope { required_scope: Option<String> },
    /// Dropbox `expired_access_token`.
    ExpiredAccessToken,
    /// Dropbox `invalid_access_token`.
    InvalidAccessToken,
    /// Dropbox 400: a plain-text "bad input" answer, no envelope.
    BadInput,
    /// No code in the body (an HTML error page, an empty body): the HTTP status stands in.
    NoCode(u16),
    /// Any other code, as the provider sent it.
    Other(String),
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            Self::NotFound => "not_found",
            Self::UserNotInTeam => "user_not_in_team",
            Self::UserNotFound => "user_not_found",
            Self::TransferInProgress => "transfer_in_progress",
            Self::InvalidAsyncJobId => "invalid_async_job_id",
            Self::Reset { .. } => "reset",
            Self::BadCursor => "bad_cursor",
            Self::MissingScope {
                required_scope: Some(scope),
            } => return write!(f, "missing_scope ({scope})"),
            Self::MissingScope { .. } => "missing_scope",
            Self::ExpiredAccessToken => "expired_access_token",
            Self::InvalidAccessToken => "invalid_access_token",
            Self::BadInput => "bad_input",
            Self::NoCode(status) => return write!(f, "http_{status}"),
            Self::Other(code) => code,
        };
        f.write_str(s)
    }
}

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
        code: ErrorCode,
        request_id: Option<String>,
        retry_after: Option<Duration>,
    },
    /// Timeout, connection reset, DNS: nothing came back.
    #[error("{provider} network error: {message}")]
    Network {
        provider: &'static str,
        message: String,
    },
    /// A complete response of the wrong shape (valid JSON, missing or mistyped fields, or not
    /// JSON at all): asking again would get the same, so it is permanent.
    #[error("{provider} returned a malformed response from {endpoint}: {message}")]
    Malformed {
        provider: &'static str,
        endpoint: String,
        message: String,
    },
    /// A response cut short (the body ends mid-document): a cut connection, so transient.
    #[error("{provider} returned a truncated response from {endpoint}: {message}")]
    Truncated {
        provider: &'static str,
        endpoint: String,
        message: String,
    },
    /// Input refused before any call (an id that cannot be the provider's): permanent.
    #[error("{provider}: {message}; no call was made")]
    InvalidInput {
        provider: &'static str,
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
        code: ErrorCode,
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
    /// Worth retrying with backoff: 429, 5xx, network trouble and truncated bodies (a cut
    /// connection). A body of the wrong shape is not: the provider would send it again.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::RateLimited { .. }
                | Self::Server { .. }
                | Self::Network { .. }
                | Self::Truncated { .. }
        )
    }

    /// A success body that did not deserialize: [`ProviderError::Truncated`] when it ended
    /// early (serde_json's EOF category: a cut read), else [`ProviderError::Malformed`].
    pub fn from_body(provider: &'static str, endpoint: &str, e: &serde_json::Error) -> Self {
        let (endpoint, message) = (endpoint.to_owned(), e.to_string());
        if e.is_eof() {
            Self::Truncated {
                provider,
                endpoint,
                message,
            }
        } else {
            Self::Malformed {
                provider,
                endpoint,
                message,
            }
        }
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

    /// The provider's error code of an error envelope (4xx or 5xx), to match on.
    pub fn error_code(&self) -> Option<&ErrorCode> {
        match self {
            Self::Server { code, .. } | Self::Api { code, .. } => Some(code),
            _ => None,
        }
    }

    /// For a non-idempotent write: an error after which the write may have happened becomes
    /// [`ProviderError::Indeterminate`] (so it is not retried); 429 and 401 mean it did not.
    pub fn for_write(self, endpoint: &str) -> Self {
        match self {
            // A write answered with a body we cannot read did reach the provider: its effect is
            // as unknown as after a 5xx.
            Self::Server { provider, .. }
            | Self::Network { provider, .. }
            | Self::Malformed { provider, .. }
            | Self::Truncated { provider, .. } => Self::Indeterminate {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cut_body_is_transient_and_a_wrong_shape_is_not() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Page {
            entries: Vec<u32>,
        }
        let cut = serde_json::from_slice::<Page>(br#"{"entries":[1,2"#).unwrap_err();
        let e = ProviderError::from_body("box", "/users", &cut);
        assert!(matches!(e, ProviderError::Truncated { .. }), "{e:?}");
        assert!(e.is_transient());

        for wrong in [&br#"{"entries":"nope"}"#[..], br#"{"other":1}"#, b"<html>"] {
            let err = serde_json::from_slice::<Page>(wrong).unwrap_err();
            let e = ProviderError::from_body("box", "/users", &err);
            assert!(matches!(e, ProviderError::Malformed { .. }), "{e:?}");
            assert!(!e.is_transient());
        }
    }

    #[test]
    fn unreadable_answers_to_writes_are_indeterminate() {
        let cut = serde_json::from_slice::<serde_json::Value>(b"{").unwrap_err();
        let e = ProviderError::from_body("box", "/x", &cut).for_write("PUT /x");
        assert!(matches!(e, ProviderError::Indeterminate { .. }));
        assert!(!e.is_transient());
        let refused = ProviderError::Api {
            provider: "box",
            status: 403,
            code: ErrorCode::Other("forbidden".into()),
            message: "no".into(),
            request_id: None,
        };
        assert!(matches!(
            refused.for_write("PUT /x"),
            ProviderError::Api { .. }
        ));
    }

    #[test]
    fn codes_display_as_the_provider_wrote_them() {
        assert_eq!(ErrorCode::NotFound.to_string(), "not_found");
        assert_eq!(ErrorCode::NoCode(502).to_string(), "http_502");
        assert_eq!(
            ErrorCode::Other("forbidden".into()).to_string(),
            "forbidden"
        );
        assert_eq!(
            ErrorCode::MissingScope {
                required_scope: Some("members.read".into())
            }
            .to_string(),
            "missing_scope (members.read)"
        );
        assert_eq!(ErrorCode::Reset { at: None }.to_string(), "reset");
    }
}
