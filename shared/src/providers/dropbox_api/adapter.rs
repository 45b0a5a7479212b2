//! Dropbox behind the provider ports: [`DropboxDirectory`] reads with the sync slot
//! (`members.read`, `events.read`, `team_info.read`); [`DropboxDeprovisioner`] removes with the
//! reclaim slot (`members.delete`), the files transferred to the admin who connected it, and
//! re-reads with the sync slot. Ids from a request are parsed into [`DropboxTeamMemberId`]s
//! here, before any call.
use std::sync::{Arc, OnceLock};

use futures::{Stream, StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};

use super::client::{
    DevicesCursor, DropboxClient, EventFilter, EventsCursor, EventsWindow, MemberAccessRoute,
    CONTENT_CATEGORIES, LOGIN_EVENT_TYPE,
};
use super::model::{AsyncJob, LoginEvent, MemberDevices, TeamInfo, TeamLogPage, TeamMemberInfoV2};
use crate::domain::{
    ActivityEvent, ActivityKind, ActivityPage, ActivityScope, DropboxTeamMemberId, LoginEvidence,
    ObservedSeat, Profile,
};
use crate::http::{ApiStats, ErrorCode, PageStep, ProviderError};
use crate::ports::provider::{
    AccessChange, AccessError, AccessOutcome, Deprovisioner, Directory, DirectoryUser, JobState,
    PurchasedSeats, Refusal, Removal, RosterPage, TargetCheck, Transferred, Window,
};
use crate::providers::resume::{position, refused, token_after};
use crate::providers::{id_arg, newest_in, newest_of, roster_of, secs};
use crate::secrets::DropboxCredentials;

const PROVIDER: &str = "dropbox";

/// The activity stream's checkpoint name (logins only).
pub const EVENTS_STREAM: &str = "dropbox_team_log_logins";
/// The checkpoint name of logins, file operations and sharing (`activity: any`).
pub const ACTIVITY_STREAM: &str = "dropbox_team_log_activity";
/// Event ids remembered for de-duplication: two team_log pages.
pub const DEDUP_WINDOW: usize = 2000;
/// The license type of a full seat (`membership_type`); `team/get_info` counts these.
pub const FULL_LICENSE: &str = "full";

/// Member statuses that hold a license (a suspended account keeps its seat).
const SEAT_STATUSES: &[&str] = &["active", "invited", "suspended"];
/// The status of a member who left (listed only with `include_removed`).
const REMOVED: &str = "removed";

/// Reads one Dropbox team with the profile's sync slot.
#[derive(Debug)]
pub struct DropboxDirectory {
    client: Arc<DropboxClient>,
    sync: DropboxCredentials,
    profile: Profile,
    /// `team/get_info` as read by Application Access, reused for purchased seats so a sync
    /// makes the call once.
    team: OnceLock<TeamInfo>,
}

impl DropboxDirectory {
    pub fn new(client: Arc<DropboxClient>, sync: DropboxCredentials, profile: Profile) -> Self {
        Self {
            client,
            sync,
            profile,
            team: OnceLock::new(),
        }
    }

    async fn team_info(&self, stats: &ApiStats) -> Result<TeamInfo, ProviderError> {
        if let Some(info) = self.team.get() {
            return Ok(info.clone());
        }
        let info = self.client.team_info(&self.sync, stats).await?;
        // a concurrent first read may have won: either answer is as fresh
        let _ = self.team.set(info.clone());
        Ok(info)
    }
}

impl Directory for DropboxDirectory {
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
        if self.sync.refresh_token.is_none() {
            return Err(AccessError::NotConnected(format!(
                "profile {id}: the Dropbox sync slot is not connected: seatctl connect dropbox --profile {id} --slot sync",
                id = self.profile.id
            )));
        }
        let fetched = self.client.authenticate(&self.sync, stats).await?;
        let info = self.team_info(stats).await?;
        check_team(&self.profile, &self.sync, &info)?;
        Ok(format!(
            "team {} ({}); {} access token",
            info.name,
            info.team_id,
            if fetched { "new" } else { "cached" }
        ))
    }

    fn describe_activity(&self, window: Window, scope: ActivityScope) -> String {
        let what = match scope {
            ActivityScope::Logins => format!("team_log {LOGIN_EVENT_TYPE}"),
            ActivityScope::Any => format!(
                "team_log {LOGIN_EVENT_TYPE} and categories {}, and device sessions",
                CONTENT_CATEGORIES.join(", ")
            ),
        };
        format!("{what} from {} to {}", secs(window.start), secs(window.end))
    }

    /// Logins (one `event_type` read); with `any`, each content category (one `category` read
    /// each, as Dropbox takes one filter) and every member's device sessions.
    fn activity<'a>(
        &'a self,
        window: Window,
        scope: ActivityScope,
        from: Option<String>,
        stats: &'a ApiStats,
    ) -> impl Stream<Item = Result<ActivityPage, ProviderError>> + 'a {
        self.activity_of(window, scope, None, from, stats)
    }

    fn roster<'a>(
        &'a self,
        from: Option<String>,
        stats: &'a ApiStats,
    ) -> impl Stream<Item = Result<RosterPage, ProviderError>> + 'a {
        let cursor = match position::<MembersAt>(PROVIDER, MEMBERS_READ, from) {
            Ok(at) => at.map(|at| at.cursor),
            Err(e) => return refused(e).left_stream(),
        };
        self.client
            .members(&self.sync, cursor, stats)
            .map(move |step| {
                let step = step?;
                let next = step.next.map(|cursor| MembersAt { cursor });
                Ok(RosterPage {
                    resume: token_after(PROVIDER, MEMBERS_READ, next)?,
                    ..roster_page(&self.profile, &step.page)
                })
            })
            .right_stream()
    }

    /// Dropbox knows what was purchased (`num_licensed_users`, full seats).
    async fn purchased_seats(
        &self,
        stats: &ApiStats,
    ) -> Result<Vec<PurchasedSeats>, ProviderError> {
        let info = self.team_info(stats).await?;
        Ok(vec![PurchasedSeats {
            license_type: FULL_LICENSE.to_owned(),
            purchased: info.num_licensed_users,
        }])
    }

    async fn user(
        &self,
        user_id: &str,
        stats: &ApiStats,
    ) -> Result<Option<DirectoryUser>, ProviderError> {
        let id = member_id_arg(user_id)?;
        let member = self.client.member_info(&self.sync, &id, stats).await?;
        Ok(member
            .filter(|m| m.profile.status.tag != REMOVED)
            .map(|m| directory_user(&m)))
    }

    /// Events filtered by account at Dropbox (a member without an account id has none to
    /// read); with `any`, also the member's own device sessions (`list_member_devices`).
    async fn user_activity(
        &self,
        user: &DirectoryUser,
        window: Window,
        scope: ActivityScope,
        stats: &ApiStats,
    ) -> Result<Option<LoginEvidence>, ProviderError> {
        let events = match user.activity_key.as_deref() {
            Some(account) => {
                newest_of(
                    self.activity_of(window, scope, Some(account), None, stats),
                    &user.user_id,
                    scope,
                )
                .await?
            }
            None => None,
        };
        if scope == ActivityScope::Logins {
            return Ok(events);
        }
        let sessions = self
            .client
            .member_devices(&self.sync, &user.user_id, stats)
            .await?
            .map(|m| session_events(&m))
            .unwrap_or_default();
        let newest = newest_in(&sessions, &user.user_id, scope);
        Ok(LoginEvidence::newest(events.as_ref(), newest.as_ref()).cloned())
    }
}

/// Removes Dropbox members with the reclaim slot (files to its admin); polls its jobs.
#[derive(Debug)]
pub struct DropboxDeprovisioner {
    client: Arc<DropboxClient>,
    reclaim: DropboxCredentials,
    /// Reads the transfer admin's roles (`members/get_info_v2` needs `members.read`, a scope
    /// of the sync app). Boxed: keeps the adapter enum's variants of similar size.
    sync: Box<DropboxCredentials>,
    profile: Profile,
}

impl DropboxDeprovisioner {
    /// Both slots must be connected: the reclaim slot acts, and the sync slot (kept by the
    /// profile's [`DropboxDirectory`]) re-reads the member first.
    pub fn new(
        client: Arc<DropboxClient>,
        reclaim: DropboxCredentials,
        sync: DropboxCredentials,
        profile: Profile,
    ) -> Result<Self, AccessError> {
        if reclaim.refresh_token.is_none() || sync.refresh_token.is_none() {
            return Err(AccessError::NotConnected(format!(
                "both Dropbox slots must be connected: seatctl connect dropbox --profile {} --slot sync|reclaim",
                profile.id
            )));
        }
        // both slots must read the same team (the team is pinned on the profile at connect)
        if let (Some(a), Some(b)) = (&reclaim.team_id, &sync.team_id) {
            if a != b {
                return Err(AccessError::WrongTenant(format!(
                    "the sync slot of profile {} reads team {b} but the reclaim slot acts on team {a}: connect both slots as admins of the same team (seatctl connect dropbox --profile {} --slot reclaim)",
                    profile.id, profile.id
                )));
            }
        }
        Ok(Self {
            client,
            reclaim,
            sync: Box::new(sync),
            profile,
        })
    }

    fn reconnect(&self, why: String) -> TargetCheck {
        TargetCheck::Refused(Refusal {
            code: "transfer_admin_not_team_admin",
            reason: format!(
                "{why}; nothing was changed. Connect the reclaim slot again as an active Team admin (seatctl connect dropbox --profile {} --slot reclaim), then request again.",
                self.profile.id
            ),
        })
    }
}

impl Deprovisioner for DropboxDeprovisioner {
    /// The admin who authorized the reclaim slot receives the files.
    fn transfer_target(&self) -> Result<String, Refusal> {
        self.reclaim
            .admin_team_member_id
            .clone()
            .ok_or_else(|| Refusal {
                code: "reclaim_slot_not_connected",
                reason: "the reclaim slot records no admin: connect it again".into(),
            })
    }

    /// The target must still be the admin behind the reclaim slot
    /// (`team/token/get_authenticated_admin` with the reclaim slot: Dropbox answers
    /// `admin_not_active` for an admin who left or was demoted), an active member, and hold the
    /// **Team admin** role (`members/get_info_v2`). Otherwise the request fails safe before
    /// anything moves, with a sentence that says to reconnect the reclaim slot.
    async fn check_target(
        &self,
        target: &str,
        stats: &ApiStats,
    ) -> Result<TargetCheck, ProviderError> {
        let id = match DropboxTeamMemberId::parse(target) {
            Ok(id) => id,
            Err(e) => {
                return Ok(TargetCheck::Refused(Refusal {
                    code: "bad_transfer_target",
                    reason: format!(
                        "the reclaim slot's admin is not a Dropbox team member id: {e}; connect the reclaim slot again (seatctl connect dropbox --profile {} --slot reclaim)",
                        self.profile.id
                    ),
                }))
            }
        };
        let admin = match self.client.slot_admin(&self.reclaim, stats).await {
            Ok(a) => a,
            Err(ProviderError::Api {
                status: 409, code, ..
            }) => {
                return Ok(self.reconnect(format!(
                    "Dropbox no longer accepts the admin who connected the reclaim slot ({target}) as an active team admin ({code})"
                )))
            }
            Err(e) => return Err(e),
        };
        let p = &admin.admin_profile;
        if p.team_member_id != target {
            return Ok(self.reconnect(format!(
                "the reclaim slot now acts as {} ({}), not as the recorded transfer admin {target}",
                p.email, p.team_member_id
            )));
        }
        if p.status.tag != "active" {
            return Ok(self.reconnect(format!(
                "the transfer admin {} is {}, not active",
                p.email, p.status.tag
            )));
        }
        let member = self.client.member_info(&self.sync, &id, stats).await?;
        let team_admin = member.as_ref().is_some_and(|m| {
            m.roles
                .iter()
                .flatten()
                .any(|r| r.name.eq_ignore_ascii_case("Team admin"))
        });
        if !team_admin {
            return Ok(self.reconnect(format!(
                "the transfer admin {} no longer holds the Team admin role",
                p.email
            )));
        }
        Ok(TargetCheck::Ok)
    }

    fn transfers_separately(&self) -> bool {
        false
    }

    fn plan(&self, user: &DirectoryUser, target: &str) -> String {
        format!(
            "remove {} ({}) from the team with team/members/remove, transferring their files to admin {target} (keep_account=false, wipe_data=false)",
            user.login, user.user_id
        )
    }

    /// The files move inside `members/remove`: the transfer is announced with the removal.
    fn announce_transfer(&self, user_id: &str, target: &str) -> String {
        self.announce_removal(user_id, target)
    }

    fn announce_removal(&self, user_id: &str, target: &str) -> String {
        format!(
            "team/members/remove {user_id} transfer_dest_id=transfer_admin_id={target} keep_account=false wipe_data=false"
        )
    }

    /// Dropbox has no separate transfer ([`Deprovisioner::transfers_separately`] is false).
    async fn transfer(
        &self,
        _user_id: &str,
        _target: &str,
        _stats: &ApiStats,
    ) -> Result<Transferred, ProviderError> {
        Err(ProviderError::InvalidInput {
            provider: PROVIDER,
            message: "Dropbox moves a member's files within team/members/remove; there is no separate transfer".into(),
        })
    }

    async fn remove(
        &self,
        user_id: &str,
        target: &str,
        stats: &ApiStats,
    ) -> Result<Removal, ProviderError> {
        let (user, to) = (member_id_arg(user_id)?, member_id_arg(target)?);
        let r = self
            .client
            .remove_member(&self.reclaim, &user, &to, stats)
            .await;
        removal(r, target)
    }

    fn announce_access(&self, user_id: &str, change: AccessChange) -> String {
        match change {
            AccessChange::Suspend => {
                format!("team/members/suspend {user_id} wipe_data=false")
            }
            AccessChange::Unsuspend => format!("team/members/unsuspend {user_id}"),
            AccessChange::Recover => format!("team/members/recover {user_id}"),
        }
    }

    /// A refusal that may be a repeat (the member already suspended, unsuspended or back) is
    /// checked against the member as Dropbox lists them now.
    async fn set_access(
        &self,
        user_id: &str,
        change: AccessChange,
        stats: &ApiStats,
    ) -> Result<AccessOutcome, ProviderError> {
        let id = member_id_arg(user_id)?;
        let (route, wanted) = match change {
            AccessChange::Suspend => (MemberAccessRoute::Suspend, "suspended"),
            AccessChange::Unsuspend => (MemberAccessRoute::Unsuspend, "active"),
            AccessChange::Recover => (MemberAccessRoute::Recover, "active"),
        };
        let name = route.route();
        match self
            .client
            .member_access(&self.reclaim, route, &id, stats)
            .await
        {
            Ok(request_id) => Ok(AccessOutcome::Done {
                detail: match change {
                    AccessChange::Suspend => format!(
                        "member {user_id} suspended ({name}, wipe_data=false): files and devices kept, the license still in use"
                    ),
                    AccessChange::Unsuspend => format!("member {user_id} unsuspended ({name})"),
                    AccessChange::Recover => format!(
                        "member {user_id} recovered ({name}): the account is back in the team and uses a license again"
                    ),
                },
                already: false,
                request_id,
            }),
            Err(ProviderError::Api {
                status: 409,
                code,
                request_id,
                ..
            }) => {
                let now = self.client.member_info(&self.sync, &id, stats).await?;
                let status = now.as_ref().map(|m| m.profile.status.tag.clone());
                if status.as_deref() == Some(wanted) {
                    return Ok(AccessOutcome::Done {
                        detail: format!("member {user_id} is already {wanted} ({name} answered {code})"),
                        already: true,
                        request_id,
                    });
                }
                let tag = code.to_string();
                Ok(AccessOutcome::Refused(Refusal {
                    code: match tag.as_str() {
                        "user_unrecoverable" => "user_unrecoverable",
                        "team_license_limit" => "team_license_limit",
                        "user_not_in_team" => "user_not_in_team",
                        "user_not_found" => "user_not_found",
                        "suspend_last_admin" => "suspend_last_admin",
                        "suspend_inactive_user" => "suspend_inactive_user",
                        "unsuspend_non_suspended_member" => "unsuspend_non_suspended_member",
                        _ => "access_refused",
                    },
                    reason: format!(
                        "Dropbox refused {name} for {user_id}: {tag} (member status now {})",
                        status.as_deref().unwrap_or("unknown")
                    ),
                }))
            }
            Err(e) => Err(e),
        }
    }

    async fn poll(&self, job_id: &str, stats: &ApiStats) -> Result<JobState, ProviderError> {
        job_state(
            self.client
                .remove_job_status(&self.reclaim, job_id, stats)
                .await,
        )
    }
}

/// What a `members/remove` answer means for the seat.
fn removal(
    r: Result<(AsyncJob, Option<String>), ProviderError>,
    target: &str,
) -> Result<Removal, ProviderError> {
    match r {
        Ok((AsyncJob::Complete, request_id)) => Ok(Removal::Done {
            detail: format!("member removed; files transferred to {target}"),
            already_gone: false,
            request_id,
        }),
        Ok((AsyncJob::AsyncJobId { async_job_id }, request_id)) => Ok(Removal::Job {
            job_id: async_job_id,
            request_id,
        }),
        Ok((AsyncJob::InProgress, _)) => Ok(Removal::Busy(
            "members/remove answered in_progress without a job id".into(),
        )),
        // the member is already gone: the removal happened (an earlier delivery, or by hand)
        Err(ProviderError::Api {
            status: 409,
            code: code @ (ErrorCode::UserNotInTeam | ErrorCode::UserNotFound),
            request_id,
            ..
        }) => Ok(Removal::Done {
            detail: format!("the member is already removed ({code})"),
            already_gone: true,
            request_id,
        }),
        Err(ProviderError::Api {
            status: 409,
            code: ErrorCode::TransferInProgress,
            ..
        }) => Ok(Removal::Busy(
            "a removal with transfer is still running at Dropbox".into(),
        )),
        Err(e) => Err(e),
    }
}

/// What a job poll answer means; a forgotten job is for the caller to resolve by re-reading.
fn job_state(r: Result<AsyncJob, ProviderError>) -> Result<JobState, ProviderError> {
    match r {
        Ok(AsyncJob::Complete) => Ok(JobState::Complete),
        Ok(AsyncJob::InProgress | AsyncJob::AsyncJobId { .. }) => Ok(JobState::InProgress),
        Err(ProviderError::Api {
            status: 409,
            code: ErrorCode::InvalidAsyncJobId,
            ..
        }) => Ok(JobState::Unknown),
        Err(e) => Err(e),
    }
}

/// A member id from a request or a slot, refused before any call unless it can be one.
fn member_id_arg(id: &str) -> Result<DropboxTeamMemberId, ProviderError> {
    id_arg(PROVIDER, DropboxTeamMemberId::parse(id))
}

/// The token must still read the team the slot was connected to: a mix-up would sync another
/// customer's team.
fn check_team(
    profile: &Profile,
    creds: &DropboxCredentials,
    info: &TeamInfo,
) -> Result<(), AccessError> {
    match &creds.team_id {
        Some(expected) if expected != &info.team_id => Err(AccessError::WrongTenant(format!(
            "profile {}: connected to team {expected} but the token now reads team {}",
            profile.id, info.team_id
        ))),
        _ => Ok(()),
    }
}

fn events_window(w: Window) -> EventsWindow {
    EventsWindow {
        start: w.start,
        end: w.end,
    }
}

impl DropboxDirectory {
    /// The team_log reads of a scope (for one account, or the team) and, for the whole team
    /// with `any`, the device sessions: its [`Stage`]s one after the other, from where `from`
    /// (a page's resume token) says on.
    fn activity_of<'a>(
        &'a self,
        window: Window,
        scope: ActivityScope,
        account: Option<&'a str>,
        from: Option<String>,
        stats: &'a ApiStats,
    ) -> impl Stream<Item = Result<ActivityPage, ProviderError>> + 'a {
        let stages = stages(scope, account);
        let start = match activity_at(from, &stages) {
            Ok(at) => at,
            Err(e) => return refused(e).left_stream(),
        };
        let last = stages.len().saturating_sub(1);
        let w = events_window(window);
        // only the stage the token points into starts at its cursor; later ones start afresh
        let mut cursor = start.cursor;
        futures::stream::iter(stages.into_iter().enumerate().skip(start.stage))
            .map(move |(i, stage)| {
                self.stage_pages(w, stage, account, cursor.take(), stats)
                    .map(move |step| {
                        let step = step?;
                        Ok(ActivityPage {
                            resume: stage_resume(i, last, step.next)?,
                            ..step.page
                        })
                    })
            })
            .flatten()
            .right_stream()
    }

    /// The pages of one stage, each with where the stage goes on after it.
    fn stage_pages<'a>(
        &'a self,
        w: EventsWindow,
        stage: Stage,
        account: Option<&'a str>,
        from: Option<StageCursor>,
        stats: &'a ApiStats,
    ) -> impl Stream<Item = Result<PageStep<ActivityPage, StageCursor>, ProviderError>> + 'a {
        let (filter, category) = match stage {
            Stage::Devices => {
                let from = match from {
                    Some(StageCursor::Devices(c)) => Some(c),
                    _ => None,
                };
                return self
                    .client
                    .members_devices(&self.sync, from, stats)
                    .map_ok(|step| PageStep {
                        page: ActivityPage::of(step.page.iter().flat_map(session_events).collect()),
                        next: step.next.map(StageCursor::Devices),
                    })
                    .left_stream();
            }
            Stage::Logins => (EventFilter::EventType(LOGIN_EVENT_TYPE), None),
            Stage::Content(c) => (EventFilter::Category(c), Some(c)),
        };
        let from = match from {
            Some(StageCursor::Events(c)) => Some(c),
            _ => None,
        };
        self.client
            .team_events(&self.sync, w, filter, account, from, stats)
            .map_ok(move |step| PageStep {
                page: activity_page(step.page, category),
                next: step.next.map(StageCursor::Events),
            })
            .right_stream()
    }
}

/// One sub-read of an activity read, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// `login_success` events.
    Logins,
    /// One content category's events (Dropbox takes one filter per read).
    Content(&'static str),
    /// Every member's device sessions (team reads with `any` only).
    Devices,
}

/// The stages of a scope's read, for one account or (`None`) the whole team.
fn stages(scope: ActivityScope, account: Option<&str>) -> Vec<Stage> {
    let mut stages = vec![Stage::Logins];
    if scope == ActivityScope::Any {
        stages.extend(CONTENT_CATEGORIES.iter().map(|&c| Stage::Content(c)));
        if account.is_none() {
            stages.push(Stage::Devices);
        }
    }
    stages
}

/// The activity resume token's read: `{"v":1,"read":"dropbox_activity","at":{"stage":N}}` (the
/// start of stage N) or `...{"stage":N,"cursor":{"events":{"continue":{"cursor":"…",
/// "restarts":0}}}}` / `{"events":{"from":{"start":"…","restarts":1}}}` /
/// `{"devices":{"cursor":"…","restarts":0}}` (within it). Stages count from 0 in the order
/// [`stages`] gives for the read's scope.
const ACTIVITY_READ: &str = "dropbox_activity";
/// The roster resume token's read: `{"v":1,"read":"dropbox_members","at":{"cursor":"…"}}`.
const MEMBERS_READ: &str = "dropbox_members";

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct MembersAt {
    cursor: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ActivityAt {
    stage: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cursor: Option<StageCursor>,
}

/// Where a stage goes on: its team_log or devices cursor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
enum StageCursor {
    Events(EventsCursor),
    Devices(DevicesCursor),
}

/// Where `from` says the read goes on (the start without one), if it names a stage of this
/// read and a cursor of that stage's kind.
fn activity_at(from: Option<String>, stages: &[Stage]) -> Result<ActivityAt, ProviderError> {
    let Some(at) = position::<ActivityAt>(PROVIDER, ACTIVITY_READ, from)? else {
        return Ok(ActivityAt::default());
    };
    let fits = match (stages.get(at.stage), &at.cursor) {
        (None, _) => false,
        (Some(_), None) => true,
        (Some(Stage::Devices), Some(c)) => matches!(c, StageCursor::Devices(_)),
        (Some(_), Some(c)) => matches!(c, StageCursor::Events(_)),
    };
    if fits {
        return Ok(at);
    }
    Err(ProviderError::InvalidInput {
        provider: PROVIDER,
        message: format!(
            "bad resume token for {ACTIVITY_READ}: {at:?} is not a position of this read's {} stages",
            stages.len()
        ),
    })
}

/// The token after a page of stage `i`: within the stage while it goes on, then the start of
/// the next stage; none after the last page of the last stage.
fn stage_resume(
    i: usize,
    last: usize,
    next: Option<StageCursor>,
) -> Result<Option<String>, ProviderError> {
    let at = match next {
        Some(c) => Some(ActivityAt {
            stage: i,
            cursor: Some(c),
        }),
        None if i < last => Some(ActivityAt {
            stage: i + 1,
            cursor: None,
        }),
        None => None,
    };
    token_after(PROVIDER, ACTIVITY_READ, at)
}

/// A team_log page as activity: with no category, the `login_success` events; with one, the
/// events of that category a member did themselves (`actor` is `user`, not an admin acting).
/// Both are checked here, whatever filter Dropbox applied.
pub(crate) fn activity_page(p: TeamLogPage, category: Option<&str>) -> ActivityPage {
    let events = p
        .events
        .into_iter()
        .filter_map(|e| {
            let kind = match category {
                None if e.event_type == LOGIN_EVENT_TYPE => ActivityKind::Login,
                Some(c)
                    if e.category.as_deref() == Some(c) && e.actor.as_deref() == Some("user") =>
                {
                    ActivityKind::Content
                }
                _ => return None,
            };
            let (user, evidence) = login(e);
            Some(ActivityEvent::new(user, kind, evidence))
        })
        .collect();
    ActivityPage {
        events,
        gap_until: p.reset_to,
        resume: None,
    }
}

/// A member's device sessions with a last activity, as activity records (the session id is
/// the evidence; its kind names the client).
pub(crate) fn session_events(m: &MemberDevices) -> Vec<ActivityEvent> {
    let kinds = [
        ("web_session", &m.web_sessions),
        ("desktop_client session", &m.desktop_clients),
        ("mobile_client session", &m.mobile_clients),
    ];
    kinds
        .into_iter()
        .flat_map(|(label, sessions)| {
            sessions.iter().flatten().filter_map(move |s| {
                Some(ActivityEvent::new(
                    m.team_member_id.clone(),
                    ActivityKind::Session,
                    LoginEvidence {
                        at: s.updated?,
                        event_id: s.session_id.clone(),
                        event_type: label.to_owned(),
                    },
                ))
            })
        })
        .collect()
}

/// A team_log login as (team member id, evidence).
pub(crate) fn login(e: LoginEvent) -> (String, LoginEvidence) {
    let evidence = LoginEvidence {
        at: e.at,
        event_id: e.id,
        event_type: e.event_type,
    };
    (e.team_member_id, evidence)
}

fn roster_page(profile: &Profile, page: &[TeamMemberInfoV2]) -> RosterPage {
    roster_of(page, |m| observe(profile, m))
}

/// Roles mirror the old AdminTier, which includes "member only": admin means an admin role
/// (Team admin, User management admin, Support admin, Billing admin, …).
fn is_admin(m: &TeamMemberInfoV2) -> bool {
    m.roles
        .iter()
        .flatten()
        .any(|r| r.name.to_ascii_lowercase().contains("admin"))
}

/// A member as a seat. Active, invited and suspended members hold a license; removed members
/// (only listed with include_removed) do not. A status tag seatkeeper does not know (Stone's
/// union may grow) is kept as a seat with status `unknown:<tag>`: counted, never a candidate.
pub(crate) fn observe(profile: &Profile, m: &TeamMemberInfoV2) -> Option<ObservedSeat> {
    let p = &m.profile;
    if p.status.tag == REMOVED {
        return None;
    }
    let roles: Vec<&str> = m.roles.iter().flatten().map(|r| r.name.as_str()).collect();
    let license_type = p.membership_type.tag.clone();
    Some(ObservedSeat {
        user_id: p.team_member_id.clone(),
        login: p.email.clone(),
        name: p.name.display_name.clone(),
        status: member_status(&p.status.tag),
        is_admin: is_admin(m),
        role: if roles.is_empty() {
            "member_only".into()
        } else {
            roles.join(", ")
        },
        license_managed: profile.manages(&license_type),
        license_type,
        created_at: p.joined_on.or(p.invited_on),
    })
}

/// The stored status: a known tag, or `unknown:<tag>`.
fn member_status(tag: &str) -> String {
    crate::domain::rules::status_or_unknown(tag, SEAT_STATUSES)
}

fn directory_user(m: &TeamMemberInfoV2) -> DirectoryUser {
    let p = &m.profile;
    DirectoryUser {
        user_id: p.team_member_id.clone(),
        login: p.email.clone(),
        status: member_status(&p.status.tag),
        is_admin: is_admin(m),
        created_at: p.joined_on.or(p.invited_on),
        // team_log filters by account id, not by team member id
        activity_key: p.account_id.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn profile() -> Profile {
        Profile::new_dropbox("team-a", "Team A", "2026-01-01T00:00:00Z".parse().unwrap()).unwrap()
    }

    fn member(status: &str, membership: &str, roles: serde_json::Value) -> TeamMemberInfoV2 {
        serde_json::from_value(json!({
            "profile": {
                "team_member_id": "dbmid:AAx", "account_id": "dbid:AAy", "email": "m@x.com",
                "status": {".tag": status}, "name": {"display_name": "M"},
                "membership_type": {".tag": membership},
                "invited_on": "2025-01-01T00:00:00Z", "joined_on": "2025-01-02T00:00:00Z"
            },
            "roles": roles
        }))
        .unwrap()
    }

    fn creds(refresh: Option<&str>, team: Option<&str>) -> DropboxCredentials {
        DropboxCredentials {
            app_key: "k".into(),
            app_secret: secrecy::SecretString::from("s".to_owned()),
            refresh_token: refresh.map(|r| secrecy::SecretString::from(r.to_owned())),
            team_id: team.map(str::to_owned),
            team_name: None,
            admin_team_member_id: Some("dbmid:ADMIN".into()),
            admin_email: None,
            connected_at: None,
        }
    }

    fn api(status: u16, code: ErrorCode) -> ProviderError {
        ProviderError::Api {
            provider: PROVIDER,
            status,
            code,
            message: String::new(),
            request_id: Some("rid".into()),
        }
    }

    #[test]
    fn activity_tokens_walk_the_stages_and_refuse_positions_the_read_has_not() {
        let any = stages(ActivityScope::Any, None);
        assert_eq!(
            any,
            vec![
                Stage::Logins,
                Stage::Content("file_operations"),
                Stage::Content("sharing"),
                Stage::Devices
            ]
        );
        assert_eq!(stages(ActivityScope::Any, Some("dbid:x")).len(), 3);
        let logins = stages(ActivityScope::Logins, None);
        assert_eq!(logins, vec![Stage::Logins]);

        let cursor = StageCursor::Events(EventsCursor::Continue {
            cursor: "c".into(),
            restarts: 2,
        });
        let within = stage_resume(1, 3, Some(cursor.clone())).unwrap().unwrap();
        let at = activity_at(Some(within), &any).unwrap();
        assert_eq!((at.stage, at.cursor), (1, Some(cursor.clone())));
        // a stage's last page points at the start of the next; the last stage's at nothing
        let next = stage_resume(2, 3, None).unwrap().unwrap();
        assert_eq!(
            next,
            r#"{"v":1,"read":"dropbox_activity","at":{"stage":3}}"#
        );
        assert_eq!(stage_resume(3, 3, None).unwrap(), None);
        assert_eq!(activity_at(None, &any).unwrap().stage, 0);

        let events_at_devices = stage_resume(3, 3, Some(cursor)).unwrap();
        for (token, read) in [(Some(next), &logins), (events_at_devices, &any)] {
            let e = activity_at(token, read).unwrap_err();
            assert!(matches!(e, ProviderError::InvalidInput { .. }), "{e}");
        }
    }

    #[test]
    fn members_become_seats_and_removed_ones_do_not() {
        let p = profile();
        let admin = member(
            "active",
            "full",
            json!([{"role_id": "pid_dbtmr:1", "name": "Team admin"}]),
        );
        let s = observe(&p, &admin).unwrap();
        assert_eq!(
            (s.user_id.as_str(), s.login.as_str()),
            ("dbmid:AAx", "m@x.com")
        );
        assert!(s.is_admin && s.license_managed);
        assert_eq!(s.role, "Team admin");
        assert_eq!(s.created_at, Some("2025-01-02T00:00:00Z".parse().unwrap()));

        let limited = member("suspended", "limited", json!(null));
        let s = observe(&p, &limited).unwrap();
        assert_eq!((s.role.as_str(), s.is_admin), ("member_only", false));
        assert!(!s.license_managed, "a Dropbox profile manages full seats");

        let page = vec![admin, member("removed", "full", json!([]))];
        let r = roster_page(&p, &page);
        assert_eq!((r.seats.len(), r.not_seats), (1, 1));
    }

    #[test]
    fn an_unknown_status_is_kept_as_a_seat_never_a_candidate() {
        let p = profile();
        let m = member("pending_activation", "full", json!([]));
        let s = observe(&p, &m).expect("still a seat");
        assert_eq!(s.status, "unknown:pending_activation");
        assert!(s.license_managed, "counted in assigned seats");
        let r = roster_page(&p, &[m]);
        assert_eq!((r.seats.len(), r.not_seats), (1, 0));
        let now = chrono::Utc::now();
        let facts = crate::domain::rules::SeatFacts {
            user_id: &s.user_id,
            login: &s.login,
            status: &s.status,
            is_admin: false,
            license_type: &s.license_type,
            created_at: Some(now - chrono::Duration::days(900)),
            first_seen_at: now - chrono::Duration::days(900),
            last_login: None,
            last_activity: None,
            observed_since: None,
            kept_until: None,
        };
        assert_eq!(
            crate::domain::rules::evaluate(
                &facts,
                &crate::domain::ReclaimRules::default(),
                true,
                None,
                now
            ),
            crate::domain::rules::Verdict::Exempt(crate::domain::rules::Exemption::UnknownStatus)
        );
    }

    #[test]
    fn a_page_without_its_members_list_is_malformed_not_empty() {
        let e = serde_json::from_str::<crate::providers::dropbox_api::model::MembersListV2Result>(
            r#"{"cursor":"c","has_more":false}"#,
        )
        .unwrap_err();
        assert!(e.to_string().contains("members"), "{e}");
    }

    #[test]
    fn directory_users_carry_the_account_id_for_the_activity_filter() {
        let u = directory_user(&member("active", "full", json!([])));
        assert_eq!(u.activity_key.as_deref(), Some("dbid:AAy"));
        assert!(!u.is_admin);
    }

    #[test]
    fn logins_become_evidence() {
        let (user, ev) = login(LoginEvent {
            id: "dbx-1".into(),
            team_member_id: "dbmid:J".into(),
            at: "2026-02-03T04:05:06Z".parse().unwrap(),
            event_type: "login_success".into(),
            category: Some("logins".into()),
            actor: Some("user".into()),
        });
        assert_eq!(user, "dbmid:J");
        assert_eq!(
            (ev.event_id.as_str(), ev.event_type.as_str()),
            ("dbx-1", "login_success")
        );
    }

    #[test]
    fn activity_is_what_the_member_did_in_the_category_asked_for() {
        let ev = |ty: &str, cat: &str, actor: &str| LoginEvent {
            id: format!("{ty}-{actor}"),
            team_member_id: "dbmid:J".into(),
            at: "2026-02-03T04:05:06Z".parse().unwrap(),
            event_type: ty.into(),
            category: Some(cat.into()),
            actor: Some(actor.into()),
        };
        let page = TeamLogPage {
            events: vec![
                ev("file_add", "file_operations", "user"),
                ev("file_delete", "file_operations", "admin"),
                ev("shared_content_add_member", "sharing", "user"),
                ev("login_success", "logins", "user"),
            ],
            reset_to: None,
        };
        let p = activity_page(page.clone(), Some("file_operations"));
        assert_eq!(p.events.len(), 1);
        assert_eq!(p.events[0].kind, ActivityKind::Content);
        assert_eq!(p.events[0].evidence.event_type, "file_add");
        let p = activity_page(page, None);
        assert_eq!(p.events.len(), 1);
        assert_eq!(p.events[0].kind, ActivityKind::Login);
    }

    #[test]
    fn sessions_with_a_last_activity_are_activity() {
        let m: MemberDevices = serde_json::from_value(json!({
            "team_member_id": "dbmid:J",
            "desktop_clients": [{"session_id": "dbdsid:1", "updated": "2026-02-03T04:05:06Z",
                "host_name": "h", "client_type": {".tag": "mac"}, "client_version": "1",
                "platform": "p", "is_delete_on_unlink_supported": true}],
            "mobile_clients": [{"session_id": "dbmsid:2", "device_name": "d",
                "client_type": {".tag": "iphone"}}],
        }))
        .unwrap();
        let e = session_events(&m);
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].evidence.event_type, "desktop_client session");
        assert_eq!(e[0].evidence.event_id, "dbdsid:1");
        assert_eq!(e[0].kind, ActivityKind::Session);
    }

    #[test]
    fn removal_answers_map_to_what_happened_to_the_seat() {
        let done = removal(Ok((AsyncJob::Complete, Some("r".into()))), "dbmid:ADMIN").unwrap();
        assert!(
            matches!(done, Removal::Done { already_gone: false, ref detail, .. } if detail.contains("dbmid:ADMIN"))
        );
        let job = removal(
            Ok((
                AsyncJob::AsyncJobId {
                    async_job_id: "j1".into(),
                },
                None,
            )),
            "t",
        )
        .unwrap();
        assert_eq!(
            job,
            Removal::Job {
                job_id: "j1".into(),
                request_id: None
            }
        );
        assert!(matches!(
            removal(Ok((AsyncJob::InProgress, None)), "t").unwrap(),
            Removal::Busy(_)
        ));
        for code in [ErrorCode::UserNotInTeam, ErrorCode::UserNotFound] {
            let gone = removal(Err(api(409, code.clone())), "t").unwrap();
            assert_eq!(
                gone,
                Removal::Done {
                    detail: format!("the member is already removed ({code})"),
                    already_gone: true,
                    request_id: Some("rid".into()),
                }
            );
        }
        assert!(matches!(
            removal(Err(api(409, ErrorCode::TransferInProgress)), "t").unwrap(),
            Removal::Busy(_)
        ));
        let refused = removal(
            Err(api(409, ErrorCode::Other("remove_last_admin".into()))),
            "t",
        );
        assert!(matches!(refused, Err(ProviderError::Api { .. })));
        let cut = removal(
            Err(ProviderError::Indeterminate {
                provider: PROVIDER,
                endpoint: "team/members/remove".into(),
                cause: "cut".into(),
            }),
            "t",
        );
        assert!(matches!(cut, Err(ProviderError::Indeterminate { .. })));
    }

    #[test]
    fn job_answers_map_to_job_states() {
        assert_eq!(
            job_state(Ok(AsyncJob::Complete)).unwrap(),
            JobState::Complete
        );
        assert_eq!(
            job_state(Ok(AsyncJob::InProgress)).unwrap(),
            JobState::InProgress
        );
        assert_eq!(
            job_state(Err(api(409, ErrorCode::InvalidAsyncJobId))).unwrap(),
            JobState::Unknown
        );
        assert!(job_state(Err(api(409, ErrorCode::Other("internal_error".into())))).is_err());
    }

    #[test]
    fn a_token_for_another_team_is_refused_with_the_profile_named() {
        let p = profile();
        let info = TeamInfo {
            name: "T".into(),
            team_id: "dbtid:B".into(),
            num_licensed_users: 10,
            num_provisioned_users: 5,
            num_used_licenses: 5,
        };
        assert!(check_team(&p, &creds(Some("r"), Some("dbtid:B")), &info).is_ok());
        assert!(check_team(&p, &creds(Some("r"), None), &info).is_ok());
        let e = check_team(&p, &creds(Some("r"), Some("dbtid:A")), &info).unwrap_err();
        assert!(matches!(e, AccessError::WrongTenant(_)));
        assert_eq!(
            e.to_string(),
            "profile team-a: connected to team dbtid:A but the token now reads team dbtid:B"
        );
    }

    fn client() -> Arc<DropboxClient> {
        Arc::new(DropboxClient::new(
            &crate::config::DropboxEndpoints {
                api_url: "http://127.0.0.1:9".parse().unwrap(),
                authorize_url: "http://127.0.0.1:9/oauth2/authorize".parse().unwrap(),
                token_url: "http://127.0.0.1:9/oauth2/token".parse().unwrap(),
            },
            reqwest::Client::new(),
            crate::http::RetryPolicy::default(),
        ))
    }

    #[tokio::test]
    async fn unconnected_slots_and_crafted_ids_are_refused_without_a_call() {
        let p = profile();
        let e = DropboxDeprovisioner::new(
            client(),
            creds(None, None),
            creds(Some("r"), None),
            p.clone(),
        )
        .unwrap_err();
        assert!(matches!(e, AccessError::NotConnected(_)));
        assert!(
            e.to_string()
                .contains("seatctl connect dropbox --profile team-a --slot sync|reclaim"),
            "{e}"
        );
        let stats = ApiStats::default();
        let d = DropboxDirectory::new(client(), creds(None, None), p.clone());
        let e = d.check_access(&stats).await.unwrap_err();
        assert!(matches!(e, AccessError::NotConnected(_)));
        assert!(e.to_string().contains("seatctl connect dropbox"), "{e}");

        let dp =
            DropboxDeprovisioner::new(client(), creds(Some("r"), None), creds(Some("r"), None), p)
                .unwrap();
        assert_eq!(dp.transfer_target().unwrap(), "dbmid:ADMIN");
        let e = dp
            .remove("dbmid:a/../b", "dbmid:ADMIN", &stats)
            .await
            .unwrap_err();
        assert!(matches!(e, ProviderError::InvalidInput { .. }));
        assert!(matches!(
            dp.check_target("bad id", &stats).await.unwrap(),
            TargetCheck::Refused(Refusal {
                code: "bad_transfer_target",
                ..
            })
        ));
        assert!(!dp.transfers_separately());
        assert_eq!(stats.snapshot().api_calls, 0);

        // slots of two different teams are refused
        let e = DropboxDeprovisioner::new(
            client(),
            creds(Some("r"), Some("dbtid:A")),
            creds(Some("r"), Some("dbtid:B")),
            profile(),
        )
        .unwrap_err();
        assert!(matches!(e, AccessError::WrongTenant(_)), "{e}");
    }

    #[tokio::test]
    async fn team_info_is_read_once_and_reused_for_purchased_seats() {
        let d = DropboxDirectory::new(client(), creds(Some("r"), None), profile());
        let _ = d.team.set(TeamInfo {
            name: "T".into(),
            team_id: "dbtid:B".into(),
            num_licensed_users: 42,
            num_provisioned_users: 5,
            num_used_licenses: 5,
        });
        let stats = ApiStats::default();
        let seats = d.purchased_seats(&stats).await.unwrap();
        assert_eq!(
            seats,
            vec![PurchasedSeats {
                license_type: "full".into(),
                purchased: 42
            }]
        );
        assert_eq!(stats.snapshot().api_calls, 0);
    }
}
