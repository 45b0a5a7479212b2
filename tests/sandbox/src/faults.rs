//! Fault injection: rules that make provider routes answer 429s, 5xxs, 401s, slowly, or with a
//! truncated body.

use axum::http::Method;
use serde::{Deserialize, Serialize};

use crate::util::Shared;

/// A provider route, for fault rules and call counts.
///
/// `Any` matches every provider request in a [`FaultRule`] and counts every provider request in
/// [`crate::StatsHandle::calls`]; a request to an unknown Box path is recorded as `Any`.
/// `DropboxAny` does the same for every Dropbox request (under `/dropbox`); a Dropbox request
/// that none of the other Dropbox routes names (e.g. `team/members/get_info_v2`, or an unknown
/// path) is recorded as `DropboxAny`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Route {
    /// `POST /box/oauth2/token`
    BoxToken,
    /// `GET /box/2.0/users` and `GET /box/2.0/users/{user_id}` (GETs only)
    BoxUsers,
    /// `GET /box/2.0/events`
    BoxEvents,
    /// `PUT /box/2.0/users/{user_id}/folders/0` (transfer owned content)
    BoxTransfer,
    /// `DELETE /box/2.0/users/{user_id}`
    BoxDeleteUser,
    /// `POST /dropbox/oauth2/token`
    DropboxToken,
    /// `GET /dropbox/oauth2/authorize`
    DropboxAuthorize,
    /// `POST /dropbox/2/team/members/list_v2` and `.../members/list/continue_v2`
    DropboxMembers,
    /// `POST /dropbox/2/team_log/get_events` and `.../get_events/continue`
    DropboxEvents,
    /// `POST /dropbox/2/team/get_info`
    DropboxTeamInfo,
    /// `POST /dropbox/2/team/members/remove`
    DropboxMembersRemove,
    /// `POST /dropbox/2/team/members/remove/job_status/get`
    DropboxRemoveJobStatus,
    /// Every Dropbox request.
    DropboxAny,
    /// Every provider request.
    Any,
}

impl Route {
    /// Every route, in declaration order (the control API's `stats` lists them all).
    pub(crate) const ALL: [Route; 14] = [
        Route::BoxToken,
        Route::BoxUsers,
        Route::BoxEvents,
        Route::BoxTransfer,
        Route::BoxDeleteUser,
        Route::DropboxToken,
        Route::DropboxAuthorize,
        Route::DropboxMembers,
        Route::DropboxEvents,
        Route::DropboxTeamInfo,
        Route::DropboxMembersRemove,
        Route::DropboxRemoveJobStatus,
        Route::DropboxAny,
        Route::Any,
    ];

    /// The route a request belongs to (`Any` for requests the sandbox does not serve). Box
    /// routes depend on the method; Dropbox routes on the path only.
    pub(crate) fn classify(method: &Method, path: &str) -> Route {
        let path = path.trim_end_matches('/');
        if path == "/dropbox" || path.starts_with("/dropbox/") {
            return match path {
                "/dropbox/oauth2/token" => Route::DropboxToken,
                "/dropbox/oauth2/authorize" => Route::DropboxAuthorize,
                "/dropbox/2/team/members/list_v2" | "/dropbox/2/team/members/list/continue_v2" => {
                    Route::DropboxMembers
                }
                "/dropbox/2/team_log/get_events" | "/dropbox/2/team_log/get_events/continue" => {
                    Route::DropboxEvents
                }
                "/dropbox/2/team/get_info" => Route::DropboxTeamInfo,
                "/dropbox/2/team/members/remove" => Route::DropboxMembersRemove,
                "/dropbox/2/team/members/remove/job_status/get" => Route::DropboxRemoveJobStatus,
                _ => Route::DropboxAny,
            };
        }
        let get = method == Method::GET || method == Method::HEAD;
        match path {
            "/box/oauth2/token" => Route::BoxToken,
            "/box/2.0/users" if get => Route::BoxUsers,
            "/box/2.0/events" => Route::BoxEvents,
            _ => match path.strip_prefix("/box/2.0/users/") {
                Some(id) if !id.is_empty() && !id.contains('/') => {
                    if get {
                        Route::BoxUsers
                    } else if method == Method::DELETE {
                        Route::BoxDeleteUser
                    } else {
                        Route::Any
                    }
                }
                Some(rest) if *method == Method::PUT => match rest.split_once('/') {
                    Some((id, "folders/0")) if !id.is_empty() => Route::BoxTransfer,
                    _ => Route::Any,
                },
                _ => Route::Any,
            },
        }
    }

    /// A Dropbox route (`DropboxAny` included).
    pub fn is_dropbox(self) -> bool {
        matches!(
            self,
            Route::DropboxToken
                | Route::DropboxAuthorize
                | Route::DropboxMembers
                | Route::DropboxEvents
                | Route::DropboxTeamInfo
                | Route::DropboxMembersRemove
                | Route::DropboxRemoveJobStatus
                | Route::DropboxAny
        )
    }

    fn matches(self, request_route: Route) -> bool {
        self == Route::Any
            || self == request_route
            || (self == Route::DropboxAny && request_route.is_dropbox())
    }
}

/// What a fault rule does to a request it fires on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// 429 with `retry-after: N` and Box's `rate_limit_exceeded` error body (Dropbox: a
    /// `RateLimitError` with `retry_after: N`).
    RateLimited { retry_after_secs: u64 },
    /// That status with a `ClientError` body (`internal_server_error`, `unavailable`, ...);
    /// Dropbox: a plain-text body.
    ServerError { status: u16 },
    /// The 401 Box answers for an expired or unknown access token (Dropbox: 401
    /// `expired_access_token`; on the Dropbox token endpoint, 400 `invalid_grant`).
    ExpiredToken,
    /// Waits, then answers normally.
    Slow { millis: u64 },
    /// The normal answer with its body cut in half (headers, status and content type unchanged).
    TruncatedBody,
    /// The normal (JSON object) answer without this top-level field, e.g. a Box page without
    /// `entries` or a Dropbox page without `members` / `events`.
    DropField { field: String },
    /// The normal answer with every `from` in its body replaced by `to` (bodies are compact
    /// JSON), e.g. a member status tag Stone does not define yet:
    /// `{".tag":"invited"}` → `{".tag":"pending_activation"}`.
    ReplaceInBody { from: String, to: String },
}

/// Fire `kind` on requests to `route`: let `skip` matching requests through first, then fire
/// `times` times (`usize::MAX` = forever).
///
/// Every rule whose route matches counts every matching request (whether or not another rule
/// fired on it); of the rules that are due, the first pushed fires. In JSON, `skip` defaults to 0
/// and `times` to 1.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultRule {
    pub route: Route,
    #[serde(default)]
    pub skip: usize,
    #[serde(default = "one")]
    pub times: usize,
    pub kind: FaultKind,
}

fn one() -> usize {
    1
}

impl FaultRule {
    /// Fires once, on the next matching request.
    pub fn new(route: Route, kind: FaultKind) -> Self {
        FaultRule {
            route,
            skip: 0,
            times: 1,
            kind,
        }
    }

    /// Lets `skip` matching requests through first.
    pub fn skip(mut self, skip: usize) -> Self {
        self.skip = skip;
        self
    }

    /// Fires `times` times.
    pub fn times(mut self, times: usize) -> Self {
        self.times = times;
        self
    }

    /// Fires on every matching request.
    pub fn forever(self) -> Self {
        self.times(usize::MAX)
    }
}

#[derive(Debug)]
struct RuleState {
    rule: FaultRule,
    seen: usize,
    fired: usize,
}

/// The sandbox's fault rules. Cheap to clone; every clone sees the same rules.
#[derive(Clone, Debug, Default)]
pub struct FaultHandle {
    rules: Shared<Vec<RuleState>>,
}

impl FaultHandle {
    pub fn push(&self, rule: FaultRule) {
        self.rules.lock().push(RuleState {
            rule,
            seen: 0,
            fired: 0,
        });
    }

    pub fn clear(&self) {
        self.rules.lock().clear();
    }

    /// Counts a request to `route` and returns the fault to apply to it, if any.
    pub(crate) fn next_fault(&self, route: Route) -> Option<FaultKind> {
        let mut rules = self.rules.lock();
        let mut chosen = None;
        for state in rules.iter_mut().filter(|s| s.rule.route.matches(route)) {
            state.seen += 1;
            let due = state.seen > state.rule.skip && state.fired < state.rule.times;
            if due && chosen.is_none() {
                state.fired += 1;
                chosen = Some(state.rule.kind.clone());
            }
        }
        rules.retain(|s| s.fired < s.rule.times);
        chosen
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classify_box_by_method() {
        let c = Route::classify;
        assert_eq!(c(&Method::GET, "/box/2.0/users"), Route::BoxUsers);
        assert_eq!(c(&Method::POST, "/box/2.0/users"), Route::Any);
        assert_eq!(c(&Method::GET, "/box/2.0/users/7"), Route::BoxUsers);
        assert_eq!(c(&Method::HEAD, "/box/2.0/users/7"), Route::BoxUsers);
        assert_eq!(c(&Method::DELETE, "/box/2.0/users/7"), Route::BoxDeleteUser);
        assert_eq!(c(&Method::PUT, "/box/2.0/users/7"), Route::Any);
        assert_eq!(
            c(&Method::PUT, "/box/2.0/users/7/folders/0"),
            Route::BoxTransfer
        );
        assert_eq!(
            c(&Method::PUT, "/box/2.0/users/7/folders/0/"),
            Route::BoxTransfer
        );
        assert_eq!(c(&Method::GET, "/box/2.0/users/7/folders/0"), Route::Any);
        assert_eq!(c(&Method::PUT, "/box/2.0/users/7/folders/1"), Route::Any);
        assert_eq!(c(&Method::PUT, "/box/2.0/users//folders/0"), Route::Any);
        assert_eq!(
            c(&Method::POST, "/dropbox/2/team/members/remove"),
            Route::DropboxMembersRemove
        );
        assert_eq!(
            c(
                &Method::POST,
                "/dropbox/2/team/members/remove/job_status/get"
            ),
            Route::DropboxRemoveJobStatus
        );
    }

    #[test]
    fn classify() {
        let classify = |path: &str| Route::classify(&Method::GET, path);
        assert_eq!(
            Route::classify(&Method::POST, "/box/oauth2/token"),
            Route::BoxToken
        );
        assert_eq!(classify("/box/2.0/users"), Route::BoxUsers);
        assert_eq!(classify("/box/2.0/users/10000001"), Route::BoxUsers);
        assert_eq!(classify("/box/2.0/users/1/memberships"), Route::Any);
        assert_eq!(classify("/box/2.0/events"), Route::BoxEvents);
        assert_eq!(classify("/box/2.0/files/1"), Route::Any);
        assert_eq!(classify("/dropbox/oauth2/token"), Route::DropboxToken);
        assert_eq!(
            classify("/dropbox/oauth2/authorize"),
            Route::DropboxAuthorize
        );
        assert_eq!(
            classify("/dropbox/2/team/members/list_v2"),
            Route::DropboxMembers
        );
        assert_eq!(
            classify("/dropbox/2/team/members/list/continue_v2"),
            Route::DropboxMembers
        );
        assert_eq!(
            classify("/dropbox/2/team_log/get_events/continue"),
            Route::DropboxEvents
        );
        assert_eq!(classify("/dropbox/2/team/get_info"), Route::DropboxTeamInfo);
        assert_eq!(
            classify("/dropbox/2/team/members/get_info_v2"),
            Route::DropboxAny
        );
        assert_eq!(classify("/dropbox"), Route::DropboxAny);
        assert_eq!(classify("/dropboxx"), Route::Any);
    }

    #[test]
    fn dropbox_any_matches_dropbox_routes_only() {
        let faults = FaultHandle::default();
        faults.push(FaultRule::new(Route::DropboxAny, FaultKind::ExpiredToken).forever());
        assert_eq!(faults.next_fault(Route::BoxUsers), None);
        assert_eq!(faults.next_fault(Route::Any), None);
        for route in Route::ALL.into_iter().filter(|r| r.is_dropbox()) {
            assert_eq!(faults.next_fault(route), Some(FaultKind::ExpiredToken));
        }
        assert_eq!(Route::ALL.iter().filter(|r| r.is_dropbox()).count(), 8);
    }

    #[test]
    fn skip_times_and_order() {
        let faults = FaultHandle::default();
        faults.push(
            FaultRule::new(Route::BoxUsers, FaultKind::ExpiredToken)
                .skip(1)
                .times(2),
        );
        faults.push(FaultRule::new(Route::Any, FaultKind::Slow { millis: 1 }).forever());
        assert_eq!(
            faults.next_fault(Route::BoxUsers),
            Some(FaultKind::Slow { millis: 1 })
        );
        assert_eq!(
            faults.next_fault(Route::BoxUsers),
            Some(FaultKind::ExpiredToken)
        );
        assert_eq!(
            faults.next_fault(Route::BoxEvents),
            Some(FaultKind::Slow { millis: 1 })
        );
        assert_eq!(
            faults.next_fault(Route::BoxUsers),
            Some(FaultKind::ExpiredToken)
        );
        assert_eq!(
            faults.next_fault(Route::BoxUsers),
            Some(FaultKind::Slow { millis: 1 })
        );
        faults.clear();
        assert_eq!(faults.next_fault(Route::BoxUsers), None);
    }

    #[test]
    fn json_shape() {
        let rule: FaultRule = serde_json::from_str(
            r#"{"route":"box_events","kind":{"rate_limited":{"retry_after_secs":3}}}"#,
        )
        .expect("valid rule");
        assert_eq!(
            rule,
            FaultRule::new(
                Route::BoxEvents,
                FaultKind::RateLimited {
                    retry_after_secs: 3
                }
            )
        );
        let rule: FaultRule = serde_json::from_str(
            r#"{"route":"any","skip":2,"times":18446744073709551615,"kind":"truncated_body"}"#,
        )
        .expect("valid rule");
        assert_eq!(
            rule,
            FaultRule::new(Route::Any, FaultKind::TruncatedBody)
                .skip(2)
                .forever()
        );
    }
}
