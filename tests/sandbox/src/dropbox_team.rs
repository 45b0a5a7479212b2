//! The Dropbox team the sandbox serves: members, `team_log` login events, the two team-linked
//! apps (sync and reclaim), authorization codes, access and refresh tokens.
//!
//! A team is generated deterministically from a [`DropboxTeamSpec`] (same seed, size and `now`
//! give the same members and events), then mutated by tests through [`DropboxTeamHandle`].

use std::collections::HashMap;
use std::sync::{Arc, MutexGuard};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use rand::rngs::{SmallRng, StdRng};
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::generate::{
    between, each_login, from_secs, insert_event, joined, last_login, now_secs, random_ip,
    sequence, People, Timed, DAY,
};
use crate::util::{b64url_encode, mix64, random_token, Shared, B64_URL};

/// How long an authorization code can be exchanged.
pub(crate) const CODE_TTL: Duration = Duration::from_secs(600);
/// Raw events one `get_events` / `continue` call looks at before it answers (possibly with
/// fewer than `limit` events, or none, and `has_more: true`), by default.
pub const DEFAULT_EVENTS_SCAN_BUDGET: usize = 5_000;

/// The scopes of seatkeeper's sync app.
pub const SYNC_APP_SCOPES: &[&str] = &[
    "members.read",
    "team_data.member",
    "events.read",
    "team_info.read",
    "sessions.list",
];
/// The scopes of seatkeeper's reclaim app.
pub const RECLAIM_APP_SCOPES: &[&str] = &[
    "team_info.read",
    "members.write",
    "members.delete",
    "team_data.member",
];

/// A team-linked Dropbox app as registered in the App Console.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DropboxApp {
    /// The app key (OAuth `client_id`).
    pub key: String,
    /// The app secret (OAuth `client_secret`).
    pub secret: String,
    /// The scopes ticked on the app's Permissions tab: what an authorize request may ask for
    /// (and what it gets when it names none).
    pub scopes: Vec<String>,
    /// The registered redirect URIs. Empty = any absolute `http`/`https` URL is accepted.
    pub redirect_uris: Vec<String>,
}

impl DropboxApp {
    fn new(key: &str, secret: &str, scopes: &[&str]) -> Self {
        DropboxApp {
            key: key.to_string(),
            secret: secret.to_string(),
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            redirect_uris: Vec::new(),
        }
    }
}

/// What to generate.
#[derive(Clone, Debug)]
pub struct DropboxTeamSpec {
    pub seed: u64,
    /// Generated members, removed ones included.
    pub members: usize,
    /// `dbtid:...`
    pub team_id: String,
    pub team_name: String,
    /// `team/get_info`'s `num_licensed_users`.
    pub num_licensed_users: u32,
    /// Scopes [`SYNC_APP_SCOPES`], key / secret `sandbox-dbx-sync` / `sandbox-dbx-sync-secret`.
    pub sync_app: DropboxApp,
    /// Scopes [`RECLAIM_APP_SCOPES`], key / secret `sandbox-dbx-reclaim` /
    /// `sandbox-dbx-reclaim-secret`.
    pub reclaim_app: DropboxApp,
    /// The reference time: every generated timestamp is before it.
    pub now: DateTime<Utc>,
}

impl DropboxTeamSpec {
    /// A team of `members` members: team id derived from the seed, name `Sandbox Team <seed>`,
    /// licenses = members + 10% (rounded up), the two apps, `now` = the current time truncated
    /// to seconds.
    pub fn new(members: usize, seed: u64) -> Self {
        let digest = Sha256::digest(format!("provider-sandbox dropbox team {seed}").as_bytes());
        let team_id = format!("dbtid:AA{}", &b64url_encode(&digest)[..41]);
        let licensed = members + members.div_ceil(10);
        DropboxTeamSpec {
            seed,
            members,
            team_id,
            team_name: format!("Sandbox Team {seed}"),
            num_licensed_users: u32::try_from(licensed).unwrap_or(u32::MAX),
            sync_app: DropboxApp::new(
                "sandbox-dbx-sync",
                "sandbox-dbx-sync-secret",
                SYNC_APP_SCOPES,
            ),
            reclaim_app: DropboxApp::new(
                "sandbox-dbx-reclaim",
                "sandbox-dbx-reclaim-secret",
                RECLAIM_APP_SCOPES,
            ),
            now: now_secs(),
        }
    }
}

/// `team.TeamMemberStatus`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DropboxMemberStatus {
    Active,
    Invited,
    Suspended,
    /// Listed only with `include_removed: true`.
    Removed {
        is_recoverable: bool,
        is_disconnected: bool,
    },
}

impl DropboxMemberStatus {
    pub fn tag(self) -> &'static str {
        match self {
            DropboxMemberStatus::Active => "active",
            DropboxMemberStatus::Invited => "invited",
            DropboxMemberStatus::Suspended => "suspended",
            DropboxMemberStatus::Removed { .. } => "removed",
        }
    }

    pub fn is_removed(self) -> bool {
        matches!(self, DropboxMemberStatus::Removed { .. })
    }
}

/// `team.TeamMembershipType`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DropboxMembershipType {
    /// Uses a license.
    #[default]
    Full,
    /// Deprecated in the spec; does not use a license.
    Limited,
}

impl DropboxMembershipType {
    pub fn tag(self) -> &'static str {
        match self {
            DropboxMembershipType::Full => "full",
            DropboxMembershipType::Limited => "limited",
        }
    }
}

/// An admin role (`team.TeamMemberRole`), with the ids, names and descriptions of the spec's
/// `team.TeamMemberRole` examples. Members without one are listed with `roles: []`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DropboxRole {
    TeamAdmin,
    UserManagementAdmin,
    SupportAdmin,
    BillingAdmin,
}

impl DropboxRole {
    pub fn role_id(self) -> &'static str {
        match self {
            DropboxRole::TeamAdmin => "pid_dbtmr:2345",
            DropboxRole::UserManagementAdmin => "pid_dbtmr:3456",
            DropboxRole::SupportAdmin => "pid_dbtmr:4567",
            DropboxRole::BillingAdmin => "pid_dbtmr:5678",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            DropboxRole::TeamAdmin => "Team admin",
            DropboxRole::UserManagementAdmin => "User management admin",
            DropboxRole::SupportAdmin => "Support admin",
            DropboxRole::BillingAdmin => "Billing admin",
        }
    }

    pub fn description(self) -> &'static str {
        match self {
            DropboxRole::TeamAdmin => {
                "User can do most user provisioning, de-provisioning and management."
            }
            DropboxRole::UserManagementAdmin => "Add, remove, and manage member accounts.",
            DropboxRole::SupportAdmin => {
                "Help members with limited tasks, including password reset."
            }
            DropboxRole::BillingAdmin => "Make payments and renew contracts.",
        }
    }
}

/// `secondary_emails.SecondaryEmail`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DropboxSecondaryEmail {
    pub email: String,
    pub is_verified: bool,
}

/// A member of the team, as the sandbox holds it (ground truth for tests).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DropboxMember {
    /// `dbmid:...`
    pub team_member_id: String,
    /// `dbid:...` (40 characters); none for some invited members who have no account yet.
    pub account_id: Option<String>,
    pub external_id: Option<String>,
    pub email: String,
    pub email_verified: bool,
    pub secondary_emails: Vec<DropboxSecondaryEmail>,
    pub given_name: String,
    pub surname: String,
    pub status: DropboxMemberStatus,
    pub membership_type: DropboxMembershipType,
    pub role: Option<DropboxRole>,
    pub invited_on: Option<DateTime<Utc>>,
    pub joined_on: Option<DateTime<Utc>>,
    pub suspended_on: Option<DateTime<Utc>>,
    /// When the member was removed (not on the wire; ground truth).
    pub removed_on: Option<DateTime<Utc>>,
    pub groups: Vec<String>,
    pub member_folder_id: String,
    pub root_folder_id: String,
    pub profile_photo_url: Option<String>,
    /// The legacy numeric user id, the `uid` of a token response this member authorized.
    pub uid: String,
}

impl DropboxMember {
    pub fn display_name(&self) -> String {
        format!("{} {}", self.given_name, self.surname)
    }

    pub fn abbreviated_name(&self) -> String {
        self.given_name
            .chars()
            .take(1)
            .chain(self.surname.chars().take(1))
            .collect::<String>()
            .to_uppercase()
    }

    /// An active member with an admin role.
    pub fn is_active_admin(&self) -> bool {
        self.role.is_some() && self.status == DropboxMemberStatus::Active
    }
}

/// A member to add with [`DropboxTeamHandle::add_member`] (or `POST /_sandbox/dropbox/members`).
/// In JSON only `email`, `given_name` and `surname` are required: `status` defaults to
/// `active`, `membership_type` to `full`, `role` to none, `joined_on` (or `invited_on` for an
/// invited member) to now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewDropboxMember {
    pub email: String,
    pub given_name: String,
    pub surname: String,
    #[serde(default = "active")]
    pub status: DropboxMemberStatus,
    #[serde(default)]
    pub membership_type: DropboxMembershipType,
    #[serde(default)]
    pub role: Option<DropboxRole>,
    #[serde(default = "now_secs")]
    pub joined_on: DateTime<Utc>,
    #[serde(default)]
    pub external_id: Option<String>,
}

fn active() -> DropboxMemberStatus {
    DropboxMemberStatus::Active
}

impl NewDropboxMember {
    /// An active, full, non-admin member who joined now.
    pub fn member(
        email: impl Into<String>,
        given_name: impl Into<String>,
        surname: impl Into<String>,
    ) -> Self {
        NewDropboxMember {
            email: email.into(),
            given_name: given_name.into(),
            surname: surname.into(),
            status: DropboxMemberStatus::Active,
            membership_type: DropboxMembershipType::Full,
            role: None,
            joined_on: now_secs(),
            external_id: None,
        }
    }
}

/// A `team_log` event (ground truth for tests).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DropboxEvent {
    pub timestamp: DateTime<Utc>,
    /// The `EventType` tag: `login_success`, `login_fail`, `logout`,
    /// `sign_in_as_session_start`, `sign_in_as_session_end`.
    pub event_type: String,
    /// `actor.user.team_member_id` (or `actor.admin...` for sign-in-as); none for anonymous.
    pub actor_team_member_id: Option<String>,
    pub context_team_member_id: Option<String>,
    /// The `EventCategory` tag: `logins`, `file_operations` or `sharing`.
    pub category: String,
}

/// The kinds of event the sandbox records: sign-ins (`logins`), and a member's own file
/// operations (`file_operations`) and sharing (`sharing`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum EvKind {
    LoginSuccess,
    LoginFail,
    Logout,
    SignInAsStart,
    SignInAsEnd,
    FileAdd,
    FileDownload,
    FileEdit,
    FilePreview,
    SharedLinkCreate,
}

impl EvKind {
    #[cfg(test)]
    pub(crate) const ALL: [EvKind; 10] = [
        EvKind::LoginSuccess,
        EvKind::LoginFail,
        EvKind::Logout,
        EvKind::SignInAsStart,
        EvKind::SignInAsEnd,
        EvKind::FileAdd,
        EvKind::FileDownload,
        EvKind::FileEdit,
        EvKind::FilePreview,
        EvKind::SharedLinkCreate,
    ];

    /// The generated content kinds (a member's own use of files).
    pub(crate) const CONTENT: [EvKind; 5] = [
        EvKind::FileAdd,
        EvKind::FileDownload,
        EvKind::FileEdit,
        EvKind::FilePreview,
        EvKind::SharedLinkCreate,
    ];

    pub(crate) fn tag(self) -> &'static str {
        match self {
            EvKind::LoginSuccess => "login_success",
            EvKind::LoginFail => "login_fail",
            EvKind::Logout => "logout",
            EvKind::SignInAsStart => "sign_in_as_session_start",
            EvKind::SignInAsEnd => "sign_in_as_session_end",
            EvKind::FileAdd => "file_add",
            EvKind::FileDownload => "file_download",
            EvKind::FileEdit => "file_edit",
            EvKind::FilePreview => "file_preview",
            EvKind::SharedLinkCreate => "shared_link_create",
        }
    }

    /// `EventType` member descriptions (the spec's `(category) ...` docs).
    pub(crate) fn description(self) -> &'static str {
        match self {
            EvKind::LoginSuccess => "(logins) Signed in",
            EvKind::LoginFail => "(logins) Failed to sign in",
            EvKind::Logout => "(logins) Signed out",
            EvKind::SignInAsStart => "(logins) Started admin sign-in-as session",
            EvKind::SignInAsEnd => "(logins) Ended admin sign-in-as session",
            EvKind::FileAdd => "(file_operations) Added files and/or folders",
            EvKind::FileDownload => "(file_operations) Downloaded files and/or folders",
            EvKind::FileEdit => "(file_operations) Edited files",
            EvKind::FilePreview => "(file_operations) Previewed files and/or folders",
            EvKind::SharedLinkCreate => "(sharing) Created shared link",
        }
    }

    pub(crate) fn category(self) -> &'static str {
        match self {
            EvKind::FileAdd | EvKind::FileDownload | EvKind::FileEdit | EvKind::FilePreview => {
                "file_operations"
            }
            EvKind::SharedLinkCreate => "sharing",
            _ => "logins",
        }
    }

    /// A member's own use of the service: what seatkeeper counts as activity.
    pub(crate) fn is_activity(self) -> bool {
        self == EvKind::LoginSuccess || EvKind::CONTENT.contains(&self)
    }
}

/// A linked device session (`team/devices/list_members_devices`); `updated` is its last
/// activity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SessionRec {
    pub member: u32,
    /// 0 web, 1 desktop, 2 mobile.
    pub client: u8,
    pub id: u64,
    pub created: i64,
    pub updated: i64,
}

/// A device session (ground truth for tests).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DropboxSession {
    pub team_member_id: String,
    /// `web`, `desktop` or `mobile`.
    pub client: String,
    pub session_id: String,
    pub updated: DateTime<Utc>,
}

/// How `team/members/remove` answers (set with [`DropboxTeamHandle::set_remove_mode`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RemoveMode {
    /// `{".tag": "complete"}`: the removal, and the file transfer, are done at once.
    Complete,
    /// `{".tag": "async_job_id", ...}`: `remove/job_status/get` then answers `in_progress` for
    /// `in_progress_polls` polls, then `complete` (the files move on that poll). The job
    /// advances only when polled.
    Async { in_progress_polls: u32 },
}

impl Default for RemoveMode {
    /// `Async { in_progress_polls: 1 }`.
    fn default() -> Self {
        RemoveMode::Async {
            in_progress_polls: 1,
        }
    }
}

/// A successful `team/members/remove` (ground truth for tests), in call order. Ids are the
/// `team_member_id`s the selectors resolved to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DropboxRemoval {
    pub team_member_id: String,
    pub transfer_dest_id: Option<String>,
    pub transfer_admin_id: Option<String>,
    pub wipe_data: bool,
    pub keep_account: bool,
    /// The job id answered, in [`RemoveMode::Async`]; `None` when it answered `complete`.
    pub async_job_id: Option<String>,
}

/// One `team/members/suspend` call that suspended a member, as the sandbox received it.
/// `wipe_data` defaults to `true` in the spec: a call that left it out wiped the member's
/// devices.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DropboxSuspension {
    pub team_member_id: String,
    pub wipe_data: bool,
}

/// How long a removed member stays recoverable with `team/members/recover` (7 days).
pub const RECOVERY_DAYS: i64 = 7;

/// A removal job started in [`RemoveMode::Async`].
#[derive(Clone, Debug)]
pub(crate) struct RemoveJob {
    /// Member index of the removed member.
    pub member: usize,
    /// Member index of the transfer destination.
    pub dest: Option<usize>,
    pub delete_files: bool,
    /// `in_progress` answers left.
    pub polls_left: u32,
    pub done: bool,
}

/// No member (anonymous actor, or no context).
pub(crate) const NOBODY: u32 = u32::MAX;

/// An event as stored: compact, because a 100k-member team has a few hundred thousand.
#[derive(Clone, Copy, Debug)]
pub(crate) struct EvRec {
    pub at: i64,
    /// Unique and increasing in insertion order; `(at, seq)` orders the log.
    pub seq: u32,
    pub kind: EvKind,
    /// Member index of the actor (the admin for sign-in-as), or [`NOBODY`].
    pub actor: u32,
    /// Member index of the context (the member signed in as), or [`NOBODY`].
    pub context: u32,
    /// Index into `LOGIN_METHODS`.
    pub method: u8,
    /// 0 web, 1 desktop, 2 mobile.
    pub client: u8,
    pub ip: u32,
    pub session: u64,
}

impl Timed for EvRec {
    fn key(&self) -> (i64, u32) {
        (self.at, self.seq)
    }
    fn set_seq(&mut self, seq: u32) {
        self.seq = seq;
    }
}

/// `team_log.LoginMethod` members the generator uses.
pub(crate) const LOGIN_METHODS: [&str; 6] = [
    "password",
    "two_factor_authentication",
    "saml",
    "google_oauth",
    "microsoft_oauth",
    "web_session",
];

/// Which of the two apps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AppSlot {
    Sync,
    Reclaim,
}

#[derive(Debug)]
pub(crate) struct CodeRec {
    pub app: AppSlot,
    pub redirect_uri: String,
    pub scopes: Vec<String>,
    pub challenge: String,
    pub admin: usize,
    pub offline: bool,
    pub expires: Instant,
    pub used: bool,
}

#[derive(Debug)]
pub(crate) struct AccessRec {
    pub scopes: Arc<Vec<String>>,
    pub admin: usize,
    pub expires: Instant,
    /// The refresh token it was issued under (code grant with offline access, or a refresh).
    pub refresh: Option<String>,
}

#[derive(Debug)]
pub(crate) struct RefreshRec {
    pub app: AppSlot,
    pub scopes: Arc<Vec<String>>,
    pub admin: usize,
    pub revoked: bool,
}

/// Why an access token is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TokenProblem {
    Invalid,
    Expired,
}

/// What a valid access token grants.
#[derive(Clone, Debug)]
pub(crate) struct Grant {
    pub scopes: Arc<Vec<String>>,
    pub admin: usize,
}

pub(crate) struct TeamState {
    pub team_id: String,
    pub team_name: String,
    pub now: DateTime<Utc>,
    pub num_licensed_users: u32,
    pub sync_app: DropboxApp,
    pub reclaim_app: DropboxApp,
    /// Every member ever, in listing order (removed ones keep their place).
    pub members: Vec<DropboxMember>,
    by_id: HashMap<String, usize>,
    by_account: HashMap<String, usize>,
    /// Sorted by [`EvRec::key`].
    pub events: Vec<EvRec>,
    next_seq: u32,
    next_uid: u64,
    pub codes: HashMap<String, CodeRec>,
    pub access: HashMap<String, AccessRec>,
    /// Access tokens revoked with `auth/token/revoke`.
    pub revoked_by_api: usize,
    pub refresh: HashMap<String, RefreshRec>,
    issued: Vec<String>,
    pub token_ttl: Duration,
    pub authorizing_admin: usize,
    pub reset_next_continue: bool,
    pub scan_budget: usize,
    /// Keys the MAC of cursors (derived from the seed, so responses are reproducible).
    pub cursor_key: [u8; 32],
    /// Files each member owns, by member index.
    pub files: Vec<u32>,
    pub removals: Vec<DropboxRemoval>,
    /// Every suspension made (with its `wipe_data`), in order.
    pub suspensions: Vec<DropboxSuspension>,
    /// Members recovered with `team/members/recover`, in order.
    pub recoveries: Vec<String>,
    pub remove_mode: RemoveMode,
    /// Removal jobs by `async_job_id`.
    pub jobs: HashMap<String, RemoveJob>,
    /// Linked device sessions, by member index order.
    pub sessions: Vec<SessionRec>,
}

impl TeamState {
    pub(crate) fn app(&self, slot: AppSlot) -> &DropboxApp {
        match slot {
            AppSlot::Sync => &self.sync_app,
            AppSlot::Reclaim => &self.reclaim_app,
        }
    }

    pub(crate) fn app_by_key(&self, key: &str) -> Option<AppSlot> {
        if key == self.sync_app.key {
            Some(AppSlot::Sync)
        } else if key == self.reclaim_app.key {
            Some(AppSlot::Reclaim)
        } else {
            None
        }
    }

    pub(crate) fn member_index(&self, team_member_id: &str) -> Option<usize> {
        self.by_id.get(team_member_id).copied()
    }

    pub(crate) fn account_index(&self, account_id: &str) -> Option<usize> {
        self.by_account.get(account_id).copied()
    }

    /// The current (not removed) member with this email, ignoring case.
    pub(crate) fn email_index(&self, email: &str) -> Option<usize> {
        self.members
            .iter()
            .position(|m| !m.status.is_removed() && m.email.eq_ignore_ascii_case(email))
    }

    pub(crate) fn external_index(&self, external_id: &str) -> Option<usize> {
        self.members
            .iter()
            .position(|m| !m.status.is_removed() && m.external_id.as_deref() == Some(external_id))
    }

    fn random_secret(&mut self, prefix: &str, len: usize) -> String {
        let token = format!("{prefix}{}", random_token(len));
        self.issued.push(token.clone());
        token
    }

    /// Issues an access token for the ttl; returns it.
    pub(crate) fn issue_access(
        &mut self,
        scopes: Arc<Vec<String>>,
        admin: usize,
        refresh: Option<String>,
    ) -> String {
        let now = Instant::now();
        if self.access.len() >= 10_000 {
            self.access.retain(|_, a| a.expires > now);
        }
        let token = self.random_secret("sl.", 136);
        self.access.insert(
            token.clone(),
            AccessRec {
                scopes,
                admin,
                expires: now + self.token_ttl,
                refresh,
            },
        );
        token
    }

    pub(crate) fn issue_refresh(
        &mut self,
        app: AppSlot,
        scopes: Arc<Vec<String>>,
        admin: usize,
    ) -> String {
        let token = self.random_secret("", 64);
        self.refresh.insert(
            token.clone(),
            RefreshRec {
                app,
                scopes,
                admin,
                revoked: false,
            },
        );
        token
    }

    /// Codes are not tokens: they are not listed by `issued_tokens`.
    pub(crate) fn issue_code(&mut self, rec: CodeRec) -> String {
        let now = Instant::now();
        if self.codes.len() >= 10_000 {
            self.codes.retain(|_, c| c.expires > now && !c.used);
        }
        let code = random_token(43);
        self.codes.insert(code.clone(), rec);
        code
    }

    /// What an access token grants, or why it is refused.
    /// `auth/token/revoke`: the access token and its refresh token stop working (and so do the
    /// refresh token's other access tokens).
    pub(crate) fn revoke_access_token(&mut self, token: &str) {
        if let Some(rec) = self.access.remove(token) {
            if let Some(refresh) = rec.refresh {
                if let Some(r) = self.refresh.get_mut(&refresh) {
                    r.revoked = true;
                }
            }
            self.revoked_by_api += 1;
        }
    }

    pub(crate) fn check_access(&self, token: &str) -> Result<Grant, TokenProblem> {
        let rec = self.access.get(token).ok_or(TokenProblem::Invalid)?;
        if let Some(refresh) = &rec.refresh {
            if self.refresh.get(refresh).is_none_or(|r| r.revoked) {
                return Err(TokenProblem::Invalid);
            }
        }
        if rec.expires <= Instant::now() {
            return Err(TokenProblem::Expired);
        }
        Ok(Grant {
            scopes: rec.scopes.clone(),
            admin: rec.admin,
        })
    }

    fn public_event(&self, e: &EvRec) -> DropboxEvent {
        let id = |i: u32| {
            (i != NOBODY)
                .then(|| self.members.get(i as usize))
                .flatten()
                .map(|m| m.team_member_id.clone())
        };
        DropboxEvent {
            timestamp: from_secs(e.at),
            event_type: e.kind.tag().to_string(),
            actor_team_member_id: id(e.actor),
            context_team_member_id: id(e.context),
            category: e.kind.category().to_string(),
        }
    }

    fn push_event(&mut self, mut rec: EvRec) {
        rec.seq = self.next_seq;
        self.next_seq = self.next_seq.saturating_add(1);
        insert_event(&mut self.events, rec);
    }

    /// The running (not yet complete) removal job of member `idx` (removed or destination).
    pub(crate) fn running_job(&self, idx: usize, as_dest: bool) -> bool {
        self.jobs.values().any(|j| {
            !j.done
                && if as_dest {
                    j.dest == Some(idx)
                } else {
                    j.member == idx
                }
        })
    }

    /// Completes a removal: the removed member's files go to the destination (or are deleted
    /// with `permanently_delete_files`; otherwise they stay in the removed account).
    pub(crate) fn finish_removal(&mut self, member: usize, dest: Option<usize>, delete: bool) {
        let moved = std::mem::take(&mut self.files[member]);
        match dest {
            Some(d) => self.files[d] = self.files[d].saturating_add(moved),
            None if delete => {}
            None => self.files[member] = moved,
        }
    }

    fn index_member(&mut self, idx: usize) {
        let m = &self.members[idx];
        self.by_id.insert(m.team_member_id.clone(), idx);
        if let Some(account) = &m.account_id {
            self.by_account.insert(account.clone(), idx);
        }
    }
}

/// The running team: ground truth and mutation for tests. Cheap to clone; every clone sees the
/// same state.
#[derive(Clone)]
pub struct DropboxTeamHandle {
    state: Shared<TeamState>,
}

impl std::fmt::Debug for DropboxTeamHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.lock();
        f.debug_struct("DropboxTeamHandle")
            .field("team_id", &state.team_id)
            .field("members", &state.members.len())
            .field("events", &state.events.len())
            .finish_non_exhaustive()
    }
}

impl DropboxTeamHandle {
    /// Generates the team `spec` describes; access tokens live `token_ttl`.
    pub fn generate(spec: &DropboxTeamSpec, token_ttl: Duration) -> Self {
        DropboxTeamHandle {
            state: Shared::new(generate(spec, token_ttl)),
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, TeamState> {
        self.state.lock()
    }

    /// Every member, removed ones included, in listing order.
    pub fn members(&self) -> Vec<DropboxMember> {
        self.lock().members.clone()
    }

    /// The member with this `team_member_id` (removed or not).
    pub fn member(&self, team_member_id: &str) -> Option<DropboxMember> {
        let state = self.lock();
        let idx = state.member_index(team_member_id)?;
        state.members.get(idx).cloned()
    }

    /// Every `team_log` event, chronological.
    pub fn events(&self) -> Vec<DropboxEvent> {
        let state = self.lock();
        state.events.iter().map(|e| state.public_event(e)).collect()
    }

    /// The latest `login_success` of a member, if any: what a correct activity sync derives.
    pub fn last_login(&self, team_member_id: &str) -> Option<DateTime<Utc>> {
        let state = self.lock();
        let idx = u32::try_from(state.member_index(team_member_id)?).ok()?;
        state
            .events
            .iter()
            .rev()
            .find(|e| e.actor == idx && e.kind == EvKind::LoginSuccess)
            .map(|e| from_secs(e.at))
    }

    /// The latest activity of a member: a `login_success`, a file operation or sharing event
    /// they did, or a device session's last activity. What `activity: any` derives.
    pub fn last_activity(&self, team_member_id: &str) -> Option<DateTime<Utc>> {
        self.last_activities().get(team_member_id).copied()
    }

    /// [`Self::last_activity`] of every member who has one, in one pass.
    pub fn last_activities(&self) -> HashMap<String, DateTime<Utc>> {
        let state = self.lock();
        let mut out: HashMap<String, DateTime<Utc>> = HashMap::new();
        let events = state
            .events
            .iter()
            .filter(|e| e.kind.is_activity() && e.actor != NOBODY)
            .map(|e| (e.actor, e.at));
        let sessions = state.sessions.iter().map(|s| (s.member, s.updated));
        for (idx, at) in events.chain(sessions) {
            if let Some(m) = state.members.get(idx as usize) {
                let at = from_secs(at);
                let cur = out.entry(m.team_member_id.clone()).or_insert(at);
                *cur = (*cur).max(at);
            }
        }
        out
    }

    /// Every linked device session.
    pub fn sessions(&self) -> Vec<DropboxSession> {
        let state = self.lock();
        state
            .sessions
            .iter()
            .filter_map(|s| {
                Some(DropboxSession {
                    team_member_id: state.members.get(s.member as usize)?.team_member_id.clone(),
                    client: ["web", "desktop", "mobile"][usize::from(s.client.min(2))].into(),
                    session_id: crate::dropbox_api::device_session_id(s),
                    updated: from_secs(s.updated),
                })
            })
            .collect()
    }

    /// Links a device session of the member, last active at `updated` (`client`: 0 web,
    /// 1 desktop, 2 mobile). False for an unknown member.
    pub fn add_session(&self, team_member_id: &str, client: u8, updated: DateTime<Utc>) -> bool {
        let mut state = self.lock();
        let Some(idx) = state.member_index(team_member_id) else {
            return false;
        };
        let id = 0x5e55_0000_0000 + state.sessions.len() as u64;
        let member = u32::try_from(idx).unwrap_or(NOBODY);
        // kept ordered by member, as the listing pages by member
        let pos = state.sessions.partition_point(|s| s.member <= member);
        state.sessions.insert(
            pos,
            SessionRec {
                member,
                client: client.min(2),
                id,
                created: updated.timestamp() - 30 * DAY,
                updated: updated.timestamp(),
            },
        );
        true
    }

    /// Records a file operation (`file_edit`) by the member at `at`, from a desktop client.
    pub fn add_file_event(&self, team_member_id: &str, at: DateTime<Utc>) -> bool {
        self.add_event(team_member_id, EvKind::FileEdit, at)
    }

    /// [`Self::last_login`] of every member who has one, in one pass.
    pub fn last_logins(&self) -> HashMap<String, DateTime<Utc>> {
        let state = self.lock();
        let mut out = HashMap::new();
        for e in state
            .events
            .iter()
            .filter(|e| e.kind == EvKind::LoginSuccess && e.actor != NOBODY)
        {
            if let Some(m) = state.members.get(e.actor as usize) {
                out.insert(m.team_member_id.clone(), from_secs(e.at));
            }
        }
        out
    }

    /// The team's reference time (generated data is before it).
    pub fn now(&self) -> DateTime<Utc> {
        self.lock().now
    }

    pub fn team_id(&self) -> String {
        self.lock().team_id.clone()
    }

    pub fn team_name(&self) -> String {
        self.lock().team_name.clone()
    }

    /// `(app key, app secret)` of the sync app.
    pub fn sync_app(&self) -> (String, String) {
        let state = self.lock();
        (state.sync_app.key.clone(), state.sync_app.secret.clone())
    }

    /// `(app key, app secret)` of the reclaim app.
    pub fn reclaim_app(&self) -> (String, String) {
        let state = self.lock();
        (
            state.reclaim_app.key.clone(),
            state.reclaim_app.secret.clone(),
        )
    }

    /// Adds a member at the end of the listing, with fresh ids; returns it.
    pub fn add_member(&self, new: NewDropboxMember) -> DropboxMember {
        let mut state = self.lock();
        let idx = state.members.len();
        let mut rng = SmallRng::seed_from_u64(u64::from(state.next_seq) ^ (idx as u64) << 20);
        let uid = state.next_uid;
        state.next_uid += 1;
        let invited = new.status == DropboxMemberStatus::Invited;
        let member = DropboxMember {
            team_member_id: team_member_id(&mut rng),
            account_id: Some(format!("dbid:AA{}", random_b64(&mut rng, 33))),
            external_id: new.external_id,
            email: new.email,
            email_verified: !invited,
            secondary_emails: Vec::new(),
            given_name: new.given_name,
            surname: new.surname,
            status: new.status,
            membership_type: new.membership_type,
            role: new.role,
            invited_on: invited.then_some(new.joined_on),
            joined_on: (!invited).then_some(new.joined_on),
            suspended_on: (new.status == DropboxMemberStatus::Suspended).then(now_secs),
            removed_on: new.status.is_removed().then(now_secs),
            groups: Vec::new(),
            member_folder_id: (FIRST_FOLDER_ID + 2 * idx as u64).to_string(),
            root_folder_id: (FIRST_FOLDER_ID + 2 * idx as u64 + 1).to_string(),
            profile_photo_url: None,
            uid: uid.to_string(),
        };
        state.members.push(member.clone());
        state.files.push(0);
        state.index_member(idx);
        member
    }

    /// How many files the member owns (0 for an unknown member). Generated members own 1-4
    /// (invited ones none), added members none; a completed removal with a
    /// transfer moves them to the destination.
    pub fn files_owned_by(&self, team_member_id: &str) -> usize {
        self.with_member(team_member_id, |state, idx| state.files[idx] as usize)
            .unwrap_or(0)
    }

    /// Sets how many files the member owns. Unknown members are ignored.
    pub fn set_owned_files(&self, team_member_id: &str, count: usize) {
        self.with_member(team_member_id, |state, idx| {
            state.files[idx] = u32::try_from(count).unwrap_or(u32::MAX);
        });
    }

    /// `f` on the state and the member's index; `None` for an unknown member.
    fn with_member<R>(
        &self,
        team_member_id: &str,
        f: impl FnOnce(&mut TeamState, usize) -> R,
    ) -> Option<R> {
        let mut state = self.lock();
        let idx = state.member_index(team_member_id)?;
        Some(f(&mut state, idx))
    }

    /// Every successful `team/members/remove`, in call order.
    pub fn removals(&self) -> Vec<DropboxRemoval> {
        self.lock().removals.clone()
    }

    /// How the next `team/members/remove` calls answer (default
    /// `RemoveMode::Async { in_progress_polls: 1 }`). Jobs already started keep their count.
    pub fn suspensions(&self) -> Vec<DropboxSuspension> {
        self.lock().suspensions.clone()
    }

    pub fn recoveries(&self) -> Vec<String> {
        self.lock().recoveries.clone()
    }

    /// Ends a removed member's recovery window now (as if 7 days had passed): `members/recover`
    /// then answers `user_unrecoverable`. False unless the member is removed.
    pub fn expire_recovery(&self, team_member_id: &str) -> bool {
        let mut state = self.lock();
        let Some(idx) = state.member_index(team_member_id) else {
            return false;
        };
        let m = &mut state.members[idx];
        let DropboxMemberStatus::Removed {
            is_disconnected, ..
        } = m.status
        else {
            return false;
        };
        m.status = DropboxMemberStatus::Removed {
            is_recoverable: false,
            is_disconnected,
        };
        m.removed_on = m
            .removed_on
            .map(|t| t - chrono::Duration::days(RECOVERY_DAYS + 1));
        true
    }

    pub fn set_remove_mode(&self, mode: RemoveMode) {
        self.lock().remove_mode = mode;
    }

    /// Removes a member (status `removed`, recoverable, not disconnected); it stays listed with
    /// `include_removed`. False if there is no such member or it was already removed.
    pub fn remove_member(&self, team_member_id: &str) -> bool {
        self.set_status(
            team_member_id,
            DropboxMemberStatus::Removed {
                is_recoverable: true,
                is_disconnected: false,
            },
        )
    }

    /// Sets a member's status (and `suspended_on` / `removed_on` / `invited_on` to match). False
    /// if there is no such member, or it already has that status.
    pub fn set_status(&self, team_member_id: &str, status: DropboxMemberStatus) -> bool {
        let mut state = self.lock();
        let Some(idx) = state.member_index(team_member_id) else {
            return false;
        };
        let m = &mut state.members[idx];
        if m.status.tag() == status.tag() {
            return false;
        }
        m.status = status;
        let now = now_secs();
        match status {
            DropboxMemberStatus::Active => {
                m.suspended_on = None;
                m.removed_on = None;
                m.invited_on = None;
                m.joined_on = m.joined_on.or(Some(now));
            }
            DropboxMemberStatus::Invited => {
                m.suspended_on = None;
                m.removed_on = None;
                m.invited_on = Some(now);
            }
            DropboxMemberStatus::Suspended => {
                m.suspended_on = Some(now);
                m.removed_on = None;
            }
            DropboxMemberStatus::Removed { .. } => {
                m.suspended_on = None;
                m.removed_on = Some(now);
            }
        }
        true
    }

    /// Sets a member's admin role (`None` = member only). False for an unknown member.
    pub fn set_role(&self, team_member_id: &str, role: Option<DropboxRole>) -> bool {
        self.with_member(team_member_id, |state, idx| state.members[idx].role = role)
            .is_some()
    }

    /// Records a `login_success` by the member at `at` (web, password). Unknown members are
    /// ignored.
    pub fn add_login(&self, team_member_id: &str, at: DateTime<Utc>) {
        self.add_event(team_member_id, EvKind::LoginSuccess, at);
    }

    pub(crate) fn add_event(&self, team_member_id: &str, kind: EvKind, at: DateTime<Utc>) -> bool {
        let mut state = self.lock();
        let Some(idx) = state.member_index(team_member_id) else {
            return false;
        };
        let idx = u32::try_from(idx).unwrap_or(NOBODY);
        let seq = u64::from(state.next_seq);
        state.push_event(EvRec {
            at: at.timestamp(),
            seq: 0,
            kind,
            actor: idx,
            context: idx,
            method: 0,
            client: 0,
            ip: u32::from_be_bytes([203, 0, 113, 10]),
            session: 0x5eed_0000_0000 + seq,
        });
        true
    }

    /// The admin who approves authorize requests from now on (default: the first member). False
    /// if there is no such member. Approval is refused (`access_denied`) while this member is not
    /// an active admin.
    pub fn set_authorizing_admin(&self, team_member_id: &str) -> bool {
        self.with_member(team_member_id, |state, idx| state.authorizing_admin = idx)
            .is_some()
    }

    /// The `team_member_id` of the admin who approves authorize requests.
    pub fn authorizing_admin(&self) -> String {
        let state = self.lock();
        state.members[state.authorizing_admin]
            .team_member_id
            .clone()
    }

    /// Every access and refresh token issued so far (valid or not), oldest first: what a test
    /// checks logs, stores and responses for, to prove no token leaked.
    pub fn issued_tokens(&self) -> Vec<String> {
        self.lock().issued.clone()
    }

    /// Every access token issued so far expires now (401 `expired_access_token`); refresh
    /// tokens keep working.
    pub fn expire_access_tokens(&self) {
        let now = Instant::now();
        for rec in self.lock().access.values_mut() {
            rec.expires = rec.expires.min(now);
        }
    }

    /// How many tokens were revoked with `auth/token/revoke`.
    pub fn api_revocations(&self) -> usize {
        self.lock().revoked_by_api
    }

    /// Every refresh token issued so far is revoked (as when an admin unlinks the app): refreshing
    /// gets `invalid_grant`, and the access tokens issued under them get 401
    /// `invalid_access_token`.
    pub fn revoke_refresh_tokens(&self) {
        for rec in self.lock().refresh.values_mut() {
            rec.revoked = true;
        }
    }

    /// Every authorization code issued so far expires now (`invalid_grant` on exchange).
    pub fn expire_authorization_codes(&self) {
        let now = Instant::now();
        for rec in self.lock().codes.values_mut() {
            rec.expires = rec.expires.min(now);
        }
    }

    pub fn set_num_licensed_users(&self, n: u32) {
        self.lock().num_licensed_users = n;
    }

    /// The next `team_log/get_events/continue` with a valid cursor answers 409
    /// `{".tag": "reset", "reset": "<timestamp>"}` (the cursor's position) instead of a page.
    pub fn reset_next_events_continue(&self) {
        self.lock().reset_next_continue = true;
    }

    /// How many raw events one `get_events` / `continue` call scans at most before answering
    /// (default [`DEFAULT_EVENTS_SCAN_BUDGET`]). A selective filter then gets pages with fewer
    /// than `limit` events, or none, with `has_more: true`, as the spec warns.
    pub fn set_events_scan_budget(&self, budget: usize) {
        self.lock().scan_budget = budget.max(1);
    }
}

// ---------------------------------------------------------------------------------------------
// Generation

const FIRST_FOLDER_ID: u64 = 3_000_000_000;

/// A team member id as the sandbox generates them (`dbmid:AA` + 33 base64url characters, 41
/// bytes: the shape of Dropbox's).
pub fn team_member_id(rng: &mut impl Rng) -> String {
    format!("dbmid:AA{}", random_b64(rng, 33))
}

fn random_b64(rng: &mut impl Rng, len: usize) -> String {
    (0..len)
        .map(|_| char::from(B64_URL[rng.random_range(0..64)]))
        .collect()
}

fn random_hex(rng: &mut SmallRng, len: usize) -> String {
    (0..len)
        .map(|_| char::from(b"0123456789abcdef"[rng.random_range(0..16)]))
        .collect()
}

struct EventGen {
    events: Vec<EvRec>,
}

impl EventGen {
    fn push(&mut self, rng: &mut SmallRng, at: i64, kind: EvKind, actor: u32, context: u32) {
        let ip = random_ip(rng);
        let method = match rng.random::<f64>() {
            r if r < 0.50 => 0,
            r if r < 0.65 => 1,
            r if r < 0.80 => 2,
            r if r < 0.88 => 3,
            r if r < 0.94 => 4,
            _ => 5,
        };
        let client = match rng.random::<f64>() {
            r if r < 0.70 => 0,
            r if r < 0.90 => 1,
            _ => 2,
        };
        self.events.push(EvRec {
            at,
            seq: 0,
            kind,
            actor,
            context,
            method,
            client,
            ip,
            session: rng.random(),
        });
    }
}

/// Builds the team. The mix (see README.md): member 0 is the active "Team admin"; ~3% other
/// admin roles; status ~90/4/4/2% active/invited/suspended/removed; ~3% `limited`; joined over the
/// 3 years before `now`, ~3% in the last 20 days; of the members who joined, ~10% never signed in,
/// ~15% last signed in 61-365 days ago, the rest in the last 60 days (before any suspension or
/// removal), each with 1-4 `login_success`; noise `logout`, `login_fail`, admin sign-in-as
/// sessions and a few anonymous failed sign-ins; every event in the 365 days before `now`.
fn generate(spec: &DropboxTeamSpec, token_ttl: Duration) -> TeamState {
    // The bulk is drawn from a SmallRng seeded from the seed's StdRng (ChaCha is slow unoptimized).
    let mut rng = SmallRng::from_rng(&mut StdRng::seed_from_u64(spec.seed ^ 0xD80B_0C5E));
    let now = spec.now.timestamp();
    let year_ago = now - 365 * DAY;
    let latest = now - 60;
    let domain = format!("sandbox-team-{}.example.com", spec.seed);
    let groups: Vec<String> = (0..8)
        .map(|_| format!("g:{}", random_hex(&mut rng, 32)))
        .collect();

    let n = spec.members.max(1);
    let mut members = Vec::with_capacity(n);
    let mut people = People::new(domain, n);
    let mut gen = EventGen {
        events: Vec::with_capacity(n * 4),
    };
    let mut next_uid: u64 = 100_000_000 + rng.random_range(0..1_000_000);

    for i in 0..n {
        let is_owner = i == 0;
        let idx = u32::try_from(i).unwrap_or(NOBODY);
        let role = if is_owner {
            Some(DropboxRole::TeamAdmin)
        } else {
            match rng.random::<f64>() {
                r if r < 0.01 => Some(DropboxRole::UserManagementAdmin),
                r if r < 0.02 => Some(DropboxRole::SupportAdmin),
                r if r < 0.03 => Some(DropboxRole::BillingAdmin),
                _ => None,
            }
        };
        let status = if role.is_some() {
            DropboxMemberStatus::Active
        } else {
            match rng.random::<f64>() {
                r if r < 0.90 => DropboxMemberStatus::Active,
                r if r < 0.94 => DropboxMemberStatus::Invited,
                r if r < 0.98 => DropboxMemberStatus::Suspended,
                _ => DropboxMemberStatus::Removed {
                    is_recoverable: false,
                    is_disconnected: rng.random_bool(0.1),
                },
            }
        };
        let membership_type = if role.is_none() && rng.random_bool(0.03) {
            DropboxMembershipType::Limited
        } else {
            DropboxMembershipType::Full
        };
        let person = people.next(&mut rng);
        let team_member_id = team_member_id(&mut rng);
        let invited = status == DropboxMemberStatus::Invited;
        let account_id = (!invited || rng.random_bool(0.5))
            .then(|| format!("dbid:AA{}", random_b64(&mut rng, 33)));
        let external_id = rng
            .random_bool(0.3)
            .then(|| format!("E{:06}", rng.random_range(0..1_000_000)));

        let (invited_on, joined_on) = if invited {
            (Some(now - rng.random_range(3600..60 * DAY)), None)
        } else {
            (None, Some(joined(&mut rng, now, is_owner)))
        };
        let mut suspended_on = None;
        let mut removed_on = None;
        let mut status = status;
        if let Some(joined) = joined_on {
            match status {
                DropboxMemberStatus::Suspended => {
                    suspended_on = Some(between(&mut rng, joined + 3600, now - DAY));
                }
                DropboxMemberStatus::Removed {
                    is_disconnected, ..
                } => {
                    let at = between(&mut rng, (joined + DAY).max(now - 200 * DAY), now - 3600);
                    removed_on = Some(at);
                    status = DropboxMemberStatus::Removed {
                        is_recoverable: now - at < 7 * DAY,
                        is_disconnected,
                    };
                }
                _ => {}
            }
        }
        let active_until = suspended_on.or(removed_on).unwrap_or(latest).min(latest);

        // Activity.
        if let Some(joined) = joined_on {
            let window_start = joined.max(year_ago);
            let admin_from = is_owner.then_some(active_until - 2 * DAY);
            let last_login = last_login(&mut rng, now, window_start, active_until, admin_from);
            if let Some(last) = last_login {
                each_login(&mut rng, window_start, last, |rng, at| {
                    gen.push(rng, at, EvKind::LoginSuccess, idx, idx);
                });
                if rng.random_bool(0.3) {
                    let at = between(&mut rng, last, (last + 8 * 3600).min(latest));
                    gen.push(&mut rng, at, EvKind::Logout, idx, idx);
                }
            }
            if rng.random_bool(0.05) {
                for _ in 0..rng.random_range(1..=3) {
                    let at = between(&mut rng, window_start, active_until);
                    gen.push(&mut rng, at, EvKind::LoginFail, idx, idx);
                }
            }
            if !is_owner && rng.random_bool(0.02) && window_start < active_until {
                let at = between(&mut rng, window_start, active_until - 3600);
                gen.push(&mut rng, at, EvKind::SignInAsStart, 0, idx);
                let end = at + rng.random_range(300..3600);
                gen.push(&mut rng, end, EvKind::SignInAsEnd, 0, idx);
            }
        }

        let secondary_emails = if rng.random_bool(0.05) {
            vec![DropboxSecondaryEmail {
                email: format!("{}@personal.example.org", person.base),
                is_verified: rng.random_bool(0.7),
            }]
        } else {
            Vec::new()
        };
        let member_groups = if rng.random_bool(0.6) {
            let first = rng.random_range(0..groups.len());
            let mut g = vec![groups[first].clone()];
            if rng.random_bool(0.3) {
                let second = (first + 1 + rng.random_range(0..groups.len() - 1)) % groups.len();
                g.push(groups[second].clone());
            }
            g
        } else {
            Vec::new()
        };
        let profile_photo_url = (account_id.is_some() && rng.random_bool(0.2)).then(|| {
            format!(
                "https://dl-web.dropbox.com/account_photo/get/dbaphid%3AAA{}?size=128x128&vers={}",
                random_b64(&mut rng, 33),
                rng.random_range(1_500_000_000_000u64..1_700_000_000_000)
            )
        });
        let uid = next_uid;
        next_uid += 1 + rng.random_range(0..1000);

        members.push(DropboxMember {
            team_member_id,
            account_id,
            external_id,
            email: person.email,
            email_verified: !invited && rng.random_bool(0.97),
            secondary_emails,
            given_name: person.first.to_string(),
            surname: person.last.to_string(),
            status,
            membership_type,
            role,
            invited_on: invited_on.map(from_secs),
            joined_on: joined_on.map(from_secs),
            suspended_on: suspended_on.map(from_secs),
            removed_on: removed_on.map(from_secs),
            groups: member_groups,
            member_folder_id: (FIRST_FOLDER_ID + 2 * i as u64).to_string(),
            root_folder_id: (FIRST_FOLDER_ID + 2 * i as u64 + 1).to_string(),
            profile_photo_url,
            uid: uid.to_string(),
        });
    }

    // Failed sign-ins nobody on the team can be named for (unknown or mistyped emails).
    for _ in 0..n.div_ceil(200) {
        let at = between(&mut rng, year_ago, latest);
        gen.push(&mut rng, at, EvKind::LoginFail, NOBODY, NOBODY);
    }

    // Content events and device sessions, from their own generator (so the members and sign-ins
    // above are what they were before content activity existed).
    let sessions = content_activity(spec, &members, &mut gen, now, latest);

    let mut events = gen.events;
    let next_seq = sequence(&mut events);
    let cursor_key: [u8; 32] = Sha256::digest(format!(
        "provider-sandbox cursors {} {}",
        spec.seed, spec.team_id
    ))
    .into();

    let mut state = TeamState {
        team_id: spec.team_id.clone(),
        team_name: spec.team_name.clone(),
        now: spec.now,
        num_licensed_users: spec.num_licensed_users,
        sync_app: spec.sync_app.clone(),
        reclaim_app: spec.reclaim_app.clone(),
        members,
        by_id: HashMap::with_capacity(n),
        by_account: HashMap::with_capacity(n),
        events,
        next_seq,
        next_uid,
        codes: HashMap::new(),
        access: HashMap::new(),
        revoked_by_api: 0,
        refresh: HashMap::new(),
        issued: Vec::new(),
        token_ttl,
        authorizing_admin: 0,
        reset_next_continue: false,
        scan_budget: DEFAULT_EVENTS_SCAN_BUDGET,
        cursor_key,
        files: Vec::new(),
        removals: Vec::new(),
        suspensions: Vec::new(),
        recoveries: Vec::new(),
        remove_mode: RemoveMode::default(),
        jobs: HashMap::new(),
        sessions,
    };
    // Derived from the seed without drawing from the generator's stream (so adding ownership
    // changed no generated member). Invited members (not joined yet) own nothing.
    state.files = state
        .members
        .iter()
        .enumerate()
        .map(|(i, m)| match m.status {
            DropboxMemberStatus::Invited => 0,
            _ => 1 + (mix64(spec.seed.rotate_left(23) ^ i as u64) % 4) as u32,
        })
        .collect();
    for idx in 0..state.members.len() {
        state.index_member(idx);
    }
    state
}

/// Members' own file operations, sharing and device sessions. Of the active members who signed
/// in within 60 days, ~40% also edit or share files and ~50% have a desktop client (~30% a web
/// session) last active since that sign-in. Of the active members who joined over 120 days ago
/// and have not signed in for 60 days (or never): ~25% only sync from a desktop client (a
/// session active in the last week, and often recent file operations, but no sign-in in the
/// window), ~10% only share (a `shared_link_create` in the last 20 days), and ~10% were last
/// active just beyond a 90-day backfill (a desktop session last active 91-120 days ago).
fn content_activity(
    spec: &DropboxTeamSpec,
    members: &[DropboxMember],
    gen: &mut EventGen,
    now: i64,
    latest: i64,
) -> Vec<SessionRec> {
    let mut rng = SmallRng::seed_from_u64(mix64(spec.seed ^ 0xAC71_7174_5E55));
    let mut last_login: HashMap<u32, i64> = HashMap::new();
    for e in gen.events.iter().filter(|e| e.kind == EvKind::LoginSuccess) {
        let cur = last_login.entry(e.actor).or_insert(e.at);
        *cur = (*cur).max(e.at);
    }
    let mut sessions = Vec::new();
    let mut session = |rng: &mut SmallRng, member: u32, client: u8, created: i64, updated: i64| {
        sessions.push(SessionRec {
            member,
            client,
            id: rng.random(),
            created: created.min(updated),
            updated,
        });
    };
    for (i, m) in members.iter().enumerate().skip(1) {
        let idx = u32::try_from(i).unwrap_or(NOBODY);
        let (DropboxMemberStatus::Active, Some(joined)) =
            (m.status, m.joined_on.map(|t| t.timestamp()))
        else {
            continue;
        };
        let kind = |rng: &mut SmallRng| EvKind::CONTENT[rng.random_range(0..EvKind::CONTENT.len())];
        match last_login.get(&idx).copied() {
            Some(last) if now - last <= 60 * DAY => {
                if rng.random_bool(0.4) {
                    for _ in 0..rng.random_range(1..=3) {
                        let at = between(&mut rng, (last - 30 * DAY).max(joined), latest);
                        let k = kind(&mut rng);
                        gen.push(&mut rng, at, k, idx, idx);
                    }
                }
                if rng.random_bool(0.5) {
                    let updated = between(&mut rng, last, latest);
                    session(&mut rng, idx, 1, joined, updated);
                }
                if rng.random_bool(0.3) {
                    session(&mut rng, idx, 0, last, last);
                }
            }
            _ if now - joined > 120 * DAY => match rng.random::<f64>() {
                r if r < 0.25 => {
                    let updated = now - rng.random_range(3600..7 * DAY);
                    session(&mut rng, idx, 1, joined, updated);
                    if rng.random_bool(0.5) {
                        for _ in 0..rng.random_range(1..=3) {
                            let at = between(&mut rng, now - 30 * DAY, latest);
                            let k = if rng.random_bool(0.5) {
                                EvKind::FileAdd
                            } else {
                                EvKind::FileEdit
                            };
                            gen.push(&mut rng, at, k, idx, idx);
                        }
                    }
                }
                r if r < 0.35 => {
                    let at = between(&mut rng, now - 20 * DAY, latest);
                    gen.push(&mut rng, at, EvKind::SharedLinkCreate, idx, idx);
                }
                r if r < 0.45 => {
                    let updated = now - rng.random_range(91 * DAY..120 * DAY);
                    session(&mut rng, idx, 1, joined, updated);
                }
                _ => {}
            },
            _ => {}
        }
    }
    sessions
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(members: usize, seed: u64) -> DropboxTeamSpec {
        DropboxTeamSpec {
            now: crate::generate::test_now(),
            ..DropboxTeamSpec::new(members, seed)
        }
    }

    fn team(members: usize, seed: u64) -> DropboxTeamHandle {
        DropboxTeamHandle::generate(&spec(members, seed), Duration::from_secs(14_400))
    }

    #[test]
    fn same_seed_same_team() {
        let a = team(300, 7);
        let b = team(300, 7);
        assert_eq!(a.members(), b.members());
        assert_eq!(a.events(), b.events());
        assert_eq!(a.team_id(), b.team_id());
        let c = team(300, 8);
        assert_ne!(a.members(), c.members());
        assert_ne!(a.team_id(), c.team_id());
        assert!(a.team_id().starts_with("dbtid:"));
    }

    #[test]
    fn event_kinds_are_spec_login_event_types() {
        use crate::dropbox_names::{EVENT_CATEGORIES, EVENT_TYPE_ARGS, LOGIN_EVENT_TYPES};
        for kind in EvKind::ALL {
            assert_eq!(
                LOGIN_EVENT_TYPES.contains(&kind.tag()),
                kind.category() == "logins",
                "{kind:?}"
            );
            assert!(EVENT_TYPE_ARGS.contains(&kind.tag()), "{kind:?}");
            assert!(EVENT_CATEGORIES.contains(&kind.category()));
        }
        for method in LOGIN_METHODS {
            assert!(!method.is_empty());
        }
    }

    #[test]
    fn spec_defaults() {
        let s = DropboxTeamSpec::new(95, 1);
        assert_eq!(s.num_licensed_users, 105);
        assert_eq!(DropboxTeamSpec::new(100, 1).num_licensed_users, 110);
        assert_eq!(s.sync_app.scopes, SYNC_APP_SCOPES);
        assert_eq!(s.reclaim_app.scopes, RECLAIM_APP_SCOPES);
        assert_eq!(s.team_id.len(), "dbtid:".len() + 43);
    }

    #[test]
    fn mix_and_invariants() {
        let t = team(5000, 42);
        let now = t.now();
        let members = t.members();
        assert_eq!(members.len(), 5000);
        assert_eq!(members[0].role, Some(DropboxRole::TeamAdmin));
        assert_eq!(members[0].status, DropboxMemberStatus::Active);
        let frac = |f: &dyn Fn(&DropboxMember) -> bool| {
            members.iter().filter(|m| f(m)).count() as f64 / members.len() as f64
        };
        let status = |tag: &'static str| move |m: &DropboxMember| m.status.tag() == tag;
        let active = frac(&status("active"));
        assert!((0.87..0.93).contains(&active), "active {active}");
        for (tag, lo, hi) in [
            ("invited", 0.025, 0.055),
            ("suspended", 0.025, 0.055),
            ("removed", 0.01, 0.03),
        ] {
            let f = frac(&status(tag));
            assert!((lo..hi).contains(&f), "{tag} {f}");
        }
        let admins = frac(&|m| m.role.is_some());
        assert!((0.02..0.045).contains(&admins), "admins {admins}");
        let limited = frac(&|m| m.membership_type == DropboxMembershipType::Limited);
        assert!((0.015..0.045).contains(&limited), "limited {limited}");
        let mut emails = std::collections::HashSet::new();
        let mut ids = std::collections::HashSet::new();
        for m in &members {
            assert!(
                emails.insert(m.email.clone()),
                "duplicate email {}",
                m.email
            );
            assert!(ids.insert(m.team_member_id.clone()));
            assert_eq!(m.team_member_id.len(), 41);
            if let Some(a) = &m.account_id {
                assert_eq!(a.len(), 40, "AccountId is exactly 40 characters");
                assert!(a.starts_with("dbid:"));
            }
            match m.status {
                DropboxMemberStatus::Invited => {
                    assert!(m.invited_on.is_some() && m.joined_on.is_none());
                }
                DropboxMemberStatus::Suspended => {
                    assert!(m.suspended_on.is_some() && m.joined_on.is_some());
                }
                DropboxMemberStatus::Removed { is_recoverable, .. } => {
                    let removed = m.removed_on.expect("removed_on");
                    assert_eq!(is_recoverable, now - removed < chrono::Duration::days(7));
                }
                DropboxMemberStatus::Active => {
                    assert!(m.joined_on.is_some() && m.suspended_on.is_none());
                }
            }
        }
        let events = t.events();
        assert!(events.windows(2).all(|w| w[0].timestamp <= w[1].timestamp));
        let by_id: HashMap<&str, &DropboxMember> = members
            .iter()
            .map(|m| (m.team_member_id.as_str(), m))
            .collect();
        for e in &events {
            assert!(e.timestamp < now && e.timestamp >= now - chrono::Duration::days(365));
            if let Some(actor) = &e.actor_team_member_id {
                let m = by_id[actor.as_str()];
                assert!(m.joined_on.is_some_and(|j| e.timestamp >= j), "{e:?}");
            }
            if e.event_type == "login_success" {
                let m = by_id[e.actor_team_member_id.as_deref().expect("actor")];
                if let Some(until) = m.suspended_on.or(m.removed_on) {
                    assert!(e.timestamp <= until, "no sign-in after suspension/removal");
                }
            }
        }
        let joined: Vec<&DropboxMember> =
            members.iter().filter(|m| m.joined_on.is_some()).collect();
        let all_last = t.last_logins();
        let last: Vec<_> = joined
            .iter()
            .map(|m| {
                let last = t.last_login(&m.team_member_id);
                assert_eq!(all_last.get(&m.team_member_id).copied(), last);
                last
            })
            .collect();
        let (never, stale) = crate::generate::never_and_stale(now, &last);
        assert!((0.07..0.14).contains(&never), "never signed in {never}");
        assert!((0.12..0.25).contains(&stale), "stale {stale}");
        for m in members.iter().filter(|m| m.joined_on.is_none()) {
            assert!(t.last_login(&m.team_member_id).is_none());
        }
        for kind in EvKind::ALL {
            assert!(
                events.iter().any(|e| e.event_type == kind.tag()),
                "no {kind:?}"
            );
        }
        assert!(events.iter().any(|e| e.actor_team_member_id.is_none()));
    }

    #[test]
    fn mutation() {
        let t = team(10, 1);
        let m = t.add_member(NewDropboxMember::member(
            "new.hire@example.com",
            "New",
            "Hire",
        ));
        assert_eq!(t.members().len(), 11);
        assert_eq!(t.member(&m.team_member_id), Some(m.clone()));
        let at = t.now() - chrono::Duration::days(3);
        t.add_login(&m.team_member_id, at);
        assert_eq!(t.last_login(&m.team_member_id), Some(at));
        assert!(t
            .events()
            .windows(2)
            .all(|w| w[0].timestamp <= w[1].timestamp));
        assert!(t.set_status(&m.team_member_id, DropboxMemberStatus::Suspended));
        assert!(t
            .member(&m.team_member_id)
            .is_some_and(|m| m.suspended_on.is_some()));
        assert!(t.remove_member(&m.team_member_id));
        assert!(!t.remove_member(&m.team_member_id));
        assert!(!t.remove_member("dbmid:nope"));
        let removed = t.member(&m.team_member_id).expect("still known");
        assert!(removed.status.is_removed() && removed.removed_on.is_some());
        assert_eq!(t.last_login(&m.team_member_id), Some(at), "events stay");
        assert!(t.set_authorizing_admin(&m.team_member_id));
        assert_eq!(t.authorizing_admin(), m.team_member_id);
        assert!(!t.set_authorizing_admin("dbmid:nope"));
    }

    #[test]
    fn large_team_is_quick() {
        let started = std::time::Instant::now();
        let t = team(100_000, 3);
        let took = started.elapsed();
        assert_eq!(t.members().len(), 100_000);
        assert!(took < Duration::from_secs(10), "generation took {took:?}");
        eprintln!("100k members, {} events in {took:?}", t.lock().events.len());
    }
}
