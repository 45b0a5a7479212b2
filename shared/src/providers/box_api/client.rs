use std::time::{Duration, Instant};

use chrono::{DateTime, SecondsFormat, Utc};
use futures::Stream;
use oauth2::basic::BasicClient;
use oauth2::{AuthType, ClientId, ClientSecret, TokenResponse, TokenUrl};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use url::Url;

use super::model::{BoxEvent, BoxUser, ClientError, EventsPage, TransferredFolder, UsersPage};
use crate::config::BoxEndpoints;
use crate::domain::BoxUserId;
use crate::http::{
    call_authorized, fresh_token, resumable_pages, retry_after_from_headers, send_oauth,
    token_error, AccessToken, ApiStats, ErrorCode, PageStep, ProviderError, RetryPolicy,
    TokenCache,
};
use crate::secrets::BoxCredentials;

const PROVIDER: &str = "box";

/// With `fields`, Box returns only what is listed, so everything a seat needs is named here.
pub const USER_FIELDS: &str = "id,type,name,login,status,role,created_at,modified_at,space_used,is_platform_access_only,enterprise,tracking_codes,external_app_user_id";

/// Event types that are a user's own login (ADMIN_LOGIN is an admin acting as the user, and
/// FAILED_LOGIN is not a login: neither counts as activity).
pub const LOGIN_EVENT_TYPES: &[&str] = &["LOGIN", "ADD_LOGIN_ACTIVITY_DEVICE"];

/// Event types of a user's own work on content: the set Box's own inactive-user report counts
/// (besides `LOGIN`). Admin actions (e.g. `ADMIN_LOGIN`) and system events are not among them.
pub const CONTENT_EVENT_TYPES: &[&str] = &[
    "UPLOAD", "DOWNLOAD", "PREVIEW", "EDIT", "COPY", "MOVE", "DELETE", "UNDELETE", "LOCK", "UNLOCK",
];

/// Logins and content events: what `activity: any` reads.
pub const ACTIVITY_EVENT_TYPES: &[&str] = &[
    "LOGIN",
    "ADD_LOGIN_ACTIVITY_DEVICE",
    "UPLOAD",
    "DOWNLOAD",
    "PREVIEW",
    "EDIT",
    "COPY",
    "MOVE",
    "DELETE",
    "UNDELETE",
    "LOCK",
    "UNLOCK",
];

/// Box's maximum page sizes: users 1000, admin_logs events 500.
const USERS_PAGE: u32 = 1000;
const EVENTS_PAGE: u32 = 500;

/// Renew tokens this long before Box says they expire (they live 60 minutes).
const TOKEN_MARGIN: Duration = Duration::from_secs(120);

/// Box runs a folder transfer synchronously for up to 10 minutes before answering 200 and
/// carrying on in the background; the transfer call waits that long (the Lambda allows 15).
const TRANSFER_TIMEOUT: Duration = Duration::from_secs(11 * 60);

/// The `admin_logs` time window of an activity read.
#[derive(Debug, Clone, Copy)]
pub struct EventsWindow {
    pub created_after: DateTime<Utc>,
    pub created_before: DateTime<Utc>,
}

/// Box REST client. Built once per Lambda container; caches access tokens across invocations.
#[derive(Debug)]
pub struct BoxClient {
    http: reqwest::Client,
    api_url: String,
    token_url: TokenUrl,
    retry: RetryPolicy,
    tokens: TokenCache,
}

impl BoxClient {
    pub fn new(endpoints: &BoxEndpoints, http: reqwest::Client, retry: RetryPolicy) -> Self {
        Self {
            http,
            api_url: endpoints.api_url.as_str().trim_end_matches('/').to_owned(),
            token_url: TokenUrl::from_url(endpoints.token_url.clone()),
            retry,
            tokens: TokenCache::new(TOKEN_MARGIN),
        }
    }

    /// A valid access token for these credentials (cached, or a new Client Credentials Grant).
    /// Returns whether a new token was requested.
    pub async fn authenticate(
        &self,
        creds: &BoxCredentials,
        stats: &ApiStats,
    ) -> Result<bool, ProviderError> {
        self.token(creds, stats).await.map(|(_, fetched)| fetched)
    }

    /// Every managed user, one page (≤1000) at a time: `GET /users?usemarker=true`, from
    /// `marker` on (a page's `next` of an earlier read), each page with the next one's marker.
    pub fn users<'a>(
        &'a self,
        creds: &'a BoxCredentials,
        marker: Option<String>,
        stats: &'a ApiStats,
    ) -> impl Stream<Item = Result<PageStep<Vec<BoxUser>, String>, ProviderError>> + 'a {
        resumable_pages(marker, move |marker: Option<String>| async move {
            let mut url = self.url("/users")?;
            url.query_pairs_mut()
                .append_pair("usemarker", "true")
                .append_pair("limit", &USERS_PAGE.to_string())
                .append_pair("user_type", "managed")
                .append_pair("fields", USER_FIELDS);
            if let Some(m) = &marker {
                url.query_pairs_mut().append_pair("marker", m);
            }
            let page: UsersPage = self.get_json(creds, url, stats).await?;
            stats.page();
            let next = page.next_marker.filter(|m| !m.is_empty());
            Ok(PageStep {
                page: page.entries,
                next,
            })
        })
    }

    /// Enterprise events of the given types in a window, oldest first:
    /// `GET /events?stream_type=admin_logs`, paged by `stream_position` until an empty chunk,
    /// from `position` on (a page's `next` of an earlier read of the same window and types).
    pub fn admin_events<'a>(
        &'a self,
        creds: &'a BoxCredentials,
        event_types: &'a [&'a str],
        window: EventsWindow,
        position: Option<String>,
        stats: &'a ApiStats,
    ) -> impl Stream<Item = Result<PageStep<Vec<BoxEvent>, String>, ProviderError>> + 'a {
        resumable_pages(position, move |position: Option<String>| async move {
            let mut url = self.url("/events")?;
            url.query_pairs_mut()
                .append_pair("stream_type", "admin_logs")
                .append_pair("event_type", &event_types.join(","))
                .append_pair("created_after", &rfc3339(window.created_after))
                .append_pair("created_before", &rfc3339(window.created_before))
                .append_pair("limit", &EVENTS_PAGE.to_string());
            if let Some(p) = &position {
                url.query_pairs_mut().append_pair("stream_position", p);
            }
            let page: EventsPage = self.get_json(creds, url, stats).await?;
            stats.page();
            // Box: fewer than `limit` does not mean the end; an empty chunk does.
            let empty = page.entries.is_empty() || page.chunk_size == Some(0);
            let next = match (&page.next_stream_position, empty) {
                (_, true) => None,
                (Some(serde_json::Value::String(s)), _) if !s.is_empty() => Some(s.clone()),
                (Some(serde_json::Value::Number(n)), _) => Some(n.to_string()),
                _ => None,
            };
            if next.is_some() && next == position {
                return Err(ProviderError::Malformed {
                    provider: PROVIDER,
                    endpoint: "/events".into(),
                    message: "stream position did not advance".into(),
                });
            }
            Ok(PageStep {
                page: page.entries,
                next,
            })
        })
    }

    /// One user, re-read just before acting (`GET /users/{id}`); None if Box no longer has it.
    pub async fn user(
        &self,
        creds: &BoxCredentials,
        user_id: &BoxUserId,
        stats: &ApiStats,
    ) -> Result<Option<BoxUser>, ProviderError> {
        let mut url = self.user_url(user_id, "")?;
        url.query_pairs_mut().append_pair("fields", USER_FIELDS);
        match self.get_json(creds, url, stats).await {
            Ok(u) => Ok(Some(u)),
            Err(e) if e.error_code() == Some(&ErrorCode::NotFound) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Moves everything `from` owns into a new folder owned by `to`
    /// (`PUT /users/{from}/folders/0`). Not idempotent, so only a 429 or a 401 is retried here:
    /// after a 5xx or a cut connection the transfer may have happened
    /// ([`ProviderError::Indeterminate`]). Returns the new folder and Box's request id.
    pub async fn transfer_owned_content(
        &self,
        creds: &BoxCredentials,
        from: &BoxUserId,
        to: &BoxUserId,
        stats: &ApiStats,
    ) -> Result<(TransferredFolder, Option<String>), ProviderError> {
        let mut url = self.user_url(from, "/folders/0")?;
        url.query_pairs_mut()
            .append_pair("notify", "false")
            .append_pair("fields", "id,type,name,owned_by");
        let body = serde_json::json!({ "owned_by": { "id": to.as_str() } });
        let (url, body) = (&url, &body);
        call_authorized(
            &self.tokens,
            &Self::cache_key(creds),
            &self.retry,
            stats,
            || self.client_credentials_grant(creds),
            |token| async move {
                let (bytes, request_id) = self
                    .send_once(
                        reqwest::Method::PUT,
                        url,
                        Some(body),
                        &token,
                        Some(TRANSFER_TIMEOUT),
                    )
                    .await
                    .map_err(|e| e.for_write("PUT /users/{id}/folders/0"))?;
                let folder = serde_json::from_slice(&bytes).map_err(|e| {
                    ProviderError::from_body(PROVIDER, url.path(), &e)
                        .for_write("PUT /users/{id}/folders/0")
                })?;
                Ok((folder, request_id))
            },
        )
        .await
    }

    /// Deletes a user without `force` (Box refuses while the user still owns content, so
    /// nothing is ever destroyed here). A repeat is harmless: 404 means already gone (false).
    pub async fn delete_user(
        &self,
        creds: &BoxCredentials,
        user_id: &BoxUserId,
        stats: &ApiStats,
    ) -> Result<(bool, Option<String>), ProviderError> {
        let mut url = self.user_url(user_id, "")?;
        url.query_pairs_mut()
            .append_pair("notify", "false")
            .append_pair("force", "false");
        let url = &url;
        let r = call_authorized(
            &self.tokens,
            &Self::cache_key(creds),
            &self.retry,
            stats,
            || self.client_credentials_grant(creds),
            |token| async move {
                self.send_once(reqwest::Method::DELETE, url, None, &token, None)
                    .await
            },
        )
        .await;
        match r {
            Ok((_, request_id)) => Ok((true, request_id)),
            Err(e) if e.error_code() == Some(&ErrorCode::NotFound) => {
                Ok((false, e.request_id().map(str::to_owned)))
            }
            Err(e) => Err(e),
        }
    }

    /// Sets a user's `status` (`PUT /users/{id}` with `{"status": "inactive"|"active"}`): the
    /// undo window's suspension and its undo. Setting a status is idempotent, so the usual
    /// retries apply. Returns the updated user (`User--Full`) and Box's request id; a deleted
    /// user is a 404 ([`ErrorCode::NotFound`]).
    pub async fn set_status(
        &self,
        creds: &BoxCredentials,
        user_id: &BoxUserId,
        status: &str,
        stats: &ApiStats,
    ) -> Result<(BoxUser, Option<String>), ProviderError> {
        let mut url = self.user_url(user_id, "")?;
        url.query_pairs_mut().append_pair("fields", USER_FIELDS);
        let body = serde_json::json!({ "status": status });
        let (url, body) = (&url, &body);
        call_authorized(
            &self.tokens,
            &Self::cache_key(creds),
            &self.retry,
            stats,
            || self.client_credentials_grant(creds),
            |token| async move {
                let (bytes, request_id) = self
                    .send_once(reqwest::Method::PUT, url, Some(body), &token, None)
                    .await?;
                let user = serde_json::from_slice(&bytes)
                    .map_err(|e| ProviderError::from_body(PROVIDER, url.path(), &e))?;
                Ok((user, request_id))
            },
        )
        .await
    }

    /// One request; the body bytes and Box's request id on success, a typed error otherwise.
    async fn send_once(
        &self,
        method: reqwest::Method,
        url: &Url,
        body: Option<&serde_json::Value>,
        token: &AccessToken,
        timeout: Option<Duration>,
    ) -> Result<(Vec<u8>, Option<String>), ProviderError> {
        let mut req = self
            .http
            .request(method, url.clone())
            .bearer_auth(token.secret.expose_secret());
        if let Some(t) = timeout {
            req = req.timeout(t);
        }
        if let Some(b) = body {
            req = req
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(b.to_string());
        }
        let resp = req
            .send()
            .await
            .map_err(|e| ProviderError::from_reqwest(PROVIDER, &e))?;
        let status = resp.status();
        let retry_after = retry_after_from_headers(resp.headers());
        let request_id = resp
            .headers()
            .get("box-request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| ProviderError::from_reqwest(PROVIDER, &e))?;
        if status.is_success() {
            return Ok((bytes.to_vec(), request_id));
        }
        Err(error_from_response(status.as_u16(), retry_after, &bytes))
    }

    /// `/users/{id}{rest}`: a [`BoxUserId`] is digits, so it is always exactly one path segment.
    fn user_url(&self, user_id: &BoxUserId, rest: &str) -> Result<Url, ProviderError> {
        self.url(&format!("/users/{}{rest}", user_id.as_str()))
    }

    fn url(&self, path: &str) -> Result<Url, ProviderError> {
        Url::parse(&format!("{}{path}", self.api_url)).map_err(|e| ProviderError::Malformed {
            provider: PROVIDER,
            endpoint: path.to_owned(),
            message: format!("bad URL: {e}"),
        })
    }

    /// Tokens are cached per full credential set: a profile whose secret is wrong must never
    /// ride on a token another profile of the same app obtained. The key is a digest, so the
    /// cache holds no secret in the clear.
    fn cache_key(creds: &BoxCredentials) -> String {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        for part in [
            creds.client_id.as_str(),
            creds.client_secret.expose_secret(),
            creds.enterprise_id.as_str(),
        ] {
            h.update(part.as_bytes());
            h.update([0]);
        }
        hex::encode(h.finalize())
    }

    async fn token(
        &self,
        creds: &BoxCredentials,
        stats: &ApiStats,
    ) -> Result<(AccessToken, bool), ProviderError> {
        let grant = || self.client_credentials_grant(creds);
        fresh_token(
            &self.tokens,
            &Self::cache_key(creds),
            &self.retry,
            stats,
            &grant,
        )
        .await
    }

    /// OAuth 2.0 Client Credentials Grant as the enterprise's service account.
    async fn client_credentials_grant(
        &self,
        creds: &BoxCredentials,
    ) -> Result<AccessToken, ProviderError> {
        let oauth = BasicClient::new(ClientId::new(creds.client_id.clone()))
            .set_client_secret(ClientSecret::new(
                creds.client_secret.expose_secret().to_owned(),
            ))
            .set_auth_type(AuthType::RequestBody)
            .set_token_uri(self.token_url.clone());
        let http = self.http.clone();
        let send = move |req: oauth2::HttpRequest| {
            let http = http.clone();
            async move { send_oauth(PROVIDER, &http, req).await }
        };
        let started = Instant::now();
        let response = oauth
            .exchange_client_credentials()
            .add_extra_param("box_subject_type", "enterprise")
            .add_extra_param("box_subject_id", creds.enterprise_id.clone())
            .request_async(&send)
            .await
            .map_err(|e| token_error(PROVIDER, e))?;
        let ttl = response.expires_in().unwrap_or(Duration::from_secs(3600));
        Ok(AccessToken {
            secret: SecretString::from(response.access_token().secret().to_owned()),
            expires_at: started + ttl,
        })
    }

    /// GET with the cached token; transient errors are retried, and a 401 renews the token once.
    async fn get_json<T: DeserializeOwned>(
        &self,
        creds: &BoxCredentials,
        url: Url,
        stats: &ApiStats,
    ) -> Result<T, ProviderError> {
        let url = &url;
        call_authorized(
            &self.tokens,
            &Self::cache_key(creds),
            &self.retry,
            stats,
            || self.client_credentials_grant(creds),
            |token| async move { self.get_once(url, &token).await },
        )
        .await
    }

    async fn get_once<T: DeserializeOwned>(
        &self,
        url: &Url,
        token: &AccessToken,
    ) -> Result<T, ProviderError> {
        let resp = self
            .http
            .get(url.clone())
            .bearer_auth(token.secret.expose_secret())
            .send()
            .await
            .map_err(|e| ProviderError::from_reqwest(PROVIDER, &e))?;
        let status = resp.status();
        let retry_after = retry_after_from_headers(resp.headers());
        let body = resp
            .bytes()
            .await
            .map_err(|e| ProviderError::from_reqwest(PROVIDER, &e))?;
        if status.is_success() {
            return serde_json::from_slice(&body)
                .map_err(|e| ProviderError::from_body(PROVIDER, url.path(), &e));
        }
        Err(error_from_response(status.as_u16(), retry_after, &body))
    }
}

/// Maps a Box error response (ClientError envelope, or none) to a typed error.
fn error_from_response(status: u16, retry_after: Option<Duration>, body: &[u8]) -> ProviderError {
    let env: ClientError = serde_json::from_slice(body).unwrap_or_default();
    let code = env.error_code(status);
    match status {
        401 => ProviderError::Unauthorized { provider: PROVIDER },
        429 => ProviderError::RateLimited {
            provider: PROVIDER,
            retry_after,
            request_id: env.request_id,
        },
        500..=599 => ProviderError::Server {
            provider: PROVIDER,
            status,
            code,
            request_id: env.request_id,
            retry_after,
        },
        _ => ProviderError::Api {
            provider: PROVIDER,
            status,
            code,
            message: env.message.unwrap_or_default(),
            request_id: env.request_id,
        },
    }
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn box_error_envelopes_become_typed_errors() {
        let body = br#"{"type":"error","status":404,"code":"not_found","message":"Not Found","request_id":"abc123"}"#;
        let e = error_from_response(404, None, body);
        assert_eq!(e.error_code(), Some(&ErrorCode::NotFound));
        assert_eq!(e.request_id(), Some("abc123"));
        assert!(!e.is_transient());
        assert!(e.to_string().contains("abc123"));

        let e = error_from_response(
            429,
            Some(Duration::from_secs(3)),
            br#"{"type":"error","status":429,"code":"rate_limit_exceeded","request_id":"r"}"#,
        );
        assert!(e.is_transient());
        assert_eq!(e.retry_after(), Some(Duration::from_secs(3)));

        let e = error_from_response(503, None, b"<html>oops</html>");
        assert!(matches!(e, ProviderError::Server { status: 503, .. }));
        assert_eq!(e.error_code(), Some(&ErrorCode::NoCode(503)));
        let e = error_from_response(
            403,
            None,
            br#"{"type":"error","status":403,"code":"forbidden","message":"User cannot be deleted"}"#,
        );
        assert_eq!(e.error_code(), Some(&ErrorCode::Other("forbidden".into())));
        assert!(!e.is_transient());
        assert!(matches!(
            error_from_response(401, None, b""),
            ProviderError::Unauthorized { .. }
        ));
    }

    #[test]
    fn token_cache_key_depends_on_the_whole_credential_set_and_hides_the_secret() {
        let creds = |secret: &str| BoxCredentials {
            client_id: "cid".into(),
            client_secret: SecretString::from(secret.to_owned()),
            enterprise_id: "1".into(),
        };
        let a = BoxClient::cache_key(&creds("right-secret"));
        assert_ne!(a, BoxClient::cache_key(&creds("wrong-secret")));
        assert_eq!(a, BoxClient::cache_key(&creds("right-secret")));
        assert!(!a.contains("right-secret"));
    }

    #[test]
    fn credentials_debug_hides_the_secret() {
        let c: BoxCredentials = serde_json::from_str(
            r#"{"client_id":"cid","client_secret":"very-secret-value","enterprise_id":"1"}"#,
        )
        .unwrap();
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("very-secret-value"), "{dbg}");
    }
}
