//! Box behind the provider ports: [`BoxDirectory`] (Application Access with the Client
//! Credentials Grant, admin_logs logins, managed users) and [`BoxDeprovisioner`] (transfer of
//! owned content with `PUT /users/{id}/folders/0`, then delete without `force`). Ids from a
//! request are parsed into [`BoxUserId`]s here, before any call.
use std::sync::Arc;

use chrono::Utc;
use futures::{Stream, StreamExt};
use serde::{Deserialize, Serialize};

use super::client::{
    BoxClient, EventsWindow, ACTIVITY_EVENT_TYPES, CONTENT_EVENT_TYPES, LOGIN_EVENT_TYPES,
};
use super::model::{BoxEvent, BoxUser};
use crate::domain::{
    ActivityEvent, ActivityKind, ActivityPage, ActivityScope, BoxUserId, LoginEvidence,
    ObservedSeat, Profile,
};
use crate::http::{ApiStats, ErrorCode, ProviderError};
use crate::ports::provider::{
    AccessChange, AccessError, AccessOutcome, Deprovisioner, Directory, DirectoryUser, JobState,
    PurchasedSeats, Refusal, Removal, RosterPage, TargetCheck, Transferred, Window,
};
use crate::providers::resume::{position, refused, token_after};
use crate::providers::{id_arg, newest_of, roster_of, secs};
use crate::secrets::BoxCredentials;

const PROVIDER: &str = "box";

/// The activity stream's checkpoint name (logins only).
pub const EVENTS_STREAM: &str = "box_admin_logs_logins";
/// The checkpoint name of logins and content events (`activity: any`).
pub const ACTIVITY_STREAM: &str = "box_admin_logs_activity";
/// Box's anonymous user (`created_by.id == "2"`): an event nobody's seat proves.
const ANONYMOUS_USER: &str = "2";
/// Event ids remembered for de-duplication: two admin_logs pages.
pub const DEDUP_WINDOW: usize = 1000;

/// The resume token reads: `{"v":1,"read":"box_users","at":{"marker":"…"}}` (the next
/// `GET /users` marker) and `{"v":1,"read":"box_admin_logs","at":{"stream_position":"…"}}` (the
/// next `GET /events` position of the same window and event types).
const USERS_READ: &str = "box_users";
const EVENTS_READ: &str = "box_admin_logs";

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct UsersAt {
    marker: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct EventsAt {
    stream_position: String,
}

/// Box roles that administer the enterprise (exempt from reclaim, may receive content).
const ADMIN_ROLES: &[&str] = &["admin", "coadmin"];

/// Reads one Box enterprise with its profile's client credentials.
#[derive(Debug)]
pub struct BoxDirectory {
    client: Arc<BoxClient>,
    creds: BoxCredentials,
    profile: Profile,
}

impl BoxDirectory {
    pub fn new(client: Arc<BoxClient>, creds: BoxCredentials, profile: Profile) -> Self {
        Self {
            client,
            creds,
            profile,
        }
    }
}

impl Directory for BoxDirectory {
    fn activity_stream(&self, scope: ActivityScope) -> &'static str {
        match scope {
            ActivityScope::Any => ACTIVITY_STREAM,
            ActivityScope::Logins => EVENTS_STREAM,
        }
    }

    fn dedup_window(&self) -> usize {
        DEDUP_WINDOW
    }

    async fn check_access(&self, stats: &ApiStats) -> Result<String, AccessError> {
        check_enterprise(&self.profile, &self.creds)?;
        let fetched = self.client.authenticate(&self.creds, stats).await?;
        Ok(if fetched {
            "new access token"
        } else {
            "cached access token"
        }
        .into())
    }

    fn describe_activity(&self, window: Window, scope: ActivityScope) -> String {
        format!(
            "admin_logs {} from {} to {}",
            event_types(scope).join(","),
            secs(window.start),
            secs(window.end)
        )
    }

    fn activity<'a>(
        &'a self,
        window: Window,
        scope: ActivityScope,
        from: Option<String>,
        stats: &'a ApiStats,
    ) -> impl Stream<Item = Result<ActivityPage, ProviderError>> + 'a {
        let position = match position::<EventsAt>(PROVIDER, EVENTS_READ, from) {
            Ok(at) => at.map(|at| at.stream_position),
            Err(e) => return refused(e).left_stream(),
        };
        let window = EventsWindow {
            created_after: window.start,
            created_before: window.end,
        };
        self.client
            .admin_events(&self.creds, event_types(scope), window, position, stats)
            .map(move |step| {
                let step = step?;
                let next = step
                    .next
                    .map(|stream_position| EventsAt { stream_position });
                Ok(ActivityPage {
                    resume: token_after(PROVIDER, EVENTS_READ, next)?,
                    ..ActivityPage::of(
                        step.page
                            .iter()
                            .filter_map(|e| activity(e, scope))
                            .collect(),
                    )
                })
            })
            .right_stream()
    }

    fn roster<'a>(
        &'a self,
        from: Option<String>,
        stats: &'a ApiStats,
    ) -> impl Stream<Item = Result<RosterPage, ProviderError>> + 'a {
        let marker = match position::<UsersAt>(PROVIDER, USERS_READ, from) {
            Ok(at) => at.map(|at| at.marker),
            Err(e) => return refused(e).left_stream(),
        };
        self.client
            .users(&self.creds, marker, stats)
            .map(move |step| {
                let step = step?;
                let next = step.next.map(|marker| UsersAt { marker });
                Ok(RosterPage {
                    resume: token_after(PROVIDER, USERS_READ, next)?,
                    ..roster_page(&self.profile, &step.page)
                })
            })
            .right_stream()
    }

    /// Box has no API for purchased seats: they come from the profile's entitlements.
    async fn purchased_seats(
        &self,
        _stats: &ApiStats,
    ) -> Result<Vec<PurchasedSeats>, ProviderError> {
        Ok(Vec::new())
    }

    async fn user(
        &self,
        user_id: &str,
        stats: &ApiStats,
    ) -> Result<Option<DirectoryUser>, ProviderError> {
        let id = user_id_arg(user_id)?;
        let user = self.client.user(&self.creds, &id, stats).await?;
        Ok(user.as_ref().map(directory_user))
    }

    /// Box's admin_logs cannot be filtered by user: the window is read and filtered here.
    async fn user_activity(
        &self,
        user: &DirectoryUser,
        window: Window,
        scope: ActivityScope,
        stats: &ApiStats,
    ) -> Result<Option<LoginEvidence>, ProviderError> {
        newest_of(
            self.activity(window, scope, None, stats),
            &user.user_id,
            scope,
        )
        .await
    }
}

/// Takes Box seats back for one enterprise: content first, then the user.
#[derive(Debug)]
pub struct BoxDeprovisioner {
    client: Arc<BoxClient>,
    creds: BoxCredentials,
    profile: Profile,
}

impl BoxDeprovisioner {
    pub fn new(client: Arc<BoxClient>, creds: BoxCredentials, profile: Profile) -> Self {
        Self {
            client,
            creds,
            profile,
        }
    }
}

impl Deprovisioner for BoxDeprovisioner {
    fn transfer_target(&self) -> Result<String, Refusal> {
        self.profile
            .rules
            .transfer_target
            .clone()
            .ok_or_else(|| Refusal {
                code: "no_transfer_target",
                reason: format!(
                    "the profile names no transfer target: seatctl rules set {} --transfer-to <admin user id>",
                    self.profile.id
                ),
            })
    }

    async fn check_target(
        &self,
        target: &str,
        stats: &ApiStats,
    ) -> Result<TargetCheck, ProviderError> {
        let id = match BoxUserId::parse(target) {
            Ok(id) => id,
            Err(e) => {
                return Ok(TargetCheck::Refused(Refusal {
                    code: "bad_transfer_target",
                    reason: format!("the transfer target is not a Box user: {e}"),
                }))
            }
        };
        let t = self.client.user(&self.creds, &id, stats).await?;
        let ok = t.as_ref().is_some_and(|t| {
            t.role.as_deref().is_some_and(is_admin_role) && t.status.as_deref() == Some("active")
        });
        Ok(if ok {
            TargetCheck::Ok
        } else {
            TargetCheck::Refused(Refusal {
                code: "bad_transfer_target",
                reason: format!(
                    "transfer target {target} is not an active admin or co-admin of the enterprise"
                ),
            })
        })
    }

    fn transfers_separately(&self) -> bool {
        true
    }

    fn plan(&self, user: &DirectoryUser, target: &str) -> String {
        let (login, user_id) = (&user.login, &user.user_id);
        format!(
            "transfer everything {login} ({user_id}) owns to admin {target} (PUT /users/{user_id}/folders/0), then DELETE /users/{user_id} without force"
        )
    }

    fn announce_transfer(&self, user_id: &str, target: &str) -> String {
        format!("PUT /users/{user_id}/folders/0 owned_by {target}")
    }

    fn announce_removal(&self, user_id: &str, _target: &str) -> String {
        format!("DELETE /users/{user_id} (force=false)")
    }

    async fn transfer(
        &self,
        user_id: &str,
        target: &str,
        stats: &ApiStats,
    ) -> Result<Transferred, ProviderError> {
        let (from, to) = (user_id_arg(user_id)?, user_id_arg(target)?);
        let (folder, request_id) = self
            .client
            .transfer_owned_content(&self.creds, &from, &to, stats)
            .await?;
        let detail = format!(
            "content moved to folder {} ({}) owned by {}",
            folder.id,
            folder.name.as_deref().unwrap_or(""),
            folder
                .owned_by
                .map(|o| o.id)
                .unwrap_or_else(|| target.to_owned())
        );
        Ok(Transferred {
            folder_id: folder.id,
            detail,
            request_id,
        })
    }

    /// Without `force`: Box refuses while the user still owns content, so nothing is destroyed.
    async fn remove(
        &self,
        user_id: &str,
        _target: &str,
        stats: &ApiStats,
    ) -> Result<Removal, ProviderError> {
        let id = user_id_arg(user_id)?;
        let (deleted, request_id) = self.client.delete_user(&self.creds, &id, stats).await?;
        Ok(Removal::Done {
            detail: if deleted {
                "user deleted (204)"
            } else {
                "the user is already gone (404)"
            }
            .into(),
            already_gone: !deleted,
            request_id,
        })
    }

    fn announce_access(&self, user_id: &str, change: AccessChange) -> String {
        match change {
            AccessChange::Suspend => format!("PUT /users/{user_id} status=inactive"),
            AccessChange::Unsuspend => format!("PUT /users/{user_id} status=active"),
            AccessChange::Recover => {
                format!("recover {user_id}: Box cannot restore a deleted user")
            }
        }
    }

    /// Suspension is the user's status `inactive` (they cannot sign in; content and seat stay),
    /// its undo `active`. Box has no way back for a deleted user.
    async fn set_access(
        &self,
        user_id: &str,
        change: AccessChange,
        stats: &ApiStats,
    ) -> Result<AccessOutcome, ProviderError> {
        let (from, to) =
            match change {
                AccessChange::Suspend => ("active", "inactive"),
                AccessChange::Unsuspend => ("inactive", "active"),
                AccessChange::Recover => return Ok(AccessOutcome::Refused(Refusal {
                    code: "cannot_be_undone",
                    reason:
                        "a deleted Box user cannot be restored (the account and its seat are gone)"
                            .into(),
                })),
            };
        let id = user_id_arg(user_id)?;
        let Some(now) = self.client.user(&self.creds, &id, stats).await? else {
            return Ok(AccessOutcome::Refused(Refusal {
                code: "user_not_found",
                reason: format!("Box no longer has user {user_id} (deleted)"),
            }));
        };
        let status = now.status.as_deref().unwrap_or_default();
        if status == to {
            return Ok(AccessOutcome::Done {
                detail: format!("user {user_id} is already {to}"),
                already: true,
                request_id: None,
            });
        }
        if status != from {
            // never turn a protected or unknown status into another one
            return Ok(AccessOutcome::Refused(Refusal {
                code: "unexpected_status",
                reason: format!("user {user_id} is {status}, not {from}: left as it is"),
            }));
        }
        match self.client.set_status(&self.creds, &id, to, stats).await {
            Ok((u, request_id)) => Ok(AccessOutcome::Done {
                detail: format!(
                    "user {user_id} status set to {} (PUT /users/{user_id})",
                    u.status.as_deref().unwrap_or(to)
                ),
                already: false,
                request_id,
            }),
            Err(e) if e.error_code() == Some(&ErrorCode::NotFound) => {
                Ok(AccessOutcome::Refused(Refusal {
                    code: "user_not_found",
                    reason: format!("Box no longer has user {user_id} (deleted)"),
                }))
            }
            Err(e) => Err(e),
        }
    }

    /// Box deletes synchronously and never hands out a job; an unknown job means "re-read the
    /// user", which is the safe answer should one ever be asked about.
    async fn poll(&self, _job_id: &str, _stats: &ApiStats) -> Result<JobState, ProviderError> {
        Ok(JobState::Unknown)
    }

    /// Box answers a removal without `force` with 400 while the user owns content (the code is
    /// undocumented; 403 is an undeletable status, 404 a gone user, and a malformed id is
    /// refused before the call): after a transfer that answered, that is the transfer still
    /// moving content in the background.
    fn still_owns_content(&self, e: &ProviderError) -> bool {
        matches!(e, ProviderError::Api { status: 400, .. })
    }
}

/// A user id from a request or a profile, refused before any call unless it is a Box id.
fn user_id_arg(user_id: &str) -> Result<BoxUserId, ProviderError> {
    id_arg(PROVIDER, BoxUserId::parse(user_id))
}

/// The credentials must be for the profile's enterprise: a mix-up would sync (or reclaim in)
/// another customer's tenant.
fn check_enterprise(profile: &Profile, creds: &BoxCredentials) -> Result<(), AccessError> {
    if Some(creds.enterprise_id.as_str()) == profile.box_enterprise_id.as_deref() {
        return Ok(());
    }
    Err(AccessError::WrongTenant(format!(
        "profile {}: credentials are for enterprise {} but the profile is enterprise {}",
        profile.id,
        creds.enterprise_id,
        profile.box_enterprise_id.as_deref().unwrap_or("(none)")
    )))
}

/// The admin_logs event types a scope reads.
fn event_types(scope: ActivityScope) -> &'static [&'static str] {
    match scope {
        ActivityScope::Any => ACTIVITY_EVENT_TYPES,
        ActivityScope::Logins => LOGIN_EVENT_TYPES,
    }
}

/// An event as activity of its user, if its type is one `scope` counts (checked here, whatever
/// the `event_type` filter did) and it names a real user and a time.
pub(crate) fn activity(e: &BoxEvent, scope: ActivityScope) -> Option<ActivityEvent> {
    let ty = e.event_type.as_deref()?;
    let kind = if LOGIN_EVENT_TYPES.contains(&ty) {
        ActivityKind::Login
    } else if CONTENT_EVENT_TYPES.contains(&ty) {
        ActivityKind::Content
    } else {
        return None;
    };
    if !scope.counts(kind) {
        return None;
    }
    let (user, evidence) = login(e)?;
    (user != ANONYMOUS_USER).then(|| ActivityEvent::new(user, kind, evidence))
}

/// A login event as (user id, evidence); events without a user or time say nothing.
pub(crate) fn login(e: &BoxEvent) -> Option<(String, LoginEvidence)> {
    let (user, at) = (e.created_by.as_ref()?, e.created_at?);
    Some((
        user.id.clone(),
        LoginEvidence {
            at: at.with_timezone(&Utc),
            event_id: e.event_id.clone(),
            event_type: e.event_type.clone().unwrap_or_default(),
        },
    ))
}

/// A page of users as seats; app users and service accounts are counted, not kept.
fn roster_page(profile: &Profile, page: &[BoxUser]) -> RosterPage {
    roster_of(page, |u| u.is_seat().then(|| observe(profile, u)))
}

fn is_admin_role(role: &str) -> bool {
    ADMIN_ROLES.contains(&role)
}

/// A Box user as a seat: license type from the profile (plan or tracking code).
pub(crate) fn observe(profile: &Profile, u: &BoxUser) -> ObservedSeat {
    let role = u.role.clone().unwrap_or_else(|| "user".into());
    let license_type = profile.box_license_type(&u.tracking_pairs());
    ObservedSeat {
        user_id: u.id.clone(),
        login: u.login.clone().unwrap_or_default(),
        name: u.name.clone().unwrap_or_default(),
        status: box_status(u.status.as_deref()),
        is_admin: is_admin_role(&role),
        role,
        license_managed: profile.manages(&license_type),
        license_type,
        created_at: u.created_utc(),
    }
}

/// Box `User.status` values ([BOX-OAS] `User.allOf[1].properties.status`); any other is kept
/// as `unknown:<status>` (a seat, never a candidate).
const BOX_STATUSES: &[&str] = &[
    "active",
    "inactive",
    "cannot_delete_edit",
    "cannot_delete_edit_upload",
];

fn box_status(status: Option<&str>) -> String {
    match status {
        // a user listed without a status (the field was not asked for) is not unknown
        None | Some("") => String::new(),
        Some(s) => crate::domain::rules::status_or_unknown(s, BOX_STATUSES),
    }
}

fn directory_user(u: &BoxUser) -> DirectoryUser {
    DirectoryUser {
        user_id: u.id.clone(),
        login: u.login.clone().unwrap_or_default(),
        status: box_status(u.status.as_deref()),
        is_admin: u.role.as_deref().is_some_and(is_admin_role),
        created_at: u.created_utc(),
        // admin_logs cannot be filtered by user: user_activity filters by user id itself
        activity_key: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::BoxPlan;

    fn profile() -> Profile {
        let mut p = Profile::new_box(
            "acme",
            "Acme",
            "12345",
            BoxPlan::Business,
            "2026-01-01T00:00:00Z".parse().unwrap(),
        )
        .unwrap();
        p.license_tracking_code = Some("license".into());
        p
    }

    fn user(json: serde_json::Value) -> BoxUser {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn users_become_seats_with_role_and_license_type() {
        let p = profile();
        let admin = user(serde_json::json!({
            "id": "11", "login": "a@x.com", "name": "A", "status": "active", "role": "coadmin",
            "created_at": "2025-01-02T03:04:05-08:00"
        }));
        let s = observe(&p, &admin);
        assert_eq!(
            (s.user_id.as_str(), s.login.as_str(), s.role.as_str()),
            ("11", "a@x.com", "coadmin")
        );
        assert!(s.is_admin && s.license_managed);
        assert_eq!(s.license_type, "business");
        assert_eq!(s.created_at, Some("2025-01-02T11:04:05Z".parse().unwrap()));

        let tracked = user(serde_json::json!({
            "id": "12", "tracking_codes": [{"type": "tracking_code", "name": "License", "value": "Enterprise"}]
        }));
        let s = observe(&p, &tracked);
        assert_eq!((s.role.as_str(), s.is_admin), ("user", false));
        assert_eq!(s.license_type, "enterprise");
        assert!(
            !s.license_managed,
            "the profile manages business seats only"
        );
    }

    #[test]
    fn app_users_are_counted_not_kept() {
        let page = vec![
            user(serde_json::json!({"id": "1", "role": "user"})),
            user(serde_json::json!({"id": "2", "is_platform_access_only": true})),
        ];
        let r = roster_page(&profile(), &page);
        assert_eq!(r.seats.len(), 1);
        assert_eq!(r.not_seats, 1);
    }

    #[test]
    fn login_events_become_evidence_and_incomplete_ones_say_nothing() {
        let e: BoxEvent = serde_json::from_value(serde_json::json!({
            "event_id": "ev1", "event_type": "LOGIN",
            "created_at": "2026-02-03T04:05:06-07:00", "created_by": {"type": "user", "id": "11"}
        }))
        .unwrap();
        let (user, ev) = login(&e).unwrap();
        assert_eq!(user, "11");
        assert_eq!(
            ev.at,
            "2026-02-03T11:05:06Z"
                .parse::<chrono::DateTime<Utc>>()
                .unwrap()
        );
        assert_eq!(
            (ev.event_id.as_str(), ev.event_type.as_str()),
            ("ev1", "LOGIN")
        );
        let no_user: BoxEvent = serde_json::from_value(
            serde_json::json!({"event_id": "ev2", "created_at": "2026-02-03T04:05:06Z"}),
        )
        .unwrap();
        assert!(login(&no_user).is_none());
    }

    #[test]
    fn only_the_counted_event_types_of_real_users_are_activity() {
        let ev = |ty: &str, by: &str| -> BoxEvent {
            serde_json::from_value(serde_json::json!({
                "event_id": format!("{ty}-{by}"), "event_type": ty,
                "created_at": "2026-02-03T04:05:06Z", "created_by": {"type": "user", "id": by}
            }))
            .unwrap()
        };
        let a = activity(&ev("UPLOAD", "11"), ActivityScope::Any).unwrap();
        assert_eq!(
            (a.user_id.as_str(), a.kind, a.evidence.event_type.as_str()),
            ("11", ActivityKind::Content, "UPLOAD")
        );
        assert_eq!(
            activity(&ev("LOGIN", "11"), ActivityScope::Logins)
                .unwrap()
                .kind,
            ActivityKind::Login
        );
        // a content event under logins-only, an admin acting as the user, a failed login, an
        // anonymous download: none is the user's activity (a filter the provider ignored)
        assert!(activity(&ev("UPLOAD", "11"), ActivityScope::Logins).is_none());
        assert!(activity(&ev("ADMIN_LOGIN", "11"), ActivityScope::Any).is_none());
        assert!(activity(&ev("FAILED_LOGIN", "11"), ActivityScope::Any).is_none());
        assert!(activity(&ev("DOWNLOAD", "2"), ActivityScope::Any).is_none());
        for ty in ACTIVITY_EVENT_TYPES {
            assert!(
                activity(&ev(ty, "11"), ActivityScope::Any).is_some(),
                "{ty}"
            );
        }
    }

    #[test]
    fn directory_users_know_admins() {
        let u = directory_user(&user(serde_json::json!({
            "id": "7", "login": "b@x.com", "status": "inactive", "role": "admin"
        })));
        assert!(u.is_admin);
        assert_eq!((u.status.as_str(), u.activity_key), ("inactive", None));
    }

    #[test]
    fn a_wrong_enterprise_is_refused_with_the_profile_named() {
        let p = profile();
        let creds = |e: &str| BoxCredentials {
            client_id: "cid".into(),
            client_secret: secrecy::SecretString::from("s".to_owned()),
            enterprise_id: e.into(),
        };
        assert!(check_enterprise(&p, &creds("12345")).is_ok());
        let e = check_enterprise(&p, &creds("999")).unwrap_err();
        assert!(matches!(e, AccessError::WrongTenant(_)));
        assert_eq!(
            e.to_string(),
            "profile acme: credentials are for enterprise 999 but the profile is enterprise 12345"
        );
    }

    #[test]
    fn ids_that_are_not_box_ids_are_refused_before_any_call() {
        let e = user_id_arg("../../users/1").unwrap_err();
        assert!(matches!(e, ProviderError::InvalidInput { .. }));
        assert!(!e.is_transient());
        assert!(e.to_string().contains("no call was made"), "{e}");
        assert_eq!(user_id_arg("42").unwrap().as_str(), "42");
    }

    /// An adapter whose client points nowhere: only for what must not call Box.
    fn offline() -> BoxDeprovisioner {
        BoxDeprovisioner::new(
            Arc::new(BoxClient::new(
                &crate::config::BoxEndpoints {
                    api_url: "http://127.0.0.1:9/2.0".parse().unwrap(),
                    token_url: "http://127.0.0.1:9/oauth2/token".parse().unwrap(),
                },
                reqwest::Client::new(),
                crate::http::RetryPolicy::default(),
            )),
            BoxCredentials {
                client_id: "cid".into(),
                client_secret: secrecy::SecretString::from("s".to_owned()),
                enterprise_id: "12345".into(),
            },
            profile(),
        )
    }

    #[tokio::test]
    async fn crafted_ids_are_refused_without_a_call() {
        let d = offline();
        let stats = ApiStats::default();
        let t = d.check_target("1/../2", &stats).await.unwrap();
        assert!(matches!(
            t,
            TargetCheck::Refused(Refusal {
                code: "bad_transfer_target",
                ..
            })
        ));
        let e = d.remove("..", "99", &stats).await.unwrap_err();
        assert!(matches!(e, ProviderError::InvalidInput { .. }));
        let e = d.transfer("11", "x", &stats).await.unwrap_err();
        assert!(matches!(e, ProviderError::InvalidInput { .. }));
        assert_eq!(stats.snapshot().api_calls, 0);
    }

    #[test]
    fn plans_and_announcements_name_the_calls() {
        let d = offline();
        let u = DirectoryUser {
            user_id: "11".into(),
            login: "a@x.com".into(),
            status: "active".into(),
            is_admin: false,
            created_at: None,
            activity_key: None,
        };
        let plan = d.plan(&u, "99");
        assert!(
            plan.contains("PUT /users/11/folders/0") && plan.contains("admin 99"),
            "{plan}"
        );
        assert_eq!(
            d.announce_transfer("11", "99"),
            "PUT /users/11/folders/0 owned_by 99"
        );
        assert_eq!(
            d.announce_removal("11", "99"),
            "DELETE /users/11 (force=false)"
        );
        assert!(d.transfers_separately());
        let r = d.transfer_target().unwrap_err();
        assert_eq!(r.code, "no_transfer_target");
        assert!(
            r.reason.contains("seatctl rules set acme --transfer-to"),
            "{}",
            r.reason
        );
    }
}
