//! Dropbox Team API shapes (Stone: team.stone, team_log.stone, async.stone, auth.stone). Unions
//! arrive as `{".tag": …}`; open unions may grow, so unknown tags are kept as strings.
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A Dropbox union member as its tag (`{".tag":"active"}` → "active").
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Tagged {
    #[serde(rename = ".tag")]
    pub tag: String,
}

/// `team.MembersListV2Result`.
#[derive(Debug, Deserialize)]
pub(crate) struct MembersListV2Result {
    /// Required: a page without its list is malformed (an error), never an empty page.
    pub members: Vec<TeamMemberInfoV2>,
    pub cursor: String,
    pub has_more: bool,
}

/// `team.TeamMemberInfoV2`.
#[derive(Debug, Clone, Deserialize)]
pub struct TeamMemberInfoV2 {
    pub profile: TeamMemberProfile,
    #[serde(default)]
    pub roles: Option<Vec<TeamMemberRole>>,
}

/// `team.TeamMemberProfile` (the fields a seat needs).
#[derive(Debug, Clone, Deserialize)]
pub struct TeamMemberProfile {
    pub team_member_id: String,
    #[serde(default)]
    pub account_id: Option<String>,
    pub email: String,
    pub status: Tagged,
    pub name: Name,
    pub membership_type: Tagged,
    #[serde(default)]
    pub invited_on: Option<DateTime<Utc>>,
    #[serde(default)]
    pub joined_on: Option<DateTime<Utc>>,
    #[serde(default)]
    pub suspended_on: Option<DateTime<Utc>>,
}

/// `users.Name`.
#[derive(Debug, Clone, Deserialize)]
pub struct Name {
    #[serde(default)]
    pub display_name: String,
}

/// `team.TeamMemberRole`.
#[derive(Debug, Clone, Deserialize)]
pub struct TeamMemberRole {
    pub role_id: String,
    pub name: String,
}

/// `team.TeamGetInfoResult`.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct TeamInfo {
    pub name: String,
    pub team_id: String,
    pub num_licensed_users: u32,
    pub num_provisioned_users: u32,
    #[serde(default)]
    pub num_used_licenses: u32,
}

/// `team.TokenGetAuthenticatedAdminResult`.
#[derive(Debug, Clone, Deserialize)]
pub struct AuthenticatedAdmin {
    pub admin_profile: TeamMemberProfile,
}

/// `team_log.GetTeamEventsResult`.
#[derive(Debug, Deserialize)]
pub(crate) struct GetTeamEventsResult {
    /// Required: a page without its list is malformed (an error), never an empty page. Each
    /// event is reduced as it is parsed ([`TeamEvent`]), so a page never holds its 1 000 events
    /// as JSON trees: those were ≈ 3.9 MB a page, two pages at a time in a first sync's peak.
    pub events: Vec<TeamEvent>,
    pub cursor: String,
    pub has_more: bool,
}

/// One team_log event, reduced to a [`LoginEvent`] as soon as it is parsed (`None`: no member
/// or no time, see [`LoginEvent::from_team_event`]).
#[derive(Debug)]
pub(crate) struct TeamEvent(pub Option<LoginEvent>);

impl<'de> Deserialize<'de> for TeamEvent {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = serde_json::Value::deserialize(d)?;
        Ok(Self(LoginEvent::from_team_event(&v)))
    }
}

/// A `team_log.TeamEvent`, reduced to what activity needs. Dropbox events carry no id, so the
/// evidence id is a digest of the event as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginEvent {
    pub id: String,
    pub team_member_id: String,
    pub at: DateTime<Utc>,
    pub event_type: String,
    /// `event_category[".tag"]` (checked against the filter asked for).
    pub category: Option<String>,
    /// `actor[".tag"]`: `user` when the member acted themselves (an `admin` acting is not the
    /// member's activity).
    pub actor: Option<String>,
}

impl LoginEvent {
    /// Reads a team_log event: the member from `actor.user.team_member_id` (or `context`), the
    /// time from `timestamp`. None for events without a team member (e.g. a failed login by a
    /// stranger) or without a time.
    pub fn from_team_event(v: &serde_json::Value) -> Option<Self> {
        use sha2::{Digest, Sha256};
        let at: DateTime<Utc> = v.get("timestamp")?.as_str()?.parse().ok()?;
        let member = v
            .pointer("/actor/user/team_member_id")
            .or_else(|| v.pointer("/actor/admin/team_member_id"))
            .or_else(|| v.pointer("/context/team_member_id"))?
            .as_str()?
            .to_owned();
        let event_type = v.pointer("/event_type/.tag")?.as_str()?.to_owned();
        let digest = Sha256::digest(v.to_string().as_bytes());
        let tag = |p: &str| v.pointer(p).and_then(|t| t.as_str()).map(str::to_owned);
        Some(Self {
            id: format!("dbx-{}", hex::encode(&digest[..12])),
            team_member_id: member,
            at,
            event_type,
            category: tag("/event_category/.tag"),
            actor: tag("/actor/.tag"),
        })
    }
}

/// One page of a team_log read: its events, and the instant a `reset` restarted it from (the
/// events before it on the invalidated cursor were skipped: a gap).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TeamLogPage {
    pub events: Vec<LoginEvent>,
    pub reset_to: Option<DateTime<Utc>>,
}

/// A `team.DeviceSession` (any of its three kinds), reduced to what activity needs: `updated`
/// is "the time of the last activity from this session".
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct DeviceSession {
    pub session_id: String,
    #[serde(default)]
    pub updated: Option<DateTime<Utc>>,
}

/// `team.MemberDevices`: one member's sessions in `devices/list_members_devices`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct MemberDevices {
    pub team_member_id: String,
    #[serde(default)]
    pub web_sessions: Option<Vec<DeviceSession>>,
    #[serde(default)]
    pub desktop_clients: Option<Vec<DeviceSession>>,
    #[serde(default)]
    pub mobile_clients: Option<Vec<DeviceSession>>,
}

/// `team.ListMembersDevicesResult`.
#[derive(Debug, Deserialize)]
pub(crate) struct ListMembersDevicesResult {
    pub devices: Vec<MemberDevices>,
    pub has_more: bool,
    #[serde(default)]
    pub cursor: Option<String>,
}

/// `team.ListMemberDevicesResult`: one member's sessions in `devices/list_member_devices`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct ListMemberDevicesResult {
    #[serde(default)]
    pub active_web_sessions: Option<Vec<DeviceSession>>,
    #[serde(default)]
    pub desktop_client_sessions: Option<Vec<DeviceSession>>,
    #[serde(default)]
    pub mobile_client_sessions: Option<Vec<DeviceSession>>,
}

impl ListMemberDevicesResult {
    /// As the members-wide listing shows it.
    pub fn into_member(self, team_member_id: &str) -> MemberDevices {
        MemberDevices {
            team_member_id: team_member_id.to_owned(),
            web_sessions: self.active_web_sessions,
            desktop_clients: self.desktop_client_sessions,
            mobile_clients: self.mobile_client_sessions,
        }
    }
}

/// `async.LaunchEmptyResult` / `async.PollEmptyResult`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = ".tag", rename_all = "snake_case")]
pub enum AsyncJob {
    Complete,
    InProgress,
    AsyncJobId { async_job_id: String },
}

/// `team.MembersGetInfoV2Result`.
#[derive(Debug, Deserialize)]
pub(crate) struct MembersGetInfoV2Result {
    pub members_info: Vec<MembersGetInfoItemV2>,
}

/// `team.MembersGetInfoItemV2`: a member, or the id Dropbox did not find.
#[derive(Debug, Deserialize)]
#[serde(tag = ".tag", rename_all = "snake_case")]
pub(crate) enum MembersGetInfoItemV2 {
    MemberInfo(TeamMemberInfoV2),
    IdNotFound {
        #[serde(default)]
        #[allow(dead_code)]
        id_not_found: Option<String>,
    },
}
