//! The environment contract of DESIGN.md, read once at start-up.
use std::time::Duration;

use thiserror::Error;
use url::Url;

use crate::http::RetryPolicy;

pub const DEFAULT_BOX_API_URL: &str = "https://api.box.com/2.0";
pub const DEFAULT_BOX_TOKEN_URL: &str = "https://api.box.com/oauth2/token";
pub const DEFAULT_DROPBOX_API_URL: &str = "https://api.dropboxapi.com";
pub const DEFAULT_DROPBOX_AUTHORIZE_URL: &str = "https://www.dropbox.com/oauth2/authorize";
pub const DEFAULT_DROPBOX_TOKEN_URL: &str = "https://api.dropboxapi.com/oauth2/token";

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("environment variable {0} is required")]
    Missing(&'static str),
    #[error("environment variable {name} is not valid: {reason}")]
    Invalid { name: &'static str, reason: String },
}

/// Where the Box API lives. Overridable only so tests and the local stack can use the sandbox.
#[derive(Debug, Clone)]
pub struct BoxEndpoints {
    pub api_url: Url,
    pub token_url: Url,
}

/// Where Dropbox lives (RPC base, OAuth authorize and token endpoints).
#[derive(Debug, Clone)]
pub struct DropboxEndpoints {
    pub api_url: Url,
    pub authorize_url: Url,
    pub token_url: Url,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub table_name: String,
    pub box_endpoints: BoxEndpoints,
    pub dropbox_endpoints: DropboxEndpoints,
    /// The public URL of the oauth-callback function (set by the template), if known here.
    pub oauth_redirect_url: Option<Url>,
    pub retry: RetryPolicy,
    /// Per-request timeout for provider calls.
    pub http_timeout: Duration,
    /// Activity backfill window for a profile's first sync, unless the profile sets its own.
    pub default_backfill_days: u32,
    /// The reclaim queue (`RECLAIM_QUEUE_URL`): required to enqueue (auto mode, seatctl).
    pub reclaim_queue_url: Option<String>,
    /// The reclaim function starts a message only with this much time left
    /// (`RECLAIM_MIN_TIME_LEFT_SECS`): a Box transfer may take up to 10 minutes.
    pub reclaim_min_time_left: Duration,
    /// Notify mode: the verified SES identity notices and digests are sent from
    /// (`NOTICE_SENDER`); unset, no mail is sent and a profile in notify mode fails its
    /// Reclamation task with a clear error.
    pub notice_sender: Option<String>,
    /// Notify mode: the HTTP API's base URL (`KEEP_BASE_URL`); links are `<base>/keep?t=...`.
    pub keep_base_url: Option<Url>,
    /// Notify mode: where the admins' daily digest goes (`DIGEST_RECIPIENT`); unset, none.
    pub digest_recipient: Option<String>,
    /// The sync queues (`BOX_SYNC_QUEUE_URL`, `DROPBOX_SYNC_QUEUE_URL`): where the dispatcher
    /// posts each provider's sync jobs.
    pub box_sync_queue_url: Option<String>,
    /// A sync invocation's provider waits end this long before its Lambda deadline
    /// (`SYNC_DEADLINE_MARGIN_SECS`, default 60): time to record the run's end.
    pub sync_deadline_margin: Duration,
    /// A sync run unfinished this long after its start is abandoned (`SYNC_MAX_RUN_AGE_HOURS`,
    /// default 20: under a day, so the next nightly schedule starts afresh).
    pub sync_max_run_age: chrono::Duration,
    pub dropbox_sync_queue_url: Option<String>,
    /// Notify mode: the SES configuration set every email is sent with
    /// (`SES_CONFIGURATION_SET`); its event destination publishes bounces and complaints.
    pub ses_configuration_set: Option<String>,
    /// Notify mode: the queue those bounces and complaints arrive on (`MAIL_EVENTS_QUEUE_URL`),
    /// drained at the start of each notify pass; unset, only SES's synchronous refusals fail
    /// a notice.
    pub mail_events_queue_url: Option<String>,
}

impl Config {
    /// Reads the environment contract. Fails with a clear message on a missing or malformed value.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let table_name = get("TABLE_NAME")
            .filter(|v| !v.trim().is_empty())
            .ok_or(ConfigError::Missing("TABLE_NAME"))?;
        let url = |name: &'static str, default: &str| {
            parse_url(name, get(name).as_deref().unwrap_or(default))
        };
        let box_endpoints = BoxEndpoints {
            api_url: url("BOX_API_URL", DEFAULT_BOX_API_URL)?,
            token_url: url("BOX_TOKEN_URL", DEFAULT_BOX_TOKEN_URL)?,
        };
        let dropbox_endpoints = DropboxEndpoints {
            api_url: url("DROPBOX_API_URL", DEFAULT_DROPBOX_API_URL)?,
            authorize_url: url("DROPBOX_AUTHORIZE_URL", DEFAULT_DROPBOX_AUTHORIZE_URL)?,
            token_url: url("DROPBOX_TOKEN_URL", DEFAULT_DROPBOX_TOKEN_URL)?,
        };
        let oauth_redirect_url = match get("OAUTH_REDIRECT_URL").filter(|v| !v.trim().is_empty()) {
            Some(v) => Some(parse_url("OAUTH_REDIRECT_URL", &v)?),
            None => None,
        };
        let number = |name: &'static str, default: u64| -> Result<u64, ConfigError> {
            match get(name) {
                None => Ok(default),
                Some(v) => v.trim().parse().map_err(|_| ConfigError::Invalid {
                    name,
                    reason: format!("expected a whole number, got {v:?}"),
                }),
            }
        };
        let retry = RetryPolicy {
            max_retries: number("PROVIDER_MAX_RETRIES", 6)? as usize,
            min_delay: Duration::from_millis(number("PROVIDER_RETRY_BASE_MS", 500)?),
            max_delay: Duration::from_millis(number("PROVIDER_RETRY_MAX_MS", 30_000)?),
            max_retry_after: Duration::from_secs(number("PROVIDER_MAX_RETRY_AFTER_SECS", 120)?),
        };
        Ok(Self {
            table_name,
            box_endpoints,
            dropbox_endpoints,
            oauth_redirect_url,
            retry,
            http_timeout: Duration::from_secs(number("PROVIDER_HTTP_TIMEOUT_SECS", 60)?),
            default_backfill_days: number("BACKFILL_DAYS", 90)? as u32,
            reclaim_queue_url: get("RECLAIM_QUEUE_URL").filter(|v| !v.trim().is_empty()),
            reclaim_min_time_left: Duration::from_secs(number("RECLAIM_MIN_TIME_LEFT_SECS", 660)?),
            notice_sender: get("NOTICE_SENDER").filter(|v| !v.trim().is_empty()),
            keep_base_url: match get("KEEP_BASE_URL").filter(|v| !v.trim().is_empty()) {
                Some(v) => Some(parse_url("KEEP_BASE_URL", &v)?),
                None => None,
            },
            digest_recipient: get("DIGEST_RECIPIENT").filter(|v| !v.trim().is_empty()),
            sync_deadline_margin: Duration::from_secs(number("SYNC_DEADLINE_MARGIN_SECS", 60)?),
            sync_max_run_age: chrono::Duration::hours(
                number("SYNC_MAX_RUN_AGE_HOURS", 20)?.clamp(1, 24 * 14) as i64,
            ),
            box_sync_queue_url: get("BOX_SYNC_QUEUE_URL").filter(|v| !v.trim().is_empty()),
            dropbox_sync_queue_url: get("DROPBOX_SYNC_QUEUE_URL").filter(|v| !v.trim().is_empty()),
            ses_configuration_set: get("SES_CONFIGURATION_SET").filter(|v| !v.trim().is_empty()),
            mail_events_queue_url: get("MAIL_EVENTS_QUEUE_URL").filter(|v| !v.trim().is_empty()),
        })
    }
}

fn parse_url(name: &'static str, value: &str) -> Result<Url, ConfigError> {
    let url = Url::parse(value.trim()).map_err(|e| ConfigError::Invalid {
        name,
        reason: format!("{e}: {value:?}"),
    })?;
    match url.scheme() {
        "https" | "http" => Ok(url),
        other => Err(ConfigError::Invalid {
            name,
            reason: format!("unsupported scheme {other:?}"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn cfg(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|k| m.get(k).cloned())
    }

    #[test]
    fn defaults_are_the_production_endpoints() {
        let c = cfg(&[("TABLE_NAME", "t")]).unwrap();
        assert_eq!(c.box_endpoints.api_url.as_str(), "https://api.box.com/2.0");
        assert_eq!(
            c.box_endpoints.token_url.as_str(),
            "https://api.box.com/oauth2/token"
        );
        assert_eq!(c.default_backfill_days, 90);
    }

    #[test]
    fn table_name_is_required_and_urls_validated() {
        assert!(matches!(cfg(&[]), Err(ConfigError::Missing("TABLE_NAME"))));
        let err = cfg(&[("TABLE_NAME", "t"), ("BOX_API_URL", "ftp://x")]).unwrap_err();
        assert!(err.to_string().contains("BOX_API_URL"), "{err}");
        let err = cfg(&[("TABLE_NAME", "t"), ("KEEP_BASE_URL", "not a url")]).unwrap_err();
        assert!(err.to_string().contains("KEEP_BASE_URL"), "{err}");
        let c = cfg(&[
            ("TABLE_NAME", "t"),
            ("NOTICE_SENDER", "it@acme.com"),
            (
                "KEEP_BASE_URL",
                "https://x.execute-api.eu-west-1.amazonaws.com",
            ),
            ("DIGEST_RECIPIENT", "admins@acme.com"),
        ])
        .unwrap();
        assert_eq!(c.notice_sender.as_deref(), Some("it@acme.com"));
        assert_eq!(c.digest_recipient.as_deref(), Some("admins@acme.com"));
        assert!(c.keep_base_url.is_some());
        let err = cfg(&[("TABLE_NAME", "t"), ("BACKFILL_DAYS", "ninety")]).unwrap_err();
        assert!(err.to_string().contains("BACKFILL_DAYS"), "{err}");
    }
}
