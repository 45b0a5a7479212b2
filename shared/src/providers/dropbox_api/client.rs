use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use futures::Stream;
use oauth2::basic::{
    BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse,
    BasicTokenType,
};
use oauth2::{
    AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet,
    EndpointSet, ExtraTokenFields, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RefreshToken,
    Scope, StandardRevocableToken, StandardTokenResponse, TokenResponse, TokenUrl,
};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::model::{
    AsyncJob, AuthenticatedAdmin, GetTeamEventsResult, ListMemberDevicesResult,
    ListMembersDevicesResult, LoginEvent, MemberDevices, MembersGetInfoItemV2,
    MembersGetInfoV2Result, MembersListV2Result, TeamInfo, TeamLogPage, TeamMemberInfoV2,
};
use crate::config::DropboxEndpoints;
use crate::domain::connect::Slot;
use crate::domain::DropboxTeamMemberId;
use crate::http::{
    call_authorized, fresh_token, resumable_pages, retry_after_from_headers, send_oauth,
    token_error, AccessToken, ApiStats, ErrorCode, PageStep, ProviderError, RetryPolicy,
    TokenCache,
};
use crate::providers::secs;
use crate::secrets::DropboxCredentials;

const PROVIDER: &str = "dropbox";
/// Dropbox's maximum page size for members and team_log.
const PAGE_LIMIT: u32 = 1000;
/// Dropbox short-lived tokens live 4 hours; renew a few minutes early.
const TOKEN_MARGIN: Duration = Duration::from_secs(300);
/// `reset` / `bad_cursor` restarts tolerated within one read before giving up.
const MAX_RESTARTS: u32 = 3;

/// The team_log event type that is a member's own sign-in (activity evidence).
pub const LOGIN_EVENT_TYPE: &str = "login_success";

/// The team_log categories whose events are a member's own use of content (`activity: any`).
pub const CONTENT_CATEGORIES: &[&str] = &["file_operations", "sharing"];

/// A `team_log/get_events` filter: `event_type` and `category` are mutually exclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventFilter {
    EventType(&'static str),
    Category(&'static str),
}

/// The `team_id` (and `account_id`) a team-linked app's token response adds.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct DropboxTokenExtras {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
}
impl ExtraTokenFields for DropboxTokenExtras {}

type DropboxTokenResponse = StandardTokenResponse<DropboxTokenExtras, BasicTokenType>;
type OAuthClient<HasAuth, HasToken> = oauth2::Client<
    BasicErrorResponse,
    DropboxTokenResponse,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    HasAuth,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    HasToken,
>;

/// What a code exchange returns (the refresh token stays wrapped).
pub struct CodeGrant {
    pub refresh_token: SecretString,
    pub access_token: AccessToken,
    pub team_id: Option<String>,
}

impl std::fmt::Debug for CodeGrant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CodeGrant")
            .field("team_id", &self.team_id)
            .finish_non_exhaustive()
    }
}

/// The `team_log` time window of an activity read (`end_time` exclusive).
#[derive(Debug, Clone, Copy)]
pub struct EventsWindow {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

/// A `team.UserSelectorArg` naming a member by team_member_id.
fn member_selector(team_member_id: &DropboxTeamMemberId) -> Value {
    json!({ ".tag": "team_member_id", "team_member_id": team_member_id.as_str() })
}

/// Where a team_log read goes on: a `get_events` from a start time, or a `continue` with
/// Dropbox's cursor; with the `reset` / `bad_cursor` restarts made so far in this read (kept
/// across a resume, so a resumed read gives up where the uninterrupted one would).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum EventsCursor {
    From { start: DateTime<Utc>, restarts: u32 },
    Continue { cursor: String, restarts: u32 },
}

/// Where a `list_members_devices` read goes on (`None`: from the first page), with the
/// restarts made so far in this read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DevicesCursor {
    pub cursor: Option<String>,
    pub restarts: u32,
}

/// Dropbox Team API client; one per Lambda container, tokens cached across invocations.
#[derive(Debug)]
pub struct DropboxClient {
    http: reqwest::Client,
    api_url: String,
    authorize_url: AuthUrl,
    token_url: TokenUrl,
    retry: RetryPolicy,
    tokens: TokenCache,
}

impl DropboxClient {
    pub fn new(endpoints: &DropboxEndpoints, http: reqwest::Client, retry: RetryPolicy) -> Self {
        Self {
            http,
            api_url: endpoints.api_url.as_str().trim_end_matches('/').to_owned(),
            authorize_url: AuthUrl::from_url(endpoints.authorize_url.clone()),
            token_url: TokenUrl::from_url(endpoints.token_url.clone()),
            retry,
            tokens: TokenCache::new(TOKEN_MARGIN),
        }
    }

    fn oauth(
        &self,
        app_key: &str,
        app_secret: Option<&SecretString>,
    ) -> OAuthClient<EndpointSet, EndpointSet> {
        let mut c = oauth2::Client::new(ClientId::new(app_key.to_owned()))
            .set_auth_uri(self.authorize_url.clone())
            .set_token_uri(self.token_url.clone())
            .set_auth_type(AuthType::RequestBody);
        if let Some(s) = app_secret {
            c = c.set_client_secret(ClientSecret::new(s.expose_secret().to_owned()));
        }
        c
    }

    /// The authorize URL for a slot: code flow, offline access, the slot's scopes, PKCE S256
    /// with the challenge of `verifier`.
    pub fn authorize_url(
        &self,
        app_key: &str,
        slot: Slot,
        redirect: &url::Url,
        state: &str,
        verifier: &SecretString,
    ) -> String {
        let challenge = PkceCodeChallenge::from_code_verifier_sha256(&PkceCodeVerifier::new(
            verifier.expose_secret().to_owned(),
        ));
        let state = state.to_owned();
        let (url, _) = self
            .oauth(app_key, None)
            .set_redirect_uri(RedirectUrl::from_url(redirect.clone()))
            .authorize_url(move || CsrfToken::new(state))
            .add_scopes(slot.scopes().iter().map(|s| Scope::new((*s).to_owned())))
            .add_extra_param("token_access_type", "offline")
            .set_pkce_challenge(challenge)
            .url();
        url.to_string()
    }

    /// Exchanges an authorization code (with its PKCE verifier) for a refresh token.
    pub async fn exchange_code(
        &self,
        app_key: &str,
        app_secret: &SecretString,
        code: &str,
        pkce_verifier: &SecretString,
        redirect: &url::Url,
        stats: &ApiStats,
    ) -> Result<CodeGrant, ProviderError> {
        let client = self
            .oauth(app_key, Some(app_secret))
            .set_redirect_uri(RedirectUrl::from_url(redirect.clone()));
        let http = self.http.clone();
        let send = move |req: oauth2::HttpRequest| {
            let http = http.clone();
            async move { send_oauth(PROVIDER, &http, req).await }
        };
        stats.call();
        let started = Instant::now();
        // Not retried: an authorization code is single-use, and a retry after a lost response
        // would only fail with invalid_grant.
        let r = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .set_pkce_verifier(PkceCodeVerifier::new(
                pkce_verifier.expose_secret().to_owned(),
            ))
            .request_async(&send)
            .await
            .map_err(|e| token_error(PROVIDER, e))?;
        let refresh = r.refresh_token().ok_or_else(|| ProviderError::Auth {
            provider: PROVIDER,
            code: "no_refresh_token".into(),
            description: "Dropbox returned no refresh token (was token_access_type=offline lost?)"
                .into(),
        })?;
        Ok(CodeGrant {
            refresh_token: SecretString::from(refresh.secret().to_owned()),
            access_token: AccessToken {
                secret: SecretString::from(r.access_token().secret().to_owned()),
                expires_at: started + r.expires_in().unwrap_or(Duration::from_secs(14_400)),
            },
            team_id: r.extra_fields().team_id.clone(),
        })
    }

    async fn refresh_grant(
        &self,
        creds: &DropboxCredentials,
    ) -> Result<AccessToken, ProviderError> {
        let refresh = creds
            .refresh_token
            .as_ref()
            .ok_or_else(|| ProviderError::Auth {
                provider: PROVIDER,
                code: "not_connected".into(),
                description:
                    "this credential slot has no refresh token yet: run seatctl connect dropbox"
                        .into(),
            })?;
        let http = self.http.clone();
        let send = move |req: oauth2::HttpRequest| {
            let http = http.clone();
            async move { send_oauth(PROVIDER, &http, req).await }
        };
        let started = Instant::now();
        let token = RefreshToken::new(refresh.expose_secret().to_owned());
        let r = self
            .oauth(&creds.app_key, Some(&creds.app_secret))
            .exchange_refresh_token(&token)
            .request_async(&send)
            .await
            .map_err(|e| token_error(PROVIDER, e))?;
        Ok(AccessToken {
            secret: SecretString::from(r.access_token().secret().to_owned()),
            expires_at: started + r.expires_in().unwrap_or(Duration::from_secs(14_400)),
        })
    }

    fn cache_key(creds: &DropboxCredentials) -> String {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        h.update(creds.app_key.as_bytes());
        h.update([0]);
        h.update(creds.app_secret.expose_secret().as_bytes());
        h.update([0]);
        if let Some(r) = &creds.refresh_token {
            h.update(r.expose_secret().as_bytes());
        }
        hex::encode(h.finalize())
    }

    /// A valid access token (cached, or refreshed). Returns whether a refresh happened.
    pub async fn authenticate(
        &self,
        creds: &DropboxCredentials,
        stats: &ApiStats,
    ) -> Result<bool, ProviderError> {
        let grant = || self.refresh_grant(creds);
        fresh_token(
            &self.tokens,
            &Self::cache_key(creds),
            &self.retry,
            stats,
            &grant,
        )
        .await
        .map(|(_, f)| f)
    }

    /// One RPC call: `POST {api}/2/{route}` with a JSON argument (`null` for Void).
    pub async fn rpc<R: DeserializeOwned>(
        &self,
        creds: &DropboxCredentials,
        route: &str,
        arg: &Value,
        stats: &ApiStats,
    ) -> Result<R, ProviderError> {
        let url = format!("{}/2/{route}", self.api_url);
        let (url, route) = (&url, route);
        call_authorized(
            &self.tokens,
            &Self::cache_key(creds),
            &self.retry,
            stats,
            || self.refresh_grant(creds),
            |token| async move { self.rpc_once(url, route, arg, &token).await },
        )
        .await
    }

    /// Like [`rpc`](Self::rpc) with an access token the caller already holds (the callback's
    /// fresh token from the code exchange). No renewal: that token is seconds old.
    pub async fn rpc_with_token<R: DeserializeOwned>(
        &self,
        token: &AccessToken,
        route: &str,
        arg: &Value,
        stats: &ApiStats,
    ) -> Result<R, ProviderError> {
        let url = format!("{}/2/{route}", self.api_url);
        crate::http::with_retry(&self.retry, stats, || {
            self.rpc_once(&url, route, arg, token)
        })
        .await
    }

    async fn rpc_once<R: DeserializeOwned>(
        &self,
        url: &str,
        route: &str,
        arg: &Value,
        token: &AccessToken,
    ) -> Result<R, ProviderError> {
        self.rpc_once_with_id(url, route, arg, token)
            .await
            .map(|(r, _)| r)
    }

    /// One call; the result and Dropbox's `x-dropbox-request-id` (for the audit trail).
    async fn rpc_once_with_id<R: DeserializeOwned>(
        &self,
        url: &str,
        route: &str,
        arg: &Value,
        token: &AccessToken,
    ) -> Result<(R, Option<String>), ProviderError> {
        let resp = self
            .http
            .post(url)
            .bearer_auth(token.secret.expose_secret())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(arg.to_string())
            .send()
            .await
            .map_err(|e| ProviderError::from_reqwest(PROVIDER, &e))?;
        let status = resp.status().as_u16();
        let retry_after = retry_after_from_headers(resp.headers());
        let request_id = resp
            .headers()
            .get("x-dropbox-request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = resp
            .bytes()
            .await
            .map_err(|e| ProviderError::from_reqwest(PROVIDER, &e))?;
        if status == 200 {
            return serde_json::from_slice(&body)
                .map(|r| (r, request_id))
                .map_err(|e| ProviderError::from_body(PROVIDER, route, &e));
        }
        Err(error_from_response(status, retry_after, request_id, &body))
    }

    pub async fn team_info(
        &self,
        creds: &DropboxCredentials,
        stats: &ApiStats,
    ) -> Result<TeamInfo, ProviderError> {
        self.rpc(creds, "team/get_info", &Value::Null, stats).await
    }

    /// Every team member (`members/list_v2`, then `members/list/continue_v2`), a page at a time
    /// with the cursor of the next; with `cursor` (a page's `next` of an earlier read), the
    /// rest after that page.
    pub fn members<'a>(
        &'a self,
        creds: &'a DropboxCredentials,
        cursor: Option<String>,
        stats: &'a ApiStats,
    ) -> impl Stream<Item = Result<PageStep<Vec<TeamMemberInfoV2>, String>, ProviderError>> + 'a
    {
        resumable_pages(cursor, move |cursor: Option<String>| async move {
            let r: MembersListV2Result = match &cursor {
                None => {
                    self.rpc(
                        creds,
                        "team/members/list_v2",
                        &json!({ "limit": PAGE_LIMIT, "include_removed": false }),
                        stats,
                    )
                    .await?
                }
                Some(c) => {
                    self.rpc(
                        creds,
                        "team/members/list/continue_v2",
                        &json!({ "cursor": c }),
                        stats,
                    )
                    .await?
                }
            };
            stats.page();
            let next = r.has_more.then_some(r.cursor);
            Ok(PageStep {
                page: r.members,
                next,
            })
        })
    }

    /// `login_success` events in a window (`team_log/get_events` + `continue`). A `reset` restarts
    /// from the time Dropbox names; a `bad_cursor` restarts the window (the caller de-duplicates).
    pub fn login_events<'a>(
        &'a self,
        creds: &'a DropboxCredentials,
        window: EventsWindow,
        account_id: Option<&'a str>,
        stats: &'a ApiStats,
    ) -> impl Stream<Item = Result<Vec<LoginEvent>, ProviderError>> + 'a {
        use futures::TryStreamExt;
        self.team_events(
            creds,
            window,
            EventFilter::EventType(LOGIN_EVENT_TYPE),
            account_id,
            None,
            stats,
        )
        .map_ok(|step| step.page.events)
    }

    /// Events of one filter (an event type or a category: Dropbox takes one, never both) in a
    /// window (`team_log/get_events` + `continue`). A `reset` restarts from the time Dropbox
    /// names and the page says so (the events before it were skipped); a `bad_cursor` restarts
    /// the window (the caller de-duplicates). Each page comes with where the read goes on
    /// after it; `from` (such a cursor of an earlier read of the same window and filter)
    /// starts there instead of at the window's start.
    pub fn team_events<'a>(
        &'a self,
        creds: &'a DropboxCredentials,
        window: EventsWindow,
        filter: EventFilter,
        account_id: Option<&'a str>,
        from: Option<EventsCursor>,
        stats: &'a ApiStats,
    ) -> impl Stream<Item = Result<PageStep<TeamLogPage, EventsCursor>, ProviderError>> + 'a {
        let first = EventsCursor::From {
            start: window.start,
            restarts: 0,
        };
        resumable_pages(
            Some(from.unwrap_or(first)),
            move |cursor: Option<EventsCursor>| async move {
                let cursor = cursor.unwrap_or(EventsCursor::From {
                    start: window.start,
                    restarts: 0,
                });
                let (result, restarts) = match cursor {
                    EventsCursor::From { start, restarts } => {
                        let mut arg = json!({
                            "limit": PAGE_LIMIT,
                            // Dropbox timestamps: `%Y-%m-%dT%H:%M:%SZ`, no fractions
                            "time": { "start_time": secs(start), "end_time": secs(window.end) },
                        });
                        match filter {
                            EventFilter::EventType(t) => arg["event_type"] = json!(t),
                            EventFilter::Category(c) => arg["category"] = json!(c),
                        }
                        if let Some(a) = account_id {
                            arg["account_id"] = json!(a);
                        }
                        (
                            self.rpc::<GetTeamEventsResult>(
                                creds,
                                "team_log/get_events",
                                &arg,
                                stats,
                            )
                            .await,
                            restarts,
                        )
                    }
                    EventsCursor::Continue { cursor, restarts } => (
                        self.rpc(
                            creds,
                            "team_log/get_events/continue",
                            &json!({ "cursor": cursor }),
                            stats,
                        )
                        .await,
                        restarts,
                    ),
                };
                let r = match result {
                    Ok(r) => r,
                    Err(e) if restarts < MAX_RESTARTS => match restart_point(&e, window.start) {
                        Some(from) => {
                            tracing::warn!(error = %e, "team_log cursor restarted");
                            let skipped =
                                matches!(e.error_code(), Some(ErrorCode::Reset { at: Some(_) }))
                                    && from > window.start;
                            return Ok(PageStep {
                                page: TeamLogPage {
                                    events: Vec::new(),
                                    reset_to: skipped.then_some(from),
                                },
                                next: Some(EventsCursor::From {
                                    start: from,
                                    restarts: restarts + 1,
                                }),
                            });
                        }
                        None => return Err(e),
                    },
                    Err(e) => return Err(e),
                };
                stats.page();
                let events = r.events.into_iter().filter_map(|e| e.0).collect();
                // `has_more` may be true with no events: keep going on the cursor.
                let next = r.has_more.then_some(EventsCursor::Continue {
                    cursor: r.cursor,
                    restarts,
                });
                Ok(PageStep {
                    page: TeamLogPage {
                        events,
                        reset_to: None,
                    },
                    next,
                })
            },
        )
    }

    /// Every member's device sessions (`team/devices/list_members_devices`, paged by `cursor`;
    /// scope `sessions.list`). A `reset` restarts the listing (the caller de-duplicates). Each
    /// page comes with where the listing goes on after it; `from` (such a cursor of an earlier
    /// listing) starts there.
    pub fn members_devices<'a>(
        &'a self,
        creds: &'a DropboxCredentials,
        from: Option<DevicesCursor>,
        stats: &'a ApiStats,
    ) -> impl Stream<Item = Result<PageStep<Vec<MemberDevices>, DevicesCursor>, ProviderError>> + 'a
    {
        resumable_pages(
            Some(from.unwrap_or_default()),
            move |cursor: Option<DevicesCursor>| async move {
                let DevicesCursor { cursor, restarts } = cursor.unwrap_or_default();
                let mut arg = json!({
                    "include_web_sessions": true,
                    "include_desktop_clients": true,
                    "include_mobile_clients": true,
                });
                if let Some(c) = &cursor {
                    arg["cursor"] = json!(c);
                }
                let r: ListMembersDevicesResult = match self
                    .rpc(creds, "team/devices/list_members_devices", &arg, stats)
                    .await
                {
                    Ok(r) => r,
                    Err(e)
                        if restarts < MAX_RESTARTS
                            && matches!(e.error_code(), Some(ErrorCode::Reset { .. })) =>
                    {
                        tracing::warn!(error = %e, "devices cursor reset; listing again");
                        return Ok(PageStep {
                            page: Vec::new(),
                            next: Some(DevicesCursor {
                                cursor: None,
                                restarts: restarts + 1,
                            }),
                        });
                    }
                    Err(e) => return Err(e),
                };
                stats.page();
                let next = match (r.has_more, r.cursor) {
                    (true, Some(c)) => Some(DevicesCursor {
                        cursor: Some(c),
                        restarts,
                    }),
                    _ => None,
                };
                Ok(PageStep {
                    page: r.devices,
                    next,
                })
            },
        )
    }

    /// One member's device sessions (`team/devices/list_member_devices`); None when Dropbox
    /// does not know the member (`member_not_found`).
    pub async fn member_devices(
        &self,
        creds: &DropboxCredentials,
        team_member_id: &str,
        stats: &ApiStats,
    ) -> Result<Option<MemberDevices>, ProviderError> {
        let r = self
            .rpc::<ListMemberDevicesResult>(
                creds,
                "team/devices/list_member_devices",
                &json!({ "team_member_id": team_member_id }),
                stats,
            )
            .await;
        match r {
            Ok(r) => Ok(Some(r.into_member(team_member_id))),
            Err(ProviderError::Api {
                status: 409,
                code: ErrorCode::Other(ref tag),
                ..
            }) if tag == "member_not_found" => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// One member, re-read just before acting (`team/members/get_info_v2`); None when Dropbox
    /// does not know the id (`id_not_found`).
    pub async fn member_info(
        &self,
        creds: &DropboxCredentials,
        team_member_id: &DropboxTeamMemberId,
        stats: &ApiStats,
    ) -> Result<Option<TeamMemberInfoV2>, ProviderError> {
        let r: MembersGetInfoV2Result = self
            .rpc(
                creds,
                "team/members/get_info_v2",
                &json!({ "members": [member_selector(team_member_id)] }),
                stats,
            )
            .await?;
        Ok(r.members_info.into_iter().find_map(|i| match i {
            MembersGetInfoItemV2::MemberInfo(m) => Some(m),
            MembersGetInfoItemV2::IdNotFound { .. } => None,
        }))
    }

    /// `team/members/remove` with the files transferred to `transfer_to` (who also gets the
    /// transfer-error mails), `keep_account=false` and `wipe_data=false` (devices are left
    /// alone; the account's files move to the admin). Not idempotent: only 429 and 401 are
    /// retried; a 5xx or cut connection is [`ProviderError::Indeterminate`].
    pub async fn remove_member(
        &self,
        creds: &DropboxCredentials,
        team_member_id: &DropboxTeamMemberId,
        transfer_to: &DropboxTeamMemberId,
        stats: &ApiStats,
    ) -> Result<(AsyncJob, Option<String>), ProviderError> {
        let url = format!("{}/2/team/members/remove", self.api_url);
        let arg = json!({
            "user": member_selector(team_member_id),
            "wipe_data": false,
            "transfer_dest_id": member_selector(transfer_to),
            "transfer_admin_id": member_selector(transfer_to),
            "keep_account": false,
        });
        let (url, arg) = (&url, &arg);
        call_authorized(
            &self.tokens,
            &Self::cache_key(creds),
            &self.retry,
            stats,
            || self.refresh_grant(creds),
            |token| async move {
                self.rpc_once_with_id(url, "team/members/remove", arg, &token)
                    .await
                    .map_err(|e| e.for_write("team/members/remove"))
            },
        )
        .await
    }

    /// `team/members/suspend` (always `wipe_data=false`: the route's default `true` would wipe
    /// the member's devices), `team/members/unsuspend` or `team/members/recover`, with the
    /// reclaim slot. Each is a state change a repeat cannot make twice (the repeat is refused
    /// as `suspend_inactive_user` / `unsuspend_non_suspended_member` / for a member already
    /// back, which the adapter reads as done), so the usual retries apply. Returns Dropbox's
    /// request id.
    pub async fn member_access(
        &self,
        creds: &DropboxCredentials,
        route: MemberAccessRoute,
        team_member_id: &DropboxTeamMemberId,
        stats: &ApiStats,
    ) -> Result<Option<String>, ProviderError> {
        let name = route.route();
        let url = format!("{}/2/{name}", self.api_url);
        let arg = match route {
            MemberAccessRoute::Suspend => json!({
                "user": member_selector(team_member_id),
                "wipe_data": false,
            }),
            MemberAccessRoute::Unsuspend | MemberAccessRoute::Recover => {
                json!({ "user": member_selector(team_member_id) })
            }
        };
        let (url, arg) = (&url, &arg);
        call_authorized(
            &self.tokens,
            &Self::cache_key(creds),
            &self.retry,
            stats,
            || self.refresh_grant(creds),
            |token| async move {
                self.rpc_once_with_id::<Value>(url, name, arg, &token)
                    .await
                    .map(|(_, request_id)| request_id)
            },
        )
        .await
    }

    /// Polls a removal job (`team/members/remove/job_status/get`); reading is safe to retry.
    pub async fn remove_job_status(
        &self,
        creds: &DropboxCredentials,
        async_job_id: &str,
        stats: &ApiStats,
    ) -> Result<AsyncJob, ProviderError> {
        self.rpc(
            creds,
            "team/members/remove/job_status/get",
            &json!({ "async_job_id": async_job_id }),
            stats,
        )
        .await
    }

    /// `auth/token/revoke` with an access token: Dropbox disables it, its refresh token and
    /// every other access token of that refresh token. Used when a connect fails after the
    /// code exchange, so no live grant is left behind.
    pub async fn revoke(&self, token: &AccessToken, stats: &ApiStats) -> Result<(), ProviderError> {
        let _: Value = self
            .rpc_with_token(token, "auth/token/revoke", &Value::Null, stats)
            .await?;
        Ok(())
    }

    /// The admin who authorized a slot's token (`team/token/get_authenticated_admin`), with
    /// that slot's credentials (renewed as needed). Dropbox answers 409 `admin_not_active` when
    /// that admin is no longer an active member or no longer an admin.
    pub async fn slot_admin(
        &self,
        creds: &DropboxCredentials,
        stats: &ApiStats,
    ) -> Result<AuthenticatedAdmin, ProviderError> {
        self.rpc(
            creds,
            "team/token/get_authenticated_admin",
            &Value::Null,
            stats,
        )
        .await
    }

    /// The admin who authorized the token (`team/token/get_authenticated_admin`).
    pub async fn authenticated_admin(
        &self,
        token: &AccessToken,
        stats: &ApiStats,
    ) -> Result<AuthenticatedAdmin, ProviderError> {
        self.rpc_with_token(
            token,
            "team/token/get_authenticated_admin",
            &Value::Null,
            stats,
        )
        .await
    }
}

/// Where to restart a team_log read after a continue error, if it is a restartable one.
fn restart_point(e: &ProviderError, window_start: DateTime<Utc>) -> Option<DateTime<Utc>> {
    match e {
        ProviderError::Api {
            status: 409,
            code: ErrorCode::Reset { at },
            ..
        } => Some(at.unwrap_or(window_start)),
        ProviderError::Api {
            status: 409,
            code: ErrorCode::BadCursor,
            ..
        } => Some(window_start),
        _ => None,
    }
}

#[derive(Deserialize, Default)]
struct ErrorEnvelope {
    #[serde(default)]
    error_summary: Option<String>,
    #[serde(default)]
    error: Option<Value>,
}

/// The envelope's `error[".tag"]`, typed, with the values the product uses (the `reset`
/// restart point, the missing scope): the one place a Dropbox error tag is read as text.
/// `None` when the body has no tag (plain text, HTML, empty).
fn error_code(error: Option<&Value>) -> Option<ErrorCode> {
    let error = error?;
    let tag = error.get(".tag")?.as_str()?;
    let field = |name: &str| error.get(name).and_then(Value::as_str);
    Some(match tag {
        "user_not_in_team" => ErrorCode::UserNotInTeam,
        "user_not_found" => ErrorCode::UserNotFound,
        "transfer_in_progress" => ErrorCode::TransferInProgress,
        "invalid_async_job_id" => ErrorCode::InvalidAsyncJobId,
        "reset" => ErrorCode::Reset {
            // a DropboxTimestamp; unreadable means "restart the window", not an error
            at: field("reset").and_then(|t| t.parse::<DateTime<Utc>>().ok()),
        },
        "bad_cursor" => ErrorCode::BadCursor,
        "missing_scope" => ErrorCode::MissingScope {
            required_scope: field("required_scope").map(str::to_owned),
        },
        "expired_access_token" => ErrorCode::ExpiredAccessToken,
        "invalid_access_token" => ErrorCode::InvalidAccessToken,
        other => ErrorCode::Other(other.to_owned()),
    })
}

/// Maps a Dropbox error response to a typed error. Branches on `error[".tag"]`, never on the
/// summary (its suffix varies).
fn error_from_response(
    status: u16,
    retry_after: Option<Duration>,
    request_id: Option<String>,
    body: &[u8],
) -> ProviderError {
    let env: ErrorEnvelope = serde_json::from_slice(body).unwrap_or_default();
    let code = error_code(env.error.as_ref());
    let summary = env.error_summary.clone().unwrap_or_default();
    match status {
        401 => match code {
            Some(ErrorCode::ExpiredAccessToken | ErrorCode::InvalidAccessToken) | None => {
                ProviderError::Unauthorized { provider: PROVIDER }
            }
            Some(code) => ProviderError::Api {
                provider: PROVIDER,
                status,
                message: match &code {
                    // say what to do, not only what is missing
                    ErrorCode::MissingScope { required_scope } => format!(
                        "the Dropbox app lacks the scope {}: tick it on the app's Permissions tab in the Dropbox App Console, then connect the slot again (seatctl connect dropbox --profile ID --slot sync|reclaim) so the new token carries it",
                        required_scope.as_deref().unwrap_or("(not named by Dropbox)")
                    ),
                    _ => summary,
                },
                code,
                request_id,
            },
        },
        429 => ProviderError::RateLimited {
            provider: PROVIDER,
            retry_after: retry_after.or_else(|| {
                env.error
                    .as_ref()
                    .and_then(|e| e.get("retry_after"))
                    .and_then(Value::as_u64)
                    .map(Duration::from_secs)
            }),
            request_id,
        },
        500..=599 => ProviderError::Server {
            provider: PROVIDER,
            status,
            code: code.unwrap_or(ErrorCode::NoCode(status)),
            request_id,
            retry_after,
        },
        _ => {
            // 400 is plain text; 409 carries the route's error union.
            let code = code.unwrap_or(if status == 400 {
                ErrorCode::BadInput
            } else {
                ErrorCode::NoCode(status)
            });
            let message = if env.error.is_some() {
                summary
            } else {
                String::from_utf8_lossy(body).chars().take(300).collect()
            };
            ProviderError::Api {
                provider: PROVIDER,
                status,
                code,
                message,
                request_id,
            }
        }
    }
}

/// The undo window's member routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberAccessRoute {
    Suspend,
    Unsuspend,
    Recover,
}

impl MemberAccessRoute {
    pub fn route(self) -> &'static str {
        match self {
            MemberAccessRoute::Suspend => "team/members/suspend",
            MemberAccessRoute::Unsuspend => "team/members/unsuspend",
            MemberAccessRoute::Recover => "team/members/recover",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_envelopes() {
        let e = error_from_response(401, None, None, br#"{"error_summary":"expired_access_token/..","error":{".tag":"expired_access_token"}}"#);
        assert!(matches!(e, ProviderError::Unauthorized { .. }));
        let e = error_from_response(401, None, None, br#"{"error_summary":"missing_scope/..","error":{".tag":"missing_scope","required_scope":"members.read"}}"#);
        assert_eq!(
            e.error_code(),
            Some(&ErrorCode::MissingScope {
                required_scope: Some("members.read".into())
            })
        );
        assert!(!e.is_transient());
        assert!(e.to_string().contains("members.read"), "{e}");
        let e = error_from_response(429, None, None, br#"{"error_summary":"too_many_requests/","error":{"reason":{".tag":"too_many_requests"},"retry_after":7}}"#);
        assert_eq!(e.retry_after(), Some(Duration::from_secs(7)));
        let e = error_from_response(
            409,
            None,
            Some("rid".into()),
            br#"{"error_summary":"user_not_in_team/..","error":{".tag":"user_not_in_team"}}"#,
        );
        assert_eq!(
            (e.error_code(), e.request_id()),
            (Some(&ErrorCode::UserNotInTeam), Some("rid"))
        );
        for (tag, code) in [
            ("user_not_found", ErrorCode::UserNotFound),
            ("transfer_in_progress", ErrorCode::TransferInProgress),
            ("invalid_async_job_id", ErrorCode::InvalidAsyncJobId),
            (
                "remove_last_admin",
                ErrorCode::Other("remove_last_admin".into()),
            ),
        ] {
            let body = format!(r#"{{"error_summary":"{tag}/..","error":{{".tag":"{tag}"}}}}"#);
            let e = error_from_response(409, None, None, body.as_bytes());
            assert_eq!(e.error_code(), Some(&code), "{tag}");
            assert!(!e.is_transient());
        }
        let e = error_from_response(503, None, None, b"");
        assert_eq!(e.error_code(), Some(&ErrorCode::NoCode(503)));
        assert!(e.is_transient());
        let e = error_from_response(
            400,
            None,
            None,
            b"Error in call to API function \"team/members/list_v2\": bad limit",
        );
        assert_eq!(e.error_code(), Some(&ErrorCode::BadInput));
        assert!(e.to_string().contains("bad limit"));
    }

    #[test]
    fn team_log_reset_and_bad_cursor_restart() {
        let start: DateTime<Utc> = "2026-01-01T00:00:00Z".parse().unwrap();
        let reset = error_from_response(409, None, None, br#"{"error_summary":"reset/..","error":{".tag":"reset","reset":"2026-02-03T04:05:06Z"}}"#);
        assert_eq!(
            restart_point(&reset, start),
            Some("2026-02-03T04:05:06Z".parse().unwrap())
        );
        let bad = error_from_response(
            409,
            None,
            None,
            br#"{"error_summary":"bad_cursor/","error":{".tag":"bad_cursor"}}"#,
        );
        assert_eq!(restart_point(&bad, start), Some(start));
        let reset_without_time = error_from_response(
            409,
            None,
            None,
            br#"{"error_summary":"reset/..","error":{".tag":"reset","reset":"soon"}}"#,
        );
        assert_eq!(
            reset_without_time.error_code(),
            Some(&ErrorCode::Reset { at: None })
        );
        assert_eq!(restart_point(&reset_without_time, start), Some(start));
        let other = error_from_response(
            409,
            None,
            None,
            br#"{"error_summary":"invalid_time_range/","error":{".tag":"invalid_time_range"}}"#,
        );
        assert_eq!(restart_point(&other, start), None);
    }

    #[test]
    fn login_events_read_member_time_and_type() {
        let v: Value = serde_json::from_str(r#"{"timestamp":"2017-01-25T15:51:30Z","event_category":{".tag":"logins"},
            "actor":{".tag":"user","user":{".tag":"team_member","account_id":"dbid:A","display_name":"J","email":"j@x.com","team_member_id":"dbmid:J"}},
            "event_type":{".tag":"login_success","description":"(logins) Signed in"},"details":{".tag":"login_success_details","is_emm_managed":false}}"#).unwrap();
        let e = LoginEvent::from_team_event(&v).unwrap();
        assert_eq!(
            (e.team_member_id.as_str(), e.event_type.as_str()),
            ("dbmid:J", "login_success")
        );
        assert_eq!(
            e.at,
            "2017-01-25T15:51:30Z".parse::<DateTime<Utc>>().unwrap()
        );
        assert_eq!(
            e.id,
            LoginEvent::from_team_event(&v).unwrap().id,
            "stable evidence id"
        );
        assert!(
            LoginEvent::from_team_event(&json!({"timestamp":"2017-01-25T15:51:30Z"})).is_none()
        );
    }

    #[test]
    fn a_team_log_page_is_read_event_by_event_into_the_same_evidence() {
        let ev = json!({"timestamp":"2017-01-25T15:51:30Z","event_category":{".tag":"logins"},
            "actor":{".tag":"user","user":{".tag":"team_member","team_member_id":"dbmid:J"}},
            "event_type":{".tag":"login_success"}});
        let stranger =
            json!({"timestamp":"2017-01-25T15:52:00Z","event_type":{".tag":"login_fail"}});
        let body = json!({"events": [ev, stranger, 7], "cursor": "c", "has_more": true});
        let page: GetTeamEventsResult = serde_json::from_value(body).unwrap();
        // the event as before (the same id: the digest of the same parsed event); the one
        // without a member and the one that is not an event are dropped
        let events: Vec<_> = page.events.into_iter().filter_map(|e| e.0).collect();
        assert_eq!(events, vec![LoginEvent::from_team_event(&ev).unwrap()]);
        assert_eq!((page.cursor.as_str(), page.has_more), ("c", true));
        // a page without its list is malformed, not empty
        let missing = serde_json::from_value::<GetTeamEventsResult>(
            json!({"cursor": "c", "has_more": false}),
        );
        assert!(missing.is_err());
        let not_a_list = serde_json::from_value::<GetTeamEventsResult>(
            json!({"events": {}, "cursor": "c", "has_more": false}),
        );
        assert!(not_a_list.is_err());
    }

    #[test]
    fn authorize_url_has_offline_pkce_scopes_and_state() {
        let ep = DropboxEndpoints {
            api_url: "https://api.dropboxapi.com".parse().unwrap(),
            authorize_url: "https://www.dropbox.com/oauth2/authorize".parse().unwrap(),
            token_url: "https://api.dropboxapi.com/oauth2/token".parse().unwrap(),
        };
        let c = DropboxClient::new(&ep, reqwest::Client::new(), RetryPolicy::default());
        let verifier = SecretString::from("v".repeat(43));
        let redirect = "https://cb.example/oauth/dropbox/callback".parse().unwrap();
        let r = c.authorize_url("appkey", Slot::Reclaim, &redirect, "st4te", &verifier);
        let u = url::Url::parse(&r).unwrap();
        let q: std::collections::HashMap<_, _> = u.query_pairs().into_owned().collect();
        assert_eq!(q["response_type"], "code");
        assert_eq!(q["client_id"], "appkey");
        assert_eq!(q["token_access_type"], "offline");
        assert_eq!(q["state"], "st4te");
        assert_eq!(q["code_challenge_method"], "S256");
        assert_eq!(q["code_challenge"].len(), 43);
        assert_eq!(
            q["scope"],
            "team_info.read members.write members.delete team_data.member"
        );
        assert_eq!(
            q["redirect_uri"],
            "https://cb.example/oauth/dropbox/callback"
        );
        assert!(!r.contains(verifier.expose_secret()));
    }
}
